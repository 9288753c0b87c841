package dstream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// Tests of UpdateStateByKey and MapWithState (state.go). Batch k (from
// 1) of the harness runs at k seconds; outputs are compared as multisets
// unless the test is about order.

// stateLog is an UpdateStateByKey function whose state is the history of
// the key: "new" when it had no state, then the values of every batch,
// sorted (so that the history does not depend on the input's
// partitioning). A key is dropped after two batches in a row without
// values.
func stateLog(vs []int, st string, exists bool) (string, bool) {
	if !exists {
		st = "new"
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	st += fmt.Sprint(vs)
	return st, !strings.HasSuffix(st, "[][]")
}

func TestUpdateStateByKeyRunningCounts(t *testing.T) {
	in := [][]kv{
		{rdd.KV("a", 1), rdd.KV("b", 1), rdd.KV("a", 1)},
		{},
		{rdd.KV("b", 1), rdd.KV("c", 1)},
	}
	count := func(vs []int, st int, _ bool) (int, bool) {
		for _, v := range vs {
			st += v
		}
		return st, true
	}
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.UpdateStateByKey(s, count)
		}, 5, dstreamtest.Partitions(parts))
		// Every key with state is in every batch's output, also in
		// batches without data.
		after1 := []kv{rdd.KV("a", 2), rdd.KV("b", 1)}
		after3 := []kv{rdd.KV("a", 2), rdd.KV("b", 2), rdd.KV("c", 1)}
		dstreamtest.EqualUnordered(t, out, [][]kv{after1, after1, after3, after3, after3})
	})
}

func TestUpdateStateByKeyRemoveAndReappear(t *testing.T) {
	in := [][]kv{
		{rdd.KV("a", 1), rdd.KV("a", 2), rdd.KV("b", 3)},
		{rdd.KV("b", 4)},
		{},
		{},
		{rdd.KV("a", 5)},
	}
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[rdd.Pair[string, string]] {
			return dstream.UpdateStateByKey(s, stateLog)
		}, 8, dstreamtest.Partitions(parts))
		kvs := func(pairs ...string) []rdd.Pair[string, string] {
			var out []rdd.Pair[string, string]
			for i := 0; i < len(pairs); i += 2 {
				out = append(out, rdd.KV(pairs[i], pairs[i+1]))
			}
			return out
		}
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, string]{
			kvs("a", "new[1 2]", "b", "new[3]"),
			// Keys with state but no values are updated with none.
			kvs("a", "new[1 2][]", "b", "new[3][4]"),
			// a is dropped after its second batch without values.
			kvs("b", "new[3][4][]"),
			kvs(),
			// a comes back without its old state.
			kvs("a", "new[5]"),
			kvs("a", "new[5][]"),
			kvs(),
			kvs(),
		})
	})
}

func TestUpdateStateByKeyCalls(t *testing.T) {
	// update sees exists=false for a new key, exists=true with no values
	// for a key with state and no data, and is not called for keys with
	// neither.
	type call struct {
		Sec    int64
		Values int
		State  int
		Exists bool
	}
	in := [][]kv{{rdd.KV("a", 1)}, {}, {rdd.KV("a", 1), rdd.KV("a", 1)}}
	var mu sync.Mutex
	var calls []call
	var now int64 // the batch being checked; set by the ForeachRDD below
	mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
		st := dstream.UpdateStateByKey(s, func(vs []int, st int, exists bool) (int, bool) {
			mu.Lock()
			calls = append(calls, call{Values: len(vs), State: st, Exists: exists})
			mu.Unlock()
			return st + len(vs), true
		}, dstream.StatePartitions(rdd.NumPartitions(3)))
		if err := st.ForeachRDD(func(_ context.Context, _ *rdd.RDD[kv], bt time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			now = bt.Unix()
			for i := range calls {
				if calls[i].Sec == 0 {
					calls[i].Sec = now
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return st
	}, 4)
	mu.Lock()
	defer mu.Unlock()
	want := []call{
		{1, 1, 0, false},
		{2, 0, 1, true},
		{3, 2, 1, true},
		{4, 0, 3, true},
	}
	if !slices.Equal(calls, want) {
		t.Errorf("update calls (batch, values, state, exists) = %v, want %v", calls, want)
	}
}

func TestUpdateStateByKeyArrivalOrder(t *testing.T) {
	// With one input partition and one state partition, a key's values
	// come in the order they arrived.
	in := [][]kv{{rdd.KV("a", 3), rdd.KV("b", 9), rdd.KV("a", 1), rdd.KV("a", 2)}, {rdd.KV("a", 7), rdd.KV("a", 5)}}
	out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[rdd.Pair[string, string]] {
		return dstream.UpdateStateByKey(s, func(vs []int, st string, _ bool) (string, bool) {
			return st + fmt.Sprint(vs), true
		}, dstream.StatePartitions(rdd.NumPartitions(1)))
	}, 2, dstreamtest.Partitions(1))
	dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, string]{
		{rdd.KV("a", "[3 1 2]"), rdd.KV("b", "[9]")},
		{rdd.KV("a", "[3 1 2][7 5]"), rdd.KV("b", "[9][]")},
	})
}

func TestUpdateStateByKeyInitialState(t *testing.T) {
	in := [][]kv{{rdd.KV("a", 1)}, {rdd.KV("c", 2)}}
	forPartitions(t, func(t *testing.T, parts int) {
		out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[rdd.Pair[string, string]] {
			initial := rdd.Parallelize(s.Context().Engine(), []rdd.Pair[string, string]{rdd.KV("a", "init"), rdd.KV("b", "init")}, parts)
			return dstream.UpdateStateByKey(s, stateLog, dstream.InitialState(initial))
		}, 3, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]rdd.Pair[string, string]{
			{rdd.KV("a", "init[1]"), rdd.KV("b", "init[]")},
			{rdd.KV("a", "init[1][]"), rdd.KV("c", "new[2]")}, // b: two batches without values
			{rdd.KV("c", "new[2][]")},
		})
	})
}

func TestUpdateStateByKeyPartitions(t *testing.T) {
	in := [][]kv{{rdd.KV("a", 1), rdd.KV("b", 1), rdd.KV("c", 1), rdd.KV("d", 1)}, {}}
	count := func(vs []int, st int, _ bool) (int, bool) { return st + len(vs), true }
	for _, tt := range []struct {
		name string
		opts []dstream.StateOption
		want int
	}{
		{"default", nil, 2}, // the harness's engine has 2 slots
		{"NumPartitions(3)", []dstream.StateOption{dstream.StatePartitions(rdd.NumPartitions(3))}, 3},
		{"WithPartitioner", []dstream.StateOption{dstream.StatePartitions(rdd.WithPartitioner[string](firstLetter{5}))}, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[int] {
				return dstream.Glom(dstream.UpdateStateByKey(s, count, tt.opts...)).Count()
			}, 3)
			dstreamtest.Equal(t, out, [][]int{{tt.want}, {tt.want}, {tt.want}})
		})
	}
	t.Run("placement", func(t *testing.T) {
		out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
			return dstream.Map(dstream.Glom(dstream.UpdateStateByKey(s, count,
				dstream.StatePartitions(rdd.WithPartitioner[string](firstLetter{5})))), func(p []kv) string {
				keys := []string{}
				for _, x := range p {
					keys = append(keys, x.Key)
				}
				slices.Sort(keys)
				return strings.Join(keys, "")
			})
		}, 1)
		// firstLetter{5}: a (97) → 2, b → 3, c → 4, d (100) → 0.
		dstreamtest.Equal(t, out, [][]string{{"d", "", "a", "b", "c"}})
	})
}

// firstLetter places string keys by their first byte.
type firstLetter struct{ n int }

func (p firstLetter) NumPartitions() int { return p.n }
func (p firstLetter) Partition(k string) int {
	if k == "" {
		return 0
	}
	return int(k[0]) % p.n
}

// --- MapWithState -------------------------------------------------------

// runningCount is a MapWithState function keeping a count per key and
// emitting "key=count" for every value.
func runningCount(_ time.Time, k string, v int, st *dstream.State[int]) string {
	n := st.Get() + v
	if err := st.Update(n); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s=%d", k, n)
}

func TestMapWithStateRunningCounts(t *testing.T) {
	in := [][]kv{
		{rdd.KV("a", 1), rdd.KV("b", 1)},
		{},
		{rdd.KV("a", 1), rdd.KV("c", 1)},
	}
	forPartitions(t, func(t *testing.T, parts int) {
		var snaps *rtBatches[kv]
		out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
			m := dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{Func: runningCount})
			snaps = rtCollect(t, m.StateSnapshots())
			return m.DStream
		}, 4, dstreamtest.Partitions(parts))
		// One output per value; nothing for keys without data.
		dstreamtest.EqualUnordered(t, out, [][]string{{"a=1", "b=1"}, {}, {"a=2", "c=1"}, {}})
		after1 := []kv{rdd.KV("a", 1), rdd.KV("b", 1)}
		after3 := []kv{rdd.KV("a", 2), rdd.KV("b", 1), rdd.KV("c", 1)}
		dstreamtest.EqualUnordered(t, slotsOf(snaps, 4), [][]kv{after1, after1, after3, after3})
	})
	t.Run("several values of a key in a batch", func(t *testing.T) {
		// Each value sees the state the previous one left.
		out := mustRun(t, [][]kv{{rdd.KV("a", 1), rdd.KV("a", 10), rdd.KV("a", 100)}}, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
			return dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{Func: runningCount}).DStream
		}, 1, dstreamtest.Partitions(1))
		dstreamtest.Equal(t, out, [][]string{{"a=1", "a=11", "a=111"}})
	})
}

func TestMapWithStateExistsGetUpdateRemove(t *testing.T) {
	// A value of 0 only looks at the state, -1 removes it, others add.
	f := func(_ time.Time, k string, v int, st *dstream.State[int]) string {
		before := fmt.Sprintf("%s:%v/%d", k, st.Exists(), st.Get())
		switch v {
		case 0:
			return before
		case -1:
			if err := st.Remove(); err != nil {
				return before + " Remove: " + err.Error()
			}
			return fmt.Sprintf("%s removed→%v/%d", before, st.Exists(), st.Get())
		}
		if err := st.Update(st.Get() + v); err != nil {
			return before + " Update: " + err.Error()
		}
		return fmt.Sprintf("%s→%v/%d", before, st.Exists(), st.Get())
	}
	in := [][]kv{
		{rdd.KV("a", 0), rdd.KV("b", 5)},
		{rdd.KV("a", 2), rdd.KV("b", -1)},
		{rdd.KV("b", 0), rdd.KV("a", 0)},
		{rdd.KV("b", 3)},
	}
	var snaps *rtBatches[kv]
	out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
		m := dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{Func: f})
		snaps = rtCollect(t, m.StateSnapshots())
		return m.DStream
	}, 5)
	dstreamtest.EqualUnordered(t, out, [][]string{
		{"a:false/0", "b:false/0→true/5"}, // looking does not create state
		{"a:false/0→true/2", "b:true/5 removed→false/0"},
		{"b:false/0", "a:true/2"},
		{"b:false/0→true/3"}, // after Remove, new data starts fresh
		{},
	})
	dstreamtest.EqualUnordered(t, slotsOf(snaps, 5), [][]kv{
		{rdd.KV("b", 5)},
		{rdd.KV("a", 2)},
		{rdd.KV("a", 2)},
		{rdd.KV("a", 2), rdd.KV("b", 3)},
		{rdd.KV("a", 2), rdd.KV("b", 3)},
	})
}

func TestMapWithStateInitialState(t *testing.T) {
	in := [][]kv{{rdd.KV("a", 1), rdd.KV("c", 1)}, {rdd.KV("b", 1)}}
	forPartitions(t, func(t *testing.T, parts int) {
		var snaps *rtBatches[kv]
		out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
			m := dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{
				Func:         runningCount,
				InitialState: rdd.Parallelize(s.Context().Engine(), []kv{rdd.KV("a", 10), rdd.KV("b", 20)}, parts),
			})
			snaps = rtCollect(t, m.StateSnapshots())
			return m.DStream
		}, 3, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]string{{"a=11", "c=1"}, {"b=21"}, {}})
		dstreamtest.EqualUnordered(t, slotsOf(snaps, 3), [][]kv{
			{rdd.KV("a", 11), rdd.KV("b", 20), rdd.KV("c", 1)},
			{rdd.KV("a", 11), rdd.KV("b", 21), rdd.KV("c", 1)},
			{rdd.KV("a", 11), rdd.KV("b", 21), rdd.KV("c", 1)},
		})
	})
}

func TestMapWithStatePartitions(t *testing.T) {
	in := [][]kv{{rdd.KV("a", 1), rdd.KV("b", 1), rdd.KV("c", 1), rdd.KV("h", 1)}, {}}
	for _, tt := range []struct {
		name string
		opts []rdd.PartitionOption
		want int
	}{
		{"default", nil, 2},
		{"NumPartitions(3)", []rdd.PartitionOption{rdd.NumPartitions(3)}, 3},
		{"WithPartitioner", []rdd.PartitionOption{rdd.WithPartitioner[string](firstLetter{7})}, 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var snapParts *rtBatches[int]
			out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[int] {
				m := dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{Func: runningCount, Partitions: tt.opts})
				snapParts = rtCollect(t, dstream.Glom(m.StateSnapshots()).Count())
				return dstream.Glom(m.DStream).Count()
			}, 2)
			dstreamtest.Equal(t, out, [][]int{{tt.want}, {tt.want}})
			dstreamtest.Equal(t, slotsOf(snapParts, 2), [][]int{{tt.want}, {tt.want}})
		})
	}
	t.Run("placement", func(t *testing.T) {
		// firstLetter{7}: a (97) → 6, b → 0, c → 1, h (104) → 6.
		out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[[]string] {
			m := dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{
				Func: runningCount, Partitions: []rdd.PartitionOption{rdd.WithPartitioner[string](firstLetter{7})},
			})
			return dstream.Glom(m.DStream)
		}, 1, dstreamtest.Partitions(1))
		got := out[0]
		if len(got) != 7 {
			t.Fatalf("got %d partitions, want 7", len(got))
		}
		slices.Sort(got[6])
		want := [][]string{{"b=1"}, {"c=1"}, {}, {}, {}, {}, {"a=1", "h=1"}}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("partitions = %q, want %q", got, want)
		}
	})
}

// TestMapWithStateTimeout checks, with a 2s timeout on 1s batches, that a
// key times out at the first batch more than 2s after its last data,
// exactly once; that data refreshes a key even when the function leaves
// the state alone; and that a removed key does not time out.
func TestMapWithStateTimeout(t *testing.T) {
	// A value of 0 touches the key without updating its state, -1
	// removes it; others add.
	f := func(bt time.Time, k string, v int, st *dstream.State[int]) string {
		sec := bt.Unix()
		if st.IsTimingOut() {
			errU, errR := st.Update(99), st.Remove()
			msg := fmt.Sprintf("%d: %s timed out with %d", sec, k, st.Get())
			if !errors.Is(errU, dstream.ErrStateTimingOut) || !errors.Is(errR, dstream.ErrStateTimingOut) || !st.Exists() || v != 0 {
				msg += fmt.Sprintf(" BUT Update: %v, Remove: %v, Exists: %v, value %d", errU, errR, st.Exists(), v)
			}
			return msg
		}
		switch v {
		case 0:
			return fmt.Sprintf("%d: %s touched", sec, k)
		case -1:
			_ = st.Remove()
			return fmt.Sprintf("%d: %s removed", sec, k)
		}
		n := st.Get() + v
		_ = st.Update(n)
		return fmt.Sprintf("%d: %s=%d", sec, k, n)
	}
	in := [][]kv{
		{rdd.KV("a", 1), rdd.KV("b", 1), rdd.KV("d", 1), rdd.KV("e", 1), rdd.KV("r", 1)},
		{rdd.KV("a", 1), rdd.KV("r", -1)},
		{rdd.KV("d", 0)},
		{rdd.KV("e", 1)},
		{},
		{rdd.KV("r", 1)},
	}
	forPartitions(t, func(t *testing.T, parts int) {
		var snaps *rtBatches[kv]
		out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
			m := dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{Func: f, Timeout: 2 * time.Second})
			snaps = rtCollect(t, m.StateSnapshots())
			return m.DStream
		}, 10, dstreamtest.Partitions(parts))
		dstreamtest.EqualUnordered(t, out, [][]string{
			{"1: a=1", "1: b=1", "1: d=1", "1: e=1", "1: r=1"},
			{"2: a=2", "2: r removed"},
			{"3: d touched"},
			// b's last data was at 1: 4 - 1 > 2. e's data at 4 keeps it.
			{"4: e=2", "4: b timed out with 1"},
			// a's last data was at 2: not at 4 (4 - 2 = 2), at 5.
			{"5: a timed out with 2"},
			// d was touched at 3, so it times out at 6, not 4 with b. r
			// comes back fresh.
			{"6: r=1", "6: d timed out with 1"},
			{"7: e timed out with 2"},
			{},
			{"9: r timed out with 1"}, // r was removed at 2 and did not time out then
			{},
		})
		dstreamtest.EqualUnordered(t, slotsOf(snaps, 10), [][]kv{
			{rdd.KV("a", 1), rdd.KV("b", 1), rdd.KV("d", 1), rdd.KV("e", 1), rdd.KV("r", 1)},
			{rdd.KV("a", 2), rdd.KV("b", 1), rdd.KV("d", 1), rdd.KV("e", 1)},
			{rdd.KV("a", 2), rdd.KV("b", 1), rdd.KV("d", 1), rdd.KV("e", 1)},
			{rdd.KV("a", 2), rdd.KV("d", 1), rdd.KV("e", 2)},
			{rdd.KV("d", 1), rdd.KV("e", 2)},
			{rdd.KV("e", 2), rdd.KV("r", 1)},
			{rdd.KV("r", 1)},
			{rdd.KV("r", 1)},
			{},
			{},
		})
	})
	t.Run("initial state", func(t *testing.T) {
		// Keys of the initial state count as seen at the first batch.
		out := mustRun(t, [][]kv{{rdd.KV("a", 1)}}, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
			return dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{
				Func: f, Timeout: 2 * time.Second,
				InitialState: rdd.Parallelize(s.Context().Engine(), []kv{rdd.KV("i", 7)}, 1),
			}).DStream
		}, 5)
		dstreamtest.EqualUnordered(t, out, [][]string{{"1: a=1"}, {}, {}, {"4: a timed out with 1", "4: i timed out with 7"}, {}})
	})
}

// TestMapWithStateCostFollowsData checks that a batch calls the function
// for the keys with data only, however many keys have state.
func TestMapWithStateCostFollowsData(t *testing.T) {
	const keys = 1000
	many := make([]kv, keys)
	for i := range many {
		many[i] = rdd.KV(fmt.Sprint("k", i), 1)
	}
	for _, tt := range []struct {
		name    string
		in      [][]kv
		initial bool
		timeout time.Duration
		want    []int // calls per batch
	}{
		{"state from data", [][]kv{many, {rdd.KV("k1", 1), rdd.KV("k2", 1)}, {}}, false, 0, []int{keys, 2, 0}},
		{"initial state", [][]kv{{rdd.KV("k1", 1), rdd.KV("k2", 1)}, {rdd.KV("new", 1)}}, true, 0, []int{2, 1, 0}},
		{"with a timeout", [][]kv{many, {rdd.KV("k1", 1), rdd.KV("k2", 1)}, {}}, false, time.Hour, []int{keys, 2, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			calls := map[int64]int{}
			var snaps *rtBatches[int]
			mustRun(t, tt.in, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
				spec := dstream.StateSpec[string, int, int, string]{
					Timeout: tt.timeout,
					Func: func(bt time.Time, k string, v int, st *dstream.State[int]) string {
						mu.Lock()
						calls[bt.Unix()]++
						mu.Unlock()
						return runningCount(bt, k, v, st)
					},
				}
				if tt.initial {
					spec.InitialState = rdd.Parallelize(s.Context().Engine(), many, 3)
				}
				m := dstream.MapWithState(s, spec)
				snaps = rtCollect(t, m.StateSnapshots().Count())
				return m.DStream
			}, len(tt.want))
			mu.Lock()
			defer mu.Unlock()
			for k, want := range tt.want {
				if got := calls[int64(k+1)]; got != want {
					t.Errorf("batch %d: the function was called %d times, want %d", k+1, got, want)
				}
			}
			// The state did hold every key.
			if got, _ := snaps.get(epoch.Add(2 * time.Second)); len(got) != 1 || got[0] < keys {
				t.Errorf("keys with state after batch 2 = %v, want at least %d", got, keys)
			}
		})
	}
}

// modPartitioner places int keys by their remainder.
type modPartitioner struct{ n int }

func (p modPartitioner) NumPartitions() int  { return p.n }
func (p modPartitioner) Partition(k int) int { return k % p.n }

// TestMapWithStatePrintAdvancesEveryPartition runs a MapWithState stream
// whose only output, Print, reads one of its four partitions: the
// internal state update operation still advances the state of all of
// them in every batch, during that batch.
func TestMapWithStatePrintAdvancesEveryPartition(t *testing.T) {
	r := newRig(t, time.Second)
	if err := r.ssc.Checkpoint(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	type ip = rdd.Pair[int, int]
	// Partition 0 (keys 0, 4, 8) has three values per batch, more than
	// Print(1) takes (2), so Print reads only partition 0.
	batch := []ip{rdd.KV(0, 1), rdd.KV(1, 1), rdd.KV(2, 1), rdd.KV(3, 1), rdd.KV(4, 1), rdd.KV(8, 1)}
	allKeys := []int{0, 1, 2, 3, 4, 8}
	const n = 3
	in := rigQueue(r, 2, batch, batch, batch)
	var mu sync.Mutex
	called := map[int64][]int{} // keys the function saw, by batch (s)
	m := dstream.MapWithState(in, dstream.StateSpec[int, int, int, int]{
		Func: func(bt time.Time, k int, v int, st *dstream.State[int]) int {
			mu.Lock()
			called[bt.Unix()] = append(called[bt.Unix()], k)
			mu.Unlock()
			_ = st.Update(st.Get() + v)
			return st.Get()
		},
		Partitions: []rdd.PartitionOption{rdd.WithPartitioner[int](modPartitioner{4})},
	})
	if err := m.Fprint(io.Discard, 1); err != nil {
		t.Fatal(err)
	}
	// The snapshots are read only after the last batch.
	var final []ip
	if err := m.StateSnapshots().ForeachRDD(func(ctx context.Context, x *rdd.RDD[ip], bt time.Time) error {
		if !bt.Equal(r.batchTime(n)) {
			return nil
		}
		got, err := x.Collect(ctx)
		mu.Lock()
		final = got
		mu.Unlock()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r.start()
	var info metrics.BatchInfo
	for k := 1; k <= n; k++ {
		info = r.step(k)
		if err := info.Err(); err != nil {
			t.Fatalf("batch %d: %v", k, err)
		}
		mu.Lock()
		keys := slices.Sorted(slices.Values(called[int64(k)]))
		mu.Unlock()
		if !slices.Equal(keys, allKeys) {
			t.Errorf("by the end of batch %d the function saw keys %v of the batch, want %v", k, keys, allKeys)
		}
	}
	mu.Lock()
	got := final
	mu.Unlock()
	want := []ip{rdd.KV(0, n), rdd.KV(1, n), rdd.KV(2, n), rdd.KV(3, n), rdd.KV(4, n), rdd.KV(8, n)}
	dstreamtest.EqualUnordered(t, [][]ip{got}, [][]ip{want})

	var names []string
	for _, o := range info.OutputOperations {
		names = append(names, o.Name)
	}
	if !slices.Contains(names, "MapWithState state update") || !slices.Contains(names, "Print") {
		t.Errorf("OutputOperations = %q, want the internal %q and Print", names, "MapWithState state update")
	}
}

// TestMapWithStateTwoOutputs checks that two output operations on the
// same stream see the same values and that the state moves once per
// batch.
func TestMapWithStateTwoOutputs(t *testing.T) {
	in := [][]kv{{rdd.KV("a", 1), rdd.KV("b", 1)}, {rdd.KV("a", 1)}, {rdd.KV("a", 1)}}
	for _, persist := range []bool{false, true} {
		t.Run(fmt.Sprint("persist=", persist), func(t *testing.T) {
			var first *rtBatches[string]
			out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
				m := dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{Func: runningCount})
				mapped := m.DStream
				if persist {
					mapped = mapped.Persist()
				}
				first = rtCollect(t, mapped)
				return mapped
			}, 3)
			want := [][]string{{"a=1", "b=1"}, {"a=2"}, {"a=3"}}
			dstreamtest.EqualUnordered(t, out, want)
			dstreamtest.EqualUnordered(t, slotsOf(first, 3), want)
		})
	}
	t.Run("UpdateStateByKey", func(t *testing.T) {
		var first *rtBatches[kv]
		out := mustRun(t, in, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
			st := dstream.UpdateStateByKey(s, func(vs []int, st int, _ bool) (int, bool) { return st + len(vs), true })
			first = rtCollect(t, st)
			return st
		}, 3)
		want := [][]kv{{rdd.KV("a", 1), rdd.KV("b", 1)}, {rdd.KV("a", 2), rdd.KV("b", 1)}, {rdd.KV("a", 3), rdd.KV("b", 1)}}
		dstreamtest.EqualUnordered(t, out, want)
		dstreamtest.EqualUnordered(t, slotsOf(first, 3), want)
	})
}

func TestStateFunctionPanicFailsBatch(t *testing.T) {
	in := [][]kv{{rdd.KV("a", 1)}, {rdd.KV("boom", 1)}, {rdd.KV("a", 1)}}
	// The context logs the failure; keep the test output clean.
	quiet := dstream.WithLogger(slog.New(slog.DiscardHandler))
	check := func(t *testing.T, err error) {
		t.Helper()
		var tpe *engine.TaskPanicError
		if !errors.As(err, &tpe) {
			t.Fatalf("Run = %v, want an *engine.TaskPanicError", err)
		}
		if fmt.Sprint(tpe.Value) != "state boom" {
			t.Errorf("TaskPanicError.Value = %#v, want %q", tpe.Value, "state boom")
		}
		if !strings.Contains(err.Error(), "batch 2") {
			t.Errorf("error %q does not name batch 2", err)
		}
	}
	t.Run("MapWithState", func(t *testing.T) {
		_, err := dstreamtest.Run(limitCtx(t), in, func(s *dstream.DStream[kv]) *dstream.DStream[string] {
			return dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{
				Func: func(bt time.Time, k string, v int, st *dstream.State[int]) string {
					if k == "boom" {
						panic("state boom")
					}
					return runningCount(bt, k, v, st)
				},
			}).DStream
		}, 3, dstreamtest.StreamingOptions(quiet))
		check(t, err)
	})
	t.Run("UpdateStateByKey", func(t *testing.T) {
		_, err := dstreamtest.Run(limitCtx(t), in, func(s *dstream.DStream[kv]) *dstream.DStream[kv] {
			return dstream.UpdateStateByKey(s, func(vs []int, st int, exists bool) (int, bool) {
				if exists && st == 1 && len(vs) > 0 {
					panic("state boom") // a, with state and a new value: batch 3
				}
				return st + len(vs), true
			})
		}, 3, dstreamtest.StreamingOptions(quiet))
		var tpe *engine.TaskPanicError
		if !errors.As(err, &tpe) || fmt.Sprint(tpe.Value) != "state boom" || !strings.Contains(err.Error(), "batch 3") {
			t.Errorf("Run = %v, want an *engine.TaskPanicError in batch 3", err)
		}
	})
	t.Run("AwaitTermination", func(t *testing.T) {
		r := newRig(t, time.Second, quiet)
		if err := r.ssc.Checkpoint(t.TempDir()); err != nil {
			t.Fatal(err)
		}
		m := dstream.MapWithState(rigQueue(r, 1, []kv{rdd.KV("boom", 1)}), dstream.StateSpec[string, int, int, string]{
			Func: func(time.Time, string, int, *dstream.State[int]) string { panic("state boom") },
		})
		if err := m.Fprint(io.Discard, 1); err != nil {
			t.Fatal(err)
		}
		r.start()
		r.advance()
		var tpe *engine.TaskPanicError
		if err := r.awaitTermination(); !errors.As(err, &tpe) {
			t.Errorf("AwaitTermination = %v, want an *engine.TaskPanicError", err)
		}
	})
}

// TestStateBadArguments checks the mistakes reported when a stateful
// stream is built, by its output registration and by Start.
func TestStateBadArguments(t *testing.T) {
	type kvStream = *dstream.DStream[kv]
	count := func(vs []int, st int, _ bool) (int, bool) { return st + len(vs), true }
	mws := func(spec dstream.StateSpec[string, int, int, string]) func(s kvStream) built {
		return func(s kvStream) built {
			if spec.Func == nil && spec.Timeout != 0 {
				spec.Func = runningCount
			}
			return asBuilt(dstream.MapWithState(s, spec).DStream)
		}
	}
	other, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	var nilInitial *rdd.RDD[kv]
	tests := []struct {
		name  string
		build func(s kvStream) built
		want  []string
	}{
		{"MapWithState nil Func", mws(dstream.StateSpec[string, int, int, string]{}),
			[]string{"dstream.MapWithState", "StateSpec.Func must not be nil"}},
		{"MapWithState negative Timeout", mws(dstream.StateSpec[string, int, int, string]{Timeout: -time.Second}),
			[]string{"dstream.MapWithState", "StateSpec.Timeout must not be negative, got -1s"}},
		{"MapWithState NumPartitions(0)", mws(dstream.StateSpec[string, int, int, string]{
			Func: runningCount, Partitions: []rdd.PartitionOption{rdd.NumPartitions(0)},
		}), []string{"dstream.MapWithState", "NumPartitions must be at least 1, got 0"}},
		{"MapWithState partitioner of another key type", mws(dstream.StateSpec[string, int, int, string]{
			Func: runningCount, Partitions: []rdd.PartitionOption{rdd.WithPartitioner[int](modPartitioner{2})},
		}), []string{"dstream.MapWithState", "WithPartitioner"}},
		{"MapWithState bad InitialState", mws(dstream.StateSpec[string, int, int, string]{
			Func: runningCount, InitialState: rdd.MapValues[string, int, int](rdd.Parallelize(other, []kv{}, 1), nil),
		}), []string{"dstream.MapWithState", "initial state", "f must not be nil"}},
		{"MapWithState InitialState of another engine", mws(dstream.StateSpec[string, int, int, string]{
			Func: runningCount, InitialState: rdd.Parallelize(other, []kv{rdd.KV("a", 1)}, 1),
		}), []string{"dstream.MapWithState", "initial state", "different engine contexts"}},
		{"MapWithState snapshots of a bad spec", func(s kvStream) built {
			return asBuilt(dstream.MapWithState(s, dstream.StateSpec[string, int, int, string]{}).StateSnapshots())
		}, []string{"StateSpec.Func must not be nil"}},
		{"UpdateStateByKey nil update", func(s kvStream) built {
			return asBuilt(dstream.UpdateStateByKey[string, int, int](s, nil))
		}, []string{"dstream.UpdateStateByKey", "update must not be nil"}},
		{"UpdateStateByKey NumPartitions(0)", func(s kvStream) built {
			return asBuilt(dstream.UpdateStateByKey(s, count, dstream.StatePartitions(rdd.NumPartitions(0))))
		}, []string{"dstream.UpdateStateByKey", "NumPartitions must be at least 1, got 0"}},
		{"UpdateStateByKey InitialState of another state type", func(s kvStream) built {
			initial := rdd.Parallelize(s.Context().Engine(), []rdd.Pair[string, string]{rdd.KV("a", "x")}, 1)
			return asBuilt(dstream.UpdateStateByKey(s, count, dstream.InitialState(initial)))
		}, []string{"dstream.UpdateStateByKey", "InitialState", "rdd.Pair[string,string]", "key and state types"}},
		{"UpdateStateByKey InitialState of another key type", func(s kvStream) built {
			initial := rdd.Parallelize(s.Context().Engine(), []rdd.Pair[int, int]{rdd.KV(1, 1)}, 1)
			return asBuilt(dstream.UpdateStateByKey(s, count, dstream.InitialState(initial)))
		}, []string{"dstream.UpdateStateByKey", "InitialState", "key and state types"}},
		{"UpdateStateByKey nil InitialState", func(s kvStream) built {
			return asBuilt(dstream.UpdateStateByKey(s, count, dstream.InitialState(nilInitial)))
		}, []string{"dstream.UpdateStateByKey", "InitialState", "non-nil"}},
		{"UpdateStateByKey bad InitialState", func(s kvStream) built {
			return asBuilt(dstream.UpdateStateByKey(s, count, dstream.InitialState(rdd.Parallelize(s.Context().Engine(), []kv{}, 0))))
		}, []string{"dstream.UpdateStateByKey", "initial state", "numSlices"}},
		{"UpdateStateByKey of a bad stream", func(s kvStream) built {
			return asBuilt(dstream.UpdateStateByKey(s.Filter(nil), count))
		}, []string{"dstream.Filter", "keep must not be nil"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, time.Second)
			if err := r.ssc.Checkpoint(t.TempDir()); err != nil {
				t.Fatal(err)
			}
			s := tt.build(rigQueue[kv](r, 1))
			mentions := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Errorf("%s = nil, want an error mentioning %q", what, tt.want)
					return
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s = %q, want it to mention %q", what, err, w)
					}
				}
			}
			mentions("Err()", s.err)
			mentions("ForeachRDD", s.register())
			mentions("Start", r.ssc.Start())
		})
	}
}

// TestStateSnapshotsAfterStart checks that asking for the snapshots of a
// running stream is refused and leaves the running stream alone.
func TestStateSnapshotsAfterStart(t *testing.T) {
	r := newRig(t, time.Second)
	if err := r.ssc.Checkpoint(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	m := dstream.MapWithState(rigQueue(r, 1, []kv{rdd.KV("a", 1)}), dstream.StateSpec[string, int, int, string]{
		Func: func(bt time.Time, k string, v int, st *dstream.State[int]) string {
			entered <- struct{}{}
			<-release
			return runningCount(bt, k, v, st)
		},
	})
	out := rtCollect(t, m.DStream)
	r.start()
	r.advance()
	rtRecv(t, entered, "the state function")
	// The batch is running; ask for snapshots now.
	close(release)
	snaps := m.StateSnapshots()
	if err := snaps.Err(); !errors.Is(err, dstream.ErrStarted) {
		t.Errorf("StateSnapshots after Start: Err() = %v, want dstream.ErrStarted", err)
	}
	r.waitBatch(1)
	rtWant(t, out, r.batchTime(1), "a=1")
}
