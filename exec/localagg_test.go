package exec

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
)

// localContext returns a Context on a one-slot engine with a checked
// allocator; when t ends, both are closed and then the allocator must
// hold nothing.
func localContext(t *testing.T) (*Context, *memory.CheckedAllocator) {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { alloc.AssertSize(t, 0) })
	ec, err := engine.New(engine.Slots(1))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewContext(ec, alloc, time.Time{}, Config{})
	if err != nil {
		ec.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the allocator's check (cleanups run last first)
		c.Close()
		ec.Close()
	})
	return c, alloc
}

// TestAggregatorAndMerge aggregates two partitions whose groups overlap
// (one of them null) with Aggregator, then merges the results with a
// state in MergeAggregates, as a streaming aggregation does, under a
// checked allocator.
func TestAggregatorAndMerge(t *testing.T) {
	c, alloc := localContext(t)
	ctx := context.Background()
	in := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	out := arrow.NewSchema([]arrow.Field{{Name: "g", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "n", Type: arrow.PrimitiveTypes.Int64}, {Name: "s", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	batch := func(s *arrow.Schema, cols ...[]int64) arrow.RecordBatch {
		b := array.NewRecordBuilder(alloc, s)
		defer b.Release()
		for i, col := range cols {
			for _, v := range col {
				if v < 0 { // -1: null
					b.Field(i).AppendNull()
				} else {
					b.Field(i).(*array.Int64Builder).Append(v)
				}
			}
		}
		return b.NewRecordBatch()
	}
	groups := []expr.Expr{expr.As(expr.Mod(expr.Col("k"), expr.Lit(int64(10))), "g")}
	aggs := []expr.Expr{expr.As(expr.Count(nil), "n"), expr.As(expr.Sum(expr.Col("v")), "s")}
	var results []arrow.RecordBatch
	defer func() {
		for _, r := range results {
			r.Release()
		}
	}()
	for _, part := range [][2][]int64{
		{{1, 11, 2, -1}, {10, 20, 30, 40}},
		{{2, 12, 3, -1, 21}, {1, 2, 3, 4, 5}},
	} {
		a, err := NewAggregator(ctx, c, in, groups, aggs, out)
		if err != nil {
			t.Fatal(err)
		}
		b := batch(in, part[0], part[1])
		err = a.Add(b)
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
		r, err := a.Result()
		a.Release()
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	// The state: groups 1 and 5 from earlier batches.
	state := batch(out, []int64{1, 5}, []int64{100, 7}, []int64{1000, 70})
	defer state.Release()
	merge := []expr.Expr{expr.As(expr.Sum(expr.Col("n")), "n"), expr.As(expr.Sum(expr.Col("s")), "s")}
	all, touched, err := MergeAggregates(ctx, c, out, 1, merge, out, append([]arrow.RecordBatch{state}, results...), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Release()
	defer touched.Release()
	render := func(b arrow.RecordBatch) []string {
		var rows []string
		for i := range int(b.NumRows()) {
			rows = append(rows, b.Column(0).ValueStr(i)+":"+b.Column(1).ValueStr(i)+"/"+b.Column(2).ValueStr(i))
		}
		return rows
	}
	// g=1: 100+3 rows (k 1, 11, 21), s 1000+10+20+5; g=5 untouched;
	// g=2: k 2, 2, 12: 30+1+2; g=3: 3; null: 40+4.
	if got, want := render(all), []string{"1:103/1035", "5:7/70", "2:3/33", "(null):2/44", "3:1/3"}; !slices.Equal(got, want) {
		t.Errorf("merged %v, want %v", got, want)
	}
	if got, want := render(touched), []string{"1:103/1035", "2:3/33", "(null):2/44", "3:1/3"}; !slices.Equal(got, want) {
		t.Errorf("touched %v, want %v", got, want)
	}
}

// A GroupTable kept across calls adds each call's rows to the groups it
// has (the key columns kept as one part after a Result) and reports as
// touched only the groups of the rows added with touch since the last
// Result, under a checked allocator.
func TestGroupTableAcrossCalls(t *testing.T) {
	c, alloc := localContext(t)
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	batch := func(keys []string, ns []int64) arrow.RecordBatch {
		b := array.NewRecordBuilder(alloc, schema)
		defer b.Release()
		for i, k := range keys {
			if k == "" {
				b.Field(0).AppendNull()
			} else {
				b.Field(0).(*array.StringBuilder).Append(k)
			}
			b.Field(1).(*array.Int64Builder).Append(ns[i])
		}
		return b.NewRecordBatch()
	}
	table, err := NewGroupTable(schema, 1, []expr.Expr{expr.As(expr.Sum(expr.Col("n")), "n")}, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Release()
	render := func(b arrow.RecordBatch) []string {
		var rows []string
		for i := range int(b.NumRows()) {
			rows = append(rows, b.Column(0).ValueStr(i)+"="+b.Column(1).ValueStr(i))
		}
		return rows
	}
	for i, step := range []struct {
		keys         []string
		ns           []int64
		touch        bool
		all, touched []string
	}{
		{[]string{"a", "b"}, []int64{1, 2}, false, []string{"a=1", "b=2"}, nil},
		{[]string{"b", "c", ""}, []int64{10, 3, 4}, true, []string{"a=1", "b=12", "c=3", "(null)=4"}, []string{"b=12", "c=3", "(null)=4"}},
		{[]string{"a", ""}, []int64{100, 1}, true, []string{"a=101", "b=12", "c=3", "(null)=5"}, []string{"a=101", "(null)=5"}},
		{[]string{"a", "b", "c", ""}, []int64{0, 0, 0, 0}, true, []string{"a=101", "b=12", "c=3", "(null)=5"}, []string{"a=101", "b=12", "c=3", "(null)=5"}},
	} {
		b := batch(step.keys, step.ns)
		err := table.Add(ctx, c, []arrow.RecordBatch{b}, step.touch)
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
		all, touched, err := table.Result(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if got := render(all); !slices.Equal(got, step.all) {
			t.Errorf("step %d: all %v, want %v", i, got, step.all)
		}
		if got := render(touched); !slices.Equal(got, step.touched) {
			t.Errorf("step %d: touched %v, want %v", i, got, step.touched)
		}
		all.Release()
		touched.Release()
	}
	if table.Len() != 4 {
		t.Errorf("%d groups, want 4", table.Len())
	}
}
