package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Listener receives events from a [Bus]. OnEvent is called from the bus's
// delivery goroutine, one event at a time, in posting order; it should
// return quickly, because every other listener waits for it.
type Listener interface {
	OnEvent(e Event)
}

// ListenerFunc adapts a function to [Listener].
type ListenerFunc func(e Event)

// OnEvent calls f(e).
func (f ListenerFunc) OnEvent(e Event) { f(e) }

// DefaultQueueCapacity is the number of undelivered events a [Bus] holds
// before it starts dropping.
const DefaultQueueCapacity = 10000

// BusOption configures a [Bus].
type BusOption func(*Bus)

// QueueCapacity sets how many undelivered events the bus holds before it
// drops new ones. Values below 1 are raised to 1.
// Default: [DefaultQueueCapacity].
func QueueCapacity(n int) BusOption {
	return func(b *Bus) { b.capacity = max(n, 1) }
}

// Logger sets where the bus reports panicking listeners.
// Default: [slog.Default].
func Logger(l *slog.Logger) BusOption {
	return func(b *Bus) { b.log = l }
}

// Bus delivers events to listeners asynchronously. Create it with
// [NewBus] and start delivery with [Bus.Run].
type Bus struct {
	capacity int
	log      *slog.Logger
	queue    chan envelope

	mu        sync.Mutex                       // serialises Subscribe and unsubscribe
	listeners atomic.Pointer[[]*listenerEntry] // copy-on-write, read by Run without locking

	dropped atomic.Int64
}

type listenerEntry struct{ l Listener }

// envelope is a queue item: an event, or a flush marker whose channel is
// closed once everything before it was delivered.
type envelope struct {
	event Event
	flush chan struct{}
}

// NewBus returns a bus with no listeners. Events posted before Run starts
// are queued (up to the capacity).
func NewBus(opts ...BusOption) *Bus {
	b := &Bus{capacity: DefaultQueueCapacity, log: slog.Default()}
	for _, o := range opts {
		o(b)
	}
	b.queue = make(chan envelope, b.capacity)
	b.listeners.Store(&[]*listenerEntry{})
	return b
}

// Subscribe adds a listener and returns a function that removes it.
// A listener added while events are in flight sees the events delivered
// after it was added.
func (b *Bus) Subscribe(l Listener) (unsubscribe func()) {
	e := &listenerEntry{l: l}
	b.mu.Lock()
	next := append(append([]*listenerEntry(nil), *b.listeners.Load()...), e)
	b.listeners.Store(&next)
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		var next []*listenerEntry
		for _, x := range *b.listeners.Load() {
			if x != e {
				next = append(next, x)
			}
		}
		b.listeners.Store(&next)
	}
}

// Post queues e for delivery without blocking. It reports false, and
// counts the event in [Bus.Dropped], when the queue is full.
func (b *Bus) Post(e Event) bool {
	select {
	case b.queue <- envelope{event: e}:
		return true
	default:
		b.dropped.Add(1)
		return false
	}
}

// Dropped returns how many events were dropped because the queue was full.
func (b *Bus) Dropped() int64 { return b.dropped.Load() }

// Flush waits until every event posted before the call has been delivered
// to the listeners, or until ctx is done. It needs Run to be running.
func (b *Bus) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case b.queue <- envelope{flush: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run delivers events until ctx is done, then delivers what is still
// queued and returns nil. Run must be called at most once at a time.
func (b *Bus) Run(ctx context.Context) error {
	for {
		select {
		case env := <-b.queue:
			b.deliver(env)
		case <-ctx.Done():
			for {
				select {
				case env := <-b.queue:
					b.deliver(env)
				default:
					return nil
				}
			}
		}
	}
}

func (b *Bus) deliver(env envelope) {
	if env.flush != nil {
		close(env.flush)
		return
	}
	for _, e := range *b.listeners.Load() {
		b.call(e.l, env.event)
	}
}

func (b *Bus) call(l Listener, e Event) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Error("metrics: listener panicked; event skipped for it",
				"listener", fmt.Sprintf("%T", l), "event", fmt.Sprintf("%T", e),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	l.OnEvent(e)
}
