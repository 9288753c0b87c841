package bench

import (
	"context"
	"testing"
	"time"

	"github.com/spate-io/spate/rdd"
)

// timedStep runs step and returns its wall time and the process's CPU
// time meanwhile (all threads: the engine's workers, the garbage
// collector and the event bus count).
func timedStep(b *testing.B, ctx context.Context, step func(context.Context) error) sample {
	b.Helper()
	c0, _ := processCPU()
	t0 := time.Now()
	if err := step(ctx); err != nil {
		b.Fatal(err)
	}
	wall := time.Since(t0)
	c1, _ := processCPU()
	return sample{wall, c1 - c0}
}

// measurePairedBatches times batches of two streaming graphs alternately,
// one (a, c) pair per b.Loop iteration and more after the loop until
// there are timedRounds() pairs, with the order flipped every round so
// that neither side always runs right after the other's garbage. Each
// step runs one batch and waits for its BatchCompleted. It returns every
// batch's times per side.
func measurePairedBatches(b *testing.B, ctx context.Context, a, c func(context.Context) error) (as, cs []sample) {
	b.Helper()
	round := 0
	pair := func() {
		if round%2 == 0 {
			as = append(as, timedStep(b, ctx, a))
			cs = append(cs, timedStep(b, ctx, c))
		} else {
			cs = append(cs, timedStep(b, ctx, c))
			as = append(as, timedStep(b, ctx, a))
		}
		round++
	}
	for b.Loop() {
		pair()
	}
	for round < timedRounds() {
		pair()
	}
	return as, cs
}

// reportPaired reports, from the batches of both sides, the median wall
// time of a batch per side (<name>-ms/batch), ratio = median(second) /
// median(first), and the same for CPU time (<name>-cpu-ms/batch,
// ratio-cpu), which a busy machine disturbs less.
func reportPaired(b *testing.B, firstName string, first []sample, secondName string, second []sample) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	wall := func(s sample) time.Duration { return s.wall }
	cpu := func(s sample) time.Duration { return s.cpu }
	w1, w2 := median(first, wall), median(second, wall)
	b.ReportMetric(ms(w1), firstName+"-ms/batch")
	b.ReportMetric(ms(w2), secondName+"-ms/batch")
	b.ReportMetric(float64(w2)/float64(w1), "ratio")
	if _, ok := processCPU(); ok {
		c1, c2 := median(first, cpu), median(second, cpu)
		b.ReportMetric(ms(c1), firstName+"-cpu-ms/batch")
		b.ReportMetric(ms(c2), secondName+"-cpu-ms/batch")
		b.ReportMetric(float64(c2)/float64(c1), "ratio-cpu")
	}
	b.ReportMetric(float64(len(first)), "rounds")
}

// BenchmarkReduceByKeyAndWindow counts keys over a window of 10 and of
// 100 batches at the same input rate (each batch windowPairCount() pairs
// (key, 1) over windowKeyCount() keys, slide = batch interval), with the
// inverse-function window (inv, ReduceByKeyAndWindowInv) and with the
// window recomputed from its batches (plain, ReduceByKeyAndWindow). The
// two windows run side by side, on two engines with manual clocks, and
// are warmed up untimed until the long window is full; then their batches
// are timed alternately. short-ms/batch and long-ms/batch are the median
// wall time of a batch (Advance to BatchCompleted); ratio = long / short,
// target ≤ 1.3 for inv.
func BenchmarkReduceByKeyAndWindow(b *testing.B) {
	for _, mode := range []windowMode{windowInv, windowPlain} {
		b.Run(mode.String(), func(b *testing.B) {
			ctx := context.Background()
			ecS, clkS := newManualBenchEngine(b)
			ecL, clkL := newManualBenchEngine(b)
			poolS, poolL := windowInput(ecS), windowInput(ecL)
			short, err := startWindowRun(ecS, clkS, mode, windowShortSlides, 1, b.TempDir(), false)
			if err != nil {
				b.Fatal(err)
			}
			defer stopOrFail(b, short.stop)
			long, err := startWindowRun(ecL, clkL, mode, windowLongSlides, 1, b.TempDir(), false)
			if err != nil {
				b.Fatal(err)
			}
			defer stopOrFail(b, long.stop)

			next := 0
			// check verifies, once both windows are full, that every
			// window's counts add up to its pairs.
			check := func() {
				for _, w := range []struct {
					run    *windowRun
					slides int
				}{{short, windowShortSlides}, {long, windowLongSlides}} {
					if want := w.slides * windowPairCount(); w.run.last.sum != want {
						b.Fatalf("a %d-batch window counted %d pairs, want %d", w.slides, w.run.last.sum, want)
					}
				}
			}
			for range windowLongSlides + windowWarmExtra {
				for _, w := range []struct {
					run  *windowRun
					pool []*rdd.RDD[rdd.Pair[string, int]]
				}{{short, poolS}, {long, poolL}} {
					if err := w.run.advance(ctx, w.pool[next%windowPool]); err != nil {
						b.Fatal(err)
					}
				}
				next++
			}
			check()
			ns := next // both runs consume the pool in step
			nl := next
			shortStep := func(ctx context.Context) error {
				err := short.advance(ctx, poolS[ns%windowPool])
				ns++
				return err
			}
			longStep := func(ctx context.Context) error {
				err := long.advance(ctx, poolL[nl%windowPool])
				nl++
				return err
			}
			ss, ls := measurePairedBatches(b, ctx, shortStep, longStep)
			check()
			reportPaired(b, "short", ss, "long", ls)
			b.ReportMetric(float64(long.last.keys), "keys")
		})
	}
}

// stopOrFail stops a run and reports its error.
func stopOrFail(b *testing.B, stop func() error) {
	if err := stop(); err != nil {
		b.Error(err)
	}
}

// benchStatePair runs the state benchmark of mode: a graph whose state is
// preloaded with stateSmallCount() keys and one with stateLargeCount()
// keys (InitialState, untimed, plus stateWarm untimed batches), then
// batches of stateUpdateCount() updates (key, 1) with keys drawn from each
// graph's existing keys, timed alternately. ratio = large / small.
func benchStatePair(b *testing.B, mode stateMode) {
	ctx := context.Background()
	ecS, clkS := newManualBenchEngine(b)
	ecL, clkL := newManualBenchEngine(b)
	small, large := keysFor(stateSmallCount()), keysFor(stateLargeCount())
	poolS := updateInput(ecS, small, stateUpdateCount())
	poolL := updateInput(ecL, large, stateUpdateCount())
	runS, ns, err := preloadedState(ctx, ecS, clkS, mode, small, poolS, b.TempDir(), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer stopOrFail(b, runS.stop)
	runL, nl, err := preloadedState(ctx, ecL, clkL, mode, large, poolL, b.TempDir(), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer stopOrFail(b, runL.stop)
	step := func(run *stateRun, pool []*rdd.RDD[rdd.Pair[string, int64]], next *int, keys int) func(context.Context) error {
		return func(ctx context.Context) error {
			err := run.advance(ctx, pool[*next%len(pool)])
			*next++
			if err != nil {
				return err
			}
			// MapWithState outputs one record per update,
			// UpdateStateByKey one per key.
			want := stateUpdateCount()
			if mode == stateUpdate {
				want = keys
			}
			if run.last != want {
				b.Fatalf("%v with %d keys: a batch output %d records, want %d", mode, keys, run.last, want)
			}
			return nil
		}
	}
	ss, ls := measurePairedBatches(b, ctx, step(runS, poolS, &ns, len(small)), step(runL, poolL, &nl, len(large)))
	reportPaired(b, "small", ss, "large", ls)
}

// sinkStatePairs keeps the hand loop's output alive.
var sinkStatePairs []rdd.Pair[string, int64]

// BenchmarkMapWithState measures the cost of a MapWithState batch of
// stateUpdateCount() updates against the number of existing keys.
//
// ratio: stateLargeCount() (1M) against stateSmallCount() (10K) keys,
// side by side (see benchStatePair); target ≤ 2.
//
// handloop: the same for the baseline, a map[string]int64 per side
// updated by one goroutine (handState.apply) with the same batches.
//
// large: the large side alone, one batch per op (after the untimed load),
// for profiling.
func BenchmarkMapWithState(b *testing.B) {
	b.Run("ratio", func(b *testing.B) { benchStatePair(b, stateMap) })
	b.Run("handloop", func(b *testing.B) {
		small, large := keysFor(stateSmallCount()), keysFor(stateLargeCount())
		mS, mL := newHandState(small), newHandState(large)
		poolS, poolL := updateBatches(small, stateUpdateCount()), updateBatches(large, stateUpdateCount())
		// The same warm-up as the spate side: stateWarm+1 batches.
		ns, nl := 0, 0
		for ; ns < 1+stateWarm; ns, nl = ns+1, nl+1 {
			sinkStatePairs = mS.apply(poolS[ns%statePool])
			sinkStatePairs = mL.apply(poolL[nl%statePool])
		}
		step := func(m handState, pool [][]rdd.Pair[string, int64], next *int) func(context.Context) error {
			return func(context.Context) error {
				sinkStatePairs = m.apply(pool[*next%statePool])
				*next++
				return nil
			}
		}
		ss, ls := measurePairedBatches(b, context.Background(), step(mS, poolS, &ns), step(mL, poolL, &nl))
		reportPaired(b, "small", ss, "large", ls)
	})
	b.Run("large", func(b *testing.B) {
		ctx := context.Background()
		ec, clk := newManualBenchEngine(b)
		keys := keysFor(stateLargeCount())
		pool := updateInput(ec, keys, stateUpdateCount())
		run, next, err := preloadedState(ctx, ec, clk, stateMap, keys, pool, b.TempDir(), 0)
		if err != nil {
			b.Fatal(err)
		}
		defer stopOrFail(b, run.stop)
		b.ReportAllocs()
		for b.Loop() {
			if err := run.advance(ctx, pool[next%len(pool)]); err != nil {
				b.Fatal(err)
			}
			next++
		}
		if run.last != stateUpdateCount() {
			b.Fatalf("a batch output %d records, want %d", run.last, stateUpdateCount())
		}
		b.ReportMetric(float64(b.Elapsed())/float64(time.Millisecond)/float64(b.N), "ms/batch")
	})
}

// BenchmarkUpdateStateByKey is BenchmarkMapWithState's ratio for
// UpdateStateByKey on the same data. UpdateStateByKey calls its function
// for every key in every batch and outputs every key, so its batch time
// grows with the keys.
func BenchmarkUpdateStateByKey(b *testing.B) { benchStatePair(b, stateUpdate) }

// BenchmarkStateMemoryPerKey measures the live heap per key of
// memKeyCount() (1M) keys of string → int64 state: a plain
// map[string]int64 (map-B/key), MapWithState with the keys inserted by
// batches of data (mws-B/key) and MapWithState with the keys given as
// InitialState (mws-init-B/key). None of them counts the key strings,
// which exist before and stay alive (key-B/key is what they take
// themselves). ratio = mws / map, target ≤ 2; ratio-with-keys adds the
// key bytes to both sides; ratio-init = mws-init / map.
func BenchmarkStateMemoryPerKey(b *testing.B) {
	ctx := context.Background()
	keys := keysFor(memKeyCount())
	var sum memPerKey
	n := 0
	for b.Loop() {
		m, err := measureStateMemory(ctx, keys, b.TempDir)
		if err != nil {
			b.Fatal(err)
		}
		sum.keyBytes += m.keyBytes
		sum.plainMap += m.plainMap
		sum.byData += m.byData
		sum.initial += m.initial
		n++
	}
	avg := func(x float64) float64 { return x / float64(n) }
	b.ReportMetric(avg(sum.keyBytes), "key-B/key")
	b.ReportMetric(avg(sum.plainMap), "map-B/key")
	b.ReportMetric(avg(sum.byData), "mws-B/key")
	b.ReportMetric(avg(sum.initial), "mws-init-B/key")
	b.ReportMetric(sum.byData/sum.plainMap, "ratio")
	b.ReportMetric((sum.byData+sum.keyBytes)/(sum.plainMap+sum.keyBytes), "ratio-with-keys")
	b.ReportMetric(sum.initial/sum.plainMap, "ratio-init")
}
