package rdd

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"reflect"

	"github.com/spate-io/spate/engine"
)

// Pair is a key-value record, the element type of the by-key operations.
type Pair[K comparable, V any] struct {
	Key   K
	Value V
}

// KV returns Pair{Key: k, Value: v}.
func KV[K comparable, V any](k K, v V) Pair[K, V] { return Pair[K, V]{Key: k, Value: v} }

// String formats the pair as "(key,value)", as Spark prints tuples.
func (p Pair[K, V]) String() string { return fmt.Sprintf("(%v,%v)", p.Key, p.Value) }

// Partitioner decides which partition a key belongs to. Partition must
// return a value in [0, NumPartitions()) and the same value for equal keys.
// Two RDDs partitioned by equal partitioners (compared with ==) have equal
// keys in equal partitions, which lets by-key operations on them skip a
// shuffle.
type Partitioner[K comparable] interface {
	NumPartitions() int
	Partition(key K) int
}

// HashPartitioner returns the partitioner spate uses by default: keys are
// hashed with hash/maphash and the context's fixed seed, so within one run
// of ec a key always lands in the same of the n partitions.
func HashPartitioner[K comparable](ec *engine.Context, n int) Partitioner[K] {
	var seed maphash.Seed
	if ec != nil {
		seed = ec.HashSeed()
	}
	return hashPartitioner[K]{n: n, seed: seed}
}

type hashPartitioner[K comparable] struct {
	n    int
	seed maphash.Seed
}

func (p hashPartitioner[K]) NumPartitions() int { return p.n }

func (p hashPartitioner[K]) Partition(key K) int {
	// Multiply-shift maps the hash onto [0, n) without a division.
	hi, _ := bits.Mul64(maphash.Comparable(p.seed, key), uint64(p.n))
	return int(hi)
}

// PartitionOption chooses how a by-key operation partitions its result:
// [NumPartitions] or [WithPartitioner]. Without one, the operation reuses
// the partitioner of a parent that has one, or else hashes into as many
// partitions as its largest parent has.
type PartitionOption func(*partitionConfig)

type partitionConfig struct {
	numPartitions int
	partitioner   any
	// byPartitioner says that WithPartitioner was given, even with a nil
	// partitioner (which partitioner alone cannot tell).
	byPartitioner bool
	set           bool
}

// NumPartitions makes the result hash-partitioned into n partitions.
func NumPartitions(n int) PartitionOption {
	return func(c *partitionConfig) { *c = partitionConfig{numPartitions: n, set: true} }
}

// WithPartitioner makes the result partitioned by p.
func WithPartitioner[K comparable](p Partitioner[K]) PartitionOption {
	return func(c *partitionConfig) { *c = partitionConfig{partitioner: p, byPartitioner: true, set: true} }
}

// resolvePartitioner applies opts for an operation on parents keyed by K.
func resolvePartitioner[K comparable](opts []PartitionOption, parents ...*node) (Partitioner[K], error) {
	var cfg partitionConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	ec := parents[0].ec
	switch {
	case cfg.byPartitioner:
		p, ok := cfg.partitioner.(Partitioner[K])
		if !ok || isNilPartitioner(p) {
			return nil, fmt.Errorf("WithPartitioner: got %T, want a non-nil Partitioner for the RDD's key type", cfg.partitioner)
		}
		if p.NumPartitions() < 1 {
			return nil, fmt.Errorf("WithPartitioner: partitioner has %d partitions, want at least 1", p.NumPartitions())
		}
		return p, nil
	case cfg.set:
		if cfg.numPartitions < 1 {
			return nil, fmt.Errorf("NumPartitions must be at least 1, got %d", cfg.numPartitions)
		}
		return HashPartitioner[K](ec, cfg.numPartitions), nil
	}
	n := 1
	for _, p := range parents {
		if kp, ok := p.partitioner.(Partitioner[K]); ok {
			return kp, nil
		}
		n = max(n, p.parts)
	}
	return HashPartitioner[K](ec, n), nil
}

func isNilPartitioner(p any) bool {
	if p == nil {
		return true
	}
	v := reflect.ValueOf(p)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Interface, reflect.Slice, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// samePartitioning reports whether an RDD partitioned by have is already
// partitioned as want requires.
func samePartitioning(have, want any) bool {
	if have == nil || want == nil {
		return false
	}
	th, tw := reflect.TypeOf(have), reflect.TypeOf(want)
	return th == tw && th.Comparable() && have == want
}

// MapValues applies f to the value of every pair, keeping keys and the
// partitioning.
func MapValues[K comparable, V, W any](r *RDD[Pair[K, V]], f func(V) W) *RDD[Pair[K, W]] {
	if r == nil {
		return nilRDD[Pair[K, W]]("MapValues")
	}
	if f == nil {
		return derive[Pair[K, W]]("MapValues", r.parts, nil, fmt.Errorf("f must not be nil"), r.node)
	}
	out := Map(r, func(p Pair[K, V]) Pair[K, W] { return Pair[K, W]{p.Key, f(p.Value)} })
	out.op = "MapValues"
	out.partitioner = r.partitioner
	return out
}

// FlatMapValues pairs every element of f(value) with the pair's key,
// keeping the partitioning.
func FlatMapValues[K comparable, V, W any](r *RDD[Pair[K, V]], f func(V) []W) *RDD[Pair[K, W]] {
	if r == nil {
		return nilRDD[Pair[K, W]]("FlatMapValues")
	}
	if f == nil {
		return derive[Pair[K, W]]("FlatMapValues", r.parts, nil, fmt.Errorf("f must not be nil"), r.node)
	}
	out := derive("FlatMapValues", r.parts, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]Pair[K, W]) bool) error {
		buf := make([]Pair[K, W], 0, chunkSize)
		stopped := false
		err := r.iterate(ctx, tc, part, func(in []Pair[K, V]) bool {
			for _, p := range in {
				// Checked per output, so that a value expanding into many
				// still makes chunks of at most chunkSize.
				for _, w := range f(p.Value) {
					buf = append(buf, Pair[K, W]{p.Key, w})
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
	}, nil, r.node)
	out.partitioner = r.partitioner
	return out
}

// Keys returns the keys of r's pairs.
func Keys[K comparable, V any](r *RDD[Pair[K, V]]) *RDD[K] {
	if r == nil {
		return nilRDD[K]("Keys")
	}
	out := Map(r, func(p Pair[K, V]) K { return p.Key })
	out.op = "Keys"
	return out
}

// Values returns the values of r's pairs.
func Values[K comparable, V any](r *RDD[Pair[K, V]]) *RDD[V] {
	if r == nil {
		return nilRDD[V]("Values")
	}
	out := Map(r, func(p Pair[K, V]) V { return p.Value })
	out.op = "Values"
	return out
}

// PartitionerFor returns the partitioner that opts describe for keys of
// type K: the one given to WithPartitioner, or a hash partitioner of ec
// for NumPartitions. Without options it returns a hash partitioner with
// ec's number of worker slots. It reports the same errors as the by-key
// operations do for bad options.
func PartitionerFor[K comparable](ec *engine.Context, opts ...PartitionOption) (Partitioner[K], error) {
	if ec == nil {
		return nil, fmt.Errorf("rdd.PartitionerFor: nil engine context")
	}
	if len(opts) == 0 {
		opts = []PartitionOption{NumPartitions(ec.Slots())}
	}
	p, err := resolvePartitioner[K](opts, &node{ec: ec, parts: 1})
	if err != nil {
		return nil, fmt.Errorf("rdd.PartitionerFor: %w", err)
	}
	return p, nil
}
