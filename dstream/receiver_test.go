package dstream_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/metrics"
)

func TestReceiverStreamNilReceiver(t *testing.T) {
	ssc, _ := rtNewContext(t, time.Second)
	s := dstream.ReceiverStream[int](ssc, nil)
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "receiver must not be nil") {
		t.Fatalf("Err() = %v, want an error saying the receiver must not be nil", err)
	}
}

func TestReceiverRecordsGoToNextBatch(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)

	started := rec.waitStarted(t, 1)
	if !strings.HasPrefix(started.Name, "ReceiverStream") {
		t.Errorf("ReceiverStarted.Name = %q, want it to start with ReceiverStream", started.Name)
	}
	if got := r.starts.Load(); got != 1 {
		t.Fatalf("OnStart called %d times, want 1", got)
	}

	r.store(t, 1, 2)
	r.store(t, 3)
	m.Advance(time.Second)
	info := rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second), 1, 2, 3)
	if len(info.Inputs) != 1 {
		t.Fatalf("BatchInfo.Inputs = %+v, want one input", info.Inputs)
	}
	in := info.Inputs[0]
	if in.Records != 3 || in.StreamID != started.StreamID || in.Name != started.Name || info.NumRecords() != 3 {
		t.Errorf("input info = %+v (NumRecords %d), want 3 records of stream %d (%s)", in, info.NumRecords(), started.StreamID, started.Name)
	}
	if in.Metadata["blocks"] != "1" {
		t.Errorf("input metadata = %v, want blocks=1", in.Metadata)
	}

	// Records stored after batch 1 go to batch 2 only.
	r.store(t, 4)
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(2*time.Second))
	rtWant(t, out, rtAt(2*time.Second), 4)

	// A batch without records still runs, on an empty RDD.
	m.Advance(time.Second)
	info = rec.waitBatch(t, rtAt(3*time.Second))
	rtWant(t, out, rtAt(3*time.Second))
	if info.NumRecords() != 0 || len(info.Inputs) != 1 || info.Inputs[0].Records != 0 {
		t.Errorf("empty batch input info = %+v, want 0 records", info.Inputs)
	}
	if got := out.all(); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("all records = %v, want [1 2 3 4] (each once)", got)
	}
}

func TestReceiverBlocksBecomePartitions(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second, dstream.BlockInterval(100*time.Millisecond))
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	rec.waitStarted(t, 1)

	r.store(t, 1)
	r.store(t, 2) // same block interval: same block
	m.Advance(100 * time.Millisecond)
	r.store(t, 3)
	m.Advance(250 * time.Millisecond)
	r.store(t, 4, 5)
	m.Advance(650 * time.Millisecond)

	info := rec.waitBatch(t, rtAt(time.Second))
	parts := out.partitions(rtAt(time.Second))
	want := [][]int{{1, 2}, {3}, {4, 5}}
	if !slices.EqualFunc(parts, want, slices.Equal[[]int]) {
		t.Fatalf("partitions of batch 1s = %v, want %v (one per block interval with data)", parts, want)
	}
	if in := info.Inputs[0]; in.Records != 5 || in.Metadata["blocks"] != "3" {
		t.Errorf("input info = %+v, want 5 records in 3 blocks", in)
	}
}

func TestReceiverReportErrorKeepsRunning(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	started := rec.waitStarted(t, 1)

	errFlaky := errors.New("flaky upstream")
	r.current().ReportError("hiccup", errFlaky)
	e := rec.waitError(t, 1)
	if e.Message != "hiccup" || !errors.Is(e.Err, errFlaky) || e.StreamID != started.StreamID || e.Name != started.Name {
		t.Errorf("ReceiverError = %+v, want message hiccup, error %v, stream %d", e, errFlaky, started.StreamID)
	}

	r.store(t, 10)
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second), 10)
	if n := rec.count(rtIs[metrics.ReceiverStopped]); n != 0 {
		t.Errorf("%d ReceiverStopped events after ReportError, want 0", n)
	}
	if got := r.starts.Load(); got != 1 {
		t.Errorf("OnStart called %d times, want 1", got)
	}
	if got := ssc.State(); got != dstream.Active {
		t.Errorf("State() = %v, want active", got)
	}
}

func TestReceiverRestart(t *testing.T) {
	const delay = 500 * time.Millisecond
	ssc, m := rtNewContext(t, time.Second, dstream.ReceiverRestartDelay(delay))
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	rec.waitStarted(t, 1)

	r.store(t, 1)
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second), 1)

	old := r.current()
	r.store(t, 2) // stored before the restart: kept
	errLost := errors.New("connection lost")
	old.Restart("reconnecting", errLost)
	e := rec.waitError(t, 1)
	if e.Message != "reconnecting" || !errors.Is(e.Err, errLost) {
		t.Errorf("ReceiverError = %+v, want the restart reason", e)
	}
	if stopped := rec.waitStopped(t, 1); !stopped.Restarting {
		t.Errorf("ReceiverStopped = %+v, want Restarting", stopped)
	}
	if got := r.stops.Load(); got != 1 {
		t.Errorf("OnStop called %d times, want 1", got)
	}

	// The supervisor sleeps for the restart delay on the clock: the
	// generator's timer plus the sleep.
	rtWaiters(t, m, 2)
	m.Advance(delay - time.Millisecond)
	if got := r.starts.Load(); got != 1 {
		t.Fatalf("OnStart called %d times before the restart delay elapsed, want 1", got)
	}
	m.Advance(time.Millisecond) // now 1.5s
	rec.waitStarted(t, 2)
	if got := r.starts.Load(); got != 2 {
		t.Fatalf("OnStart called %d times after the restart, want 2", got)
	}
	if r.current() == old {
		t.Error("the restarted receiver got the old handle")
	}

	r.store(t, 3)
	m.Advance(delay) // 2s
	rec.waitBatch(t, rtAt(2*time.Second))
	rtWant(t, out, rtAt(2*time.Second), 2, 3)
}

func TestReceiverOnStartErrorRestarts(t *testing.T) {
	const delay = 300 * time.Millisecond
	ssc, m := rtNewContext(t, time.Second, dstream.ReceiverRestartDelay(delay))
	rec := rtRecord(t, ssc)
	errBoom := errors.New("cannot connect")
	r := rtNewReceiver()
	failed := make(chan *dstream.ReceiverHandle[int], 1)
	r.onStart = func(n int, h *dstream.ReceiverHandle[int]) error {
		if n == 1 {
			failed <- h
			return errBoom
		}
		return nil
	}
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)

	e := rec.waitError(t, 1)
	if !errors.Is(e.Err, errBoom) || !strings.Contains(e.Message, "OnStart") {
		t.Errorf("ReceiverError = %+v, want the OnStart error", e)
	}
	if stopped := rec.waitStopped(t, 1); !stopped.Restarting {
		t.Errorf("ReceiverStopped = %+v, want Restarting", stopped)
	}
	if n := rec.count(rtIs[metrics.ReceiverStarted]); n != 0 {
		t.Errorf("%d ReceiverStarted events for a receiver whose OnStart failed, want 0", n)
	}
	if got := r.stops.Load(); got != 0 {
		t.Errorf("OnStop called %d times after a failed OnStart, want 0", got)
	}
	// Goroutines the failed OnStart left behind learn that they should end.
	select {
	case <-(<-failed).Done():
	default:
		t.Error("Done() of a failed OnStart's handle not closed")
	}

	rtWaiters(t, m, 2)
	m.Advance(delay)
	rec.waitStarted(t, 1)
	if got := r.starts.Load(); got != 2 {
		t.Fatalf("OnStart called %d times, want 2", got)
	}
	r.store(t, 7)
	m.Advance(time.Second - delay)
	rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second), 7)
}

func TestReceiverOnStartPanicRestarts(t *testing.T) {
	const delay = 300 * time.Millisecond
	ssc, m := rtNewContext(t, time.Second, dstream.ReceiverRestartDelay(delay))
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	r.onStart = func(n int, _ *dstream.ReceiverHandle[int]) error {
		if n == 1 {
			panic("kaboom")
		}
		return nil
	}
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)

	e := rec.waitError(t, 1)
	var pe *dstream.PanicError
	if !errors.As(e.Err, &pe) || pe.Value != "kaboom" {
		t.Fatalf("ReceiverError.Err = %v, want a *dstream.PanicError with value kaboom", e.Err)
	}
	if !strings.Contains(pe.Where, "OnStart") {
		t.Errorf("PanicError.Where = %q, want it to name OnStart", pe.Where)
	}
	rec.waitStopped(t, 1)
	rtWaiters(t, m, 2)
	m.Advance(delay)
	rec.waitStarted(t, 1)
	if got := ssc.State(); got != dstream.Active {
		t.Fatalf("State() = %v after a panicking OnStart, want active", got)
	}
	r.store(t, 8)
	m.Advance(time.Second - delay)
	rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second), 8)
}

func TestReceiverOnStopPanicIsContained(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second, dstream.ReceiverRestartDelay(100*time.Millisecond))
	rec := rtRecord(t, ssc)
	r := &rtPanickyStop{rtReceiver: rtNewReceiver()}
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	rec.waitStarted(t, 1)
	r.current().Restart("again", nil)
	rec.waitStopped(t, 1)
	rtWaiters(t, m, 2)
	m.Advance(100 * time.Millisecond)
	rec.waitStarted(t, 2)
	r.store(t, 5)
	m.Advance(900 * time.Millisecond)
	rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second), 5)
}

// rtPanickyStop panics in OnStop after stopping its goroutine.
type rtPanickyStop struct{ *rtReceiver }

func (r *rtPanickyStop) OnStop() {
	r.rtReceiver.OnStop()
	panic("OnStop exploded")
}

func TestReceiverRestartFromOnStart(t *testing.T) {
	// Restart "returns at once", also when called from OnStart.
	const delay = 200 * time.Millisecond
	ssc, m := rtNewContext(t, time.Second, dstream.ReceiverRestartDelay(delay))
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	r.onStart = func(n int, h *dstream.ReceiverHandle[int]) error {
		if n == 1 {
			h.Restart("not ready yet", nil)
		}
		return nil
	}
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	if stopped := rec.waitStopped(t, 1); !stopped.Restarting {
		t.Fatalf("ReceiverStopped = %+v, want Restarting", stopped)
	}
	rtWaiters(t, m, 2)
	m.Advance(delay)
	rec.waitStarted(t, 2)
	r.store(t, 6)
	m.Advance(time.Second - delay)
	rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second), 6)
}

func TestReceiverStopForGood(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second, dstream.ReceiverRestartDelay(500*time.Millisecond))
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	rec.waitStarted(t, 1)

	h := r.current()
	r.store(t, 1) // stored before Stop: kept
	errFatal := errors.New("source deleted")
	h.Stop("giving up", errFatal)
	stopped := rec.waitStopped(t, 1)
	if stopped.Restarting {
		t.Errorf("ReceiverStopped = %+v, want Restarting false", stopped)
	}
	if e := rec.waitError(t, 1); e.Message != "giving up" || !errors.Is(e.Err, errFatal) {
		t.Errorf("ReceiverError = %+v, want the stop reason", e)
	}
	if got := r.stops.Load(); got != 1 {
		t.Errorf("OnStop called %d times, want 1", got)
	}
	if err := h.Store(2); !errors.Is(err, dstream.ErrReceiverStopped) {
		t.Errorf("Store after Stop = %v, want ErrReceiverStopped", err)
	}
	if err := h.StoreMany([]int{3, 4}); !errors.Is(err, dstream.ErrReceiverStopped) {
		t.Errorf("StoreMany after Stop = %v, want ErrReceiverStopped", err)
	}
	select {
	case <-h.Done():
	default:
		t.Error("Done() not closed after Stop")
	}

	// Well past the restart delay: not started again, and batches go on.
	m.Advance(3 * time.Second)
	rec.waitBatch(t, rtAt(3*time.Second))
	if got := r.starts.Load(); got != 1 {
		t.Errorf("OnStart called %d times after Stop, want 1", got)
	}
	if n := rec.count(rtIs[metrics.ReceiverStarted]); n != 1 {
		t.Errorf("%d ReceiverStarted events, want 1", n)
	}
	rtWant(t, out, rtAt(time.Second), 1)
	rtWant(t, out, rtAt(2*time.Second))
	if got := ssc.State(); got != dstream.Active {
		t.Errorf("State() = %v after a receiver stopped, want active", got)
	}
}

func TestReceiverHandleStreamID(t *testing.T) {
	ssc, _ := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	r := rtNewReceiver()
	rtCollect(t, dstream.ReceiverStream[int](ssc, r))
	rtStart(t, ssc)
	started := rec.waitStarted(t, 1)
	if got := r.current().StreamID(); got != started.StreamID {
		t.Errorf("StreamID() = %d, want %d (as in ReceiverStarted)", got, started.StreamID)
	}
}

func TestTwoReceivers(t *testing.T) {
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	r1, r2 := rtNewReceiver(), rtNewReceiver()
	s1 := dstream.ReceiverStream[int](ssc, r1)
	s2 := dstream.ReceiverStream[int](ssc, r2)
	out := rtCollect(t, s1.Union(s2))
	rtStart(t, ssc)
	rec.waitStarted(t, 2)
	r1.store(t, 1, 2)
	r2.store(t, 10)
	m.Advance(time.Second)
	info := rec.waitBatch(t, rtAt(time.Second))
	got, _ := out.get(rtAt(time.Second))
	slices.Sort(got)
	if !slices.Equal(got, []int{1, 2, 10}) {
		t.Errorf("batch 1s = %v, want [1 2 10]", got)
	}
	if len(info.Inputs) != 2 || info.NumRecords() != 3 {
		t.Errorf("inputs = %+v, want two inputs with 3 records in all", info.Inputs)
	}
}
