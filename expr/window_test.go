package expr

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestWindowBoundOrders checks the window bounds of timestamps in time
// order (where a row reuses the bound of the row before), in random order,
// around zero and at the ends of int64, against the formula row by row.
func TestWindowBoundOrders(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var sorted, shuffled []int64
	for v := int64(-25_000_000); v < 25_000_000; v += 1000 + r.Int64N(300_000) {
		sorted = append(sorted, v)
	}
	shuffled = append(shuffled, sorted...)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	edges := []int64{math.MaxInt64, math.MaxInt64 - 1, math.MinInt64 + 20_000_000, 0, -1, 9_999_999, 10_000_000, math.MaxInt64 - 5_000_000}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ec := NewEvalContext(context.Background(), alloc, time.Time{})
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: TimestampType, Nullable: true}}, nil)
	for _, vals := range [][]int64{sorted, shuffled, edges} {
		bld := array.NewTimestampBuilder(alloc, TimestampType)
		for i, v := range vals {
			if i%17 == 5 {
				bld.AppendNull()
			}
			bld.Append(arrow.Timestamp(v))
		}
		col := bld.NewArray()
		bld.Release()
		batch := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
		col.Release()
		for _, w := range []struct {
			slide, offset time.Duration
			back          int
			add           time.Duration
		}{{10 * time.Second, 0, 0, 0}, {10 * time.Second, 0, 0, 10 * time.Second}, {5 * time.Second, time.Second, 2, 15 * time.Second}} {
			out, err := WindowBound(Col("ts"), w.slide, w.offset, w.back, w.add).Eval(ec, batch)
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*array.Timestamp)
			in := batch.Column(0).(*array.Timestamp)
			slide, offset, add := w.slide.Microseconds(), w.offset.Microseconds(), w.add.Microseconds()
			for i := range in.Len() {
				if in.IsNull(i) != got.IsNull(i) {
					t.Fatalf("row %d: null %v, want %v", i, got.IsNull(i), in.IsNull(i))
				}
				if in.IsNull(i) {
					continue
				}
				v := int64(in.Value(i))
				want := floorDiv(v-offset, slide)*slide + offset - int64(w.back)*slide + add
				if int64(got.Value(i)) != want {
					t.Fatalf("%+v, row %d (%d): %d, want %d", w, i, v, got.Value(i), want)
				}
			}
			out.Release()
		}
		batch.Release()
	}
}
