package exec

import (
	"fmt"

	"github.com/spate-io/spate/plan"
)

// RowEstimator is implemented by plan sources that know (roughly) how
// many rows they hold. The planner uses it to choose broadcast joins;
// sources without it are never broadcast.
type RowEstimator interface {
	EstimatedRows() (int64, bool)
}

// Plan turns an (optimized) logical plan into a physical plan for one
// execution. Each call makes fresh shuffles, owned by c.
func Plan(c *Context, n plan.Node) (Operator, error) {
	switch n := n.(type) {
	case *plan.LocalRelation:
		return newLocalScan(c, n), nil
	case *plan.Scan:
		return newScan(c, n), nil
	case *plan.Filter:
		child, err := Plan(c, n.Child)
		if err != nil {
			return nil, err
		}
		return newFilterProject(c, child, n.Cond, nil, n.Schema()), nil
	case *plan.Project:
		if f, ok := n.Child.(*plan.Filter); ok {
			child, err := Plan(c, f.Child)
			if err != nil {
				return nil, err
			}
			return newFilterProject(c, child, f.Cond, n.Exprs, n.Schema()), nil
		}
		child, err := Plan(c, n.Child)
		if err != nil {
			return nil, err
		}
		return newFilterProject(c, child, nil, n.Exprs, n.Schema()), nil
	case *plan.Aggregate:
		child, err := Plan(c, n.Child)
		if err != nil {
			return nil, err
		}
		return newHashAggregate(c, child, n.Groups, n.Aggs, n.Schema())
	case *plan.Observe:
		child, err := Plan(c, n.Child)
		if err != nil {
			return nil, err
		}
		return newObserve(c, child, n), nil
	case *plan.MergeSessions:
		child, err := Plan(c, n.Child)
		if err != nil {
			return nil, err
		}
		return newMergeSessions(c, child, n)
	case *plan.Sort:
		child, err := Plan(c, n.Child)
		if err != nil {
			return nil, err
		}
		return newSort(c, child, n.Orders, -1)
	case *plan.Limit:
		if s, ok := n.Child.(*plan.Sort); ok {
			child, err := Plan(c, s.Child)
			if err != nil {
				return nil, err
			}
			return newSort(c, child, s.Orders, n.N)
		}
		child, err := Plan(c, n.Child)
		if err != nil {
			return nil, err
		}
		return newLimit(c, child, n.N)
	case *plan.BroadcastHint:
		return Plan(c, n.Child)
	case *plan.SubqueryAlias:
		child, err := Plan(c, n.Child)
		if err != nil {
			return nil, err
		}
		return newAlias(c, child, n), nil
	case *plan.Union:
		ins := make([]Operator, len(n.Inputs))
		for i, in := range n.Inputs {
			op, err := Plan(c, in)
			if err != nil {
				return nil, err
			}
			ins[i] = op
		}
		return newUnion(c, ins, n.Schema()), nil
	case *plan.Deduplicate:
		child, err := Plan(c, n.Child)
		if err != nil {
			return nil, err
		}
		return newDedup(c, child, n.KeyNames())
	case *plan.SetOp:
		left, err := Plan(c, n.Left)
		if err != nil {
			return nil, err
		}
		right, err := Plan(c, n.Right)
		if err != nil {
			return nil, err
		}
		return newSetOp(c, left, right, n)
	case *plan.Join:
		left, err := Plan(c, n.Left)
		if err != nil {
			return nil, err
		}
		right, err := Plan(c, n.Right)
		if err != nil {
			return nil, err
		}
		broadcast := false
		switch n.Type {
		case plan.InnerJoin, plan.LeftOuterJoin, plan.LeftSemiJoin, plan.LeftAntiJoin:
			if rows, ok := EstimateRows(n.Right); ok && c.BroadcastRowThreshold > 0 && rows <= c.BroadcastRowThreshold {
				broadcast = true
			}
			if hinted(n.Right) {
				broadcast = true
			}
		}
		return newHashJoin(c, left, right, n, broadcast)
	}
	return nil, fmt.Errorf("exec: no physical operator for %T (%s)", n, n)
}

// EstimateRows returns an upper bound of the rows n produces, when known.
func EstimateRows(n plan.Node) (int64, bool) {
	switch n := n.(type) {
	case *plan.LocalRelation:
		return n.NumRows(), true
	case *plan.Scan:
		if e, ok := n.Source.(RowEstimator); ok {
			return e.EstimatedRows()
		}
		return 0, false
	case *plan.Limit:
		if r, ok := EstimateRows(n.Child); ok {
			return min(r, n.N), true
		}
		return n.N, true
	case *plan.Filter, *plan.Project, *plan.Sort, *plan.Aggregate, *plan.Deduplicate, *plan.SubqueryAlias, *plan.Observe, *plan.MergeSessions:
		return EstimateRows(n.Children()[0])
	case *plan.SetOp:
		// Both operations return at most the left side's rows.
		return EstimateRows(n.Left)
	case *plan.Union:
		var sum int64
		for _, in := range n.Inputs {
			r, ok := EstimateRows(in)
			if !ok {
				return 0, false
			}
			sum += r
		}
		return sum, true
	}
	return 0, false
}

// hinted reports whether n carries a broadcast hint (under filters,
// projections and aliases that keep it small).
func hinted(n plan.Node) bool {
	switch n := n.(type) {
	case *plan.BroadcastHint:
		return true
	case *plan.Filter, *plan.Project, *plan.SubqueryAlias:
		return hinted(n.Children()[0])
	}
	return false
}
