package dstream

import (
	"context"
	"sync"
	"time"

	"github.com/spate-io/spate/metrics"
)

// job is one output operation's work for one batch.
type job struct {
	op  *outputOp
	run func(ctx context.Context) error
}

// jobSet is the jobs of one batch and the batch's report.
type jobSet struct {
	time      time.Time
	jobs      []*job
	info      metrics.BatchInfo
	started   int // jobs started
	remaining int // jobs not yet ended
}

// jobScheduler runs the jobs of submitted batches in submission (time)
// order on ConcurrentJobs workers.
type jobScheduler struct {
	ssc *StreamingContext

	mu      sync.Mutex
	pending []*job    // not started, in batch order
	sets    []*jobSet // submitted and not completed, in batch order
	setOf   map[*job]*jobSet
	wake    chan struct{} // signalled when pending grows
	idleCh  chan struct{} // closed when no set is outstanding; nil while busy
}

func newJobScheduler(ssc *StreamingContext) *jobScheduler {
	return &jobScheduler{ssc: ssc, setOf: map[*job]*jobSet{}, wake: make(chan struct{}, 1)}
}

func (s *jobScheduler) submit(js *jobSet) {
	js.remaining = len(js.jobs)
	js.info.OutputOperations = make([]metrics.OutputOperationInfo, len(js.jobs))
	for i, j := range js.jobs {
		js.info.OutputOperations[i] = metrics.OutputOperationInfo{ID: j.op.id, Name: j.op.name, Description: j.op.description()}
	}
	s.ssc.bus.Post(metrics.BatchSubmitted{Info: cloneInfo(js.info)})
	s.mu.Lock()
	if len(js.jobs) == 0 {
		s.mu.Unlock()
		s.complete(js)
		return
	}
	s.sets = append(s.sets, js)
	for _, j := range js.jobs {
		s.pending = append(s.pending, j)
		s.setOf[j] = js
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// idle returns a channel that is closed once every submitted batch has
// completed.
func (s *jobScheduler) idle() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if len(s.sets) == 0 {
		close(ch)
		return ch
	}
	if s.idleCh == nil {
		s.idleCh = ch
	}
	return s.idleCh
}

// runWorker takes jobs in order and runs them until ctx is done.
func (s *jobScheduler) runWorker(ctx context.Context) {
	for {
		if ctx.Err() != nil {
			return // a hard stop: queued batches are not run
		}
		j, js, index, first := s.take()
		if j == nil {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		clk := s.ssc.clock
		now := clk.Now()
		s.mu.Lock()
		if first {
			js.info.ProcessingStart = now
		}
		js.info.OutputOperations[index].Start = now
		opInfo := js.info.OutputOperations[index]
		var startedInfo metrics.BatchInfo
		if first {
			startedInfo = cloneInfo(js.info)
		}
		s.mu.Unlock()
		if first {
			s.ssc.bus.Post(metrics.BatchStarted{Info: startedInfo})
		}
		s.ssc.bus.Post(metrics.OutputOperationStarted{BatchTime: js.time, Info: opInfo})

		err := catchPanic(j.op.description(), func() error { return j.run(ctx) })

		end := clk.Now()
		s.mu.Lock()
		js.info.OutputOperations[index].End = end
		js.info.OutputOperations[index].Err = err
		opInfo = js.info.OutputOperations[index]
		js.remaining--
		done := js.remaining == 0
		s.mu.Unlock()
		s.ssc.bus.Post(metrics.OutputOperationCompleted{BatchTime: js.time, Info: opInfo})
		if done {
			s.complete(js)
		}
		if err != nil && ctx.Err() == nil {
			s.ssc.log.Error("dstream: output operation failed; stopping the streaming context",
				"operation", j.op.description(), "batch", formatBatchTime(js.time), "err", err)
			s.ssc.stopAsync(err)
		}
	}
}

// take returns the next job to run, its set, its index in the set and
// whether it is the set's first job to start.
func (s *jobScheduler) take() (*job, *jobSet, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return nil, nil, 0, false
	}
	j := s.pending[0]
	s.pending = s.pending[1:]
	js := s.setOf[j]
	delete(s.setOf, j)
	index := 0
	for i, x := range js.jobs {
		if x == j {
			index = i
		}
	}
	js.started++
	if len(s.pending) > 0 {
		// More work: wake another idle worker.
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return j, js, index, js.started == 1
}

// complete records the end of a batch.
func (s *jobScheduler) complete(js *jobSet) {
	s.mu.Lock()
	js.info.ProcessingEnd = s.ssc.clock.Now()
	if js.info.ProcessingStart.IsZero() {
		js.info.ProcessingStart = js.info.ProcessingEnd
	}
	info := cloneInfo(js.info)
	for i, x := range s.sets {
		if x == js {
			s.sets = append(s.sets[:i], s.sets[i+1:]...)
			break
		}
	}
	var idle chan struct{}
	if len(s.sets) == 0 && s.idleCh != nil {
		idle, s.idleCh = s.idleCh, nil
	}
	s.mu.Unlock()
	s.ssc.tracker.batchCompleted(info)
	for _, in := range s.ssc.inputs {
		if rc, ok := in.(interface{ batchCompleted(metrics.BatchInfo) }); ok {
			rc.batchCompleted(info)
		}
	}
	if c := s.ssc.ckpt; c != nil {
		if err := c.batchCompleted(js.time); err != nil {
			c.fail(err)
		}
	}
	s.ssc.generator.batchCompleted(js.time)
	s.ssc.bus.Post(metrics.BatchCompleted{Info: info})
	if idle != nil {
		close(idle)
	}
}

// cloneInfo copies a batch report so that events do not share the slices
// the scheduler goes on updating.
func cloneInfo(b metrics.BatchInfo) metrics.BatchInfo {
	b.Inputs = append([]metrics.InputInfo(nil), b.Inputs...)
	b.OutputOperations = append([]metrics.OutputOperationInfo(nil), b.OutputOperations...)
	return b
}
