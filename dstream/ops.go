package dstream

import (
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/spate-io/spate/rdd"
)

// Map applies f to every element of every batch.
func Map[T, U any](s *DStream[T], f func(T) U) *DStream[U] {
	return derive("Map", s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[U] { return rdd.Map(r, f) }, nilErr("f", f == nil))
}

// FlatMap applies f to every element and flattens the results.
func FlatMap[T, U any](s *DStream[T], f func(T) []U) *DStream[U] {
	return derive("FlatMap", s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[U] { return rdd.FlatMap(r, f) }, nilErr("f", f == nil))
}

// Filter keeps the elements for which keep returns true.
func (s *DStream[T]) Filter(keep func(T) bool) *DStream[T] {
	return derive("Filter", s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[T] { return r.Filter(keep) }, nilErr("keep", keep == nil))
}

// MapPartitions applies f to each partition of every batch (see
// [rdd.MapPartitions]).
func MapPartitions[T, U any](s *DStream[T], f func(iter.Seq[T]) iter.Seq[U]) *DStream[U] {
	return derive("MapPartitions", s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[U] { return rdd.MapPartitions(r, f) }, nilErr("f", f == nil))
}

// Glom turns each partition of every batch into one slice.
func Glom[T any](s *DStream[T]) *DStream[[]T] {
	return derive("Glom", s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[[]T] { return rdd.Glom(r) }, nil)
}

// Repartition spreads every batch evenly over n partitions.
func (s *DStream[T]) Repartition(n int) *DStream[T] {
	var bad error
	if n < 1 {
		bad = fmt.Errorf("numPartitions must be at least 1, got %d", n)
	}
	return derive("Repartition", s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[T] { return r.Repartition(n) }, bad)
}

// Union returns a stream whose every batch is the union of the batches of
// s and others, which must have the same slide interval.
func (s *DStream[T]) Union(others ...*DStream[T]) *DStream[T] {
	return union(append([]*DStream[T]{s}, others...))
}

// Union returns a stream whose every batch is the union of the batches of
// the given streams, which must have the same slide interval. It is
// Spark's StreamingContext.union (Go methods cannot be generic).
func Union[T any](streams ...*DStream[T]) *DStream[T] {
	return union(streams)
}

func union[T any](streams []*DStream[T]) *DStream[T] {
	if len(streams) == 0 {
		return newStream[T](nil, "Union", 0, nil, nil, errors.New("needs at least one stream"))
	}
	parents := make([]*streamNode, len(streams))
	for i, p := range streams {
		if p == nil {
			return newStream[T](nil, "Union", 0, nil, nil, fmt.Errorf("stream %d is nil", i))
		}
		parents[i] = p.streamNode
	}
	ssc, slide := streams[0].ssc, streams[0].slide
	return newStream(ssc, "Union", slide, parents, func(t time.Time) (*rdd.RDD[T], error) {
		var rs []*rdd.RDD[T]
		for _, p := range streams {
			r, err := p.getOrCompute(t)
			if err != nil {
				return nil, err
			}
			if r != nil {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			return nil, nil
		}
		return rdd.Union(rs...), nil
	}, sameSlides(parents))
}

// sameSlides checks that streams combined batch by batch slide together.
func sameSlides(parents []*streamNode) error {
	for _, p := range parents[1:] {
		if p.slide != parents[0].slide {
			return fmt.Errorf("streams with different slide intervals (%v and %v) cannot be combined batch by batch; window them to a common slide first", parents[0].slide, p.slide)
		}
	}
	return nil
}

// Count returns a stream with one element per batch: the number of
// elements of that batch (0 for an empty batch).
func (s *DStream[T]) Count() *DStream[int] {
	return derive("Count", s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[int] {
		ones := rdd.MapPartitions(r, func(in iter.Seq[T]) iter.Seq[int] {
			return func(yield func(int) bool) {
				n := 0
				for range in {
					n++
				}
				yield(n)
			}
		})
		return sumAll(ones, func(a, b int) int { return a + b })
	}, nil)
}

// Reduce returns a stream with at most one element per batch: the batch's
// elements merged with f (associative and commutative); an empty batch
// gives an empty RDD.
func (s *DStream[T]) Reduce(f func(T, T) T) *DStream[T] {
	return derive("Reduce", s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[T] {
		partial := rdd.MapPartitions(r, reduceSeq(f))
		return rdd.MapPartitions(partial.Coalesce(1, false), reduceSeq(f))
	}, nilErr("f", f == nil))
}

// sumAll merges the per-partition values of r into exactly one element,
// also when r has no partitions.
func sumAll(r *rdd.RDD[int], f func(int, int) int) *rdd.RDD[int] {
	withZero := r.Union(rdd.Parallelize(r.Context(), []int{0}, 1))
	return rdd.MapPartitions(withZero.Coalesce(1, false), reduceSeq(f))
}

// reduceSeq reduces a partition to at most one element.
func reduceSeq[T any](f func(T, T) T) func(iter.Seq[T]) iter.Seq[T] {
	return func(in iter.Seq[T]) iter.Seq[T] {
		return func(yield func(T) bool) {
			var acc T
			ok := false
			for v := range in {
				if ok {
					acc = f(acc, v)
				} else {
					acc, ok = v, true
				}
			}
			if ok {
				yield(acc)
			}
		}
	}
}

// CountByValue returns a stream of (value, count) pairs per batch.
func CountByValue[T comparable](s *DStream[T], opts ...rdd.PartitionOption) *DStream[rdd.Pair[T, int]] {
	return derive("CountByValue", s, func(r *rdd.RDD[T], _ time.Time) *rdd.RDD[rdd.Pair[T, int]] {
		return rdd.ReduceByKey(rdd.Map(r, func(v T) rdd.Pair[T, int] { return rdd.KV(v, 1) }), add, opts...)
	}, nil)
}

func add(a, b int) int { return a + b }

// Transform applies an arbitrary RDD-to-RDD function to every batch; f
// also gets the batch time. It runs when the batch is generated, in the
// job generator, so it should only build RDDs (running actions in it
// delays every batch).
func Transform[T, U any](s *DStream[T], f func(r *rdd.RDD[T], t time.Time) *rdd.RDD[U]) *DStream[U] {
	if s == nil {
		return nilStream[U]("Transform")
	}
	if f == nil {
		return derive[T, U]("Transform", s, nil, errNil("f"))
	}
	return newStream(s.ssc, "Transform", s.slide, []*streamNode{s.streamNode}, func(t time.Time) (*rdd.RDD[U], error) {
		r, err := s.getOrCompute(t)
		if err != nil || r == nil {
			return nil, err
		}
		return callTransform(func() *rdd.RDD[U] { return f(r, t) })
	}, nil)
}

// TransformWith combines the batches of two streams with the same slide
// interval with f, for example to join a stream with another by custom
// logic.
func TransformWith[T, U, V any](a *DStream[T], b *DStream[U], f func(ra *rdd.RDD[T], rb *rdd.RDD[U], t time.Time) *rdd.RDD[V]) *DStream[V] {
	if f == nil {
		return combine2[T, U, V]("TransformWith", a, b, nil, errNil("f"))
	}
	return combine2("TransformWith", a, b, func(ra *rdd.RDD[T], rb *rdd.RDD[U], t time.Time) (*rdd.RDD[V], error) {
		return callTransform(func() *rdd.RDD[V] { return f(ra, rb, t) })
	}, nil)
}

// combine2 makes a stream whose RDD at t is f of the RDDs of a and b at
// t, which must slide together; nothing when either has none. bad, when
// not nil, is the operation's construction error.
func combine2[T, U, V any](op string, a *DStream[T], b *DStream[U], f func(ra *rdd.RDD[T], rb *rdd.RDD[U], t time.Time) (*rdd.RDD[V], error), bad error) *DStream[V] {
	if a == nil || b == nil {
		return nilStream[V](op)
	}
	parents := []*streamNode{a.streamNode, b.streamNode}
	if bad == nil {
		bad = sameSlides(parents)
	}
	return newStream(a.ssc, op, a.slide, parents, func(t time.Time) (*rdd.RDD[V], error) {
		ra, err := a.getOrCompute(t)
		if err != nil {
			return nil, err
		}
		rb, err := b.getOrCompute(t)
		if err != nil || ra == nil || rb == nil {
			return nil, err
		}
		return f(ra, rb, t)
	}, bad)
}

func callTransform[U any](f func() *rdd.RDD[U]) (*rdd.RDD[U], error) {
	var out *rdd.RDD[U]
	err := catchPanic("Transform function", func() error {
		out = f()
		return nil
	})
	if err == nil && out == nil {
		err = errors.New("the Transform function returned a nil RDD; return an empty RDD (rdd.Empty) for no data")
	}
	return out, err
}

func nilErr(name string, isNil bool) error {
	if isNil {
		return errNil(name)
	}
	return nil
}
