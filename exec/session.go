package exec

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// MergeSessionsExec computes session bounds (plan.MergeSessions): its
// input is shuffled by the session keys, and each reduce task sorts the
// intervals of each key by start and merges the overlapping ones. A
// reduce task holds its whole partition in memory.
type MergeSessionsExec struct {
	base
	c          *Context
	keys       []string
	start, end int // column indexes of the bounds
	dep        *engine.ShuffleDependency
}

func newMergeSessions(c *Context, child Operator, m *plan.MergeSessions) (*MergeSessionsExec, error) {
	s := child.Schema()
	e := &MergeSessionsExec{c: c, keys: m.Keys}
	var err error
	if e.start, err = expr.FieldIndex(s, m.Start); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	if e.end, err = expr.FieldIndex(s, m.End); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	parts := c.ShufflePartitions
	if len(m.Keys) == 0 {
		parts = 1
	}
	dep, err := c.newShuffle(child, parts, e.mapSide)
	if err != nil {
		return nil, err
	}
	e.dep = dep
	e.base = base{id: c.Engine.NewID(), parts: parts, deps: []engine.Dependency{dep}, name: "MergeSessions", schema: s, inputs: []Operator{child}}
	return e, nil
}

// Describe implements Operator.
func (e *MergeSessionsExec) Describe() []string {
	keys := strings.Join(e.keys, ", ")
	ex := fmt.Sprintf("Exchange hashpartitioning(%s, %d)", keys, e.parts)
	if len(e.keys) == 0 {
		ex = "Exchange SinglePartition"
	}
	return []string{
		fmt.Sprintf("MergeSessions(keys=[%s], bounds=[%s, %s))", keys, e.schema.Field(e.start).Name, e.schema.Field(e.end).Name),
		ex,
	}
}

func (e *MergeSessionsExec) keyArrays(b arrow.RecordBatch) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(e.keys))
	for i, k := range e.keys {
		j, err := expr.FieldIndex(b.Schema(), k)
		if err != nil {
			return nil, err
		}
		out[i] = b.Column(j)
	}
	return out, nil
}

func (e *MergeSessionsExec) mapSide(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
	out := make([][]arrow.RecordBatch, e.dep.NumBuckets)
	err := e.inputs[0].Execute(ctx, tc, tc.Partition(), func(b arrow.RecordBatch) error {
		keys, err := e.keyArrays(b)
		if err != nil {
			return err
		}
		bk := buckets(e.c.Engine.HashSeed(), keys, int(b.NumRows()), e.dep.NumBuckets)
		return appendByBucket(e.c, b, bk, out)
	})
	return out, err
}

// Execute implements Operator.
func (e *MergeSessionsExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	batches, err := readShuffle(tc, e.dep, part)
	if err != nil || len(batches) == 0 {
		return err
	}
	b, err := concatBatches(e.c, e.schema, batches)
	if err != nil {
		return err
	}
	defer b.Release()
	if err := ctx.Err(); err != nil {
		return err
	}
	keys, err := e.keyArrays(b)
	if err != nil {
		return err
	}
	n := int(b.NumRows())
	types := make([]arrow.DataType, len(keys))
	for i, k := range keys {
		types[i] = k.DataType()
	}
	ids := make([]uint32, n)
	km := newKeyMap(types)
	if len(keys) > 0 {
		km.assign(keys, n, ids, nil)
	}
	starts, ends, err := sessionBounds(b.Column(e.start), b.Column(e.end), ids)
	if err != nil {
		return err
	}
	cols := slices.Clone(b.Columns())
	sa := timestampArray(e.c, b.Column(e.start), starts)
	defer sa.Release()
	ea := timestampArray(e.c, b.Column(e.end), ends)
	defer ea.Release()
	cols[e.start], cols[e.end] = sa, ea
	out := array.NewRecordBatch(b.Schema(), cols, int64(n))
	defer out.Release()
	return emitChunks(out, e.c.BatchRows, emit)
}

// sessionBounds merges, per key id, the intervals [start, end) of the
// rows whose bounds are both valid, and returns each row's session
// bounds (a row with a null bound keeps its own values).
func sessionBounds(startCol, endCol arrow.Array, ids []uint32) ([]int64, []int64, error) {
	s, ok1 := startCol.(*array.Timestamp)
	e, ok2 := endCol.(*array.Timestamp)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("exec: session bounds must be timestamps, got %s and %s", startCol.DataType(), endCol.DataType())
	}
	n := len(ids)
	starts, ends := make([]int64, n), make([]int64, n)
	order := make([]int32, 0, n)
	for i := range n {
		starts[i], ends[i] = int64(s.Value(i)), int64(e.Value(i))
		if s.IsValid(i) && e.IsValid(i) {
			order = append(order, int32(i))
		}
	}
	// By key, then start: each key's intervals are consecutive.
	slices.SortFunc(order, func(a, b int32) int {
		if ids[a] != ids[b] {
			if ids[a] < ids[b] {
				return -1
			}
			return 1
		}
		switch {
		case starts[a] < starts[b]:
			return -1
		case starts[a] > starts[b]:
			return 1
		}
		return 0
	})
	for lo := 0; lo < len(order); {
		first := order[lo]
		sessStart, sessEnd := starts[first], ends[first]
		hi := lo + 1
		for hi < len(order) && ids[order[hi]] == ids[first] && starts[order[hi]] < sessEnd {
			sessEnd = max(sessEnd, ends[order[hi]])
			hi++
		}
		for _, r := range order[lo:hi] {
			starts[r], ends[r] = sessStart, sessEnd
		}
		lo = hi
	}
	return starts, ends, nil
}

// timestampArray returns vals as an array of like's type and validity.
func timestampArray(c *Context, like arrow.Array, vals []int64) arrow.Array {
	bld := array.NewTimestampBuilder(c.Alloc, like.DataType().(*arrow.TimestampType))
	defer bld.Release()
	bld.Reserve(len(vals))
	for i, v := range vals {
		if like.IsNull(i) {
			bld.AppendNull()
		} else {
			bld.Append(arrow.Timestamp(v))
		}
	}
	return bld.NewArray()
}

// ObserveExec runs plan.Observe: its child's batches, each shown to the
// observer on the way.
type ObserveExec struct {
	base
	fn    func(arrow.RecordBatch)
	label string
}

func newObserve(c *Context, child Operator, o *plan.Observe) *ObserveExec {
	return &ObserveExec{base: newBase(c, "Observe", child.NumPartitions(), child.Schema(), child), fn: o.Fn, label: o.Label}
}

// Describe implements Operator.
func (o *ObserveExec) Describe() []string { return []string{"Observe " + o.label} }

// Execute implements Operator.
func (o *ObserveExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	return o.inputs[0].Execute(ctx, tc, part, func(b arrow.RecordBatch) error {
		o.fn(b)
		return emit(b)
	})
}
