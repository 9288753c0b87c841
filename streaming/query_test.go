package streaming_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/streaming"
)

var eventSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user", Type: arrow.BinaryTypes.String},
	{Name: "amount", Type: arrow.PrimitiveTypes.Int64},
}, nil)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newEngine(t *testing.T, c clock.Clock) *engine.Context {
	t.Helper()
	opts := []engine.Option{engine.Slots(2)}
	if c != nil {
		opts = append(opts, engine.WithClock(c))
	}
	ec, err := engine.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ec.Close() })
	return ec
}

func events(t *testing.T, alloc memory.Allocator, users []string, amounts []int64) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(alloc, eventSchema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(users, nil)
	b.Field(1).(*array.Int64Builder).AppendValues(amounts, nil)
	return b.NewRecordBatch()
}

// bigSpenders is SELECT user, amount * 2 AS double FROM stream WHERE amount > 10.
func bigSpenders(t *testing.T, src streaming.Source) plan.Node {
	t.Helper()
	scan, err := plan.NewScan(streaming.NewSourceNode(src), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := plan.NewFilter(scan, expr.Gt(expr.Col("amount"), expr.Lit(int64(10))))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.NewProject(f, []expr.Expr{expr.Col("user"), expr.As(expr.Mul(expr.Col("amount"), expr.Lit(int64(2))), "double")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rows reads (user, double) rows out of a sink.
func rows(t *testing.T, s *streaming.MemorySink) []string {
	t.Helper()
	var out []string
	for _, b := range s.Rows() {
		u := b.Column(0).(*array.String)
		d := b.Column(1).(*array.Int64)
		for i := range int(b.NumRows()) {
			out = append(out, u.Value(i)+"="+itoa(d.Value(i)))
		}
		b.Release()
	}
	slices.Sort(out)
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestMemoryStreamQueryAppendsEachBatchOnce(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ec := newEngine(t, clock.NewManual(time.Unix(0, 0)))
	in := streaming.NewMemoryStream(eventSchema, "events")
	defer in.Close()
	sink := streaming.NewMemorySink()
	defer sink.Clear()
	q, err := streaming.Start(testCtx(t), ec, bigSpenders(t, in), sink,
		streaming.QueryName("big"), streaming.CheckpointLocation(t.TempDir()), streaming.WithAllocator(alloc))
	if err != nil {
		t.Fatal(err)
	}
	add := func(users []string, amounts []int64) {
		b := events(t, alloc, users, amounts)
		defer b.Release()
		if _, err := in.AddBatches(b); err != nil {
			t.Fatal(err)
		}
	}
	add([]string{"ann", "bob"}, []int64{5, 20})
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, sink); !slices.Equal(got, []string{"bob=40"}) {
		t.Fatalf("after batch 0: %v", got)
	}
	add([]string{"cid"}, []int64{11})
	add([]string{"dan"}, []int64{1})
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, sink); !slices.Equal(got, []string{"bob=40", "cid=22"}) {
		t.Fatalf("after batch 1: %v", got)
	}
	if ids := sink.BatchIDs(); !slices.Equal(ids, []int64{0, 1}) {
		t.Errorf("batch ids = %v", ids)
	}
	p := q.LastProgress()
	if p == nil || p.BatchID != 1 || p.NumInputRows != 2 || p.Sink.NumOutputRows != 1 || p.Name != "big" || len(p.Sources) != 1 {
		t.Errorf("last progress = %+v", p)
	}
	if err := q.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if q.IsActive() || q.Exception() != nil {
		t.Errorf("after Stop: active %v, exception %v", q.IsActive(), q.Exception())
	}
}

func TestQueryRestartRunsTheUncommittedBatchWithTheSameOffsets(t *testing.T) {
	ec := newEngine(t, nil)
	dir := t.TempDir()
	in := streaming.NewMemoryStream(eventSchema, "events")
	defer in.Close()
	for _, amounts := range [][]int64{{20}, {30, 40}, {50}} {
		b := events(t, memory.DefaultAllocator, make([]string, len(amounts)), amounts)
		in.AddBatches(b)
		b.Release()
	}
	// The first run fails in its sink at batch 0 after logging its
	// offsets (everything available: 3 offsets).
	failing := streaming.FuncSink(func(context.Context, int64, []arrow.RecordBatch) error { return errors.New("disk on fire") })
	q1, err := streaming.Start(testCtx(t), ec, bigSpenders(t, in), failing, streaming.CheckpointLocation(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := q1.AwaitTermination(testCtx(t)); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("first run ended with %v", err)
	}
	// More data arrives; the restart re-runs batch 0 with its 3 logged
	// offsets only, then the new data in batch 1.
	b := events(t, memory.DefaultAllocator, []string{"x"}, []int64{60})
	in.AddBatches(b)
	b.Release()
	var seen []string
	sink := streaming.FuncSink(func(_ context.Context, id int64, bs []arrow.RecordBatch) error {
		var n int64
		for _, b := range bs {
			n += b.NumRows()
		}
		seen = append(seen, itoa(id)+":"+itoa(n))
		return nil
	})
	q2, err := streaming.Start(testCtx(t), ec, bigSpenders(t, in), sink, streaming.CheckpointLocation(dir))
	if err != nil {
		t.Fatal(err)
	}
	if q2.ID() != q1.ID() || q2.RunID() == q1.RunID() {
		t.Errorf("ids: first %s/%s, restart %s/%s; want the same id and a new run id", q1.ID(), q1.RunID(), q2.ID(), q2.RunID())
	}
	if err := q2.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	q2.Stop(testCtx(t))
	if want := []string{"0:4", "1:1"}; !slices.Equal(seen, want) {
		t.Errorf("batches (id:rows) = %v, want %v", seen, want)
	}
}

func TestTriggersOnceAndAvailableNow(t *testing.T) {
	ec := newEngine(t, nil)
	in := streaming.NewMemoryStream(eventSchema, "events")
	defer in.Close()
	b := events(t, memory.DefaultAllocator, []string{"a", "b"}, []int64{11, 12})
	in.AddBatches(b)
	in.AddBatches(b)
	b.Release()
	for _, trig := range []streaming.Trigger{streaming.Once(), streaming.AvailableNow()} {
		sink := streaming.NewMemorySink()
		defer sink.Clear()
		q, err := streaming.Start(testCtx(t), ec, bigSpenders(t, in), sink, streaming.WithTrigger(trig))
		if err != nil {
			t.Fatal(err)
		}
		if err := q.AwaitTermination(testCtx(t)); err != nil {
			t.Fatalf("%v: %v", trig, err)
		}
		if got := rows(t, sink); len(got) != 4 {
			t.Errorf("%v wrote %v, want the 4 rows available at start", trig, got)
		}
	}
}

func TestRateSourceOnManualClock(t *testing.T) {
	m := clock.NewManual(time.Unix(1000, 0))
	ec := newEngine(t, m)
	src, err := streaming.NewRateSource(streaming.RateOptions{RowsPerSecond: 10, NumPartitions: 3, Clock: m})
	if err != nil {
		t.Fatal(err)
	}
	scan, _ := plan.NewScan(streaming.NewSourceNode(src), nil, nil)
	sink := streaming.NewMemorySink()
	defer sink.Clear()
	dir := t.TempDir()
	q, err := streaming.Start(testCtx(t), ec, scan, sink, streaming.CheckpointLocation(dir), streaming.WithClock(m))
	if err != nil {
		t.Fatal(err)
	}
	m.Advance(2 * time.Second) // 20 rows due
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	q.Stop(testCtx(t))
	var values []int64
	for _, b := range sink.Rows() {
		ts := b.Column(0).(*array.Timestamp)
		vs := b.Column(1).(*array.Int64)
		for i := range int(b.NumRows()) {
			v := vs.Value(i)
			values = append(values, v)
			want := time.Unix(1000, 0).Add(time.Duration(v) * 100 * time.Millisecond)
			if got := time.UnixMicro(int64(ts.Value(i))); !got.Equal(want) {
				t.Errorf("row %d: timestamp %v, want %v", v, got, want)
			}
		}
		b.Release()
	}
	slices.Sort(values)
	if len(values) != 20 || values[0] != 0 || values[19] != 19 {
		t.Fatalf("values = %v, want 0..19", values)
	}
	// A restart keeps the start time: rows continue at 20.
	src2, _ := streaming.NewRateSource(streaming.RateOptions{RowsPerSecond: 10, NumPartitions: 3, Clock: m})
	scan2, _ := plan.NewScan(streaming.NewSourceNode(src2), nil, nil)
	sink2 := streaming.NewMemorySink()
	defer sink2.Clear()
	q2, err := streaming.Start(testCtx(t), ec, scan2, sink2, streaming.CheckpointLocation(dir), streaming.WithClock(m))
	if err != nil {
		t.Fatal(err)
	}
	m.Advance(time.Second)
	if err := q2.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	q2.Stop(testCtx(t))
	var more []int64
	for _, b := range sink2.Rows() {
		vs := b.Column(1).(*array.Int64)
		for i := range int(b.NumRows()) {
			more = append(more, vs.Value(i))
		}
		b.Release()
	}
	slices.Sort(more)
	if len(more) != 10 || more[0] != 20 || more[9] != 29 {
		t.Fatalf("after the restart: values %v, want 20..29", more)
	}
}

func TestUnsupportedOperationsAreRejected(t *testing.T) {
	ec := newEngine(t, nil)
	in := streaming.NewMemoryStream(eventSchema, "events")
	scan, _ := plan.NewScan(streaming.NewSourceNode(in), nil, nil)
	agg, err := plan.NewAggregate(scan, []expr.Expr{expr.Col("user")}, []expr.Expr{expr.As(expr.Sum(expr.Col("amount")), "total")})
	if err != nil {
		t.Fatal(err)
	}
	lim, _ := plan.NewLimit(scan, 3)
	static, _ := plan.NewLocalRelation(eventSchema, nil)
	except, err := plan.NewSetOp(scan, static, plan.SetExcept, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    plan.Node
		opts []streaming.Option
		want string
	}{
		{agg, nil, "append output mode with an aggregation needs a watermark"},
		{lim, nil, "Limit on a streaming DataFrame is not supported"},
		{except, nil, "EXCEPT of a stream is not supported"},
		{scan, []streaming.Option{streaming.WithOutputMode(streaming.Complete)}, "complete output mode needs an aggregation"},
	} {
		_, err := streaming.Start(testCtx(t), ec, tc.p, streaming.NewMemorySink(), tc.opts...)
		if !errors.Is(err, streaming.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%s) = %v, want %q", tc.p, err, tc.want)
		}
	}
	if _, err := streaming.Start(testCtx(t), ec, static, streaming.NewMemorySink()); err == nil || !strings.Contains(err.Error(), "reads no streaming source") {
		t.Errorf("Start(batch plan) = %v", err)
	}
}

func TestQueryEventsAndManager(t *testing.T) {
	ec := newEngine(t, nil)
	var got []string
	remove := ec.Bus().Subscribe(metrics.ListenerFunc(func(e metrics.Event) {
		switch e.(type) {
		case metrics.QueryStarted:
			got = append(got, "started")
		case metrics.QueryProgressed:
			got = append(got, "progress")
		case metrics.QueryTerminated:
			got = append(got, "terminated")
		}
	}))
	defer remove()
	mgr := streaming.NewManager()
	in := streaming.NewMemoryStream(eventSchema, "events")
	defer in.Close()
	b := events(t, memory.DefaultAllocator, []string{"a"}, []int64{99})
	in.AddBatches(b)
	b.Release()
	q, err := streaming.Start(testCtx(t), ec, bigSpenders(t, in), streaming.NewMemorySink(), streaming.QueryName("q"), streaming.WithManager(mgr))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streaming.Start(testCtx(t), ec, bigSpenders(t, in), streaming.NewMemorySink(), streaming.QueryName("q"), streaming.WithManager(mgr)); err == nil {
		t.Error("a second active query named q was accepted")
	}
	if a := mgr.Active(); len(a) != 1 || mgr.Get(q.ID()) != q {
		t.Errorf("active = %v", a)
	}
	q.ProcessAllAvailable(testCtx(t))
	q.Stop(testCtx(t))
	if err := mgr.AwaitAnyTermination(testCtx(t)); err != nil {
		t.Errorf("AwaitAnyTermination = %v", err)
	}
	if err := ec.Bus().Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"started", "progress", "terminated"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

// totals is SELECT user, count(*) AS n, sum(amount) AS total, avg(amount)
// AS mean, max(amount) AS top FROM stream GROUP BY user.
func totals(t *testing.T, src streaming.Source) plan.Node {
	t.Helper()
	scan, err := plan.NewScan(streaming.NewSourceNode(src), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	agg, err := plan.NewAggregate(scan, []expr.Expr{expr.Col("user")}, []expr.Expr{
		expr.As(expr.Count(nil), "n"), expr.As(expr.Sum(expr.Col("amount")), "total"),
		expr.As(expr.Avg(expr.Col("amount")), "mean"), expr.As(expr.Max(expr.Col("amount")), "top"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return agg
}

// aggRows renders each batch's rows as "user:n/total/mean/top", sorted.
func aggRows(bs []arrow.RecordBatch) []string {
	var out []string
	for _, b := range bs {
		u := b.Column(0).(*array.String)
		n := b.Column(1).(*array.Int64)
		tot := b.Column(2).(*array.Int64)
		mean := b.Column(3).(*array.Float64)
		top := b.Column(4).(*array.Int64)
		for i := range int(b.NumRows()) {
			out = append(out, u.Value(i)+":"+itoa(n.Value(i))+"/"+itoa(tot.Value(i))+"/"+strconv.FormatFloat(mean.Value(i), 'g', -1, 64)+"/"+itoa(top.Value(i)))
		}
	}
	slices.Sort(out)
	return out
}

func TestStreamingAggregationCompleteUpdateAndRestart(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ec := newEngine(t, nil)
	in := streaming.NewMemoryStream(eventSchema, "events")
	defer in.Close()
	add := func(users []string, amounts []int64) {
		b := events(t, alloc, users, amounts)
		defer b.Release()
		if _, err := in.AddBatches(b); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]string
	sink := streaming.FuncSink(func(_ context.Context, _ int64, bs []arrow.RecordBatch) error {
		got = append(got, aggRows(bs))
		return nil
	})
	dir := t.TempDir()
	start := func(mode streaming.OutputMode) *streaming.Query {
		q, err := streaming.Start(testCtx(t), ec, totals(t, in), sink, streaming.WithOutputMode(mode),
			streaming.CheckpointLocation(dir), streaming.WithAllocator(alloc))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	q := start(streaming.Complete)
	add([]string{"ann", "bob", "ann"}, []int64{10, 5, 30})
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	add([]string{"bob", "cid"}, []int64{7, 1})
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	q.Stop(testCtx(t))
	want := [][]string{
		{"ann:2/40/20/30", "bob:1/5/5/5"},
		{"ann:2/40/20/30", "bob:2/12/6/7", "cid:1/1/1/1"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("complete mode batches = %v, want %v", got, want)
	}
	if p := q.LastProgress(); p == nil || len(p.StateOperators) != 1 || p.StateOperators[0].NumRowsTotal != 3 || p.StateOperators[0].NumRowsUpdated != 2 {
		t.Errorf("state progress = %+v", p)
	}

	// A restart in update mode from the same checkpoint: the state of the
	// groups is back, and only the groups a batch touches are written.
	got = nil
	q = start(streaming.Update)
	add([]string{"ann"}, []int64{2})
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	q.Stop(testCtx(t))
	if want := [][]string{{"ann:3/42/14/30"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after the restart, update mode batches = %v, want %v", got, want)
	}
}

// TestStreamingAggregationRerunDoesNotCountTwice fails a batch after its
// state was written but before it committed; the restart re-runs it from
// the previous batch's state.
func TestStreamingAggregationRerunDoesNotCountTwice(t *testing.T) {
	ec := newEngine(t, nil)
	in := streaming.NewMemoryStream(eventSchema, "events")
	defer in.Close()
	add := func(users []string, amounts []int64) {
		b := events(t, memory.DefaultAllocator, users, amounts)
		defer b.Release()
		in.AddBatches(b)
	}
	dir := t.TempDir()
	var got [][]string
	failBatch := int64(1)
	sink := streaming.FuncSink(func(_ context.Context, id int64, bs []arrow.RecordBatch) error {
		if id == failBatch {
			failBatch = -1
			return errors.New("sink down")
		}
		got = append(got, aggRows(bs))
		return nil
	})
	run := func() *streaming.Query {
		q, err := streaming.Start(testCtx(t), ec, totals(t, in), sink, streaming.WithOutputMode(streaming.Complete), streaming.CheckpointLocation(dir))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	q := run()
	add([]string{"ann"}, []int64{1})
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	add([]string{"ann"}, []int64{2})
	if err := q.AwaitTermination(testCtx(t)); err == nil || !strings.Contains(err.Error(), "sink down") {
		t.Fatalf("first run ended with %v", err)
	}
	q = run()
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	q.Stop(testCtx(t))
	if want := [][]string{{"ann:1/1/1/1"}, {"ann:2/3/1.5/2"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("batches = %v, want %v (batch 1 counted once)", got, want)
	}
}

func TestRatePerBatchSource(t *testing.T) {
	ec := newEngine(t, nil)
	src, err := streaming.NewRatePerBatchSource(streaming.RatePerBatchOptions{RowsPerBatch: 6, NumPartitions: 2,
		StartTimestamp: time.Unix(100, 0), AdvancePerBatch: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	scan, _ := plan.NewScan(streaming.NewSourceNode(src), nil, nil)
	var batches [][]string
	sink := streaming.FuncSink(func(_ context.Context, _ int64, bs []arrow.RecordBatch) error {
		var rows []string
		for _, b := range bs {
			ts := b.Column(0).(*array.Timestamp)
			vs := b.Column(1).(*array.Int64)
			for i := range int(b.NumRows()) {
				rows = append(rows, itoa(vs.Value(i))+"@"+itoa(int64(ts.Value(i))/1e6))
			}
		}
		slices.Sort(rows)
		batches = append(batches, rows)
		if len(batches) == 2 {
			return errors.New("enough")
		}
		return nil
	})
	q, err := streaming.Start(testCtx(t), ec, scan, sink)
	if err != nil {
		t.Fatal(err)
	}
	q.AwaitTermination(testCtx(t))
	want := [][]string{{"0@100", "1@100", "2@100", "3@100", "4@100", "5@100"}, {"10@110", "11@110", "6@110", "7@110", "8@110", "9@110"}}
	if !slices.EqualFunc(batches, want, slices.Equal) {
		t.Errorf("batches = %v, want %v", batches, want)
	}
	if _, err := streaming.NewRatePerBatchSource(streaming.RatePerBatchOptions{RowsPerBatch: 5, NumPartitions: 2}); err == nil {
		t.Error("rowsPerBatch not a multiple of numPartitions was accepted")
	}
}
