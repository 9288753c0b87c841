package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spate-io/spate/clock"
)

// bpCapacity is the pipeline's capacity in lines/s, measured once per
// process (see bpCalibrate).
var bpCapacity struct {
	once sync.Once
	rate float64
	err  error
}

func bpMeasureCapacity(b *testing.B) float64 {
	b.Helper()
	bpCapacity.once.Do(func() {
		ec := newBenchEngine(b)
		bpCapacity.rate, bpCapacity.err = bpCalibrate(context.Background(), ec)
	})
	if bpCapacity.err != nil {
		b.Fatalf("calibration: %v", bpCapacity.err)
	}
	return bpCapacity.rate
}

// BenchmarkBackpressure runs the streaming demo's pipeline (a generator
// receiver → FlatMap → Map → ReduceByKey → top words, with a fixed CPU
// cost per line; see backpressure_workloads.go) on the real clock for 60 s
// (300 ms of 100 ms batches with SPATE_BENCH_SHORT=1), one run per op:
//
//   - steady: offered at the capacity C, backpressure on;
//   - on: offered 5×C, backpressure on, Spark's defaults (no initial rate);
//   - on-initial-rate: the same with BackpressureInitialRate(C);
//   - off-bounded: offered 5×C, no backpressure, the default
//     ReceiverMaxPending (1,000,000 lines);
//   - off-unbounded: offered 5×C, no backpressure, ReceiverMaxPending(0).
//
// C is measured first by running one batch's job on its own
// (capacity-lines/s). Each run reports peak-heap-MB (the largest live heap
// above the one before the run, sampled each second after a collection),
// peak-alloc-MB (the largest HeapAlloc above it, sampled every 100 ms, so
// garbage included), final-sched-delay-s (the scheduling delay of the last
// batch that completed), max-sched-delay-s, lag-s (from that batch's time
// to the end of the run: how far processing is behind), final-rate (its
// rate limit, 0 = none), processed-lines/s and dropped-% (lines the
// generator dropped after falling 1 s behind, out of those offered). Runs
// after steady also report heap-vs-steady = peak-heap-MB ÷ steady's; the
// target is ≤ 2 with backpressure on.
func BenchmarkBackpressure(b *testing.B) {
	c := bpMeasureCapacity(b)
	var steadyPeak float64
	runs := []struct {
		name string
		cfg  bpConfig
	}{
		{"steady", bpConfig{rate: int(c), backpressure: true, maxPending: -1}},
		{"on", bpConfig{rate: bpOverload * int(c), backpressure: true, maxPending: -1}},
		{"on-initial-rate", bpConfig{rate: bpOverload * int(c), backpressure: true, initialRate: c, maxPending: -1}},
		{"off-bounded", bpConfig{rate: bpOverload * int(c), maxPending: -1}},
		{"off-unbounded", bpConfig{rate: bpOverload * int(c), maxPending: 0}},
	}
	for _, run := range runs {
		b.Run(run.name, func(b *testing.B) {
			var res bpResult
			for b.Loop() {
				r, err := runBackpressure(context.Background(), run.cfg)
				if err != nil {
					b.Fatal(err)
				}
				res = r // the last run's figures
			}
			mb := func(x uint64) float64 { return float64(x) / (1 << 20) }
			peak := mb(res.peakLive)
			b.ReportMetric(c, "capacity-lines/s")
			b.ReportMetric(float64(run.cfg.rate), "offered-lines/s")
			b.ReportMetric(peak, "peak-heap-MB")
			b.ReportMetric(mb(res.peakAlloc), "peak-alloc-MB")
			b.ReportMetric(res.finalSched.Seconds(), "final-sched-delay-s")
			b.ReportMetric(res.maxSched.Seconds(), "max-sched-delay-s")
			b.ReportMetric(res.lag.Seconds(), "lag-s")
			b.ReportMetric(res.finalRate, "final-rate")
			b.ReportMetric(float64(res.processed)/res.ran.Seconds(), "processed-lines/s")
			if offered := res.stored + res.dropped; offered > 0 {
				b.ReportMetric(100*float64(res.dropped)/float64(offered), "dropped-%")
			}
			b.ReportMetric(float64(res.batches), "batches")
			if run.name == "steady" {
				steadyPeak = peak
			} else if steadyPeak > 0 {
				b.ReportMetric(peak/steadyPeak, "heap-vs-steady")
			}
			if testing.Verbose() {
				b.Logf("%s: %+v", run.name, res)
			}
		})
	}
}

// TestBPGeneratorPacesAndDrops checks the benchmark's generator on a
// manual clock: it stores rate lines per second of the clock, at most a
// tick's worth per store, and when a store holds it back for more than a
// second it drops the lines older than a second and catches up with the
// rest.
func TestBPGeneratorPacesAndDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 1000 // 10 lines a tick
		m := clock.NewManual(time.Unix(0, 0))
		g := newBPGenerator(m, rate)
		var (
			mu      sync.Mutex
			largest int
			held    atomic.Bool
			release = make(chan struct{})
			stop    = make(chan struct{})
			done    = make(chan error, 1)
		)
		go func() {
			done <- g.emit(stop, func(lines []string) error {
				mu.Lock()
				largest = max(largest, len(lines))
				mu.Unlock()
				if held.Load() {
					<-release
				}
				return nil
			})
		}()
		step := func(n int) {
			for range n {
				m.Advance(bpTick)
				synctest.Wait()
			}
		}
		synctest.Wait()
		step(100)
		if got := g.stored.Load(); got != rate {
			t.Fatalf("stored %d lines in 1 s, want %d", got, rate)
		}
		// The next store blocks for 3 s.
		held.Store(true)
		step(301)
		if got := g.stored.Load(); got != rate {
			t.Fatalf("stored %d lines while held back, want still %d", got, rate)
		}
		held.Store(false)
		close(release)
		synctest.Wait()
		// At 4.01 s, 4010 lines are due; 1010 were stored, so 3000 are
		// behind: the 2000 older than a second are dropped and the other
		// 1000 stored.
		if s, d := g.stored.Load(), g.dropped.Load(); s != 2010 || d != 2000 {
			t.Errorf("after being held back: stored %d, dropped %d; want 2010 and 2000", s, d)
		}
		mu.Lock()
		if largest > rate*int(bpTick)/int(time.Second) {
			t.Errorf("a store took %d lines, more than a tick's worth", largest)
		}
		mu.Unlock()
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
