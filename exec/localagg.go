package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/expr"
)

// MergeAggregates groups the rows of batches (all of schema in) by their
// first keys columns (keys ≥ 1) and computes aggs, aggregate expressions
// over in (such as sum(__count_0) AS __count_0), in the calling goroutine,
// without planning a job or shuffling: a streaming aggregation merges its
// state with a batch's partial aggregates this way, a few rows per group.
// The result has schema out: the key columns, then one column per
// aggregate (cast to out's type where the aggregate's differs), its groups
// in the order of their first rows. When touchedFrom ≥ 0, touched holds the
// rows of all whose group has a row in batches[touchedFrom:], in the same
// order (all itself, retained, when every group has); otherwise it is nil.
// The caller releases both.
func MergeAggregates(ctx context.Context, c *Context, in *arrow.Schema, keys int, aggs []expr.Expr, out *arrow.Schema, batches []arrow.RecordBatch, touchedFrom int) (all, touched arrow.RecordBatch, err error) {
	t, err := NewGroupTable(in, keys, aggs, out)
	if err != nil {
		return nil, nil, err
	}
	defer t.Release()
	before := batches
	if touchedFrom >= 0 {
		before = batches[:min(touchedFrom, len(batches))]
	}
	// The state's groups alone are as many as its rows (one per group).
	n := 0
	for _, b := range before {
		n += int(b.NumRows())
	}
	t.st.km.reserve(n)
	if err := t.Add(ctx, c, before, false); err != nil {
		return nil, nil, err
	}
	if touchedFrom >= 0 {
		if err := t.Add(ctx, c, batches[len(before):], true); err != nil {
			return nil, nil, err
		}
	}
	all, touched, err = t.Result(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if touchedFrom < 0 {
		touched.Release()
		touched = nil
	}
	return all, touched, nil
}

// GroupTable is the table MergeAggregates builds, kept from call to call:
// a streaming aggregation keeps its state's groups in one across batches,
// so that a batch adds its partial aggregates to it (the cost of the
// batch) instead of building the table again from every group of the
// state. Its groups are never removed: the aggregation starts a new one
// when the watermark finishes groups.
type GroupTable struct {
	in, out *arrow.Schema
	keys    int
	aggs    []expr.Expr
	args    []expr.Expr
	st      *groupState
	touched []bool // by group id: had a row added with touch since the last Result
}

// NewGroupTable returns an empty table grouping rows of schema in by their
// first keys columns (keys ≥ 1) and computing aggs, with results of schema
// out (see MergeAggregates). Release it when done.
func NewGroupTable(in *arrow.Schema, keys int, aggs []expr.Expr, out *arrow.Schema) (*GroupTable, error) {
	if keys < 1 || keys > in.NumFields() {
		return nil, fmt.Errorf("exec: MergeAggregates: %d key columns of %d", keys, in.NumFields())
	}
	if out.NumFields() != keys+len(aggs) {
		return nil, fmt.Errorf("exec: MergeAggregates: output schema %s for %d keys and %d aggregates", out, keys, len(aggs))
	}
	keyTypes := make([]arrow.DataType, keys)
	for i := range keys {
		keyTypes[i] = in.Field(i).Type
	}
	st, args, err := newAggState(keyTypes, in, aggs)
	if err != nil {
		return nil, err
	}
	return &GroupTable{in: in, out: out, keys: keys, aggs: aggs, args: args, st: st}, nil
}

// Len returns the number of groups.
func (t *GroupTable) Len() int { return t.st.km.len() }

// Add folds the rows of batches (schema in) into their groups; with
// touch, the next Result reports their groups as touched.
func (t *GroupTable) Add(ctx context.Context, c *Context, batches []arrow.RecordBatch, touch bool) error {
	ec := c.evalContext(ctx)
	for _, b := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		if int(b.NumCols()) != t.in.NumFields() {
			return fmt.Errorf("exec: MergeAggregates: a batch of %d columns, want %d", b.NumCols(), t.in.NumFields())
		}
		n := int(b.NumRows())
		ng, err := t.st.fold(ec, c, b.Columns()[:t.keys], b, t.args, t.aggs)
		if err != nil {
			return err
		}
		if touch {
			if len(t.touched) < ng {
				t.touched = append(t.touched, make([]bool, ng-len(t.touched))...)
			}
			for _, id := range t.st.ids[:n] {
				t.touched[id] = true
			}
		}
	}
	return nil
}

// Result returns every group's row (schema out, in the order of the
// groups' first rows) and the rows of the groups touched since the last
// Result (all itself, retained, when every group was), and forgets which
// were. The caller releases both.
func (t *GroupTable) Result(ctx context.Context, c *Context) (all, touched arrow.RecordBatch, err error) {
	all, err = t.st.result(c.evalContext(ctx), c, t.out, t.aggs)
	if err != nil {
		return nil, nil, err
	}
	rows := t.st.km.len()
	var idx []int32
	for id, touched := range t.touched {
		if touched {
			idx = append(idx, int32(id))
		}
	}
	clear(t.touched)
	if len(idx) == rows {
		all.Retain()
		return all, all, nil
	}
	ia := int32Array(c, idx)
	defer ia.Release()
	touched, err = takeBatch(c, all, ia)
	if err != nil {
		all.Release()
		return nil, nil, err
	}
	return all, touched, nil
}

// Release releases the table's memory.
func (t *GroupTable) Release() { t.st.release() }

// Aggregator aggregates the batches of one partition, in the goroutine
// that feeds it (a task's callback of [Context.Run], say), with no
// shuffle: groups and aggs are expressions over the batches' schema in, as
// in a plan.Aggregate, and the result has schema out (the groups, then one
// column per aggregate, cast to out's types). A streaming aggregation
// aggregates each input partition this way and merges the partitions'
// results with its state in [MergeAggregates], rather than shuffling
// them. Only grouped aggregations (at least one group).
type Aggregator struct {
	c      *Context
	ec     *expr.EvalContext
	st     *groupState
	groups []expr.Expr
	args   []expr.Expr
	aggs   []expr.Expr
	out    *arrow.Schema
}

// NewAggregator returns an aggregator; Release it when done.
func NewAggregator(ctx context.Context, c *Context, in *arrow.Schema, groups, aggs []expr.Expr, out *arrow.Schema) (*Aggregator, error) {
	if len(groups) == 0 {
		return nil, fmt.Errorf("exec: NewAggregator: no groups")
	}
	if out.NumFields() != len(groups)+len(aggs) {
		return nil, fmt.Errorf("exec: NewAggregator: output schema %s for %d groups and %d aggregates", out, len(groups), len(aggs))
	}
	keyTypes := make([]arrow.DataType, len(groups))
	for i, g := range groups {
		t, err := g.Resolve(in)
		if err != nil {
			return nil, err
		}
		keyTypes[i] = t.DataType
	}
	st, args, err := newAggState(keyTypes, in, aggs)
	if err != nil {
		return nil, err
	}
	return &Aggregator{c: c, ec: c.evalContext(ctx), st: st, groups: groups, args: args, aggs: aggs, out: out}, nil
}

// Add aggregates the rows of b.
func (a *Aggregator) Add(b arrow.RecordBatch) error {
	n := int(b.NumRows())
	if n == 0 {
		return nil
	}
	keys, err := evalAll(a.ec, a.groups, b)
	if err != nil {
		return err
	}
	defer releaseArrays(keys)
	_, err = a.st.fold(a.ec, a.c, keys, b, a.args, a.aggs)
	return err
}

// Result returns the groups and their aggregates so far, the groups in
// the order of their first rows (nil when no row came). The caller
// releases it.
func (a *Aggregator) Result() (arrow.RecordBatch, error) {
	if a.st.km.len() == 0 {
		return nil, nil
	}
	return a.st.result(a.ec, a.c, a.out, a.aggs)
}

// newAggState returns the state of a grouping by keys of keyTypes that
// computes aggs (aggregate expressions over rows of schema in, aliased or
// not), and the aggregates' arguments.
func newAggState(keyTypes []arrow.DataType, in *arrow.Schema, aggs []expr.Expr) (*groupState, []expr.Expr, error) {
	st := &groupState{keyCols: make([][]arrow.Array, len(keyTypes)), keyType: keyTypes, km: newKeyMap(keyTypes)}
	args := make([]expr.Expr, len(aggs))
	for i, e := range aggs {
		ae, ok := expr.Unalias(e).(*expr.AggExpr)
		if !ok {
			return nil, nil, fmt.Errorf("exec: %s is not an aggregate", e)
		}
		acc, err := expr.NewAccumulator(ae, in)
		if err != nil {
			return nil, nil, err
		}
		st.accs = append(st.accs, acc)
		args[i] = ae.Arg
	}
	return st, args, nil
}

// fold adds the rows of b, whose key values are keys, to their groups:
// each aggregate aggs[i] of its argument args[i] evaluated over b. It
// returns the number of groups.
func (st *groupState) fold(ec *expr.EvalContext, c *Context, keys []arrow.Array, b arrow.RecordBatch, args, aggs []expr.Expr) (int, error) {
	n := int(b.NumRows())
	ng, err := st.addKeys(c, keys, n)
	if err != nil {
		return 0, err
	}
	vals, err := evalAll(ec, args, b)
	if err != nil {
		return 0, err
	}
	defer releaseArrays(vals)
	for i, acc := range st.accs {
		if err := acc.Update(ec, st.ids[:n], ng, vals[i]); err != nil {
			return 0, fmt.Errorf("exec: %s: %w", aggs[i], err)
		}
	}
	return ng, nil
}

// result returns every group's row of schema out: the key columns, then
// each aggregate's final value, cast to out's type where it differs.
func (st *groupState) result(ec *expr.EvalContext, c *Context, out *arrow.Schema, aggs []expr.Expr) (arrow.RecordBatch, error) {
	cols, err := st.keys(c)
	if err != nil {
		return nil, err
	}
	defer func() { releaseArrays(cols) }()
	nk := len(st.keyCols)
	for i, acc := range st.accs {
		f, err := acc.Final(ec)
		if err != nil {
			return nil, fmt.Errorf("exec: %s: %w", aggs[i], err)
		}
		if want := out.Field(nk + i).Type; !arrow.TypeEqual(f.DataType(), want) {
			cf, err := expr.CastArray(ec, f, want)
			f.Release()
			if err != nil {
				return nil, err
			}
			f = cf
		}
		cols = append(cols, f)
	}
	return array.NewRecordBatch(out, cols, int64(st.km.len())), nil
}

// Release releases the aggregator's key arrays.
func (a *Aggregator) Release() { a.st.release() }
