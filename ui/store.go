package ui

import (
	"cmp"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/spate-io/spate/metrics"
)

// Batch states, as Spark's REST API names them.
const (
	batchQueued     = "QUEUED"
	batchProcessing = "PROCESSING"
	batchCompleted  = "COMPLETED"
)

// Output operation, job and stage states.
const (
	stateQueued    = "queued"
	stateRunning   = "running"
	stateSucceeded = "succeeded"
	stateFailed    = "failed"
	stateSkipped   = "skipped"
	statePending   = "pending"
)

// store is what the server knows about the streaming context, built from
// bus events. It is the bus listener: OnEvent runs on the bus's delivery
// goroutine and takes the write lock briefly; the HTTP handlers read
// snapshots under the read lock.
type store struct {
	maxBatches int
	prom       *promMetrics // nil in tests that need no Prometheus

	mu        sync.RWMutex
	started   bool
	startTime time.Time
	interval  time.Duration
	stopped   bool
	stopTime  time.Time
	stopErr   string
	lastEvent time.Time // the latest event time seen, for the uptime

	active    map[int64]*batchState // submitted, not completed; by batch time in Unix ms
	completed []*batchState         // the newest maxBatches, by batch time ascending

	totalCompleted   int64
	totalFailed      int64
	receivedRecords  int64 // over submitted batches
	processedRecords int64 // over completed batches

	receivers map[int]*receiverState // by stream ID
	inputs    map[int]*inputState    // by stream ID, every input stream seen in a batch

	running []runningOp       // output operations started and not completed, in start order
	jobs    map[int]*jobState // jobs of retained batches, by job ID

	queries    map[string]*queryState // Structured Streaming queries, by id
	queryOrder []string               // query ids, in the order first seen
}

type batchState struct {
	id     int64 // batch time in Unix milliseconds
	info   metrics.BatchInfo
	status string
	ops    []*opState // by output operation ID order of the batch report
	jobs   []*jobState
}

type opState struct {
	info   metrics.OutputOperationInfo
	errMsg string
	jobIDs []int
}

func (o *opState) state() string {
	switch {
	case !o.info.End.IsZero() && o.info.Err != nil:
		return stateFailed
	case !o.info.End.IsZero():
		return stateSucceeded
	case !o.info.Start.IsZero():
		return stateRunning
	}
	return stateQueued
}

type jobState struct {
	id          int
	opID        int
	description string
	start, end  time.Time
	duration    time.Duration
	ended       bool
	errMsg      string
	stages      []*stageState // in the order of JobStarted.StageIDs, then as seen
}

func (j *jobState) state() string {
	switch {
	case !j.ended:
		return stateRunning
	case j.errMsg != "":
		return stateFailed
	}
	return stateSucceeded
}

func (j *jobState) stage(id int) *stageState {
	for _, s := range j.stages {
		if s.id == id {
			return s
		}
	}
	s := &stageState{id: id, status: statePending}
	j.stages = append(j.stages, s)
	return s
}

type stageState struct {
	id                  int
	name                string
	numTasks            int
	submitted, finished time.Time
	duration            time.Duration
	read, written       int64
	status              string
	errMsg              string
}

type runningOp struct {
	batch *batchState
	op    *opState
}

type receiverState struct {
	streamID     int
	name         string
	status       string // "active", "restarting", "stopped"
	started      time.Time
	stoppedAt    time.Time
	numErrors    int
	lastErrMsg   string // the receiver's message
	lastErr      string // the error's text
	lastErrTime  time.Time
	lastErrValid bool
}

// inputState is what the batches reported about one input stream.
type inputState struct {
	streamID    int
	name        string
	records     int64 // over submitted batches
	lastRecords int64 // in the latest submitted batch
	lastDelayed int64
	rateLimit   float64 // in the latest submitted batch; 0 = unlimited
	seen        bool
}

func newStore(maxBatches int, prom *promMetrics) *store {
	return &store{
		maxBatches: maxBatches,
		prom:       prom,
		active:     map[int64]*batchState{},
		receivers:  map[int]*receiverState{},
		inputs:     map[int]*inputState{},
		jobs:       map[int]*jobState{},
	}
}

var _ metrics.Listener = (*store)(nil)

// OnEvent implements metrics.Listener.
func (s *store) OnEvent(e metrics.Event) {
	s.prom.observe(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := e.EventTime(); t.After(s.lastEvent) {
		s.lastEvent = t
	}
	switch e := e.(type) {
	case metrics.QueryStarted, metrics.QueryProgressed, metrics.QueryTerminated:
		s.onQueryEvent(e)
	case metrics.StreamingStarted:
		s.started, s.startTime, s.interval = true, e.Time, e.BatchInterval
		s.stopped, s.stopErr = false, ""
	case metrics.StreamingStopped:
		s.stopped, s.stopTime = true, e.Time
		if e.Err != nil {
			s.stopErr = e.Err.Error()
		}
	case metrics.BatchSubmitted:
		s.batchSubmitted(e.Info)
	case metrics.BatchStarted:
		b := s.activeBatch(e.Info.BatchTime)
		b.info.ProcessingStart = e.Info.ProcessingStart
		if b.status == batchQueued {
			b.status = batchProcessing
		}
	case metrics.OutputOperationStarted:
		b := s.activeBatch(e.BatchTime)
		op := b.op(e.Info)
		op.info.Start = e.Info.Start
		if b.status == batchQueued {
			b.status = batchProcessing
		}
		s.running = append(s.running, runningOp{b, op})
	case metrics.OutputOperationCompleted:
		b := s.activeBatch(e.BatchTime)
		op := b.op(e.Info)
		op.info = e.Info
		op.errMsg = errText(e.Info.Err)
		s.running = slices.DeleteFunc(s.running, func(r runningOp) bool { return r.op == op })
	case metrics.BatchCompleted:
		s.batchCompleted(e.Info)
	case metrics.ReceiverStarted:
		r := s.receiver(e.StreamID, e.Name)
		r.status, r.started, r.stoppedAt = "active", e.Time, time.Time{}
	case metrics.ReceiverStopped:
		r := s.receiver(e.StreamID, e.Name)
		r.stoppedAt = e.Time
		r.status = "stopped"
		if e.Restarting {
			r.status = "restarting"
		}
	case metrics.ReceiverError:
		r := s.receiver(e.StreamID, e.Name)
		r.numErrors++
		r.lastErrMsg, r.lastErr = e.Message, errText(e.Err)
		r.lastErrTime, r.lastErrValid = e.Time, true
	case metrics.JobStarted:
		s.jobStarted(e)
	case metrics.JobEnded:
		if j := s.jobs[e.JobID]; j != nil {
			j.ended, j.end, j.duration, j.errMsg = true, e.Time, e.Duration, errText(e.Err)
		}
	case metrics.StageSubmitted:
		if j := s.jobs[e.JobID]; j != nil {
			st := j.stage(e.StageID)
			st.name, st.numTasks, st.submitted, st.status = e.Name, e.NumTasks, e.Time, stateRunning
		}
	case metrics.StageCompleted:
		if j := s.jobs[e.JobID]; j != nil {
			st := j.stage(e.StageID)
			st.name, st.numTasks, st.finished, st.duration = e.Name, e.NumTasks, e.Time, e.Duration
			st.read, st.written = e.RecordsRead, e.RecordsWritten
			st.status, st.errMsg = stateSucceeded, errText(e.Err)
			if e.Err != nil {
				st.status = stateFailed
			}
			if st.submitted.IsZero() {
				st.submitted = e.Time.Add(-e.Duration)
			}
		}
	case metrics.StageSkipped:
		if j := s.jobs[e.JobID]; j != nil {
			st := j.stage(e.StageID)
			st.name, st.status = e.Name, stateSkipped
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// activeBatch returns the active batch at t, creating it when its
// submission was not seen (the server started late, or an event was
// dropped).
func (s *store) activeBatch(t time.Time) *batchState {
	id := t.UnixMilli()
	if b := s.active[id]; b != nil {
		return b
	}
	b := &batchState{id: id, info: metrics.BatchInfo{BatchTime: t}, status: batchQueued}
	s.active[id] = b
	// Bound the active batches too, in case completions are lost.
	if len(s.active) > s.maxBatches {
		oldest := int64(0)
		first := true
		for k := range s.active {
			if first || k < oldest {
				oldest, first = k, false
			}
		}
		s.dropBatch(s.active[oldest])
		delete(s.active, oldest)
	}
	return b
}

// op returns the batch's output operation with the ID of info, adding it
// if the batch report did not list it.
func (b *batchState) op(info metrics.OutputOperationInfo) *opState {
	for _, o := range b.ops {
		if o.info.ID == info.ID {
			return o
		}
	}
	o := &opState{info: metrics.OutputOperationInfo{ID: info.ID, Name: info.Name, Description: info.Description}}
	b.ops = append(b.ops, o)
	slices.SortFunc(b.ops, func(x, y *opState) int { return cmp.Compare(x.info.ID, y.info.ID) })
	return o
}

// mergeOps takes the output operations of a batch report, keeping the
// jobs already linked to them.
func (b *batchState) mergeOps(ops []metrics.OutputOperationInfo) {
	for _, info := range ops {
		o := b.op(info)
		o.info = info
		o.errMsg = errText(info.Err)
	}
}

func (s *store) batchSubmitted(info metrics.BatchInfo) {
	b := s.activeBatch(info.BatchTime)
	b.info.Inputs = info.Inputs
	b.info.SubmissionTime = info.SubmissionTime
	b.mergeOps(info.OutputOperations)
	s.receivedRecords += info.NumRecords()
	for _, in := range info.Inputs {
		st := s.inputs[in.StreamID]
		if st == nil {
			st = &inputState{streamID: in.StreamID}
			s.inputs[in.StreamID] = st
		}
		st.name, st.seen = in.Name, true
		st.lastRecords, st.lastDelayed, st.rateLimit = max(in.Records, 0), in.DelayedRecords, in.RateLimit
		st.records += max(in.Records, 0)
		if r := s.receivers[in.StreamID]; r != nil {
			s.prom.receiverBatch(r.streamID, r.name, in)
		}
	}
}

func (s *store) batchCompleted(info metrics.BatchInfo) {
	b := s.activeBatch(info.BatchTime)
	delete(s.active, b.id)
	b.info = info // the output operations' jobs stay in b.ops
	b.mergeOps(info.OutputOperations)
	b.status = batchCompleted
	s.running = slices.DeleteFunc(s.running, func(r runningOp) bool { return r.batch == b })
	s.totalCompleted++
	if info.Err() != nil {
		s.totalFailed++
	}
	s.processedRecords += info.NumRecords()

	i := sort.Search(len(s.completed), func(i int) bool { return s.completed[i].id >= b.id })
	if i < len(s.completed) && s.completed[i].id == b.id {
		s.completed[i] = b // a batch reported twice: keep the last report
	} else {
		s.completed = slices.Insert(s.completed, i, b)
	}
	for len(s.completed) > s.maxBatches {
		s.dropBatch(s.completed[0])
		s.completed[0] = nil
		s.completed = s.completed[1:]
	}
}

// dropBatch forgets the jobs of a batch that is no longer kept.
func (s *store) dropBatch(b *batchState) {
	for _, j := range b.jobs {
		if s.jobs[j.id] == j {
			delete(s.jobs, j.id)
		}
	}
	s.running = slices.DeleteFunc(s.running, func(r runningOp) bool { return r.batch == b })
}

func (s *store) receiver(id int, name string) *receiverState {
	r := s.receivers[id]
	if r == nil {
		r = &receiverState{streamID: id}
		s.receivers[id] = r
	}
	r.name = name
	return r
}

// jobStarted links a job to the output operation running when it started:
// the one that started last among those running (exact when one runs at a
// time).
func (s *store) jobStarted(e metrics.JobStarted) {
	if len(s.running) == 0 {
		return
	}
	r := s.running[len(s.running)-1]
	j := &jobState{id: e.JobID, opID: r.op.info.ID, description: e.Description, start: e.Time}
	for _, id := range e.StageIDs {
		j.stages = append(j.stages, &stageState{id: id, status: statePending})
	}
	r.op.jobIDs = append(r.op.jobIDs, e.JobID)
	r.batch.jobs = append(r.batch.jobs, j)
	s.jobs[e.JobID] = j
}
