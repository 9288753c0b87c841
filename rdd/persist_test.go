package rdd

import (
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

func TestPersist(t *testing.T) {
	ec := newEngine(t)
	for _, l := range inputLayouts {
		t.Run(l.name, func(t *testing.T) {
			ctx := testCtx(t)
			var calls atomic.Int64
			newMapped := func() *RDD[int] {
				return Map(Parallelize(ec, seq(l.n), l.parts), func(x int) int { calls.Add(1); return x * 2 })
			}
			twoActions := func(r *RDD[int]) {
				t.Helper()
				if n, err := r.Count(ctx); err != nil || n != l.n {
					t.Fatalf("Count = %d, %v; want %d", n, err, l.n)
				}
				got := collectOrFatal(t, r)
				for i, x := range got {
					if x != 2*i {
						t.Fatalf("Collect[%d] = %d, want %d", i, x, 2*i)
					}
				}
			}

			plain := newMapped()
			twoActions(plain)
			if got := calls.Load(); got != int64(2*l.n) {
				t.Errorf("not persisted: f ran %d times over two actions, want %d", got, 2*l.n)
			}

			calls.Store(0)
			cached := newMapped()
			if cached.Cache() != cached {
				t.Error("Cache did not return its receiver")
			}
			twoActions(cached)
			if got := calls.Load(); got != int64(l.n) {
				t.Errorf("cached: f ran %d times over two actions, want %d", got, l.n)
			}
			// Children of a cached RDD read the cache.
			if _, err := cached.Filter(func(int) bool { return true }).Count(ctx); err != nil {
				t.Fatal(err)
			}
			if got := calls.Load(); got != int64(l.n) {
				t.Errorf("cached: f ran %d times after a child's action, want still %d", got, l.n)
			}
			if got := ec.Cache().CachedPartitions(cached.ID()); got != l.parts {
				t.Errorf("CachedPartitions = %d, want %d", got, l.parts)
			}

			if cached.Unpersist() != cached {
				t.Error("Unpersist did not return its receiver")
			}
			if got := ec.Cache().CachedPartitions(cached.ID()); got != 0 {
				t.Errorf("after Unpersist: CachedPartitions = %d, want 0", got)
			}
			calls.Store(0)
			twoActions(cached)
			if got := calls.Load(); got != int64(2*l.n) {
				t.Errorf("after Unpersist: f ran %d times over two actions, want %d", got, 2*l.n)
			}
		})
	}
}

func TestPersistPartialTake(t *testing.T) {
	ec := newEngine(t)
	var calls atomic.Int64
	r := Map(Range(ec, 0, 400, 1, 4), func(x int) int { calls.Add(1); return x }).Persist()
	if got, err := r.Take(testCtx(t), 2); err != nil || len(got) != 2 {
		t.Fatalf("Take(2) = %v, %v", got, err)
	}
	if !strings.Contains(r.ToDebugString(), "[persisted, 1/4 partitions cached]") {
		t.Errorf("after Take(2):\n%s\nwant 1/4 partitions cached", r.ToDebugString())
	}
	// The partition Take cached is whole: a Collect recomputes only the
	// other three.
	if got := collectOrFatal(t, r); len(got) != 400 {
		t.Fatalf("Collect returned %d elements, want 400", len(got))
	}
	if got := calls.Load(); got != 400 {
		t.Errorf("f ran %d times, want 400 (each element once)", got)
	}
}

func TestPersistDebugString(t *testing.T) {
	ec := newEngine(t)
	r := Map(Range(ec, 0, 100, 1, 4), func(x int) int { return x })
	if s := r.ToDebugString(); strings.Contains(s, "persisted") {
		t.Errorf("not persisted, but ToDebugString says:\n%s", s)
	}
	r.Persist()
	if s := r.ToDebugString(); !strings.Contains(s, "[persisted, 0/4 partitions cached]") {
		t.Errorf("before an action ToDebugString =\n%s\nwant 0/4 partitions cached", s)
	}
	if _, err := r.Count(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	s := r.ToDebugString()
	first, rest, _ := strings.Cut(s, "\n")
	if !strings.HasSuffix(first, "[persisted, 4/4 partitions cached]") {
		t.Errorf("after an action the first line is %q, want it to end with [persisted, 4/4 partitions cached]", first)
	}
	if strings.Contains(rest, "persisted") {
		t.Errorf("the parent is not persisted, but its line says so:\n%s", s)
	}
	r.Unpersist()
	if s := r.ToDebugString(); strings.Contains(s, "persisted") {
		t.Errorf("after Unpersist ToDebugString =\n%s", s)
	}
}

// normalizeDebug replaces RDD IDs and the line numbers of call sites.
var (
	debugIDs   = regexp.MustCompile(`\[\d+\] at `)
	debugLines = regexp.MustCompile(`(\w+\.go):\d+`)
)

func normalizeDebug(s string) string {
	return debugLines.ReplaceAllString(debugIDs.ReplaceAllString(s, "[#] at "), "$1:N")
}

func TestToDebugString(t *testing.T) {
	ec := newEngine(t)
	lines := Parallelize(ec, []string{"a b", "b c", "c"}, 3)
	words := FlatMap(lines, strings.Fields)
	ones := Map(words, func(w string) Pair[string, int] { return KV(w, 1) })
	counts := ReduceByKey(ones, func(a, b int) int { return a + b }, NumPartitions(2))
	byCount := Map(counts, func(p Pair[string, int]) Pair[int, int] { return KV(p.Value, 1) })
	hist := ReduceByKey(byCount, func(a, b int) int { return a + b }, NumPartitions(4))
	final := hist.Filter(func(Pair[int, int]) bool { return true })

	got := normalizeDebug(final.ToDebugString())
	// As Spark prints it: a stage's narrow parents under " |", shuffle
	// parents under " +-" starting a new stage, indented three more.
	wantSpark := strings.Join([]string{
		"(4) Filter[#] at persist_test.go:N []",
		" |  ReduceByKey[#] at persist_test.go:N []",
		" +-(2) Map[#] at persist_test.go:N []",
		"    |  ReduceByKey[#] at persist_test.go:N []",
		"    +-(3) Map[#] at persist_test.go:N []",
		"       |  FlatMap[#] at persist_test.go:N []",
		"       |  Parallelize[#] at persist_test.go:N []",
	}, "\n")
	if got != wantSpark {
		t.Errorf("ToDebugString (normalised) =\n%s\nwant\n%s", got, wantSpark)
	}

	// IDs are distinct and the call sites are this file's lines.
	raw := final.ToDebugString()
	ids := regexp.MustCompile(`\[(\d+)\] at`).FindAllStringSubmatch(raw, -1)
	seen := map[string]bool{}
	for _, m := range ids {
		if seen[m[1]] {
			t.Errorf("ID %s appears twice in\n%s", m[1], raw)
		}
		seen[m[1]] = true
	}
	if len(ids) != 7 {
		t.Errorf("found %d IDs in\n%s\nwant 7", len(ids), raw)
	}

	// The lineage stays the same after running it.
	if _, err := final.Count(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := normalizeDebug(final.ToDebugString()); got != wantSpark {
		t.Errorf("after an action ToDebugString =\n%s", got)
	}
}

func TestToDebugStringSimple(t *testing.T) {
	ec := newEngine(t)
	r := Parallelize(ec, []int{1}, 2)
	if got, want := normalizeDebug(r.ToDebugString()), "(2) Parallelize[#] at persist_test.go:N []"; got != want {
		t.Errorf("ToDebugString = %q, want %q", got, want)
	}
	u := normalizeDebug(Union(r, Range(ec, 0, 1, 1, 3)).ToDebugString())
	want := strings.Join([]string{
		"(5) Union[#] at persist_test.go:N []",
		" |  Parallelize[#] at persist_test.go:N []",
		" |  Range[#] at persist_test.go:N []",
	}, "\n")
	if u != want {
		t.Errorf("Union ToDebugString =\n%s\nwant\n%s", u, want)
	}
	bad := Map(Parallelize(ec, []int{1}, 0), func(x int) int { return x })
	if s := bad.ToDebugString(); !strings.HasPrefix(s, "(0) Map [error: ") || !strings.Contains(s, "numSlices") {
		t.Errorf("ToDebugString of a bad RDD = %q, want (0) Map [error: ...numSlices...]", s)
	}
}
