package dstream

import (
	"time"

	"github.com/spate-io/spate/rdd"
)

// byKey makes a stream applying an RDD by-key operation to every batch.
func byKey[T, U any](op string, s *DStream[T], f func(*rdd.RDD[T]) *rdd.RDD[U], bad error) *DStream[U] {
	return derive(op, s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[U] { return f(r) }, bad)
}

// ReduceByKey merges the values of each key within every batch (see
// [rdd.ReduceByKey]).
func ReduceByKey[K comparable, V any](s *DStream[rdd.Pair[K, V]], f func(V, V) V, opts ...rdd.PartitionOption) *DStream[rdd.Pair[K, V]] {
	return byKey("ReduceByKey", s, func(r *rdd.RDD[rdd.Pair[K, V]]) *rdd.RDD[rdd.Pair[K, V]] {
		return rdd.ReduceByKey(r, f, opts...)
	}, nilErr("f", f == nil))
}

// GroupByKey collects the values of each key within every batch.
func GroupByKey[K comparable, V any](s *DStream[rdd.Pair[K, V]], opts ...rdd.PartitionOption) *DStream[rdd.Pair[K, []V]] {
	return byKey("GroupByKey", s, func(r *rdd.RDD[rdd.Pair[K, V]]) *rdd.RDD[rdd.Pair[K, []V]] {
		return rdd.GroupByKey(r, opts...)
	}, nil)
}

// CombineByKey combines the values of each key within every batch (see
// [rdd.CombineByKey]).
func CombineByKey[K comparable, V, C any](s *DStream[rdd.Pair[K, V]], createCombiner func(V) C, mergeValue func(C, V) C, mergeCombiners func(C, C) C, opts ...rdd.PartitionOption) *DStream[rdd.Pair[K, C]] {
	bad := nilErr("createCombiner", createCombiner == nil)
	if bad == nil {
		bad = nilErr("mergeValue", mergeValue == nil)
	}
	if bad == nil {
		bad = nilErr("mergeCombiners", mergeCombiners == nil)
	}
	return byKey("CombineByKey", s, func(r *rdd.RDD[rdd.Pair[K, V]]) *rdd.RDD[rdd.Pair[K, C]] {
		return rdd.CombineByKey(r, createCombiner, mergeValue, mergeCombiners, opts...)
	}, bad)
}

// MapValues applies f to the value of every pair.
func MapValues[K comparable, V, W any](s *DStream[rdd.Pair[K, V]], f func(V) W) *DStream[rdd.Pair[K, W]] {
	return byKey("MapValues", s, func(r *rdd.RDD[rdd.Pair[K, V]]) *rdd.RDD[rdd.Pair[K, W]] {
		return rdd.MapValues(r, f)
	}, nilErr("f", f == nil))
}

// FlatMapValues pairs every element of f(value) with the pair's key.
func FlatMapValues[K comparable, V, W any](s *DStream[rdd.Pair[K, V]], f func(V) []W) *DStream[rdd.Pair[K, W]] {
	return byKey("FlatMapValues", s, func(r *rdd.RDD[rdd.Pair[K, V]]) *rdd.RDD[rdd.Pair[K, W]] {
		return rdd.FlatMapValues(r, f)
	}, nilErr("f", f == nil))
}

// joinStreams applies a two-RDD by-key operation to the batches of two
// streams with the same slide interval.
func joinStreams[K comparable, V, W, O any](op string, a *DStream[rdd.Pair[K, V]], b *DStream[rdd.Pair[K, W]], f func(*rdd.RDD[rdd.Pair[K, V]], *rdd.RDD[rdd.Pair[K, W]]) *rdd.RDD[O]) *DStream[O] {
	return combine2(op, a, b, func(ra *rdd.RDD[rdd.Pair[K, V]], rb *rdd.RDD[rdd.Pair[K, W]], _ time.Time) (*rdd.RDD[O], error) {
		return f(ra, rb), nil
	}, nil)
}

// Join joins the batches of a and b at each time on their keys (see
// [rdd.Join]).
func Join[K comparable, V, W any](a *DStream[rdd.Pair[K, V]], b *DStream[rdd.Pair[K, W]], opts ...rdd.PartitionOption) *DStream[rdd.Pair[K, rdd.Joined[V, W]]] {
	return joinStreams("Join", a, b, func(ra *rdd.RDD[rdd.Pair[K, V]], rb *rdd.RDD[rdd.Pair[K, W]]) *rdd.RDD[rdd.Pair[K, rdd.Joined[V, W]]] {
		return rdd.Join(ra, rb, opts...)
	})
}

// LeftOuterJoin is [Join] keeping a's pairs without a match in b.
func LeftOuterJoin[K comparable, V, W any](a *DStream[rdd.Pair[K, V]], b *DStream[rdd.Pair[K, W]], opts ...rdd.PartitionOption) *DStream[rdd.Pair[K, rdd.Joined[V, rdd.Optional[W]]]] {
	return joinStreams("LeftOuterJoin", a, b, func(ra *rdd.RDD[rdd.Pair[K, V]], rb *rdd.RDD[rdd.Pair[K, W]]) *rdd.RDD[rdd.Pair[K, rdd.Joined[V, rdd.Optional[W]]]] {
		return rdd.LeftOuterJoin(ra, rb, opts...)
	})
}

// RightOuterJoin is [Join] keeping b's pairs without a match in a.
func RightOuterJoin[K comparable, V, W any](a *DStream[rdd.Pair[K, V]], b *DStream[rdd.Pair[K, W]], opts ...rdd.PartitionOption) *DStream[rdd.Pair[K, rdd.Joined[rdd.Optional[V], W]]] {
	return joinStreams("RightOuterJoin", a, b, func(ra *rdd.RDD[rdd.Pair[K, V]], rb *rdd.RDD[rdd.Pair[K, W]]) *rdd.RDD[rdd.Pair[K, rdd.Joined[rdd.Optional[V], W]]] {
		return rdd.RightOuterJoin(ra, rb, opts...)
	})
}

// FullOuterJoin is [Join] keeping the pairs of either side without a match.
func FullOuterJoin[K comparable, V, W any](a *DStream[rdd.Pair[K, V]], b *DStream[rdd.Pair[K, W]], opts ...rdd.PartitionOption) *DStream[rdd.Pair[K, rdd.Joined[rdd.Optional[V], rdd.Optional[W]]]] {
	return joinStreams("FullOuterJoin", a, b, func(ra *rdd.RDD[rdd.Pair[K, V]], rb *rdd.RDD[rdd.Pair[K, W]]) *rdd.RDD[rdd.Pair[K, rdd.Joined[rdd.Optional[V], rdd.Optional[W]]]] {
		return rdd.FullOuterJoin(ra, rb, opts...)
	})
}

// Cogroup groups the values of both streams' batches by key.
func Cogroup[K comparable, V, W any](a *DStream[rdd.Pair[K, V]], b *DStream[rdd.Pair[K, W]], opts ...rdd.PartitionOption) *DStream[rdd.Pair[K, rdd.CoGrouped[V, W]]] {
	return joinStreams("Cogroup", a, b, func(ra *rdd.RDD[rdd.Pair[K, V]], rb *rdd.RDD[rdd.Pair[K, W]]) *rdd.RDD[rdd.Pair[K, rdd.CoGrouped[V, W]]] {
		return rdd.Cogroup(ra, rb, opts...)
	})
}
