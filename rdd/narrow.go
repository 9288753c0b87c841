package rdd

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"

	"github.com/spate-io/spate/engine"
)

// Map returns an RDD of f applied to every element of r.
//
// Like every function passed to a transformation, f runs on the worker
// goroutines, possibly concurrently for different partitions, so it must
// be safe for concurrent use. A panic in f fails the job with an
// [engine.TaskPanicError].
func Map[T, U any](r *RDD[T], f func(T) U) *RDD[U] {
	if r == nil {
		return nilRDD[U]("Map")
	}
	return derive("Map", r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]U) bool) error {
		buf := make([]U, chunkSize)
		return r.iterate(ctx, tc, part, func(in []T) bool {
			if len(in) > len(buf) { // a producer broke the chunk bound
				buf = make([]U, len(in))
			}
			out := buf[:len(in)]
			for i, v := range in {
				out[i] = f(v)
			}
			return yield(out)
		})
	}, nilFunc("f", f), r.node)
}

// FlatMap returns an RDD of the elements of f applied to every element of r.
func FlatMap[T, U any](r *RDD[T], f func(T) []U) *RDD[U] {
	if r == nil {
		return nilRDD[U]("FlatMap")
	}
	return derive("FlatMap", r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]U) bool) error {
		buf := make([]U, 0, chunkSize)
		stopped := false
		err := r.iterate(ctx, tc, part, func(in []T) bool {
			for _, v := range in {
				buf = append(buf, f(v)...)
				var ok bool
				if buf, ok = yieldFull(buf, yield); !ok {
					stopped = true
					return false
				}
			}
			return true
		})
		if err != nil || stopped || len(buf) == 0 {
			return err
		}
		yield(buf)
		return nil
	}, nilFunc("f", f), r.node)
}

// chunkSeq passes the elements of seq on in chunks of chunkSize and
// returns the last, partial chunk for the caller to pass on (after it
// checked for errors), or stopped when the consumer stopped early.
func chunkSeq[T any](seq iter.Seq[T], yield func([]T) bool) (rest []T, stopped bool) {
	buf := make([]T, 0, chunkSize)
	for v := range seq {
		buf = append(buf, v)
		if len(buf) == chunkSize {
			if !yield(buf) {
				return nil, true
			}
			buf = buf[:0]
		}
	}
	return buf, false
}

// forward passes partition part of r on to yield as it is and reports
// whether the consumer stopped early.
func (r *RDD[T]) forward(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) (stopped bool, err error) {
	err = r.iterate(ctx, tc, part, func(c []T) bool {
		stopped = !yield(c)
		return !stopped
	})
	return stopped, err
}

// yieldFull yields the full chunks at the start of buf, so that no chunk
// exceeds chunkSize however many records one input expanded into, and
// returns buf holding the rest. ok is false when the consumer stopped.
func yieldFull[T any](buf []T, yield func([]T) bool) (rest []T, ok bool) {
	n := 0
	for len(buf)-n >= chunkSize {
		if !yield(buf[n : n+chunkSize]) {
			return buf[:0], false
		}
		n += chunkSize
	}
	if n == 0 {
		return buf, true
	}
	return buf[:copy(buf, buf[n:])], true
}

// Filter returns an RDD of the elements of r for which keep returns true.
// The result keeps r's partitioning.
func (r *RDD[T]) Filter(keep func(T) bool) *RDD[T] {
	if r == nil {
		return nilRDD[T]("Filter")
	}
	out := derive("Filter", r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		buf := make([]T, 0, chunkSize)
		return r.iterate(ctx, tc, part, func(in []T) bool {
			buf = buf[:0]
			for _, v := range in {
				if keep(v) {
					buf = append(buf, v)
				}
			}
			return len(buf) == 0 || yield(buf)
		})
	}, nilFunc("keep", keep), r.node)
	out.partitioner = r.partitioner
	return out
}

// MapPartitions returns an RDD of f applied to each whole partition of r,
// given as a sequence. It suits work with a per-partition set-up cost,
// such as opening a connection. The sequence can be ranged over once per
// call of f; ranging again recomputes the partition.
func MapPartitions[T, U any](r *RDD[T], f func(iter.Seq[T]) iter.Seq[U]) *RDD[U] {
	if r == nil {
		return nilRDD[U]("MapPartitions")
	}
	if f == nil {
		return mapPartitions[T, U]("MapPartitions", r, nil)
	}
	return mapPartitions("MapPartitions", r, func(_ int, in iter.Seq[T]) iter.Seq[U] { return f(in) })
}

// MapPartitionsWithIndex is [MapPartitions] with the partition's index
// passed to f.
func MapPartitionsWithIndex[T, U any](r *RDD[T], f func(int, iter.Seq[T]) iter.Seq[U]) *RDD[U] {
	if r == nil {
		return nilRDD[U]("MapPartitionsWithIndex")
	}
	return mapPartitions("MapPartitionsWithIndex", r, f)
}

func mapPartitions[T, U any](op string, r *RDD[T], f func(int, iter.Seq[T]) iter.Seq[U]) *RDD[U] {
	return derive(op, r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]U) bool) error {
		var inErr error
		in := func(yieldOne func(T) bool) {
			inErr = r.iterate(ctx, tc, part, func(chunk []T) bool {
				for _, v := range chunk {
					if !yieldOne(v) {
						return false
					}
				}
				return true
			})
		}
		rest, stopped := chunkSeq(f(part, in), yield)
		if stopped || inErr != nil {
			return inErr
		}
		if len(rest) > 0 {
			yield(rest)
		}
		return nil
	}, nilFunc("f", f), r.node)
}

// Glom returns an RDD with one element per partition of r: the slice of
// that partition's elements.
func Glom[T any](r *RDD[T]) *RDD[[]T] {
	if r == nil {
		return nilRDD[[]T]("Glom")
	}
	return derive("Glom", r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([][]T) bool) error {
		all := []T{}
		if err := r.iterate(ctx, tc, part, func(in []T) bool {
			all = append(all, in...)
			return true
		}); err != nil {
			return err
		}
		yield([][]T{all})
		return nil
	}, nil, r.node)
}

// Union returns an RDD with the partitions of r followed by those of each
// of others. Duplicates are kept (use [Distinct] to drop them).
func (r *RDD[T]) Union(others ...*RDD[T]) *RDD[T] {
	if r == nil {
		return nilRDD[T]("Union")
	}
	return Union(append([]*RDD[T]{r}, others...)...)
}

// Union returns an RDD with the partitions of all rdds, in order. When
// every RDD is partitioned by the same partitioner (after a by-key
// operation or PartitionBy with equal partitioners), the union keeps that
// partitioning instead: partition i holds partition i of every input, so
// later by-key operations need no shuffle (Spark's partitioner-aware
// union).
func Union[T any](rdds ...*RDD[T]) *RDD[T] {
	if len(rdds) == 0 {
		return newRDD[T](nil, "Union", 0, nil, nil, fmt.Errorf("rdd.Union: needs at least one RDD"))
	}
	parents := make([]*node, len(rdds))
	total := 0
	for i, p := range rdds {
		if p == nil {
			return newRDD[T](firstEngine(rdds), "Union", 0, nil, nil, fmt.Errorf("rdd.Union: RDD %d is nil", i))
		}
		parents[i] = p.node
		total += p.parts
	}
	if rdds[0].partitioner != nil {
		// Also for a single RDD, which keeps its partitioning.
		same := true
		for _, p := range rdds[1:] {
			same = same && samePartitioning(p.partitioner, rdds[0].partitioner) && p.parts == rdds[0].parts
		}
		if same {
			out := derive("Union", rdds[0].parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
				for _, p := range rdds {
					if stopped, err := p.forward(ctx, tc, part, yield); err != nil || stopped {
						return err
					}
				}
				return nil
			}, nil, parents...)
			out.partitioner = rdds[0].partitioner
			return out
		}
	}
	return derive("Union", total, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		for _, p := range rdds {
			if part < p.parts {
				return p.iterate(ctx, tc, part, yield)
			}
			part -= p.parts
		}
		return fmt.Errorf("rdd.Union: partition out of range")
	}, nil, parents...)
}

// firstEngine returns the engine context of the first non-nil RDD, or nil.
func firstEngine[T any](rdds []*RDD[T]) *engine.Context {
	for _, r := range rdds {
		if r != nil {
			return r.ec
		}
	}
	return nil
}

// Sample returns a random sample of r. Without replacement each element is
// kept with probability fraction (0 ≤ fraction ≤ 1); with replacement each
// element appears a Poisson(fraction) number of times (fraction ≥ 0 is the
// expected count). The same seed gives the same sample.
func (r *RDD[T]) Sample(withReplacement bool, fraction float64, seed uint64) *RDD[T] {
	if r == nil {
		return nilRDD[T]("Sample")
	}
	var bad error
	switch {
	case math.IsNaN(fraction) || fraction < 0:
		bad = fmt.Errorf("fraction must be at least 0, got %v", fraction)
	case !withReplacement && fraction > 1:
		bad = fmt.Errorf("fraction must be at most 1 without replacement, got %v", fraction)
	}
	return derive("Sample", r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		rng := rand.New(rand.NewPCG(seed, uint64(part)))
		buf := make([]T, 0, chunkSize)
		stopped := false
		err := r.iterate(ctx, tc, part, func(in []T) bool {
			for _, v := range in {
				n := 0
				if withReplacement {
					n = poisson(rng, fraction)
				} else if rng.Float64() < fraction {
					n = 1
				}
				for range n {
					buf = append(buf, v)
					if len(buf) == chunkSize {
						if !yield(buf) {
							stopped = true
							return false
						}
						buf = buf[:0]
					}
				}
			}
			return true
		})
		if err != nil || stopped || len(buf) == 0 {
			return err
		}
		yield(buf)
		return nil
	}, bad, r.node)
}

// poisson draws from a Poisson distribution with mean lambda (Knuth's
// method; sampling fractions are small).
func poisson(rng *rand.Rand, lambda float64) int {
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// Coalesce returns an RDD with n partitions. Without shuffle it merges
// neighbouring partitions inside one stage (it cannot increase the count:
// n ≥ r's partitions returns r's layout unchanged); with shuffle it is
// [RDD.Repartition].
func (r *RDD[T]) Coalesce(n int, shuffle bool) *RDD[T] {
	if r == nil {
		return nilRDD[T]("Coalesce")
	}
	if shuffle {
		return repartition("Coalesce", r, n)
	}
	var bad error
	if n < 1 {
		bad = fmt.Errorf("numPartitions must be at least 1, got %d", n)
	}
	n = min(n, r.parts)
	parentParts := r.parts
	return derive("Coalesce", max(n, 0), func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		lo, hi := sliceBounds(parentParts, n, part)
		for p := lo; p < hi; p++ {
			if stopped, err := r.forward(ctx, tc, p, yield); err != nil || stopped {
				return err
			}
		}
		return nil
	}, bad, r.node)
}
