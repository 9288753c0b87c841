package dstream_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

type fakeService struct {
	mu       sync.Mutex
	started  bool
	stopped  bool
	startErr error
	events   int
	unsub    func()
}

func (s *fakeService) Start(bus *metrics.Bus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.startErr != nil {
		return s.startErr
	}
	s.started = true
	s.unsub = bus.Subscribe(metrics.ListenerFunc(func(metrics.Event) {
		s.mu.Lock()
		s.events++
		s.mu.Unlock()
	}))
	return nil
}

func (s *fakeService) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.unsub()
	return nil
}

func newServiceContext(t *testing.T, svc dstream.Service) *dstream.StreamingContext {
	t.Helper()
	ec, err := engine.New(engine.WithClock(clock.NewManual(time.Unix(0, 0))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ec.Close() })
	ssc, err := dstream.NewStreamingContext(ec, time.Second, dstream.WithService(svc))
	if err != nil {
		t.Fatal(err)
	}
	src := dstream.QueueStream(ssc, dstream.NewQueue[int](), true, nil)
	if err := src.ForeachRDD(func(context.Context, *rdd.RDD[int], time.Time) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return ssc
}

func TestServiceStartsAndStopsWithContext(t *testing.T) {
	svc := &fakeService{}
	ssc := newServiceContext(t, svc)
	if err := ssc.Start(); err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	started := svc.started
	svc.mu.Unlock()
	if !started {
		t.Fatal("service not started by Start")
	}
	if err := ssc.Stop(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if !svc.stopped {
		t.Fatal("service not stopped by Stop")
	}
}

func TestServiceStartFailureFailsStart(t *testing.T) {
	svc := &fakeService{startErr: errors.New("port taken")}
	ssc := newServiceContext(t, svc)
	err := ssc.Start()
	if err == nil || !strings.Contains(err.Error(), "port taken") {
		t.Fatalf("Start = %v, want the service's error", err)
	}
	if ssc.State() != dstream.Initialized {
		t.Fatalf("state after failed Start = %v, want initialized", ssc.State())
	}
}

func TestNilServiceRejected(t *testing.T) {
	ec, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	if _, err := dstream.NewStreamingContext(ec, time.Second, dstream.WithService(nil)); err == nil {
		t.Fatal("nil service accepted")
	}
}
