package benchsuite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/sql"
	"github.com/spate-io/spate/streaming"
)

// structuredSpec is a query's Structured Streaming variants: the same
// streaming input for both, the query once in the DataFrame API and once
// in SQL, and the sink that turns the output rows into a Result the
// baseline's can be compared with.
type structuredSpec struct {
	// input returns the streaming DataFrame of events 0..n-1 (generator
	// configuration gc); dir is a scratch directory removed afterwards.
	input func(ctx context.Context, s *dataframe.Session, p Params, gc genConfig, n int64, dir string) (*dataframe.DataFrame, error)
	// static registers the static tables the SQL query joins with (as
	// temporary views) and returns them by name for the DataFrame query.
	static func(s *dataframe.Session, gc genConfig) (map[string]*dataframe.DataFrame, error)
	// dataframe builds the query on in.
	dataframe func(in *dataframe.DataFrame, static map[string]*dataframe.DataFrame) *dataframe.DataFrame
	// sql is the query over the temporary view "events" (in) and the
	// static views.
	sql string
	// mode is the output mode: "append" or "update".
	mode string
	// viewWatermark, when set, is the event-time column of the SQL
	// variant's view: run registers "events" as the input with a
	// watermark on it, delayed by watermarkDelay (SQL has no watermark
	// syntax; a Spark user writes
	// df.withWatermark(...).createOrReplaceTempView(...)). The DataFrame
	// variant sets its own.
	viewWatermark  string
	watermarkDelay time.Duration
	// endMarks is how many end-of-input marks the input reads after the
	// n events (see endMarkedSource); the progress counts them.
	endMarks int64
	// sink makes the sink of one run.
	sink func(gc genConfig) structuredSink
	// bytesPerEvent, when set, is about how much memory the query holds
	// per input event at its peak (q7 buffers every bid of a window that
	// is still open): a run that would need more than the machine has
	// available is skipped with the numbers, rather than killed.
	bytesPerEvent int64
}

// memoryCheck returns why a run of n events of s would not fit in the
// memory available now ("" when it fits or the memory is unknown).
func (s *structuredSpec) memoryCheck(n int64) string {
	avail := memAvailable()
	if s.bytesPerEvent == 0 || avail == 0 {
		return ""
	}
	need := n * s.bytesPerEvent
	if need <= avail*4/5 {
		return ""
	}
	fit := avail * 4 / 5 / s.bytesPerEvent
	return fmt.Sprintf("needs about %.1f GiB for %d events (the query holds the events of its open windows, about %d B each), %.1f GiB available; run it with --events %d or fewer",
		float64(need)/(1<<30), n, s.bytesPerEvent, float64(avail)/(1<<30), fit)
}

// structuredSink takes the output of every micro-batch.
type structuredSink interface {
	// add takes one record batch of a micro-batch's output; it is called
	// concurrently for the partitions of a batch, and batches in order.
	add(r arrow.RecordBatch) error
	result() Result
}

// The statuses of a variant that did not run.
const (
	StatusUnsupported = "unsupported" // the engine cannot express the query yet
	StatusSkipped     = "skipped"     // not in this kind of run or build
)

// run runs variant api (dataframe or sql) of q over events 0..n-1 of the
// generator configured by gc, unpaced: the query reads the whole input
// with an AvailableNow trigger, in micro-batches of p.BatchEvents events.
func (s *structuredSpec) run(ctx context.Context, q Query, p Params, api string, gc genConfig, n int64) (*Measurement, error) {
	logger := slog.New(slog.DiscardHandler)
	ec, err := engine.New(engine.Slots(p.Slots), engine.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	defer ec.Close()
	sess, err := dataframe.NewSession(ec)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(p.CheckpointDir, "spate-bench-"+q.Name+"-"+api+"-*")
	if err != nil {
		return nil, fmt.Errorf("benchsuite: scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	in, err := s.input(ctx, sess, p, gc, n, dir)
	if err != nil {
		return nil, err
	}
	var static map[string]*dataframe.DataFrame
	if s.static != nil {
		if static, err = s.static(sess, gc); err != nil {
			return nil, err
		}
	}
	var df *dataframe.DataFrame
	switch api {
	case VariantDataFrame:
		df = s.dataframe(in, static)
	case VariantSQL:
		view := in
		if s.viewWatermark != "" {
			view = in.WithWatermark(s.viewWatermark, s.watermarkDelay)
		}
		if err := view.CreateOrReplaceTempView("events"); err != nil {
			return nil, err
		}
		df = sess.SQL(s.sql)
	default:
		return nil, fmt.Errorf("benchsuite: no structured variant %q", api)
	}
	if err := df.Err(); err != nil {
		if errors.Is(err, sql.ErrNoCgo) {
			return &Measurement{Query: q.ID(), Variant: api, Status: StatusSkipped, Error: err.Error()}, nil
		}
		return nil, fmt.Errorf("benchsuite: %s %s: %w", q.ID(), api, err)
	}

	sink := s.sink(gc)
	var (
		mu    sync.Mutex
		times []time.Time
	)
	w := df.WriteStream().OutputMode(s.mode).Trigger(streaming.AvailableNow()).
		Option("checkpointLocation", dir+"/checkpoint").
		ForeachBatch(func(ctx context.Context, batch *dataframe.DataFrame, _ int64) error {
			err := batch.ForeachBatch(ctx, func(_ context.Context, _ int, r arrow.RecordBatch) error { return sink.add(r) })
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			return err
		})

	m := &Measurement{Query: q.ID(), Variant: api, Status: "ok", Mode: "throughput", Cores: runtime.GOMAXPROCS(0), genCfg: gc}
	runtime.GC()
	before := takeSnapshot(true)
	sq, err := w.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("benchsuite: %s %s: %w", q.ID(), api, err)
	}
	if err := sq.AwaitTermination(ctx); err != nil {
		_ = sq.Stop(context.Background())
		return nil, fmt.Errorf("benchsuite: %s %s: %w", q.ID(), api, err)
	}
	after := takeSnapshot(false)
	progress := sq.RecentProgress()
	var read int64
	for _, pr := range progress {
		read += pr.NumInputRows
	}
	// The self-joins scan the source twice per batch; the scans share
	// one read, so the progress counts each event once.
	if len(progress) == len(times) && read != n+s.endMarks {
		return nil, fmt.Errorf("benchsuite: %s %s: the query read %d events, want %d", q.ID(), api, read, n+s.endMarks)
	}
	m.Events = n
	if len(progress) > 0 {
		for _, op := range progress[len(progress)-1].StateOperators {
			m.StateRows += op.NumRowsTotal
		}
	}
	samples := make([]latencySample, 0, len(times))
	prev := before.wall
	for _, t := range times {
		samples = append(samples, latencySample{latency: t.Sub(prev), weight: 1})
		prev = t
	}
	m.BatchP50Ms = quantile(samples, 0.50)
	m.BatchP99Ms = quantile(samples, 0.99)
	m.fill(before, after)
	m.Result = sink.result()
	return m, nil
}

// column returns the column of r named name.
func column(r arrow.RecordBatch, name string) (arrow.Array, error) {
	idx := r.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("benchsuite: the output has no column %q (it has %v)", name, r.Schema())
	}
	return r.Column(idx[0]), nil
}

// int64s returns a getter of the values of an integer or timestamp
// column; timestamps are returned in ms.
func int64s(r arrow.RecordBatch, name string) (func(i int) int64, error) {
	a, err := column(r, name)
	if err != nil {
		return nil, err
	}
	switch x := a.(type) {
	case *array.Int64:
		return x.Value, nil
	case *array.Int32:
		return func(i int) int64 { return int64(x.Value(i)) }, nil
	case *array.Timestamp:
		switch x.DataType().(*arrow.TimestampType).Unit {
		case arrow.Second:
			return func(i int) int64 { return int64(x.Value(i)) * 1000 }, nil
		case arrow.Millisecond:
			return func(i int) int64 { return int64(x.Value(i)) }, nil
		case arrow.Microsecond:
			return func(i int) int64 { return int64(x.Value(i)) / 1000 }, nil
		default:
			return func(i int) int64 { return int64(x.Value(i)) / 1_000_000 }, nil
		}
	}
	return nil, fmt.Errorf("benchsuite: column %s: want an integer or a timestamp, got %s", name, a.DataType())
}

// int64Cols returns int64s of each named column.
func int64Cols(r arrow.RecordBatch, names ...string) ([]func(i int) int64, error) {
	out := make([]func(i int) int64, len(names))
	for k, name := range names {
		get, err := int64s(r, name)
		if err != nil {
			return nil, err
		}
		out[k] = get
	}
	return out, nil
}

// strs returns a getter of the values of a string column.
func strs(r arrow.RecordBatch, name string) (func(i int) string, error) {
	a, err := column(r, name)
	if err != nil {
		return nil, err
	}
	switch x := a.(type) {
	case *array.String:
		return x.Value, nil
	case *array.LargeString:
		return x.Value, nil
	}
	return nil, fmt.Errorf("benchsuite: column %s: want a string, got %s", name, a.DataType())
}

// rowSink hashes every output row (the stateless queries' black hole).
type rowSink struct {
	mu   sync.Mutex
	acc  accumulator
	hash func(r arrow.RecordBatch) (func(i int) uint64, error)
}

func (s *rowSink) add(r arrow.RecordBatch) error {
	h, err := s.hash(r)
	if err != nil {
		return err
	}
	var a accumulator
	for i := range int(r.NumRows()) {
		a.add(h(i))
	}
	s.mu.Lock()
	s.acc.rows += a.rows
	s.acc.sum += a.sum
	s.mu.Unlock()
	return nil
}

func (s *rowSink) result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acc.result()
}
