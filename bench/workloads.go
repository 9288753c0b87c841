package bench

import (
	"context"
	"os"
	"runtime"
	"strings"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/corpus"
	"github.com/spate-io/spate/rdd"
)

// Input sizes of the full run. [shortRun] divides them by 100.
const (
	wordCountWords    = 20_000_000
	wordCountDistinct = 100_000
	wordsPerLine      = 10
	mapFilterRecords  = 100_000_000
	emptyJobParts     = 8
)

// shortRun reports whether SPATE_BENCH_SHORT=1 asks for the CI smoke sizes.
func shortRun() bool { return os.Getenv("SPATE_BENCH_SHORT") == "1" }

// scaled returns n, or n/100 in a short run.
func scaled(n int) int {
	if shortRun() {
		return n / 100
	}
	return n
}

// wordCountConfig is the corpus of the word-count benchmarks. The
// vocabulary stays at 100K in a short run so that the map sizes, and with
// them the cache behaviour, resemble the full run's.
func wordCountConfig() corpus.Config {
	return corpus.Config{
		Words:        scaled(wordCountWords),
		Distinct:     wordCountDistinct,
		WordsPerLine: wordsPerLine,
		Exponent:     1.1,
		Seed:         1,
	}
}

// lineSlices is how many partitions the corpus is parallelized into.
func lineSlices() int { return 2 * runtime.GOMAXPROCS(0) }

// spateWordCount counts words the Spark way: FlatMap(strings.Fields) →
// Map(w → (w, 1)) → ReduceByKey(+) → Collect.
func spateWordCount(ctx context.Context, lines *rdd.RDD[string]) ([]rdd.Pair[string, int], error) {
	words := rdd.FlatMap(lines, strings.Fields)
	ones := rdd.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
	counts := rdd.ReduceByKey(ones, func(a, b int) int { return a + b })
	return counts.Collect(ctx)
}

// handWordCount is the baseline: one goroutine, strings.Fields per line,
// a map[string]int, then the same result slice spate returns.
func handWordCount(lines []string) []rdd.Pair[string, int] {
	counts := map[string]int{}
	for _, l := range lines {
		for _, w := range strings.Fields(l) {
			counts[w]++
		}
	}
	out := make([]rdd.Pair[string, int], 0, len(counts))
	for w, n := range counts {
		out = append(out, rdd.KV(w, n))
	}
	return out
}

// spateMapFilter sums Map(x+1) ∘ Filter(x%3 == 0) ∘ Map(x*2) over
// Range(0, n), one partition per worker slot. Fold consumes the chunks
// without allocating per record.
func spateMapFilter(ctx context.Context, ec *engine.Context, n int) (int, error) {
	nums := rdd.Range(ec, 0, n, 1, ec.Slots())
	doubled := rdd.Map(nums, func(x int) int { return x * 2 })
	kept := doubled.Filter(func(x int) bool { return x%3 == 0 })
	plusOne := rdd.Map(kept, func(x int) int { return x + 1 })
	return plusOne.Fold(ctx, 0, func(a, b int) int { return a + b })
}

// handMapFilter is the baseline: the same arithmetic in one loop.
func handMapFilter(n int) int {
	sum := 0
	for i := 0; i < n; i++ {
		x := i * 2
		if x%3 == 0 {
			sum += x + 1
		}
	}
	return sum
}

// spateEmptyJob runs Count over an RDD of emptyJobParts empty partitions:
// the fixed cost of planning and scheduling a job and its tasks.
func spateEmptyJob(ctx context.Context, empty *rdd.RDD[int]) (int, error) {
	return empty.Count(ctx)
}
