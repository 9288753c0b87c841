package rdd

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
)

// inputLayout is one way of spreading n records over partitions; the
// creation, narrow and action tests run over each of inputLayouts.
type inputLayout struct {
	name     string
	n, parts int
}

var inputLayouts = []inputLayout{
	{"empty", 0, 3},
	{"one partition", 10, 1},
	{"several partitions", 100, 4},
	{"more partitions than records", 3, 8},
}

// seq returns 0, 1, ..., n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// collectOrFatal collects r and fails the test on an error.
func collectOrFatal[T any](t *testing.T, r *RDD[T]) []T {
	t.Helper()
	got, err := r.Collect(testCtx(t))
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return got
}

// partitionsOf returns r's partitions (through Glom).
func partitionsOf[T any](t *testing.T, r *RDD[T]) [][]T {
	t.Helper()
	parts := collectOrFatal(t, Glom(r))
	if len(parts) != r.NumPartitions() {
		t.Fatalf("Glom returned %d partitions, RDD has %d", len(parts), r.NumPartitions())
	}
	return parts
}

// checkBalanced fails unless parts has want partitions whose sizes differ
// by at most one and whose concatenation is all.
func checkBalanced[T comparable](t *testing.T, parts [][]T, want int, all []T) {
	t.Helper()
	if len(parts) != want {
		t.Fatalf("got %d partitions, want %d", len(parts), want)
	}
	lo, hi := len(all)/want, (len(all)+want-1)/want
	for i, p := range parts {
		if len(p) < lo || len(p) > hi {
			t.Errorf("partition %d has %d elements, want %d..%d", i, len(p), lo, hi)
		}
	}
	if got := slices.Concat(parts...); !slices.Equal(got, all) {
		t.Errorf("partitions concatenated = %v, want %v", got, all)
	}
}

// busRecorder keeps the events posted on an engine's bus.
type busRecorder struct {
	ec     *engine.Context
	mu     sync.Mutex
	events []metrics.Event
}

// recordBus records the events of jobs started after the call. (Events of
// earlier jobs may still be queued; a flush delivers them first.)
func recordBus(t *testing.T, ec *engine.Context) *busRecorder {
	t.Helper()
	if err := ec.Bus().Flush(testCtx(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	r := &busRecorder{ec: ec}
	unsubscribe := ec.Bus().Subscribe(metrics.ListenerFunc(func(e metrics.Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
	}))
	t.Cleanup(unsubscribe)
	return r
}

// flushed returns every event posted so far, after delivering them.
func (r *busRecorder) flushed(t *testing.T) []metrics.Event {
	t.Helper()
	if err := r.ec.Bus().Flush(testCtx(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func TestParallelizePartitions(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			data := seq(l.n)
			r := Parallelize(ec, data, l.parts)
			if err := r.Err(); err != nil {
				t.Fatalf("Err() = %v", err)
			}
			if r.NumPartitions() != l.parts {
				t.Fatalf("NumPartitions() = %d, want %d", r.NumPartitions(), l.parts)
			}
			checkBalanced(t, partitionsOf(t, r), l.parts, data)
			if got := collectOrFatal(t, r); !slices.Equal(got, data) {
				t.Errorf("Collect = %v, want %v", got, data)
			}
		})
	}
}

func TestParallelizeExactSlices(t *testing.T) {
	ec := newEngine(t)
	got := partitionsOf(t, Parallelize(ec, []string{"a", "b", "c", "d", "e"}, 2))
	want := [][]string{{"a", "b"}, {"c", "d", "e"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("partitions = %q, want %q", got, want)
	}
	empty := partitionsOf(t, Parallelize(ec, []int(nil), 3))
	if len(empty) != 3 {
		t.Fatalf("got %d partitions, want 3", len(empty))
	}
	for i, p := range empty {
		if len(p) != 0 {
			t.Errorf("partition %d = %v, want empty", i, p)
		}
	}
}

func TestParallelizeCopiesInput(t *testing.T) {
	ec := newEngine(t)
	data := []int{1, 2, 3, 4}
	r := Parallelize(ec, data, 2)
	data[0], data[3] = 100, 400
	_ = append(data[:2], 99) // overwrites data[2] in place
	if got, want := collectOrFatal(t, r), []int{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("Collect after mutating the input = %v, want %v", got, want)
	}
}

// rangeRef is a plain loop computing what Range should return.
func rangeRef(start, end, step int) []int {
	out := []int{}
	for v := start; (step > 0 && v < end) || (step < 0 && v > end); v += step {
		out = append(out, v)
	}
	return out
}

func TestRange(t *testing.T) {
	ec := newEngine(t)
	tests := []struct {
		name                   string
		start, end, step, nums int
	}{
		{"empty", 0, 0, 1, 3},
		{"one partition", 0, 10, 1, 1},
		{"several partitions", 0, 100, 1, 4},
		{"more partitions than records", 0, 3, 1, 8},
		{"step not aligned with end", 0, 10, 3, 2},
		{"step aligned with end", 0, 9, 3, 2},
		{"negative start", -5, 5, 2, 4},
		{"negative step", 10, 0, -3, 2},
		{"negative step aligned", 10, 1, -3, 3},
		{"negative step empty", 0, 5, -1, 2},
		{"positive step, end before start", 5, 0, 1, 2},
		{"single element", 7, 8, 100, 4},
		{"crosses chunks", 3, 5000, 1, 2},
		{"crosses chunks with step", 10000, -10000, -7, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Range(ec, tt.start, tt.end, tt.step, tt.nums)
			want := rangeRef(tt.start, tt.end, tt.step)
			checkBalanced(t, partitionsOf(t, r), tt.nums, want)
			n, err := r.Count(testCtx(t))
			if err != nil || n != len(want) {
				t.Errorf("Count = %d, %v; want %d, nil", n, err, len(want))
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	ec := newEngine(t)
	r := Empty[string](ec)
	if err := r.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	if r.NumPartitions() != 0 {
		t.Errorf("NumPartitions() = %d, want 0", r.NumPartitions())
	}
	ctx := testCtx(t)
	if got := collectOrFatal(t, r); len(got) != 0 {
		t.Errorf("Collect = %q, want nothing", got)
	}
	if n, err := r.Count(ctx); n != 0 || err != nil {
		t.Errorf("Count = %d, %v; want 0, nil", n, err)
	}
	if got := collectOrFatal(t, Glom(r)); len(got) != 0 {
		t.Errorf("Glom = %q, want no partitions", got)
	}
	if got, err := r.Take(ctx, 3); len(got) != 0 || err != nil {
		t.Errorf("Take(3) = %q, %v; want nothing, nil", got, err)
	}
	if _, err := r.First(ctx); !errors.Is(err, ErrEmpty) {
		t.Errorf("First error = %v, want ErrEmpty", err)
	}
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTextFileLayouts(t *testing.T) {
	ec := newEngine(t)
	dir := t.TempDir()
	var many strings.Builder
	var manyLines []string
	for i := range 100 {
		fmt.Fprintf(&many, "line %d\n", i)
		manyLines = append(manyLines, fmt.Sprintf("line %d", i))
	}
	tests := []struct {
		name    string
		content string
		minP    int
		want    []string
	}{
		{"empty", "", 3, nil},
		{"one partition", "a\nb\nc\n", 1, []string{"a", "b", "c"}},
		{"several partitions", many.String(), 4, manyLines},
		{"more partitions than records", "a\nb\nc\n", 8, []string{"a", "b", "c"}},
		{"CRLF and no final newline", "a\r\n\r\nb\r\nlast", 2, []string{"a", "", "b", "last"}},
		{"only a newline", "\n", 2, []string{""}},
		{"blank lines", "\n\nx\n\n", 3, []string{"", "", "x", ""}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, fmt.Sprintf("f%d.txt", i), tt.content)
			r := TextFile(ec, path, tt.minP)
			if err := r.Err(); err != nil {
				t.Fatalf("Err() = %v", err)
			}
			parts := partitionsOf(t, r)
			if got := slices.Concat(parts...); !slices.Equal(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
			if tt.content != "" && len(parts) < min(tt.minP, len(tt.content)) {
				t.Errorf("got %d partitions, want at least %d", len(parts), tt.minP)
			}
		})
	}
}

// varyingLines returns lines of lengths 0 to a few hundred bytes, some
// ending in "\r" (so the file has CRLF lines), plus one line longer than
// the reader's 64 KiB buffer.
func varyingLines(seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	lines := make([]string, n)
	for i := range lines {
		var b strings.Builder
		fmt.Fprintf(&b, "%d:", i)
		switch k := rng.IntN(10); {
		case k == 0:
			b.Reset() // an empty line
		case k < 8:
			b.WriteString(strings.Repeat("x", rng.IntN(80)))
		default:
			b.WriteString(strings.Repeat("y", rng.IntN(400)))
		}
		lines[i] = b.String()
	}
	lines[n/2] = strings.Repeat("L", 300<<10)
	return lines
}

func TestTextFileSplitBoundaries(t *testing.T) {
	ec := newEngine(t)
	lines := varyingLines(42, 2000)
	var content strings.Builder
	for i, l := range lines {
		content.WriteString(l)
		if i%7 == 3 {
			content.WriteString("\r")
		}
		if i != len(lines)-1 { // the last line has no newline
			content.WriteString("\n")
		}
	}
	path := writeFile(t, t.TempDir(), "lines.txt", content.String())
	for minP := 1; minP <= 20; minP++ {
		r := TextFile(ec, path, minP)
		parts := partitionsOf(t, r)
		if len(parts) < minP {
			t.Errorf("minPartitions %d: got %d partitions", minP, len(parts))
		}
		got := slices.Concat(parts...)
		if len(got) != len(lines) {
			t.Errorf("minPartitions %d: got %d lines, want %d", minP, len(got), len(lines))
		}
		if !slices.Equal(got, lines) {
			for i := range min(len(got), len(lines)) {
				if got[i] != lines[i] {
					t.Errorf("minPartitions %d: line %d differs: got %.40q, want %.40q", minP, i, got[i], lines[i])
					break
				}
			}
		}
	}
}

func TestTextFileDirectory(t *testing.T) {
	ec := newEngine(t)
	dir := t.TempDir()
	writeFile(t, dir, "b.txt", "b1\nb2\n")
	writeFile(t, dir, "a.txt", "a1\na2")
	writeFile(t, dir, ".hidden", "hidden\n")
	writeFile(t, dir, "_x", "underscore\n")
	writeFile(t, dir, "_SUCCESS", "")
	writeFile(t, dir, "empty.txt", "")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub"), "c.txt", "nested\n")

	got := collectOrFatal(t, TextFile(ec, dir, 1))
	want := []string{"a1", "a2", "b1", "b2"}
	if !slices.Equal(got, want) {
		t.Errorf("directory lines = %q, want %q", got, want)
	}

	r := TextFile(ec, filepath.Join(dir, "*.txt"), 5)
	if got := collectOrFatal(t, r); !slices.Equal(got, want) {
		t.Errorf("glob lines = %q, want %q", got, want)
	}
	if got := collectOrFatal(t, TextFile(ec, filepath.Join(dir, "b*"), 1)); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Errorf("glob b* lines = %q, want [b1 b2]", got)
	}
	// A glob does not bring hidden files back in.
	if got := collectOrFatal(t, TextFile(ec, filepath.Join(dir, "[._]*"), 1)); len(got) != 0 {
		t.Errorf("glob of hidden files = %q, want nothing", got)
	}
}

func TestTextFileEmptyFile(t *testing.T) {
	ec := newEngine(t)
	path := writeFile(t, t.TempDir(), "empty.txt", "")
	r := TextFile(ec, path, 4)
	if err := r.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	if n, err := r.Count(testCtx(t)); n != 0 || err != nil {
		t.Errorf("Count = %d, %v; want 0, nil", n, err)
	}
}

func TestTextFileMissingPath(t *testing.T) {
	ec := newEngine(t)
	dir := t.TempDir()
	for _, path := range []string{
		filepath.Join(dir, "missing.txt"),
		filepath.Join(dir, "missing", "*.txt"),
	} {
		r := TextFile(ec, path, 2)
		err := r.Err()
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "rdd.TextFile") {
			t.Errorf("TextFile(%q).Err() = %v, want an error naming rdd.TextFile and the path", path, err)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("TextFile(%q).Err() = %v, want errors.Is fs.ErrNotExist", path, err)
		}
		_, cerr := r.Collect(testCtx(t))
		if cerr == nil || !strings.Contains(cerr.Error(), path) {
			t.Errorf("Collect error = %v, want one naming %s", cerr, path)
		}
	}
}
