package benchsuite

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// testParams are small runs: a few batches per query.
func testParams() Params {
	return Params{Events: 60_000, BatchEvents: 7_000, Partitions: 3, Slots: 2, EventRate: 2_000}
}

func TestQueriesMatchBaselines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, q := range Queries() {
		t.Run(q.Name, func(t *testing.T) {
			p := testParams()
			p.CheckpointDir = t.TempDir()
			ms, err := Run(ctx, []Query{q}, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 2 {
				t.Fatalf("got %d measurements, want 2: %+v", len(ms), ms)
			}
			ds, hand := ms[0], ms[1]
			if ds.Status != "ok" || hand.Status != "ok" {
				t.Fatalf("dstream %s (%s), handloop %s (%s)", ds.Status, ds.Error, hand.Status, hand.Error)
			}
			if ds.Events != p.Events || hand.Events != p.Events {
				t.Errorf("events: dstream %d, handloop %d, want %d", ds.Events, hand.Events, p.Events)
			}
			if ds.Result != hand.Result || ds.Result.Rows == 0 {
				t.Errorf("dstream %v, handloop %v", ds.Result, hand.Result)
			}
			t.Logf("%s: %v", q.ID(), ds.Result)
		})
	}
}

// TestPacedRun runs YSB and q5 paced in real time: every event is
// processed, the results match the baselines and latencies are reported.
func TestPacedRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	qs, err := Select("all", []string{"ysb", "q5"})
	if err != nil {
		t.Fatal(err)
	}
	p := Params{Rate: 40_000, Duration: 500 * time.Millisecond, Interval: 20 * time.Millisecond, Partitions: 2, CheckpointDir: t.TempDir()}
	ms, err := Run(ctx, qs, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Status != "ok" {
			t.Fatalf("%s %s: %s %s", m.Query, m.Variant, m.Status, m.Error)
		}
		if m.Variant != VariantDStream {
			continue
		}
		if m.Mode != "paced" || m.Events != 20_000 {
			t.Errorf("%s: mode %s, %d events; want paced, 20000", m.Query, m.Mode, m.Events)
		}
		if m.LatencyP50Ms <= 0 || m.LatencyP99Ms < m.LatencyP50Ms {
			t.Errorf("%s: latency p50 %v ms, p99 %v ms", m.Query, m.LatencyP50Ms, m.LatencyP99Ms)
		}
		if m.MatchesHand == nil || !*m.MatchesHand {
			t.Errorf("%s: not checked against the baseline, or different", m.Query)
		}
	}
}

func TestQuantile(t *testing.T) {
	s := []latencySample{{latency: 3 * time.Millisecond, weight: 1}, {latency: time.Millisecond, weight: 98}, {latency: 2 * time.Millisecond, weight: 1}}
	if q := quantile(s, 0.5); q != 1 {
		t.Errorf("p50 = %v, want 1", q)
	}
	if q := quantile(s, 0.99); q != 2 {
		t.Errorf("p99 = %v, want 2", q)
	}
	if q := quantile(nil, 0.5); q != 0 {
		t.Errorf("p50 of nothing = %v", q)
	}
}

func TestQ5AuctionRing(t *testing.T) {
	var s Q5Auction
	counts := map[int64]int64{}
	add := func(b, c int64) {
		t.Helper()
		if !s.add(b, c) {
			t.Fatalf("add(%d) refused at last %d", b, s.Last)
		}
		counts[b] += c
	}
	check := func() {
		t.Helper()
		for w := s.Last - 4; w <= s.Last; w++ {
			var want int64
			for b := w; b < w+5; b++ {
				want += counts[b]
			}
			if got := s.window(w); got != want {
				t.Fatalf("window %d: %d, want %d (last %d)", w, got, want, s.Last)
			}
		}
	}
	add(100, 1)
	add(101, 2)
	add(100, 3)
	check()
	add(104, 5)
	add(100, 1)
	check()
	add(108, 7)
	check()
	if s.add(103, 1) {
		t.Error("a bucket 5 older than the newest was accepted")
	}
	add(130, 1) // a long gap clears the ring
	for b := range counts {
		if b != 130 {
			delete(counts, b)
		}
	}
	check()
	b, err := q5AuctionCodec{}.Append(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	back, n, err := q5AuctionCodec{}.Decode(b)
	if err != nil || n != len(b) || back != s {
		t.Fatalf("codec round trip: %+v, %d, %v; want %+v, %d", back, n, err, s, len(b))
	}
}

// TestQ4AuctionCodec round-trips q4's states and refuses every truncation.
func TestQ4AuctionCodec(t *testing.T) {
	states := []Q4Auction{
		{},
		{Seen: true, Category: 12, Start: 1_700_000_000_000, Expires: 1_700_000_010_000, Final: 977},
		{Pending: [][2]int64{{5, -3}, {1 << 40, 1_700_000_000_001}}},
	}
	for _, s := range states {
		b, err := q4AuctionCodec{}.Append([]byte{0xff}, s) // after other bytes
		if err != nil {
			t.Fatal(err)
		}
		back, n, err := q4AuctionCodec{}.Decode(b[1:])
		if err != nil || n != len(b)-1 || !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip of %+v: %+v, %d, %v; want %d bytes", s, back, n, err, len(b)-1)
		}
		for cut := range len(b) - 1 {
			if _, _, err := (q4AuctionCodec{}).Decode(b[1 : 1+cut]); !errors.Is(err, errQ4State) {
				t.Errorf("%+v cut to %d bytes: err = %v, want errQ4State", s, cut, err)
			}
		}
	}
}
