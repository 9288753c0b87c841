package streaming

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// stateFilesKept is how many batches' aggregation state files are kept.
const stateFilesKept = 10

// streamingAgg runs an aggregation over a stream incrementally. Its state
// is the partial aggregates of every group seen so far (count, sum, min,
// max; avg as sum and count), an Arrow table versioned by batch id: batch
// N aggregates its own rows into partials, merges them with state N-1
// into state N (written to the checkpoint before the batch commits), and
// outputs the final values of every group (complete mode) or of the
// groups the batch touched (update mode).
type streamingAgg struct {
	// node stands for the aggregation's output in the query's plan; input
	// is its child, optimized on its own (so that it keeps the event-time
	// column the aggregation needs).
	node       *aggOutput
	input      plan.Node
	st         tableState // the partial aggregates of every group
	groupNames []string
	partial    []expr.Expr // the batch's partial aggregates, named
	merge      []expr.Expr // partials of the union of state and batch
	final      []expr.Expr // the aggregation's output, from the partials
	mode       OutputMode
	// partialGroups are the grouping expressions named as the
	// aggregation's output names them.
	partialGroups []expr.Expr

	// With a watermark: the event-time column and the delay; evictCol is
	// the output column compared with the watermark to finish a group
	// (window_end, or the event time itself when grouped by it), "" when
	// groups never finish.
	watermark  *Watermark
	evictCol   string
	evictShift time.Duration // a group ends evictShift after evictCol's value
	dropped    int64         // rows of the last batch dropped as late

	// session is set for an aggregation over session windows (its input
	// is a MergeSessions): the partial aggregates of the batch (one per
	// event time and key) and the sessions in the state are merged into
	// sessions again before the merge aggregation. sessionOut is the
	// same merge over the aggregation's output columns.
	session    *plan.MergeSessions
	sessionOut *plan.MergeSessions
}

// evMax names the partial aggregate holding a group's latest event time.
const evMax = "__event_time_max"

// aggOutput is the leaf that stands for a streaming aggregation's output
// in the query's plan; each batch replaces it with the batch's rows.
type aggOutput struct{ schema *arrow.Schema }

func (a *aggOutput) Schema() *arrow.Schema                       { return a.schema }
func (a *aggOutput) Children() []plan.Node                       { return nil }
func (a *aggOutput) WithChildren([]plan.Node) (plan.Node, error) { return a, nil }
func (a *aggOutput) String() string                              { return "StreamingAggregate (state)" }

// statefulOp is a stateful operator of a streaming query (an
// aggregation, a deduplication): its output stands in the query's plan as
// a placeholder leaf; each batch it reads its bound input and its state
// and gives the batch's output rows.
type statefulOp interface {
	kind() string
	placeholder() *aggOutput
	inputPlan() plan.Node
	setDir(dir string)
	load(ctx context.Context, id int64, alloc memory.Allocator) error
	// run returns the output relation, its rows (released by the caller
	// once the batch's plan ran), the rows the batch changed in the
	// state, and the watermark after the batch.
	run(ctx context.Context, xc *exec.Context, input plan.Node, id int64, watermark time.Time) (plan.Node, []arrow.RecordBatch, int64, time.Time, error)
	numRows() int64
	close()
}

var (
	_ statefulOp = (*streamingAgg)(nil)
	_ statefulOp = (*streamingDedup)(nil)
)

func (sa *streamingAgg) kind() string            { return "aggregate" }
func (sa *streamingAgg) placeholder() *aggOutput { return sa.node }
func (sa *streamingAgg) inputPlan() plan.Node    { return sa.input }
func (sa *streamingAgg) setDir(dir string)       { sa.st.dir = dir }
func (sa *streamingAgg) numRows() int64          { return sa.st.rows }

func (sa *streamingAgg) load(ctx context.Context, id int64, alloc memory.Allocator) error {
	return sa.st.load(ctx, id, alloc)
}
func (sa *streamingAgg) close() { sa.st.close() }

// splitStateful finds the plan's stateful operator over the stream (an
// aggregation or a deduplication) and returns the plan with it replaced
// by an aggOutput leaf, and the operator; a plan without one comes back
// unchanged with nil.
func splitStateful(p plan.Node) (plan.Node, plan.Node, *aggOutput, error) {
	var ops []plan.Node
	var walk func(n plan.Node)
	walk = func(n plan.Node) {
		switch x := n.(type) {
		case *plan.Aggregate:
			if IsStreaming(x.Child) {
				ops = append(ops, x)
			}
		case *plan.Deduplicate:
			if IsStreaming(x.Child) {
				ops = append(ops, x)
			}
		}
		for _, c := range n.Children() {
			walk(c)
		}
	}
	walk(p)
	switch {
	case len(ops) == 0:
		return p, nil, nil, nil
	case len(ops) > 1:
		return nil, nil, nil, fmt.Errorf("%w: more than one stateful operation (aggregation, deduplication) over a stream is not supported yet", ErrUnsupported)
	}
	ph := &aggOutput{schema: ops[0].Schema()}
	top, err := (&binding{replace: map[plan.Node]plan.Node{ops[0]: ph}}).bind(p)
	return top, ops[0], ph, err
}

// newStreamingAgg prepares the incremental form of the aggregation a,
// whose optimized input is input, rejecting what it cannot do.
func newStreamingAgg(a *plan.Aggregate, ph *aggOutput, input plan.Node, mode OutputMode, dir string) (*streamingAgg, error) {
	sa := &streamingAgg{node: ph, input: input, st: tableState{dir: dir, kind: "aggstate", what: "aggregation state"}, mode: mode, watermark: findWatermark(input)}
	schema := a.Schema()
	partialInput := input
	if ms, ok := input.(*plan.MergeSessions); ok {
		sa.session, partialInput = ms, ms.Child
	}
	if sa.session != nil {
		if err := sa.sessionColumns(a); err != nil {
			return nil, err
		}
	}
	if sa.watermark != nil && sa.session != nil {
		sa.evictCol = sa.sessionOut.End // a session ends at its end
	}
	if sa.watermark != nil && sa.session == nil {
		for j, g := range a.Groups {
			name := schema.Field(j).Name
			if name == "window_end" {
				sa.evictCol, sa.evictShift = name, 0
				break
			}
			if c, ok := g.(*expr.Column); ok && c.Name == sa.watermark.Column {
				sa.evictCol, sa.evictShift = name, 0
			}
			// SQL's tumbling window(ts, size): the window's start; the
			// window ends size later.
			if c, ok := expr.Unalias(g).(*expr.Call); ok && c.Name == "window" && len(c.Params) == 4 {
				size, _ := c.Params[0].(time.Duration)
				back, _ := c.Params[2].(int)
				add, _ := c.Params[3].(time.Duration)
				if back == 0 && add == 0 && size > 0 {
					sa.evictCol, sa.evictShift = name, size
				}
			}
		}
	}
	if mode == Append && sa.evictCol == "" {
		return nil, fmt.Errorf("%w: append output mode with an aggregation needs a watermark (WithWatermark) on the event-time column and a grouping by a Window on it (or by the column), so that a group is written once, when it is final; or use update or complete output mode", ErrUnsupported)
	}
	var groupCols []expr.Expr
	var partialGroups []expr.Expr
	for j, g := range a.Groups {
		name := schema.Field(j).Name
		sa.groupNames = append(sa.groupNames, name)
		partialGroups = append(partialGroups, expr.As(g, name))
		groupCols = append(groupCols, expr.Col(name))
	}
	sa.final = append(sa.final, groupCols...)
	for i, e := range a.Aggs {
		name := schema.Field(len(a.Groups) + i).Name
		inner := e
		if al, ok := e.(*expr.Alias); ok {
			inner = al.Child
		}
		ag, ok := inner.(*expr.AggExpr)
		if !ok {
			return nil, fmt.Errorf("%w: the streaming aggregation output %s is an expression over aggregates; compute it in a Select after the aggregation", ErrUnsupported, e)
		}
		p := func(k string) string { return fmt.Sprintf("__%s_%d", k, i) }
		switch ag.Func {
		case expr.AggCount:
			sa.partial = append(sa.partial, expr.As(expr.Count(ag.Arg), p("count")))
			sa.merge = append(sa.merge, expr.As(expr.Sum(expr.Col(p("count"))), p("count")))
			sa.final = append(sa.final, expr.As(expr.Col(p("count")), name))
		case expr.AggSum, expr.AggMin, expr.AggMax:
			sa.partial = append(sa.partial, expr.As(expr.NewAgg(ag.Func, ag.Arg), p(ag.Func)))
			mergeFn := ag.Func
			sa.merge = append(sa.merge, expr.As(expr.NewAgg(mergeFn, expr.Col(p(ag.Func))), p(ag.Func)))
			sa.final = append(sa.final, expr.As(expr.Col(p(ag.Func)), name))
		case expr.AggAvg:
			sa.partial = append(sa.partial, expr.As(expr.Sum(ag.Arg), p("sum")), expr.As(expr.Count(ag.Arg), p("n")))
			sa.merge = append(sa.merge, expr.As(expr.Sum(expr.Col(p("sum"))), p("sum")), expr.As(expr.Sum(expr.Col(p("n"))), p("n")))
			sa.final = append(sa.final, expr.As(expr.Div(expr.Col(p("sum")), expr.Col(p("n"))), name))
		default:
			return nil, fmt.Errorf("%w: %s in a streaming aggregation is not supported yet; count, sum, min, max and avg are", ErrUnsupported, ag.Func)
		}
	}
	if sa.watermark != nil {
		sa.partial = append(sa.partial, expr.As(expr.Max(expr.Col(sa.watermark.Column)), evMax))
		sa.merge = append(sa.merge, expr.As(expr.Max(expr.Col(evMax)), evMax))
	}
	// Check the rewrite against the schemas now, not at the first batch.
	partial, err := plan.NewAggregate(partialInput, partialGroups, sa.partial)
	if err != nil {
		return nil, fmt.Errorf("streaming aggregation: %w", err)
	}
	mergeInput, err := sa.sessions(partial)
	if err != nil {
		return nil, fmt.Errorf("streaming aggregation: %w", err)
	}
	merged, err := plan.NewAggregate(mergeInput, groupCols, sa.merge)
	if err != nil {
		return nil, fmt.Errorf("streaming aggregation: %w", err)
	}
	if _, err := plan.NewProject(merged, sa.final); err != nil {
		return nil, fmt.Errorf("streaming aggregation: %w", err)
	}
	sa.partialGroups = partialGroups
	sa.st.schema = merged.Schema()
	return sa, nil
}

// run computes batch id's output rows of the aggregation from its bound
// input (late rows already dropped) and the state, and makes the new state
// current (written to the checkpoint). watermark is the batch's watermark
// (zero: none yet). It returns the output as a relation, its rows (to
// release once the batch's plan ran), the number of groups the batch
// updated, and the watermark after the batch.
func (sa *streamingAgg) run(ctx context.Context, xc *exec.Context, input plan.Node, id int64, watermark time.Time) (plan.Node, []arrow.RecordBatch, int64, time.Time, error) {
	collect := func(p plan.Node, what string) ([]arrow.RecordBatch, error) {
		op, err := exec.Plan(xc, p)
		if err != nil {
			return nil, err
		}
		return xc.Collect(ctx, op, what)
	}
	if ms, ok := input.(*plan.MergeSessions); ok && sa.session != nil {
		input = ms.Child
	}
	partialPlan, err := plan.NewAggregate(input, sa.partialGroups, sa.partial)
	if err != nil {
		return nil, nil, 0, watermark, err
	}
	partial, err := collect(partialPlan, "streaming aggregation: partial")
	if err != nil {
		return nil, nil, 0, watermark, err
	}
	defer releaseAll(partial)
	var updated int64
	for _, b := range partial {
		updated += b.NumRows()
	}
	partialRel, err := relation(partialPlan.Schema(), partial)
	if err != nil {
		return nil, nil, 0, watermark, err
	}
	in := plan.Node(partialRel)
	if len(sa.st.batches) > 0 {
		stateRel, err := relation(sa.st.schema, sa.st.batches)
		if err != nil {
			return nil, nil, 0, watermark, err
		}
		if in, err = plan.NewUnion(stateRel, partialRel); err != nil {
			return nil, nil, 0, watermark, err
		}
	}
	groupCols := make([]expr.Expr, len(sa.groupNames))
	for j, n := range sa.groupNames {
		groupCols[j] = expr.Col(n)
	}
	if in, err = sa.sessions(in); err != nil {
		return nil, nil, 0, watermark, err
	}
	mergePlan, err := plan.NewAggregate(in, groupCols, sa.merge)
	if err != nil {
		return nil, nil, 0, watermark, err
	}
	next, err := collect(mergePlan, "streaming aggregation: merge with state")
	if err != nil {
		return nil, nil, 0, watermark, err
	}
	defer releaseAll(next)
	mergedSchema := mergePlan.Schema()
	// The watermark after this batch: its latest event time less the
	// delay, never going back.
	if sa.watermark != nil {
		if m, ok := maxTimestamp(partial, partialPlan.Schema(), evMax); ok {
			if w := m.Add(-sa.watermark.Delay); w.After(watermark) {
				watermark = w
			}
		}
	}
	out, err := relation(mergedSchema, next)
	if err != nil {
		return nil, nil, 0, watermark, err
	}
	keep := next
	var finished plan.Node // the groups the watermark finished
	if sa.evictCol != "" && sa.mode != Complete && !watermark.IsZero() {
		wl := expr.Lit(watermark.Add(-sa.evictShift).UTC())
		done, err := plan.NewFilter(out, expr.Le(expr.Col(sa.evictCol), wl))
		if err != nil {
			return nil, nil, 0, watermark, err
		}
		finished = done
		live, err := plan.NewFilter(out, expr.Gt(expr.Col(sa.evictCol), wl))
		if err != nil {
			return nil, nil, 0, watermark, err
		}
		if keep, err = collect(live, "streaming aggregation: evict finished groups"); err != nil {
			return nil, nil, 0, watermark, err
		}
		defer releaseAll(keep)
	}
	if err := sa.st.write(ctx, id, mergedSchema, keep); err != nil {
		return nil, nil, 0, watermark, err
	}
	for _, b := range keep {
		b.Retain()
	}
	sa.st.replace(mergedSchema, keep)
	var base plan.Node = out
	if sa.mode == Append {
		if finished == nil {
			base, err = plan.NewFilter(out, expr.Lit(false))
		} else {
			base = finished
		}
		if err != nil {
			return nil, nil, 0, watermark, err
		}
	}
	if sa.mode == Update && len(sa.groupNames) > 0 {
		// Only the groups the batch touched: a semi join with its keys,
		// renamed so the sides do not clash.
		keys := make([]expr.Expr, len(sa.groupNames))
		var cond expr.Expr
		for j, n := range sa.groupNames {
			k := "__key_" + strconv.Itoa(j)
			keys[j] = expr.As(expr.Col(n), k)
			eq := expr.Eq(expr.Col(n), expr.Col(k))
			switch {
			case sa.session != nil && n == sa.sessionOut.Start:
				// A session the batch touched contains one of its events.
				eq = expr.Le(expr.Col(n), expr.Col(k))
			case sa.session != nil && n == sa.sessionOut.End:
				keys[j] = expr.As(expr.Col(sa.sessionOut.Start), k)
				eq = expr.Gt(expr.Col(n), expr.Col(k))
			}
			if cond == nil {
				cond = eq
			} else {
				cond = expr.And(cond, eq)
			}
		}
		touched, err := plan.NewProject(partialRel, keys)
		if err != nil {
			return nil, nil, 0, watermark, err
		}
		if base, err = plan.NewJoin(out, touched, plan.LeftSemiJoin, cond); err != nil {
			return nil, nil, 0, watermark, err
		}
	}
	final, err := plan.NewProject(base, sa.final)
	if err != nil {
		return nil, nil, 0, watermark, err
	}
	rows, err := collect(final, "streaming aggregation: output")
	if err != nil {
		return nil, nil, 0, watermark, err
	}
	rel, err := relation(final.Schema(), rows)
	if err != nil {
		releaseAll(rows)
		return nil, nil, 0, watermark, err
	}
	return rel, rows, updated, watermark, nil
}

// sessionColumns finds the output columns of a session-windowed
// aggregation a that hold its session keys and bounds: the groups that
// are those columns of the MergeSessions below it.
func (sa *streamingAgg) sessionColumns(a *plan.Aggregate) error {
	out := func(col string) (string, error) {
		for j, g := range a.Groups {
			if c, ok := expr.Unalias(g).(*expr.Column); ok && c.Name == col {
				return a.Schema().Field(j).Name, nil
			}
		}
		return "", fmt.Errorf("%w: a streaming aggregation over session windows must group by the session's keys and bounds; %s is not a grouping column", ErrUnsupported, col)
	}
	ms := &plan.MergeSessions{}
	for _, k := range sa.session.Keys {
		name, err := out(k)
		if err != nil {
			return err
		}
		ms.Keys = append(ms.Keys, name)
	}
	var err error
	if ms.Start, err = out(sa.session.Start); err != nil {
		return err
	}
	if ms.End, err = out(sa.session.End); err != nil {
		return err
	}
	sa.sessionOut = ms
	return nil
}

// sessions merges the session windows of in (partial aggregates of the
// batch and of the state) when the aggregation is over session windows.
func (sa *streamingAgg) sessions(in plan.Node) (plan.Node, error) {
	if sa.session == nil {
		return in, nil
	}
	o := sa.sessionOut
	return plan.NewMergeSessions(in, o.Keys, o.Start, o.End)
}

// maxTimestamp returns the latest valid timestamp of column name in bs.
func maxTimestamp(bs []arrow.RecordBatch, s *arrow.Schema, name string) (time.Time, bool) {
	i, err := expr.FieldIndex(s, name)
	if err != nil {
		return time.Time{}, false
	}
	var best int64
	found := false
	for _, b := range bs {
		col, ok := b.Column(i).(*array.Timestamp)
		if !ok {
			return time.Time{}, false
		}
		for j := range col.Len() {
			if col.IsValid(j) && (!found || int64(col.Value(j)) > best) {
				best, found = int64(col.Value(j)), true
			}
		}
	}
	return time.UnixMicro(best), found
}

// relation makes a one-partition local relation of batches. A
// LocalRelation does not own its batches: the caller's references keep
// them alive while a plan over it runs.
func relation(s *arrow.Schema, bs []arrow.RecordBatch) (*plan.LocalRelation, error) {
	if len(bs) > 0 && sameColumns(bs[0].Schema(), s) {
		s = bs[0].Schema() // the batches' nullability may be looser than planned
	}
	return plan.NewLocalRelation(s, [][]arrow.RecordBatch{bs})
}
