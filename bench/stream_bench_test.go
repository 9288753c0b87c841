package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/corpus"
	"github.com/spate-io/spate/rdd"
)

// sinkBatches keeps the compiler from discarding per-batch results.
var sinkBatches [][]rdd.Pair[string, int]

// streamBatchLines is the streaming word count's input, cut into
// streamBatches batches; generated once per process.
var streamBatchLines = sync.OnceValue(func() [][]string {
	return splitBatches(corpus.Lines(streamWordCountConfig()), streamBatches)
})

// newManualBenchEngine returns an engine whose clock is a new manual
// clock, and that clock.
func newManualBenchEngine(b *testing.B) (*engine.Context, *clock.Manual) {
	b.Helper()
	clk := clock.NewManual(time.Unix(0, 0))
	ec, err := engine.New(engine.WithClock(clk))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ec.Close() })
	return ec, clk
}

// checkBatchTotals fails b unless every batch's counts add up to its
// number of words.
func checkBatchTotals(b *testing.B, got [][]rdd.Pair[string, int], lines [][]string) {
	b.Helper()
	if len(got) != len(lines) {
		b.Fatalf("got %d batches, want %d", len(got), len(lines))
	}
	for i := range lines {
		checkWordTotal(b, got[i], len(lines[i])*wordsPerLine)
	}
}

// BenchmarkStreamWordCount counts words in streamBatches batches of
// streamWordsPerBatch words each: a QueueStream → FlatMap → Map →
// ReduceByKey → ForeachRDD(Collect) pipeline driven batch by batch on a
// manual clock, against the batch word count's hand loop run once per
// batch. One op is all the batches; words/s counts all their words.
func BenchmarkStreamWordCount(b *testing.B) {
	batches := streamBatchLines()
	words := float64(streamBatches * scaled(streamWordsPerBatch))

	b.Run("spate", func(b *testing.B) {
		ec, clk := newManualBenchEngine(b)
		ctx := context.Background()
		rdds := parallelizeBatches(ec, batches, lineSlices())
		checked := false
		b.ReportAllocs()
		for b.Loop() {
			out, err := spateStreamWordCount(ctx, ec, clk, rdds)
			if err != nil {
				b.Fatal(err)
			}
			if !checked {
				checkBatchTotals(b, out, batches)
				checked = true
			}
			sinkBatches = out
		}
		rate := words * float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "words/s")
		b.ReportMetric(rate/cores(), "words/s/core")
	})

	b.Run("handloop", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBatches = handStreamWordCount(batches)
		}
		rate := words * float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "words/s")
		b.ReportMetric(rate, "words/s/core")
	})
}

// BenchmarkStreamWordCountRatio times the streaming word count and its
// hand loop in the same run, alternately (see [measureRatio]), and checks
// that they counted the same words in every batch.
func BenchmarkStreamWordCountRatio(b *testing.B) {
	batches := streamBatchLines()
	words := float64(streamBatches * scaled(streamWordsPerBatch))
	ec, clk := newManualBenchEngine(b)
	ctx := context.Background()
	rdds := parallelizeBatches(ec, batches, lineSlices())
	var spateOut, handOut [][]rdd.Pair[string, int]
	measureRatio(b, words, "words/s",
		func() {
			out, err := spateStreamWordCount(ctx, ec, clk, rdds)
			if err != nil {
				b.Fatal(err)
			}
			spateOut = out
		},
		func() { handOut = handStreamWordCount(batches) })
	if len(spateOut) != len(handOut) {
		b.Fatalf("spate ran %d batches, the hand loop %d", len(spateOut), len(handOut))
	}
	for i := range handOut {
		if !sameCounts(spateOut[i], handOut[i]) {
			b.Fatalf("batch %d: spate and the hand loop counted different words", i)
		}
	}
}

// overheadBatches is how many batches one op of
// BenchmarkStreamBatchOverhead runs.
func overheadBatches() int {
	if shortRun() {
		return streamOverheadBatch / 10
	}
	return streamOverheadBatch
}

// BenchmarkStreamBatchOverhead measures the fixed cost of a batch: a
// graph of streamOutputs output operations on a stream whose batches hold
// no data, stepped on a manual clock (advance to the batch time, wait for
// its BatchCompleted event). One op is overheadBatches() batches; µs/batch
// is the target metric. The sub-benchmarks differ in what the outputs do:
// noop returns at once; count runs r.Count(ctx) on the empty batch (an RDD
// with no partitions: a job without tasks); count-8parts runs it on an
// empty RDD of 8 partitions (BenchmarkEmptyJob's job, 10 times a batch).
func BenchmarkStreamBatchOverhead(b *testing.B) {
	for _, kind := range []overheadKind{overheadNoop, overheadCount, overheadCount8} {
		b.Run(kind.String(), func(b *testing.B) {
			ec, clk := newManualBenchEngine(b)
			ctx := context.Background()
			g, err := startOverheadGraph(ec, clk, streamOutputs, kind)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := g.stop(); err != nil {
					b.Error(err)
				}
			}()
			per := overheadBatches()
			// One batch outside the timing, for the first-use costs.
			if err := g.step(ctx); err != nil {
				b.Fatal(err)
			}
			steps := int64(1)
			b.ReportAllocs()
			for b.Loop() {
				for range per {
					if err := g.step(ctx); err != nil {
						b.Fatal(err)
					}
				}
				steps += int64(per)
			}
			if err := g.checkRuns(steps); err != nil {
				b.Fatal(err)
			}
			batches := float64(b.N * per)
			b.ReportMetric(float64(b.Elapsed().Microseconds())/batches, "µs/batch")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/batches/streamOutputs, "µs/output")
		})
	}
}

// BenchmarkStreamLatency measures end-to-end latency on the real clock: a
// receiver stores 500K records/s, each carrying its creation time, into a
// stream with a 100 ms batch interval; the output operation takes
// now − created for every 10th record. One op is a 5 s run (1 s with
// SPATE_BENCH_SHORT=1); the percentiles pool all the op's samples.
//
// Latency is bounded below by batching: a record waits for its batch to
// close, half an interval on average. batch-wait-ms (batch time −
// created) and after-batch-ms (seen − batch time) split the mean latency
// into that wait and the rest (generating, scheduling and processing).
func BenchmarkStreamLatency(b *testing.B) {
	cfg := streamLatencyConfig()
	ec, err := engine.New() // the system clock
	if err != nil {
		b.Fatal(err)
	}
	defer ec.Close()
	ctx := context.Background()
	var all latencyResult
	for b.Loop() {
		res, err := runLatency(ctx, ec, cfg)
		if err != nil {
			b.Fatal(err)
		}
		all.merge(res)
	}
	if len(all.total) == 0 || all.batches == 0 {
		b.Fatal("no record or batch was measured")
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	per := func(d time.Duration) time.Duration { return d / time.Duration(all.batches) }
	b.ReportMetric(ms(percentile(all.total, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(all.total, 99)), "p99-ms")
	b.ReportMetric(ms(meanOf(all.total)), "mean-ms")
	b.ReportMetric(ms(meanOf(all.wait)), "batch-wait-ms")
	b.ReportMetric(ms(meanOf(all.after)), "after-batch-ms")
	b.ReportMetric(float64(all.stored)/all.receiving.Seconds(), "records/s")
	b.ReportMetric(ms(all.maxSched), "max-sched-ms")
	b.ReportMetric(ms(per(all.sumSched)), "mean-sched-ms")
	b.ReportMetric(ms(per(all.sumProc)), "mean-proc-ms")
	b.ReportMetric(ms(per(all.sumSubmit)), "mean-submit-ms")
	b.ReportMetric(float64(all.batches)/float64(b.N), "batches")
	if testing.Verbose() {
		b.Logf("%s: %d records stored, %d samples, %d batches", fmt.Sprint(cfg.duration*time.Duration(b.N)), all.stored, len(all.total), all.batches)
	}
}
