package rdd

import (
	"context"
	"fmt"
	"github.com/spate-io/spate/engine"
	"iter"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/spate-io/spate/metrics"
)

func TestMap(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			r := Parallelize(ec, seq(l.n), l.parts)
			m := Map(r, func(x int) string { return strconv.Itoa(2*x + 1) })
			if m.NumPartitions() != l.parts {
				t.Errorf("NumPartitions() = %d, want %d", m.NumPartitions(), l.parts)
			}
			in, out := partitionsOf(t, r), partitionsOf(t, m)
			for i := range in {
				want := []string{}
				for _, x := range in[i] {
					want = append(want, strconv.Itoa(2*x+1))
				}
				if !slices.Equal(out[i], want) {
					t.Errorf("partition %d = %q, want %q", i, out[i], want)
				}
			}
		})
	}
}

func TestFlatMap(t *testing.T) {
	ec := newEngine(t)
	funcs := []struct {
		name string
		f    func(int) []int
	}{
		{"nil", func(int) []int { return nil }},
		{"empty", func(int) []int { return []int{} }},
		{"some nil, some not", func(x int) []int {
			if x%2 == 0 {
				return nil
			}
			return []int{x, -x}
		}},
		{"x copies of x", func(x int) []int { return slices.Repeat([]int{x}, x%5) }},
		{"large slices", func(x int) []int {
			out := make([]int, 3000+x)
			for i := range out {
				out[i] = x*10000 + i
			}
			return out
		}},
	}
	for _, l := range inputLayouts {
		for _, fn := range funcs {
			t.Run(l.name+"/"+fn.name, func(t *testing.T) {
				r := Parallelize(ec, seq(l.n), l.parts)
				fm := FlatMap(r, fn.f)
				in := partitionsOf(t, r)
				out := partitionsOf(t, fm)
				var want []int
				for i := range in {
					var wantPart []int
					for _, x := range in[i] {
						wantPart = append(wantPart, fn.f(x)...)
					}
					if !slices.Equal(out[i], wantPart) {
						t.Errorf("partition %d has %d elements, want %d (or they differ)", i, len(out[i]), len(wantPart))
					}
					want = append(want, wantPart...)
				}
				// Narrow operations after FlatMap get its chunks, however
				// large f's results are.
				doubled := collectOrFatal(t, Map(fm, func(x int) int { return 2 * x }).Filter(func(x int) bool { return x%4 == 0 }))
				var wantDoubled []int
				for _, x := range want {
					if 2*x%4 == 0 {
						wantDoubled = append(wantDoubled, 2*x)
					}
				}
				if !slices.Equal(doubled, wantDoubled) {
					t.Errorf("FlatMap→Map→Filter gave %d elements, want %d (or they differ)", len(doubled), len(wantDoubled))
				}
			})
		}
	}
}

// TestChunksAreBounded checks that every operation hands its consumer
// chunks of at most chunkSize records, as the pipelining contract says,
// even when one input record expands into many.
func TestChunksAreBounded(t *testing.T) {
	ec := newEngine(t)
	base := Parallelize(ec, seq(50), 2)
	sources := map[string]*RDD[int]{
		"FlatMap":                 FlatMap(base, func(x int) []int { return make([]int, 3000) }),
		"Sample with replacement": Range(ec, 0, 20000, 1, 2).Sample(true, 30, 1),
	}
	for name, r := range sources {
		t.Run(name, func(t *testing.T) {
			var largest atomic.Int64
			consumer := derive("probe", r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]int) bool) error {
				return r.iterate(ctx, tc, part, func(c []int) bool {
					for {
						old := largest.Load()
						if int64(len(c)) <= old || largest.CompareAndSwap(old, int64(len(c))) {
							break
						}
					}
					return yield(c)
				})
			}, nil, r.node)
			n, err := consumer.Count(testCtx(t))
			if err != nil || n == 0 {
				t.Fatalf("Count = %d, %v", n, err)
			}
			if got := largest.Load(); got > chunkSize {
				t.Errorf("largest chunk has %d records, want at most %d", got, chunkSize)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			r := Parallelize(ec, seq(l.n), l.parts)
			even := r.Filter(func(x int) bool { return x%2 == 0 })
			none := r.Filter(func(int) bool { return false })
			in, out := partitionsOf(t, r), partitionsOf(t, even)
			for i := range in {
				want := []int{}
				for _, x := range in[i] {
					if x%2 == 0 {
						want = append(want, x)
					}
				}
				if !slices.Equal(out[i], want) {
					t.Errorf("partition %d = %v, want %v", i, out[i], want)
				}
			}
			if got := collectOrFatal(t, none); len(got) != 0 {
				t.Errorf("Filter(false) = %v, want nothing", got)
			}
		})
	}
}

func TestMapPartitions(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			r := Parallelize(ec, seq(l.n), l.parts)
			// One sum and one count per partition; the sequence is ranged
			// over twice, which recomputes the partition.
			sums := MapPartitions(r, func(in iter.Seq[int]) iter.Seq[[2]int] {
				return func(yield func([2]int) bool) {
					sum, count := 0, 0
					for x := range in {
						sum += x
					}
					for range in {
						count++
					}
					yield([2]int{sum, count})
				}
			})
			in, out := partitionsOf(t, r), collectOrFatal(t, sums)
			if len(out) != len(in) {
				t.Fatalf("got %d results, want one per partition (%d)", len(out), len(in))
			}
			for i, p := range in {
				want := [2]int{0, len(p)}
				for _, x := range p {
					want[0] += x
				}
				if out[i] != want {
					t.Errorf("partition %d: (sum, count) = %v, want %v", i, out[i], want)
				}
			}
		})
	}
}

func TestMapPartitionsWithIndex(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			r := Parallelize(ec, seq(l.n), l.parts)
			tagged := MapPartitionsWithIndex(r, func(i int, in iter.Seq[int]) iter.Seq[Pair[int, int]] {
				return func(yield func(Pair[int, int]) bool) {
					for x := range in {
						if !yield(KV(i, x)) {
							return
						}
					}
				}
			})
			in, out := partitionsOf(t, r), partitionsOf(t, tagged)
			for i := range in {
				want := []Pair[int, int]{}
				for _, x := range in[i] {
					want = append(want, KV(i, x))
				}
				if !slices.Equal(out[i], want) {
					t.Errorf("partition %d = %v, want %v", i, out[i], want)
				}
			}
		})
	}
}

func TestMapPartitionsStopsEarly(t *testing.T) {
	ec := newEngine(t)
	const perPart = 50000
	var calls atomic.Int64
	r := Map(Range(ec, 0, 2*perPart, 1, 2), func(x int) int { calls.Add(1); return x })
	firstTwo := MapPartitionsWithIndex(r, func(_ int, in iter.Seq[int]) iter.Seq[int] {
		return func(yield func(int) bool) {
			n := 0
			for x := range in {
				if n == 2 || !yield(x) {
					return
				}
				n++
			}
		}
	})
	got := collectOrFatal(t, firstTwo)
	if want := []int{0, 1, perPart, perPart + 1}; !slices.Equal(got, want) {
		t.Errorf("Collect = %v, want %v", got, want)
	}
	// The parent stops after the chunk in which the user's sequence stopped.
	if c := calls.Load(); c > 2*chunkSize {
		t.Errorf("the parent Map ran %d times, want at most %d (one chunk per partition)", c, 2*chunkSize)
	}

	// A downstream consumer that stops early (Take) stops the user's
	// sequence too.
	calls.Store(0)
	ident := MapPartitions(r, func(in iter.Seq[int]) iter.Seq[int] { return in })
	got, err := ident.Take(testCtx(t), 3)
	if err != nil || !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("Take(3) = %v, %v; want [0 1 2]", got, err)
	}
	if c := calls.Load(); c > 2*chunkSize {
		t.Errorf("the parent Map ran %d times for Take(3), want at most %d", c, 2*chunkSize)
	}
}

func TestGlom(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			r := Parallelize(ec, seq(l.n), l.parts).Filter(func(x int) bool { return x%3 != 1 })
			parts := collectOrFatal(t, Glom(r))
			if len(parts) != l.parts {
				t.Fatalf("Glom has %d elements, want one per partition (%d)", len(parts), l.parts)
			}
			if got, want := slices.Concat(parts...), collectOrFatal(t, r); !slices.Equal(got, want) {
				t.Errorf("Glom concatenated = %v, want %v", got, want)
			}
			for i, p := range parts {
				if p == nil {
					t.Errorf("partition %d is a nil slice, want an empty one", i)
				}
			}
		})
	}
}

func TestUnion(t *testing.T) {
	ec := newEngine(t)
	a := Parallelize(ec, []int{1, 2, 3}, 3)
	b := Map(Parallelize(ec, []int{10, 20, 30, 40}, 2), func(x int) int { return x + 1 })
	empty := Empty[int](ec)
	noRecords := Parallelize(ec, []int{}, 2)
	tests := []struct {
		name      string
		r         *RDD[int]
		wantParts [][]int
	}{
		{"method", a.Union(b), [][]int{{1}, {2}, {3}, {11, 21}, {31, 41}}},
		{"function", Union(b, a), [][]int{{11, 21}, {31, 41}, {1}, {2}, {3}}},
		{"one RDD", Union(a), [][]int{{1}, {2}, {3}}},
		{"method without others", a.Union(), [][]int{{1}, {2}, {3}}},
		{"with Empty", Union(empty, a, empty), [][]int{{1}, {2}, {3}}},
		{"with empty partitions", a.Union(noRecords), [][]int{{1}, {2}, {3}, {}, {}}},
		{"only empties", Union(empty, empty), [][]int{}},
		{"same RDD twice", Union(a, a), [][]int{{1}, {2}, {3}, {1}, {2}, {3}}},
		{"three", a.Union(b, a), [][]int{{1}, {2}, {3}, {11, 21}, {31, 41}, {1}, {2}, {3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.r.Err(); err != nil {
				t.Fatalf("Err() = %v", err)
			}
			if got := tt.r.NumPartitions(); got != len(tt.wantParts) {
				t.Errorf("NumPartitions() = %d, want %d", got, len(tt.wantParts))
			}
			got := partitionsOf(t, tt.r)
			if fmt.Sprint(got) != fmt.Sprint(tt.wantParts) {
				t.Errorf("partitions = %v, want %v", got, tt.wantParts)
			}
			if got := collectOrFatal(t, tt.r); !slices.Equal(got, slices.Concat(tt.wantParts...)) {
				t.Errorf("Collect = %v, want %v", got, slices.Concat(tt.wantParts...))
			}
		})
	}
}

func TestSample(t *testing.T) {
	ec := newEngine(t)
	ctx := testCtx(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			r := Parallelize(ec, seq(l.n), l.parts)
			for _, repl := range []bool{false, true} {
				if got := collectOrFatal(t, r.Sample(repl, 0, 7)); len(got) != 0 {
					t.Errorf("Sample(%v, 0) = %v, want nothing", repl, got)
				}
			}
			if got := collectOrFatal(t, r.Sample(false, 1, 7)); !slices.Equal(got, seq(l.n)) {
				t.Errorf("Sample(false, 1) = %v, want everything", got)
			}
			if s := r.Sample(false, 0.5, 3); s.NumPartitions() != l.parts {
				t.Errorf("NumPartitions() = %d, want %d", s.NumPartitions(), l.parts)
			}
		})
	}

	big := Range(ec, 0, 100000, 1, 4)
	t.Run("deterministic by seed", func(t *testing.T) {
		for _, repl := range []bool{false, true} {
			s1 := collectOrFatal(t, big.Sample(repl, 0.01, 42))
			s2 := collectOrFatal(t, big.Sample(repl, 0.01, 42))
			s3 := collectOrFatal(t, big.Sample(repl, 0.01, 43))
			if !slices.Equal(s1, s2) {
				t.Errorf("withReplacement=%v: two samples with seed 42 differ", repl)
			}
			if slices.Equal(s1, s3) {
				t.Errorf("withReplacement=%v: samples with seeds 42 and 43 are equal", repl)
			}
		}
	})
	t.Run("without replacement is an ordered subset", func(t *testing.T) {
		got := collectOrFatal(t, big.Sample(false, 0.5, 1))
		if len(got) < 48000 || len(got) > 52000 {
			t.Errorf("Sample(false, 0.5) of 100000 kept %d, want 48000..52000", len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("sample not strictly increasing at %d: %d after %d", i, got[i], got[i-1])
			}
		}
	})
	t.Run("with replacement mean", func(t *testing.T) {
		for _, tc := range []struct {
			fraction float64
			lo, hi   int
		}{{0.1, 9000, 11000}, {3, 295000, 305000}} {
			s := big.Sample(true, tc.fraction, 5)
			n, err := s.Count(ctx)
			if err != nil || n < tc.lo || n > tc.hi {
				t.Errorf("Sample(true, %v) of 100000: Count = %d, %v; want %d..%d", tc.fraction, n, err, tc.lo, tc.hi)
			}
		}
		// Values repeat only with replacement.
		counts, err := CountByValue(ctx, big.Sample(true, 0.5, 9))
		if err != nil {
			t.Fatal(err)
		}
		repeated := 0
		for _, c := range counts {
			if c > 1 {
				repeated++
			}
		}
		if repeated == 0 {
			t.Error("Sample(true, 0.5) repeated no element")
		}
	})
}

func TestCoalesceWithoutShuffle(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		for _, n := range []int{1, 2, 3, 5, 100} {
			t.Run(fmt.Sprintf("%s/to %d", l.name, n), func(t *testing.T) {
				r := Parallelize(ec, seq(l.n), l.parts)
				c := r.Coalesce(n, false)
				if want := min(n, l.parts); c.NumPartitions() != want {
					t.Errorf("NumPartitions() = %d, want %d", c.NumPartitions(), want)
				}
				if got := collectOrFatal(t, c); !slices.Equal(got, seq(l.n)) {
					t.Errorf("Collect = %v, want %v in order", got, seq(l.n))
				}
				// Each new partition is a run of whole parent partitions.
				parent, merged := partitionsOf(t, r), partitionsOf(t, c)
				next := 0
				for i, m := range merged {
					var run []int
					for len(run) < len(m) && next < len(parent) {
						run = append(run, parent[next]...)
						next++
					}
					if !slices.Equal(run, m) {
						t.Errorf("partition %d = %v is not a run of parent partitions", i, m)
					}
				}
			})
		}
	}
	t.Run("one stage", func(t *testing.T) {
		rec := recordBus(t, ec)
		collectOrFatal(t, Range(ec, 0, 1000, 1, 8).Coalesce(3, false))
		if got := countEvents[metrics.StageCompleted](rec.flushed(t)); got != 1 {
			t.Errorf("Coalesce without shuffle ran %d stages, want 1", got)
		}
	})
}

func TestCoalesceWithShuffleAndRepartition(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		for _, n := range []int{1, 2, 7} {
			for _, op := range []string{"Coalesce", "Repartition"} {
				t.Run(fmt.Sprintf("%s/%s(%d)", l.name, op, n), func(t *testing.T) {
					r := Parallelize(ec, seq(l.n), l.parts)
					var s *RDD[int]
					if op == "Coalesce" {
						s = r.Coalesce(n, true)
					} else {
						s = r.Repartition(n)
					}
					if s.NumPartitions() != n {
						t.Errorf("NumPartitions() = %d, want %d", s.NumPartitions(), n)
					}
					parts := partitionsOf(t, s)
					all := slices.Sorted(slices.Values(slices.Concat(parts...)))
					if !slices.Equal(all, seq(l.n)) {
						t.Errorf("elements = %v, want %v as a multiset", all, seq(l.n))
					}
					// Round robin from each of the parent's partitions: sizes
					// differ by at most one per parent partition.
					lo, hi := l.n, 0
					for _, p := range parts {
						lo, hi = min(lo, len(p)), max(hi, len(p))
					}
					if hi-lo > l.parts {
						t.Errorf("partition sizes range %d..%d, want them within %d", lo, hi, l.parts)
					}
				})
			}
		}
	}
	t.Run("large", func(t *testing.T) {
		parts := partitionsOf(t, Range(ec, 0, 10000, 1, 3).Repartition(4))
		for i, p := range parts {
			if len(p) < 2490 || len(p) > 2510 {
				t.Errorf("partition %d has %d elements, want about 2500", i, len(p))
			}
		}
	})
}

// countEvents returns how many events of type E are in events.
func countEvents[E metrics.Event](events []metrics.Event) int {
	n := 0
	for _, e := range events {
		if _, ok := e.(E); ok {
			n++
		}
	}
	return n
}

func TestNarrowChainRunsInOneStage(t *testing.T) {
	ec := newEngine(t)
	rec := recordBus(t, ec)
	r := Map(Map(Range(ec, 0, 5000, 1, 4), func(x int) int { return x * 3 }).Filter(func(x int) bool { return x%2 == 0 }),
		func(x int) string { return strconv.Itoa(x) })
	got := collectOrFatal(t, r)
	if len(got) != 2500 || got[1] != "6" {
		t.Fatalf("Collect returned %d elements starting %q, want 2500 starting [0 6]", len(got), got[:min(2, len(got))])
	}
	events := rec.flushed(t)
	var jobID int
	jobs := 0
	for _, e := range events {
		if js, ok := e.(metrics.JobStarted); ok {
			jobID = js.JobID
			jobs++
			if len(js.StageIDs) != 1 {
				t.Errorf("JobStarted.StageIDs = %v, want one stage", js.StageIDs)
			}
		}
	}
	if jobs != 1 {
		t.Fatalf("saw %d JobStarted events, want 1", jobs)
	}
	stages := 0
	for _, e := range events {
		if sc, ok := e.(metrics.StageCompleted); ok && sc.JobID == jobID {
			stages++
			if sc.NumTasks != 4 || sc.Err != nil {
				t.Errorf("StageCompleted = %+v, want 4 tasks and no error", sc)
			}
		}
	}
	if stages != 1 {
		t.Errorf("saw %d StageCompleted events for the job, want 1", stages)
	}
	if got := countEvents[metrics.TaskStarted](events); got != 4 {
		t.Errorf("saw %d TaskStarted events, want 4", got)
	}

	// The same chain with a shuffle in the middle has two stages, so the
	// count above can tell them apart.
	before := len(events)
	collectOrFatal(t, r.Repartition(2))
	if got := countEvents[metrics.StageCompleted](rec.flushed(t)[before:]); got != 2 {
		t.Errorf("with a Repartition: saw %d StageCompleted events, want 2", got)
	}
}
