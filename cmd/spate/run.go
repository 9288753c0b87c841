package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/sql"
	"github.com/spate-io/spate/streaming"
	"github.com/spate-io/spate/ui"
)

func runUsage(w io.Writer) {
	fs := runFlags(new(runConfig))
	fmt.Fprint(w, `Usage: spate run [flags] PIPELINE.sql

Runs a streaming pipeline written in SQL. The file declares sources and sinks
and the queries that connect them:

  CREATE SOURCE readings (device STRING, kind STRING, signal DOUBLE, ts TIMESTAMP,
                          WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
    WITH (format = 'json', path = 'data/readings');
  CREATE SINK strong WITH (format = 'parquet', path = 'out/strong',
                           checkpoint = 'out/checkpoints/strong');
  INSERT INTO strong SELECT device, signal, ts FROM readings WHERE signal > 10;

Sources take the formats of ReadStream (rate, socket, json, csv, parquet, text,
kafka) and their options (path = the directory of a file source); sinks take
format (memory, console, json, csv, parquet, text, kafka), path, checkpoint,
output_mode (append, update, complete), trigger ('1 second', 'once',
'available-now') and the format's options. Each INSERT starts a streaming query;
relative paths are relative to the file's directory. A plain SELECT (or
EXPLAIN SELECT) runs as a batch query and prints its rows (or plans). spate
run prints a line per batch of every query and serves the monitoring UI; it
runs until Ctrl-C, or with --once / --available-now until the queries have
processed what their sources held at the start.

Flags:
`)
	printFlags(w, fs)
}

type runConfig struct {
	once, availableNow, noUI bool
	uiAddr                   string
}

func runFlags(cfg *runConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.BoolVar(&cfg.once, "once", false, "run every query once (one batch with all available data), then exit")
	fs.BoolVar(&cfg.availableNow, "available-now", false, "run every query until it has processed what was available at the start, then exit")
	fs.BoolVar(&cfg.noUI, "no-ui", false, "do not start the monitoring UI")
	fs.StringVar(&cfg.uiAddr, "ui-addr", ui.DefaultAddr, "serve the monitoring UI on `ADDR`")
	return fs
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg runConfig
	fs := runFlags(&cfg)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			runUsage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "spate run: %v\n\n", err)
		runUsage(stderr)
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, "spate run: give one pipeline file\nRun \"spate help run\" for usage.\n")
		return exitUsage
	}
	if cfg.once && cfg.availableNow {
		fmt.Fprint(stderr, "spate run: --once and --available-now exclude each other\n")
		return exitUsage
	}
	if err := runPipeline(ctx, fs.Arg(0), cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "spate run: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// runPipeline runs the statements of a pipeline file.
func runPipeline(ctx context.Context, file string, cfg runConfig, stdout, stderr io.Writer) error {
	text, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	stmts, err := sql.ParseScript(string(text))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	base := filepath.Dir(file)
	ec, err := engine.New(engine.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return err
	}
	defer ec.Close()
	s, err := dataframe.NewSession(ec)
	if err != nil {
		return err
	}
	// Stops what is still running and closes the sources' connections.
	defer s.Close(context.Background())
	if !cfg.noUI {
		server, err := ui.New(ui.Addr(cfg.uiAddr))
		if err != nil {
			return err
		}
		if err := server.Start(ec.Bus()); err != nil {
			return err
		}
		defer server.Stop(context.Background())
		fmt.Fprintf(stdout, "UI: %s\n", server.URL())
	}
	// stdout is shared by the progress listener, console sinks and this
	// goroutine.
	var mu sync.Mutex
	out := &lockedWriter{mu: &mu, w: stdout}
	defer ec.Bus().Subscribe(metrics.ListenerFunc(func(e metrics.Event) {
		if p, ok := e.(metrics.QueryProgressed); ok {
			fmt.Fprintln(out, progressLine(p.Progress))
		}
	}))()
	// Every progress line is out before returning.
	defer ec.Bus().Flush(context.Background())

	sinks := map[string]*sql.CreateSink{}
	var queries []*streaming.Query
	stopAll := func() {
		for _, q := range queries {
			q.Stop(context.Background())
		}
	}
	defer stopAll()
	for _, st := range stmts {
		line, col := st.Place()
		at := fmt.Sprintf("%s:%d:%d", file, line, col)
		switch x := st.(type) {
		case *sql.CreateSource:
			if err := createSource(s, x, base); err != nil {
				return fmt.Errorf("%s: CREATE SOURCE %s: %w", at, x.Name, err)
			}
		case *sql.CreateSink:
			if _, ok := x.Options["format"]; !ok {
				return fmt.Errorf("%s: CREATE SINK %s: the format option is required", at, x.Name)
			}
			sinks[strings.ToLower(x.Name)] = x
		case *sql.Insert:
			sink, ok := sinks[strings.ToLower(x.Sink)]
			if !ok {
				names := make([]string, 0, len(sinks))
				for n := range sinks {
					names = append(names, n)
				}
				sort.Strings(names)
				return fmt.Errorf("%s: INSERT INTO %s: no such sink; declared: %s", at, x.Sink, strings.Join(names, ", "))
			}
			q, err := insert(ctx, s, sink, x, base, cfg, out)
			if err != nil {
				return fmt.Errorf("%s: INSERT INTO %s: %w", at, x.Sink, err)
			}
			queries = append(queries, q)
			fmt.Fprintf(out, "started query %s (INSERT INTO %s at line %d)\n", q.Name(), x.Sink, line)
		case *sql.Query:
			if err := batchQuery(ctx, s, x, out); err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
		}
	}
	if len(queries) == 0 {
		return nil
	}
	if cfg.once || cfg.availableNow {
		for _, q := range queries {
			if err := q.AwaitTermination(ctx); err != nil {
				return fmt.Errorf("query %s: %w", q.Name(), err)
			}
		}
		return nil
	}
	err = s.Streams().AwaitAnyTermination(ctx)
	if ctx.Err() != nil {
		return nil // Ctrl-C: the deferred stopAll stops the queries
	}
	return err
}

// optionNames maps the lower-case option keys of a script to the names
// the readers and writers take.
var optionNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"rowsPerSecond", "rampUpTime", "numPartitions", "maxFilesPerTrigger", "latestFirst", "maxFileAge",
		"cleanSource", "sourceArchiveDir", "pathGlobFilter", "ignoreMissingFiles", "inferSchema", "nullValue",
		"timestampFormat", "dateFormat", "timeZone", "multiLine", "samplingRatio", "columnNameOfCorruptRecord",
		"startingOffsets", "endingOffsets", "startingTimestamp", "maxOffsetsPerTrigger", "minOffsetsPerTrigger",
		"maxTriggerDelay", "failOnDataLoss", "includeHeaders", "subscribePattern", "numRows", "compactInterval"} {
		m[strings.ToLower(n)] = n
	}
	return m
}()

func optionName(k string) string {
	if n, ok := optionNames[k]; ok {
		return n
	}
	return k
}

// resolve makes a relative path relative to the script's directory.
func resolve(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

func createSource(s *dataframe.Session, src *sql.CreateSource, base string) error {
	format := src.Options["format"]
	if format == "" {
		return errors.New("the format option is required")
	}
	r := s.ReadStream().Format(format)
	if len(src.Columns) > 0 {
		fields := make([]arrow.Field, len(src.Columns))
		for i, c := range src.Columns {
			fields[i] = arrow.Field{Name: c.Name, Type: c.Type, Nullable: c.Nullable}
		}
		r = r.Schema(arrow.NewSchema(fields, nil))
	}
	var path []string
	for k, v := range src.Options {
		switch k {
		case "format":
		case "path":
			path = []string{resolve(base, v)}
		default:
			r = r.Option(optionName(k), v)
		}
	}
	df := r.Load(path...)
	if w := src.Watermark; w != nil {
		df = df.WithWatermark(w.Column, w.Delay)
	}
	if err := df.Err(); err != nil {
		return err
	}
	return df.CreateOrReplaceTempView(src.Name)
}

func insert(ctx context.Context, s *dataframe.Session, sink *sql.CreateSink, ins *sql.Insert, base string, cfg runConfig, out io.Writer) (*streaming.Query, error) {
	df := s.SQL(ins.Query)
	if err := df.Err(); err != nil {
		return nil, err
	}
	w := df.WriteStream().QueryName(sink.Name)
	for k, v := range sink.Options {
		switch k {
		case "format":
			if strings.EqualFold(v, "console") {
				w = w.Console(out)
			} else {
				w = w.Format(v)
			}
		case "path":
			w = w.Option("path", resolve(base, v))
		case "checkpoint", "checkpointlocation":
			w = w.Option("checkpointLocation", resolve(base, v))
		case "output_mode", "outputmode":
			w = w.OutputMode(v)
		case "trigger":
			t, err := parseTrigger(v)
			if err != nil {
				return nil, err
			}
			w = w.Trigger(t)
		default:
			w = w.Option(optionName(k), v)
		}
	}
	switch {
	case cfg.once:
		w = w.Trigger(streaming.Once())
	case cfg.availableNow:
		w = w.Trigger(streaming.AvailableNow())
	}
	return w.Start(ctx)
}

// parseTrigger reads a sink's trigger option: "once", "available-now",
// or an interval such as "1 second", "500 milliseconds", "2s".
func parseTrigger(v string) (streaming.Trigger, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "once":
		return streaming.Once(), nil
	case "available-now", "availablenow", "available_now":
		return streaming.AvailableNow(), nil
	}
	if d, err := time.ParseDuration(strings.ReplaceAll(v, " ", "")); err == nil && d >= 0 {
		return streaming.ProcessingTime(d), nil
	}
	f := strings.Fields(strings.ToLower(v))
	if len(f) == 2 {
		n, err := strconv.ParseFloat(f[0], 64)
		units := map[string]time.Duration{"millisecond": time.Millisecond, "second": time.Second, "minute": time.Minute, "hour": time.Hour}
		if u, ok := units[strings.TrimSuffix(f[1], "s")]; ok && err == nil && n >= 0 {
			return streaming.ProcessingTime(time.Duration(n * float64(u))), nil
		}
	}
	return streaming.Trigger{}, fmt.Errorf("trigger %q: use an interval such as '1 second', or once, or available-now", v)
}

// batchQuery runs a plain SELECT (or EXPLAIN) of a script.
func batchQuery(ctx context.Context, s *dataframe.Session, q *sql.Query, stdout io.Writer) error {
	text := strings.TrimSpace(q.Text)
	explain := strings.HasPrefix(strings.ToUpper(text), "EXPLAIN")
	if explain {
		text = strings.TrimSpace(text[len("EXPLAIN"):])
	}
	df := s.SQL(text)
	if err := df.Err(); err != nil {
		return err
	}
	if explain {
		out, err := df.Explain()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, out)
		return nil
	}
	if df.IsStreaming() {
		return errors.New("a query over a streaming source runs with INSERT INTO a sink")
	}
	return df.ShowTo(ctx, stdout, 20, true)
}

// progressLine is the line spate run prints after a batch.
func progressLine(p metrics.QueryProgress) string {
	line := fmt.Sprintf("query %s batch %d: %d rows in, %d rows out, %d ms", p.Name, p.BatchID, p.NumInputRows, p.Sink.NumOutputRows, p.DurationMs["triggerExecution"])
	if w := p.EventTime["watermark"]; w != "" {
		line += ", watermark " + w
	}
	for _, st := range p.StateOperators {
		line += fmt.Sprintf(", %s state %d rows", st.OperatorName, st.NumRowsTotal)
	}
	return line
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
