package dataframe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector/file"
	"github.com/spate-io/spate/connector/kafka"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/streaming"
)

// Streams returns the manager of the session's streaming queries (Spark's
// spark.streams): the active queries, AwaitAnyTermination.
func (s *Session) Streams() *streaming.Manager {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams == nil {
		s.streams = streaming.NewManager()
	}
	return s.streams
}

// StreamFrom returns a streaming DataFrame reading src: a
// streaming.MemoryStream, or a connector's streaming source. Operations
// build an incremental query; WriteStream runs it.
func (s *Session) StreamFrom(src streaming.Source) *DataFrame {
	if src == nil {
		return s.failed(errors.New("dataframe.StreamFrom: nil source"))
	}
	scan, err := plan.NewScan(streaming.NewSourceNode(src), nil, nil)
	if err != nil {
		return s.failed(fmt.Errorf("dataframe.StreamFrom: %w", err))
	}
	return &DataFrame{s: s, plan: scan}
}

// streamOpened is StreamFrom for a source ReadStream opened with open:
// the first query reading the DataFrame takes src, each later one opens
// its own instance (streaming.SourceNode.Instance), and a query closes
// its instance when it stops; Close closes src if no query took it.
func (s *Session) streamOpened(src streaming.Source, open sourceOpener) *DataFrame {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		err := src.Close()
		return s.failed(errors.Join(errors.New("dataframe.ReadStream: the session is closed"), err))
	}
	ls := &loadedSource{s: s, name: src.Name(), first: src, open: open}
	s.loaded = append(s.loaded, ls)
	s.mu.Unlock()
	scan, err := plan.NewScan(streaming.NewPerQuerySourceNode(src, ls.instance), nil, nil)
	if err != nil {
		return s.failed(fmt.Errorf("dataframe.ReadStream: %w", err))
	}
	return &DataFrame{s: s, plan: scan}
}

// loadedSource is a source ReadStream loaded: the instance Load opened,
// until a query takes it, and how to open more.
type loadedSource struct {
	s     *Session
	name  string
	mu    sync.Mutex
	first streaming.Source // nil once a query took it or Close closed it
	open  sourceOpener
}

// instance gives a starting query its own instance of the source.
func (l *loadedSource) instance(ctx context.Context) (streaming.Source, error) {
	l.s.mu.Lock()
	closed := l.s.closed
	l.s.mu.Unlock()
	if closed {
		return nil, errors.New("dataframe: the session is closed")
	}
	l.mu.Lock()
	src := l.first
	l.first = nil
	l.mu.Unlock()
	if src != nil {
		return src, nil
	}
	return l.open(ctx)
}

// close closes the instance Load opened if no query took it.
func (l *loadedSource) close() error {
	l.mu.Lock()
	src := l.first
	l.first = nil
	l.mu.Unlock()
	if src == nil {
		return nil
	}
	return src.Close()
}

// IsStreaming reports whether df reads a streaming source (Spark's
// isStreaming). Batch actions (Collect, Show, Count) fail on it; run it
// with WriteStream.
func (df *DataFrame) IsStreaming() bool {
	return df.err == nil && df.plan != nil && streaming.IsStreaming(df.plan)
}

// DataStreamReader builds a streaming DataFrame from a source format
// (Spark's DataStreamReader).
type DataStreamReader struct {
	s      *Session
	format string
	opts   map[string]string
	schema *arrow.Schema
}

// ReadStream returns a reader of streaming DataFrames.
func (s *Session) ReadStream() *DataStreamReader {
	return &DataStreamReader{s: s, opts: map[string]string{}}
}

// StreamFormats lists the formats ReadStream().Format accepts.
func StreamFormats() []string {
	return []string{"csv", "json", "kafka", "parquet", "rate", "rate-micro-batch", "socket", "text"}
}

// Format sets the source format (see StreamFormats).
func (r *DataStreamReader) Format(f string) *DataStreamReader { r.format = f; return r }

// Option sets a source option.
func (r *DataStreamReader) Option(k, v string) *DataStreamReader { r.opts[k] = v; return r }

// Schema sets the schema of sources that need one.
func (r *DataStreamReader) Schema(s *arrow.Schema) *DataStreamReader { r.schema = s; return r }

// Load returns the streaming DataFrame of the source; file formats take
// the directory to watch as path.
//
// Formats and their options:
//
//	rate                     rowsPerSecond (default 1), numPartitions (default 1),
//	                         rampUpTime (whole seconds, "10" or "10s"; default 0): rows
//	                         (timestamp, value) with values 0, 1, 2, ... at a fixed rate,
//	                         reached linearly over rampUpTime (see streaming.RateOptions)
//	json, csv, parquet, text new files of a directory (connector/file's stream source:
//	                         maxFilesPerTrigger, latestFirst, maxFileAge, cleanSource,
//	                         inferSchema, and the format's read options); a schema is
//	                         required unless inferSchema is true (text: a value column);
//	                         with mode DROPMALFORMED the progress counts each batch's
//	                         dropped records (numDroppedMalformedRows)
//	rate-micro-batch         rowsPerBatch (required), numPartitions, startTimestamp (ms),
//	                         advanceMillisPerBatch (default 1000): the same rows every run,
//	                         rowsPerBatch per batch, stamped per batch (not by the clock)
//	socket                   host, port: lines of a TCP server (value, timestamp); not fault
//	                         tolerant (lines live in memory only), for experiments
//	kafka                    Spark's Kafka options (kafka.bootstrap.servers, subscribe,
//	                         startingOffsets, maxOffsetsPerTrigger, ...; see connector/kafka):
//	                         columns key, value, topic, partition, offset, timestamp, ...
func (r *DataStreamReader) Load(path ...string) *DataFrame {
	open, err := r.opener(path)
	if err != nil {
		return r.s.failed(fmt.Errorf("dataframe.ReadStream: %w", err))
	}
	src, err := open(context.Background())
	if err != nil {
		return r.s.failed(fmt.Errorf("dataframe.ReadStream: %w", err))
	}
	return r.s.streamOpened(src, open)
}

// sourceOpener opens an instance of a streaming source.
type sourceOpener func(ctx context.Context) (streaming.Source, error)

// opener checks the reader's format and options and returns what opens
// an instance of the source: Load opens one, and each query after the
// first one reading the DataFrame opens its own.
func (r *DataStreamReader) opener(path []string) (sourceOpener, error) {
	opts, schema, alloc := maps.Clone(r.opts), r.schema, r.s.cfg.alloc
	switch f := strings.ToLower(r.format); f {
	case "json", "csv", "parquet", "text":
		if len(path) != 1 || path[0] == "" {
			return nil, fmt.Errorf("format %s needs the directory to watch: Load(dir)", f)
		}
		dir := path[0]
		return func(ctx context.Context) (streaming.Source, error) {
			return file.NewStreamSource(ctx, dir, f, file.StreamSourceOptions{Schema: schema, Options: opts, Alloc: alloc})
		}, nil
	case "rate-micro-batch":
		o := streaming.RatePerBatchOptions{Alloc: alloc}
		for k, v := range opts {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("rate-micro-batch: option %s must be an integer, got %q", k, v)
			}
			switch k {
			case "rowsPerBatch":
				o.RowsPerBatch = n
			case "numPartitions":
				o.NumPartitions = int(n)
			case "startTimestamp":
				o.StartTimestamp = time.UnixMilli(n)
			case "advanceMillisPerBatch":
				o.AdvancePerBatch = time.Duration(n) * time.Millisecond
			default:
				return nil, fmt.Errorf("rate-micro-batch: unknown option %q; supported: advanceMillisPerBatch, numPartitions, rowsPerBatch, startTimestamp", k)
			}
		}
		return func(context.Context) (streaming.Source, error) { return streaming.NewRatePerBatchSource(o) }, nil
	case "socket":
		host, port := opts["host"], opts["port"]
		p, err := strconv.Atoi(port)
		if host == "" || err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("socket: options host and port (1..65535) are required, got host %q port %q", host, port)
		}
		now := r.s.cfg.clock.Now
		return func(context.Context) (streaming.Source, error) {
			// Not the query's context: the connection outlives Start.
			return streaming.NewSocketSource(context.Background(), host, p, alloc, now)
		}, nil
	case "kafka":
		return func(context.Context) (streaming.Source, error) {
			// Not the query's context: the client outlives Start.
			return kafka.Provider{}.OpenArrowSource(context.Background(), opts, kafka.Allocator(alloc))
		}, nil
	case "rate":
		o := streaming.RateOptions{Clock: r.s.cfg.clock, Alloc: alloc}
		for k, v := range opts {
			switch k {
			case "rowsPerSecond":
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f <= 0 {
					return nil, fmt.Errorf("rate: rowsPerSecond must be a positive number, got %q", v)
				}
				o.RowsPerSecond = f
			case "numPartitions":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return nil, fmt.Errorf("rate: numPartitions must be a positive integer, got %q", v)
				}
				o.NumPartitions = n
			case "rampUpTime":
				d, err := streaming.ParseRampUpTime(v)
				if err != nil {
					return nil, fmt.Errorf("rate: %w", err)
				}
				o.RampUpTime = d
			default:
				return nil, fmt.Errorf("rate: unknown option %q; supported: numPartitions, rampUpTime, rowsPerSecond", k)
			}
		}
		return func(context.Context) (streaming.Source, error) { return streaming.NewRateSource(o) }, nil
	case "":
		return nil, fmt.Errorf("no format; set one of %s, or use Session.StreamFrom", strings.Join(StreamFormats(), ", "))
	}
	return nil, fmt.Errorf("unsupported format %q; supported: %s (and Session.StreamFrom for any streaming.Source)", r.format, strings.Join(StreamFormats(), ", "))
}

// DataStreamWriter starts a streaming query writing a streaming DataFrame
// to a sink (Spark's DataStreamWriter).
type DataStreamWriter struct {
	df      *DataFrame
	format  string
	mode    string
	trigger *streaming.Trigger
	name    string
	opts    map[string]string
	foreach func(ctx context.Context, batch *DataFrame, batchID int64) error
	sink    streaming.Sink
	console io.Writer
}

// WriteStream returns a writer that runs df as a streaming query.
func (df *DataFrame) WriteStream() *DataStreamWriter {
	return &DataStreamWriter{df: df, opts: map[string]string{}}
}

// Format sets the sink: "memory" (an in-memory table named after the
// query, read with Session.Table; in complete mode it holds the latest
// result, otherwise every batch's rows), "console" (options numRows,
// default 20, and truncate, default true), "json", "csv", "parquet",
// "text" (option path: a directory of part files per batch with a
// metadata log, so a re-run batch never duplicates files and readers
// see only committed files; connector/file's stream sink), "kafka"
// (Spark's options: kafka.bootstrap.servers, topic, kafka.transactional
// for exactly-once; connector/kafka). ForeachBatch and Sink set other
// sinks.
func (w *DataStreamWriter) Format(f string) *DataStreamWriter { w.format = f; return w }

// OutputMode sets "append" (default), "update" or "complete".
func (w *DataStreamWriter) OutputMode(m string) *DataStreamWriter { w.mode = m; return w }

// Trigger sets when batches run: streaming.ProcessingTime(d) (default
// ProcessingTime(0)), streaming.Once(), streaming.AvailableNow().
func (w *DataStreamWriter) Trigger(t streaming.Trigger) *DataStreamWriter { w.trigger = &t; return w }

// QueryName names the query (and the memory sink's table).
func (w *DataStreamWriter) QueryName(n string) *DataStreamWriter { w.name = n; return w }

// Option sets a writer option: a query option or a sink option. The
// query options:
//
//	checkpointLocation     the query's checkpoint directory (default: a
//	                       temporary one, no recovery)
//	numStatePartitions     the number of state partitions of a stateful
//	                       query (a positive integer, default 4), fixed at
//	                       the first run from a checkpoint location: a
//	                       restart with another number fails
//	                       (streaming.NumStatePartitions)
//	stateSnapshotInterval  state snapshot every n batches (a positive
//	                       integer, default 10; streaming.StateSnapshotInterval)
//	multipleWatermarkPolicy  min (default) or max: how the watermarks of
//	                       several inputs combine
//	                       (streaming.MultipleWatermarkPolicy)
func (w *DataStreamWriter) Option(k, v string) *DataStreamWriter { w.opts[k] = v; return w }

// ForeachBatch writes each micro-batch with f, given the batch as a
// DataFrame (valid during the call) and its id. f may run again for the
// same id after a restart: make it idempotent by batch id.
func (w *DataStreamWriter) ForeachBatch(f func(ctx context.Context, batch *DataFrame, batchID int64) error) *DataStreamWriter {
	w.foreach = f
	return w
}

// ForeachWriter writes rows one by one (Spark's ForeachWriter): for each
// micro-batch, Open is called with the batch id (false skips the batch,
// for a writer that knows it already wrote it), Process with every row,
// and Close with the error that ended the batch (nil on success). The
// query calls them from one goroutine.
type ForeachWriter interface {
	Open(ctx context.Context, batchID int64) (bool, error)
	Process(ctx context.Context, row Row) error
	Close(err error) error
}

// Foreach writes each row with w. It is at-least-once: after a restart a
// batch may be written again; w.Open can skip batch ids it committed.
func (w *DataStreamWriter) Foreach(fw ForeachWriter) *DataStreamWriter {
	if fw == nil {
		w.foreach = func(context.Context, *DataFrame, int64) error {
			return errors.New("dataframe.WriteStream: nil ForeachWriter")
		}
		return w
	}
	w.foreach = func(ctx context.Context, batch *DataFrame, id int64) (err error) {
		ok, err := fw.Open(ctx, id)
		if err != nil || !ok {
			return err
		}
		defer func() {
			if cerr := fw.Close(err); err == nil {
				err = cerr
			}
		}()
		rows, err := batch.Collect(ctx)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := fw.Process(ctx, r); err != nil {
				return err
			}
		}
		return nil
	}
	return w
}

// Sink writes to a custom sink (a connector's streaming sink).
func (w *DataStreamWriter) Sink(s streaming.Sink) *DataStreamWriter { w.sink = s; return w }

// Console makes the sink the console format, printing to out.
func (w *DataStreamWriter) Console(out io.Writer) *DataStreamWriter {
	w.format, w.console = "console", out
	return w
}

// Start starts the query and returns it; it runs until stopped, or until
// a Once or AvailableNow trigger is done.
func (w *DataStreamWriter) Start(ctx context.Context) (*streaming.Query, error) {
	df := w.df
	if err := df.Err(); err != nil {
		return nil, err
	}
	if !df.IsStreaming() {
		return nil, errors.New("dataframe.WriteStream: the DataFrame reads no streaming source; use Write for batch DataFrames")
	}
	if err := rejectStreamingSetOps(df.plan); err != nil {
		return nil, err
	}
	s := df.s
	opts := []streaming.Option{streaming.WithManager(s.Streams()), streaming.WithClock(s.cfg.clock), streaming.WithAllocator(s.cfg.alloc),
		streaming.WithExecConfig(s.cfg.exec), streaming.WithOptimizer(s.opt)}
	if w.name != "" {
		opts = append(opts, streaming.QueryName(w.name))
	}
	if w.trigger != nil {
		opts = append(opts, streaming.WithTrigger(*w.trigger))
	}
	if w.mode != "" {
		m, err := streaming.ParseOutputMode(strings.ToLower(w.mode))
		if err != nil {
			return nil, err
		}
		opts = append(opts, streaming.WithOutputMode(m))
	}
	sinkOpts := maps.Clone(w.opts)
	if dir, ok := sinkOpts["checkpointLocation"]; ok {
		opts = append(opts, streaming.CheckpointLocation(dir))
		delete(sinkOpts, "checkpointLocation")
	}
	for _, o := range []struct {
		name string
		opt  func(int) streaming.Option
	}{{"numStatePartitions", streaming.NumStatePartitions}, {"stateSnapshotInterval", streaming.StateSnapshotInterval}} {
		v, ok := sinkOpts[o.name]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("dataframe.WriteStream: option %s must be a positive integer, got %q", o.name, v)
		}
		opts = append(opts, o.opt(n))
		delete(sinkOpts, o.name)
	}
	if v, ok := sinkOpts["multipleWatermarkPolicy"]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "min":
			opts = append(opts, streaming.MultipleWatermarkPolicy(streaming.WatermarkMin))
		case "max":
			opts = append(opts, streaming.MultipleWatermarkPolicy(streaming.WatermarkMax))
		default:
			return nil, fmt.Errorf("dataframe.WriteStream: option multipleWatermarkPolicy must be min or max, got %q", v)
		}
		delete(sinkOpts, "multipleWatermarkPolicy")
	}
	sink, after, err := w.makeSink(sinkOpts)
	if err != nil {
		return nil, err
	}
	q, err := streaming.Start(ctx, s.ec, df.plan, sink, opts...)
	if err != nil {
		return nil, err
	}
	if after != nil {
		after()
	}
	return q, nil
}

// rejectStreamingSetOps refuses INTERSECT and EXCEPT with a streaming
// side. Package streaming would run them per micro-batch, comparing a
// batch's rows only with the rows of the same batch, which is not the
// answer; Spark refuses them too.
func rejectStreamingSetOps(p plan.Node) error {
	if s, ok := p.(*plan.SetOp); ok && streaming.IsStreaming(s) {
		return fmt.Errorf("dataframe.WriteStream: %w: INTERSECT/EXCEPT of a stream is not supported (as in Spark): %s needs all the rows of both sides; intersect or subtract inside a ForeachBatch sink instead", streaming.ErrUnsupported, s)
	}
	for _, c := range p.Children() {
		if err := rejectStreamingSetOps(c); err != nil {
			return err
		}
	}
	return nil
}

// makeSink returns the sink and what to do once the query started.
func (w *DataStreamWriter) makeSink(opts map[string]string) (streaming.Sink, func(), error) {
	s, schema := w.df.s, w.df.plan.Schema()
	unknown := func(format string, supported ...string) error {
		for k := range opts {
			if !slices.Contains(supported, k) {
				return fmt.Errorf("dataframe.WriteStream: %s sink: unknown option %q; supported: %s", format, k, strings.Join(append([]string{"checkpointLocation", "numStatePartitions", "stateSnapshotInterval", "multipleWatermarkPolicy"}, supported...), ", "))
			}
		}
		return nil
	}
	set := 0
	for _, b := range []bool{w.format != "", w.foreach != nil, w.sink != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, nil, errors.New("dataframe.WriteStream: set exactly one sink: Format(\"memory\"|\"console\"|...), ForeachBatch(f), Foreach(w) or Sink(s)")
	}
	switch {
	case w.sink != nil:
		return w.sink, nil, nil
	case w.foreach != nil:
		if err := unknown("foreachBatch"); err != nil {
			return nil, nil, err
		}
		f := w.foreach
		return streaming.FuncSink(func(ctx context.Context, id int64, bs []arrow.RecordBatch) error {
			rel, err := plan.NewLocalRelation(batchSchema(schema, bs), [][]arrow.RecordBatch{bs})
			if err != nil {
				return err
			}
			return f(ctx, &DataFrame{s: s, plan: rel}, id)
		}), nil, nil
	}
	switch strings.ToLower(w.format) {
	case "memory":
		if err := unknown("memory"); err != nil {
			return nil, nil, err
		}
		if w.name == "" {
			return nil, nil, errors.New("dataframe.WriteStream: the memory sink needs QueryName: the table is named after the query")
		}
		sink := streaming.NewMemorySink()
		sink.Complete = strings.EqualFold(w.mode, "complete")
		table, err := plan.NewScan(&memoryTable{sink: sink, schema: schema, name: w.name}, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		return sink, func() {
			s.mu.Lock()
			s.views[strings.ToLower(w.name)] = table
			s.mu.Unlock()
		}, nil
	case "console":
		if err := unknown("console", "numRows", "truncate"); err != nil {
			return nil, nil, err
		}
		n, truncate := 20, true
		if v, ok := opts["numRows"]; ok {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 0 {
				return nil, nil, fmt.Errorf("dataframe.WriteStream: console sink: numRows must be a number ≥ 0, got %q", v)
			}
		}
		if v, ok := opts["truncate"]; ok {
			var err error
			if truncate, err = strconv.ParseBool(v); err != nil {
				return nil, nil, fmt.Errorf("dataframe.WriteStream: console sink: truncate must be true or false, got %q", v)
			}
		}
		out := w.console
		if out == nil {
			out = os.Stdout
		}
		return streaming.FuncSink(func(ctx context.Context, id int64, bs []arrow.RecordBatch) error {
			rel, err := plan.NewLocalRelation(batchSchema(schema, bs), [][]arrow.RecordBatch{bs})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "-------------------------------------------\nBatch: %d\n-------------------------------------------\n", id)
			return (&DataFrame{s: s, plan: rel}).ShowTo(ctx, out, n, truncate)
		}), nil, nil
	case "json", "csv", "parquet", "text":
		path, ok := opts["path"]
		if !ok || path == "" {
			return nil, nil, fmt.Errorf("dataframe.WriteStream: the %s sink needs Option(\"path\", dir)", w.format)
		}
		delete(opts, "path")
		sink, err := file.NewStreamSink(path, strings.ToLower(w.format), file.StreamSinkOptions{Options: opts, Alloc: s.cfg.alloc, Clock: s.cfg.clock, QueryID: w.queryKey()})
		if err != nil {
			return nil, nil, fmt.Errorf("dataframe.WriteStream: %w", err)
		}
		return sink, nil, nil
	case "kafka":
		sink, err := kafka.Provider{}.OpenArrowSink(context.Background(), opts, w.queryKey(), 0)
		if err != nil {
			return nil, nil, fmt.Errorf("dataframe.WriteStream: %w", err)
		}
		return sink, nil, nil
	}
	return nil, nil, fmt.Errorf("dataframe.WriteStream: unsupported format %q; supported: memory, console, json, csv, parquet, text, kafka (and ForeachBatch, Sink)", w.format)
}

// queryKey identifies the query to sinks that fence or tag their output
// (the file sink's log, Kafka's transactional id): the query name, or
// else the checkpoint location, which are the same across restarts.
func (w *DataStreamWriter) queryKey() string {
	if w.name != "" {
		return w.name
	}
	if dir := w.opts["checkpointLocation"]; dir != "" {
		sum := sha256.Sum256([]byte(filepath.Clean(dir)))
		return hex.EncodeToString(sum[:8])
	}
	return ""
}

// batchSchema is the schema of a micro-batch's rows: the batches' own
// (their nullability may be looser than the plan's), or the plan's when
// there are none.
func batchSchema(planned *arrow.Schema, bs []arrow.RecordBatch) *arrow.Schema {
	if len(bs) > 0 {
		return bs[0].Schema()
	}
	return planned
}

// memoryTable is the table of a memory sink: it reads the rows written so
// far each time it is read.
type memoryTable struct {
	sink   *streaming.MemorySink
	schema *arrow.Schema
	name   string
}

func (m *memoryTable) Schema() *arrow.Schema { return m.schema }
func (m *memoryTable) String() string        { return "MemorySink " + m.name }
func (m *memoryTable) NumPartitions() int    { return 1 }

func (m *memoryTable) Read(ctx context.Context, _ memory.Allocator, _ int, columns []string, _ []expr.Expr, emit func(arrow.RecordBatch) error) error {
	bs := m.sink.Rows()
	defer func() {
		for _, b := range bs {
			b.Release()
		}
	}()
	idx, projected, err := projection(m.schema, columns)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if err := ctx.Err(); err != nil {
			return err
		}
		out := project(b, idx, projected)
		err := emit(out)
		if out != b {
			out.Release()
		}
		if err != nil {
			return err
		}
	}
	return nil
}
