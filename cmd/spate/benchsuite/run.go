package benchsuite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

// Measurement is the outcome of one variant of one query.
type Measurement struct {
	Query   string `json:"query"` // "ysb", "nexmark/q5"
	Variant string `json:"variant"`
	// API is the variant again, under the name the report's column has.
	API string `json:"api"`
	// Status is "ok", "mismatch" (the result differs from the
	// baseline's), "unsupported" (the engine cannot express the query in
	// this API yet; Error says why), "skipped" (the variant does not run
	// in this kind of run or build; Error says why), "behind" (a paced
	// run could not keep up) or "error".
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	Mode   string `json:"mode,omitempty"` // "throughput" or "paced"

	Events       int64   `json:"events"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
	// Cores is the number of cores the events per core are counted over:
	// GOMAXPROCS for the engine, 1 for the baseline.
	Cores               int     `json:"cores"`
	EventsPerSecPerCore float64 `json:"events_per_sec_per_core"`
	// CPUCores is the CPU time used over the wall time (getrusage of the
	// whole process).
	CPUCores float64 `json:"cpu_cores"`
	// RatioPerCore is (events/s per core) ÷ the baseline's events/s;
	// RatioWall is events/s ÷ the baseline's events/s.
	RatioPerCore float64 `json:"ratio_per_core,omitempty"`
	RatioWall    float64 `json:"ratio_wall,omitempty"`
	// EventsPerCPUSec is events ÷ the CPU time the process used during
	// the run; RatioCPU is that ÷ the baseline's. Unlike the per-core
	// ratio, it does not depend on getting every core on a shared
	// machine.
	EventsPerCPUSec float64 `json:"events_per_cpu_sec"`
	RatioCPU        float64 `json:"ratio_cpu,omitempty"`

	// LatencyP50Ms and LatencyP99Ms (paced runs): from an event's
	// creation (the time the source made it available) to the end of the
	// output operation of the batch that wrote it into the sink.
	LatencyP50Ms float64 `json:"latency_p50_ms,omitempty"`
	LatencyP99Ms float64 `json:"latency_p99_ms,omitempty"`
	// BatchP50Ms and BatchP99Ms (throughput runs): the wall time of one
	// batch (generation, processing and output of BatchEvents events).
	BatchP50Ms float64 `json:"batch_p50_ms,omitempty"`
	BatchP99Ms float64 `json:"batch_p99_ms,omitempty"`

	// StateRows (DataFrame and SQL variants): the rows in the stateful
	// operators' state after the last batch (progress's numRowsTotal,
	// summed), what the state kept rather than evicted.
	StateRows int64 `json:"state_rows,omitempty"`

	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	GCPauseMs   float64 `json:"gc_pause_ms"`
	GCCycles    uint32  `json:"gc_cycles"`
	AllocMiB    float64 `json:"alloc_mib"`
	Result      Result  `json:"result"`
	MatchesHand *bool   `json:"matches_handloop,omitempty"`
	genCfg      genConfig
}

// Run runs the variants p.Variants of every query and returns one
// measurement per query and variant. A variant the engine cannot express
// is reported "unsupported", one that cannot run here "skipped". The
// DStream run goes first, then the DataFrame and SQL runs over the same
// events; the baseline then processes the same events (the same count,
// generator configuration and seed), and every engine result must equal
// the baseline's.
func Run(ctx context.Context, queries []Query, p Params, progress func(Measurement)) ([]Measurement, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Measurement) {}
	}
	var out []Measurement
	for _, q := range queries {
		ms, err := runQuery(ctx, q, p, progress)
		out = append(out, ms...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func runQuery(ctx context.Context, q Query, p Params, progress func(Measurement)) ([]Measurement, error) {
	var out []Measurement
	emit := func(m Measurement) {
		m.API = m.Variant
		out = append(out, m)
		progress(m)
	}
	var ds *Measurement
	if slices.Contains(p.Variants, VariantDStream) {
		m, err := q.run.dstream(ctx, q, p)
		if err != nil {
			if ctx.Err() != nil {
				return out, err
			}
			m = &Measurement{Query: q.ID(), Variant: VariantDStream, Status: "error", Error: err.Error()}
		}
		ds = m
	}
	engines := []*Measurement{}
	if ds != nil {
		engines = append(engines, ds)
	}
	for _, v := range []string{VariantDataFrame, VariantSQL} {
		if !slices.Contains(p.Variants, v) {
			continue
		}
		m, err := runStructured(ctx, q, p, v, ds)
		if err != nil {
			if ctx.Err() != nil {
				return out, err
			}
			m = &Measurement{Query: q.ID(), Variant: v, Status: "error", Error: err.Error()}
		}
		engines = append(engines, m)
	}
	var hand *Measurement
	if slices.Contains(p.Variants, VariantHandloop) {
		n, gc := p.Events, genConfig{Seed: p.Seed}
		for _, m := range engines {
			if m.Status == "ok" || m.Status == "behind" {
				n, gc = m.Events, m.genCfg
				break
			}
		}
		if n == 0 {
			n = 10_000_000 // a duration-only run without the engine side
		}
		m, err := measureHandloop(ctx, q, p, gc, n)
		if err != nil {
			if ctx.Err() != nil {
				return out, err
			}
			m = &Measurement{Query: q.ID(), Variant: VariantHandloop, Status: "error", Error: err.Error()}
		}
		hand = m
	}
	for _, ds := range engines {
		if hand != nil && hand.Status == "ok" && (ds.Status == "ok" || ds.Status == "behind") {
			match := ds.Result == hand.Result
			ds.MatchesHand = &match
			if !match {
				ds.Status = "mismatch"
			}
			if hand.EventsPerSec > 0 && ds.Mode == "throughput" { // a paced run goes only as fast as its rate
				ds.RatioWall = ds.EventsPerSec / hand.EventsPerSec
				ds.RatioPerCore = ds.EventsPerSecPerCore / hand.EventsPerSec
			}
			if hand.EventsPerCPUSec > 0 {
				ds.RatioCPU = ds.EventsPerCPUSec / hand.EventsPerCPUSec
			}
		}
		emit(*ds)
	}
	if hand != nil {
		emit(*hand)
	}
	return out, nil
}

// runStructured runs the DataFrame or SQL variant v of q, over the events
// the DStream run processed (ds, when it ran) or p.Events events.
func runStructured(ctx context.Context, q Query, p Params, v string, ds *Measurement) (*Measurement, error) {
	skip := func(status, why string) (*Measurement, error) {
		return &Measurement{Query: q.ID(), Variant: v, Status: status, Error: why}, nil
	}
	if !q.Implemented(v) {
		return skip(StatusUnsupported, q.Unsupported())
	}
	if p.paced() {
		return skip(StatusSkipped, "paced runs (--rate) exist for the dstream variant only")
	}
	n := p.Events
	gc := genConfig{Seed: p.Seed, BaseMs: defaultBaseMs, EventRate: cmpOr(p.EventRate, q.run.defaultRate())}
	if ds != nil && ds.Status == "ok" {
		n, gc = ds.Events, ds.genCfg
	}
	if n == 0 {
		return skip(StatusSkipped, "a duration-only run needs the dstream variant to fix the number of events; give --events")
	}
	if why := q.structured.memoryCheck(n); why != "" {
		return skip(StatusSkipped, why)
	}
	return q.structured.run(ctx, q, p, v, gc, n)
}

func measureHandloop(ctx context.Context, q Query, p Params, gc genConfig, n int64) (*Measurement, error) {
	runtime.GC()
	before := takeSnapshot(true)
	res, err := q.run.handloop(ctx, q, p, gc, n)
	if err != nil {
		return nil, err
	}
	after := takeSnapshot(false)
	m := &Measurement{Query: q.ID(), Variant: VariantHandloop, Status: "ok", Mode: "throughput", Events: n, Cores: 1, Result: res}
	m.fill(before, after)
	return m, nil
}

// fill sets the rates and process figures from two snapshots.
func (m *Measurement) fill(before, after procSnapshot) {
	wall := after.wall.Sub(before.wall)
	m.fillRates(wall)
	cpu := after.cpu - before.cpu
	if wall > 0 {
		m.CPUCores = cpu.Seconds() / wall.Seconds()
	}
	if cpu > 0 {
		m.EventsPerCPUSec = float64(m.Events) / cpu.Seconds()
	}
	if before.rssReset {
		m.PeakRSSMiB = float64(peakRSS()) / (1 << 20)
	}
	m.GCPauseMs = float64(after.gcPause-before.gcPause) / 1e6
	m.GCCycles = after.gcCycles - before.gcCycles
	m.AllocMiB = float64(after.heapAlloc-before.heapAlloc) / (1 << 20)
}

func (m *Measurement) fillRates(wall time.Duration) {
	m.Seconds = wall.Seconds()
	if wall > 0 {
		m.EventsPerSec = float64(m.Events) / wall.Seconds()
		m.EventsPerSecPerCore = m.EventsPerSec / float64(max(1, m.Cores))
	}
}

// streamSpec is a query over the events of one generator type: how to
// make the generator, how to build the DStream pipeline and the
// baseline.
type streamSpec[E any, G Generator[E]] struct {
	defaultEventRate int64
	newGen           func(genConfig) G
	// build builds the query on in, with window state timing out after
	// timeout, and returns what reads the sink's result after the run.
	build func(g G, in *dstream.DStream[E], p Params, timeout time.Duration) (func() Result, error)
	base  func(ctx context.Context, g G, p Params, n int64) (Result, error)
}

func (s streamSpec[E, G]) handloop(ctx context.Context, _ Query, p Params, gc genConfig, n int64) (Result, error) {
	if gc.EventRate == 0 {
		gc.EventRate = cmpOr(p.EventRate, s.defaultEventRate)
	}
	return s.base(ctx, s.newGen(gc), p, n)
}

func (s streamSpec[E, G]) defaultRate() int64 { return s.defaultEventRate }

func cmpOr(a, b int64) int64 {
	if a != 0 {
		return a
	}
	return b
}

// unboundedEvents stands for "no end" in a duration-bound unpaced run.
const unboundedEvents = int64(1) << 50

// batchRecord is what the tracker saw of one batch.
type batchRecord struct {
	events  int64
	visible time.Time
}

// latencySample is one sampled event latency with the number of events
// it stands for.
type latencySample struct {
	latency time.Duration
	weight  float64
}

func (s streamSpec[E, G]) dstream(ctx context.Context, q Query, p Params) (*Measurement, error) {
	paced := p.paced()
	gc := genConfig{Seed: p.Seed}
	var clk clock.Clock
	var manual *clock.Manual
	var start time.Time
	interval := p.Interval
	if paced {
		clk = clock.System()
		start = time.Now().Add(200 * time.Millisecond).Truncate(time.Millisecond)
		gc.BaseMs, gc.EventRate = start.UnixMilli(), int64(math.Round(p.Rate))
	} else {
		manual = clock.NewManual(time.Unix(1_000_000_000, 0))
		clk = manual
		interval = time.Second // on the manual clock; only the batch size matters
		gc.BaseMs, gc.EventRate = defaultBaseMs, cmpOr(p.EventRate, s.defaultEventRate)
	}
	gen := s.newGen(gc)
	events := p.Events
	if events == 0 {
		events = unboundedEvents
	}

	logger := slog.New(slog.DiscardHandler)
	ec, err := engine.New(engine.Slots(p.Slots), engine.WithClock(clk), engine.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	defer ec.Close()
	opts := []dstream.Option{dstream.WithClock(clk), dstream.WithLogger(logger)}
	if !paced {
		perPart := (p.BatchEvents + int64(p.Partitions) - 1) / int64(p.Partitions)
		opts = append(opts, dstream.MaxRatePerPartition(float64(perPart)))
	}
	ssc, err := dstream.NewStreamingContext(ec, interval, opts...)
	if err != nil {
		return nil, err
	}
	if q.Stateful {
		dir := p.CheckpointDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "spate-bench-*"); err != nil {
				return nil, fmt.Errorf("benchsuite: checkpoint directory: %w", err)
			}
			defer os.RemoveAll(dir)
		} else if dir, err = os.MkdirTemp(dir, q.Name+"-*"); err != nil {
			return nil, fmt.Errorf("benchsuite: checkpoint directory: %w", err)
		}
		if err := ssc.Checkpoint(dir); err != nil {
			return nil, err
		}
	}
	src, err := NewGenSource[E](gen, q.Name, p.Partitions, events, p.Rate, clk)
	if err != nil {
		return nil, err
	}
	direct := dstream.DirectStream(ssc, src)
	result, err := s.build(gen, direct.DStream, p, stateTimeout(q, p, gc, interval))
	if err != nil {
		return nil, err
	}

	// The tracker is the last output operation: it runs after the
	// query's sink has taken the batch, and records when that happened.
	var (
		mu        sync.Mutex
		processed int64
		samples   []latencySample
	)
	batches := make(chan batchRecord, 1024)
	done := make(chan struct{})
	err = direct.ForeachRDD(func(_ context.Context, _ *rdd.RDD[E], t time.Time) error {
		visible := time.Now()
		ranges := direct.OffsetRanges(t)
		var n int64
		for _, r := range ranges {
			n += r.Count()
		}
		mu.Lock()
		before := processed
		processed += n
		if paced {
			samples = sampleLatencies(samples, src, start, ranges, visible)
		}
		mu.Unlock()
		if before < events && before+n >= events {
			close(done)
		}
		if !paced {
			batches <- batchRecord{events: n, visible: visible}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	m := &Measurement{Query: q.ID(), Variant: VariantDStream, Status: "ok", Cores: runtime.GOMAXPROCS(0), genCfg: gc}
	runtime.GC()
	var before, after procSnapshot
	if paced {
		m.Mode = "paced"
		src.Start(start)
		before = takeSnapshot(true)
		if err := ssc.Start(); err != nil {
			return nil, err
		}
		stopped := awaitStop(ssc)
		limit := time.NewTimer(time.Until(start.Add(time.Duration(float64(events)/p.Rate*1e9) + p.Drain)))
		defer limit.Stop()
		var runErr error
		select {
		case <-done:
		case <-limit.C:
			m.Status = "behind"
		case <-stopped:
			runErr = stopErr(ssc)
		case <-ctx.Done():
			runErr = ctx.Err()
		}
		after = takeSnapshot(false)
		if err := ssc.Stop(context.Background(), false); err != nil && runErr == nil {
			runErr = err
		}
		if runErr != nil {
			return nil, fmt.Errorf("benchsuite: %s: %w", q.ID(), runErr)
		}
		mu.Lock()
		m.Events = min(processed, events)
		lat := samples
		mu.Unlock()
		m.LatencyP50Ms = quantile(lat, 0.50)
		m.LatencyP99Ms = quantile(lat, 0.99)
		before.wall = start
	} else {
		m.Mode = "throughput"
		st, err := startStepper(ssc, manual, batches)
		if err != nil {
			return nil, err
		}
		before = takeSnapshot(true)
		var took []time.Duration
		var n int64
		var runErr error
		for n < events && (events != unboundedEvents || time.Since(before.wall) < p.Duration) {
			t0 := time.Now()
			rec, err := st.step(ctx)
			if err != nil {
				runErr = err
				break
			}
			took = append(took, time.Since(t0))
			n += rec.events
			if rec.events == 0 {
				runErr = errors.New("a batch read no events before the end")
				break
			}
		}
		after = takeSnapshot(false)
		if err := st.stop(); err != nil && runErr == nil {
			runErr = err
		}
		if runErr != nil {
			return nil, fmt.Errorf("benchsuite: %s: %w", q.ID(), runErr)
		}
		m.Events = n
		samples := make([]latencySample, len(took))
		for i, d := range took {
			samples[i] = latencySample{latency: d, weight: 1}
		}
		m.BatchP50Ms = quantile(samples, 0.50)
		m.BatchP99Ms = quantile(samples, 0.99)
	}
	m.fill(before, after)
	m.Result = result()
	return m, nil
}

// stateTimeout is how long a window's state may go without data before
// MapWithState drops it: the window length in batch time, plus two
// batches. With events in event-time order, a window gets no more data
// once that much time has passed without any.
func stateTimeout(q Query, p Params, gc genConfig, interval time.Duration) time.Duration {
	if q.Window == 0 {
		return 0
	}
	if p.paced() {
		return q.Window + 2*interval
	}
	perBatch := float64(p.BatchEvents) / float64(gc.EventRate) // event-time seconds per batch
	batches := math.Ceil(q.Window.Seconds()/perBatch) + 2
	return time.Duration(batches) * interval
}

// sampleLatencies adds up to 32 evenly spread events of every range, each
// standing for its share of the range.
func sampleLatencies[E any](out []latencySample, src *GenSource[E], start time.Time, ranges []connector.OffsetRange, visible time.Time) []latencySample {
	const k = 32
	for _, r := range ranges {
		n := r.Count()
		if n <= 0 {
			continue
		}
		m := min(n, k)
		for i := range m {
			off := r.From + i*n/m
			created := src.Created(start, src.Event(r.Partition.Index, off))
			out = append(out, latencySample{latency: visible.Sub(created), weight: float64(n) / float64(m)})
		}
	}
	return out
}

// quantile returns the weighted q-quantile of the samples, in ms.
func quantile(samples []latencySample, q float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	sort.Slice(s, func(i, j int) bool { return s[i].latency < s[j].latency })
	var total float64
	for _, x := range s {
		total += x.weight
	}
	target := q * total
	var acc float64
	for _, x := range s {
		acc += x.weight
		if acc >= target {
			return float64(x.latency) / 1e6
		}
	}
	return float64(s[len(s)-1].latency) / 1e6
}

// awaitStop returns a channel closed when ssc has stopped.
func awaitStop(ssc *dstream.StreamingContext) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		_ = ssc.AwaitTermination(context.Background())
		close(c)
	}()
	return c
}

func stopErr(ssc *dstream.StreamingContext) error {
	if err := ssc.AwaitTermination(context.Background()); err != nil {
		return err
	}
	return errors.New("the streaming context stopped")
}

// stepper drives a StreamingContext on a manual clock one batch at a
// time: each step moves the clock to the next batch time and waits for
// the tracker's record of that batch, so batches run back to back with no
// idle time.
type stepper struct {
	ssc     *dstream.StreamingContext
	clk     *clock.Manual
	next    time.Time
	batches <-chan batchRecord
	stopped <-chan struct{}
}

func startStepper(ssc *dstream.StreamingContext, clk *clock.Manual, batches <-chan batchRecord) (*stepper, error) {
	interval := ssc.BatchInterval()
	now := clk.Now()
	st := &stepper{ssc: ssc, clk: clk, batches: batches, next: now.Truncate(interval).Add(interval)}
	if err := ssc.Start(); err != nil {
		return nil, err
	}
	st.stopped = awaitStop(ssc)
	return st, nil
}

func (st *stepper) step(ctx context.Context) (batchRecord, error) {
	// Move the clock only once the job generator waits for it.
	wctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-st.stopped:
			cancel()
		case <-wctx.Done():
		}
	}()
	err := st.clk.BlockUntil(wctx, 1)
	cancel()
	if err != nil {
		return batchRecord{}, st.failure(ctx)
	}
	st.clk.Set(st.next)
	st.next = st.next.Add(st.ssc.BatchInterval())
	select {
	case rec := <-st.batches:
		return rec, nil
	case <-st.stopped:
		return batchRecord{}, st.failure(ctx)
	case <-ctx.Done():
		return batchRecord{}, ctx.Err()
	}
}

func (st *stepper) failure(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return stopErr(st.ssc)
}

func (st *stepper) stop() error {
	err := st.ssc.Stop(context.Background(), false)
	<-st.stopped
	return err
}
