package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// writeCheckpoint runs a small stateful program for two batches on a
// manual clock and leaves its checkpoint in dir.
func writeCheckpoint(t *testing.T, dir string) {
	t.Helper()
	m := clock.NewManual(time.Unix(0, 0))
	ec, err := engine.New(engine.WithClock(m))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	ssc, err := dstream.GetOrCreate(dir, func() (*dstream.StreamingContext, error) {
		ssc, err := dstream.NewStreamingContext(ec, time.Second)
		if err != nil {
			return nil, err
		}
		in := dstream.ConstantInputStream(ssc, rdd.Parallelize(ec, []rdd.Pair[string, int]{rdd.KV("a", 1), rdd.KV("b", 2)}, 1))
		counts := dstream.UpdateStateByKey(in, func(vs []int, s int, _ bool) (int, bool) { return s + len(vs), true }).
			Name("counts").Checkpoint(time.Second)
		return ssc, counts.ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int]], _ time.Time) error {
			_, err := r.Count(ctx)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan time.Time, 4)
	defer ssc.AddListener(metrics.ListenerFunc(func(e metrics.Event) {
		if b, ok := e.(metrics.BatchCompleted); ok {
			done <- b.Info.BatchTime
		}
	}))()
	if err := ssc.Start(); err != nil {
		t.Fatal(err)
	}
	for s := 1; s <= 2; s++ {
		m.Set(time.Unix(int64(s), 0))
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("batch %d did not complete", s)
		}
	}
	if err := ssc.Stop(context.Background(), false); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointCommand(t *testing.T) {
	dir := t.TempDir()
	writeCheckpoint(t, dir)
	code, out, stderr := runCLI(t, testCtx(t), "checkpoint", "--dir", dir, "--verify")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s\nstdout:\n%s", code, stderr, out)
	}
	for _, want := range []string{
		"interval       1s",
		"completed      1970-01-01 00:00:02.000 (2000 ms)",
		"pending        none",
		"state saved at 1970-01-01 00:00:01.000 (1000 ms), 1970-01-01 00:00:02.000 (2000 ms)",
		"stateful       counts (UpdateStateByKey): ",
		"problems       none",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A flipped byte in a state file: found with --verify, exit code 1.
	files, _ := filepath.Glob(filepath.Join(dir, "state", "counts", "*", "*"))
	if len(files) == 0 {
		t.Fatal("no state files")
	}
	b, _ := os.ReadFile(files[0])
	b[len(b)/2] ^= 1
	if err := os.WriteFile(files[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, testCtx(t), "checkpoint", "--dir", dir, "--verify")
	if code != exitFailure || !strings.Contains(out, "damaged") || !strings.Contains(out, files[0]) {
		t.Errorf("with a damaged state file: exit code %d, output:\n%s", code, out)
	}

	code, _, stderr = runCLI(t, testCtx(t), "checkpoint", "--dir", t.TempDir())
	if code != exitFailure || !strings.Contains(stderr, "holds no streaming checkpoint") {
		t.Errorf("an empty directory: exit code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, testCtx(t), "checkpoint")
	if code != exitUsage || !strings.Contains(stderr, "--dir is required") {
		t.Errorf("no --dir: exit code %d, stderr %q", code, stderr)
	}
}
