package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

type pgNode = pg.Node

// planner translates one parse tree. It is used once, by one goroutine.
type planner struct {
	ctx  context.Context
	text string
	cat  Catalog
	cfg  config
	// ctes is the stack of WITH scopes, innermost last.
	ctes []map[string]*relation
	// semiJoins holds the byte offsets of the JOIN keywords of Spark's
	// LEFT SEMI / LEFT ANTI joins, rewritten to LEFT JOIN before parsing.
	semiJoins map[int]plan.JoinType
}

func newPlanner(ctx context.Context, text string, cat Catalog, opts []Option) *planner {
	p := &planner{ctx: ctx, text: text, cat: cat}
	for _, o := range opts {
		o(&p.cfg)
	}
	return p
}

// errAt reports an error at byte offset off of the query.
func (p *planner) errAt(off int32, cause error, format string, args ...any) *Error {
	o := int(off)
	if off < 0 {
		o = -1
	}
	return errAt(p.text, o, tokenLen(p.text, o), cause, format, args...)
}

// planErr wraps an analysis error of package plan at a place.
func (p *planner) planErr(off int32, err error) error {
	if _, ok := err.(*Error); ok {
		return err
	}
	return p.errAt(off, err, "%s", cleanMessage(err))
}

// cleanMessage drops the package prefixes of an analysis error message,
// which the *Error's "sql: " replaces.
func cleanMessage(err error) string {
	m := err.Error()
	for _, prefix := range []string{"plan: ", "invalid plan: ", "Project: ", "Filter: ", "Aggregate: ", "Sort: ", "Join: ", "expr: ", "sql: "} {
		m = strings.TrimPrefix(m, prefix)
	}
	return m
}

// checkExpr resolves e over r's schema and reports a type error at the
// expression's place.
func (p *planner) checkExpr(e expr.Expr, r *relation, n *pgNode) error {
	if r.node == nil {
		return nil
	}
	if _, err := e.Resolve(r.node.Schema()); err != nil {
		return p.errAt(location(n), err, "%s", cleanMessage(err))
	}
	return nil
}

// query plans a SELECT statement, a set operation or a VALUES list.
func (p *planner) query(sel *pg.SelectStmt, _ *relation) (*relation, error) {
	if err := p.ctx.Err(); err != nil {
		return nil, err
	}
	if sel.WithClause != nil {
		if sel.WithClause.Recursive {
			return nil, p.errAt(sel.WithClause.Location, ErrUnsupported, "WITH RECURSIVE is not supported")
		}
		frame := map[string]*relation{}
		p.ctes = append(p.ctes, frame)
		defer func() { p.ctes = p.ctes[:len(p.ctes)-1] }()
		for _, n := range sel.WithClause.Ctes {
			cte := n.GetCommonTableExpr()
			if cte == nil {
				continue
			}
			inner := cte.Ctequery.GetSelectStmt()
			if inner == nil {
				return nil, p.errAt(cte.Location, ErrUnsupported, "WITH %s: only SELECT queries can be common table expressions", quoteIdent(cte.Ctename))
			}
			r, err := p.query(inner, nil)
			if err != nil {
				return nil, err
			}
			if len(cte.Aliascolnames) > 0 {
				if r, err = p.renameColumns(r, cte.Aliascolnames, cte.Ctename, cte.Location); err != nil {
					return nil, err
				}
			}
			frame[strings.ToLower(cte.Ctename)] = r
		}
	}
	switch {
	case sel.Op != pg.SetOperation_SETOP_NONE && sel.Op != pg.SetOperation_SET_OPERATION_UNDEFINED:
		return p.setOp(sel)
	case len(sel.ValuesLists) > 0:
		return p.values(sel)
	}
	return p.selectCore(sel)
}

// setOp plans UNION, INTERSECT and EXCEPT [ALL] and their ORDER BY /
// LIMIT.
func (p *planner) setOp(sel *pg.SelectStmt) (*relation, error) {
	if sel.Op != pg.SetOperation_SETOP_UNION {
		return p.intersectExcept(sel)
	}
	// A chain a UNION ALL b UNION ALL c (left-deep in the parse tree)
	// becomes one Union of all its inputs; likewise for UNION.
	parts := []*pg.SelectStmt{sel.Rarg}
	left := sel.Larg
	for left.Op == pg.SetOperation_SETOP_UNION && left.All == sel.All && len(left.SortClause) == 0 &&
		left.LimitCount == nil && left.LimitOffset == nil && left.WithClause == nil {
		parts = append(parts, left.Rarg)
		left = left.Larg
	}
	parts = append(parts, left)
	slices.Reverse(parts)
	var l *relation
	inputs := make([]plan.Node, len(parts))
	for i, part := range parts {
		r, err := p.query(part, nil)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			l = r
		}
		inputs[i] = r.node
	}
	u, err := plan.NewUnion(inputs...)
	if err != nil {
		at := firstLocation(sel.Rarg)
		// Point at the first input whose columns do not match the first's.
		for i, in := range inputs[1:] {
			if len(in.Schema().Fields()) != len(inputs[0].Schema().Fields()) {
				at = firstLocation(parts[i+1])
				break
			}
		}
		return nil, p.planErr(at, err)
	}
	var n plan.Node = u
	if !sel.All {
		if n, err = plan.NewDeduplicate(n, nil); err != nil {
			return nil, p.planErr(firstLocation(sel.Rarg), err)
		}
	}
	out := newRelation(n, "")
	for i := range out.cols {
		out.cols[i].name = l.cols[i].name
	}
	return p.orderAndLimit(sel, out)
}

// intersectExcept plans INTERSECT and EXCEPT [ALL]. The parser already
// nests them by precedence (INTERSECT binds tighter than UNION and
// EXCEPT), so each is one plan.SetOp of its two arguments.
func (p *planner) intersectExcept(sel *pg.SelectStmt) (*relation, error) {
	kind, name := plan.SetIntersect, "INTERSECT"
	switch sel.Op {
	case pg.SetOperation_SETOP_INTERSECT:
	case pg.SetOperation_SETOP_EXCEPT:
		kind, name = plan.SetExcept, "EXCEPT"
	default:
		return nil, p.errAt(firstLocation(sel.Rarg), ErrUnsupported, "set operation %s is not supported; UNION, INTERSECT and EXCEPT are", sel.Op)
	}
	if sel.All {
		name += " ALL"
	}
	l, err := p.query(sel.Larg, nil)
	if err != nil {
		return nil, err
	}
	r, err := p.query(sel.Rarg, nil)
	if err != nil {
		return nil, err
	}
	n, err := plan.NewSetOp(l.node, r.node, kind, sel.All)
	if err != nil {
		// "Intersect: expr: type mismatch: ..." reads as "INTERSECT: type
		// mismatch: ...", at the right input.
		msg := strings.TrimPrefix(strings.TrimPrefix(cleanMessage(err), kind.String()+": "), "expr: ")
		return nil, p.errAt(firstLocation(sel.Rarg), err, "%s: %s", name, msg)
	}
	out := newRelation(n, "")
	for i := range out.cols {
		out.cols[i].name = l.cols[i].name
	}
	return p.orderAndLimit(sel, out)
}

// orderAndLimit applies ORDER BY and LIMIT that refer to output columns
// only (after a set operation or DISTINCT).
func (p *planner) orderAndLimit(sel *pg.SelectStmt, r *relation) (*relation, error) {
	if len(sel.SortClause) > 0 {
		var orders []plan.SortOrder
		for _, sn := range sel.SortClause {
			sb := sn.GetSortBy()
			e, err := p.outputRef(sb.Node, r)
			if err != nil {
				return nil, err
			}
			orders = append(orders, sortOrder(e, sb))
		}
		n, err := plan.NewSort(r.node, orders)
		if err != nil {
			return nil, p.planErr(sel.SortClause[0].GetSortBy().Location, err)
		}
		r = &relation{node: n, cols: r.cols}
	}
	return p.limit(sel, r)
}

// outputRef resolves an ORDER BY item against output columns: a position,
// or an expression over them.
func (p *planner) outputRef(n *pgNode, r *relation) (expr.Expr, error) {
	if pos, ok := intConst(n); ok {
		if pos < 1 || int(pos) > len(r.cols) {
			return nil, p.errAt(location(n), ErrInvalid, "ORDER BY position %d is not in the select list (1 to %d)", pos, len(r.cols))
		}
		return expr.Col(r.cols[pos-1].internal), nil
	}
	return p.expr(n, &exprCtx{scope: r})
}

func sortOrder(e expr.Expr, sb *pg.SortBy) plan.SortOrder {
	o := plan.SortOrder{Expr: e, Desc: sb.SortbyDir == pg.SortByDir_SORTBY_DESC}
	switch sb.SortbyNulls {
	case pg.SortByNulls_SORTBY_NULLS_FIRST:
		o.NullsFirst = true
	case pg.SortByNulls_SORTBY_NULLS_LAST:
		o.NullsFirst = false
	default:
		o.NullsFirst = !o.Desc
	}
	return o
}

func (p *planner) limit(sel *pg.SelectStmt, r *relation) (*relation, error) {
	if sel.LimitOffset != nil {
		return nil, p.errAt(location(sel.LimitOffset), ErrUnsupported, "OFFSET is not supported")
	}
	if sel.LimitOption == pg.LimitOption_LIMIT_OPTION_WITH_TIES {
		return nil, p.errAt(location(sel.LimitCount), ErrUnsupported, "FETCH ... WITH TIES is not supported")
	}
	if sel.LimitCount == nil {
		return r, nil
	}
	if c := sel.LimitCount.GetAConst(); c != nil && c.Isnull {
		return r, nil // LIMIT ALL / LIMIT NULL
	}
	n, ok := intConst(sel.LimitCount)
	if !ok || n < 0 {
		return nil, p.errAt(location(sel.LimitCount), ErrInvalid, "LIMIT takes a non-negative integer constant")
	}
	l, err := plan.NewLimit(r.node, n)
	if err != nil {
		return nil, p.planErr(location(sel.LimitCount), err)
	}
	return &relation{node: l, cols: r.cols}, nil
}

// renameColumns gives r's columns the names of an alias column list.
func (p *planner) renameColumns(r *relation, names []*pgNode, what string, at int32) (*relation, error) {
	if len(names) > len(r.cols) {
		return nil, p.errAt(at, ErrInvalid, "%s has %d columns but %d names were given", quoteIdent(what), len(r.cols), len(names))
	}
	exprs := make([]expr.Expr, len(r.cols))
	for i, c := range r.cols {
		exprs[i] = expr.Col(c.internal)
		if i < len(names) {
			exprs[i] = expr.As(expr.Col(c.internal), names[i].GetString_().GetSval())
		}
	}
	n, err := plan.NewProject(r.node, exprs)
	if err != nil {
		return nil, p.planErr(at, err)
	}
	return newRelation(n, ""), nil
}

// values plans VALUES (...), (...) as an in-memory relation of constants.
func (p *planner) values(sel *pg.SelectStmt) (*relation, error) {
	rows := sel.ValuesLists
	first := rows[0].GetList().GetItems()
	width := len(first)
	var cols [][]*expr.Literal
	for _, row := range rows {
		items := row.GetList().GetItems()
		if len(items) != width {
			return nil, p.errAt(location(row), ErrInvalid, "VALUES rows have different lengths (%d and %d)", width, len(items))
		}
		for j, it := range items {
			e, err := p.expr(it, &exprCtx{scope: &relation{}})
			if err != nil {
				return nil, err
			}
			lit, ok := e.(*expr.Literal)
			if !ok {
				var err error
				if lit, ok, err = expr.FoldConstant(e); err != nil {
					return nil, p.errAt(location(it), err, "%v", err)
				}
			}
			if !ok {
				return nil, p.errAt(location(it), ErrUnsupported, "VALUES takes constants only")
			}
			if len(cols) <= j {
				cols = append(cols, nil)
			}
			cols[j] = append(cols[j], lit)
		}
	}
	fields := make([]arrow.Field, width)
	arrs := make([]arrow.Array, width)
	defer func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}()
	for j := range width {
		var dt arrow.DataType = arrow.Null
		for _, l := range cols[j] {
			if l.Value != nil && l.Type != nil && l.Type.ID() != arrow.NULL {
				dt = l.Type
				break
			}
		}
		fields[j] = arrow.Field{Name: fmt.Sprintf("col%d", j+1), Type: dt, Nullable: true}
		a, err := buildArray(dt, cols[j])
		if err != nil {
			return nil, p.errAt(location(rows[0]), ErrInvalid, "VALUES column %d: %v", j+1, err)
		}
		arrs[j] = a
	}
	schema := arrow.NewSchema(fields, nil)
	batch := array.NewRecordBatch(schema, arrs, int64(len(rows)))
	lr, err := plan.NewLocalRelation(schema, [][]arrow.RecordBatch{{batch}})
	if err != nil {
		return nil, p.planErr(location(rows[0]), err)
	}
	return p.orderAndLimit(sel, newRelation(lr, ""))
}

// buildArray makes an array of the literals' values, cast to dt.
func buildArray(dt arrow.DataType, lits []*expr.Literal) (arrow.Array, error) {
	b := array.NewBuilder(memory.DefaultAllocator, dt)
	defer b.Release()
	for _, l := range lits {
		v := l.Value
		if v == nil {
			b.AppendNull()
			continue
		}
		if !arrow.TypeEqual(l.Type, dt) {
			c, ok, err := expr.FoldConstant(expr.NewCast(l, dt))
			if err != nil || !ok || c.Value == nil {
				return nil, fmt.Errorf("value %v does not have type %s", v, dt)
			}
			v = c.Value
		}
		switch bb := b.(type) {
		case *array.Int64Builder:
			bb.Append(v.(int64))
		case *array.Int32Builder:
			bb.Append(v.(int32))
		case *array.Float64Builder:
			bb.Append(v.(float64))
		case *array.Float32Builder:
			bb.Append(v.(float32))
		case *array.StringBuilder:
			bb.Append(v.(string))
		case *array.BooleanBuilder:
			bb.Append(v.(bool))
		case *array.NullBuilder:
			bb.AppendNull()
		default:
			return nil, fmt.Errorf("type %s is not supported in VALUES", dt)
		}
	}
	return b.NewArray(), nil
}

// oneRow returns the relation of a SELECT without FROM: one row, no
// columns.
func oneRow() (*relation, error) {
	schema := arrow.NewSchema(nil, nil)
	b := array.NewRecordBatch(schema, nil, 1)
	lr, err := plan.NewLocalRelation(schema, [][]arrow.RecordBatch{{b}})
	if err != nil {
		return nil, err
	}
	return newRelation(lr, ""), nil
}

// selectItem is one output column of a SELECT list.
type selectItem struct {
	e    expr.Expr // over the input scope (aggregates not yet replaced)
	name string
	at   int32
	// star items come from * and keep their column's identity.
	col *column
}

// selectCore plans SELECT ... FROM ... WHERE ... GROUP BY ... HAVING ...
// ORDER BY ... LIMIT.
func (p *planner) selectCore(sel *pg.SelectStmt) (*relation, error) {
	if sel.IntoClause != nil {
		return nil, p.errAt(-1, ErrUnsupported, "SELECT INTO is not supported")
	}
	if len(sel.WindowClause) > 0 {
		return nil, p.errAt(-1, ErrUnsupported, "the WINDOW clause (named windows for OVER) is not supported")
	}
	if len(sel.LockingClause) > 0 {
		return nil, p.errAt(-1, ErrUnsupported, "FOR UPDATE/SHARE is not supported")
	}
	// FROM (comma-separated items become inner joins on the WHERE
	// conjuncts that relate them).
	where := conjunctNodes(sel.WhereClause)
	used := make([]bool, len(where))
	var in *relation
	if len(sel.FromClause) == 0 {
		r, err := oneRow()
		if err != nil {
			return nil, p.planErr(-1, err)
		}
		in = r
	}
	for _, item := range sel.FromClause {
		r, err := p.fromItem(item)
		if err != nil {
			return nil, err
		}
		if in == nil {
			in = r
			continue
		}
		if in, err = p.join(in, r, plan.InnerJoin, func(both *relation, nLeft int) (expr.Expr, error) {
			var conds []expr.Expr
			for i, w := range where {
				if used[i] || containsSubLink(w) {
					continue
				}
				e, err := p.expr(w, &exprCtx{scope: both})
				if err != nil {
					continue // refers to a later FROM item (or is wrong: reported below)
				}
				if refersToBoth(e, both, nLeft) {
					conds = append(conds, e)
					used[i] = true
				}
			}
			return expr.AndAll(conds...), nil
		}, location(item)); err != nil {
			return nil, err
		}
	}
	// WHERE: subquery conjuncts become semi/anti joins, the rest a filter.
	var filters []expr.Expr
	var filterAt int32 = -1
	for i, w := range where {
		if used[i] {
			continue
		}
		if sj, ok := asSubqueryPredicate(w); ok {
			r, err := p.subqueryJoin(in, sj)
			if err != nil {
				return nil, err
			}
			in = r
			continue
		}
		e, err := p.expr(w, &exprCtx{scope: in})
		if err != nil {
			return nil, err
		}
		if err := p.checkExpr(e, in, w); err != nil {
			return nil, err
		}
		if t, _ := e.Resolve(in.node.Schema()); t.DataType != nil && t.DataType.ID() != arrow.BOOL && t.DataType.ID() != arrow.NULL {
			return nil, p.errAt(location(w), ErrInvalid, "WHERE condition %s is %s, not boolean", e, t.DataType)
		}
		if filterAt < 0 {
			filterAt = location(w)
		}
		filters = append(filters, e)
	}
	if len(filters) > 0 {
		f, err := plan.NewFilter(in.node, expr.AndAll(filters...))
		if err != nil {
			return nil, p.planErr(filterAt, err)
		}
		in = &relation{node: f, cols: in.cols}
	}
	// SELECT list.
	items, err := p.selectList(sel.TargetList, in)
	if err != nil {
		return nil, err
	}
	hasAgg := len(sel.GroupClause) > 0 || sel.HavingClause != nil
	for _, it := range items {
		if expr.IsAggregate(it.e) {
			hasAgg = true
		}
	}
	var orderItems []*pg.SortBy
	for _, n := range sel.SortClause {
		orderItems = append(orderItems, n.GetSortBy())
	}
	distinct := len(sel.DistinctClause) > 0
	if distinct && sel.DistinctClause[0] != nil && sel.DistinctClause[0].GetNode() != nil {
		return nil, p.errAt(location(sel.DistinctClause[0]), ErrUnsupported, "DISTINCT ON is not supported; use GROUP BY")
	}
	var refs []orderRef
	if !distinct {
		if refs, err = p.orderRefs(orderItems, in, items); err != nil {
			return nil, err
		}
		for _, r := range refs {
			if r.e != nil && expr.IsAggregate(r.e) {
				hasAgg = true
			}
		}
	}
	if !hasAgg {
		for _, it := range items {
			if hasSlidingWindow(it.e) {
				return nil, p.errAt(it.at, ErrInvalid, "a sliding window (window(ts, size, slide), HOP) puts a row in several windows: use it in GROUP BY")
			}
			if hasSessionWindow(it.e) {
				return nil, p.errAt(it.at, ErrInvalid, "a session window depends on the other rows of its group: use session_window(ts, gap) in GROUP BY")
			}
		}
	}
	var pre *relation // the input of the final projection
	var finals []expr.Expr
	var agg *aggregation
	if hasAgg {
		if agg, err = p.aggregate(sel, in, items, refs); err != nil {
			return nil, err
		}
		pre, finals = agg.out, agg.finals
	} else {
		pre = in
		for _, it := range items {
			finals = append(finals, it.e)
		}
	}
	// ORDER BY sorts the projection's input (so it may use any input
	// column), then LIMIT; with DISTINCT both apply to the output.
	if len(orderItems) > 0 && !distinct {
		es, err := p.orderExprs(refs, finals, agg)
		if err != nil {
			return nil, err
		}
		orders := make([]plan.SortOrder, len(es))
		for i, e := range es {
			orders[i] = sortOrder(e, orderItems[i])
		}
		n, err := plan.NewSort(pre.node, orders)
		if err != nil {
			return nil, p.planErr(orderItems[0].Location, err)
		}
		pre = &relation{node: n, cols: pre.cols}
		if pre, err = p.limit(sel, pre); err != nil {
			return nil, err
		}
	}
	out, err := p.project(pre, finals, items)
	if err != nil {
		return nil, err
	}
	if distinct {
		d, err := plan.NewDeduplicate(out.node, nil)
		if err != nil {
			return nil, p.planErr(-1, err)
		}
		return p.orderAndLimit(sel, &relation{node: d, cols: out.cols})
	}
	if len(orderItems) == 0 {
		return p.limit(sel, out)
	}
	return out, nil
}

// project makes the final projection; it is left out when it would
// change nothing.
func (p *planner) project(pre *relation, finals []expr.Expr, items []selectItem) (*relation, error) {
	exprs := make([]expr.Expr, len(finals))
	cols := make([]column, len(finals))
	identity := len(finals) == len(pre.cols)
	for i, e := range finals {
		name := items[i].name
		if expr.Name(e) == name {
			exprs[i] = e
		} else {
			exprs[i] = expr.As(expr.Unalias(e), name)
		}
		if identity {
			c, ok := e.(*expr.Column)
			identity = ok && c.Name == pre.cols[i].internal && c.Name == name
		}
		cols[i] = column{name: name, internal: name}
		if items[i].col != nil {
			cols[i].quals = items[i].col.quals
		}
	}
	if identity {
		out := &relation{node: pre.node, cols: cols}
		return out, nil
	}
	n, err := plan.NewProject(pre.node, exprs)
	if err != nil {
		at := int32(-1)
		if len(items) > 0 {
			at = items[0].at
		}
		return nil, p.planErr(at, err)
	}
	return &relation{node: n, cols: cols}, nil
}

// selectList translates the SELECT list over in, expanding * and t.*.
func (p *planner) selectList(targets []*pgNode, in *relation) ([]selectItem, error) {
	var items []selectItem
	for _, t := range targets {
		rt := t.GetResTarget()
		if rt == nil || rt.Val == nil {
			continue
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
			qual := ""
			if len(cr.Fields) == 2 {
				qual = strings.ToLower(cr.Fields[0].GetString_().GetSval())
				if !slices.Contains(in.quals(), qual) {
					return nil, p.errAt(cr.Location, ErrInvalid, "unknown table or alias %s in %s.*%s (tables in scope: %s)",
						quoteIdent(qual), qual, didYouMean(qual, in.quals()), quoteList(in.quals()))
				}
			} else if len(cr.Fields) > 2 {
				return nil, p.errAt(cr.Location, ErrUnsupported, "qualified names with more than two parts are not supported")
			}
			n := 0
			for i := range in.cols {
				c := &in.cols[i]
				if qual == "" && c.hidden || qual != "" && !slices.Contains(c.quals, qual) {
					continue
				}
				if qual != "" && c.hidden && hasVisibleTwin(in, c) {
					continue
				}
				items = append(items, selectItem{e: expr.Col(c.internal), name: c.name, at: cr.Location, col: c})
				n++
			}
			if n == 0 && len(in.node.Schema().Fields()) > 0 {
				return nil, p.errAt(cr.Location, ErrInvalid, "* selects no columns")
			}
			continue
		}
		if len(rt.Indirection) > 0 {
			return nil, p.errAt(rt.Location, ErrUnsupported, "subscripts and field selection are not supported")
		}
		e, err := p.expr(rt.Val, &exprCtx{scope: in, allowAgg: true})
		if err != nil {
			return nil, err
		}
		if err := p.checkExpr(e, in, rt.Val); err != nil {
			return nil, err
		}
		it := selectItem{e: e, at: rt.Location}
		switch {
		case rt.Name != "":
			it.name = rt.Name
		case rt.Val.GetColumnRef() != nil:
			cr := rt.Val.GetColumnRef()
			c, _ := p.resolveRef(cr, in)
			if c != nil {
				it.name, it.col = c.name, c
			}
		}
		if it.name == "" {
			it.name = p.autoName(rt.Val, e)
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil, p.errAt(-1, ErrInvalid, "the SELECT list is empty")
	}
	return items, nil
}

// hasVisibleTwin reports whether a hidden USING copy has a merged visible
// column (so t.* shows the merged one instead).
func hasVisibleTwin(in *relation, c *column) bool {
	for _, o := range in.cols {
		if !o.hidden && strings.EqualFold(o.name, c.name) {
			for _, q := range c.quals {
				if slices.Contains(o.quals, q) {
					return true
				}
			}
		}
	}
	return false
}

// autoName names an unaliased output expression: a function's name for a
// call (count, sum, ...) as Spark does for simple calls, else the
// expression's text.
func (p *planner) autoName(n *pgNode, e expr.Expr) string {
	return expr.Name(e)
}

// resolveRef resolves a column reference in scope r.
func (p *planner) resolveRef(cr *pg.ColumnRef, r *relation) (*column, error) {
	var parts []string
	for _, f := range cr.Fields {
		s := f.GetString_()
		if s == nil {
			return nil, p.errAt(cr.Location, ErrUnsupported, "* is only allowed in the SELECT list and count(*)")
		}
		parts = append(parts, s.Sval)
	}
	qual, name := "", ""
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		qual, name = parts[0], parts[1]
	default:
		return nil, p.errAt(cr.Location, ErrUnsupported, "qualified names with more than two parts (%s) are not supported", strings.Join(parts, "."))
	}
	c, lerr := r.lookup(qual, name)
	if lerr != nil {
		msg := lerr.msg
		if p.quotedAt(cr.Location) && qual == "" {
			msg += "; note that double quotes name columns: write string constants in single quotes ('text')"
		}
		width := len(name)
		if qual != "" {
			width = len(qual) + 1 + len(name)
		}
		e := errAt(p.text, int(cr.Location), width, lerr.cause, "%s", msg)
		return nil, e
	}
	return c, nil
}

func (p *planner) quotedAt(off int32) bool {
	return off >= 0 && int(off) < len(p.text) && p.text[off] == '"'
}

// fromItem plans one item of a FROM clause.
func (p *planner) fromItem(n *pgNode) (*relation, error) {
	if err := p.ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case n.GetRangeVar() != nil:
		return p.table(n.GetRangeVar())
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		if rs.Lateral {
			return nil, p.errAt(firstLocation(rs.Subquery.GetSelectStmt()), ErrUnsupported, "LATERAL subqueries are not supported")
		}
		r, err := p.query(rs.Subquery.GetSelectStmt(), nil)
		if err != nil {
			return nil, err
		}
		return p.alias(r, rs.Alias, "", firstLocation(rs.Subquery.GetSelectStmt()))
	case n.GetJoinExpr() != nil:
		return p.joinExpr(n.GetJoinExpr())
	case n.GetRangeFunction() != nil:
		rf := n.GetRangeFunction()
		at := firstLocationOf(n)
		name := "a function"
		if len(rf.Functions) > 0 {
			if l := rf.Functions[0].GetList(); l != nil && len(l.Items) > 0 {
				if fc := l.Items[0].GetFuncCall(); fc != nil {
					name = funcName(fc)
				}
			}
		}
		switch name {
		case "tumble", "hop", "session", "cumulate":
			return nil, p.errAt(at, ErrUnsupported, "%s(...) in FROM (a windowing table function) is not supported yet: package expr has no time-window expression; group by window(ts, '10 seconds') once it does", strings.ToUpper(name))
		}
		return nil, p.errAt(at, ErrUnsupported, "table functions in FROM (%s) are not supported", name)
	}
	return nil, p.errAt(firstLocationOf(n), ErrUnsupported, "this FROM item is not supported")
}

// table resolves a table name: a common table expression, else the
// catalog.
func (p *planner) table(rv *pg.RangeVar) (*relation, error) {
	if rv.Schemaname != "" || rv.Catalogname != "" {
		return nil, p.errAt(rv.Location, ErrUnsupported, "schema-qualified table names (%s.%s) are not supported", rv.Schemaname, rv.Relname)
	}
	name := rv.Relname
	var r *relation
	for i := len(p.ctes) - 1; i >= 0 && r == nil; i-- {
		r = p.ctes[i][strings.ToLower(name)]
	}
	if r == nil {
		n, ok := p.cat.Table(name)
		if !ok || n == nil {
			names := p.cat.TableNames()
			for _, f := range p.ctes {
				for k := range f {
					names = append(names, k)
				}
			}
			slices.Sort(names)
			return nil, p.errAt(rv.Location, ErrNoSuchTable, "unknown table %s%s (tables: %s)", quoteIdent(name), didYouMean(name, names), quoteList(names))
		}
		r = newRelation(n, "")
	}
	return p.alias(r, rv.Alias, name, rv.Location)
}

// alias qualifies r's columns with the alias (or the table name), and
// renames them by the alias's column list.
func (p *planner) alias(r *relation, a *pg.Alias, name string, at int32) (*relation, error) {
	if a != nil && len(a.Colnames) > 0 {
		var err error
		if r, err = p.renameColumns(r, a.Colnames, a.Aliasname, at); err != nil {
			return nil, err
		}
	}
	q := name
	if a != nil && a.Aliasname != "" {
		q = a.Aliasname
	}
	return r.requalify(q), nil
}

// joinExpr plans a JOIN ... ON / USING / NATURAL JOIN.
func (p *planner) joinExpr(j *pg.JoinExpr) (*relation, error) {
	l, err := p.fromItem(j.Larg)
	if err != nil {
		return nil, err
	}
	r, err := p.fromItem(j.Rarg)
	if err != nil {
		return nil, err
	}
	at := firstLocationOf(j.Rarg)
	var jt plan.JoinType
	switch j.Jointype {
	case pg.JoinType_JOIN_INNER:
		jt = plan.InnerJoin
	case pg.JoinType_JOIN_LEFT:
		jt = plan.LeftOuterJoin
		if st, ok := p.semiJoinAt(j); ok {
			jt = st
		}
	case pg.JoinType_JOIN_RIGHT:
		jt = plan.RightOuterJoin
	case pg.JoinType_JOIN_FULL:
		jt = plan.FullOuterJoin
	default:
		return nil, p.errAt(at, ErrUnsupported, "join type %s is not supported", j.Jointype)
	}
	if j.IsNatural {
		return nil, p.errAt(at, ErrUnsupported, "NATURAL JOIN is not supported; use JOIN ... USING (columns)")
	}
	var out *relation
	if len(j.UsingClause) > 0 {
		out, err = p.joinUsing(l, r, jt, j.UsingClause, at)
	} else {
		out, err = p.join(l, r, jt, func(both *relation, _ int) (expr.Expr, error) {
			if j.Quals == nil {
				return nil, nil
			}
			if containsSubLink(j.Quals) {
				return nil, p.errAt(location(j.Quals), ErrUnsupported, "subqueries in ON conditions are not supported")
			}
			return p.expr(j.Quals, &exprCtx{scope: both})
		}, at)
	}
	if err != nil {
		return nil, err
	}
	if j.Alias != nil {
		return p.alias(out, j.Alias, "", at)
	}
	return out, nil
}

// join joins l and r; cond translates the join condition over the
// combined scope. Columns whose names clash are renamed (qualifier.name)
// so that every column of the joined plan has its own name.
func (p *planner) join(l, r *relation, jt plan.JoinType, cond func(both *relation, nLeft int) (expr.Expr, error), at int32) (*relation, error) {
	l2, r2, err := p.disambiguate(l, r, at)
	if err != nil {
		return nil, err
	}
	both := &relation{cols: append(slices.Clone(l2.cols), r2.cols...)}
	c, err := cond(both, len(l2.cols))
	if err != nil {
		return nil, err
	}
	jn, err := plan.NewJoin(l2.node, r2.node, jt, c)
	if err != nil {
		return nil, p.planErr(at, err)
	}
	out := &relation{node: jn, cols: both.cols}
	if jt == plan.LeftSemiJoin || jt == plan.LeftAntiJoin {
		out.cols = l2.cols
	}
	return out, nil
}

// disambiguate renames the columns of l and r whose names appear on both
// sides.
func (p *planner) disambiguate(l, r *relation, at int32) (*relation, *relation, error) {
	ln := map[string]bool{}
	for _, c := range l.cols {
		ln[c.internal] = true
	}
	clash := map[string]bool{}
	for _, c := range r.cols {
		if ln[c.internal] {
			clash[c.internal] = true
		}
	}
	if len(clash) == 0 {
		return l, r, nil
	}
	used := map[string]bool{}
	for _, c := range l.cols {
		used[c.internal] = true
	}
	for _, c := range r.cols {
		used[c.internal] = true
	}
	rename := func(rel *relation, side string) (*relation, error) {
		out := &relation{cols: slices.Clone(rel.cols)}
		exprs := make([]expr.Expr, len(rel.cols))
		changed := false
		for i, c := range rel.cols {
			exprs[i] = expr.Col(c.internal)
			if !clash[c.internal] {
				continue
			}
			q := side
			if len(c.quals) > 0 {
				q = c.quals[0]
			}
			nn := uniqueName(q+"."+c.name, used)
			exprs[i] = expr.As(expr.Col(c.internal), nn)
			out.cols[i].internal = nn
			changed = true
		}
		if !changed {
			out.node = rel.node
			return out, nil
		}
		n, err := plan.NewProject(rel.node, exprs)
		if err != nil {
			return nil, p.planErr(at, err)
		}
		out.node = n
		return out, nil
	}
	l2, err := rename(l, "left")
	if err != nil {
		return nil, nil, err
	}
	r2, err := rename(r, "right")
	if err != nil {
		return nil, nil, err
	}
	return l2, r2, nil
}

// joinUsing plans JOIN ... USING (a, b): equal keys, and one merged
// output column per key, first (Spark and PostgreSQL order).
func (p *planner) joinUsing(l, r *relation, jt plan.JoinType, using []*pgNode, at int32) (*relation, error) {
	type pair struct{ name, li, ri string }
	var pairs []pair
	for _, u := range using {
		name := u.GetString_().GetSval()
		lc, lerr := l.lookup("", name)
		if lerr != nil {
			return nil, p.errAt(at, lerr.cause, "USING column %s: left side: %s", quoteIdent(name), lerr.msg)
		}
		rc, rerr := r.lookup("", name)
		if rerr != nil {
			return nil, p.errAt(at, rerr.cause, "USING column %s: right side: %s", quoteIdent(name), rerr.msg)
		}
		pairs = append(pairs, pair{name: lc.name, li: lc.internal, ri: rc.internal})
	}
	l2, r2, err := p.disambiguate(l, r, at)
	if err != nil {
		return nil, err
	}
	// Map the old internal names to the disambiguated ones.
	for i := range pairs {
		for j, c := range l.cols {
			if c.internal == pairs[i].li {
				pairs[i].li = l2.cols[j].internal
			}
		}
		for j, c := range r.cols {
			if c.internal == pairs[i].ri {
				pairs[i].ri = r2.cols[j].internal
			}
		}
	}
	var lk, rk []expr.Expr
	for _, pr := range pairs {
		lk = append(lk, expr.Col(pr.li))
		rk = append(rk, expr.Col(pr.ri))
	}
	jn, err := plan.NewEquiJoin(l2.node, r2.node, jt, lk, rk, nil)
	if err != nil {
		return nil, p.planErr(at, err)
	}
	if jt == plan.LeftSemiJoin || jt == plan.LeftAntiJoin {
		return &relation{node: jn, cols: l2.cols}, nil
	}
	var exprs []expr.Expr
	var cols []column
	used := map[string]bool{}
	for _, c := range l2.cols {
		used[c.internal] = true
	}
	for _, c := range r2.cols {
		used[c.internal] = true
	}
	isKey := map[string]bool{}
	for _, pr := range pairs {
		isKey[pr.li], isKey[pr.ri] = true, true
		quals := append(slices.Clone(colByInternal(l2, pr.li).quals), colByInternal(r2, pr.ri).quals...)
		var e expr.Expr
		internal := pr.li
		switch jt {
		case plan.RightOuterJoin:
			e, internal = expr.Col(pr.ri), pr.ri
		case plan.FullOuterJoin:
			internal = uniqueName(pr.name, used)
			e = expr.As(expr.NewCoalesce(expr.Col(pr.li), expr.Col(pr.ri)), internal)
		default:
			e = expr.Col(pr.li)
		}
		exprs = append(exprs, e)
		cols = append(cols, column{quals: quals, name: pr.name, internal: internal})
	}
	var hidden []column
	for _, side := range []*relation{l2, r2} {
		for _, c := range side.cols {
			if isKey[c.internal] {
				if !slices.ContainsFunc(cols, func(o column) bool { return o.internal == c.internal }) {
					hc := c
					hc.hidden = true
					hidden = append(hidden, hc)
				}
				continue
			}
			exprs = append(exprs, expr.Col(c.internal))
			cols = append(cols, c)
		}
	}
	for _, c := range hidden {
		exprs = append(exprs, expr.Col(c.internal))
		cols = append(cols, c)
	}
	n, err := plan.NewProject(jn, exprs)
	if err != nil {
		return nil, p.planErr(at, err)
	}
	return &relation{node: n, cols: cols}, nil
}

func colByInternal(r *relation, internal string) *column {
	for i := range r.cols {
		if r.cols[i].internal == internal {
			return &r.cols[i]
		}
	}
	return &column{}
}

// refersToBoth reports whether e uses columns of both sides of a join
// scope whose first nLeft columns are the left side's.
func refersToBoth(e expr.Expr, both *relation, nLeft int) bool {
	var inL, inR bool
	for _, name := range expr.Columns(e) {
		isLeft := false
		for _, c := range both.cols[:nLeft] {
			if c.internal == name {
				isLeft = true
			}
		}
		if isLeft {
			inL = true
		} else {
			inR = true
		}
	}
	return inL && inR
}
