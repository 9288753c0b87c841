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
package streamtest

import (
	"context"
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

// Row is an expected row.
func Row(values ...any) []any { return values }

// AddData adds rows (a slice of structs, as dataframe.CreateDataFrame
// takes) to the input stream as one offset.
func AddData[T any](rows []T) Step {
	return Step{name: fmt.Sprintf("AddData(%d rows)", len(rows)), do: func(r *runner) error {
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
		_, err = r.in.AddBatches(bs...)
		return err
	}}
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

// Run builds the query with build over a stream of T, starts it and runs
// the steps, failing t at the first step that fails (with the step's
// number and name).
func Run[T any](t testing.TB, _ []T, build func(in *dataframe.DataFrame) *dataframe.DataFrame, steps ...Step) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &runner{ctx: ctx, clock: clock.NewManual(time.Unix(0, 0)), mode: "append", dir: t.TempDir(), build: build}
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
	schema := dataframe.CreateDataFrame(r.s, []T(nil)).Schema()
	if schema == nil {
		t.Fatalf("streamtest: cannot make a schema of %T", *new(T))
	}
	r.in = streaming.NewMemoryStream(schema, "input")
	defer r.in.Close()
	if err := r.start(); err != nil {
		t.Fatalf("streamtest: starting the query: %v", err)
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
	ctx   context.Context
	clock *clock.Manual
	mode  string
	dir   string
	build func(*dataframe.DataFrame) *dataframe.DataFrame
	s     *dataframe.Session
	in    *streaming.MemoryStream
	q     *streaming.Query
	sink  collector
}

func (r *runner) start() error {
	df := r.build(r.s.StreamFrom(r.in))
	q, err := df.WriteStream().OutputMode(r.mode).Option("checkpointLocation", r.dir).
		ForeachBatch(func(ctx context.Context, batch *dataframe.DataFrame, id int64) error {
			rows, err := batch.Collect(ctx)
			if err != nil {
				return err
			}
			r.sink.add(id, rows)
			return nil
		}).Start(r.ctx)
	r.q = q
	return err
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
