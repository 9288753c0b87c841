package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

// Sizes of the window and state benchmarks' full run. A short run
// (SPATE_BENCH_SHORT=1) divides the window input by 100, keeps the window
// lengths, and uses the state sizes the issue gives for it (100K and 1K
// keys, 1K updates a batch, 10K keys for the memory measurement).
const (
	windowKeys          = 10_000  // distinct keys of the window input
	windowPairsPerBatch = 100_000 // (key, 1) pairs per batch
	windowShortSlides   = 10      // short window = 10 × slide
	windowLongSlides    = 100     // long window = 100 × slide
	windowPool          = 10      // distinct input batches, cycled
	// windowWarmExtra is how many batches beyond the long window both
	// windows run before the timing starts.
	windowWarmExtra = 5
	windowSeed      = 7

	stateSmallKeys = 10_000    // existing keys, small side
	stateLargeKeys = 1_000_000 // existing keys, large side
	stateUpdates   = 10_000    // (key, 1) updates per batch
	statePool      = 16        // distinct update batches, cycled
	stateWarm      = 3         // untimed batches after the one that loads the state
	stateSeed      = 11

	memKeys        = 1_000_000 // keys of the memory measurement
	memLoadBatches = 10        // batches that insert them (MapWithState, by data)

	// stateRounds is the fewest timed (one side, other side) pairs of
	// batches a window or state ratio is taken from; a short run takes 3.
	stateRounds = 20
)

// The sizes after SPATE_BENCH_SHORT.
func windowKeyCount() int   { return scaled(windowKeys) }
func windowPairCount() int  { return scaled(windowPairsPerBatch) }
func stateUpdateCount() int { return pick(stateUpdates, 1_000) }
func stateSmallCount() int  { return pick(stateSmallKeys, 1_000) }
func stateLargeCount() int  { return pick(stateLargeKeys, 100_000) }
func memKeyCount() int      { return pick(memKeys, 10_000) }
func timedRounds() int      { return pick(stateRounds, 3) }

// pick returns full, or short in a short run.
func pick(full, short int) int {
	if shortRun() {
		return short
	}
	return full
}

// benchKeys are the key strings of every window and state benchmark,
// "k0000000" to "k0999999" (to "k0099999" in a short run), generated once
// per process and kept alive for its whole life, so that the memory
// measurements see the same key strings on both sides and count none of
// them.
var benchKeys = sync.OnceValue(func() []string {
	return makeKeys(max(windowKeyCount(), stateLargeCount(), memKeyCount()))
})

func makeKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%07d", i)
	}
	return keys
}

// keysFor returns the first n benchmark keys.
func keysFor(n int) []string { return benchKeys()[:n] }

// onesBatch returns n pairs (key, 1) with keys drawn uniformly from keys
// by a PCG seeded with seed: the same pairs for the same arguments.
func onesBatch[V int | int64](keys []string, n int, seed uint64) []rdd.Pair[string, V] {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]rdd.Pair[string, V], n)
	for i := range out {
		out[i] = rdd.Pair[string, V]{Key: keys[rng.IntN(len(keys))], Value: 1}
	}
	return out
}

// parallelizePairs makes one RDD of lineSlices() partitions per batch.
func parallelizePairs[V any](ec *engine.Context, batches [][]rdd.Pair[string, V]) []*rdd.RDD[rdd.Pair[string, V]] {
	out := make([]*rdd.RDD[rdd.Pair[string, V]], len(batches))
	for i, b := range batches {
		out[i] = rdd.Parallelize(ec, b, lineSlices())
	}
	return out
}

// windowInput returns windowPool batches of windowPairCount() pairs
// (key, 1) over windowKeyCount() keys, as RDDs of ec.
func windowInput(ec *engine.Context) []*rdd.RDD[rdd.Pair[string, int]] {
	keys := keysFor(windowKeyCount())
	batches := make([][]rdd.Pair[string, int], windowPool)
	for i := range batches {
		batches[i] = onesBatch[int](keys, windowPairCount(), windowSeed+uint64(i))
	}
	return parallelizePairs(ec, batches)
}

// windowMode selects the by-key window operation.
type windowMode int

const (
	// windowInv is ReduceByKeyAndWindowInv(+, −), with FilterKeys
	// dropping keys whose count fell to 0 (as CountByValueAndWindow does).
	windowInv windowMode = iota
	// windowPlain is ReduceByKeyAndWindow(+), which recomputes every
	// window from its batches.
	windowPlain
)

func (m windowMode) String() string {
	switch m {
	case windowInv:
		return "inv"
	case windowPlain:
		return "plain"
	}
	return fmt.Sprintf("windowMode(%d)", int(m))
}

func addInts(a, b int) int { return a + b }
func subInts(a, b int) int { return a - b }

// windowSummary is what the benchmark output operation takes from each
// window: its number of keys and the sum of its counts.
type windowSummary struct{ keys, sum int }

// windowRun is a started StreamingContext on a manual clock: a
// QueueStream of (key, 1) pairs → a by-key window of the counts → one
// ForeachRDD. Each advance pushes the next input RDD and runs one batch.
// The output operation either summarizes each window (keys and sum of
// counts, in one Aggregate job) or, for the tests, collects it.
type windowRun struct {
	st      *stepper
	q       *dstream.Queue[rdd.Pair[string, int]]
	collect bool

	// Written by the output operation, which runs one batch at a time
	// (one concurrent job, the default) and before the batch's
	// BatchCompleted, so that advance's caller reads them safely.
	last    windowSummary
	windows int                               // windows output so far
	outs    map[int64][]rdd.Pair[string, int] // by batch time (Unix ns), when collecting
}

// startWindowRun builds and starts a window graph on ec, whose clock must
// be clk. window and slide are in batch intervals of streamInterval. dir
// is the checkpoint directory (only the inverse window needs one).
func startWindowRun(ec *engine.Context, clk *clock.Manual, mode windowMode, window, slide int, dir string, collect bool) (*windowRun, error) {
	ssc, err := dstream.NewStreamingContext(ec, streamInterval, dstream.WithClock(clk))
	if err != nil {
		return nil, err
	}
	if err := ssc.Checkpoint(dir); err != nil {
		return nil, err
	}
	w := &windowRun{q: dstream.NewQueue[rdd.Pair[string, int]](), collect: collect}
	if collect {
		w.outs = map[int64][]rdd.Pair[string, int]{}
	}
	in := dstream.QueueStream(ssc, w.q, true, nil)
	wd, sd := time.Duration(window)*streamInterval, time.Duration(slide)*streamInterval
	var counts *dstream.DStream[rdd.Pair[string, int]]
	switch mode {
	case windowInv:
		counts = dstream.ReduceByKeyAndWindowInv(in, addInts, subInts, wd, sd,
			dstream.FilterKeys(func(p rdd.Pair[string, int]) bool { return p.Value != 0 }))
	case windowPlain:
		counts = dstream.ReduceByKeyAndWindow(in, addInts, wd, sd)
	default:
		return nil, fmt.Errorf("unknown window mode %v", mode)
	}
	err = counts.ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int]], t time.Time) error {
		w.windows++
		if collect {
			got, err := r.Collect(ctx)
			w.outs[t.UnixNano()] = got
			return err
		}
		s, err := rdd.Aggregate(ctx, r, windowSummary{},
			func(s windowSummary, p rdd.Pair[string, int]) windowSummary {
				return windowSummary{s.keys + 1, s.sum + p.Value}
			},
			func(a, b windowSummary) windowSummary { return windowSummary{a.keys + b.keys, a.sum + b.sum} })
		w.last = s
		return err
	})
	if err != nil {
		return nil, err
	}
	if w.st, err = startStepped(ssc, clk); err != nil {
		return nil, err
	}
	return w, nil
}

// advance queues input (nil: none, the batch gets an empty RDD) and runs
// the next batch.
func (w *windowRun) advance(ctx context.Context, input *rdd.RDD[rdd.Pair[string, int]]) error {
	if input != nil {
		w.q.Push(input)
	}
	return w.st.step(ctx)
}

func (w *windowRun) stop() error { return w.st.stop() }

// stateMode selects the stateful operation.
type stateMode int

const (
	// stateMap is MapWithState: the state of each key with data becomes
	// state + value, and the output is (key, new state) per value.
	stateMap stateMode = iota
	// stateUpdate is UpdateStateByKey: every key's state becomes state +
	// the sum of its new values, and the output is every (key, state).
	stateUpdate
)

func (m stateMode) String() string {
	switch m {
	case stateMap:
		return "MapWithState"
	case stateUpdate:
		return "UpdateStateByKey"
	}
	return fmt.Sprintf("stateMode(%d)", int(m))
}

// addToState is the MapWithState function: a running sum per key.
func addToState(_ time.Time, key string, v int64, st *dstream.State[int64]) rdd.Pair[string, int64] {
	n := st.Get() + v
	_ = st.Update(n) // fails only for a timing-out key; there is no timeout
	return rdd.KV(key, n)
}

// sumState is the UpdateStateByKey function: the same running sum.
func sumState(vs []int64, s int64, _ bool) (int64, bool) {
	for _, v := range vs {
		s += v
	}
	return s, true
}

// stateRun is a started StreamingContext on a manual clock: a QueueStream
// of (key, value) pairs → MapWithState or UpdateStateByKey → one
// ForeachRDD that counts (or, for the tests, collects) the output of each
// batch: the mapped pairs of MapWithState, every (key, state) of
// UpdateStateByKey.
type stateRun struct {
	st *stepper
	q  *dstream.Queue[rdd.Pair[string, int64]]

	// Written by the output operation (see windowRun).
	last int                         // records in the last batch's output
	outs [][]rdd.Pair[string, int64] // each batch's output, when collecting
}

// startStateRun builds and starts a state graph on ec, whose clock must
// be clk; initial, when not nil, is the initial state. dir is the
// checkpoint directory; every, when not 0, how often the state is
// written to it (dstream's default otherwise).
func startStateRun(ec *engine.Context, clk *clock.Manual, mode stateMode, initial *rdd.RDD[rdd.Pair[string, int64]], dir string, every time.Duration, collect bool) (*stateRun, error) {
	ssc, err := dstream.NewStreamingContext(ec, streamInterval, dstream.WithClock(clk))
	if err != nil {
		return nil, err
	}
	if err := ssc.Checkpoint(dir); err != nil {
		return nil, err
	}
	s := &stateRun{q: dstream.NewQueue[rdd.Pair[string, int64]]()}
	in := dstream.QueueStream(ssc, s.q, true, nil)
	var out *dstream.DStream[rdd.Pair[string, int64]]
	switch mode {
	case stateMap:
		out = dstream.MapWithState(in, dstream.StateSpec[string, int64, int64, rdd.Pair[string, int64]]{
			Func: addToState, InitialState: initial,
		}).DStream
	case stateUpdate:
		var opts []dstream.StateOption
		if initial != nil {
			opts = append(opts, dstream.InitialState(initial))
		}
		out = dstream.UpdateStateByKey(in, sumState, opts...)
	default:
		return nil, fmt.Errorf("unknown state mode %v", mode)
	}
	if every > 0 {
		out = out.Checkpoint(every)
	}
	err = out.ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int64]], _ time.Time) error {
		if collect {
			got, err := r.Collect(ctx)
			s.outs = append(s.outs, got)
			s.last = len(got)
			return err
		}
		n, err := r.Count(ctx)
		s.last = n
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.st, err = startStepped(ssc, clk); err != nil {
		return nil, err
	}
	return s, nil
}

// advance queues input (nil: none) and runs the next batch.
func (s *stateRun) advance(ctx context.Context, input *rdd.RDD[rdd.Pair[string, int64]]) error {
	if input != nil {
		s.q.Push(input)
	}
	return s.st.step(ctx)
}

func (s *stateRun) stop() error { return s.st.stop() }

// initialState returns the pairs (key, 0) for keys as an RDD of
// lineSlices() partitions: the preloaded state of the state benchmarks.
func initialState(ec *engine.Context, keys []string) *rdd.RDD[rdd.Pair[string, int64]] {
	pairs := make([]rdd.Pair[string, int64], len(keys))
	for i, k := range keys {
		pairs[i] = rdd.KV(k, int64(0))
	}
	return rdd.Parallelize(ec, pairs, lineSlices())
}

// updateBatches returns statePool batches of n updates (key, 1), keys
// drawn uniformly from keys.
func updateBatches(keys []string, n int) [][]rdd.Pair[string, int64] {
	batches := make([][]rdd.Pair[string, int64], statePool)
	for i := range batches {
		batches[i] = onesBatch[int64](keys, n, stateSeed+uint64(i))
	}
	return batches
}

// updateInput returns updateBatches(keys, n) as RDDs of ec.
func updateInput(ec *engine.Context, keys []string, n int) []*rdd.RDD[rdd.Pair[string, int64]] {
	return parallelizePairs(ec, updateBatches(keys, n))
}

// handState is MapWithState's baseline: one goroutine and one
// map[string]int64 holding every key's state.
type handState map[string]int64

// newHandState returns the state with every key at 0, as initialState.
func newHandState(keys []string) handState {
	m := make(handState)
	for _, k := range keys {
		m[k] = 0
	}
	return m
}

// apply does what addToState does for every pair of a batch, and returns
// the same output: (key, new state) per pair.
func (m handState) apply(batch []rdd.Pair[string, int64]) []rdd.Pair[string, int64] {
	out := make([]rdd.Pair[string, int64], 0, len(batch))
	for _, p := range batch {
		n := m[p.Key] + p.Value
		m[p.Key] = n
		out = append(out, rdd.KV(p.Key, n))
	}
	return out
}

// preloadedState starts a state graph whose state holds keys (each with
// state 0, given as the initial state) and runs the first batch, which
// loads it, plus stateWarm more, each with an update batch from pool.
// next is the index in pool of the next batch to use.
func preloadedState(ctx context.Context, ec *engine.Context, clk *clock.Manual, mode stateMode, keys []string, pool []*rdd.RDD[rdd.Pair[string, int64]], dir string, every time.Duration) (run *stateRun, next int, err error) {
	run, err = startStateRun(ec, clk, mode, initialState(ec, keys), dir, every, false)
	if err != nil {
		return nil, 0, err
	}
	for next = 0; next < 1+stateWarm; next++ {
		if err := run.advance(ctx, pool[next%len(pool)]); err != nil {
			_ = run.stop()
			return nil, 0, err
		}
	}
	return run, next, nil
}

// loadByBatches inserts keys into the MapWithState graph run in batches
// pairs (key, i) (i = the key's index), then runs two empty batches so
// that no batch's input or output is still remembered. It returns the
// number of records the output operation saw in the loading batches: one
// per key.
func loadByBatches(ctx context.Context, ec *engine.Context, run *stateRun, keys []string, batches int) (int, error) {
	mapped := 0
	for b := range batches {
		lo, hi := b*len(keys)/batches, (b+1)*len(keys)/batches
		pairs := make([]rdd.Pair[string, int64], 0, hi-lo)
		for i := lo; i < hi; i++ {
			pairs = append(pairs, rdd.KV(keys[i], int64(i)))
		}
		if err := run.advance(ctx, rdd.Parallelize(ec, pairs, lineSlices())); err != nil {
			return mapped, err
		}
		mapped += run.last
	}
	for range 2 {
		if err := run.advance(ctx, nil); err != nil {
			return mapped, err
		}
	}
	return mapped, nil
}

// liveHeap returns the bytes of live heap objects: HeapAlloc after
// garbage collections. Cleanups (runtime.AddCleanup) that free engine
// state, such as the shuffle outputs of unreachable RDDs, run after a
// collection, so it collects three times with a pause for them between.
func liveHeap() uint64 {
	for range 3 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapDelta returns after − before as a signed number.
func heapDelta(before, after uint64) float64 { return float64(int64(after - before)) }

// memPerKey is what BenchmarkStateMemoryPerKey measures, in bytes per key.
type memPerKey struct {
	keyBytes float64 // the key strings' own bytes (not counted below)
	plainMap float64 // map[string]int64 holding the keys
	byData   float64 // MapWithState, keys inserted by batches of data
	initial  float64 // MapWithState, keys given as InitialState
}

// measureStateMemory measures the heap per key of n keys of string →
// int64 state: in a plain map[string]int64, in MapWithState loaded by
// batches, and in MapWithState loaded from an InitialState RDD. The key
// strings exist before every "before" measurement and stay alive, so
// none of the three counts them; keyBytes is what they take themselves.
// dirs returns a fresh checkpoint directory.
func measureStateMemory(ctx context.Context, keys []string, dirs func() string) (memPerKey, error) {
	var res memPerKey
	n := float64(len(keys))

	// The key strings: cloned into a slice allocated before the
	// measurement, so that only the string bytes count.
	clones := make([]string, len(keys))
	h0 := liveHeap()
	for i, k := range keys {
		clones[i] = strings.Clone(k)
	}
	res.keyBytes = heapDelta(h0, liveHeap()) / n
	runtime.KeepAlive(clones)
	clones = nil

	// The plain map, grown from empty as the state stores are.
	h0 = liveHeap()
	m := map[string]int64{}
	for i, k := range keys {
		m[k] = int64(i)
	}
	res.plainMap = heapDelta(h0, liveHeap()) / n
	if len(m) != len(keys) {
		return res, fmt.Errorf("the map holds %d keys, want %d", len(m), len(keys))
	}
	runtime.KeepAlive(m)
	m = nil

	// MapWithState, loaded by batches of data. The "before" is a started
	// context that ran one empty batch.
	var err error
	res.byData, err = stateMemory(ctx, func(ec *engine.Context, clk *clock.Manual) (*stateRun, func() (uint64, error), error) {
		run, err := startStateRun(ec, clk, stateMap, nil, dirs(), 0, false)
		if err != nil {
			return nil, nil, err
		}
		if err := run.advance(ctx, nil); err != nil {
			return run, nil, err
		}
		h0 := liveHeap()
		return run, func() (uint64, error) {
			mapped, err := loadByBatches(ctx, ec, run, keys, memLoadBatches)
			if err == nil && mapped != len(keys) {
				err = fmt.Errorf("loading %d keys mapped %d records", len(keys), mapped)
			}
			return h0, err
		}, nil
	}, n)
	if err != nil {
		return res, fmt.Errorf("MapWithState by data: %w", err)
	}

	// MapWithState with InitialState. The "before" is the engine alone:
	// it includes the initial pairs and everything that keeps them.
	res.initial, err = stateMemory(ctx, func(ec *engine.Context, clk *clock.Manual) (*stateRun, func() (uint64, error), error) {
		h0 := liveHeap()
		run, err := startStateRun(ec, clk, stateMap, initialState(ec, keys), dirs(), 0, false)
		if err != nil {
			return nil, nil, err
		}
		return run, func() (uint64, error) {
			for range 3 { // the first batch loads the state
				if err := run.advance(ctx, nil); err != nil {
					return h0, err
				}
			}
			return h0, nil
		}, nil
	}, n)
	if err != nil {
		return res, fmt.Errorf("MapWithState with InitialState: %w", err)
	}
	return res, nil
}

// stateMemory runs setUp on a new engine with a manual clock, then load,
// and returns (heap after load − the heap load reports as before) / n.
// The engine is closed afterwards.
func stateMemory(ctx context.Context, setUp func(*engine.Context, *clock.Manual) (*stateRun, func() (uint64, error), error), n float64) (float64, error) {
	clk := clock.NewManual(time.Unix(0, 0))
	ec, err := engine.New(engine.WithClock(clk))
	if err != nil {
		return 0, err
	}
	defer ec.Close()
	run, load, err := setUp(ec, clk)
	if err != nil {
		if run != nil {
			err = errors.Join(err, run.stop())
		}
		return 0, err
	}
	h0, err := load()
	h1 := liveHeap()
	runtime.KeepAlive(run)
	if err := errors.Join(err, run.stop()); err != nil {
		return 0, err
	}
	return heapDelta(h0, h1) / n, nil
}
