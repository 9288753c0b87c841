package exec

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// HashJoinExec joins on equal keys with a hash table built from the right
// side and probed with the left. As a broadcast join the whole right side
// is gathered once (a one-bucket shuffle that every left task reads) and
// the left side is not shuffled; as a shuffle hash join both sides are
// shuffled by key into the same number of partitions. Rows with a null
// key never match.
type HashJoinExec struct {
	base
	c                   *Context
	jt                  plan.JoinType
	leftKeys, rightKeys []expr.Expr
	keyTypes            []arrow.DataType
	cond                expr.Expr
	combined            *arrow.Schema
	broadcast           bool
	leftDep, rightDep   *engine.ShuffleDependency

	once  sync.Once
	table *buildTable
	err   error
}

func newHashJoin(c *Context, left, right Operator, j *plan.Join, broadcast bool) (*HashJoinExec, error) {
	h := &HashJoinExec{c: c, jt: j.Type, leftKeys: j.LeftKeys, rightKeys: j.RightKeys, cond: j.Condition, combined: j.CombinedSchema(), broadcast: broadcast}
	for i := range j.LeftKeys {
		lt, err := j.LeftKeys[i].Resolve(left.Schema())
		if err != nil {
			return nil, err
		}
		rt, err := j.RightKeys[i].Resolve(right.Schema())
		if err != nil {
			return nil, err
		}
		ct, ok := expr.CompareType(lt.DataType, rt.DataType)
		if !ok {
			return nil, fmt.Errorf("exec: cannot join %s with %s", lt.DataType, rt.DataType)
		}
		h.keyTypes = append(h.keyTypes, ct)
	}
	name := "ShuffledHashJoin"
	if len(j.LeftKeys) == 0 {
		// Every row goes to one bucket: the shuffle gathers both sides.
		name = "ShuffledNestedLoopJoin"
	}
	if broadcast {
		name = "BroadcastHashJoin"
		if len(j.LeftKeys) == 0 {
			name = "BroadcastNestedLoopJoin"
		}
		dep, err := c.newShuffle(right, 1, func(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
			bs, err := gatherPartition(ctx, tc, right)
			return [][]arrow.RecordBatch{bs}, err
		})
		if err != nil {
			return nil, err
		}
		h.rightDep = dep
		h.base = base{id: c.Engine.NewID(), parts: left.NumPartitions(), name: name, schema: j.Schema(), inputs: []Operator{left, right},
			deps: []engine.Dependency{&engine.NarrowDependency{Parent: left}, dep}}
		return h, nil
	}
	n := c.ShufflePartitions
	var err error
	if h.leftDep, err = c.newShuffle(left, n, h.shuffleSide(left, h.leftKeys)); err != nil {
		return nil, err
	}
	if h.rightDep, err = c.newShuffle(right, n, h.shuffleSide(right, h.rightKeys)); err != nil {
		return nil, err
	}
	h.base = base{id: c.Engine.NewID(), parts: n, name: name, schema: j.Schema(), inputs: []Operator{left, right},
		deps: []engine.Dependency{h.leftDep, h.rightDep}}
	return h, nil
}

// Describe implements Operator.
func (h *HashJoinExec) Describe() []string {
	keys := ""
	for i := range h.leftKeys {
		if i > 0 {
			keys += ", "
		}
		keys += fmt.Sprintf("%s = %s", h.leftKeys[i], h.rightKeys[i])
	}
	d := fmt.Sprintf("%s %s, [%s]", h.name, h.jt, keys)
	if len(h.leftKeys) == 0 {
		d = fmt.Sprintf("%s %s", h.name, h.jt)
	}
	if h.cond != nil {
		d += ", " + h.cond.String()
	}
	return []string{d}
}

// keyArrays evaluates the join keys of b, cast to the common key types.
func (h *HashJoinExec) keyArrays(ec *expr.EvalContext, keys []expr.Expr, b arrow.RecordBatch) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(keys))
	for i, k := range keys {
		a, err := k.Eval(ec, b)
		if err != nil {
			releaseArrays(out)
			return nil, err
		}
		c, err := expr.CastArray(ec, a, h.keyTypes[i])
		a.Release()
		if err != nil {
			releaseArrays(out)
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func (h *HashJoinExec) shuffleSide(in Operator, keys []expr.Expr) func(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
	return func(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
		ec := h.c.evalContext(ctx)
		n := h.c.ShufflePartitions
		out := make([][]arrow.RecordBatch, n)
		err := in.Execute(ctx, tc, tc.Partition(), func(b arrow.RecordBatch) error {
			ks, err := h.keyArrays(ec, keys, b)
			if err != nil {
				return err
			}
			bk := buckets(h.c.Engine.HashSeed(), ks, int(b.NumRows()), n)
			releaseArrays(ks)
			return appendByBucket(h.c, b, bk, out)
		})
		if err != nil {
			for _, bs := range out {
				releaseBatches(bs)
			}
			return nil, err
		}
		return out, nil
	}
}

// buildTable is the hash table over the right side's rows.
type buildTable struct {
	batch   arrow.RecordBatch
	km      *keyMap
	head    []int32 // per key id, the first row with that key
	next    []int32 // per row, the next row with the same key (-1: none)
	matched []bool  // per row, whether a left row matched it
}

func (h *HashJoinExec) build(ctx context.Context, bs []arrow.RecordBatch) (*buildTable, error) {
	right := h.inputs[1].Schema()
	all, err := concatBatches(h.c, right, bs)
	if err != nil {
		return nil, err
	}
	t := &buildTable{batch: all, km: newKeyMap(h.keyTypes)}
	ec := h.c.evalContext(ctx)
	keys, err := h.keyArrays(ec, h.rightKeys, all)
	if err != nil {
		all.Release()
		return nil, err
	}
	defer releaseArrays(keys)
	n := int(all.NumRows())
	ids := make([]uint32, n)
	t.km.assign(keys, n, ids, nil)
	t.head = make([]int32, t.km.len())
	for i := range t.head {
		t.head[i] = -1
	}
	t.next = make([]int32, n)
	for i := n - 1; i >= 0; i-- {
		null := false
		for _, k := range keys {
			null = null || k.IsNull(i)
		}
		if null {
			t.next[i] = -1
			continue
		}
		t.next[i] = t.head[ids[i]]
		t.head[ids[i]] = int32(i)
	}
	t.matched = make([]bool, n)
	return t, nil
}

// Execute implements Operator.
func (h *HashJoinExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	var t *buildTable
	probe := func(yield func(arrow.RecordBatch) error) error {
		return h.inputs[0].Execute(ctx, tc, part, yield)
	}
	if h.broadcast {
		h.once.Do(func() {
			bs, err := readShuffle(tc, h.rightDep, 0)
			if err != nil {
				h.err = err
				return
			}
			h.table, h.err = h.build(ctx, bs)
			if h.err == nil {
				h.c.keep(h.table.batch)
				h.table.batch.Release()
			}
		})
		if h.err != nil {
			return h.err
		}
		t = h.table
	} else {
		bs, err := readShuffle(tc, h.rightDep, part)
		if err != nil {
			return err
		}
		if t, err = h.build(ctx, bs); err != nil {
			return err
		}
		defer t.batch.Release()
		lbs, err := readShuffle(tc, h.leftDep, part)
		if err != nil {
			return err
		}
		probe = func(yield func(arrow.RecordBatch) error) error {
			for _, b := range lbs {
				if err := yield(b); err != nil {
					return err
				}
			}
			return nil
		}
	}
	ec := h.c.evalContext(ctx)
	err := probe(func(b arrow.RecordBatch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(h.leftKeys) > 0 || t.batch.NumRows() == 0 {
			return h.probeAndEmit(ec, t, b, emit)
		}
		// Without keys every left row pairs with every right row: probe
		// slices of the left batch so that a slice makes at most
		// maxPairs candidate pairs.
		step := max(1, maxPairs/int(t.batch.NumRows()))
		for lo := 0; lo < int(b.NumRows()); lo += step {
			s := b.NewSlice(int64(lo), int64(min(lo+step, int(b.NumRows()))))
			err := h.probeAndEmit(ec, t, s, emit)
			s.Release()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if h.jt == plan.RightOuterJoin || h.jt == plan.FullOuterJoin {
		var rows []int32
		for i, m := range t.matched {
			if !m {
				rows = append(rows, int32(i))
			}
		}
		if len(rows) > 0 {
			out, err := h.assemble(nil, t, nil, rows, len(rows))
			if err != nil {
				return err
			}
			defer out.Release()
			return emitChunks(out, h.c.BatchRows, emit)
		}
	}
	return nil
}

// maxPairs bounds the candidate pairs of one probe of a join without keys.
const maxPairs = 1 << 20

func (h *HashJoinExec) probeAndEmit(ec *expr.EvalContext, t *buildTable, b arrow.RecordBatch, emit Emit) error {
	out, err := h.probeBatch(ec, t, b)
	if err != nil || out == nil {
		return err
	}
	defer out.Release()
	return emitChunks(out, h.c.BatchRows, emit)
}

// probeBatch joins one left batch against the table.
func (h *HashJoinExec) probeBatch(ec *expr.EvalContext, t *buildTable, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	keys, err := h.keyArrays(ec, h.leftKeys, b)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(keys)
	n := int(b.NumRows())
	var enc *encoder
	if !t.km.fast {
		enc = newEncoder(keys)
	}
	var lidx, ridx []int32
	var buf []byte
	for i := range n {
		id, ok := t.km.find(keys, enc, i, &buf)
		if !ok {
			continue
		}
		for r := t.head[id]; r >= 0; r = t.next[r] {
			lidx = append(lidx, int32(i))
			ridx = append(ridx, r)
		}
	}
	if h.cond != nil && len(lidx) > 0 {
		cand, err := h.assembleCombined(b, t, lidx, ridx)
		if err != nil {
			return nil, err
		}
		m, err := h.cond.Eval(ec, cand)
		cand.Release()
		if err != nil {
			return nil, err
		}
		mask := m.(*array.Boolean)
		k := 0
		for i := range lidx {
			if mask.IsValid(i) && mask.Value(i) {
				lidx[k], ridx[k] = lidx[i], ridx[i]
				k++
			}
		}
		m.Release()
		lidx, ridx = lidx[:k], ridx[:k]
	}
	if h.jt == plan.RightOuterJoin || h.jt == plan.FullOuterJoin {
		for _, r := range ridx {
			t.matched[r] = true
		}
	}
	switch h.jt {
	case plan.LeftSemiJoin, plan.LeftAntiJoin:
		hit := make([]bool, n)
		for _, l := range lidx {
			hit[l] = true
		}
		var rows []int32
		for i, m := range hit {
			if m == (h.jt == plan.LeftSemiJoin) {
				rows = append(rows, int32(i))
			}
		}
		if len(rows) == 0 {
			return nil, nil
		}
		idx := int32Array(h.c, rows)
		defer idx.Release()
		return takeBatch(h.c, b, idx)
	case plan.LeftOuterJoin, plan.FullOuterJoin:
		hit := make([]bool, n)
		for _, l := range lidx {
			hit[l] = true
		}
		for i, m := range hit {
			if !m {
				lidx = append(lidx, int32(i))
				ridx = append(ridx, -1)
			}
		}
	}
	if len(lidx) == 0 {
		return nil, nil
	}
	return h.assemble(b, t, lidx, ridx, len(lidx))
}

// indexArray makes take indices; -1 entries become nulls.
func indexArray(c *Context, v []int32) arrow.Array {
	b := array.NewInt32Builder(c.Alloc)
	defer b.Release()
	b.Reserve(len(v))
	for _, x := range v {
		if x < 0 {
			b.AppendNull()
		} else {
			b.UnsafeAppend(x)
		}
	}
	return b.NewArray()
}

// sideColumns takes rows idx (nil: n null rows) of batch b of schema s.
func (h *HashJoinExec) sideColumns(b arrow.RecordBatch, s *arrow.Schema, idx []int32, n int) ([]arrow.Array, error) {
	if b == nil || idx == nil {
		cols := make([]arrow.Array, s.NumFields())
		for i, f := range s.Fields() {
			cols[i] = array.MakeArrayOfNull(h.c.Alloc, f.Type, n)
		}
		return cols, nil
	}
	ia := indexArray(h.c, idx)
	defer ia.Release()
	return takeArrays(h.c, b.Columns(), ia)
}

func (h *HashJoinExec) assembleWith(schema *arrow.Schema, left arrow.RecordBatch, t *buildTable, lidx, ridx []int32, n int) (arrow.RecordBatch, error) {
	lc, err := h.sideColumns(left, h.inputs[0].Schema(), lidx, n)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(lc)
	rc, err := h.sideColumns(t.batch, h.inputs[1].Schema(), ridx, n)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(rc)
	return array.NewRecordBatch(schema, append(append([]arrow.Array{}, lc...), rc...), int64(n)), nil
}

func (h *HashJoinExec) assembleCombined(left arrow.RecordBatch, t *buildTable, lidx, ridx []int32) (arrow.RecordBatch, error) {
	return h.assembleWith(h.combined, left, t, lidx, ridx, len(lidx))
}

func (h *HashJoinExec) assemble(left arrow.RecordBatch, t *buildTable, lidx, ridx []int32, n int) (arrow.RecordBatch, error) {
	return h.assembleWith(h.schema, left, t, lidx, ridx, n)
}
