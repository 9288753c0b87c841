package ui

import (
	"strings"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 ms"},
		{-time.Second, "0 ms"},
		{412 * time.Microsecond, "412 µs"},
		{4120 * time.Microsecond, "4.12 ms"},
		{5 * time.Millisecond, "5 ms"},
		{41260 * time.Microsecond, "41.3 ms"},
		{412 * time.Millisecond, "412 ms"},
		{1200 * time.Millisecond, "1.2 s"},
		{125 * time.Second, "2 min 5 s"},
		{3*time.Hour + 20*time.Minute, "3 h 20 min"},
	} {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct{ x, want float64 }{
		{0.0103, 0.02}, {1, 1}, {1.2, 2}, {2.2, 2.5}, {3, 5}, {7, 10}, {250, 250}, {0, 1},
	} {
		if got := niceStep(tc.x); got < tc.want*(1-1e-9) || got > tc.want*(1+1e-9) {
			t.Errorf("niceStep(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestFormatCountAndRate(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
	for v, want := range map[float64]string{850: "850", 1234: "1.23k", 3.4e6: "3.4M", 2.5: "2.5"} {
		if got := formatRateShort(v); got != want {
			t.Errorf("formatRateShort(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestBuildCharts(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var series []seriesPoint
	for i, ms := range []int{10, 30, 20, 40} {
		series = append(series, seriesPoint{ID: int64(i), Time: t0.Add(time.Duration(i) * time.Second),
			ProcessingTime: time.Duration(ms) * time.Millisecond})
	}
	spec := metricSpec{key: "p", title: "Processing time", format: formatSeconds, minStep: 0.001,
		value: func(p seriesPoint) float64 { return p.ProcessingTime.Seconds() }, ref: 0.05, refLabel: "batch interval"}
	tl, h := buildCharts(spec, series)
	if tl.Points != 4 || len(tl.Dots) != 4 || h.Points != 4 {
		t.Fatalf("points %d, dots %d, histogram points %d; want 4", tl.Points, len(tl.Dots), h.Points)
	}
	// y axis 0..80ms in steps of 20ms (the reference, 50ms, is the top value).
	if len(tl.YTicks) != 5 || tl.YTicks[4].Label != "80 ms" || tl.YTicks[0].Pos != tl.Y1 || tl.YTicks[4].Pos != tl.Y0 {
		t.Errorf("y ticks = %+v, want 0 ms at the bottom to 80 ms at the top", tl.YTicks)
	}
	if tl.Dots[0].X != tl.X0 || tl.Dots[3].X != tl.X1 {
		t.Errorf("dots span x %v..%v, want the plot's %v..%v", tl.Dots[0].X, tl.Dots[3].X, tl.X0, tl.X1)
	}
	if !(tl.Dots[3].Y < tl.Dots[1].Y && tl.Dots[1].Y < tl.Dots[2].Y && tl.Dots[2].Y < tl.Dots[0].Y) {
		t.Errorf("dot heights do not follow the values: %+v", tl.Dots)
	}
	if !tl.HasRef || tl.RefLabel != "batch interval 50 ms" || tl.RefY <= tl.Y0 || tl.RefY >= tl.Y1 {
		t.Errorf("reference line at %v labelled %q", tl.RefY, tl.RefLabel)
	}
	if len(strings.Fields(tl.Line)) != 4 {
		t.Errorf("line %q, want 4 points", tl.Line)
	}
	total := 0
	for _, b := range h.Bars {
		var n int
		if i := strings.LastIndex(b.Title, ": "); i >= 0 {
			n = int(b.Title[i+2] - '0')
		}
		total += n
	}
	if len(h.Bars) != 4 || total != 4 {
		t.Errorf("histogram bars %+v, want 4 bars of 1 batch", h.Bars)
	}

	empty, eh := buildCharts(spec, nil)
	if empty.Points != 0 || empty.Line != "" || len(eh.Bars) != 0 || len(empty.YTicks) != 5 {
		t.Errorf("empty chart = %+v", empty)
	}
}

// TestChartsDropDotsWhenCrowded checks that a long series is drawn as a
// line only.
func TestChartsDropDotsWhenCrowded(t *testing.T) {
	series := make([]seriesPoint, maxDots+1)
	for i := range series {
		series[i] = seriesPoint{Time: time.Unix(int64(i), 0), InputRate: float64(i)}
	}
	tl, _ := buildCharts(metricSpec{format: formatRateShort, minStep: 1, value: func(p seriesPoint) float64 { return p.InputRate }}, series)
	if tl.Points != maxDots+1 || len(tl.Dots) != 0 || len(strings.Fields(tl.Line)) != maxDots+1 {
		t.Errorf("points %d, dots %d, line points %d", tl.Points, len(tl.Dots), len(strings.Fields(tl.Line)))
	}
}
