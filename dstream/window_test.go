package dstream_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/rdd"
)

// Tests of the window operations of window.go, against naive
// computations of Spark's semantics: the window at batch time t covers
// the batches in (t - window, t]; a windowed stream has output only at
// multiples of its slide; the first windows are partial. Batch k (from 1)
// of the harness runs at k seconds.

// winInput has keys that appear (a, b, c at batch 1 and 2), disappear
// (a after batch 1) and reappear (a at batch 6), empty batches between
// and a run long enough for every window to drain.
var winInput = [][]kv{
	{rdd.KV("a", 1), rdd.KV("a", 2), rdd.KV("b", 3)},
	{rdd.KV("c", 4)},
	{},
	{rdd.KV("b", 5)},
	{},
	{rdd.KV("a", 6)},
	{rdd.KV("c", 7), rdd.KV("c", 8)},
}

func sum(a, b int) int  { return a + b }
func diff(a, b int) int { return a - b }

// inWindow returns the input elements of the batches in the window of w
// batches ending at batch k: batches max(1, k-w+1) … k.
func inWindow[T any](in [][]T, k, w int) []T {
	var out []T
	for b := max(1, k-w+1); b <= k; b++ {
		out = append(out, batchAt(in, b-1)...)
	}
	return out
}

// sumsByKey merges the values of each key, as pairs in any order.
func sumsByKey(ps []kv) []kv {
	m := map[string]int{}
	for _, p := range ps {
		m[p.Key] += p.Value
	}
	out := []kv{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, rdd.KV(k, m[k]))
	}
	return out
}

// valuesOf returns the values of ps.
func valuesOf(ps []kv) []int {
	out := []int{}
	for _, p := range ps {
		out = append(out, p.Value)
	}
	return out
}

// total returns the sum of vs.
func total(vs []int) int {
	n := 0
	for _, v := range vs {
		n += v
	}
	return n
}

// slotsOf returns, for batches 1..n, what b collected at each batch time
// (nil for batches at which the stream had no output).
func slotsOf[T any](b *rtBatches[T], n int) [][]T {
	out := make([][]T, n)
	for k := 1; k <= n; k++ {
		out[k-1], _ = b.get(epoch.Add(time.Duration(k) * time.Second))
	}
	return out
}

// expectAtSlides builds the expected per-batch output: want(k) at the
// multiples of slide, nil elsewhere.
func expectAtSlides[T any](n, slide int, want func(k int) []T) [][]T {
	out := make([][]T, n)
	for k := slide; k <= n; k += slide {
		out[k-1] = want(k)
	}
	return out
}

// checkWindowed compares what b collected with want(k) at every multiple
// of slide (in any order) and checks that the stream had no output at the
// other batch times.
func checkWindowed[T any](t *testing.T, b *rtBatches[T], n, slide int, want func(k int) []T) {
	t.Helper()
	for _, bt := range b.times() {
		k := int(bt.Sub(epoch) / time.Second)
		if k%slide != 0 {
			t.Errorf("output at batch %d, which is not a multiple of the slide (%d batches)", k, slide)
		}
	}
	dstreamtest.EqualUnordered(t, slotsOf(b, n), expectAtSlides(n, slide, want))
}

// winCase is a window and slide, in batch intervals.
type winCase struct{ w, s int }

func (c winCase) String() string { return fmt.Sprintf("window=%ds,slide=%ds", c.w, c.s) }

func (c winCase) durations() (time.Duration, time.Duration) {
	return time.Duration(c.w) * time.Second, time.Duration(c.s) * time.Second
}

// winCases covers a sliding window, a slide larger than the batch
// interval (output only at even seconds), a tumbling window (window ==
// slide) and a window larger than all the data.
var winCases = []winCase{{3, 1}, {4, 2}, {2, 2}, {3, 3}, {20, 1}}

// TestWindowOperations runs every window operation on winInput in one
// streaming context per window case and input partitioning.
func TestWindowOperations(t *testing.T) {
	const n = 12
	for _, c := range winCases {
		t.Run(c.String(), func(t *testing.T) {
			forPartitions(t, func(t *testing.T, parts int) {
				window, slide := c.durations()
				type outputs struct {
					countByWindow     *rtBatches[int]
					reduceByWindow    *rtBatches[int]
					reduceByWindowInv *rtBatches[int]
					byKey             *rtBatches[kv]
					byKeyInv          *rtBatches[kv]
					byKeyInvFiltered  *rtBatches[kv]
					countByValue      *rtBatches[rdd.Pair[string, int]]
					groupByKey        *rtBatches[string]
				}
				var o outputs
				got := mustRun(t, winInput, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
					values := dstream.Values(s)
					keys := dstream.Map(s, func(p kv) string { return p.Key })
					o.countByWindow = rtCollect(t, s.CountByWindow(window, slide))
					o.reduceByWindow = rtCollect(t, values.ReduceByWindow(sum, window, slide))
					o.reduceByWindowInv = rtCollect(t, dstream.ReduceByWindowInv(values, sum, diff, window, slide))
					o.byKey = rtCollect(t, dstream.ReduceByKeyAndWindow(s, sum, window, slide))
					o.byKeyInv = rtCollect(t, dstream.ReduceByKeyAndWindowInv(s, sum, diff, window, slide))
					o.byKeyInvFiltered = rtCollect(t, dstream.ReduceByKeyAndWindowInv(s, sum, diff, window, slide,
						dstream.FilterKeys(func(p kv) bool { return p.Value != 0 })))
					o.countByValue = rtCollect(t, dstream.CountByValueAndWindow(keys, window, slide))
					o.groupByKey = rtCollect(t, dstream.Map(dstream.GroupByKeyAndWindow(s, window, slide), sortedGroups))
					return s.Window(window, slide)
				}, n, dstreamtest.Partitions(parts))

				// The harness's slots at times that are not multiples of
				// the slide stay empty.
				dstreamtest.EqualUnordered(t, got, expectAtSlides(n, c.s, func(k int) []kv { return inWindow(winInput, k, c.w) }))
				for k := range n {
					if (k+1)%c.s != 0 && got[k] != nil {
						t.Errorf("Window: batch %d has output %v; the slide is %d batches", k+1, got[k], c.s)
					}
				}
				t.Run("CountByWindow", func(t *testing.T) {
					checkWindowed(t, o.countByWindow, n, c.s, func(k int) []int { return []int{len(inWindow(winInput, k, c.w))} })
				})
				t.Run("ReduceByWindow", func(t *testing.T) {
					// An empty window has no element.
					checkWindowed(t, o.reduceByWindow, n, c.s, func(k int) []int {
						if vs := valuesOf(inWindow(winInput, k, c.w)); len(vs) > 0 {
							return []int{total(vs)}
						}
						return []int{}
					})
				})
				t.Run("ReduceByWindowInv", func(t *testing.T) {
					// As in Spark, once a value has been seen the window's
					// value stays, falling back to the identity (0) when
					// the window empties: it is the previous value minus
					// what left.
					checkWindowed(t, o.reduceByWindowInv, n, c.s, func(k int) []int {
						if len(inWindow(winInput, k, k)) == 0 {
							return []int{}
						}
						return []int{total(valuesOf(inWindow(winInput, k, c.w)))}
					})
				})
				byKeyWant := func(k int) []kv { return sumsByKey(inWindow(winInput, k, c.w)) }
				t.Run("ReduceByKeyAndWindow", func(t *testing.T) {
					checkWindowed(t, o.byKey, n, c.s, byKeyWant)
				})
				t.Run("ReduceByKeyAndWindowInv", func(t *testing.T) {
					// Without FilterKeys a key whose values all left the
					// window stays with the identity, 0.
					checkWindowed(t, o.byKeyInv, n, c.s, func(k int) []kv {
						inW := map[string]int{}
						for _, p := range sumsByKey(inWindow(winInput, k, c.w)) {
							inW[p.Key] = p.Value
						}
						var out []kv
						for _, p := range sumsByKey(inWindow(winInput, k, k)) {
							out = append(out, rdd.KV(p.Key, inW[p.Key]))
						}
						return out
					})
				})
				t.Run("ReduceByKeyAndWindowInv with FilterKeys", func(t *testing.T) {
					checkWindowed(t, o.byKeyInvFiltered, n, c.s, byKeyWant)
				})
				t.Run("CountByValueAndWindow", func(t *testing.T) {
					// Keys whose count fell to 0 are dropped.
					checkWindowed(t, o.countByValue, n, c.s, func(k int) []rdd.Pair[string, int] {
						ones := []kv{}
						for _, p := range inWindow(winInput, k, c.w) {
							ones = append(ones, rdd.KV(p.Key, 1))
						}
						return sumsByKey(ones)
					})
				})
				t.Run("GroupByKeyAndWindow", func(t *testing.T) {
					checkWindowed(t, o.groupByKey, n, c.s, func(k int) []string {
						groups := map[string][]int{}
						for _, p := range inWindow(winInput, k, c.w) {
							groups[p.Key] = append(groups[p.Key], p.Value)
						}
						out := []string{}
						for key, vs := range groups {
							out = append(out, sortedGroups(rdd.Pair[string, []int]{Key: key, Value: vs}))
						}
						return out
					})
				})
			})
		})
	}
}

// TestWindowConcrete spells out one case by hand, so that a mistake
// shared by the operations and the naive model above cannot hide: a
// window of 4s sliding by 2s on 1s batches.
func TestWindowConcrete(t *testing.T) {
	in := [][]int{{1}, {2}, {3}, {4}, {5}}
	got := mustRun(t, in, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		return s.Window(4*time.Second, 2*time.Second)
	}, 8)
	// Outputs at 2s, 4s, 6s, 8s: (−2s, 2s], (0s, 4s], (2s, 6s], (4s, 8s].
	dstreamtest.EqualUnordered(t, got, [][]int{nil, {1, 2}, nil, {1, 2, 3, 4}, nil, {3, 4, 5}, nil, {5}})

	counts := mustRun(t, winInput, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
		return dstream.ReduceByKeyAndWindowInv(s, sum, diff, 3*time.Second, time.Second,
			dstream.FilterKeys(func(p kv) bool { return p.Value != 0 }))
	}, 9)
	dstreamtest.EqualUnordered(t, counts, [][]kv{
		{rdd.KV("a", 3), rdd.KV("b", 3)},                 // 1
		{rdd.KV("a", 3), rdd.KV("b", 3), rdd.KV("c", 4)}, // 1, 2
		{rdd.KV("a", 3), rdd.KV("b", 3), rdd.KV("c", 4)}, // 1, 2, 3
		{rdd.KV("b", 5), rdd.KV("c", 4)},                 // 2, 3, 4: a and the first b left
		{rdd.KV("b", 5)},                                 // 3, 4, 5
		{rdd.KV("a", 6), rdd.KV("b", 5)},                 // 4, 5, 6: a is back
		{rdd.KV("a", 6), rdd.KV("c", 15)},                // 5, 6, 7
		{rdd.KV("a", 6), rdd.KV("c", 15)},                // 6, 7, 8
		{rdd.KV("c", 15)},                                // 7, 8, 9
	})
}

func TestWindowPartitions(t *testing.T) {
	in := [][]kv{{rdd.KV("a", 1), rdd.KV("b", 2), rdd.KV("c", 3)}, {}, {rdd.KV("d", 4)}}
	const w, s = 2 * time.Second, time.Second
	partitionCount := func(build func(*dstream.DStream[kv]) *dstream.DStream[kv]) [][]int {
		return mustRun(t, in, func(x *dstream.DStream[kv]) *dstream.DStream[int] {
			return dstream.Glom(build(x)).Count()
		}, 4)
	}
	keys := func(x *dstream.DStream[kv]) *dstream.DStream[string] {
		return dstream.Map(x, func(p kv) string { return p.Key })
	}
	tests := []struct {
		name  string
		build func(*dstream.DStream[kv]) *dstream.DStream[kv]
		want  int
	}{
		{"ReduceByKeyAndWindow", func(x *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.ReduceByKeyAndWindow(x, sum, w, s, dstream.WindowPartitions(rdd.NumPartitions(3)))
		}, 3},
		{"ReduceByKeyAndWindow default", func(x *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.ReduceByKeyAndWindow(x, sum, w, s)
		}, 2}, // the harness's engine has 2 slots
		{"ReduceByKeyAndWindowInv", func(x *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.ReduceByKeyAndWindowInv(x, sum, diff, w, s, dstream.WindowPartitions(rdd.NumPartitions(3)))
		}, 3},
		{"ReduceByKeyAndWindowInv WithPartitioner", func(x *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.ReduceByKeyAndWindowInv(x, sum, diff, w, s,
				dstream.WindowPartitions(rdd.WithPartitioner(rdd.HashPartitioner[string](x.Context().Engine(), 5))))
		}, 5},
		{"ReduceByKeyAndWindowInv default", func(x *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.ReduceByKeyAndWindowInv(x, sum, diff, w, s)
		}, 2},
		{"CountByValueAndWindow", func(x *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.CountByValueAndWindow(keys(x), w, s, rdd.NumPartitions(3))
		}, 3},
		{"GroupByKeyAndWindow", func(x *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.MapValues(dstream.GroupByKeyAndWindow(x, w, s, rdd.NumPartitions(4)), func(vs []int) int { return len(vs) })
		}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dstreamtest.Equal(t, partitionCount(tt.build), [][]int{{tt.want}, {tt.want}, {tt.want}, {tt.want}})
		})
	}
}

// TestReduceByKeyAndWindowInvProperty compares the incremental window
// with the recomputed one and with a naive count, for random inputs and
// random windows and slides.
func TestReduceByKeyAndWindowInvProperty(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			w := 1 + rng.IntN(5)
			s := 1 + rng.IntN(w)
			in := make([][]kv, 3+rng.IntN(8))
			for b := range in {
				size := rng.IntN(6)
				if rng.IntN(4) == 0 {
					size = 0
				}
				for range size {
					in[b] = append(in[b], rdd.KV(string(rune('a'+rng.IntN(4))), 1))
				}
			}
			n := len(in) + w + 1
			window, slide := time.Duration(w)*time.Second, time.Duration(s)*time.Second
			var recomputed *rtBatches[kv]
			got := mustRun(t, in, func(x *dstream.DStream[kv]) *dstream.DStream[kv] {
				recomputed = rtCollect(t, dstream.ReduceByKeyAndWindow(x, sum, window, slide))
				return dstream.ReduceByKeyAndWindowInv(x, sum, diff, window, slide,
					dstream.FilterKeys(func(p kv) bool { return p.Value != 0 }))
			}, n, dstreamtest.Partitions(1+rng.IntN(3)))
			want := expectAtSlides(n, s, func(k int) []kv { return sumsByKey(inWindow(in, k, w)) })
			t.Logf("window %d, slide %d, input %v", w, s, in)
			dstreamtest.EqualUnordered(t, got, want)
			dstreamtest.EqualUnordered(t, slotsOf(recomputed, n), want)
		})
	}
}

// debugIDs matches the RDD IDs and storage states in a lineage, which
// change from batch to batch without changing its shape.
var debugIDs = regexp.MustCompile(`\[\d+\]|\[persisted, \d+/\d+ partitions cached\]`)

// TestReduceByKeyAndWindowInvLineageDoesNotGrow checks that each window
// is built from the previous window's cached data, not from the chain of
// every earlier window.
func TestReduceByKeyAndWindowInvLineageDoesNotGrow(t *testing.T) {
	const n = 50
	in := make([][]kv, n)
	for b := range in {
		in[b] = []kv{rdd.KV(fmt.Sprint("k", b%7), 1), rdd.KV("x", 1)}
	}
	var mu sync.Mutex
	lineage := map[int]string{}
	out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
		win := dstream.ReduceByKeyAndWindowInv(s, sum, diff, 3*time.Second, time.Second)
		if err := win.ForeachRDD(func(_ context.Context, r *rdd.RDD[kv], bt time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			lineage[int(bt.Sub(epoch)/time.Second)] = debugIDs.ReplaceAllString(r.ToDebugString(), "[]")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return win
	}, n)
	if got := out[n-1]; !slices.Contains(got, rdd.KV("x", 3)) {
		t.Fatalf("batch %d: %v, want x=3 among them", n, got)
	}
	mu.Lock()
	defer mu.Unlock()
	at10, at50 := lineage[10], lineage[50]
	if at10 == "" || at50 == "" {
		t.Fatalf("no lineage recorded at batch 10 or 50: %v", slices.Sorted(maps.Keys(lineage)))
	}
	t.Logf("lineage at batch 50:\n%s", at50)
	if !strings.Contains(at50, "Cached[") {
		t.Errorf("lineage at batch 50 does not use the previous window's cached data:\n%s", at50)
	}
	if len(at50) > len(at10) || strings.Count(at50, "\n") > strings.Count(at10, "\n") {
		t.Errorf("lineage grew from %d bytes (%d lines) at batch 10 to %d bytes (%d lines) at batch 50:\nbatch 10:\n%s\nbatch 50:\n%s",
			len(at10), strings.Count(at10, "\n")+1, len(at50), strings.Count(at50, "\n")+1, at10, at50)
	}
}

// TestReduceByKeyAndWindowInvNotInverse documents that an inverse
// function that does not undo reduce gives an undefined result: the run
// goes on, without a panic or an error.
func TestReduceByKeyAndWindowInvNotInverse(t *testing.T) {
	notInverse := func(a, _ int) int { return a } // forgets nothing
	in := [][]kv{{rdd.KV("a", 1)}, {rdd.KV("a", 2)}, {}, {}}
	var out [][]kv
	var err error
	noPanic := func() (recovered any) {
		defer func() { recovered = recover() }()
		out, err = dstreamtest.Run(limitCtx(t), in, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.ReduceByKeyAndWindowInv(s, sum, notInverse, 2*time.Second, time.Second)
		}, 5)
		return nil
	}
	if r := noPanic(); r != nil {
		t.Fatalf("Run panicked: %v", r)
	}
	if err != nil {
		t.Fatalf("Run = %v, want no error", err)
	}
	// With a true inverse the last window would hold a=0; this one never
	// subtracts. The value is not part of the contract.
	t.Logf("outputs with a reduce that is not inverted: %v", out)
}

// --- Bad arguments ------------------------------------------------------

func TestWindowBadArguments(t *testing.T) {
	keep := dstream.FilterKeys(func(p kv) bool { return p.Value != 0 })
	type kvStream = *dstream.DStream[kv]
	var nilReduce func(int, int) int
	tests := []struct {
		name  string
		build func(s kvStream) built
		want  []string
	}{
		{"Window not a multiple", func(s kvStream) built { return asBuilt(s.Window(1500*time.Millisecond, time.Second)) },
			[]string{"dstream.Window", "window duration 1.5s is not a multiple of the parent stream's slide interval 1s"}},
		{"slide not a multiple", func(s kvStream) built { return asBuilt(s.Window(3*time.Second, 1500*time.Millisecond)) },
			[]string{"dstream.Window", "slide duration 1.5s is not a multiple"}},
		{"window shorter than slide", func(s kvStream) built { return asBuilt(s.Window(time.Second, 2*time.Second)) },
			[]string{"dstream.Window", "window duration 1s is shorter than the slide duration 2s"}},
		{"zero window", func(s kvStream) built { return asBuilt(s.Window(0, time.Second)) },
			[]string{"dstream.Window", "window duration must be positive, got 0s"}},
		{"negative window", func(s kvStream) built { return asBuilt(s.Window(-2*time.Second, time.Second)) },
			[]string{"window duration must be positive, got -2s"}},
		{"zero slide", func(s kvStream) built { return asBuilt(s.Window(2*time.Second, 0)) },
			[]string{"slide duration must be positive, got 0s"}},
		{"negative slide", func(s kvStream) built { return asBuilt(s.Window(2*time.Second, -time.Second)) },
			[]string{"slide duration must be positive, got -1s"}},
		{"window of a windowed stream not a multiple of its slide", func(s kvStream) built {
			return asBuilt(s.Window(4*time.Second, 2*time.Second).Window(3*time.Second, 2*time.Second))
		}, []string{"window duration 3s is not a multiple of the parent stream's slide interval 2s"}},
		{"CountByWindow", func(s kvStream) built { return asBuilt(s.CountByWindow(1500*time.Millisecond, time.Second)) },
			[]string{"window duration 1.5s is not a multiple"}},
		{"ReduceByWindow", func(s kvStream) built {
			return asBuilt(dstream.Values(s).ReduceByWindow(sum, time.Second, 2*time.Second))
		}, []string{"shorter than the slide"}},
		{"ReduceByWindow nil f", func(s kvStream) built {
			return asBuilt(dstream.Values(s).ReduceByWindow(nil, 2*time.Second, time.Second))
		}, []string{"dstream.ReduceByWindow", "f must not be nil"}},
		{"ReduceByWindowInv", func(s kvStream) built {
			return asBuilt(dstream.ReduceByWindowInv(dstream.Values(s), sum, diff, 0, time.Second))
		}, []string{"window duration must be positive"}},
		{"ReduceByWindowInv nil f", func(s kvStream) built {
			return asBuilt(dstream.ReduceByWindowInv(dstream.Values(s), nil, diff, 2*time.Second, time.Second))
		}, []string{"must not be nil"}},
		{"ReduceByWindowInv nil inverse", func(s kvStream) built {
			return asBuilt(dstream.ReduceByWindowInv(dstream.Values(s), sum, nil, 2*time.Second, time.Second))
		}, []string{"inverse must not be nil"}},
		{"ReduceByKeyAndWindow", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindow(s, sum, 2*time.Second, 1500*time.Millisecond))
		}, []string{"dstream.ReduceByKeyAndWindow", "slide duration 1.5s is not a multiple"}},
		{"ReduceByKeyAndWindow nil reduce", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindow(s, nilReduce, 2*time.Second, time.Second))
		}, []string{"dstream.ReduceByKeyAndWindow", "reduce must not be nil"}},
		{"ReduceByKeyAndWindow FilterKeys", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindow(s, sum, 2*time.Second, time.Second, keep))
		}, []string{"dstream.ReduceByKeyAndWindow", "FilterKeys applies to ReduceByKeyAndWindowInv only", "Filter"}},
		{"ReduceByKeyAndWindowInv", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindowInv(s, sum, diff, time.Second, 3*time.Second))
		}, []string{"dstream.ReduceByKeyAndWindowInv", "window duration 1s is shorter than the slide duration 3s"}},
		{"ReduceByKeyAndWindowInv negative", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindowInv(s, sum, diff, -time.Second, time.Second))
		}, []string{"dstream.ReduceByKeyAndWindowInv", "window duration must be positive, got -1s"}},
		{"ReduceByKeyAndWindowInv nil reduce", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindowInv(s, nil, diff, 2*time.Second, time.Second))
		}, []string{"dstream.ReduceByKeyAndWindowInv", "reduce must not be nil"}},
		{"ReduceByKeyAndWindowInv nil inverse", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindowInv(s, sum, nil, 2*time.Second, time.Second))
		}, []string{"dstream.ReduceByKeyAndWindowInv", "inverse must not be nil"}},
		{"FilterKeys with another value type", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindowInv(s, sum, diff, 2*time.Second, time.Second,
				dstream.FilterKeys(func(rdd.Pair[string, string]) bool { return true })))
		}, []string{"dstream.ReduceByKeyAndWindowInv", "FilterKeys", "rdd.Pair[string,string]", "key and value types"}},
		{"FilterKeys with another key type", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindowInv(s, sum, diff, 2*time.Second, time.Second,
				dstream.FilterKeys(func(rdd.Pair[int, int]) bool { return true })))
		}, []string{"FilterKeys", "key and value types"}},
		{"FilterKeys nil", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindowInv(s, sum, diff, 2*time.Second, time.Second,
				dstream.FilterKeys[string, int](nil)))
		}, []string{"FilterKeys", "non-nil"}},
		{"CountByValueAndWindow", func(s kvStream) built {
			return asBuilt(dstream.CountByValueAndWindow(s, 3*time.Second, 1500*time.Millisecond))
		}, []string{"slide duration 1.5s is not a multiple of the parent stream's slide interval 1s"}},
		{"GroupByKeyAndWindow", func(s kvStream) built {
			return asBuilt(dstream.GroupByKeyAndWindow(s, 2*time.Second, 0))
		}, []string{"dstream.GroupByKeyAndWindow", "slide duration must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, time.Second)
			s := tt.build(rigQueue[kv](r, 1))
			mentions := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Errorf("%s = nil, want an error mentioning %q", what, tt.want)
					return
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s = %q, want it to mention %q", what, err, w)
					}
				}
			}
			mentions("Err()", s.err)
			mentions("ForeachRDD", s.register())
			mentions("Start", r.ssc.Start())
		})
	}
}

// TestWindowBadPartitions checks that a bad partitioning option of a
// window is reported when the stream is built, as for the state
// operations, rather than when a batch runs.
func TestWindowBadPartitions(t *testing.T) {
	type kvStream = *dstream.DStream[kv]
	const w, sl = 2 * time.Second, time.Second
	tests := []struct {
		name  string
		build func(s kvStream) built
	}{
		{"ReduceByKeyAndWindow", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindow(s, sum, w, sl, dstream.WindowPartitions(rdd.NumPartitions(0))))
		}},
		{"ReduceByKeyAndWindowInv", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindowInv(s, sum, diff, w, sl, dstream.WindowPartitions(rdd.NumPartitions(0))))
		}},
		{"CountByValueAndWindow", func(s kvStream) built {
			return asBuilt(dstream.CountByValueAndWindow(s, w, sl, rdd.NumPartitions(0)))
		}},
		{"GroupByKeyAndWindow", func(s kvStream) built {
			return asBuilt(dstream.GroupByKeyAndWindow(s, w, sl, rdd.NumPartitions(0)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, time.Second)
			s := tt.build(rigQueue[kv](r, 1))
			const want = "NumPartitions must be at least 1, got 0"
			if s.err == nil || !strings.Contains(s.err.Error(), want) {
				t.Errorf("Err() = %v, want %q", s.err, want)
			}
			if err := s.register(); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ForeachRDD = %v, want %q", err, want)
			}
			if err := r.ssc.Start(); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Start = %v, want %q", err, want)
			}
		})
	}
}

// TestStatefulStreamsNeedCheckpoint builds each stream that carries state
// from batch to batch on a context without a checkpoint directory: Start
// refuses, saying what to call. Windows recomputed from their batches
// need none.
func TestStatefulStreamsNeedCheckpoint(t *testing.T) {
	type kvStream = *dstream.DStream[kv]
	const w, sl = 2 * time.Second, time.Second
	count := func(vs []int, st int, _ bool) (int, bool) { return st + len(vs), true }
	tests := []struct {
		name     string
		build    func(s kvStream) built
		stateful bool
	}{
		{"Window", func(s kvStream) built { return asBuilt(s.Window(w, sl)) }, false},
		{"ReduceByWindow", func(s kvStream) built { return asBuilt(dstream.Values(s).ReduceByWindow(sum, w, sl)) }, false},
		{"ReduceByKeyAndWindow", func(s kvStream) built { return asBuilt(dstream.ReduceByKeyAndWindow(s, sum, w, sl)) }, false},
		{"GroupByKeyAndWindow", func(s kvStream) built { return asBuilt(dstream.GroupByKeyAndWindow(s, w, sl)) }, false},
		{"CountByWindow", func(s kvStream) built { return asBuilt(s.CountByWindow(w, sl)) }, true},
		{"ReduceByWindowInv", func(s kvStream) built {
			return asBuilt(dstream.ReduceByWindowInv(dstream.Values(s), sum, diff, w, sl))
		}, true},
		{"ReduceByKeyAndWindowInv", func(s kvStream) built {
			return asBuilt(dstream.ReduceByKeyAndWindowInv(s, sum, diff, w, sl))
		}, true},
		{"CountByValueAndWindow", func(s kvStream) built { return asBuilt(dstream.CountByValueAndWindow(s, w, sl)) }, true},
		{"UpdateStateByKey", func(s kvStream) built { return asBuilt(dstream.UpdateStateByKey(s, count)) }, true},
		{"MapWithState", func(s kvStream) built {
			return asBuilt(dstream.MapWithState(s, dstream.StateSpec[string, int, int, int]{
				Func: func(_ time.Time, _ string, v int, _ *dstream.State[int]) int { return v },
			}).DStream)
		}, true},
		{"MapWithState snapshots", func(s kvStream) built {
			return asBuilt(dstream.MapWithState(s, dstream.StateSpec[string, int, int, int]{
				Func: func(_ time.Time, _ string, v int, _ *dstream.State[int]) int { return v },
			}).StateSnapshots())
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, time.Second) // no Checkpoint call
			s := tt.build(rigQueue[kv](r, 1))
			if s.err != nil {
				t.Fatalf("Err() = %v; the stream itself is fine", s.err)
			}
			if err := s.register(); err != nil {
				t.Fatalf("ForeachRDD = %v", err)
			}
			err := r.ssc.Start()
			if !tt.stateful {
				if err != nil {
					t.Errorf("Start = %v; a window recomputed from its batches needs no checkpoint directory", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "Checkpoint(dir)") || !strings.Contains(err.Error(), "checkpoint directory") {
				t.Errorf("Start = %v, want an error asking for Checkpoint(dir)", err)
			}
			if got := r.ssc.State(); got != dstream.Initialized {
				t.Errorf("State() after the refused Start = %v, want initialized", got)
			}
		})
	}
	t.Run("with a checkpoint directory", func(t *testing.T) {
		r := newRig(t, time.Second)
		if err := r.ssc.Checkpoint(t.TempDir()); err != nil {
			t.Fatal(err)
		}
		s := asBuilt(dstream.ReduceByKeyAndWindowInv(rigQueue[kv](r, 1), sum, diff, w, sl))
		if err := s.register(); err != nil {
			t.Fatal(err)
		}
		r.start()
	})
	t.Run("Checkpoint(\"\")", func(t *testing.T) {
		r := newRig(t, time.Second)
		if err := r.ssc.Checkpoint(""); err == nil || !strings.Contains(err.Error(), "dstream.Checkpoint: directory must not be empty") {
			t.Errorf("Checkpoint(\"\") = %v, want the empty-directory error", err)
		}
		if got := r.ssc.CheckpointDir(); got != "" {
			t.Errorf("CheckpointDir() = %q after the failed call, want \"\"", got)
		}
	})
}
