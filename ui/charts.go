package ui

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// The charts are drawn on the server as SVG, through html/template like the
// rest of the page: the chart types below hold coordinates and labels, and
// the "timeline" and "histogram" templates turn them into elements.

// Chart geometry, in SVG user units (the SVGs scale to their container).
const (
	chartH       = 180.0
	timelineW    = 560.0
	histogramW   = 280.0
	marginTop    = 10.0
	marginBottom = 24.0
	marginLeft   = 64.0
	marginRight  = 14.0
	histBins     = 20
	// maxDots is the most points a timeline draws as dots (each a link to
	// its batch); above it, only the line is drawn.
	maxDots = 300
)

type tick struct {
	Pos   float64
	Label string
}

type dot struct {
	ID    int64
	X, Y  float64
	Title string
}

type bar struct {
	X, Y, W, H float64
	Title      string
}

type timelineChart struct {
	ID, Title      string
	W, H           float64
	X0, X1, Y0, Y1 float64 // the plot area: x from X0 to X1, y from Y0 (top) to Y1 (bottom)
	Points         int
	Line           string // the polyline's points
	Dots           []dot
	YTicks, XTicks []tick
	HasRef         bool
	RefY           float64
	RefLabelY      float64 // above the line, or below it when the line is at the top
	RefLabel       string
}

type histogramChart struct {
	ID, Title      string
	W, H           float64
	X0, X1, Y0, Y1 float64
	Points         int
	Bars           []bar
	YTicks, XTicks []tick
}

// chartRow is one metric of the streaming page: its average, timeline and
// histogram.
type chartRow struct {
	Key, Title, Unit, Avg string
	Timeline              timelineChart
	Histogram             histogramChart
}

// metricSpec describes one charted metric.
type metricSpec struct {
	key, title, unit string
	value            func(seriesPoint) float64
	format           func(float64) string // a value, for ticks and tooltips
	minStep          float64              // the y step when every value is 0
	ref              float64              // a reference line (the batch interval), 0 for none
	refLabel         string
}

func chartRows(v streamingView) []chartRow {
	st := v.Stats
	secs := func(d time.Duration) float64 { return d.Seconds() }
	specs := []struct {
		metricSpec
		avg string
	}{
		{metricSpec{key: "input-rate", title: "Input rate", unit: "records/s",
			value:  func(p seriesPoint) float64 { return p.InputRate },
			format: formatRateShort, minStep: 1}, formatRate(st.AvgInputRate)},
		{metricSpec{key: "scheduling-delay", title: "Scheduling delay", unit: "time",
			value:  func(p seriesPoint) float64 { return secs(p.SchedulingDelay) },
			format: formatSeconds, minStep: 0.001}, formatDuration(st.AvgSchedulingDelay)},
		{metricSpec{key: "processing-time", title: "Processing time", unit: "time",
			value:  func(p seriesPoint) float64 { return secs(p.ProcessingTime) },
			format: formatSeconds, minStep: 0.001, ref: secs(st.Interval), refLabel: "batch interval"}, formatDuration(st.AvgProcessingTime)},
		{metricSpec{key: "total-delay", title: "Total delay", unit: "time",
			value:  func(p seriesPoint) float64 { return secs(p.TotalDelay) },
			format: formatSeconds, minStep: 0.001}, formatDuration(st.AvgTotalDelay)},
	}
	rows := make([]chartRow, 0, len(specs))
	for _, s := range specs {
		avg := s.avg
		if st.Retained == 0 {
			avg = "—"
		}
		tl, h := buildCharts(s.metricSpec, v.Series)
		rows = append(rows, chartRow{Key: s.key, Title: s.title, Unit: s.unit, Avg: avg, Timeline: tl, Histogram: h})
	}
	return rows
}

// buildCharts lays out the timeline and the histogram of one metric over
// the series (ascending batch time). Both share the y axis (the value).
func buildCharts(m metricSpec, series []seriesPoint) (timelineChart, histogramChart) {
	values := make([]float64, len(series))
	maxV := 0.0
	for i, p := range series {
		values[i] = max(m.value(p), 0)
		maxV = max(maxV, values[i])
	}
	top := maxV
	if m.ref > 0 {
		top = max(top, m.ref)
	}
	step := niceStep(top / 4)
	if top == 0 {
		step = m.minStep
	}
	yMax := 4 * step

	tl := timelineChart{
		ID: m.key, Title: m.title, W: timelineW, H: chartH,
		X0: marginLeft, X1: timelineW - marginRight, Y0: marginTop, Y1: chartH - marginBottom,
		Points: len(series),
	}
	yPos := func(v float64) float64 { return tl.Y1 - v/yMax*(tl.Y1-tl.Y0) }
	for i := 0; i <= 4; i++ {
		v := float64(i) * step
		tl.YTicks = append(tl.YTicks, tick{Pos: round1(yPos(v)), Label: m.format(v)})
	}
	if m.ref > 0 {
		tl.HasRef, tl.RefY, tl.RefLabel = true, round1(yPos(m.ref)), m.refLabel+" "+m.format(m.ref)
		tl.RefLabelY = tl.RefY - 4
		if tl.RefY-tl.Y0 < 12 {
			tl.RefLabelY = tl.RefY + 12
		}
	}
	if n := len(series); n > 0 {
		t0, t1 := series[0].Time, series[n-1].Time
		span := t1.Sub(t0)
		xPos := func(t time.Time) float64 {
			if span <= 0 {
				return (tl.X0 + tl.X1) / 2
			}
			return tl.X0 + float64(t.Sub(t0))/float64(span)*(tl.X1-tl.X0)
		}
		var line strings.Builder
		for i, p := range series {
			x, y := round1(xPos(p.Time)), round1(yPos(values[i]))
			if i > 0 {
				line.WriteByte(' ')
			}
			line.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
			line.WriteByte(',')
			line.WriteString(strconv.FormatFloat(y, 'f', -1, 64))
			if n <= maxDots {
				tl.Dots = append(tl.Dots, dot{ID: p.ID, X: x, Y: y,
					Title: formatClock(p.Time) + ": " + m.format(values[i])})
			}
		}
		tl.Line = line.String()
		tl.XTicks = append(tl.XTicks, tick{Pos: round1(xPos(t0)), Label: formatClock(t0)})
		if span > 0 {
			tl.XTicks = append(tl.XTicks, tick{Pos: round1(xPos(t1)), Label: formatClock(t1)})
		}
	}

	h := histogramChart{
		ID: m.key, Title: m.title, W: histogramW, H: chartH,
		X0: 12, X1: histogramW - marginRight - 24, Y0: tl.Y0, Y1: tl.Y1,
		Points: len(series), YTicks: tl.YTicks,
	}
	var counts [histBins]int
	for _, v := range values {
		i := int(v / yMax * histBins)
		counts[min(max(i, 0), histBins-1)]++
	}
	maxCount := 0
	for _, c := range counts {
		maxCount = max(maxCount, c)
	}
	binH := (h.Y1 - h.Y0) / histBins
	for i, c := range counts {
		if c == 0 {
			continue
		}
		lo, hi := float64(i)*yMax/histBins, float64(i+1)*yMax/histBins
		w := float64(c) / float64(maxCount) * (h.X1 - h.X0)
		batches := "batches"
		if c == 1 {
			batches = "batch"
		}
		h.Bars = append(h.Bars, bar{
			X: h.X0, Y: round1(h.Y1 - float64(i+1)*binH), W: round1(max(w, 1)), H: round1(binH - 1),
			Title: m.format(lo) + " – " + m.format(hi) + ": " + strconv.Itoa(c) + " " + batches,
		})
	}
	h.XTicks = []tick{{Pos: h.X0, Label: "0"}}
	if maxCount > 0 {
		h.XTicks = append(h.XTicks, tick{Pos: h.X1, Label: strconv.Itoa(maxCount)})
	}
	return tl, h
}

// niceStep returns the smallest number of the form {1, 2, 2.5, 5} × 10^k
// that is at least x (x > 0).
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*e >= x*(1-1e-9) {
			return m * e
		}
	}
	return 10 * e
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// trimFloat formats v with at most prec decimals and no trailing zeros.
func trimFloat(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatDuration formats d for people, to about three significant digits:
// "412 µs", "4.12 ms", "41.2 ms", "412 ms", "4.12 s", "2 min 5 s".
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 ms"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + " µs"
	case d < 10*time.Millisecond:
		return trimFloat(float64(d)/1e6, 2) + " ms"
	case d < 100*time.Millisecond:
		return trimFloat(float64(d)/1e6, 1) + " ms"
	case d < time.Second:
		return trimFloat(float64(d)/1e6, 0) + " ms"
	case d < time.Minute:
		return trimFloat(d.Seconds(), 2) + " s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return strconv.Itoa(int(d/time.Minute)) + " min " + strconv.Itoa(int(d%time.Minute/time.Second)) + " s"
	}
	d = d.Round(time.Minute)
	return strconv.Itoa(int(d/time.Hour)) + " h " + strconv.Itoa(int(d%time.Hour/time.Minute)) + " min"
}

func formatSeconds(v float64) string { return formatDuration(time.Duration(math.Round(v * 1e9))) }

// formatRateShort formats a rate for chart labels: "850", "1.2k", "3.4M".
func formatRateShort(v float64) string {
	switch {
	case v >= 1e6:
		return trimFloat(v/1e6, 2) + "M"
	case v >= 1e3:
		return trimFloat(v/1e3, 2) + "k"
	}
	return trimFloat(v, 1)
}

// formatRate formats records per second for people.
func formatRate(v float64) string { return formatRateShort(v) + " records/s" }

// formatTime formats an event time for tables: local time with
// milliseconds.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

// formatClock formats a time of day for chart labels.
func formatClock(t time.Time) string { return t.Local().Format("15:04:05.000") }

// formatCount formats an integer with thousands separators.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
