package streaming_test

import (
	"context"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/streaming"
)

// TestStreamingAggregationUpdateMergesInPlace: in update mode a batch
// writes exactly the groups it touched, with their totals over every
// batch, among them the group of a null key and groups of two int64 keys
// (the tuple path of the merge with the state), and no Arrow memory leaks.
func TestStreamingAggregationUpdateMergesInPlace(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ec := newEngine(t, nil)
	in := streaming.NewMemoryStream(eventSchema, "events")
	defer in.Close()
	add := func(users []string, valid []bool, amounts []int64) {
		b := array.NewRecordBuilder(alloc, eventSchema)
		defer b.Release()
		b.Field(0).(*array.StringBuilder).AppendValues(users, valid)
		b.Field(1).(*array.Int64Builder).AppendValues(amounts, nil)
		rb := b.NewRecordBatch()
		defer rb.Release()
		if _, err := in.AddBatches(rb); err != nil {
			t.Fatal(err)
		}
	}
	scan, err := plan.NewScan(streaming.NewSourceNode(in), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// GROUP BY user (a string, nullable) and, in a second query, by
	// amount % 2 and amount % 3 (two int64 keys).
	byUser, err := plan.NewAggregate(scan, []expr.Expr{expr.Col("user")}, []expr.Expr{
		expr.As(expr.Count(nil), "n"), expr.As(expr.Sum(expr.Col("amount")), "total"), expr.As(expr.Min(expr.Col("amount")), "low"),
	})
	if err != nil {
		t.Fatal(err)
	}
	byMods, err := plan.NewAggregate(scan, []expr.Expr{
		expr.As(expr.Mod(expr.Col("amount"), expr.Lit(int64(2))), "m2"), expr.As(expr.Mod(expr.Col("amount"), expr.Lit(int64(3))), "m3"),
	}, []expr.Expr{expr.As(expr.Count(nil), "n")})
	if err != nil {
		t.Fatal(err)
	}
	render := func(bs []arrow.RecordBatch) []string {
		var out []string
		for _, b := range bs {
			for i := range int(b.NumRows()) {
				row := ""
				for c := range int(b.NumCols()) {
					if c > 0 {
						row += "/"
					}
					row += b.Column(c).ValueStr(i)
				}
				out = append(out, row)
			}
		}
		slices.Sort(out)
		return out
	}
	var gotUser, gotMods [][]string
	sink := func(got *[][]string) streaming.Sink {
		return streaming.FuncSink(func(_ context.Context, _ int64, bs []arrow.RecordBatch) error {
			*got = append(*got, render(bs))
			return nil
		})
	}
	qu, err := streaming.Start(testCtx(t), ec, byUser, sink(&gotUser), streaming.WithOutputMode(streaming.Update),
		streaming.CheckpointLocation(t.TempDir()), streaming.WithAllocator(alloc))
	if err != nil {
		t.Fatal(err)
	}
	qm, err := streaming.Start(testCtx(t), ec, byMods, sink(&gotMods), streaming.WithOutputMode(streaming.Update),
		streaming.CheckpointLocation(t.TempDir()), streaming.WithAllocator(alloc))
	if err != nil {
		t.Fatal(err)
	}
	step := func(users []string, valid []bool, amounts []int64) {
		add(users, valid, amounts)
		for _, q := range []*streaming.Query{qu, qm} {
			if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	step([]string{"ann", "", "bob", "ann"}, []bool{true, false, true, true}, []int64{10, 4, 5, 30})
	step([]string{"", "cid"}, []bool{false, true}, []int64{3, 1})
	step([]string{"bob"}, nil, []int64{7})
	qu.Stop(testCtx(t))
	qm.Stop(testCtx(t))
	wantUser := [][]string{
		{"(null)/1/4/4", "ann/2/40/10", "bob/1/5/5"},
		{"(null)/2/7/3", "cid/1/1/1"},
		{"bob/2/12/5"},
	}
	if !slices.EqualFunc(gotUser, wantUser, slices.Equal) {
		t.Errorf("by user: batches %v, want %v", gotUser, wantUser)
	}
	// amounts 10 4 5 30 | 3 1 | 7: (m2, m3) of each.
	wantMods := [][]string{
		{"0/0/1", "0/1/2", "1/2/1"},
		{"1/0/1", "1/1/1"},
		{"1/1/2"},
	}
	if !slices.EqualFunc(gotMods, wantMods, slices.Equal) {
		t.Errorf("by amount %% 2, amount %% 3: batches %v, want %v", gotMods, wantMods)
	}
}
