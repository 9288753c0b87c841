package dstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// Tests of the output operations (output.go), of how batches and their
// failures are run and reported, and of the errors for bad arguments.

// syncBuffer is a bytes.Buffer safe for a writer and a reader in
// different goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// header is Spark's Print header for the batch at ms.
func header(ms int64) string {
	return fmt.Sprintf("-------------------------------------------\nTime: %d ms\n-------------------------------------------\n", ms)
}

func TestPrint(t *testing.T) {
	in := [][]string{{"a", "b", "c"}, {}, {"d"}}
	tests := []struct {
		n    int
		want string
	}{
		{1, header(1000) + "a\n...\n\n" + header(2000) + "\n" + header(3000) + "d\n\n"},
		{2, header(1000) + "a\nb\n...\n\n" + header(2000) + "\n" + header(3000) + "d\n\n"},
		{3, header(1000) + "a\nb\nc\n\n" + header(2000) + "\n" + header(3000) + "d\n\n"},
		{10, header(1000) + "a\nb\nc\n\n" + header(2000) + "\n" + header(3000) + "d\n\n"},
	}
	for _, parts := range partitionCounts {
		bufs := make([]*syncBuffer, len(tests))
		mustRun(t, in, func(s *dstream.DStream[string]) *dstream.DStream[string] {
			for i, tt := range tests {
				bufs[i] = &syncBuffer{}
				if err := s.Fprint(bufs[i], tt.n); err != nil {
					t.Fatalf("Fprint(%d): %v", tt.n, err)
				}
			}
			return s
		}, 3, dstreamtest.Partitions(parts))
		for i, tt := range tests {
			if got := bufs[i].String(); got != tt.want {
				t.Errorf("partitions=%d, Fprint(w, %d) wrote\n%s\nwant\n%s", parts, tt.n, got, tt.want)
			}
		}
	}
}

func TestPrintPairsAndInterval(t *testing.T) {
	var buf syncBuffer
	mustRun(t, pairs[:1], func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
		counts := dstream.ReduceByKey(s, func(a, b int) int { return a + b })
		sorted := dstream.Transform(counts, func(r *rdd.RDD[kv], _ time.Time) *rdd.RDD[kv] { return rdd.SortByKey(r, true) })
		if err := sorted.Fprint(&buf, 10); err != nil {
			t.Fatal(err)
		}
		return s
	}, 2, dstreamtest.Interval(1500*time.Millisecond))
	// Pairs print as Spark prints tuples; times are in milliseconds.
	want := header(1500) + "(a,9)\n(b,2)\n(c,4)\n\n" + header(3000) + "\n"
	if got := buf.String(); got != want {
		t.Errorf("Fprint wrote\n%s\nwant\n%s", got, want)
	}
}

func TestForeachRDDBatchTimes(t *testing.T) {
	const interval = 250 * time.Millisecond
	var mu sync.Mutex
	var times []int64
	var sizes []int
	out := mustRun(t, ints, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		if err := s.ForeachRDD(func(ctx context.Context, r *rdd.RDD[int], bt time.Time) error {
			n, err := r.Count(ctx)
			mu.Lock()
			defer mu.Unlock()
			times = append(times, bt.UnixMilli())
			sizes = append(sizes, n)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return s
	}, 5, dstreamtest.Interval(interval))
	dstreamtest.Equal(t, out, [][]int{{1, 2, 3, 4}, {}, {5, 6, 7}, {}, {}})
	mu.Lock()
	defer mu.Unlock()
	if want := []int64{250, 500, 750, 1000, 1250}; !slices.Equal(times, want) {
		t.Errorf("ForeachRDD saw batch times %v ms, want %v", times, want)
	}
	if want := []int{4, 0, 3, 0, 0}; !slices.Equal(sizes, want) {
		t.Errorf("ForeachRDD saw batch sizes %v, want %v", sizes, want)
	}
}

func TestBatchDirName(t *testing.T) {
	at := time.UnixMilli(1500)
	tests := []struct{ prefix, suffix, want string }{
		{"out", "txt", "out-1500.txt"},
		{"out", "", "out-1500"},
		{"/data/run.1/x", "csv", "/data/run.1/x-1500.csv"},
	}
	for _, tt := range tests {
		if got := dstream.BatchDirName(tt.prefix, tt.suffix, at); got != tt.want {
			t.Errorf("BatchDirName(%q, %q, 1500 ms) = %q, want %q", tt.prefix, tt.suffix, got, tt.want)
		}
	}
}

// readBatchDir returns the names in dir and the concatenated contents of
// its part files, in name order.
func readBatchDir(t *testing.T, dir string) (names []string, data string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.HasPrefix(e.Name(), "part-") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			sb.Write(b)
		}
	}
	return names, sb.String()
}

func TestSaveAsTextFiles(t *testing.T) {
	for _, suffix := range []string{"txt", ""} {
		t.Run("suffix="+suffix, func(t *testing.T) {
			root := t.TempDir()
			prefix := filepath.Join(root, "sub", "out") // the parent does not exist yet
			mustRun(t, [][]string{{"a", "b", "c"}, {}}, func(s *dstream.DStream[string]) *dstream.DStream[string] {
				if err := s.SaveAsTextFiles(prefix, suffix); err != nil {
					t.Fatal(err)
				}
				return s
			}, 3, dstreamtest.Partitions(2))
			// Batch 2 is empty with two (empty) partitions; batch 3, beyond
			// the input, has no partitions: only the _SUCCESS marker.
			wantData := []string{"a\nb\nc\n", "", ""}
			wantNames := [][]string{{"_SUCCESS", "part-00000", "part-00001"}, {"_SUCCESS", "part-00000", "part-00001"}, {"_SUCCESS"}}
			var wantDirs []string
			for k := 1; k <= 3; k++ {
				dir := dstream.BatchDirName(prefix, suffix, epoch.Add(time.Duration(k)*time.Second))
				wantDirs = append(wantDirs, filepath.Base(dir))
				names, data := readBatchDir(t, dir)
				if want := wantNames[k-1]; !slices.Equal(names, want) {
					t.Errorf("batch %d: %s holds %v, want %v", k, dir, names, want)
				}
				if data != wantData[k-1] {
					t.Errorf("batch %d: part files hold %q, want %q", k, data, wantData[k-1])
				}
			}
			if wantDirs[0] != "out-1000"+map[bool]string{true: ".txt"}[suffix != ""] {
				t.Errorf("batch 1 directory %q is not named prefix-<ms>[.suffix]", wantDirs[0])
			}
			// Nothing else (no temporary directory) is left next to them.
			entries, err := os.ReadDir(filepath.Dir(prefix))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, wantDirs) {
				t.Errorf("output directory holds %v, want %v", got, wantDirs)
			}
		})
	}
}

func TestSaveAsTextFilesSkipsExistingBatch(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "out")
	// Batch 2 "ran before": its directory exists with other content.
	done := dstream.BatchDirName(prefix, "txt", epoch.Add(2*time.Second))
	if err := os.Mkdir(done, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(done, "marker"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, [][]string{{"x"}, {"y"}, {"z"}}, func(s *dstream.DStream[string]) *dstream.DStream[string] {
		if err := s.SaveAsTextFiles(prefix, "txt"); err != nil {
			t.Fatal(err)
		}
		return s
	}, 3, dstreamtest.Partitions(1))
	names, _ := readBatchDir(t, done)
	if !slices.Equal(names, []string{"marker"}) {
		t.Errorf("the existing batch directory now holds %v, want only [marker]", names)
	}
	if b, err := os.ReadFile(filepath.Join(done, "marker")); err != nil || string(b) != "old" {
		t.Errorf("marker = %q, %v; want it untouched (\"old\")", b, err)
	}
	for k, want := range map[int]string{1: "x\n", 3: "z\n"} {
		names, data := readBatchDir(t, dstream.BatchDirName(prefix, "txt", epoch.Add(time.Duration(k)*time.Second)))
		if !slices.Equal(names, []string{"_SUCCESS", "part-00000"}) || data != want {
			t.Errorf("batch %d: files %v holding %q, want [_SUCCESS part-00000] holding %q", k, names, data, want)
		}
	}
}

// --- Failures ---------------------------------------------------------

func TestForeachRDDErrorStopsContext(t *testing.T) {
	errBoom := errors.New("boom")
	r := newRig(t, time.Second)
	src := rigQueue(r, 2, []int{1}, []int{2}, []int{3})
	var mu sync.Mutex
	var ran []int64
	if err := src.ForeachRDD(func(_ context.Context, _ *rdd.RDD[int], bt time.Time) error {
		mu.Lock()
		ran = append(ran, bt.UnixMilli())
		mu.Unlock()
		if bt.Equal(r.batchTime(2)) {
			return fmt.Errorf("writing batch: %w", errBoom)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r.start()
	if info := r.step(1); info.Err() != nil {
		t.Fatalf("batch 1 failed: %v", info.Err())
	}
	r.advance()
	if err := r.awaitTermination(); !errors.Is(err, errBoom) {
		t.Fatalf("AwaitTermination = %v, want the output operation's error", err)
	}
	if got := r.ssc.State(); got != dstream.Stopped {
		t.Errorf("State() = %v, want stopped", got)
	}
	info := r.waitBatch(2)
	if !errors.Is(info.Err(), errBoom) {
		t.Errorf("BatchCompleted for batch 2: Info.Err() = %v, want the output operation's error", info.Err())
	}
	if len(info.OutputOperations) != 1 || !errors.Is(info.OutputOperations[0].Err, errBoom) {
		t.Errorf("batch 2 output operations = %+v, want one carrying the error", info.OutputOperations)
	}
	stopped := r.rec.waitFor(t, "StreamingStopped", func(e metrics.Event) bool { _, ok := e.(metrics.StreamingStopped); return ok })
	if err := stopped.(metrics.StreamingStopped).Err; !errors.Is(err, errBoom) {
		t.Errorf("StreamingStopped.Err = %v, want the output operation's error", err)
	}
	// The context is stopped: more time runs no more batches.
	r.clk.Advance(r.interval)
	r.flush()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(ran, []int64{1000, 2000}) {
		t.Errorf("the output operation ran for batches %v ms, want [1000 2000]", ran)
	}
}

func TestForeachRDDPanicStopsContext(t *testing.T) {
	errInner := errors.New("inner")
	for _, tt := range []struct {
		name  string
		value any
	}{
		{"string", "foreach boom"},
		{"error", fmt.Errorf("wrapped: %w", errInner)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, time.Second)
			if err := rigQueue(r, 1, []int{1}).ForeachRDD(func(context.Context, *rdd.RDD[int], time.Time) error {
				panic(tt.value)
			}); err != nil {
				t.Fatal(err)
			}
			r.start()
			r.advance()
			err := r.awaitTermination()
			var pe *dstream.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("AwaitTermination = %v, want a *dstream.PanicError", err)
			}
			if pe.Value != tt.value {
				t.Errorf("PanicError.Value = %#v, want %#v", pe.Value, tt.value)
			}
			if !strings.Contains(pe.Where, "ForeachRDD at output_test.go:") {
				t.Errorf("PanicError.Where = %q, want the ForeachRDD and its call site", pe.Where)
			}
			if !strings.Contains(string(pe.Stack), "output_test.go") {
				t.Errorf("PanicError.Stack does not show the panicking function:\n%s", pe.Stack)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tt.value)) {
				t.Errorf("error %q does not show the panic value", err)
			}
			if errors.Is(err, errInner) != (tt.name == "error") {
				t.Errorf("errors.Is(err, inner) = %v; a panic with an error value must unwrap to it", errors.Is(err, errInner))
			}
			if got := r.ssc.State(); got != dstream.Stopped {
				t.Errorf("State() = %v, want stopped", got)
			}
			var pe2 *dstream.PanicError
			if info := r.waitBatch(1); !errors.As(info.Err(), &pe2) {
				t.Errorf("BatchCompleted Info.Err() = %v, want the *dstream.PanicError", info.Err())
			}
		})
	}
}

func TestTaskPanicFailsBatch(t *testing.T) {
	_, err := dstreamtest.Run(limitCtx(t), [][]int{{1, 2}, {3, 4}}, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		return dstream.Map(s, func(x int) int {
			if x == 3 {
				panic("map boom")
			}
			return x
		})
	}, 3)
	var tpe *engine.TaskPanicError
	if !errors.As(err, &tpe) {
		t.Fatalf("Run = %v, want an *engine.TaskPanicError", err)
	}
	if tpe.Value != "map boom" {
		t.Errorf("TaskPanicError.Value = %#v, want %q", tpe.Value, "map boom")
	}
	if !strings.Contains(err.Error(), "batch 2") {
		t.Errorf("error %q does not name batch 2", err)
	}
}

// --- Batch reports and scheduling -------------------------------------

func TestBatchInfo(t *testing.T) {
	r := newRig(t, time.Second)
	src := rigQueue(r, 2, []int{1, 2, 3})
	if err := src.ForeachRDD(func(ctx context.Context, x *rdd.RDD[int], _ time.Time) error {
		_, err := x.Count(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := src.Fprint(io.Discard, 2); err != nil {
		t.Fatal(err)
	}
	r.start()
	info := r.step(1)
	r.flush()

	if !info.BatchTime.Equal(r.batchTime(1)) {
		t.Errorf("BatchTime = %v, want %v", info.BatchTime, r.batchTime(1))
	}
	if info.SubmissionTime.IsZero() || info.ProcessingStart.IsZero() || info.ProcessingEnd.IsZero() {
		t.Fatalf("times not all set: submitted %v, started %v, ended %v", info.SubmissionTime, info.ProcessingStart, info.ProcessingEnd)
	}
	if info.ProcessingStart.Before(info.SubmissionTime) || info.ProcessingEnd.Before(info.ProcessingStart) {
		t.Errorf("times out of order: submitted %v, started %v, ended %v", info.SubmissionTime, info.ProcessingStart, info.ProcessingEnd)
	}
	if info.SubmissionTime.Before(info.BatchTime) {
		t.Errorf("submitted at %v, before the batch time %v", info.SubmissionTime, info.BatchTime)
	}
	if info.Err() != nil {
		t.Errorf("Err() = %v", info.Err())
	}
	wantOps := []struct{ name, desc string }{
		{"ForeachRDD", "ForeachRDD at output_test.go:"},
		{"Print", "Print at output_test.go:"},
	}
	if len(info.OutputOperations) != len(wantOps) {
		t.Fatalf("OutputOperations = %+v, want %d", info.OutputOperations, len(wantOps))
	}
	for i, o := range info.OutputOperations {
		if o.ID != i || o.Name != wantOps[i].name || !strings.HasPrefix(o.Description, wantOps[i].desc) {
			t.Errorf("OutputOperations[%d] = ID %d, Name %q, Description %q; want ID %d, Name %q, Description %q…",
				i, o.ID, o.Name, o.Description, i, wantOps[i].name, wantOps[i].desc)
		}
		if o.Start.IsZero() || o.End.IsZero() || o.End.Before(o.Start) || o.Err != nil {
			t.Errorf("OutputOperations[%d] = %+v, want start ≤ end set and no error", i, o)
		}
	}
	// The batch's other events came with it, in order.
	var kinds []string
	for _, e := range r.rec.snapshot() {
		switch e := e.(type) {
		case metrics.BatchSubmitted:
			kinds = append(kinds, "submitted")
			if len(e.Info.OutputOperations) != 2 {
				t.Errorf("BatchSubmitted lists %d output operations, want 2", len(e.Info.OutputOperations))
			}
		case metrics.BatchStarted:
			kinds = append(kinds, "started")
		case metrics.OutputOperationStarted:
			kinds = append(kinds, fmt.Sprint("op", e.Info.ID, "-started"))
		case metrics.OutputOperationCompleted:
			kinds = append(kinds, fmt.Sprint("op", e.Info.ID, "-completed"))
		case metrics.BatchCompleted:
			kinds = append(kinds, "completed")
		}
	}
	want := []string{"submitted", "started", "op0-started", "op0-completed", "op1-started", "op1-completed", "completed"}
	if !slices.Equal(kinds, want) {
		t.Errorf("batch events %v, want %v", kinds, want)
	}
}

// batchEvents returns the batch times (in ms) of the events of type E
// recorded so far, in order.
func batchEvents[E metrics.Event](r *rig, info func(E) metrics.BatchInfo) []int64 {
	var out []int64
	for _, e := range r.rec.snapshot() {
		if x, ok := e.(E); ok {
			out = append(out, info(x).BatchTime.UnixMilli())
		}
	}
	return out
}

func TestOneJobAtATimeRunsBatchesInOrder(t *testing.T) {
	r := newRig(t, time.Second, dstream.ConcurrentJobs(1))
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var ran []int64
	if err := rigQueue[int](r, 1).ForeachRDD(func(ctx context.Context, _ *rdd.RDD[int], bt time.Time) error {
		mu.Lock()
		ran = append(ran, bt.UnixMilli())
		mu.Unlock()
		if bt.Equal(r.batchTime(1)) {
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r.start()
	r.advance()
	select {
	case <-entered:
	case <-time.After(waitLimit):
		t.Fatal("batch 1 did not start")
	}
	// Two more intervals pass while batch 1 blocks: batches 2 and 3 are
	// generated but must wait.
	for k := 2; k <= 3; k++ {
		r.advance()
		r.rec.waitFor(t, fmt.Sprintf("BatchSubmitted for batch %d", k), func(e metrics.Event) bool {
			b, ok := e.(metrics.BatchSubmitted)
			return ok && b.Info.BatchTime.Equal(r.batchTime(k))
		})
	}
	r.flush()
	started := func(e metrics.BatchStarted) metrics.BatchInfo { return e.Info }
	completed := func(e metrics.BatchCompleted) metrics.BatchInfo { return e.Info }
	if got := batchEvents(r, started); !slices.Equal(got, []int64{1000}) {
		t.Fatalf("while batch 1 runs, started batches are %v ms, want only [1000]", got)
	}
	if got := batchEvents(r, completed); len(got) != 0 {
		t.Fatalf("while batch 1 runs, completed batches are %v ms, want none", got)
	}
	mu.Lock()
	if !slices.Equal(ran, []int64{1000}) {
		t.Errorf("while batch 1 runs, the output operation ran for %v ms, want only [1000]", ran)
	}
	mu.Unlock()

	close(release)
	info2 := r.waitBatch(2)
	r.waitBatch(3)
	r.flush()
	if got := batchEvents(r, started); !slices.Equal(got, []int64{1000, 2000, 3000}) {
		t.Errorf("batches started in the order %v ms, want [1000 2000 3000]", got)
	}
	if got := batchEvents(r, completed); !slices.Equal(got, []int64{1000, 2000, 3000}) {
		t.Errorf("batches completed in the order %v ms, want [1000 2000 3000]", got)
	}
	mu.Lock()
	if !slices.Equal(ran, []int64{1000, 2000, 3000}) {
		t.Errorf("the output operation ran for %v ms, want [1000 2000 3000]", ran)
	}
	mu.Unlock()
	// Batch 2 was submitted at 2 s and could only start once batch 1
	// ended, with the clock at 3 s.
	if !info2.SubmissionTime.Equal(r.batchTime(2)) || !info2.ProcessingStart.Equal(r.batchTime(3)) {
		t.Errorf("batch 2 submitted at %v and started at %v, want %v and %v", info2.SubmissionTime, info2.ProcessingStart, r.batchTime(2), r.batchTime(3))
	}
	if d := info2.SchedulingDelay(); d != time.Second {
		t.Errorf("batch 2 scheduling delay = %v, want 1s", d)
	}
}

func TestConcurrentJobsRunTogether(t *testing.T) {
	r := newRig(t, time.Second, dstream.ConcurrentJobs(2))
	src := rigQueue(r, 1, []int{1})
	arrived, proceed := make(chan int, 2), make(chan struct{})
	for id := range 2 {
		if err := src.ForeachRDD(func(ctx context.Context, _ *rdd.RDD[int], bt time.Time) error {
			if !bt.Equal(r.batchTime(1)) {
				return nil
			}
			arrived <- id
			select {
			case <-proceed:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	r.start()
	r.advance()
	timeout := time.After(waitLimit)
	var ids []int
	for len(ids) < 2 {
		select {
		case id := <-arrived:
			ids = append(ids, id)
		case <-timeout:
			t.Fatalf("only output operations %v reached the barrier; with ConcurrentJobs(2) both must run at once", ids)
		}
	}
	close(proceed)
	if info := r.waitBatch(1); info.Err() != nil {
		t.Fatalf("batch 1 failed: %v", info.Err())
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []int{0, 1}) {
		t.Errorf("barrier reached by %v, want [0 1]", ids)
	}
}

// gateClock is a manual clock whose first NewTimerAt call waits until the
// test lets it go on: the test can move time in between, as a preemption
// would.
type gateClock struct {
	*clock.Manual
	once    sync.Once
	arming  chan struct{} // closed when the first NewTimerAt call starts
	proceed chan struct{} // closed by the test to let it arm the timer
}

func (c *gateClock) NewTimerAt(at time.Time) clock.Timer {
	c.once.Do(func() {
		close(c.arming)
		<-c.proceed
	})
	return c.Manual.NewTimerAt(at)
}

// TestBatchOnTimeWhenClockMovesWhileArming checks that a batch runs at its
// time even when the clock moves between the job generator reading the
// time and arming its timer (for the manual clock: a test advancing right
// after Start; for the system clock: a preemption there). Without care the
// timer counts its delay from the new time and the batch comes an
// interval late.
func TestBatchOnTimeWhenClockMovesWhileArming(t *testing.T) {
	manual := clock.NewManual(epoch)
	gate := &gateClock{Manual: manual, arming: make(chan struct{}), proceed: make(chan struct{})}
	ec, err := engine.New(engine.WithClock(manual))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	ssc, err := dstream.NewStreamingContext(ec, time.Second, dstream.WithClock(gate))
	if err != nil {
		t.Fatal(err)
	}
	defer ssc.Stop(context.Background(), false)
	rec := newRecorder()
	defer ssc.AddListener(rec)()
	src := dstream.QueueStream(ssc, dstream.NewQueue[int](), true, nil)
	if err := src.ForeachRDD(func(context.Context, *rdd.RDD[int], time.Time) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := ssc.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gate.arming:
	case <-time.After(waitLimit):
		t.Fatal("the job generator armed no timer")
	}
	manual.Advance(time.Second) // batch 1's time comes while the timer is being armed
	close(gate.proceed)
	// Let one more interval pass once a timer is armed: by then batch 1
	// must have been submitted at its time, 1 s, not at 2 s.
	if err := manual.BlockUntil(limitCtx(t), 1); err != nil {
		t.Fatal("the job generator armed no timer")
	}
	manual.Advance(time.Second)
	e := rec.waitFor(t, "BatchSubmitted for batch 1", func(e metrics.Event) bool {
		b, ok := e.(metrics.BatchSubmitted)
		return ok && b.Info.BatchTime.Equal(epoch.Add(time.Second))
	})
	if got := e.(metrics.BatchSubmitted).Info.SubmissionTime; !got.Equal(epoch.Add(time.Second)) {
		t.Errorf("batch 1 (1000 ms) was submitted at %d ms, want 1000 ms", got.UnixMilli())
	}
}

// --- Bad arguments ------------------------------------------------------

// built is a stream under test, without its element type.
type built struct {
	err      error
	register func() error // registers a ForeachRDD on the stream
}

func asBuilt[T any](s *dstream.DStream[T]) built {
	return built{err: s.Err(), register: func() error {
		return s.ForeachRDD(func(context.Context, *rdd.RDD[T], time.Time) error { return nil })
	}}
}

func TestNilFunctions(t *testing.T) {
	add := func(a, b int) int { return a + b }
	tests := []struct {
		op, arg string
		build   func(a, b *dstream.DStream[kv]) built
	}{
		{"Map", "f", func(a, _ *dstream.DStream[kv]) built { return asBuilt(dstream.Map[kv, int](a, nil)) }},
		{"FlatMap", "f", func(a, _ *dstream.DStream[kv]) built { return asBuilt(dstream.FlatMap[kv, int](a, nil)) }},
		{"Filter", "keep", func(a, _ *dstream.DStream[kv]) built { return asBuilt(a.Filter(nil)) }},
		{"MapPartitions", "f", func(a, _ *dstream.DStream[kv]) built { return asBuilt(dstream.MapPartitions[kv, int](a, nil)) }},
		{"Reduce", "f", func(a, _ *dstream.DStream[kv]) built { return asBuilt(a.Reduce(nil)) }},
		{"ReduceByKey", "f", func(a, _ *dstream.DStream[kv]) built { return asBuilt(dstream.ReduceByKey(a, nil)) }},
		{"CombineByKey", "createCombiner", func(a, _ *dstream.DStream[kv]) built {
			return asBuilt(dstream.CombineByKey[string, int, int](a, nil, add, add))
		}},
		{"CombineByKey", "mergeValue", func(a, _ *dstream.DStream[kv]) built {
			return asBuilt(dstream.CombineByKey(a, func(v int) int { return v }, nil, add))
		}},
		{"CombineByKey", "mergeCombiners", func(a, _ *dstream.DStream[kv]) built {
			return asBuilt(dstream.CombineByKey(a, func(v int) int { return v }, add, nil))
		}},
		{"MapValues", "f", func(a, _ *dstream.DStream[kv]) built { return asBuilt(dstream.MapValues[string, int, int](a, nil)) }},
		{"FlatMapValues", "f", func(a, _ *dstream.DStream[kv]) built {
			return asBuilt(dstream.FlatMapValues[string, int, int](a, nil))
		}},
		{"Transform", "f", func(a, _ *dstream.DStream[kv]) built { return asBuilt(dstream.Transform[kv, int](a, nil)) }},
		{"TransformWith", "f", func(a, b *dstream.DStream[kv]) built {
			return asBuilt(dstream.TransformWith[kv, kv, int](a, b, nil))
		}},
		// A stream derived from a bad one carries its error.
		{"Filter", "keep", func(a, _ *dstream.DStream[kv]) built { return asBuilt(dstream.GroupByKey(a.Filter(nil)).Count()) }},
		{"Map", "f", func(a, b *dstream.DStream[kv]) built { return asBuilt(dstream.Join(dstream.Map[kv, kv](a, nil), b)) }},
	}
	for _, tt := range tests {
		t.Run(tt.op+"/"+tt.arg, func(t *testing.T) {
			r := newRig(t, time.Second)
			a, b := rigQueue[kv](r, 1), rigQueue[kv](r, 1)
			s := tt.build(a, b)
			want := fmt.Sprintf("dstream.%s: %s must not be nil", tt.op, tt.arg)
			if s.err == nil || !strings.Contains(s.err.Error(), want) {
				t.Fatalf("Err() = %v, want %q", s.err, want)
			}
			if err := s.register(); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ForeachRDD = %v, want %q", err, want)
			}
			// A good output operation elsewhere does not hide the mistake:
			// Start reports it.
			if err := asBuilt(a).register(); err != nil {
				t.Fatal(err)
			}
			if err := r.ssc.Start(); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Start = %v, want %q", err, want)
			}
		})
	}
}

func TestBadStreamArguments(t *testing.T) {
	r := newRig(t, time.Second)
	other := newRig(t, time.Second)
	a := rigQueue[int](r, 1)
	b := rigQueue[int](r, 1)
	elsewhere := rigQueue[int](other, 1)
	kvA := dstream.Map(a, func(x int) kv { return rdd.KV("k", x) })
	kvElsewhere := dstream.Map(elsewhere, func(x int) kv { return rdd.KV("k", x) })
	tests := []struct {
		name string
		s    built
		want string
	}{
		{"Repartition(0)", asBuilt(a.Repartition(0)), "dstream.Repartition: numPartitions must be at least 1, got 0"},
		{"Repartition(-2)", asBuilt(a.Repartition(-2)), "numPartitions must be at least 1, got -2"},
		{"Union()", asBuilt(dstream.Union[int]()), "dstream.Union: needs at least one stream"},
		{"Union(nil)", asBuilt(dstream.Union[int](nil)), "dstream.Union: stream 0 is nil"},
		{"Union(a, nil, b)", asBuilt(dstream.Union(a, nil, b)), "stream 1 is nil"},
		{"a.Union(nil)", asBuilt(a.Union(nil)), "stream 1 is nil"},
		{"Union across contexts", asBuilt(a.Union(elsewhere)), "different streaming contexts"},
		{"Join across contexts", asBuilt(dstream.Join(kvA, kvElsewhere)), "different streaming contexts"},
		{"TransformWith across contexts", asBuilt(dstream.TransformWith(a, elsewhere, func(x, _ *rdd.RDD[int], _ time.Time) *rdd.RDD[int] { return x })), "different streaming contexts"},
		{"QueueStream(nil queue)", asBuilt(dstream.QueueStream[int](r.ssc, nil, true, nil)), "dstream.QueueStream: queue must not be nil"},
		{"QueueStream(nil context)", asBuilt(dstream.QueueStream(nil, dstream.NewQueue[int](), true, nil)), "dstream.QueueStream: nil streaming context"},
		{"ConstantInputStream(nil)", asBuilt(dstream.ConstantInputStream[int](r.ssc, nil)), "dstream.ConstantInputStream: rdd must not be nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s.err == nil || !strings.Contains(tt.s.err.Error(), tt.want) {
				t.Errorf("Err() = %v, want %q", tt.s.err, tt.want)
			}
			if err := tt.s.register(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ForeachRDD = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestBadOutputArguments(t *testing.T) {
	r := newRig(t, time.Second)
	s := rigQueue[int](r, 1)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Print(0)", s.Print(0), "dstream.Print: n must be at least 1, got 0"},
		{"Print(-1)", s.Print(-1), "n must be at least 1, got -1"},
		{"Fprint(nil)", s.Fprint(nil, 1), "nil writer"},
		{"SaveAsTextFiles(\"\")", s.SaveAsTextFiles("", "txt"), "dstream.SaveAsTextFiles: prefix must not be empty"},
		{"ForeachRDD(nil)", s.ForeachRDD(nil), "dstream.ForeachRDD: f must not be nil"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s = %v, want %q", tt.name, tt.err, tt.want)
		}
	}
	// None of them registered anything.
	if err := r.ssc.Start(); err == nil || !strings.Contains(err.Error(), "no output operations") {
		t.Errorf("Start after only failed registrations = %v, want the no-output-operations error", err)
	}
}

func TestNewStreamingContextErrors(t *testing.T) {
	ec, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	tests := []struct {
		name     string
		ec       *engine.Context
		interval time.Duration
		opts     []dstream.Option
		want     string
	}{
		{"nil engine", nil, time.Second, nil, "nil engine context"},
		{"interval 0", ec, 0, nil, "batch interval must be positive, got 0s"},
		{"interval -1s", ec, -time.Second, nil, "batch interval must be positive, got -1s"},
		{"ConcurrentJobs(0)", ec, time.Second, []dstream.Option{dstream.ConcurrentJobs(0)}, "ConcurrentJobs must be at least 1, got 0"},
		{"BlockInterval(0)", ec, time.Second, []dstream.Option{dstream.BlockInterval(0)}, "BlockInterval must be positive, got 0s"},
		{"WithClock(nil)", ec, time.Second, []dstream.Option{dstream.WithClock(nil)}, "WithClock needs a non-nil clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ssc, err := dstream.NewStreamingContext(tt.ec, tt.interval, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewStreamingContext = %v, want %q", err, tt.want)
			}
			if ssc != nil {
				t.Errorf("NewStreamingContext returned a context with its error")
			}
		})
	}
}

func TestLifecycleErrors(t *testing.T) {
	noop := func(context.Context, *rdd.RDD[int], time.Time) error { return nil }
	double := func(x int) int { return 2 * x }

	t.Run("Start without output operations", func(t *testing.T) {
		r := newRig(t, time.Second)
		rigQueue[int](r, 1)
		err := r.ssc.Start()
		if err == nil || !strings.Contains(err.Error(), "no output operations") || !strings.Contains(err.Error(), "add one") {
			t.Errorf("Start = %v, want an error telling to add an output operation", err)
		}
	})
	t.Run("Remember", func(t *testing.T) {
		r := newRig(t, time.Second)
		for _, d := range []time.Duration{0, -time.Second} {
			if err := r.ssc.Remember(d); err == nil || !strings.Contains(err.Error(), "dstream.Remember: duration must be positive") {
				t.Errorf("Remember(%v) = %v, want an error naming the duration", d, err)
			}
		}
	})
	t.Run("after Start", func(t *testing.T) {
		r := newRig(t, time.Second)
		s := rigQueue[int](r, 1)
		if err := s.ForeachRDD(noop); err != nil {
			t.Fatal(err)
		}
		r.start()
		if err := r.ssc.Start(); !errors.Is(err, dstream.ErrStarted) {
			t.Errorf("second Start = %v, want ErrStarted", err)
		}
		if err := dstream.Map(s, double).Err(); !errors.Is(err, dstream.ErrStarted) || !strings.Contains(err.Error(), "dstream.Map") {
			t.Errorf("Map after Start: Err() = %v, want ErrStarted naming Map", err)
		}
		if err := rigQueue[int](r, 1).Err(); !errors.Is(err, dstream.ErrStarted) {
			t.Errorf("QueueStream after Start: Err() = %v, want ErrStarted", err)
		}
		if err := s.ForeachRDD(noop); !errors.Is(err, dstream.ErrStarted) {
			t.Errorf("ForeachRDD after Start = %v, want ErrStarted", err)
		}
		if err := s.Print(1); !errors.Is(err, dstream.ErrStarted) {
			t.Errorf("Print after Start = %v, want ErrStarted", err)
		}
		if err := r.ssc.Remember(time.Minute); !errors.Is(err, dstream.ErrStarted) {
			t.Errorf("Remember after Start = %v, want ErrStarted", err)
		}
		if got := r.ssc.State(); got != dstream.Active {
			t.Errorf("State() = %v after the rejected calls, want active", got)
		}
	})
	t.Run("after Stop", func(t *testing.T) {
		for _, started := range []bool{false, true} {
			r := newRig(t, time.Second)
			s := rigQueue[int](r, 1)
			if err := s.ForeachRDD(noop); err != nil {
				t.Fatal(err)
			}
			if started {
				r.start()
			}
			if err := r.ssc.Stop(limitCtx(t), false); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if err := r.ssc.Start(); !errors.Is(err, dstream.ErrStopped) {
				t.Errorf("started=%v: Start after Stop = %v, want ErrStopped", started, err)
			}
			if err := dstream.Map(s, double).Err(); !errors.Is(err, dstream.ErrStopped) {
				t.Errorf("started=%v: Map after Stop: Err() = %v, want ErrStopped", started, err)
			}
			if err := s.ForeachRDD(noop); !errors.Is(err, dstream.ErrStopped) {
				t.Errorf("started=%v: ForeachRDD after Stop = %v, want ErrStopped", started, err)
			}
			if err := r.ssc.Remember(time.Minute); !errors.Is(err, dstream.ErrStopped) {
				t.Errorf("started=%v: Remember after Stop = %v, want ErrStopped", started, err)
			}
		}
	})
}
