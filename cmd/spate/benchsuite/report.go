package benchsuite

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Report is the JSON form of a run.
type Report struct {
	Time         time.Time     `json:"time"`
	GoVersion    string        `json:"go_version"`
	GOMAXPROCS   int           `json:"gomaxprocs"`
	NumCPU       int           `json:"num_cpu"`
	GOGC         string        `json:"gogc"` // the GOGC environment variable ("" = 100)
	Params       Params        `json:"params"`
	Measurements []Measurement `json:"measurements"`
}

// NewReport wraps measurements with the machine and the parameters.
func NewReport(p Params, ms []Measurement) Report {
	return Report{Time: time.Now().UTC(), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GOGC: os.Getenv("GOGC"), Params: p, Measurements: ms}
}

// WriteJSON writes r as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("benchsuite: writing the JSON report: %w", err)
	}
	return nil
}

// WriteMarkdown writes the measurements as a Markdown table.
func WriteMarkdown(w io.Writer, ms []Measurement) error {
	var b strings.Builder
	b.WriteString("| query | api | status | events | s | events/s | events/s/core | cpu cores | ratio/core | ratio cpu | p50 ms | p99 ms | peak RSS MiB | GC pause ms (cycles) | result |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, m := range ms {
		if m.Status == "error" || m.Status == StatusUnsupported || m.Status == StatusSkipped {
			note := m.Status
			if m.Error != "" {
				note += ": " + strings.ReplaceAll(m.Error, "|", "\\|")
			}
			fmt.Fprintf(&b, "| %s | %s | %s |  |  |  |  |  |  |  |  |  |  |  |  |\n", m.Query, m.Variant, note)
			continue
		}
		p50, p99 := "", ""
		switch {
		case m.LatencyP50Ms > 0 || m.LatencyP99Ms > 0:
			p50, p99 = fmt.Sprintf("%.1f", m.LatencyP50Ms), fmt.Sprintf("%.1f", m.LatencyP99Ms)
		case m.BatchP50Ms > 0:
			p50, p99 = fmt.Sprintf("(batch %.1f)", m.BatchP50Ms), fmt.Sprintf("(batch %.1f)", m.BatchP99Ms)
		}
		ratio, wall := "", ""
		if m.RatioPerCore > 0 {
			ratio, wall = fmt.Sprintf("%.2f", m.RatioPerCore), fmt.Sprintf("%.2f", m.RatioCPU)
		}
		status := m.Status
		if m.MatchesHand != nil && *m.MatchesHand {
			status += " ✓"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.2f | %s | %s | %.2f | %s | %s | %s | %s | %.0f | %.1f (%d) | %d rows, %s |\n",
			m.Query, m.Variant, status, human(float64(m.Events)), m.Seconds, human(m.EventsPerSec), human(m.EventsPerSecPerCore),
			m.CPUCores, ratio, wall, p50, p99, m.PeakRSSMiB, m.GCPauseMs, m.GCCycles, m.Result.Rows, m.Result.Checksum)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// human formats a count with a K/M/G suffix.
func human(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fK", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// WriteList writes the queries, which (query, api) pairs exist, and why
// the others do not.
func WriteList(w io.Writer) error {
	var b strings.Builder
	b.WriteString("benchmark  query  stateful  title\n")
	for _, q := range Queries() {
		st := "no"
		if q.Stateful {
			st = "yes"
		}
		fmt.Fprintf(&b, "%-10s %-6s %-9s %s\n", q.Benchmark, q.Name, st, q.Title)
		var vs []string
		for _, v := range allVariants {
			if q.Implemented(v) {
				vs = append(vs, v)
			}
		}
		fmt.Fprintf(&b, "%-10s %-6s apis: %s\n", "", "", strings.Join(vs, ", "))
		if why := q.Unsupported(); why != "" {
			fmt.Fprintf(&b, "%-10s %-6s no dataframe, sql: %s\n", "", "", why)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
