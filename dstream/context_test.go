package dstream_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

func TestNewStreamingContextValidation(t *testing.T) {
	ec, err := engine.New(engine.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ec.Close() })
	tests := []struct {
		name     string
		ec       *engine.Context
		interval time.Duration
		opts     []dstream.Option
		want     string // in the error
	}{
		{"nil engine", nil, time.Second, nil, "nil engine context"},
		{"zero interval", ec, 0, nil, "batch interval must be positive, got 0s"},
		{"negative interval", ec, -time.Second, nil, "batch interval must be positive, got -1s"},
		{"nil clock", ec, time.Second, []dstream.Option{dstream.WithClock(nil)}, "WithClock"},
		{"zero concurrent jobs", ec, time.Second, []dstream.Option{dstream.ConcurrentJobs(0)}, "ConcurrentJobs must be at least 1, got 0"},
		{"zero block interval", ec, time.Second, []dstream.Option{dstream.BlockInterval(0)}, "BlockInterval must be positive, got 0s"},
		{"negative restart delay", ec, time.Second, []dstream.Option{dstream.ReceiverRestartDelay(-time.Millisecond)}, "ReceiverRestartDelay must not be negative, got -1ms"},
		{"nil logger", ec, time.Second, []dstream.Option{dstream.WithLogger(nil)}, "WithLogger"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ssc, err := dstream.NewStreamingContext(tc.ec, tc.interval, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewStreamingContext = %v, %v; want an error containing %q", ssc, err, tc.want)
			}
		})
	}

	m := clock.NewManual(rtEpoch)
	ssc, err := dstream.NewStreamingContext(ec, 2*time.Second, dstream.WithClock(m), dstream.ReceiverRestartDelay(0))
	if err != nil {
		t.Fatal(err)
	}
	if ssc.BatchInterval() != 2*time.Second || ssc.Clock() != clock.Clock(m) || ssc.Engine() != ec || ssc.State() != dstream.Initialized {
		t.Errorf("accessors: interval %v, clock %v, engine %p, state %v", ssc.BatchInterval(), ssc.Clock(), ssc.Engine(), ssc.State())
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[dstream.ContextState]string{dstream.Initialized: "initialized", dstream.Active: "active", dstream.Stopped: "stopped", dstream.ContextState(7): "ContextState(7)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int32(s), got, want)
		}
	}
}

func TestStartValidation(t *testing.T) {
	t.Run("no output operations", func(t *testing.T) {
		ssc, _ := rtNewContext(t, time.Second)
		dstream.ReceiverStream[int](ssc, rtNewReceiver())
		err := ssc.Start()
		if err == nil || !strings.Contains(err.Error(), "no output operations") {
			t.Fatalf("Start = %v, want an error about missing output operations", err)
		}
		if ssc.State() != dstream.Initialized {
			t.Errorf("State() = %v after a failed Start, want initialized", ssc.State())
		}
	})
	t.Run("twice and changes after Start", func(t *testing.T) {
		ssc, _ := rtNewContext(t, time.Second)
		s := dstream.ReceiverStream[int](ssc, rtNewReceiver())
		rtCollect(t, s)
		rtStart(t, ssc)
		if err := ssc.Start(); !errors.Is(err, dstream.ErrStarted) {
			t.Errorf("second Start = %v, want ErrStarted", err)
		}
		if err := dstream.ReceiverStream[int](ssc, rtNewReceiver()).Err(); !errors.Is(err, dstream.ErrStarted) {
			t.Errorf("ReceiverStream after Start: Err() = %v, want ErrStarted", err)
		}
		if err := s.ForeachRDD(func(context.Context, *rdd.RDD[int], time.Time) error { return nil }); !errors.Is(err, dstream.ErrStarted) {
			t.Errorf("ForeachRDD after Start = %v, want ErrStarted", err)
		}
		if err := ssc.Remember(time.Minute); !errors.Is(err, dstream.ErrStarted) {
			t.Errorf("Remember after Start = %v, want ErrStarted", err)
		}
	})
	t.Run("closed engine", func(t *testing.T) {
		ssc, _ := rtNewContext(t, time.Second)
		rtCollect(t, dstream.ReceiverStream[int](ssc, rtNewReceiver()))
		_ = ssc.Engine().Close()
		if err := ssc.Start(); !errors.Is(err, engine.ErrClosed) {
			t.Fatalf("Start on a closed engine = %v, want engine.ErrClosed", err)
		}
	})
	t.Run("remember", func(t *testing.T) {
		ssc, _ := rtNewContext(t, time.Second)
		if err := ssc.Remember(0); err == nil {
			t.Error("Remember(0) = nil, want an error")
		}
		if err := ssc.Remember(time.Minute); err != nil {
			t.Errorf("Remember(1m) = %v", err)
		}
	})
}

func TestBatchTimes(t *testing.T) {
	t.Run("from zero", func(t *testing.T) {
		ssc, m := rtNewContext(t, time.Second)
		rec := rtRecord(t, ssc)
		out := rtCollect(t, dstream.ReceiverStream[int](ssc, rtNewReceiver()))
		rtStart(t, ssc)
		for k := 1; k <= 3; k++ {
			m.Advance(time.Second)
			info := rec.waitBatch(t, rtAt(time.Duration(k)*time.Second))
			if !info.SubmissionTime.Equal(info.BatchTime) {
				t.Errorf("batch %d submitted at %v, want at its batch time", k, info.SubmissionTime.Sub(rtEpoch))
			}
		}
		want := []time.Time{rtAt(time.Second), rtAt(2 * time.Second), rtAt(3 * time.Second)}
		if got := out.times(); !reflect.DeepEqual(got, want) {
			t.Errorf("batch times = %v, want %v", got, want)
		}
	})
	t.Run("started between batch times", func(t *testing.T) {
		ssc, m := rtNewContext(t, time.Second)
		rec := rtRecord(t, ssc)
		out := rtCollect(t, dstream.ReceiverStream[int](ssc, rtNewReceiver()))
		m.Advance(2500 * time.Millisecond)
		rtStart(t, ssc)
		m.Advance(500 * time.Millisecond)
		rec.waitBatch(t, rtAt(3*time.Second))
		m.Advance(time.Second)
		rec.waitBatch(t, rtAt(4*time.Second))
		want := []time.Time{rtAt(3 * time.Second), rtAt(4 * time.Second)}
		if got := out.times(); !reflect.DeepEqual(got, want) {
			t.Errorf("batch times = %v, want %v", got, want)
		}
	})
	t.Run("aligned to the Unix epoch", func(t *testing.T) {
		// 700ms does not divide the time between Go's zero time and the
		// Unix epoch; batch times still are multiples of it since 1970.
		ssc, m := rtNewContext(t, 700*time.Millisecond)
		rec := rtRecord(t, ssc)
		rtCollect(t, dstream.ReceiverStream[int](ssc, rtNewReceiver()))
		m.Advance(time.Second)
		rtStart(t, ssc)
		m.Advance(400 * time.Millisecond)
		rec.waitBatch(t, rtAt(1400*time.Millisecond))
	})
	t.Run("clock jumps over several batches", func(t *testing.T) {
		ssc, m := rtNewContext(t, time.Second)
		rec := rtRecord(t, ssc)
		out := rtCollect(t, dstream.ReceiverStream[int](ssc, rtNewReceiver()))
		rtStart(t, ssc)
		m.Advance(3 * time.Second)
		rec.waitBatch(t, rtAt(3*time.Second))
		want := []time.Time{rtAt(time.Second), rtAt(2 * time.Second), rtAt(3 * time.Second)}
		if got := out.times(); !reflect.DeepEqual(got, want) {
			t.Errorf("batch times = %v, want %v (no batch skipped)", got, want)
		}
	})
}

func TestStateTransitions(t *testing.T) {
	ssc, _ := rtNewContext(t, time.Second)
	rtCollect(t, dstream.ReceiverStream[int](ssc, rtNewReceiver()))
	if got := ssc.State(); got != dstream.Initialized {
		t.Fatalf("State() = %v before Start, want initialized", got)
	}
	rtStart(t, ssc)
	if got := ssc.State(); got != dstream.Active {
		t.Fatalf("State() = %v after Start, want active", got)
	}
	if err := ssc.Stop(rtCtx(t), false); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if got := ssc.State(); got != dstream.Stopped {
		t.Fatalf("State() = %v after Stop, want stopped", got)
	}
	if err := ssc.Start(); !errors.Is(err, dstream.ErrStopped) {
		t.Errorf("Start after Stop = %v, want ErrStopped", err)
	}
}

func TestStopBeforeStart(t *testing.T) {
	ssc, _ := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	if err := ssc.Stop(rtCtx(t), true); err != nil {
		t.Fatalf("Stop before Start = %v", err)
	}
	if got := ssc.State(); got != dstream.Stopped {
		t.Errorf("State() = %v, want stopped", got)
	}
	if err := ssc.Start(); !errors.Is(err, dstream.ErrStopped) {
		t.Errorf("Start after Stop = %v, want ErrStopped", err)
	}
	if err := ssc.AwaitTermination(rtCtx(t)); err != nil {
		t.Errorf("AwaitTermination = %v, want nil", err)
	}
	if got := r.starts.Load(); got != 0 {
		t.Errorf("OnStart called %d times, want 0", got)
	}
	if e := rec.waitStreamingStopped(t); e.Err != nil {
		t.Errorf("StreamingStopped.Err = %v, want nil", e.Err)
	}
	if err := ssc.Stop(rtCtx(t), false); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

func TestStopTwice(t *testing.T) {
	for _, graceful := range []bool{false, true} {
		ssc, _ := rtNewContext(t, time.Second)
		rec := rtRecord(t, ssc)
		rtCollect(t, dstream.ReceiverStream[int](ssc, rtNewReceiver()))
		rtStart(t, ssc)
		if err := ssc.Stop(rtCtx(t), graceful); err != nil {
			t.Fatalf("Stop(graceful=%v) = %v", graceful, err)
		}
		if err := ssc.Stop(rtCtx(t), graceful); err != nil {
			t.Fatalf("second Stop(graceful=%v) = %v", graceful, err)
		}
		if err := ssc.Stop(rtCtx(t), !graceful); err != nil {
			t.Fatalf("third Stop(graceful=%v) = %v", !graceful, err)
		}
		rec.waitStreamingStopped(t)
		if err := ssc.Engine().Bus().Flush(rtCtx(t)); err != nil {
			t.Fatal(err)
		}
		if n := rec.count(rtIs[metrics.StreamingStopped]); n != 1 {
			t.Errorf("%d StreamingStopped events, want 1", n)
		}
	}
}

func TestHardStopStopsReceivers(t *testing.T) {
	ssc, _ := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	rec.waitStarted(t, 1)
	h := r.current()
	r.store(t, 1) // not batched: a hard stop drops it

	if err := rtRecv(t, rtStopAsync(rtCtx(t), ssc, false), "hard Stop"); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if got := r.stops.Load(); got != 1 {
		t.Errorf("OnStop called %d times by Stop, want 1", got)
	}
	if err := h.Store(2); !errors.Is(err, dstream.ErrReceiverStopped) {
		t.Errorf("Store after Stop = %v, want ErrReceiverStopped", err)
	}
	if e := rec.waitStopped(t, 1); e.Restarting {
		t.Errorf("ReceiverStopped = %+v, want Restarting false", e)
	}
	if e := rec.waitStreamingStopped(t); e.Err != nil {
		t.Errorf("StreamingStopped.Err = %v, want nil", e.Err)
	}
	if err := ssc.AwaitTermination(rtCtx(t)); err != nil {
		t.Errorf("AwaitTermination = %v, want nil", err)
	}
}

func TestHardStopCancelsRunningJob(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second)
	s := dstream.ReceiverStream[int](ssc, rtNewReceiver())
	running := make(chan struct{})
	jobErr := make(chan error, 1)
	err := s.ForeachRDD(func(ctx context.Context, _ *rdd.RDD[int], bt time.Time) error {
		if bt.Equal(rtAt(time.Second)) {
			close(running)
			<-ctx.Done()
			jobErr <- ctx.Err()
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, ssc)
	m.Advance(time.Second)
	rtRecv(t, running, "the job to start")
	if err := rtRecv(t, rtStopAsync(rtCtx(t), ssc, false), "hard Stop"); err != nil {
		t.Fatalf("Stop = %v, want nil (a job cancelled by Stop is no failure)", err)
	}
	if err := rtRecv(t, jobErr, "the job to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("job context error = %v, want context.Canceled", err)
	}
	if err := ssc.AwaitTermination(rtCtx(t)); err != nil {
		t.Errorf("AwaitTermination = %v, want nil", err)
	}
}

func TestGracefulStopKeepsStoredRecords(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	rec.waitStarted(t, 1)
	r.store(t, 1, 2)
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(time.Second))
	r.store(t, 3, 4) // received, not yet in a batch

	stopped := rtStopAsync(rtCtx(t), ssc, true)
	// The receiver stops first; then Stop waits for the batch at 2s.
	if e := rec.waitStopped(t, 1); e.Restarting {
		t.Errorf("ReceiverStopped = %+v, want Restarting false", e)
	}
	if got := r.stops.Load(); got != 1 {
		t.Errorf("OnStop called %d times, want 1", got)
	}
	select {
	case err := <-stopped:
		t.Fatalf("graceful Stop returned (%v) before the stored records were processed", err)
	default:
	}
	m.Advance(time.Second)
	if err := rtRecv(t, stopped, "graceful Stop"); err != nil {
		t.Fatalf("graceful Stop = %v", err)
	}
	rtWant(t, out, rtAt(2*time.Second), 3, 4)
	if got := out.all(); len(got) != 4 {
		t.Errorf("records processed = %v, want 4 (none lost, none twice)", got)
	}
	if ssc.State() != dstream.Stopped {
		t.Errorf("State() = %v, want stopped", ssc.State())
	}
	if e := rec.waitStreamingStopped(t); e.Err != nil {
		t.Errorf("StreamingStopped.Err = %v", e.Err)
	}
	// The generator stopped after the batch that took the last records.
	if err := ssc.Engine().Bus().Flush(rtCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := rec.count(rtIs[metrics.BatchCompleted]); n != 2 {
		t.Errorf("%d batches completed, want 2", n)
	}
}

func TestGracefulStopWithoutPendingRecords(t *testing.T) {
	// Nothing received and not batched: Stop needs no more batches.
	ssc, _ := rtNewContext(t, time.Second)
	rtCollect(t, dstream.ReceiverStream[int](ssc, rtNewReceiver()))
	rtStart(t, ssc)
	if err := rtRecv(t, rtStopAsync(rtCtx(t), ssc, true), "graceful Stop"); err != nil {
		t.Fatalf("graceful Stop = %v", err)
	}
}

func TestGracefulStopWaitsForRunningBatch(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second)
	s := dstream.ReceiverStream[int](ssc, rtNewReceiver())
	running, release := make(chan struct{}), make(chan struct{})
	finished := make(chan struct{})
	err := s.ForeachRDD(func(ctx context.Context, _ *rdd.RDD[int], bt time.Time) error {
		if bt.Equal(rtAt(time.Second)) {
			close(running)
			<-release
			close(finished)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, ssc)
	m.Advance(time.Second)
	rtRecv(t, running, "the job to start")
	stopped := rtStopAsync(rtCtx(t), ssc, true)
	select {
	case err := <-stopped:
		t.Fatalf("graceful Stop returned (%v) while a batch was running", err)
	default:
	}
	close(release)
	if err := rtRecv(t, stopped, "graceful Stop"); err != nil {
		t.Fatalf("graceful Stop = %v", err)
	}
	select {
	case <-finished:
	default:
		t.Error("graceful Stop returned before the running batch finished")
	}
}

func TestGracefulStopContextExpires(t *testing.T) {
	ssc, _ := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	rec.waitStarted(t, 1)
	r.store(t, 1) // pending: the final batch would need the clock to move

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := rtRecv(t, rtStopAsync(ctx, ssc, true), "graceful Stop")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("graceful Stop with an expiring context = %v, want context.DeadlineExceeded", err)
	}
	if got := ssc.State(); got != dstream.Stopped {
		t.Errorf("State() = %v, want stopped anyway", got)
	}
	if got := r.stops.Load(); got != 1 {
		t.Errorf("OnStop called %d times, want 1", got)
	}
	if err := ssc.AwaitTermination(rtCtx(t)); err != nil {
		t.Errorf("AwaitTermination = %v, want nil (a requested stop)", err)
	}
}

func TestGracefulStopDuringRestartDelay(t *testing.T) {
	// A receiver waiting to restart is stopped at once; a graceful Stop
	// does not wait for the restart delay (which only the clock ends).
	ssc, m := rtNewContext(t, time.Second, dstream.ReceiverRestartDelay(time.Hour))
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	rec.waitStarted(t, 1)
	r.current().Restart("reconnect", nil)
	rec.waitStopped(t, 1)
	rtWaiters(t, m, 2) // the generator's timer and the restart delay

	if err := rtRecv(t, rtStopAsync(rtCtx(t), ssc, true), "graceful Stop"); err != nil {
		t.Fatalf("graceful Stop = %v", err)
	}
	if got := r.starts.Load(); got != 1 {
		t.Errorf("OnStart called %d times, want 1 (no restart after Stop)", got)
	}
}

func TestAwaitTermination(t *testing.T) {
	ssc, _ := rtNewContext(t, time.Second)
	rtCollect(t, dstream.ReceiverStream[int](ssc, rtNewReceiver()))
	rtStart(t, ssc)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := ssc.AwaitTermination(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AwaitTermination on a running context = %v, want context.DeadlineExceeded", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if err := ssc.AwaitTermination(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("AwaitTermination with a cancelled context = %v, want context.Canceled", err)
	}

	awaited := make(chan error, 1)
	go func() { awaited <- ssc.AwaitTermination(context.Background()) }()
	if err := ssc.Stop(rtCtx(t), false); err != nil {
		t.Fatal(err)
	}
	if err := rtRecv(t, awaited, "AwaitTermination"); err != nil {
		t.Errorf("AwaitTermination after Stop = %v, want nil", err)
	}
}

func TestStopFromOutputOperation(t *testing.T) {
	for _, graceful := range []bool{false, true} {
		ssc, m := rtNewContext(t, time.Second)
		rec := rtRecord(t, ssc)
		s := dstream.ReceiverStream[int](ssc, rtNewReceiver())
		stopErr := make(chan error, 1)
		err := s.ForeachRDD(func(ctx context.Context, _ *rdd.RDD[int], bt time.Time) error {
			if bt.Equal(rtAt(2 * time.Second)) {
				stopErr <- ssc.Stop(ctx, graceful)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rtStart(t, ssc)
		m.Advance(2 * time.Second)
		if err := rtRecv(t, stopErr, "Stop called from ForeachRDD"); err != nil {
			t.Errorf("Stop from ForeachRDD (graceful=%v) = %v", graceful, err)
		}
		if err := ssc.AwaitTermination(rtCtx(t)); err != nil {
			t.Errorf("AwaitTermination (graceful=%v) = %v, want nil", graceful, err)
		}
		if got := ssc.State(); got != dstream.Stopped {
			t.Errorf("State() = %v, want stopped", got)
		}
		if e := rec.waitStreamingStopped(t); e.Err != nil {
			t.Errorf("StreamingStopped.Err = %v, want nil", e.Err)
		}
	}
}

func TestBatchEventsInOrder(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	s := dstream.ReceiverStream[int](ssc, r)
	rtCollect(t, s)
	rtCollect(t, s)
	rtStart(t, ssc)
	rec.waitStarted(t, 1)
	r.store(t, 1)
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(time.Second))
	if err := ssc.Stop(rtCtx(t), false); err != nil {
		t.Fatal(err)
	}
	rec.waitStreamingStopped(t)
	if err := ssc.Engine().Bus().Flush(rtCtx(t)); err != nil {
		t.Fatal(err)
	}

	events := rec.all()
	if _, ok := events[0].(metrics.StreamingStarted); !ok {
		t.Errorf("first event = %T, want StreamingStarted", events[0])
	}
	if e, ok := events[len(events)-1].(metrics.StreamingStopped); !ok || e.Err != nil {
		t.Errorf("last event = %T %+v, want StreamingStopped with no error", events[len(events)-1], events[len(events)-1])
	}
	var got []string
	for _, e := range events {
		switch e := e.(type) {
		case metrics.BatchSubmitted:
			got = append(got, "BatchSubmitted")
		case metrics.BatchStarted:
			got = append(got, "BatchStarted")
		case metrics.OutputOperationStarted:
			got = append(got, "OutputOperationStarted "+e.Info.Name)
		case metrics.OutputOperationCompleted:
			got = append(got, "OutputOperationCompleted "+e.Info.Name)
		case metrics.BatchCompleted:
			got = append(got, "BatchCompleted")
		}
	}
	want := []string{"BatchSubmitted", "BatchStarted",
		"OutputOperationStarted ForeachRDD", "OutputOperationCompleted ForeachRDD",
		"OutputOperationStarted ForeachRDD", "OutputOperationCompleted ForeachRDD",
		"BatchCompleted"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("batch events = %v, want %v", got, want)
	}

	var info metrics.BatchInfo
	for _, e := range events {
		if b, ok := e.(metrics.BatchCompleted); ok {
			info = b.Info
		}
	}
	if !info.BatchTime.Equal(rtAt(time.Second)) || len(info.OutputOperations) != 2 || info.Err() != nil {
		t.Fatalf("BatchCompleted info = %+v", info)
	}
	for i, op := range info.OutputOperations {
		if op.ID != i || op.Name != "ForeachRDD" || !strings.Contains(op.Description, "_test.go:") || op.Err != nil {
			t.Errorf("output operation %d = %+v, want ID %d, ForeachRDD at a _test.go line", i, op, i)
		}
	}
	if info.NumRecords() != 1 || info.SchedulingDelay() != 0 || info.TotalDelay() != 0 {
		t.Errorf("batch report: records %d, scheduling delay %v, total delay %v; want 1, 0, 0 (the clock stood still)",
			info.NumRecords(), info.SchedulingDelay(), info.TotalDelay())
	}
}
