package rdd

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/spate-io/spate/engine"
)

// FromPartitions returns an RDD whose partition i holds partitions[i]. The
// slices are used as they are, not copied, so the caller must not change
// them afterwards. It is how data received outside the engine (for
// example blocks of a streaming receiver) becomes an RDD.
func FromPartitions[T any](ec *engine.Context, partitions [][]T) *RDD[T] {
	return newRDD(ec, "FromPartitions", len(partitions), nil, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		tc.AddRecordsRead(len(partitions[part]))
		return emit(ctx, partitions[part], yield)
	}, nil)
}

// errStopEmit ends a FromFunc read early when the consumer wants no more.
var errStopEmit = errors.New("rdd: consumer stopped")

// FromFunc returns an RDD of n partitions that read computes lazily:
// partition i is what read(ctx, i, emit) emits, in order, every time a
// task computes it. The slice given to emit is only used during the call,
// so read may reuse it. For the RDD to be replayable read must emit the
// same records each time; that is how a replayable source (an offset
// range of a Kafka partition per RDD partition) becomes an RDD that reads
// nothing until a job runs. An error from read fails the task; emit
// returns an error when the consumer needs no more records, which read
// must return (or return early).
func FromFunc[T any](ec *engine.Context, name string, n int, read func(ctx context.Context, part int, emit func([]T) error) error) *RDD[T] {
	var err error
	switch {
	case read == nil:
		err = errors.New("rdd.FromFunc: read must not be nil")
	case n < 0:
		err = fmt.Errorf("rdd.FromFunc: partitions must not be negative, got %d", n)
	}
	if name == "" {
		name = "FromFunc"
	}
	return newRDD(ec, name, n, nil, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		err := read(ctx, part, func(vs []T) error {
			if len(vs) == 0 {
				return nil
			}
			tc.AddRecordsRead(len(vs))
			for len(vs) > 0 {
				n := min(len(vs), chunkSize)
				if !yield(vs[:n]) {
					return errStopEmit
				}
				vs = vs[n:]
			}
			return ctx.Err()
		})
		if errors.Is(err, errStopEmit) {
			return nil
		}
		return err
	}, err)
}

// Cached returns an RDD with r's partitions as the block cache holds them
// and no lineage, when r is persisted and every partition of it is
// cached; otherwise it returns nil, false. The copy keeps r's
// partitioning. Streaming state uses it to refer to the previous batch's
// result without keeping that batch's whole lineage alive: the copy holds
// the data, not the RDDs that computed it.
func (r *RDD[T]) Cached() (*RDD[T], bool) {
	if r == nil {
		return nil, false
	}
	if r.err != nil || !r.persisted.Load() {
		return nil, false
	}
	parts := make([][]T, r.parts)
	cache := r.ec.Cache()
	for p := range parts {
		b, ok := cache.Get(r.id, p)
		if !ok {
			return nil, false
		}
		parts[p] = b.([]T)
	}
	out := newRDD(r.ec, "Cached", r.parts, nil, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		tc.AddRecordsRead(len(parts[part]))
		return emit(ctx, parts[part], yield)
	}, nil)
	out.partitioner = r.partitioner
	return out, true
}

// ZipPartitions returns an RDD whose partition i is f applied to
// partition i of a and of b, which must have the same number of
// partitions (computed in one task, without a shuffle). Each sequence can
// be ranged over once per call of f. An error computing either input fails
// the task.
func ZipPartitions[A, B, C any](a *RDD[A], b *RDD[B], f func(part int, as iter.Seq[A], bs iter.Seq[B]) iter.Seq[C]) *RDD[C] {
	if a == nil || b == nil {
		return nilRDD[C]("ZipPartitions")
	}
	const op = "ZipPartitions"
	var bad error
	switch {
	case f == nil:
		bad = fmt.Errorf("f must not be nil")
	case a.err == nil && b.err == nil && a.parts != b.parts:
		bad = fmt.Errorf("the RDDs have %d and %d partitions; they must have the same number", a.parts, b.parts)
	}
	return derive(op, a.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]C) bool) error {
		var errA, errB error
		as := seqOf(ctx, tc, a, part, &errA)
		bs := seqOf(ctx, tc, b, part, &errB)
		rest, stopped := chunkSeq(f(part, as, bs), yield)
		if err := firstNonNil(errA, errB); stopped || err != nil {
			return err
		}
		if len(rest) > 0 {
			yield(rest)
		}
		return nil
	}, bad, a.node, b.node)
}

// seqOf presents partition part of r as a sequence; a computation error
// is stored in *err.
func seqOf[T any](ctx context.Context, tc *engine.TaskContext, r *RDD[T], part int, err *error) iter.Seq[T] {
	return func(yield func(T) bool) {
		if e := r.iterate(ctx, tc, part, func(c []T) bool {
			for _, v := range c {
				if !yield(v) {
					return false
				}
			}
			return true
		}); e != nil && *err == nil {
			*err = e
		}
	}
}
