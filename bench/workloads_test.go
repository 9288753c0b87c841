package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/corpus"
	"github.com/spate-io/spate/rdd"
)

func newTestEngine(t *testing.T, opts ...engine.Option) *engine.Context {
	t.Helper()
	ec, err := engine.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ec.Close() })
	return ec
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sameCounts reports whether two word counts hold the same pairs, in any
// order.
func sameCounts(a, b []rdd.Pair[string, int]) bool {
	byKey := func(x, y rdd.Pair[string, int]) int { return cmp.Compare(x.Key, y.Key) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, byKey)
	slices.SortFunc(b, byKey)
	return slices.Equal(a, b)
}

func TestWordCountMatchesBaseline(t *testing.T) {
	lines := corpus.Lines(corpus.Config{Words: 50_003, Distinct: 2_000, WordsPerLine: 10, Seed: 3})
	want := handWordCount(lines)
	total := 0
	for _, p := range want {
		total += p.Value
	}
	if total != 50_003 {
		t.Fatalf("hand loop counted %d words, want 50003", total)
	}
	for _, slots := range []int{1, 2, 4} {
		for _, parts := range []int{1, 3, 8} {
			t.Run(fmt.Sprintf("slots=%d/slices=%d", slots, parts), func(t *testing.T) {
				ec := newTestEngine(t, engine.Slots(slots))
				got, err := spateWordCount(testCtx(t), rdd.Parallelize(ec, lines, parts))
				if err != nil {
					t.Fatal(err)
				}
				if !sameCounts(got, want) {
					t.Fatalf("spate found %d distinct words, hand loop %d, or their counts differ", len(got), len(want))
				}
			})
		}
	}
}

func TestMapFilterMatchesBaseline(t *testing.T) {
	ec := newTestEngine(t)
	for _, n := range []int{0, 1, 3, 1023, 1024, 1025, 100_003} {
		got, err := spateMapFilter(testCtx(t), ec, n)
		if err != nil {
			t.Fatal(err)
		}
		if want := handMapFilter(n); got != want {
			t.Errorf("n=%d: spate sum = %d, hand loop sum = %d", n, got, want)
		}
	}
}

func TestEmptyJobCountsNothing(t *testing.T) {
	ec := newTestEngine(t)
	n, err := spateEmptyJob(testCtx(t), rdd.Parallelize(ec, []int{}, emptyJobParts))
	if err != nil || n != 0 {
		t.Fatalf("Count = %d, %v; want 0, nil", n, err)
	}
}
