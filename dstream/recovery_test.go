package dstream_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/rdd"
)

// counter is a recoverable graph for these tests: a constant input of
// "a a b" every batch, running counts (UpdateStateByKey, named "counts")
// and a windowed count (ReduceByKeyAndWindowInv, named "window"), both
// collected by batch time.
type counter struct {
	ssc    *dstream.StreamingContext
	m      *clock.Manual
	rec    *rtRecorder
	mu     sync.Mutex
	counts map[time.Time]map[string]int
	window map[time.Time]map[string]int
}

type counterOpts struct {
	stateName  string
	partitions int
	extra      func(ssc *dstream.StreamingContext)
}

func newCounter(t *testing.T, dir string, o counterOpts, ropts ...dstream.RecoveryOption) (*counter, error) {
	t.Helper()
	if o.stateName == "" {
		o.stateName = "counts"
	}
	if o.partitions == 0 {
		o.partitions = 2
	}
	c := &counter{counts: map[time.Time]map[string]int{}, window: map[time.Time]map[string]int{}}
	collect := func(into map[time.Time]map[string]int) func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int]], bt time.Time) error {
		return func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int]], bt time.Time) error {
			got, err := r.Collect(ctx)
			if err != nil {
				return err
			}
			m := map[string]int{}
			for _, p := range got {
				if p.Value != 0 {
					m[p.Key] = p.Value
				}
			}
			c.mu.Lock()
			into[bt] = m
			c.mu.Unlock()
			return nil
		}
	}
	ssc, err := dstream.GetOrCreate(dir, func() (*dstream.StreamingContext, error) {
		ssc, m := rtNewContext(t, time.Second)
		c.m = m
		in := dstream.ConstantInputStream(ssc, rdd.Parallelize(ssc.Engine(), []string{"a", "a", "b"}, 2))
		pairs := dstream.Map(in, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
		counts := dstream.UpdateStateByKey(pairs, func(vs []int, s int, _ bool) (int, bool) {
			return s + len(vs), true
		}, dstream.StatePartitions(rdd.NumPartitions(o.partitions))).Name(o.stateName).Checkpoint(2 * time.Second)
		window := dstream.ReduceByKeyAndWindowInv(pairs, func(a, b int) int { return a + b }, func(a, b int) int { return a - b },
			3*time.Second, time.Second).Name("window").Checkpoint(2 * time.Second)
		if err := counts.ForeachRDD(collect(c.counts)); err != nil {
			return nil, err
		}
		if err := window.ForeachRDD(collect(c.window)); err != nil {
			return nil, err
		}
		if o.extra != nil {
			o.extra(ssc)
		}
		return ssc, nil
	}, ropts...)
	if err != nil {
		return nil, err
	}
	c.ssc = ssc
	c.rec = rtRecord(t, ssc)
	return c, nil
}

// runBatches advances ssc's clock batch by batch through the batch times
// from..to (seconds after rtEpoch) and waits for each.
func (c *counter) runBatches(t *testing.T, from, to int) {
	t.Helper()
	for s := from; s <= to; s++ {
		c.m.Set(rtAt(time.Duration(s) * time.Second))
		c.rec.waitBatch(t, rtAt(time.Duration(s)*time.Second))
	}
}

func (c *counter) at(into map[time.Time]map[string]int, s int) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return into[rtAt(time.Duration(s)*time.Second)]
}

// crash stops the context hard, as a crash would (but without killing the
// process: the subprocess test does that).
func (c *counter) crash(t *testing.T) {
	t.Helper()
	if err := c.ssc.Stop(rtCtx(t), false); err != nil {
		t.Fatal(err)
	}
}

func wantCounts(t *testing.T, what string, got map[string]int, a, b int) {
	t.Helper()
	if got["a"] != a || got["b"] != b || len(got) != 2 {
		t.Errorf("%s = %v, want map[a:%d b:%d]", what, got, a, b)
	}
}

func TestGetOrCreateResumesStateAndWindows(t *testing.T) {
	dir := t.TempDir()
	c1, err := newCounter(t, dir, counterOpts{})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c1.ssc)
	c1.runBatches(t, 1, 5)
	wantCounts(t, "run 1, batch 5 counts", c1.at(c1.counts, 5), 10, 5)
	c1.crash(t)

	// The second run: state from the checkpoint at 4s, batch 5 re-run
	// for its state only (its output already happened), then new batches.
	c2, err := newCounter(t, dir, counterOpts{})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c2.ssc)
	c2.runBatches(t, 6, 8)
	for s := 6; s <= 8; s++ {
		wantCounts(t, "run 2 counts", c2.at(c2.counts, s), 2*s, s)
		wantCounts(t, "run 2 window", c2.at(c2.window, s), 6, 3)
	}
	if got := c2.at(c2.counts, 5); got != nil {
		t.Errorf("batch 5 completed before the crash, but its output ran again: %v", got)
	}
}

func TestGetOrCreateWithoutCheckpointCreates(t *testing.T) {
	c, err := newCounter(t, t.TempDir(), counterOpts{})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c.ssc)
	c.runBatches(t, 1, 2)
	wantCounts(t, "batch 2", c.at(c.counts, 2), 4, 2)
}

func TestGetOrCreateGraphMismatch(t *testing.T) {
	dir := t.TempDir()
	c1, err := newCounter(t, dir, counterOpts{})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c1.ssc)
	c1.runBatches(t, 1, 2)
	c1.crash(t)

	_, err = newCounter(t, dir, counterOpts{stateName: "renamed", partitions: 3})
	if !errors.Is(err, dstream.ErrGraphMismatch) {
		t.Fatalf("err = %v, want ErrGraphMismatch", err)
	}
	for _, want := range []string{"stateful stream renamed (UpdateStateByKey) is not in the checkpoint", "stateful stream counts (UpdateStateByKey) of the checkpoint is not in the graph"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_, err = newCounter(t, dir, counterOpts{partitions: 3})
	if err == nil || !strings.Contains(err.Error(), "checkpoint has 2 state partitions, graph 3") {
		t.Errorf("err = %v, want the partition counts named", err)
	}
}

func TestStartRefusesAnEarlierRunsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	c1, err := newCounter(t, dir, counterOpts{})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c1.ssc)
	c1.runBatches(t, 1, 1)
	c1.crash(t)

	ssc, _ := rtNewContext(t, time.Second)
	if err := ssc.Checkpoint(dir); err != nil {
		t.Fatal(err)
	}
	rtCollect(t, dstream.ConstantInputStream(ssc, rdd.Parallelize(ssc.Engine(), []int{1}, 1)))
	if err := ssc.Start(); !errors.Is(err, dstream.ErrCheckpointExists) {
		t.Fatalf("Start = %v, want ErrCheckpointExists", err)
	}
}

// newestFile returns the newest file (by name) matching pattern.
func newestFile(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) == 0 {
		t.Fatalf("no file matches %s", pattern)
	}
	slices.Sort(m)
	return m[len(m)-1]
}

func flipByte(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[min(at, len(b)-1)] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptStateCheckpoint(t *testing.T) {
	dir := t.TempDir()
	c1, err := newCounter(t, dir, counterOpts{})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c1.ssc)
	c1.runBatches(t, 1, 5) // state checkpoints at 2s and 4s
	c1.crash(t)
	bad := newestFile(t, filepath.Join(dir, "state", "counts", "1", "*"))
	flipByte(t, bad, 40)

	c2, err := newCounter(t, dir, counterOpts{})
	if err != nil {
		t.Fatal(err)
	}
	err = c2.ssc.Start()
	if !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "RecoverFromOlderCheckpoint") {
		t.Fatalf("Start = %v, want a corrupt-file error naming %s and the fallback option", err, bad)
	}

	// With the fallback, the checkpoint at 2s is used and batches 3–5
	// re-run for their state: the counts come out right.
	c3, err := newCounter(t, dir, counterOpts{}, dstream.RecoverFromOlderCheckpoint(true))
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c3.ssc)
	c3.runBatches(t, 6, 7)
	wantCounts(t, "after falling back, batch 7", c3.at(c3.counts, 7), 14, 7)
	wantCounts(t, "after falling back, window 7", c3.at(c3.window, 7), 6, 3)
}

func TestCorruptMetadataCheckpoint(t *testing.T) {
	dir := t.TempDir()
	c1, err := newCounter(t, dir, counterOpts{})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c1.ssc)
	c1.runBatches(t, 1, 3)
	c1.crash(t)
	newest := newestFile(t, filepath.Join(dir, "metadata-*"))
	b, _ := os.ReadFile(newest)
	if err := os.WriteFile(newest, b[:len(b)/2], 0o644); err != nil { // truncated
		t.Fatal(err)
	}
	if _, err := newCounter(t, dir, counterOpts{}); !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), newest) {
		t.Fatalf("GetOrCreate = %v, want a corrupt-file error naming %s", err, newest)
	}
	c2, err := newCounter(t, dir, counterOpts{}, dstream.RecoverFromOlderCheckpoint(true))
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c2.ssc)
	c2.runBatches(t, 4, 5)
	wantCounts(t, "batch 5", c2.at(c2.counts, 5), 10, 5)
}

func TestQueueStreamIsNotRecoverable(t *testing.T) {
	dir := t.TempDir()
	extra := func(ssc *dstream.StreamingContext) {
		rtCollect(t, dstream.QueueStream(ssc, dstream.NewQueue[int](), false, nil))
	}
	c1, err := newCounter(t, dir, counterOpts{extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, c1.ssc)
	c1.runBatches(t, 1, 1)
	c1.crash(t)
	if _, err := newCounter(t, dir, counterOpts{extra: extra}); err == nil || !strings.Contains(err.Error(), "not replayable") {
		t.Fatalf("GetOrCreate = %v, want an error saying queue streams are not replayable", err)
	}
}

func TestUnencodableStateFailsAtStart(t *testing.T) {
	type noFields struct{ f func() }
	ssc, _ := rtNewContext(t, time.Second)
	if err := ssc.Checkpoint(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	in := dstream.ConstantInputStream(ssc, rdd.Parallelize(ssc.Engine(), []rdd.Pair[string, int]{rdd.KV("a", 1)}, 1))
	rtCollect(t, dstream.UpdateStateByKey(in, func(_ []int, s noFields, _ bool) (noFields, bool) { return s, true }))
	err := ssc.Start()
	if err == nil || !strings.Contains(err.Error(), "cannot be checkpointed") || !strings.Contains(err.Error(), "Codec") {
		t.Fatalf("Start = %v, want an error saying the state cannot be checkpointed and how to fix it", err)
	}
}

// countingCodec is a user codec that counts its use.
type countingCodec struct {
	dstream.StringCodec
	mu   sync.Mutex
	used int
}

func (c *countingCodec) Append(b []byte, v string) ([]byte, error) {
	c.mu.Lock()
	c.used++
	c.mu.Unlock()
	return c.StringCodec.Append(b, v)
}

func TestStateCodecsAreUsed(t *testing.T) {
	codec := &countingCodec{}
	dir := t.TempDir()
	ssc, m := rtNewContext(t, time.Second)
	if err := ssc.Checkpoint(dir); err != nil {
		t.Fatal(err)
	}
	rec := rtRecord(t, ssc)
	in := dstream.ConstantInputStream(ssc, rdd.Parallelize(ssc.Engine(), []rdd.Pair[string, int]{rdd.KV("a", 1), rdd.KV("b", 1)}, 1))
	rtCollect(t, dstream.UpdateStateByKey(in, func(vs []int, s int, _ bool) (int, bool) { return s + len(vs), true },
		dstream.StateCodecs[string, int](codec, nil)).Checkpoint(time.Second))
	rtStart(t, ssc)
	m.Set(rtAt(time.Second))
	rec.waitBatch(t, rtAt(time.Second))
	if err := ssc.Stop(rtCtx(t), false); err != nil { // waits for the state writes
		t.Fatal(err)
	}
	codec.mu.Lock()
	defer codec.mu.Unlock()
	if codec.used < 2 { // the check at Start, and the keys of the checkpoint
		t.Errorf("the key codec encoded %d values, want the checkpoint's keys", codec.used)
	}
}

func TestUnwritableCheckpointStopsTheContext(t *testing.T) {
	dir := t.TempDir()
	// A file where the state directory must go: writing state fails as
	// on a read-only or full disk.
	if err := os.WriteFile(filepath.Join(dir, "state"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ssc, m := rtNewContext(t, time.Second)
	if err := ssc.Checkpoint(dir); err != nil {
		t.Fatal(err)
	}
	in := dstream.ConstantInputStream(ssc, rdd.Parallelize(ssc.Engine(), []rdd.Pair[string, int]{rdd.KV("a", 1)}, 1))
	rtCollect(t, dstream.UpdateStateByKey(in, func(vs []int, s int, _ bool) (int, bool) { return s + len(vs), true }).Checkpoint(time.Second))
	rtStart(t, ssc)
	m.Set(rtAt(time.Second))
	err := ssc.AwaitTermination(rtCtx(t))
	if err == nil || !strings.Contains(err.Error(), "writing a state checkpoint of UpdateStateByKey#1") {
		t.Fatalf("AwaitTermination = %v, want the failed state write named", err)
	}
}

// TestIncrementalCheckpointsRestore checks MapWithState's delta
// checkpoints: every batch is a checkpoint, the first full and the next
// ones deltas with updates and removals, and a restart rebuilds the state
// from the full checkpoint and the deltas.
func TestIncrementalCheckpointsRestore(t *testing.T) {
	dir := t.TempDir()
	type run struct {
		ssc  *dstream.StreamingContext
		m    *clock.Manual
		rec  *rtRecorder
		mu   sync.Mutex
		snap map[time.Time]map[string]int
	}
	start := func(t *testing.T) *run {
		r := &run{snap: map[time.Time]map[string]int{}}
		ssc, err := dstream.GetOrCreate(dir, func() (*dstream.StreamingContext, error) {
			ssc, m := rtNewContext(t, time.Second)
			r.m = m
			in := dstream.ConstantInputStream(ssc, rdd.Parallelize(ssc.Engine(), []rdd.Pair[string, int]{rdd.KV("a", 1), rdd.KV("b", 1)}, 1))
			// a counts batches; b is removed in even batches and back in
			// odd ones.
			mws := dstream.MapWithState(in, dstream.StateSpec[string, int, int, int]{
				Func: func(bt time.Time, k string, v int, st *dstream.State[int]) int {
					if k == "b" && bt.Unix()%2 == 0 {
						_ = st.Remove()
						return 0
					}
					_ = st.Update(st.Get() + v)
					return st.Get()
				},
			})
			mws.Name("counts").Checkpoint(time.Second)
			err := mws.StateSnapshots().ForeachRDD(func(ctx context.Context, rd *rdd.RDD[rdd.Pair[string, int]], bt time.Time) error {
				got, err := rd.Collect(ctx)
				m := map[string]int{}
				for _, p := range got {
					m[p.Key] = p.Value
				}
				r.mu.Lock()
				r.snap[bt] = m
				r.mu.Unlock()
				return err
			})
			return ssc, err
		})
		if err != nil {
			t.Fatal(err)
		}
		r.ssc, r.rec = ssc, rtRecord(t, ssc)
		rtStart(t, ssc)
		return r
	}
	step := func(r *run, s int) map[string]int {
		bt := rtAt(time.Duration(s) * time.Second)
		r.m.Set(bt)
		r.rec.waitBatch(t, bt)
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.snap[bt]
	}
	want := func(s int) map[string]int {
		m := map[string]int{"a": s}
		if s%2 == 1 {
			m["b"] = 1
		}
		return m
	}
	r1 := start(t)
	for s := 1; s <= 6; s++ {
		if got := step(r1, s); !mapsEqual(got, want(s)) {
			t.Fatalf("run 1, batch %d: state %v, want %v", s, got, want(s))
		}
	}
	if err := r1.ssc.Stop(rtCtx(t), false); err != nil {
		t.Fatal(err)
	}
	kinds := ""
	for s := 1; s <= 6; s++ {
		b, err := checkpoint.ReadFile(filepath.Join(dir, "state", "counts", "0", fmt.Sprintf("%020d", rtAt(time.Duration(s)*time.Second).UnixNano())), "state")
		if err != nil {
			t.Fatal(err)
		}
		kinds += string(b[0])
	}
	if kinds != "FDDDDD" {
		t.Errorf("checkpoint kinds = %s, want one full then deltas", kinds)
	}
	r2 := start(t)
	for s := 7; s <= 8; s++ {
		if got := step(r2, s); !mapsEqual(got, want(s)) {
			t.Fatalf("after the restart, batch %d: state %v, want %v", s, got, want(s))
		}
	}
}

// boxedInt is a state type that checkpoints with gob.
type boxedInt struct{ N int }

// TestIncrementalCheckpointsChurn checks MapWithState's checkpoints under
// churn, against a model: keys are updated, left alone and removed in
// every batch (a third of them rarely), the state is written every 2
// batches over 2 partitions, and the context restarts after batches 11,
// 45 and 47; after each restart it must continue exactly as the model
// does. A restarted context spreads keys over its partitions anew (the
// hash seed differs), so its first checkpoint holds the whole state. With
// 300 keys the others between the scheduled full ones are deltas; with
// 20,000 keys two intervals change more records than twice the state
// holds, so some checkpoints hold the whole state out of turn. A state
// type without a built-in codec takes the other path (gob, keys listed).
func TestIncrementalCheckpointsChurn(t *testing.T) {
	for _, tc := range []struct {
		keys  int
		gob   bool   // a state type without a built-in codec
		kinds string // of the checkpoints at 2, 4, ..., 46 of partition 0, when known
	}{
		{300, false, "FDDDD" + "F" + strings.Repeat("D", 14) + "FDF"},
		{300, true, "FDDDD" + "F" + strings.Repeat("D", 14) + "FDF"},
		{20000, false, ""},
	} {
		t.Run(fmt.Sprintf("%d,gob=%t", tc.keys, tc.gob), func(t *testing.T) {
			dir := t.TempDir()
			keys := make([]string, tc.keys)
			for i := range keys {
				keys[i] = fmt.Sprintf("k%05d", i)
			}
			// action is what batch s does to key i: 0 removes it, 1
			// leaves it alone, others add 1. A third of the keys change
			// once in 10 batches, so that many keep their state over a
			// checkpoint interval.
			action := func(i, s int) int {
				if i%3 == 0 {
					switch {
					case (i/3+s)%10 != 0:
						return 1
					case s%4 == 3:
						return 0
					default:
						return 2
					}
				}
				return (i*7 + s*(1+i%3)) % 6
			}
			const last = 49
			model := map[string]int{}
			want := map[int]map[string]int{}
			for s := 1; s <= last; s++ {
				for i, k := range keys {
					switch action(i, s) {
					case 0:
						delete(model, k)
					case 1:
					default:
						model[k]++
					}
				}
				want[s] = maps.Clone(model)
			}
			var mu sync.Mutex
			snaps := map[time.Time]map[string]int{}
			start := func() (*dstream.StreamingContext, *clock.Manual, *rtRecorder) {
				var m *clock.Manual
				ssc, err := dstream.GetOrCreate(dir, func() (*dstream.StreamingContext, error) {
					var ssc *dstream.StreamingContext
					ssc, m = rtNewContext(t, time.Second)
					pairs := make([]rdd.Pair[string, int], len(keys))
					for i, k := range keys {
						pairs[i] = rdd.KV(k, i)
					}
					in := dstream.ConstantInputStream(ssc, rdd.Parallelize(ssc.Engine(), pairs, 3))
					var states *dstream.DStream[rdd.Pair[string, int]]
					if tc.gob {
						mws := dstream.MapWithState(in, dstream.StateSpec[string, int, boxedInt, int]{
							Func: func(bt time.Time, k string, i int, st *dstream.State[boxedInt]) int {
								switch action(i, int(bt.Sub(rtEpoch)/time.Second)) {
								case 0:
									_ = st.Remove()
								case 1:
								default:
									_ = st.Update(boxedInt{st.Get().N + 1})
								}
								return 0
							},
							Partitions: []rdd.PartitionOption{rdd.NumPartitions(2)},
						})
						mws.Name("churn").Checkpoint(2 * time.Second)
						states = dstream.Map(mws.StateSnapshots(), func(p rdd.Pair[string, boxedInt]) rdd.Pair[string, int] { return rdd.KV(p.Key, p.Value.N) })
					} else {
						mws := dstream.MapWithState(in, dstream.StateSpec[string, int, int, int]{
							Func: func(bt time.Time, k string, i int, st *dstream.State[int]) int {
								switch action(i, int(bt.Sub(rtEpoch)/time.Second)) {
								case 0:
									_ = st.Remove()
								case 1:
								default:
									_ = st.Update(st.Get() + 1)
								}
								return 0
							},
							Partitions: []rdd.PartitionOption{rdd.NumPartitions(2)},
						})
						mws.Name("churn").Checkpoint(2 * time.Second)
						states = mws.StateSnapshots()
					}
					err := states.ForeachRDD(func(ctx context.Context, rd *rdd.RDD[rdd.Pair[string, int]], bt time.Time) error {
						got, err := rd.Collect(ctx)
						m := map[string]int{}
						for _, p := range got {
							m[p.Key] = p.Value
						}
						mu.Lock()
						snaps[bt] = m
						mu.Unlock()
						return err
					})
					return ssc, err
				})
				if err != nil {
					t.Fatal(err)
				}
				rec := rtRecord(t, ssc)
				rtStart(t, ssc)
				return ssc, m, rec
			}
			run := func(from, to int) {
				ssc, m, rec := start()
				for s := from; s <= to; s++ {
					bt := rtAt(time.Duration(s) * time.Second)
					m.Set(bt)
					rec.waitBatch(t, bt)
					mu.Lock()
					got := snaps[bt]
					mu.Unlock()
					if !mapsEqual(got, want[s]) {
						for _, k := range keys {
							g, gok := got[k]
							w, wok := want[s][k]
							if g != w || gok != wok {
								t.Fatalf("batch %d: key %s: state %d (exists %t), want %d (exists %t)", s, k, g, gok, w, wok)
							}
						}
					}
				}
				if err := ssc.Stop(rtCtx(t), false); err != nil {
					t.Fatal(err)
				}
			}
			// kinds[i] is the kind of the checkpoint at batch 2(i+1) of
			// partition 0, read after each run (older files go once no
			// retained checkpoint needs them).
			kinds := []byte(strings.Repeat("-", 23))
			for _, r := range [][2]int{{1, 11}, {12, 45}, {46, 47}, {48, last}} {
				run(r[0], r[1])
				for i := range kinds {
					b, err := checkpoint.ReadFile(filepath.Join(dir, "state", "churn", "0", fmt.Sprintf("%020d", rtAt(time.Duration(2*i+2)*time.Second).UnixNano())), "state")
					if err == nil {
						kinds[i] = b[0]
					}
				}
			}
			switch k := string(kinds); {
			case tc.kinds != "" && k != tc.kinds:
				t.Errorf("checkpoint kinds = %s, want %s", k, tc.kinds)
			case tc.kinds == "" && (strings.Count(k, "F") <= 4 || !strings.Contains(k, "D")):
				t.Errorf("checkpoint kinds = %s, want full ones out of turn and deltas", k)
			}
		})
	}
}
