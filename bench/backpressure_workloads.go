package bench

import (
	"cmp"
	"context"
	"errors"
	"iter"
	"log/slog"
	"math/rand/v2"
	"runtime"
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

// The backpressure benchmark runs the streaming demo's pipeline (`spate
// demo`: a line generator → FlatMap(strings.Fields) → Map(w → (w, 1)) →
// ReduceByKey(+) → the top words of each batch) on the real clock with
// the generator offering bpOverload times the job's capacity.
//
// The job's capacity is made explicit with a fixed CPU cost per line
// (bpLineCost rounds of a hash over the line, in the FlatMap function):
// the plain word count handles over a million lines/s on 2 cores, more
// than a generator can offer 5 times over on the same cores. With the cost
// the capacity C is about 10,000 lines/s; a calibration measures it before
// the runs.
const (
	bpOverload     = 5
	bpLineCost     = 2000 // hash rounds per line
	bpDistinct     = 10_000
	bpTop          = 10
	bpSeed         = 1
	bpTick         = 10 * time.Millisecond // the generator's tick, as the demo's
	bpInterval     = time.Second
	bpBlock        = 200 * time.Millisecond
	bpRun          = 60 * time.Second
	bpShortRun     = 300 * time.Millisecond
	bpShortIntvl   = 100 * time.Millisecond
	bpShortBlock   = 20 * time.Millisecond
	bpSampleEvery  = 100 * time.Millisecond // HeapAlloc
	bpLiveEvery    = 10                     // samples: every 10th also collects garbage first
	bpCalibrateFor = time.Second            // how long one calibration pass aims to take
)

// bpTimes returns the batch interval, block interval and run length of
// the backpressure runs (shortened by SPATE_BENCH_SHORT=1).
func bpTimes() (interval, block, run time.Duration) {
	if shortRun() {
		return bpShortIntvl, bpShortBlock, bpShortRun
	}
	return bpInterval, bpBlock, bpRun
}

// bpVocabulary is the generator's vocabulary, made once per process.
var bpVocabulary = sync.OnceValue(func() []string { return corpus.Vocabulary(bpDistinct) })

// bpLineMaker makes lines of wordsPerLine words drawn with a Zipf law
// from the vocabulary, as the demo's generator does.
type bpLineMaker struct {
	vocab []string
	zipf  *rand.Zipf
	b     strings.Builder
}

func newBPLineMaker(seed uint64) *bpLineMaker {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	vocab := bpVocabulary()
	return &bpLineMaker{vocab: vocab, zipf: rand.NewZipf(rng, 1.1, 1, uint64(len(vocab)-1))}
}

func (m *bpLineMaker) next() string {
	m.b.Reset()
	for i := range wordsPerLine {
		if i > 0 {
			m.b.WriteByte(' ')
		}
		m.b.WriteString(m.vocab[m.zipf.Uint64()])
	}
	return m.b.String()
}

// bpGenerator is the demo's generator source: it offers rate lines per
// second of its clock. Like the demo's, it never falls more than a second
// behind: lines older than that are dropped (counted in dropped), so a
// source that is held back sheds load instead of buffering it. Unlike the
// demo's, it stores at most one tick's worth of lines per StoreMany, so
// that when the rate limit holds it back it catches up in tick-sized
// chunks paced by the limit rather than in one store of up to a second of
// lines (see README).
type bpGenerator struct {
	clk  clock.Clock
	rate int

	lines   *bpLineMaker
	stored  atomic.Int64
	dropped atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

var _ dstream.Receiver[string] = (*bpGenerator)(nil)

func newBPGenerator(clk clock.Clock, rate int) *bpGenerator {
	return &bpGenerator{clk: clk, rate: rate, lines: newBPLineMaker(bpSeed)}
}

func (g *bpGenerator) OnStart(h *dstream.ReceiverHandle[string]) error {
	stop := make(chan struct{})
	g.stop = stop
	g.wg.Go(func() {
		err := g.emit(stop, h.StoreMany)
		if err != nil && !errors.Is(err, dstream.ErrReceiverStopped) {
			h.Stop("storing generated lines failed", err)
		}
	})
	return nil
}

func (g *bpGenerator) OnStop() {
	close(g.stop)
	g.wg.Wait()
}

// emit stores the lines that fall due until stop is closed (it returns
// nil) or store fails.
func (g *bpGenerator) emit(stop <-chan struct{}, store func([]string) error) error {
	start := g.clk.Now()
	ticker := g.clk.NewTicker(bpTick)
	defer ticker.Stop()
	chunk := max(int64(float64(g.rate)*bpTick.Seconds()), 1)
	var emitted int64
	buf := make([]string, 0, chunk)
	for {
		due := bpLinesDue(g.rate, g.clk.Since(start))
		if behind := due - emitted; behind > int64(g.rate) {
			g.dropped.Add(behind - int64(g.rate))
			emitted = due - int64(g.rate)
		}
		if n := min(due-emitted, chunk); n > 0 {
			select {
			case <-stop:
				return nil
			default:
			}
			buf = buf[:n]
			for i := range buf {
				buf[i] = g.lines.next()
			}
			if err := store(buf); err != nil {
				return err
			}
			emitted += n
			g.stored.Add(n)
			continue
		}
		select {
		case <-stop:
			return nil
		case <-ticker.C():
		}
	}
}

// bpLinesDue returns floor(rate × elapsed) without overflow.
func bpLinesDue(rate int, elapsed time.Duration) int64 {
	if elapsed <= 0 {
		return 0
	}
	secs, frac := int64(elapsed/time.Second), int64(elapsed%time.Second)
	return int64(rate)*secs + int64(rate)*frac/int64(time.Second)
}

// bpSink keeps the compiler from dropping bpBurn's work.
var bpSink atomic.Uint64

// bpBurn is the fixed CPU cost of a line: bpLineCost rounds of FNV-1a
// over its bytes.
func bpBurn(line string) {
	h := uint64(14695981039346656037)
	for range bpLineCost {
		for i := 0; i < len(line); i++ {
			h ^= uint64(line[i])
			h *= 1099511628211
		}
	}
	if h == 0 {
		bpSink.Add(1)
	}
}

// bpWords is the pipeline's FlatMap function: the line's cost, then
// strings.Fields.
func bpWords(line string) []string {
	bpBurn(line)
	return strings.Fields(line)
}

func bpOne(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) }

func bpAdd(a, b int) int { return a + b }

// bpTopWords returns the n most frequent words of counts with one job,
// as the demo does: each partition keeps its own top n and the driver
// merges them.
func bpTopWords(ctx context.Context, counts *rdd.RDD[rdd.Pair[string, int]], n int) ([]rdd.Pair[string, int], error) {
	partial := rdd.MapPartitions(counts, func(in iter.Seq[rdd.Pair[string, int]]) iter.Seq[rdd.Pair[string, int]] {
		return slices.Values(bpKeepTop(in, n))
	})
	got, err := partial.Collect(ctx)
	if err != nil {
		return nil, err
	}
	return bpKeepTop(slices.Values(got), n), nil
}

// bpKeepTop returns the n pairs of in with the highest counts, ties by
// word.
func bpKeepTop(in iter.Seq[rdd.Pair[string, int]], n int) []rdd.Pair[string, int] {
	byCount := func(a, b rdd.Pair[string, int]) int {
		return cmp.Or(cmp.Compare(b.Value, a.Value), cmp.Compare(a.Key, b.Key))
	}
	top := make([]rdd.Pair[string, int], 0, n+1)
	for p := range in {
		if len(top) == n && byCount(p, top[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, p, byCount)
		top = slices.Insert(top, i, p)
		if len(top) > n {
			top = top[:n]
		}
	}
	return top
}

// bpCalibrate measures the pipeline's capacity in lines per second: it
// runs the batch job of one streaming batch (the lines of one batch in
// interval/block partitions, FlatMap → Map → ReduceByKey → top words) on
// ec, sized to take about bpCalibrateFor (a tenth of it in a short run),
// and returns the median rate of three passes.
func bpCalibrate(ctx context.Context, ec *engine.Context) (float64, error) {
	interval, block, _ := bpTimes()
	parts := int(interval / block)
	aim := bpCalibrateFor
	if shortRun() {
		aim /= 10
	}
	lm := newBPLineMaker(bpSeed + 1)
	pass := func(n int) (float64, error) {
		lines := make([]string, n)
		for i := range lines {
			lines[i] = lm.next()
		}
		r := rdd.Parallelize(ec, lines, parts)
		start := time.Now()
		counts := rdd.ReduceByKey(rdd.Map(rdd.FlatMap(r, bpWords), bpOne), bpAdd)
		if _, err := bpTopWords(ctx, counts, bpTop); err != nil {
			return 0, err
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	rate, err := pass(1000) // a first guess
	if err != nil {
		return 0, err
	}
	var rates []float64
	for range 3 {
		r, err := pass(max(int(rate*aim.Seconds()), 100))
		if err != nil {
			return 0, err
		}
		rates = append(rates, r)
	}
	slices.Sort(rates)
	return rates[1], nil
}

// bpConfig is one backpressure run.
type bpConfig struct {
	rate         int // lines/s the generator offers
	backpressure bool
	initialRate  float64 // BackpressureInitialRate, 0 = none
	maxPending   int     // ReceiverMaxPending; -1 = the default
}

// bpResult is what one run measured. Heap figures are above the live
// heap before the run.
type bpResult struct {
	peakLive   uint64        // the largest live heap (sampled after a collection)
	peakAlloc  uint64        // the largest HeapAlloc sampled (live + garbage)
	finalSched time.Duration // the scheduling delay of the last completed batch
	maxSched   time.Duration
	lag        time.Duration // from the last completed batch's time to the end of the run
	finalRate  float64       // the rate limit of the last completed batch
	batches    int
	processed  int64 // lines in completed batches
	stored     int64 // lines the generator stored
	dropped    int64 // lines the generator dropped (more than 1 s behind)
	delayed    int64 // DelayedRecords over the completed batches
	ran        time.Duration
}

// bpHeapSample returns HeapAlloc, after a collection when collect.
func bpHeapSample(collect bool) uint64 {
	if collect {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// runBackpressure runs the demo pipeline on the real clock for the run
// length of bpTimes with the generator offering cfg.rate lines/s, samples
// the heap every bpSampleEvery, and stops at once (a backlog may be left).
func runBackpressure(ctx context.Context, cfg bpConfig) (bpResult, error) {
	var res bpResult
	interval, block, run := bpTimes()
	ec, err := engine.New(engine.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return res, err
	}
	defer ec.Close()
	opts := []dstream.Option{dstream.BlockInterval(block), dstream.Backpressure(cfg.backpressure)}
	if cfg.initialRate > 0 {
		opts = append(opts, dstream.BackpressureInitialRate(cfg.initialRate))
	}
	if cfg.maxPending >= 0 {
		opts = append(opts, dstream.ReceiverMaxPending(cfg.maxPending))
	}
	ssc, err := dstream.NewStreamingContext(ec, interval, opts...)
	if err != nil {
		return res, err
	}
	gen := newBPGenerator(ssc.Clock(), cfg.rate)
	lines := dstream.ReceiverStream(ssc, gen)
	counts := dstream.ReduceByKey(dstream.Map(dstream.FlatMap(lines, bpWords), bpOne), bpAdd)
	var tops atomic.Int64
	err = counts.ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int]], _ time.Time) error {
		top, err := bpTopWords(ctx, r, bpTop)
		if len(top) > 0 {
			tops.Add(1)
		}
		return err
	})
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	var last metrics.BatchInfo
	ended := false // set at the end of the run: the batches a hard Stop cancels do not count
	remove := ssc.AddListener(metrics.ListenerFunc(func(e metrics.Event) {
		b, ok := e.(metrics.BatchCompleted)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if ended {
			return
		}
		last = b.Info
		res.batches++
		res.processed += b.Info.NumRecords()
		res.maxSched = max(res.maxSched, b.Info.SchedulingDelay())
		for _, in := range b.Info.Inputs {
			res.delayed += in.DelayedRecords
		}
	}))
	defer remove()

	base := bpHeapSample(true)
	if err := ssc.Start(); err != nil {
		return res, err
	}
	start := time.Now()
	sample := func(collect bool) {
		h := bpHeapSample(collect)
		h -= min(base, h)
		if collect {
			res.peakLive = max(res.peakLive, h)
		}
		res.peakAlloc = max(res.peakAlloc, h)
	}
	ticker := time.NewTicker(bpSampleEvery)
	deadline := time.NewTimer(run)
	for i := 1; ; i++ {
		select {
		case <-ticker.C:
			sample(i%bpLiveEvery == 0)
			continue
		case <-ctx.Done():
		case <-deadline.C:
		}
		break
	}
	ticker.Stop()
	deadline.Stop()
	end := time.Now()
	mu.Lock()
	ended = true
	mu.Unlock()
	sample(true)
	res.ran = end.Sub(start)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := ssc.Stop(stopCtx, false); err != nil {
		return res, err
	}
	mu.Lock()
	defer mu.Unlock()
	res.stored, res.dropped = gen.stored.Load(), gen.dropped.Load()
	if res.processed > 0 && tops.Load() == 0 {
		return res, errors.New("the output operation found no top words")
	}
	if res.batches == 0 {
		// Possible in a short run: the first batch of an overloaded run
		// takes several intervals.
		res.lag = res.ran
		return res, ctx.Err()
	}
	res.finalSched = last.SchedulingDelay()
	res.lag = end.Sub(last.BatchTime)
	if len(last.Inputs) > 0 {
		res.finalRate = last.Inputs[0].RateLimit
	}
	return res, ctx.Err()
}
