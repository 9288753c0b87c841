package sql

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// aggregation is the planned GROUP BY / HAVING of a SELECT.
type aggregation struct {
	// out is the aggregate (and HAVING filter) the final projection reads.
	out *relation
	// finals are the SELECT items over out.
	finals []expr.Expr
	// groupCols maps a grouping expression's text to its output column.
	groupCols map[string]string
	// aggCols maps an aggregate call's text to its output column.
	aggCols map[string]string
	// in is the input scope (for messages).
	in *relation
}

// orderRef is an ORDER BY item before aggregation: a SELECT item (by
// position or output name) or an expression over the input.
type orderRef struct {
	item int // index into the SELECT items, or -1
	e    expr.Expr
}

// orderRefs resolves ORDER BY items: positions and output names first
// (as PostgreSQL), else expressions over in.
func (p *planner) orderRefs(sorts []*pg.SortBy, in *relation, items []selectItem) ([]orderRef, error) {
	refs := make([]orderRef, len(sorts))
	for i, sb := range sorts {
		refs[i].item = -1
		if pos, ok := intConst(sb.Node); ok {
			if pos < 1 || int(pos) > len(items) {
				return nil, p.errAt(location(sb.Node), ErrInvalid, "ORDER BY position %d is not in the select list (1 to %d)", pos, len(items))
			}
			refs[i].item = int(pos - 1)
			continue
		}
		if cr := sb.Node.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
			name := cr.Fields[0].GetString_().GetSval()
			match := -1
			for j, it := range items {
				if strings.EqualFold(it.name, name) {
					if match >= 0 {
						match = -2
						break
					}
					match = j
				}
			}
			if match >= 0 {
				refs[i].item = match
				continue
			}
		}
		e, err := p.expr(sb.Node, &exprCtx{scope: in, allowAgg: true, aliases: aliasMap(items)})
		if err != nil {
			return nil, err
		}
		refs[i].e = e
	}
	return refs, nil
}

// aggregate plans GROUP BY, the aggregate calls of the SELECT list, HAVING
// and ORDER BY, and HAVING's filter.
func (p *planner) aggregate(sel *pg.SelectStmt, in *relation, items []selectItem, orders []orderRef) (*aggregation, error) {
	a := &aggregation{groupCols: map[string]string{}, aggCols: map[string]string{}, in: in}
	used := map[string]bool{}
	var groups []expr.Expr
	for _, g := range sel.GroupClause {
		if g.GetGroupingSet() != nil {
			return nil, p.errAt(location(g), ErrUnsupported, "GROUPING SETS, ROLLUP and CUBE are not supported")
		}
		var e expr.Expr
		if pos, ok := intConst(g); ok {
			if pos < 1 || int(pos) > len(items) {
				return nil, p.errAt(location(g), ErrInvalid, "GROUP BY position %d is not in the select list (1 to %d)", pos, len(items))
			}
			e = expr.Unalias(items[pos-1].e)
		} else {
			var err error
			e, err = p.expr(g, &exprCtx{scope: in})
			if err != nil {
				// GROUP BY an output alias (Spark allows it) when no input
				// column has that name.
				if cr := g.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
					for _, it := range items {
						if strings.EqualFold(it.name, cr.Fields[0].GetString_().GetSval()) {
							e, err = expr.Unalias(it.e), nil
							break
						}
					}
				}
				if err != nil {
					return nil, err
				}
			}
		}
		if expr.IsAggregate(e) {
			return nil, p.errAt(location(g), ErrInvalid, "cannot GROUP BY an aggregate (%s)", e)
		}
		key := e.String()
		if _, dup := a.groupCols[key]; dup {
			continue
		}
		name := uniqueName(expr.Name(e), used)
		if name != expr.Name(e) {
			e = expr.As(e, name)
		}
		a.groupCols[key] = name
		groups = append(groups, e)
	}
	var aggs []expr.Expr
	var collect func(e expr.Expr, at int32) error
	collect = func(e expr.Expr, at int32) error {
		ag, ok := e.(*expr.AggExpr)
		if !ok {
			for _, c := range e.Children() {
				if err := collect(c, at); err != nil {
					return err
				}
			}
			return nil
		}
		for _, c := range ag.Children() {
			if expr.IsAggregate(c) {
				return p.errAt(at, ErrInvalid, "aggregate functions cannot be nested (%s)", ag)
			}
		}
		key := ag.String()
		if _, ok := a.aggCols[key]; !ok {
			name := uniqueName(key, used)
			a.aggCols[key] = name
			var ae expr.Expr = ag
			if name != expr.Name(ag) {
				ae = expr.As(ag, name)
			}
			aggs = append(aggs, ae)
		}
		return nil
	}
	for _, it := range items {
		if err := collect(it.e, it.at); err != nil {
			return nil, err
		}
	}
	var having expr.Expr
	if sel.HavingClause != nil {
		if containsSubLink(sel.HavingClause) {
			return nil, p.errAt(location(sel.HavingClause), ErrUnsupported, "subqueries in HAVING are not supported")
		}
		var err error
		having, err = p.expr(sel.HavingClause, &exprCtx{scope: in, allowAgg: true, aliases: aliasMap(items)})
		if err != nil {
			return nil, err
		}
		if err := collect(having, location(sel.HavingClause)); err != nil {
			return nil, err
		}
	}
	for _, o := range orders {
		if o.e != nil {
			if err := collect(o.e, -1); err != nil {
				return nil, err
			}
		}
	}
	at := int32(-1)
	if len(sel.GroupClause) > 0 {
		at = location(sel.GroupClause[0])
	}
	input := in.node
	var session *sessionWindow
	for _, g := range groups {
		w, ok := expr.Unalias(g).(*sessionWindow)
		switch {
		case !ok:
		case w.end:
			return nil, p.errAt(at, ErrInvalid, "GROUP BY %s: group by session_window(%s, %v) and select session_end(%s, %v) for the end of the session", w, w.ts, w.gap, w.ts, w.gap)
		case session != nil:
			return nil, p.errAt(at, ErrUnsupported, "GROUP BY takes at most one session window")
		default:
			session = w
		}
	}
	if session != nil {
		for _, g := range groups {
			if hasSlidingWindow(g) {
				return nil, p.errAt(at, ErrUnsupported, "GROUP BY takes at most one sliding or session window")
			}
		}
		end := &sessionWindow{ts: session.ts, gap: session.gap, end: true}
		endName := uniqueName(expr.Name(end), used)
		a.groupCols[end.String()] = endName
		merged, sessionGroups, err := sessionInput(in.node, session, groups)
		if err != nil {
			return nil, p.planErr(at, err)
		}
		input, groups = merged, append(sessionGroups, expr.As(expr.Col(sessionEndColumn), endName))
	}
	for i, g := range groups {
		w, ok := expr.Unalias(g).(*slidingWindow)
		if !ok {
			continue
		}
		if input != in.node {
			return nil, p.errAt(at, ErrUnsupported, "GROUP BY takes at most one sliding or session window")
		}
		expanded, err := plan.ExpandWindows(in.node, w.ts, w.size, w.slide, windowStartColumn, windowEndColumn)
		if err != nil {
			return nil, p.planErr(at, err)
		}
		input = expanded
		groups[i] = expr.As(expr.Col(windowStartColumn), expr.Name(g))
		groups = append(groups, expr.Col(windowEndColumn)) // not selected; see windowEndColumn
	}
	an, err := plan.NewAggregate(input, groups, aggs)
	if err != nil {
		return nil, p.planErr(at, err)
	}
	a.out = newRelation(an, "")
	for _, it := range items {
		f, err := p.rewriteAgg(a, it.e, it.at)
		if err != nil {
			return nil, err
		}
		a.finals = append(a.finals, f)
	}
	if having != nil {
		h, err := p.rewriteAgg(a, having, location(sel.HavingClause))
		if err != nil {
			return nil, err
		}
		f, err := plan.NewFilter(a.out.node, h)
		if err != nil {
			return nil, p.planErr(location(sel.HavingClause), err)
		}
		a.out = &relation{node: f, cols: a.out.cols}
	}
	return a, nil
}

// rewriteAgg rewrites an expression over the aggregation's input into one
// over its output: grouping expressions and aggregate calls become their
// output columns; any other column is an error.
func (p *planner) rewriteAgg(a *aggregation, e expr.Expr, at int32) (expr.Expr, error) {
	if ag, ok := e.(*expr.AggExpr); ok {
		return expr.Col(a.aggCols[ag.String()]), nil
	}
	if _, ok := e.(*expr.Alias); !ok {
		if name, ok := a.groupCols[e.String()]; ok {
			return expr.Col(name), nil
		}
	}
	if c, ok := e.(*expr.Column); ok {
		name := c.Name
		for _, col := range a.in.cols {
			if col.internal == c.Name {
				name = col.name
			}
		}
		return nil, p.errAt(at, ErrInvalid, "column %s must appear in GROUP BY or be used in an aggregate function", quoteIdent(name))
	}
	kids := e.Children()
	if len(kids) == 0 {
		return e, nil
	}
	nk := make([]expr.Expr, len(kids))
	for i, k := range kids {
		r, err := p.rewriteAgg(a, k, at)
		if err != nil {
			return nil, err
		}
		nk[i] = r
	}
	return e.WithChildren(nk)
}

// orderExprs turns ORDER BY references into expressions over the
// projection's input (finals are the SELECT items over it).
func (p *planner) orderExprs(refs []orderRef, finals []expr.Expr, a *aggregation) ([]expr.Expr, error) {
	out := make([]expr.Expr, len(refs))
	for i, r := range refs {
		if r.item >= 0 {
			out[i] = expr.Unalias(finals[r.item])
			continue
		}
		if a == nil {
			out[i] = r.e
			continue
		}
		e, err := p.rewriteAgg(a, r.e, -1)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// aliasMap maps the lower-case output names of the SELECT items that are
// aliases (not plain columns) to their expressions; a name used twice maps
// to nil.
func aliasMap(items []selectItem) map[string]expr.Expr {
	m := map[string]expr.Expr{}
	for _, it := range items {
		if it.col != nil {
			continue
		}
		k := strings.ToLower(it.name)
		if _, dup := m[k]; dup {
			m[k] = nil
			continue
		}
		m[k] = expr.Unalias(it.e)
	}
	return m
}
