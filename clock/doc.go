// Package clock abstracts the passage of time for the spate engine.
//
// Engine code never calls time.Now, time.Sleep, time.NewTimer or
// time.NewTicker directly. Instead it receives a [Clock] and uses it for
// every time-dependent decision (batch intervals, window boundaries,
// timeouts, back-off). Production code passes [System], which is backed by
// package time; tests pass a [Manual] clock, which only moves when the test
// calls [Manual.Advance] or [Manual.Set], so that no test ever sleeps.
//
// # Semantics
//
// [Timer] and [Ticker] follow the semantics of time.Timer and time.Ticker in
// Go 1.23 and later:
//
//   - The channel returned by C has capacity 1 and is never closed.
//   - Sends are non-blocking: a ticker whose reader is slow drops ticks, and
//     the reader sees at most one buffered (the oldest undelivered) tick.
//   - After Stop or Reset returns, no value prepared before the call is
//     received from C: pending values are discarded.
//   - Timer.Stop and Timer.Reset report whether the timer was active, where a
//     timer that fired but whose value had not been received yet still counts
//     as active (its value is discarded).
//   - A timer created or reset with d <= 0 fires immediately.
//   - A ticker created or reset with d <= 0 does not panic (unlike
//     time.NewTicker); the period is clamped to [MinTickerPeriod] (1ns).
//
// # Manual clock
//
// A [Manual] clock starts at the time given to [NewManual] and moves only
// forward. Advance(d) fires every timer, ticker and sleeper whose deadline
// falls within the advance, in deadline order (ties in creation order). While
// an event fires, Now reports that event's deadline and the value sent on the
// channel is that deadline; a ticker fires once per elapsed period. When
// Advance returns, Now is exactly the old time plus d. Negative advances and
// Set to an earlier time are no-ops.
//
// [Manual.Waiters] and [Manual.BlockUntil] let a test wait until the code
// under test has armed its timers before advancing the clock, without polling
// or sleeping.
//
// All clocks, timers and tickers are safe for concurrent use. A Manual clock
// never holds its lock while blocking, so a goroutine woken by a timer may
// call back into the clock (Now, NewTimer, Stop, ...) while Advance is still
// running.
//
// # Usage in tests
//
//	clk := clock.NewManual(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
//	done := make(chan error, 1)
//	go func() { done <- clk.Sleep(ctx, 5*time.Second) }() // code under test
//
//	// Wait until the goroutine is actually sleeping, then let time pass.
//	if err := clk.BlockUntil(ctx, 1); err != nil {
//		t.Fatal(err)
//	}
//	clk.Advance(5 * time.Second)
//
//	select {
//	case err := <-done:
//		// err == nil
//	case <-time.After(5 * time.Second):
//		t.Fatal("Sleep did not return")
//	}
package clock
