package dstream

// Unit tests of the rate estimator, the rate limiter and the rate
// controller, and a closed-loop simulation of backpressure. Every helper
// here starts with "rc" so that it cannot collide with other internal
// tests of the package.

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/metrics"
)

// rcT0 is where the manual clocks of these tests start.
var rcT0 = time.Unix(1_000, 0)

// rcAt returns the time d after rcT0.
func rcAt(d time.Duration) time.Time { return rcT0.Add(d) }

// rcClose reports whether got is within 1e-9 (relative) of want.
func rcClose(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

// rcBatch is one completed batch fed to the estimator and what the
// estimator must answer.
type rcBatch struct {
	at         time.Duration // batch time, after rcT0
	records    int64
	processing time.Duration
	scheduling time.Duration
	want       float64 // the new rate; ignored when !ok
	ok         bool    // whether an estimate is expected
}

// rcRun feeds batches to a new estimator with cfg and a 1 s batch
// interval and checks every answer.
func rcRun(t *testing.T, cfg PIDConfig, batches []rcBatch) *pidEstimator {
	t.Helper()
	e := newPIDEstimator(cfg, time.Second)
	for i, b := range batches {
		got, ok := e.compute(rcAt(b.at), b.records, b.processing, b.scheduling)
		if ok != b.ok || (ok && !rcClose(got, b.want)) {
			t.Fatalf("batch %d (t=%v n=%d p=%v s=%v): compute = %v, %v; want %v, %v",
				i, b.at, b.records, b.processing, b.scheduling, got, ok, b.want, b.ok)
		}
	}
	return e
}

// The hand computations below use the formula of PIDConfig with the
// default configuration (P = 1, I = 0.2, D = 0, MinRate = 100) and a 1 s
// batch interval b:
//
//	processingRate = n/p, error = lastRate - processingRate,
//	historicError = s*processingRate/b,
//	newRate = max(lastRate - P*error - I*historicError - D*dError, MinRate)

func TestPIDFirstBatchSeedsOnly(t *testing.T) {
	e := rcRun(t, DefaultPIDConfig, []rcBatch{
		// First batch: processingRate = 1000/1s = 1000 becomes lastRate; no
		// estimate.
		{at: 1 * time.Second, records: 1000, processing: time.Second},
		// Second batch: processingRate = 2000/1s = 2000, error = 1000-2000
		// = -1000, newRate = 1000 + 1000 = 2000.
		{at: 2 * time.Second, records: 2000, processing: time.Second, want: 2000, ok: true},
	})
	if e.latestRate != 2000 {
		t.Errorf("latestRate = %v, want 2000", e.latestRate)
	}
}

func TestPIDSteadyState(t *testing.T) {
	// Seeded at 1000/s; every later batch is processed at exactly 1000/s
	// without delay: error = 1000-1000 = 0, historicError = 0, so newRate
	// = 1000 every time.
	batches := []rcBatch{{at: time.Second, records: 1000, processing: time.Second}}
	for k := 2; k <= 10; k++ {
		batches = append(batches, rcBatch{at: time.Duration(k) * time.Second, records: 1000, processing: time.Second, want: 1000, ok: true})
	}
	rcRun(t, DefaultPIDConfig, batches)

	// The same rate from a different batch size: 250 records in 250 ms.
	rcRun(t, DefaultPIDConfig, []rcBatch{
		{at: 1 * time.Second, records: 1000, processing: time.Second},
		{at: 2 * time.Second, records: 250, processing: 250 * time.Millisecond, want: 1000, ok: true},
	})
}

func TestPIDSlowdownAndRecovery(t *testing.T) {
	rcRun(t, DefaultPIDConfig, []rcBatch{
		// Seed: 1000 records in 1 s → lastRate 1000.
		{at: 1 * time.Second, records: 1000, processing: time.Second},
		// Sudden slowdown, processing rate halves: 1000 records take 2 s.
		// processingRate = 500, error = 1000-500 = 500, historicError =
		// 0*500/1 = 0 → newRate = 1000 - 500 = 500.
		{at: 2 * time.Second, records: 1000, processing: 2 * time.Second, want: 500, ok: true},
		// The next batch waited 1 s for the slow one; 500 records in 1 s.
		// processingRate = 500, error = 500-500 = 0, historicError =
		// 1*500/1 = 500 → newRate = 500 - 0 - 0.2*500 = 400.
		{at: 3 * time.Second, records: 500, processing: time.Second, scheduling: time.Second, want: 400, ok: true},
		// Backlog gone: 400 records in 0.8 s. processingRate = 500, error
		// = 400-500 = -100 → newRate = 400 + 100 = 500.
		{at: 4 * time.Second, records: 400, processing: 800 * time.Millisecond, want: 500, ok: true},
		// Recovery, the job is fast again: 500 records in 0.5 s.
		// processingRate = 1000, error = 500-1000 = -500 → newRate = 500 +
		// 500 = 1000.
		{at: 5 * time.Second, records: 500, processing: 500 * time.Millisecond, want: 1000, ok: true},
		// Steady at 1000 again.
		{at: 6 * time.Second, records: 1000, processing: time.Second, want: 1000, ok: true},
	})
}

func TestPIDMinRateFloor(t *testing.T) {
	rcRun(t, DefaultPIDConfig, []rcBatch{
		{at: 1 * time.Second, records: 1000, processing: time.Second},
		// Collapse: 10 records in 1 s. processingRate = 10, error = 990 →
		// 1000 - 990 = 10, below MinRate 100 → 100.
		{at: 2 * time.Second, records: 10, processing: time.Second, want: 100, ok: true},
		// A huge backlog: 100 records in 1 s after 50 s of delay.
		// processingRate = 100, error = 100-100 = 0, historicError =
		// 50*100/1 = 5000 → 100 - 1000 = -900 → MinRate 100.
		{at: 3 * time.Second, records: 100, processing: time.Second, scheduling: 50 * time.Second, want: 100, ok: true},
	})
	// A configured floor.
	cfg := DefaultPIDConfig
	cfg.MinRate = 700
	rcRun(t, cfg, []rcBatch{
		{at: 1 * time.Second, records: 1000, processing: time.Second},
		// 1000 - (1000-500) = 500 < 700 → 700.
		{at: 2 * time.Second, records: 1000, processing: 2 * time.Second, want: 700, ok: true},
	})
}

func TestPIDIgnoredBatches(t *testing.T) {
	rcRun(t, DefaultPIDConfig, []rcBatch{
		// Without records or processing time a batch says nothing, not
		// even as the first batch: it does not seed.
		{at: 1 * time.Second, records: 0, processing: time.Second},
		{at: 2 * time.Second, records: 1000, processing: 0},
		{at: 3 * time.Second, records: -1, processing: time.Second}, // unknown count
		// The real first batch: seeds lastRate = 1000.
		{at: 4 * time.Second, records: 1000, processing: time.Second},
		// Ignored again, in the middle of the run.
		{at: 5 * time.Second, records: 0, processing: 0},
		{at: 6 * time.Second, records: 7, processing: 0},
		// Times that do not increase (a batch that completed out of order):
		// ignored.
		{at: 4 * time.Second, records: 10, processing: time.Second},
		{at: 3 * time.Second, records: 10, processing: time.Second},
		// Nothing above changed the state: from lastRate 1000, 1000
		// records in 2 s give 1000 - (1000-500) = 500.
		{at: 7 * time.Second, records: 1000, processing: 2 * time.Second, want: 500, ok: true},
		// The same batch time again: ignored.
		{at: 7 * time.Second, records: 1000, processing: time.Second},
	})
}

func TestPIDDerivative(t *testing.T) {
	cfg := PIDConfig{Proportional: 1, Integral: 0, Derivative: 0.5, MinRate: 1}
	rcRun(t, cfg, []rcBatch{
		// Seed at 1000; lastError = 0.
		{at: 1 * time.Second, records: 1000, processing: time.Second},
		// processingRate = 500, error = 500, dError = (500-0)/1s = 500 →
		// 1000 - 500 - 0.5*500 = 250.
		{at: 2 * time.Second, records: 1000, processing: 2 * time.Second, want: 250, ok: true},
		// 2 s later (an ignored batch in between does not count as an
		// update): 250 records in 1 s. processingRate = 250, error = 0,
		// dError = (0-500)/2s = -250 → 250 - 0 - 0.5*(-250) = 375.
		{at: 3 * time.Second, records: 0, processing: time.Second},
		{at: 4 * time.Second, records: 250, processing: time.Second, want: 375, ok: true},
		// 375 records in 0.75 s: processingRate 500, error = 375-500 =
		// -125, dError = (-125-0)/1 = -125 → 375 + 125 + 62.5 = 562.5.
		{at: 5 * time.Second, records: 375, processing: 750 * time.Millisecond, want: 562.5, ok: true},
	})
	// The integral term alone (P = 0): the rate only falls with the
	// scheduling delay. Seed 1000; then 1000 records in 1 s after 2 s of
	// delay: historicError = 2*1000/1 = 2000 → 1000 - 0.5*2000 = 0 → MinRate 1.
	rcRun(t, PIDConfig{Integral: 0.5, MinRate: 1}, []rcBatch{
		{at: 1 * time.Second, records: 1000, processing: time.Second},
		{at: 2 * time.Second, records: 1000, processing: time.Second, scheduling: 2 * time.Second, want: 1, ok: true},
	})
}

// TestPIDConfigValidate checks the messages of validate directly; the
// options' validation through NewStreamingContext is tested in
// backpressure_test.go.
func TestPIDConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  PIDConfig
		want string // "" = valid
	}{
		{DefaultPIDConfig, ""},
		{PIDConfig{MinRate: 1}, ""},
		{PIDConfig{Proportional: -1, MinRate: 1}, "PIDConfig.Proportional must be a finite number ≥ 0, got -1"},
		{PIDConfig{Integral: -0.5, MinRate: 1}, "PIDConfig.Integral must be a finite number ≥ 0, got -0.5"},
		{PIDConfig{Derivative: -2, MinRate: 1}, "PIDConfig.Derivative must be a finite number ≥ 0, got -2"},
		{PIDConfig{Proportional: math.NaN(), MinRate: 1}, "PIDConfig.Proportional"},
		{PIDConfig{Proportional: math.Inf(1), MinRate: 1}, "PIDConfig.Proportional"},
		{PIDConfig{Integral: math.Inf(1), MinRate: 1}, "PIDConfig.Integral"},
		{PIDConfig{Derivative: math.Inf(1), MinRate: 1}, "PIDConfig.Derivative"},
		{PIDConfig{}, "PIDConfig.MinRate must be a finite rate > 0, got 0"},
		{PIDConfig{MinRate: -3}, "PIDConfig.MinRate must be a finite rate > 0, got -3"},
		{PIDConfig{MinRate: math.NaN()}, "PIDConfig.MinRate"},
		{PIDConfig{MinRate: math.Inf(1)}, "PIDConfig.MinRate"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%+v", tc.cfg), func(t *testing.T) {
			err := tc.cfg.validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestPIDNeverNaN feeds extreme but valid configurations and batches and
// checks that every estimate is a finite rate of at least MinRate.
func TestPIDNeverNaN(t *testing.T) {
	for _, cfg := range []PIDConfig{
		DefaultPIDConfig,
		{Proportional: 1e300, Integral: 1e300, Derivative: 1e300, MinRate: 1},
		{MinRate: 1e300},
	} {
		e := newPIDEstimator(cfg, time.Second)
		for k := 1; k <= 20; k++ {
			n := int64(1 + (k*7919)%5000)
			p := time.Duration(1+(k*104729)%3000) * time.Millisecond
			s := time.Duration((k*1299709)%10000) * time.Millisecond
			if r, ok := e.compute(rcAt(time.Duration(k)*time.Second), n, p, s); ok && (math.IsNaN(r) || math.IsInf(r, 0) || r < cfg.MinRate) {
				t.Fatalf("cfg %+v batch %d: rate %v, want a finite rate ≥ %v", cfg, k, r, cfg.MinRate)
			}
		}
	}
}

// rcLimiter returns a limiter at rate r with burst b on a manual clock at
// rcT0.
func rcLimiter(r float64, b time.Duration) (*rateLimiter, *clock.Manual) {
	m := clock.NewManual(rcT0)
	return &rateLimiter{clk: m, burst: b, rate: r}, m
}

// rcReserve reserves n and checks the answer: want is the time after
// rcT0 at which the records may pass, or -1 for "now" (the zero time).
func rcReserve(t *testing.T, l *rateLimiter, n int, want time.Duration) {
	t.Helper()
	got := l.reserve(n)
	if want < 0 {
		if !got.IsZero() {
			t.Fatalf("reserve(%d) at %v = %v, want now (the zero time)", n, l.clk.Now().Sub(rcT0), got.Sub(rcT0))
		}
		return
	}
	if got.IsZero() || !got.Equal(rcAt(want)) {
		t.Fatalf("reserve(%d) at %v = %v (zero %v), want %v", n, l.clk.Now().Sub(rcT0), got.Sub(rcT0), got.IsZero(), want)
	}
}

func TestRateLimiterBurstThenPacing(t *testing.T) {
	// 100 records/s: slots 10 ms apart; burst 100 ms = 10 slots.
	l, _ := rcLimiter(100, 100*time.Millisecond)
	// A fresh limiter has the full burst: slots at -100ms, -90ms, …, 0
	// have started, so 11 single records pass at once (the one whose slot
	// starts now included).
	for range 11 {
		rcReserve(t, l, 1, -1)
	}
	// Beyond the burst: each record waits for its slot, 1/R = 10 ms apart.
	for k := 1; k <= 5; k++ {
		rcReserve(t, l, 1, time.Duration(k)*10*time.Millisecond)
	}
	// n records take n slots and pass together when the last one starts;
	// reservations of n records come n/R apart.
	rcReserve(t, l, 5, 100*time.Millisecond)  // slots 60..110 ms, the last at 100 ms
	rcReserve(t, l, 20, 300*time.Millisecond) // slots 110..310 ms, the last at 300 ms
	rcReserve(t, l, 20, 500*time.Millisecond) // slots 310..510 ms
	rcReserve(t, l, 1, 510*time.Millisecond)
}

// TestRateLimiterLargeReservation: records pass once their slots have
// come, so a reservation of more records than the burst holds waits until
// the last of its slots starts; it does not pass at once and leave the
// debt to the next one.
func TestRateLimiterLargeReservation(t *testing.T) {
	l, m := rcLimiter(100, 100*time.Millisecond) // 10 ms slots, burst of 10
	// 1000 records take 10 s of slots, from -100 ms: the last starts at
	// 9.89 s.
	rcReserve(t, l, 1000, 9890*time.Millisecond)
	// The next slot follows the reserved ones.
	rcReserve(t, l, 1, 9900*time.Millisecond)
	m.Advance(20 * time.Second)
	// Exactly the burst (and the slot starting now) passes at once: 11
	// records take the slots from now-100ms to now.
	rcReserve(t, l, 11, -1)
	rcReserve(t, l, 11, 20*time.Second+110*time.Millisecond) // slots now+10ms … now+110ms
}

func TestRateLimiterRefillsUpToBurst(t *testing.T) {
	l, m := rcLimiter(1000, 50*time.Millisecond) // 1 ms slots, burst of 50
	rcReserve(t, l, 51, -1)                      // the whole burst (and the slot starting now)
	rcReserve(t, l, 1, 1*time.Millisecond)
	// Idle for 20 ms: the reserved slot (1..2 ms) has passed, 18 more
	// slots came free, and they pass at once.
	m.Advance(20 * time.Millisecond)
	rcReserve(t, l, 18, -1) // slots 2..20 ms
	rcReserve(t, l, 1, -1)  // the slot starting now
	rcReserve(t, l, 1, 21*time.Millisecond)
	rcReserve(t, l, 1, 22*time.Millisecond)
	// Idle for a long time: no more than the burst accumulates.
	m.Advance(10 * time.Second)
	now := 10*time.Second + 20*time.Millisecond
	rcReserve(t, l, 50, -1) // starting at now-50ms
	rcReserve(t, l, 1, -1)  // the slot starting now
	rcReserve(t, l, 1, now+time.Millisecond)
	// A waiting record passes once the clock reaches its slot.
	m.Advance(time.Millisecond)
	rcReserve(t, l, 1, now+2*time.Millisecond)
}

func TestRateLimiterSetRate(t *testing.T) {
	l, m := rcLimiter(100, 0) // no burst: 10 ms slots from now
	rcReserve(t, l, 1, -1)    // slot 0..10 ms
	rcReserve(t, l, 1, 10*time.Millisecond)
	// Faster: the next slot starts where the last one ended, and each
	// new slot is 1/1000 s long.
	l.setRate(1000)
	if got := l.currentRate(); got != 1000 {
		t.Fatalf("currentRate() = %v, want 1000", got)
	}
	rcReserve(t, l, 1, 20*time.Millisecond)
	rcReserve(t, l, 1, 21*time.Millisecond)
	rcReserve(t, l, 10, 31*time.Millisecond) // slots 22..32 ms
	rcReserve(t, l, 1, 32*time.Millisecond)
	// Slower: 10 records/s, 100 ms slots.
	l.setRate(10)
	rcReserve(t, l, 1, 33*time.Millisecond)
	rcReserve(t, l, 1, 133*time.Millisecond)
	rcReserve(t, l, 2, 333*time.Millisecond) // slots 233..433 ms
	rcReserve(t, l, 1, 433*time.Millisecond)
	// Unlimited: everything passes at once, whatever was reserved.
	l.setRate(0)
	for _, n := range []int{1, 1000, 1_000_000} {
		rcReserve(t, l, n, -1)
	}
	// Limited again: the slots reserved before the pause are forgotten
	// once they are more than the burst in the past.
	m.Advance(time.Second)
	l.setRate(100)
	rcReserve(t, l, 1, -1)
	rcReserve(t, l, 1, time.Second+10*time.Millisecond)
}

func TestRateLimiterUnlimitedAndEmpty(t *testing.T) {
	l, _ := rcLimiter(0, time.Second)
	for range 100 {
		rcReserve(t, l, 1_000_000, -1)
	}
	l.setRate(1)
	rcReserve(t, l, 0, -1) // nothing to pace
	rcReserve(t, l, -5, -1)
}

// TestRateLimiterExtremeRates checks that very slow rates and very
// large reservations do not overflow the limiter's arithmetic into
// letting records through at once.
func TestRateLimiterExtremeRates(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		n    int
	}{
		{1e-12, 1},          // 1e12 s a record
		{1e-12, 2},          // the second record's slot is 1e12 s away
		{0.001, 10_000_000}, // 1e10 s for the reservation
		{1, math.MaxInt32},  // 68 years
	} {
		l, _ := rcLimiter(tc.rate, 0)
		got := l.reserve(tc.n)
		if tc.n == 1 {
			if !got.IsZero() {
				t.Errorf("rate %v: reserve(1) = %v, want now", tc.rate, got.Sub(rcT0))
			}
		} else if got.IsZero() || got.Before(rcAt(time.Hour)) {
			t.Errorf("rate %v: reserve(%d) may pass at %v (zero %v), want far in the future", tc.rate, tc.n, got.Sub(rcT0), got.IsZero())
		}
		if got := l.reserve(1); got.IsZero() || got.Before(rcAt(time.Hour)) {
			t.Errorf("rate %v after reserve(%d): the next record may pass at %v, want far in the future", tc.rate, tc.n, got.Sub(rcT0))
		}
	}
}

// rcInfo is a completed batch at t (after rcT0, 1 s interval) with the
// given input records per stream ID.
func rcInfo(at time.Duration, processing, scheduling time.Duration, records map[int]int64) metrics.BatchInfo {
	bt := rcAt(at)
	info := metrics.BatchInfo{BatchTime: bt, SubmissionTime: bt, ProcessingStart: bt.Add(scheduling)}
	info.ProcessingEnd = info.ProcessingStart.Add(processing)
	for id, n := range records {
		info.Inputs = append(info.Inputs, metrics.InputInfo{StreamID: id, Records: n})
	}
	return info
}

func TestRateControllerUsesItsStream(t *testing.T) {
	l, _ := rcLimiter(0, time.Second)
	c := &rateController{estimator: newPIDEstimator(DefaultPIDConfig, time.Second), limiter: l}
	// Stream 1's records count; stream 2's (another receiver) and unknown
	// counts (-1) do not.
	c.batchCompleted(rcInfo(1*time.Second, time.Second, 0, map[int]int64{1: 1000, 2: 50_000}), 1)
	if got := l.currentRate(); got != 0 {
		t.Fatalf("after the first batch the rate is %v, want it unchanged (0): the first batch only seeds", got)
	}
	c.batchCompleted(rcInfo(2*time.Second, 2*time.Second, 0, map[int]int64{1: 1000, 2: -1}), 1)
	if got := l.currentRate(); got != 500 {
		t.Fatalf("rate = %v, want 500 (1000 - (1000 - 1000/2))", got)
	}
	// A batch without records of stream 1 leaves the rate alone.
	c.batchCompleted(rcInfo(3*time.Second, time.Second, 0, map[int]int64{2: 7}), 1)
	if got := l.currentRate(); got != 500 {
		t.Fatalf("rate = %v after a batch without records, want 500", got)
	}
	// The static limit caps the estimate: 500 + (4000 - 500) = 4000 > 1500.
	c.maxRate = 1500
	c.batchCompleted(rcInfo(4*time.Second, time.Second, 0, map[int]int64{1: 4000}), 1)
	if got := l.currentRate(); got != 1500 {
		t.Fatalf("rate = %v, want the static limit 1500", got)
	}
	// The estimator itself went on from its own estimate (4000): a batch
	// at 4000/s keeps it there, and the limit still caps it.
	c.batchCompleted(rcInfo(5*time.Second, time.Second, 0, map[int]int64{1: 4000}), 1)
	if got := l.currentRate(); got != 1500 {
		t.Fatalf("rate = %v, want 1500", got)
	}
}

// TestRateControllerConcurrentBatches: with ConcurrentJobs > 1 batches
// complete on several scheduler workers at once, and each calls
// batchCompleted. Run with -race.
func TestRateControllerConcurrentBatches(t *testing.T) {
	l, _ := rcLimiter(0, time.Second)
	c := &rateController{estimator: newPIDEstimator(DefaultPIDConfig, time.Second), limiter: l}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for k := range 50 {
				at := time.Duration(1+4*k+w) * time.Second
				c.batchCompleted(rcInfo(at, time.Second, 0, map[int]int64{0: 1000}), 0)
			}
		})
	}
	wg.Wait()
	if got := l.currentRate(); got != 1000 {
		t.Fatalf("rate = %v, want 1000 (every batch ran at 1000/s)", got)
	}
}

// rcSim is a discrete-event simulation of one receiver and a job of
// fixed capacity, with the real estimator, limiter and controller: a
// source offers records at offered records/s and the receiver takes them
// in chunks, each chunk first reserving its slots in the limiter and
// waiting for them, exactly as blockGenerator.add does. Batch k (at k
// intervals) holds the chunks stored in ((k-1)·b, k·b]; it starts when
// it is generated or when batch k-1 ends, whichever is later, and takes
// records/capacity to process. Its BatchInfo goes to the controller when
// it ends, so a new rate applies to the chunks reserved after that.
type rcSim struct {
	interval     time.Duration
	capacity     float64 // records/s the job processes
	offered      float64 // records/s the source offers
	chunk        int     // records per store
	backpressure bool
	initialRate  float64 // the limiter's rate before the first estimate (0 = none)
	maxRate      float64 // the static limit, 0 = none
	batches      int
}

// rcSimBatch is what happened to one simulated batch.
type rcSimBatch struct {
	records    int64
	scheduling time.Duration // start - batch time
	processing time.Duration
	rate       float64 // the limiter's rate when the batch was generated
}

func (s rcSim) run() []rcSimBatch {
	m := clock.NewManual(time.Unix(0, 0))
	start := m.Now()
	cfg := config{backpressure: s.backpressure, startRate: s.initialRate, maxRate: s.maxRate}
	l := &rateLimiter{clk: m, burst: s.interval / 5, rate: cfg.initialRate()}
	var ctl *rateController
	if s.backpressure {
		ctl = &rateController{estimator: newPIDEstimator(DefaultPIDConfig, s.interval), limiter: l, maxRate: s.maxRate}
	}
	chunkGap := time.Duration(float64(s.chunk) / s.offered * float64(time.Second))

	var (
		out        []rcSimBatch
		current    int64               // records stored for the batch being filled
		nextGen    = 1                 // the next batch to generate
		lastEnd    time.Time           // when the last generated batch ends
		pending    []metrics.BatchInfo // generated, not completed, in order
		chunkReady = start.Add(chunkGap)
		recvFree   = start
		holding    = false   // the receiver holds a chunk that passes at storeAt
		storeAt    time.Time // when the held chunk is stored
	)
	for nextGen <= s.batches {
		genAt := start.Add(time.Duration(nextGen) * s.interval)
		var recvAt time.Time
		if holding {
			recvAt = storeAt
		} else {
			recvAt = chunkReady
			if recvFree.After(recvAt) {
				recvAt = recvFree
			}
		}
		var endAt time.Time
		if len(pending) > 0 {
			endAt = pending[0].ProcessingEnd
		}
		switch {
		case len(pending) > 0 && !endAt.After(genAt) && !endAt.After(recvAt):
			// A batch ends: the controller sees its report.
			m.Set(endAt)
			if ctl != nil {
				ctl.batchCompleted(pending[0], 0)
			}
			pending = pending[1:]
		case recvAt.After(genAt):
			// The batch is generated with the records stored in its
			// interval; it starts when the previous batch has ended.
			m.Set(genAt)
			startAt := genAt
			if lastEnd.After(startAt) {
				startAt = lastEnd
			}
			p := time.Duration(float64(current) / s.capacity * float64(time.Second))
			info := metrics.BatchInfo{BatchTime: genAt, SubmissionTime: genAt, ProcessingStart: startAt, ProcessingEnd: startAt.Add(p),
				Inputs: []metrics.InputInfo{{StreamID: 0, Records: current}}}
			lastEnd = info.ProcessingEnd
			pending = append(pending, info)
			out = append(out, rcSimBatch{records: current, scheduling: startAt.Sub(genAt), processing: p, rate: l.currentRate()})
			current = 0
			nextGen++
		case holding:
			// The held chunk's slots have come: it is stored.
			m.Set(storeAt)
			current += int64(s.chunk)
			holding, recvFree = false, storeAt
			chunkReady = chunkReady.Add(chunkGap)
		default:
			// The receiver has a chunk from the source and reserves its
			// slots (blockGenerator.add); it waits for them, if it must.
			m.Set(recvAt)
			holding, storeAt = true, recvAt
			if at := l.reserve(s.chunk); !at.IsZero() {
				storeAt = at
			}
		}
	}
	return out
}

// rcSimC is the simulated job's capacity, records/s.
const rcSimC = 10_000.0

// rcFormat prints simulated batches for failure messages.
func rcFormat(res []rcSimBatch) string {
	var b strings.Builder
	for k, x := range res {
		fmt.Fprintf(&b, "  batch %3d: records %6d, scheduling delay %8v, processing %8v, rate %8.0f\n",
			k+1, x.records, x.scheduling.Round(time.Millisecond), x.processing.Round(time.Millisecond), x.rate)
	}
	return b.String()
}

// TestBackpressureClosedLoopSim runs the simulation with an input that
// offers 5 times what the job can process (C = 10,000 records/s, 1 s
// batches, burst 200 ms as with the default block interval).
//
// With backpressure the scheduling delay must stay below 2 intervals
// after the first 10 batches and the rate settle within ±20% of C; without
// it every batch takes 5 s to process and the delay grows by 4 s a batch.
//
// Backpressure starts at BackpressureInitialRate(1.5·C): the estimator
// sees its first report only when batch 2 completes (batch 1 only seeds
// it), and every batch generated before that holds initialRate×interval
// records. With the initial rate at 2·C the backlog of those batches
// still keeps the delay above 2 intervals until batch 15; without an
// initial rate (TestBackpressureWithoutInitialRateSim) until batch 57.
// That is Spark's estimator, and why Spark has initialRate.
func TestBackpressureClosedLoopSim(t *testing.T) {
	const batches = 40
	on := rcSim{interval: time.Second, capacity: rcSimC, offered: 5 * rcSimC, chunk: 100,
		backpressure: true, initialRate: 1.5 * rcSimC, batches: batches}.run()
	if len(on) != batches {
		t.Fatalf("simulated %d batches, want %d", len(on), batches)
	}
	for k, b := range on {
		if k+1 > 10 && b.scheduling >= 2*time.Second {
			t.Errorf("backpressure on: batch %d waited %v, want < 2 intervals after the first 10 batches", k+1, b.scheduling)
		}
		if k+1 > 15 && math.Abs(b.rate-rcSimC) > 0.2*rcSimC {
			t.Errorf("backpressure on: rate %v at batch %d, want within ±20%% of %v once settled", b.rate, k+1, rcSimC)
		}
		// The job processes at C: a batch holds no more than the rate
		// allows (plus the burst of 200 ms at the initial rate).
		if k > 0 && float64(b.records) > 1.5*rcSimC*1.2+100 {
			t.Errorf("backpressure on: batch %d holds %d records", k+1, b.records)
		}
	}
	if last := on[batches-1]; math.Abs(last.rate-rcSimC) > 0.2*rcSimC || math.Abs(float64(last.records)-rcSimC) > 0.2*rcSimC {
		t.Errorf("backpressure on: last batch %d records at rate %v, want ≈ C = %v", last.records, last.rate, rcSimC)
	}
	// The rate did change: it started at 1.5·C and went down.
	if on[0].rate != 1.5*rcSimC || on[12].rate >= 1.5*rcSimC {
		t.Errorf("backpressure on: rates %v then %v, want 1.5·C at first and lower later", on[0].rate, on[12].rate)
	}

	off := rcSim{interval: time.Second, capacity: rcSimC, offered: 5 * rcSimC, chunk: 100, batches: batches}.run()
	for k := 1; k < len(off); k++ {
		if off[k].scheduling <= off[k-1].scheduling {
			t.Errorf("backpressure off: batch %d waited %v, not longer than batch %d (%v); want the delay to grow every batch",
				k+1, off[k].scheduling, k, off[k-1].scheduling)
		}
		if off[k].rate != 0 {
			t.Errorf("backpressure off: batch %d rate %v, want 0 (no limit)", k+1, off[k].rate)
		}
	}
	if got := off[batches-1].scheduling; got < time.Duration(batches-1)*4*time.Second {
		t.Errorf("backpressure off: last delay %v, want ≈ 4 s × %d", got, batches-1)
	}
	if t.Failed() {
		t.Logf("backpressure on:\n%s", rcFormat(on))
		t.Logf("backpressure off:\n%s", rcFormat(off))
	}
}

// TestBackpressureWithoutInitialRateSim documents how the estimator
// recovers when nothing limits the first batches (no initial rate) at 5×
// overload: the 10 batches generated before the first estimate hold 5·C
// records each, 45 s of backlog. The integral term then holds the rate at
// MinRate (100 records/s) while the backlog drains, about 1 s a batch,
// and the rate goes back to C once the delay is gone.
func TestBackpressureWithoutInitialRateSim(t *testing.T) {
	res := rcSim{interval: time.Second, capacity: rcSimC, offered: 5 * rcSimC, chunk: 100, backpressure: true, batches: 80}.run()
	peak, peakAt := time.Duration(0), 0
	for k, b := range res {
		if b.scheduling > peak {
			peak, peakAt = b.scheduling, k
		}
	}
	// After the peak the delay only shrinks, and it is gone by batch 70.
	for k := peakAt + 1; k < len(res); k++ {
		if res[k].scheduling > res[k-1].scheduling {
			t.Errorf("batch %d waited %v, longer than batch %d (%v), after the peak", k+1, res[k].scheduling, k, res[k-1].scheduling)
		}
	}
	for k := 69; k < len(res); k++ {
		if res[k].scheduling >= 2*time.Second || math.Abs(res[k].rate-rcSimC) > 0.2*rcSimC {
			t.Errorf("batch %d: delay %v, rate %v; want recovered (< 2 s, ≈ %v)", k+1, res[k].scheduling, res[k].rate, rcSimC)
		}
	}
	if peak < 30*time.Second {
		t.Errorf("peak delay %v; the 10 unlimited batches should cause about 40 s", peak)
	}
	if t.Failed() {
		t.Logf("\n%s", rcFormat(res))
	}
}
