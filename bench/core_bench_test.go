package bench

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/corpus"
	"github.com/spate-io/spate/rdd"
)

// Sinks keep the compiler from discarding results.
var (
	sinkPairs []rdd.Pair[string, int]
	sinkInt   int
)

// benchLines is the word-count corpus, generated once per process.
var benchLines = sync.OnceValue(func() []string { return corpus.Lines(wordCountConfig()) })

func newBenchEngine(b *testing.B) *engine.Context {
	b.Helper()
	ec, err := engine.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ec.Close() })
	return ec
}

// cores is the parallelism spate may use: its worker slots run on
// GOMAXPROCS threads.
func cores() float64 { return float64(runtime.GOMAXPROCS(0)) }

// mallocs returns the process's cumulative heap allocation count.
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// BenchmarkWordCount counts the words of a 20M-word Zipf corpus (100K
// distinct, 10 words a line): spate's FlatMap → Map → ReduceByKey →
// Collect on 2×GOMAXPROCS partitions against a single-goroutine map loop.
func BenchmarkWordCount(b *testing.B) {
	cfg := wordCountConfig()
	lines := benchLines()
	words := float64(cfg.Words)

	b.Run("spate", func(b *testing.B) {
		ec := newBenchEngine(b)
		ctx := context.Background()
		src := rdd.Parallelize(ec, lines, lineSlices())
		checked := false
		b.ReportAllocs()
		for b.Loop() {
			out, err := spateWordCount(ctx, src)
			if err != nil {
				b.Fatal(err)
			}
			if !checked {
				checkWordTotal(b, out, cfg.Words)
				checked = true
			}
			sinkPairs = out
		}
		rate := words * float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "words/s")
		b.ReportMetric(rate/cores(), "words/s/core")
	})

	b.Run("handloop", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkPairs = handWordCount(lines)
		}
		rate := words * float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "words/s")
		b.ReportMetric(rate, "words/s/core")
	})
}

// checkWordTotal fails b unless the counts add up to the corpus size.
func checkWordTotal(b *testing.B, counts []rdd.Pair[string, int], want int) {
	b.Helper()
	total := 0
	for _, p := range counts {
		total += p.Value
	}
	if total != want {
		b.Fatalf("word counts add up to %d, want %d", total, want)
	}
}

// BenchmarkMapFilter sums Map(x*2) → Filter(x%3==0) → Map(x+1) over
// Range(0, 100M) against a plain for loop. allocs/op is per whole job;
// allocs/record divides it by the records in the range.
func BenchmarkMapFilter(b *testing.B) {
	n := scaled(mapFilterRecords)
	want := handMapFilter(n)

	b.Run("spate", func(b *testing.B) {
		ec := newBenchEngine(b)
		ctx := context.Background()
		checked := false
		b.ReportAllocs()
		m0 := mallocs()
		for b.Loop() {
			got, err := spateMapFilter(ctx, ec, n)
			if err != nil {
				b.Fatal(err)
			}
			if !checked {
				if got != want {
					b.Fatalf("spate sum = %d, hand loop sum = %d", got, want)
				}
				checked = true
			}
			sinkInt = got
		}
		reportPerRecord(b, n, cores(), mallocs()-m0)
	})

	b.Run("handloop", func(b *testing.B) {
		b.ReportAllocs()
		m0 := mallocs()
		for b.Loop() {
			sinkInt = handMapFilter(n)
		}
		reportPerRecord(b, n, 1, mallocs()-m0)
	})
}

// reportPerRecord reports wall ns/record, core-ns/record (wall time × the
// cores the run may use) and allocs/record.
func reportPerRecord(b *testing.B, n int, cores float64, allocs uint64) {
	records := float64(n) * float64(b.N)
	ns := float64(b.Elapsed().Nanoseconds()) / records
	b.ReportMetric(ns, "ns/record")
	b.ReportMetric(ns*cores, "core-ns/record")
	b.ReportMetric(float64(allocs)/records, "allocs/record")
}

// BenchmarkEmptyJob measures the fixed cost of a job: Count over 8 empty
// partitions (one stage, 8 tasks, no records).
func BenchmarkEmptyJob(b *testing.B) {
	ec := newBenchEngine(b)
	ctx := context.Background()
	empty := rdd.Parallelize(ec, []int{}, emptyJobParts)
	b.ReportAllocs()
	for b.Loop() {
		n, err := spateEmptyJob(ctx, empty)
		if err != nil {
			b.Fatal(err)
		}
		sinkInt = n
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/job")
}

// BenchmarkWordCountRatio times spate and the hand loop in the same run,
// alternately, and reports their ratios (see [measureRatio]).
func BenchmarkWordCountRatio(b *testing.B) {
	cfg := wordCountConfig()
	lines := benchLines()
	ec := newBenchEngine(b)
	ctx := context.Background()
	src := rdd.Parallelize(ec, lines, lineSlices())
	var spateOut, handOut []rdd.Pair[string, int]
	measureRatio(b, float64(cfg.Words), "words/s",
		func() {
			out, err := spateWordCount(ctx, src)
			if err != nil {
				b.Fatal(err)
			}
			spateOut = out
		},
		func() { handOut = handWordCount(lines) })
	if !sameCounts(spateOut, handOut) {
		b.Fatal("spate and the hand loop counted different words")
	}
}

// BenchmarkMapFilterRatio times the map/filter chain and its loop in the
// same run, alternately, and reports their ratios.
func BenchmarkMapFilterRatio(b *testing.B) {
	n := scaled(mapFilterRecords)
	ec := newBenchEngine(b)
	ctx := context.Background()
	var spateSum, handSum int
	measureRatio(b, float64(n), "records/s",
		func() {
			s, err := spateMapFilter(ctx, ec, n)
			if err != nil {
				b.Fatal(err)
			}
			spateSum = s
		},
		func() { handSum = handMapFilter(n) })
	if spateSum != handSum {
		b.Fatalf("spate sum = %d, hand loop sum = %d", spateSum, handSum)
	}
}

// minRatioRounds is the fewest (spate, hand) pairs a ratio is taken from.
const minRatioRounds = 3

// sample is one timed run: wall time and the process's CPU time.
type sample struct{ wall, cpu time.Duration }

// measureRatio runs spate and hand alternately, one pair per b.Loop
// iteration (and more after the loop until there are minRatioRounds pairs),
// with a GC before each run and the order flipped every round so that
// neither side always runs on a warmer or a dirtier heap. From the median
// per side it reports:
//
//   - spate-<unit>, hand-<unit>: work per second of wall time;
//   - ratio-per-core: (spate rate / GOMAXPROCS) / hand rate, the target
//     metric (1 means spate does per core what one hand-loop core does);
//   - ratio-wall: hand time / spate time (above 1 means spate is faster);
//   - ratio-cpu: hand CPU time / spate CPU time, where the OS reports it.
//     It is ratio-per-core without the cores spate left idle, and it is
//     less sensitive than wall time to other processes taking a core;
//   - spate-cores: spate's CPU time / its wall time, how many cores it
//     kept busy (GC and the event bus included).
//
// ns/op of these benchmarks covers one pair plus the GCs and means little.
func measureRatio(b *testing.B, work float64, unit string, spate, hand func()) {
	var ss, hs []sample
	round := 0
	timed := func(f func()) sample {
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		c0, _ := processCPU()
		t0 := time.Now()
		f()
		wall := time.Since(t0)
		c1, _ := processCPU()
		return sample{wall, c1 - c0}
	}
	pair := func() {
		if round%2 == 0 {
			ss = append(ss, timed(spate))
			hs = append(hs, timed(hand))
		} else {
			hs = append(hs, timed(hand))
			ss = append(ss, timed(spate))
		}
		round++
	}
	for b.Loop() {
		pair()
	}
	for round < minRatioRounds {
		pair()
	}
	wall := func(s sample) time.Duration { return s.wall }
	cpu := func(s sample) time.Duration { return s.cpu }
	ms, mh := median(ss, wall).Seconds(), median(hs, wall).Seconds()
	spateRate, handRate := work/ms, work/mh
	b.ReportMetric(spateRate, "spate-"+unit)
	b.ReportMetric(handRate, "hand-"+unit)
	b.ReportMetric(spateRate/cores()/handRate, "ratio-per-core")
	b.ReportMetric(mh/ms, "ratio-wall")
	if _, ok := processCPU(); ok {
		cs, ch := median(ss, cpu).Seconds(), median(hs, cpu).Seconds()
		b.ReportMetric(ch/cs, "ratio-cpu")
		b.ReportMetric(cs/ms, "spate-cores")
	}
	b.ReportMetric(float64(round), "rounds")
}

// median returns the median of the durations that by picks from samples.
func median(samples []sample, by func(sample) time.Duration) time.Duration {
	s := make([]time.Duration, len(samples))
	for i, x := range samples {
		s[i] = by(x)
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
