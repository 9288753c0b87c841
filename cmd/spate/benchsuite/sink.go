package benchsuite

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/rdd"
)

// Result is what a query computed, in a form two runs can be compared by:
// the number of result rows and an order-independent checksum of them
// (the sum of a 64-bit hash of each row).
type Result struct {
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"` // hex
}

// String formats the result for humans.
func (r Result) String() string { return fmt.Sprintf("%d rows, checksum %s", r.Rows, r.Checksum) }

func makeResult(rows int64, sum uint64) Result {
	return Result{Rows: rows, Checksum: fmt.Sprintf("%016x", sum)}
}

// accumulator sums row hashes; the zero value is ready.
type accumulator struct {
	rows int64
	sum  uint64
}

func (a *accumulator) add(h uint64) { a.rows++; a.sum += h }

func (a accumulator) result() Result { return makeResult(a.rows, a.sum) }

// blackhole is the sink of the stateless queries: it keeps only the count
// and the checksum of the rows it gets (Nexmark's blackhole connector,
// plus the checksum).
type blackhole struct {
	rows atomic.Int64
	sum  atomic.Uint64
}

func (b *blackhole) result() Result { return makeResult(b.rows.Load(), b.sum.Load()) }

// blackholeOutput registers an output operation that hashes every row of
// s into b, one task per partition.
func blackholeOutput[T any](s *dstream.DStream[T], hash func(T) uint64, b *blackhole) error {
	return s.ForeachRDD(func(ctx context.Context, r *rdd.RDD[T], _ time.Time) error {
		return r.ForeachPartition(ctx, func(_ context.Context, rows iter.Seq[T]) error {
			var a accumulator
			for v := range rows {
				a.add(hash(v))
			}
			b.rows.Add(a.rows)
			b.sum.Add(a.sum)
			return nil
		})
	})
}

// versioned is a row with a version that only grows (the number of
// events merged into it), so that an upsert keeps the newest.
type versioned[R any] struct {
	Version int64
	Row     R
}

// upsertTable is the sink of the windowed queries: one row per key, the
// latest written (YSB's Redis hash).
type upsertTable[K comparable, R any] struct {
	mu   sync.Mutex
	m    map[K]versioned[R]
	hash func(K, R) uint64
}

func newUpsertTable[K comparable, R any](hash func(K, R) uint64) *upsertTable[K, R] {
	return &upsertTable[K, R]{m: map[K]versioned[R]{}, hash: hash}
}

func (t *upsertTable[K, R]) upsert(k K, v versioned[R]) {
	if old, ok := t.m[k]; v.Version < 0 || ok && old.Version >= v.Version {
		return
	}
	t.m[k] = v
}

func (t *upsertTable[K, R]) result() Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	var a accumulator
	for k, v := range t.m {
		a.add(t.hash(k, v.Row))
	}
	return a.result()
}

// upsertOutput registers an output operation that collects each batch's
// updates of s and writes them into t.
func upsertOutput[K comparable, R any](s *dstream.DStream[rdd.Pair[K, versioned[R]]], t *upsertTable[K, R]) error {
	return s.ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[K, versioned[R]]], _ time.Time) error {
		rows, err := r.Collect(ctx)
		if err != nil {
			return err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, kv := range rows {
			t.upsert(kv.Key, kv.Value)
		}
		return nil
	})
}
