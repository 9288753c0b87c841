package rdd

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spate-io/spate/engine"
)

// Tests of blocks.go (FromPartitions, Cached, ZipPartitions), of
// PartitionerFor and of the partitioner-aware Union: the pieces the
// streaming state is built from.

func TestFromPartitions(t *testing.T) {
	ec := newEngine(t)
	tests := []struct {
		name  string
		parts [][]int
	}{
		{"no partitions", nil},
		{"one partition", [][]int{{1, 2, 3}}},
		{"empty partitions between and at the ends", [][]int{{}, {1, 2}, nil, {3}, {}}},
		{"only empty partitions", [][]int{{}, nil, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := FromPartitions(ec, tt.parts)
			if err := r.Err(); err != nil {
				t.Fatalf("Err() = %v", err)
			}
			if r.NumPartitions() != len(tt.parts) {
				t.Fatalf("NumPartitions() = %d, want %d", r.NumPartitions(), len(tt.parts))
			}
			got := partitionsOf(t, r)
			for i := range tt.parts {
				if !slices.Equal(got[i], tt.parts[i]) {
					t.Errorf("partition %d = %v, want %v", i, got[i], tt.parts[i])
				}
			}
			if n, err := r.Count(testCtx(t)); err != nil || n != len(slices.Concat(tt.parts...)) {
				t.Errorf("Count = %d, %v; want %d", n, err, len(slices.Concat(tt.parts...)))
			}
		})
	}
	t.Run("nil engine", func(t *testing.T) {
		r := FromPartitions(nil, [][]int{{1}})
		checkMentions(t, "Err()", r.Err(), []string{"rdd.FromPartitions", "nil engine context"})
	})
}

func TestCached(t *testing.T) {
	ec := newEngine(t)
	ctx := testCtx(t)
	data := [][]int{{1, 2}, {}, {3, 4, 5}}
	var calls atomic.Int64
	double := func(x int) int { calls.Add(1); return 2 * x }
	want := [][]int{{2, 4}, {}, {6, 8, 10}}

	t.Run("not persisted", func(t *testing.T) {
		r := Map(FromPartitions(ec, data), double)
		collectOrFatal(t, r)
		if c, ok := r.Cached(); ok || c != nil {
			t.Errorf("Cached() of an RDD that is not persisted = %v, %v; want nil, false", c, ok)
		}
	})
	t.Run("persisted, no action yet", func(t *testing.T) {
		r := Map(FromPartitions(ec, data), double).Persist()
		if c, ok := r.Cached(); ok || c != nil {
			t.Errorf("Cached() before an action = %v, %v; want nil, false", c, ok)
		}
	})
	t.Run("partly cached", func(t *testing.T) {
		r := Map(FromPartitions(ec, data), double).Persist()
		if _, err := r.Take(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if n := ec.Cache().CachedPartitions(r.ID()); n == 0 || n == r.NumPartitions() {
			t.Fatalf("Take(1) cached %d of %d partitions; the test needs some but not all", n, r.NumPartitions())
		}
		if c, ok := r.Cached(); ok || c != nil {
			t.Errorf("Cached() with some partitions missing = %v, %v; want nil, false", c, ok)
		}
	})
	t.Run("construction error", func(t *testing.T) {
		r := Map[int, int](FromPartitions(ec, data), nil).Persist()
		if c, ok := r.Cached(); ok || c != nil {
			t.Errorf("Cached() of a bad RDD = %v, %v; want nil, false", c, ok)
		}
	})
	t.Run("persisted and computed", func(t *testing.T) {
		r := Map(FromPartitions(ec, data), double).Persist()
		collectOrFatal(t, r)
		c, ok := r.Cached()
		if !ok || c == nil {
			t.Fatalf("Cached() after Persist and Collect = %v, %v; want an RDD", c, ok)
		}
		calls.Store(0)
		got := partitionsOf(t, c)
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("partition %d = %v, want %v", i, got[i], want[i])
			}
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("reading the cached copy ran the map function %d times, want 0", n)
		}
		if deps := c.Dependencies(); len(deps) != 0 {
			t.Errorf("the cached copy has %d dependencies, want none", len(deps))
		}
		if s := c.ToDebugString(); strings.Contains(s, "\n") || !strings.Contains(s, "Cached[") {
			t.Errorf("ToDebugString of the cached copy = %q, want one line naming Cached", s)
		}
		// The copy holds the data: dropping r's cache afterwards does not
		// change it.
		r.Unpersist()
		if got := collectOrFatal(t, c); !slices.Equal(got, slices.Concat(want...)) {
			t.Errorf("after r.Unpersist the copy holds %v, want %v", got, slices.Concat(want...))
		}
		if c2, ok := r.Cached(); ok || c2 != nil {
			t.Errorf("Cached() after Unpersist = %v, %v; want nil, false", c2, ok)
		}
	})
	t.Run("empty RDD", func(t *testing.T) {
		r := Empty[int](ec).Persist()
		collectOrFatal(t, r)
		c, ok := r.Cached()
		if !ok || c.NumPartitions() != 0 {
			t.Fatalf("Cached() of a computed Empty = %v, %v; want an RDD without partitions", c, ok)
		}
		if got := collectOrFatal(t, c); len(got) != 0 {
			t.Errorf("Collect = %v, want nothing", got)
		}
	})
}

// TestCachedKeepsPartitioner checks that the copy Cached returns is
// partitioned as the original: a by-key operation with the same
// partitioning on it needs no shuffle.
func TestCachedKeepsPartitioner(t *testing.T) {
	ec := newEngine(t)
	in := kvRandomPairs(7, 200, 20)
	counts := ReduceByKey(Parallelize(ec, in, 4), kvAdd, NumPartitions(3)).Persist()
	collectOrFatal(t, counts)
	c, ok := counts.Cached()
	if !ok {
		t.Fatal("Cached() = false after Persist and Collect")
	}
	if !samePartitioning(c.partitioner, counts.partitioner) || c.NumPartitions() != 3 {
		t.Fatalf("the copy's partitioner is %v with %d partitions, want the original's %v with 3", c.partitioner, c.NumPartitions(), counts.partitioner)
	}
	kvCheckPlacement(t, kvMustGlom(t, c), HashPartitioner[int](ec, 3))

	again := ReduceByKey(c, kvAdd, NumPartitions(3))
	if s := again.ToDebugString(); strings.Contains(s, "+-") {
		t.Errorf("ReduceByKey with the same partitioning on the cached copy shuffles:\n%s", s)
	}
	kvSameMultiset(t, collectOrFatal(t, again), kvNaiveReduceByKey(in, kvAdd))
	// Another partitioning does need a shuffle (the check above can fail).
	if s := ReduceByKey(c, kvAdd, NumPartitions(2)).ToDebugString(); !strings.Contains(s, "+-") {
		t.Errorf("ReduceByKey into 2 partitions on a copy with 3 shows no shuffle:\n%s", s)
	}
}

func TestZipPartitions(t *testing.T) {
	ec := newEngine(t)
	ints := FromPartitions(ec, [][]int{{1, 2}, {}, {3}})
	words := FromPartitions(ec, [][]string{{"a"}, {"b", "c"}, {}})
	describe := func(part int, as iter.Seq[int], bs iter.Seq[string]) iter.Seq[string] {
		return func(yield func(string) bool) {
			yield(fmt.Sprint(part, slices.Collect(as), slices.Collect(bs)))
		}
	}

	t.Run("pairs partitions", func(t *testing.T) {
		r := ZipPartitions(ints, words, describe)
		if r.NumPartitions() != 3 {
			t.Fatalf("NumPartitions() = %d, want 3", r.NumPartitions())
		}
		got := partitionsOf(t, r)
		want := [][]string{{"0 [1 2] [a]"}, {"1 [] [b c]"}, {"2 [3] []"}}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("partition %d = %q, want %q", i, got[i], want[i])
			}
		}
		if s := r.ToDebugString(); strings.Contains(s, "+-") {
			t.Errorf("ZipPartitions shuffles:\n%s", s)
		}
	})
	t.Run("many values and early stop", func(t *testing.T) {
		// More than a chunk per partition, and f stopping early on one
		// side: only what f yields comes out.
		big := Range(ec, 0, 5000, 1, 2)
		sums := ZipPartitions(big, big, func(_ int, as, bs iter.Seq[int]) iter.Seq[int] {
			return func(yield func(int) bool) {
				next, stop := iter.Pull(bs)
				defer stop()
				for a := range as {
					b, ok := next()
					if !ok || !yield(a+b) {
						return
					}
				}
			}
		})
		got := collectOrFatal(t, sums)
		if len(got) != 5000 || got[0] != 0 || got[4999] != 2*4999 {
			t.Fatalf("got %d values (first %v), want 5000 sums a+a", len(got), got[:min(3, len(got))])
		}
		firstOnly := ZipPartitions(big, big, func(_ int, as, _ iter.Seq[int]) iter.Seq[int] {
			return func(yield func(int) bool) {
				for a := range as {
					yield(a)
					return
				}
			}
		})
		if got := collectOrFatal(t, firstOnly); !slices.Equal(got, []int{0, 2500}) {
			t.Errorf("first element of each partition = %v, want [0 2500]", got)
		}
	})
	t.Run("different partition counts", func(t *testing.T) {
		r := ZipPartitions(ints, FromPartitions(ec, [][]string{{"a"}, {"b"}}), describe)
		checkMentions(t, "Err()", r.Err(), []string{"rdd.ZipPartitions", "3 and 2 partitions"})
		_, err := r.Collect(testCtx(t))
		checkMentions(t, "Collect", err, []string{"3 and 2 partitions"})
	})
	t.Run("nil f", func(t *testing.T) {
		r := ZipPartitions[int, string, string](ints, words, nil)
		checkMentions(t, "Err()", r.Err(), []string{"rdd.ZipPartitions", "f must not be nil"})
	})
	t.Run("bad input", func(t *testing.T) {
		bad := Map[int, int](ints, nil)
		r := ZipPartitions(words, bad, func(int, iter.Seq[string], iter.Seq[int]) iter.Seq[int] { return nil })
		checkMentions(t, "Err()", r.Err(), []string{"rdd.Map", "f must not be nil"})
	})
	t.Run("input fails while computed", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "in.txt")
		if err := os.WriteFile(path, []byte("x\ny\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		lines := TextFile(ec, path, 1)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		for _, side := range []string{"first", "second"} {
			t.Run(side, func(t *testing.T) {
				other := FromPartitions(ec, [][]string{{"o"}})
				a, b := lines, other
				if side == "second" {
					a, b = other, lines
				}
				r := ZipPartitions(a, b, func(_ int, as, bs iter.Seq[string]) iter.Seq[string] {
					return func(yield func(string) bool) {
						for x := range as {
							if !yield(x) {
								return
							}
						}
						for x := range bs {
							if !yield(x) {
								return
							}
						}
					}
				})
				_, err := r.Collect(testCtx(t))
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Collect = %v, want the missing file's error", err)
				}
			})
		}
	})
	t.Run("panic in an input", func(t *testing.T) {
		boom := Map(ints, func(x int) int {
			if x == 3 {
				panic("input boom")
			}
			return x
		})
		_, err := ZipPartitions(boom, words, describe).Collect(testCtx(t))
		var pe *engine.TaskPanicError
		if !errors.As(err, &pe) || pe.Value != "input boom" {
			t.Errorf("Collect = %v, want an *engine.TaskPanicError with the input's panic", err)
		}
	})
	t.Run("panic in f", func(t *testing.T) {
		r := ZipPartitions(ints, words, func(part int, _ iter.Seq[int], _ iter.Seq[string]) iter.Seq[int] {
			if part == 1 {
				panic("f boom")
			}
			return func(func(int) bool) {}
		})
		_, err := r.Collect(testCtx(t))
		var pe *engine.TaskPanicError
		if !errors.As(err, &pe) || pe.Value != "f boom" || pe.Partition != 1 {
			t.Errorf("Collect = %v, want an *engine.TaskPanicError from partition 1", err)
		}
	})
}

func TestPartitionerFor(t *testing.T) {
	ec := newEngine(t, engine.Slots(3))
	t.Run("NumPartitions", func(t *testing.T) {
		p, err := PartitionerFor[string](ec, NumPartitions(5))
		if err != nil {
			t.Fatal(err)
		}
		if p.NumPartitions() != 5 || !samePartitioning(p, HashPartitioner[string](ec, 5)) {
			t.Errorf("PartitionerFor(NumPartitions(5)) = %#v, want the engine's hash partitioner into 5", p)
		}
		// It places keys as the by-key operations with the same option do.
		r := ReduceByKey(Parallelize(ec, []Pair[string, int]{KV("a", 1), KV("b", 2), KV("c", 3), KV("a", 4)}, 2), kvAdd, NumPartitions(5))
		kvCheckPlacement(t, kvMustGlom(t, r), p)
	})
	t.Run("WithPartitioner", func(t *testing.T) {
		p, err := PartitionerFor[int](ec, WithPartitioner[int](kvModPartitioner{4}))
		if err != nil {
			t.Fatal(err)
		}
		if p != Partitioner[int](kvModPartitioner{4}) {
			t.Errorf("PartitionerFor(WithPartitioner(mod 4)) = %#v, want the partitioner given", p)
		}
	})
	t.Run("default", func(t *testing.T) {
		p, err := PartitionerFor[int](ec)
		if err != nil {
			t.Fatal(err)
		}
		if p.NumPartitions() != 3 || !samePartitioning(p, HashPartitioner[int](ec, 3)) {
			t.Errorf("PartitionerFor() = %#v, want a hash partitioner into the engine's 3 slots", p)
		}
	})
	t.Run("last option wins", func(t *testing.T) {
		p, err := PartitionerFor[int](ec, NumPartitions(0), NumPartitions(2))
		if err != nil || p.NumPartitions() != 2 {
			t.Errorf("PartitionerFor(NumPartitions(0), NumPartitions(2)) = %v, %v; want 2 partitions", p, err)
		}
	})
	var nilMod *kvPtrPartitioner
	tests := []struct {
		name string
		get  func() (any, error)
		want []string
	}{
		{"NumPartitions(0)", func() (any, error) { return PartitionerFor[int](ec, NumPartitions(0)) }, []string{"rdd.PartitionerFor", "NumPartitions must be at least 1, got 0"}},
		{"NumPartitions(-3)", func() (any, error) { return PartitionerFor[int](ec, NumPartitions(-3)) }, []string{"rdd.PartitionerFor", "got -3"}},
		{"partitioner for another key type", func() (any, error) {
			return PartitionerFor[string](ec, WithPartitioner[int](kvModPartitioner{2}))
		}, []string{"rdd.PartitionerFor", "WithPartitioner", "key type"}},
		{"nil partitioner", func() (any, error) { return PartitionerFor[int](ec, WithPartitioner[int](nil)) }, []string{"rdd.PartitionerFor", "non-nil Partitioner"}},
		{"typed nil partitioner", func() (any, error) { return PartitionerFor[int](ec, WithPartitioner[int](nilMod)) }, []string{"rdd.PartitionerFor", "non-nil Partitioner"}},
		{"partitioner without partitions", func() (any, error) {
			return PartitionerFor[int](ec, WithPartitioner[int](kvModPartitioner{0}))
		}, []string{"rdd.PartitionerFor", "0 partitions"}},
		{"nil engine", func() (any, error) { return PartitionerFor[int](nil, NumPartitions(2)) }, []string{"rdd.PartitionerFor", "nil engine context"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noPanic(t, func() {
				p, err := tt.get()
				checkMentions(t, "PartitionerFor", err, tt.want)
				if !isNilPartitioner(p) {
					t.Errorf("PartitionerFor returned %#v with the error, want nil", p)
				}
			})
		})
	}
}

// kvPtrPartitioner is a partitioner with a pointer receiver, to pass a
// typed nil.
type kvPtrPartitioner struct{ n int }

func (p *kvPtrPartitioner) NumPartitions() int  { return p.n }
func (p *kvPtrPartitioner) Partition(k int) int { return k % p.n }

// kvSlicePartitioner is a partitioner whose type is not comparable: two
// of them can never be known to place keys alike.
type kvSlicePartitioner struct{ bounds []int }

func (p kvSlicePartitioner) NumPartitions() int { return len(p.bounds) }
func (p kvSlicePartitioner) Partition(k int) int {
	return ((k % len(p.bounds)) + len(p.bounds)) % len(p.bounds)
}

// shuffleCount returns the number of shuffle boundaries ("+-") in r's
// lineage.
func shuffleCount(r interface{ ToDebugString() string }) int {
	return strings.Count(r.ToDebugString(), "+-")
}

func TestUnionPartitionerAware(t *testing.T) {
	ec := newEngine(t)
	inA, inB := kvRandomPairs(11, 300, 30), kvRandomPairs(12, 200, 40)
	byKey := func(in []Pair[int, int], opts ...PartitionOption) *RDD[Pair[int, int]] {
		return ReduceByKey(Parallelize(ec, in, 3), kvAdd, opts...)
	}

	t.Run("equal partitioners", func(t *testing.T) {
		for _, mode := range []struct {
			name string
			opt  PartitionOption
			p    Partitioner[int]
		}{
			{"NumPartitions", NumPartitions(4), HashPartitioner[int](ec, 4)},
			{"WithPartitioner", WithPartitioner[int](kvModPartitioner{4}), kvModPartitioner{4}},
		} {
			t.Run(mode.name, func(t *testing.T) {
				a, b := byKey(inA, mode.opt), byKey(inB, mode.opt)
				u := Union(a, b, a)
				if u.NumPartitions() != 4 {
					t.Fatalf("NumPartitions() = %d, want the parents' 4", u.NumPartitions())
				}
				if !samePartitioning(u.partitioner, mode.p) {
					t.Errorf("partitioner = %#v, want the parents' %#v", u.partitioner, mode.p)
				}
				parts := kvMustGlom(t, u)
				aParts, bParts := kvMustGlom(t, a), kvMustGlom(t, b)
				for i := range parts {
					// Partition i holds the parents' partitions i, in order.
					if want := slices.Concat(aParts[i], bParts[i], aParts[i]); !slices.Equal(parts[i], want) {
						t.Errorf("partition %d = %v, want %v", i, parts[i], want)
					}
				}
				kvCheckPlacement(t, parts, mode.p)
				before := shuffleCount(u)
				if before != 3 {
					t.Errorf("the union's lineage has %d shuffles, want the parents' 3:\n%s", before, u.ToDebugString())
				}
				merged := ReduceByKey(u, kvAdd, mode.opt)
				if n := shuffleCount(merged); n != before {
					t.Errorf("ReduceByKey with the same partitioning added %d shuffles:\n%s", n-before, merged.ToDebugString())
				}
				kvSameMultiset(t, collectOrFatal(t, merged), kvNaiveReduceByKey(slices.Concat(inA, inB, inA), kvAdd))
			})
		}
	})
	t.Run("one partitioned RDD", func(t *testing.T) {
		a := byKey(inA, NumPartitions(4))
		u := Union(a)
		if u.NumPartitions() != 4 || !samePartitioning(u.partitioner, a.partitioner) {
			t.Errorf("Union of one RDD: %d partitions, partitioner %#v; want a's 4 and %#v", u.NumPartitions(), u.partitioner, a.partitioner)
		}
		if n := shuffleCount(ReduceByKey(u, kvAdd, NumPartitions(4))); n != 1 {
			t.Errorf("ReduceByKey on Union(a) with a's partitioning has %d shuffles, want only a's", n)
		}
	})
	slicePart := WithPartitioner[int](kvSlicePartitioner{bounds: make([]int, 4)})
	concatenation := []struct {
		name string
		a, b func() *RDD[Pair[int, int]]
	}{
		{"different partition counts",
			func() *RDD[Pair[int, int]] { return byKey(inA, NumPartitions(4)) },
			func() *RDD[Pair[int, int]] { return byKey(inB, NumPartitions(2)) }},
		{"different partitioners, same count",
			func() *RDD[Pair[int, int]] { return byKey(inA, NumPartitions(4)) },
			func() *RDD[Pair[int, int]] { return byKey(inB, WithPartitioner[int](kvModPartitioner{4})) }},
		{"second not partitioned",
			func() *RDD[Pair[int, int]] { return byKey(inA, NumPartitions(4)) },
			func() *RDD[Pair[int, int]] { return Parallelize(ec, inB, 2) }},
		{"first not partitioned",
			func() *RDD[Pair[int, int]] { return Parallelize(ec, inA, 2) },
			func() *RDD[Pair[int, int]] { return byKey(inB, NumPartitions(4)) }},
		{"partitioners of a type that is not comparable",
			func() *RDD[Pair[int, int]] { return byKey(inA, slicePart) },
			func() *RDD[Pair[int, int]] { return byKey(inB, slicePart) }},
	}
	for _, tt := range concatenation {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tt.a(), tt.b()
			var u *RDD[Pair[int, int]]
			noPanic(t, func() { u = Union(a, b) })
			if u == nil {
				return
			}
			if u.NumPartitions() != a.NumPartitions()+b.NumPartitions() || u.partitioner != nil {
				t.Fatalf("Union: %d partitions, partitioner %#v; want the concatenation's %d and none",
					u.NumPartitions(), u.partitioner, a.NumPartitions()+b.NumPartitions())
			}
			parts := kvMustGlom(t, u)
			if want := slices.Concat(kvMustGlom(t, a), kvMustGlom(t, b)); !slices.EqualFunc(parts, want, slices.Equal) {
				t.Errorf("partitions = %v, want a's then b's: %v", parts, want)
			}
			merged := ReduceByKey(u, kvAdd, NumPartitions(4))
			if n, before := shuffleCount(merged), shuffleCount(u); n != before+1 {
				t.Errorf("ReduceByKey on a concatenation has %d shuffles, want one more than the union's %d:\n%s", n, before, merged.ToDebugString())
			}
			kvSameMultiset(t, collectOrFatal(t, merged), kvNaiveReduceByKey(slices.Concat(inA, inB), kvAdd))
		})
	}
}

func TestFromFuncReadsLazilyAndReplays(t *testing.T) {
	ec := newEngine(t)
	var reads atomic.Int32
	r := FromFunc(ec, "Numbers", 3, func(ctx context.Context, part int, emit func([]int) error) error {
		reads.Add(1)
		buf := make([]int, 0, 2)
		for i := range 5 {
			buf = append(buf[:0], part*10+i) // the buffer is reused
			if err := emit(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if n := reads.Load(); n != 0 {
		t.Fatalf("FromFunc read %d partitions before any action", n)
	}
	for range 2 {
		got, err := r.Collect(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		want := []int{0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24}
		if !slices.Equal(got, want) {
			t.Fatalf("Collect = %v, want %v", got, want)
		}
	}
	first, err := r.Take(testCtx(t), 2)
	if err != nil || !slices.Equal(first, []int{0, 1}) {
		t.Fatalf("Take(2) = %v, %v", first, err)
	}
	boom := errors.New("boom")
	bad := FromFunc(ec, "", 1, func(context.Context, int, func([]int) error) error { return boom })
	if _, err := bad.Count(testCtx(t)); !errors.Is(err, boom) {
		t.Errorf("Count = %v, want the read error", err)
	}
	if err := FromFunc[int](ec, "x", 1, nil).Err(); err == nil {
		t.Error("a nil read must be an error")
	}
}
