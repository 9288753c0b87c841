package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/corpus"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
	"github.com/spate-io/spate/ui"
)

// demoConfig holds the flags of "spate demo".
type demoConfig struct {
	batch bool // run the batch RDD word count instead of the streaming one

	// Flags of the batch demo.
	words, partitions int

	// Flags of the streaming demo.
	source             string // sourceGenerator, sourceSocket or sourceKafka
	kafka              bool   // --kafka: shorthand for --source kafka
	brokers, topic     string // the Kafka source; no brokers: an embedded cluster
	rate               int    // generated lines per second
	host               string
	port               int
	interval, duration time.Duration
	uiAddr             string  // where the monitoring UI listens
	noUI               bool    // do not start the monitoring UI
	uiKill             bool    // let POST /kill on the UI stop the demo
	backpressure       bool    // adapt the receiving rate to the processing rate
	maxRate            float64 // static receiver limit in lines/s; 0 = none

	// Flags of both (distinct and seed: the generator source and the
	// batch demo).
	distinct, slots, top int
	seed                 uint64
}

const (
	wordsPerLine = 10     // the line length of the demo corpus and generator
	maxTop       = 10_000 // the most words --top may ask for

	sourceGenerator = "generator"
	sourceSocket    = "socket"
	sourceKafka     = "kafka"

	maxRate     = 10_000_000            // the most lines per second --rate may ask for
	minInterval = 10 * time.Millisecond // the shortest --interval
)

func demoFlags(cfg *demoConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.BoolVar(&cfg.batch, "batch", false, "run the batch word count (an RDD job over a generated text) instead of the streaming one")
	fs.IntVar(&cfg.words, "words", 2_000_000, "generate `N` words of text")
	fs.IntVar(&cfg.partitions, "partitions", 8, "split the text into `N` partitions")

	fs.StringVar(&cfg.source, "source", sourceGenerator, "read lines from `SOURCE`: generator (built in), socket (a TCP server, e.g. nc -lk 9999) or kafka (a topic, on an embedded cluster unless --brokers)")
	fs.BoolVar(&cfg.kafka, "kafka", false, "shorthand for --source kafka")
	fs.StringVar(&cfg.brokers, "brokers", "", "read the Kafka topic from the brokers `HOST:PORT,...` (default: an embedded in-process cluster fed by the generator)")
	fs.StringVar(&cfg.topic, "topic", "spate-demo-lines", "read lines from the Kafka topic `NAME`")
	fs.IntVar(&cfg.rate, "rate", 50_000, "generate `N` lines of 10 words per second")
	fs.StringVar(&cfg.host, "host", "127.0.0.1", "connect to the TCP server on `HOST`")
	fs.IntVar(&cfg.port, "port", 9999, "connect to the TCP server on `PORT`")
	fs.DurationVar(&cfg.interval, "interval", time.Second, "cut the stream into batches of `DURATION`")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop gracefully after `DURATION` (0: run until Ctrl-C)")
	fs.StringVar(&cfg.uiAddr, "ui-addr", ui.DefaultAddr, "serve the monitoring UI on `ADDR` (host:port; when the port is taken the next 16 are tried; port 0 picks a free one)")
	fs.BoolVar(&cfg.noUI, "no-ui", false, "do not start the monitoring UI")
	fs.BoolVar(&cfg.backpressure, "backpressure", false, "adapt the receiving rate to what the job processes (PID rate control, as Spark's spark.streaming.backpressure.enabled)")
	fs.Float64Var(&cfg.maxRate, "max-rate", 0, "receive at most `N` lines per second (0: no limit)")
	fs.BoolVar(&cfg.uiKill, "ui-kill", false, "let a POST to the UI's /kill stop the demo gracefully (the page then shows a stop button)")

	fs.IntVar(&cfg.distinct, "distinct", 50_000, "draw the words from a vocabulary of `N` words")
	fs.Uint64Var(&cfg.seed, "seed", 1, "generate the text from random seed `N`")
	fs.IntVar(&cfg.slots, "slots", runtime.GOMAXPROCS(0), "run at most `N` tasks at once")
	fs.IntVar(&cfg.top, "top", 10, "print the `N` most frequent words (of each batch, when streaming)")
	return fs
}

// The runs of the demo, which decide the flags that apply.
const (
	modeBatch     = "batch"
	modeGenerator = sourceGenerator
	modeSocket    = sourceSocket
	modeKafka     = sourceKafka
)

// demoFlagModes maps each flag that applies to some runs of the demo only
// to those runs; the other flags apply to all of them.
func demoFlagModes() map[string][]string {
	return map[string][]string{
		"words":        {modeBatch},
		"partitions":   {modeBatch},
		"source":       {modeGenerator, modeSocket, modeKafka},
		"interval":     {modeGenerator, modeSocket, modeKafka},
		"duration":     {modeGenerator, modeSocket, modeKafka},
		"ui-addr":      {modeGenerator, modeSocket, modeKafka},
		"no-ui":        {modeGenerator, modeSocket, modeKafka},
		"ui-kill":      {modeGenerator, modeSocket, modeKafka},
		"backpressure": {modeGenerator, modeSocket, modeKafka},
		"max-rate":     {modeGenerator, modeSocket, modeKafka},
		"rate":         {modeGenerator, modeKafka},
		"host":         {modeSocket},
		"port":         {modeSocket},
		"kafka":        {modeKafka},
		"brokers":      {modeKafka},
		"topic":        {modeKafka},
		"distinct":     {modeBatch, modeGenerator, modeKafka},
		"seed":         {modeBatch, modeGenerator, modeKafka},
	}
}

// describeMode names a run of the demo and the flags that select it.
func describeMode(mode string) string {
	switch mode {
	case modeBatch:
		return "the batch demo (--batch)"
	case modeGenerator:
		return "the streaming demo's generator source (--source generator, the default)"
	case modeKafka:
		return "the streaming demo's Kafka source (--source kafka or --kafka)"
	default:
		return "the streaming demo's socket source (--source socket)"
	}
}

func demoUsage(w io.Writer) {
	fs := demoFlags(new(demoConfig))
	fmt.Fprint(w, `Usage: spate demo [flags]
       spate demo --batch [flags]

Runs Spark's NetworkWordCount on spate's DStreams: lines from a source are cut
into batches of --interval, and every batch runs FlatMap(strings.Fields),
Map(w -> (w, 1)) and ReduceByKey(+). For each batch the demo prints the records
received, the processing time, the scheduling delay and the most frequent
words. The source is a built-in generator of lines of 10 Zipf-distributed
words (--rate lines per second), or a TCP server (--source socket): run
"nc -lk 9999" in another terminal and type lines into it, or a Kafka topic
(--kafka): without --brokers the demo starts an embedded in-process Kafka
cluster (franz-go's kfake) and a producer that writes the generator's lines
into the topic; with --brokers it reads --topic of a real Kafka or Redpanda.
Kafka is read without receivers (dstream.DirectStream: one partition per Kafka
partition, offset ranges per batch). After --duration, or
on Ctrl-C, the demo stops gracefully (it processes the data received so far)
and prints a summary; a second Ctrl-C exits at once.

While it runs, the streaming demo serves a monitoring UI, like Spark's
Streaming tab, on the loopback interface (it prints the address: "UI:
http://127.0.0.1:4040"): charts of the input rate, the scheduling delay, the
processing time and the total delay, the active and completed batches with
their output operations, jobs and stages, the receivers, a JSON API under
/api/v1/ and Prometheus metrics at /metrics. --no-ui turns it off.

With --batch, the demo instead generates a text whose word frequencies follow
a Zipf law, counts its words with an RDD job (Parallelize, FlatMap, Map,
ReduceByKey, then SortByKey and Take for the most frequent ones) and prints
the lineage, the top words and the time each stage took. Ctrl-C cancels the
job.

Streaming flags:
`)
	printFlags(w, fs, "source", "rate", "interval", "duration", "host", "port", "kafka", "brokers", "topic", "ui-addr", "no-ui", "ui-kill")
	fmt.Fprint(w, "\nBatch flags:\n")
	printFlags(w, fs, "batch", "words", "partitions")
	fmt.Fprint(w, "\nFlags of both (--distinct and --seed: not for --source socket):\n")
	printFlags(w, fs, "distinct", "seed", "slots", "top")
}

// mode returns the run of the demo that c selects.
func (c demoConfig) mode() string {
	if c.batch {
		return modeBatch
	}
	return c.source
}

// validate checks the flag values; its errors name the flag. set holds
// the names of the flags given on the command line.
func (c demoConfig) validate(set map[string]bool) error {
	if !c.batch && c.source != sourceGenerator && c.source != sourceSocket && c.source != sourceKafka {
		return fmt.Errorf("--source must be %s, %s or %s, got %q", sourceGenerator, sourceSocket, sourceKafka, c.source)
	}
	if c.kafka && set["source"] && c.source != sourceKafka {
		return fmt.Errorf("--kafka means --source kafka; drop --source %s or --kafka", c.source)
	}
	if c.source == sourceKafka && c.topic == "" {
		return fmt.Errorf("--topic must not be empty")
	}
	mode := c.mode()
	modes := demoFlagModes()
	var names []string
	for name := range set {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if ms, ok := modes[name]; ok && !slices.Contains(ms, mode) {
			descs := make([]string, len(ms))
			for i, m := range ms {
				descs[i] = describeMode(m)
			}
			return fmt.Errorf("--%s does not apply to %s; it is a flag of %s", name, describeMode(mode), strings.Join(descs, " and of "))
		}
	}
	for _, f := range []struct {
		name  string
		value int
	}{
		{"words", c.words}, {"distinct", c.distinct}, {"partitions", c.partitions},
		{"slots", c.slots}, {"top", c.top}, {"rate", c.rate},
	} {
		if f.value < 1 {
			return fmt.Errorf("--%s must be at least 1, got %d", f.name, f.value)
		}
	}
	switch {
	case c.top > maxTop:
		return fmt.Errorf("--top must be at most %d, got %d", maxTop, c.top)
	case c.seed < 1:
		return fmt.Errorf("--seed must be at least 1, got %d", c.seed)
	case c.rate > maxRate:
		return fmt.Errorf("--rate must be at most %d lines per second, got %d", maxRate, c.rate)
	case c.interval < minInterval:
		return fmt.Errorf("--interval must be at least %v, got %v", minInterval, c.interval)
	case c.duration < 0:
		return fmt.Errorf("--duration must not be negative (0 runs until Ctrl-C), got %v", c.duration)
	case c.maxRate < 0 || math.IsNaN(c.maxRate) || math.IsInf(c.maxRate, 0):
		return fmt.Errorf("--max-rate must be a number of lines per second ≥ 0 (0: no limit), got %v", c.maxRate)
	case c.port < 1 || c.port > 65535:
		return fmt.Errorf("--port must be in 1..65535, got %d", c.port)
	case c.host == "":
		return fmt.Errorf("--host must not be empty")
	case c.noUI && (set["ui-addr"] || set["ui-kill"]):
		return fmt.Errorf("--no-ui turns the UI off; drop --ui-addr and --ui-kill, or --no-ui")
	}
	if !c.batch && !c.noUI {
		if err := checkHostPort(c.uiAddr); err != nil {
			return fmt.Errorf("--ui-addr %w", err)
		}
	}
	return nil
}

// checkHostPort checks a host:port address whose port may be 0.
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, such as 127.0.0.1:4040, got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number in 0..65535 (0: any free port), got %q", port)
	}
	return nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg demoConfig
	fs := demoFlags(&cfg)
	if code, ok := parseFlags(fs, args, demoUsage, stdout, stderr); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.kafka && !set["source"] {
		cfg.source = sourceKafka
	}
	if err := cfg.validate(set); err != nil {
		fmt.Fprintf(stderr, "spate demo: %v\nRun \"spate help demo\" for usage.\n", err)
		return exitUsage
	}
	if !cfg.batch {
		return runStreamDemo(ctx, cfg, stdout, stderr)
	}
	err := demo(ctx, cfg, stdout)
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "spate demo: interrupted, job cancelled (%v)\n", err)
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "spate demo: %v\n", err)
		return exitFailure
	}
}

// demo runs the batch word count described by cfg and prints its report
// to w.
func demo(ctx context.Context, cfg demoConfig, w io.Writer) error {
	spec := corpus.Config{Words: cfg.words, Distinct: cfg.distinct, WordsPerLine: wordsPerLine, Seed: cfg.seed}
	fmt.Fprintf(w, "spate demo: word count on spate's execution core\n\n")

	t0 := time.Now()
	lines := corpus.Lines(spec)
	fmt.Fprintf(w, "corpus   %s\n", spec)
	fmt.Fprintf(w, "         %d lines of %d words, generated in %s\n", len(lines), wordsPerLine, formatDuration(time.Since(t0)))
	if err := ctx.Err(); err != nil {
		return err
	}

	ec, err := engine.New(engine.Slots(cfg.slots))
	if err != nil {
		return err
	}
	defer ec.Close()
	var log jobLog
	defer ec.Bus().Subscribe(&log)()
	fmt.Fprintf(w, "engine   %d slots, %d partitions\n\n", ec.Slots(), cfg.partitions)

	// Cached, so that sampling the counts for the sort and the sort itself
	// share one computation of them.
	counts := wordCount(ec, lines, cfg.partitions).Persist()
	start := time.Now()
	top, err := topWords(ctx, counts, cfg.top)
	wall := time.Since(start)

	// Wait for the events of the jobs, even after a cancellation.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ferr := ec.Bus().Flush(flushCtx); ferr != nil && err == nil {
		err = fmt.Errorf("waiting for the job's events: %w", ferr)
	}
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "lineage of the word counts (ToDebugString):\n%s\n\n", counts.ToDebugString())

	fmt.Fprintf(w, "top %d words:\n", len(top))
	tw := table{head: []string{"rank", "word", "count"}, right: []bool{true, false, true}}
	for i, p := range top {
		tw.add(strconv.Itoa(i+1), p.Key, strconv.Itoa(p.Value))
	}
	tw.write(w)

	fmt.Fprintf(w, "\nstages:\n")
	st := table{
		head:  []string{"job", "stage", "name", "tasks", "records read", "records written", "duration"},
		right: []bool{true, true, false, true, true, true, true},
	}
	for _, s := range log.sortedStages() {
		if s.skipped {
			st.add(strconv.Itoa(s.job), strconv.Itoa(s.stage), s.name, "", "", "", "skipped")
			continue
		}
		st.add(strconv.Itoa(s.job), strconv.Itoa(s.stage), s.name, strconv.Itoa(s.tasks),
			strconv.FormatInt(s.read, 10), strconv.FormatInt(s.written, 10), formatDuration(s.duration))
	}
	st.write(w)

	fmt.Fprintf(w, "\njobs:\n")
	jt := table{head: []string{"job", "action", "duration"}, right: []bool{true, false, true}}
	for _, j := range log.sortedJobs() {
		jt.add(strconv.Itoa(j.id), j.description, formatDuration(j.duration))
	}
	jt.write(w)

	fmt.Fprintf(w, "\ntotal    %d words counted in %s: %s words/s\n",
		cfg.words, formatDuration(wall), formatRate(float64(cfg.words)/wall.Seconds()))
	return nil
}

// wordCount is the classic first job: the number of occurrences of each
// word of lines.
func wordCount(ec *engine.Context, lines []string, partitions int) *rdd.RDD[rdd.Pair[string, int]] {
	text := rdd.Parallelize(ec, lines, partitions)
	words := rdd.FlatMap(text, strings.Fields)
	ones := rdd.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
	return rdd.ReduceByKey(ones, func(a, b int) int { return a + b })
}

// topWords returns the n most frequent words of counts, by count
// descending and then by word ascending, so that ties print in the same
// order on every run. It sorts the (count, word) pairs by count on the
// engine and takes from the front; when the n-th count is tied with the
// ones after it, it takes more until it has every word of that count.
func topWords(ctx context.Context, counts *rdd.RDD[rdd.Pair[string, int]], n int) ([]rdd.Pair[string, int], error) {
	byCount := rdd.Map(counts, func(p rdd.Pair[string, int]) rdd.Pair[int, string] { return rdd.KV(p.Value, p.Key) })
	sorted := rdd.SortByKey(byCount, false)
	for k := n + 1; ; k *= 2 {
		got, err := sorted.Take(ctx, k)
		if err != nil {
			return nil, err
		}
		if len(got) == k && got[k-1].Key == got[n-1].Key {
			continue // the tie at rank n may go on past k
		}
		slices.SortFunc(got, func(a, b rdd.Pair[int, string]) int {
			return cmp.Or(cmp.Compare(b.Key, a.Key), cmp.Compare(a.Value, b.Value))
		})
		top := make([]rdd.Pair[string, int], 0, n)
		for _, p := range got[:min(n, len(got))] {
			top = append(top, rdd.KV(p.Value, p.Key))
		}
		return top, nil
	}
}

// jobLog records the job and stage events of the demo's engine context.
type jobLog struct {
	mu     sync.Mutex
	jobs   map[int]*jobRecord
	stages []stageRecord
}

type jobRecord struct {
	id          int
	description string
	stageIDs    []int // parents before children
	duration    time.Duration
	err         error
}

type stageRecord struct {
	job, stage    int
	name          string
	tasks         int
	read, written int64
	duration      time.Duration
	skipped       bool
}

var _ metrics.Listener = (*jobLog)(nil)

// OnEvent implements metrics.Listener.
func (l *jobLog) OnEvent(e metrics.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.jobs == nil {
		l.jobs = map[int]*jobRecord{}
	}
	job := func(id int) *jobRecord {
		j := l.jobs[id]
		if j == nil {
			j = &jobRecord{id: id}
			l.jobs[id] = j
		}
		return j
	}
	switch e := e.(type) {
	case metrics.JobStarted:
		j := job(e.JobID)
		j.description, j.stageIDs = e.Description, e.StageIDs
	case metrics.JobEnded:
		j := job(e.JobID)
		j.duration, j.err = e.Duration, e.Err
	case metrics.StageCompleted:
		l.stages = append(l.stages, stageRecord{job: e.JobID, stage: e.StageID, name: e.Name, tasks: e.NumTasks,
			read: e.RecordsRead, written: e.RecordsWritten, duration: e.Duration})
	case metrics.StageSkipped:
		l.stages = append(l.stages, stageRecord{job: e.JobID, stage: e.StageID, name: e.Name, skipped: true})
	}
}

// sortedStages returns the recorded stages by job and, within a job,
// parents before children (the order of JobStarted.StageIDs).
func (l *jobLog) sortedStages() []stageRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := slices.Clone(l.stages)
	rank := func(r stageRecord) int {
		if j := l.jobs[r.job]; j != nil {
			if i := slices.Index(j.stageIDs, r.stage); i >= 0 {
				return i
			}
		}
		return len(s) + r.stage
	}
	slices.SortStableFunc(s, func(a, b stageRecord) int { return cmp.Or(cmp.Compare(a.job, b.job), cmp.Compare(rank(a), rank(b))) })
	return s
}

// sortedJobs returns the recorded jobs by ID.
func (l *jobLog) sortedJobs() []jobRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var js []jobRecord
	for _, j := range l.jobs {
		js = append(js, *j)
	}
	slices.SortFunc(js, func(a, b jobRecord) int { return cmp.Compare(a.id, b.id) })
	return js
}

// table prints rows in aligned columns, each left- or right-aligned.
type table struct {
	head  []string
	right []bool
	rows  [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	widths := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range append([][]string{t.head}, t.rows...) {
		var b strings.Builder
		b.WriteString(" ")
		for i, c := range r {
			b.WriteString(" ")
			switch {
			case t.right[i]:
				fmt.Fprintf(&b, "%*s", widths[i], c)
			case i == len(r)-1:
				b.WriteString(c)
			default:
				fmt.Fprintf(&b, "%-*s", widths[i], c)
			}
			if i < len(r)-1 {
				b.WriteString(" ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// formatDuration rounds d to about four significant digits.
func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// formatRate formats a per-second rate with a k or M suffix.
func formatRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	default:
		return fmt.Sprintf("%.0f", r)
	}
}
