package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spate-io/spate/cmd/spate/benchsuite"
)

// benchConfig holds the flags of "spate bench".
type benchConfig struct {
	list, short bool
	queries     string
	events      count
	duration    optDuration
	rate        count
	interval    time.Duration
	batchEvents count
	partitions  autoInt
	slots       autoInt
	seed        uint64
	parser      string
	eventRate   count
	api         string
	jsonPath    string
	checkpoint  string
	write       string
	cpuProfile  string
}

// Sizes of a --short run: enough batches for windows to open, close and
// time out, small enough for CI.
const (
	shortEvents      = 50_000
	shortBatchEvents = 6_000
	shortEventRate   = 2_000 // 25 s of event time: several 10 s windows
)

// count is a flag value for event counts and rates: 10M, 1.5K, 2G, 1e6 or
// plain digits.
type count float64

// String is empty for 0, which stands for "the default" (so that usage
// does not print "(default 0)").
func (c *count) String() string {
	if c == nil || *c == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(*c), 'f', -1, 64)
}

func (c *count) Set(s string) error {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "K"), strings.HasSuffix(s, "k"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1e9, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return fmt.Errorf("want a non-negative number such as 500000, 10M or 1.5K")
	}
	*c = count(v * mult)
	return nil
}

// autoInt is an int flag whose 0 means "chosen automatically".
type autoInt int

func (a *autoInt) String() string {
	if a == nil || *a == 0 {
		return ""
	}
	return strconv.Itoa(int(*a))
}

func (a *autoInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("want an integer")
	}
	*a = autoInt(v)
	return nil
}

// optDuration is a duration flag whose 0 means "not given".
type optDuration time.Duration

func (d *optDuration) String() string {
	if d == nil || *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}

func (d *optDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 30s or 2m")
	}
	*d = optDuration(v)
	return nil
}

func benchFlags(cfg *benchConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&cfg.list, "list", false, "list the benchmarks, their queries and variants, and exit")
	fs.BoolVar(&cfg.short, "short", false, fmt.Sprintf("smoke run: %d events per query in batches of %d, checking every result against the baseline", shortEvents, shortBatchEvents))
	fs.StringVar(&cfg.queries, "query", "", "run only the queries `Q[,Q...]` (e.g. q5 or q0,q7; see --list)")
	fs.Var(&cfg.events, "events", "process `N` events per query, e.g. 10M or 500K (default 10M, or rate × duration)")
	fs.Var(&cfg.duration, "duration", "run each query for `DURATION` (unpaced: as many events as it gets through; with --rate: rate × duration events)")
	fs.Var(&cfg.rate, "rate", "pace the source at `N` events per second and report end-to-end latency (0: unpaced, a throughput run)")
	fs.DurationVar(&cfg.interval, "interval", 50*time.Millisecond, "cut a paced run into batches of `DURATION`")
	fs.Var(&cfg.batchEvents, "batch-events", "put `N` events in each batch of an unpaced run (default 1M)")
	fs.Var(&cfg.partitions, "partitions", "read `N` source partitions, i.e. tasks per batch (default GOMAXPROCS)")
	fs.Var(&cfg.slots, "slots", "run at most `N` tasks at once (default GOMAXPROCS)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "generate the events from seed `N`")
	fs.StringVar(&cfg.parser, "parser", benchsuite.ParserFast, "parse YSB events with `NAME`: fast (hand-written) or encoding/json")
	fs.Var(&cfg.eventRate, "event-rate", "advance event time by 1 s per `N` events in an unpaced run (default 1M for ysb, 10M for nexmark)")
	fs.StringVar(&cfg.api, "api", "", "APIs `A[,A...]` to run: dstream, dataframe, sql, all (the handloop baseline always runs with them) (default dstream; all with --short)")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the results as JSON to `FILE`")
	fs.StringVar(&cfg.checkpoint, "checkpoint-dir", "", "checkpoint stateful queries under `DIR` (default: a temporary directory, removed afterwards)")
	fs.StringVar(&cfg.write, "write", "", "write the events of the benchmark (ysb or nexmark) as JSON lines to `FILE` instead of running it (- for stdout; kafka://host:port/topic for a Kafka topic, one event per record)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to `FILE`")
	return fs
}

func benchUsage(w io.Writer) {
	fs := benchFlags(new(benchConfig))
	fmt.Fprint(w, `Usage: spate bench --list
       spate bench <ysb|nexmark|all> [flags]

Runs the Yahoo Streaming Benchmark and Nexmark queries on spate and, on the
same generated events, a hand-written single-threaded Go loop per query (the
baseline); checks that each engine result equals the baseline's and prints
events/s, events/s per core, the ratio to the baseline, latency or batch times,
peak RSS and GC pauses as a Markdown table (one row per query and API).

APIs (--api): dstream (the default), dataframe (Structured Streaming:
ReadStream/StreamFrom ... WriteStream), sql (the same over a streaming
temporary view; needs a build with cgo, else reported as skipped), or all;
--short runs all by default. The baseline runs with any of them. A query the
DataFrame engine cannot express yet (stream-stream joins, several
aggregations) is reported as unsupported, with the reason; --list shows which
(query, api) pairs exist. The DataFrame and SQL variants run unpaced only:
YSB reads its events as JSON files written beforehand (the engine parses the
JSON), Nexmark reads the generator as an Arrow source.

Events come from built-in deterministic generators (no Kafka needed). Unpaced
(the default), batches of --batch-events run back to back: a throughput run.
With --rate, the source makes events available at that rate in real time and
batches run every --interval: the run reports the latency from an event's
creation to the end of the output of the batch that wrote it into the sink.

Examples:
  spate bench --list
  spate bench ysb --duration 30s
  spate bench nexmark --query q5 --events 10M
  spate bench ysb --api dataframe --events 5M
  spate bench nexmark --query q0,q1,q2 --api all --events 10M
  spate bench ysb --rate 1M --duration 30s --interval 50ms
  spate bench all --short
  spate bench nexmark --write events.json --events 1M
  spate bench ysb --write kafka://127.0.0.1:9092/ad-events --events 1M

Flags:
`)
	printFlags(w, fs, "list", "short", "query", "events", "duration", "rate", "interval", "batch-events", "partitions", "slots", "seed", "parser", "event-rate", "api", "json", "checkpoint-dir", "write", "cpuprofile")
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg benchConfig
	benchmark := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		benchmark, args = args[0], args[1:]
	}
	fs := benchFlags(&cfg)
	if code, ok := parseFlags(fs, args, benchUsage, stdout, stderr); !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "spate bench: "+format+"\nRun \"spate help bench\" for usage.\n", a...)
		return exitUsage
	}
	if cfg.list {
		if err := benchsuite.WriteList(stdout); err != nil {
			fmt.Fprintf(stderr, "spate bench: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	if benchmark == "" {
		return usageErr("name a benchmark: ysb, nexmark or all (or --list)")
	}
	var names []string
	if cfg.queries != "" {
		names = strings.Split(cfg.queries, ",")
	}
	queries, err := benchsuite.Select(benchmark, names)
	if err != nil {
		return usageErr("%v", err)
	}
	p := benchsuite.Params{
		Events: int64(cfg.events), Duration: time.Duration(cfg.duration), Rate: float64(cfg.rate), Interval: cfg.interval,
		BatchEvents: int64(cfg.batchEvents), Partitions: int(cfg.partitions), Slots: int(cfg.slots), Seed: cfg.seed,
		Parser: cfg.parser, EventRate: int64(cfg.eventRate), CheckpointDir: cfg.checkpoint,
	}
	api := cfg.api
	if api == "" {
		api = "dstream"
		if cfg.short {
			api = "all"
		}
	}
	for _, v := range strings.Split(api, ",") {
		if v = strings.TrimSpace(v); v != "" {
			p.Variants = append(p.Variants, v)
		}
	}
	if cfg.short {
		if cfg.events > 0 || cfg.duration > 0 || cfg.rate > 0 {
			return usageErr("--short sets its own sizes; drop --events, --duration and --rate")
		}
		p.Events, p.BatchEvents = shortEvents, shortBatchEvents
		if p.EventRate == 0 {
			p.EventRate = shortEventRate
		}
	} else if p.Events == 0 && p.Duration == 0 {
		p.Events = 10_000_000
	}
	if cfg.write != "" {
		return benchWrite(ctx, cfg, benchmark, p, stdout, stderr)
	}
	if err := p.Validate(); err != nil {
		return usageErr("%v", err)
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "spate bench: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "spate bench: %v\n", err)
			return exitFailure
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stderr, "spate bench: %d queries, variants %s\n", len(queries), strings.Join(p.Variants, ", "))
	ms, err := benchsuite.Run(ctx, queries, p, func(m benchsuite.Measurement) {
		line := fmt.Sprintf("  %-11s %-9s %s", m.Query, m.Variant, m.Status)
		if m.Status == "ok" || m.Status == "mismatch" || m.Status == "behind" {
			line += fmt.Sprintf("  %d events in %.2fs: %.0f events/s", m.Events, m.Seconds, m.EventsPerSec)
		}
		if m.Error != "" {
			line += ": " + m.Error
		}
		fmt.Fprintln(stderr, line)
	})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "spate bench: interrupted: %v\n", err)
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "spate bench: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout)
	if err := benchsuite.WriteMarkdown(stdout, ms); err != nil {
		fmt.Fprintf(stderr, "spate bench: %v\n", err)
		return exitFailure
	}
	if cfg.jsonPath != "" {
		if err := writeBenchJSON(cfg.jsonPath, benchsuite.NewReport(p, ms)); err != nil {
			fmt.Fprintf(stderr, "spate bench: %v\n", err)
			return exitFailure
		}
	}
	failed := 0
	for _, m := range ms {
		if m.Status == "mismatch" || m.Status == "error" {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "spate bench: %d runs failed or did not match their baseline\n", failed)
		return exitFailure
	}
	return exitOK
}

func writeBenchJSON(path string, r benchsuite.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchWrite writes a benchmark's events to a file.
func benchWrite(ctx context.Context, cfg benchConfig, benchmark string, p benchsuite.Params, stdout, stderr io.Writer) int {
	if benchmark != "ysb" && benchmark != "nexmark" {
		fmt.Fprintf(stderr, "spate bench: --write needs ysb or nexmark, got %q\n", benchmark)
		return exitUsage
	}
	if p.Events == 0 {
		fmt.Fprintf(stderr, "spate bench: --write needs --events\n")
		return exitUsage
	}
	if strings.HasPrefix(cfg.write, "kafka://") {
		target, err := parseKafkaTarget(cfg.write)
		if err != nil {
			fmt.Fprintf(stderr, "spate bench: %v\n", err)
			return exitUsage
		}
		n, err := writeEventsToKafka(ctx, target, benchmark, p, p.Events)
		if err != nil {
			fmt.Fprintf(stderr, "spate bench: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "wrote %d %s events to topic %s\n", n, benchmark, target.topic)
		return exitOK
	}
	w, closeFn := stdout, func() error { return nil }
	if cfg.write != "-" {
		f, err := os.Create(cfg.write)
		if err != nil {
			fmt.Fprintf(stderr, "spate bench: %v\n", err)
			return exitFailure
		}
		w, closeFn = f, f.Close
	}
	err := benchsuite.WriteEvents(ctx, w, benchmark, p, p.Events)
	if cerr := closeFn(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "spate bench: %v\n", err)
		return exitFailure
	}
	return exitOK
}
