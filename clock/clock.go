package clock

import (
	"context"
	"time"
)

// MinTickerPeriod is the period used for a ticker created or reset with a
// non-positive duration. time.NewTicker panics in that case; clocks in this
// package clamp instead.
const MinTickerPeriod = time.Nanosecond

// Clock is the source of time for engine code.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Since returns the time elapsed since t, i.e. Now().Sub(t).
	Since(t time.Time) time.Duration
	// NewTimer creates a Timer that sends the current time on its channel
	// after at least duration d. A non-positive d fires immediately.
	NewTimer(d time.Duration) Timer
	// NewTimerAt creates a Timer that fires when the clock reaches at; a
	// time not after Now fires immediately. Code waiting for a point in
	// time uses it rather than NewTimer(at.Sub(Now())): with a manual
	// clock advanced by another goroutine between those two calls, the
	// duration would already be stale and the timer would fire late.
	NewTimerAt(at time.Time) Timer
	// NewTicker creates a Ticker that sends the current time on its channel
	// every period d. A non-positive d is clamped to MinTickerPeriod; it
	// never panics.
	NewTicker(d time.Duration) Ticker
	// Sleep blocks until duration d has elapsed or ctx is done. It returns
	// nil if the duration elapsed and ctx.Err() otherwise. If ctx is already
	// done, Sleep returns ctx.Err() immediately; a non-positive d returns nil
	// immediately.
	Sleep(ctx context.Context, d time.Duration) error
}

// Timer is a single event, with the semantics of time.Timer in Go 1.23+.
type Timer interface {
	// C returns the channel (capacity 1) on which the fire time is sent.
	C() <-chan time.Time
	// Stop prevents the timer from firing. It returns true if the call
	// stopped the timer, false if it had already been stopped or had fired
	// and its value had been received. Any unreceived value is discarded.
	Stop() bool
	// Reset re-arms the timer to fire after d (immediately if d <= 0). It
	// returns what Stop would have returned. Any unreceived value is
	// discarded, so no stale value is received after Reset.
	Reset(d time.Duration) bool
}

// Ticker delivers ticks at intervals, with the semantics of time.Ticker in
// Go 1.23+. Ticks are dropped if the reader is slow.
type Ticker interface {
	// C returns the channel (capacity 1) on which ticks are delivered.
	C() <-chan time.Time
	// Stop turns off the ticker; no more ticks are sent and any unreceived
	// tick is discarded. Stop does not close the channel.
	Stop()
	// Reset stops the ticker and restarts it with period d (clamped to
	// MinTickerPeriod if d <= 0); the next tick arrives after the new
	// period. Any unreceived tick is discarded.
	Reset(d time.Duration)
}

// System returns the real clock, backed by package time.
func System() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                  { return time.Now() }
func (systemClock) Since(t time.Time) time.Duration { return time.Since(t) }

func (systemClock) NewTimer(d time.Duration) Timer {
	return systemTimer{time.NewTimer(d)}
}

func (c systemClock) NewTimerAt(at time.Time) Timer {
	return c.NewTimer(time.Until(at))
}

func (systemClock) NewTicker(d time.Duration) Ticker {
	return systemTicker{time.NewTicker(clampPeriod(d))}
}

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time        { return s.t.C }
func (s systemTimer) Stop() bool                 { return s.t.Stop() }
func (s systemTimer) Reset(d time.Duration) bool { return s.t.Reset(d) }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time   { return s.t.C }
func (s systemTicker) Stop()                 { s.t.Stop() }
func (s systemTicker) Reset(d time.Duration) { s.t.Reset(clampPeriod(d)) }

func clampPeriod(d time.Duration) time.Duration {
	if d <= 0 {
		return MinTickerPeriod
	}
	return d
}

var (
	_ Clock  = systemClock{}
	_ Timer  = systemTimer{}
	_ Ticker = systemTicker{}
)
