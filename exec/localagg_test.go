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

// TestAggregatorAndMerge aggregates two partitions whose groups overlap
// (one of them null) with Aggregator, then merges the results with a
// state in MergeAggregates, as a streaming aggregation does, under a
// checked allocator.
func TestAggregatorAndMerge(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ec, err := engine.New(engine.Slots(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	c, err := NewContext(ec, alloc, time.Time{}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
