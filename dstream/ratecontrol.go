package dstream

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/metrics"
)

// PIDConfig configures the rate estimator used for backpressure (see
// [Backpressure]). After each completed batch the estimator computes a new
// receiving rate from the batch's number of records n, processing delay
// p, scheduling delay s and the batch interval b (delays in seconds):
//
//	processingRate = n / p
//	error          = lastRate - processingRate
//	historicError  = s * processingRate / b
//	dError         = (error - lastError) / (time since the last batch)
//	newRate        = max(lastRate - Proportional*error
//	                             - Integral*historicError
//	                             - Derivative*dError, MinRate)
//
// The first batch only seeds lastRate with its processing rate. Batches
// without records or with no processing time leave the rate unchanged.
// These are Spark's formula and defaults.
type PIDConfig struct {
	// Proportional weighs the gap between the current rate and the rate
	// the last batch was processed at. Default: 1.0.
	Proportional float64
	// Integral weighs the backlog, from the scheduling delay. Default: 0.2.
	Integral float64
	// Derivative weighs the change of the gap. Default: 0.0.
	Derivative float64
	// MinRate is the lowest rate (records/s) the estimator sets.
	// Default: 100.
	MinRate float64
}

// DefaultPIDConfig is Spark's configuration of the rate estimator.
var DefaultPIDConfig = PIDConfig{Proportional: 1.0, Integral: 0.2, Derivative: 0.0, MinRate: 100}

func (c PIDConfig) validate() error {
	// Infinite terms would make rates NaN (∞·0) and an infinite floor
	// would lift every limit.
	bad := func(v float64) bool { return !(v >= 0) || math.IsInf(v, 0) }
	switch {
	case bad(c.Proportional):
		return fmt.Errorf("PIDConfig.Proportional must be a finite number ≥ 0, got %v", c.Proportional)
	case bad(c.Integral):
		return fmt.Errorf("PIDConfig.Integral must be a finite number ≥ 0, got %v", c.Integral)
	case bad(c.Derivative):
		return fmt.Errorf("PIDConfig.Derivative must be a finite number ≥ 0, got %v", c.Derivative)
	case !(c.MinRate > 0) || math.IsInf(c.MinRate, 0):
		return fmt.Errorf("PIDConfig.MinRate must be a finite rate > 0, got %v", c.MinRate)
	}
	return nil
}

// pidEstimator computes receiving rates from batch reports (see PIDConfig).
type pidEstimator struct {
	cfg           PIDConfig
	batchInterval time.Duration
	first         bool
	latestTime    time.Time
	latestRate    float64
	latestError   float64
}

func newPIDEstimator(cfg PIDConfig, batchInterval time.Duration) *pidEstimator {
	return &pidEstimator{cfg: cfg, batchInterval: batchInterval, first: true, latestRate: -1}
}

// compute takes one completed batch and returns the new rate, or false
// when the batch gives no new estimate.
func (e *pidEstimator) compute(t time.Time, records int64, processing, scheduling time.Duration) (float64, bool) {
	if !t.After(e.latestTime) || records <= 0 || processing <= 0 {
		return 0, false
	}
	sinceUpdate := t.Sub(e.latestTime).Seconds()
	processingRate := float64(records) / processing.Seconds()
	err := e.latestRate - processingRate
	historicError := scheduling.Seconds() * processingRate / e.batchInterval.Seconds()
	dErr := (err - e.latestError) / sinceUpdate
	newRate := max(e.latestRate-e.cfg.Proportional*err-e.cfg.Integral*historicError-e.cfg.Derivative*dErr, e.cfg.MinRate)
	e.latestTime = t
	if e.first {
		e.latestRate, e.latestError, e.first = processingRate, 0, false
		return 0, false
	}
	e.latestRate, e.latestError = newRate, err
	return newRate, true
}

// rateLimiter paces records to a rate on a clock: a record may pass once
// the clock reaches its slot, where slots are 1/rate apart, and slots up
// to burst in the past may still be taken (a token bucket of burst×rate
// records). A rate of 0 means no limit.
type rateLimiter struct {
	clk   clock.Clock
	burst time.Duration

	mu   sync.Mutex
	rate float64   // records per second; 0 = unlimited
	next time.Time // the time the next record's slot starts
}

func (l *rateLimiter) setRate(r float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate = r
}

func (l *rateLimiter) currentRate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}

// take reserves slots for the first k of n records, under one lock, and
// returns k and when they may pass (as reserve). Under a limit k is half a
// burst's worth (at least 1), so that a large store is spread over time;
// without a limit it is n.
func (l *rateLimiter) take(n int) (k int, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return n, time.Time{}
	}
	k = min(n, max(1, int(l.rate*l.burst.Seconds()/2)))
	return k, l.reserveLocked(k)
}

// reserve takes slots for n records and returns when they may pass: when
// the last of their slots starts (the zero time when that is now or
// past). So n records pass at once only when the burst holds them, and a
// larger reservation waits for its slots rather than taking them on
// credit.
func (l *rateLimiter) reserve(n int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reserveLocked(n)
}

func (l *rateLimiter) reserveLocked(n int) time.Time {
	if l.rate <= 0 || n <= 0 {
		return time.Time{}
	}
	now := l.clk.Now()
	if l.next.Before(now.Add(-l.burst)) {
		l.next = now.Add(-l.burst)
	}
	at := l.next.Add(l.slots(n - 1)) // the start of the last slot
	l.next = l.next.Add(l.slots(n))
	if !at.After(now) {
		return time.Time{}
	}
	return at
}

// slots returns the time n slots take, saturating rather than
// overflowing: converting a float64 beyond MaxInt64 to a Duration gives
// MinInt64 on amd64, which would move next far into the past and lift
// the limit.
func (l *rateLimiter) slots(n int) time.Duration {
	d := float64(n) / l.rate * float64(time.Second)
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// rateController updates a receiver's rate limit from completed batches.
// With ConcurrentJobs > 1, batches complete on several scheduler workers
// at once: mu serialises the estimator and keeps the limiter's rate that
// of the last estimate.
type rateController struct {
	estimator *pidEstimator
	limiter   *rateLimiter
	maxRate   float64 // the static limit, 0 = none

	mu sync.Mutex
}

func (c *rateController) batchCompleted(info metrics.BatchInfo, streamID int) {
	var records int64
	for _, in := range info.Inputs {
		if in.StreamID == streamID && in.Records > 0 {
			records += in.Records
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rate, ok := c.estimator.compute(info.BatchTime, records, info.ProcessingDelay(), info.SchedulingDelay())
	if !ok {
		return
	}
	if c.maxRate > 0 {
		rate = min(rate, c.maxRate)
	}
	c.limiter.setRate(rate)
}
