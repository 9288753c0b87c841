package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
)

// HashAggregateExec is a two-phase hash aggregation: each map task
// aggregates its input partition into partial states per group, the
// states are shuffled by the grouping keys, and each reduce task merges
// the states of its keys into final values. Without grouping keys there
// is one reduce partition and always one output row.
type HashAggregateExec struct {
	base
	c       *Context
	groups  []expr.Expr
	aggs    []*expr.AggExpr
	aggText []string
	in      *arrow.Schema
	dep     *engine.ShuffleDependency
}

func newHashAggregate(c *Context, child Operator, groups, aggs []expr.Expr, out *arrow.Schema) (*HashAggregateExec, error) {
	a := &HashAggregateExec{c: c, groups: groups, in: child.Schema()}
	for _, e := range aggs {
		ae, ok := expr.Unalias(e).(*expr.AggExpr)
		if !ok {
			return nil, fmt.Errorf("exec: %s is not an aggregate", e)
		}
		a.aggs = append(a.aggs, ae)
		a.aggText = append(a.aggText, e.String())
	}
	buckets := c.ShufflePartitions
	if len(groups) == 0 {
		buckets = 1
	}
	dep, err := c.newShuffle(child, buckets, a.partial)
	if err != nil {
		return nil, err
	}
	a.dep = dep
	a.base = base{id: c.Engine.NewID(), parts: buckets, deps: []engine.Dependency{dep}, name: "HashAggregate", schema: out, inputs: []Operator{child}}
	return a, nil
}

// Describe implements Operator.
func (a *HashAggregateExec) Describe() []string {
	keys, fns := exprList(a.groups), ""
	for i, t := range a.aggText {
		if i > 0 {
			fns += ", "
		}
		fns += t
	}
	ex := fmt.Sprintf("Exchange hashpartitioning(%s, %d)", keys, a.parts)
	if len(a.groups) == 0 {
		ex = "Exchange SinglePartition"
	}
	return []string{
		fmt.Sprintf("HashAggregate(keys=[%s], functions=[%s], mode=final)", keys, fns),
		ex,
		fmt.Sprintf("HashAggregate(keys=[%s], functions=[%s], mode=partial)", keys, fns),
	}
}

// groupState is a hash table of groups: the key map, the key values of
// each group (in id order, as arrays taken from the input) and one
// accumulator per aggregate.
type groupState struct {
	km      *keyMap
	keyCols [][]arrow.Array // per key column, the arrays holding new keys
	keyType []arrow.DataType
	accs    []expr.Accumulator
	ids     []uint32
	newRows []int32
}

func (a *HashAggregateExec) newState() (*groupState, error) {
	keyTypes := make([]arrow.DataType, len(a.groups))
	for i, g := range a.groups {
		t, err := g.Resolve(a.in)
		if err != nil {
			return nil, err
		}
		keyTypes[i] = t.DataType
	}
	aggs := make([]expr.Expr, len(a.aggs))
	for i, ae := range a.aggs {
		aggs[i] = ae
	}
	st, _, err := newAggState(keyTypes, a.in, aggs)
	return st, err
}

func (st *groupState) release() {
	for _, cs := range st.keyCols {
		releaseArrays(cs)
	}
}

// addKeys assigns group ids to n rows with the given key arrays, keeping
// the key values of new groups. Without keys every row is group 0.
func (st *groupState) addKeys(c *Context, keys []arrow.Array, n int) (int, error) {
	st.ids = grow(st.ids, n)
	if len(keys) == 0 {
		clear(st.ids)
		return 1, nil
	}
	st.newRows = st.km.assign(keys, n, st.ids, st.newRows[:0])
	if len(st.newRows) == n && n > 0 {
		// Every row made a new key (in row order): keep the arrays as
		// they are rather than copy them.
		for i, k := range keys {
			k.Retain()
			st.keyCols[i] = append(st.keyCols[i], k)
		}
	} else if len(st.newRows) > 0 {
		idx := int32Array(c, st.newRows)
		taken, err := takeArrays(c, keys, idx)
		idx.Release()
		if err != nil {
			return 0, err
		}
		for i, t := range taken {
			st.keyCols[i] = append(st.keyCols[i], t)
		}
	}
	return st.km.len(), nil
}

// keys returns the key columns of all groups. A column of several parts
// is kept as its concatenation from then on, so that a state asked again
// (exec.GroupTable, from batch to batch) concatenates only what was added
// since.
func (st *groupState) keys(c *Context) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(st.keyCols))
	for i, parts := range st.keyCols {
		switch len(parts) {
		case 0:
			out[i] = array.MakeArrayOfNull(c.Alloc, st.keyType[i], 0)
		case 1:
			parts[0].Retain()
			out[i] = parts[0]
		default:
			a, err := array.Concatenate(parts, c.Alloc)
			if err != nil {
				releaseArrays(out)
				return nil, fmt.Errorf("exec: %w", err)
			}
			releaseArrays(parts)
			a.Retain()
			st.keyCols[i] = []arrow.Array{a}
			out[i] = a
		}
	}
	return out, nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

func evalAll(ec *expr.EvalContext, es []expr.Expr, b arrow.RecordBatch) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(es))
	for i, e := range es {
		if e == nil {
			continue
		}
		a, err := e.Eval(ec, b)
		if err != nil {
			releaseArrays(out)
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// partial is the map side: aggregate one input partition, split the
// states by key.
func (a *HashAggregateExec) partial(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
	c := a.c
	ec := c.evalContext(ctx)
	st, err := a.newState()
	if err != nil {
		return nil, err
	}
	defer st.release()
	args := make([]expr.Expr, len(a.aggs))
	for i, ae := range a.aggs {
		args[i] = ae.Arg
	}
	update := func(b arrow.RecordBatch) error {
		n := int(b.NumRows())
		keys, err := evalAll(ec, a.groups, b)
		if err != nil {
			return err
		}
		defer releaseArrays(keys)
		ng, err := st.addKeys(c, keys, n)
		if err != nil {
			return err
		}
		vals, err := evalAll(ec, args, b)
		if err != nil {
			return err
		}
		defer releaseArrays(vals)
		for i, acc := range st.accs {
			if err := acc.Update(ec, st.ids[:n], ng, vals[i]); err != nil {
				return fmt.Errorf("exec: %s: %w", a.aggs[i], err)
			}
		}
		return nil
	}
	if len(a.groups) == 0 {
		// One group even for an empty partition, so a global aggregate
		// always has a row.
		empty := emptyBatch(c, a.in)
		err := update(empty)
		empty.Release()
		if err != nil {
			return nil, err
		}
	}
	if err := a.inputs[0].Execute(ctx, tc, tc.Partition(), update); err != nil {
		return nil, err
	}
	keys, err := st.keys(c)
	if err != nil {
		return nil, err
	}
	cols := keys
	defer func() { releaseArrays(cols) }()
	var fields []arrow.Field
	for i, g := range a.groups {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("k%d_%s", i, expr.Name(g)), Type: st.keyType[i], Nullable: true})
	}
	for i, acc := range st.accs {
		states, err := acc.State(ec)
		if err != nil {
			return nil, err
		}
		for j, s := range states {
			cols = append(cols, s)
			fields = append(fields, arrow.Field{Name: fmt.Sprintf("s%d_%d", i, j), Type: s.DataType(), Nullable: true})
		}
	}
	rows := st.km.len()
	if len(a.groups) == 0 {
		rows = 1
	}
	sb := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(rows))
	defer sb.Release()
	bk := buckets(c.Engine.HashSeed(), sb.Columns()[:len(a.groups)], rows, a.dep.NumBuckets)
	return splitByBucket(c, sb, bk, a.dep.NumBuckets)
}

// Execute is the reduce side: merge the partial states of one bucket.
func (a *HashAggregateExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	c := a.c
	ec := c.evalContext(ctx)
	batches, err := readShuffle(tc, a.dep, part)
	if err != nil {
		return err
	}
	st, err := a.newState()
	if err != nil {
		return err
	}
	defer st.release()
	nk := len(a.groups)
	for _, b := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(b.NumRows())
		ng, err := st.addKeys(c, b.Columns()[:nk], n)
		if err != nil {
			return err
		}
		col := nk
		for i, acc := range st.accs {
			k := len(acc.StateTypes())
			if err := acc.Merge(ec, st.ids[:n], ng, b.Columns()[col:col+k]); err != nil {
				return fmt.Errorf("exec: %s: %w", a.aggs[i], err)
			}
			col += k
		}
	}
	if len(batches) == 0 && nk > 0 {
		return nil
	}
	cols, err := st.keys(c)
	if err != nil {
		return err
	}
	defer func() { releaseArrays(cols) }()
	for i, acc := range st.accs {
		f, err := acc.Final(ec)
		if err != nil {
			return fmt.Errorf("exec: %s: %w", a.aggs[i], err)
		}
		want := a.schema.Field(nk + i).Type
		if !arrow.TypeEqual(f.DataType(), want) {
			cf, err := expr.CastArray(ec, f, want)
			f.Release()
			if err != nil {
				return err
			}
			f = cf
		}
		cols = append(cols, f)
	}
	rows := st.km.len()
	if nk == 0 {
		rows = 1
	}
	out := array.NewRecordBatch(a.schema, cols, int64(rows))
	defer out.Release()
	return emitChunks(out, c.BatchRows, emit)
}

// DedupExec keeps the first row per key: per map partition, then again
// after shuffling by key.
type DedupExec struct {
	base
	c    *Context
	keys []string
	dep  *engine.ShuffleDependency
}

func newDedup(c *Context, child Operator, keys []string) (*DedupExec, error) {
	d := &DedupExec{c: c, keys: keys}
	dep, err := c.newShuffle(child, c.ShufflePartitions, d.mapSide)
	if err != nil {
		return nil, err
	}
	d.dep = dep
	d.base = base{id: c.Engine.NewID(), parts: c.ShufflePartitions, deps: []engine.Dependency{dep}, name: "Deduplicate", schema: child.Schema(), inputs: []Operator{child}}
	return d, nil
}

// Describe implements Operator.
func (d *DedupExec) Describe() []string {
	keys := ""
	for i, k := range d.keys {
		if i > 0 {
			keys += ", "
		}
		keys += k
	}
	return []string{
		fmt.Sprintf("Deduplicate(keys=[%s], mode=final)", keys),
		fmt.Sprintf("Exchange hashpartitioning(%s, %d)", keys, d.parts),
		fmt.Sprintf("Deduplicate(keys=[%s], mode=partial)", keys),
	}
}

func (d *DedupExec) keyArrays(b arrow.RecordBatch) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(d.keys))
	for i, k := range d.keys {
		j, err := expr.FieldIndex(b.Schema(), k)
		if err != nil {
			return nil, err
		}
		out[i] = b.Column(j)
	}
	return out, nil
}

// firsts feeds batches through a key map and returns, per batch, the rows
// whose key is new.
func (d *DedupExec) firsts(km *keyMap, b arrow.RecordBatch, ids []uint32, rows []int32) (arrow.RecordBatch, []int32, error) {
	keys, err := d.keyArrays(b)
	if err != nil {
		return nil, rows, err
	}
	rows = km.assign(keys, int(b.NumRows()), ids, rows[:0])
	if len(rows) == 0 {
		return nil, rows, nil
	}
	if len(rows) == int(b.NumRows()) {
		b.Retain()
		return b, rows, nil
	}
	idx := int32Array(d.c, rows)
	defer idx.Release()
	t, err := takeBatch(d.c, b, idx)
	return t, rows, err
}

func (d *DedupExec) keyTypes() []arrow.DataType {
	var ts []arrow.DataType
	for _, k := range d.keys {
		j, _ := expr.FieldIndex(d.schema, k)
		ts = append(ts, d.schema.Field(j).Type)
	}
	return ts
}

func (d *DedupExec) mapSide(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
	km := newKeyMap(d.keyTypes())
	var ids []uint32
	var rows []int32
	out := make([][]arrow.RecordBatch, d.dep.NumBuckets)
	err := d.inputs[0].Execute(ctx, tc, tc.Partition(), func(b arrow.RecordBatch) error {
		ids = grow(ids, int(b.NumRows()))
		f, r, err := d.firsts(km, b, ids, rows)
		rows = r
		if err != nil || f == nil {
			return err
		}
		defer f.Release()
		keys, err := d.keyArrays(f)
		if err != nil {
			return err
		}
		bk := buckets(d.c.Engine.HashSeed(), keys, int(f.NumRows()), d.dep.NumBuckets)
		return appendByBucket(d.c, f, bk, out)
	})
	return out, err
}

// Execute implements Operator.
func (d *DedupExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	batches, err := readShuffle(tc, d.dep, part)
	if err != nil {
		return err
	}
	km := newKeyMap(d.keyTypes())
	var ids []uint32
	var rows []int32
	for _, b := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		ids = grow(ids, int(b.NumRows()))
		f, r, err := d.firsts(km, b, ids, rows)
		rows = r
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		err = emit(f)
		f.Release()
		if err != nil {
			return err
		}
	}
	return nil
}
