package dstream_test

// Tests of rate control through the public API: the options' validation,
// the static limit (ReceiverMaxRate), the bound on pending records
// (ReceiverMaxPending), backpressure in a closed loop on a manual clock,
// and a socket receiver overloaded on the real clock. Every helper here
// starts with "bp".

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

func TestRateControlOptionValidation(t *testing.T) {
	ec, err := engine.New(engine.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ec.Close() })
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		opt  dstream.Option
		want []string // all in the error
	}{
		{"negative max rate", dstream.ReceiverMaxRate(-1), []string{"ReceiverMaxRate", "got -1"}},
		{"NaN max rate", dstream.ReceiverMaxRate(nan), []string{"ReceiverMaxRate", "got NaN"}},
		{"infinite max rate", dstream.ReceiverMaxRate(inf), []string{"ReceiverMaxRate", "got +Inf"}},
		{"negative max pending", dstream.ReceiverMaxPending(-1), []string{"ReceiverMaxPending", "got -1"}},
		{"negative initial rate", dstream.BackpressureInitialRate(-5), []string{"BackpressureInitialRate", "got -5"}},
		{"NaN initial rate", dstream.BackpressureInitialRate(nan), []string{"BackpressureInitialRate", "got NaN"}},
		{"infinite initial rate", dstream.BackpressureInitialRate(math.Inf(-1)), []string{"BackpressureInitialRate", "got -Inf"}},
		{"negative proportional", dstream.RateEstimator(dstream.PIDConfig{Proportional: -1, MinRate: 1}),
			[]string{"RateEstimator", "PIDConfig.Proportional", "got -1"}},
		{"negative integral", dstream.RateEstimator(dstream.PIDConfig{Integral: -0.2, MinRate: 1}),
			[]string{"RateEstimator", "PIDConfig.Integral", "got -0.2"}},
		{"negative derivative", dstream.RateEstimator(dstream.PIDConfig{Derivative: -3, MinRate: 1}),
			[]string{"RateEstimator", "PIDConfig.Derivative", "got -3"}},
		{"NaN proportional", dstream.RateEstimator(dstream.PIDConfig{Proportional: nan, MinRate: 1}),
			[]string{"RateEstimator", "PIDConfig.Proportional", "got NaN"}},
		{"infinite integral", dstream.RateEstimator(dstream.PIDConfig{Integral: inf, MinRate: 1}),
			[]string{"RateEstimator", "PIDConfig.Integral", "got +Inf"}},
		{"zero min rate", dstream.RateEstimator(dstream.PIDConfig{Proportional: 1}), []string{"RateEstimator", "PIDConfig.MinRate", "got 0"}},
		{"negative min rate", dstream.RateEstimator(dstream.PIDConfig{MinRate: -100}), []string{"RateEstimator", "PIDConfig.MinRate", "got -100"}},
		{"NaN min rate", dstream.RateEstimator(dstream.PIDConfig{MinRate: nan}), []string{"RateEstimator", "PIDConfig.MinRate", "got NaN"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ssc, err := dstream.NewStreamingContext(ec, time.Second, tc.opt)
			if err == nil {
				t.Fatalf("NewStreamingContext = %v, nil; want an error containing %q", ssc, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("NewStreamingContext: %v; want an error containing %q", err, tc.want)
				}
			}
		})
	}
	// Valid values, the bounds included.
	for _, opts := range [][]dstream.Option{
		{dstream.ReceiverMaxRate(0), dstream.ReceiverMaxPending(0), dstream.BackpressureInitialRate(0)},
		{dstream.ReceiverMaxRate(0.5), dstream.ReceiverMaxPending(1), dstream.Backpressure(true), dstream.BackpressureInitialRate(1e9),
			dstream.RateEstimator(dstream.PIDConfig{MinRate: 1e-3})},
		{dstream.RateEstimator(dstream.DefaultPIDConfig)},
	} {
		if _, err := dstream.NewStreamingContext(ec, time.Second, opts...); err != nil {
			t.Errorf("NewStreamingContext with valid rate options: %v", err)
		}
	}
}

// bpSource is a Receiver[int] that stores chunks of chunk records with
// StoreMany from one goroutine. With offered 0 it stores as fast as Store
// lets it (greedy: only the rate limit holds it back); otherwise the
// source has a chunk ready every chunk/offered seconds of the clock and
// the records it could not store yet wait at the source, as in a socket's
// or a broker's backlog.
type bpSource struct {
	clk     clock.Clock
	offered float64 // records/s, 0 = unlimited
	chunk   int

	stored atomic.Int64
	quit   chan struct{}
	wg     sync.WaitGroup
}

var _ dstream.Receiver[int] = (*bpSource)(nil)

func (s *bpSource) OnStart(h *dstream.ReceiverHandle[int]) error {
	quit := make(chan struct{})
	s.quit = quit
	s.wg.Go(func() {
		vals := make([]int, s.chunk)
		start := s.clk.Now()
		for k := int64(1); ; k++ {
			if s.offered > 0 {
				at := start.Add(time.Duration(float64(k) * float64(s.chunk) / s.offered * float64(time.Second)))
				timer := s.clk.NewTimerAt(at)
				select {
				case <-timer.C():
				case <-quit:
					timer.Stop()
					return
				}
			}
			if err := h.StoreMany(vals); err != nil {
				return
			}
			s.stored.Add(int64(s.chunk))
		}
	})
	return nil
}

func (s *bpSource) OnStop() {
	close(s.quit)
	s.wg.Wait()
}

// bpDriver moves a manual clock in small steps inside a synctest
// bubble and, after each, waits until every goroutine of the context is
// blocked again (synctest.Wait): the job generator on its next batch, the
// receiver on its next chunk or on the rate limit, a job that sleeps on
// the clock on its end. Each step thus sees the effects of the previous
// one, as if time were continuous, to within a step.
type bpDriver struct {
	m    *clock.Manual
	step time.Duration
}

// run moves the clock on by total, step by step.
func (d *bpDriver) run(total time.Duration) {
	synctest.Wait()
	for end := d.m.Now().Add(total); d.m.Now().Before(end); {
		d.m.Advance(d.step)
		synctest.Wait()
	}
}

// bpCollectCounts registers an output operation that records each
// batch's number of records.
func bpCollectCounts(t *testing.T, s *dstream.DStream[int]) *sync.Map {
	t.Helper()
	var counts sync.Map // batch time → int
	if err := s.ForeachRDD(func(ctx context.Context, r *rdd.RDD[int], bt time.Time) error {
		n, err := r.Count(ctx)
		counts.Store(bt, n)
		return err
	}); err != nil {
		t.Fatalf("ForeachRDD: %v", err)
	}
	return &counts
}

func TestReceiverMaxRateStatic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			rate  = 1000.0 // records/s
			chunk = 10     // records per StoreMany: 10 ms of slots
			burst = 100    // records: the block interval (100 ms) at the rate
		)
		ssc, m := rtNewContext(t, time.Second, dstream.ReceiverMaxRate(rate), dstream.BlockInterval(100*time.Millisecond))
		rec := rtRecord(t, ssc)
		src := &bpSource{clk: m, chunk: chunk} // greedy
		bpCollectCounts(t, dstream.ReceiverStream[int](ssc, src))
		rtStart(t, ssc)
		rec.waitStarted(t, 1)

		const batches = 6
		d := &bpDriver{m: m, step: 10 * time.Millisecond}
		d.run(batches * time.Second)
		var total int64
		for k := 1; k <= batches; k++ {
			info := rec.waitBatch(t, rtAt(time.Duration(k)*time.Second))
			in := info.Inputs[0]
			// Each batch gets rate × interval records. The first also gets
			// the burst the limiter starts with; a chunk due in the last
			// step before a batch time may land in either batch.
			want := rate
			if k == 1 {
				want += burst
			}
			if math.Abs(float64(in.Records)-want) > chunk {
				t.Errorf("batch %d: %d records, want %v ± %d", k, in.Records, want, chunk)
			}
			if in.RateLimit != rate {
				t.Errorf("batch %d: RateLimit %v, want %v", k, in.RateLimit, rate)
			}
			if k > 1 && in.DelayedRecords != in.Records {
				t.Errorf("batch %d: DelayedRecords %d, want all %d records (every chunk past the burst waited for the limit)", k, in.DelayedRecords, in.Records)
			}
			total += in.Records
		}
		if want := int64(rate*batches + burst); math.Abs(float64(total-want)) > chunk {
			t.Errorf("%d records in %d batches, want %d ± %d", total, batches, want, chunk)
		}
	})
}

// TestReceiverMaxRateLargeStore: a StoreMany of more records than the
// burst does not pass at once; it waits for the limit, so that no batch
// gets more than the rate allows.
func TestReceiverMaxRateLargeStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			rate  = 1000 // records/s
			burst = 100  // the block interval (100 ms) at the rate
		)
		ssc, m := rtNewContext(t, time.Second, dstream.ReceiverMaxRate(rate), dstream.BlockInterval(100*time.Millisecond))
		rec := rtRecord(t, ssc)
		r := rtNewReceiver()
		out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
		rtStart(t, ssc)
		rec.waitStarted(t, 1)
		// 2000 records at 1000/s with a burst of 100: all their slots
		// have started by -0.1 s + 1.999 s = 1.899 s.
		stored := make(chan error, 1)
		go func() { stored <- r.tryStore(bpSeq(0, 2000)...) }()
		d := &bpDriver{m: m, step: 10 * time.Millisecond}
		d.run(3 * time.Second)
		if err := rtRecv(t, stored, "the large store"); err != nil {
			t.Fatal(err)
		}
		var counts []int64
		for k := 1; k <= 3; k++ {
			in := rec.waitBatch(t, rtAt(time.Duration(k)*time.Second)).Inputs[0]
			counts = append(counts, in.Records)
			// At most a second of the rate and the burst, give or take
			// what a step at the batch time holds.
			if in.Records > rate+burst+burst || in.RateLimit != rate {
				t.Errorf("batch %d: %d records at rate limit %v, want at most %d at %d", k, in.Records, in.RateLimit, rate+burst, rate)
			}
		}
		if counts[2] != 0 {
			t.Errorf("batch 3 got %d records, want the store done by 1.9 s", counts[2])
		}
		if got := out.all(); !slices.Equal(got, bpSeq(0, 2000)) {
			t.Errorf("the batches hold %d records (per batch %v), want the 2000 stored, in order", len(got), counts)
		}
	})
}

func TestBackpressureInitialRate(t *testing.T) {
	tests := []struct {
		name string
		opts []dstream.Option
		want float64 // the rate limit of every batch
	}{
		{"initial rate", []dstream.Option{dstream.Backpressure(true), dstream.BackpressureInitialRate(2000)}, 2000},
		{"capped by the max rate", []dstream.Option{dstream.Backpressure(true), dstream.BackpressureInitialRate(2000), dstream.ReceiverMaxRate(1000)}, 1000},
		{"below the max rate", []dstream.Option{dstream.Backpressure(true), dstream.BackpressureInitialRate(500), dstream.ReceiverMaxRate(1000)}, 500},
		{"ignored without backpressure", []dstream.Option{dstream.BackpressureInitialRate(2000), dstream.ReceiverMaxRate(1000)}, 1000},
		{"max rate without initial rate", []dstream.Option{dstream.Backpressure(true), dstream.ReceiverMaxRate(1000)}, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := append([]dstream.Option{dstream.BlockInterval(100 * time.Millisecond)}, tc.opts...)
				ssc, m := rtNewContext(t, time.Second, opts...)
				rec := rtRecord(t, ssc)
				src := &bpSource{clk: m, chunk: 10}
				bpCollectCounts(t, dstream.ReceiverStream[int](ssc, src))
				rtStart(t, ssc)
				rec.waitStarted(t, 1)
				// The jobs take no time on the manual clock, so the estimator
				// never gets a batch to learn from: the initial rate stays.
				d := &bpDriver{m: m, step: 10 * time.Millisecond}
				d.run(3 * time.Second)
				for k := 1; k <= 3; k++ {
					in := rec.waitBatch(t, rtAt(time.Duration(k)*time.Second)).Inputs[0]
					if in.RateLimit != tc.want {
						t.Errorf("batch %d: RateLimit %v, want %v", k, in.RateLimit, tc.want)
					}
					// ± what is due in one 10 ms step (stored at its end,
					// before or after the batch) and a chunk.
					if tol := tc.want/100 + 10; k > 1 && math.Abs(float64(in.Records)-tc.want) > tol {
						t.Errorf("batch %d: %d records, want %v ± %v", k, in.Records, tc.want, tol)
					}
				}
			})
		})
	}
}

func TestReceiverMaxPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ssc, m := rtNewContext(t, time.Second, dstream.ReceiverMaxPending(10))
		rec := rtRecord(t, ssc)
		r := rtNewReceiver()
		out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
		rtStart(t, ssc)
		rec.waitStarted(t, 1)

		// A single store larger than the bound passes when nothing is pending.
		r.store(t, bpSeq(0, 25)...)
		// Now 25 are pending: the next store waits until the batch holding
		// them completes.
		blocked := make(chan error, 1)
		go func() { blocked <- r.tryStore(100, 101) }()
		synctest.Wait()    // the store waits for room
		rtWaiters(t, m, 1) // the generator's timer
		m.Advance(time.Second)
		info := rec.waitBatch(t, rtAt(time.Second))
		if in := info.Inputs[0]; in.Records != 25 || in.DelayedRecords != 0 {
			t.Errorf("batch 1: %+v, want the 25 records, none delayed", in)
		}
		rtWant(t, out, rtAt(time.Second), bpSeq(0, 25)...)
		// Batch 1 completed, so the waiting store went through, after the
		// batch time: its records are in batch 2, counted as delayed.
		if err := rtRecv(t, blocked, "the store waiting for room"); err != nil {
			t.Fatalf("the waiting store: %v", err)
		}
		// Room for 8 more: they pass at once; a store of 9 would wait.
		r.store(t, bpSeq(200, 208)...)
		blocked2 := make(chan error, 1)
		go func() { blocked2 <- r.tryStore(bpSeq(300, 309)...) }()
		synctest.Wait()
		m.Advance(time.Second)
		info = rec.waitBatch(t, rtAt(2*time.Second))
		if in := info.Inputs[0]; in.Records != 10 || in.DelayedRecords != 2 {
			t.Errorf("batch 2: %+v, want 10 records, 2 of them delayed", in)
		}
		rtWant(t, out, rtAt(2*time.Second), append([]int{100, 101}, bpSeq(200, 208)...)...)
		if err := rtRecv(t, blocked2, "the second store waiting for room"); err != nil {
			t.Fatalf("the second waiting store: %v", err)
		}
		m.Advance(time.Second)
		info = rec.waitBatch(t, rtAt(3*time.Second))
		if in := info.Inputs[0]; in.Records != 9 || in.DelayedRecords != 9 {
			t.Errorf("batch 3: %+v, want 9 records, all delayed", in)
		}
		rtWant(t, out, rtAt(3*time.Second), bpSeq(300, 309)...)
	})
}

// TestReceiverMaxPendingStopWhileWaiting: a store waiting for room
// returns ErrReceiverStopped when the context stops, and the records
// stored before are still processed by a graceful stop.
func TestReceiverMaxPendingStopWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ssc, m := rtNewContext(t, time.Second, dstream.ReceiverMaxPending(3))
		rec := rtRecord(t, ssc)
		r := rtNewReceiver()
		out := rtCollect(t, dstream.ReceiverStream[int](ssc, r))
		rtStart(t, ssc)
		rec.waitStarted(t, 1)
		r.store(t, 1, 2, 3)
		blocked := make(chan error, 1)
		go func() { blocked <- r.tryStore(4) }()
		synctest.Wait() // the store waits for room
		stopped := rtStopAsync(rtCtx(t), ssc, true)
		if err := rtRecv(t, blocked, "the store waiting for room"); !errors.Is(err, dstream.ErrReceiverStopped) {
			t.Fatalf("the waiting store returned %v, want ErrReceiverStopped", err)
		}
		// The stored records go to the next batch, and Stop waits for it.
		synctest.Wait()
		m.Advance(time.Second)
		if err := rtRecv(t, stopped, "graceful Stop"); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if got := out.all(); len(got) != 3 {
			t.Errorf("processed %v, want [1 2 3]", got)
		}
	})
}

// bpSeq returns lo, lo+1, …, hi-1.
func bpSeq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// bpClosedLoop runs a receiver offered 5×C records/s into a job that
// processes C records/s of the manual clock (it sleeps records/C on the
// clock), for the given time, and returns the BatchStarted and the
// BatchCompleted reports in batch order.
func bpClosedLoop(t *testing.T, capacity float64, run time.Duration, opts ...dstream.Option) (started, completed []metrics.BatchInfo) {
	t.Helper()
	opts = append([]dstream.Option{dstream.BlockInterval(200 * time.Millisecond)}, opts...)
	ssc, m := rtNewContext(t, time.Second, opts...)
	rec := rtRecord(t, ssc)
	src := &bpSource{clk: m, offered: 5 * capacity, chunk: 10}
	err := dstream.ReceiverStream[int](ssc, src).ForeachRDD(func(ctx context.Context, r *rdd.RDD[int], _ time.Time) error {
		n, err := r.Count(ctx)
		if err != nil {
			return err
		}
		return m.Sleep(ctx, time.Duration(float64(n)/capacity*float64(time.Second)))
	})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, ssc)
	rec.waitStarted(t, 1)
	d := &bpDriver{m: m, step: 10 * time.Millisecond}
	d.run(run)
	for _, e := range rec.all() {
		switch e := e.(type) {
		case metrics.BatchStarted:
			started = append(started, e.Info)
		case metrics.BatchCompleted:
			completed = append(completed, e.Info)
		}
	}
	return started, completed
}

// bpFormat prints batch reports for failure messages.
func bpFormat(infos []metrics.BatchInfo) string {
	var b strings.Builder
	for _, in := range infos {
		fmt.Fprintf(&b, "  batch %v: records %d, rate limit %.0f, delayed %d, scheduling delay %v, processing %v\n",
			in.BatchTime.Sub(rtEpoch), in.NumRecords(), in.Inputs[0].RateLimit, in.Inputs[0].DelayedRecords,
			in.SchedulingDelay(), in.ProcessingDelay())
	}
	return b.String()
}

// TestBackpressureClosedLoop is the closed-loop simulation of
// ratecontrol_test.go (TestBackpressureClosedLoopSim) with a real
// StreamingContext on a manual clock: a receiver offered 5×C, a job of
// capacity C = 1000 records/s, 1 s batches, BackpressureInitialRate(1.5·C)
// (see the simulation for why an initial rate).
func TestBackpressureClosedLoop(t *testing.T) {
	const c = 1000.0
	t.Run("on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, done := bpClosedLoop(t, c, 30*time.Second, dstream.Backpressure(true), dstream.BackpressureInitialRate(1.5*c))
			if len(done) < 27 {
				t.Fatalf("%d batches completed in 30 s, want at least 27:\n%s", len(done), bpFormat(done))
			}
			for k, b := range done {
				in := b.Inputs[0]
				switch {
				case k+1 <= 2 && in.RateLimit != 1.5*c:
					t.Errorf("batch %d: rate limit %v, want the initial rate %v before the first estimate", k+1, in.RateLimit, 1.5*c)
				case k+1 > 10 && b.SchedulingDelay() >= 2*time.Second:
					t.Errorf("batch %d: scheduling delay %v, want < 2 intervals after the first 10 batches", k+1, b.SchedulingDelay())
				case k+1 > 15 && math.Abs(in.RateLimit-c) > 0.2*c:
					t.Errorf("batch %d: rate limit %v, want within ±20%% of C = %v", k+1, in.RateLimit, c)
				}
			}
			last := done[len(done)-1]
			if got := float64(last.NumRecords()); math.Abs(got-c) > 0.2*c {
				t.Errorf("last batch: %v records, want ≈ C = %v", got, c)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("batches:\n%s", bpFormat(done))
			}
		})
	})
	t.Run("off", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			started, done := bpClosedLoop(t, c, 25*time.Second)
			// Each batch holds 5·C records and takes 5 s: batch k starts
			// 4(k-1) s after its batch time.
			if len(started) < 5 {
				t.Fatalf("%d batches started in 25 s, want 5:\n%s", len(started), bpFormat(started))
			}
			for k, b := range started {
				if k > 0 && b.SchedulingDelay() <= started[k-1].SchedulingDelay() {
					t.Errorf("batch %d: scheduling delay %v, not more than batch %d's %v; want it to grow every batch",
						k+1, b.SchedulingDelay(), k, started[k-1].SchedulingDelay())
				}
				if want := time.Duration(4*k) * time.Second; b.SchedulingDelay() < want-100*time.Millisecond {
					t.Errorf("batch %d: scheduling delay %v, want ≈ %v", k+1, b.SchedulingDelay(), want)
				}
				if in := b.Inputs[0]; in.RateLimit != 0 || in.DelayedRecords != 0 {
					t.Errorf("batch %d: rate limit %v, %d delayed; want no limit and nothing delayed", k+1, in.RateLimit, in.DelayedRecords)
				}
			}
			for k, b := range done {
				if b.NumRecords() < 5*c-100 {
					t.Errorf("completed batch %d: %d records, want ≈ 5·C", k+1, b.NumRecords())
				}
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("started batches:\n%s", bpFormat(started))
			}
		})
	})
}

// bpGate blocks output operations while closed.
type bpGate struct {
	mu   sync.Mutex
	ch   chan struct{} // closed while the gate is open
	open bool
}

func newBPGate() *bpGate { return &bpGate{ch: make(chan struct{})} }

func (g *bpGate) setOpen(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case open && !g.open:
		close(g.ch)
	case !open && g.open:
		g.ch = make(chan struct{})
	}
	g.open = open
}

func (g *bpGate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bpProducer writes numbered lines of lineLen bytes as fast as the
// connection takes them, then a final "END <count>" line. Every write has
// a deadline; a write that made no progress before it counts as a stall.
type bpProducer struct {
	lineLen int
	lines   int

	bytes  atomic.Int64
	stalls atomic.Int64
	done   chan error
}

const bpStallAfter = 100 * time.Millisecond

func (p *bpProducer) run(c net.Conn) {
	p.done <- p.write(c)
}

func (p *bpProducer) write(c net.Conn) error {
	const perChunk = 1000
	buf := make([]byte, 0, perChunk*p.lineLen)
	send := func(b []byte) error {
		for len(b) > 0 {
			if err := c.SetWriteDeadline(time.Now().Add(bpStallAfter)); err != nil {
				return err
			}
			n, err := c.Write(b)
			b = b[n:]
			p.bytes.Add(int64(n))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if n == 0 {
					p.stalls.Add(1)
				}
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i < p.lines; {
		buf = buf[:0]
		for ; i < p.lines && len(buf) < cap(buf); i++ {
			buf = fmt.Appendf(buf, "%0*d\n", p.lineLen-1, i)
		}
		if err := send(buf); err != nil {
			return err
		}
	}
	return send(fmt.Appendf(nil, "END %d\n", p.lines))
}

// linesWritten returns how many whole data lines went out.
func (p *bpProducer) linesWritten() int64 {
	return min(p.bytes.Load()/int64(p.lineLen), int64(p.lines))
}

// bpTally is what the output operation found in the lines: how many data
// lines, the sum of their numbers, and the count of the END line (-1
// until seen).
type bpTally struct{ lines, sum, end int64 }

func bpTallyLine(acc bpTally, s string) bpTally {
	if rest, ok := strings.CutPrefix(s, "END "); ok {
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			n = -2
		}
		acc.end = n
		return acc
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		n = -1 << 40 // a bad line spoils the sum
	}
	acc.lines++
	acc.sum += n
	return acc
}

func bpMergeTally(a, b bpTally) bpTally {
	return bpTally{lines: a.lines + b.lines, sum: a.sum + b.sum, end: max(a.end, b.end)}
}

// bpHeap returns the live heap after a collection.
func bpHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSocketReceiverOverloadBounded overloads a socket receiver on the
// real clock: a producer writes lines as fast as it can into a job that
// the test holds back (the output operation waits at a gate) in phases.
// With ReceiverMaxPending(20,000) the receiver stops reading once it
// holds 20,000 lines, so the producer's writes stall, and the heap stays
// bounded although the producer has far more to send than the bound on
// the heap. At the end every line written was counted exactly once, and
// the batches whose records waited for room say so in DelayedRecords.
func TestSocketReceiverOverloadBounded(t *testing.T) {
	const (
		lineLen    = 100 // bytes, "\n" included
		lines      = 400_000
		maxPending = 20_000
		phases     = 3
		// heapBound is the most the live heap may grow while the producer
		// is stalled: 20,000 pending lines are about 2.5 MB of strings;
		// the producer has 40 MB to send, which an unbounded receiver would
		// hold as 50 MB of strings while the job is held back.
		heapBound = 16 << 20
	)
	if testing.Short() {
		t.Skip("real-clock overload test")
	}
	ln, port := rtListen(t)
	conns := rtAccept(t, ln)
	ec, err := engine.New(engine.Slots(2), engine.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ec.Close() })
	ssc, err := dstream.NewStreamingContext(ec, 50*time.Millisecond, dstream.BlockInterval(25*time.Millisecond),
		dstream.ReceiverMaxPending(maxPending), dstream.ReceiverRestartDelay(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ssc.Stop(context.Background(), false) })
	rec := rtRecord(t, ssc)

	gate := newBPGate()
	var mu sync.Mutex
	var tally = bpTally{end: -1}
	err = dstream.SocketTextStream(ssc, "127.0.0.1", port).ForeachRDD(func(ctx context.Context, r *rdd.RDD[string], _ time.Time) error {
		if err := gate.wait(ctx); err != nil {
			return nil // a hard stop at the end of the test
		}
		got, err := rdd.Aggregate(ctx, r, bpTally{end: -1}, bpTallyLine, bpMergeTally)
		if err != nil {
			return err
		}
		mu.Lock()
		tally = bpMergeTally(tally, got)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// waitFor waits until cond holds, checking it on every event of the
	// context (batches complete every 50 ms) and failing at the deadline.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			rec.mu.Lock()
			changed := rec.changed
			rec.mu.Unlock()
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	base := bpHeap()
	rtStart(t, ssc)
	prod := &bpProducer{lineLen: lineLen, lines: lines, done: make(chan error, 1)}
	go prod.run(rtConn(t, conns, "the receiver's connection"))

	var samples []uint64
	for phase := range phases {
		// The gate is closed: the receiver fills up to the bound and
		// stops reading; the producer stalls.
		stalls := prod.stalls.Load()
		waitFor(fmt.Sprintf("the producer to stall (phase %d)", phase), func() bool { return prod.stalls.Load() >= stalls+2 })
		before := prod.linesWritten()
		h := bpHeap()
		samples = append(samples, h-min(base, h))
		if got := prod.linesWritten(); got != before {
			// Still stalled? Not necessarily: GC takes time. Just record.
			t.Logf("phase %d: the producer wrote %d lines while the heap was measured", phase, got-before)
		}
		// Let 50,000 more lines through.
		gate.setOpen(true)
		waitFor("the producer to go on", func() bool { return prod.linesWritten() >= before+50_000 })
		gate.setOpen(false)
	}
	gate.setOpen(true)
	select {
	case err := <-prod.done:
		if err != nil {
			t.Fatalf("producer: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("the producer did not finish: %d of %d lines written", prod.linesWritten(), lines)
	}
	waitFor("every line to be counted", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return tally.end >= 0 && tally.lines >= int64(lines)
	})
	if err := ssc.Stop(ctx, true); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// The bus delivers events asynchronously: the last batches' reports
	// may still be queued when Stop returns.
	if err := ssc.Engine().Bus().Flush(ctx); err != nil {
		t.Fatalf("flushing the bus: %v", err)
	}
	if n := ssc.Engine().Bus().Dropped(); n > 0 {
		t.Fatalf("the bus dropped %d events; the batch reports below would be incomplete", n)
	}

	mu.Lock()
	got := tally
	mu.Unlock()
	want := bpTally{lines: lines, sum: int64(lines) * (lines - 1) / 2, end: lines}
	if got != want {
		t.Errorf("counted %+v, want %+v (every line once)", got, want)
	}
	var delayed, records int64
	batches := 0
	for _, e := range rec.all() {
		if b, ok := e.(metrics.BatchCompleted); ok {
			batches++
			records += b.Info.NumRecords()
			for _, in := range b.Info.Inputs {
				delayed += in.DelayedRecords
			}
		}
	}
	if records != lines+1 {
		t.Errorf("the batches' reports add up to %d records, want %d", records, lines+1)
	}
	if delayed == 0 {
		t.Errorf("no batch reports DelayedRecords > 0, want the records that waited for room")
	}
	for i, s := range samples {
		if s > heapBound {
			t.Errorf("phase %d: the heap grew by %.1f MB while the producer was stalled, want < %d MB", i, float64(s)/(1<<20), heapBound>>20)
		}
	}
	t.Logf("%d batches, %d records (%d delayed); heap growth while stalled: %v MB", batches, records, delayed, bpMB(samples))
}

func bpMB(xs []uint64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%.1f", float64(x)/(1<<20))
	}
	return out
}
