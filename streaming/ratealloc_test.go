package streaming

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector"
)

// TestRateSourceAllocator: the rate source builds a batch's rows with the
// batch's allocator unless it was given an allocator of its own, and the
// rows are the same either way.
func TestRateSourceAllocator(t *testing.T) {
	// read reads with the source given own, and returns the most bytes
	// the batch's allocator and own (when a checked allocator) held.
	read := func(own memory.Allocator) (own0, batch0 int, rows []int64) {
		ownA, _ := own.(*memory.CheckedAllocator)
		batchA := memory.NewCheckedAllocator(memory.NewGoAllocator())
		clk := clock.NewManual(time.Unix(1000, 0))
		src, err := NewRateSource(RateOptions{RowsPerSecond: 1000, NumPartitions: 2, Clock: clk, Alloc: own})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.InitialOffsets(context.Background()); err != nil {
			t.Fatal(err)
		}
		rg := connector.OffsetRange{Partition: connector.Partition{Stream: "rate", Index: 1}, From: 0, Until: 10_000}
		err = src.readAlloc(context.Background(), batchA, rg, func(bs []arrow.RecordBatch) error {
			for _, b := range bs {
				if ownA != nil {
					own0 = max(own0, ownA.CurrentAlloc())
				}
				batch0 = max(batch0, batchA.CurrentAlloc())
				ts, v := b.Column(0).(*array.Timestamp), b.Column(1).(*array.Int64)
				if ts.NullN() != 0 || v.NullN() != 0 {
					t.Errorf("nulls: %d timestamps, %d values", ts.NullN(), v.NullN())
				}
				for i := range v.Len() {
					rows = append(rows, int64(ts.Value(i)), v.Value(i))
				}
				b.Release()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if ownA != nil {
			ownA.AssertSize(t, 0)
		}
		batchA.AssertSize(t, 0)
		return own0, batch0, rows
	}
	// Given Go's allocator (the default): the batch's.
	own, batch, viaBatch := read(memory.NewGoAllocator())
	if own != 0 || batch == 0 {
		t.Errorf("with Go's allocator: %d bytes from the source's, %d from the batch's; want all from the batch's", own, batch)
	}
	// Given another allocator: its own.
	own, batch, viaOwn := read(memory.NewCheckedAllocator(memory.NewGoAllocator()))
	if own == 0 || batch != 0 {
		t.Errorf("with its own allocator: %d bytes from it, %d from the batch's; want all from its own", own, batch)
	}
	if len(viaBatch) != 2*10_000 || len(viaOwn) != len(viaBatch) {
		t.Fatalf("%d and %d values, want %d", len(viaBatch), len(viaOwn), 2*10_000)
	}
	for i := range viaBatch {
		if viaBatch[i] != viaOwn[i] {
			t.Fatalf("value %d: %d and %d", i, viaBatch[i], viaOwn[i])
		}
	}
	// Partition 1 of 2 at 1000 rows/s: values 1, 3, 5, ... due at v ms.
	if viaBatch[0] != time.Unix(1000, 0).UnixMicro()+1000 || viaBatch[1] != 1 || viaBatch[3] != 3 {
		t.Errorf("first rows %v", viaBatch[:4])
	}
}
