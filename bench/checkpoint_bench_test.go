package bench

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

// checkpointEveryBatches is how often the checkpointing side of
// BenchmarkStateCheckpoint writes its state, in batches.
const checkpointEveryBatches = 10

// BenchmarkStateCheckpoint measures what fault tolerance costs a stateful
// stream with stateLargeCount() (1M) keys of state.
//
// overhead/MapWithState, overhead/UpdateStateByKey: two graphs side by side (as benchStatePair), one writing its
// state every 10 batches, one never (an interval of a million batches;
// both write their metadata checkpoint twice per batch). One step is 10
// batches, so each step of the checkpointing side includes one state
// checkpoint: the copy of the map taken in the batch and the background
// encoding and writing, which competes for the two cores with the
// following batches. ratio = checkpointing / never (of the median
// steps; ratio-mean of the total times, full checkpoints included);
// target ≤ 1.2.
//
// recovery: the time from GetOrCreate to the first batch completed after
// a restart, with the state restored from a checkpoint of 1M keys
// (recovery-s; target ≤ 2 s). state-MB is the size of the state files.
// recovery-chain: the same from the longest chain of files MapWithState
// writes between full checkpoints (a full one and 19 deltas), each delta
// of 100K updates, as many as 10 batches of overhead make between two
// checkpoints.
func BenchmarkStateCheckpoint(b *testing.B) {
	for _, mode := range []stateMode{stateMap, stateUpdate} {
		b.Run("overhead/"+mode.String(), func(b *testing.B) { benchCheckpointOverhead(b, mode) })
	}
	recovery := func(updates, batches int) func(b *testing.B) {
		return func(b *testing.B) {
			var total time.Duration
			var size int64
			n := 0
			for b.Loop() {
				d, bytes, err := measureRecovery(b.Context(), keysFor(stateLargeCount()), b.TempDir(), updates, batches)
				if err != nil {
					b.Fatal(err)
				}
				total += d
				size = bytes
				n++
			}
			b.ReportMetric(total.Seconds()/float64(n), "recovery-s")
			b.ReportMetric(float64(size)/(1<<20), "state-MB")
		}
	}
	b.Run("recovery", recovery(1_000, 2))
	b.Run("recovery-chain", recovery(stateUpdateCount()*checkpointEveryBatches, 20))
}

// benchCheckpointOverhead is one overhead benchmark; a step is 10
// batches, so the -ms/batch metrics are per 10 batches.
func benchCheckpointOverhead(b *testing.B, mode stateMode) {
	ctx := context.Background()
	ecC, clkC := newManualBenchEngine(b)
	ecN, clkN := newManualBenchEngine(b)
	keys := keysFor(stateLargeCount())
	poolC := updateInput(ecC, keys, stateUpdateCount())
	poolN := updateInput(ecN, keys, stateUpdateCount())
	runC, nc, err := preloadedState(ctx, ecC, clkC, mode, keys, poolC, b.TempDir(), checkpointEveryBatches*streamInterval)
	if err != nil {
		b.Fatal(err)
	}
	defer stopOrFail(b, runC.stop)
	runN, nn, err := preloadedState(ctx, ecN, clkN, mode, keys, poolN, b.TempDir(), 1_000_000*streamInterval)
	if err != nil {
		b.Fatal(err)
	}
	defer stopOrFail(b, runN.stop)
	steps := func(run *stateRun, pool []*rdd.RDD[rdd.Pair[string, int64]], next *int) func(context.Context) error {
		return func(ctx context.Context) error {
			for range checkpointEveryBatches {
				if err := run.advance(ctx, pool[*next%len(pool)]); err != nil {
					return err
				}
				*next++
			}
			return nil
		}
	}
	never, ckpt := measurePairedBatches(b, ctx, steps(runN, poolN, &nn), steps(runC, poolC, &nc))
	reportPaired(b, "never", never, "every10", ckpt)
	reportMeanRatios(b, never, ckpt)
}

// reportMeanRatios reports the ratios of the total times of both sides
// (ratio-mean, ratio-cpu-mean): unlike the medians' ratios, they include
// the steps with a full checkpoint (one in 10 checkpoints of MapWithState,
// so two of the 20 steps a run times), as an average over batches does.
func reportMeanRatios(b *testing.B, first, second []sample) {
	var w1, w2, c1, c2 time.Duration
	for _, s := range first {
		w1, c1 = w1+s.wall, c1+s.cpu
	}
	for _, s := range second {
		w2, c2 = w2+s.wall, c2+s.cpu
	}
	b.ReportMetric(float64(w2)/float64(w1), "ratio-mean")
	if _, ok := processCPU(); ok {
		b.ReportMetric(float64(c2)/float64(c1), "ratio-cpu-mean")
	}
}

// recoveryGraph is the graph of the recovery benchmark: a constant input
// of updates → MapWithState with keys as the initial state,
// checkpointed every batch → a count per batch.
func recoveryGraph(ec *engine.Context, clk *clock.Manual, keys []string, updates *rdd.RDD[rdd.Pair[string, int64]], counted chan<- int) (*dstream.StreamingContext, error) {
	ssc, err := dstream.NewStreamingContext(ec, streamInterval, dstream.WithClock(clk))
	if err != nil {
		return nil, err
	}
	in := dstream.ConstantInputStream(ssc, updates)
	out := dstream.MapWithState(in, dstream.StateSpec[string, int64, int64, rdd.Pair[string, int64]]{
		Func: addToState, InitialState: initialState(ec, keys),
	}).Name("state").Checkpoint(streamInterval)
	err = out.ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int64]], _ time.Time) error {
		c, err := r.Count(ctx)
		counted <- c
		return err
	})
	return ssc, err
}

// measureRecovery builds a checkpoint of keys' state in dir, with
// batches batches of the same n updates (the first holds every key), then
// times a restart: GetOrCreate, Start (which restores the state) and the
// first new batch. It returns that time and the bytes of the state files.
func measureRecovery(ctx context.Context, keys []string, dir string, n, batches int) (time.Duration, int64, error) {
	run := func(first bool) (time.Duration, error) {
		clk := clock.NewManual(time.Unix(0, 0))
		ec, err := engine.New(engine.WithClock(clk))
		if err != nil {
			return 0, err
		}
		defer ec.Close()
		updates := parallelizePairs(ec, updateBatches(keys, n))[0]
		counted := make(chan int, 4)
		t0 := time.Now()
		ssc, err := dstream.GetOrCreate(dir, func() (*dstream.StreamingContext, error) {
			return recoveryGraph(ec, clk, keys, updates, counted)
		})
		if err != nil {
			return 0, err
		}
		st, err := startStepped(ssc, clk)
		if err != nil {
			return 0, err
		}
		steps := batches
		if !first {
			// The stepper starts at the first batch after now; a
			// recovered context continues after its last batch.
			st.next = time.Unix(0, 0).Add(time.Duration(batches+1) * streamInterval)
			steps = 1
		}
		for range steps {
			if err := st.step(ctx); err != nil {
				return 0, err
			}
			if c := <-counted; c != n {
				return 0, fmt.Errorf("a batch counted %d, want %d", c, n)
			}
		}
		d := time.Since(t0)
		return d, st.stop()
	}
	if _, err := run(true); err != nil {
		return 0, 0, fmt.Errorf("building the checkpoint: %w", err)
	}
	d, err := run(false)
	if err != nil {
		return 0, 0, fmt.Errorf("recovering: %w", err)
	}
	size, err := dirSize(filepath.Join(dir, "state"))
	return d, size, err
}

// dirSize returns the bytes of the files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}

// walRecords is how many records BenchmarkReceiverWAL stores per side.
func walRecords() int { return pick(2_000_000, 20_000) }

// BenchmarkReceiverWAL measures a receiver's throughput with the
// write-ahead log off and on, in the same run: a receiver stores
// walRecords() 16-byte strings with StoreReliably in chunks of 1,000 (with
// the log, each chunk is durable, fsync included, before the call
// returns), batches of 100 ms count them, and the clock stops when the
// last record is counted. ratio = on / off in records/s.
func BenchmarkReceiverWAL(b *testing.B) {
	var off, on time.Duration
	n := 0
	for b.Loop() {
		for i, wal := range []bool{false, true} {
			if n%2 == 1 {
				wal = i == 0 // alternate which side runs first
			}
			d, err := measureReceiver(b.Context(), wal, walRecords(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			if wal {
				on += d
			} else {
				off += d
			}
		}
		n++
	}
	rate := func(d time.Duration) float64 { return float64(walRecords()*n) / d.Seconds() }
	b.ReportMetric(rate(off), "off-records/s")
	b.ReportMetric(rate(on), "on-records/s")
	b.ReportMetric(rate(on)/rate(off), "ratio")
}

// chunkReceiver stores records in chunks with StoreReliably.
type chunkReceiver struct {
	records, chunk int
	done           chan struct{}
}

func (r *chunkReceiver) OnStart(h *dstream.ReceiverHandle[string]) error {
	go func() {
		defer close(r.done)
		chunk := make([]string, r.chunk)
		for i := range chunk {
			chunk[i] = fmt.Sprintf("record-%09d", i)
		}
		for sent := 0; sent < r.records; sent += r.chunk {
			if err := h.StoreReliably(chunk[:min(r.chunk, r.records-sent)]); err != nil {
				return
			}
		}
	}()
	return nil
}

func (r *chunkReceiver) OnStop() {}

// measureReceiver runs the receiver graph until it has counted records.
func measureReceiver(ctx context.Context, wal bool, records int, dir string) (time.Duration, error) {
	ec, err := engine.New()
	if err != nil {
		return 0, err
	}
	defer ec.Close()
	ssc, err := dstream.NewStreamingContext(ec, 100*time.Millisecond, dstream.WriteAheadLog(wal),
		dstream.BlockInterval(50*time.Millisecond), dstream.ReceiverMaxPending(0))
	if err != nil {
		return 0, err
	}
	if err := ssc.Checkpoint(dir); err != nil {
		return 0, err
	}
	all := make(chan struct{})
	counted := 0
	recv := &chunkReceiver{records: records, chunk: 1_000, done: make(chan struct{})}
	err = dstream.ReceiverStream[string](ssc, recv).ForeachRDD(func(ctx context.Context, r *rdd.RDD[string], _ time.Time) error {
		c, err := r.Count(ctx)
		counted += c
		if counted == records {
			close(all)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := ssc.Start(); err != nil {
		return 0, err
	}
	defer ssc.Stop(context.Background(), false)
	select {
	case <-all:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("counted %d of %d records in 5 minutes", counted, records)
	}
	return time.Since(t0), nil
}
