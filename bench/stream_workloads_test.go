package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/corpus"
)

// newManualTestEngine returns an engine on a new manual clock, and that
// clock.
func newManualTestEngine(t *testing.T, opts ...engine.Option) (*engine.Context, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(time.Unix(0, 0))
	return newTestEngine(t, append(opts, engine.WithClock(clk))...), clk
}

func TestStreamWordCountMatchesBaseline(t *testing.T) {
	lines := corpus.Lines(corpus.Config{Words: 30_007, Distinct: 1_000, WordsPerLine: 10, Seed: 5})
	batches := splitBatches(lines, 4)
	want := handStreamWordCount(batches)
	for _, slots := range []int{1, 2} {
		for _, parts := range []int{1, 4} {
			t.Run(fmt.Sprintf("slots=%d/slices=%d", slots, parts), func(t *testing.T) {
				ec, clk := newManualTestEngine(t, engine.Slots(slots))
				rdds := parallelizeBatches(ec, batches, parts)
				// Twice on the same engine and clock, as the benchmarks
				// run it: the second context starts where the first left
				// the clock.
				for run := range 2 {
					got, err := spateStreamWordCount(testCtx(t), ec, clk, rdds)
					if err != nil {
						t.Fatalf("run %d: %v", run, err)
					}
					if len(got) != len(want) {
						t.Fatalf("run %d: got %d batches, want %d", run, len(got), len(want))
					}
					total := 0
					for i := range want {
						if !sameCounts(got[i], want[i]) {
							t.Fatalf("run %d, batch %d: spate found %d distinct words, hand loop %d, or their counts differ", run, i, len(got[i]), len(want[i]))
						}
						for _, p := range got[i] {
							total += p.Value
						}
					}
					if total != 30_007 {
						t.Fatalf("run %d: counted %d words, want 30007", run, total)
					}
				}
			})
		}
	}
}

func TestStreamOutputsRunEveryBatch(t *testing.T) {
	for _, kind := range []overheadKind{overheadNoop, overheadCount, overheadCount8} {
		t.Run(kind.String(), func(t *testing.T) {
			ec, clk := newManualTestEngine(t)
			g, err := startOverheadGraph(ec, clk, streamOutputs, kind)
			if err != nil {
				t.Fatal(err)
			}
			const batches = 7
			for k := 1; k <= batches; k++ {
				if err := g.step(testCtx(t)); err != nil {
					t.Fatalf("batch %d: %v", k, err)
				}
				// Every output ran in the batch before it completed.
				if err := g.checkRuns(int64(k)); err != nil {
					t.Fatalf("after batch %d: %v", k, err)
				}
			}
			if err := g.stop(); err != nil {
				t.Fatal(err)
			}
			if err := g.checkRuns(batches); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStreamLatencyRunProcessesEverything runs the latency workload
// briefly at a low rate. It checks counts only, never timing: every
// stored record reached the output operation, and the samples are
// consistent.
func TestStreamLatencyRunProcessesEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on the real clock for about half a second")
	}
	ec := newTestEngine(t)
	cfg := latencyConfig{rate: 20_000, interval: 50 * time.Millisecond, blockInterval: 25 * time.Millisecond,
		tick: 2 * time.Millisecond, duration: 400 * time.Millisecond, sampleEvery: 10}
	res, err := runLatency(testCtx(t), ec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.stored == 0 || res.batches == 0 {
		t.Fatalf("stored %d records in %d batches; want some of each", res.stored, res.batches)
	}
	if want := (res.processed + int64(cfg.sampleEvery) - 1) / int64(cfg.sampleEvery); int64(len(res.total)) < want/2 {
		t.Fatalf("%d samples of %d records; want about one in %d", len(res.total), res.processed, cfg.sampleEvery)
	}
	for i := range res.total {
		if res.total[i] != res.wait[i]+res.after[i] {
			t.Fatalf("sample %d: total %v != wait %v + after %v", i, res.total[i], res.wait[i], res.after[i])
		}
		if res.total[i] < 0 {
			t.Fatalf("sample %d: negative latency %v", i, res.total[i])
		}
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100 - i) // 100 down to 1
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {1, 1}, {100, 100}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("percentile(1..100, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
}
