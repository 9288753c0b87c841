package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/corpus"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
	"github.com/spate-io/spate/ui"
)

const (
	// generatorTick is how often the generator source stores the lines
	// that fell due since its last tick.
	generatorTick = 10 * time.Millisecond
	// zipfExponent is the exponent of the generator's word frequencies,
	// the corpus package's default.
	zipfExponent = 1.1
	// gracefulStopTimeout bounds the wait for the batches still to run
	// when the demo stops; after it the demo stops at once.
	gracefulStopTimeout = 30 * time.Second
)

// runStreamDemo runs the streaming word count and returns the exit code.
func runStreamDemo(ctx context.Context, cfg demoConfig, stdout, stderr io.Writer) int {
	if err := streamDemo(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "spate demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// streamDemo runs Spark's NetworkWordCount on a DStream of lines from the
// source cfg names, prints a report of every batch to stdout and, once
// the run ends (after cfg.duration, on cancellation of ctx, or on a
// failure), a summary. It stops gracefully: the data received before the
// end is processed. Receiver errors go to stderr.
func streamDemo(ctx context.Context, cfg demoConfig, stdout, stderr io.Writer) error {
	// The demo reports receiver errors and failures itself, from the
	// listener events and the errors returned.
	ec, err := engine.New(engine.Slots(cfg.slots), engine.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	defer ec.Close()
	out := &streamReport{w: stdout, errw: stderr, tops: map[int64][]rdd.Pair[string, int]{}, rateControl: cfg.backpressure || cfg.maxRate > 0}

	// The monitoring UI runs as a service of the streaming context: the
	// context starts it before the first batch and stops it at the end.
	var server *ui.Server
	var sscOpts []dstream.Option
	killed := make(chan struct{}) // closed by the UI's POST /kill (--ui-kill)
	if !cfg.noUI {
		uiOpts := []ui.Option{
			ui.Addr(cfg.uiAddr),
			ui.Logger(slog.New(slog.NewTextHandler(out.lockedErr(), &slog.HandlerOptions{Level: slog.LevelWarn}))),
		}
		if cfg.uiKill {
			uiOpts = append(uiOpts, ui.KillEnabled(true), ui.KillFunc(func() { close(killed) }))
		}
		server, err = ui.New(uiOpts...)
		if err != nil {
			return err
		}
		sscOpts = append(sscOpts, dstream.WithService(server))
	}
	sscOpts = append(sscOpts, dstream.Backpressure(cfg.backpressure), dstream.ReceiverMaxRate(cfg.maxRate))
	ssc, err := dstream.NewStreamingContext(ec, cfg.interval, sscOpts...)
	if err != nil {
		return err
	}

	var lines *dstream.DStream[string]
	var source string
	switch cfg.source {
	case sourceKafka:
		var stop func()
		lines, source, stop, err = kafkaLines(ctx, ssc, cfg)
		if err != nil {
			return err
		}
		defer stop()
	case sourceSocket:
		addr := net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))
		lines = dstream.SocketTextStream(ssc, cfg.host, cfg.port)
		source = fmt.Sprintf("socket %s (lines of a TCP server, for example nc -lk %d)", addr, cfg.port)
	default:
		lines = dstream.ReceiverStream(ssc, newLineGenerator(ssc.Clock(), cfg.rate, cfg.distinct, cfg.seed))
		source = fmt.Sprintf("generator, %d lines/s of %d words from a Zipf vocabulary of %d (seed %d)", cfg.rate, wordsPerLine, cfg.distinct, cfg.seed)
	}
	words := dstream.FlatMap(lines, strings.Fields)
	ones := dstream.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
	counts := dstream.ReduceByKey(ones, func(a, b int) int { return a + b })
	err = counts.ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int]], t time.Time) error {
		top, err := topCounts(ctx, r, cfg.top)
		if err != nil {
			return err
		}
		out.setTop(t, top)
		return nil
	})
	if err != nil {
		return err
	}
	defer ssc.AddListener(out)()

	until := "Ctrl-C"
	if cfg.duration > 0 {
		until = cfg.duration.String() + " (or Ctrl-C)"
	}
	out.printf("spate demo: streaming word count (Spark's NetworkWordCount) on spate's DStreams\n\n")
	out.printf("source    %s\n", source)
	out.printf("interval  %v batches\n", cfg.interval)
	out.printf("slots     %d\n", ec.Slots())
	out.printf("run       until %s, then stop gracefully\n", until)
	out.printf("pipeline  lines -> FlatMap(strings.Fields) -> Map(w -> (w, 1)) -> ReduceByKey(+) -> top %d per batch\n\n", cfg.top)

	clk := ssc.Clock()
	if err := ssc.Start(); err != nil {
		return err
	}
	if server != nil {
		out.printf("UI: %s\n\n", server.URL())
	}
	started := clk.Now()
	terminated := make(chan error, 1)
	go func() { terminated <- ssc.AwaitTermination(context.Background()) }()
	var durationC <-chan time.Time
	if cfg.duration > 0 {
		timer := clk.NewTimer(cfg.duration)
		defer timer.Stop()
		durationC = timer.C()
	}

	var runErr error
	select {
	case runErr = <-terminated:
		// A failed batch stopped the context.
		if runErr == nil {
			runErr = errors.New("the streaming context stopped unexpectedly")
		}
		out.printf("\nstopped: %v\n", runErr)
	case <-ctx.Done():
		out.printf("\ninterrupted: stopping gracefully, processing the data received so far (Ctrl-C again to exit at once)\n")
	case <-durationC:
		out.printf("\n%v elapsed: stopping gracefully, processing the data received so far\n", cfg.duration)
	case <-killed:
		out.printf("\nstop requested from the UI (POST /kill): stopping gracefully, processing the data received so far\n")
	}
	stopped := clk.Now()
	if runErr == nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), gracefulStopTimeout)
		err := ssc.Stop(stopCtx, true)
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			runErr = fmt.Errorf("the remaining batches did not finish within %v; stopped at once", gracefulStopTimeout)
		case err != nil:
			runErr = err
		}
	}

	// Deliver the events of the last batches before the summary.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := ec.Bus().Flush(flushCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("waiting for the batches' events: %w", err)
	}
	out.summary(stopped.Sub(started))
	return runErr
}

// streamReport prints the demo's output: it is the listener that prints a
// line per completed batch (followed by the batch's top words, which the
// output operation hands over with setTop) and receiver errors, and it
// keeps the totals for the summary. Every write to its writers goes
// through it, so that the listener and the main goroutine do not write at
// once.
type streamReport struct {
	w, errw io.Writer

	rateControl bool // print each batch's rate limit and delayed records

	mu   sync.Mutex
	tops map[int64][]rdd.Pair[string, int] // by batch time in Unix nanoseconds

	batches, failed int
	records         int64
	processing      time.Duration // summed over the batches
	maxDelay        time.Duration // the longest scheduling delay
}

var _ metrics.Listener = (*streamReport)(nil)

// lockedErr returns a writer to the error writer that takes the report's
// lock, for the UI's log lines.
func (s *streamReport) lockedErr() io.Writer { return &lockedWriter{mu: &s.mu, w: s.errw} }

func (s *streamReport) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format, args...)
}

// setTop records the top words of the batch at t, for the batch's report.
func (s *streamReport) setTop(t time.Time, top []rdd.Pair[string, int]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tops[t.UnixNano()] = top
}

// OnEvent implements metrics.Listener.
func (s *streamReport) OnEvent(e metrics.Event) {
	switch e := e.(type) {
	case metrics.BatchCompleted:
		s.batchCompleted(e.Info)
	case metrics.ReceiverError:
		s.mu.Lock()
		defer s.mu.Unlock()
		fmt.Fprintf(s.errw, "spate demo: receiver %s: %s: %v\n", e.Name, e.Message, e.Err)
	}
}

func (s *streamReport) batchCompleted(b metrics.BatchInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := b.BatchTime.UnixNano()
	top := s.tops[key]
	delete(s.tops, key)
	s.batches++
	s.records += b.NumRecords()
	s.processing += b.ProcessingDelay()
	s.maxDelay = max(s.maxDelay, b.SchedulingDelay())

	var buf strings.Builder
	fmt.Fprintf(&buf, "batch %s records=%d processing=%s scheduling-delay=%s", b.BatchTime.Format("15:04:05.000"),
		b.NumRecords(), formatDuration(b.ProcessingDelay()), formatDuration(b.SchedulingDelay()))
	if s.rateControl {
		var limit float64
		var delayed int64
		for _, in := range b.Inputs {
			limit += in.RateLimit
			delayed += in.DelayedRecords
		}
		if limit > 0 {
			fmt.Fprintf(&buf, " rate-limit=%.0f/s", limit)
		} else {
			buf.WriteString(" rate-limit=none")
		}
		fmt.Fprintf(&buf, " delayed=%d", delayed)
	}
	if err := b.Err(); err != nil {
		s.failed++
		fmt.Fprintf(&buf, " FAILED: %v\n", err)
		io.WriteString(s.w, buf.String())
		return
	}
	buf.WriteByte('\n')
	wordWidth, countWidth := 0, 0
	for _, p := range top {
		wordWidth = max(wordWidth, len(p.Key))
		countWidth = max(countWidth, len(strconv.Itoa(p.Value)))
	}
	rankWidth := len(strconv.Itoa(len(top)))
	for i, p := range top {
		fmt.Fprintf(&buf, "  %*d  %-*s  %*d\n", rankWidth, i+1, wordWidth, p.Key, countWidth, p.Value)
	}
	io.WriteString(s.w, buf.String())
}

// summary prints the totals of the run; ran is the time from Start to the
// request to stop.
func (s *streamReport) summary(ran time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := "n/a"
	if ran > 0 {
		rate = formatRate(float64(s.records)/ran.Seconds()) + " records/s"
	}
	avg := time.Duration(0)
	if s.batches > 0 {
		avg = s.processing / time.Duration(s.batches)
	}
	row := func(name, value string) { fmt.Fprintf(s.w, "  %-21s %s\n", name, value) }
	fmt.Fprintf(s.w, "\nsummary:\n")
	row("batches completed", strconv.Itoa(s.batches))
	if s.failed > 0 {
		row("batches failed", strconv.Itoa(s.failed))
	}
	row("total records", strconv.FormatInt(s.records, 10))
	row("average rate", fmt.Sprintf("%s (over the %s from start to stop)", rate, formatDuration(ran)))
	row("average processing", formatDuration(avg))
	row("max scheduling delay", formatDuration(s.maxDelay))
}

// topCounts returns the n pairs of counts with the highest counts, ties
// broken by word, with one job: each partition keeps its own top n (every
// word is in one partition only, so the overall top n is among them) and
// the driver merges them.
func topCounts(ctx context.Context, counts *rdd.RDD[rdd.Pair[string, int]], n int) ([]rdd.Pair[string, int], error) {
	partial := rdd.MapPartitions(counts, func(in iter.Seq[rdd.Pair[string, int]]) iter.Seq[rdd.Pair[string, int]] {
		return func(yield func(rdd.Pair[string, int]) bool) {
			for _, p := range keepTop(in, n) {
				if !yield(p) {
					return
				}
			}
		}
	})
	got, err := partial.Collect(ctx)
	if err != nil {
		return nil, err
	}
	return keepTop(slices.Values(got), n), nil
}

// keepTop returns the n pairs of in that come first by count descending,
// then word ascending, in that order.
func keepTop(in iter.Seq[rdd.Pair[string, int]], n int) []rdd.Pair[string, int] {
	top := make([]rdd.Pair[string, int], 0, n+1)
	for p := range in {
		if len(top) == n && byCountThenWord(p, top[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, p, byCountThenWord)
		top = slices.Insert(top, i, p)
		if len(top) > n {
			top = top[:n]
		}
	}
	return top
}

func byCountThenWord(a, b rdd.Pair[string, int]) int {
	return cmp.Or(cmp.Compare(b.Value, a.Value), cmp.Compare(a.Key, b.Key))
}

// lineGenerator is the demo's built-in source: a receiver that stores
// lines of Zipf-distributed words at a fixed rate on the streaming
// context's clock. The lines are the same for the same seed and
// vocabulary: those of corpus.Lines.
type lineGenerator struct {
	clk   clock.Clock
	rate  int
	lines *lineMaker

	stop chan struct{} // closed by OnStop
	wg   sync.WaitGroup
}

var _ dstream.Receiver[string] = (*lineGenerator)(nil)

func newLineGenerator(clk clock.Clock, rate, distinct int, seed uint64) *lineGenerator {
	return &lineGenerator{clk: clk, rate: rate, lines: newLineMaker(distinct, seed)}
}

// OnStart implements dstream.Receiver: it starts the goroutine that
// emits the lines.
func (g *lineGenerator) OnStart(h *dstream.ReceiverHandle[string]) error {
	stop := make(chan struct{})
	g.stop = stop
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := emitLines(g.clk, g.rate, generatorTick, g.lines.next, stop, h.StoreMany)
		if err != nil && !errors.Is(err, dstream.ErrReceiverStopped) {
			h.Stop("storing generated lines failed", err)
		}
	}()
	return nil
}

// OnStop implements dstream.Receiver: it stops the emitting goroutine and
// waits for it.
func (g *lineGenerator) OnStop() {
	close(g.stop)
	g.wg.Wait()
}

// emitLines stores rate lines per second of clk, made by next, until stop
// is closed (it returns nil) or store fails (it returns the error). Every
// tick it stores, in one call, the lines that fell due since the start
// and were not stored yet, so the rate holds however coarse the ticks and
// however late they are seen. When it falls more than a second behind
// (store or next too slow for the rate), it drops what is older than that
// second rather than bursting.
func emitLines(clk clock.Clock, rate int, tick time.Duration, next func() string, stop <-chan struct{}, store func([]string) error) error {
	// Read the start before arming the ticker: a test that waits for the
	// ticker then knows the start is taken.
	start := clk.Now()
	ticker := clk.NewTicker(tick)
	defer ticker.Stop()
	var emitted int64
	for {
		select {
		case <-stop:
			return nil
		case <-ticker.C():
		}
		due := linesDue(rate, clk.Since(start))
		if due-emitted > int64(rate) {
			emitted = due - int64(rate)
		}
		if due == emitted {
			continue
		}
		lines := make([]string, due-emitted)
		for i := range lines {
			lines[i] = next()
		}
		if err := store(lines); err != nil {
			return err
		}
		emitted = due
	}
}

// linesDue returns how many lines fall due in elapsed at rate lines per
// second: floor(rate × elapsed), without overflow for any rate up to
// maxRate and any elapsed time.
func linesDue(rate int, elapsed time.Duration) int64 {
	if elapsed <= 0 {
		return 0
	}
	secs, frac := int64(elapsed/time.Second), int64(elapsed%time.Second)
	return int64(rate)*secs + int64(rate)*frac/int64(time.Second)
}

// lineMaker makes lines of wordsPerLine words drawn with a Zipf law from
// corpus.Vocabulary, the same sequence corpus.Lines makes for the same
// seed and vocabulary size.
type lineMaker struct {
	vocab []string
	zipf  *rand.Zipf
	b     strings.Builder
}

func newLineMaker(distinct int, seed uint64) *lineMaker {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	return &lineMaker{vocab: corpus.Vocabulary(distinct), zipf: rand.NewZipf(rng, zipfExponent, 1, uint64(distinct-1))}
}

func (m *lineMaker) next() string {
	m.b.Reset()
	for i := range wordsPerLine {
		if i > 0 {
			m.b.WriteByte(' ')
		}
		m.b.WriteString(m.vocab[m.zipf.Uint64()])
	}
	return m.b.String()
}
