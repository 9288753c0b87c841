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
