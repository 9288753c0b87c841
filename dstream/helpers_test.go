package dstream_test

// Helpers for the receiver, socket, file stream and context tests. Every
// name starts with "rt" so that it cannot collide with the helpers of the
// transformation and output tests.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// rtTimeout bounds every wait of these tests.
const rtTimeout = 10 * time.Second

// rtEpoch is where the manual clock of rtNewContext starts.
var rtEpoch = time.Unix(0, 0)

// rtAt returns the time d after rtEpoch.
func rtAt(d time.Duration) time.Time { return rtEpoch.Add(d) }

// rtNewContext returns a streaming context with the given batch interval
// on an engine and a manual clock starting at rtEpoch. The context is
// stopped (hard) and the engine closed when the test ends.
func rtNewContext(t testing.TB, interval time.Duration, opts ...dstream.Option) (*dstream.StreamingContext, *clock.Manual) {
	t.Helper()
	m := clock.NewManual(rtEpoch)
	quiet := slog.New(slog.DiscardHandler) // receiver errors are expected here
	ec, err := engine.New(engine.Slots(2), engine.WithClock(m), engine.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ec.Close() })
	ssc, err := dstream.NewStreamingContext(ec, interval, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), rtTimeout)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = ssc.Stop(ctx, false)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			t.Errorf("cleanup: hard Stop did not return within %v", rtTimeout)
		}
	})
	return ssc, m
}

// rtCtx returns a context that ends after rtTimeout or with the test.
func rtCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), rtTimeout)
	t.Cleanup(cancel)
	return ctx
}

// rtStart starts ssc and fails the test on an error.
func rtStart(t testing.TB, ssc *dstream.StreamingContext) {
	t.Helper()
	if err := ssc.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// rtRecorder records every event posted on a streaming context's bus and
// lets a test wait for the ones it expects.
type rtRecorder struct {
	mu      sync.Mutex
	events  []metrics.Event
	changed chan struct{} // closed and replaced on every event
}

// rtRecord subscribes a recorder to ssc's bus. Subscribe it before Start
// to see metrics.StreamingStarted.
func rtRecord(t testing.TB, ssc *dstream.StreamingContext) *rtRecorder {
	r := &rtRecorder{changed: make(chan struct{})}
	remove := ssc.AddListener(metrics.ListenerFunc(func(e metrics.Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}))
	t.Cleanup(remove)
	return r
}

// all returns the events recorded so far.
func (r *rtRecorder) all() []metrics.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// count returns how many recorded events match.
func (r *rtRecorder) count(match func(metrics.Event) bool) int {
	n := 0
	for _, e := range r.all() {
		if match(e) {
			n++
		}
	}
	return n
}

// waitN waits until n recorded events match and returns the n-th. It
// fails the test after rtTimeout, naming what it waited for.
func (r *rtRecorder) waitN(t testing.TB, n int, what string, match func(metrics.Event) bool) metrics.Event {
	t.Helper()
	deadline := time.NewTimer(rtTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		seen := 0
		for _, e := range r.events {
			if match(e) {
				seen++
				if seen == n {
					r.mu.Unlock()
					return e
				}
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s (#%d); saw %d; events:\n%s", rtTimeout, what, n, seen, rtFormat(r.all()))
			return nil
		}
	}
}

// rtFormat prints events one per line for failure messages.
func rtFormat(events []metrics.Event) string {
	var b []byte
	for _, e := range events {
		b = fmt.Appendf(b, "  %T %+v\n", e, e)
	}
	return string(b)
}

// waitBatch waits for the BatchCompleted of the batch at bt and returns
// its report.
func (r *rtRecorder) waitBatch(t testing.TB, bt time.Time) metrics.BatchInfo {
	t.Helper()
	e := r.waitN(t, 1, "BatchCompleted at "+bt.Sub(rtEpoch).String(), func(e metrics.Event) bool {
		b, ok := e.(metrics.BatchCompleted)
		return ok && b.Info.BatchTime.Equal(bt)
	})
	return e.(metrics.BatchCompleted).Info
}

// waitStarted waits for the n-th ReceiverStarted event.
func (r *rtRecorder) waitStarted(t testing.TB, n int) metrics.ReceiverStarted {
	t.Helper()
	return r.waitN(t, n, "ReceiverStarted", rtIs[metrics.ReceiverStarted]).(metrics.ReceiverStarted)
}

// waitStopped waits for the n-th ReceiverStopped event.
func (r *rtRecorder) waitStopped(t testing.TB, n int) metrics.ReceiverStopped {
	t.Helper()
	return r.waitN(t, n, "ReceiverStopped", rtIs[metrics.ReceiverStopped]).(metrics.ReceiverStopped)
}

// waitError waits for the n-th ReceiverError event.
func (r *rtRecorder) waitError(t testing.TB, n int) metrics.ReceiverError {
	t.Helper()
	return r.waitN(t, n, "ReceiverError", rtIs[metrics.ReceiverError]).(metrics.ReceiverError)
}

// waitStreamingStopped waits for the StreamingStopped event.
func (r *rtRecorder) waitStreamingStopped(t testing.TB) metrics.StreamingStopped {
	t.Helper()
	return r.waitN(t, 1, "StreamingStopped", rtIs[metrics.StreamingStopped]).(metrics.StreamingStopped)
}

// rtIs matches events of type E.
func rtIs[E metrics.Event](e metrics.Event) bool {
	_, ok := e.(E)
	return ok
}

// rtBatches collects what an output operation saw, per batch time: the
// elements of each partition.
type rtBatches[T any] struct {
	mu    sync.Mutex
	parts map[time.Time][][]T
	order []time.Time
}

// rtCollect registers a ForeachRDD on s that collects every batch.
func rtCollect[T any](t testing.TB, s *dstream.DStream[T]) *rtBatches[T] {
	t.Helper()
	b := &rtBatches[T]{parts: map[time.Time][][]T{}}
	err := s.ForeachRDD(func(ctx context.Context, r *rdd.RDD[T], bt time.Time) error {
		parts, err := rdd.Glom(r).Collect(ctx)
		if err != nil {
			return err
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		b.parts[bt] = parts
		b.order = append(b.order, bt)
		return nil
	})
	if err != nil {
		t.Fatalf("ForeachRDD: %v", err)
	}
	return b
}

// get returns the elements of the batch at bt (in partition order) and
// whether the batch ran.
func (b *rtBatches[T]) get(bt time.Time) ([]T, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	parts, ok := b.parts[bt]
	return slices.Concat(parts...), ok
}

// partitions returns the partitions of the batch at bt.
func (b *rtBatches[T]) partitions(bt time.Time) [][]T {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.parts[bt]
}

// times returns the batch times seen, in the order the batches ran.
func (b *rtBatches[T]) times() []time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.order)
}

// all returns every element seen so far, in batch order.
func (b *rtBatches[T]) all() []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []T
	for _, bt := range b.order {
		out = append(out, slices.Concat(b.parts[bt]...)...)
	}
	return out
}

// rtWant checks the elements of the batch at bt.
func rtWant[T comparable](t testing.TB, b *rtBatches[T], bt time.Time, want ...T) {
	t.Helper()
	got, ok := b.get(bt)
	if !ok {
		t.Fatalf("batch %v did not run; batches: %v", bt.Sub(rtEpoch), b.times())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("batch %v: got %v, want %v", bt.Sub(rtEpoch), got, want)
	}
}

// rtReceiver is a test Receiver[int]: OnStart starts a goroutine that
// stores the values the test hands it with store; OnStop makes it return.
// onStart, when set, runs first in every OnStart with the call's number
// (from 1) and may fail or panic.
type rtReceiver struct {
	onStart func(n int, h *dstream.ReceiverHandle[int]) error

	in     chan rtStoreReq
	starts atomic.Int32 // OnStart calls
	stops  atomic.Int32 // OnStop calls

	mu     sync.Mutex
	h      *dstream.ReceiverHandle[int] // of the running incarnation
	quit   chan struct{}
	wg     sync.WaitGroup
	handle chan *dstream.ReceiverHandle[int] // every successful OnStart's handle
}

type rtStoreReq struct {
	vals []int
	done chan error
}

var _ dstream.Receiver[int] = (*rtReceiver)(nil)

func rtNewReceiver() *rtReceiver {
	return &rtReceiver{in: make(chan rtStoreReq), handle: make(chan *dstream.ReceiverHandle[int], 100)}
}

func (r *rtReceiver) OnStart(h *dstream.ReceiverHandle[int]) error {
	n := int(r.starts.Add(1))
	if r.onStart != nil {
		if err := r.onStart(n, h); err != nil {
			return err
		}
	}
	quit := make(chan struct{})
	r.mu.Lock()
	r.h, r.quit = h, quit
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			select {
			case req := <-r.in:
				req.done <- h.StoreMany(req.vals)
			case <-quit:
				return
			}
		}
	}()
	r.handle <- h
	return nil
}

func (r *rtReceiver) OnStop() {
	r.mu.Lock()
	quit := r.quit
	r.quit = nil
	r.mu.Unlock()
	if quit != nil {
		close(quit)
	}
	r.wg.Wait()
	r.stops.Add(1)
}

// current returns the handle of the running incarnation.
func (r *rtReceiver) current() *dstream.ReceiverHandle[int] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h
}

// store has the receiving goroutine store vals and waits until it has;
// it fails the test when Store fails or nobody receives.
func (r *rtReceiver) store(t testing.TB, vals ...int) {
	t.Helper()
	if err := r.tryStore(vals...); err != nil {
		t.Fatalf("store %v: %v", vals, err)
	}
}

// tryStore is store returning the error.
func (r *rtReceiver) tryStore(vals ...int) error {
	req := rtStoreReq{vals: vals, done: make(chan error, 1)}
	timeout := time.NewTimer(rtTimeout)
	defer timeout.Stop()
	select {
	case r.in <- req:
	case <-timeout.C:
		return errors.New("no receiving goroutine took the values")
	}
	select {
	case err := <-req.done:
		return err
	case <-timeout.C:
		return errors.New("the receiving goroutine did not answer")
	}
}

// rtWaiters waits until the manual clock has at least n pending timers,
// tickers or sleepers.
func rtWaiters(t testing.TB, m *clock.Manual, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtTimeout)
	defer cancel()
	if err := m.BlockUntil(ctx, n); err != nil {
		t.Fatalf("waiting for %d clock waiters (have %d): %v", n, m.Waiters(), err)
	}
}

// rtStopAsync runs ssc.Stop in a goroutine; the channel gets its result.
func rtStopAsync(ctx context.Context, ssc *dstream.StreamingContext, graceful bool) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- ssc.Stop(ctx, graceful) }()
	return ch
}

// rtRecv waits for a value on ch for at most rtTimeout.
func rtRecv[V any](t testing.TB, ch <-chan V, what string) V {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(rtTimeout):
		t.Fatalf("timed out after %v waiting for %s", rtTimeout, what)
		var zero V
		return zero
	}
}
