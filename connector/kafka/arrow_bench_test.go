package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/connector"
)

// BenchmarkArrowSourceRead measures what the Arrow conversion costs: each
// iteration reads the same 4-partition topic once through Source.Read
// (records only) and once through ArrowSource.Read (records copied into
// Arrow batches of Schema), and reports both rates and arrow/records.
func BenchmarkArrowSourceRead(b *testing.B) {
	n := benchRecords() / 4
	addrs := newCluster(b, 4, "bench")
	for i := range 4 {
		produce(b, addrs, "bench", int32(i), n/4, benchKeys)
	}
	ctx := context.Background()
	src, err := NewArrowSource(ctx, Brokers(addrs...), APITimeout(5*time.Second), Subscribe("bench"), StartingOffsets(Earliest()))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	start, err := src.InitialOffsets(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ranges, _, _, err := connector.PlanBatch(ctx, src, start, connector.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	var recT, arrowT []time.Duration
	for b.Loop() {
		t0 := time.Now()
		got := 0
		for _, r := range ranges {
			if err := src.Source().Read(ctx, r, func(rs []Record) error { got += len(rs); return nil }); err != nil {
				b.Fatal(err)
			}
		}
		recT = append(recT, time.Since(t0))
		t0 = time.Now()
		rows := 0
		for _, r := range ranges {
			err := src.Read(ctx, r, func(bs []arrow.RecordBatch) error {
				for _, rb := range bs {
					rows += int(rb.NumRows())
					rb.Release()
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		arrowT = append(arrowT, time.Since(t0))
		if got != n || rows != n {
			b.Fatalf("read %d records and %d rows, want %d", got, rows, n)
		}
	}
	mr, ma := median(recT), median(arrowT)
	b.ReportMetric(float64(n)/mr.Seconds(), "records-rec/s")
	b.ReportMetric(float64(n)/ma.Seconds(), "arrow-rec/s")
	b.ReportMetric(mr.Seconds()/ma.Seconds(), "ratio")
}
