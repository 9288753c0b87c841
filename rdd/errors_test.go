package rdd

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/engine"
)

// noPanic runs f and turns a panic into a test error.
func noPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("panicked: %v", r)
		}
	}()
	f()
}

func TestBadInput(t *testing.T) {
	ec := newEngine(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "in.txt", "a\n")
	good := Parallelize(ec, []int{1, 2, 3}, 2)
	other := newEngine(t)
	var nilF func(int) int
	tests := []struct {
		name string
		// rdd builds the bad RDD; its Err() and Collect must both fail.
		rdd  func() interface{ Err() error }
		want []string
	}{
		{"Parallelize numSlices 0", func() interface{ Err() error } { return Parallelize(ec, []int{1}, 0) }, []string{"rdd.Parallelize", "numSlices", "0"}},
		{"Parallelize numSlices -1", func() interface{ Err() error } { return Parallelize(ec, []int{1}, -1) }, []string{"rdd.Parallelize", "numSlices", "-1"}},
		{"Range step 0", func() interface{ Err() error } { return Range(ec, 0, 10, 0, 2) }, []string{"rdd.Range", "step"}},
		{"Range numSlices 0", func() interface{ Err() error } { return Range(ec, 0, 10, 1, 0) }, []string{"rdd.Range", "numSlices"}},
		{"TextFile minPartitions 0", func() interface{ Err() error } { return TextFile(ec, file, 0) }, []string{"rdd.TextFile", "minPartitions", "0"}},
		{"TextFile empty path", func() interface{ Err() error } { return TextFile(ec, "", 1) }, []string{"rdd.TextFile", "path"}},
		{"TextFile bad glob", func() interface{ Err() error } { return TextFile(ec, filepath.Join(dir, "[x"), 1) }, []string{"rdd.TextFile", "[x"}},
		{"Map nil f", func() interface{ Err() error } { return Map(good, nilF) }, []string{"rdd.Map:", "f must not be nil"}},
		{"Map untyped nil f", func() interface{ Err() error } { return Map[int, int](good, nil) }, []string{"rdd.Map:", "f must not be nil"}},
		{"FlatMap nil f", func() interface{ Err() error } { return FlatMap[int, int](good, nil) }, []string{"rdd.FlatMap:", "f must not be nil"}},
		{"Filter nil keep", func() interface{ Err() error } { return good.Filter(nil) }, []string{"rdd.Filter:", "keep must not be nil"}},
		{"MapPartitions nil f", func() interface{ Err() error } { return MapPartitions[int, int](good, nil) }, []string{"rdd.MapPartitions:", "f must not be nil"}},
		{"MapPartitionsWithIndex nil f", func() interface{ Err() error } { return MapPartitionsWithIndex[int, int](good, nil) }, []string{"rdd.MapPartitionsWithIndex:", "f must not be nil"}},
		{"Coalesce 0 without shuffle", func() interface{ Err() error } { return good.Coalesce(0, false) }, []string{"rdd.Coalesce", "numPartitions", "0"}},
		{"Coalesce -2 with shuffle", func() interface{ Err() error } { return good.Coalesce(-2, true) }, []string{"rdd.Coalesce", "numPartitions", "-2"}},
		{"Repartition 0", func() interface{ Err() error } { return good.Repartition(0) }, []string{"rdd.Repartition", "numPartitions", "0"}},
		{"Sample negative fraction", func() interface{ Err() error } { return good.Sample(false, -0.5, 1) }, []string{"rdd.Sample", "fraction", "-0.5"}},
		{"Sample negative fraction with replacement", func() interface{ Err() error } { return good.Sample(true, -1, 1) }, []string{"rdd.Sample", "fraction"}},
		{"Sample NaN fraction", func() interface{ Err() error } { return good.Sample(true, math.NaN(), 1) }, []string{"rdd.Sample", "fraction", "NaN"}},
		{"Sample fraction > 1 without replacement", func() interface{ Err() error } { return good.Sample(false, 1.5, 1) }, []string{"rdd.Sample", "fraction", "1.5", "without replacement"}},
		{"Union of nothing", func() interface{ Err() error } { return Union[int]() }, []string{"rdd.Union", "at least one"}},
		{"Union with a nil RDD", func() interface{ Err() error } { return Union(good, nil) }, []string{"rdd.Union", "RDD 1 is nil"}},
		{"Union starting with a nil RDD", func() interface{ Err() error } { return Union(nil, good) }, []string{"rdd.Union", "RDD 0 is nil"}},
		{"Union of nil RDDs only", func() interface{ Err() error } { return Union[int](nil, nil) }, []string{"rdd.Union", "RDD 0 is nil"}},
		{"Union method with a nil RDD", func() interface{ Err() error } { return good.Union(good, nil) }, []string{"rdd.Union", "RDD 2 is nil"}},
		{"Union across engines", func() interface{ Err() error } { return Union(good, Range(other, 0, 3, 1, 1)) }, []string{"rdd.Union", "different engine contexts"}},
		{"Parallelize nil engine", func() interface{ Err() error } { return Parallelize[int](nil, []int{1}, 1) }, []string{"rdd.Parallelize", "nil engine context"}},
		{"Range nil engine", func() interface{ Err() error } { return Range(nil, 0, 1, 1, 1) }, []string{"rdd.Range", "nil engine context"}},
		{"Empty nil engine", func() interface{ Err() error } { return Empty[int](nil) }, []string{"rdd.Empty", "nil engine context"}},
		{"TextFile nil engine", func() interface{ Err() error } { return TextFile(nil, file, 1) }, []string{"rdd.TextFile", "nil engine context"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noPanic(t, func() {
				r := tt.rdd()
				checkMentions(t, "Err()", r.Err(), tt.want)
				if c, ok := r.(interface {
					Collect(context.Context) ([]int, error)
				}); ok {
					got, err := c.Collect(testCtx(t))
					if got != nil {
						t.Errorf("Collect returned %v with the error", got)
					}
					checkMentions(t, "Collect", err, tt.want)
				}
			})
		})
	}
}

// checkMentions fails unless err is non-nil and its message contains each
// of want.
func checkMentions(t *testing.T, what string, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s = nil, want an error mentioning %q", what, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s = %q, want it to mention %q", what, err, w)
		}
	}
}

func TestBadActionArguments(t *testing.T) {
	ec := newEngine(t)
	ctx := testCtx(t)
	r := Parallelize(ec, []int{1, 2, 3}, 2)
	tests := []struct {
		name string
		run  func() error
		want []string
	}{
		{"Take -1", func() error { _, err := r.Take(ctx, -1); return err }, []string{"rdd.Take", "n must not be negative", "-1"}},
		{"Reduce nil f", func() error { _, err := r.Reduce(ctx, nil); return err }, []string{"rdd.Reduce", "f must not be nil"}},
		{"Fold nil f", func() error { _, err := r.Fold(ctx, 0, nil); return err }, []string{"rdd.Fold", "f must not be nil"}},
		{"Aggregate nil seqOp", func() error {
			_, err := Aggregate(ctx, r, 0, nil, func(a, b int) int { return a + b })
			return err
		}, []string{"rdd.Aggregate", "seqOp must not be nil"}},
		{"Aggregate nil combOp", func() error {
			_, err := Aggregate(ctx, r, 0, func(a, b int) int { return a + b }, nil)
			return err
		}, []string{"rdd.Aggregate", "combOp must not be nil"}},
		{"Foreach nil f", func() error { return r.Foreach(ctx, nil) }, []string{"rdd.Foreach", "f must not be nil"}},
		{"ForeachPartition nil f", func() error { return r.ForeachPartition(ctx, nil) }, []string{"rdd.ForeachPartition", "f must not be nil"}},
		{"SaveAsTextFile empty path", func() error { return r.SaveAsTextFile(ctx, "") }, []string{"rdd.SaveAsTextFile", "path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noPanic(t, func() { checkMentions(t, "error", tt.run(), tt.want) })
		})
	}
}

// actionsOn returns every action of r as a function of a context.
func actionsOn(r *RDD[int], saveDir string) map[string]func(context.Context) error {
	add := func(a, b int) int { return a + b }
	return map[string]func(context.Context) error{
		"Collect": func(ctx context.Context) error { _, err := r.Collect(ctx); return err },
		"Count":   func(ctx context.Context) error { _, err := r.Count(ctx); return err },
		"Reduce":  func(ctx context.Context) error { _, err := r.Reduce(ctx, add); return err },
		"Fold":    func(ctx context.Context) error { _, err := r.Fold(ctx, 0, add); return err },
		"Aggregate": func(ctx context.Context) error {
			_, err := Aggregate(ctx, r, 0, add, add)
			return err
		},
		"Take":    func(ctx context.Context) error { _, err := r.Take(ctx, 2); return err },
		"Take(0)": func(ctx context.Context) error { _, err := r.Take(ctx, 0); return err },
		"First":   func(ctx context.Context) error { _, err := r.First(ctx); return err },
		"Foreach": func(ctx context.Context) error { return r.Foreach(ctx, func(int) {}) },
		"ForeachPartition": func(ctx context.Context) error {
			return r.ForeachPartition(ctx, func(context.Context, iter.Seq[int]) error { return nil })
		},
		"CountByValue": func(ctx context.Context) error { _, err := CountByValue(ctx, r); return err },
		"SaveAsTextFile": func(ctx context.Context) error {
			return r.SaveAsTextFile(ctx, filepath.Join(saveDir, "out"))
		},
	}
}

func TestActionWithNilContext(t *testing.T) {
	ec := newEngine(t)
	dir := t.TempDir()
	var nilCtx context.Context
	for name, action := range actionsOn(Parallelize(ec, []int{1, 2, 3}, 2), dir) {
		t.Run(name, func(t *testing.T) {
			noPanic(t, func() { checkMentions(t, name, action(nilCtx), []string{"nil context.Context"}) })
		})
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("SaveAsTextFile with a nil context left %q", got)
	}
}

func TestActionOnClosedEngine(t *testing.T) {
	ec, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	before := Map(Range(ec, 0, 10, 1, 2), func(x int) int { return x })
	if err := ec.Close(); err != nil {
		t.Fatal(err)
	}
	after := Parallelize(ec, []int{1, 2}, 1)
	for _, r := range []*RDD[int]{before, after} {
		dir := t.TempDir()
		for name, action := range actionsOn(r, dir) {
			if name == "Take(0)" {
				continue // runs no job
			}
			t.Run(name, func(t *testing.T) {
				noPanic(t, func() {
					if err := action(testCtx(t)); !errors.Is(err, engine.ErrClosed) {
						t.Errorf("%s on a closed engine: err = %v, want engine.ErrClosed", name, err)
					}
				})
			})
		}
		if got := dirNames(t, dir); len(got) != 0 {
			t.Errorf("SaveAsTextFile on a closed engine left %q", got)
		}
	}
}

func TestDerivedRDDsInheritErrors(t *testing.T) {
	ec := newEngine(t)
	bad := Parallelize(ec, []int{1, 2}, 0)
	parentErr := bad.Err()
	if parentErr == nil {
		t.Fatal("Parallelize with numSlices 0 has no error")
	}
	other := Range(ec, 0, 4, 1, 2)
	id := func(x int) int { return x }
	derived := map[string]interface{ Err() error }{
		"Map":                    Map(bad, id),
		"Map with nil f":         Map[int, int](bad, nil),
		"FlatMap":                FlatMap(bad, func(x int) []int { return []int{x} }),
		"Filter":                 bad.Filter(func(int) bool { return true }),
		"MapPartitions":          MapPartitions(bad, func(in iter.Seq[int]) iter.Seq[int] { return in }),
		"MapPartitionsWithIndex": MapPartitionsWithIndex(bad, func(_ int, in iter.Seq[int]) iter.Seq[int] { return in }),
		"Glom":                   Glom(bad),
		"Union first":            bad.Union(other),
		"Union second":           Union(other, bad),
		"Sample":                 bad.Sample(false, 0.5, 1),
		"Coalesce":               bad.Coalesce(1, false),
		"Coalesce with shuffle":  bad.Coalesce(1, true),
		"Repartition":            bad.Repartition(3),
		"chain":                  Map(Map(bad, id).Filter(func(int) bool { return true }).Coalesce(1, false), id).Persist(),
	}
	for name, r := range derived {
		t.Run(name, func(t *testing.T) {
			if err := r.Err(); err == nil || err.Error() != parentErr.Error() {
				t.Errorf("Err() = %v, want the parent's %v", err, parentErr)
			}
		})
	}
	// Actions return the same error, and SaveAsTextFile writes nothing.
	ctx := testCtx(t)
	dir := t.TempDir()
	chain := Map(bad, id)
	for name, action := range actionsOn(chain, dir) {
		if err := action(ctx); err == nil || err.Error() != parentErr.Error() {
			t.Errorf("%s: err = %v, want the parent's %v", name, err, parentErr)
		}
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("SaveAsTextFile of a bad RDD left %q", got)
	}
}

func TestPanicInUserFunction(t *testing.T) {
	ec := newEngine(t, engine.Slots(2))
	ctx := testCtx(t)
	r := Map(Range(ec, 0, 1000, 1, 4), func(x int) int {
		if x == 567 {
			panic(fmt.Sprintf("bad value %d", x))
		}
		return x
	})
	_, err := r.Collect(ctx)
	var pe *engine.TaskPanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Collect err = %v, want a *engine.TaskPanicError", err)
	}
	if pe.Value != "bad value 567" {
		t.Errorf("Value = %#v, want %q", pe.Value, "bad value 567")
	}
	if pe.Partition != 2 {
		t.Errorf("Partition = %d, want 2", pe.Partition)
	}
	if len(pe.Stack) == 0 || !strings.Contains(string(pe.Stack), "errors_test.go") {
		t.Errorf("Stack does not show the panicking function:\n%s", pe.Stack)
	}
	if !strings.HasPrefix(err.Error(), "rdd.Collect: ") {
		t.Errorf("err = %q, want it to start with rdd.Collect", err)
	}
	// Other actions report the failure with zero results.
	if n, err := r.Count(ctx); n != 0 || !errors.As(err, &pe) {
		t.Errorf("Count = %d, %v; want 0 and a TaskPanicError", n, err)
	}

	// A panic with an error value is matchable through the panic error.
	errBoom := errors.New("boom")
	err = Range(ec, 0, 10, 1, 2).Foreach(ctx, func(x int) {
		if x == 9 {
			panic(errBoom)
		}
	})
	if !errors.Is(err, errBoom) || !errors.As(err, &pe) {
		t.Errorf("Foreach err = %v, want a TaskPanicError wrapping boom", err)
	}

	// The engine keeps working, and so do other actions on the same RDDs.
	for range 3 {
		n, err := Map(Range(ec, 0, 1000, 1, 4), func(x int) int { return x }).Count(ctx)
		if err != nil || n != 1000 {
			t.Fatalf("next job: Count = %d, %v; want 1000, nil", n, err)
		}
	}
	if got, err := r.Take(ctx, 3); err != nil || len(got) != 3 {
		t.Errorf("Take(3) of the RDD whose partition 2 panics = %v, %v; want 3 elements", got, err)
	}
}

// startedHuge returns an RDD over a range too large to finish and a
// channel closed when its Map function first runs.
func startedHuge(ec *engine.Context) (*RDD[int], <-chan struct{}) {
	started := make(chan struct{})
	var once sync.Once
	r := Map(Range(ec, 0, 1_000_000_000_000, 1, 4), func(x int) int {
		once.Do(func() { close(started) })
		return x
	})
	return r, started
}

// waitErr waits up to 5 s for an action's error.
func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	select {
	case err := <-done:
		return err
	case <-timeout.C:
		t.Fatal("the action did not return within 5 s")
		return nil
	}
}

func TestCancellation(t *testing.T) {
	ec := newEngine(t)
	tests := map[string]func(context.Context, *RDD[int]) error{
		"Count":   func(ctx context.Context, r *RDD[int]) error { _, err := r.Count(ctx); return err },
		"Foreach": func(ctx context.Context, r *RDD[int]) error { return r.Foreach(ctx, func(int) {}) },
		"Reduce": func(ctx context.Context, r *RDD[int]) error {
			_, err := r.Reduce(ctx, func(a, b int) int { return a ^ b })
			return err
		},
	}
	for name, action := range tests {
		t.Run(name, func(t *testing.T) {
			r, started := startedHuge(ec)
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- action(ctx, r) }()
			select {
			case <-started:
			case err := <-done:
				t.Fatalf("the action returned before it started: %v", err)
			}
			cancel()
			if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Range(ec, 0, 10, 1, 2).Collect(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		r, started := startedHuge(ec)
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		done := make(chan error, 1)
		dctx, dcancel := context.WithDeadline(ctx, time.Now().Add(time.Hour))
		defer dcancel()
		go func() { _, err := r.Count(dctx); done <- err }()
		<-started
		cancel() // the deadline's parent: the error is still Canceled
		if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("engine still works", func(t *testing.T) {
		if n, err := Range(ec, 0, 10, 1, 2).Count(testCtx(t)); err != nil || n != 10 {
			t.Errorf("Count = %d, %v; want 10", n, err)
		}
	})
}

func TestCloseDuringAction(t *testing.T) {
	ec, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	r, started := startedHuge(ec)
	done := make(chan error, 1)
	go func() { _, err := r.Count(testCtx(t)); done <- err }()
	<-started
	closed := make(chan error, 1)
	go func() { closed <- ec.Close() }()
	if err := waitErr(t, done); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("err = %v, want engine.ErrClosed", err)
	}
	if err := waitErr(t, closed); err != nil {
		t.Errorf("Close = %v", err)
	}
}

func TestCancelledSaveLeavesNothing(t *testing.T) {
	ec := newEngine(t)
	dir := t.TempDir()
	r, started := startedHuge(ec)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.SaveAsTextFile(ctx, filepath.Join(dir, "out")) }()
	<-started
	cancel()
	if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("a cancelled save left %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(out) = %v, want not found", err)
	}
}
