package rdd

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// This file tests SortByKey: sorted output, range-partitioned order across
// partitions, and the partition count, for int, string and float keys.

// kvCheckSorted fails unless parts has want partitions, each sorted by key
// in the given direction, and every key of partition i orders strictly
// before every key of the next non-empty partition (so equal keys share a
// partition).
func kvCheckSorted[K cmp.Ordered, V any](t *testing.T, parts [][]Pair[K, V], ascending bool, want int) {
	t.Helper()
	if len(parts) != want {
		t.Errorf("got %d partitions, want %d", len(parts), want)
	}
	order := func(a, b K) int { return cmp.Compare(a, b) }
	if !ascending {
		order = func(a, b K) int { return cmp.Compare(b, a) }
	}
	var prev K
	prevPart := -1
	for i, part := range parts {
		for j := 1; j < len(part); j++ {
			if order(part[j-1].Key, part[j].Key) > 0 {
				t.Errorf("partition %d is not sorted: key %v before %v", i, part[j-1].Key, part[j].Key)
				return
			}
		}
		if len(part) == 0 {
			continue
		}
		if prevPart >= 0 && order(prev, part[0].Key) >= 0 {
			t.Errorf("partition %d ends with key %v, partition %d starts with %v", prevPart, prev, i, part[0].Key)
		}
		prev, prevPart = part[len(part)-1].Key, i
	}
}

// kvSortCase sorts data over parts partitions into each of 1, 3, 10 and
// the default number of partitions, both ways, and checks the result.
func kvSortCase[K cmp.Ordered, V any](t *testing.T, data []Pair[K, V], parts int) {
	t.Helper()
	ec := newEngine(t)
	in := Empty[Pair[K, V]](ec)
	if parts > 0 {
		in = Parallelize(ec, data, parts)
	}
	for _, ascending := range []bool{true, false} {
		for _, n := range []int{1, 3, 10, 0} {
			name := fmt.Sprintf("ascending=%v/NumPartitions(%d)", ascending, n)
			var opts []PartitionOption
			want := max(parts, 1)
			if n == 0 {
				name = fmt.Sprintf("ascending=%v/default", ascending)
			} else {
				opts, want = []PartitionOption{NumPartitions(n)}, n
			}
			t.Run(name, func(t *testing.T) {
				out := SortByKey(in, ascending, opts...)
				if out.NumPartitions() != want {
					t.Errorf("NumPartitions() = %d, want %d", out.NumPartitions(), want)
				}
				glommed := kvMustGlom(t, out)
				kvCheckSorted(t, glommed, ascending, want)
				kvSameMultiset(t, slices.Concat(glommed...), data)

				all, err := out.Collect(testCtx(t))
				if err != nil {
					t.Fatalf("Collect: %v", err)
				}
				sorted := slices.IsSortedFunc(all, func(a, b Pair[K, V]) int { return cmp.Compare(a.Key, b.Key) })
				if !ascending {
					sorted = slices.IsSortedFunc(all, func(a, b Pair[K, V]) int { return cmp.Compare(b.Key, a.Key) })
				}
				if !sorted {
					t.Errorf("Collect did not return the pairs sorted (ascending=%v)", ascending)
				}
				kvSameMultiset(t, all, data)
			})
		}
	}
}

func TestSortByKeyInts(t *testing.T) {
	for _, l := range kvLayouts() {
		t.Run(l.name, func(t *testing.T) { kvSortCase(t, l.data, l.parts) })
	}
}

func TestSortByKeyStrings(t *testing.T) {
	rng := rand.New(rand.NewPCG(60, 1))
	words := []string{"", "a", "A", "ab", "b", "spate", "spark", "ß", "日本", "zz", strings.Repeat("z", 50)}
	data := make([]Pair[string, int], 600)
	for i := range data {
		w := words[rng.IntN(len(words))]
		if rng.IntN(3) == 0 {
			w = fmt.Sprintf("k%03d", rng.IntN(200))
		}
		data[i] = KV(w, i)
	}
	kvSortCase(t, data, 4)
}

func TestSortByKeyFloats(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 1))
	specials := []float64{math.Inf(-1), math.Inf(1), math.NaN(), math.Copysign(0, -1), 0, -1e-300, 1e300, 0.5}
	data := make([]Pair[float64, string], 500)
	for i := range data {
		k := rng.NormFloat64() * 100
		if i%10 == 0 {
			k = specials[rng.IntN(len(specials))]
		} else if i%3 == 0 {
			k = math.Round(k / 10) // duplicates
		}
		data[i] = KV(k, fmt.Sprint("v", i))
	}
	kvSortCase(t, data, 3)
}

func TestSortByKeyFewDistinctKeys(t *testing.T) {
	data := make([]Pair[int, int], 300)
	for i := range data {
		data[i] = KV([]int{-5, 0, 42}[i%3], i)
	}
	kvSortCase(t, data, 5)
}

func TestSortByKeySkewed(t *testing.T) {
	kvSortCase(t, kvSkewedPairs(62, 2000), 6)
}

// TestSortByKeyOfShuffled sorts the output of a shuffle, so that the
// sampling job itself depends on a map stage.
func TestSortByKeyOfShuffled(t *testing.T) {
	ec := newEngine(t)
	data := kvRandomPairs(63, 1000, 100)
	red := ReduceByKey(Parallelize(ec, data, 4), kvAdd, NumPartitions(3))
	out := SortByKey(red, false, NumPartitions(4))
	parts := kvMustGlom(t, out)
	kvCheckSorted(t, parts, false, 4)
	kvSameMultiset(t, slices.Concat(parts...), kvNaiveReduceByKey(data, kvAdd))
	if got := strings.Count(out.ToDebugString(), "+-"); got != 2 {
		t.Errorf("lineage has %d shuffles, want 2:\n%s", got, out.ToDebugString())
	}
}
