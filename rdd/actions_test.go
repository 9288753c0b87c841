package rdd

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
)

func TestCollectAndCount(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			// Reverse each partition's contents so that partition order and
			// value order differ: Collect must go partition by partition.
			r := MapPartitions(Parallelize(ec, seq(l.n), l.parts), func(in iter.Seq[int]) iter.Seq[int] {
				all := slices.Collect(in)
				slices.Reverse(all)
				return slices.Values(all)
			})
			want := slices.Concat(reverseEach(partitionsOf(t, Parallelize(ec, seq(l.n), l.parts)))...)
			got := collectOrFatal(t, r)
			if !slices.Equal(got, want) {
				t.Errorf("Collect = %v, want %v", got, want)
			}
			if got == nil {
				t.Error("Collect returned a nil slice, want an empty one for no elements")
			}
			n, err := r.Count(testCtx(t))
			if err != nil || n != l.n {
				t.Errorf("Count = %d, %v; want %d, nil", n, err, l.n)
			}
		})
	}
}

func reverseEach(parts [][]int) [][]int {
	out := make([][]int, len(parts))
	for i, p := range parts {
		out[i] = slices.Clone(p)
		slices.Reverse(out[i])
	}
	return out
}

func TestReduceFoldAggregate(t *testing.T) {
	ec := newEngine(t)
	add := func(a, b int) int { return a + b }
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			ctx := testCtx(t)
			r := Parallelize(ec, seq(l.n), l.parts)
			sum := l.n * (l.n - 1) / 2

			got, err := r.Reduce(ctx, add)
			switch {
			case l.n == 0:
				if !errors.Is(err, ErrEmpty) {
					t.Errorf("Reduce of no elements: err = %v, want ErrEmpty", err)
				}
			case err != nil || got != sum:
				t.Errorf("Reduce = %d, %v; want %d, nil", got, err, sum)
			}
			if m, err := r.Reduce(ctx, func(a, b int) int { return max(a, b) }); l.n > 0 && (err != nil || m != l.n-1) {
				t.Errorf("Reduce(max) = %d, %v; want %d", m, err, l.n-1)
			}

			if got, err := r.Fold(ctx, 0, add); err != nil || got != sum {
				t.Errorf("Fold = %d, %v; want %d, nil", got, err, sum)
			}

			type sc struct{ sum, count int }
			agg, err := Aggregate(ctx, r, sc{},
				func(acc sc, x int) sc { return sc{acc.sum + x, acc.count + 1} },
				func(a, b sc) sc { return sc{a.sum + b.sum, a.count + b.count} })
			if err != nil || agg != (sc{sum, l.n}) {
				t.Errorf("Aggregate = %+v, %v; want {%d %d}, nil", agg, err, sum, l.n)
			}
		})
	}
	t.Run("Reduce of a filtered-out RDD", func(t *testing.T) {
		_, err := Range(ec, 0, 100, 1, 4).Filter(func(int) bool { return false }).Reduce(testCtx(t), add)
		if !errors.Is(err, ErrEmpty) {
			t.Errorf("err = %v, want ErrEmpty", err)
		}
	})
}

func TestTake(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		for _, n := range []int{0, 1, 2, l.n/2 + 1, l.n, l.n + 5} {
			t.Run(fmt.Sprintf("%s/%d", l.name, n), func(t *testing.T) {
				r := Parallelize(ec, seq(l.n), l.parts)
				got, err := r.Take(testCtx(t), n)
				if err != nil {
					t.Fatal(err)
				}
				if want := seq(min(n, l.n)); !slices.Equal(got, want) {
					t.Errorf("Take(%d) = %v, want %v", n, got, want)
				}
			})
		}
	}
	t.Run("spanning partitions", func(t *testing.T) {
		r := Range(ec, 0, 100, 1, 10)
		got, err := r.Take(testCtx(t), 47)
		if err != nil || !slices.Equal(got, seq(47)) {
			t.Errorf("Take(47) = %v, %v; want 0..46", got, err)
		}
	})
}

// takeProbe counts, per partition, how often a Map function ran.
func takeProbe(ec *engine.Context, perPart, parts int) (*RDD[int], []atomic.Int64) {
	calls := make([]atomic.Int64, parts)
	r := MapPartitionsWithIndex(Range(ec, 0, perPart*parts, 1, parts), func(i int, in iter.Seq[int]) iter.Seq[int] {
		return func(yield func(int) bool) {
			for x := range in {
				calls[i].Add(1)
				if !yield(x) {
					return
				}
			}
		}
	})
	return r, calls
}

func TestTakeComputesOnlyWhatItNeeds(t *testing.T) {
	ec := newEngine(t)
	ctx := testCtx(t)
	rec := recordBus(t, ec)

	r, calls := takeProbe(ec, 100, 8)
	got, err := r.Take(ctx, 5)
	if err != nil || !slices.Equal(got, seq(5)) {
		t.Fatalf("Take(5) = %v, %v", got, err)
	}
	for p := 1; p < 8; p++ {
		if c := calls[p].Load(); c != 0 {
			t.Errorf("Take(5): partition %d was computed (%d calls); only partition 0 is needed", p, c)
		}
	}
	if c := calls[0].Load(); c == 0 || c > 100 {
		t.Errorf("Take(5): partition 0 ran %d times, want 1..100", c)
	}
	if n := countEvents[metrics.TaskStarted](rec.flushed(t)); n != 1 {
		t.Errorf("Take(5) started %d tasks, want 1", n)
	}

	// 150 elements need partitions 0 and 1: one round of one partition,
	// then one of four, and no more.
	r, calls = takeProbe(ec, 100, 8)
	got, err = r.Take(ctx, 150)
	if err != nil || !slices.Equal(got, seq(150)) {
		t.Fatalf("Take(150) = %v, %v", got, err)
	}
	for p := 5; p < 8; p++ {
		if c := calls[p].Load(); c != 0 {
			t.Errorf("Take(150): partition %d was computed (%d calls)", p, c)
		}
	}
	if c := calls[1].Load(); c < 50 {
		t.Errorf("Take(150): partition 1 ran %d times, want at least 50", c)
	}
}

func TestFirst(t *testing.T) {
	ec := newEngine(t)
	ctx := testCtx(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			v, err := Parallelize(ec, seq(l.n), l.parts).First(ctx)
			if l.n == 0 {
				if !errors.Is(err, ErrEmpty) {
					t.Errorf("First of no elements: %d, %v; want ErrEmpty", v, err)
				}
				return
			}
			if err != nil || v != 0 {
				t.Errorf("First = %d, %v; want 0, nil", v, err)
			}
		})
	}
	// The first element may sit in a later partition.
	v, err := Parallelize(ec, []string{"x"}, 8).First(ctx)
	if err != nil || v != "x" {
		t.Errorf("First = %q, %v; want x", v, err)
	}
	_, err = Range(ec, 0, 50, 1, 5).Filter(func(x int) bool { return x > 100 }).First(ctx)
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("First of filtered-out RDD: err = %v, want ErrEmpty", err)
	}
}

func TestForeach(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			var sum, count atomic.Int64
			err := Parallelize(ec, seq(l.n), l.parts).Foreach(testCtx(t), func(x int) {
				sum.Add(int64(x))
				count.Add(1)
			})
			if err != nil {
				t.Fatal(err)
			}
			if count.Load() != int64(l.n) || sum.Load() != int64(l.n*(l.n-1)/2) {
				t.Errorf("Foreach saw %d elements summing to %d, want %d summing to %d", count.Load(), sum.Load(), l.n, l.n*(l.n-1)/2)
			}
		})
	}
}

func TestForeachPartition(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			var calls, count atomic.Int64
			err := Parallelize(ec, seq(l.n), l.parts).ForeachPartition(testCtx(t), func(ctx context.Context, elems iter.Seq[int]) error {
				if ctx == nil {
					return errors.New("nil ctx")
				}
				calls.Add(1)
				for range elems {
					count.Add(1)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if calls.Load() != int64(l.parts) || count.Load() != int64(l.n) {
				t.Errorf("f called %d times with %d elements, want %d times with %d", calls.Load(), count.Load(), l.parts, l.n)
			}
		})
	}
	t.Run("error fails the action", func(t *testing.T) {
		errBoom := errors.New("boom")
		err := Range(ec, 0, 100, 1, 4).ForeachPartition(testCtx(t), func(_ context.Context, elems iter.Seq[int]) error {
			for x := range elems {
				if x == 60 {
					return fmt.Errorf("writing %d: %w", x, errBoom)
				}
			}
			return nil
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("err = %v, want errors.Is boom", err)
		}
		if err == nil || !strings.Contains(err.Error(), "rdd.ForeachPartition") {
			t.Errorf("err = %v, want it to name rdd.ForeachPartition", err)
		}
	})
}

func TestCountByValue(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			r := Map(Parallelize(ec, seq(l.n), l.parts), func(x int) int { return x % 3 })
			got, err := CountByValue(testCtx(t), r)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]int{}
			for x := range l.n {
				want[x%3]++
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("CountByValue = %v, want %v", got, want)
			}
		})
	}
}

// readLines returns the lines of a file written with a final newline.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a newline", path)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveAsTextFile(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			r := Map(Parallelize(ec, seq(l.n), l.parts), func(x int) Pair[string, int] { return KV(fmt.Sprint("k", x), x) })
			if err := r.SaveAsTextFile(testCtx(t), out); err != nil {
				t.Fatal(err)
			}
			want := []string{"_SUCCESS"}
			for i := range l.parts {
				want = append(want, fmt.Sprintf("part-%05d", i))
			}
			if got := dirNames(t, out); !slices.Equal(got, want) {
				t.Errorf("files = %q, want %q", got, want)
			}
			if got := dirNames(t, dir); !slices.Equal(got, []string{"out"}) {
				t.Errorf("files beside the output = %q, want only out", got)
			}
			if lines := readLines(t, filepath.Join(out, "_SUCCESS")); len(lines) != 0 {
				t.Errorf("_SUCCESS holds %q, want nothing", lines)
			}
			for i, p := range partitionsOf(t, r) {
				var wantLines []string
				for _, kv := range p {
					wantLines = append(wantLines, fmt.Sprintf("(%s,%d)", kv.Key, kv.Value))
				}
				if got := readLines(t, filepath.Join(out, fmt.Sprintf("part-%05d", i))); !slices.Equal(got, wantLines) {
					t.Errorf("part %d lines = %q, want %q", i, got, wantLines)
				}
			}
		})
	}
}

func TestSaveAsTextFileFormats(t *testing.T) {
	ec := newEngine(t)
	dir := t.TempDir()
	ctx := testCtx(t)
	save := func(name string, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return readLines(t, filepath.Join(dir, name, "part-00000"))
	}
	if got := save("s", Parallelize(ec, []string{"a b", "", "c"}, 1).SaveAsTextFile(ctx, filepath.Join(dir, "s"))); !slices.Equal(got, []string{"a b", "", "c"}) {
		t.Errorf("strings saved as %q", got)
	}
	if got := save("f", Parallelize(ec, []float64{1.5, -2}, 1).SaveAsTextFile(ctx, filepath.Join(dir, "f"))); !slices.Equal(got, []string{"1.5", "-2"}) {
		t.Errorf("floats saved as %q", got)
	}
	if got := save("i64", Parallelize(ec, []int64{-7, 1 << 40}, 1).SaveAsTextFile(ctx, filepath.Join(dir, "i64"))); !slices.Equal(got, []string{"-7", "1099511627776"}) {
		t.Errorf("int64s saved as %q", got)
	}
}

func TestSaveAsTextFileExistingPath(t *testing.T) {
	ec := newEngine(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, out, "keep", "old\n")
	err := Range(ec, 0, 10, 1, 2).SaveAsTextFile(testCtx(t), out)
	if err == nil || !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("err = %v, want one saying %s already exists", err, out)
	}
	if got := dirNames(t, out); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("existing directory now holds %q, want it untouched", got)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"out"}) {
		t.Errorf("parent holds %q, want only out", got)
	}
	// An existing file is refused too.
	file := writeFile(t, dir, "file", "x")
	if err := Range(ec, 0, 10, 1, 2).SaveAsTextFile(testCtx(t), file); err == nil {
		t.Error("saving over an existing file succeeded")
	}
}

func TestSaveAsTextFileFailedJobLeavesNothing(t *testing.T) {
	ec := newEngine(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := Map(Range(ec, 0, 5000, 1, 4), func(x int) int {
		if x == 3777 {
			panic("bad record")
		}
		return x
	})
	err := r.SaveAsTextFile(testCtx(t), out)
	var pe *engine.TaskPanicError
	if !errors.As(err, &pe) || pe.Value != "bad record" {
		t.Errorf("err = %v, want a TaskPanicError with value \"bad record\"", err)
	}
	if _, serr := os.Lstat(out); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("after a failed job, Lstat(%s) = %v; want it missing", out, serr)
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("after a failed job the parent holds %q, want nothing (no temporary directory)", got)
	}
	// Saving again to the same path works once the job succeeds.
	if err := Range(ec, 0, 10, 1, 2).SaveAsTextFile(testCtx(t), out); err != nil {
		t.Errorf("retry: %v", err)
	}
}
