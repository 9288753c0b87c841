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
	if keys < 1 || keys > in.NumFields() {
		return nil, nil, fmt.Errorf("exec: MergeAggregates: %d key columns of %d", keys, in.NumFields())
	}
	if out.NumFields() != keys+len(aggs) {
		return nil, nil, fmt.Errorf("exec: MergeAggregates: output schema %s for %d keys and %d aggregates", out, keys, len(aggs))
	}
	st := &groupState{keyCols: make([][]arrow.Array, keys)}
	defer st.release()
	for i := range keys {
		st.keyType = append(st.keyType, in.Field(i).Type)
	}
	st.km = newKeyMap(st.keyType)
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
	total := 0
	for _, b := range batches {
		total += int(b.NumRows())
	}
	if total == 0 {
		cols := make([]arrow.Array, out.NumFields())
		for i, f := range out.Fields() {
			cols[i] = array.MakeArrayOfNull(c.Alloc, f.Type, 0)
		}
		defer releaseArrays(cols)
		all = array.NewRecordBatch(out, cols, 0)
		if touchedFrom >= 0 {
			all.Retain()
			touched = all
		}
		return all, touched, nil
	}
	// The state's groups alone are as many as its rows (one per group).
	if touchedFrom > 0 {
		n := 0
		for _, b := range batches[:min(touchedFrom, len(batches))] {
			n += int(b.NumRows())
		}
		st.km.reserve(n)
	}
	ec := c.evalContext(ctx)
	var mark []bool // by group id: touched
	for bi, b := range batches {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if int(b.NumCols()) != in.NumFields() {
			return nil, nil, fmt.Errorf("exec: MergeAggregates: a batch of %d columns, want %d", b.NumCols(), in.NumFields())
		}
		n := int(b.NumRows())
		ng, err := st.addKeys(c, b.Columns()[:keys], n)
		if err != nil {
			return nil, nil, err
		}
		vals, err := evalAll(ec, args, b)
		if err != nil {
			return nil, nil, err
		}
		for i, acc := range st.accs {
			if err := acc.Update(ec, st.ids[:n], ng, vals[i]); err != nil {
				releaseArrays(vals)
				return nil, nil, fmt.Errorf("exec: %s: %w", aggs[i], err)
			}
		}
		releaseArrays(vals)
		if touchedFrom >= 0 && bi >= touchedFrom {
			if len(mark) < ng {
				mark = append(mark, make([]bool, ng-len(mark))...)
			}
			for _, id := range st.ids[:n] {
				mark[id] = true
			}
		}
	}
	cols, err := st.keys(c)
	if err != nil {
		return nil, nil, err
	}
	defer func() { releaseArrays(cols) }()
	for i, acc := range st.accs {
		f, err := acc.Final(ec)
		if err != nil {
			return nil, nil, fmt.Errorf("exec: %s: %w", aggs[i], err)
		}
		if want := out.Field(keys + i).Type; !arrow.TypeEqual(f.DataType(), want) {
			cf, err := expr.CastArray(ec, f, want)
			f.Release()
			if err != nil {
				return nil, nil, err
			}
			f = cf
		}
		cols = append(cols, f)
	}
	rows := st.km.len()
	all = array.NewRecordBatch(out, cols, int64(rows))
	if touchedFrom < 0 {
		return all, nil, nil
	}
	var idx []int32
	for id, t := range mark {
		if t {
			idx = append(idx, int32(id))
		}
	}
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
	a := &Aggregator{c: c, ec: c.evalContext(ctx), groups: groups, aggs: aggs, out: out,
		st: &groupState{keyCols: make([][]arrow.Array, len(groups))}}
	for _, g := range groups {
		t, err := g.Resolve(in)
		if err != nil {
			return nil, err
		}
		a.st.keyType = append(a.st.keyType, t.DataType)
	}
	a.st.km = newKeyMap(a.st.keyType)
	for _, e := range aggs {
		ae, ok := expr.Unalias(e).(*expr.AggExpr)
		if !ok {
			return nil, fmt.Errorf("exec: %s is not an aggregate", e)
		}
		acc, err := expr.NewAccumulator(ae, in)
		if err != nil {
			return nil, err
		}
		a.st.accs = append(a.st.accs, acc)
		a.args = append(a.args, ae.Arg)
	}
	return a, nil
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
	ng, err := a.st.addKeys(a.c, keys, n)
	if err != nil {
		return err
	}
	vals, err := evalAll(a.ec, a.args, b)
	if err != nil {
		return err
	}
	defer releaseArrays(vals)
	for i, acc := range a.st.accs {
		if err := acc.Update(a.ec, a.st.ids[:n], ng, vals[i]); err != nil {
			return fmt.Errorf("exec: %s: %w", a.aggs[i], err)
		}
	}
	return nil
}

// Result returns the groups and their aggregates so far, the groups in
// the order of their first rows (nil when no row came). The caller
// releases it.
func (a *Aggregator) Result() (arrow.RecordBatch, error) {
	rows := a.st.km.len()
	if rows == 0 {
		return nil, nil
	}
	cols, err := a.st.keys(a.c)
	if err != nil {
		return nil, err
	}
	defer func() { releaseArrays(cols) }()
	nk := len(a.groups)
	for i, acc := range a.st.accs {
		f, err := acc.Final(a.ec)
		if err != nil {
			return nil, fmt.Errorf("exec: %s: %w", a.aggs[i], err)
		}
		if want := a.out.Field(nk + i).Type; !arrow.TypeEqual(f.DataType(), want) {
			cf, err := expr.CastArray(a.ec, f, want)
			f.Release()
			if err != nil {
				return nil, err
			}
			f = cf
		}
		cols = append(cols, f)
	}
	return array.NewRecordBatch(a.out, cols, int64(rows)), nil
}

// Release releases the aggregator's key arrays.
func (a *Aggregator) Release() { a.st.release() }
