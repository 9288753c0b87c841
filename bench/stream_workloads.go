package bench

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/corpus"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// Sizes of the streaming benchmarks' full run. [shortRun] divides the
// words per batch and the batches per overhead op by 100 (10 at least),
// and shortens the latency run to streamLatencyShortRun.
const (
	streamBatches       = 10        // batches of the streaming word count
	streamWordsPerBatch = 1_000_000 // words in each of them
	// streamInterval is the batch interval of the manual-clock
	// benchmarks. Its value does not matter: the clock only moves when
	// the benchmark advances it.
	streamInterval = time.Second

	streamOutputs       = 10  // output operations of the overhead graph
	streamOverheadBatch = 100 // batches per op of the overhead benchmark

	streamLatencyRate      = 500_000 // records per second from the receiver
	streamLatencyInterval  = 100 * time.Millisecond
	streamLatencyBlock     = 50 * time.Millisecond // block interval: 2 blocks (partitions) a batch
	streamLatencyTick      = 2 * time.Millisecond  // how often the receiver stores what is due
	streamLatencyRun       = 5 * time.Second
	streamLatencyShortRun  = time.Second
	streamLatencySampleOne = 10 // every 10th record's latency is sampled
)

// streamWordCountConfig is the corpus of the streaming word count:
// streamBatches × streamWordsPerBatch words over the same 100K-word
// vocabulary as the batch word count.
func streamWordCountConfig() corpus.Config {
	return corpus.Config{
		Words:        streamBatches * scaled(streamWordsPerBatch),
		Distinct:     wordCountDistinct,
		WordsPerLine: wordsPerLine,
		Exponent:     1.1,
		Seed:         2,
	}
}

// splitBatches cuts lines into n batches of equal size (±1 line).
func splitBatches(lines []string, n int) [][]string {
	out := make([][]string, n)
	for i := range out {
		lo, hi := i*len(lines)/n, (i+1)*len(lines)/n
		out[i] = lines[lo:hi]
	}
	return out
}

// parallelizeBatches makes one RDD of parts partitions per batch.
func parallelizeBatches(ec *engine.Context, batches [][]string, parts int) []*rdd.RDD[string] {
	out := make([]*rdd.RDD[string], len(batches))
	for i, b := range batches {
		out[i] = rdd.Parallelize(ec, b, parts)
	}
	return out
}

// handStreamWordCount is the streaming word count's baseline: the batch
// word count's hand loop, once per batch.
func handStreamWordCount(batches [][]string) [][]rdd.Pair[string, int] {
	out := make([][]rdd.Pair[string, int], len(batches))
	for i, b := range batches {
		out[i] = handWordCount(b)
	}
	return out
}

// spateStreamWordCount runs the streaming word count over the batches:
// QueueStream(one RDD a batch) → FlatMap(strings.Fields) → Map(w → (w, 1))
// → ReduceByKey(+) → ForeachRDD(Collect), on a new StreamingContext
// driven by clk one batch at a time. It returns each batch's counts.
// clk must be ec's clock.
func spateStreamWordCount(ctx context.Context, ec *engine.Context, clk *clock.Manual, batches []*rdd.RDD[string]) ([][]rdd.Pair[string, int], error) {
	ssc, err := dstream.NewStreamingContext(ec, streamInterval, dstream.WithClock(clk))
	if err != nil {
		return nil, err
	}
	lines := dstream.QueueStream(ssc, dstream.NewQueue(batches...), true, nil)
	words := dstream.FlatMap(lines, strings.Fields)
	ones := dstream.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
	counts := dstream.ReduceByKey(ones, func(a, b int) int { return a + b })
	out := make([][]rdd.Pair[string, int], 0, len(batches))
	// With one concurrent job (the default), batches run one after
	// another in time order, so appending needs no lock.
	err = counts.ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int]], _ time.Time) error {
		got, err := r.Collect(ctx)
		out = append(out, got)
		return err
	})
	if err != nil {
		return nil, err
	}
	st, err := startStepped(ssc, clk)
	if err != nil {
		return nil, err
	}
	for range batches {
		if err := st.step(ctx); err != nil {
			_ = st.stop()
			return out, err
		}
	}
	return out, st.stop()
}

// stepper drives a StreamingContext on a manual clock: each step moves
// the clock to the next batch time and waits until that batch completed,
// so that the time a step takes is the batch's generation, scheduling and
// processing, and never a wait for a wall clock.
type stepper struct {
	ssc       *dstream.StreamingContext
	clk       *clock.Manual
	next      time.Time // the batch time of the next step
	completed chan metrics.BatchInfo
	stopped   chan struct{} // closed when ssc stopped
	remove    func()
}

// startStepped starts ssc, which must run on clk.
func startStepped(ssc *dstream.StreamingContext, clk *clock.Manual) (*stepper, error) {
	st := &stepper{ssc: ssc, clk: clk, completed: make(chan metrics.BatchInfo, 16), stopped: make(chan struct{})}
	st.remove = ssc.AddListener(metrics.ListenerFunc(func(e metrics.Event) {
		if b, ok := e.(metrics.BatchCompleted); ok {
			st.completed <- b.Info // at most one batch is outstanding
		}
	}))
	// Start puts the first batch at the first multiple of the interval
	// after now.
	interval := ssc.BatchInterval()
	now := clk.Now().UnixNano()
	r := now % int64(interval)
	if r < 0 {
		r += int64(interval)
	}
	st.next = time.Unix(0, now-r).Add(interval)
	if err := ssc.Start(); err != nil {
		st.remove()
		return nil, err
	}
	go func() {
		_ = ssc.AwaitTermination(context.Background())
		close(st.stopped)
	}()
	return st, nil
}

// step runs the next batch and waits for its metrics.BatchCompleted.
func (st *stepper) step(ctx context.Context) error {
	// Move the clock only once the job generator has armed its timer for
	// this batch (it arms it right after submitting the previous batch,
	// so this is nearly always the case already).
	if st.clk.Waiters() < 1 {
		wctx, cancel := context.WithCancel(ctx)
		go func() { // give up when the context stops
			select {
			case <-st.stopped:
				cancel()
			case <-wctx.Done():
			}
		}()
		err := st.clk.BlockUntil(wctx, 1)
		cancel()
		if err != nil {
			return st.failure(ctx, "waiting for the job generator's timer")
		}
	}
	want := st.next
	st.next = st.next.Add(st.ssc.BatchInterval())
	st.clk.Set(want)
	for {
		select {
		case info := <-st.completed:
			if err := info.Err(); err != nil {
				return fmt.Errorf("batch %s failed: %w", info.BatchTime, err)
			}
			if info.BatchTime.Before(want) {
				continue
			}
			return nil
		case <-st.stopped:
			return st.failure(ctx, "waiting for a batch")
		case <-ctx.Done():
			return st.failure(ctx, "waiting for a batch")
		}
	}
}

// failure explains why a step could not go on.
func (st *stepper) failure(ctx context.Context, doing string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	err := st.ssc.AwaitTermination(ctx)
	if err == nil {
		err = errors.New("the streaming context stopped")
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// stop stops the context at once (no batch is running between steps).
func (st *stepper) stop() error {
	err := st.ssc.Stop(context.Background(), false)
	st.remove()
	<-st.stopped
	return err
}

// overheadKind is what the output operations of the overhead graph do.
type overheadKind int

const (
	overheadNoop   overheadKind = iota // return at once
	overheadCount                      // r.Count(ctx) on the empty batch (0 partitions)
	overheadCount8                     // r.Count(ctx) on an empty RDD of 8 partitions
)

func (k overheadKind) String() string {
	switch k {
	case overheadNoop:
		return "noop"
	case overheadCount:
		return "count"
	case overheadCount8:
		return "count-8parts"
	}
	return fmt.Sprintf("overheadKind(%d)", int(k))
}

// overheadGraph is a started StreamingContext with one input stream that
// never gets data and streamOutputs output operations on it. runs[i]
// counts the batches output operation i ran in.
type overheadGraph struct {
	*stepper
	runs []atomic.Int64
}

// startOverheadGraph builds and starts the overhead graph on ec, whose
// clock must be clk. A batch of the queue stream finds the queue empty and
// gets an rdd.Empty (no partitions), as an idle receiver's batch does; for
// overheadCount8 it gets an empty RDD of emptyJobParts partitions, as in
// BenchmarkEmptyJob.
func startOverheadGraph(ec *engine.Context, clk *clock.Manual, outputs int, kind overheadKind) (*overheadGraph, error) {
	ssc, err := dstream.NewStreamingContext(ec, streamInterval, dstream.WithClock(clk))
	if err != nil {
		return nil, err
	}
	var def *rdd.RDD[int]
	if kind == overheadCount8 {
		def = rdd.Parallelize(ec, []int{}, emptyJobParts)
	}
	in := dstream.QueueStream(ssc, dstream.NewQueue[int](), true, def)
	g := &overheadGraph{runs: make([]atomic.Int64, outputs)}
	for i := range outputs {
		err := in.ForeachRDD(func(ctx context.Context, r *rdd.RDD[int], _ time.Time) error {
			g.runs[i].Add(1)
			if kind == overheadNoop {
				return nil
			}
			n, err := r.Count(ctx)
			if err == nil && n != 0 {
				err = fmt.Errorf("an empty batch counted %d records", n)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	st, err := startStepped(ssc, clk)
	if err != nil {
		return nil, err
	}
	g.stepper = st
	return g, nil
}

// checkRuns returns an error unless every output operation ran in
// exactly batches batches.
func (g *overheadGraph) checkRuns(batches int64) error {
	for i := range g.runs {
		if n := g.runs[i].Load(); n != batches {
			return fmt.Errorf("output operation %d ran %d times in %d batches", i, n, batches)
		}
	}
	return nil
}

// latencyConfig describes an end-to-end latency run.
type latencyConfig struct {
	rate          int           // records per second stored by the receiver
	interval      time.Duration // batch interval
	blockInterval time.Duration
	tick          time.Duration // how often the receiver stores what is due
	duration      time.Duration // how long the receiver runs
	sampleEvery   int           // the latency of every sampleEvery-th record is kept
}

// streamLatencyConfig is the configuration of BenchmarkStreamLatency.
func streamLatencyConfig() latencyConfig {
	d := streamLatencyRun
	if shortRun() {
		d = streamLatencyShortRun
	}
	return latencyConfig{
		rate: streamLatencyRate, interval: streamLatencyInterval, blockInterval: streamLatencyBlock,
		tick: streamLatencyTick, duration: d, sampleEvery: streamLatencySampleOne,
	}
}

// latencyResult is what one latency run measured. Sampled records carry
// three durations: total (output operation saw it − it was created),
// wait (its batch time − created: the time spent waiting for the batch to
// close) and after (seen − batch time: generating, scheduling and
// processing the batch up to this record).
type latencyResult struct {
	stored    int64         // records the receiver stored
	processed int64         // records the output operation saw
	receiving time.Duration // how long the receiver ran
	total     []time.Duration
	wait      []time.Duration
	after     []time.Duration

	batches             int
	maxSched            time.Duration // largest scheduling delay of a batch
	sumSched, sumProc   time.Duration // over the batches
	sumSubmit, sumTotal time.Duration // BatchTime → submission; BatchTime → processing end
}

// merge adds o's samples and batch statistics to r.
func (r *latencyResult) merge(o latencyResult) {
	r.stored += o.stored
	r.processed += o.processed
	r.receiving += o.receiving
	r.total = append(r.total, o.total...)
	r.wait = append(r.wait, o.wait...)
	r.after = append(r.after, o.after...)
	r.batches += o.batches
	r.maxSched = max(r.maxSched, o.maxSched)
	r.sumSched += o.sumSched
	r.sumProc += o.sumProc
	r.sumSubmit += o.sumSubmit
	r.sumTotal += o.sumTotal
}

// percentile returns the p-th percentile (0 < p < 100) of ds, nearest
// rank, sorting ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds))*p/100+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func meanOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s / time.Duration(len(ds))
}

// pacedReceiver stores rate records per second, each an int64 holding
// its creation time (Unix nanoseconds): every tick it stores, with one
// StoreMany, the records due since the start.
type pacedReceiver struct {
	rate int
	tick time.Duration

	stored    atomic.Int64
	mu        sync.Mutex
	receiving time.Duration // summed over incarnations
	stop      chan struct{}
	done      chan struct{}
}

var _ dstream.Receiver[int64] = (*pacedReceiver)(nil)

func (p *pacedReceiver) OnStart(h *dstream.ReceiverHandle[int64]) error {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.run(h, p.stop, p.done)
	return nil
}

func (p *pacedReceiver) OnStop() {
	close(p.stop)
	<-p.done
}

func (p *pacedReceiver) run(h *dstream.ReceiverHandle[int64], stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(p.tick)
	defer tick.Stop()
	start := time.Now()
	defer func() {
		p.mu.Lock()
		p.receiving += time.Since(start)
		p.mu.Unlock()
	}()
	var sent int64
	var buf []int64 // StoreMany copies it
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		due := int64(float64(p.rate)*now.Sub(start).Seconds()) - sent
		if due <= 0 {
			continue
		}
		created := now.UnixNano()
		buf = slices.Grow(buf[:0], int(due))[:due]
		for i := range buf {
			buf[i] = created
		}
		if err := h.StoreMany(buf); err != nil {
			return // stopped
		}
		sent += due
		p.stored.Add(due)
	}
}

// runLatency runs a receiver stream on the real clock for cfg.duration
// with one output operation that samples the latency of every
// cfg.sampleEvery-th record, then stops gracefully, so that every stored
// record is processed. ec must run on the system clock.
func runLatency(ctx context.Context, ec *engine.Context, cfg latencyConfig) (latencyResult, error) {
	var res latencyResult
	ssc, err := dstream.NewStreamingContext(ec, cfg.interval, dstream.BlockInterval(cfg.blockInterval))
	if err != nil {
		return res, err
	}
	recv := &pacedReceiver{rate: cfg.rate, tick: cfg.tick}
	in := dstream.ReceiverStream[int64](ssc, recv)
	var mu sync.Mutex
	err = in.ForeachRDD(func(ctx context.Context, r *rdd.RDD[int64], t time.Time) error {
		batch := t.UnixNano()
		return r.ForeachPartition(ctx, func(_ context.Context, elems iter.Seq[int64]) error {
			var n int64
			var total, wait, after []time.Duration
			for created := range elems {
				if n%int64(cfg.sampleEvery) == 0 {
					now := time.Now().UnixNano()
					total = append(total, time.Duration(now-created))
					wait = append(wait, time.Duration(batch-created))
					after = append(after, time.Duration(now-batch))
				}
				n++
			}
			mu.Lock()
			res.processed += n
			res.total = append(res.total, total...)
			res.wait = append(res.wait, wait...)
			res.after = append(res.after, after...)
			mu.Unlock()
			return nil
		})
	})
	if err != nil {
		return res, err
	}
	remove := ssc.AddListener(metrics.ListenerFunc(func(e metrics.Event) {
		b, ok := e.(metrics.BatchCompleted)
		if !ok {
			return
		}
		info := b.Info
		mu.Lock()
		defer mu.Unlock()
		res.batches++
		res.maxSched = max(res.maxSched, info.SchedulingDelay())
		res.sumSched += info.SchedulingDelay()
		res.sumProc += info.ProcessingDelay()
		res.sumSubmit += info.SubmissionTime.Sub(info.BatchTime)
		res.sumTotal += info.TotalDelay()
	}))
	defer remove()
	if err := ssc.Start(); err != nil {
		return res, err
	}
	timer := time.NewTimer(cfg.duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := ssc.Stop(stopCtx, true); err != nil {
		return res, err
	}
	if err := ec.Bus().Flush(stopCtx); err != nil { // deliver the last BatchCompleted
		return res, err
	}
	mu.Lock()
	defer mu.Unlock()
	res.stored = recv.stored.Load()
	recv.mu.Lock()
	res.receiving = recv.receiving
	recv.mu.Unlock()
	if res.processed != res.stored {
		return res, fmt.Errorf("the receiver stored %d records but the output operation saw %d", res.stored, res.processed)
	}
	return res, ctx.Err()
}
