package dstream_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// rateFileRig runs a TextFileStream on a manual clock and collects each
// batch's lines and report.
type rateFileRig struct {
	m     *clock.Manual
	ssc   *dstream.StreamingContext
	dir   string
	mu    sync.Mutex
	lines map[int64][]string
	infos chan metrics.BatchInfo
}

func newRateFileRig(t *testing.T, opts ...dstream.Option) *rateFileRig {
	t.Helper()
	m := clock.NewManual(time.Unix(0, 0))
	ec, err := engine.New(engine.WithClock(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ec.Close() })
	ssc, err := dstream.NewStreamingContext(ec, time.Second, append(opts, dstream.WithClock(m))...)
	if err != nil {
		t.Fatal(err)
	}
	rg := &rateFileRig{m: m, ssc: ssc, dir: t.TempDir(), lines: map[int64][]string{}, infos: make(chan metrics.BatchInfo, 100)}
	s := dstream.TextFileStream(ssc, rg.dir)
	if err := s.ForeachRDD(func(ctx context.Context, r *rdd.RDD[string], bt time.Time) error {
		got, err := r.Collect(ctx)
		rg.mu.Lock()
		rg.lines[bt.Unix()] = got
		rg.mu.Unlock()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ssc.AddListener(metrics.ListenerFunc(func(e metrics.Event) {
		if b, ok := e.(metrics.BatchCompleted); ok {
			rg.infos <- b.Info
		}
	}))
	if err := ssc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ssc.Stop(context.Background(), false) })
	return rg
}

// file writes n numbered lines to name, modified at sec seconds.
func (rg *rateFileRig) file(t *testing.T, name string, n int, sec int64) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s-%d\n", name, i)
	}
	path := filepath.Join(rg.dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	mod := time.Unix(sec, 0).Add(-500 * time.Millisecond)
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// batch advances one interval and returns the batch's report and lines.
func (rg *rateFileRig) batch(t *testing.T) (metrics.BatchInfo, []string) {
	t.Helper()
	rg.m.Advance(time.Second)
	select {
	case info := <-rg.infos:
		if err := info.Err(); err != nil {
			t.Fatal(err)
		}
		rg.mu.Lock()
		defer rg.mu.Unlock()
		return info, rg.lines[info.BatchTime.Unix()]
	case <-time.After(10 * time.Second):
		t.Fatal("no batch completed")
	}
	return metrics.BatchInfo{}, nil
}

func TestTextFileStreamMaxRatePerPartition(t *testing.T) {
	rg := newRateFileRig(t, dstream.MaxRatePerPartition(3))
	rg.file(t, "a", 7, 1)
	rg.file(t, "b", 2, 1)
	want := [][]string{
		{"a-0", "a-1", "a-2", "b-0", "b-1"},
		{"a-3", "a-4", "a-5"},
		{"a-6"},
		nil,
	}
	for i, w := range want {
		info, got := rg.batch(t)
		if strings.Join(got, ",") != strings.Join(w, ",") {
			t.Fatalf("batch %d: lines %v, want %v", i+1, got, w)
		}
		in := info.Inputs[0]
		if in.Records != int64(len(w)) || in.RateLimit != 3 {
			t.Fatalf("batch %d: input report %+v, want %d records at rate limit 3", i+1, in, len(w))
		}
	}
}

func TestTextFileStreamBackpressureReportsRate(t *testing.T) {
	rg := newRateFileRig(t, dstream.Backpressure(true), dstream.BackpressureInitialRate(4))
	rg.file(t, "a", 10, 1)
	info, got := rg.batch(t)
	if len(got) != 4 || info.Inputs[0].RateLimit != 4 {
		t.Fatalf("first batch: %d lines at rate %v, want 4 lines at the initial rate 4", len(got), info.Inputs[0].RateLimit)
	}
	total := len(got)
	for range 5 {
		_, got := rg.batch(t)
		total += len(got)
	}
	if total != 10 {
		t.Fatalf("read %d lines over 6 batches, want all 10 (none lost or repeated)", total)
	}
}

func TestMaxRatePerPartitionValidation(t *testing.T) {
	ec, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	if _, err := dstream.NewStreamingContext(ec, time.Second, dstream.MaxRatePerPartition(-1)); err == nil || !strings.Contains(err.Error(), "MaxRatePerPartition") {
		t.Fatalf("err = %v, want one naming MaxRatePerPartition", err)
	}
}
