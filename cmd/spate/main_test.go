package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/internal/corpus"
)

// runCLI runs the command line args in-process and returns the exit code
// and what was written to stdout and stderr.
func runCLI(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// section returns the lines after the line equal to title, up to the next
// empty line or the end of out.
func section(t *testing.T, out, title string) []string {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := slices.Index(lines, title)
	if i < 0 {
		t.Fatalf("output has no %q line:\n%s", title, out)
	}
	var sec []string
	for _, l := range lines[i+1:] {
		if l == "" {
			break
		}
		sec = append(sec, l)
	}
	return sec
}

type wordFreq struct {
	word  string
	count int
}

// printedTop parses the "top N words:" table of the demo's output.
func printedTop(t *testing.T, out string, n int) []wordFreq {
	t.Helper()
	rows := section(t, out, fmt.Sprintf("top %d words:", n))
	if len(rows) == 0 || !slices.Equal(strings.Fields(rows[0]), []string{"rank", "word", "count"}) {
		t.Fatalf("top table has no header line:\n%s", out)
	}
	var top []wordFreq
	for i, r := range rows[1:] {
		f := strings.Fields(r)
		if len(f) != 3 || f[0] != strconv.Itoa(i+1) {
			t.Fatalf("top table line %q: want rank %d, word, count", r, i+1)
		}
		c, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatalf("top table line %q: count: %v", r, err)
		}
		top = append(top, wordFreq{f[1], c})
	}
	return top
}

// expectedTop counts the words of the corpus with a plain map and returns
// the n most frequent, by count descending and word ascending.
func expectedTop(cfg corpus.Config, n int) []wordFreq {
	counts := map[string]int{}
	for _, l := range corpus.Lines(cfg) {
		for _, w := range strings.Fields(l) {
			counts[w]++
		}
	}
	var all []wordFreq
	for w, c := range counts {
		all = append(all, wordFreq{w, c})
	}
	slices.SortFunc(all, func(a, b wordFreq) int { return cmp.Or(cmp.Compare(b.count, a.count), cmp.Compare(a.word, b.word)) })
	return all[:min(n, len(all))]
}

func TestDemo(t *testing.T) {
	code, out, stderr := runCLI(t, testCtx(t), "demo", "--batch", "--words", "20000", "--distinct", "500", "--top", "5")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"spate demo: word count on spate's execution core",
		"corpus   20000 words, 500 distinct",
		"lineage of the word counts (ToDebugString):",
		"ReduceByKey[",
		"total    20000 words counted in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "UI:") {
		t.Errorf("the batch demo started the UI:\n%s", out)
	}

	top := printedTop(t, out, 5)
	if len(top) != 5 {
		t.Fatalf("got %d ranked lines, want 5:\n%s", len(top), out)
	}
	for i := 1; i < len(top); i++ {
		if top[i].count > top[i-1].count {
			t.Errorf("counts increase from rank %d (%d) to rank %d (%d)", i, top[i-1].count, i+1, top[i].count)
		}
	}

	stages := section(t, out, "stages:")
	ran := 0
	for _, l := range stages[1:] { // after the header
		if !strings.HasSuffix(l, "skipped") {
			ran++
		}
	}
	if ran < 2 {
		t.Errorf("stage table lists %d stages that ran, want at least 2:\n%s", ran, out)
	}
	if len(section(t, out, "jobs:")) < 2 {
		t.Errorf("job table is empty:\n%s", out)
	}
}

// TestDemoCountsAreCorrect compares the demo's top words with a plain Go
// count over the same corpus, for several partitionings and for corpora
// with many tied counts (where the tie order must be by word).
func TestDemoCountsAreCorrect(t *testing.T) {
	for _, tc := range []struct {
		words, distinct, top, partitions, slots int
		seed                                    uint64
	}{
		{words: 20000, distinct: 500, top: 5, partitions: 8, slots: 2, seed: 1},
		{words: 20000, distinct: 500, top: 20, partitions: 1, slots: 1, seed: 2},
		{words: 50000, distinct: 2000, top: 10, partitions: 7, slots: 3, seed: 3},
		// Most words occur once or twice: long ties at the cut-off.
		{words: 300, distinct: 1000, top: 25, partitions: 4, slots: 2, seed: 4},
		// Fewer distinct words than asked for.
		{words: 100, distinct: 3, top: 10, partitions: 3, slots: 2, seed: 5},
	} {
		name := fmt.Sprintf("words=%d,distinct=%d,top=%d,partitions=%d", tc.words, tc.distinct, tc.top, tc.partitions)
		t.Run(name, func(t *testing.T) {
			code, out, stderr := runCLI(t, testCtx(t), "demo", "--batch",
				"--words", strconv.Itoa(tc.words), "--distinct", strconv.Itoa(tc.distinct), "--top", strconv.Itoa(tc.top),
				"--partitions", strconv.Itoa(tc.partitions), "--slots", strconv.Itoa(tc.slots), "--seed", strconv.FormatUint(tc.seed, 10))
			if code != exitOK {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
			}
			want := expectedTop(corpus.Config{Words: tc.words, Distinct: tc.distinct, WordsPerLine: wordsPerLine, Seed: tc.seed}, tc.top)
			got := printedTop(t, out, len(want))
			if !slices.Equal(got, want) {
				t.Errorf("top words:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestDemoInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, stderr := runCLI(t, ctx, "demo", "--batch", "--words", "1000", "--distinct", "100")
	if code != exitInterrupted {
		t.Errorf("exit code %d, want %d", code, exitInterrupted)
	}
	if !strings.Contains(stderr, "interrupted") {
		t.Errorf("stderr does not say the demo was interrupted:\n%s", stderr)
	}
}

func TestVersion(t *testing.T) {
	code, out, stderr := runCLI(t, testCtx(t), "version")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if !strings.HasPrefix(out, "spate ") {
		t.Errorf("output does not start with \"spate \":\n%s", out)
	}
	if !strings.Contains(out, runtime.Version()) {
		t.Errorf("output lacks the Go version %s:\n%s", runtime.Version(), out)
	}
}

func TestWriteVersionWithoutBuildInfo(t *testing.T) {
	var b bytes.Buffer
	writeVersion(&b, nil)
	if got, want := b.String(), "spate (devel)\n"+runtime.Version(); !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want prefix %q", got, want)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{nil, {"help"}, {"-h"}, {"--help"}} {
		code, out, stderr := runCLI(t, testCtx(t), args...)
		if code != exitOK || stderr != "" {
			t.Errorf("%q: exit code %d, stderr %q; want 0 and none", args, code, stderr)
		}
		for _, want := range []string{"Usage:", "demo ", "version ", "help "} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: usage lacks %q:\n%s", args, want, out)
			}
		}
	}
	for _, args := range [][]string{{"help", "demo"}, {"demo", "-h"}, {"demo", "--help"}} {
		code, out, _ := runCLI(t, testCtx(t), args...)
		if code != exitOK {
			t.Errorf("%q: exit code %d, want 0", args, code)
		}
		for _, want := range []string{"Usage: spate demo", "--batch", "--words N", "--partitions N", "(default 2000000)",
			"--rate N", "(default 50000)", "--interval DURATION", "(default 1s)", "--duration DURATION",
			"--source SOURCE", "(default generator)", "--port PORT", "(default 9999)", "nc -lk 9999",
			"--ui-addr ADDR", "(default 127.0.0.1:4040)", "--no-ui", "--ui-kill", "monitoring UI"} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: output lacks %q:\n%s", args, want, out)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"--verbose"}, "--verbose"},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "demo", "version"}, "too many arguments"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"demo", "--batch", "extra"}, `unexpected argument "extra"`},
		{[]string{"demo", "--batch", "--partitions", "0"}, "--partitions must be at least 1, got 0"},
		{[]string{"demo", "--batch", "--words", "-1"}, "--words must be at least 1, got -1"},
		{[]string{"demo", "--batch", "--distinct", "0"}, "--distinct"},
		{[]string{"demo", "--batch", "--slots", "0"}, "--slots"},
		{[]string{"demo", "--batch", "--top", "-3"}, "--top"},
		{[]string{"demo", "--batch", "--top", "10001"}, "--top must be at most 10000"},
		{[]string{"demo", "--batch", "--seed", "0"}, "--seed"},
		{[]string{"demo", "--batch", "--seed", "-1"}, "-seed"},
		{[]string{"demo", "--batch", "--words", "many"}, "-words"},
		{[]string{"demo", "--batch", "--colour"}, "-colour"},
		{[]string{"demo", "--batch=maybe"}, "-batch"},
		// The streaming demo.
		{[]string{"demo", "--rate", "0"}, "--rate must be at least 1, got 0"},
		{[]string{"demo", "--rate", "-5"}, "--rate must be at least 1"},
		{[]string{"demo", "--rate", "10000001"}, "--rate must be at most 10000000"},
		{[]string{"demo", "--rate", "fast"}, "-rate"},
		{[]string{"demo", "--interval", "0"}, "--interval must be at least 10ms, got 0s"},
		{[]string{"demo", "--interval", "-1s"}, "--interval"},
		{[]string{"demo", "--interval", "1ms"}, "--interval"},
		{[]string{"demo", "--interval", "1"}, "-interval"}, // no unit
		{[]string{"demo", "--duration", "-1s"}, "--duration must not be negative"},
		{[]string{"demo", "--source", "socket", "--port", "0"}, "--port must be in 1..65535, got 0"},
		{[]string{"demo", "--source", "socket", "--port", "65536"}, "--port must be in 1..65535"},
		{[]string{"demo", "--source", "socket", "--host", ""}, "--host must not be empty"},
		{[]string{"demo", "--slots", "0"}, "--slots"},
		{[]string{"demo", "--top", "0"}, "--top"},
		{[]string{"demo", "--seed", "0"}, "--seed"},
		// Flags of another run of the demo.
		{[]string{"demo", "--words", "100"}, "--words does not apply to the streaming demo's generator source"},
		{[]string{"demo", "--partitions", "2"}, "--partitions does not apply"},
		{[]string{"demo", "--batch", "--rate", "10"}, "--rate does not apply to the batch demo (--batch)"},
		{[]string{"demo", "--batch", "--duration", "1s"}, "--duration does not apply to the batch demo"},
		{[]string{"demo", "--batch", "--source", "socket"}, "--source does not apply to the batch demo"},
		{[]string{"demo", "--port", "9000"}, "--port does not apply to the streaming demo's generator source"},
		{[]string{"demo", "--source", "socket", "--rate", "10"}, "--rate does not apply to the streaming demo's socket source"},
		{[]string{"demo", "--source", "socket", "--seed", "3"}, "--seed does not apply to the streaming demo's socket source"},
		{[]string{"demo", "--kafka", "--port", "9000"}, "--port does not apply to the streaming demo's Kafka source (--source kafka or --kafka)"},
		{[]string{"demo", "--brokers", "localhost:9092"}, "--brokers does not apply to the streaming demo's generator source"},
		{[]string{"demo", "--kafka", "--source", "socket"}, "--kafka means --source kafka"},
		{[]string{"demo", "--kafka", "--topic", ""}, "--topic must not be empty"},
		{[]string{"demo", "--source", "files"}, "--source must be generator, socket or kafka"},
		// The UI flags.
		{[]string{"demo", "--batch", "--ui-addr", "127.0.0.1:0"}, "--ui-addr does not apply to the batch demo"},
		{[]string{"demo", "--batch", "--no-ui"}, "--no-ui does not apply to the batch demo"},
		{[]string{"demo", "--no-ui", "--ui-addr", "127.0.0.1:0"}, "--no-ui turns the UI off"},
		{[]string{"demo", "--no-ui", "--ui-kill"}, "--no-ui turns the UI off"},
		{[]string{"demo", "--ui-addr", "4040"}, "--ui-addr must be host:port"},
		{[]string{"demo", "--ui-addr", "127.0.0.1:99999"}, "--ui-addr port must be a number in 0..65535"},
	} {
		code, out, stderr := runCLI(t, testCtx(t), tc.args...)
		if code != exitUsage {
			t.Errorf("%q: exit code %d, want %d", tc.args, code, exitUsage)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: stderr lacks %q:\n%s", tc.args, tc.want, stderr)
		}
		if out != "" {
			t.Errorf("%q: wrote to stdout:\n%s", tc.args, out)
		}
	}
}
