package dstream_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/rdd"
)

// Tests of the by-key operations of pairops.go. Their outputs are
// compared as multisets: like Spark's, they promise no order.

type kv = rdd.Pair[string, int]

// pairs is the input of the single-stream by-key tests: keys repeated
// within a batch, an empty batch, a batch with one key; runs go on
// beyond it.
var pairs = [][]kv{
	{rdd.KV("a", 1), rdd.KV("b", 2), rdd.KV("a", 3), rdd.KV("c", 4), rdd.KV("a", 5)},
	{},
	{rdd.KV("b", 7), rdd.KV("b", 8)},
}

func TestReduceByKey(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, pairs, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.ReduceByKey(s, func(a, b int) int { return a + b })
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]kv{
			{rdd.KV("a", 9), rdd.KV("b", 2), rdd.KV("c", 4)}, {}, {rdd.KV("b", 15)}, {},
		})
	})
	t.Run("NumPartitions", func(t *testing.T) {
		out := mustRun(t, pairs, func(s *dstream.DStream[kv]) *dstream.DStream[int] {
			return dstream.Glom(dstream.ReduceByKey(s, func(a, b int) int { return a + b }, rdd.NumPartitions(4))).Count()
		}, 2)
		dstreamtest.Equal(t, out, [][]int{{4}, {4}})
	})
}

// sortedGroups formats grouped values with the values sorted, since a
// group's order depends on partitioning and shuffle order.
func sortedGroups(p rdd.Pair[string, []int]) string {
	vs := slices.Clone(p.Value)
	slices.Sort(vs)
	return fmt.Sprint(p.Key, vs)
}

func TestGroupByKey(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, pairs, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
			return dstream.Map(dstream.GroupByKey(s), sortedGroups)
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]string{{"a[1 3 5]", "b[2]", "c[4]"}, {}, {"b[7 8]"}, {}})
	})
	t.Run("NumPartitions", func(t *testing.T) {
		out := mustRun(t, pairs, func(s *dstream.DStream[kv]) *dstream.DStream[int] {
			return dstream.Glom(dstream.GroupByKey(s, rdd.NumPartitions(3))).Count()
		}, 1)
		dstreamtest.Equal(t, out, [][]int{{3}})
	})
}

// avg is a running mean, the textbook CombineByKey combiner.
type avg struct{ Sum, N int }

func TestCombineByKey(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, pairs, func(s *dstream.DStream[kv]) *dstream.DStream[rdd.Pair[string, avg]] {
			return dstream.CombineByKey(s,
				func(v int) avg { return avg{v, 1} },
				func(c avg, v int) avg { return avg{c.Sum + v, c.N + 1} },
				func(a, b avg) avg { return avg{a.Sum + b.Sum, a.N + b.N} })
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, avg]{
			{rdd.KV("a", avg{9, 3}), rdd.KV("b", avg{2, 1}), rdd.KV("c", avg{4, 1})}, {}, {rdd.KV("b", avg{15, 2})}, {},
		})
	})
}

func TestMapValues(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, pairs, func(s *dstream.DStream[kv]) *dstream.DStream[rdd.Pair[string, string]] {
			return dstream.MapValues(s, func(v int) string { return strings.Repeat("*", v%4) })
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, string]{
			{rdd.KV("a", "*"), rdd.KV("b", "**"), rdd.KV("a", "***"), rdd.KV("c", ""), rdd.KV("a", "*")},
			{},
			{rdd.KV("b", "***"), rdd.KV("b", "")},
			{},
		})
	})
}

func TestFlatMapValues(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, pairs, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
			// v copies of v, none for a multiple of 4.
			return dstream.FlatMapValues(s, func(v int) []int {
				var out []int
				for range v % 4 {
					out = append(out, v)
				}
				return out
			})
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]kv{
			{rdd.KV("a", 1), rdd.KV("b", 2), rdd.KV("b", 2), rdd.KV("a", 3), rdd.KV("a", 3), rdd.KV("a", 3), rdd.KV("a", 5)},
			{},
			{rdd.KV("b", 7), rdd.KV("b", 7), rdd.KV("b", 7)},
			{},
		})
	})
}

// Join inputs: batch 1 has matching and unmatched keys on both sides
// (and a key twice on the left), batch 2 has data on the left only,
// batch 3 on the right only, batch 4 on neither.
var (
	joinLeft = [][]kv{
		{rdd.KV("a", 1), rdd.KV("a", 2), rdd.KV("b", 3), rdd.KV("l", 4)},
		{rdd.KV("a", 5)},
		{},
	}
	joinRight = [][]rdd.Pair[string, string]{
		{rdd.KV("a", "x"), rdd.KV("b", "y"), rdd.KV("b", "z"), rdd.KV("r", "w")},
		{},
		{rdd.KV("a", "v")},
	}
)

type (
	rs     = rdd.Pair[string, string]
	optInt = rdd.Optional[int]
	optStr = rdd.Optional[string]
)

func some[T any](v T) rdd.Optional[T] { return rdd.Some(v) }

func joined[V, W any](k string, v V, w W) rdd.Pair[string, rdd.Joined[V, W]] {
	return rdd.KV(k, rdd.Joined[V, W]{Left: v, Right: w})
}

func TestJoin(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun2(t, joinLeft, joinRight, func(a *dstream.DStream[kv], b *dstream.DStream[rs]) *dstream.DStream[rdd.Pair[string, rdd.Joined[int, string]]] {
			return dstream.Join(a, b)
		}, 5, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, rdd.Joined[int, string]]{
			{joined("a", 1, "x"), joined("a", 2, "x"), joined("b", 3, "y"), joined("b", 3, "z")},
			{}, {}, {}, {},
		})
	})
}

func TestLeftOuterJoin(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun2(t, joinLeft, joinRight, func(a *dstream.DStream[kv], b *dstream.DStream[rs]) *dstream.DStream[rdd.Pair[string, rdd.Joined[int, optStr]]] {
			return dstream.LeftOuterJoin(a, b)
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, rdd.Joined[int, optStr]]{
			{joined("a", 1, some("x")), joined("a", 2, some("x")), joined("b", 3, some("y")), joined("b", 3, some("z")), joined("l", 4, optStr{})},
			{joined("a", 5, optStr{})},
			{},
			{},
		})
	})
}

func TestRightOuterJoin(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun2(t, joinLeft, joinRight, func(a *dstream.DStream[kv], b *dstream.DStream[rs]) *dstream.DStream[rdd.Pair[string, rdd.Joined[optInt, string]]] {
			return dstream.RightOuterJoin(a, b)
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, rdd.Joined[optInt, string]]{
			{joined("a", some(1), "x"), joined("a", some(2), "x"), joined("b", some(3), "y"), joined("b", some(3), "z"), joined("r", optInt{}, "w")},
			{},
			{joined("a", optInt{}, "v")},
			{},
		})
	})
}

func TestFullOuterJoin(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun2(t, joinLeft, joinRight, func(a *dstream.DStream[kv], b *dstream.DStream[rs]) *dstream.DStream[rdd.Pair[string, rdd.Joined[optInt, optStr]]] {
			return dstream.FullOuterJoin(a, b)
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, rdd.Joined[optInt, optStr]]{
			{
				joined("a", some(1), some("x")), joined("a", some(2), some("x")),
				joined("b", some(3), some("y")), joined("b", some(3), some("z")),
				joined("l", some(4), optStr{}), joined("r", optInt{}, some("w")),
			},
			{joined("a", some(5), optStr{})},
			{joined("a", optInt{}, some("v"))},
			{},
		})
	})
}

func TestJoinNumPartitions(t *testing.T) {
	out := mustRun2(t, joinLeft, joinRight, func(a *dstream.DStream[kv], b *dstream.DStream[rs]) *dstream.DStream[int] {
		return dstream.Glom(dstream.Join(a, b, rdd.NumPartitions(5))).Count()
	}, 2)
	dstreamtest.Equal(t, out, [][]int{{5}, {5}})
}

func TestCogroup(t *testing.T) {
	// Each group's values, sorted, as "key left right".
	format := func(p rdd.Pair[string, rdd.CoGrouped[int, string]]) string {
		l, r := slices.Clone(p.Value.Left), slices.Clone(p.Value.Right)
		slices.Sort(l)
		slices.Sort(r)
		return fmt.Sprint(p.Key, " ", l, " ", r)
	}
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun2(t, joinLeft, joinRight, func(a *dstream.DStream[kv], b *dstream.DStream[rs]) *dstream.DStream[string] {
			return dstream.Map(dstream.Cogroup(a, b), format)
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]string{
			{"a [1 2] [x]", "b [3] [y z]", "l [4] []", "r [] [w]"},
			{"a [5] []"},
			{"a [] [v]"},
			{},
		})
	})
}
