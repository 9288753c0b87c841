package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	cexec "github.com/apache/arrow-go/v18/arrow/compute/exec"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/plan"
)

// SortExec is a total sort: every partition is gathered into one (sorted
// locally first and cut to the limit, when there is one), then sorted. A
// limit makes it a top-k.
type SortExec struct {
	base
	c      *Context
	orders []plan.SortOrder
	limit  int64 // -1: none
	dep    *engine.ShuffleDependency
}

func newSort(c *Context, child Operator, orders []plan.SortOrder, limit int64) (*SortExec, error) {
	s := &SortExec{c: c, orders: orders, limit: limit}
	dep, err := c.newShuffle(child, 1, func(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
		bs, err := gatherPartition(ctx, tc, child)
		if err != nil || limit < 0 || len(bs) == 0 {
			return [][]arrow.RecordBatch{bs}, err
		}
		defer releaseBatches(bs)
		top, err := s.sortBatches(ctx, child.Schema(), bs)
		if err != nil {
			return nil, err
		}
		return [][]arrow.RecordBatch{{top}}, nil
	})
	if err != nil {
		return nil, err
	}
	s.dep = dep
	s.base = base{id: c.Engine.NewID(), parts: 1, deps: []engine.Dependency{dep}, name: "Sort", schema: child.Schema(), inputs: []Operator{child}}
	return s, nil
}

func (s *SortExec) orderText() string {
	parts := make([]string, len(s.orders))
	for i, o := range s.orders {
		parts[i] = o.String()
	}
	return strings.Join(parts, ", ")
}

func (s *SortExec) Describe() []string {
	if s.limit >= 0 {
		return []string{fmt.Sprintf("TakeOrdered(limit=%d, order=[%s])", s.limit, s.orderText()), "Exchange SinglePartition"}
	}
	return []string{fmt.Sprintf("Sort [%s]", s.orderText()), "Exchange SinglePartition"}
}

// gatherPartition collects (retains) every batch of one input partition.
func gatherPartition(ctx context.Context, tc *engine.TaskContext, in Operator) ([]arrow.RecordBatch, error) {
	var out []arrow.RecordBatch
	err := in.Execute(ctx, tc, tc.Partition(), func(b arrow.RecordBatch) error {
		if b.NumRows() > 0 {
			b.Retain()
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		releaseBatches(out)
		return nil, err
	}
	return out, nil
}

// sortBatches sorts the rows of bs (cut to the limit).
func (s *SortExec) sortBatches(ctx context.Context, schema *arrow.Schema, bs []arrow.RecordBatch) (arrow.RecordBatch, error) {
	all, err := concatBatches(s.c, schema, bs)
	if err != nil {
		return nil, err
	}
	defer all.Release()
	ec := s.c.evalContext(ctx)
	keys := make([]arrow.Array, len(s.orders))
	defer releaseArrays(keys)
	fields := make([]arrow.Field, len(s.orders))
	sk := make([]compute.SortKey, len(s.orders))
	for i, o := range s.orders {
		k, err := o.Expr.Eval(ec, all)
		if err != nil {
			return nil, err
		}
		keys[i] = k
		fields[i] = arrow.Field{Name: fmt.Sprintf("k%d", i), Type: k.DataType(), Nullable: true}
		sk[i] = compute.SortKey{ColumnIndex: i, Order: compute.SortOrderAscending, NullPlacement: compute.SortNullsAtEnd}
		if o.Desc {
			sk[i].Order = compute.SortOrderDescending
		}
		if o.NullsFirst {
			sk[i].NullPlacement = compute.SortNullsAtStart
		}
	}
	kb := array.NewRecordBatch(arrow.NewSchema(fields, nil), keys, all.NumRows())
	defer kb.Release()
	// arrow-go v18.8.0's sort_indices does not release its scratch buffer
	// for multi-key sorts and columns with nulls; run it on the Go
	// allocator (garbage collected) so that it cannot leak from the
	// query's allocator. The indices are released as usual.
	idx, err := compute.SortIndicesRecordBatch(cexec.WithAllocator(ctx, memory.DefaultAllocator), kb, sk)
	if err != nil {
		return nil, fmt.Errorf("exec: sort: %w", err)
	}
	defer idx.Release()
	if s.limit >= 0 && int64(idx.Len()) > s.limit {
		cut := array.NewSlice(idx, 0, s.limit)
		defer cut.Release()
		idx = cut
	}
	return takeBatch(s.c, all, idx)
}

func (s *SortExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	bs, err := readShuffle(tc, s.dep, part)
	if err != nil || len(bs) == 0 {
		return err
	}
	out, err := s.sortBatches(ctx, s.schema, bs)
	if err != nil {
		return err
	}
	defer out.Release()
	return emitChunks(out, s.c.BatchRows, emit)
}

// LimitExec keeps the first N rows: each map task passes on at most N
// rows of its partition, and one reduce task the first N of them, in
// partition order.
type LimitExec struct {
	base
	c   *Context
	n   int64
	dep *engine.ShuffleDependency
}

func newLimit(c *Context, child Operator, n int64) (*LimitExec, error) {
	l := &LimitExec{c: c, n: n}
	dep, err := c.newShuffle(child, 1, func(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
		var out []arrow.RecordBatch
		left := n
		stop := fmt.Errorf("limit reached")
		err := child.Execute(ctx, tc, tc.Partition(), func(b arrow.RecordBatch) error {
			if left <= 0 {
				return stop
			}
			rows := min(left, b.NumRows())
			out = append(out, b.NewSlice(0, rows))
			left -= rows
			if left <= 0 {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			releaseBatches(out)
			return nil, err
		}
		return [][]arrow.RecordBatch{out}, nil
	})
	if err != nil {
		return nil, err
	}
	l.dep = dep
	l.base = base{id: c.Engine.NewID(), parts: 1, deps: []engine.Dependency{dep}, name: "Limit", schema: child.Schema(), inputs: []Operator{child}}
	return l, nil
}

func (l *LimitExec) Describe() []string {
	return []string{fmt.Sprintf("GlobalLimit %d", l.n), "Exchange SinglePartition", fmt.Sprintf("LocalLimit %d", l.n)}
}

func (l *LimitExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	bs, err := readShuffle(tc, l.dep, part)
	if err != nil {
		return err
	}
	left := l.n
	for _, b := range bs {
		if left <= 0 {
			break
		}
		rows := min(left, b.NumRows())
		s := b.NewSlice(0, rows)
		err := emit(s)
		s.Release()
		if err != nil {
			return err
		}
		left -= rows
	}
	return nil
}
