package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/corpus"
	"github.com/spate-io/spate/rdd"
)

// streamBatch is one batch of the streaming demo's output.
type streamBatch struct {
	line       string
	records    int
	processing time.Duration
	delay      time.Duration
	top        []wordFreq
}

var (
	batchLineRE = regexp.MustCompile(`^batch \d\d:\d\d:\d\d\.\d{3} records=(\d+) processing=(\S+) scheduling-delay=(\S+)$`)
	topLineRE   = regexp.MustCompile(`^  +(\d+)  (\S+) +(\d+)$`)
	summaryRE   = regexp.MustCompile(`^  (\S+(?: \S+)*) +(.*)$`)
)

// parseStream parses the streaming demo's output into its batches and the
// rows of its summary. It fails the test on a batch or top-word line it
// cannot read.
func parseStream(t *testing.T, out string) (batches []streamBatch, summary map[string]string) {
	t.Helper()
	inSummary := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == "summary:":
			inSummary, summary = true, map[string]string{}
		case inSummary:
			if m := summaryRE.FindStringSubmatch(l); m != nil {
				summary[m[1]] = m[2]
			}
		case strings.HasPrefix(l, "batch "):
			m := batchLineRE.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("batch line %q does not match %v", l, batchLineRE)
			}
			b := streamBatch{line: l}
			b.records, _ = strconv.Atoi(m[1])
			var err1, err2 error
			b.processing, err1 = time.ParseDuration(m[2])
			b.delay, err2 = time.ParseDuration(m[3])
			if err := errors.Join(err1, err2); err != nil {
				t.Fatalf("batch line %q: %v", l, err)
			}
			batches = append(batches, b)
		case strings.HasPrefix(l, "  ") && len(batches) > 0:
			m := topLineRE.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("top-word line %q does not match %v", l, topLineRE)
			}
			b := &batches[len(batches)-1]
			if rank, _ := strconv.Atoi(m[1]); rank != len(b.top)+1 {
				t.Fatalf("top-word line %q: want rank %d", l, len(b.top)+1)
			}
			c, _ := strconv.Atoi(m[3])
			b.top = append(b.top, wordFreq{m[2], c})
		}
	}
	return batches, summary
}

// checkStreamRun checks what every streaming run prints: the batch lines,
// each batch's top words in order, and a summary that adds them up.
func checkStreamRun(t *testing.T, out string, top int) []streamBatch {
	t.Helper()
	batches, summary := parseStream(t, out)
	if summary == nil {
		t.Fatalf("output has no summary:\n%s", out)
	}
	total := 0
	for _, b := range batches {
		if b.records < 0 || b.processing < 0 || b.delay < 0 {
			t.Errorf("negative value in %q", b.line)
		}
		if len(b.top) > top || (b.records > 0 && len(b.top) == 0) {
			t.Errorf("batch %q has %d top words, want 1..%d", b.line, len(b.top), top)
		}
		for i := 1; i < len(b.top); i++ {
			p, q := b.top[i-1], b.top[i]
			if q.count > p.count || (q.count == p.count && q.word <= p.word) {
				t.Errorf("batch %q: %v ranks before %v; want count descending, then word ascending", b.line, p, q)
			}
		}
		total += b.records
	}
	for name, want := range map[string]string{
		"batches completed": strconv.Itoa(len(batches)),
		"total records":     strconv.Itoa(total),
	} {
		if got := summary[name]; got != want {
			t.Errorf("summary %q = %q, want %q:\n%s", name, got, want, out)
		}
	}
	for _, name := range []string{"average rate", "average processing", "max scheduling delay"} {
		if summary[name] == "" {
			t.Errorf("summary lacks %q:\n%s", name, out)
		}
	}
	return batches
}

func TestStreamDemoGenerator(t *testing.T) {
	t.Parallel()
	code, out, stderr := runCLI(t, testCtx(t), "demo", "--duration", "2s", "--interval", "500ms", "--rate", "2000", "--ui-addr", "127.0.0.1:0")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s\nstdout:\n%s", code, stderr, out)
	}
	for _, want := range []string{
		"spate demo: streaming word count",
		"source    generator, 2000 lines/s",
		"interval  500ms",
		"slots     ",
		"2s elapsed: stopping gracefully",
		"\nUI: http://127.0.0.1:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	batches := checkStreamRun(t, out, 10)
	if len(batches) < 2 {
		t.Errorf("got %d batches, want at least 2:\n%s", len(batches), out)
	}
	withTop := 0
	for _, b := range batches {
		if len(b.top) > 0 {
			withTop++
		}
	}
	if withTop == 0 {
		t.Errorf("no batch printed its top words:\n%s", out)
	}
}

// TestStreamDemoKafka runs the demo on its embedded Kafka cluster: the
// generator's lines go through a topic and a DirectStream.
func TestStreamDemoKafka(t *testing.T) {
	t.Parallel()
	code, out, stderr := runCLI(t, testCtx(t), "demo", "--kafka", "--duration", "2s", "--interval", "500ms", "--rate", "2000", "--no-ui")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s\nstdout:\n%s", code, stderr, out)
	}
	if want := `source    Kafka topic "spate-demo-lines" (3 partitions) on an embedded cluster`; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	batches := checkStreamRun(t, out, 10)
	records := 0
	for _, b := range batches {
		records += b.records
	}
	if len(batches) < 2 || records == 0 {
		t.Errorf("got %d batches with %d records, want at least 2 batches and some records:\n%s", len(batches), records, out)
	}
}

// TestStreamDemoSocket runs the demo against a TCP server that sends known
// lines and checks that every word is counted once, whichever batches the
// lines fall in.
func TestStreamDemoSocket(t *testing.T) {
	t.Parallel()
	lines := []string{
		"to be or not to be",
		"that is the question",
		"to be",
		"whether tis nobler in the mind to suffer",
	}
	want := map[string]int{}
	for _, l := range lines {
		for _, w := range strings.Fields(l) {
			want[w]++
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		first := true
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if first {
				// Send the lines once and keep the connection open, so
				// that the receiver does not reconnect.
				io.WriteString(c, strings.Join(lines, "\n")+"\n")
				first = false
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	code, out, stderr := runCLI(t, testCtx(t), "demo", "--source", "socket", "--port", strconv.Itoa(port),
		"--duration", "2s", "--interval", "500ms", "--top", "50", "--no-ui")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s\nstdout:\n%s", code, stderr, out)
	}
	if want := fmt.Sprintf("source    socket 127.0.0.1:%d", port); !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "UI:") {
		t.Errorf("the demo started the UI despite --no-ui:\n%s", out)
	}
	got := map[string]int{}
	records := 0
	for _, b := range checkStreamRun(t, out, 50) {
		records += b.records
		for _, wf := range b.top {
			got[wf.word] += wf.count
		}
	}
	if records != len(lines) {
		t.Errorf("batches hold %d records, want %d:\n%s", records, len(lines), out)
	}
	if !maps.Equal(got, want) {
		t.Errorf("word counts summed over the batches:\n got %v\nwant %v\noutput:\n%s", got, want, out)
	}
}

// TestStreamDemoSocketUnreachable checks that a source that cannot connect
// is reported on stderr and retried, and that the demo still ends cleanly.
func TestStreamDemoSocketUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now

	code, out, stderr := runCLI(t, testCtx(t), "demo", "--source", "socket", "--port", strconv.Itoa(port),
		"--duration", "1s", "--interval", "200ms", "--no-ui")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s\nstdout:\n%s", code, stderr, out)
	}
	if want := "connecting to " + addr + " failed"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	for _, b := range checkStreamRun(t, out, 10) {
		if b.records != 0 {
			t.Errorf("batch %q has records, want none", b.line)
		}
	}
}

// TestStreamDemoInterrupted checks that cancelling the context (Ctrl-C)
// stops the streaming demo gracefully, with a summary and exit code 0.
func TestStreamDemoInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	time.AfterFunc(time.Second, cancel)
	code, out, stderr := runCLI(t, ctx, "demo", "--interval", "200ms", "--rate", "1000", "--no-ui")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s\nstdout:\n%s", code, stderr, out)
	}
	if !strings.Contains(out, "interrupted: stopping gracefully") {
		t.Errorf("output does not say the demo was interrupted:\n%s", out)
	}
	batches := checkStreamRun(t, out, 10)
	total := 0
	for _, b := range batches {
		total += b.records
	}
	// The generator stores lines every 10ms from the start, and a graceful
	// stop processes everything stored.
	if total == 0 {
		t.Errorf("no records processed:\n%s", out)
	}
}

// collectStores runs emitLines on clk at rate with store in a goroutine,
// waits until it armed its ticker, and returns a function that stops it
// and returns its error.
func collectStores(t *testing.T, clk *clock.Manual, rate int, store func([]string) error) (stop func() error) {
	t.Helper()
	m := newLineMaker(100, 1)
	stopCh := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- emitLines(clk, rate, generatorTick, m.next, stopCh, store) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Wait for the ticker before moving the clock.
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatalf("emitLines armed no ticker: %v", err)
	}
	return func() error {
		close(stopCh)
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("emitLines did not return after stop")
			return nil
		}
	}
}

// waitStored reads store sizes from stored until they add up to want and
// fails if they add up to more, or if they do not get there in time.
func waitStored(t *testing.T, stored <-chan int, want int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	sum := 0
	for sum < want {
		select {
		case n := <-stored:
			sum += n
		case <-timeout:
			t.Fatalf("stored %d lines, want %d", sum, want)
		}
	}
	if sum != want {
		t.Fatalf("stored %d lines, want %d", sum, want)
	}
}

// TestEmitLinesRate checks the generator's pacing on a manual clock: after
// the clock moved by d at rate r, exactly floor(r × d) lines are stored,
// however the ticks were seen.
func TestEmitLinesRate(t *testing.T) {
	for _, rate := range []int{1, 7, 250, 1000, 50_000} {
		t.Run(strconv.Itoa(rate), func(t *testing.T) {
			clk := clock.NewManual(time.Unix(1000, 0))
			stored := make(chan int, 1000)
			stop := collectStores(t, clk, rate, func(lines []string) error {
				for _, l := range lines {
					if len(strings.Fields(l)) != wordsPerLine {
						t.Errorf("line %q has %d words, want %d", l, len(strings.Fields(l)), wordsPerLine)
					}
				}
				stored <- len(lines)
				return nil
			})
			clk.Advance(time.Second) // in one go: many ticks are dropped
			waitStored(t, stored, rate)
			for range 10 { // one tick at a time
				clk.Advance(generatorTick)
			}
			waitStored(t, stored, int(linesDue(rate, 1100*time.Millisecond)-int64(rate)))
			if err := stop(); err != nil {
				t.Errorf("emitLines returned %v after stop, want nil", err)
			}
			select {
			case n := <-stored:
				t.Errorf("%d more lines stored", n)
			default:
			}
		})
	}
}

// TestEmitLinesFallsBehind checks that a generator that falls more than a
// second behind drops the excess instead of bursting.
func TestEmitLinesFallsBehind(t *testing.T) {
	clk := clock.NewManual(time.Unix(1000, 0))
	entered, release := make(chan int), make(chan struct{})
	stored := make(chan int, 100)
	first := true
	stop := collectStores(t, clk, 1000, func(lines []string) error {
		if first {
			first = false
			entered <- len(lines)
			<-release
			return nil
		}
		stored <- len(lines)
		return nil
	})
	clk.Advance(generatorTick)
	if n := <-entered; n != 10 {
		t.Fatalf("first store has %d lines, want 10", n)
	}
	clk.Advance(5 * time.Second) // while the store blocks
	close(release)
	waitStored(t, stored, 1000) // one second's worth, not 5000
	clk.Advance(generatorTick)
	waitStored(t, stored, 10)
	if err := stop(); err != nil {
		t.Errorf("emitLines returned %v after stop, want nil", err)
	}
}

func TestEmitLinesStoreError(t *testing.T) {
	clk := clock.NewManual(time.Unix(1000, 0))
	boom := errors.New("boom")
	m := newLineMaker(10, 1)
	done := make(chan error, 1)
	go func() {
		done <- emitLines(clk, 1000, generatorTick, m.next, make(chan struct{}), func([]string) error { return boom })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(generatorTick)
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Errorf("emitLines returned %v, want %v", err, boom)
		}
	case <-ctx.Done():
		t.Fatal("emitLines did not return after store failed")
	}
}

func TestLinesDue(t *testing.T) {
	for _, tc := range []struct {
		rate    int
		elapsed time.Duration
		want    int64
	}{
		{1000, time.Second, 1000},
		{1000, 10 * time.Millisecond, 10},
		{1000, 999 * time.Microsecond, 0},
		{333, 10 * time.Millisecond, 3},
		{7, 999 * time.Millisecond, 6},
		{7, time.Second, 7},
		{50_000, time.Hour, 180_000_000},
		{maxRate, 100 * 365 * 24 * time.Hour, maxRate * 100 * 365 * 24 * 3600},
		{maxRate, time.Duration(1<<63 - 1), maxRate*int64(time.Duration(1<<63-1)/time.Second) + maxRate*int64(time.Duration(1<<63-1)%time.Second)/int64(time.Second)},
		{1000, 0, 0},
		{1000, -time.Second, 0},
	} {
		if got := linesDue(tc.rate, tc.elapsed); got != tc.want {
			t.Errorf("linesDue(%d, %v) = %d, want %d", tc.rate, tc.elapsed, got, tc.want)
		}
	}
}

// TestLineMakerMatchesCorpus checks that the generator makes the corpus
// package's lines: deterministic by seed.
func TestLineMakerMatchesCorpus(t *testing.T) {
	for _, tc := range []struct {
		distinct int
		seed     uint64
	}{{300, 7}, {50_000, 1}, {1, 2}} {
		want := corpus.Lines(corpus.Config{Words: 500 * wordsPerLine, Distinct: tc.distinct, WordsPerLine: wordsPerLine, Seed: tc.seed})
		m := newLineMaker(tc.distinct, tc.seed)
		for i, w := range want {
			if got := m.next(); got != w {
				t.Fatalf("distinct=%d seed=%d: line %d is %q, want %q", tc.distinct, tc.seed, i, got, w)
			}
		}
	}
}

func TestKeepTop(t *testing.T) {
	kv := rdd.KV[string, int]
	for _, tc := range []struct {
		name string
		in   []rdd.Pair[string, int]
		n    int
		want []rdd.Pair[string, int]
	}{
		{"empty", nil, 3, []rdd.Pair[string, int]{}},
		{"fewer than n", []rdd.Pair[string, int]{kv("b", 1), kv("a", 2)}, 3, []rdd.Pair[string, int]{kv("a", 2), kv("b", 1)}},
		{"by count", []rdd.Pair[string, int]{kv("a", 1), kv("b", 5), kv("c", 3), kv("d", 4)}, 2, []rdd.Pair[string, int]{kv("b", 5), kv("d", 4)}},
		{"ties by word", []rdd.Pair[string, int]{kv("d", 2), kv("b", 2), kv("c", 2), kv("a", 2), kv("e", 1)}, 3, []rdd.Pair[string, int]{kv("a", 2), kv("b", 2), kv("c", 2)}},
		{"tie at the cut", []rdd.Pair[string, int]{kv("z", 9), kv("y", 1), kv("x", 1), kv("w", 1)}, 2, []rdd.Pair[string, int]{kv("z", 9), kv("w", 1)}},
		{"n is 1", []rdd.Pair[string, int]{kv("b", 3), kv("a", 3)}, 1, []rdd.Pair[string, int]{kv("a", 3)}},
	} {
		if got := keepTop(slices.Values(tc.in), tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("%s: keepTop = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTopCounts checks the one-job top n against sorting all the counts,
// for several partitionings.
func TestTopCounts(t *testing.T) {
	ec, err := engine.New(engine.Slots(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	counts := map[string]int{}
	for _, l := range corpus.Lines(corpus.Config{Words: 5000, Distinct: 400, Seed: 3}) {
		for _, w := range strings.Fields(l) {
			counts[w]++
		}
	}
	var all []rdd.Pair[string, int]
	for w, c := range counts {
		all = append(all, rdd.KV(w, c))
	}
	sorted := slices.SortedFunc(slices.Values(all), byCountThenWord)
	for _, partitions := range []int{1, 3, 8} {
		for _, n := range []int{1, 10, 1000} {
			got, err := topCounts(testCtx(t), rdd.Parallelize(ec, all, partitions), n)
			if err != nil {
				t.Fatal(err)
			}
			if want := sorted[:min(n, len(sorted))]; !slices.Equal(got, want) {
				t.Errorf("partitions=%d n=%d: got %v, want %v", partitions, n, got, want)
			}
		}
	}
}
