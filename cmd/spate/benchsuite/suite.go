package benchsuite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The variants of a query, by API.
const (
	VariantDStream   = "dstream"   // the DStream API
	VariantHandloop  = "handloop"  // the hand-written single-threaded baseline
	VariantDataFrame = "dataframe" // the DataFrame API (Structured Streaming)
	VariantSQL       = "sql"       // SQL over a streaming temporary view (needs cgo)
	// VariantAll, in Params.Variants, stands for every variant.
	VariantAll = "all"
)

// AllVariants lists every variant, implemented or not, in report order.
var allVariants = []string{VariantDStream, VariantDataFrame, VariantSQL, VariantHandloop}

// AllVariants returns every variant name, implemented or not.
func AllVariants() []string { return slices.Clone(allVariants) }

// Query is one benchmark query.
type Query struct {
	Benchmark string // "ysb" or "nexmark"
	Name      string // "ysb", "q0", ...
	Title     string
	Stateful  bool
	// Window is the event-time window of a windowed query (0: none).
	Window time.Duration
	run    queryRunner
	// structured is the query's DataFrame and SQL variants; nil when the
	// engine cannot express it yet, for the reason in unsupported.
	structured  *structuredSpec
	unsupported string
}

// ID is "ysb" for YSB and "nexmark/qN" for Nexmark.
func (q Query) ID() string {
	if q.Benchmark == q.Name {
		return q.Name
	}
	return q.Benchmark + "/" + q.Name
}

// Implemented reports whether the query has variant v.
func (q Query) Implemented(v string) bool {
	switch v {
	case VariantDStream, VariantHandloop:
		return true
	case VariantDataFrame, VariantSQL:
		return q.structured != nil
	}
	return false
}

// Unsupported returns why the query has no DataFrame and SQL variants
// ("" when it has them).
func (q Query) Unsupported() string { return q.unsupported }

// queryRunner runs the variants of a query.
type queryRunner interface {
	// dstream runs the query on a DirectStream over the generator.
	dstream(ctx context.Context, q Query, p Params) (*Measurement, error)
	// handloop runs the baseline over events 0..n-1 of the generator of
	// g (the same configuration the DStream run used).
	handloop(ctx context.Context, q Query, p Params, g genConfig, n int64) (Result, error)
	// defaultRate is the generator's default event-time rate (events per
	// second of event time).
	defaultRate() int64
}

// genConfig is what a generator depends on besides its seed.
type genConfig struct {
	Seed      uint64
	BaseMs    int64 // event time of event 0
	EventRate int64 // events per second of event time
}

// Queries returns every query of the suite, in report order.
func Queries() []Query {
	return []Query{
		{Benchmark: "ysb", Name: "ysb", Title: "Yahoo Streaming Benchmark: views per campaign per 10 s window", Stateful: true, Window: 10 * time.Second, run: ysbSpec(),
			structured: ysbStructured()},
		{Benchmark: "nexmark", Name: "q0", Title: "pass-through", run: nexmarkQ0(), structured: nexmarkQ0Structured()},
		{Benchmark: "nexmark", Name: "q1", Title: "currency conversion", run: nexmarkQ1(), structured: nexmarkQ1Structured()},
		{Benchmark: "nexmark", Name: "q2", Title: "selection (auction % 123 = 0)", run: nexmarkQ2(), structured: nexmarkQ2Structured()},
		{Benchmark: "nexmark", Name: "q3", Title: "local item suggestion (auction ⋈ person, unwindowed)", Stateful: true, run: nexmarkQ3(),
			structured: nexmarkQ3Structured()},
		{Benchmark: "nexmark", Name: "q4", Title: "average price per category (auction ⋈ bid, max per auction, average per category)", Stateful: true, run: nexmarkQ4(),
			unsupported: "needs an aggregation over an aggregation whose groups never become final (the maximum bid per auction has no event-time window to close, then the average per category); an aggregation feeding another stateful operator must be windowed with a watermark, so that it writes each group once"},
		{Benchmark: "nexmark", Name: "q5", Title: "hot items (sliding window 10 s, slide 2 s)", Stateful: true, Window: 10 * time.Second, run: nexmarkQ5(),
			structured: nexmarkQ5Structured()},
		{Benchmark: "nexmark", Name: "q7", Title: "highest bid (tumbling window 10 s)", Stateful: true, Window: 10 * time.Second, run: nexmarkQ7(),
			structured: nexmarkQ7Structured()},
		{Benchmark: "nexmark", Name: "q8", Title: "new users with auctions (person ⋈ auction per 10 s window)", Stateful: true, Window: 10 * time.Second, run: nexmarkQ8(),
			structured: nexmarkQ8Structured()},
	}
}

// Select returns the queries of benchmark ("ysb", "nexmark" or "all")
// named in names (all of the benchmark's when names is empty). Errors list
// what is valid.
func Select(benchmark string, names []string) ([]Query, error) {
	all := Queries()
	var pool []Query
	switch benchmark {
	case "all":
		pool = all
	case "ysb", "nexmark":
		for _, q := range all {
			if q.Benchmark == benchmark {
				pool = append(pool, q)
			}
		}
	default:
		return nil, fmt.Errorf("unknown benchmark %q: want ysb, nexmark or all", benchmark)
	}
	if len(names) == 0 {
		return pool, nil
	}
	var out []Query
	for _, n := range names {
		i := slices.IndexFunc(pool, func(q Query) bool { return q.Name == n || q.ID() == n })
		if i < 0 {
			valid := make([]string, len(pool))
			for j, q := range pool {
				valid[j] = q.Name
			}
			return nil, fmt.Errorf("unknown query %q for %s: valid queries are %s", n, benchmark, strings.Join(valid, ", "))
		}
		if !slices.ContainsFunc(out, func(q Query) bool { return q.ID() == pool[i].ID() }) {
			out = append(out, pool[i])
		}
	}
	return out, nil
}

// Params configures a run.
type Params struct {
	// Events is the number of events to process. 0 with a Duration: an
	// unpaced run goes on until Duration has passed; a paced run makes
	// Rate × Duration events.
	Events int64
	// Duration bounds the run (see Events).
	Duration time.Duration
	// Rate paces the source at this many events per second (a latency
	// run on the wall clock). 0: unpaced (a throughput run, batches
	// stepped one after another on a manual clock).
	Rate float64
	// Interval is the batch interval of a paced run. Default: 50 ms.
	Interval time.Duration
	// BatchEvents is the number of events per batch of an unpaced run.
	// Default: 1,000,000.
	BatchEvents int64
	// Partitions is the number of source partitions (RDD partitions per
	// batch). Default: GOMAXPROCS.
	Partitions int
	// Slots is the number of engine worker slots. Default: GOMAXPROCS.
	Slots int
	// Seed seeds the generators. Default: 1.
	Seed uint64
	// Parser is the YSB JSON parser: "fast" or "encoding/json". Default:
	// fast.
	Parser string
	// EventRate is the event-time rate (events per second of event time)
	// of an unpaced run. Default: 1M for YSB, 10M for Nexmark (its
	// suite's tps). A paced run uses Rate.
	EventRate int64
	// CheckpointDir is where stateful queries checkpoint. Default: a new
	// temporary directory, removed afterwards.
	CheckpointDir string
	// Variants are the variants to run ("all": every one). The baseline
	// (handloop) is added whenever an engine variant runs, so that every
	// result is checked. Default: dstream and handloop.
	Variants []string
	// Drain bounds how long a paced run may take past its Duration before
	// it is stopped as fallen behind. Default: 30 s.
	Drain time.Duration
}

// Validate fills in defaults and checks p; errors name the setting.
func (p *Params) Validate() error {
	if p.Events < 0 {
		return fmt.Errorf("events must not be negative, got %d", p.Events)
	}
	if p.Duration < 0 {
		return fmt.Errorf("duration must not be negative, got %v", p.Duration)
	}
	if p.Rate < 0 {
		return fmt.Errorf("rate must not be negative, got %v", p.Rate)
	}
	if p.Events == 0 && p.Duration == 0 {
		return errors.New("give a number of events or a duration")
	}
	if p.Rate > 0 && p.Events == 0 {
		p.Events = int64(p.Rate * p.Duration.Seconds())
		if p.Events < 1 {
			return fmt.Errorf("rate × duration is less than one event (rate %v, duration %v)", p.Rate, p.Duration)
		}
	}
	if p.Interval == 0 {
		p.Interval = 50 * time.Millisecond
	}
	if p.Interval < time.Millisecond {
		return fmt.Errorf("interval must be at least 1ms, got %v", p.Interval)
	}
	if p.BatchEvents == 0 {
		p.BatchEvents = 1_000_000
	}
	if p.BatchEvents < 1 {
		return fmt.Errorf("batch events must be at least 1, got %d", p.BatchEvents)
	}
	if p.Partitions == 0 {
		p.Partitions = runtime.GOMAXPROCS(0)
	}
	if p.Partitions < 1 || p.Partitions > 1024 {
		return fmt.Errorf("partitions must be in [1, 1024], got %d", p.Partitions)
	}
	if p.Slots == 0 {
		p.Slots = runtime.GOMAXPROCS(0)
	}
	if p.Slots < 1 {
		return fmt.Errorf("slots must be at least 1, got %d", p.Slots)
	}
	if p.Seed == 0 {
		p.Seed = 1
	}
	if _, err := YSBParserByName(p.Parser); err != nil {
		return err
	}
	if p.Parser == "" {
		p.Parser = ParserFast
	}
	if p.EventRate < 0 {
		return fmt.Errorf("event rate must not be negative, got %d", p.EventRate)
	}
	if len(p.Variants) == 0 {
		p.Variants = []string{VariantDStream, VariantHandloop}
	}
	var vs []string
	for _, v := range p.Variants {
		switch {
		case v == VariantAll:
			vs = append(vs, allVariants...)
		case slices.Contains(allVariants, v):
			vs = append(vs, v)
		default:
			return fmt.Errorf("unknown variant %q: want one of %s, or all", v, strings.Join(allVariants, ", "))
		}
	}
	if len(vs) > 0 && !slices.Contains(vs, VariantHandloop) {
		vs = append(vs, VariantHandloop)
	}
	// In report order, each once.
	p.Variants = slices.DeleteFunc(slices.Clone(allVariants), func(v string) bool { return !slices.Contains(vs, v) })
	if p.Drain == 0 {
		p.Drain = 30 * time.Second
	}
	return nil
}

// paced reports whether p is a latency run.
func (p Params) paced() bool { return p.Rate > 0 }
