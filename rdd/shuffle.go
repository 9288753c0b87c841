package rdd

import (
	"context"
	"fmt"
	"reflect"
	"runtime"

	"github.com/spate-io/spate/engine"
)

// accumulator groups values by key in first-seen order: one map lookup per
// record for keys already seen, no allocation per record.
type accumulator[K comparable, V, C any] struct {
	index  map[K]int
	keys   []K
	vals   []C
	create func(V) C
	merge  func(C, V) C
}

func newAccumulator[K comparable, V, C any](create func(V) C, merge func(C, V) C) *accumulator[K, V, C] {
	return &accumulator[K, V, C]{index: map[K]int{}, create: create, merge: merge}
}

// maxAccumulatorHint caps the keys an accumulator is sized for up front,
// so that a large bucket with few distinct keys does not reserve much
// more than it needs.
const maxAccumulatorHint = 1 << 20

// newSizedAccumulator is newAccumulator for about hint distinct keys:
// sizing the map and slices once saves the repeated growth (rehashing,
// copying) of building them from empty, which dominates when most keys
// are new, as in the reduce side of a word count.
func newSizedAccumulator[K comparable, V, C any](hint int, create func(V) C, merge func(C, V) C) *accumulator[K, V, C] {
	hint = min(hint, maxAccumulatorHint)
	return &accumulator[K, V, C]{index: make(map[K]int, hint), keys: make([]K, 0, hint), vals: make([]C, 0, hint), create: create, merge: merge}
}

func (a *accumulator[K, V, C]) add(k K, v V) {
	if i, ok := a.index[k]; ok {
		a.vals[i] = a.merge(a.vals[i], v)
		return
	}
	a.index[k] = len(a.keys)
	a.keys = append(a.keys, k)
	a.vals = append(a.vals, a.create(v))
}

// emit yields the accumulated pairs in chunks.
func (a *accumulator[K, V, C]) emit(ctx context.Context, yield func([]Pair[K, C]) bool) error {
	buf := make([]Pair[K, C], 0, min(len(a.keys), chunkSize))
	for i, k := range a.keys {
		buf = append(buf, Pair[K, C]{k, a.vals[i]})
		if len(buf) == chunkSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !yield(buf) {
				return nil
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		yield(buf)
	}
	return nil
}

// bucketBlocks turns typed buckets into engine blocks.
func bucketBlocks[E any](buckets [][]E) []engine.Block {
	blocks := make([]engine.Block, len(buckets))
	for i, b := range buckets {
		blocks[i] = b
	}
	return blocks
}

// bucketKeysHint guesses how many distinct keys a shuffle bucket of
// key-value records holds: at least as many as the largest map output's
// slice (map outputs are combined, so their keys are distinct), at most
// the total; twice the largest, within the total, is close for keys
// spread over several map tasks.
func bucketKeysHint[E any](tc *engine.TaskContext, dep *engine.ShuffleDependency, bucket int) int {
	blocks, err := tc.ReadShuffle(dep, bucket)
	if err != nil {
		return 0 // readBucket reports it
	}
	total, largest := 0, 0
	for _, b := range blocks {
		if b != nil {
			n := len(b.([]E))
			total += n
			largest = max(largest, n)
		}
	}
	return min(total, 2*largest)
}

// readBucket calls fn with every map output's slice of a shuffle bucket,
// until fn returns false.
func readBucket[E any](ctx context.Context, tc *engine.TaskContext, dep *engine.ShuffleDependency, bucket int, fn func([]E) bool) error {
	blocks, err := tc.ReadShuffle(dep, bucket)
	if err != nil {
		return err
	}
	for _, b := range blocks {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b == nil {
			continue
		}
		recs := b.([]E)
		tc.AddRecordsRead(len(recs))
		if !fn(recs) {
			return nil
		}
	}
	return nil
}

// forwardBucket is a reduce side that passes a bucket's records on as
// they are.
func forwardBucket[E any](dep *engine.ShuffleDependency) computeFunc[E] {
	return func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]E) bool) error {
		return readBucket(ctx, tc, dep, part, func(recs []E) bool {
			for len(recs) > 0 {
				n := min(len(recs), chunkSize)
				if !yield(recs[:n]) {
					return false
				}
				recs = recs[n:]
			}
			return true
		})
	}
}

// shuffleByKey returns a shuffle dependency that routes r's pairs to p's
// partitions unchanged.
func shuffleByKey[K comparable, V any](r *RDD[Pair[K, V]], p Partitioner[K]) (*engine.ShuffleDependency, error) {
	n := p.NumPartitions()
	return r.ec.NewShuffleDependency(r.node, n, func(ctx context.Context, tc *engine.TaskContext) ([]engine.Block, error) {
		buckets := make([][]Pair[K, V], n)
		err := r.iterate(ctx, tc, tc.Partition(), func(in []Pair[K, V]) bool {
			for _, kv := range in {
				b := p.Partition(kv.Key)
				buckets[b] = append(buckets[b], kv)
			}
			tc.AddRecordsWritten(len(in))
			return true
		})
		return bucketBlocks(buckets), err
	})
}

// shuffled makes the reduce side of a shuffle: an RDD with one partition
// per bucket of dep, computed by reduce.
func shuffled[T any](op string, parent *node, dep *engine.ShuffleDependency, partitioner any, reduce computeFunc[T]) *RDD[T] {
	out := newRDD(parent.ec, op, dep.NumBuckets, []engine.Dependency{dep}, reduce, nil)
	out.partitioner = partitioner
	removeShuffleWith(out.node, dep)
	return out
}

// removeShuffleWith releases dep's map outputs once n, the RDD reading
// them, is garbage: nothing can compute from them any more.
func removeShuffleWith(n *node, dep *engine.ShuffleDependency) {
	ec := n.ec
	runtime.AddCleanup(n, func(id int) { ec.RemoveShuffle(id) }, dep.ID())
}

// CombineByKey groups the values of each key into a combiner of type C:
// createCombiner makes one from a key's first value, mergeValue adds a
// value to it, mergeCombiners merges two (from different partitions).
// Values are combined on the map side before the shuffle, so only one
// combiner per key and map partition crosses it. When r is already
// partitioned as the result must be, no shuffle runs.
//
// The combiners that cross the shuffle are kept with its output and read
// again by later actions, possibly at the same time, so mergeCombiners must
// not modify them in place (through a pointer, map or struct field).
// Appending to a slice combiner is safe: slices read from the shuffle are
// clipped to their length first, so append copies them.
func CombineByKey[K comparable, V, C any](r *RDD[Pair[K, V]], createCombiner func(V) C, mergeValue func(C, V) C, mergeCombiners func(C, C) C, opts ...PartitionOption) *RDD[Pair[K, C]] {
	if r == nil {
		return nilRDD[Pair[K, C]]("CombineByKey")
	}
	bad := firstNonNil(nilFunc("createCombiner", createCombiner), nilFunc("mergeValue", mergeValue), nilFunc("mergeCombiners", mergeCombiners))
	return combineByKey("CombineByKey", r, createCombiner, mergeValue, mergeCombiners, true, opts, bad)
}

// combineByKey implements the by-key aggregations. bad is the caller's
// check of its own arguments (so that errors name what the user passed);
// the functions must not be nil when it is nil.
func combineByKey[K comparable, V, C any](op string, r *RDD[Pair[K, V]], create func(V) C, mergeValue func(C, V) C, mergeCombiners func(C, C) C, mapSideCombine bool, opts []PartitionOption, bad error) *RDD[Pair[K, C]] {
	if r.err != nil || bad != nil {
		return derive[Pair[K, C]](op, 0, nil, bad, r.node)
	}
	p, err := resolvePartitioner[K](opts, r.node)
	if err != nil {
		return derive[Pair[K, C]](op, 0, nil, err, r.node)
	}
	if samePartitioning(r.partitioner, p) {
		out := derive(op, r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]Pair[K, C]) bool) error {
			acc := newAccumulator[K](create, mergeValue)
			if err := r.iterate(ctx, tc, part, func(in []Pair[K, V]) bool {
				for _, kv := range in {
					acc.add(kv.Key, kv.Value)
				}
				return true
			}); err != nil {
				return err
			}
			return acc.emit(ctx, yield)
		}, nil, r.node)
		out.partitioner = p
		return out
	}
	if !mapSideCombine {
		dep, err := shuffleByKey(r, p)
		if err != nil {
			return derive[Pair[K, C]](op, 0, nil, err, r.node)
		}
		return shuffled(op, r.node, dep, p, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]Pair[K, C]) bool) error {
			acc := newSizedAccumulator[K](bucketKeysHint[Pair[K, V]](tc, dep, part), create, mergeValue)
			if err := readBucket(ctx, tc, dep, part, func(recs []Pair[K, V]) bool {
				for _, kv := range recs {
					acc.add(kv.Key, kv.Value)
				}
				return true
			}); err != nil {
				return err
			}
			return acc.emit(ctx, yield)
		})
	}
	n := p.NumPartitions()
	dep, err := r.ec.NewShuffleDependency(r.node, n, func(ctx context.Context, tc *engine.TaskContext) ([]engine.Block, error) {
		acc := newAccumulator[K](create, mergeValue)
		if err := r.iterate(ctx, tc, tc.Partition(), func(in []Pair[K, V]) bool {
			for _, kv := range in {
				acc.add(kv.Key, kv.Value)
			}
			return true
		}); err != nil {
			return nil, err
		}
		buckets := make([][]Pair[K, C], n)
		per := len(acc.keys)/n + len(acc.keys)/(4*n) + 1 // a hash spreads keys about evenly
		for i := range buckets {
			buckets[i] = make([]Pair[K, C], 0, per)
		}
		for i, k := range acc.keys {
			b := p.Partition(k)
			buckets[b] = append(buckets[b], Pair[K, C]{k, acc.vals[i]})
		}
		tc.AddRecordsWritten(len(acc.keys))
		return bucketBlocks(buckets), nil
	})
	if err != nil {
		return derive[Pair[K, C]](op, 0, nil, err, r.node)
	}
	clip := clipCombiner[C]()
	return shuffled(op, r.node, dep, p, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]Pair[K, C]) bool) error {
		acc := newSizedAccumulator[K](bucketKeysHint[Pair[K, C]](tc, dep, part), func(c C) C { return c }, mergeCombiners)
		if err := readBucket(ctx, tc, dep, part, func(recs []Pair[K, C]) bool {
			for _, kv := range recs {
				if clip != nil {
					kv.Value = clip(kv.Value)
				}
				acc.add(kv.Key, kv.Value)
			}
			return true
		}); err != nil {
			return err
		}
		return acc.emit(ctx, yield)
	})
}

// clipCombiner returns, for a slice type C, a function that clips a slice
// to its length, and nil for other types. Combiners read from a shuffle
// belong to the stored map output, which later and concurrent actions read
// again; clipped, a mergeCombiners appending to either argument copies it
// instead of writing into the shared backing array.
func clipCombiner[C any]() func(C) C {
	if reflect.TypeFor[C]().Kind() != reflect.Slice {
		return nil
	}
	return func(c C) C {
		v := reflect.ValueOf(&c).Elem()
		v.SetCap(v.Len())
		return c
	}
}

func firstNonNil(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// ReduceByKey merges the values of each key with f, which must be
// associative and commutative. Values are merged on the map side before
// the shuffle.
func ReduceByKey[K comparable, V any](r *RDD[Pair[K, V]], f func(V, V) V, opts ...PartitionOption) *RDD[Pair[K, V]] {
	if r == nil {
		return nilRDD[Pair[K, V]]("ReduceByKey")
	}
	return combineByKey("ReduceByKey", r, func(v V) V { return v }, f, f, true, opts, nilFunc("f", f))
}

// AggregateByKey folds the values of each key into zero with seqOp within
// a partition and merges the partial results with combOp. zero is copied
// by value for every key, so a zero holding a slice or map shares its
// backing storage: prefer value types or start from nil. combOp must not
// modify its arguments in place, as for [CombineByKey]'s mergeCombiners.
func AggregateByKey[K comparable, V, U any](r *RDD[Pair[K, V]], zero U, seqOp func(U, V) U, combOp func(U, U) U, opts ...PartitionOption) *RDD[Pair[K, U]] {
	if r == nil {
		return nilRDD[Pair[K, U]]("AggregateByKey")
	}
	var create func(V) U
	if seqOp != nil {
		create = func(v V) U { return seqOp(zero, v) }
	}
	return combineByKey("AggregateByKey", r, create, seqOp, combOp, true, opts,
		firstNonNil(nilFunc("seqOp", seqOp), nilFunc("combOp", combOp)))
}

// FoldByKey merges the values of each key with f, starting from zero
// (which must be f's identity, such as 0 for +).
func FoldByKey[K comparable, V any](r *RDD[Pair[K, V]], zero V, f func(V, V) V, opts ...PartitionOption) *RDD[Pair[K, V]] {
	if r == nil {
		return nilRDD[Pair[K, V]]("FoldByKey")
	}
	var create func(V) V
	if f != nil {
		create = func(v V) V { return f(zero, v) }
	}
	return combineByKey("FoldByKey", r, create, f, f, true, opts, nilFunc("f", f))
}

// GroupByKey collects the values of each key into a slice, in no
// particular order. Every value crosses the shuffle; prefer [ReduceByKey]
// or [AggregateByKey] when the values are then aggregated.
func GroupByKey[K comparable, V any](r *RDD[Pair[K, V]], opts ...PartitionOption) *RDD[Pair[K, []V]] {
	if r == nil {
		return nilRDD[Pair[K, []V]]("GroupByKey")
	}
	return combineByKey("GroupByKey", r,
		func(v V) []V { return []V{v} },
		func(vs []V, v V) []V { return append(vs, v) },
		func(a, b []V) []V { return append(a, b...) },
		false, opts, nil)
}

// PartitionBy places every pair in the partition its key belongs to under
// the given partitioning (a shuffle, skipped when r is already partitioned
// that way). Later by-key operations with the same partitioner run without
// a shuffle.
func PartitionBy[K comparable, V any](r *RDD[Pair[K, V]], opts ...PartitionOption) *RDD[Pair[K, V]] {
	if r == nil {
		return nilRDD[Pair[K, V]]("PartitionBy")
	}
	const op = "PartitionBy"
	if r.err != nil {
		return derive[Pair[K, V]](op, 0, nil, nil, r.node)
	}
	p, err := resolvePartitioner[K](opts, r.node)
	if err != nil {
		return derive[Pair[K, V]](op, 0, nil, err, r.node)
	}
	if samePartitioning(r.partitioner, p) {
		return r
	}
	dep, err := shuffleByKey(r, p)
	if err != nil {
		return derive[Pair[K, V]](op, 0, nil, err, r.node)
	}
	return shuffled(op, r.node, dep, p, forwardBucket[Pair[K, V]](dep))
}

// Repartition returns an RDD with n partitions, spreading r's elements
// evenly over them with a shuffle (round robin from each map partition).
func (r *RDD[T]) Repartition(n int) *RDD[T] { return repartition("Repartition", r, n) }

func repartition[T any](op string, r *RDD[T], n int) *RDD[T] {
	if r == nil {
		return nilRDD[T]("Repartition")
	}
	var bad error
	if n < 1 {
		bad = fmt.Errorf("numPartitions must be at least 1, got %d", n)
	}
	if r.err != nil || bad != nil {
		return derive[T](op, 0, nil, bad, r.node)
	}
	dep, err := r.ec.NewShuffleDependency(r.node, n, func(ctx context.Context, tc *engine.TaskContext) ([]engine.Block, error) {
		buckets := make([][]T, n)
		next := tc.Partition() % n // map partitions start at different buckets
		err := r.iterate(ctx, tc, tc.Partition(), func(in []T) bool {
			for _, v := range in {
				buckets[next] = append(buckets[next], v)
				if next++; next == n {
					next = 0
				}
			}
			tc.AddRecordsWritten(len(in))
			return true
		})
		return bucketBlocks(buckets), err
	})
	if err != nil {
		return derive[T](op, 0, nil, err, r.node)
	}
	return shuffled(op, r.node, dep, nil, forwardBucket[T](dep))
}

// Distinct returns the distinct elements of r.
func Distinct[T comparable](r *RDD[T], opts ...PartitionOption) *RDD[T] {
	if r == nil {
		return nilRDD[T]("Distinct")
	}
	pairs := Map(r, func(v T) Pair[T, struct{}] { return Pair[T, struct{}]{Key: v} })
	none := func(struct{}, struct{}) struct{} { return struct{}{} }
	out := Keys(combineByKey("Distinct", pairs, func(struct{}) struct{} { return struct{}{} }, none, none, true, opts, nil))
	out.op = "Distinct"
	return out
}
