package rdd

import (
	"context"
	"errors"
	"fmt"
	"github.com/spate-io/spate/internal/callsite"
	"reflect"
	"runtime"
	"sync/atomic"

	"github.com/spate-io/spate/engine"
)

// ErrEmpty is returned by actions that need at least one element (Reduce,
// First) when the RDD has none.
var ErrEmpty = errors.New("rdd: empty RDD")

// chunkSize is the number of records a pipelined operator passes on at a
// time. Chunks bound the memory between operators (no operator materialises
// a partition) while keeping calls per record low.
const chunkSize = 1024

// computeFunc produces one partition of an RDD as a sequence of chunks.
// yield returns false when the consumer wants no more; a chunk is only
// valid during the yield call (producers reuse their buffers) and must not
// be modified by the consumer. Sources check ctx between chunks so that
// cancellation stops a task promptly.
type computeFunc[T any] func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error

// RDD is a resilient distributed dataset: an immutable, partitioned,
// lazily computed collection of T, defined by its parents and a function
// that computes each partition. Transformations return new RDDs and run
// nothing; actions (Collect, Count, ...) run a job on the engine.
//
// Errors in building an RDD (a nil function, a bad partition count) are
// kept in the RDD, passed on to every RDD derived from it, and returned by
// [RDD.Err] and by the first action.
type RDD[T any] struct {
	*node
	compute computeFunc[T]
}

// node is the untyped part of an RDD: what the engine sees.
type node struct {
	ec        *engine.Context
	id        int
	op        string // the operation that made the RDD, e.g. "Map"
	callSite  string // where user code called it, e.g. "wordcount.go:31"
	parts     int
	deps      []engine.Dependency
	err       error
	persisted atomic.Bool
	// partitioner is how the RDD's pair records are placed in partitions
	// (by key), or nil when unknown. Operations that need records grouped
	// by key skip their shuffle when it equals theirs.
	partitioner any
}

var _ engine.Node = (*node)(nil)
var _ engine.Persistable = (*node)(nil)

func (n *node) ID() int                           { return n.id }
func (n *node) NumPartitions() int                { return n.parts }
func (n *node) Dependencies() []engine.Dependency { return n.deps }
func (n *node) Persisted() bool                   { return n.persisted.Load() }

// Name describes the RDD as "Op at file.go:line".
func (n *node) Name() string { return n.op + " at " + n.callSite }

// Err returns the error, if any, made while building this RDD or one of
// its ancestors. Actions return it too.
func (n *node) Err() error { return n.err }

// Context returns the engine context the RDD belongs to.
func (n *node) Context() *engine.Context { return n.ec }

// newRDD makes an RDD with a fresh ID. err, when not nil, is recorded as
// the RDD's construction error (prefixed with the operation name).
func newRDD[T any](ec *engine.Context, op string, parts int, deps []engine.Dependency, compute computeFunc[T], err error) *RDD[T] {
	n := &node{ec: ec, op: op, callSite: callSite(), parts: parts, deps: deps}
	switch {
	case err != nil:
		n.err = err
	case ec == nil:
		n.err = fmt.Errorf("rdd.%s: nil engine context", op)
	default:
		n.id = ec.NewID()
	}
	if n.err != nil {
		n.parts, n.deps = 0, nil
	}
	return &RDD[T]{node: n, compute: compute}
}

// derive makes a child of parents that is computed within the parents'
// stage (a narrow dependency on each parent). bad, when not nil, is a
// construction error of this operation.
func derive[T any](op string, parts int, compute computeFunc[T], bad error, parents ...*node) *RDD[T] {
	deps := make([]engine.Dependency, len(parents))
	for i, p := range parents {
		deps[i] = &engine.NarrowDependency{Parent: p}
	}
	return newRDD(parents[0].ec, op, parts, deps, compute, firstErr(op, bad, parents...))
}

// firstErr returns the first construction error among the parents, or
// this operation's own error prefixed with its name.
func firstErr(op string, bad error, parents ...*node) error {
	for _, p := range parents {
		if p.err != nil {
			return p.err
		}
	}
	for _, p := range parents[1:] {
		if p.ec != parents[0].ec {
			return fmt.Errorf("rdd.%s: RDDs of different engine contexts cannot be combined", op)
		}
	}
	if bad != nil {
		return fmt.Errorf("rdd.%s: %w", op, bad)
	}
	return nil
}

// nilRDD is the RDD an operation returns when given a nil RDD: it carries
// an error naming the operation.
func nilRDD[T any](op string) *RDD[T] {
	return newRDD[T](nil, op, 0, nil, nil, errNilRDD(op))
}

// errNilRDD is the error of an operation given a nil RDD.
func errNilRDD(op string) error { return fmt.Errorf("rdd.%s: RDD must not be nil", op) }

// nilFunc returns an error naming the argument when f is nil.
func nilFunc(name string, f any) error {
	if f == nil || (reflect.ValueOf(f).Kind() == reflect.Func && reflect.ValueOf(f).IsNil()) {
		return fmt.Errorf("%s must not be nil", name)
	}
	return nil
}

// iterate produces a partition, through the block cache when the RDD is
// persisted.
func (r *RDD[T]) iterate(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
	if !r.persisted.Load() {
		return r.compute(ctx, tc, part, yield)
	}
	cache := r.ec.Cache()
	if b, ok := cache.Get(r.id, part); ok {
		data := b.([]T)
		tc.AddRecordsRead(len(data))
		return emit(ctx, data, yield)
	}
	var data []T
	if err := r.compute(ctx, tc, part, func(c []T) bool {
		data = append(data, c...)
		return true
	}); err != nil {
		return err
	}
	cache.Put(r.id, part, data)
	return emit(ctx, data, yield)
}

// emit yields data in chunks, checking ctx between them.
func emit[T any](ctx context.Context, data []T, yield func([]T) bool) error {
	for len(data) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(data), chunkSize)
		if !yield(data[:n]) {
			return nil
		}
		data = data[n:]
	}
	return nil
}

// Persist keeps the RDD's partitions in the engine's block cache once an
// action computed them, so later actions reuse them instead of recomputing
// the lineage. It returns r. Persisted partitions stay in memory until
// [RDD.Unpersist], until the RDD is garbage collected, or until the engine
// context closes.
func (r *RDD[T]) Persist() *RDD[T] {
	if r == nil {
		return nil
	}
	if r.err == nil && !r.persisted.Swap(true) {
		ec, id := r.ec, r.id
		runtime.AddCleanup(r.node, func(id int) { ec.Cache().Remove(id) }, id)
	}
	return r
}

// Cache is [RDD.Persist].
func (r *RDD[T]) Cache() *RDD[T] { return r.Persist() }

// Unpersist drops the RDD's cached partitions and stops caching it.
func (r *RDD[T]) Unpersist() *RDD[T] {
	if r == nil {
		return nil
	}
	if r.err == nil {
		r.persisted.Store(false)
		r.ec.Cache().Remove(r.id)
	}
	return r
}

// callSite returns "file.go:line" of the user code calling into spate.
func callSite() string { return callsite.Outside() }
