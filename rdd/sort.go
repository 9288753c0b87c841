package rdd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/spate-io/spate/engine"
)

// SortByKey sorts r by key, ascending or descending: partition i holds
// keys that all order before those of partition i+1, and each partition is
// sorted, so Collect returns a sorted slice. Keys are placed with a range
// partitioner whose bounds come from a sample of the keys, taken by an
// extra job before the shuffle. Pairs with equal keys keep no particular
// order. Only [NumPartitions] is accepted among the options; the default
// is r's partition count. By-key operations on the result do not reuse
// its range partitioning: they shuffle it as they would any RDD.
func SortByKey[K cmp.Ordered, V any](r *RDD[Pair[K, V]], ascending bool, opts ...PartitionOption) *RDD[Pair[K, V]] {
	if r == nil {
		return nilRDD[Pair[K, V]]("SortByKey")
	}
	const op = "SortByKey"
	if r.err != nil {
		return derive[Pair[K, V]](op, 0, nil, nil, r.node)
	}
	cfg := partitionConfig{numPartitions: max(r.parts, 1)}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	switch {
	case cfg.byPartitioner:
		return derive[Pair[K, V]](op, 0, nil, errors.New("WithPartitioner is not supported: sorting needs its own range partitioner; use NumPartitions"), r.node)
	case cfg.numPartitions < 1:
		return derive[Pair[K, V]](op, 0, nil, fmt.Errorf("NumPartitions must be at least 1, got %d", cfg.numPartitions), r.node)
	}
	p := &rangePartitioner[K]{n: cfg.numPartitions, ascending: ascending}
	dep, err := shuffleByKey[K, V](r, p)
	if err != nil {
		return derive[Pair[K, V]](op, 0, nil, err, r.node)
	}
	site := callSite() // of the SortByKey call, for naming the sampling job
	dep.Prepare = func(ctx context.Context) error {
		bounds, err := sampleRangeBounds(ctx, r, p.n, site)
		p.bounds = bounds
		return err
	}
	compare := func(a, b Pair[K, V]) int { return cmp.Compare(a.Key, b.Key) }
	if !ascending {
		compare = func(a, b Pair[K, V]) int { return cmp.Compare(b.Key, a.Key) }
	}
	// The result does not advertise p as its partitioner: p's bounds are
	// only set when this shuffle's map stage runs, so another RDD shuffled
	// by p (a join reusing its parent's partitioner) could be placed with
	// no bounds, racing with Prepare, and miss its matches.
	return shuffled(op, r.node, dep, nil, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]Pair[K, V]) bool) error {
		var all []Pair[K, V]
		if err := readBucket(ctx, tc, dep, part, func(recs []Pair[K, V]) bool {
			all = append(all, recs...)
			return true
		}); err != nil {
			return err
		}
		slices.SortFunc(all, compare)
		return emit(ctx, all, yield)
	})
}

// rangePartitioner places keys by comparing them with n-1 sorted bounds.
// The bounds are set by sampleBounds before the map stage runs.
type rangePartitioner[K cmp.Ordered] struct {
	n         int
	ascending bool
	bounds    []K
}

func (p *rangePartitioner[K]) NumPartitions() int { return p.n }

func (p *rangePartitioner[K]) Partition(key K) int {
	i, _ := slices.BinarySearch(p.bounds, key)
	if !p.ascending {
		return len(p.bounds) - i
	}
	return i
}

// sampleRangeBounds samples keys from every partition of r (a reservoir
// per partition, each kept key weighted by how many keys it stands for)
// and returns n-1 ascending bounds that split the weighted sample into n
// parts of about equal weight.
func sampleRangeBounds[K cmp.Ordered, V any](ctx context.Context, r *RDD[Pair[K, V]], n int, site string) ([]K, error) {
	if n == 1 || r.parts == 0 {
		return nil, nil
	}
	// As Spark does: about 20 keys per result partition, oversampled 3x.
	perPartition := (3*20*n + r.parts - 1) / r.parts
	type sample struct {
		keys []K
		seen int
	}
	samples := make([]sample, r.parts)
	err := r.runJobAt(ctx, "SortByKey sampling", site, nil, func(ctx context.Context, tc *engine.TaskContext, part int) error {
		rng := rand.New(rand.NewPCG(uint64(r.id), uint64(part)))
		s := &samples[part]
		return r.iterate(ctx, tc, part, func(c []Pair[K, V]) bool {
			for _, kv := range c {
				if len(s.keys) < perPartition {
					s.keys = append(s.keys, kv.Key)
				} else if j := rng.IntN(s.seen + 1); j < perPartition {
					s.keys[j] = kv.Key
				}
				s.seen++
			}
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	type weighted struct {
		key    K
		weight float64
	}
	var all []weighted
	total := 0.0
	for _, s := range samples {
		if len(s.keys) == 0 {
			continue
		}
		w := float64(s.seen) / float64(len(s.keys))
		for _, k := range s.keys {
			all = append(all, weighted{k, w})
		}
		total += float64(s.seen)
	}
	slices.SortFunc(all, func(a, b weighted) int { return cmp.Compare(a.key, b.key) })
	step := total / float64(n)
	var bounds []K
	acc, target := 0.0, step
	for _, x := range all {
		acc += x.weight
		if acc >= target && len(bounds) < n-1 && (len(bounds) == 0 || cmp.Less(bounds[len(bounds)-1], x.key)) {
			bounds = append(bounds, x.key)
			target += step
		}
	}
	return bounds, nil
}
