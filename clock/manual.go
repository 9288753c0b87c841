package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Manual is a Clock whose time only moves when Advance or Set is called. It
// is intended for tests: code under test arms timers, the test waits for them
// with BlockUntil and then moves time forward deterministically.
//
// Create a Manual with NewManual. The zero value is also usable and starts
// at the zero time. A Manual must not be copied after first use. All methods
// are safe for concurrent use.
type Manual struct {
	// advMu serialises Advance and Set so that the firing sequence of one
	// advance is never interleaved with another's.
	advMu sync.Mutex

	mu      sync.Mutex
	now     time.Time
	seq     uint64        // creation counter, breaks deadline ties
	events  eventHeap     // armed timers and active tickers, by (when, seq)
	changed chan struct{} // closed (and set to nil) on every state change

	// afterFire, if set (by tests only), is called by the advancing
	// goroutine after each event fired, without any lock held.
	afterFire func(e *event)
}

// NewManual returns a manual clock whose current time is start. Any
// monotonic clock reading in start is stripped so that times compare and
// print deterministically.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start.Round(0)}
}

// Now returns the clock's current time. While Advance or Set is firing an
// event, Now reports that event's deadline.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Since returns m.Now().Sub(t).
func (m *Manual) Since(t time.Time) time.Duration {
	return m.Now().Sub(t)
}

// NewTimer returns a Timer that fires when the clock reaches Now()+d. A
// timer with d <= 0 fires immediately: its channel already holds the
// current time when NewTimer returns.
func (m *Manual) NewTimer(d time.Duration) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTimer{event{m: m, c: make(chan time.Time, 1), index: -1}}
	m.seq++
	t.seq = m.seq
	m.armTimerLocked(&t.event, d)
	return t
}

// NewTimerAt returns a Timer that fires when the clock reaches at; if at
// is not after Now() its channel already holds the current time when
// NewTimerAt returns. The deadline is compared with the clock under its
// lock, so a concurrent Advance cannot make the timer late.
func (m *Manual) NewTimerAt(at time.Time) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTimer{event{m: m, c: make(chan time.Time, 1), index: -1}}
	m.seq++
	t.seq = m.seq
	m.armTimerLocked(&t.event, at.Sub(m.now))
	return t
}

// NewTicker returns a Ticker that fires every period d, the first time at
// Now()+d. A non-positive d is clamped to MinTickerPeriod. Note that an
// Advance fires a ticker once per elapsed period, so a tiny period combined
// with a large advance costs time proportional to their ratio.
func (m *Manual) NewTicker(d time.Duration) Ticker {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTicker{event{m: m, c: make(chan time.Time, 1), index: -1}}
	m.seq++
	t.seq = m.seq
	m.armTickerLocked(&t.event, d)
	return t
}

// Sleep blocks until the clock has been advanced to at least Now()+d, or ctx
// is done. It returns nil when the duration elapsed and ctx.Err() otherwise.
// While it blocks, the sleeper counts as one waiter (see Waiters).
func (m *Manual) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := m.NewTimer(d)
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// Advance moves the clock forward by d. Every timer, ticker and sleeper
// whose deadline is at or before the new time fires, in deadline order
// (ties in creation order); while an event fires, Now reports its deadline,
// and that deadline is the value sent on its channel. A ticker fires once
// for each of its periods that elapses. Sends never block: a reader that is
// behind sees at most one buffered value. Events armed by other goroutines
// during the advance with a deadline inside it fire too. When Advance
// returns, Now is the old time plus d. A negative d is a no-op.
func (m *Manual) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	m.advMu.Lock()
	defer m.advMu.Unlock()
	m.mu.Lock()
	m.runLocked(m.now.Add(d))
}

// Set moves the clock to t, firing events exactly like Advance. If t is
// before the current time, Set is a no-op: a Manual never goes backwards.
func (m *Manual) Set(t time.Time) {
	m.advMu.Lock()
	defer m.advMu.Unlock()
	m.mu.Lock()
	if t.Before(m.now) {
		m.mu.Unlock()
		return
	}
	m.runLocked(t.Round(0))
}

// Waiters returns the number of pending events: armed timers that have not
// fired yet, active tickers and blocked Sleep calls.
func (m *Manual) Waiters() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.events)
}

// BlockUntil blocks until at least n waiters are pending (see Waiters). It
// returns nil once that is the case and ctx.Err() if ctx is done first.
// Typical use is to wait until the code under test has armed its timer
// before calling Advance.
func (m *Manual) BlockUntil(ctx context.Context, n int) error {
	for {
		m.mu.Lock()
		if len(m.events) >= n {
			m.mu.Unlock()
			return nil
		}
		if m.changed == nil {
			m.changed = make(chan struct{})
		}
		changed := m.changed
		m.mu.Unlock()

		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// runLocked fires every event with a deadline at or before target, then
// sets the time to target. It is called with m.mu held and m.advMu held,
// and returns with m.mu released. The lock is dropped between two firings
// so that woken goroutines may use the clock meanwhile.
func (m *Manual) runLocked(target time.Time) {
	for len(m.events) > 0 && !m.events[0].when.After(target) {
		e := m.events[0]
		if e.when.After(m.now) {
			m.now = e.when
		}
		m.fireLocked(e)
		if e.period > 0 {
			e.when = e.when.Add(e.period)
			heap.Fix(&m.events, e.index)
		} else {
			heap.Remove(&m.events, e.index)
		}
		m.notifyLocked()
		hook := m.afterFire
		m.mu.Unlock()
		if hook != nil {
			hook(e)
		}
		m.mu.Lock()
	}
	if target.After(m.now) {
		m.now = target
	}
	m.notifyLocked()
	m.mu.Unlock()
}

// fireLocked sends the current time on e's channel without blocking.
func (m *Manual) fireLocked(e *event) {
	select {
	case e.c <- m.now:
	default: // reader is behind: drop, like time.Ticker
	}
}

// notifyLocked wakes every BlockUntil call.
func (m *Manual) notifyLocked() {
	if m.changed != nil {
		close(m.changed)
		m.changed = nil
	}
}

// disarmLocked removes e from the schedule and discards any unreceived
// value. It reports whether e was armed or had an unreceived value.
func (m *Manual) disarmLocked(e *event) bool {
	active := false
	if e.index >= 0 {
		heap.Remove(&m.events, e.index)
		m.notifyLocked()
		active = true
	}
	select {
	case <-e.c:
		active = true
	default:
	}
	return active
}

// armTimerLocked schedules e to fire at Now()+d, or fires it now if d <= 0.
func (m *Manual) armTimerLocked(e *event, d time.Duration) {
	if d <= 0 {
		m.fireLocked(e)
		return
	}
	e.when = m.now.Add(d)
	heap.Push(&m.events, e)
	m.notifyLocked()
}

// armTickerLocked schedules ticker e with period d (clamped).
func (m *Manual) armTickerLocked(e *event, d time.Duration) {
	e.period = clampPeriod(d)
	e.when = m.now.Add(e.period)
	heap.Push(&m.events, e)
	m.notifyLocked()
}

// event is a timer or ticker of a Manual clock.
type event struct {
	m      *Manual
	c      chan time.Time
	when   time.Time     // next deadline, valid while armed
	period time.Duration // > 0 for tickers, 0 for timers
	seq    uint64        // creation order
	index  int           // position in m.events, -1 when not armed
}

type manualTimer struct{ event }

func (t *manualTimer) C() <-chan time.Time { return t.c }

func (t *manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	return t.m.disarmLocked(&t.event)
}

func (t *manualTimer) Reset(d time.Duration) bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	active := t.m.disarmLocked(&t.event)
	t.m.armTimerLocked(&t.event, d)
	return active
}

type manualTicker struct{ event }

func (t *manualTicker) C() <-chan time.Time { return t.c }

func (t *manualTicker) Stop() {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	t.m.disarmLocked(&t.event)
}

func (t *manualTicker) Reset(d time.Duration) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	t.m.disarmLocked(&t.event)
	t.m.armTickerLocked(&t.event, d)
}

// eventHeap is a min-heap of events ordered by deadline, then creation.
type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }

func (h eventHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}

func (h eventHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *eventHeap) Push(x any) {
	e := x.(*event)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *eventHeap) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	old[n] = nil
	e.index = -1
	*h = old[:n]
	return e
}

var (
	_ Clock  = (*Manual)(nil)
	_ Timer  = (*manualTimer)(nil)
	_ Ticker = (*manualTicker)(nil)
)
