package streaming

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/state"
)

// BenchmarkTableStateWrite measures one batch's state write of a windowed
// count's state (window start and end, key; count and a max)
// where every group changed: the rows are encoded, routed, compared with
// the previous version and committed as one delta file per partition
// (fsynced, in parallel).
func BenchmarkTableStateWrite(b *testing.B) {
	const groups = 20_000
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "window_start", Type: arrow.FixedWidthTypes.Timestamp_us},
		{Name: "window_end", Type: arrow.FixedWidthTypes.Timestamp_us},
		{Name: "key", Type: arrow.PrimitiveTypes.Int64},
		{Name: "__count_0", Type: arrow.PrimitiveTypes.Int64},
		{Name: "__max_1", Type: arrow.FixedWidthTypes.Timestamp_us},
	}, nil)
	batch := func(round int64) arrow.RecordBatch {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer rb.Release()
		for i := range int64(groups) {
			w := i / 10_000 * 10_000_000
			rb.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(w))
			rb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(w + 10_000_000))
			rb.Field(2).(*array.Int64Builder).Append(i % 10_000)
			rb.Field(3).(*array.Int64Builder).Append(round*100 + i%7)
			rb.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(w + round))
		}
		return rb.NewRecordBatch()
	}
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			prov, err := state.NewProvider(b.TempDir(), n, state.SnapshotInterval(1000))
			if err != nil {
				b.Fatal(err)
			}
			defer prov.Close(context.Background())
			ts := &tableState{kind: "aggstate", what: "aggregation state", schema: schema, uniqueKeys: true}
			if err := ts.attach(prov, "aggregate-0", 3); err != nil {
				b.Fatal(err)
			}
			bs := []arrow.RecordBatch{batch(0), batch(1)}
			defer releaseAll(bs)
			ctx := context.Background()
			var id int64
			for b.Loop() {
				if err := ts.write(ctx, id, schema, bs[id%2:id%2+1], nil); err != nil {
					b.Fatal(err)
				}
				id++
			}
			b.ReportMetric(float64(groups)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
