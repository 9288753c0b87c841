package streaming_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/streaming"
)

var rateStart = time.Unix(1_000, 0)

// rateDue returns the rows the source says are due after elapsed time on
// a manual clock.
func rateDue(t *testing.T, o streaming.RateOptions, elapsed time.Duration) int64 {
	t.Helper()
	m := clock.NewManual(rateStart)
	o.Clock = m
	src, err := streaming.NewRateSource(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := src.InitialOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	m.Advance(elapsed)
	latest, err := src.LatestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, v := range latest {
		n += v
	}
	return n
}

func TestRateRowsDueWithRampUp(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	for _, tc := range []struct {
		rps     float64
		ramp    time.Duration
		parts   int
		elapsed time.Duration
		want    int64
	}{
		// Spark's example (RateStreamProvider.valueAtSecond): 10 rows/s
		// reached over 4 s; per second 2, 4, 6, 8, then 10.
		{10, 4 * s, 1, 0, 0},
		{10, 4 * s, 1, 1 * s, 2},
		{10, 4 * s, 1, 2 * s, 6},
		{10, 4 * s, 1, 3 * s, 12},
		{10, 4 * s, 1, 4 * s, 20},
		{10, 4 * s, 1, 5 * s, 30},
		{10, 4 * s, 1, 6 * s, 40},
		{10, 4 * s, 3, 6 * s, 40}, // partitions do not change the total
		// Within a second rows are due evenly.
		{10, 4 * s, 1, 500 * ms, 1},
		{10, 4 * s, 1, 3500 * ms, 16},
		{10, 4 * s, 1, 4500 * ms, 25},
		{10, 4 * s, 1, 4999 * ms, 29},
		// No ramp-up: the full rate at once.
		{10, 0, 1, 2500 * ms, 25},
		{10, 0, 2, 1 * s, 10},
		// An increment of 1 row per second each second.
		{7, 6 * s, 1, 1 * s, 1},
		{7, 6 * s, 1, 3 * s, 6},
		{7, 6 * s, 1, 6 * s, 21},
		{7, 6 * s, 1, 7 * s, 28},
		{7, 6 * s, 1, 60 * s, 21 + 54*7},
		// An increment Spark would round to 0 (10/(5+1) < 2): spate keeps
		// the fraction, so the ramp still ends at the full rate.
		{10, 5 * s, 1, 1 * s, 1},
		{10, 5 * s, 1, 5 * s, 25},
		{10, 5 * s, 1, 6 * s, 35},
		// A fractional rate: whole rows are due (floor).
		{2.5, 1 * s, 1, 1 * s, 1},
		{2.5, 1 * s, 1, 2 * s, 3},
		{2.5, 1 * s, 1, 3 * s, 6},
		// A large rate and a long ramp.
		{1_000_000, 100 * s, 4, 100 * s, 50_000_000},
		{1_000_000, 100 * s, 4, 101 * s, 51_000_000},
	} {
		o := streaming.RateOptions{RowsPerSecond: tc.rps, RampUpTime: tc.ramp, NumPartitions: tc.parts}
		if got := rateDue(t, o, tc.elapsed); got != tc.want {
			t.Errorf("rowsPerSecond %v, rampUpTime %v, %d partitions, after %v: %d rows due, want %d", tc.rps, tc.ramp, tc.parts, tc.elapsed, got, tc.want)
		}
	}
}

type rateRow struct {
	value int64
	ts    time.Time
}

// readRate reads every row of the given offsets (from 0) of src.
func readRate(t *testing.T, src *streaming.RateSource, until connector.Offsets) []rateRow {
	t.Helper()
	var out []rateRow
	for p, n := range until {
		err := src.Read(context.Background(), connector.OffsetRange{Partition: p, From: 0, Until: n}, func(bs []arrow.RecordBatch) error {
			for _, b := range bs {
				ts := b.Column(0).(*array.Timestamp)
				vs := b.Column(1).(*array.Int64)
				for i := range int(b.NumRows()) {
					out = append(out, rateRow{vs.Value(i), time.UnixMicro(int64(ts.Value(i)))})
				}
				b.Release()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(out, func(a, b rateRow) int { return int(a.value - b.value) })
	return out
}

// TestRateRampUpRowsAreContinuous reads every row of a ramp-up and the
// seconds after it: values are 0..n-1, timestamps never go back, each
// second of timestamps holds exactly the rows that became due in it (so
// the ramp's last second and the first full second join without a gap or
// an overlap), and a read of the same range — also by a restarted source —
// gives the same rows.
func TestRateRampUpRowsAreContinuous(t *testing.T) {
	const rps, ramp, run = 60, 5, 8 // an increment of 10 rows/s each second
	m := clock.NewManual(rateStart)
	o := streaming.RateOptions{RowsPerSecond: rps, RampUpTime: ramp * time.Second, NumPartitions: 3, Clock: m}
	src, err := streaming.NewRateSource(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := src.InitialOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	m.Advance(run * time.Second)
	latest, err := src.LatestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := readRate(t, src, latest)
	wantTotal := int64(rps*ramp/2 + rps*(run-ramp))
	if int64(len(rows)) != wantTotal {
		t.Fatalf("%d rows after %d s, want %d", len(rows), run, wantTotal)
	}
	perSecond := make([]int, run)
	for i, r := range rows {
		if r.value != int64(i) {
			t.Fatalf("row %d has value %d", i, r.value)
		}
		if i > 0 && r.ts.Before(rows[i-1].ts) {
			t.Fatalf("row %d at %v is before row %d at %v", i, r.ts, i-1, rows[i-1].ts)
		}
		sec := int(r.ts.Sub(rateStart) / time.Second)
		if sec < 0 || sec >= run {
			t.Fatalf("row %d at %v is outside the run", i, r.ts)
		}
		perSecond[sec]++
	}
	// Second k (1-based) of the ramp has k*rps/(ramp+1) rows, then rps.
	for k := 1; k <= run; k++ {
		want := rps
		if k <= ramp {
			want = k * rps / (ramp + 1)
		}
		if perSecond[k-1] != want {
			t.Errorf("second %d has %d rows, want %d (all: %v)", k, perSecond[k-1], want, perSecond)
		}
	}
	// Across the ramp's end, consecutive rows are 1/rps apart at most
	// (the last ramp second runs at ramp*rps/(ramp+1) rows/s).
	last := rps*ramp/2 - 1
	gap := rows[last+1].ts.Sub(rows[last].ts)
	if maxGap := time.Second / time.Duration(ramp*rps/(ramp+1)); gap <= 0 || gap > maxGap {
		t.Errorf("rows %d and %d (the ramp's end) are %v apart, want (0, %v]", last, last+1, gap, maxGap)
	}

	// A restarted source (same options, restored start) reads the same rows.
	state, err := src.Save()
	if err != nil {
		t.Fatal(err)
	}
	o.Clock = clock.NewManual(rateStart.Add(time.Hour))
	src2, err := streaming.NewRateSource(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := src2.Restore(state); err != nil {
		t.Fatal(err)
	}
	if again := readRate(t, src2, latest); !slices.Equal(again, rows) {
		t.Errorf("a restarted source read different rows for the same offsets")
	}
}

// TestRateRampUpQuery runs a query on the rate source with a ramp-up, one
// batch per second of a manual clock: batch sizes grow linearly, then
// stay at the full rate.
func TestRateRampUpQuery(t *testing.T) {
	m := clock.NewManual(rateStart)
	ec := newEngine(t, m)
	src, err := streaming.NewRateSource(streaming.RateOptions{RowsPerSecond: 10, RampUpTime: 4 * time.Second, NumPartitions: 2, Clock: m})
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Name(); !strings.Contains(got, "rampUpTime=4s") {
		t.Errorf("Name() = %q, want the ramp-up in it", got)
	}
	scan, _ := plan.NewScan(streaming.NewSourceNode(src), nil, nil)
	sink := streaming.NewMemorySink()
	defer sink.Clear()
	q, err := streaming.Start(testCtx(t), ec, scan, sink, streaming.CheckpointLocation(t.TempDir()), streaming.WithClock(m))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(testCtx(t))
	var sizes []int64
	for range 6 {
		m.Advance(time.Second)
		if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, q.LastProgress().NumInputRows)
	}
	if want := []int64{2, 4, 6, 8, 10, 10}; !slices.Equal(sizes, want) {
		t.Errorf("batch sizes %v, want %v", sizes, want)
	}
}

func TestRateOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		o    streaming.RateOptions
		want string
	}{
		{streaming.RateOptions{RampUpTime: -time.Second}, "rampUpTime must not be negative, got -1s"},
		{streaming.RateOptions{RampUpTime: 1500 * time.Millisecond}, "rampUpTime must be whole seconds"},
		{streaming.RateOptions{RowsPerSecond: -1}, "rowsPerSecond must be a positive number, got -1"},
		{streaming.RateOptions{NumPartitions: -2}, "numPartitions must be at least 1, got -2"},
	} {
		_, err := streaming.NewRateSource(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewRateSource(%+v) = %v, want an error with %q", tc.o, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"0", 0, ""},
		{"5", 5 * time.Second, ""},
		{" 10 ", 10 * time.Second, ""},
		{"5s", 5 * time.Second, ""},
		{"2m", 2 * time.Minute, ""},
		{"1m30s", 90 * time.Second, ""},
		{"-1", 0, `rampUpTime must be a non-negative number of seconds, got "-1"`},
		{"-5s", 0, `rampUpTime must not be negative, got "-5s"`},
		{"1.5s", 0, `rampUpTime must be whole seconds (the rate steps up once a second), got "1.5s"`},
		{"500ms", 0, `rampUpTime must be whole seconds`},
		{"ten", 0, `rampUpTime must be whole seconds such as 10 or 10s (or 2m), got "ten"`},
		{"", 0, `got ""`},
	} {
		got, err := streaming.ParseRampUpTime(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseRampUpTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseRampUpTime(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
		}
	}
}
