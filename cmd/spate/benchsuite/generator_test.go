package benchsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector"
)

func TestYSBEventsAreDeterministicAndWellFormed(t *testing.T) {
	a, b := NewYSBGenerator(YSBConfig{Seed: 7}), NewYSBGenerator(YSBConfig{Seed: 7})
	other := NewYSBGenerator(YSBConfig{Seed: 8})
	if !reflect.DeepEqual(a.Ads(), b.Ads()) || reflect.DeepEqual(a.Ads(), other.Ads()) {
		t.Fatal("ad ids do not follow the seed")
	}
	if len(a.Campaigns()) != 100 || len(a.Ads()) != 1000 {
		t.Fatalf("%d campaigns, %d ads; want 100, 1000", len(a.Campaigns()), len(a.Ads()))
	}
	types := map[string]int{}
	adTypes := map[string]int{}
	const n = 30_000
	for i := range int64(n) {
		line := a.AppendEvent(nil, i)
		if !bytes.Equal(line, b.AppendEvent(nil, i)) {
			t.Fatalf("event %d differs between two generators of one seed", i)
		}
		var ev ysbJSON
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, line)
		}
		if len(ev.UserID) != 36 || len(ev.PageID) != 36 || len(ev.AdID) != 36 || ev.IPAddress != "1.2.3.4" {
			t.Fatalf("event %d has bad fields: %s", i, line)
		}
		if want := a.EventTimeMs(i); ev.EventTime != strconv.FormatInt(want, 10) {
			t.Fatalf("event %d: event_time %s, want %d", i, ev.EventTime, want)
		}
		types[ev.EventType]++
		adTypes[ev.AdType]++
	}
	if len(types) != 3 || len(adTypes) != 5 {
		t.Fatalf("event types %v, ad types %v", types, adTypes)
	}
	for k, c := range types {
		if math.Abs(float64(c)/n-1.0/3) > 0.02 {
			t.Errorf("event type %s: %d of %d, want about a third", k, c, n)
		}
	}
	// The exact key order and spacing of the original generator.
	line := string(a.AppendEvent(nil, 0))
	for _, prefix := range []string{`{"user_id": "`, `", "page_id": "`, `", "ad_id": "`, `", "ad_type": "`, `", "event_type": "`, `", "event_time": "`, `", "ip_address": "1.2.3.4"}`} {
		if !bytes.Contains([]byte(line), []byte(prefix)) {
			t.Errorf("event lacks %q: %s", prefix, line)
		}
	}
}

func TestParsersAgree(t *testing.T) {
	g := NewYSBGenerator(YSBConfig{})
	for i := range int64(2000) {
		line := g.AppendEvent(nil, i)
		var fast, std YSBEvent
		if err := ParseYSBFast(line, &fast); err != nil {
			t.Fatalf("fast: %v", err)
		}
		if err := ParseYSBStd(line, &std); err != nil {
			t.Fatalf("std: %v", err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("event %d: fast %+v, std %+v", i, fast, std)
		}
	}
}

func TestParseYSBFastEdgeCases(t *testing.T) {
	tests := []struct {
		in      string
		want    YSBEvent
		wantErr bool
	}{
		{in: `{"ad_id":"a","event_type":"view","event_time":"12"}`, want: YSBEvent{AdID: []byte("a"), EventType: []byte("view"), EventTime: 12}},
		{in: ` { "event_time" : "5" , "ad_id":"x\"y", "event_type": "click" } `, want: YSBEvent{AdID: []byte(`x"y`), EventType: []byte("click"), EventTime: 5}},
		{in: `{"ad_id":"a","event_type":"view"}`, wantErr: true},
		{in: `{"ad_id":"a","event_time":"1x"}`, wantErr: true},
		{in: `[1]`, wantErr: true},
		{in: `{"ad_id":"a" "event_time":"1"}`, wantErr: true},
		{in: ``, wantErr: true},
	}
	for _, tt := range tests {
		var ev YSBEvent
		err := ParseYSBFast([]byte(tt.in), &ev)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(ev, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.in, ev, tt.want)
		}
	}
}

func FuzzParseYSBFast(f *testing.F) {
	g := NewYSBGenerator(YSBConfig{})
	f.Add(g.AppendEvent(nil, 0))
	f.Add([]byte(`{"ad_id":"a\u0041","event_type":"view","event_time":"1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !bytes.Equal(bytes.ToLower(b), b) {
			return // encoding/json matches keys without regard to case; the fast parser does not
		}
		var fast, std YSBEvent
		ferr := ParseYSBFast(b, &fast)
		serr := ParseYSBStd(b, &std)
		if ferr == nil && serr == nil && (string(fast.AdID) != string(std.AdID) || string(fast.EventType) != string(std.EventType) || fast.EventTime != std.EventTime) {
			t.Fatalf("fast %+v, std %+v", fast, std)
		}
	})
}

func TestNexmarkProportionsAndRules(t *testing.T) {
	g := NewNexmarkGenerator(NexmarkConfig{Seed: 3})
	again := NewNexmarkGenerator(NexmarkConfig{Seed: 3})
	const n = 50_000
	kinds := map[EventType]int{}
	hotAuction, hotBidder, bids := 0, 0, 0
	lastPerson, lastAuction := int64(-1), int64(-1)
	for _, e := range g.Generate(nil, 0, 1, n) {
		kinds[e.Type]++
		switch e.Type {
		case PersonEvent:
			if e.Person.ID != lastPerson+1 && lastPerson >= 0 || e.Person.ID < nxFirstPersonID {
				t.Fatalf("person ids not consecutive: %d after %d", e.Person.ID, lastPerson)
			}
			lastPerson = e.Person.ID
		case AuctionEvent:
			a := e.Auction
			if a.ID != lastAuction+1 && lastAuction >= 0 || a.ID < nxFirstAuctionID {
				t.Fatalf("auction ids not consecutive: %d after %d", a.ID, lastAuction)
			}
			lastAuction = a.ID
			if a.Category < 10 || a.Category > 14 || a.Reserve < a.InitialBid || a.Expires <= a.DateTime || a.Seller < nxFirstPersonID || a.Seller > lastPerson+nxPersonIDLead {
				t.Fatalf("bad auction %+v (last person %d)", a, lastPerson)
			}
		case BidEvent:
			bids++
			b := e.Bid
			if b.Price < 100 || b.Price > 100_000_000 {
				t.Fatalf("price %d out of [100, 1e8]", b.Price)
			}
			if b.Auction%100 == 0 {
				hotAuction++
			}
			if (b.Bidder-2*nxFirstPersonID)%100 == 1 {
				hotBidder++
			}
			if b.Auction > lastAuction+nxAuctionIDLead {
				t.Fatalf("bid for auction %d, last made %d", b.Auction, lastAuction)
			}
		}
	}
	if kinds[PersonEvent] != n/50 || kinds[AuctionEvent] != 3*n/50 || kinds[BidEvent] != 46*n/50 {
		t.Fatalf("proportions %v, want 1:3:46 of %d", kinds, n)
	}
	if f := float64(hotAuction) / float64(bids); f < 0.48 || f > 0.56 {
		t.Errorf("%.2f of bids for hot auctions, want about 1/2", f)
	}
	if f := float64(hotBidder) / float64(bids); f < 0.73 || f > 0.79 {
		t.Errorf("%.2f of bids by hot bidders, want about 3/4", f)
	}
	// Random access: event i alone equals event i of a sequence, and the
	// events follow the seed.
	seq := again.Generate(nil, 1000, 1, 100)
	for i, e := range seq {
		one := g.Event(1000 + int64(i))
		if !reflect.DeepEqual(e, one) {
			t.Fatalf("event %d differs when generated alone", 1000+i)
		}
	}
	if d := g.Timestamp(10_000_000) - g.Timestamp(0); d != 1000 {
		t.Errorf("10M events span %d ms of event time, want 1000 at the default 10M/s", d)
	}
}

func TestGenSourceReadsExactRanges(t *testing.T) {
	g := NewNexmarkGenerator(NexmarkConfig{})
	src, err := NewGenSource[Event](g, "nx", 3, 100, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	latest, err := src.LatestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	seen := map[int64]bool{}
	for p, until := range latest {
		total += until
		// Two reads of overlapping pieces give the same events.
		var got []Event
		if err := src.Read(ctx, connector.OffsetRange{Partition: p, From: 0, Until: until}, func(es []Event) error {
			got = append(got, es...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for off, e := range got {
			ev := src.Event(p.Index, int64(off))
			if seen[ev] {
				t.Fatalf("event %d read twice", ev)
			}
			seen[ev] = true
			if !reflect.DeepEqual(e, g.Event(ev)) {
				t.Fatalf("partition %d offset %d is not event %d", p.Index, off, ev)
			}
		}
	}
	if total != 100 || len(seen) != 100 {
		t.Fatalf("partitions hold %d events (%d distinct), want 100", total, len(seen))
	}
	if err := src.Read(ctx, connector.OffsetRange{Partition: connector.Partition{Stream: "nx", Index: 3}, Until: 1}, func([]Event) error { return nil }); err == nil {
		t.Error("reading a partition that does not exist succeeded")
	}
}

func TestGenSourcePaced(t *testing.T) {
	clk := clock.NewManual(time.Unix(100, 0))
	src, err := NewGenSource[Event](NewNexmarkGenerator(NexmarkConfig{}), "nx", 2, 1000, 100, clk)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(101, 0)
	src.Start(start)
	available := func() int64 {
		o, err := src.LatestOffsets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, v := range o {
			n += v
		}
		return n
	}
	if n := available(); n != 0 {
		t.Fatalf("%d events before the start", n)
	}
	clk.Set(start)
	if n := available(); n != 1 {
		t.Fatalf("%d events at the start, want 1", n)
	}
	clk.Set(start.Add(1500 * time.Millisecond))
	if n := available(); n != 151 {
		t.Fatalf("%d events after 1.5 s at 100/s, want 151", n)
	}
	clk.Set(start.Add(time.Hour))
	if n := available(); n != 1000 {
		t.Fatalf("%d events after an hour, want all 1000", n)
	}
	if got := src.Created(start, 250); !got.Equal(start.Add(2500 * time.Millisecond)) {
		t.Errorf("event 250 created at %v, want start + 2.5 s", got)
	}
}

func TestSelectAndValidate(t *testing.T) {
	qs, err := Select("nexmark", []string{"q7", "nexmark/q0", "q7"})
	if err != nil || len(qs) != 2 || qs[0].Name != "q7" || qs[1].Name != "q0" {
		t.Fatalf("Select = %v, %v", qs, err)
	}
	if qs, _ := Select("all", nil); len(qs) != 9 {
		t.Errorf("all has %d queries, want 9", len(qs))
	}
	bad := []Params{
		{},
		{Events: -1},
		{Events: 1, Rate: -1},
		{Events: 1, Interval: time.Microsecond},
		{Events: 1, Partitions: 2000},
		{Events: 1, Variants: []string{"flink"}},
		{Rate: 1, Duration: time.Millisecond},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	p := Params{Rate: 1000, Duration: 2 * time.Second}
	if err := p.Validate(); err != nil || p.Events != 2000 {
		t.Errorf("paced params: %v, events %d, want 2000", err, p.Events)
	}
}
