package sql

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// maxQueryBytes bounds the text Plan and ParseExpr accept.
const maxQueryBytes = 1 << 20

// windowPlaceholder stands for the reserved word WINDOW called as a
// function; see rewrite.
const windowPlaceholder = `"$win"`

// Catalog resolves the table names of a query to logical plans.
// dataframe.Session implements it over its temporary views. Plan calls
// it while planning only (never after returning) and may call it from
// one goroutine at a time.
type Catalog interface {
	// Table returns the plan of the table or view called name, matched
	// without regard to case, and ok false when there is none.
	Table(name string) (n plan.Node, ok bool)
	// TableNames lists the names Table knows, for error messages.
	TableNames() []string
}

// MapCatalog is a Catalog over a map from lower-case names to plans.
type MapCatalog map[string]plan.Node

var _ Catalog = MapCatalog(nil)

// Table returns the plan called name (case-insensitive).
func (m MapCatalog) Table(name string) (plan.Node, bool) {
	if n, ok := m[name]; ok {
		return n, true
	}
	n, ok := m[strings.ToLower(name)]
	return n, ok
}

// TableNames returns the names, sorted.
func (m MapCatalog) TableNames() []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// FunctionBuilder makes the expression of a user-defined function call
// from its translated arguments. It returns an error for arguments it
// cannot take; the error is reported at the call's place.
type FunctionBuilder func(args []expr.Expr) (expr.Expr, error)

// Option configures Plan and ParseExpr.
type Option func(*config)

type config struct {
	funcs map[string]FunctionBuilder
}

// WithFunction makes the scalar function name (case-insensitive) callable
// from SQL. It takes precedence over a built-in function of the same name.
func WithFunction(name string, f FunctionBuilder) Option {
	return func(c *config) {
		if c.funcs == nil {
			c.funcs = map[string]FunctionBuilder{}
		}
		c.funcs[strings.ToLower(name)] = f
	}
}

// Plan translates one SQL query (SELECT, a set operation, WITH ...) into
// an analysed logical plan over the tables of cat. The plan is not
// optimized; callers run plan.Optimizer on it as for any DataFrame.
//
// Errors are *Error values with the line and column of the offending text,
// wrapping ErrSyntax, ErrUnsupported, ErrNoSuchTable, ErrNoSuchFunction,
// ErrInvalid or an analysis error of package plan or expr. Plan returns
// ctx's error if ctx is done before it starts or between the FROM items
// and subqueries it plans. EXPLAIN is rejected; see PlanStatement.
func Plan(ctx context.Context, text string, cat Catalog, opts ...Option) (plan.Node, error) {
	st, err := PlanStatement(ctx, text, cat, opts...)
	if err != nil {
		return nil, err
	}
	if st.Explain {
		return nil, errAt(text, st.at, len("EXPLAIN"), ErrUnsupported, "EXPLAIN is a statement, not a query: plan it with PlanStatement")
	}
	return st.Plan, nil
}

// Statement is a planned SQL statement.
type Statement struct {
	// Plan is the logical plan of the query (of the query explained).
	Plan plan.Node
	// Explain is set for EXPLAIN <query>: the caller shows the plans
	// instead of running the query.
	Explain bool

	at int // offset of the statement
}

// PlanStatement plans one statement: a query as Plan does, or
// EXPLAIN <query>. Errors are as Plan's.
func PlanStatement(ctx context.Context, text string, cat Catalog, opts ...Option) (*Statement, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cat == nil {
		cat = MapCatalog(nil)
	}
	p := newPlanner(ctx, text, cat, opts)
	res, semis, err := parse(text)
	if err != nil {
		return nil, err
	}
	p.semiJoins = semis
	if len(res.Stmts) != 1 {
		if len(res.Stmts) == 0 {
			return nil, errAt(text, -1, 0, ErrSyntax, "empty query: expected a SELECT statement")
		}
		second := int(res.Stmts[1].StmtLocation)
		return nil, errAt(text, second, tokenLen(text, second), ErrUnsupported, "one statement at a time, got %d", len(res.Stmts))
	}
	raw := res.Stmts[0]
	at := int(raw.StmtLocation)
	for at < len(text) && strings.ContainsRune(" \t\r\n", rune(text[at])) {
		at++
	}
	st := &Statement{at: at}
	stmt := raw.Stmt
	if ex := stmt.GetExplainStmt(); ex != nil {
		if len(ex.Options) > 0 {
			return nil, errAt(text, at, len("EXPLAIN"), ErrUnsupported, "EXPLAIN options (ANALYZE, VERBOSE, ...) are not supported")
		}
		st.Explain = true
		stmt = ex.Query
	}
	sel := stmt.GetSelectStmt()
	if sel == nil {
		return nil, errAt(text, at, tokenLen(text, at), ErrUnsupported, "only queries (SELECT, WITH, UNION, VALUES) and EXPLAIN can be planned, not %s", stmtKind(stmt))
	}
	rel, err := p.query(sel, nil)
	if err != nil {
		return nil, err
	}
	st.Plan = rel.node
	return st, nil
}

// ParseExpr translates one SQL expression (as in a SELECT list: "a + 1",
// "count(DISTINCT device) AS n", "ts > to_timestamp('2024-01-01')") into
// an expression over schema. Aggregates are allowed (for GroupBy(...).Agg);
// the expression is resolved against schema, so an unknown column is an
// error that lists the available ones.
func ParseExpr(text string, schema *arrow.Schema, opts ...Option) (expr.Expr, error) {
	const prefix = "SELECT "
	if schema == nil {
		schema = arrow.NewSchema(nil, nil)
	}
	full := prefix + text
	res, _, err := parse(full)
	if err != nil {
		return nil, shiftError(err, text)
	}
	var target []*pgNode
	if len(res.Stmts) == 1 {
		if s := res.Stmts[0].Stmt.GetSelectStmt(); s != nil && len(s.FromClause) == 0 && s.WhereClause == nil &&
			len(s.GroupClause) == 0 && s.HavingClause == nil && len(s.SortClause) == 0 && s.LimitCount == nil &&
			s.WithClause == nil && (s.Op == pg.SetOperation_SETOP_NONE || s.Op == 0) && len(s.DistinctClause) == 0 {
			target = s.TargetList
		}
	}
	if len(target) != 1 {
		return nil, errAt(text, -1, 0, ErrSyntax, "expected one expression, got %q", text)
	}
	p := newPlanner(context.Background(), full, MapCatalog(nil), opts)
	rt := target[0].GetResTarget()
	if rt == nil || rt.Val == nil {
		return nil, errAt(text, -1, 0, ErrSyntax, "expected one expression, got %q", text)
	}
	if rt.Val.GetColumnRef() != nil && isStar(rt.Val.GetColumnRef()) {
		return nil, errAt(text, 0, 1, ErrUnsupported, "* is not an expression")
	}
	sc := scopeOf(schema, "")
	sc.schema = schema
	e, err := p.expr(rt.Val, &exprCtx{scope: sc, allowAgg: true})
	if err != nil {
		return nil, shiftError(err, text)
	}
	if _, err := e.Resolve(schema); err != nil {
		return nil, shiftError(p.errAt(location(rt.Val), err, "%s", cleanMessage(err)), text)
	}
	if rt.Name != "" {
		e = expr.As(e, rt.Name)
	}
	return e, nil
}

// shiftError re-renders an error of ParseExpr's "SELECT " + text against
// the user's text.
func shiftError(err error, text string) error {
	e, ok := err.(*Error)
	if !ok || e.Line == 0 {
		return err
	}
	const n = len("SELECT ")
	col := e.Column
	if e.Line == 1 {
		col -= n
	}
	// Find the byte offset of (line, col) in text.
	off := 0
	for l := 1; l < e.Line; l++ {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	rs := []rune(text[off:])
	if col-1 > len(rs) {
		col = len(rs) + 1
	}
	off += len(string(rs[:max(0, col-1)]))
	width := strings.Count(e.Excerpt[strings.LastIndexByte(e.Excerpt, '\n')+1:], "^")
	ne := errAt(text, off, width, e.Err, "%s", e.Msg)
	return ne
}

func stmtKind(n *pgNode) string {
	s := fmt.Sprintf("%T", n.GetNode())
	s = strings.TrimPrefix(s, "*pg_query.Node_")
	return s
}

func indexNUL(s string) int { return strings.IndexByte(s, 0) }

// runeOffset returns the byte offset of the rune with index i in s.
func runeOffset(s string, i int) int {
	n := 0
	for off := range s {
		if n == i {
			return off
		}
		n++
	}
	return len(s)
}
