package dstream

import (
	"context"
	"time"

	"github.com/spate-io/spate/metrics"
)

// jobGenerator fires every batch interval on the clock and turns each
// batch time into a job set for the scheduler. One goroutine (run) owns
// its state; other goroutines talk to it through channels.
type jobGenerator struct {
	ssc      *StreamingContext
	next     time.Time
	replay   []replayBatch // batches to re-run first, after a recovery
	drainReq chan chan struct{}
}

func newJobGenerator(ssc *StreamingContext, first time.Time, replay []replayBatch) *jobGenerator {
	return &jobGenerator{ssc: ssc, next: first, replay: replay, drainReq: make(chan chan struct{})}
}

// drain asks the generator to stop after the next batch that takes every
// block the receivers stored (at once when none is pending). The returned
// channel is closed when it has stopped generating.
func (g *jobGenerator) drain() <-chan struct{} {
	done := make(chan struct{})
	select {
	case g.drainReq <- done:
	case <-g.ssc.done:
		close(done)
	}
	return done
}

func (g *jobGenerator) run(ctx context.Context) {
	clk := g.ssc.clock
	for _, rb := range g.replay {
		if ctx.Err() != nil {
			return
		}
		if err := g.generate(rb.t, &rb); err != nil {
			g.ssc.log.Error("dstream: re-running a batch after recovery failed; stopping", "batch", formatBatchTime(rb.t), "err", err)
			g.ssc.stopAsync(err)
			return
		}
	}
	g.replay = nil
	var drained chan struct{}
	for {
		if drained != nil && !g.ssc.tracker.hasPendingData() {
			close(drained)
			return
		}
		timer := clk.NewTimerAt(g.next)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case d := <-g.drainReq:
			timer.Stop()
			drained = d
		case <-timer.C():
			t := g.next
			g.next = g.next.Add(g.ssc.interval)
			if err := g.generate(t, nil); err != nil {
				g.ssc.log.Error("dstream: generating jobs failed; stopping", "batch", formatBatchTime(t), "err", err)
				g.ssc.stopAsync(err)
				return
			}
		}
	}
}

// generate allocates received blocks to batch t, builds the job of every
// output operation, records the batch's input in the checkpoint and
// submits the jobs as one job set. A batch re-run after recovery (rb not
// nil) takes its recorded input instead, and a state-only one runs just
// the jobs that advance state.
func (g *jobGenerator) generate(t time.Time, rb *replayBatch) error {
	ssc := g.ssc
	if rb == nil {
		if err := ssc.tracker.allocateBlocks(t); err != nil {
			return err
		}
	}
	inputs := make([]metrics.InputInfo, 0, len(ssc.inputs))
	jobs := make([]*job, 0, len(ssc.outputs))
	for _, o := range ssc.outputs {
		if rb != nil && rb.stateOnly && !o.internal {
			continue
		}
		run, err := o.generateJob(t)
		if err != nil {
			return err
		}
		if run != nil {
			jobs = append(jobs, &job{op: o, run: run})
		}
	}
	for _, in := range ssc.inputs {
		if info, ok := in.inputInfo(t); ok {
			inputs = append(inputs, info)
		}
	}
	if rb == nil && ssc.ckpt != nil {
		if err := ssc.ckpt.batchGenerated(t); err != nil {
			return err
		}
	}
	ssc.scheduler.submit(&jobSet{time: t, jobs: jobs, info: metrics.BatchInfo{
		BatchTime: t, Inputs: inputs, SubmissionTime: ssc.clock.Now(),
	}})
	return nil
}

// batchCompleted forgets RDDs that fell out of every stream's remember
// duration and blocks of inputs that are no longer needed.
func (g *jobGenerator) batchCompleted(t time.Time) {
	for _, n := range g.ssc.streams {
		n.clearOld(t)
	}
	for _, in := range g.ssc.inputs {
		in.clearOld(t)
	}
}
