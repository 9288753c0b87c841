// Package streamtest tests Structured Streaming queries step by step, as
// Spark's testStream does: rows go into a memory stream, the query runs
// on a manual clock, and each step checks what the sink holds.
//
//	streamtest.Run(t, []event{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
//		return in.GroupBy(dataframe.Col("user")).Count()
//	}, streamtest.OutputMode("complete"),
//		streamtest.AddData([]event{{"ann", 1}, {"bob", 2}}),
//		streamtest.CheckAnswer(streamtest.Row("ann", 1), streamtest.Row("bob", 1)),
//		streamtest.StopStream(),
//		streamtest.StartStream(), // from the checkpoint
//		streamtest.AddData([]event{{"ann", 3}}),
//		streamtest.CheckAnswer(streamtest.Row("ann", 2), streamtest.Row("bob", 1)),
//	)
//
// Rows are compared without order, as the text fmt.Sprint gives each
// value (so 1 matches an int64 1). The query writes to a sink that keeps
// every batch's rows; in complete mode CheckAnswer looks at the last
// batch (the whole result), otherwise at every row written so far.
//
// [RunQuery] runs a query the test builds itself from the session, over
// memory streams it made (several streams, static tables, SQL over
// temporary views); [AddDataTo] and [AddBatchesTo] feed a given stream.
// [Observe] hands the batches written since the previous check (or the
// query's error) to a function, and [OnStartFailure] a failure to start,
// for tests that compute their expectations, such as golden files.
package streamtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/streaming"
)

// Step is one step of a stream test.
type Step struct {
	name string
	do   func(r *runner) error
	opt  func(r *runner)
}

// Option configures Run.
type Option = Step

// OutputMode sets the query's output mode. Default: append.
func OutputMode(m string) Option {
	return Step{name: "OutputMode", opt: func(r *runner) { r.mode = m }}
}

// WriterOption sets a query option of the writer (DataStreamWriter.Option,
// such as numStatePartitions or multipleWatermarkPolicy).
func WriterOption(k, v string) Option {
	return Step{name: "WriterOption", opt: func(r *runner) {
		if r.opts == nil {
			r.opts = map[string]string{}
		}
		r.opts[k] = v
	}}
}

// Row is an expected row.
func Row(values ...any) []any { return values }

// AddData adds rows (a slice of structs, as dataframe.CreateDataFrame
// takes) to the input stream as one offset. With RunQuery, which has no
// input stream of its own, use AddDataTo.
func AddData[T any](rows []T) Step {
	return Step{name: fmt.Sprintf("AddData(%d rows)", len(rows)), do: func(r *runner) error {
		if r.in == nil {
			return fmt.Errorf("the test has no input stream of its own (RunQuery): use AddDataTo")
		}
		return addData(r, r.in, rows)
	}}
}

// AddDataTo adds rows (a slice of structs, as dataframe.CreateDataFrame
// takes) to in as one offset: for tests whose query reads several
// streams (RunQuery).
func AddDataTo[T any](in *streaming.MemoryStream, rows []T) Step {
	return Step{name: fmt.Sprintf("AddDataTo(%s, %d rows)", in.Name(), len(rows)), do: func(r *runner) error {
		return addData(r, in, rows)
	}}
}

// AddBatchesTo adds record batches to in as one offset (in retains them;
// the caller keeps its own references): for rows that are not Go structs,
// such as rows parsed from a golden file.
func AddBatchesTo(in *streaming.MemoryStream, bs ...arrow.RecordBatch) Step {
	rows := 0
	for _, b := range bs {
		rows += int(b.NumRows())
	}
	return Step{name: fmt.Sprintf("AddBatchesTo(%s, %d rows)", in.Name(), rows), do: func(r *runner) error {
		_, err := in.AddBatches(bs...)
		return err
	}}
}

func addData[T any](r *runner, in *streaming.MemoryStream, rows []T) error {
	df := dataframe.CreateDataFrame(r.s, rows)
	var mu sync.Mutex
	var bs []arrow.RecordBatch
	err := df.ForeachBatch(r.ctx, func(_ context.Context, _ int, b arrow.RecordBatch) error {
		b.Retain()
		mu.Lock()
		bs = append(bs, b)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	defer func() {
		for _, b := range bs {
			b.Release()
		}
	}()
	_, err = in.AddBatches(bs...)
	return err
}

// CheckAnswer processes everything added and checks the result: the last
// batch's rows in complete mode, every row written so far otherwise.
func CheckAnswer(rows ...[]any) Step {
	return Step{name: "CheckAnswer", do: func(r *runner) error {
		if err := r.process(); err != nil {
			return err
		}
		var got [][]any
		if r.mode == "complete" {
			got = r.sink.last()
		} else {
			got = r.sink.all()
		}
		return compare(got, rows)
	}}
}

// CheckLastBatch processes everything added and checks the last batch's
// rows.
func CheckLastBatch(rows ...[]any) Step {
	return Step{name: "CheckLastBatch", do: func(r *runner) error {
		if err := r.process(); err != nil {
			return err
		}
		return compare(r.sink.last(), rows)
	}}
}

// CheckNewAnswer processes everything added and checks the rows written
// since the previous check.
func CheckNewAnswer(rows ...[]any) Step {
	return Step{name: "CheckNewAnswer", do: func(r *runner) error {
		if err := r.process(); err != nil {
			return err
		}
		return compare(r.sink.since(), rows)
	}}
}

// StopStream stops the query (the checkpoint stays).
func StopStream() Step {
	return Step{name: "StopStream", do: func(r *runner) error {
		if r.q == nil {
			return fmt.Errorf("the query is not running")
		}
		err := r.q.Stop(r.ctx)
		r.q = nil
		return err
	}}
}

// StartStream starts the query again from its checkpoint.
func StartStream() Step {
	return Step{name: "StartStream", do: func(r *runner) error {
		if r.q != nil {
			return fmt.Errorf("the query is running")
		}
		return r.start()
	}}
}

// AdvanceManualClock moves the clock of the session (and so of
// processing-time triggers and current_timestamp) forward by d.
func AdvanceManualClock(d time.Duration) Step {
	return Step{name: "AdvanceManualClock(" + d.String() + ")", do: func(r *runner) error {
		r.clock.Advance(d)
		return nil
	}}
}

// ExpectFailure processes everything added and expects the query to fail
// with an error containing substr.
func ExpectFailure(substr string) Step {
	return Step{name: "ExpectFailure(" + substr + ")", do: func(r *runner) error {
		if r.q == nil {
			return fmt.Errorf("the query is not running")
		}
		err := r.q.ProcessAllAvailable(r.ctx)
		if err == nil {
			err = r.q.Exception()
		}
		if err == nil || !strings.Contains(err.Error(), substr) {
			return fmt.Errorf("the query did not fail with %q (error: %v)", substr, err)
		}
		r.q = nil
		return nil
	}}
}

// Batch is what the query's sink got for one batch id: its rows, as
// dataframe.Row values.
type Batch struct {
	ID   int64
	Rows [][]any
}

// ErrNotRunning is the error Observe reports when the query is not
// running (it failed, or StopStream stopped it).
var ErrNotRunning = errors.New("streamtest: the query is not running")

// Observe processes everything added and calls f with the batches the
// sink got since the previous check (in the order they ran; a batch run
// again after a restart counts once) and with the error processing ended
// with: nil, the error the query failed with (the query is then no
// longer running, as after ExpectFailure), or ErrNotRunning. The step
// fails when f returns an error. Where the Check steps compare with rows
// written in the test, Observe lets a test compute its expectation, as
// golden-file tests do.
func Observe(f func(batches []Batch, err error) error) Step {
	return Step{name: "Observe", do: func(r *runner) error {
		if r.q == nil {
			return f(nil, ErrNotRunning)
		}
		err := r.q.ProcessAllAvailable(r.ctx)
		if err == nil {
			err = r.q.Exception()
		}
		if err != nil {
			r.q = nil
		}
		return f(r.sink.sinceBatches(), err)
	}}
}

// OnStartFailure hands an error starting the query at the beginning of
// the test (including an error the DataFrame carries, such as a SQL
// error) to f instead of failing the test; the steps are then not run.
// The test fails if f returns an error. Without it, a query that does not
// start fails the test.
func OnStartFailure(f func(err error) error) Option {
	return Step{name: "OnStartFailure", opt: func(r *runner) { r.onStartFailure = f }}
}

// Run builds the query with build over a stream of T, starts it and runs
// the steps, failing t at the first step that fails (with the step's
// number and name). StartStream calls build again.
func Run[T any](t testing.TB, _ []T, build func(in *dataframe.DataFrame) *dataframe.DataFrame, steps ...Step) {
	t.Helper()
	run(t, func(r *runner) error {
		schema := dataframe.CreateDataFrame(r.s, []T(nil)).Schema()
		if schema == nil {
			return fmt.Errorf("streamtest: cannot make a schema of %T", *new(T))
		}
		r.in = streaming.NewMemoryStream(schema, "input")
		r.build = func(*dataframe.Session) *dataframe.DataFrame { return build(r.s.StreamFrom(r.in)) }
		return nil
	}, steps)
}

// RunQuery is Run for a query that the test builds over inputs of its
// own, such as a SQL query over temporary views of several memory
// streams and static DataFrames:
//
//	events := streaming.NewMemoryStream(schema, "events")
//	streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
//		s.StreamFrom(events).CreateOrReplaceTempView("events")
//		return s.SQL("SELECT device, count(*) FROM events GROUP BY device")
//	}, streamtest.OutputMode("update"),
//		streamtest.AddBatchesTo(events, batch),
//		streamtest.CheckLastBatch(streamtest.Row("d1", 2)),
//	)
//
// build is called once, with the test's session (on the manual clock),
// and its DataFrame is started at the beginning and by every StartStream,
// always with the same fresh checkpoint directory. Steps feed the inputs
// with AddDataTo and AddBatchesTo; the caller closes the memory streams.
func RunQuery(t testing.TB, build func(s *dataframe.Session) *dataframe.DataFrame, steps ...Step) {
	t.Helper()
	run(t, func(r *runner) error {
		df := build(r.s)
		if df == nil {
			return fmt.Errorf("streamtest: build returned a nil DataFrame")
		}
		r.build = func(*dataframe.Session) *dataframe.DataFrame { return df }
		return nil
	}, steps)
}

// run makes the session, lets setup set the runner's build function,
// starts the query and runs the steps.
func run(t testing.TB, setup func(r *runner) error, steps []Step) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &runner{ctx: ctx, clock: clock.NewManual(time.Unix(0, 0)), mode: "append", dir: t.TempDir()}
	for _, s := range steps {
		if s.opt != nil {
			s.opt(r)
		}
	}
	ec, err := engine.New(engine.Slots(2), engine.WithClock(r.clock))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	if r.s, err = dataframe.NewSession(ec); err != nil {
		t.Fatal(err)
	}
	if err := setup(r); err != nil {
		t.Fatal(err)
	}
	if r.in != nil {
		defer r.in.Close()
	}
	if err := r.start(); err != nil {
		if r.onStartFailure == nil {
			t.Fatalf("streamtest: starting the query: %v", err)
		}
		if err := r.onStartFailure(err); err != nil {
			t.Fatalf("streamtest: starting the query: %v", err)
		}
		return
	}
	defer func() {
		if r.q != nil {
			r.q.Stop(context.Background())
		}
	}()
	n := 0
	for _, s := range steps {
		if s.do == nil {
			continue
		}
		n++
		if err := s.do(r); err != nil {
			t.Fatalf("streamtest: step %d, %s: %v", n, s.name, err)
		}
	}
}

type runner struct {
	ctx            context.Context
	clock          *clock.Manual
	mode           string
	dir            string
	build          func(*dataframe.Session) *dataframe.DataFrame
	onStartFailure func(error) error
	opts           map[string]string // WriterOption
	s              *dataframe.Session
	in             *streaming.MemoryStream // Run's input; nil with RunQuery
	q              *streaming.Query
	sink           collector
}

func (r *runner) start() error {
	df := r.build(r.s)
	w := df.WriteStream().OutputMode(r.mode).Option("checkpointLocation", r.dir)
	for k, v := range r.opts {
		w.Option(k, v)
	}
	// The query's first trigger runs as it starts; the steps wait for it,
	// so that data added by the next steps is not split between it and
	// later batches depending on timing.
	first := make(firstTrigger, 1)
	r.s.Streams().AddListener(first)
	defer r.s.Streams().RemoveListener(first)
	q, err := w.ForeachBatch(func(ctx context.Context, batch *dataframe.DataFrame, id int64) error {
		rows, err := batch.Collect(ctx)
		if err != nil {
			return err
		}
		r.sink.add(id, rows)
		return nil
	}).Start(r.ctx)
	r.q = q
	if err != nil {
		return err
	}
	for {
		select {
		case id := <-first:
			if id == q.ID() {
				return nil
			}
		case <-r.ctx.Done():
			return fmt.Errorf("waiting for the query's first trigger: %w", r.ctx.Err())
		}
	}
}

// firstTrigger hears of the end of queries' triggers (a batch, an idle
// trigger, the end of the query), by query id.
type firstTrigger chan string

func (f firstTrigger) send(id string) {
	select {
	case f <- id:
	default:
	}
}

func (f firstTrigger) OnQueryStarted(metrics.QueryStarted)       {}
func (f firstTrigger) OnQueryProgress(e metrics.QueryProgressed) { f.send(e.Progress.ID) }
func (f firstTrigger) OnQueryIdle(e metrics.QueryIdle)           { f.send(e.ID) }
func (f firstTrigger) OnQueryTerminated(e metrics.QueryTerminated) {
	f.send(e.ID)
}

func (r *runner) process() error {
	if r.q == nil {
		return fmt.Errorf("the query is not running")
	}
	return r.q.ProcessAllAvailable(r.ctx)
}

// collector keeps every batch's rows by batch id; a repeated id replaces
// the batch.
type collector struct {
	mu      sync.Mutex
	batches map[int64][][]any
	order   []int64
	checked int // batches already returned by since
}

func (c *collector) add(id int64, rows []dataframe.Row) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batches == nil {
		c.batches = map[int64][][]any{}
	}
	if _, ok := c.batches[id]; !ok {
		c.order = append(c.order, id)
	}
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	c.batches[id] = out
}

func (c *collector) all() [][]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]any
	for _, id := range c.order {
		out = append(out, c.batches[id]...)
	}
	c.checked = len(c.order)
	return out
}

func (c *collector) last() [][]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked = len(c.order)
	if len(c.order) == 0 {
		return nil
	}
	return c.batches[c.order[len(c.order)-1]]
}

func (c *collector) since() [][]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]any
	for _, id := range c.order[c.checked:] {
		out = append(out, c.batches[id]...)
	}
	c.checked = len(c.order)
	return out
}

func (c *collector) sinceBatches() []Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Batch
	for _, id := range c.order[c.checked:] {
		out = append(out, Batch{ID: id, Rows: c.batches[id]})
	}
	c.checked = len(c.order)
	return out
}

// compare checks got against want, ignoring order.
func compare(got, want [][]any) error {
	g, w := render(got), render(want)
	if !slices.Equal(g, w) {
		return fmt.Errorf("got rows\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
	return nil
}

func render(rows [][]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, v := range r {
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format(time.RFC3339Nano)
			}
			parts[j] = fmt.Sprint(v)
		}
		out[i] = "[" + strings.Join(parts, ", ") + "]"
	}
	slices.Sort(out)
	return out
}
