package clock

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// waitLimit bounds every blocking wait in these tests; hitting it is a
// failure, never a synchronisation mechanism.
const waitLimit = 5 * time.Second

var start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return start.Add(d) }

// recv returns the next value from c or fails the test after waitLimit.
func recv(t *testing.T, c <-chan time.Time) time.Time {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("no value received within %v", waitLimit)
		return time.Time{}
	}
}

// want receives from c and checks the value.
func want(t *testing.T, c <-chan time.Time, w time.Time) {
	t.Helper()
	if got := recv(t, c); !got.Equal(w) {
		t.Fatalf("received %v, want %v", got, w)
	}
}

// none checks that nothing is buffered on c. Manual clocks send
// synchronously inside Advance/NewTimer/Reset, so this is deterministic.
func none(t *testing.T, c <-chan time.Time) {
	t.Helper()
	select {
	case v := <-c:
		t.Fatalf("unexpected value %v received", v)
	default:
	}
}

func wantWaiters(t *testing.T, m *Manual, n int) {
	t.Helper()
	if got := m.Waiters(); got != n {
		t.Fatalf("Waiters() = %d, want %d", got, n)
	}
}

func result(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(waitLimit):
		t.Fatalf("no result within %v", waitLimit)
		return nil
	}
}

func blockUntil(t *testing.T, m *Manual, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := m.BlockUntil(ctx, n); err != nil {
		t.Fatalf("BlockUntil(%d): %v (waiters %d)", n, err, m.Waiters())
	}
}

func TestManualNowSince(t *testing.T) {
	tests := []struct {
		name     string
		advances []time.Duration
		want     time.Duration
	}{
		{"none", nil, 0},
		{"zero", []time.Duration{0}, 0},
		{"one", []time.Duration{time.Second}, time.Second},
		{"several", []time.Duration{time.Second, 250 * time.Millisecond, time.Hour}, time.Hour + 1250*time.Millisecond},
		{"negative ignored", []time.Duration{time.Second, -time.Minute, time.Second}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewManual(start)
			for _, d := range tt.advances {
				m.Advance(d)
			}
			if got := m.Now(); !got.Equal(at(tt.want)) {
				t.Errorf("Now() = %v, want %v", got, at(tt.want))
			}
			if got := m.Since(start); got != tt.want {
				t.Errorf("Since(start) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewManualStripsMonotonic(t *testing.T) {
	now := time.Now()
	m := NewManual(now)
	if got := m.Now(); got != now.Round(0) {
		t.Fatalf("Now() = %#v, want %#v", got, now.Round(0))
	}
}

func TestManualZeroValue(t *testing.T) {
	var m Manual
	tm := m.NewTimer(time.Second)
	blockUntil(t, &m, 1)
	m.Advance(time.Second)
	want(t, tm.C(), time.Time{}.Add(time.Second))
}

func TestManualSet(t *testing.T) {
	m := NewManual(start)
	tm := m.NewTimer(2 * time.Second)

	m.Set(at(-time.Hour)) // backwards: no-op
	if got := m.Now(); !got.Equal(start) {
		t.Fatalf("after backwards Set: Now() = %v, want %v", got, start)
	}
	none(t, tm.C())

	m.Set(at(time.Second))
	none(t, tm.C())
	m.Set(at(time.Second)) // same time: no-op
	m.Set(at(3 * time.Second))
	want(t, tm.C(), at(2*time.Second))
	if got := m.Now(); !got.Equal(at(3 * time.Second)) {
		t.Fatalf("Now() = %v, want %v", got, at(3*time.Second))
	}
}

// TestManualFireOrder checks that one big Advance fires everything in
// deadline order (ties in creation order), that Now reports each deadline
// while it fires, and that each channel receives its deadline.
func TestManualFireOrder(t *testing.T) {
	m := NewManual(start)
	a := m.NewTimer(3 * time.Second)
	b := m.NewTimer(1 * time.Second)
	c := m.NewTimer(2 * time.Second)
	d := m.NewTimer(2 * time.Second) // ties with c, created later
	tk := m.NewTicker(1500 * time.Millisecond)
	late := m.NewTimer(10 * time.Second) // beyond the advance

	names := map[<-chan time.Time]string{
		a.C(): "a", b.C(): "b", c.C(): "c", d.C(): "d", tk.C(): "tk", late.C(): "late",
	}
	type fire struct {
		name string
		now  time.Duration
	}
	var got []fire
	m.afterFire = func(e *event) {
		// Called by Advance between firings, with no lock held: Now must
		// still report the deadline of the event that just fired.
		got = append(got, fire{names[e.c], m.Since(start)})
	}

	wantWaiters(t, m, 6)
	m.Advance(5 * time.Second)

	wantOrder := []fire{
		{"b", 1 * time.Second},
		{"tk", 1500 * time.Millisecond},
		{"c", 2 * time.Second},
		{"d", 2 * time.Second},
		{"a", 3 * time.Second},
		{"tk", 3 * time.Second},
		{"tk", 4500 * time.Millisecond},
	}
	if fmt.Sprint(got) != fmt.Sprint(wantOrder) {
		t.Fatalf("fire order:\n got %v\nwant %v", got, wantOrder)
	}
	if now := m.Now(); !now.Equal(at(5 * time.Second)) {
		t.Fatalf("Now() after Advance = %v, want %v", now, at(5*time.Second))
	}

	for _, tc := range []struct {
		name string
		c    <-chan time.Time
		want time.Duration
	}{
		{"a", a.C(), 3 * time.Second},
		{"b", b.C(), 1 * time.Second},
		{"c", c.C(), 2 * time.Second},
		{"d", d.C(), 2 * time.Second},
		{"tk", tk.C(), 1500 * time.Millisecond}, // later ticks dropped
	} {
		if v := recv(t, tc.c); !v.Equal(at(tc.want)) {
			t.Errorf("%s received %v, want %v", tc.name, v, at(tc.want))
		}
	}
	none(t, tk.C())
	none(t, late.C())
	wantWaiters(t, m, 2) // ticker and late
}

// TestManualArmDuringAdvance checks that an event armed (from a callback
// into the clock) while Advance is running fires within the same Advance
// if its deadline falls inside it.
func TestManualArmDuringAdvance(t *testing.T) {
	m := NewManual(start)
	first := m.NewTimer(time.Second)
	var second Timer
	m.afterFire = func(e *event) {
		if second == nil {
			second = m.NewTimer(500 * time.Millisecond) // due at 1.5s
		}
	}
	m.Advance(2 * time.Second)
	want(t, first.C(), at(time.Second))
	want(t, second.C(), at(1500*time.Millisecond))
}

func TestManualTimer(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, m *Manual)
	}{
		{"fires at deadline", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(time.Second)
			m.Advance(999 * time.Millisecond)
			none(t, tm.C())
			m.Advance(time.Millisecond)
			want(t, tm.C(), at(time.Second))
			m.Advance(time.Hour)
			none(t, tm.C())
		}},
		{"zero duration fires immediately", func(t *testing.T, m *Manual) {
			m.Advance(time.Second)
			tm := m.NewTimer(0)
			want(t, tm.C(), at(time.Second))
			wantWaiters(t, m, 0)
		}},
		{"negative duration fires immediately", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(-time.Hour)
			want(t, tm.C(), start)
		}},
		{"stop before fire", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(time.Second)
			if !tm.Stop() {
				t.Fatal("Stop() = false, want true")
			}
			wantWaiters(t, m, 0)
			m.Advance(2 * time.Second)
			none(t, tm.C())
			if tm.Stop() {
				t.Fatal("second Stop() = true, want false")
			}
		}},
		{"stop after fire and receive", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(time.Second)
			m.Advance(time.Second)
			want(t, tm.C(), at(time.Second))
			if tm.Stop() {
				t.Fatal("Stop() = true, want false")
			}
		}},
		{"stop after fire without receive discards value", func(t *testing.T, m *Manual) {
			// Go 1.23+ time.Timer semantics: the unreceived value is
			// discarded and Stop reports true.
			tm := m.NewTimer(time.Second)
			m.Advance(time.Second)
			if !tm.Stop() {
				t.Fatal("Stop() = false, want true")
			}
			none(t, tm.C())
		}},
		{"reset re-arms pending timer", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(time.Second)
			m.Advance(500 * time.Millisecond)
			if !tm.Reset(time.Second) {
				t.Fatal("Reset() = false, want true")
			}
			wantWaiters(t, m, 1)
			m.Advance(600 * time.Millisecond) // past the old deadline
			none(t, tm.C())
			m.Advance(400 * time.Millisecond)
			want(t, tm.C(), at(1500*time.Millisecond))
		}},
		{"reset after fire and receive re-arms", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(time.Second)
			m.Advance(time.Second)
			want(t, tm.C(), at(time.Second))
			if tm.Reset(2 * time.Second) {
				t.Fatal("Reset() = true, want false")
			}
			m.Advance(2 * time.Second)
			want(t, tm.C(), at(3*time.Second))
		}},
		{"reset after stop re-arms", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(time.Second)
			tm.Stop()
			if tm.Reset(time.Second) {
				t.Fatal("Reset() = true, want false")
			}
			m.Advance(time.Second)
			want(t, tm.C(), at(time.Second))
		}},
		{"reset discards stale value", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(time.Second)
			m.Advance(time.Second)
			if !tm.Reset(time.Second) {
				t.Fatal("Reset() = false, want true")
			}
			none(t, tm.C())
			m.Advance(time.Second)
			want(t, tm.C(), at(2*time.Second))
		}},
		{"reset to zero fires immediately", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(time.Hour)
			m.Advance(time.Second)
			if !tm.Reset(0) {
				t.Fatal("Reset(0) = false, want true")
			}
			want(t, tm.C(), at(time.Second))
			wantWaiters(t, m, 0)
			m.Advance(2 * time.Hour)
			none(t, tm.C())
		}},
		{"reset to negative fires immediately", func(t *testing.T, m *Manual) {
			tm := m.NewTimer(time.Hour)
			tm.Reset(-time.Second)
			want(t, tm.C(), start)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, NewManual(start)) })
	}
}

func TestManualTicker(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, m *Manual)
	}{
		{"fires every period", func(t *testing.T, m *Manual) {
			tk := m.NewTicker(time.Second)
			defer tk.Stop()
			for i := 1; i <= 5; i++ {
				m.Advance(time.Second)
				want(t, tk.C(), at(time.Duration(i)*time.Second))
				none(t, tk.C())
			}
		}},
		{"fires on period boundaries across uneven advances", func(t *testing.T, m *Manual) {
			tk := m.NewTicker(time.Second)
			defer tk.Stop()
			m.Advance(700 * time.Millisecond)
			none(t, tk.C())
			m.Advance(700 * time.Millisecond)
			want(t, tk.C(), at(time.Second))
			m.Advance(700 * time.Millisecond)
			want(t, tk.C(), at(2*time.Second))
		}},
		{"slow reader sees one buffered tick", func(t *testing.T, m *Manual) {
			tk := m.NewTicker(time.Second)
			defer tk.Stop()
			m.Advance(5 * time.Second)
			want(t, tk.C(), at(time.Second)) // oldest kept, others dropped
			none(t, tk.C())
			m.Advance(time.Second)
			want(t, tk.C(), at(6*time.Second))
		}},
		{"stop stops ticks", func(t *testing.T, m *Manual) {
			tk := m.NewTicker(time.Second)
			m.Advance(time.Second)
			wantWaiters(t, m, 1)
			tk.Stop()
			wantWaiters(t, m, 0)
			none(t, tk.C()) // the unreceived tick is discarded
			m.Advance(10 * time.Second)
			none(t, tk.C())
			tk.Stop() // idempotent
		}},
		{"reset changes period", func(t *testing.T, m *Manual) {
			tk := m.NewTicker(time.Second)
			defer tk.Stop()
			m.Advance(500 * time.Millisecond)
			tk.Reset(3 * time.Second) // next tick at 3.5s
			m.Advance(2500 * time.Millisecond)
			none(t, tk.C())
			m.Advance(500 * time.Millisecond)
			want(t, tk.C(), at(3500*time.Millisecond))
			m.Advance(3 * time.Second)
			want(t, tk.C(), at(6500*time.Millisecond))
		}},
		{"reset restarts stopped ticker", func(t *testing.T, m *Manual) {
			tk := m.NewTicker(time.Second)
			tk.Stop()
			tk.Reset(2 * time.Second)
			defer tk.Stop()
			m.Advance(2 * time.Second)
			want(t, tk.C(), at(2*time.Second))
		}},
		{"non-positive period is clamped", func(t *testing.T, m *Manual) {
			tk := m.NewTicker(0)
			m.Advance(MinTickerPeriod)
			want(t, tk.C(), at(MinTickerPeriod))
			tk.Reset(-time.Second)
			m.Advance(10 * MinTickerPeriod)
			want(t, tk.C(), at(2*MinTickerPeriod))
			tk.Stop()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, NewManual(start)) })
	}
}

func TestManualSleep(t *testing.T) {
	t.Run("returns nil after advance", func(t *testing.T) {
		m := NewManual(start)
		done := make(chan error, 1)
		go func() { done <- m.Sleep(context.Background(), 2*time.Second) }()
		blockUntil(t, m, 1)
		m.Advance(time.Second)
		select {
		case err := <-done:
			t.Fatalf("Sleep returned %v before its deadline", err)
		default:
		}
		m.Advance(time.Second)
		if err := result(t, done); err != nil {
			t.Fatalf("Sleep = %v, want nil", err)
		}
		wantWaiters(t, m, 0)
	})
	t.Run("returns ctx error on cancel", func(t *testing.T) {
		m := NewManual(start)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Sleep(ctx, time.Hour) }()
		blockUntil(t, m, 1)
		cancel()
		if err := result(t, done); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep = %v, want %v", err, context.Canceled)
		}
		wantWaiters(t, m, 0) // the sleeper's timer was released
	})
	t.Run("already cancelled", func(t *testing.T) {
		m := NewManual(start)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := m.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep = %v, want %v", err, context.Canceled)
		}
		wantWaiters(t, m, 0)
	})
	t.Run("non-positive duration", func(t *testing.T) {
		m := NewManual(start)
		for _, d := range []time.Duration{0, -time.Second} {
			if err := m.Sleep(context.Background(), d); err != nil {
				t.Fatalf("Sleep(%v) = %v, want nil", d, err)
			}
		}
	})
}

func TestManualWaiters(t *testing.T) {
	m := NewManual(start)
	wantWaiters(t, m, 0)
	m.NewTimer(time.Second)
	tk := m.NewTicker(time.Second)
	wantWaiters(t, m, 2)
	go m.Sleep(context.Background(), 3*time.Second)
	blockUntil(t, m, 3)
	m.Advance(time.Second) // timer fires, ticker stays active
	wantWaiters(t, m, 2)
	tk.Stop()
	wantWaiters(t, m, 1)
	m.Advance(2 * time.Second) // sleeper wakes
	wantWaiters(t, m, 0)
}

func TestManualBlockUntil(t *testing.T) {
	t.Run("waits for goroutine to arm timer", func(t *testing.T) {
		m := NewManual(start)
		arm := make(chan struct{})
		fired := make(chan time.Time, 1)
		go func() {
			<-arm
			tm := m.NewTimer(time.Second)
			fired <- <-tm.C()
		}()
		blocked := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			blocked <- m.BlockUntil(ctx, 1)
		}()
		close(arm)
		if err := result(t, blocked); err != nil {
			t.Fatalf("BlockUntil = %v, want nil", err)
		}
		wantWaiters(t, m, 1)
		m.Advance(time.Second)
		want(t, fired, at(time.Second))
	})
	t.Run("already satisfied", func(t *testing.T) {
		m := NewManual(start)
		m.NewTimer(time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // satisfied condition wins over a done context
		for _, n := range []int{-1, 0, 1} {
			if err := m.BlockUntil(ctx, n); err != nil {
				t.Fatalf("BlockUntil(%d) = %v, want nil", n, err)
			}
		}
	})
	t.Run("returns ctx error on cancel", func(t *testing.T) {
		m := NewManual(start)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.BlockUntil(ctx, 5) }()
		m.NewTimer(time.Second) // a change that does not satisfy it
		cancel()
		if err := result(t, done); !errors.Is(err, context.Canceled) {
			t.Fatalf("BlockUntil = %v, want %v", err, context.Canceled)
		}
	})
	t.Run("several waiters from several goroutines", func(t *testing.T) {
		m := NewManual(start)
		const n = 10
		errs := make(chan error, n)
		for i := range n {
			go func() { errs <- m.Sleep(context.Background(), time.Duration(i+1)*time.Second) }()
		}
		blockUntil(t, m, n)
		m.Advance(n * time.Second)
		for range n {
			if err := result(t, errs); err != nil {
				t.Fatalf("Sleep = %v", err)
			}
		}
	})
}

// TestManualConcurrent exercises the clock from many goroutines while
// another goroutine advances it; run with -race.
func TestManualConcurrent(t *testing.T) {
	m := NewManual(start)
	const (
		workers = 32
		rounds  = 20
	)
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				d := time.Duration(1+(w*7+r*13)%50) * time.Millisecond
				before := m.Now()
				switch r % 4 {
				case 0: // plain timer
					tm := m.NewTimer(d)
					v := <-tm.C()
					if v.Before(before.Add(d)) {
						errc <- fmt.Errorf("timer fired at %v, before deadline %v", v, before.Add(d))
						return
					}
				case 1: // stop, then reset and wait
					tm := m.NewTimer(d)
					tm.Stop()
					tm.Reset(d)
					<-tm.C()
				case 2: // sleep
					if err := m.Sleep(context.Background(), d); err != nil {
						errc <- err
						return
					}
				case 3: // ticker, two ticks, callbacks into the clock
					tk := m.NewTicker(d)
					<-tk.C()
					_ = m.Since(before)
					<-tk.C()
					tk.Stop()
				}
			}
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	deadline := time.After(waitLimit * 4)
	for {
		select {
		case <-allDone:
			close(errc)
			for err := range errc {
				t.Error(err)
			}
			if n := m.Waiters(); n != 0 {
				t.Errorf("Waiters() = %d after all workers finished", n)
			}
			return
		case <-deadline:
			t.Fatalf("workers did not finish; Waiters() = %d", m.Waiters())
		default:
			m.Advance(time.Millisecond)
			_ = m.Waiters()
			runtime.Gosched()
		}
	}
}

func TestSystem(t *testing.T) {
	c := System()

	t.Run("now and since", func(t *testing.T) {
		t0 := c.Now()
		if d := c.Since(t0); d < 0 {
			t.Fatalf("Since = %v, want >= 0", d)
		}
	})
	t.Run("timer", func(t *testing.T) {
		tm := c.NewTimer(0)
		recv(t, tm.C())
		if tm.Stop() {
			t.Fatal("Stop after receive = true, want false")
		}
		tm.Reset(time.Hour)
		if !tm.Stop() {
			t.Fatal("Stop of pending timer = false, want true")
		}
		tm.Reset(time.Nanosecond)
		recv(t, tm.C())
	})
	t.Run("ticker", func(t *testing.T) {
		for _, d := range []time.Duration{time.Millisecond, 0, -time.Second} {
			tk := c.NewTicker(d) // must not panic
			recv(t, tk.C())
			tk.Reset(d) // must not panic
			recv(t, tk.C())
			tk.Stop()
		}
	})
	t.Run("sleep", func(t *testing.T) {
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		tests := []struct {
			name string
			ctx  context.Context
			d    time.Duration
			want error
		}{
			{"tiny", context.Background(), time.Nanosecond, nil},
			{"zero", context.Background(), 0, nil},
			{"negative", context.Background(), -time.Second, nil},
			{"cancelled", cancelled, time.Hour, context.Canceled},
			{"cancelled zero", cancelled, 0, context.Canceled},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := c.Sleep(tt.ctx, tt.d); !errors.Is(err, tt.want) {
					t.Fatalf("Sleep = %v, want %v", err, tt.want)
				}
			})
		}
	})
	t.Run("sleep cancelled while blocked", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Sleep(ctx, time.Hour) }()
		cancel()
		if err := result(t, done); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep = %v, want %v", err, context.Canceled)
		}
	})
}

func TestManualNewTimerAt(t *testing.T) {
	start := time.Unix(100, 0)
	m := NewManual(start)
	past := m.NewTimerAt(start.Add(-time.Second))
	select {
	case got := <-past.C():
		if !got.Equal(start) {
			t.Fatalf("past timer sent %v, want %v", got, start)
		}
	default:
		t.Fatal("timer at a past time did not fire immediately")
	}
	future := m.NewTimerAt(start.Add(3 * time.Second))
	m.Advance(2 * time.Second)
	select {
	case <-future.C():
		t.Fatal("timer fired before its deadline")
	default:
	}
	m.Advance(time.Second)
	select {
	case got := <-future.C():
		if want := start.Add(3 * time.Second); !got.Equal(want) {
			t.Fatalf("timer sent %v, want %v", got, want)
		}
	default:
		t.Fatal("timer did not fire at its deadline")
	}
}

func TestSystemNewTimerAt(t *testing.T) {
	c := System()
	timer := c.NewTimerAt(c.Now().Add(-time.Millisecond))
	select {
	case <-timer.C():
	case <-time.After(5 * time.Second):
		t.Fatal("system timer at a past time did not fire")
	}
}
