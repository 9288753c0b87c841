package exec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	cexec "github.com/apache/arrow-go/v18/arrow/compute/exec"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/plan"
)

// SortExec is a total sort. Without a limit it range-partitions: a
// sampling job over the input picks ShufflePartitions-1 bounds of the sort
// keys, every row goes to the partition of its key range, and each
// partition is sorted, so the partitions in order are sorted. With a limit
// (a top-k), each map task keeps its own top rows and one partition sorts
// what they kept.
type SortExec struct {
	base
	c      *Context
	orders []plan.SortOrder
	limit  int64 // -1: none
	dep    *engine.ShuffleDependency

	bounds []arrow.Array // range mode: the upper bounds of partitions 0..n-2
}

func newSort(c *Context, child Operator, orders []plan.SortOrder, limit int64) (*SortExec, error) {
	s := &SortExec{c: c, orders: orders, limit: limit}
	if n := c.ShufflePartitions; limit < 0 && n > 1 {
		dep, err := c.newShuffle(child, n, func(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error) {
			return s.rangeSplit(ctx, tc, child, n)
		})
		if err != nil {
			return nil, err
		}
		dep.Prepare = func(ctx context.Context) error { return s.sample(ctx, child, n) }
		s.dep = dep
		s.base = base{id: c.Engine.NewID(), parts: n, deps: []engine.Dependency{dep}, name: "Sort", schema: child.Schema(), inputs: []Operator{child}}
		return s, nil
	}
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

// Describe implements Operator.
func (s *SortExec) Describe() []string {
	if s.parts > 1 {
		return []string{fmt.Sprintf("Sort [%s]", s.orderText()), fmt.Sprintf("Exchange rangepartitioning(%s, %d)", s.orderText(), s.parts)}
	}
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
	keys, err := s.keys(ctx, all)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(keys)
	idx, err := s.sortIndices(ctx, keys, all.NumRows())
	if err != nil {
		return nil, err
	}
	defer idx.Release()
	if s.limit >= 0 && int64(idx.Len()) > s.limit {
		cut := array.NewSlice(idx, 0, s.limit)
		defer cut.Release()
		idx = cut
	}
	return takeBatch(s.c, all, idx)
}

// Execute implements Operator.
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
		if err != nil && !errors.Is(err, stop) {
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

// Describe implements Operator.
func (l *LimitExec) Describe() []string {
	return []string{fmt.Sprintf("GlobalLimit %d", l.n), "Exchange SinglePartition", fmt.Sprintf("LocalLimit %d", l.n)}
}

// Execute implements Operator.
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

// keys evaluates the sort keys over b.
func (s *SortExec) keys(ctx context.Context, b arrow.RecordBatch) ([]arrow.Array, error) {
	ec := s.c.evalContext(ctx)
	keys := make([]arrow.Array, len(s.orders))
	for i, o := range s.orders {
		k, err := o.Expr.Eval(ec, b)
		if err != nil {
			releaseArrays(keys)
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}

// sortIndices returns the order of rows of the key columns.
func (s *SortExec) sortIndices(ctx context.Context, keys []arrow.Array, rows int64) (arrow.Array, error) {
	fields := make([]arrow.Field, len(keys))
	sk := make([]compute.SortKey, len(keys))
	for i, o := range s.orders {
		fields[i] = arrow.Field{Name: fmt.Sprintf("k%d", i), Type: keys[i].DataType(), Nullable: true}
		sk[i] = compute.SortKey{ColumnIndex: i, Order: compute.SortOrderAscending, NullPlacement: compute.SortNullsAtEnd}
		if o.Desc {
			sk[i].Order = compute.SortOrderDescending
		}
		if o.NullsFirst {
			sk[i].NullPlacement = compute.SortNullsAtStart
		}
	}
	kb := array.NewRecordBatch(arrow.NewSchema(fields, nil), keys, rows)
	defer kb.Release()
	// arrow-go v18.8.0's sort_indices does not release its scratch buffer
	// for multi-key sorts and columns with nulls; run it on the Go
	// allocator (garbage collected) so that it cannot leak from the
	// query's allocator. The indices are released as usual.
	idx, err := compute.SortIndicesRecordBatch(cexec.WithAllocator(ctx, memory.DefaultAllocator), kb, sk)
	if err != nil {
		return nil, fmt.Errorf("exec: sort: %w", err)
	}
	return idx, nil
}

// samplesPerBatch is how many evenly spaced rows of each input batch the
// range sampling keeps.
const samplesPerBatch = 64

// sample runs a job over the input that samples the sort keys and sets
// the n-1 range bounds.
func (s *SortExec) sample(ctx context.Context, child Operator, n int) error {
	var mu sync.Mutex
	var samples [][]arrow.Array // per sampled batch, the key columns
	defer func() {
		for _, ks := range samples {
			releaseArrays(ks)
		}
	}()
	err := s.c.Engine.RunJob(ctx, child, nil, "Sort sampling", func(ctx context.Context, tc *engine.TaskContext) error {
		return child.Execute(ctx, tc, tc.Partition(), func(b arrow.RecordBatch) error {
			rows := int(b.NumRows())
			if rows == 0 {
				return nil
			}
			keys, err := s.keys(ctx, b)
			if err != nil {
				return err
			}
			defer releaseArrays(keys)
			k := min(rows, samplesPerBatch)
			idx := make([]int32, k)
			for i := range idx {
				idx[i] = int32(i * rows / k)
			}
			ia := int32Array(s.c, idx)
			defer ia.Release()
			taken, err := takeArrays(s.c, keys, ia)
			if err != nil {
				return err
			}
			mu.Lock()
			samples = append(samples, taken)
			mu.Unlock()
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("exec: sampling the sort keys: %w", err)
	}
	if len(samples) == 0 {
		s.bounds = nil
		return nil
	}
	cols := make([]arrow.Array, len(s.orders))
	defer releaseArrays(cols)
	for c := range cols {
		parts := make([]arrow.Array, len(samples))
		for i, ks := range samples {
			parts[i] = ks[c]
		}
		a, err := array.Concatenate(parts, s.c.Alloc)
		if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		cols[c] = a
	}
	total := cols[0].Len()
	idx, err := s.sortIndices(ctx, cols, int64(total))
	if err != nil {
		return err
	}
	defer idx.Release()
	order := idx.(*array.Uint64).Uint64Values()
	picks := make([]int32, 0, n-1)
	for i := 1; i < n; i++ {
		picks = append(picks, int32(order[min(total-1, i*total/n)]))
	}
	pa := int32Array(s.c, picks)
	defer pa.Release()
	bounds, err := takeArrays(s.c, cols, pa)
	if err != nil {
		return err
	}
	fields := make([]arrow.Field, len(bounds))
	for i, b := range bounds {
		fields[i] = arrow.Field{Name: fmt.Sprintf("k%d", i), Type: b.DataType(), Nullable: true}
	}
	kept := array.NewRecordBatch(arrow.NewSchema(fields, nil), bounds, int64(len(picks)))
	releaseArrays(bounds)
	s.c.keep(kept)
	kept.Release()
	s.bounds = kept.Columns()
	return nil
}

// rangeSplit is the map side of a range-partitioned sort.
func (s *SortExec) rangeSplit(ctx context.Context, tc *engine.TaskContext, child Operator, n int) ([][]arrow.RecordBatch, error) {
	out := make([][]arrow.RecordBatch, n)
	err := child.Execute(ctx, tc, tc.Partition(), func(b arrow.RecordBatch) error {
		rows := int(b.NumRows())
		if rows == 0 {
			return nil
		}
		keys, err := s.keys(ctx, b)
		if err != nil {
			return err
		}
		defer releaseArrays(keys)
		bk := make([]int32, rows)
		if len(s.bounds) > 0 {
			nb := s.bounds[0].Len()
			for i := range bk {
				bk[i] = int32(sort.Search(nb, func(j int) bool { return compareKeys(keys, i, s.bounds, j, s.orders) < 0 }))
			}
		}
		return appendByBucket(s.c, b, bk, out)
	})
	if err != nil {
		for _, bs := range out {
			releaseBatches(bs)
		}
		return nil, err
	}
	return out, nil
}

// compareKeys compares row i of keys a with row j of keys b in the sort
// order (as Arrow's sort orders them: NaN after numbers).
func compareKeys(a []arrow.Array, i int, b []arrow.Array, j int, orders []plan.SortOrder) int {
	for c, o := range orders {
		an, bn := a[c].IsNull(i), b[c].IsNull(j)
		if an || bn {
			if an && bn {
				continue
			}
			r := 1 // a is null: after the values, unless nulls come first
			if o.NullsFirst {
				r = -1
			}
			if bn {
				r = -r
			}
			return r
		}
		r := compareValues(a[c], i, b[c], j)
		if o.Desc {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

func compareFloat(x, y float64) int {
	xn, yn := math.IsNaN(x), math.IsNaN(y)
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	case yn:
		return -1
	}
	return cmp.Compare(x, y)
}

// compareValues compares two non-null values of one type.
func compareValues(a arrow.Array, i int, b arrow.Array, j int) int {
	switch x := a.(type) {
	case *array.Int64:
		return cmp.Compare(x.Value(i), b.(*array.Int64).Value(j))
	case *array.Int32:
		return cmp.Compare(x.Value(i), b.(*array.Int32).Value(j))
	case *array.Int16:
		return cmp.Compare(x.Value(i), b.(*array.Int16).Value(j))
	case *array.Int8:
		return cmp.Compare(x.Value(i), b.(*array.Int8).Value(j))
	case *array.Uint64:
		return cmp.Compare(x.Value(i), b.(*array.Uint64).Value(j))
	case *array.Float64:
		return compareFloat(x.Value(i), b.(*array.Float64).Value(j))
	case *array.Float32:
		return compareFloat(float64(x.Value(i)), float64(b.(*array.Float32).Value(j)))
	case *array.String:
		return strings.Compare(x.Value(i), b.(*array.String).Value(j))
	case *array.Boolean:
		xv, yv := x.Value(i), b.(*array.Boolean).Value(j)
		switch {
		case xv == yv:
			return 0
		case !xv:
			return -1
		}
		return 1
	case *array.Timestamp:
		return cmp.Compare(x.Value(i), b.(*array.Timestamp).Value(j))
	case *array.Date32:
		return cmp.Compare(x.Value(i), b.(*array.Date32).Value(j))
	}
	return strings.Compare(a.ValueStr(i), b.ValueStr(j))
}
