package rdd

import (
	"context"

	"github.com/spate-io/spate/engine"
)

// CoGrouped holds, for one key, the values of each of two cogrouped RDDs.
type CoGrouped[V, W any] struct {
	Left  []V
	Right []W
}

// Joined is a pair of values joined on their key.
type Joined[V, W any] struct {
	Left  V
	Right W
}

// Optional is a value that may be absent: the missing side of an outer
// join has Valid false and the zero Value.
type Optional[T any] struct {
	Value T
	Valid bool
}

// Some returns a present Optional holding v.
func Some[T any](v T) Optional[T] { return Optional[T]{Value: v, Valid: true} }

// Cogroup groups the values of both RDDs by key: every key of either
// appears once, with the values it has in each (possibly none). An RDD
// already partitioned as the result is read without a shuffle.
func Cogroup[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], opts ...PartitionOption) *RDD[Pair[K, CoGrouped[V, W]]] {
	if a == nil || b == nil {
		return nilRDD[Pair[K, CoGrouped[V, W]]]("Cogroup")
	}
	return cogroup("Cogroup", a, b, opts, func(k K, g *CoGrouped[V, W], emit func(Pair[K, CoGrouped[V, W]])) {
		emit(Pair[K, CoGrouped[V, W]]{k, *g})
	})
}

// Join returns, for every key in both RDDs, one pair per combination of
// its values in a and in b (an inner join).
func Join[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], opts ...PartitionOption) *RDD[Pair[K, Joined[V, W]]] {
	if a == nil || b == nil {
		return nilRDD[Pair[K, Joined[V, W]]]("Join")
	}
	return cogroup("Join", a, b, opts, func(k K, g *CoGrouped[V, W], emit func(Pair[K, Joined[V, W]])) {
		for _, v := range g.Left {
			for _, w := range g.Right {
				emit(Pair[K, Joined[V, W]]{k, Joined[V, W]{v, w}})
			}
		}
	})
}

// LeftOuterJoin is [Join] that also keeps the pairs of a whose key is not
// in b, with an absent right value.
func LeftOuterJoin[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], opts ...PartitionOption) *RDD[Pair[K, Joined[V, Optional[W]]]] {
	if a == nil || b == nil {
		return nilRDD[Pair[K, Joined[V, Optional[W]]]]("LeftOuterJoin")
	}
	type out = Pair[K, Joined[V, Optional[W]]]
	return cogroup("LeftOuterJoin", a, b, opts, func(k K, g *CoGrouped[V, W], emit func(out)) {
		for _, v := range g.Left {
			if len(g.Right) == 0 {
				emit(out{k, Joined[V, Optional[W]]{Left: v}})
			}
			for _, w := range g.Right {
				emit(out{k, Joined[V, Optional[W]]{v, Some(w)}})
			}
		}
	})
}

// RightOuterJoin is [Join] that also keeps the pairs of b whose key is not
// in a, with an absent left value.
func RightOuterJoin[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], opts ...PartitionOption) *RDD[Pair[K, Joined[Optional[V], W]]] {
	if a == nil || b == nil {
		return nilRDD[Pair[K, Joined[Optional[V], W]]]("RightOuterJoin")
	}
	type out = Pair[K, Joined[Optional[V], W]]
	return cogroup("RightOuterJoin", a, b, opts, func(k K, g *CoGrouped[V, W], emit func(out)) {
		for _, w := range g.Right {
			if len(g.Left) == 0 {
				emit(out{k, Joined[Optional[V], W]{Right: w}})
			}
			for _, v := range g.Left {
				emit(out{k, Joined[Optional[V], W]{Some(v), w}})
			}
		}
	})
}

// FullOuterJoin is [Join] that also keeps the pairs of either RDD whose
// key is not in the other, with the other side absent.
func FullOuterJoin[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], opts ...PartitionOption) *RDD[Pair[K, Joined[Optional[V], Optional[W]]]] {
	if a == nil || b == nil {
		return nilRDD[Pair[K, Joined[Optional[V], Optional[W]]]]("FullOuterJoin")
	}
	type out = Pair[K, Joined[Optional[V], Optional[W]]]
	return cogroup("FullOuterJoin", a, b, opts, func(k K, g *CoGrouped[V, W], emit func(out)) {
		switch {
		case len(g.Left) == 0:
			for _, w := range g.Right {
				emit(out{k, Joined[Optional[V], Optional[W]]{Right: Some(w)}})
			}
		case len(g.Right) == 0:
			for _, v := range g.Left {
				emit(out{k, Joined[Optional[V], Optional[W]]{Left: Some(v)}})
			}
		default:
			for _, v := range g.Left {
				for _, w := range g.Right {
					emit(out{k, Joined[Optional[V], Optional[W]]{Some(v), Some(w)}})
				}
			}
		}
	})
}

// SubtractByKey returns the pairs of a whose key does not occur in b.
func SubtractByKey[K comparable, V, W any](a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], opts ...PartitionOption) *RDD[Pair[K, V]] {
	if a == nil || b == nil {
		return nilRDD[Pair[K, V]]("SubtractByKey")
	}
	return cogroup("SubtractByKey", a, b, opts, func(k K, g *CoGrouped[V, W], emit func(Pair[K, V])) {
		if len(g.Right) == 0 {
			for _, v := range g.Left {
				emit(Pair[K, V]{k, v})
			}
		}
	})
}

// coSide is how a cogroup reduce task reads one input: from a shuffle, or
// directly from a parent that is already partitioned the right way.
type coSide[K comparable, V any] struct {
	dep     engine.Dependency
	parent  *RDD[Pair[K, V]]
	shuffle *engine.ShuffleDependency // nil when read directly
}

func newCoSide[K comparable, V any](r *RDD[Pair[K, V]], p Partitioner[K]) (coSide[K, V], error) {
	if samePartitioning(r.partitioner, p) {
		return coSide[K, V]{dep: &engine.NarrowDependency{Parent: r.node}, parent: r}, nil
	}
	dep, err := shuffleByKey(r, p)
	if err != nil {
		return coSide[K, V]{}, err
	}
	return coSide[K, V]{dep: dep, parent: r, shuffle: dep}, nil
}

func (s coSide[K, V]) read(ctx context.Context, tc *engine.TaskContext, part int, fn func(Pair[K, V])) error {
	each := func(recs []Pair[K, V]) bool {
		for _, kv := range recs {
			fn(kv)
		}
		return true
	}
	if s.shuffle == nil {
		return s.parent.iterate(ctx, tc, part, each)
	}
	return readBucket(ctx, tc, s.shuffle, part, each)
}

// cogroup groups both inputs by key in each partition of the result and
// calls out for every key with its groups.
func cogroup[K comparable, V, W, O any](op string, a *RDD[Pair[K, V]], b *RDD[Pair[K, W]], opts []PartitionOption, out func(K, *CoGrouped[V, W], func(O))) *RDD[O] {
	if err := firstErr(op, nil, a.node, b.node); err != nil {
		return derive[O](op, 0, nil, nil, a.node, b.node)
	}
	p, err := resolvePartitioner[K](opts, a.node, b.node)
	if err != nil {
		return derive[O](op, 0, nil, err, a.node, b.node)
	}
	left, err := newCoSide(a, p)
	if err != nil {
		return derive[O](op, 0, nil, err, a.node, b.node)
	}
	right, err := newCoSide(b, p)
	if err != nil {
		return derive[O](op, 0, nil, err, a.node, b.node)
	}
	res := newRDD(a.ec, op, p.NumPartitions(), []engine.Dependency{left.dep, right.dep}, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]O) bool) error {
		index := map[K]int{}
		var keys []K
		var groups []CoGrouped[V, W]
		slot := func(k K) *CoGrouped[V, W] {
			i, ok := index[k]
			if !ok {
				i = len(keys)
				index[k] = i
				keys = append(keys, k)
				groups = append(groups, CoGrouped[V, W]{})
			}
			return &groups[i]
		}
		if err := left.read(ctx, tc, part, func(kv Pair[K, V]) { g := slot(kv.Key); g.Left = append(g.Left, kv.Value) }); err != nil {
			return err
		}
		if err := right.read(ctx, tc, part, func(kv Pair[K, W]) { g := slot(kv.Key); g.Right = append(g.Right, kv.Value) }); err != nil {
			return err
		}
		buf := make([]O, 0, chunkSize)
		stopped := false
		emitOne := func(o O) {
			if stopped {
				return
			}
			buf = append(buf, o)
			if len(buf) == chunkSize {
				stopped = !yield(buf)
				buf = buf[:0]
			}
		}
		for i, k := range keys {
			if stopped {
				return nil
			}
			if i%chunkSize == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			out(k, &groups[i], emitOne)
		}
		if !stopped && len(buf) > 0 {
			yield(buf)
		}
		return nil
	}, nil)
	// A cogroup result is partitioned by key only for the results whose
	// key is the input key, which is every operation in this file.
	res.partitioner = p
	for _, s := range []*engine.ShuffleDependency{left.shuffle, right.shuffle} {
		if s != nil {
			removeShuffleWith(res.node, s)
		}
	}
	return res
}
