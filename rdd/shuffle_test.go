package rdd

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
)

// This file tests how the pair operations shuffle: PartitionBy and
// Repartition, skipping a shuffle for co-partitioned input, reusing shuffle
// output across actions, map-side combining, and a randomised comparison
// of the by-key operations with naive implementations.

// kvEventLog keeps every event posted on an engine's bus.
type kvEventLog struct {
	ec *engine.Context
	mu sync.Mutex
	ev []metrics.Event
}

func kvListen(t *testing.T, ec *engine.Context) *kvEventLog {
	l := &kvEventLog{ec: ec}
	t.Cleanup(ec.Bus().Subscribe(metrics.ListenerFunc(func(e metrics.Event) {
		l.mu.Lock()
		l.ev = append(l.ev, e)
		l.mu.Unlock()
	})))
	return l
}

// kvJob is what one job reported about its stages.
type kvJob struct {
	id        int
	stageIDs  []int // from JobStarted: parents first, the result stage last
	submitted []int
	completed map[int]metrics.StageCompleted
	skipped   []int
}

// mapStages returns the IDs of the job's shuffle map stages.
func (j kvJob) mapStages() []int { return j.stageIDs[:len(j.stageIDs)-1] }

// lastJob flushes the bus and returns the last job started by the action
// (such as "Collect"), failing the test when there is none or when events
// were dropped.
func (l *kvEventLog) lastJob(t *testing.T, action string) kvJob {
	t.Helper()
	if err := l.ec.Bus().Flush(testCtx(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if n := l.ec.Bus().Dropped(); n > 0 {
		t.Fatalf("the bus dropped %d events", n)
	}
	l.mu.Lock()
	events := slices.Clone(l.ev)
	l.mu.Unlock()
	j := kvJob{id: -1, completed: map[int]metrics.StageCompleted{}}
	for _, e := range events {
		if s, ok := e.(metrics.JobStarted); ok && strings.HasPrefix(s.Description, action+" at ") {
			j.id, j.stageIDs = s.JobID, s.StageIDs
		}
	}
	if j.id < 0 {
		t.Fatalf("no %s job was started", action)
	}
	for _, e := range events {
		switch e := e.(type) {
		case metrics.StageSubmitted:
			if e.JobID == j.id {
				j.submitted = append(j.submitted, e.StageID)
			}
		case metrics.StageCompleted:
			if e.JobID == j.id {
				j.completed[e.StageID] = e
			}
		case metrics.StageSkipped:
			if e.JobID == j.id {
				j.skipped = append(j.skipped, e.StageID)
			}
		}
	}
	return j
}

func TestShufflePartitionBy(t *testing.T) {
	kvRunByKey(t,
		func(in *RDD[Pair[int, int]], opts []PartitionOption) *RDD[Pair[int, int]] {
			return PartitionBy(in, opts...)
		},
		func(in []Pair[int, int]) []Pair[int, int] { return in },
		nil)
}

func TestShuffleRepartition(t *testing.T) {
	ec := newEngine(t)
	for _, l := range kvLayouts() {
		for _, n := range []int{1, 3, 10} {
			t.Run(fmt.Sprintf("%s/%d", l.name, n), func(t *testing.T) {
				out := l.rdd(ec).Repartition(n)
				parts := kvMustGlom(t, out)
				if len(parts) != n {
					t.Fatalf("got %d partitions, want %d", len(parts), n)
				}
				// Each map partition deals its records round robin, so
				// sizes differ by at most the number of map partitions.
				lo, hi := len(l.data), 0
				for _, p := range parts {
					lo, hi = min(lo, len(p)), max(hi, len(p))
				}
				if hi-lo > max(l.parts, 1) {
					t.Errorf("partition sizes range from %d to %d, want a spread of at most %d", lo, hi, max(l.parts, 1))
				}
				kvSameMultiset(t, slices.Concat(parts...), l.data)
			})
		}
	}
}

// TestShuffleCoPartitioned checks that a by-key operation on input that is
// already partitioned as its result must be runs without another shuffle,
// and that operations which lose or change the partitioning do shuffle.
func TestShuffleCoPartitioned(t *testing.T) {
	type in = *RDD[Pair[int, int]]
	a := kvRandomPairs(10, 500, 30)
	b := kvRandomPairs(11, 300, 40)
	cases := []struct {
		name         string
		build        func(ec *engine.Context, a, b in) kvCountable
		wantShuffles int
		marks        int // "+-" in ToDebugString when not wantShuffles
	}{
		{"PartitionBy then ReduceByKey by default", func(ec *engine.Context, a, _ in) kvCountable {
			return ReduceByKey(PartitionBy(a, NumPartitions(4)), kvAdd)
		}, 1, 0},
		{"PartitionBy then ReduceByKey with NumPartitions", func(ec *engine.Context, a, _ in) kvCountable {
			return ReduceByKey(PartitionBy(a, NumPartitions(4)), kvAdd, NumPartitions(4))
		}, 1, 0},
		{"PartitionBy then ReduceByKey with an equal partitioner", func(ec *engine.Context, a, _ in) kvCountable {
			return ReduceByKey(PartitionBy(a, NumPartitions(4)), kvAdd, WithPartitioner(HashPartitioner[int](ec, 4)))
		}, 1, 0},
		{"PartitionBy with a user partitioner then GroupByKey with it", func(ec *engine.Context, a, _ in) kvCountable {
			return GroupByKey(PartitionBy(a, WithPartitioner[int](kvModPartitioner{3})), WithPartitioner[int](kvModPartitioner{3}))
		}, 1, 0},
		{"PartitionBy then ReduceByKey with other NumPartitions", func(ec *engine.Context, a, _ in) kvCountable {
			return ReduceByKey(PartitionBy(a, NumPartitions(4)), kvAdd, NumPartitions(5))
		}, 2, 0},
		{"PartitionBy then GroupByKey", func(ec *engine.Context, a, _ in) kvCountable {
			return GroupByKey(PartitionBy(a, NumPartitions(4)), NumPartitions(4))
		}, 1, 0},
		{"PartitionBy twice", func(ec *engine.Context, a, _ in) kvCountable {
			return PartitionBy(PartitionBy(a, NumPartitions(4)), NumPartitions(4))
		}, 1, 0},
		{"ReduceByKey then GroupByKey", func(ec *engine.Context, a, _ in) kvCountable {
			return GroupByKey(ReduceByKey(a, kvAdd, NumPartitions(4)))
		}, 1, 0},
		{"ReduceByKey then AggregateByKey and FoldByKey", func(ec *engine.Context, a, _ in) kvCountable {
			return FoldByKey(AggregateByKey(ReduceByKey(a, kvAdd, NumPartitions(6)), 0, kvAdd, kvAdd), 0, kvAdd, NumPartitions(6))
		}, 1, 0},
		{"PartitionBy, MapValues, FlatMapValues, Filter, then ReduceByKey", func(ec *engine.Context, a, _ in) kvCountable {
			p := PartitionBy(a, NumPartitions(4))
			f := FlatMapValues(MapValues(p, func(v int) int { return v * 2 }), kvExpand).Filter(func(kv Pair[int, int]) bool { return kv.Value != 0 })
			return ReduceByKey(f, kvAdd, NumPartitions(4))
		}, 1, 0},
		{"PartitionBy, Map (keys may change), then ReduceByKey", func(ec *engine.Context, a, _ in) kvCountable {
			m := Map(PartitionBy(a, NumPartitions(4)), func(kv Pair[int, int]) Pair[int, int] { return kv })
			return ReduceByKey(m, kvAdd, NumPartitions(4))
		}, 2, 0},
		{"Join of co-partitioned inputs", func(ec *engine.Context, a, b in) kvCountable {
			return Join(PartitionBy(a, NumPartitions(4)), PartitionBy(b, NumPartitions(4)))
		}, 2, 0},
		{"Join of an input with a partitioned one", func(ec *engine.Context, a, b in) kvCountable {
			return Join(a, PartitionBy(b, NumPartitions(4)))
		}, 2, 0},
		{"Join of inputs partitioned differently", func(ec *engine.Context, a, b in) kvCountable {
			return Join(PartitionBy(a, NumPartitions(4)), PartitionBy(b, NumPartitions(5)))
		}, 3, 0},
		{"Join of co-partitioned inputs into another partitioning", func(ec *engine.Context, a, b in) kvCountable {
			return Join(PartitionBy(a, NumPartitions(4)), PartitionBy(b, NumPartitions(4)), NumPartitions(6))
		}, 4, 0},
		{"self-join of a reduced RDD", func(ec *engine.Context, a, _ in) kvCountable {
			r := ReduceByKey(a, kvAdd, NumPartitions(4))
			return Join(r, MapValues(r, func(v int) int { return -v }))
		}, 1, 2},
		{"FullOuterJoin of co-partitioned inputs", func(ec *engine.Context, a, b in) kvCountable {
			return FullOuterJoin(PartitionBy(a, NumPartitions(4)), PartitionBy(b, NumPartitions(4)))
		}, 2, 0},
		{"Cogroup of co-partitioned inputs", func(ec *engine.Context, a, b in) kvCountable {
			return Cogroup(PartitionBy(a, NumPartitions(4)), PartitionBy(b, NumPartitions(4)))
		}, 2, 0},
		{"SubtractByKey of co-partitioned inputs", func(ec *engine.Context, a, b in) kvCountable {
			return SubtractByKey(PartitionBy(a, NumPartitions(4)), PartitionBy(b, NumPartitions(4)), NumPartitions(4))
		}, 2, 0},
		{"LeftOuterJoin and RightOuterJoin of co-partitioned inputs", func(ec *engine.Context, a, b in) kvCountable {
			pa, pb := PartitionBy(a, NumPartitions(4)), PartitionBy(b, NumPartitions(4))
			return RightOuterJoin(LeftOuterJoin(pa, MapValues(pb, func(v int) string { return fmt.Sprint(v) })), pb)
		}, 2, 3},
		{"ReduceByKey of a join", func(ec *engine.Context, a, b in) kvCountable {
			j := Join(a, b, NumPartitions(3))
			return ReduceByKey(MapValues(j, func(j Joined[int, int]) int { return j.Left * j.Right }), kvAdd)
		}, 2, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ec := newEngine(t)
			log := kvListen(t, ec)
			out := c.build(ec, Parallelize(ec, a, 3), Parallelize(ec, b, 2))
			// The lineage describes a shared ancestor once per path to it.
			if want := cmp.Or(c.marks, c.wantShuffles); strings.Count(out.ToDebugString(), "+-") != want {
				t.Errorf("lineage has %d shuffle marks, want %d:\n%s", strings.Count(out.ToDebugString(), "+-"), want, out.ToDebugString())
			}
			if _, err := out.Count(testCtx(t)); err != nil {
				t.Fatalf("Count: %v", err)
			}
			job := log.lastJob(t, "Count")
			if got := len(job.stageIDs); got != c.wantShuffles+1 {
				t.Errorf("job has %d stages, want %d", got, c.wantShuffles+1)
			}
			if got := len(job.submitted); got != c.wantShuffles+1 {
				t.Errorf("job submitted %d stages, want %d", got, c.wantShuffles+1)
			}
			if got := len(job.completed); got != c.wantShuffles+1 {
				t.Errorf("job completed %d stages, want %d", got, c.wantShuffles+1)
			}
		})
	}
}

// TestShuffleCoPartitionedResults checks the results of operations that
// skip their shuffle against naive implementations.
func TestShuffleCoPartitionedResults(t *testing.T) {
	ec := newEngine(t)
	ctx := testCtx(t)
	a, b := kvRandomPairs(12, 400, 30), kvRandomPairs(13, 200, 50)
	p := HashPartitioner[int](ec, 4)
	pa := PartitionBy(Parallelize(ec, a, 3), NumPartitions(4))
	pb := PartitionBy(Parallelize(ec, b, 5), WithPartitioner(p))

	red := ReduceByKey(pa, kvAdd)
	parts := kvMustGlom(t, red)
	kvCheckPlacement(t, parts, p)
	kvSameMultiset(t, slices.Concat(parts...), kvNaiveReduceByKey(a, kvAdd))

	grp := GroupByKey(MapValues(pa, func(v int) int { return v + 1 }), NumPartitions(4))
	gparts := kvMustGlom(t, grp)
	kvCheckPlacement(t, gparts, p)
	plusOne := make([]Pair[int, int], len(a))
	for i, kv := range a {
		plusOne[i] = KV(kv.Key, kv.Value+1)
	}
	kvSameMultiset(t, kvSortedGroups(slices.Concat(gparts...)), kvSortedGroups(kvNaiveGroupByKey(plusOne)))

	join, err := Join(pa, pb).Collect(ctx)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	kvSameMultiset(t, join, kvNaiveJoin(a, b))
}

// TestShuffleSecondActionSkipsMapStage checks that a second action on a
// shuffled RDD reuses the map output instead of recomputing it.
func TestShuffleSecondActionSkipsMapStage(t *testing.T) {
	data := kvRandomPairs(20, 2000, 50)
	type counted = func(ec *engine.Context, calls *atomic.Int64) kvCountable
	source := func(ec *engine.Context, calls *atomic.Int64) *RDD[Pair[int, int]] {
		return Map(Parallelize(ec, data, 4), func(kv Pair[int, int]) Pair[int, int] {
			calls.Add(1)
			return kv
		})
	}
	cases := []struct {
		name  string
		build counted
		maps  int // map stages of the job
	}{
		{"ReduceByKey", func(ec *engine.Context, calls *atomic.Int64) kvCountable {
			return ReduceByKey(source(ec, calls), kvAdd, NumPartitions(3))
		}, 1},
		{"GroupByKey", func(ec *engine.Context, calls *atomic.Int64) kvCountable {
			return GroupByKey(source(ec, calls))
		}, 1},
		{"PartitionBy", func(ec *engine.Context, calls *atomic.Int64) kvCountable {
			return PartitionBy(source(ec, calls), NumPartitions(7))
		}, 1},
		{"Repartition", func(ec *engine.Context, calls *atomic.Int64) kvCountable {
			return source(ec, calls).Repartition(5)
		}, 1},
		{"Join", func(ec *engine.Context, calls *atomic.Int64) kvCountable {
			return Join(source(ec, calls), source(ec, calls))
		}, 2},
		{"SortByKey", func(ec *engine.Context, calls *atomic.Int64) kvCountable {
			return SortByKey(source(ec, calls), false, NumPartitions(3))
		}, 1},
		{"ReduceByKey of a PartitionBy", func(ec *engine.Context, calls *atomic.Int64) kvCountable {
			return ReduceByKey(PartitionBy(source(ec, calls), NumPartitions(2)), kvAdd, NumPartitions(3))
		}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ec := newEngine(t)
			log := kvListen(t, ec)
			var calls atomic.Int64
			out := c.build(ec, &calls)
			n1, err := out.Count(testCtx(t))
			if err != nil {
				t.Fatalf("first Count: %v", err)
			}
			first := log.lastJob(t, "Count")
			if got := len(first.mapStages()); got != c.maps {
				t.Fatalf("first job has %d map stages, want %d", got, c.maps)
			}
			if len(first.skipped) != 0 || len(first.submitted) != c.maps+1 {
				t.Errorf("first job submitted %v and skipped %v, want all %d stages submitted", first.submitted, first.skipped, c.maps+1)
			}
			before := calls.Load()
			if before == 0 {
				t.Fatalf("the map function was not called")
			}

			n2, err := out.Count(testCtx(t))
			if err != nil {
				t.Fatalf("second Count: %v", err)
			}
			if n2 != n1 {
				t.Errorf("second Count = %d, first = %d", n2, n1)
			}
			if got := calls.Load(); got != before {
				t.Errorf("the map function ran %d more times in the second job", got-before)
			}
			second := log.lastJob(t, "Count")
			if second.id == first.id {
				t.Fatalf("no second job")
			}
			// The last map stage is the one the result stage reads; the
			// ones before it may be skipped or not even planned.
			last := second.mapStages()[len(second.mapStages())-1]
			if !slices.Contains(second.skipped, last) {
				t.Errorf("second job skipped %v, want its map stage %d among them", second.skipped, last)
			}
			for _, id := range second.submitted {
				if slices.Contains(second.mapStages(), id) {
					t.Errorf("second job ran map stage %d again", id)
				}
			}
			if len(second.submitted) != 1 {
				t.Errorf("second job submitted stages %v, want only its result stage", second.submitted)
			}
		})
	}
}

// TestShuffleMapSideCombine checks how many records cross the shuffle:
// one per key and map partition for the combining operations, every record
// for GroupByKey and PartitionBy.
func TestShuffleMapSideCombine(t *testing.T) {
	const n, keys, maps = 10000, 3, 4
	data := make([]Pair[int, int], n)
	for i := range data {
		data[i] = KV(i%keys, i)
	}
	cases := []struct {
		name     string
		build    func(in *RDD[Pair[int, int]]) kvCountable
		combined bool
	}{
		{"ReduceByKey", func(in *RDD[Pair[int, int]]) kvCountable { return ReduceByKey(in, kvAdd, NumPartitions(2)) }, true},
		{"CombineByKey", func(in *RDD[Pair[int, int]]) kvCountable {
			return CombineByKey(in, kvNewAvg, kvAvgAdd, kvAvgMerge)
		}, true},
		{"AggregateByKey", func(in *RDD[Pair[int, int]]) kvCountable {
			return AggregateByKey(in, kvAvg{}, kvAvgAdd, kvAvgMerge, NumPartitions(8))
		}, true},
		{"FoldByKey", func(in *RDD[Pair[int, int]]) kvCountable { return FoldByKey(in, 0, kvAdd) }, true},
		{"Distinct", func(in *RDD[Pair[int, int]]) kvCountable { return Distinct(Keys(in)) }, true},
		{"GroupByKey", func(in *RDD[Pair[int, int]]) kvCountable { return GroupByKey(in, NumPartitions(2)) }, false},
		{"PartitionBy", func(in *RDD[Pair[int, int]]) kvCountable { return PartitionBy(in, NumPartitions(2)) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ec := newEngine(t)
			log := kvListen(t, ec)
			out := c.build(Parallelize(ec, data, maps))
			count, err := out.Count(testCtx(t))
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			job := log.lastJob(t, "Count")
			if len(job.mapStages()) != 1 {
				t.Fatalf("job has map stages %v, want one", job.mapStages())
			}
			st, ok := job.completed[job.mapStages()[0]]
			if !ok {
				t.Fatalf("map stage %d did not complete", job.mapStages()[0])
			}
			if st.NumTasks != maps {
				t.Errorf("map stage ran %d tasks, want %d", st.NumTasks, maps)
			}
			if c.combined {
				if st.RecordsWritten > maps*keys || st.RecordsWritten < keys {
					t.Errorf("map stage wrote %d records, want %d..%d (one per key and map partition)", st.RecordsWritten, keys, maps*keys)
				}
				if count != keys {
					t.Errorf("Count = %d, want %d keys", count, keys)
				}
			} else if st.RecordsWritten != n {
				t.Errorf("map stage wrote %d records, want all %d", st.RecordsWritten, n)
			}
		})
	}
}

// TestShuffleRandomProperty compares the by-key operations with naive
// implementations on random inputs and partitionings.
func TestShuffleRandomProperty(t *testing.T) {
	ec := newEngine(t)
	ctx := testCtx(t)
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		keys := 1 + rng.IntN(40)
		a := kvRandomPairs(rng.Uint64(), rng.IntN(300), keys)
		b := kvRandomPairs(rng.Uint64(), rng.IntN(150), 1+rng.IntN(40))
		pa, pb, rp := 1+rng.IntN(8), 1+rng.IntN(8), 1+rng.IntN(8)
		ascending := rng.IntN(2) == 0
		name := fmt.Sprintf("seed %d: %d+%d records, %d keys, partitions %d/%d -> %d", seed, len(a), len(b), keys, pa, pb, rp)
		A, B := Parallelize(ec, a, pa), Parallelize(ec, b, pb)
		hash := HashPartitioner[int](ec, rp)

		t.Run(name, func(t *testing.T) {
			red := kvMustGlom(t, ReduceByKey(A, kvAdd, NumPartitions(rp)))
			kvCheckPlacement(t, red, hash)
			kvSameMultiset(t, slices.Concat(red...), kvNaiveReduceByKey(a, kvAdd))

			grp := kvMustGlom(t, GroupByKey(A, WithPartitioner(hash)))
			kvCheckPlacement(t, grp, hash)
			kvSameMultiset(t, kvSortedGroups(slices.Concat(grp...)), kvSortedGroups(kvNaiveGroupByKey(a)))

			join := kvMustGlom(t, Join(A, B, NumPartitions(rp)))
			kvCheckPlacement(t, join, hash)
			kvSameMultiset(t, slices.Concat(join...), kvNaiveJoin(a, b))

			full, err := FullOuterJoin(A, B, NumPartitions(rp)).Collect(ctx)
			if err != nil {
				t.Fatalf("FullOuterJoin: %v", err)
			}
			kvSameMultiset(t, full, kvNaiveFullOuterJoin(a, b))

			sub, err := SubtractByKey(A, B, NumPartitions(rp)).Collect(ctx)
			if err != nil {
				t.Fatalf("SubtractByKey: %v", err)
			}
			kvSameMultiset(t, sub, kvNaiveSubtractByKey(a, b))

			sorted := kvMustGlom(t, SortByKey(A, ascending, NumPartitions(rp)))
			kvCheckSorted(t, sorted, ascending, rp)
			kvSameMultiset(t, slices.Concat(sorted...), a)
		})
	}
}

// TestShuffleSliceCombinersNotShared checks that combiners read from a
// shuffle's stored output are not written into by a mergeCombiners that
// appends: a later action must not change an earlier action's result, and
// concurrent actions must not race (run with -race).
func TestShuffleSliceCombinersNotShared(t *testing.T) {
	// One map partition holds a long combiner with spare capacity, the
	// other a short one, so appending the short to the long fits in place.
	var big, small []Pair[int, int]
	for i := range 600 {
		big = append(big, KV(1, i))
	}
	for i := range 10 {
		small = append(small, KV(1, -i))
	}
	var calls atomic.Int64
	cases := []struct {
		name  string
		parts [][]Pair[int, int] // the long combiner where merge appends
		merge func(a, b []int) []int
	}{
		// Each merge ends with a marker unique to the call, so results of
		// different actions differ in their last element.
		{"append to the first", [][]Pair[int, int]{big, small}, func(a, b []int) []int { return append(append(a, b...), -1000-int(calls.Add(1))) }},
		{"append to the second", [][]Pair[int, int]{small, big}, func(a, b []int) []int { return append(append(b, a...), -1000-int(calls.Add(1))) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ec := newEngine(t, engine.Slots(8))
			in := FromPartitions(ec, c.parts)
			agg := AggregateByKey(in, []int(nil), func(u []int, v int) []int { return append(u, v) }, c.merge, NumPartitions(1))
			first, err := agg.Collect(testCtx(t))
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if len(first) != 1 || len(first[0].Value) != 611 {
				t.Fatalf("first Collect = %d pairs, want one with 611 values", len(first))
			}
			kept := slices.Clone(first[0].Value)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					got, err := agg.Collect(testCtx(t))
					if err != nil {
						t.Errorf("Collect: %v", err)
						return
					}
					if len(got) != 1 || len(got[0].Value) != 611 {
						t.Errorf("later Collect = %v pairs, want one with 611 values", len(got))
					}
				})
			}
			wg.Wait()
			if !slices.Equal(first[0].Value, kept) {
				t.Errorf("later actions changed the first action's result: its last value went from %d to %d",
					kept[len(kept)-1], first[0].Value[len(first[0].Value)-1])
			}
		})
	}
}
