package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/metrics"
)

// testNode is a minimal Node for scheduler tests.
type testNode struct {
	id        int
	parts     int
	deps      []Dependency
	name      string
	persisted bool
}

func (n *testNode) ID() int                    { return n.id }
func (n *testNode) NumPartitions() int         { return n.parts }
func (n *testNode) Dependencies() []Dependency { return n.deps }
func (n *testNode) Name() string               { return n.name }
func (n *testNode) Persisted() bool            { return n.persisted }

func newTestContext(t *testing.T, opts ...Option) *Context {
	t.Helper()
	c, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func node(c *Context, parts int, name string, deps ...Dependency) *testNode {
	return &testNode{id: c.NewID(), parts: parts, deps: deps, name: name}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recorder collects events from a Context's bus.
type recorder struct {
	mu     sync.Mutex
	events []metrics.Event
}

func record(t *testing.T, c *Context) *recorder {
	r := &recorder{}
	c.Bus().Subscribe(metrics.ListenerFunc(func(e metrics.Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
	}))
	return r
}

func (r *recorder) flush(t *testing.T, c *Context) []metrics.Event {
	t.Helper()
	if err := c.Bus().Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func TestRunJobSingleStage(t *testing.T) {
	for _, parts := range []int{1, 3, 16} {
		t.Run(fmt.Sprint(parts), func(t *testing.T) {
			c := newTestContext(t, Slots(2))
			n := node(c, parts, "source")
			got := make([]int, parts)
			err := c.RunJob(testCtx(t), n, nil, "collect", func(ctx context.Context, tc *TaskContext) error {
				got[tc.Partition()] = tc.Partition() * 10
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				if v != i*10 {
					t.Fatalf("partition %d = %d", i, v)
				}
			}
		})
	}
}

// shuffleJob builds source(maps) -shuffle-> reduce(buckets) where map task m
// sends value m to every bucket; it returns the reduce node, the shuffle and
// a counter of map task runs.
func shuffleJob(c *Context, maps, buckets int) (*testNode, *ShuffleDependency, *atomic.Int64) {
	src := node(c, maps, "source")
	var writes atomic.Int64
	dep, err := c.NewShuffleDependency(src, buckets, func(ctx context.Context, tc *TaskContext) ([]Block, error) {
		writes.Add(1)
		out := make([]Block, buckets)
		for b := range out {
			out[b] = []int{tc.Partition()}
		}
		tc.AddRecordsWritten(buckets)
		return out, nil
	})
	if err != nil {
		panic(err)
	}
	return node(c, buckets, "reduce", dep), dep, &writes
}

func reduceSums(t *testing.T, c *Context, n *testNode, dep *ShuffleDependency) []int {
	t.Helper()
	sums := make([]int, n.parts)
	err := c.RunJob(testCtx(t), n, nil, "sum", func(ctx context.Context, tc *TaskContext) error {
		blocks, err := tc.ReadShuffle(dep, tc.Partition())
		if err != nil {
			return err
		}
		for _, b := range blocks {
			for _, v := range b.([]int) {
				sums[tc.Partition()] += v
			}
		}
		tc.AddRecordsRead(len(blocks))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func TestShuffleRunsMapStageFirstAndSkipsItLater(t *testing.T) {
	c := newTestContext(t)
	rec := record(t, c)
	reduce, dep, writes := shuffleJob(c, 4, 3)
	want := []int{6, 6, 6} // 0+1+2+3 in every bucket
	if got := reduceSums(t, c, reduce, dep); !slices.Equal(got, want) {
		t.Fatalf("first job sums = %v, want %v", got, want)
	}
	if got := reduceSums(t, c, reduce, dep); !slices.Equal(got, want) {
		t.Fatalf("second job sums = %v, want %v", got, want)
	}
	if n := writes.Load(); n != 4 {
		t.Fatalf("map tasks ran %d times over two jobs, want 4 (second job must skip the map stage)", n)
	}
	var skipped, completed int
	var mapWritten int64
	for _, e := range rec.flush(t, c) {
		switch e := e.(type) {
		case metrics.StageSkipped:
			skipped++
		case metrics.StageCompleted:
			completed++
			if e.Name == "source" {
				mapWritten = e.RecordsWritten
			}
		}
	}
	if skipped != 1 || completed != 3 {
		t.Fatalf("stages: %d skipped, %d completed; want 1 and 3", skipped, completed)
	}
	if mapWritten != 12 {
		t.Fatalf("map stage RecordsWritten = %d, want 12", mapWritten)
	}

	c.RemoveShuffle(dep.ID())
	if c.ShuffleWritten(dep.ID()) {
		t.Fatal("ShuffleWritten after RemoveShuffle")
	}
	reduceSums(t, c, reduce, dep)
	if n := writes.Load(); n != 8 {
		t.Fatalf("after RemoveShuffle map tasks ran %d times in all, want 8", n)
	}
}

func TestSharedMapStageRunsOncePerJob(t *testing.T) {
	// source -shuffle-> a, and two narrow children of a unioned: the shuffle
	// is reachable twice but must be computed once.
	c := newTestContext(t)
	reduce, dep, writes := shuffleJob(c, 3, 2)
	left := node(c, 2, "left", &NarrowDependency{Parent: reduce})
	right := node(c, 2, "right", &NarrowDependency{Parent: reduce})
	union := node(c, 4, "union", &NarrowDependency{Parent: left}, &NarrowDependency{Parent: right})
	err := c.RunJob(testCtx(t), union, nil, "count", func(ctx context.Context, tc *TaskContext) error {
		_, err := tc.ReadShuffle(dep, tc.Partition()%2)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 3 {
		t.Fatalf("map tasks ran %d times, want 3", n)
	}
}

func TestCachedNodeCutsLineage(t *testing.T) {
	c := newTestContext(t)
	reduce, dep, writes := shuffleJob(c, 2, 2)
	reduce.persisted = true
	c.Cache().Put(reduce.ID(), 0, "a")
	c.Cache().Put(reduce.ID(), 1, "b")
	child := node(c, 2, "child", &NarrowDependency{Parent: reduce})
	got := make([]string, 2)
	err := c.RunJob(testCtx(t), child, nil, "collect", func(ctx context.Context, tc *TaskContext) error {
		b, ok := c.Cache().Get(reduce.ID(), tc.Partition())
		if !ok {
			return errors.New("not cached")
		}
		got[tc.Partition()] = b.(string)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if writes.Load() != 0 || c.ShuffleWritten(dep.ID()) {
		t.Fatal("map stage ran although every partition behind it was cached")
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("got %v", got)
	}
	c.Cache().Remove(reduce.ID())
	if c.Cache().CachedPartitions(reduce.ID()) != 0 {
		t.Fatal("Remove left blocks")
	}
	reduceSums(t, c, reduce, dep)
	if writes.Load() != 2 {
		t.Fatalf("after uncaching, map tasks ran %d times, want 2", writes.Load())
	}
}

func TestPartialPartitions(t *testing.T) {
	c := newTestContext(t)
	n := node(c, 5, "source")
	var ran []int
	var mu sync.Mutex
	err := c.RunJob(testCtx(t), n, []int{1, 3}, "take", func(ctx context.Context, tc *TaskContext) error {
		mu.Lock()
		ran = append(ran, tc.Partition())
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ran)
	if !slices.Equal(ran, []int{1, 3}) {
		t.Fatalf("ran partitions %v, want [1 3]", ran)
	}
}

func TestSlotsBoundConcurrency(t *testing.T) {
	c := newTestContext(t, Slots(2))
	n := node(c, 8, "source")
	var inFlight, maxInFlight atomic.Int64
	met := make(chan struct{})
	var once sync.Once
	var arrived atomic.Int64
	err := c.RunJob(testCtx(t), n, nil, "x", func(ctx context.Context, tc *TaskContext) error {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
				break
			}
		}
		// The first two tasks wait for each other: with 2 slots they must
		// be able to run at the same time.
		if arrived.Add(1) == 2 {
			once.Do(func() { close(met) })
		}
		select {
		case <-met:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := maxInFlight.Load(); m != 2 {
		t.Fatalf("max tasks in flight = %d, want 2", m)
	}
}

func TestTaskErrorFailsJobAndNamesStage(t *testing.T) {
	c := newTestContext(t, Slots(4)) // every task holds a slot until cancelled
	n := node(c, 4, "Map at x.go:1")
	boom := errors.New("boom")
	err := c.RunJob(testCtx(t), n, nil, "x", func(ctx context.Context, tc *TaskContext) error {
		if tc.Partition() == 2 {
			return boom
		}
		<-ctx.Done() // the failure must cancel the other tasks
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if !strings.Contains(err.Error(), "Map at x.go:1") || !strings.Contains(err.Error(), "partition 2") {
		t.Fatalf("error %q does not name the stage and partition", err)
	}
}

func TestPanicFailsOnlyItsJob(t *testing.T) {
	c := newTestContext(t, Slots(2))
	n := node(c, 3, "source")
	other := make(chan error, 1)
	go func() {
		other <- c.RunJob(testCtx(t), node(c, 2, "other"), nil, "other", func(context.Context, *TaskContext) error { return nil })
	}()
	err := c.RunJob(testCtx(t), n, nil, "x", func(ctx context.Context, tc *TaskContext) error {
		if tc.Partition() == 1 {
			var m map[string]int
			m["x"]++ // a real runtime panic
		}
		return nil
	})
	var pe *TaskPanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *TaskPanicError", err)
	}
	if pe.Partition != 1 || !strings.Contains(fmt.Sprint(pe.Value), "nil map") || !strings.Contains(string(pe.Stack), "engine_test.go") {
		t.Fatalf("panic error lacks partition, value or stack: %+v", pe)
	}
	if err := <-other; err != nil {
		t.Fatalf("concurrent job failed: %v", err)
	}
	// The context still works.
	if err := c.RunJob(testCtx(t), n, nil, "after", func(context.Context, *TaskContext) error { return nil }); err != nil {
		t.Fatalf("job after panic: %v", err)
	}
}

func TestCancellationStopsTasks(t *testing.T) {
	c := newTestContext(t, Slots(2))
	n := node(c, 6, "slow")
	ctx, cancel := context.WithCancel(testCtx(t))
	started := make(chan struct{}, 6)
	var finished atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- c.RunJob(ctx, n, nil, "x", func(ctx context.Context, tc *TaskContext) error {
			started <- struct{}{}
			<-ctx.Done()
			finished.Add(1)
			return ctx.Err()
		})
	}()
	<-started
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunJob did not return after cancellation")
	}
	if f := finished.Load(); f != 2 {
		t.Fatalf("%d tasks ran, want only the 2 that had slots", f)
	}
}

func TestCloseCancelsJobsAndRefusesNewOnes(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	n := node(c, 1, "x")
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.RunJob(testCtx(t), n, nil, "x", func(ctx context.Context, tc *TaskContext) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	<-started
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("running job returned %v, want ErrClosed", err)
	}
	if err := c.RunJob(testCtx(t), n, nil, "x", func(context.Context, *TaskContext) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("job after Close returned %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestBadInput(t *testing.T) {
	c := newTestContext(t)
	n := node(c, 2, "x")
	ok := func(context.Context, *TaskContext) error { return nil }
	write := func(context.Context, *TaskContext) ([]Block, error) { return nil, nil }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Slots(0)", func() error { _, err := New(Slots(0)); return err }(), "Slots must be at least 1, got 0"},
		{"EventQueueCapacity(-1)", func() error { _, err := New(EventQueueCapacity(-1)); return err }(), "EventQueueCapacity"},
		{"nil clock", func() error { _, err := New(WithClock(nil)); return err }(), "non-nil clock"},
		{"nil node", c.RunJob(testCtx(t), nil, nil, "x", ok), "needs a final node"},
		{"nil task", c.RunJob(testCtx(t), n, nil, "x", nil), "needs a task function"},
		{"partition out of range", c.RunJob(testCtx(t), n, []int{2}, "x", ok), "partition 2 out of range"},
		{"shuffle without parent", func() error { _, err := c.NewShuffleDependency(nil, 1, write); return err }(), "needs a parent"},
		{"shuffle with 0 buckets", func() error { _, err := c.NewShuffleDependency(n, 0, write); return err }(), "at least 1 bucket, got 0"},
		{"shuffle without write", func() error { _, err := c.NewShuffleDependency(n, 1, nil); return err }(), "write function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", tt.err, tt.want)
			}
		})
	}
}

func TestWrongBlockCountFailsJob(t *testing.T) {
	c := newTestContext(t)
	src := node(c, 1, "source")
	dep, err := c.NewShuffleDependency(src, 3, func(context.Context, *TaskContext) ([]Block, error) { return make([]Block, 2), nil })
	if err != nil {
		t.Fatal(err)
	}
	err = c.RunJob(testCtx(t), node(c, 3, "reduce", dep), nil, "x", func(context.Context, *TaskContext) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "returned 2 blocks, want 3") {
		t.Fatalf("err = %v", err)
	}
}

func TestPrepareRunsBeforeMapStage(t *testing.T) {
	c := newTestContext(t)
	src := node(c, 2, "source")
	var prepared atomic.Bool
	dep, _ := c.NewShuffleDependency(src, 1, func(context.Context, *TaskContext) ([]Block, error) {
		if !prepared.Load() {
			return nil, errors.New("map task ran before Prepare")
		}
		return []Block{nil}, nil
	})
	dep.Prepare = func(ctx context.Context) error {
		// Prepare may run a job of its own.
		err := c.RunJob(ctx, node(c, 1, "sample"), nil, "sample", func(context.Context, *TaskContext) error { return nil })
		prepared.Store(err == nil)
		return err
	}
	if err := c.RunJob(testCtx(t), node(c, 1, "reduce", dep), nil, "x", func(context.Context, *TaskContext) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestEventsOfOneJob(t *testing.T) {
	c := newTestContext(t)
	rec := record(t, c)
	reduce, dep, _ := shuffleJob(c, 2, 2)
	reduceSums(t, c, reduce, dep)
	var kinds []string
	var tasksEnded int
	var jobEnded metrics.JobEnded
	for _, e := range rec.flush(t, c) {
		switch e := e.(type) {
		case metrics.JobStarted:
			kinds = append(kinds, "job+")
			if len(e.StageIDs) != 2 || e.Description != "sum" {
				t.Fatalf("JobStarted = %+v", e)
			}
		case metrics.JobEnded:
			kinds = append(kinds, "job-")
			jobEnded = e
		case metrics.StageSubmitted:
			kinds = append(kinds, "stage+"+e.Name)
		case metrics.StageCompleted:
			kinds = append(kinds, "stage-"+e.Name)
		case metrics.TaskEnded:
			tasksEnded++
		}
	}
	want := []string{"job+", "stage+source", "stage-source", "stage+reduce", "stage-reduce", "job-"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if tasksEnded != 4 || jobEnded.Err != nil {
		t.Fatalf("tasks ended %d (want 4), job err %v", tasksEnded, jobEnded.Err)
	}
}
