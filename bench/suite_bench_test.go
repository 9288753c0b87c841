package bench

import (
	"context"
	"testing"

	"github.com/spate-io/spate/cmd/spate/benchsuite"
)

// suiteParams are the sizes of BenchmarkSuite: 2M events per query in
// batches of 500K, or, with SPATE_BENCH_SHORT=1, 20K events in batches of
// 5K over 10 s of event time (so windows open, close and time out).
func suiteParams(b *testing.B) benchsuite.Params {
	p := benchsuite.Params{Events: 2_000_000, BatchEvents: 500_000, CheckpointDir: b.TempDir()}
	if shortRun() {
		p.Events, p.BatchEvents, p.EventRate = 20_000, 5_000, 2_000
	}
	return p
}

// BenchmarkSuite runs every query of `spate bench` (YSB and Nexmark q0,
// q1, q2, q5, q7): each iteration runs the DStream query and then its
// hand-written baseline on the same events, checks that the results
// match, and reports events/s, events/s per core and the per-core ratio
// to the baseline. `spate bench` gives more: latency, RSS, GC.
func BenchmarkSuite(b *testing.B) {
	for _, q := range benchsuite.Queries() {
		b.Run(q.Name, func(b *testing.B) {
			p := suiteParams(b)
			var last []benchsuite.Measurement
			for b.Loop() {
				ms, err := benchsuite.Run(context.Background(), []benchsuite.Query{q}, p, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, m := range ms {
					if m.Status != "ok" {
						b.Fatalf("%s %s: %s %s", m.Query, m.Variant, m.Status, m.Error)
					}
				}
				last = ms
			}
			for _, m := range last {
				switch m.Variant {
				case benchsuite.VariantDStream:
					b.ReportMetric(m.EventsPerSec, "events/s")
					b.ReportMetric(m.EventsPerSecPerCore, "events/s/core")
					b.ReportMetric(m.RatioPerCore, "ratio-per-core")
				case benchsuite.VariantHandloop:
					b.ReportMetric(m.EventsPerSec, "hand-events/s")
				}
			}
		})
	}
}

// TestSuiteMatchesBaselines checks every query of the suite against its
// baseline on small inputs.
func TestSuiteMatchesBaselines(t *testing.T) {
	p := benchsuite.Params{Events: 20_000, BatchEvents: 3_000, EventRate: 2_000, CheckpointDir: t.TempDir()}
	ms, err := benchsuite.Run(context.Background(), benchsuite.Queries(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Status != "ok" {
			t.Errorf("%s %s: %s %s", m.Query, m.Variant, m.Status, m.Error)
		}
	}
}
