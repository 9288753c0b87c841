package sql

import (
	"slices"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// semiJoinAt returns the join type of a LEFT JOIN that was written as
// Spark's LEFT SEMI JOIN or LEFT ANTI JOIN: the one whose JOIN keyword
// lies between its two operands.
func (p *planner) semiJoinAt(j *pg.JoinExpr) (plan.JoinType, bool) {
	if len(p.semiJoins) == 0 {
		return 0, false
	}
	_, lhi := minMaxLocation(j.Larg)
	rlo, _ := minMaxLocation(j.Rarg)
	for off, jt := range p.semiJoins {
		if int32(off) > lhi && (rlo < 0 || int32(off) < rlo) {
			return jt, true
		}
	}
	return 0, false
}

// subqueryJoin plans a WHERE conjunct [NOT] EXISTS (SELECT ...) or
// x IN (SELECT y ...) as a left semi (anti) join of in with the subquery.
func (p *planner) subqueryJoin(in *relation, sp subqueryPredicate) (*relation, error) {
	sub := sp.link.Subselect.GetSelectStmt()
	at := sp.link.Location
	jt := plan.LeftSemiJoin
	if sp.not {
		jt = plan.LeftAntiJoin
	}
	if sp.link.SubLinkType == pg.SubLinkType_ANY_SUBLINK {
		if sp.not {
			return nil, p.errAt(at, ErrUnsupported, "NOT IN (subquery) is not supported (a null on either side makes it unknown); use NOT EXISTS (SELECT ... WHERE ...)")
		}
		r, err := p.query(sub, nil)
		if err != nil {
			return nil, err
		}
		if len(r.cols) != 1 {
			return nil, p.errAt(at, ErrInvalid, "the subquery of IN returns %d columns; it must return one", len(r.cols))
		}
		r = r.requalify("subquery")
		return p.join(in, r, jt, func(both *relation, nLeft int) (expr.Expr, error) {
			// Unqualified names refer to the outer query here.
			sc := hideCols(both, nLeft, len(both.cols))
			l, err := p.expr(sp.link.Testexpr, &exprCtx{scope: sc})
			if err != nil {
				return nil, err
			}
			return expr.Eq(l, expr.Col(both.cols[nLeft].internal)), nil
		}, at)
	}
	// EXISTS: the subquery's FROM and its WHERE conjuncts that refer to
	// its own columns only are planned inside; the conjuncts that refer
	// to the outer query become the join condition.
	if sub.Op != pg.SetOperation_SETOP_NONE || len(sub.GroupClause) > 0 || sub.HavingClause != nil ||
		sub.WithClause != nil || len(sub.FromClause) == 0 || sub.LimitCount != nil {
		return nil, p.errAt(at, ErrUnsupported, "EXISTS takes a plain SELECT ... FROM ... [WHERE ...] (no GROUP BY, HAVING, LIMIT, WITH or set operations)")
	}
	var r *relation
	for _, item := range sub.FromClause {
		fr, err := p.fromItem(item)
		if err != nil {
			return nil, err
		}
		if r == nil {
			r = fr
			continue
		}
		if r, err = p.join(r, fr, plan.InnerJoin, func(*relation, int) (expr.Expr, error) { return nil, nil }, location(item)); err != nil {
			return nil, err
		}
	}
	var inner []expr.Expr
	var correlated []*pgNode
	for _, w := range conjunctNodes(sub.WhereClause) {
		if containsSubLink(w) {
			return nil, p.errAt(location(w), ErrUnsupported, "nested subqueries are not supported")
		}
		e, err := p.expr(w, &exprCtx{scope: r})
		if err != nil {
			correlated = append(correlated, w)
			continue
		}
		inner = append(inner, e)
	}
	if len(inner) > 0 {
		f, err := plan.NewFilter(r.node, expr.AndAll(inner...))
		if err != nil {
			return nil, p.planErr(at, err)
		}
		r = &relation{node: f, cols: r.cols}
	}
	return p.join(in, r, jt, func(both *relation, nLeft int) (expr.Expr, error) {
		// Unqualified names refer to the subquery first, then outside.
		sc := hideCols(both, 0, nLeft)
		var conds []expr.Expr
		for _, w := range correlated {
			e, err := p.expr(w, &exprCtx{scope: sc})
			if err != nil {
				return nil, err
			}
			conds = append(conds, e)
		}
		return expr.AndAll(conds...), nil
	}, at)
}

// hideCols returns a copy of r whose columns [from, to) are hidden.
func hideCols(r *relation, from, to int) *relation {
	out := &relation{node: r.node, cols: slices.Clone(r.cols)}
	for i := from; i < to; i++ {
		out.cols[i].hidden = true
	}
	return out
}
