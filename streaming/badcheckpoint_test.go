package streaming_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/streaming"
)

// runOnce runs p over in with checkpoint dir until all data is processed.
func runOnce(t *testing.T, p plan.Node, dir string, opts ...streaming.Option) error {
	t.Helper()
	ec := newEngine(t, nil)
	sink := streaming.NewMemorySink()
	defer sink.Clear()
	q, err := streaming.Start(testCtx(t), ec, p, sink, append([]streaming.Option{streaming.CheckpointLocation(dir)}, opts...)...)
	if err != nil {
		return err
	}
	err = q.ProcessAllAvailable(testCtx(t))
	q.Stop(testCtx(t))
	if err != nil {
		return err
	}
	return q.Exception()
}

// A damaged offset or commit log file, or a checkpoint of another query,
// stops a restart with an error naming the file or the difference.
func TestDamagedCheckpointsAreRefused(t *testing.T) {
	setup := func(t *testing.T) (string, *streaming.MemoryStream) {
		dir := t.TempDir()
		in := streaming.NewMemoryStream(eventSchema, "events")
		t.Cleanup(func() { in.Close() })
		for range 2 {
			b := events(t, memory.DefaultAllocator, []string{"ann", "bob"}, []int64{20, 30})
			in.AddBatches(b)
			b.Release()
			if err := runOnce(t, totals(t, in), dir, streaming.WithOutputMode(streaming.Complete)); err != nil {
				t.Fatal(err)
			}
		}
		return dir, in
	}
	damage := func(t *testing.T, path string, f func([]byte) []byte) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	flip := func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }
	truncate := func(b []byte) []byte { return b[:len(b)/2] }
	for _, tc := range []struct {
		name   string
		file   string
		damage func([]byte) []byte
	}{
		{"flipped offset log", checkpoint.FileName("offsets", 1), flip},
		{"truncated offset log", checkpoint.FileName("offsets", 1), truncate},
		{"flipped commit log", checkpoint.FileName("commits", 1), flip},
		{"truncated commit log", checkpoint.FileName("commits", 1), truncate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, in := setup(t)
			path := filepath.Join(dir, tc.file)
			damage(t, path, tc.damage)
			err := runOnce(t, totals(t, in), dir, streaming.WithOutputMode(streaming.Complete))
			if !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("restart = %v, want a corrupt-file error naming %s", err, path)
			}
		})
	}
	t.Run("other stateful operators", func(t *testing.T) {
		dir, in := setup(t)
		scan, _ := plan.NewScan(streaming.NewSourceNode(in), nil, nil)
		dedup, _ := plan.NewDeduplicate(scan, []string{"user"})
		agg, err := plan.NewAggregate(dedup, []expr.Expr{expr.Col("user")}, []expr.Expr{expr.As(expr.Count(nil), "n")})
		if err != nil {
			t.Fatal(err)
		}
		err = runOnce(t, agg, dir, streaming.WithOutputMode(streaming.Complete))
		if err == nil || !strings.Contains(err.Error(), "stateful operators [aggregate-0]; this one has [dedup-0 aggregate-1]") {
			t.Errorf("restart with a deduplication added = %v", err)
		}
	})
	t.Run("another query's checkpoint", func(t *testing.T) {
		dir, in := setup(t)
		scan, _ := plan.NewScan(streaming.NewSourceNode(in), nil, nil)
		other, err := plan.NewAggregate(scan, []expr.Expr{expr.Col("amount")}, []expr.Expr{expr.As(expr.Count(nil), "n")})
		if err != nil {
			t.Fatal(err)
		}
		err = runOnce(t, other, dir, streaming.WithOutputMode(streaming.Complete))
		if err == nil || !strings.Contains(err.Error(), "the query changed; use a new checkpoint location") {
			t.Errorf("restart with another query = %v", err)
		}
	})
}
