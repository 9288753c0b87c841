package dstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/rdd"
)

// checkWindow validates a window over a parent with the given slide.
func checkWindow(parentSlide, window, slide time.Duration) error {
	switch {
	case window <= 0:
		return fmt.Errorf("window duration must be positive, got %v", window)
	case slide <= 0:
		return fmt.Errorf("slide duration must be positive, got %v", slide)
	case parentSlide <= 0:
		return nil // the parent is broken; its own error is reported
	case window%parentSlide != 0:
		return fmt.Errorf("window duration %v is not a multiple of the parent stream's slide interval %v", window, parentSlide)
	case slide%parentSlide != 0:
		return fmt.Errorf("slide duration %v is not a multiple of the parent stream's slide interval %v", slide, parentSlide)
	case window < slide:
		return fmt.Errorf("window duration %v is shorter than the slide duration %v, so some batches would fall in no window; use a window at least as long as the slide", window, slide)
	}
	return nil
}

// windowed makes a stream with the given slide whose RDD at t is f of the
// parent's RDDs for the batch times in (t - window, t]. The first windows
// after the start are partial: they hold the batches that exist.
func windowed[T, U any](op string, parent *DStream[T], window, slide time.Duration, bad error, f func(rs []*rdd.RDD[T], t time.Time) *rdd.RDD[U]) *DStream[U] {
	if parent == nil {
		return nilStream[U](op)
	}
	if bad == nil {
		bad = checkWindow(parent.slide, window, slide)
	}
	w := newStream(parent.ssc, op, slide, []*streamNode{parent.streamNode}, func(t time.Time) (*rdd.RDD[U], error) {
		rs, err := parent.slice(t.Add(-window+parent.slide), t)
		if err != nil {
			return nil, err
		}
		return f(rs, t), nil
	}, bad)
	w.windowExtra = window
	return w
}

// unionOrEmpty is the union of rs, or an empty RDD when there are none.
func unionOrEmpty[T any](ssc *StreamingContext, rs []*rdd.RDD[T]) *rdd.RDD[T] {
	if len(rs) == 0 {
		return rdd.Empty[T](ssc.ec)
	}
	return rdd.Union(rs...)
}

// Window returns a stream whose RDD at each multiple of slide is the
// union of s's batches in the last window: (t - window, t]. window and
// slide must be multiples of s's slide interval, and window ≥ slide.
func (s *DStream[T]) Window(window, slide time.Duration) *DStream[T] {
	return windowed("Window", s, window, slide, nil, func(rs []*rdd.RDD[T], _ time.Time) *rdd.RDD[T] {
		return unionOrEmpty(s.ssc, rs)
	})
}

// CountByWindow returns a stream with one element per window: the number
// of elements in it. It counts incrementally (see ReduceByWindowInv), so
// it needs a checkpoint directory.
func (s *DStream[T]) CountByWindow(window, slide time.Duration) *DStream[int] {
	return ReduceByWindowInv(s.Count(), add, sub, window, slide)
}

func sub(a, b int) int { return a - b }

// ReduceByWindow returns a stream with at most one element per window:
// the window's elements merged with f (associative and commutative). Each
// window is recomputed from the batches it covers.
func (s *DStream[T]) ReduceByWindow(f func(T, T) T, window, slide time.Duration) *DStream[T] {
	if f == nil {
		return windowed[T, T]("ReduceByWindow", s, window, slide, errNil("f"), nil)
	}
	return s.Reduce(f).Window(window, slide).Reduce(f)
}

// ReduceByWindowInv is [DStream.ReduceByWindow] computed incrementally:
// each window's value is the previous window's, minus (inverse) the
// batches that left, plus (f) the batches that entered. inverse must undo
// f: inverse(f(a, b), b) == a; otherwise the result is undefined. It
// needs a checkpoint directory (see [StreamingContext.Checkpoint]). (It
// is a function rather than a method because Go cannot instantiate the
// method for the key-value stream it builds internally.)
func ReduceByWindowInv[T any](s *DStream[T], f, inverse func(T, T) T, window, slide time.Duration) *DStream[T] {
	const op = "ReduceByWindowInv"
	if s == nil {
		return nilStream[T](op)
	}
	bad := nilErr("f", f == nil)
	if bad == nil {
		bad = nilErr("inverse", inverse == nil)
	}
	if bad == nil {
		bad = checkWindow(s.slide, window, slide)
	}
	if bad != nil {
		return windowed[T, T](op, s, window, slide, bad, nil)
	}
	keyed := Map(s, func(v T) rdd.Pair[struct{}, T] { return rdd.Pair[struct{}, T]{Value: v} })
	windows := ReduceByKeyAndWindowInv(keyed, f, inverse, window, slide, WindowPartitions(rdd.NumPartitions(1)))
	out := Values(windows)
	out.stateOf = windows.streamNode
	return out
}

// Values returns the values of a pair stream.
func Values[K comparable, V any](s *DStream[rdd.Pair[K, V]]) *DStream[V] {
	return derive("Values", s, func(r *rdd.RDD[rdd.Pair[K, V]], _ time.Time) *rdd.RDD[V] { return rdd.Values(r) }, nil)
}

// WindowOption configures the by-key window operations.
type WindowOption func(*windowConfig)

type windowConfig struct {
	partition []rdd.PartitionOption
	filter    any // func(rdd.Pair[K, V]) bool
}

// WindowPartitions sets how the window's results are partitioned (see
// [rdd.NumPartitions] and [rdd.WithPartitioner]). Default: hash
// partitioning into as many partitions as the engine has slots.
func WindowPartitions(opts ...rdd.PartitionOption) WindowOption {
	return func(c *windowConfig) { c.partition = opts }
}

// FilterKeys keeps only the pairs for which keep returns true in every
// window of ReduceByKeyAndWindowInv; use it to drop keys whose value fell
// back to the identity (a count of 0), which would otherwise stay in the
// window state for ever. Its K and V must be the stream's.
func FilterKeys[K comparable, V any](keep func(rdd.Pair[K, V]) bool) WindowOption {
	return func(c *windowConfig) { c.filter = keep }
}

// windowSetup resolves window options for pairs of K and V.
func windowSetup[K comparable, V any](ssc *StreamingContext, opts []WindowOption) ([]rdd.PartitionOption, func(rdd.Pair[K, V]) bool, error) {
	var c windowConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	var keep func(rdd.Pair[K, V]) bool
	if c.filter != nil {
		f, ok := c.filter.(func(rdd.Pair[K, V]) bool)
		if !ok || f == nil {
			return nil, nil, fmt.Errorf("FilterKeys: got a %T, want a non-nil func(rdd.Pair[K, V]) bool for the stream's key and value types", c.filter)
		}
		keep = f
	}
	part := c.partition
	if len(part) == 0 && ssc != nil {
		// A fixed partitioner, so that batches and windows are
		// co-partitioned and combine without shuffles.
		part = []rdd.PartitionOption{rdd.NumPartitions(ssc.ec.Slots())}
	}
	if ssc != nil {
		// Report bad options now rather than when the first batch runs.
		if _, err := rdd.PartitionerFor[K](ssc.ec, part...); err != nil {
			return nil, nil, err
		}
	}
	return part, keep, nil
}

// ReduceByKeyAndWindow merges the values of each key over the last window
// with reduce, recomputing every window from the batches it covers: each
// batch is reduced by key once, and each window merges the per-batch
// results of its batches.
func ReduceByKeyAndWindow[K comparable, V any](s *DStream[rdd.Pair[K, V]], reduce func(V, V) V, window, slide time.Duration, opts ...WindowOption) *DStream[rdd.Pair[K, V]] {
	if s == nil {
		return nilStream[rdd.Pair[K, V]]("ReduceByKeyAndWindow")
	}
	part, keep, err := windowSetup[K, V](s.ssc, opts)
	if err == nil && keep != nil {
		err = errors.New("FilterKeys applies to ReduceByKeyAndWindowInv only; filter the result with Filter")
	}
	if err == nil && reduce == nil {
		err = errNil("reduce")
	}
	if err != nil {
		return windowed[rdd.Pair[K, V], rdd.Pair[K, V]]("ReduceByKeyAndWindow", s, window, slide, err, nil)
	}
	// Persisted, so that each window merges the batches' reduced results
	// instead of re-reading every batch's shuffle once per window.
	perBatch := ReduceByKey(s, reduce, part...).Persist()
	return windowed("ReduceByKeyAndWindow", perBatch, window, slide, nil, func(rs []*rdd.RDD[rdd.Pair[K, V]], _ time.Time) *rdd.RDD[rdd.Pair[K, V]] {
		return rdd.ReduceByKey(unionOrEmpty(s.ssc, rs), reduce, part...)
	})
}

// windowAcc gathers, for one key, the previous window's value and the
// reduced values of the batches leaving and entering the window.
type windowAcc[V any] struct {
	prev, old, new          V
	hasPrev, hasOld, hasNew bool
}

// tagged is a value marked with where it comes from: the previous window
// (0), a batch leaving it (1) or a batch entering it (2).
type tagged[V any] struct {
	v    V
	from uint8
}

// ReduceByKeyAndWindowInv merges the values of each key over the last
// window incrementally: the new window's value of a key is the previous
// window's value, minus (inverse) the values of the batches that left
// the window, plus (reduce) those of the batches that entered. The work
// per window depends on the slide and the number of keys, not on the
// window's length. inverse must undo reduce (inverse(reduce(a, b), b) ==
// a); otherwise the result is undefined, and FilterKeys, which removes
// keys whose value fell back to the identity, relies on it.
//
// Each window's result is kept in memory as the start of the next, so
// the stream needs a checkpoint directory (see
// [StreamingContext.Checkpoint]).
func ReduceByKeyAndWindowInv[K comparable, V any](s *DStream[rdd.Pair[K, V]], reduce, inverse func(V, V) V, window, slide time.Duration, opts ...WindowOption) *DStream[rdd.Pair[K, V]] {
	const op = "ReduceByKeyAndWindowInv"
	if s == nil {
		return nilStream[rdd.Pair[K, V]](op)
	}
	part, keep, err := windowSetup[K, V](s.ssc, opts)
	if err == nil && reduce == nil {
		err = errNil("reduce")
	}
	if err == nil && inverse == nil {
		err = errNil("inverse")
	}
	if err == nil {
		err = checkWindow(s.slide, window, slide)
	}
	if err != nil {
		return windowed[rdd.Pair[K, V], rdd.Pair[K, V]](op, s, window, slide, err, nil)
	}
	perBatch := ReduceByKey(s, reduce, part...).Persist()
	parentSlide := s.slide
	var self *DStream[rdd.Pair[K, V]]
	self = newStream(s.ssc, op, slide, []*streamNode{perBatch.streamNode}, func(t time.Time) (*rdd.RDD[rdd.Pair[K, V]], error) {
		// The current window covers (t-window, t]; the previous one
		// (t-slide-window, t-slide]. Batches in (t-slide-window,
		// t-window] left; batches in (t-slide, t] entered.
		leaving, err := perBatch.slice(t.Add(-slide-window+parentSlide), t.Add(-window))
		if err != nil {
			return nil, err
		}
		entering, err := perBatch.slice(t.Add(-slide+parentSlide), t)
		if err != nil {
			return nil, err
		}
		prev, err := self.previousWindow(t.Add(-slide))
		if err != nil {
			return nil, err
		}
		inputs := make([]*rdd.RDD[rdd.Pair[K, tagged[V]]], 0, 1+len(leaving)+len(entering))
		tag := func(r *rdd.RDD[rdd.Pair[K, V]], from uint8) *rdd.RDD[rdd.Pair[K, tagged[V]]] {
			return rdd.MapValues(r, func(v V) tagged[V] { return tagged[V]{v, from} })
		}
		if prev != nil {
			inputs = append(inputs, tag(prev, 0))
		}
		for _, r := range leaving {
			inputs = append(inputs, tag(r, 1))
		}
		for _, r := range entering {
			inputs = append(inputs, tag(r, 2))
		}
		if len(inputs) == 0 {
			return rdd.Empty[rdd.Pair[K, V]](s.ssc.ec), nil
		}
		merge := func(a windowAcc[V], x tagged[V]) windowAcc[V] {
			switch x.from {
			case 0:
				a.prev, a.hasPrev = x.v, true
			case 1:
				if a.hasOld {
					a.old = reduce(a.old, x.v)
				} else {
					a.old, a.hasOld = x.v, true
				}
			default:
				if a.hasNew {
					a.new = reduce(a.new, x.v)
				} else {
					a.new, a.hasNew = x.v, true
				}
			}
			return a
		}
		combine := func(a, b windowAcc[V]) windowAcc[V] {
			if b.hasPrev {
				a = merge(a, tagged[V]{b.prev, 0})
			}
			if b.hasOld {
				a = merge(a, tagged[V]{b.old, 1})
			}
			if b.hasNew {
				a = merge(a, tagged[V]{b.new, 2})
			}
			return a
		}
		accs := rdd.CombineByKey(rdd.Union(inputs...),
			func(x tagged[V]) windowAcc[V] { return merge(windowAcc[V]{}, x) }, merge, combine, part...)
		values := rdd.FlatMapValues(accs, func(a windowAcc[V]) []V {
			switch {
			case a.hasPrev:
				v := a.prev
				if a.hasOld {
					v = inverse(v, a.old)
				}
				if a.hasNew {
					v = reduce(v, a.new)
				}
				return []V{v}
			case a.hasNew:
				return []V{a.new}
			}
			return nil // only in batches that left: nothing to keep
		})
		if keep != nil {
			values = values.Filter(keep)
		}
		return values, nil
	}, nil)
	self.windowExtra = window
	self.persist = true
	self.needsCheckpoint = true
	if self.err == nil {
		p, _ := rdd.PartitionerFor[K](s.ssc.ec, part...)
		wc := &windowCheckpoint[K, V]{self: self, parts: p.NumPartitions(), codec: pairCodecFor[K, V]()}
		self.checkpointed = wc
		// Computes every window (a window is built from the previous
		// one, so none may be skipped) and writes it at checkpoint times.
		if err := registerInternal(self, op+" checkpoint", wc.run); err != nil && self.err == nil {
			self.err = err
		}
	}
	return self
}

// windowCheckpoint checkpoints the windows of ReduceByKeyAndWindowInv:
// each window is the start of the next, so it is the stream's state.
type windowCheckpoint[K comparable, V any] struct {
	self  *DStream[rdd.Pair[K, V]]
	parts int
	codec sliceCodec[rdd.Pair[K, V]]
}

func (w *windowCheckpoint[K, V]) node() *streamNode  { return w.self.streamNode }
func (w *windowCheckpoint[K, V]) numPartitions() int { return w.parts }
func (w *windowCheckpoint[K, V]) checkCodec() error  { return w.codec.check() }

// run computes the window of batch t and, at checkpoint times, queues its
// partitions for writing.
func (w *windowCheckpoint[K, V]) run(ctx context.Context, r *rdd.RDD[rdd.Pair[K, V]], t time.Time) error {
	c := w.self.ssc.ckpt
	if c == nil || !c.isCheckpointTime(w.self.streamNode, t) {
		_, err := r.Count(ctx)
		return err
	}
	got, err := rdd.Glom(r).Collect(ctx)
	if err != nil {
		return err
	}
	parts := make([][]rdd.Pair[K, V], w.parts)
	for i, p := range got {
		j := min(i, w.parts-1)
		parts[j] = append(parts[j], p...)
	}
	for i, p := range parts {
		c.enqueue(stateWrite{stream: w.self.CheckpointName(), part: i, t: t.UnixNano(), encode: func() ([]byte, error) { return w.codec.encode(p) }})
	}
	return nil
}

func (w *windowCheckpoint[K, V]) incremental() bool { return false }

// restore makes the window written at t the stream's RDD for t.
func (w *windowCheckpoint[K, V]) restore(chains [][]string, t time.Time) error {
	parts := make([][]rdd.Pair[K, V], len(chains))
	for i, chain := range chains {
		f := chain[len(chain)-1] // windows are always written whole
		b, err := checkpoint.ReadFile(f, "state")
		if err != nil {
			return err
		}
		if parts[i], err = w.codec.decode(b); err != nil {
			return fmt.Errorf("%s: decoding: %w", f, err)
		}
	}
	w.self.mu.Lock()
	w.self.generated[t.UnixNano()] = typedRDD[rdd.Pair[K, V]]{rdd.FromPartitions(w.self.ssc.ec, parts)}
	w.self.mu.Unlock()
	return nil
}

// pairCodec encodes pairs with a key and a value codec.
type pairCodec[K comparable, V any] struct {
	k Codec[K]
	v Codec[V]
}

func (c pairCodec[K, V]) Append(b []byte, p rdd.Pair[K, V]) ([]byte, error) {
	b, err := c.k.Append(b, p.Key)
	if err != nil {
		return nil, err
	}
	return c.v.Append(b, p.Value)
}

func (c pairCodec[K, V]) Decode(b []byte) (rdd.Pair[K, V], int, error) {
	k, n1, err := c.k.Decode(b)
	if err != nil {
		return rdd.Pair[K, V]{}, 0, err
	}
	v, n2, err := c.v.Decode(b[n1:])
	if err != nil {
		return rdd.Pair[K, V]{}, 0, err
	}
	return rdd.Pair[K, V]{Key: k, Value: v}, n1 + n2, nil
}

// pairCodecFor returns the built-in codecs of K and V paired, or gob.
func pairCodecFor[K comparable, V any]() sliceCodec[rdd.Pair[K, V]] {
	kc, ok1 := builtinCodec[K]()
	vc, ok2 := builtinCodec[V]()
	if ok1 && ok2 {
		return valueSliceCodec[rdd.Pair[K, V]]{pairCodec[K, V]{kc, vc}}
	}
	return gobSliceCodec[rdd.Pair[K, V]]{}
}

// previousWindow returns the stream's RDD at t (the previous window) for
// building the next one. When it is already computed, the cached data is
// used without its lineage, so the chain of windows does not keep every
// earlier window and batch alive; otherwise (a batch still queued) the RDD
// itself is the parent.
func (s *DStream[T]) previousWindow(t time.Time) (*rdd.RDD[T], error) {
	if !t.After(s.ssc.zeroTime) {
		return nil, nil
	}
	r, err := s.getOrCompute(t)
	if err != nil || r == nil {
		return nil, err
	}
	if c, ok := r.Cached(); ok {
		return c, nil
	}
	return r, nil
}

// CountByValueAndWindow counts the occurrences of each value over the
// last window, incrementally (values whose count falls to 0 are dropped).
// It needs a checkpoint directory.
func CountByValueAndWindow[T comparable](s *DStream[T], window, slide time.Duration, opts ...rdd.PartitionOption) *DStream[rdd.Pair[T, int]] {
	ones := Map(s, func(v T) rdd.Pair[T, int] { return rdd.KV(v, 1) })
	wopts := []WindowOption{FilterKeys(func(p rdd.Pair[T, int]) bool { return p.Value != 0 })}
	if len(opts) > 0 {
		wopts = append(wopts, WindowPartitions(opts...))
	}
	return ReduceByKeyAndWindowInv(ones, add, sub, window, slide, wopts...)
}

// GroupByKeyAndWindow collects the values of each key over the last
// window.
func GroupByKeyAndWindow[K comparable, V any](s *DStream[rdd.Pair[K, V]], window, slide time.Duration, opts ...rdd.PartitionOption) *DStream[rdd.Pair[K, []V]] {
	if s == nil {
		return nilStream[rdd.Pair[K, []V]]("GroupByKeyAndWindow")
	}
	if len(opts) == 0 && s.ssc != nil {
		opts = []rdd.PartitionOption{rdd.NumPartitions(s.ssc.ec.Slots())}
	}
	var bad error
	if s.ssc != nil {
		_, bad = rdd.PartitionerFor[K](s.ssc.ec, opts...)
	}
	perBatch := GroupByKey(s, opts...)
	return windowed("GroupByKeyAndWindow", perBatch, window, slide, bad, func(rs []*rdd.RDD[rdd.Pair[K, []V]], _ time.Time) *rdd.RDD[rdd.Pair[K, []V]] {
		return rdd.CombineByKey(unionOrEmpty(s.ssc, rs),
			func(vs []V) []V { return append([]V(nil), vs...) },
			func(acc, vs []V) []V { return append(acc, vs...) },
			func(a, b []V) []V { return append(a, b...) }, opts...)
	})
}
