package connector

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestOffsetsJSON(t *testing.T) {
	tests := []struct {
		name string
		in   Offsets
		want string
	}{
		{"empty", Offsets{}, `{}`},
		{"nil", nil, `{}`},
		{"sorted", Offsets{{"b", 10}: 5, {"a", 2}: -1, {"a", 0}: 23, {"b", 9}: -2}, `{"a":{"0":23,"2":-1},"b":{"9":-2,"10":5}}`},
		{"escaped stream", Offsets{{`q"t`, 0}: 1}, `{"q\"t":{"0":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("marshal = %s, want %s", b, tt.want)
			}
			var back Offsets
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if len(back) != len(tt.in) || (len(back) > 0 && !reflect.DeepEqual(back, tt.in)) {
				t.Fatalf("round trip = %v, want %v", back, tt.in)
			}
		})
	}
}

func TestOffsetsJSONInStruct(t *testing.T) {
	type entry struct {
		Start Offsets `json:"start"`
	}
	b, err := json.Marshal(entry{Start: Offsets{{"t", 1}: 4}})
	if err != nil || string(b) != `{"start":{"t":{"1":4}}}` {
		t.Fatalf("got %s, %v", b, err)
	}
}

func TestParseOffsetsErrors(t *testing.T) {
	for _, in := range []string{`[]`, `{"t":{"x":1}}`, `{"t":{"-1":1}}`, `{"t":{"0":-3}}`, `{"t":1}`, `{"t":{"99999999999":1}}`, `nope`} {
		if _, err := ParseOffsets(in); !errors.Is(err, ErrBadOffsets) {
			t.Errorf("ParseOffsets(%s) = %v, want ErrBadOffsets", in, err)
		}
	}
	o, err := ParseOffsets(` {"t":{"0":-2,"1":-1,"2":7}} `)
	if err != nil {
		t.Fatal(err)
	}
	if o[Partition{"t", 0}] != OffsetEarliest || o[Partition{"t", 1}] != OffsetLatest || o[Partition{"t", 2}] != 7 {
		t.Fatalf("got %v", o)
	}
}

func FuzzParseOffsets(f *testing.F) {
	f.Add(`{"a":{"0":23,"2":-1},"b":{"9":-2,"10":5}}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOffsets(s)
		if err != nil {
			return
		}
		b, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		o2, err := ParseOffsets(string(b))
		if err != nil || !reflect.DeepEqual(o, o2) {
			t.Fatalf("round trip of %s: %v, %v", b, o2, err)
		}
	})
}

func p(i int32) Partition { return Partition{"t", i} }

func TestPlanRanges(t *testing.T) {
	tests := []struct {
		name          string
		start, latest Offsets
		lim           Limits
		want          []OffsetRange
		wantEnd       Offsets
	}{
		{
			name:    "no limits",
			start:   Offsets{p(0): 0, p(1): 5},
			latest:  Offsets{p(0): 10, p(1): 5},
			want:    []OffsetRange{{p(0), 0, 10}},
			wantEnd: Offsets{p(0): 10, p(1): 5},
		},
		{
			name:    "per partition cap",
			start:   Offsets{p(0): 0, p(1): 5},
			latest:  Offsets{p(0): 10, p(1): 8},
			lim:     Limits{MaxPerPartition: 4},
			want:    []OffsetRange{{p(0), 0, 4}, {p(1), 5, 8}},
			wantEnd: Offsets{p(0): 4, p(1): 8},
		},
		{
			name:    "proportional to lag",
			start:   Offsets{p(0): 0, p(1): 0, p(2): 0},
			latest:  Offsets{p(0): 300, p(1): 100, p(2): 0},
			lim:     Limits{MaxOffsetsPerTrigger: 40},
			want:    []OffsetRange{{p(0), 0, 30}, {p(1), 0, 10}},
			wantEnd: Offsets{p(0): 30, p(1): 10, p(2): 0},
		},
		{
			name:    "remainders go to largest, ties to first",
			start:   Offsets{p(0): 0, p(1): 0, p(2): 0},
			latest:  Offsets{p(0): 10, p(1): 10, p(2): 10},
			lim:     Limits{MaxOffsetsPerTrigger: 10},
			want:    []OffsetRange{{p(0), 0, 4}, {p(1), 0, 3}, {p(2), 0, 3}},
			wantEnd: Offsets{p(0): 4, p(1): 3, p(2): 3},
		},
		{
			name:    "both caps",
			start:   Offsets{p(0): 0, p(1): 0},
			latest:  Offsets{p(0): 1000, p(1): 10},
			lim:     Limits{MaxOffsetsPerTrigger: 60, MaxPerPartition: 90},
			want:    []OffsetRange{{p(0), 0, 54}, {p(1), 0, 6}},
			wantEnd: Offsets{p(0): 54, p(1): 6},
		},
		{
			name:    "total under cap is untouched",
			start:   Offsets{p(0): 7},
			latest:  Offsets{p(0): 9},
			lim:     Limits{MaxOffsetsPerTrigger: 100},
			want:    []OffsetRange{{p(0), 7, 9}},
			wantEnd: Offsets{p(0): 9},
		},
		{
			name:    "partition gone from latest keeps its offset",
			start:   Offsets{p(0): 7, {"gone", 0}: 3},
			latest:  Offsets{p(0): 9},
			want:    []OffsetRange{{p(0), 7, 9}},
			wantEnd: Offsets{p(0): 9, {"gone", 0}: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, end, err := PlanRanges(tt.start, tt.latest, tt.lim)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ranges = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(end, tt.wantEnd) {
				t.Errorf("end = %v, want %v", end, tt.wantEnd)
			}
		})
	}
}

func TestPlanRangesCapIsExact(t *testing.T) {
	start := Offsets{}
	latest := Offsets{}
	var total int64
	for i := range int32(7) {
		start[p(i)] = int64(i) * 3
		latest[p(i)] = start[p(i)] + int64(i*i*13+1)
		total += int64(i*i*13 + 1)
	}
	for limit := int64(1); limit < total+5; limit += 17 {
		rs, _, err := PlanRanges(start, latest, Limits{MaxOffsetsPerTrigger: limit})
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, r := range rs {
			if r.From != start[r.Partition] || r.Until > latest[r.Partition] {
				t.Fatalf("range %v outside [start, latest)", r)
			}
			sum += r.Count()
		}
		if sum != min(limit, total) {
			t.Fatalf("limit %d: planned %d, want %d", limit, sum, min(limit, total))
		}
	}
}

func TestPlanRangesErrors(t *testing.T) {
	if _, _, err := PlanRanges(Offsets{p(0): 10}, Offsets{p(0): 5}, Limits{}); !errors.Is(err, ErrOffsetsRegressed) {
		t.Errorf("regressed: %v", err)
	}
	if _, _, err := PlanRanges(Offsets{}, Offsets{p(0): 5}, Limits{}); err == nil || !strings.Contains(err.Error(), "t-0") {
		t.Errorf("missing start: %v", err)
	}
}

type fakeSource struct{ latest, earliest Offsets }

func (f *fakeSource) InitialOffsets(context.Context) (Offsets, error) { return f.earliest, nil }
func (f *fakeSource) LatestOffsets(context.Context) (Offsets, error)  { return f.latest, nil }
func (f *fakeSource) EarliestOffsets(_ context.Context, ps []Partition) (Offsets, error) {
	o := Offsets{}
	for _, p := range ps {
		o[p] = f.earliest[p]
	}
	return o, nil
}
func (f *fakeSource) Close() error { return nil }

var _ OffsetSource = (*fakeSource)(nil)

func TestPlanBatchNewPartitionsFromEarliest(t *testing.T) {
	src := &fakeSource{
		latest:   Offsets{p(0): 10, p(1): 8},
		earliest: Offsets{p(0): 0, p(1): 2},
	}
	rs, end, latest, err := PlanBatch(context.Background(), src, Offsets{p(0): 4}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []OffsetRange{{p(0), 4, 10}, {p(1), 2, 8}}
	if !reflect.DeepEqual(rs, want) || !reflect.DeepEqual(end, src.latest) || !reflect.DeepEqual(latest, src.latest) {
		t.Fatalf("got %v %v %v", rs, end, latest)
	}
	prog := Progress(Offsets{p(0): 4}, Offsets{p(0): 8, p(1): 8}, latest)
	if prog[0].Lag != 2 || prog[1].Start != 8 || prog[1].Lag != 0 {
		t.Fatalf("progress %+v", prog)
	}
}

type tolerantSource struct {
	fakeSource
	fail bool
}

func (t *tolerantSource) FailOnDataLoss() bool { return t.fail }

func TestPlanBatchRegressedPartition(t *testing.T) {
	src := &tolerantSource{fakeSource: fakeSource{latest: Offsets{p(0): 3, p(1): 10}, earliest: Offsets{p(0): 1, p(1): 0}}, fail: true}
	start := Offsets{p(0): 8, p(1): 4}
	if _, _, _, err := PlanBatch(context.Background(), src, start, Limits{}); !errors.Is(err, ErrOffsetsRegressed) {
		t.Fatalf("failOnDataLoss: %v", err)
	}
	src.fail = false
	rs, end, _, err := PlanBatch(context.Background(), src, start, Limits{})
	want := []OffsetRange{{p(0), 1, 3}, {p(1), 4, 10}}
	if err != nil || !reflect.DeepEqual(rs, want) || end[p(0)] != 3 {
		t.Fatalf("tolerant: %v %v %v", rs, end, err)
	}
}

func TestLimitsReadyAndRateCap(t *testing.T) {
	l := Limits{MinOffsetsPerTrigger: 100, MaxTriggerDelay: time.Second}
	if l.Ready(0, time.Hour) || l.Ready(50, 500*time.Millisecond) || !l.Ready(50, time.Second) || !l.Ready(100, 0) {
		t.Error("Ready with min and delay")
	}
	if !(Limits{}).Ready(1, 0) || (Limits{MinOffsetsPerTrigger: 5}).Ready(4, time.Hour) {
		t.Error("Ready without delay")
	}
	if RateCap(100, 2*time.Second) != 200 || RateCap(0.1, time.Second) != 1 || RateCap(0, time.Second) != 0 {
		t.Error("RateCap")
	}
}

func testSpec() *Spec {
	return &Spec{Connector: "demo", Options: []OptionSpec{
		{Name: "kafka.bootstrap.servers", Required: true, Doc: "brokers"},
		{Name: "kafka.client.id", Default: "spate", Doc: "client id"},
		{Name: "maxOffsetsPerTrigger", Doc: "cap", Validate: IntRange(1, 1<<62)},
		{Name: "failOnDataLoss", Default: "true", Doc: "fail", Validate: IsBool},
		{Name: "maxTriggerDelay", Default: "15m", Doc: "delay", Validate: IsDuration},
	}}
}

func TestSpecValidate(t *testing.T) {
	s := testSpec()
	v, err := s.Validate(map[string]string{"KAFKA.BOOTSTRAP.SERVERS": "h:1", "maxoffsetspertrigger": "5"})
	if err != nil {
		t.Fatal(err)
	}
	if v.String("kafka.bootstrap.servers") != "h:1" || v.Int64("maxOffsetsPerTrigger") != 5 || !v.Bool("failOnDataLoss") ||
		v.String("kafka.client.id") != "spate" || v.Duration("maxTriggerDelay") != 15*time.Minute {
		t.Fatalf("values %v", v)
	}
	tests := []struct {
		opts     map[string]string
		kind     error
		key      string
		contains string
	}{
		{map[string]string{}, ErrMissingOption, "kafka.bootstrap.servers", `option "kafka.bootstrap.servers" is required`},
		{map[string]string{"kafka.bootstrap.servers": "h", "kafka.bogus": "1"}, ErrUnknownOption, "kafka.bogus", "supported: kafka.bootstrap.servers, kafka.client.id"},
		{map[string]string{"kafka.bootstrap.servers": "h", "bogus": "1"}, ErrUnknownOption, "bogus", "supported: kafka.bootstrap.servers, kafka.client.id, maxOffsetsPerTrigger"},
		{map[string]string{"kafka.bootstrap.servers": "h", "maxOffsetsPerTrigger": "0"}, ErrInvalidOption, "maxOffsetsPerTrigger", "outside"},
		{map[string]string{"kafka.bootstrap.servers": "h", "failOnDataLoss": "yes"}, ErrInvalidOption, "failOnDataLoss", "want true or false"},
	}
	for _, tt := range tests {
		_, err := s.Validate(tt.opts)
		var oe *OptionError
		if !errors.As(err, &oe) || !errors.Is(err, tt.kind) || oe.Key != tt.key || !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("Validate(%v) = %v; want %v on %s containing %q", tt.opts, err, tt.kind, tt.key, tt.contains)
		}
	}
	if md := s.Markdown(); !strings.Contains(md, "| `kafka.bootstrap.servers` | brokers | required |") || !strings.Contains(md, "| `failOnDataLoss` | fail | `true` |") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"250": 250 * time.Millisecond, "1.5s": 1500 * time.Millisecond, "10 seconds": 10 * time.Second, "2 minutes": 2 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "soon", "3 fortnights"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

type prov struct{ name string }

func (p prov) Name() string { return p.name }
func (p prov) Spec() *Spec  { return testSpec() }

func TestRegistry(t *testing.T) {
	r, err := NewRegistry(prov{"kafka"}, prov{"rate"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(prov{"Kafka"}); err == nil {
		t.Error("duplicate accepted")
	}
	if got, err := r.Lookup("KAFKA"); err != nil || got.Name() != "kafka" {
		t.Errorf("lookup: %v %v", got, err)
	}
	_, err = r.Lookup("nope")
	if !errors.Is(err, ErrUnknownConnector) || !strings.Contains(err.Error(), "registered: kafka, rate") {
		t.Errorf("unknown: %v", err)
	}
	var zero Registry
	if err := zero.Register(prov{"x"}); err != nil || len(zero.Names()) != 1 {
		t.Error("zero registry")
	}
}

func TestSplitRanges(t *testing.T) {
	in := []OffsetRange{{p(0), 0, 100}, {p(1), 50, 60}, {p(2), 7, 7}}
	if got := SplitRanges(in, 2); !reflect.DeepEqual(got, in) {
		t.Errorf("no split needed: %v", got)
	}
	got := SplitRanges(in, 11)
	want := []OffsetRange{
		{p(0), 0, 10}, {p(0), 10, 20}, {p(0), 20, 30}, {p(0), 30, 40}, {p(0), 40, 50},
		{p(0), 50, 60}, {p(0), 60, 70}, {p(0), 70, 80}, {p(0), 80, 90}, {p(0), 90, 100},
		{p(1), 50, 60}, {p(2), 7, 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("split = %v", got)
	}
	// Coverage and no empty pieces for many shapes.
	for minP := 1; minP < 40; minP++ {
		rs := []OffsetRange{{p(0), 3, 4}, {p(1), 0, 37}, {p(2), 100, 1100}}
		got := SplitRanges(rs, minP)
		next := map[Partition]int64{}
		for _, r := range rs {
			next[r.Partition] = r.From
		}
		for _, g := range got {
			if g.Count() == 0 || g.From != next[g.Partition] {
				t.Fatalf("minPartitions %d: bad piece %v in %v", minP, g, got)
			}
			next[g.Partition] = g.Until
		}
		for _, r := range rs {
			if next[r.Partition] != r.Until {
				t.Fatalf("minPartitions %d: %v not covered", minP, r)
			}
		}
		if len(got) < minP {
			t.Fatalf("minPartitions %d: only %d pieces", minP, len(got))
		}
	}
}
