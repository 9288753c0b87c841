package sql

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// A pipeline script (a file for `spate run`) declares sources and sinks
// and connects them with INSERT INTO statements:
//
//	CREATE SOURCE events (
//	    device STRING, signal DOUBLE, ts TIMESTAMP,
//	    WATERMARK FOR ts AS ts - INTERVAL '10' SECOND
//	) WITH (format = 'kafka', topic = 'events');
//
//	CREATE SINK averages WITH (format = 'parquet', path = '/tmp/out', output_mode = 'append');
//
//	INSERT INTO averages
//	SELECT device, avg(signal) FROM events GROUP BY device;
//
// ParseScript only reads the statements: the caller (the CLI) opens the
// sources through its connector registry, registers them as views, plans
// each INSERT's Query with Plan (or Session.SQL) and starts the queries.

// ScriptStatement is one statement of a pipeline script: *CreateSource,
// *CreateSink, *Insert or *Query.
type ScriptStatement interface {
	// Place returns the statement's line and column in the script.
	Place() (line, column int)
}

// Pos is a place in a script (1-based).
type Pos struct{ Line, Column int }

// Place returns the line and column.
func (p Pos) Place() (int, int) { return p.Line, p.Column }

// ColumnDef is a declared column of a source.
type ColumnDef struct {
	Name     string
	Type     arrow.DataType
	Nullable bool // false for NOT NULL
}

// Watermark is a source's WATERMARK FOR column AS column - INTERVAL ...:
// event time lags at most Delay behind the largest seen.
type Watermark struct {
	Column string
	Delay  time.Duration
}

// CreateSource is CREATE SOURCE name [(columns[, WATERMARK ...])] WITH (options).
type CreateSource struct {
	Pos
	Name string
	// Columns is the declared schema (empty: the source's own).
	Columns   []ColumnDef
	Watermark *Watermark
	// Options are the WITH options, keys in lower case, values as written.
	Options map[string]string
}

// CreateSink is CREATE SINK name WITH (options).
type CreateSink struct {
	Pos
	Name    string
	Options map[string]string
}

// Insert is INSERT INTO sink <query>.
type Insert struct {
	Pos
	Sink string
	// Query is the query's text, preceded by blanks (newlines kept) so
	// that the line and column of an error Plan reports are the script's.
	Query string
}

// Query is a query (or EXPLAIN of one) on its own in a script; Text is
// padded as Insert.Query is.
type Query struct {
	Pos
	Text string
}

// ParseScript reads a pipeline script. Errors are *Error values with the
// script's line and column.
func ParseScript(text string) ([]ScriptStatement, error) {
	if !haveParser {
		return nil, ErrNoCgo
	}
	if err := checkText(text); err != nil {
		return nil, err
	}
	var toks []*pg.ScanToken
	for _, t := range scan(text) {
		if t.Token != pg.Token_SQL_COMMENT && t.Token != pg.Token_C_COMMENT {
			toks = append(toks, t)
		}
	}
	if len(toks) == 0 && strings.TrimSpace(text) != "" {
		// The scanner rejected the text: let the parser say why.
		if _, _, err := parse(text); err != nil {
			return nil, err
		}
	}
	var out []ScriptStatement
	for start := 0; start < len(toks); {
		end := start
		for end < len(toks) && toks[end].Token != pg.Token_ASCII_59 {
			end++
		}
		if end > start {
			st, err := scriptStatement(text, toks[start:end])
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
		start = end + 1
	}
	return out, nil
}

func checkText(text string) error {
	if len(text) > maxQueryBytes {
		return errAt(text, -1, 0, ErrSyntax, "script of %d bytes is longer than the limit of %d", len(text), maxQueryBytes)
	}
	if i := indexNUL(text); i >= 0 {
		return errAt(text, i, 1, ErrSyntax, "NUL character in script")
	}
	return nil
}

// blank returns s with every character but newlines replaced by spaces.
func blank(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c != '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}

// padded returns text[from:to] preceded by the blanked text[:from].
func padded(text string, from, to int) string { return blank(text[:from]) + text[from:to] }

func posOf(text string, off int) Pos {
	e := errAt(text, off, 1, nil, "")
	return Pos{Line: e.Line, Column: e.Column}
}

func word(text string, t *pg.ScanToken) string { return strings.ToLower(text[t.Start:t.End]) }

// scriptStatement reads one statement (its tokens, without the ';').
func scriptStatement(text string, toks []*pg.ScanToken) (ScriptStatement, error) {
	from, to := int(toks[0].Start), int(toks[len(toks)-1].End)
	pos := posOf(text, from)
	if toks[0].Token == pg.Token_CREATE && len(toks) > 1 {
		switch word(text, toks[1]) {
		case "source":
			return createSource(text, toks, pos)
		case "sink":
			return createSink(text, toks, pos)
		}
	}
	if toks[0].Token == pg.Token_INSERT {
		return insert(text, toks, pos)
	}
	if toks[0].Token == pg.Token_SELECT || toks[0].Token == pg.Token_WITH || toks[0].Token == pg.Token_VALUES ||
		word(text, toks[0]) == "explain" || toks[0].Token == pg.Token_ASCII_40 {
		return &Query{Pos: pos, Text: padded(text, from, to)}, nil
	}
	return nil, errAt(text, from, int(toks[0].End-toks[0].Start), ErrUnsupported,
		"a pipeline script holds CREATE SOURCE, CREATE SINK, INSERT INTO ... SELECT and SELECT statements")
}

// withOptions reads WITH (key = value, ...) at toks[i]; it returns the
// options and the index after the closing parenthesis.
func withOptions(text string, toks []*pg.ScanToken, i int) (map[string]string, int, error) {
	opts := map[string]string{}
	at := func(k int) int {
		if k < len(toks) {
			return int(toks[k].Start)
		}
		return int(toks[len(toks)-1].End)
	}
	if i >= len(toks) || toks[i].Token != pg.Token_WITH || i+1 >= len(toks) || toks[i+1].Token != pg.Token_ASCII_40 {
		return nil, i, errAt(text, at(i), 1, ErrSyntax, "expected WITH (option = 'value', ...)")
	}
	i += 2
	for {
		if i < len(toks) && toks[i].Token == pg.Token_ASCII_41 && len(opts) == 0 {
			return opts, i + 1, nil
		}
		// key: names joined by dots; a name is a word or a quoted string.
		var key []string
		for {
			if i >= len(toks) {
				return nil, i, errAt(text, at(i), 1, ErrSyntax, "expected an option name")
			}
			t := toks[i]
			src := text[t.Start:t.End]
			switch {
			case t.Token == pg.Token_SCONST || strings.HasPrefix(src, `"`):
				key = append(key, unquote(src))
			case t.Token == pg.Token_IDENT || t.KeywordKind != pg.KeywordKind_NO_KEYWORD:
				key = append(key, strings.ToLower(src))
			default:
				return nil, i, errAt(text, at(i), int(t.End-t.Start), ErrSyntax, "expected an option name")
			}
			i++
			if i < len(toks) && toks[i].Token == pg.Token_ASCII_46 {
				i++
				continue
			}
			break
		}
		if i+1 >= len(toks) || toks[i].Token != pg.Token_ASCII_61 {
			return nil, i, errAt(text, at(i), 1, ErrSyntax, "expected option = 'value'")
		}
		i++ // '='
		v := toks[i]
		val := text[v.Start:v.End]
		switch v.Token {
		case pg.Token_SCONST:
			val = unquote(val)
		case pg.Token_ICONST, pg.Token_FCONST, pg.Token_IDENT, pg.Token_TRUE_P, pg.Token_FALSE_P:
		default:
			if v.KeywordKind == pg.KeywordKind_NO_KEYWORD {
				return nil, i, errAt(text, at(i), int(v.End-v.Start), ErrSyntax, "expected a value: 'string', number, true or false")
			}
		}
		name := strings.Join(key, ".")
		if _, dup := opts[name]; dup {
			return nil, i, errAt(text, at(i-2), 1, ErrInvalid, "option %s is given twice", name)
		}
		opts[name] = val
		i++
		if i < len(toks) && toks[i].Token == pg.Token_ASCII_44 {
			i++
			continue
		}
		if i < len(toks) && toks[i].Token == pg.Token_ASCII_41 {
			return opts, i + 1, nil
		}
		return nil, i, errAt(text, at(i), 1, ErrSyntax, "expected , or ) after option %s", name)
	}
}

// unquote reads a 'string' or "identifier" token.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') {
		q := s[:1]
		return strings.ReplaceAll(s[1:len(s)-1], q+q, q)
	}
	if len(s) >= 3 && (s[0] == 'E' || s[0] == 'e') && s[1] == '\'' {
		return strings.ReplaceAll(s[2:len(s)-1], "''", "'")
	}
	return s
}

func createSink(text string, toks []*pg.ScanToken, pos Pos) (ScriptStatement, error) {
	if len(toks) < 3 {
		return nil, errAt(text, int(toks[len(toks)-1].End), 1, ErrSyntax, "expected CREATE SINK name WITH (...)")
	}
	name := text[toks[2].Start:toks[2].End]
	if strings.HasPrefix(name, `"`) {
		name = unquote(name)
	} else {
		name = strings.ToLower(name)
	}
	opts, i, err := withOptions(text, toks, 3)
	if err != nil {
		return nil, err
	}
	if i < len(toks) {
		return nil, errAt(text, int(toks[i].Start), int(toks[i].End-toks[i].Start), ErrSyntax, "unexpected text after the options of CREATE SINK")
	}
	return &CreateSink{Pos: pos, Name: name, Options: opts}, nil
}

func createSource(text string, toks []*pg.ScanToken, pos Pos) (ScriptStatement, error) {
	from := int(toks[0].Start)
	// Find WITH at depth 0 and a WATERMARK element inside the column list.
	depth, with := 0, -1
	wmStart, wmEnd := -1, -1 // token range of "WATERMARK FOR ... " (exclusive end)
	for i, t := range toks {
		switch t.Token {
		case pg.Token_ASCII_40:
			depth++
		case pg.Token_ASCII_41:
			depth--
			if wmStart >= 0 && wmEnd < 0 && depth == 0 {
				wmEnd = i
			}
		case pg.Token_ASCII_44:
			if wmStart >= 0 && wmEnd < 0 && depth == 1 {
				wmEnd = i
			}
		case pg.Token_WITH:
			if depth == 0 && with < 0 {
				with = i
			}
		}
		if depth == 1 && word(text, t) == "watermark" && i+1 < len(toks) && toks[i+1].Token == pg.Token_FOR && wmStart < 0 {
			wmStart = i
		}
	}
	if len(toks) < 3 || with == 2 || toks[2].Token == pg.Token_ASCII_40 {
		at := int(toks[len(toks)-1].End)
		if len(toks) >= 3 {
			at = int(toks[2].Start)
		}
		return nil, errAt(text, at, 1, ErrSyntax, "expected CREATE SOURCE name [(columns)] WITH (format = '...', ...)")
	}
	if with < 0 {
		return nil, errAt(text, int(toks[len(toks)-1].End), 1, ErrSyntax, "expected WITH (format = '...', ...) after CREATE SOURCE %s", text[toks[2].Start:toks[2].End])
	}
	opts, i, err := withOptions(text, toks, with)
	if err != nil {
		return nil, err
	}
	if i < len(toks) {
		return nil, errAt(text, int(toks[i].Start), int(toks[i].End-toks[i].Start), ErrSyntax, "unexpected text after the options of CREATE SOURCE")
	}
	// The rest is CREATE TABLE name (columns) for PostgreSQL's grammar:
	// SOURCE becomes " TABLE", the watermark and the options blanks.
	b := []byte(padded(text, from, int(toks[with].Start)))
	copy(b[toks[1].Start:toks[1].End], " TABLE")
	var wm *Watermark
	if wmStart >= 0 {
		if wmEnd < 0 {
			return nil, errAt(text, int(toks[wmStart].Start), len("WATERMARK"), ErrSyntax, "unterminated WATERMARK clause")
		}
		if wm, err = watermark(text, toks[wmStart:wmEnd]); err != nil {
			return nil, err
		}
		// Blank the element and the comma before it (or after it).
		lo, hi := int(toks[wmStart].Start), int(toks[wmEnd-1].End)
		if wmStart > 0 && toks[wmStart-1].Token == pg.Token_ASCII_44 {
			lo = int(toks[wmStart-1].Start)
		} else if toks[wmEnd].Token == pg.Token_ASCII_44 {
			hi = int(toks[wmEnd].End)
		}
		copy(b[lo:hi], blank(text[lo:hi]))
	}
	stmt := string(b)
	hasCols := strings.ContainsRune(stmt[toks[2].End:], '(')
	if !hasCols {
		// CREATE TABLE name needs a column list: the name gets "()"
		// appended in a copy, past which no position is reported.
		stmt = stmt[:toks[2].End] + "()" + stmt[toks[2].End:]
	}
	res, _, err := parse(stmt)
	if err != nil {
		return nil, err
	}
	cs := res.Stmts[0].Stmt.GetCreateStmt()
	if cs == nil || len(res.Stmts) != 1 {
		return nil, errAt(text, from, 6, ErrSyntax, "expected CREATE SOURCE name (column type, ...) WITH (...)")
	}
	src := &CreateSource{Pos: pos, Name: cs.Relation.Relname, Watermark: wm, Options: opts}
	p := newPlanner(context.Background(), text, MapCatalog(nil), nil)
	for _, el := range cs.TableElts {
		cd := el.GetColumnDef()
		if cd == nil {
			return nil, errAt(text, int(firstLocationOf(el)), 1, ErrUnsupported, "only column definitions (name type [NOT NULL]) and WATERMARK FOR are allowed in CREATE SOURCE")
		}
		dt, err := p.typeOf(cd.TypeName)
		if err != nil {
			return nil, err
		}
		notNull := cd.IsNotNull
		for _, c := range cd.Constraints {
			if c.GetConstraint().GetContype() == pg.ConstrType_CONSTR_NOTNULL {
				notNull = true
			}
		}
		src.Columns = append(src.Columns, ColumnDef{Name: cd.Colname, Type: dt, Nullable: !notNull})
	}
	if wm != nil {
		found := false
		for i, c := range src.Columns {
			if strings.EqualFold(c.Name, wm.Column) {
				found = true
				wm.Column = c.Name
				if c.Type.ID() != arrow.TIMESTAMP {
					return nil, errAt(text, int(toks[wmStart].Start), len("WATERMARK"), ErrInvalid, "the watermark column %s is %s, not a timestamp", quoteIdent(c.Name), src.Columns[i].Type)
				}
			}
		}
		if !found && len(src.Columns) > 0 {
			var names []string
			for _, c := range src.Columns {
				names = append(names, c.Name)
			}
			return nil, errAt(text, int(toks[wmStart+2].Start), len(wm.Column), ErrInvalid, "unknown watermark column %s%s (columns: %s)", quoteIdent(wm.Column), didYouMean(wm.Column, names), quoteList(names))
		}
	}
	return src, nil
}

// watermark reads WATERMARK FOR col AS col [- INTERVAL ...].
func watermark(text string, toks []*pg.ScanToken) (*Watermark, error) {
	// toks: WATERMARK FOR col AS expr...
	if len(toks) < 5 || toks[3].Token != pg.Token_AS {
		return nil, errAt(text, int(toks[0].Start), len("WATERMARK"), ErrSyntax, "expected WATERMARK FOR column AS column - INTERVAL '...'")
	}
	col := text[toks[2].Start:toks[2].End]
	if strings.HasPrefix(col, `"`) {
		col = unquote(col)
	} else {
		col = strings.ToLower(col)
	}
	from, to := int(toks[4].Start), int(toks[len(toks)-1].End)
	// Parse the expression as "SELECT expr" at its own place.
	q := blank(text[:from-len("SELECT ")]) + "SELECT " + text[from:to]
	res, _, err := parse(q)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, errAt(text, from, to-from, ErrSyntax, "WATERMARK: %s", e.Msg)
		}
		return nil, err
	}
	bad := errAt(text, from, to-from, ErrUnsupported, "a watermark is column or column - INTERVAL '...' (a constant delay)")
	sel := res.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 {
		return nil, bad
	}
	e := sel.TargetList[0].GetResTarget().GetVal()
	wm := &Watermark{Column: col}
	var ref *pg.ColumnRef
	p := newPlanner(context.Background(), text, MapCatalog(nil), nil)
	if a := e.GetAExpr(); a != nil && a.Kind == pg.A_Expr_Kind_AEXPR_OP && opName(a.Name) == "-" && a.Lexpr != nil {
		ref = a.Lexpr.GetColumnRef()
		tc := a.Rexpr.GetTypeCast()
		if tc == nil || !isIntervalType(tc.TypeName) {
			return nil, bad
		}
		d, err := p.intervalOf(tc)
		if err != nil {
			return nil, err
		}
		wm.Delay = d
	} else {
		ref = e.GetColumnRef()
	}
	if ref == nil || len(ref.Fields) != 1 || !strings.EqualFold(ref.Fields[0].GetString_().GetSval(), col) {
		return nil, errAt(text, from, to-from, ErrUnsupported, "a watermark is %s or %s - INTERVAL '...' (a constant delay)", col, col)
	}
	return wm, nil
}

func insert(text string, toks []*pg.ScanToken, pos Pos) (ScriptStatement, error) {
	from, to := int(toks[0].Start), int(toks[len(toks)-1].End)
	res, _, err := parse(padded(text, from, to))
	if err != nil {
		return nil, err
	}
	ins := res.Stmts[0].Stmt.GetInsertStmt()
	if ins == nil || ins.SelectStmt == nil {
		return nil, errAt(text, from, len("INSERT"), ErrSyntax, "expected INSERT INTO sink SELECT ...")
	}
	if len(ins.Cols) > 0 {
		return nil, errAt(text, int(ins.Cols[0].GetResTarget().GetLocation()), 1, ErrUnsupported, "INSERT INTO sink (columns) is not supported: name the columns in the SELECT list")
	}
	if ins.OnConflictClause != nil || len(ins.ReturningList) > 0 || ins.WithClause != nil {
		return nil, errAt(text, from, len("INSERT"), ErrUnsupported, "INSERT takes INTO sink followed by a query (no WITH before INSERT, ON CONFLICT or RETURNING)")
	}
	if ins.Relation.Schemaname != "" {
		return nil, errAt(text, int(ins.Relation.Location), 1, ErrUnsupported, "schema-qualified sink names are not supported")
	}
	// The query starts at the token after the sink's name.
	start := -1
	for i, t := range toks {
		if t.Start == ins.Relation.Location && i+1 < len(toks) {
			start = int(toks[i+1].Start)
			break
		}
	}
	if start < 0 {
		return nil, errAt(text, to, 1, ErrSyntax, "expected a query after INSERT INTO %s", ins.Relation.Relname)
	}
	return &Insert{Pos: pos, Sink: ins.Relation.Relname, Query: padded(text, start, to)}, nil
}
