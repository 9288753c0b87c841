package bench

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

// skewedBatches returns n batches of size pairs (key, 1) over keys, with
// a skew (key i drawn with probability decreasing in i), so that some
// keys are missing from some batches and windows.
func skewedBatches(keys []string, n, size int, seed uint64) [][]rdd.Pair[string, int] {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]rdd.Pair[string, int], n)
	for i := range out {
		out[i] = make([]rdd.Pair[string, int], size)
		for j := range out[i] {
			out[i][j] = rdd.KV(keys[rng.IntN(rng.IntN(len(keys))+1)], 1)
		}
	}
	return out
}

// handWindow counts the pairs of batches[lo:hi] by key.
func handWindow(batches [][]rdd.Pair[string, int], lo, hi int) []rdd.Pair[string, int] {
	counts := map[string]int{}
	for _, b := range batches[max(lo, 0):hi] {
		for _, p := range b {
			counts[p.Key] += p.Value
		}
	}
	out := make([]rdd.Pair[string, int], 0, len(counts))
	for k, n := range counts {
		out = append(out, rdd.KV(k, n))
	}
	return out
}

// TestWindowInvMatchesPlain runs both window workloads over the same
// small input and checks that every window of each equals a hand count
// of the batches it covers, for windows of 3, 4 and 10 batches, slides
// of 1 and 2, and 1 or 2 worker slots. Keys come and go, so the inverse
// window must drop the keys whose count fell to 0.
func TestWindowInvMatchesPlain(t *testing.T) {
	keys := makeKeys(50)
	batches := skewedBatches(keys, 25, 200, 3)
	for _, slots := range []int{1, 2} {
		for _, c := range []struct{ window, slide int }{{3, 1}, {10, 1}, {4, 2}} {
			t.Run(fmt.Sprintf("slots=%d/window=%d/slide=%d", slots, c.window, c.slide), func(t *testing.T) {
				results := map[windowMode]map[int64][]rdd.Pair[string, int]{}
				for _, mode := range []windowMode{windowInv, windowPlain} {
					ec, clk := newManualTestEngine(t, engine.Slots(slots))
					rdds := parallelizePairs(ec, batches)
					w, err := startWindowRun(ec, clk, mode, c.window, c.slide, t.TempDir(), true)
					if err != nil {
						t.Fatal(err)
					}
					for i, r := range rdds {
						if err := w.advance(testCtx(t), r); err != nil {
							t.Fatalf("%v, batch %d: %v", mode, i, err)
						}
					}
					if err := w.stop(); err != nil {
						t.Fatal(err)
					}
					if want := len(batches) / c.slide; w.windows != want {
						t.Fatalf("%v: %d windows, want %d", mode, w.windows, want)
					}
					results[mode] = w.outs
				}
				// The k-th batch (k = 1, 2, ...) has time zero + k
				// intervals; a window at batch k covers batches
				// k-window+1 .. k.
				checked := 0
				for mode, outs := range results {
					times := make([]int64, 0, len(outs))
					for at := range outs {
						times = append(times, at)
					}
					slices.Sort(times)
					for i, at := range times {
						k := (i + 1) * c.slide
						want := handWindow(batches, k-c.window, k)
						if !sameCounts(outs[at], want) {
							t.Fatalf("%v, window at batch %d (%s): %d keys, hand count %d keys, or the counts differ",
								mode, k, time.Unix(0, at).UTC().Format(time.TimeOnly), len(outs[at]), len(want))
						}
						checked++
					}
				}
				if checked != 2*(len(batches)/c.slide) {
					t.Fatalf("checked %d windows", checked)
				}
			})
		}
	}
}

// TestWindowRunSummarizes checks the benchmark output operation's
// summary (keys and the sum of counts) on the benchmark input at small
// size, once the window is full.
func TestWindowRunSummarizes(t *testing.T) {
	keys := makeKeys(100)
	batches := make([][]rdd.Pair[string, int], 6)
	for i := range batches {
		batches[i] = onesBatch[int](keys, 1_000, uint64(i))
	}
	for _, mode := range []windowMode{windowInv, windowPlain} {
		ec, clk := newManualTestEngine(t)
		rdds := parallelizePairs(ec, batches)
		w, err := startWindowRun(ec, clk, mode, 4, 1, t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rdds {
			if err := w.advance(testCtx(t), r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.stop(); err != nil {
			t.Fatal(err)
		}
		want := handWindow(batches, 2, 6)
		if w.last.sum != 4_000 || w.last.keys != len(want) {
			t.Errorf("%v: last window has %d keys summing to %d, want %d keys summing to 4000", mode, w.last.keys, w.last.sum, len(want))
		}
	}
}

// stateInput returns the state tests' input: initial state (key, i) for
// the first 300 of 500 keys, and 6 batches of 400 pairs (key, 1) over all
// 500 keys, so that batches update existing keys and create new ones.
func stateInput() (keys []string, initial []rdd.Pair[string, int64], batches [][]rdd.Pair[string, int64]) {
	keys = makeKeys(500)
	for i, k := range keys[:300] {
		initial = append(initial, rdd.KV(k, int64(i)))
	}
	for i := range 6 {
		batches = append(batches, onesBatch[int64](keys, 400, 100+uint64(i)))
	}
	return keys, initial, batches
}

func sortPairs(ps []rdd.Pair[string, int64]) []rdd.Pair[string, int64] {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b rdd.Pair[string, int64]) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Value, b.Value))
	})
	return ps
}

// TestStateWorkloadsMatchBaseline checks both state workloads against a
// hand-kept map[string]int64, batch by batch: MapWithState outputs, for a
// key with c updates in a batch and state s before it, (key, s+1) …
// (key, s+c); UpdateStateByKey outputs every key's state after the batch.
func TestStateWorkloadsMatchBaseline(t *testing.T) {
	_, initial, batches := stateInput()
	for _, slots := range []int{1, 2} {
		for _, mode := range []stateMode{stateMap, stateUpdate} {
			t.Run(fmt.Sprintf("slots=%d/%v", slots, mode), func(t *testing.T) {
				ec, clk := newManualTestEngine(t, engine.Slots(slots))
				run, err := startStateRun(ec, clk, mode, rdd.Parallelize(ec, initial, 3), t.TempDir(), 0, true)
				if err != nil {
					t.Fatal(err)
				}
				for i, b := range batches {
					if err := run.advance(testCtx(t), rdd.Parallelize(ec, b, 4)); err != nil {
						t.Fatalf("batch %d: %v", i, err)
					}
				}
				if err := run.stop(); err != nil {
					t.Fatal(err)
				}
				state := map[string]int64{}
				for _, p := range initial {
					state[p.Key] = p.Value
				}
				if len(run.outs) != len(batches) {
					t.Fatalf("%d batches output, want %d", len(run.outs), len(batches))
				}
				for i, b := range batches {
					var want []rdd.Pair[string, int64]
					for _, p := range b {
						state[p.Key] += p.Value
						if mode == stateMap {
							want = append(want, rdd.KV(p.Key, state[p.Key]))
						}
					}
					if mode == stateUpdate {
						for k, s := range state {
							want = append(want, rdd.KV(k, s))
						}
					}
					if got := sortPairs(run.outs[i]); !slices.Equal(got, sortPairs(want)) {
						t.Fatalf("batch %d: output %d records, want %d, or they differ", i, len(got), len(want))
					}
				}
			})
		}
	}
}

// TestPreloadedStateRunsUpdates checks the benchmarks' set-up: the state
// is preloaded, and each warm-up batch outputs one record per update
// (MapWithState) or per key (UpdateStateByKey).
func TestPreloadedStateRunsUpdates(t *testing.T) {
	keys := makeKeys(2_000)
	for _, mode := range []stateMode{stateMap, stateUpdate} {
		ec, clk := newManualTestEngine(t)
		pool := updateInput(ec, keys, 300)
		run, next, err := preloadedState(testCtx(t), ec, clk, mode, keys, pool, t.TempDir(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if next != 1+stateWarm {
			t.Errorf("%v: next = %d, want %d", mode, next, 1+stateWarm)
		}
		want := 300
		if mode == stateUpdate {
			want = len(keys)
		}
		if run.last != want {
			t.Errorf("%v: the last warm-up batch output %d records, want %d", mode, run.last, want)
		}
		if err := run.stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadByBatchesInsertsEveryKey checks the memory measurement's loader:
// every key is mapped once, and afterwards the state holds every key
// with its index as the state.
func TestLoadByBatchesInsertsEveryKey(t *testing.T) {
	keys := makeKeys(3_001)
	ec, clk := newManualTestEngine(t)
	run, err := startStateRun(ec, clk, stateMap, nil, t.TempDir(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := loadByBatches(testCtx(t), ec, run, keys, 4)
	if err != nil {
		t.Fatal(err)
	}
	if mapped != len(keys) {
		t.Fatalf("mapped %d records, want %d", mapped, len(keys))
	}
	// One more batch adds 1 to every key: the output shows each state.
	pairs := make([]rdd.Pair[string, int64], len(keys))
	for i, k := range keys {
		pairs[i] = rdd.KV(k, int64(1))
	}
	if err := run.advance(testCtx(t), rdd.Parallelize(ec, pairs, 3)); err != nil {
		t.Fatal(err)
	}
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	got := sortPairs(run.outs[len(run.outs)-1])
	if len(got) != len(keys) {
		t.Fatalf("the last batch output %d records, want %d", len(got), len(keys))
	}
	for i, p := range got { // the keys sort in index order
		if p.Key != keys[i] || p.Value != int64(i)+1 {
			t.Fatalf("record %d: %v, want (%s,%d)", i, p, keys[i], i+1)
		}
	}
}

// TestMeasureStateMemory runs the memory measurement on few keys. It
// checks only that it runs and gives positive sizes: heap numbers for a
// few thousand keys are too noisy to compare.
func TestMeasureStateMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("several forced garbage collections")
	}
	m, err := measureStateMemory(testCtx(t), makeKeys(20_000), t.TempDir)
	if err != nil {
		t.Fatal(err)
	}
	if m.plainMap <= 0 || m.byData <= 0 || m.initial <= 0 || m.keyBytes <= 0 {
		t.Fatalf("non-positive sizes: %+v", m)
	}
	t.Logf("%+v", m)
}

// TestHandStateMatchesMapWithState checks the baseline against the spate
// workload on the state tests' input.
func TestHandStateMatchesMapWithState(t *testing.T) {
	_, initial, batches := stateInput()
	ec, clk := newManualTestEngine(t)
	run, err := startStateRun(ec, clk, stateMap, rdd.Parallelize(ec, initial, 3), t.TempDir(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	m := handState{}
	for _, p := range initial {
		m[p.Key] = p.Value
	}
	for i, b := range batches {
		if err := run.advance(testCtx(t), rdd.Parallelize(ec, b, 4)); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if got, want := sortPairs(run.outs[i]), sortPairs(m.apply(b)); !slices.Equal(got, want) {
			t.Fatalf("batch %d: spate output %d records, the hand loop %d, or they differ", i, len(got), len(want))
		}
	}
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
}
