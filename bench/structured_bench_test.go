package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/streaming"
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

// Sizes of BenchmarkStructuredLatency (issue #9's latency item).
const (
	structuredLatencyRate     = 200_000 // rows per second from the rate source
	structuredLatencyInterval = 100 * time.Millisecond
	structuredLatencyRun      = 5 * time.Second
	structuredLatencyShortRun = 600 * time.Millisecond // per variant: the CI smoke run stays near 2 s
	structuredLatencySample   = 10                     // every 10th row's latency is sampled
)

// structuredLatencyDuration is one op's run: 5 s, 600 ms with
// SPATE_BENCH_SHORT=1, or SPATE_BENCH_LATENCY_RUN (a Go duration).
func structuredLatencyDuration(b *testing.B) time.Duration {
	if v := os.Getenv("SPATE_BENCH_LATENCY_RUN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("SPATE_BENCH_LATENCY_RUN = %q: want a positive Go duration such as 10s", v)
		}
		return d
	}
	if shortRun() {
		return structuredLatencyShortRun
	}
	return structuredLatencyRun
}

// BenchmarkStructuredLatency measures Structured Streaming's end-to-end
// latency on the real clock: the rate source at 200K rows/s (2
// partitions; a row's timestamp is the time it became due, its creation
// time) → a query → a foreachBatch sink, with ProcessingTime(100 ms).
// A row's latency is the time the sink has finished its batch (AddBatch
// returns next, then the commit log is written) less its creation time;
// every 10th row is sampled. Target (issue #9): p99 ≤ 300 ms.
//
//   - select: a filter and a projection (value % 1000 as key, value * 2);
//     the sink sees every row and checks that values 0..n-1 each arrived
//     exactly once.
//   - window-count: GroupBy(Window(timestamp, 1 s), value % 100) with
//     count and max(timestamp) in update mode. The output has no rows of
//     its own, so a batch's rows are those created after the previous
//     batch's newest row up to its own newest one (the rate source's
//     rows are evenly spaced and each batch reads a contiguous range);
//     they are sampled at the same density. The sink keeps the latest
//     count per group and checks that the counts add up to the rows read.
//
// One op is a 5 s run (600 ms with SPATE_BENCH_SHORT=1, or
// SPATE_BENCH_LATENCY_RUN); the percentiles pool the op's samples.
// Latency is bounded below by batching: a row waits for the next
// trigger, half an interval (50 ms) on average.
func BenchmarkStructuredLatency(b *testing.B) {
	d := structuredLatencyDuration(b)
	for _, variant := range []string{"select", "window-count"} {
		b.Run(variant, func(b *testing.B) {
			var all structuredLatencyResult
			for b.Loop() {
				res, err := runStructuredLatency(b.Context(), variant, structuredLatencyRate, d)
				if err != nil {
					b.Fatal(err)
				}
				all.merge(res)
			}
			if len(all.samples) == 0 {
				b.Fatal("no row was measured")
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(percentile(all.samples, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(all.samples, 99)), "p99-ms")
			b.ReportMetric(ms(percentile(all.samples, 100)), "max-ms")
			b.ReportMetric(ms(meanOf(all.samples)), "mean-ms")
			b.ReportMetric(float64(all.rows)/all.elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(all.batches)/float64(b.N), "batches")
			b.ReportMetric(ms(all.batchTime/time.Duration(max(1, all.batches))), "mean-batch-ms")
			if testing.Verbose() {
				b.Logf("%s: %d rows, %d samples, %d batches in %v", variant, all.rows, len(all.samples), all.batches, all.elapsed)
			}
		})
	}
}

type structuredLatencyResult struct {
	rows      int64           // rows delivered to the sink
	samples   []time.Duration // sampled latencies
	batches   int
	batchTime time.Duration // summed triggerExecution of the batches
	elapsed   time.Duration // from the start to the stop of the query
}

func (r *structuredLatencyResult) merge(o structuredLatencyResult) {
	r.rows += o.rows
	r.samples = append(r.samples, o.samples...)
	r.batches += o.batches
	r.batchTime += o.batchTime
	r.elapsed += o.elapsed
}

// runStructuredLatency runs one variant of BenchmarkStructuredLatency for
// d and checks that every row read reached the sink once.
func runStructuredLatency(ctx context.Context, variant string, rate int, d time.Duration) (structuredLatencyResult, error) {
	var res structuredLatencyResult
	ec, err := engine.New() // the system clock
	if err != nil {
		return res, err
	}
	defer ec.Close()
	s, err := dataframe.NewSession(ec)
	if err != nil {
		return res, err
	}
	src := s.ReadStream().Format("rate").Option("rowsPerSecond", fmt.Sprint(rate)).Option("numPartitions", "2").Load()
	sampleEvery := int64(structuredLatencySample)
	var (
		mu sync.Mutex
		// select: the values seen, as count, sum and max.
		count, sum, maxValue int64 = 0, 0, -1
		// window-count: the latest count per group, and the newest row
		// of the previous batch (µs; 0 before the first batch).
		counts = map[windowKey]int64{}
		prev   int64
	)
	var w *dataframe.DataStreamWriter
	switch variant {
	case "select":
		df := src.Where(dataframe.Col("value").Geq(0)).
			Select(dataframe.Col("timestamp"), dataframe.Col("value"), dataframe.Col("value").Mod(1000).As("key"), dataframe.Col("value").Multiply(2).As("twice"))
		w = df.WriteStream().ForeachBatch(func(ctx context.Context, batch *dataframe.DataFrame, _ int64) error {
			var n, bsum, bmax int64 = 0, 0, -1
			var ts []int64 // creation times (µs) of the sampled rows
			err := batch.ForeachBatch(ctx, func(_ context.Context, _ int, r arrow.RecordBatch) error {
				tcol := r.Column(0).(*array.Timestamp)
				vcol := r.Column(1).(*array.Int64)
				for i := range int(r.NumRows()) {
					v := vcol.Value(i)
					n++
					bsum += v
					bmax = max(bmax, v)
					if v%sampleEvery == 0 {
						ts = append(ts, int64(tcol.Value(i)))
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			now := time.Now().UnixMicro()
			mu.Lock()
			defer mu.Unlock()
			count += n
			sum += bsum
			maxValue = max(maxValue, bmax)
			for _, t := range ts {
				res.samples = append(res.samples, time.Duration(now-t)*time.Microsecond)
			}
			return nil
		})
	case "window-count":
		df := src.GroupBy(dataframe.Window(dataframe.Col("timestamp"), time.Second), dataframe.Col("value").Mod(100).As("key")).
			Agg(dataframe.CountAll().As("n"), dataframe.Max(dataframe.Col("timestamp")).As("newest"), dataframe.Min(dataframe.Col("timestamp")).As("oldest"))
		w = df.WriteStream().OutputMode("update").ForeachBatch(func(ctx context.Context, batch *dataframe.DataFrame, _ int64) error {
			latest := map[windowKey]int64{}
			var newest, oldest int64 = 0, 1<<63 - 1
			err := batch.ForeachBatch(ctx, func(_ context.Context, _ int, r arrow.RecordBatch) error {
				start := r.Column(0).(*array.Timestamp)
				key := r.Column(2).(*array.Int64)
				cnt := r.Column(3).(*array.Int64)
				nw := r.Column(4).(*array.Timestamp)
				old := r.Column(5).(*array.Timestamp)
				for i := range int(r.NumRows()) {
					latest[windowKey{int64(start.Value(i)), key.Value(i)}] = cnt.Value(i)
					newest = max(newest, int64(nw.Value(i)))
					oldest = min(oldest, int64(old.Value(i)))
				}
				return nil
			})
			if err != nil || len(latest) == 0 {
				return err
			}
			now := time.Now().UnixMicro()
			mu.Lock()
			defer mu.Unlock()
			for k, v := range latest {
				counts[k] = v
			}
			from := prev
			if from == 0 {
				from = oldest - 1 // the first batch starts with the first row
			}
			// The batch's rows were created in (from, newest], evenly
			// spaced at the source's rate.
			step := int64(time.Second/time.Microsecond) * sampleEvery / int64(rate)
			for t := newest; t > from; t -= step {
				res.samples = append(res.samples, time.Duration(now-t)*time.Microsecond)
			}
			prev = newest
			return nil
		})
	default:
		return res, fmt.Errorf("unknown variant %q", variant)
	}
	var read int64 // rows read by the batches that completed
	unsubscribe := ec.Bus().Subscribe(metrics.ListenerFunc(func(e metrics.Event) {
		if p, ok := e.(metrics.QueryProgressed); ok {
			mu.Lock()
			res.batches++
			read += p.Progress.NumInputRows
			res.batchTime += time.Duration(p.Progress.DurationMs["triggerExecution"]) * time.Millisecond
			mu.Unlock()
		}
	}))
	defer unsubscribe()
	t0 := time.Now()
	q, err := w.Trigger(streaming.ProcessingTime(structuredLatencyInterval)).Start(ctx)
	if err != nil {
		return res, err
	}
	timer := time.NewTimer(d)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.Stop(stopCtx); err != nil {
		return res, err
	}
	res.elapsed = time.Since(t0)
	if err := q.Exception(); err != nil {
		return res, err
	}
	if err := ec.Bus().Flush(stopCtx); err != nil { // deliver the last progress
		return res, err
	}
	mu.Lock()
	defer mu.Unlock()
	switch variant {
	case "select":
		// Values 0..count-1, each once (a batch the stop interrupted left
		// no rows: its function returned with the cancellation).
		if count != maxValue+1 || sum != count*(count-1)/2 {
			return res, fmt.Errorf("select: the sink saw %d rows, values up to %d summing to %d: rows were lost or repeated", count, maxValue, sum)
		}
		res.rows = count
	case "window-count":
		var total int64
		for _, n := range counts {
			total += n
		}
		res.rows = total
		if read > total {
			return res, fmt.Errorf("window-count: the batches read %d rows, the counts add up to %d", read, total)
		}
	}
	return res, ctx.Err()
}
