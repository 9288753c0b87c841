package rdd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spate-io/spate/engine"
)

// This file tests the by-key aggregations, the per-value transforms and
// argument checking of the pair operations. It also holds the helpers the
// shuffle, join and sort tests share (all prefixed kv): input layouts,
// result partitionings, naive reference implementations on maps and
// slices, and multiset comparison (partition order is not defined, so
// results are compared sorted).

// kvLayout is one input for the by-key tests: records over partitions.
type kvLayout struct {
	name  string
	parts int // 0 makes an RDD without partitions (Empty)
	data  []Pair[int, int]
}

func (l kvLayout) rdd(ec *engine.Context) *RDD[Pair[int, int]] {
	if l.parts == 0 {
		return Empty[Pair[int, int]](ec)
	}
	return Parallelize(ec, l.data, l.parts)
}

// kvRandomPairs returns n pairs with keys in [-keys/2, keys-keys/2) and
// values in [-50, 50).
func kvRandomPairs(seed uint64, n, keys int) []Pair[int, int] {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]Pair[int, int], n)
	for i := range out {
		out[i] = KV(rng.IntN(keys)-keys/2, rng.IntN(100)-50)
	}
	return out
}

// kvSkewedPairs returns n pairs of which 90% have key 7 (spread over
// every partition) and the rest keys in [0, 100).
func kvSkewedPairs(seed uint64, n int) []Pair[int, int] {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]Pair[int, int], n)
	for i := range out {
		k := 7
		if i%10 == 0 {
			k = rng.IntN(100)
		}
		out[i] = KV(k, rng.IntN(100)-50)
	}
	return out
}

func kvLayouts() []kvLayout {
	return []kvLayout{
		{"empty, no partitions", 0, nil},
		{"empty, 3 partitions", 3, nil},
		{"one partition", 1, kvRandomPairs(1, 300, 25)},
		{"several partitions", 4, kvRandomPairs(2, 1000, 40)},
		{"more partitions than records", 12, kvRandomPairs(3, 5, 3)},
		{"skewed", 5, kvSkewedPairs(4, 1000)},
	}
}

// kvCountable is what the tests need of an RDD of any element type.
type kvCountable interface {
	Err() error
	NumPartitions() int
	Count(ctx context.Context) (int, error)
	ToDebugString() string
}

// kvModPartitioner places int keys by their remainder: a user-defined
// partitioner that is comparable, so equal values mean equal placement.
type kvModPartitioner struct{ n int }

func (p kvModPartitioner) NumPartitions() int { return p.n }
func (p kvModPartitioner) Partition(k int) int {
	return ((k % p.n) + p.n) % p.n
}

// kvMode is how a by-key test asks for its result's partitioning, and the
// partitioner the result must then have, given the largest parent's
// partition count.
type kvMode struct {
	name        string
	opts        func(ec *engine.Context) []PartitionOption
	partitioner func(ec *engine.Context, maxParent int) Partitioner[int]
}

func kvNumPartitionsMode(n int) kvMode {
	return kvMode{
		name:        fmt.Sprintf("NumPartitions(%d)", n),
		opts:        func(*engine.Context) []PartitionOption { return []PartitionOption{NumPartitions(n)} },
		partitioner: func(ec *engine.Context, _ int) Partitioner[int] { return HashPartitioner[int](ec, n) },
	}
}

func kvModes() []kvMode {
	return []kvMode{
		{
			name:        "default",
			opts:        func(*engine.Context) []PartitionOption { return nil },
			partitioner: func(ec *engine.Context, m int) Partitioner[int] { return HashPartitioner[int](ec, max(m, 1)) },
		},
		kvNumPartitionsMode(1),
		kvNumPartitionsMode(3),
		kvNumPartitionsMode(16),
		{
			name: "WithPartitioner(mod 4)",
			opts: func(*engine.Context) []PartitionOption {
				return []PartitionOption{WithPartitioner[int](kvModPartitioner{4})}
			},
			partitioner: func(*engine.Context, int) Partitioner[int] { return kvModPartitioner{4} },
		},
		{
			name: "WithPartitioner(HashPartitioner(5))",
			opts: func(ec *engine.Context) []PartitionOption {
				return []PartitionOption{WithPartitioner(HashPartitioner[int](ec, 5))}
			},
			partitioner: func(ec *engine.Context, _ int) Partitioner[int] { return HashPartitioner[int](ec, 5) },
		},
	}
}

// kvCheckPlacement fails unless every key of parts is in exactly one
// partition and, when p is not nil, in the one p assigns it to.
func kvCheckPlacement[K comparable, V any](t *testing.T, parts [][]Pair[K, V], p Partitioner[K]) {
	t.Helper()
	if p != nil && len(parts) != p.NumPartitions() {
		t.Errorf("got %d partitions, want %d", len(parts), p.NumPartitions())
	}
	home := map[K]int{}
	for i, part := range parts {
		for _, kv := range part {
			if j, ok := home[kv.Key]; ok && j != i {
				t.Errorf("key %v is in partitions %d and %d", kv.Key, j, i)
				return
			}
			home[kv.Key] = i
			if p != nil {
				if want := p.Partition(kv.Key); want != i {
					t.Errorf("key %v is in partition %d, its partitioner says %d", kv.Key, i, want)
					return
				}
			}
		}
	}
}

// kvStrings returns the sorted Go-syntax forms of xs: a multiset that
// compares elements of any type exactly.
func kvStrings[T any](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%#v", x)
	}
	slices.Sort(out)
	return out
}

// kvSameMultiset fails unless got and want hold the same elements the
// same number of times, in any order.
func kvSameMultiset[T any](t *testing.T, got, want []T) {
	t.Helper()
	g, w := kvStrings(got), kvStrings(want)
	if slices.Equal(g, w) {
		return
	}
	for i := 0; i < max(len(g), len(w)); i++ {
		var gi, wi string
		if i < len(g) {
			gi = g[i]
		}
		if i < len(w) {
			wi = w[i]
		}
		if gi != wi {
			t.Errorf("got %d elements, want %d; first difference in sorted order at %d: got %q, want %q", len(g), len(w), i, gi, wi)
			return
		}
	}
}

// kvNaiveReduceByKey merges the values of each key in input order.
func kvNaiveReduceByKey[K comparable, V any](in []Pair[K, V], f func(V, V) V) []Pair[K, V] {
	index := map[K]int{}
	var out []Pair[K, V]
	for _, kv := range in {
		if i, ok := index[kv.Key]; ok {
			out[i].Value = f(out[i].Value, kv.Value)
			continue
		}
		index[kv.Key] = len(out)
		out = append(out, kv)
	}
	return out
}

// kvNaiveGroupByKey collects the values of each key in input order.
func kvNaiveGroupByKey[K comparable, V any](in []Pair[K, V]) []Pair[K, []V] {
	index := map[K]int{}
	var out []Pair[K, []V]
	for _, kv := range in {
		i, ok := index[kv.Key]
		if !ok {
			i = len(out)
			index[kv.Key] = i
			out = append(out, Pair[K, []V]{Key: kv.Key})
		}
		out[i].Value = append(out[i].Value, kv.Value)
	}
	return out
}

// kvSortedGroups returns copies of groups with each value slice sorted, so
// that groups compare as multisets.
func kvSortedGroups[K comparable, V cmp.Ordered](groups []Pair[K, []V]) []Pair[K, []V] {
	out := make([]Pair[K, []V], len(groups))
	for i, g := range groups {
		vs := slices.Clone(g.Value)
		slices.Sort(vs)
		out[i] = Pair[K, []V]{g.Key, vs}
	}
	return out
}

// kvMustGlom returns r's partitions, failing the test on an error.
func kvMustGlom[T any](t *testing.T, r *RDD[T]) [][]T {
	t.Helper()
	if err := r.Err(); err != nil {
		t.Fatalf("building the RDD: %v", err)
	}
	parts, err := Glom(r).Collect(testCtx(t))
	if err != nil {
		t.Fatalf("Glom.Collect: %v", err)
	}
	if len(parts) != r.NumPartitions() {
		t.Fatalf("Glom returned %d partitions, the RDD has %d", len(parts), r.NumPartitions())
	}
	return parts
}

// kvRunByKey runs a by-key operation over every layout and partitioning
// mode and checks the result's partitioning, its placement of keys and
// its contents against naive (after norm, when not nil, on both sides).
func kvRunByKey[V any](t *testing.T,
	build func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, V]],
	naive func(in []Pair[int, int]) []Pair[int, V],
	norm func([]Pair[int, V]) []Pair[int, V],
) {
	t.Helper()
	ec := newEngine(t)
	for _, l := range kvLayouts() {
		for _, m := range kvModes() {
			t.Run(l.name+"/"+m.name, func(t *testing.T) {
				out := build(l.rdd(ec), m.opts(ec))
				p := m.partitioner(ec, l.parts)
				if got, want := out.NumPartitions(), p.NumPartitions(); got != want {
					t.Errorf("NumPartitions() = %d, want %d", got, want)
				}
				parts := kvMustGlom(t, out)
				kvCheckPlacement(t, parts, p)
				got, want := slices.Concat(parts...), naive(l.data)
				if norm != nil {
					got, want = norm(got), norm(want)
				}
				kvSameMultiset(t, got, want)
			})
		}
	}
}

func kvAdd(a, b int) int { return a + b }

func TestPairReduceByKey(t *testing.T) {
	kvRunByKey(t,
		func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, int]] {
			return ReduceByKey(in, kvAdd, opts...)
		},
		func(in []Pair[int, int]) []Pair[int, int] { return kvNaiveReduceByKey(in, kvAdd) },
		nil)
}

// kvAvg is a combiner of a different type than the values it combines.
type kvAvg struct{ Sum, N int }

func (a kvAvg) add(v int) kvAvg     { return kvAvg{a.Sum + v, a.N + 1} }
func (a kvAvg) merge(b kvAvg) kvAvg { return kvAvg{a.Sum + b.Sum, a.N + b.N} }
func kvNewAvg(v int) kvAvg          { return kvAvg{v, 1} }
func kvAvgAdd(a kvAvg, v int) kvAvg { return a.add(v) }
func kvAvgMerge(a, b kvAvg) kvAvg   { return a.merge(b) }
func kvNaiveAvg(in []Pair[int, int]) []Pair[int, kvAvg] {
	var out []Pair[int, kvAvg]
	for _, g := range kvNaiveGroupByKey(in) {
		a := kvAvg{}
		for _, v := range g.Value {
			a = a.add(v)
		}
		out = append(out, KV(g.Key, a))
	}
	return out
}

func TestPairCombineByKey(t *testing.T) {
	t.Run("struct combiner", func(t *testing.T) {
		kvRunByKey(t,
			func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, kvAvg]] {
				return CombineByKey(in, kvNewAvg, kvAvgAdd, kvAvgMerge, opts...)
			},
			kvNaiveAvg, nil)
	})
	t.Run("slice combiner", func(t *testing.T) {
		kvRunByKey(t,
			func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, []int]] {
				return CombineByKey(in,
					func(v int) []int { return []int{v} },
					func(c []int, v int) []int { return append(c, v) },
					func(a, b []int) []int { return append(a, b...) },
					opts...)
			},
			kvNaiveGroupByKey[int, int], kvSortedGroups[int, int])
	})
}

func TestPairAggregateByKey(t *testing.T) {
	t.Run("struct zero", func(t *testing.T) {
		kvRunByKey(t,
			func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, kvAvg]] {
				return AggregateByKey(in, kvAvg{}, kvAvgAdd, kvAvgMerge, opts...)
			},
			kvNaiveAvg, nil)
	})
	t.Run("nil slice zero", func(t *testing.T) {
		kvRunByKey(t,
			func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, []int]] {
				return AggregateByKey(in, []int(nil),
					func(u []int, v int) []int { return append(u, v) },
					func(a, b []int) []int { return append(a, b...) },
					opts...)
			},
			kvNaiveGroupByKey[int, int], kvSortedGroups[int, int])
	})
}

func TestPairFoldByKey(t *testing.T) {
	t.Run("sum", func(t *testing.T) {
		kvRunByKey(t,
			func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, int]] {
				return FoldByKey(in, 0, kvAdd, opts...)
			},
			func(in []Pair[int, int]) []Pair[int, int] { return kvNaiveReduceByKey(in, kvAdd) },
			nil)
	})
	t.Run("max", func(t *testing.T) {
		kvRunByKey(t,
			func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, int]] {
				return FoldByKey(in, math.MinInt, func(a, b int) int { return max(a, b) }, opts...)
			},
			func(in []Pair[int, int]) []Pair[int, int] {
				return kvNaiveReduceByKey(in, func(a, b int) int { return max(a, b) })
			},
			nil)
	})
}

func TestPairGroupByKey(t *testing.T) {
	kvRunByKey(t,
		func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, []int]] {
			return GroupByKey(in, opts...)
		},
		kvNaiveGroupByKey[int, int], kvSortedGroups[int, int])
}

func TestPairCountByKey(t *testing.T) {
	ec := newEngine(t)
	for _, l := range kvLayouts() {
		t.Run(l.name, func(t *testing.T) {
			got, err := CountByKey(testCtx(t), l.rdd(ec))
			if err != nil {
				t.Fatalf("CountByKey: %v", err)
			}
			want := map[int]int{}
			for _, kv := range l.data {
				want[kv.Key]++
			}
			if len(got) != len(want) {
				t.Errorf("got %d keys, want %d", len(got), len(want))
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("count of key %d = %d, want %d", k, got[k], n)
				}
			}
		})
	}
}

// kvRunPerRecord runs a per-record transform of pairs over every layout
// and checks that it keeps the partition count and matches naive.
func kvRunPerRecord[T any](t *testing.T, build func(*RDD[Pair[int, int]]) *RDD[T], naive func([]Pair[int, int]) []T) {
	t.Helper()
	ec := newEngine(t)
	for _, l := range kvLayouts() {
		t.Run(l.name, func(t *testing.T) {
			out := build(l.rdd(ec))
			if got := out.NumPartitions(); got != l.parts {
				t.Errorf("NumPartitions() = %d, want the input's %d", got, l.parts)
			}
			got, err := out.Collect(testCtx(t))
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			kvSameMultiset(t, got, naive(l.data))
		})
	}
}

func TestPairMapValues(t *testing.T) {
	kvRunPerRecord(t,
		func(in *RDD[Pair[int, int]]) *RDD[Pair[int, string]] {
			return MapValues(in, func(v int) string { return fmt.Sprint("v", v) })
		},
		func(in []Pair[int, int]) []Pair[int, string] {
			var out []Pair[int, string]
			for _, kv := range in {
				out = append(out, KV(kv.Key, fmt.Sprint("v", kv.Value)))
			}
			return out
		})
}

// kvExpand returns nothing for negative v, else v and v*10: zero or
// several outputs per input.
func kvExpand(v int) []int {
	if v < 0 {
		return nil
	}
	return []int{v, v * 10}
}

func TestPairFlatMapValues(t *testing.T) {
	naive := func(in []Pair[int, int]) []Pair[int, int] {
		var out []Pair[int, int]
		for _, kv := range in {
			for _, w := range kvExpand(kv.Value) {
				out = append(out, KV(kv.Key, w))
			}
		}
		return out
	}
	kvRunPerRecord(t,
		func(in *RDD[Pair[int, int]]) *RDD[Pair[int, int]] { return FlatMapValues(in, kvExpand) },
		naive)
	t.Run("output larger than a chunk", func(t *testing.T) {
		ec := newEngine(t)
		in := make([]Pair[int, int], 3000)
		for i := range in {
			in[i] = KV(i%17, i)
		}
		got, err := FlatMapValues(Parallelize(ec, in, 2), kvExpand).Collect(testCtx(t))
		if err != nil {
			t.Fatalf("Collect: %v", err)
		}
		kvSameMultiset(t, got, naive(in))
	})
}

func TestPairKeysAndValues(t *testing.T) {
	t.Run("Keys", func(t *testing.T) {
		kvRunPerRecord(t, Keys[int, int], func(in []Pair[int, int]) []int {
			var out []int
			for _, kv := range in {
				out = append(out, kv.Key)
			}
			return out
		})
	})
	t.Run("Values", func(t *testing.T) {
		kvRunPerRecord(t, Values[int, int], func(in []Pair[int, int]) []int {
			var out []int
			for _, kv := range in {
				out = append(out, kv.Value)
			}
			return out
		})
	})
}

func TestPairDistinct(t *testing.T) {
	ec := newEngine(t)
	for _, l := range kvLayouts() {
		for _, m := range kvModes() {
			t.Run(l.name+"/"+m.name, func(t *testing.T) {
				out := Distinct(Keys(l.rdd(ec)), m.opts(ec)...)
				p := m.partitioner(ec, l.parts)
				if got := out.NumPartitions(); got != p.NumPartitions() {
					t.Errorf("NumPartitions() = %d, want %d", got, p.NumPartitions())
				}
				parts := kvMustGlom(t, out)
				for i, part := range parts {
					for _, k := range part {
						if want := p.Partition(k); want != i {
							t.Errorf("element %d is in partition %d, its partitioner says %d", k, i, want)
						}
					}
				}
				var want []int
				seen := map[int]bool{}
				for _, kv := range l.data {
					if !seen[kv.Key] {
						seen[kv.Key] = true
						want = append(want, kv.Key)
					}
				}
				kvSameMultiset(t, slices.Concat(parts...), want)
			})
		}
	}
}

// kvNilPtrPartitioner is a partitioner type whose nil pointer is a
// non-nil interface value.
type kvNilPtrPartitioner struct{}

func (*kvNilPtrPartitioner) NumPartitions() int { return 1 }
func (*kvNilPtrPartitioner) Partition(int) int  { return 0 }

func TestPairBadArguments(t *testing.T) {
	ec := newEngine(t)
	other := newEngine(t)
	src := Parallelize(ec, kvRandomPairs(5, 20, 4), 2)
	otherSrc := Parallelize(other, kvRandomPairs(6, 20, 4), 2)
	strSrc := Parallelize(ec, []Pair[string, int]{KV("a", 1)}, 1)
	cases := []struct {
		name string
		err  func() error // the RDD's Err; nil when building failed to record it
		run  func() error // an action on the RDD
		want []string     // substrings of the error
	}{}
	add := func(name string, r kvCountable, want ...string) {
		cases = append(cases, struct {
			name string
			err  func() error
			run  func() error
			want []string
		}{name, r.Err, func() error { _, err := r.Count(testCtx(t)); return err }, want})
	}
	var nilReduce func(int, int) int
	var nilCreate func(int) kvAvg
	var nilMergeValue func(kvAvg, int) kvAvg
	var nilMergeCombiners func(kvAvg, kvAvg) kvAvg
	add("ReduceByKey nil f", ReduceByKey(src, nilReduce), "rdd.ReduceByKey", "f must not be nil")
	add("CombineByKey nil createCombiner", CombineByKey(src, nilCreate, kvAvgAdd, kvAvgMerge), "rdd.CombineByKey", "createCombiner")
	add("CombineByKey nil mergeValue", CombineByKey(src, kvNewAvg, nilMergeValue, kvAvgMerge), "rdd.CombineByKey", "mergeValue")
	add("CombineByKey nil mergeCombiners", CombineByKey(src, kvNewAvg, kvAvgAdd, nilMergeCombiners), "rdd.CombineByKey", "mergeCombiners")
	add("AggregateByKey nil seqOp", AggregateByKey(src, kvAvg{}, nilMergeValue, kvAvgMerge), "rdd.AggregateByKey", "seqOp")
	add("AggregateByKey nil combOp", AggregateByKey(src, kvAvg{}, kvAvgAdd, nilMergeCombiners), "rdd.AggregateByKey", "combOp")
	add("FoldByKey nil f", FoldByKey(src, 0, nilReduce), "rdd.FoldByKey", "f must not be nil")
	add("MapValues nil f", MapValues[int, int, string](src, nil), "rdd.MapValues", "f must not be nil")
	add("FlatMapValues nil f", FlatMapValues[int, int, string](src, nil), "rdd.FlatMapValues", "f must not be nil")
	add("derived from a bad RDD", MapValues(ReduceByKey(src, nilReduce), func(v int) int { return v }), "rdd.ReduceByKey", "f must not be nil")

	add("ReduceByKey NumPartitions(0)", ReduceByKey(src, kvAdd, NumPartitions(0)), "rdd.ReduceByKey", "NumPartitions", "got 0")
	add("GroupByKey NumPartitions(-1)", GroupByKey(src, NumPartitions(-1)), "rdd.GroupByKey", "NumPartitions", "got -1")
	add("PartitionBy NumPartitions(0)", PartitionBy(src, NumPartitions(0)), "rdd.PartitionBy", "NumPartitions")
	add("Distinct NumPartitions(0)", Distinct(Keys(src), NumPartitions(0)), "rdd.Distinct", "NumPartitions")
	add("Join NumPartitions(0)", Join(src, src, NumPartitions(0)), "rdd.Join", "NumPartitions")
	add("Repartition(0)", src.Repartition(0), "rdd.Repartition", "numPartitions", "got 0")
	add("ReduceByKey WithPartitioner(nil)", ReduceByKey(src, kvAdd, WithPartitioner[int](nil)), "rdd.ReduceByKey", "WithPartitioner")
	add("GroupByKey WithPartitioner(nil pointer)", GroupByKey(src, WithPartitioner[int]((*kvNilPtrPartitioner)(nil))), "rdd.GroupByKey", "WithPartitioner")
	add("ReduceByKey WithPartitioner(0 partitions)", ReduceByKey(src, kvAdd, WithPartitioner[int](kvModPartitioner{0})), "rdd.ReduceByKey", "WithPartitioner", "0 partitions")
	add("PartitionBy WithPartitioner(wrong key type)", PartitionBy(src, WithPartitioner(HashPartitioner[string](ec, 2))), "rdd.PartitionBy", "WithPartitioner", "string")
	add("CogroupBy WithPartitioner(wrong key type)", Cogroup(strSrc, strSrc, WithPartitioner[int](kvModPartitioner{2})), "rdd.Cogroup", "WithPartitioner")
	add("SortByKey WithPartitioner", SortByKey(src, true, WithPartitioner(HashPartitioner[int](ec, 2))), "rdd.SortByKey", "WithPartitioner")
	add("SortByKey WithPartitioner(nil)", SortByKey(src, true, WithPartitioner[int](nil)), "rdd.SortByKey", "WithPartitioner")
	add("SortByKey NumPartitions(0)", SortByKey(src, false, NumPartitions(0)), "rdd.SortByKey", "NumPartitions", "got 0")

	add("Join of two engine contexts", Join(src, otherSrc), "rdd.Join", "different engine contexts")
	add("LeftOuterJoin of two engine contexts", LeftOuterJoin(src, otherSrc), "rdd.LeftOuterJoin", "different engine contexts")
	add("RightOuterJoin of two engine contexts", RightOuterJoin(src, otherSrc), "rdd.RightOuterJoin", "different engine contexts")
	add("FullOuterJoin of two engine contexts", FullOuterJoin(otherSrc, src), "rdd.FullOuterJoin", "different engine contexts")
	add("Cogroup of two engine contexts", Cogroup(src, otherSrc), "rdd.Cogroup", "different engine contexts")
	add("SubtractByKey of two engine contexts", SubtractByKey(src, otherSrc), "rdd.SubtractByKey", "different engine contexts")

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, stage := range []struct {
				what string
				err  error
			}{{"Err()", c.err()}, {"Count", c.run()}} {
				if stage.err == nil {
					t.Fatalf("%s returned nil, want an error containing %q", stage.what, c.want)
				}
				for _, w := range c.want {
					if !strings.Contains(stage.err.Error(), w) {
						t.Errorf("%s = %q, want it to contain %q", stage.what, stage.err, w)
					}
				}
			}
		})
	}
}

func TestPairHashPartitioner(t *testing.T) {
	ec := newEngine(t)
	for _, n := range []int{1, 2, 7, 64} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p, q := HashPartitioner[int](ec, n), HashPartitioner[int](ec, n)
			if p.NumPartitions() != n {
				t.Fatalf("NumPartitions() = %d, want %d", p.NumPartitions(), n)
			}
			if p != q {
				t.Errorf("two HashPartitioner(ec, %d) values differ; co-partitioned RDDs could not be recognised", n)
			}
			used := map[int]bool{}
			for k := -2000; k < 2000; k++ {
				i := p.Partition(k)
				if i < 0 || i >= n {
					t.Fatalf("Partition(%d) = %d, want it in [0, %d)", k, i, n)
				}
				if j, jq := p.Partition(k), q.Partition(k); j != i || jq != i {
					t.Fatalf("Partition(%d) gave %d, then %d and %d", k, i, j, jq)
				}
				used[i] = true
			}
			if len(used) != n {
				t.Errorf("4000 keys used %d of %d partitions", len(used), n)
			}
			s := HashPartitioner[string](ec, n)
			for _, k := range []string{"", "a", "spate", strings.Repeat("x", 100)} {
				if i, j := s.Partition(k), s.Partition(strings.Clone(k)); i != j || i < 0 || i >= n {
					t.Errorf("Partition(%q) = %d then %d, want one value in [0, %d)", k, i, j, n)
				}
			}
		})
	}
}

func TestPairReduceByKeyPanic(t *testing.T) {
	ec := newEngine(t)
	boom := func(a, b int) int { panic(fmt.Sprintf("boom %d+%d", a, b)) }
	cases := []struct {
		name string
		in   *RDD[Pair[int, int]]
	}{
		// A key twice in one partition: the map-side combine panics.
		{"map side", Parallelize(ec, []Pair[int, int]{KV(1, 1), KV(1, 2), KV(2, 3)}, 1)},
		// Every key once per partition: only the reduce side merges.
		{"reduce side", FromPartitions(ec, [][]Pair[int, int]{{KV(1, 1), KV(2, 2)}, {KV(1, 3), KV(2, 4)}})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReduceByKey(c.in, boom, NumPartitions(2)).Collect(testCtx(t))
			var pe *engine.TaskPanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Collect error = %v, want a *engine.TaskPanicError", err)
			}
			if s, _ := pe.Value.(string); !strings.HasPrefix(s, "boom ") {
				t.Errorf("panic value = %v, want the function's", pe.Value)
			}
			if len(pe.Stack) == 0 {
				t.Errorf("panic error has no stack")
			}
		})
	}
	// The engine keeps working after the failed jobs.
	got, err := ReduceByKey(Parallelize(ec, []Pair[int, int]{KV(1, 1), KV(1, 2)}, 2), kvAdd).Collect(testCtx(t))
	if err != nil || len(got) != 1 || got[0] != KV(1, 3) {
		t.Errorf("after the panics: got %v, %v; want [(1,3)]", got, err)
	}
}

// kvLargestChunk runs r through a probe that records the largest chunk r
// hands its consumer, and returns it with the number of records.
func kvLargestChunk[T any](t *testing.T, r *RDD[T]) (largest int64, n int) {
	t.Helper()
	var most atomic.Int64
	probe := derive("probe", r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		return r.iterate(ctx, tc, part, func(c []T) bool {
			for {
				old := most.Load()
				if int64(len(c)) <= old || most.CompareAndSwap(old, int64(len(c))) {
					break
				}
			}
			return yield(c)
		})
	}, nil, r.node)
	n, err := probe.Count(testCtx(t))
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return most.Load(), n
}

// TestPairChunksAreBounded checks that the pair operations hand their
// consumers chunks of at most chunkSize records, even when one record
// expands into many or one key has many values.
func TestPairChunksAreBounded(t *testing.T) {
	ec := newEngine(t)
	few := Parallelize(ec, []Pair[int, int]{KV(1, 1), KV(2, 2), KV(3, 3)}, 2)
	hot := make([]Pair[int, int], 3000)
	for i := range hot {
		hot[i] = KV(i%2, i) // 1500 values per key
	}
	hotRDD := Parallelize(ec, hot, 3)
	many := Parallelize(ec, kvRandomPairs(70, 5000, 4000), 2)
	oneKey := Parallelize(ec, make([]Pair[int, int], 200), 2)
	cases := []struct {
		name string
		run  func() (int64, int)
		want int // records
	}{
		{"FlatMapValues", func() (int64, int) {
			return kvLargestChunk(t, FlatMapValues(few, func(v int) []int { return make([]int, 3000) }))
		}, 9000},
		{"Join", func() (int64, int) { return kvLargestChunk(t, Join(oneKey, oneKey, NumPartitions(1))) }, 200 * 200},
		{"FullOuterJoin", func() (int64, int) { return kvLargestChunk(t, FullOuterJoin(hotRDD, few, NumPartitions(1))) }, 1500 + 1500 + 2},
		{"PartitionBy", func() (int64, int) { return kvLargestChunk(t, PartitionBy(hotRDD, NumPartitions(1))) }, 3000},
		{"SortByKey", func() (int64, int) { return kvLargestChunk(t, SortByKey(hotRDD, true, NumPartitions(1))) }, 3000},
		{"ReduceByKey", func() (int64, int) { return kvLargestChunk(t, ReduceByKey(many, kvAdd, NumPartitions(1))) }, -1},
		{"Repartition", func() (int64, int) { return kvLargestChunk(t, hotRDD.Repartition(1)) }, 3000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			largest, n := c.run()
			if c.want >= 0 && n != c.want {
				t.Errorf("got %d records, want %d", n, c.want)
			}
			if n <= chunkSize {
				t.Fatalf("only %d records: the case cannot tell", n)
			}
			if largest > chunkSize {
				t.Errorf("largest chunk has %d records, want at most %d", largest, chunkSize)
			}
		})
	}
}
