package dstream_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// This file tests the same-type and type-changing transformations of
// ops.go, Persist and Slice, and holds the helpers the other _test files
// of this package share: runs through dstreamtest and a "rig" (a
// StreamingContext on a manual clock with every event recorded).

// waitLimit bounds every wait of these tests; reaching it fails the test.
const waitLimit = 10 * time.Second

// epoch is where the manual clocks of these tests start; batch k runs at
// epoch + k×interval.
var epoch = time.Unix(0, 0)

// limitCtx returns a context cancelled after waitLimit or when the test
// ends.
func limitCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// mustRun is dstreamtest.Run failing t on error.
func mustRun[T, U any](t *testing.T, input [][]T, op func(*dstream.DStream[T]) *dstream.DStream[U], numBatches int, opts ...dstreamtest.Option) [][]U {
	t.Helper()
	out, err := dstreamtest.Run(limitCtx(t), input, op, numBatches, opts...)
	if err != nil {
		t.Fatalf("dstreamtest.Run: %v", err)
	}
	return out
}

// mustRun2 is dstreamtest.Run2 failing t on error.
func mustRun2[T1, T2, U any](t *testing.T, in1 [][]T1, in2 [][]T2, op func(*dstream.DStream[T1], *dstream.DStream[T2]) *dstream.DStream[U], numBatches int, opts ...dstreamtest.Option) [][]U {
	t.Helper()
	out, err := dstreamtest.Run2(limitCtx(t), in1, in2, op, numBatches, opts...)
	if err != nil {
		t.Fatalf("dstreamtest.Run2: %v", err)
	}
	return out
}

// partitionCounts are the input partition counts every transformation is
// run with: one partition, and several (more than some batches have
// elements, so that some partitions are empty).
var partitionCounts = []int{1, 3}

// forPartitions runs f once per entry of partitionCounts.
func forPartitions(t *testing.T, f func(t *testing.T, parts int)) {
	t.Helper()
	for _, n := range partitionCounts {
		t.Run(fmt.Sprintf("partitions=%d", n), func(t *testing.T) {
			t.Parallel()
			f(t, n)
		})
	}
}

// split cuts xs into n contiguous ranges of equal size (±1), the way
// rdd.Parallelize (and so the harness) partitions an input batch.
func split[T any](xs []T, n int) [][]T {
	out := make([][]T, n)
	for i := range n {
		out[i] = xs[i*len(xs)/n : (i+1)*len(xs)/n]
	}
	return out
}

// recorder is a listener keeping every event it is given.
type recorder struct {
	mu     sync.Mutex
	events []metrics.Event
	wake   chan struct{} // capacity 1: signalled after every event
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) OnEvent(e metrics.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// snapshot returns the events recorded so far.
func (r *recorder) snapshot() []metrics.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waitFor returns the first recorded event for which match is true,
// waiting for it up to waitLimit.
func (r *recorder) waitFor(t testing.TB, what string, match func(metrics.Event) bool) metrics.Event {
	t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		for _, e := range r.snapshot() {
			if match(e) {
				return e
			}
		}
		select {
		case <-r.wake:
		case <-timeout.C:
			t.Fatalf("no %s after %v; events: %v", what, waitLimit, r.snapshot())
		}
	}
}

// rig is a StreamingContext on a manual clock that starts at epoch, with
// a recorder subscribed before Start. Cleanup stops the context and
// closes the engine.
type rig struct {
	t        *testing.T
	clk      *clock.Manual
	ec       *engine.Context
	ssc      *dstream.StreamingContext
	interval time.Duration
	rec      *recorder
}

func newRig(t *testing.T, interval time.Duration, opts ...dstream.Option) *rig {
	t.Helper()
	clk := clock.NewManual(epoch)
	ec, err := engine.New(engine.Slots(2), engine.WithClock(clk))
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	t.Cleanup(func() { _ = ec.Close() })
	ssc, err := dstream.NewStreamingContext(ec, interval, append(slices.Clone(opts), dstream.WithClock(clk))...)
	if err != nil {
		t.Fatalf("NewStreamingContext: %v", err)
	}
	rec := newRecorder()
	t.Cleanup(ssc.AddListener(rec))
	t.Cleanup(func() { _ = ssc.Stop(context.Background(), false) })
	return &rig{t: t, clk: clk, ec: ec, ssc: ssc, interval: interval, rec: rec}
}

// queue returns a QueueStream of r's context taking one RDD of batches
// (each batch in parts partitions) per batch.
func rigQueue[T any](r *rig, parts int, batches ...[]T) *dstream.DStream[T] {
	q := dstream.NewQueue[T]()
	for _, b := range batches {
		q.Push(rdd.Parallelize(r.ec, b, parts))
	}
	return dstream.QueueStream(r.ssc, q, true, nil)
}

func (r *rig) start() {
	r.t.Helper()
	if err := r.ssc.Start(); err != nil {
		r.t.Fatalf("Start: %v", err)
	}
}

// batchTime is the time of batch k (from 1).
func (r *rig) batchTime(k int) time.Time { return epoch.Add(time.Duration(k) * r.interval) }

// waitBatch waits for the BatchCompleted event of batch k.
func (r *rig) waitBatch(k int) metrics.BatchInfo {
	r.t.Helper()
	want := r.batchTime(k)
	e := r.rec.waitFor(r.t, fmt.Sprintf("BatchCompleted for batch %d (%d ms)", k, want.UnixMilli()), func(e metrics.Event) bool {
		b, ok := e.(metrics.BatchCompleted)
		return ok && b.Info.BatchTime.Equal(want)
	})
	return e.(metrics.BatchCompleted).Info
}

// advance moves the clock on by one interval once the job generator has
// armed its timer for the next batch (the only timer on the clock in
// these tests). Advancing earlier could let the generator arm its timer
// after the advance, counting from the new time: the batch would come an
// interval late.
func (r *rig) advance() {
	r.t.Helper()
	if err := r.clk.BlockUntil(limitCtx(r.t), 1); err != nil {
		r.t.Fatalf("the job generator armed no timer within %v", waitLimit)
	}
	r.clk.Advance(r.interval)
}

// step advances the clock by one interval and waits for batch k.
func (r *rig) step(k int) metrics.BatchInfo {
	r.t.Helper()
	r.advance()
	return r.waitBatch(k)
}

// flush waits until the bus delivered every event posted so far.
func (r *rig) flush() {
	r.t.Helper()
	if err := r.ec.Bus().Flush(limitCtx(r.t)); err != nil {
		r.t.Fatalf("Bus.Flush: %v", err)
	}
}

// awaitTermination waits for the context to stop and returns its error.
func (r *rig) awaitTermination() error {
	r.t.Helper()
	err := r.ssc.AwaitTermination(limitCtx(r.t))
	if errors.Is(err, context.DeadlineExceeded) {
		r.t.Fatalf("the streaming context did not stop within %v", waitLimit)
	}
	return err
}

// --- Transformations --------------------------------------------------

// ints is the input most transformation tests use: data, an empty batch,
// data; the runs go on for more batches than that, which must be empty.
var ints = [][]int{{1, 2, 3, 4}, {}, {5, 6, 7}}

func TestMap(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[string] {
			return dstream.Map(s, func(x int) string { return fmt.Sprint("v", x*10) })
		}, 5, dstreamtest.Partitions(parts))
		dstreamtest.Equal(t, out, [][]string{{"v10", "v20", "v30", "v40"}, {}, {"v50", "v60", "v70"}, {}, {}})
	})
}

func TestFlatMap(t *testing.T) {
	in := [][]string{{"a b", "", "c"}, {""}, {"d e f"}}
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, in, func(s *dstream.DStream[string]) *dstream.DStream[string] {
			return dstream.FlatMap(s, strings.Fields)
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.Equal(t, out, [][]string{{"a", "b", "c"}, {}, {"d", "e", "f"}, {}})
	})
}

func TestFilter(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[int] {
			return s.Filter(func(x int) bool { return x%2 == 1 })
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.Equal(t, out, [][]int{{1, 3}, {}, {5, 7}, {}})
	})
}

func TestMapPartitions(t *testing.T) {
	// f turns each partition into one string listing its elements in
	// order, so the output shows both the partitioning and the order.
	f := func(in iter.Seq[int]) iter.Seq[string] {
		return func(yield func(string) bool) {
			yield(fmt.Sprint(slices.Collect(in)))
		}
	}
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[string] {
			return dstream.MapPartitions(s, f)
		}, 4, dstreamtest.Partitions(parts))
		// Every partition gives one element, also an empty one; batch 4,
		// beyond the input, is an RDD without partitions.
		want := make([][]string, 4)
		for b, batch := range ints {
			for _, p := range split(batch, parts) {
				want[b] = append(want[b], fmt.Sprint(append([]int{}, p...)))
			}
		}
		dstreamtest.Equal(t, out, want)
	})
}

func TestGlom(t *testing.T) {
	// Batch 2 is empty but has its partitions; batch 4, beyond the
	// input, is an RDD without partitions, so Glom gives nothing.
	in := [][]int{{1, 2, 3, 4, 5}, {}, {6}}
	tests := []struct {
		parts int
		want  [][]string
	}{
		{1, [][]string{{"[1 2 3 4 5]"}, {"[]"}, {"[6]"}, {}}},
		{3, [][]string{{"[1]", "[2 3]", "[4 5]"}, {"[]", "[]", "[]"}, {"[]", "[]", "[6]"}, {}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("partitions=%d", tt.parts), func(t *testing.T) {
			t.Parallel()
			out := mustRun(t, in, func(s *dstream.DStream[int]) *dstream.DStream[string] {
				return dstream.Map(dstream.Glom(s), func(p []int) string { return fmt.Sprint(p) })
			}, 4, dstreamtest.Partitions(tt.parts))
			dstreamtest.Equal(t, out, tt.want)
		})
	}
}

func TestRepartition(t *testing.T) {
	for _, tt := range []struct{ from, to int }{{1, 4}, {4, 1}, {3, 2}} {
		t.Run(fmt.Sprintf("%dto%d", tt.from, tt.to), func(t *testing.T) {
			t.Parallel()
			// Partition count and sizes, through Glom.
			sizes := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[int] {
				return dstream.Map(dstream.Glom(s.Repartition(tt.to)), func(p []int) int { return len(p) })
			}, 4, dstreamtest.Partitions(tt.from))
			for b, batchSizes := range sizes {
				if len(batchSizes) != tt.to {
					t.Errorf("batch %d has %d partitions (sizes %v), want %d", b, len(batchSizes), batchSizes, tt.to)
				}
				total := 0
				for _, n := range batchSizes {
					total += n
				}
				if want := len(batchAt(ints, b)); total != want {
					t.Errorf("batch %d: partitions hold %d elements in all, want %d", b, total, want)
				}
			}
			// Elements, as a multiset.
			out := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[int] {
				return s.Repartition(tt.to)
			}, 4, dstreamtest.Partitions(tt.from))
			dstreamtest.EqualUnordered(t, out, [][]int{{1, 2, 3, 4}, {}, {5, 6, 7}, {}})
		})
	}
}

// batchAt returns input batch b, or nil beyond the input.
func batchAt[T any](in [][]T, b int) []T {
	if b < len(in) {
		return in[b]
	}
	return nil
}

func TestUnion(t *testing.T) {
	a := [][]int{{1, 2}, {}, {3}}
	b := [][]int{{10}, {20, 30}}
	forPartitions(t, func(t *testing.T, parts int) {
		opt := dstreamtest.Partitions(parts)
		t.Run("method", func(t *testing.T) {
			out := mustRun2(t, a, b, func(x, y *dstream.DStream[int]) *dstream.DStream[int] { return x.Union(y) }, 4, opt)
			// The batches of the receiver come first, then the others'.
			dstreamtest.Equal(t, out, [][]int{{1, 2, 10}, {20, 30}, {3}, {}})
		})
		t.Run("func", func(t *testing.T) {
			out := mustRun2(t, a, b, func(x, y *dstream.DStream[int]) *dstream.DStream[int] { return dstream.Union(y, x) }, 4, opt)
			dstreamtest.Equal(t, out, [][]int{{10, 1, 2}, {20, 30}, {3}, {}})
		})
		t.Run("three streams", func(t *testing.T) {
			out := mustRun2(t, a, b, func(x, y *dstream.DStream[int]) *dstream.DStream[int] {
				z := dstream.Map(x, func(v int) int { return -v })
				return dstream.Union(x, y, z)
			}, 4, opt)
			dstreamtest.Equal(t, out, [][]int{{1, 2, 10, -1, -2}, {20, 30}, {3, -3}, {}})
		})
		t.Run("one stream", func(t *testing.T) {
			out := mustRun(t, a, func(x *dstream.DStream[int]) *dstream.DStream[int] { return dstream.Union(x) }, 4, opt)
			dstreamtest.Equal(t, out, [][]int{{1, 2}, {}, {3}, {}})
		})
	})
}

func TestCount(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[int] { return s.Count() }, 5, dstreamtest.Partitions(parts))
		// One element per batch, 0 for the empty batch and those beyond
		// the input.
		dstreamtest.Equal(t, out, [][]int{{4}, {0}, {3}, {0}, {0}})
	})
}

func TestReduce(t *testing.T) {
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[int] {
			return s.Reduce(func(a, b int) int { return a + b })
		}, 4, dstreamtest.Partitions(parts))
		// An empty batch gives no element at all.
		dstreamtest.Equal(t, out, [][]int{{10}, {}, {18}, {}})
	})
}

func TestCountByValue(t *testing.T) {
	in := [][]string{{"a", "b", "a", "c", "a"}, {}, {"b", "b"}}
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, in, func(s *dstream.DStream[string]) *dstream.DStream[rdd.Pair[string, int]] {
			return dstream.CountByValue(s)
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, int]{
			{rdd.KV("a", 3), rdd.KV("b", 1), rdd.KV("c", 1)}, {}, {rdd.KV("b", 2)}, {},
		})
	})
	t.Run("NumPartitions", func(t *testing.T) {
		out := mustRun(t, in, func(s *dstream.DStream[string]) *dstream.DStream[int] {
			return dstream.Glom(dstream.CountByValue(s, rdd.NumPartitions(5))).Count()
		}, 2)
		dstreamtest.Equal(t, out, [][]int{{5}, {5}})
	})
}

// TestWordCount is the classic streaming word count: FlatMap, Map to
// pairs, ReduceByKey, over batches with text, without text and beyond the
// input.
func TestWordCount(t *testing.T) {
	in := [][]string{{"to be or", "not to be"}, {}, {"be quick"}}
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, in, func(lines *dstream.DStream[string]) *dstream.DStream[rdd.Pair[string, int]] {
			words := dstream.FlatMap(lines, strings.Fields)
			ones := dstream.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
			return dstream.ReduceByKey(ones, func(a, b int) int { return a + b })
		}, 4, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, int]{
			{rdd.KV("to", 2), rdd.KV("be", 2), rdd.KV("or", 1), rdd.KV("not", 1)},
			{},
			{rdd.KV("be", 1), rdd.KV("quick", 1)},
			{},
		})
	})
}

// tagged is an element with the time of the batch it was seen in.
type tagged struct {
	V  int
	Ms int64
}

func TestTransform(t *testing.T) {
	const interval = 500 * time.Millisecond
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[tagged] {
			return dstream.Transform(s, func(r *rdd.RDD[int], bt time.Time) *rdd.RDD[tagged] {
				return rdd.Map(r, func(v int) tagged { return tagged{v, bt.UnixMilli()} })
			})
		}, 4, dstreamtest.Partitions(parts), dstreamtest.Interval(interval))
		// Batch k (from 1) runs at k×500ms after the Unix epoch.
		dstreamtest.Equal(t, out, [][]tagged{
			{{1, 500}, {2, 500}, {3, 500}, {4, 500}},
			{},
			{{5, 1500}, {6, 1500}, {7, 1500}},
			{},
		})
	})
}

func TestTransformCanUseRDDOperations(t *testing.T) {
	// A Transform may combine the batch with a static RDD, Spark's usual
	// way of joining a stream with reference data.
	out := mustRun(t, [][]string{{"a", "b", "x"}, {"b"}}, func(s *dstream.DStream[string]) *dstream.DStream[string] {
		static := rdd.Parallelize(s.Context().Engine(), []rdd.Pair[string, int]{rdd.KV("a", 1), rdd.KV("b", 2)}, 2)
		return dstream.Transform(s, func(r *rdd.RDD[string], _ time.Time) *rdd.RDD[string] {
			keyed := rdd.Map(r, func(w string) rdd.Pair[string, struct{}] { return rdd.KV(w, struct{}{}) })
			joined := rdd.Join(keyed, static)
			return rdd.Map(joined, func(p rdd.Pair[string, rdd.Joined[struct{}, int]]) string {
				return fmt.Sprint(p.Key, p.Value.Right)
			})
		})
	}, 3)
	dstreamtest.EqualUnordered(t, out, [][]string{{"a1", "b2"}, {"b2"}, {}})
}

func TestTransformWith(t *testing.T) {
	nums := [][]int{{1, 2}, {}, {3}}
	words := [][]string{{"x"}, {"y", "z"}}
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun2(t, nums, words, func(a *dstream.DStream[int], b *dstream.DStream[string]) *dstream.DStream[string] {
			return dstream.TransformWith(a, b, func(ra *rdd.RDD[int], rb *rdd.RDD[string], bt time.Time) *rdd.RDD[string] {
				left := rdd.Map(ra, func(v int) string { return fmt.Sprintf("%d@%d", v, bt.UnixMilli()) })
				return left.Union(rb)
			})
		}, 4, dstreamtest.Partitions(parts), dstreamtest.Interval(2*time.Second))
		dstreamtest.Equal(t, out, [][]string{{"1@2000", "2@2000", "x"}, {"y", "z"}, {"3@6000"}, {}})
	})
}

func TestTransformNilRDD(t *testing.T) {
	_, err := dstreamtest.Run(limitCtx(t), ints, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		return dstream.Transform(s, func(*rdd.RDD[int], time.Time) *rdd.RDD[int] { return nil })
	}, 2)
	if err == nil {
		t.Fatal("Run succeeded with a Transform function returning nil")
	}
	for _, want := range []string{"Transform", "nil RDD", "rdd.Empty", "batch 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestTransformPanicStopsContext(t *testing.T) {
	r := newRig(t, time.Second)
	src := rigQueue(r, 2, []int{1}, []int{2})
	out := dstream.Transform(src, func(in *rdd.RDD[int], bt time.Time) *rdd.RDD[int] {
		if bt.Equal(r.batchTime(2)) {
			panic("transform boom")
		}
		return in
	})
	var batches atomic.Int32
	if err := out.ForeachRDD(func(context.Context, *rdd.RDD[int], time.Time) error {
		batches.Add(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r.start()
	r.step(1)
	r.advance()
	err := r.awaitTermination()
	var pe *dstream.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("AwaitTermination = %v, want a *dstream.PanicError", err)
	}
	if pe.Value != "transform boom" {
		t.Errorf("PanicError.Value = %#v, want %q", pe.Value, "transform boom")
	}
	if !strings.Contains(pe.Where, "Transform") {
		t.Errorf("PanicError.Where = %q, want it to name the Transform function", pe.Where)
	}
	if !strings.Contains(string(pe.Stack), "ops_test.go") {
		t.Errorf("PanicError.Stack does not show the panicking function:\n%s", pe.Stack)
	}
	if got := r.ssc.State(); got != dstream.Stopped {
		t.Errorf("State() = %v, want stopped", got)
	}
	if n := batches.Load(); n != 1 {
		t.Errorf("the output operation ran for %d batches, want 1 (the batch before the panic)", n)
	}
}

// --- QueueStream and ConstantInputStream ------------------------------

func TestQueueStream(t *testing.T) {
	ctx := limitCtx(t)
	run := func(t *testing.T, oneAtATime, withDefault bool) [][]int {
		t.Helper()
		out, err := dstreamtest.Run(ctx, nil, func(s *dstream.DStream[int]) *dstream.DStream[int] {
			ec := s.Context().Engine()
			q := dstream.NewQueue(rdd.Parallelize(ec, []int{1, 2}, 2), rdd.Parallelize(ec, []int{3}, 1))
			q.Push(rdd.Parallelize(ec, []int{4, 5, 6}, 3))
			if q.Len() != 3 {
				t.Errorf("Queue.Len() = %d, want 3", q.Len())
			}
			var def *rdd.RDD[int]
			if withDefault {
				def = rdd.Parallelize(ec, []int{-1}, 1)
			}
			return dstream.QueueStream(s.Context(), q, oneAtATime, def)
		}, 4)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Run("one at a time", func(t *testing.T) {
		dstreamtest.Equal(t, run(t, true, false), [][]int{{1, 2}, {3}, {4, 5, 6}, {}})
	})
	t.Run("all at once", func(t *testing.T) {
		// The union keeps the queue's order.
		dstreamtest.Equal(t, run(t, false, false), [][]int{{1, 2, 3, 4, 5, 6}, {}, {}, {}})
	})
	t.Run("default RDD", func(t *testing.T) {
		dstreamtest.Equal(t, run(t, true, true), [][]int{{1, 2}, {3}, {4, 5, 6}, {-1}})
	})
}

func TestQueueStreamPushWhileRunning(t *testing.T) {
	r := newRig(t, time.Second)
	q := dstream.NewQueue[int]()
	got := make(chan []int, 8)
	if err := dstream.QueueStream(r.ssc, q, false, nil).ForeachRDD(func(ctx context.Context, x *rdd.RDD[int], _ time.Time) error {
		v, err := x.Collect(ctx)
		got <- v
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r.start()
	q.Push(rdd.Parallelize(r.ec, []int{1}, 1), rdd.Parallelize(r.ec, []int{2, 3}, 2))
	r.step(1)
	r.step(2)
	q.Push(rdd.Parallelize(r.ec, []int{4}, 1))
	r.step(3)
	want := [][]int{{1, 2, 3}, {}, {4}}
	for k, w := range want {
		if g := <-got; !slices.Equal(g, w) {
			t.Errorf("batch %d = %v, want %v", k+1, g, w)
		}
	}
	if q.Len() != 0 {
		t.Errorf("Queue.Len() = %d after the batches took everything, want 0", q.Len())
	}
}

func TestConstantInputStream(t *testing.T) {
	out := mustRun(t, nil, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		return dstream.ConstantInputStream(s.Context(), rdd.Parallelize(s.Context().Engine(), []int{7, 8}, 2))
	}, 3)
	dstreamtest.Equal(t, out, [][]int{{7, 8}, {7, 8}, {7, 8}})
}

// TestConstantInputStreamKeepsUserCache checks that the stream does not
// unpersist an RDD the user cached when the batches that used it are
// forgotten: the RDD is computed once however many batches read it.
func TestConstantInputStreamKeepsUserCache(t *testing.T) {
	var calls atomic.Int64
	out := mustRun(t, nil, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		base := rdd.Parallelize(s.Context().Engine(), []int{1, 2, 3}, 2)
		cached := rdd.Map(base, func(x int) int { calls.Add(1); return x }).Cache()
		return dstream.ConstantInputStream(s.Context(), cached)
	}, 4)
	dstreamtest.Equal(t, out, [][]int{{1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {1, 2, 3}})
	if n := calls.Load(); n != 3 {
		t.Errorf("the cached RDD's map function ran %d times over 4 batches, want 3 (computed once)", n)
	}
}

// --- Persist ----------------------------------------------------------

// runTwoOutputs runs a Map over ints counted in calls, persisted or not,
// under two output operations (the harness's and one more), and returns
// how often the map function ran.
func runTwoOutputs(t *testing.T, persist bool) int64 {
	t.Helper()
	var calls atomic.Int64
	var persisted atomic.Int32
	out := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		m := dstream.Map(s, func(x int) int { calls.Add(1); return x * 2 })
		if persist {
			if m.Persist() != m {
				t.Error("Persist did not return its receiver")
			}
		}
		if err := m.ForeachRDD(func(ctx context.Context, r *rdd.RDD[int], _ time.Time) error {
			if r.Persisted() {
				persisted.Add(1)
			}
			_, err := r.Count(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return m
	}, 4)
	dstreamtest.Equal(t, out, [][]int{{2, 4, 6, 8}, {}, {10, 12, 14}, {}})
	if persist && persisted.Load() != 4 {
		t.Errorf("the RDD was persisted in %d of 4 batches", persisted.Load())
	}
	if !persist && persisted.Load() != 0 {
		t.Errorf("the RDD was persisted in %d batches without Persist", persisted.Load())
	}
	return calls.Load()
}

func TestPersist(t *testing.T) {
	const elements = 7 // in ints
	t.Run("persisted", func(t *testing.T) {
		if n := runTwoOutputs(t, true); n != elements {
			t.Errorf("map function ran %d times, want %d (once per element)", n, elements)
		}
	})
	t.Run("not persisted", func(t *testing.T) {
		// The control: the same pipeline recomputes the batch for each
		// output operation, so the count above measures Persist.
		if n := runTwoOutputs(t, false); n != 2*elements {
			t.Errorf("map function ran %d times, want %d (once per element and output)", n, 2*elements)
		}
	})
}

// --- Slice ------------------------------------------------------------

func TestSlice(t *testing.T) {
	r := newRig(t, time.Second)
	batches := [][]int{{1, 2}, {3}, {4, 5, 6}, {7}}
	src := rigQueue(r, 2, batches...)
	if _, err := src.Slice(r.batchTime(1), r.batchTime(1)); err == nil || !strings.Contains(err.Error(), "active") {
		t.Errorf("Slice before Start: err = %v, want one saying the context must be active", err)
	}
	if err := r.ssc.Remember(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	type result struct {
		got [][]int
		err error
	}
	results := make(chan result, 1)
	if err := src.ForeachRDD(func(ctx context.Context, _ *rdd.RDD[int], bt time.Time) error {
		if !bt.Equal(r.batchTime(3)) {
			return nil
		}
		var res result
		defer func() { results <- res }()
		if _, err := src.Slice(r.batchTime(3), r.batchTime(1)); err == nil {
			res.err = errors.New("Slice(to before from) succeeded")
			return nil
		}
		rs, err := src.Slice(r.batchTime(1), r.batchTime(3))
		if err != nil {
			res.err = err
			return nil
		}
		if len(rs) != 3 {
			res.err = fmt.Errorf("Slice(batch 1, batch 3) returned %d RDDs, want 3", len(rs))
			return nil
		}
		for _, x := range rs {
			v, err := x.Collect(ctx)
			if err != nil {
				res.err = err
				return nil
			}
			res.got = append(res.got, v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r.start()
	for k := 1; k <= 3; k++ {
		r.step(k)
	}
	select {
	case res := <-results:
		if res.err != nil {
			t.Fatal(res.err)
		}
		if fmt.Sprint(res.got) != fmt.Sprint(batches[:3]) {
			t.Errorf("Slice(batch 1, batch 3) = %v, want %v", res.got, batches[:3])
		}
	default:
		t.Fatal("the output operation of batch 3 did not report")
	}
}

// --- Batch times --------------------------------------------------------

// TestBatchTimesAlignedToUnixEpoch checks that batch times are multiples
// of the batch interval counted from the Unix epoch (as Spark's are, and
// as dstreamtest assumes), also for an interval that does not divide the
// time between Go's zero time and the epoch.
func TestBatchTimesAlignedToUnixEpoch(t *testing.T) {
	for _, interval := range []time.Duration{time.Second, 700 * time.Millisecond, 7 * time.Second} {
		t.Run(interval.String(), func(t *testing.T) {
			r := newRig(t, interval)
			if err := rigQueue[int](r, 1).ForeachRDD(func(context.Context, *rdd.RDD[int], time.Time) error { return nil }); err != nil {
				t.Fatal(err)
			}
			r.start()
			r.advance()
			e := r.rec.waitFor(t, "BatchCompleted", func(e metrics.Event) bool {
				_, ok := e.(metrics.BatchCompleted)
				return ok
			})
			if got, want := e.(metrics.BatchCompleted).Info.BatchTime, r.batchTime(1); !got.Equal(want) {
				t.Errorf("first batch at %d ms, want %d ms (one interval after the epoch)", got.UnixMilli(), want.UnixMilli())
			}
		})
	}
}
