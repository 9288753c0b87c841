package sql

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors callers branch on with errors.Is. The errors Plan and
// ParseExpr return are *Error values that wrap one of them, or an analysis
// error of package plan or expr (plan.ErrPlan, *expr.ColumnNotFoundError,
// expr.ErrType, ...).
var (
	// ErrSyntax is wrapped by errors of text the parser rejects.
	ErrSyntax = errors.New("sql: syntax error")
	// ErrUnsupported is wrapped by errors of valid SQL that spate cannot
	// plan (yet): the message names the construct.
	ErrUnsupported = errors.New("sql: unsupported")
	// ErrNoSuchTable is wrapped by errors of a table name that is neither
	// in the catalog nor a common table expression.
	ErrNoSuchTable = errors.New("sql: no such table")
	// ErrNoSuchFunction is wrapped by errors of an unknown function name.
	ErrNoSuchFunction = errors.New("sql: no such function")
	// ErrInvalid is wrapped by errors of a query that names things that
	// exist but uses them wrongly (an ambiguous column, a column that is
	// neither grouped nor aggregated, a bad constant argument).
	ErrInvalid = errors.New("sql: invalid query")
	// ErrNoCgo is returned when spate was built without cgo: the parser
	// is PostgreSQL's own, compiled from C.
	ErrNoCgo = errors.New("sql: SQL needs a build with cgo (CGO_ENABLED=1 and a C compiler)")
)

// Error is an error at a place in the SQL text. Line and Column are
// 1-based (0 when the place is unknown); Column counts characters.
type Error struct {
	// Msg says what is wrong and, where possible, what to change.
	Msg string
	// Line and Column locate the offending text (1-based; 0 if unknown).
	Line, Column int
	// Excerpt is the offending line with the text underlined by carets
	// (empty when the place is unknown).
	Excerpt string
	// Err is the cause: one of the sentinels of this package or an
	// analysis error of package plan or expr.
	Err error
}

// Error returns the message, its place and the excerpt.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sql: ")
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d, column %d)", e.Line, e.Column)
	}
	if e.Excerpt != "" {
		b.WriteString("\n")
		b.WriteString(e.Excerpt)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errAt makes an *Error for the text at byte offset off (negative: no
// place) spanning n bytes (at least one caret).
func errAt(text string, off, n int, cause error, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...), Err: cause}
	if off < 0 || off > len(text) {
		return e
	}
	line := 1 + strings.Count(text[:off], "\n")
	start := strings.LastIndexByte(text[:off], '\n') + 1
	end := strings.IndexByte(text[off:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += off
	}
	col := 1 + utf8.RuneCountInString(text[start:off])
	if n < 1 {
		n = 1
	}
	if off+n > end {
		n = max(1, end-off)
	}
	width := utf8.RuneCountInString(text[off:min(off+n, len(text))])
	lineText := strings.ReplaceAll(text[start:end], "\t", " ")
	e.Line, e.Column = line, col
	e.Excerpt = "  " + lineText + "\n  " + strings.Repeat(" ", col-1) + strings.Repeat("^", max(1, width))
	return e
}

// suggest returns the candidate closest to name (by edit distance, case
// folded) when it is close enough to be a likely typo.
func suggest(name string, candidates []string) string {
	best, bestD := "", 1<<30
	ln := strings.ToLower(name)
	for _, c := range candidates {
		d := editDistance(ln, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, len([]rune(name))/3)
	if bestD <= limit && bestD > 0 || (bestD == 0 && best != "" && best != name) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// didYouMean formats a suggestion for name among candidates, or "".
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf("; did you mean %s?", quoteIdent(s))
	}
	return ""
}

func quoteIdent(s string) string { return "`" + s + "`" }

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	if len(q) == 0 {
		return "(none)"
	}
	return strings.Join(q, ", ")
}
