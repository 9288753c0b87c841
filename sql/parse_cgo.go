//go:build cgo

package sql

import (
	"errors"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/spate-io/spate/plan"
)

// parse runs PostgreSQL's parser over text. Syntax errors become *Error
// values with the place of the offending token.
func parse(text string) (*pg.ParseResult, map[int]plan.JoinType, error) {
	if len(text) > maxQueryBytes {
		return nil, nil, errAt(text, -1, 0, ErrSyntax, "query of %d bytes is longer than the limit of %d", len(text), maxQueryBytes)
	}
	if !utf8.ValidString(text) {
		return nil, nil, errAt(text, -1, 0, ErrSyntax, "query is not valid UTF-8")
	}
	if i := indexNUL(text); i >= 0 {
		return nil, nil, errAt(text, i, 1, ErrSyntax, "NUL character in query")
	}
	rewritten, semis := rewrite(text)
	res, err := pg.Parse(rewritten)
	if err != nil {
		var pe *pgparser.Error
		if errors.As(err, &pe) {
			off := -1
			if pe.Cursorpos > 0 {
				off = runeOffset(text, pe.Cursorpos-1)
			} else if pe.Cursorpos == 0 && len(text) > 0 {
				off = len(text)
			}
			return nil, nil, errAt(text, off, tokenLen(text, off), ErrSyntax, "%s", pe.Message)
		}
		return nil, nil, errAt(text, -1, 0, ErrSyntax, "%v", err)
	}
	return res, semis, nil
}

// scan returns the tokens of text (nil if it cannot be scanned).
func scan(text string) []*pg.ScanToken {
	res, err := pg.Scan(text)
	if err != nil {
		return nil
	}
	return res.Tokens
}

// rewrite prepares text for PostgreSQL's grammar without moving any
// token, so every position in the parse tree is a position in the user's
// text:
//   - the reserved word WINDOW called as a function (Spark's
//     window(ts, '10 seconds')) becomes the quoted identifier "$win";
//   - the type name DOUBLE alone (Spark's) becomes FLOAT8;
//   - Spark's [LEFT] SEMI JOIN and [LEFT] ANTI JOIN become LEFT JOIN (the
//     word SEMI or ANTI blanked, or replaced by LEFT), and the offset of
//     their JOIN keyword is returned with the join type.
func rewrite(text string) (string, map[int]plan.JoinType) {
	toks := scan(text)
	var b []byte
	var semis map[int]plan.JoinType
	edit := func() {
		if b == nil {
			b = []byte(text)
		}
	}
	for i, t := range toks {
		next := func(k int) *pg.ScanToken {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return nil
		}
		switch t.Token {
		case pg.Token_WINDOW:
			if n := next(1); n != nil && n.Token == pg.Token_ASCII_40 && int(t.End-t.Start) == len(windowPlaceholder) {
				edit()
				copy(b[t.Start:t.End], windowPlaceholder)
			}
		case pg.Token_DOUBLE_P:
			// Spark's type name DOUBLE (PostgreSQL wants DOUBLE PRECISION).
			if n := next(1); (n == nil || n.Token != pg.Token_PRECISION) && t.End-t.Start == int32(len("FLOAT8")) {
				edit()
				copy(b[t.Start:t.End], "FLOAT8")
			}
		case pg.Token_IDENT:
			word := strings.ToLower(text[t.Start:t.End])
			if word != "semi" && word != "anti" {
				continue
			}
			n := next(1)
			if n == nil || n.Token != pg.Token_JOIN {
				continue
			}
			jt := plan.LeftSemiJoin
			if word == "anti" {
				jt = plan.LeftAntiJoin
			}
			edit()
			if i > 0 && toks[i-1].Token == pg.Token_LEFT {
				for k := t.Start; k < t.End; k++ {
					b[k] = ' '
				}
			} else {
				copy(b[t.Start:t.End], "LEFT")
			}
			if semis == nil {
				semis = map[int]plan.JoinType{}
			}
			semis[int(n.Start)] = jt
		}
	}
	if b == nil {
		return text, nil
	}
	return string(b), semis
}

// tokenLen returns the length of the token starting at byte offset off.
func tokenLen(text string, off int) int {
	if off < 0 || off >= len(text) {
		return 1
	}
	for _, t := range scan(text[off:]) {
		return int(t.End - t.Start)
	}
	return 1
}

// haveParser reports whether the parser is compiled in.
const haveParser = true
