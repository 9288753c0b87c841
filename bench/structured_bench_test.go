package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
)

const (
	structuredKeys    = 10_000
	structuredWindow  = 10 * time.Second
	structuredBatches = 3
)

// structuredRate is the rate source's rows per second (one batch per
// second of the manual clock).
func structuredRate() int { return pick(1_000_000, 10_000) }

// BenchmarkStructuredWindowCount measures Structured Streaming's
// incremental aggregation: the rate source → GroupBy(Window(timestamp,
// 10 s), value % 10000).Count() in update mode → a foreachBatch sink
// that keeps the latest count per group, structuredBatches batches of
// structuredRate() rows (one per second of a manual clock). The baseline
// is a hand-written loop computing the same counts over the same rows
// (values 0.., timestamps start + value/rate) into a map. Results are
// compared. ratio = spate ÷ hand-loop rows/s (per core: spate may use both
// cores); target ≥ 0.4.
func BenchmarkStructuredWindowCount(b *testing.B) {
	rate := structuredRate()
	var spate, hand time.Duration
	n := 0
	for b.Loop() {
		got, d, err := spateWindowCount(b.Context(), rate)
		if err != nil {
			b.Fatal(err)
		}
		spate += d
		t0 := time.Now()
		want := handWindowCount(rate)
		hand += time.Since(t0)
		if len(got) != len(want) {
			b.Fatalf("spate has %d groups, the hand loop %d", len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				b.Fatalf("group %v: spate %d, hand loop %d", k, got[k], v)
			}
		}
		n++
	}
	rows := float64(rate * structuredBatches * n)
	b.ReportMetric(rows/spate.Seconds(), "spate-rows/s")
	b.ReportMetric(rows/hand.Seconds(), "hand-rows/s")
	b.ReportMetric(hand.Seconds()/spate.Seconds(), "ratio")
	b.ReportMetric(hand.Seconds()/spate.Seconds()/cores(), "ratio-per-core")
}

type windowKey struct {
	start int64 // µs
	key   int64
}

var structuredStart = time.Unix(1_800_000_000, 0)

func handWindowCount(rate int) map[windowKey]int64 {
	counts := make(map[windowKey]int64, structuredKeys*2)
	size := structuredWindow.Microseconds()
	startMicros := structuredStart.UnixMicro()
	for v := range int64(rate * structuredBatches) {
		ts := startMicros + int64(float64(v)/float64(rate)*1000)*1000 // as the rate source: whole ms
		start := ts - ((ts%size)+size)%size
		counts[windowKey{start, v % structuredKeys}]++
	}
	return counts
}

func spateWindowCount(ctx context.Context, rate int) (map[windowKey]int64, time.Duration, error) {
	clk := clock.NewManual(structuredStart)
	ec, err := engine.New(engine.WithClock(clk))
	if err != nil {
		return nil, 0, err
	}
	defer ec.Close()
	s, err := dataframe.NewSession(ec)
	if err != nil {
		return nil, 0, err
	}
	counts := make(map[windowKey]int64, structuredKeys*2)
	df := s.ReadStream().Format("rate").Option("rowsPerSecond", fmt.Sprint(rate)).Option("numPartitions", "2").Load().
		GroupBy(dataframe.Window(dataframe.Col("timestamp"), structuredWindow), dataframe.Col("value").Mod(structuredKeys).As("key")).Count()
	q, err := df.WriteStream().OutputMode("update").ForeachBatch(func(ctx context.Context, batch *dataframe.DataFrame, _ int64) error {
		return batch.ForeachBatch(ctx, func(_ context.Context, _ int, r arrow.RecordBatch) error {
			start := r.Column(0).(*array.Timestamp)
			key := r.Column(2).(*array.Int64)
			cnt := r.Column(3).(*array.Int64)
			for i := range int(r.NumRows()) {
				counts[windowKey{int64(start.Value(i)), key.Value(i)}] = cnt.Value(i)
			}
			return nil
		})
	}).Start(ctx)
	if err != nil {
		return nil, 0, err
	}
	var d time.Duration
	for range structuredBatches {
		clk.Advance(time.Second)
		t0 := time.Now()
		if err := q.ProcessAllAvailable(ctx); err != nil {
			return nil, 0, err
		}
		d += time.Since(t0)
	}
	return counts, d, q.Stop(ctx)
}
