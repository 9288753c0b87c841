package ui

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// The views are copies of the store's state taken under its read lock, so
// that pages and API answers are rendered without holding it.

type statsView struct {
	Started, Stopped    bool
	StartTime, StopTime time.Time
	StopErr             string
	Interval            time.Duration
	Uptime              time.Duration

	TotalCompleted, TotalFailed int64
	Retained, Active            int
	Received, Processed         int64

	// Averages over the retained completed batches; valid when Retained > 0.
	AvgInputRate                                         float64
	AvgSchedulingDelay, AvgProcessingTime, AvgTotalDelay time.Duration

	NumReceivers, ActiveReceivers int
}

type batchView struct {
	ID        int64 // batch time in Unix milliseconds
	BatchTime time.Time
	Status    string // QUEUED, PROCESSING, COMPLETED
	Interval  time.Duration
	Records   int64

	SchedulingDelay time.Duration
	HasScheduling   bool // processing started
	ProcessingTime  time.Duration
	TotalDelay      time.Duration
	HasProcessing   bool // completed: processing time and total delay known

	NumOps, ActiveOps, CompletedOps, FailedOps int
	FirstFailure                               string

	// The detail, filled by store.batch only.
	SubmissionTime, ProcessingStart, ProcessingEnd time.Time
	Inputs                                         []inputView
	Ops                                            []opView
	Jobs                                           []jobView
}

type kv struct{ Key, Value string }

type inputView struct {
	StreamID  int
	Name      string
	Records   int64 // -1: unknown
	RateLimit float64
	Delayed   int64
	Metadata  []kv // by key
}

type opView struct {
	ID                int
	Name, Description string
	Start, End        time.Time
	Duration          time.Duration
	Status, Err       string
	JobIDs            []int
}

type jobView struct {
	ID, OpID    int
	Description string
	Start, End  time.Time
	Duration    time.Duration
	Status, Err string
	Stages      []stageView
}

type stageView struct {
	ID                  int
	Name                string
	NumTasks            int
	Submitted, Finished time.Time
	Duration            time.Duration
	Read, Written       int64
	Status, Err         string
}

type receiverView struct {
	StreamID             int
	Name, Status         string
	Active               bool
	Started, StoppedAt   time.Time
	HasRate              bool // a batch reported the rate limit
	RateLimit            float64
	Records, LastRecords int64
	LastDelayed          int64
	AvgRate              float64
	HasAvgRate           bool
	NumErrors            int
	LastErrMsg, LastErr  string
	LastErrTime          time.Time
	HasErr               bool
}

// seriesPoint is one completed batch in the charts.
type seriesPoint struct {
	ID                                          int64
	Time                                        time.Time
	InputRate                                   float64 // records/s
	SchedulingDelay, ProcessingTime, TotalDelay time.Duration
}

// streamingView is everything the streaming page shows.
type streamingView struct {
	Stats     statsView
	Series    []seriesPoint // ascending batch time
	Active    []batchView   // newest first
	Completed []batchView   // newest first
	Receivers []receiverView
}

func (s *store) streamingView() streamingView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := streamingView{Stats: s.statsLocked(), Receivers: s.receiversLocked()}
	v.Active = s.activeLocked()
	v.Completed = make([]batchView, 0, len(s.completed))
	for i := len(s.completed) - 1; i >= 0; i-- {
		v.Completed = append(v.Completed, s.summaryLocked(s.completed[i]))
	}
	v.Series = make([]seriesPoint, 0, len(s.completed))
	for _, b := range s.completed {
		v.Series = append(v.Series, seriesPoint{
			ID: b.id, Time: b.info.BatchTime, InputRate: s.rate(b.info.NumRecords()),
			SchedulingDelay: b.info.SchedulingDelay(), ProcessingTime: b.info.ProcessingDelay(), TotalDelay: b.info.TotalDelay(),
		})
	}
	return v
}

// rate turns a batch's record count into records per second of the batch
// interval (0 before the interval is known).
func (s *store) rate(records int64) float64 {
	if s.interval <= 0 {
		return 0
	}
	return float64(records) / s.interval.Seconds()
}

func (s *store) stats() statsView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.statsLocked()
}

func (s *store) statsLocked() statsView {
	v := statsView{
		Started: s.started, Stopped: s.stopped, StartTime: s.startTime, StopTime: s.stopTime, StopErr: s.stopErr,
		Interval: s.interval, TotalCompleted: s.totalCompleted, TotalFailed: s.totalFailed,
		Retained: len(s.completed), Active: len(s.active), Received: s.receivedRecords, Processed: s.processedRecords,
	}
	switch {
	case s.started && s.stopped:
		v.Uptime = s.stopTime.Sub(s.startTime)
	case s.started:
		v.Uptime = s.lastEvent.Sub(s.startTime)
	}
	v.Uptime = max(v.Uptime, 0)
	if n := len(s.completed); n > 0 {
		var records int64
		var sched, proc, total time.Duration
		for _, b := range s.completed {
			records += b.info.NumRecords()
			sched += b.info.SchedulingDelay()
			proc += b.info.ProcessingDelay()
			total += b.info.TotalDelay()
		}
		v.AvgInputRate = s.rate(records) / float64(n)
		v.AvgSchedulingDelay = sched / time.Duration(n)
		v.AvgProcessingTime = proc / time.Duration(n)
		v.AvgTotalDelay = total / time.Duration(n)
	}
	for _, r := range s.receivers {
		v.NumReceivers++
		if r.status == "active" {
			v.ActiveReceivers++
		}
	}
	return v
}

// activeLocked returns the active batches, newest first.
func (s *store) activeLocked() []batchView {
	out := make([]batchView, 0, len(s.active))
	for _, id := range slices.Sorted(maps.Keys(s.active)) {
		out = append(out, s.summaryLocked(s.active[id]))
	}
	slices.Reverse(out)
	return out
}

// batches returns the retained completed and the active batches, newest
// first (by batch time).
func (s *store) batches(completed, active bool) []batchView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []batchView
	if active {
		out = s.activeLocked()
	}
	if completed {
		for i := len(s.completed) - 1; i >= 0; i-- {
			out = append(out, s.summaryLocked(s.completed[i]))
		}
	}
	slices.SortStableFunc(out, func(a, b batchView) int { return cmp.Compare(b.ID, a.ID) })
	return out
}

func (s *store) summaryLocked(b *batchState) batchView {
	v := batchView{
		ID: b.id, BatchTime: b.info.BatchTime, Status: b.status, Interval: s.interval, Records: b.info.NumRecords(),
		NumOps: len(b.ops),
	}
	if !b.info.ProcessingStart.IsZero() && !b.info.SubmissionTime.IsZero() {
		v.SchedulingDelay, v.HasScheduling = b.info.SchedulingDelay(), true
	}
	if b.status == batchCompleted && !b.info.ProcessingEnd.IsZero() {
		v.ProcessingTime, v.TotalDelay, v.HasProcessing = b.info.ProcessingDelay(), b.info.TotalDelay(), true
	}
	for _, o := range b.ops {
		switch o.state() {
		case stateSucceeded:
			v.CompletedOps++
		case stateFailed:
			v.FailedOps++
			if v.FirstFailure == "" {
				v.FirstFailure = o.errMsg
			}
		default:
			v.ActiveOps++
		}
	}
	return v
}

// batch returns the batch with the given ID (batch time in Unix ms), with
// its detail.
func (s *store) batch(id int64) (batchView, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.active[id]
	if b == nil {
		i, ok := slices.BinarySearchFunc(s.completed, id, func(b *batchState, id int64) int { return cmp.Compare(b.id, id) })
		if !ok {
			return batchView{}, false
		}
		b = s.completed[i]
	}
	v := s.summaryLocked(b)
	v.SubmissionTime, v.ProcessingStart = b.info.SubmissionTime, b.info.ProcessingStart
	if b.status == batchCompleted {
		v.ProcessingEnd = b.info.ProcessingEnd
	}
	for _, in := range b.info.Inputs {
		iv := inputView{StreamID: in.StreamID, Name: in.Name, Records: in.Records, RateLimit: in.RateLimit, Delayed: in.DelayedRecords}
		for _, k := range slices.Sorted(maps.Keys(in.Metadata)) {
			iv.Metadata = append(iv.Metadata, kv{k, in.Metadata[k]})
		}
		v.Inputs = append(v.Inputs, iv)
	}
	for _, o := range b.ops {
		v.Ops = append(v.Ops, opView{
			ID: o.info.ID, Name: o.info.Name, Description: o.info.Description, Start: o.info.Start, End: o.info.End,
			Duration: o.info.Duration(), Status: o.state(), Err: o.errMsg, JobIDs: slices.Clone(o.jobIDs),
		})
	}
	for _, j := range b.jobs {
		jv := jobView{ID: j.id, OpID: j.opID, Description: j.description, Start: j.start, End: j.end,
			Duration: j.duration, Status: j.state(), Err: j.errMsg}
		for _, st := range j.stages {
			jv.Stages = append(jv.Stages, stageView{ID: st.id, Name: st.name, NumTasks: st.numTasks,
				Submitted: st.submitted, Finished: st.finished, Duration: st.duration, Read: st.read, Written: st.written,
				Status: st.status, Err: st.errMsg})
		}
		v.Jobs = append(v.Jobs, jv)
	}
	slices.SortFunc(v.Jobs, func(a, b jobView) int { return cmp.Compare(a.ID, b.ID) })
	return v, true
}

func (s *store) receiverViews() []receiverView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.receiversLocked()
}

func (s *store) receiversLocked() []receiverView {
	out := make([]receiverView, 0, len(s.receivers))
	for _, id := range slices.Sorted(maps.Keys(s.receivers)) {
		r := s.receivers[id]
		v := receiverView{
			StreamID: r.streamID, Name: r.name, Status: r.status, Active: r.status == "active",
			Started: r.started, StoppedAt: r.stoppedAt, NumErrors: r.numErrors,
			LastErrMsg: r.lastErrMsg, LastErr: r.lastErr, LastErrTime: r.lastErrTime, HasErr: r.lastErrValid,
		}
		if in := s.inputs[id]; in != nil && in.seen {
			v.HasRate, v.RateLimit = true, in.rateLimit
			v.Records, v.LastRecords, v.LastDelayed = in.records, in.lastRecords, in.lastDelayed
		}
		if n := len(s.completed); n > 0 && s.interval > 0 {
			var records int64
			for _, b := range s.completed {
				for _, in := range b.info.Inputs {
					if in.StreamID == id && in.Records > 0 {
						records += in.Records
					}
				}
			}
			v.AvgRate, v.HasAvgRate = s.rate(records)/float64(n), true
		}
		out = append(out, v)
	}
	return out
}
