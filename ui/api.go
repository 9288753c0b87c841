package ui

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The JSON API follows the field names of Spark's REST API
// (/api/v1/applications/{appId}/streaming/...) where they fit: batch IDs
// are batch times in Unix milliseconds, durations are milliseconds (as
// numbers with fractions), times are RFC 3339 strings, and a value not
// known yet is null.

const apiTimeFormat = "2006-01-02T15:04:05.000Z07:00"

func apiTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(apiTimeFormat)
	return &s
}

// ms converts a duration to milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func msPtr(d time.Duration, ok bool) *float64 {
	if !ok {
		return nil
	}
	v := ms(d)
	return &v
}

func floatPtr(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

type apiStatistics struct {
	Status                      string   `json:"status"` // "waiting", "running" or "stopped"
	StartTime                   *string  `json:"startTime"`
	StopTime                    *string  `json:"stopTime"`
	StopError                   string   `json:"stopError,omitempty"`
	BatchDuration               float64  `json:"batchDuration"`
	Uptime                      float64  `json:"uptime"`
	NumReceivers                int      `json:"numReceivers"`
	NumActiveReceivers          int      `json:"numActiveReceivers"`
	NumInactiveReceivers        int      `json:"numInactiveReceivers"`
	NumTotalCompletedBatches    int64    `json:"numTotalCompletedBatches"`
	NumRetainedCompletedBatches int      `json:"numRetainedCompletedBatches"`
	NumActiveBatches            int      `json:"numActiveBatches"`
	NumFailedBatches            int64    `json:"numFailedBatches"`
	NumProcessedRecords         int64    `json:"numProcessedRecords"`
	NumReceivedRecords          int64    `json:"numReceivedRecords"`
	AvgInputRate                *float64 `json:"avgInputRate"`
	AvgSchedulingDelay          *float64 `json:"avgSchedulingDelay"`
	AvgProcessingTime           *float64 `json:"avgProcessingTime"`
	AvgTotalDelay               *float64 `json:"avgTotalDelay"`
}

type apiBatch struct {
	BatchID               int64    `json:"batchId"`
	BatchTime             string   `json:"batchTime"`
	Status                string   `json:"status"` // QUEUED, PROCESSING or COMPLETED
	BatchDuration         float64  `json:"batchDuration"`
	InputSize             int64    `json:"inputSize"`
	SchedulingDelay       *float64 `json:"schedulingDelay"`
	ProcessingTime        *float64 `json:"processingTime"`
	TotalDelay            *float64 `json:"totalDelay"`
	NumActiveOutputOps    int      `json:"numActiveOutputOps"`
	NumCompletedOutputOps int      `json:"numCompletedOutputOps"`
	NumFailedOutputOps    int      `json:"numFailedOutputOps"`
	NumTotalOutputOps     int      `json:"numTotalOutputOps"`
	FirstFailureReason    *string  `json:"firstFailureReason"`
}

type apiBatchDetail struct {
	apiBatch
	SubmissionTime      *string       `json:"submissionTime"`
	ProcessingStartTime *string       `json:"processingStartTime"`
	ProcessingEndTime   *string       `json:"processingEndTime"`
	Inputs              []apiInput    `json:"inputs"`
	OutputOperations    []apiOutputOp `json:"outputOperations"`
	Jobs                []apiJob      `json:"jobs"`
}

type apiInput struct {
	StreamID       int               `json:"streamId"`
	Name           string            `json:"name"`
	Records        int64             `json:"records"`   // -1 when the input could not tell
	RateLimit      float64           `json:"rateLimit"` // records/s; 0 when unlimited
	DelayedRecords int64             `json:"delayedRecords"`
	Metadata       map[string]string `json:"metadata"`
}

type apiOutputOp struct {
	OutputOpID    int      `json:"outputOpId"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	StartTime     *string  `json:"startTime"`
	EndTime       *string  `json:"endTime"`
	Duration      *float64 `json:"duration"`
	Status        string   `json:"status"` // queued, running, succeeded or failed
	FailureReason *string  `json:"failureReason"`
	JobIDs        []int    `json:"jobIds"`
}

type apiJob struct {
	JobID          int        `json:"jobId"`
	OutputOpID     int        `json:"outputOpId"`
	Description    string     `json:"description"`
	Status         string     `json:"status"` // running, succeeded or failed
	SubmissionTime *string    `json:"submissionTime"`
	CompletionTime *string    `json:"completionTime"`
	Duration       *float64   `json:"duration"`
	FailureReason  *string    `json:"failureReason"`
	Stages         []apiStage `json:"stages"`
}

type apiStage struct {
	StageID        int      `json:"stageId"`
	Name           string   `json:"name"`
	Status         string   `json:"status"` // pending, running, succeeded, failed or skipped
	NumTasks       int      `json:"numTasks"`
	SubmissionTime *string  `json:"submissionTime"`
	CompletionTime *string  `json:"completionTime"`
	Duration       *float64 `json:"duration"`
	RecordsRead    int64    `json:"recordsRead"`
	RecordsWritten int64    `json:"recordsWritten"`
	FailureReason  *string  `json:"failureReason"`
}

type apiReceiver struct {
	StreamID                int      `json:"streamId"`
	StreamName              string   `json:"streamName"`
	Status                  string   `json:"status"` // active, restarting or stopped
	IsActive                bool     `json:"isActive"`
	StartTime               *string  `json:"startTime"`
	StopTime                *string  `json:"stopTime"`
	RateLimit               *float64 `json:"rateLimit"` // records/s, 0 when unlimited, null before the first batch
	RecordsReceived         int64    `json:"recordsReceived"`
	RecordsLastBatch        int64    `json:"recordsLastBatch"`
	DelayedRecordsLastBatch int64    `json:"delayedRecordsLastBatch"`
	AvgEventRate            *float64 `json:"avgEventRate"`
	NumErrors               int      `json:"numErrors"`
	LastErrorTime           *string  `json:"lastErrorTime"`
	LastErrorMessage        *string  `json:"lastErrorMessage"`
	LastError               *string  `json:"lastError"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toAPIBatch(b batchView) apiBatch {
	return apiBatch{
		BatchID: b.ID, BatchTime: b.BatchTime.Format(apiTimeFormat), Status: b.Status,
		BatchDuration: ms(b.Interval), InputSize: b.Records,
		SchedulingDelay:    msPtr(b.SchedulingDelay, b.HasScheduling),
		ProcessingTime:     msPtr(b.ProcessingTime, b.HasProcessing),
		TotalDelay:         msPtr(b.TotalDelay, b.HasProcessing),
		NumActiveOutputOps: b.ActiveOps, NumCompletedOutputOps: b.CompletedOps, NumFailedOutputOps: b.FailedOps,
		NumTotalOutputOps: b.NumOps, FirstFailureReason: strPtr(b.FirstFailure),
	}
}

func toAPIBatchDetail(b batchView) apiBatchDetail {
	d := apiBatchDetail{
		apiBatch:       toAPIBatch(b),
		SubmissionTime: apiTime(b.SubmissionTime), ProcessingStartTime: apiTime(b.ProcessingStart),
		ProcessingEndTime: apiTime(b.ProcessingEnd),
		Inputs:            []apiInput{}, OutputOperations: []apiOutputOp{}, Jobs: []apiJob{},
	}
	for _, in := range b.Inputs {
		meta := map[string]string{}
		for _, m := range in.Metadata {
			meta[m.Key] = m.Value
		}
		d.Inputs = append(d.Inputs, apiInput{StreamID: in.StreamID, Name: in.Name, Records: in.Records,
			RateLimit: in.RateLimit, DelayedRecords: in.Delayed, Metadata: meta})
	}
	for _, o := range b.Ops {
		ended := o.Status == stateSucceeded || o.Status == stateFailed
		d.OutputOperations = append(d.OutputOperations, apiOutputOp{
			OutputOpID: o.ID, Name: o.Name, Description: o.Description,
			StartTime: apiTime(o.Start), EndTime: apiTime(o.End), Duration: msPtr(o.Duration, ended),
			Status: o.Status, FailureReason: strPtr(o.Err), JobIDs: append([]int{}, o.JobIDs...),
		})
	}
	for _, j := range b.Jobs {
		aj := apiJob{JobID: j.ID, OutputOpID: j.OpID, Description: j.Description, Status: j.Status,
			SubmissionTime: apiTime(j.Start), CompletionTime: apiTime(j.End),
			Duration: msPtr(j.Duration, j.Status != stateRunning), FailureReason: strPtr(j.Err), Stages: []apiStage{}}
		for _, st := range j.Stages {
			ended := st.Status == stateSucceeded || st.Status == stateFailed
			aj.Stages = append(aj.Stages, apiStage{StageID: st.ID, Name: st.Name, Status: st.Status, NumTasks: st.NumTasks,
				SubmissionTime: apiTime(st.Submitted), CompletionTime: apiTime(st.Finished), Duration: msPtr(st.Duration, ended),
				RecordsRead: st.Read, RecordsWritten: st.Written, FailureReason: strPtr(st.Err)})
		}
		d.Jobs = append(d.Jobs, aj)
	}
	return d
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w) // escapes <, > and & in strings
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		s.cfg.logger.Debug("ui: writing a JSON answer failed", "err", err)
	}
}

func (s *Server) apiError(w http.ResponseWriter, status int, msg string) {
	s.writeJSON(w, status, map[string]string{"error": msg})
}

func (s *Server) handleAPIStatistics(w http.ResponseWriter, r *http.Request) {
	st := s.store.stats()
	status := "waiting"
	switch {
	case st.Started && st.Stopped:
		status = "stopped"
	case st.Started:
		status = "running"
	}
	has := st.Retained > 0
	var stop *string
	if st.Stopped {
		stop = apiTime(st.StopTime)
	}
	s.writeJSON(w, http.StatusOK, apiStatistics{
		Status: status, StartTime: apiTime(st.StartTime), StopTime: stop, StopError: st.StopErr,
		BatchDuration: ms(st.Interval), Uptime: ms(st.Uptime),
		NumReceivers: st.NumReceivers, NumActiveReceivers: st.ActiveReceivers, NumInactiveReceivers: st.NumReceivers - st.ActiveReceivers,
		NumTotalCompletedBatches: st.TotalCompleted, NumRetainedCompletedBatches: st.Retained, NumActiveBatches: st.Active,
		NumFailedBatches: st.TotalFailed, NumProcessedRecords: st.Processed, NumReceivedRecords: st.Received,
		AvgInputRate:       floatPtr(st.AvgInputRate, has),
		AvgSchedulingDelay: msPtr(st.AvgSchedulingDelay, has),
		AvgProcessingTime:  msPtr(st.AvgProcessingTime, has),
		AvgTotalDelay:      msPtr(st.AvgTotalDelay, has),
	})
}

func (s *Server) handleAPIBatches(w http.ResponseWriter, r *http.Request) {
	completed, active := true, true
	switch status := strings.ToLower(r.URL.Query().Get("status")); status {
	case "":
	case "completed":
		active = false
	case "active":
		completed = false
	default:
		s.apiError(w, http.StatusBadRequest, `status must be "completed" or "active", got "`+status+`"`)
		return
	}
	out := []apiBatch{}
	for _, b := range s.store.batches(completed, active) {
		out = append(out, toAPIBatch(b))
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAPIBatch(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.apiError(w, http.StatusBadRequest, "a batch ID is a batch time in Unix milliseconds, got "+strconv.Quote(r.PathValue("id")))
		return
	}
	b, ok := s.store.batch(id)
	if !ok {
		s.apiError(w, http.StatusNotFound, "no batch "+strconv.FormatInt(id, 10)+" is kept")
		return
	}
	s.writeJSON(w, http.StatusOK, toAPIBatchDetail(b))
}

func (s *Server) handleAPIReceivers(w http.ResponseWriter, r *http.Request) {
	out := []apiReceiver{}
	for _, rv := range s.store.receiverViews() {
		ar := apiReceiver{
			StreamID: rv.StreamID, StreamName: rv.Name, Status: rv.Status, IsActive: rv.Active,
			StartTime: apiTime(rv.Started), StopTime: apiTime(rv.StoppedAt),
			RateLimit:       floatPtr(rv.RateLimit, rv.HasRate),
			RecordsReceived: rv.Records, RecordsLastBatch: rv.LastRecords, DelayedRecordsLastBatch: rv.LastDelayed,
			AvgEventRate: floatPtr(rv.AvgRate, rv.HasAvgRate), NumErrors: rv.NumErrors,
		}
		if rv.HasErr {
			ar.LastErrorTime, ar.LastErrorMessage, ar.LastError = apiTime(rv.LastErrTime), strPtr(rv.LastErrMsg), strPtr(rv.LastErr)
		}
		out = append(out, ar)
	}
	s.writeJSON(w, http.StatusOK, out)
}
