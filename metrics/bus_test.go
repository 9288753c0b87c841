package metrics

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func runBus(t *testing.T, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func flush(t *testing.T, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func TestBusDeliversInOrderToEveryListener(t *testing.T) {
	b := NewBus()
	var a, c []int
	b.Subscribe(ListenerFunc(func(e Event) { a = append(a, e.(TaskStarted).Partition) }))
	b.Subscribe(ListenerFunc(func(e Event) { c = append(c, e.(TaskStarted).Partition) }))
	runBus(t, b)
	for i := range 100 {
		if !b.Post(TaskStarted{Partition: i}) {
			t.Fatalf("Post %d dropped", i)
		}
	}
	flush(t, b)
	if len(a) != 100 || len(c) != 100 {
		t.Fatalf("delivered %d and %d events, want 100 each", len(a), len(c))
	}
	for i := range 100 {
		if a[i] != i || c[i] != i {
			t.Fatalf("event %d out of order: %d, %d", i, a[i], c[i])
		}
	}
}

func TestBusDropsWhenFull(t *testing.T) {
	b := NewBus(QueueCapacity(2))
	// Run is not started, so the queue fills up.
	b.Post(JobStarted{JobID: 1})
	b.Post(JobStarted{JobID: 2})
	if b.Post(JobStarted{JobID: 3}) {
		t.Fatal("third Post into a queue of 2 was accepted")
	}
	if got := b.Dropped(); got != 1 {
		t.Fatalf("Dropped() = %d, want 1", got)
	}
	var got []int
	b.Subscribe(ListenerFunc(func(e Event) { got = append(got, e.(JobStarted).JobID) }))
	runBus(t, b)
	flush(t, b)
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("delivered %v, want [1 2]", got)
	}
}

func TestBusSurvivesPanickingListener(t *testing.T) {
	var logs bytes.Buffer
	b := NewBus(Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	n := 0
	b.Subscribe(ListenerFunc(func(Event) { panic("boom") }))
	b.Subscribe(ListenerFunc(func(Event) { n++ }))
	runBus(t, b)
	b.Post(JobEnded{JobID: 1})
	b.Post(JobEnded{JobID: 2})
	flush(t, b)
	if n != 2 {
		t.Fatalf("second listener got %d events, want 2", n)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("panic not logged; log: %q", logs.String())
	}
}

func TestBusUnsubscribe(t *testing.T) {
	b := NewBus()
	n := 0
	unsubscribe := b.Subscribe(ListenerFunc(func(Event) { n++ }))
	runBus(t, b)
	b.Post(TaskEnded{})
	flush(t, b)
	unsubscribe()
	b.Post(TaskEnded{})
	flush(t, b)
	if n != 1 {
		t.Fatalf("listener got %d events, want 1 (one before unsubscribe)", n)
	}
}

func TestBusFlushHonoursContext(t *testing.T) {
	b := NewBus() // not running: Flush can never complete
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Flush(ctx); err != context.Canceled {
		t.Fatalf("Flush on cancelled context = %v, want context.Canceled", err)
	}
}

func TestBusRunDrainsOnStop(t *testing.T) {
	b := NewBus()
	n := 0
	b.Subscribe(ListenerFunc(func(Event) { n++ }))
	for range 5 {
		b.Post(StageSkipped{})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n != 5 {
		t.Fatalf("Run delivered %d queued events on stop, want 5", n)
	}
}
