package streaming_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/state"
	"github.com/spate-io/spate/streaming"
)

// stateRun runs a stateful query over a memory stream fed batch by batch,
// recording each batch's output rows rendered by render.
type stateRun struct {
	t      *testing.T
	ec     *engine.Context
	in     *streaming.MemoryStream
	dir    string
	build  func(t *testing.T, src streaming.Source) plan.Node
	render func([]arrow.RecordBatch) []string
	mode   streaming.OutputMode
	got    [][]string
	q      *streaming.Query
}

func (r *stateRun) start(opts ...streaming.Option) error {
	sink := streaming.FuncSink(func(_ context.Context, _ int64, bs []arrow.RecordBatch) error {
		r.got = append(r.got, r.render(bs))
		return nil
	})
	opts = append([]streaming.Option{streaming.WithOutputMode(r.mode), streaming.CheckpointLocation(r.dir)}, opts...)
	q, err := streaming.Start(testCtx(r.t), r.ec, r.build(r.t, r.in), sink, opts...)
	r.q = q
	return err
}

func (r *stateRun) add(users []string, amounts []int64) {
	r.t.Helper()
	b := events(r.t, memory.DefaultAllocator, users, amounts)
	defer b.Release()
	if _, err := r.in.AddBatches(b); err != nil {
		r.t.Fatal(err)
	}
	if err := r.q.ProcessAllAvailable(testCtx(r.t)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *stateRun) stop() {
	r.t.Helper()
	if err := r.q.Stop(testCtx(r.t)); err != nil {
		r.t.Fatal(err)
	}
	if err := r.q.Exception(); err != nil {
		r.t.Fatal(err)
	}
}

func newStateRun(t *testing.T, build func(*testing.T, streaming.Source) plan.Node, render func([]arrow.RecordBatch) []string, mode streaming.OutputMode) *stateRun {
	in := streaming.NewMemoryStream(eventSchema, "events")
	t.Cleanup(func() { in.Close() })
	return &stateRun{t: t, ec: newEngine(t, nil), in: in, dir: t.TempDir(), build: build, render: render, mode: mode}
}

// distinctEvents is SELECT DISTINCT user, amount FROM stream.
func distinctEvents(t *testing.T, src streaming.Source) plan.Node {
	t.Helper()
	scan, err := plan.NewScan(streaming.NewSourceNode(src), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := plan.NewDeduplicate(scan, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pairRows renders (user, amount) rows, sorted.
func pairRows(bs []arrow.RecordBatch) []string {
	var out []string
	for _, b := range bs {
		u := b.Column(0).(*array.String)
		a := b.Column(1).(*array.Int64)
		for i := range int(b.NumRows()) {
			out = append(out, u.Value(i)+"="+itoa(a.Value(i)))
		}
	}
	slices.Sort(out)
	return out
}

// stateInput is the sequence of batches of the restart tests.
var stateInput = []struct {
	users   []string
	amounts []int64
}{
	{[]string{"ann", "bob", "ann", "cid"}, []int64{10, 5, 30, 1}},
	{[]string{"bob", "dan", "eve", "ann"}, []int64{7, 1, 3, 10}},
	{[]string{"fay", "ann", "gus", "bob", "hal"}, []int64{2, 2, 9, 5, 4}},
	{[]string{"cid", "ivy", "jo", "ann", "kim", "dan"}, []int64{1, 8, 6, 2, 5, 1}},
	{[]string{"eve", "lee", "bob"}, []int64{3, 3, 100}},
}

// TestStateRestartMidSequence runs the same batches through an aggregation
// and a deduplication in one run and in two runs (stopped and restarted
// from the checkpoint half way), with 1 and 3 state partitions: the output
// must be the same.
func TestStateRestartMidSequence(t *testing.T) {
	type query struct {
		name   string
		build  func(*testing.T, streaming.Source) plan.Node
		render func([]arrow.RecordBatch) []string
		mode   streaming.OutputMode
	}
	for _, qc := range []query{
		{"aggregate", totals, aggRows, streaming.Update},
		{"aggregate-complete", totals, aggRows, streaming.Complete},
		{"dedup", distinctEvents, pairRows, streaming.Append},
	} {
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d", qc.name, n), func(t *testing.T) {
				opts := []streaming.Option{streaming.NumStatePartitions(n), streaming.StateSnapshotInterval(2)}
				one := newStateRun(t, qc.build, qc.render, qc.mode)
				if err := one.start(opts...); err != nil {
					t.Fatal(err)
				}
				for _, b := range stateInput {
					one.add(b.users, b.amounts)
				}
				one.stop()

				two := newStateRun(t, qc.build, qc.render, qc.mode)
				if err := two.start(opts...); err != nil {
					t.Fatal(err)
				}
				for i, b := range stateInput {
					if i == 2 || i == 3 {
						two.stop()
						if err := two.start(opts...); err != nil {
							t.Fatal(err)
						}
					}
					two.add(b.users, b.amounts)
				}
				two.stop()
				if !slices.EqualFunc(one.got, two.got, slices.Equal) {
					t.Fatalf("with restarts:\n%v\nin one run:\n%v", two.got, one.got)
				}
				if len(one.got) != len(stateInput) {
					t.Fatalf("%d batches written, want %d", len(one.got), len(stateInput))
				}
				p := two.q.LastProgress()
				if p == nil || len(p.StateOperators) != 1 || p.StateOperators[0].MemoryUsedBytes <= 0 {
					t.Errorf("progress = %+v, want the state's memory", p)
				}
			})
		}
	}
	// The dedup writes each distinct row once.
	d := newStateRun(t, distinctEvents, pairRows, streaming.Append)
	if err := d.start(streaming.NumStatePartitions(2)); err != nil {
		t.Fatal(err)
	}
	d.add([]string{"ann", "ann", "bob"}, []int64{1, 1, 2})
	d.stop()
	if err := d.start(streaming.NumStatePartitions(2)); err != nil {
		t.Fatal(err)
	}
	d.add([]string{"ann", "bob", "cid"}, []int64{1, 3, 2})
	d.stop()
	if want := [][]string{{"ann=1", "bob=2"}, {"bob=3", "cid=2"}}; !slices.EqualFunc(d.got, want, slices.Equal) {
		t.Fatalf("dedup batches = %v, want %v", d.got, want)
	}
}

func TestStateNumPartitionsFixedAtFirstRun(t *testing.T) {
	r := newStateRun(t, totals, aggRows, streaming.Update)
	if err := r.start(streaming.NumStatePartitions(2)); err != nil {
		t.Fatal(err)
	}
	r.add([]string{"ann"}, []int64{1})
	r.stop()
	err := r.start(streaming.NumStatePartitions(3))
	var pm *state.PartitionCountMismatchError
	if !errors.As(err, &pm) || pm.Recorded != 2 || pm.Requested != 3 {
		t.Fatalf("restart with 3 partitions: %v, want a *state.PartitionCountMismatchError 2 → 3", err)
	}
	for _, want := range []string{"numStatePartitions 3", "2 state partitions", "back to 2", "new checkpoint location"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// The default (4) is another number too.
	if err := r.start(); !errors.As(err, &pm) {
		t.Fatalf("restart with the default number: %v", err)
	}
	if err := r.start(streaming.NumStatePartitions(2)); err != nil {
		t.Fatal(err)
	}
	r.add([]string{"ann"}, []int64{2})
	r.stop()
	if want := [][]string{{"ann:1/1/1/1"}, {"ann:2/3/1.5/2"}}; !slices.EqualFunc(r.got, want, slices.Equal) {
		t.Fatalf("batches = %v, want %v", r.got, want)
	}
	if err := r.start(streaming.NumStatePartitions(0)); err == nil || !strings.Contains(err.Error(), "NumStatePartitions(0)") {
		t.Fatalf("NumStatePartitions(0): %v", err)
	}
	if err := r.start(streaming.NumStatePartitions(2), streaming.StateSnapshotInterval(0)); err == nil || !strings.Contains(err.Error(), "StateSnapshotInterval(0)") {
		t.Fatalf("StateSnapshotInterval(0): %v", err)
	}
}

func TestStateFilesLayout(t *testing.T) {
	r := newStateRun(t, totals, aggRows, streaming.Update)
	if err := r.start(streaming.NumStatePartitions(2), streaming.StateSnapshotInterval(2)); err != nil {
		t.Fatal(err)
	}
	for _, b := range stateInput[:3] {
		r.add(b.users, b.amounts)
	}
	r.stop() // waits for the snapshots
	exists := func(rel string) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(r.dir, rel)); err != nil {
			t.Error(err)
		}
	}
	exists("state/" + checkpoint.FileName("metadata", 0))
	exists("state/aggregate-0/schema")
	for p := range 2 {
		for v := int64(1); v <= 3; v++ { // batches 0..2 are state versions 1..3
			exists(filepath.Join("state/aggregate-0", itoa(int64(p)), checkpoint.FileName("delta", v)))
		}
		exists(filepath.Join("state/aggregate-0", itoa(int64(p)), checkpoint.FileName("snapshot", 2)))
	}
	// The state on disk is every group, split over the partitions.
	prov, err := state.NewProvider(r.dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close(context.Background())
	var keys int64
	for p := range 2 {
		pt, err := prov.Partition("aggregate-0", p)
		if err != nil {
			t.Fatal(err)
		}
		st, err := pt.Load(testCtx(t), 3)
		if err != nil {
			t.Fatal(err)
		}
		if st.Len() == 0 {
			t.Errorf("partition %d is empty", p)
		}
		keys += st.Len()
		st.Abort()
	}
	if keys != 8 { // ann bob cid dan eve fay gus hal
		t.Errorf("%d keys in the state, want 8", keys)
	}
}

func TestStateCorruptDeltaFailsRestart(t *testing.T) {
	r := newStateRun(t, totals, aggRows, streaming.Update)
	if err := r.start(streaming.NumStatePartitions(1)); err != nil {
		t.Fatal(err)
	}
	r.add([]string{"ann"}, []int64{1})
	r.add([]string{"bob"}, []int64{2})
	r.stop()
	path := filepath.Join(r.dir, "state", "aggregate-0", "0", checkpoint.FileName("delta", 1))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-2] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.start(streaming.NumStatePartitions(1)); err != nil {
		t.Fatal(err)
	}
	err = r.q.AwaitTermination(testCtx(t))
	if !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("restart over a corrupt delta: %v, want a corrupt file error naming %s", err, path)
	}
	var fe *state.FileError
	if !errors.As(err, &fe) || fe.Operator != "aggregate-0" || fe.Version != 1 {
		t.Fatalf("error %v is not a *state.FileError of aggregate-0 version 1", err)
	}
}

func TestStateChangedQueryIsRefused(t *testing.T) {
	r := newStateRun(t, totals, aggRows, streaming.Update)
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	r.add([]string{"ann"}, []int64{1})
	r.stop()
	r.build = func(t *testing.T, src streaming.Source) plan.Node {
		scan, err := plan.NewScan(streaming.NewSourceNode(src), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		agg, err := plan.NewAggregate(scan, []expr.Expr{expr.Col("user")}, []expr.Expr{expr.As(expr.Count(nil), "n")})
		if err != nil {
			t.Fatal(err)
		}
		return agg
	}
	if err := r.start(); err == nil || !strings.Contains(err.Error(), "the query changed") {
		t.Fatalf("restart with another aggregation: %v", err)
	}
}

func TestStateUnsupportedColumnTypeFailsAtStart(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)}}, nil)
	in := streaming.NewMemoryStream(schema, "tags")
	defer in.Close()
	scan, err := plan.NewScan(streaming.NewSourceNode(in), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := plan.NewDeduplicate(scan, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = streaming.Start(testCtx(t), newEngine(t, nil), d, streaming.NewMemorySink())
	if !errors.Is(err, streaming.ErrUnsupported) || !strings.Contains(err.Error(), `"tags"`) {
		t.Fatalf("Start = %v, want ErrUnsupported naming column tags", err)
	}
}

// TestStateEvictionDeletesKeys: groups the watermark finished leave the
// state, in memory and in the state store.
func TestStateEvictionDeletesKeys(t *testing.T) {
	ts := arrow.FixedWidthTypes.Timestamp_us
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: ts}, {Name: "user", Type: arrow.BinaryTypes.String}}, nil)
	in := streaming.NewMemoryStream(schema, "clicks")
	defer in.Close()
	scan, err := plan.NewScan(streaming.NewSourceNode(in), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wm, err := streaming.NewWatermark(scan, "ts", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	agg, err := plan.NewAggregate(wm, []expr.Expr{expr.Col("ts"), expr.Col("user")}, []expr.Expr{expr.As(expr.Count(nil), "n")})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(secs []int, users []string) {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for i, s := range secs {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(s) * time.Second).UnixMicro()))
			b.Field(1).(*array.StringBuilder).Append(users[i])
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		if _, err := in.AddBatches(rec); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	ec := newEngine(t, nil)
	start := func() *streaming.Query {
		q, err := streaming.Start(testCtx(t), ec, agg, streaming.NewMemorySink(), streaming.WithOutputMode(streaming.Update),
			streaming.CheckpointLocation(dir), streaming.NumStatePartitions(3))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	q := start()
	add([]int{1, 2, 3, 4, 5}, []string{"a", "b", "c", "d", "e"})
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := q.LastProgress().StateOperators[0].NumRowsTotal; n != 5 {
		t.Fatalf("state rows after batch 0 = %d, want 5", n)
	}
	add([]int{20}, []string{"f"}) // watermark 10 s: the groups up to 10 s end
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := q.LastProgress().StateOperators[0].NumRowsTotal; n != 1 {
		t.Fatalf("state rows after batch 1 = %d, want 1", n)
	}
	q.Stop(testCtx(t))
	prov, err := state.NewProvider(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	var keys int64
	for p := range 3 {
		pt, err := prov.Partition("aggregate-0", p)
		if err != nil {
			t.Fatal(err)
		}
		st, err := pt.Load(testCtx(t), 2)
		if err != nil {
			t.Fatal(err)
		}
		keys += st.Len()
		st.Abort()
	}
	prov.Close(context.Background())
	if keys != 1 {
		t.Fatalf("%d keys in the state store after eviction, want 1", keys)
	}
	// After a restart the state is the one group left.
	q = start()
	add([]int{21}, []string{"f"})
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := q.LastProgress().StateOperators[0].NumRowsTotal; n != 2 {
		t.Fatalf("state rows after the restart's batch = %d, want 2", n)
	}
	q.Stop(testCtx(t))
}
