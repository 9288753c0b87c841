package streaming

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
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
	node  *aggOutput
	input plan.Node
	st    tableState // the partial aggregates of every group
	// table holds st's groups as a hash table kept from batch to batch
	// (the fast path of run), nil until a batch builds it from st; it is
	// dropped when groups are evicted or a batch fails, and on load.
	table      *exec.GroupTable
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
	// lagUnbounded: the input's event times may be any amount behind
	// the watermark (a join without time bounds below), so nothing is
	// evicted; lag is the bound otherwise.
	lag          time.Duration
	lagUnbounded bool

	// session is set for an aggregation over session windows (its input
	// is a MergeSessions): the partial aggregates of the batch (one per
	// event time and key) and the sessions in the state are merged into
	// sessions again before the merge aggregation. sessionOut is the
	// same merge over the aggregation's output columns.
	session    *plan.MergeSessions
	sessionOut *plan.MergeSessions
}

// aggOutput is the leaf that stands for a stateful operator's output in
// the query's plan (and in the input of an operator above it); each batch
// replaces it with the batch's rows. watermark is the event-time
// watermark under the operator, if any (for operators above it). For an
// aggregation that evicts, evictCol is its output column that ends a
// group evictShift after its value (so that an aggregation above, which
// groups by that column under any name, evicts by it too).
type aggOutput struct {
	schema     *arrow.Schema
	watermark  *Watermark
	evictCol   string
	evictShift time.Duration
	// ends has every output column whose value bounds when the
	// operator's rows come: for an aggregation, the columns that end a
	// group a known time after their value (evictCol among them), as
	// groupEnd finds them (a window's start and end, say); for a
	// deduplication or a join, the event-time columns of their input
	// (timeColumns). An operator above may bound its rows by any of them.
	ends map[string]time.Duration
}

// groupEnd reports whether the groups of a grouping by g, over input,
// end a known time after g's value (evictShift), by the event time of the
// watermark column wm, so that the watermark passing that time finishes
// them. That holds when g is wm itself, a window bound on wm
// (expr.WindowBound: a window's end, or the start of a tumbling window,
// which ends its slide later), or a column that input defines as one of
// these (traced by name through projections, filters and every branch of
// a union, as the sliding-window expansions of package dataframe and sql
// build them), or the column an aggregation below evicts by.
func groupEnd(input plan.Node, g expr.Expr, wm string) (time.Duration, bool) {
	switch x := expr.Unalias(g).(type) {
	case *expr.Column:
		if x.Name == wm {
			return 0, true
		}
		return columnEnd(input, x.Name, wm)
	case *expr.Call:
		if x.Name != "window" || len(x.Params) != 4 || !slices.Equal(expr.Columns(x), []string{wm}) {
			return 0, false
		}
		slide, _ := x.Params[0].(time.Duration)
		back, _ := x.Params[2].(int)
		add, _ := x.Params[3].(time.Duration)
		switch {
		case add > 0: // a window's end
			return 0, true
		case back == 0 && slide > 0: // the start of the window holding the row
			return slide, true
		}
	}
	return 0, false
}

// columnEnd is groupEnd for the column name of p's output.
func columnEnd(p plan.Node, name, wm string) (time.Duration, bool) {
	switch x := p.(type) {
	case *aggOutput:
		d, ok := x.ends[name]
		return d, ok
	case *plan.Filter:
		return columnEnd(x.Child, name, wm)
	case *plan.Join: // with a static table: the side that has the column
		if expr.Resolves(name, x.Left.Schema()) {
			return columnEnd(x.Left, name, wm)
		}
		return columnEnd(x.Right, name, wm)
	case *Watermark:
		if name == x.Column {
			return 0, true
		}
		return columnEnd(x.Child, name, wm)
	case *plan.Project:
		for _, e := range x.Exprs {
			if expr.Name(e) == name {
				if d, ok := windowStartShift(x.Exprs, e, wm); ok {
					return d, true
				}
				return groupEnd(x.Child, e, wm)
			}
		}
	case *plan.Union:
		var shift time.Duration
		for i, in := range x.Inputs {
			s, ok := columnEnd(in, name, wm)
			if !ok || (i > 0 && s != shift) {
				return 0, false
			}
			shift = s
		}
		return shift, len(x.Inputs) > 0
	}
	return 0, false
}

// windowStartShift reports, for a window start e among a projection's
// exprs that also computes the same window's end (plan.ExpandWindows:
// the same expr.WindowBound on the watermark column wm plus the window's
// length), how long after its start the window ends: the length. The
// start alone cannot say it for a sliding window (groupEnd knows only
// a tumbling window's, its slide).
func windowStartShift(exprs []expr.Expr, e expr.Expr, wm string) (time.Duration, bool) {
	bound := func(e expr.Expr) (*expr.Call, time.Duration, bool) {
		c, ok := expr.Unalias(e).(*expr.Call)
		if !ok || c.Name != "window" || len(c.Params) != 4 || !slices.Equal(expr.Columns(c), []string{wm}) {
			return nil, 0, false
		}
		add, ok := c.Params[3].(time.Duration)
		return c, add, ok
	}
	start, add, ok := bound(e)
	if !ok || add != 0 {
		return 0, false
	}
	for _, o := range exprs {
		end, length, ok := bound(o)
		if ok && length > 0 && slices.Equal(end.Params[:3], start.Params[:3]) && end.Args[0].String() == start.Args[0].String() {
			return length, true
		}
	}
	return 0, false
}

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
	stateTables() []stateTable
	load(ctx context.Context, id int64, alloc memory.Allocator) error
	// run returns the output relation, its rows (released by the caller
	// once the batch's plan ran) and the rows the batch changed in the
	// state. Once it has read its input, evict gives the watermark to
	// evict state with (zero: none).
	run(ctx context.Context, xc *exec.Context, input plan.Node, id int64, evict evictFunc) (plan.Node, []arrow.RecordBatch, int64, error)
	// outputDelay is how far behind the query's watermark the event
	// times of the operator's output rows may be (ok false: without
	// bound), which operators above it allow for before evicting.
	outputDelay() (d time.Duration, ok bool)
	// setLag tells the operator how far behind the watermark the event
	// times of its input may be (bounded false: without bound, so it
	// cannot evict by event time); it fails when the operator then
	// cannot run in the query's output mode.
	setLag(d time.Duration, bounded bool) error
	numRows() int64
	close()
}

var (
	_ statefulOp = (*streamingAgg)(nil)
	_ statefulOp = (*streamingDedup)(nil)
	_ statefulOp = (*streamingJoin)(nil)
)

func (sa *streamingAgg) kind() string            { return "aggregate" }
func (sa *streamingAgg) placeholder() *aggOutput { return sa.node }
func (sa *streamingAgg) inputPlan() plan.Node    { return sa.input }
func (sa *streamingAgg) numRows() int64          { return sa.st.rows }

// outputDelay: an aggregation read by another stateful operator runs in
// append mode (see Start) and writes a group once, in the batch whose
// watermark, less the aggregation's own lag, passes the group's end; its
// rows are as far behind the watermark as its input may be.
func (sa *streamingAgg) outputDelay() (time.Duration, bool) {
	return sa.lag, !sa.lagUnbounded && sa.evictCol != ""
}

func (sa *streamingAgg) setLag(d time.Duration, bounded bool) error {
	sa.lag, sa.lagUnbounded = d, !bounded
	if !bounded && sa.mode == Append {
		return fmt.Errorf("%w: append output mode with an aggregation over a join of two streams needs time bounds in the join's condition (such as l.ts >= r.ts AND l.ts <= r.ts + an interval) so that its rows come at most a bounded time behind the watermark; or use update or complete output mode", ErrUnsupported)
	}
	return nil
}

func (sa *streamingAgg) load(ctx context.Context, id int64, alloc memory.Allocator) error {
	sa.dropTable()
	return sa.st.load(ctx, id, alloc)
}
func (sa *streamingAgg) close() {
	sa.dropTable()
	sa.st.close()
}

// dropTable forgets the hash table of the state's groups: the next batch
// builds it again from the state.
func (sa *streamingAgg) dropTable() {
	if sa.table != nil {
		sa.table.Release()
		sa.table = nil
	}
}

// statefulNode is a stateful operation of a query's plan, split off by
// splitStateful: node has the operations below it already replaced by
// their placeholders, and ph stands for its output.
type statefulNode struct {
	node plan.Node
	ph   *aggOutput
}

// splitStateful finds the plan's stateful operations over streams
// (aggregations, deduplications, joins of two streams) and returns the
// plan with each replaced by a placeholder leaf, and the operations,
// those below first.
func splitStateful(p plan.Node) (plan.Node, []statefulNode, error) {
	var ops []statefulNode
	// A node the plan reaches twice (a DataFrame used twice: Nexmark q5's
	// counts, read by the join and by the maximum per window) is split
	// once, so that a stateful operation in it runs once and both readers
	// get its rows.
	done := map[plan.Node]plan.Node{}
	var split func(n plan.Node) (plan.Node, error)
	split = func(n plan.Node) (plan.Node, error) {
		if r, ok := done[n]; ok {
			return r, nil
		}
		r, err := splitOnce(n, split, &ops)
		if err == nil {
			done[n] = r
		}
		return r, err
	}
	top, err := split(p)
	if err != nil {
		return nil, nil, err
	}
	// An aggregation may feed another stateful operator: it then writes
	// each group once, when final (see Start); a join over it bounds its
	// rows by the aggregation's window end (timeColumns).
	return top, ops, nil
}

// splitOnce is splitStateful's step for node n, its children split by
// split.
func splitOnce(n plan.Node, split func(plan.Node) (plan.Node, error), ops *[]statefulNode) (plan.Node, error) {
	kids := n.Children()
	changed := false
	nk := make([]plan.Node, len(kids))
	for i, c := range kids {
		r, err := split(c)
		if err != nil {
			return nil, err
		}
		nk[i], changed = r, changed || r != c
	}
	stateful := false
	switch x := n.(type) {
	case *plan.Aggregate:
		stateful = IsStreaming(x.Child)
	case *plan.Deduplicate:
		stateful = IsStreaming(x.Child)
	case *plan.Join:
		stateful = IsStreaming(x.Left) && IsStreaming(x.Right)
	}
	out := n
	if changed {
		var err error
		if out, err = n.WithChildren(nk); err != nil {
			return nil, err
		}
	}
	if !stateful {
		return out, nil
	}
	ph := &aggOutput{schema: out.Schema(), watermark: findWatermark(out)}
	*ops = append(*ops, statefulNode{node: out, ph: ph})
	return ph, nil
}

// kindOf names a stateful operation for messages.
func kindOf(n plan.Node) string {
	switch x := n.(type) {
	case *plan.Aggregate:
		return "an aggregation"
	case *plan.Deduplicate:
		return "a deduplication"
	case *plan.Join:
		return fmt.Sprintf("a %s join of two streams", x.Type)
	}
	return n.String()
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
	ph.ends = map[string]time.Duration{}
	if sa.watermark != nil && sa.session != nil {
		sa.evictCol = sa.sessionOut.End // a session ends at its end
		ph.ends[sa.evictCol] = 0
	}
	if sa.watermark != nil && sa.session == nil {
		for j, g := range a.Groups {
			if shift, ok := groupEnd(input, g, sa.watermark.Column); ok {
				if sa.evictCol == "" {
					sa.evictCol, sa.evictShift = schema.Field(j).Name, shift
				}
				ph.ends[schema.Field(j).Name] = shift
			}
		}
	}
	ph.evictCol, ph.evictShift = sa.evictCol, sa.evictShift
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
func (sa *streamingAgg) run(ctx context.Context, xc *exec.Context, input plan.Node, id int64, evict evictFunc) (plan.Node, []arrow.RecordBatch, int64, error) {
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
		return nil, nil, 0, err
	}
	// Without sessions to merge and with groups, each input partition is
	// aggregated in its own task, and the partitions' results are merged
	// with the state in this goroutine (exec.MergeAggregates): no shuffle
	// and no second job. Otherwise plans do both.
	fast := sa.session == nil && len(sa.groupNames) > 0 && sameColumns(partialPlan.Schema(), sa.st.schema)
	var partial []arrow.RecordBatch
	if fast {
		partial, err = aggregatePartitions(ctx, xc, input, sa.partialGroups, sa.partial, partialPlan.Schema())
	} else {
		partial, err = collect(partialPlan, "streaming aggregation: partial")
	}
	if err != nil {
		return nil, nil, 0, err
	}
	defer releaseAll(partial)
	var updated int64 // the groups the batch touched (the merge counts them on the fast path)
	for _, b := range partial {
		updated += b.NumRows()
	}
	partialRel, err := relation(partialPlan.Schema(), partial)
	if err != nil {
		return nil, nil, 0, err
	}
	in := plan.Node(partialRel)
	if len(sa.st.batches) > 0 {
		stateRel, err := relation(sa.st.schema, sa.st.batches)
		if err != nil {
			return nil, nil, 0, err
		}
		if in, err = plan.NewUnion(stateRel, partialRel); err != nil {
			return nil, nil, 0, err
		}
	}
	groupCols := make([]expr.Expr, len(sa.groupNames))
	for j, n := range sa.groupNames {
		groupCols[j] = expr.Col(n)
	}
	if in, err = sa.sessions(in); err != nil {
		return nil, nil, 0, err
	}
	mergePlan, err := plan.NewAggregate(in, groupCols, sa.merge)
	if err != nil {
		return nil, nil, 0, err
	}
	mergedSchema := mergePlan.Schema()
	// The merge with the state: in this goroutine (exec.MergeAggregates)
	// unless the sessions must be merged first, or the aggregation has
	// no groups (one row even for no input, which the plan gives).
	var next []arrow.RecordBatch
	var touched arrow.RecordBatch // the merged groups the batch touched
	if fast {
		// The state's groups stay in a hash table from batch to batch: a
		// batch adds its partial aggregates (its cost, not the state's).
		// Should the batch fail, the table is dropped and built again
		// from the state, which changes only when a batch succeeds.
		all, t, err := sa.mergeIntoTable(ctx, xc, partialRel.Schema(), mergedSchema, partial)
		if err != nil {
			sa.dropTable()
			return nil, nil, 0, fmt.Errorf("streaming aggregation: merge with state: %w", err)
		}
		if all.NumRows() > 0 {
			next = []arrow.RecordBatch{all}
		} else {
			all.Release()
		}
		updated = t.NumRows() // a group in several partitions' results is one
		touched = t
		defer touched.Release()
	} else if next, err = collect(mergePlan, "streaming aggregation: merge with state"); err != nil {
		return nil, nil, 0, err
	}
	defer releaseAll(next)
	// The watermark after this batch, less the lag of the input.
	var watermark time.Time
	if sa.watermark != nil && !sa.lagUnbounded {
		if w := evict(); !w.IsZero() {
			watermark = w.Add(-sa.lag)
		}
	}
	out, err := relation(mergedSchema, next)
	if err != nil {
		return nil, nil, 0, err
	}
	keep := next
	// The groups the watermark finished: append mode's output, and with
	// the groups the merge touched known, the deletes of the state write.
	var finished []arrow.RecordBatch
	if sa.evictCol != "" && sa.mode != Complete && !watermark.IsZero() {
		wl := expr.Lit(watermark.Add(-sa.evictShift).UTC())
		live, err := plan.NewFilter(out, expr.Gt(expr.Col(sa.evictCol), wl))
		if err != nil {
			return nil, nil, 0, err
		}
		if keep, err = collect(live, "streaming aggregation: evict finished groups"); err != nil {
			sa.dropTable()
			return nil, nil, 0, err
		}
		defer releaseAll(keep)
		if sa.mode == Append || touched != nil {
			done, err := plan.NewFilter(out, expr.Le(expr.Col(sa.evictCol), wl))
			if err != nil {
				return nil, nil, 0, err
			}
			if finished, err = collect(done, "streaming aggregation: finished groups"); err != nil {
				sa.dropTable()
				return nil, nil, 0, err
			}
			defer releaseAll(finished)
		}
		if rowsOf(keep) < rowsOf(next) {
			sa.dropTable() // groups were finished: the next batch builds it from keep
		}
	}
	for _, b := range keep {
		b.Retain()
	}
	sa.st.replace(mergedSchema, keep)
	// Written while the batch computes its output; the batch commits
	// once it is done (Query.runBatch waits for it). With the groups the
	// merge touched known, the state's changes are those groups and the
	// finished ones: the other groups are not looked at.
	if touched != nil {
		touched.Retain() // both released by the write
		for _, b := range finished {
			b.Retain()
		}
		sa.st.writeChangesAsync(ctx, id, []arrow.RecordBatch{touched}, slices.Clone(finished))
	} else {
		sa.st.writeAsync(ctx, id, mergedSchema, keep)
	}
	var base plan.Node = out
	if sa.mode == Append {
		// Only the finished groups (none without a watermark yet).
		if base, err = relation(mergedSchema, finished); err != nil {
			return nil, nil, 0, err
		}
	}
	if sa.mode == Update && touched != nil {
		// Only the groups the batch touched, as the merge found them.
		if base, err = relation(mergedSchema, []arrow.RecordBatch{touched}); err != nil {
			return nil, nil, 0, err
		}
	} else if sa.mode == Update && len(sa.groupNames) > 0 {
		// Only the groups the batch touched: a semi join with its keys,
		// renamed so the sides do not clash.
		keys := make([]expr.Expr, 0, len(sa.groupNames))
		var cond expr.Expr
		for j, n := range sa.groupNames {
			k := "__key_" + strconv.Itoa(j)
			var eq expr.Expr
			switch {
			case sa.session != nil && n == sa.sessionOut.Start:
				// A session the batch touched contains one of its events.
				keys = append(keys, expr.As(expr.Col(n), k))
				eq = expr.Le(expr.Col(n), expr.Col(k))
			case sa.session != nil && n == sa.sessionOut.End:
				keys = append(keys, expr.As(expr.Col(sa.sessionOut.Start), k))
				eq = expr.Gt(expr.Col(n), expr.Col(k))
			default:
				// A null key is a group of its own: equal keys compare
				// null-safely, as (is null, value or a stand-in) pairs, which
				// the join still hashes.
				v, isNull := nullSafeKey(expr.Col(n), partialRel.Schema())
				nk := "__null_" + strconv.Itoa(j)
				keys = append(keys, expr.As(v, k), expr.As(isNull, nk))
				eq = expr.And(expr.Eq(v, expr.Col(k)), expr.Eq(isNull, expr.Col(nk)))
			}
			if cond == nil {
				cond = eq
			} else {
				cond = expr.And(cond, eq)
			}
		}
		touched, err := plan.NewProject(partialRel, keys)
		if err != nil {
			return nil, nil, 0, err
		}
		if base, err = plan.NewJoin(out, touched, plan.LeftSemiJoin, cond); err != nil {
			return nil, nil, 0, err
		}
	}
	final, err := plan.NewProject(base, sa.final)
	if err != nil {
		return nil, nil, 0, err
	}
	rows, err := collect(final, "streaming aggregation: output")
	if err != nil {
		return nil, nil, 0, err
	}
	rel, err := relation(final.Schema(), rows)
	if err != nil {
		releaseAll(rows)
		return nil, nil, 0, err
	}
	return rel, rows, updated, nil
}

// mergeIntoTable adds the batch's partial aggregates to the table of the
// state's groups (building it from the state first when there is none)
// and returns every group's merged row and those of the groups the batch
// touched.
func (sa *streamingAgg) mergeIntoTable(ctx context.Context, xc *exec.Context, in, out *arrow.Schema, partial []arrow.RecordBatch) (all, touched arrow.RecordBatch, err error) {
	if sa.table == nil {
		t, err := exec.NewGroupTable(in, len(sa.groupNames), sa.merge, out)
		if err != nil {
			return nil, nil, err
		}
		if err := t.Add(ctx, xc, sa.st.batches, false); err != nil {
			t.Release()
			return nil, nil, err
		}
		sa.table = t
	}
	if err := sa.table.Add(ctx, xc, partial, true); err != nil {
		return nil, nil, err
	}
	return sa.table.Result(ctx, xc)
}

func rowsOf(bs []arrow.RecordBatch) int64 {
	var n int64
	for _, b := range bs {
		n += b.NumRows()
	}
	return n
}

// nullSafeKey returns, for a grouping key e over s, a non-null stand-in
// for it (its value, or the zero of its type when null) and whether it
// is null: two keys are the same group when both are equal. A type with
// no zero to cast to keeps e itself (its nulls then match nothing).
func nullSafeKey(e expr.Expr, s *arrow.Schema) (value, isNull expr.Expr) {
	isNull = expr.IsNull(e)
	t, err := e.Resolve(s)
	if err != nil {
		return e, isNull
	}
	v := expr.NewCoalesce(e, expr.NewCast(expr.Lit(int64(0)), t.DataType))
	if _, err := v.Resolve(s); err != nil {
		return e, isNull
	}
	return v, isNull
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

// relation makes a one-partition local relation of batches. A
// LocalRelation does not own its batches: the caller's references keep
// them alive while a plan over it runs.
func relation(s *arrow.Schema, bs []arrow.RecordBatch) (*plan.LocalRelation, error) {
	if len(bs) > 0 && sameColumns(bs[0].Schema(), s) {
		s = bs[0].Schema() // the batches' nullability may be looser than planned
	}
	return plan.NewLocalRelation(s, [][]arrow.RecordBatch{bs})
}
