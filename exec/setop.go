package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/plan"
)

// SetOpExec computes INTERSECT and EXCEPT, DISTINCT or ALL. Both inputs
// are shuffled by all their columns into the same partitions (for the
// DISTINCT forms each map task first drops the rows it has already seen),
// so equal rows meet in one reduce task. There the right rows are counted
// per distinct row in a key map, in which nulls are a value of their own
// (a null equals a null, unlike join keys), and the left rows stream
// through the same map: the k-th copy of a row that the right side has m
// times is kept when k <= m (Intersect All), k > m (Except All), or k = 1
// and m > 0 (Intersect) or m = 0 (Except). Kept rows are emitted in the
// order of the left partition.
type SetOpExec struct {
	base
	c                 *Context
	kind              plan.SetOpKind
	all               bool
	types             []arrow.DataType
	leftDep, rightDep *engine.ShuffleDependency
}

func newSetOp(c *Context, left, right Operator, s *plan.SetOp) (*SetOpExec, error) {
	x := &SetOpExec{c: c, kind: s.Kind, all: s.All}
	for _, f := range s.Schema().Fields() {
		x.types = append(x.types, f.Type)
	}
	n := c.ShufflePartitions
	var err error
	if x.leftDep, err = c.newShuffle(left, n, x.shuffleSide(left)); err != nil {
		return nil, err
	}
	if x.rightDep, err = c.newShuffle(right, n, x.shuffleSide(right)); err != nil {
		return nil, err
	}
	x.base = base{id: c.Engine.NewID(), parts: n, name: "HashSetOp", schema: s.Schema(), inputs: []Operator{left, right},
		deps: []engine.Dependency{x.leftDep, x.rightDep}}
	return x, nil
}

// Describe implements Operator.
func (x *SetOpExec) Describe() []string {
	op := x.kind.String()
	if x.all {
		op += " All"
	}
	return []string{fmt.Sprintf("HashSetOp %s, [%s], hashpartitioning(%d)", op, names(x.schema), x.parts)}
}

// shuffleSide is the map side of the shuffle of one input.
func (x *SetOpExec) shuffleSide(in Operator) func(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
	return func(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
		n := x.c.ShufflePartitions
		out := make([][]arrow.RecordBatch, n)
		var seen *keyMap // the DISTINCT forms need one copy of each row
		if !x.all {
			seen = newKeyMap(x.types)
		}
		var ids []uint32
		var rows []int32
		err := in.Execute(ctx, tc, tc.Partition(), func(b arrow.RecordBatch) error {
			if b.NumRows() == 0 {
				return nil
			}
			if seen != nil {
				ids = grow(ids, int(b.NumRows()))
				rows = seen.assign(b.Columns(), int(b.NumRows()), ids, rows[:0])
				if len(rows) == 0 {
					return nil
				}
				if len(rows) < int(b.NumRows()) {
					idx := int32Array(x.c, rows)
					firsts, err := takeBatch(x.c, b, idx)
					idx.Release()
					if err != nil {
						return err
					}
					defer firsts.Release()
					b = firsts
				}
			}
			bk := buckets(x.c.Engine.HashSeed(), b.Columns(), int(b.NumRows()), n)
			return appendByBucket(x.c, b, bk, out)
		})
		return out, err
	}
}

// keep reports whether the seen-th copy of a left row is in the output
// when the right side has right copies of it.
func (x *SetOpExec) keep(seen, right int64) bool {
	switch {
	case x.kind == plan.SetIntersect && x.all:
		return seen <= right
	case x.kind == plan.SetIntersect:
		return seen == 1 && right > 0
	case x.all:
		return seen > right
	default:
		return seen == 1 && right == 0
	}
}

// Execute implements Operator.
func (x *SetOpExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	rbs, err := readShuffle(tc, x.rightDep, part)
	if err != nil {
		return err
	}
	km := newKeyMap(x.types)
	var ids []uint32
	var scratch []int32
	var rightCount []int64 // per key id
	for _, b := range rbs {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(b.NumRows())
		ids = grow(ids, n)
		scratch = km.assign(b.Columns(), n, ids, scratch[:0])
		rightCount = zeroExtend(rightCount, km.len())
		for _, id := range ids[:n] {
			rightCount[id]++
		}
	}
	lbs, err := readShuffle(tc, x.leftDep, part)
	if err != nil {
		return err
	}
	var seen []int64 // per key id, the left copies met so far
	var rows []int32
	for _, b := range lbs {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(b.NumRows())
		ids = grow(ids, n)
		scratch = km.assign(b.Columns(), n, ids, scratch[:0])
		seen = zeroExtend(seen, km.len())
		rows = rows[:0]
		for i, id := range ids[:n] {
			seen[id]++
			var right int64
			if int(id) < len(rightCount) {
				right = rightCount[id]
			}
			if x.keep(seen[id], right) {
				rows = append(rows, int32(i))
			}
		}
		if err := x.emitRows(b, rows, emit); err != nil {
			return err
		}
	}
	return nil
}

// emitRows emits rows of the left batch b under the operator's schema
// (whose nullability may differ from the left input's).
func (x *SetOpExec) emitRows(b arrow.RecordBatch, rows []int32, emit Emit) error {
	if len(rows) == 0 {
		return nil
	}
	if len(rows) < int(b.NumRows()) {
		idx := int32Array(x.c, rows)
		t, err := takeBatch(x.c, b, idx)
		idx.Release()
		if err != nil {
			return err
		}
		defer t.Release()
		b = t
	}
	out := array.NewRecordBatch(x.schema, b.Columns(), b.NumRows())
	defer out.Release()
	return emitChunks(out, x.c.BatchRows, emit)
}

// zeroExtend returns s grown to length n with zeros.
func zeroExtend(s []int64, n int) []int64 {
	if n > len(s) {
		s = append(s, make([]int64, n-len(s))...)
	}
	return s
}
