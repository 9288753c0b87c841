package streaming

import (
	"context"
	"strings"
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
		_, err = src.ReadAlloc(context.Background(), batchA, rg, nil, nil, func(bs []arrow.RecordBatch) error {
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

// TestRateSourceReadColumns: ReadAlloc builds just the columns asked for,
// in the order asked, with the same values as a full read.
func TestRateSourceReadColumns(t *testing.T) {
	clk := clock.NewManual(time.Unix(1000, 0))
	src, err := NewRateSource(RateOptions{RowsPerSecond: 1000, NumPartitions: 2, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.InitialOffsets(context.Background()); err != nil {
		t.Fatal(err)
	}
	rg := connector.OffsetRange{Partition: connector.Partition{Stream: "rate", Index: 0}, From: 5, Until: 9000}
	for _, tc := range []struct {
		columns []string
		want    string // schema
	}{
		{[]string{"value"}, "value"},
		{[]string{"value", "timestamp"}, "value,timestamp"},
		{[]string{}, ""},
	} {
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		rows := int64(0)
		_, err := src.ReadAlloc(context.Background(), alloc, rg, tc.columns, nil, func(bs []arrow.RecordBatch) error {
			for _, b := range bs {
				var names []string
				for _, f := range b.Schema().Fields() {
					names = append(names, f.Name)
				}
				if got := strings.Join(names, ","); got != tc.want {
					t.Errorf("%v: columns %q, want %q", tc.columns, got, tc.want)
				}
				for k, name := range names {
					if name != "value" {
						continue
					}
					v := b.Column(k).(*array.Int64)
					for i := range v.Len() {
						if want := (rg.From + rows + int64(i)) * 2; v.Value(i) != want {
							t.Fatalf("%v: row %d: value %d, want %d", tc.columns, rows+int64(i), v.Value(i), want)
						}
					}
				}
				rows += b.NumRows()
				b.Release()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if rows != rg.Until-rg.From {
			t.Errorf("%v: %d rows, want %d", tc.columns, rows, rg.Until-rg.From)
		}
		alloc.AssertSize(t, 0)
	}
	if _, err := src.ReadAlloc(context.Background(), nil, rg, []string{"nope"}, nil, func([]arrow.RecordBatch) error { return nil }); err == nil {
		t.Error("an unknown column was accepted")
	}
}
