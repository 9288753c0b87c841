package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/ui"
)

var _ dstream.Service = (*ui.Server)(nil)

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		opts []ui.Option
		want string
	}{
		{[]ui.Option{ui.MaxBatches(0)}, "MaxBatches must be at least 1, got 0"},
		{[]ui.Option{ui.KillEnabled(true)}, "KillEnabled(true) needs a KillFunc"},
		{[]ui.Option{ui.Addr("localhost")}, "Addr must be host:port"},
		{[]ui.Option{ui.Addr("127.0.0.1:70000")}, "port must be a number in 0..65535"},
		{[]ui.Option{ui.Addr("127.0.0.1:http")}, "port must be a number"},
		{[]ui.Option{ui.Logger(nil)}, "Logger needs a non-nil logger"},
	} {
		_, err := ui.New(tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: error %v, want one containing %q", err, tc.want)
		}
	}
}

type apiStats struct {
	Status                      string   `json:"status"`
	StartTime                   *string  `json:"startTime"`
	BatchDuration               float64  `json:"batchDuration"`
	Uptime                      float64  `json:"uptime"`
	NumReceivers                int      `json:"numReceivers"`
	NumActiveReceivers          int      `json:"numActiveReceivers"`
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
	Status                string   `json:"status"`
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
	SubmissionTime *string `json:"submissionTime"`
	Inputs         []struct {
		StreamID       int               `json:"streamId"`
		Name           string            `json:"name"`
		Records        int64             `json:"records"`
		RateLimit      float64           `json:"rateLimit"`
		DelayedRecords int64             `json:"delayedRecords"`
		Metadata       map[string]string `json:"metadata"`
	} `json:"inputs"`
	OutputOperations []struct {
		OutputOpID    int      `json:"outputOpId"`
		Name          string   `json:"name"`
		Description   string   `json:"description"`
		Duration      *float64 `json:"duration"`
		Status        string   `json:"status"`
		FailureReason *string  `json:"failureReason"`
		JobIDs        []int    `json:"jobIds"`
	} `json:"outputOperations"`
	Jobs []struct {
		JobID       int      `json:"jobId"`
		OutputOpID  int      `json:"outputOpId"`
		Description string   `json:"description"`
		Status      string   `json:"status"`
		Duration    *float64 `json:"duration"`
		Stages      []struct {
			StageID        int      `json:"stageId"`
			Name           string   `json:"name"`
			Status         string   `json:"status"`
			NumTasks       int      `json:"numTasks"`
			Duration       *float64 `json:"duration"`
			RecordsRead    int64    `json:"recordsRead"`
			RecordsWritten int64    `json:"recordsWritten"`
		} `json:"stages"`
	} `json:"jobs"`
}

type apiReceiver struct {
	StreamID         int      `json:"streamId"`
	StreamName       string   `json:"streamName"`
	Status           string   `json:"status"`
	IsActive         bool     `json:"isActive"`
	RateLimit        *float64 `json:"rateLimit"`
	RecordsReceived  int64    `json:"recordsReceived"`
	RecordsLastBatch int64    `json:"recordsLastBatch"`
	AvgEventRate     *float64 `json:"avgEventRate"`
	NumErrors        int      `json:"numErrors"`
	LastErrorTime    *string  `json:"lastErrorTime"`
	LastErrorMessage *string  `json:"lastErrorMessage"`
	LastError        *string  `json:"lastError"`
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestStatisticsAndBatchesAPI(t *testing.T) {
	h := newHarness(t)
	var st apiStats
	h.getJSON("/api/v1/streaming/statistics", &st)
	if st.Status != "waiting" || st.StartTime != nil || st.AvgProcessingTime != nil {
		t.Errorf("statistics before start = %+v, want status waiting, no start time, no averages", st)
	}

	h.post(started())
	specs := []batchSpec{
		{k: 1, records: 1000, sched: 2 * time.Millisecond, proc: 100 * time.Millisecond},
		{k: 2, records: 3000, sched: 4 * time.Millisecond, proc: 300 * time.Millisecond},
		{k: 3, records: 2000, sched: 6 * time.Millisecond, proc: 200 * time.Millisecond, opErr: errBoom},
	}
	for _, b := range specs {
		h.post(b.events()...)
	}
	active := batchSpec{k: 4, records: 500, sched: time.Millisecond}
	h.post(active.submitEvents()...)

	h.getJSON("/api/v1/streaming/statistics", &st)
	if st.Status != "running" || st.StartTime == nil || *st.StartTime != "2026-11-24T12:00:00.000Z" {
		t.Errorf("status %q, start time %v; want running since 2026-11-24T12:00:00.000Z", st.Status, st.StartTime)
	}
	if st.BatchDuration != 1000 || st.NumTotalCompletedBatches != 3 || st.NumRetainedCompletedBatches != 3 ||
		st.NumActiveBatches != 1 || st.NumFailedBatches != 1 || st.NumProcessedRecords != 6000 || st.NumReceivedRecords != 6500 {
		t.Errorf("statistics = %+v", st)
	}
	if st.AvgInputRate == nil || !near(*st.AvgInputRate, 2000) {
		t.Errorf("avgInputRate = %v, want 2000 records/s", st.AvgInputRate)
	}
	if st.AvgSchedulingDelay == nil || !near(*st.AvgSchedulingDelay, 4) ||
		st.AvgProcessingTime == nil || !near(*st.AvgProcessingTime, 200) ||
		st.AvgTotalDelay == nil || !near(*st.AvgTotalDelay, 204) {
		t.Errorf("averages: scheduling %v, processing %v, total %v; want 4, 200, 204 ms",
			st.AvgSchedulingDelay, st.AvgProcessingTime, st.AvgTotalDelay)
	}
	// The latest event is the active batch's stage submission at t0+4s+1ms.
	if !near(st.Uptime, 4001) {
		t.Errorf("uptime = %v ms, want 4001", st.Uptime)
	}

	var all []apiBatch
	h.getJSON("/api/v1/streaming/batches", &all)
	var ids []int64
	for _, b := range all {
		ids = append(ids, b.BatchID)
	}
	if want := []int64{active.ms(), specs[2].ms(), specs[1].ms(), specs[0].ms()}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("batch IDs %v, want newest first %v", ids, want)
	}
	a := all[0]
	if a.Status != "PROCESSING" || a.InputSize != 500 || a.SchedulingDelay == nil || *a.SchedulingDelay != 1 ||
		a.ProcessingTime != nil || a.TotalDelay != nil || a.NumActiveOutputOps != 1 || a.NumTotalOutputOps != 1 {
		t.Errorf("active batch = %+v", a)
	}
	if a.BatchTime != "2026-11-24T12:00:04.000Z" {
		t.Errorf("batchTime = %q, want RFC 3339", a.BatchTime)
	}
	b2 := all[2]
	if b2.Status != "COMPLETED" || b2.InputSize != 3000 || *b2.SchedulingDelay != 4 || *b2.ProcessingTime != 300 ||
		*b2.TotalDelay != 304 || b2.NumCompletedOutputOps != 1 || b2.NumFailedOutputOps != 0 || b2.FirstFailureReason != nil ||
		b2.BatchDuration != 1000 {
		t.Errorf("batch 2 = %+v", b2)
	}
	b3 := all[1]
	if b3.NumFailedOutputOps != 1 || b3.FirstFailureReason == nil || *b3.FirstFailureReason != errBoom.Error() {
		t.Errorf("failed batch = %+v, want 1 failed op with reason %q", b3, errBoom)
	}

	var completed, act []apiBatch
	h.getJSON("/api/v1/streaming/batches?status=completed", &completed)
	h.getJSON("/api/v1/streaming/batches?status=active", &act)
	if len(completed) != 3 || completed[0].BatchID != specs[2].ms() || len(act) != 1 || act[0].BatchID != active.ms() {
		t.Errorf("?status=completed gave %d batches, ?status=active %d; want 3 and 1", len(completed), len(act))
	}
	body := h.get("/api/v1/streaming/batches?status=bogus", http.StatusBadRequest)
	mustContain(t, "bad status answer", body, `"error"`, "completed")

	// The active batch completes.
	h.post(active.completeEvents()...)
	h.getJSON("/api/v1/streaming/batches?status=active", &act)
	if len(act) != 0 {
		t.Errorf("active batches after completion: %+v", act)
	}
}

func TestBatchAPIDetail(t *testing.T) {
	h := newHarness(t)
	b := batchSpec{k: 1, records: 42, sched: 3 * time.Millisecond, proc: 50 * time.Millisecond, rate: 250,
		metadata: map[string]string{"files": "/data/a.txt,/data/b.txt"}}
	h.post(started())
	h.post(b.events()...)

	var d apiBatchDetail
	h.getJSON("/api/v1/streaming/batches/"+strconv.FormatInt(b.ms(), 10), &d)
	if d.BatchID != b.ms() || d.Status != "COMPLETED" || d.InputSize != 42 || *d.ProcessingTime != 50 || d.SubmissionTime == nil {
		t.Errorf("batch = %+v", d.apiBatch)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Records != 42 || d.Inputs[0].RateLimit != 250 || d.Inputs[0].DelayedRecords != 4 ||
		d.Inputs[0].Metadata["files"] != "/data/a.txt,/data/b.txt" {
		t.Errorf("inputs = %+v", d.Inputs)
	}
	if len(d.OutputOperations) != 1 {
		t.Fatalf("output operations = %+v", d.OutputOperations)
	}
	op := d.OutputOperations[0]
	if op.Name != "ForeachRDD" || op.Description != "ForeachRDD at app.go:42" || op.Status != "succeeded" ||
		op.Duration == nil || *op.Duration != 50 || fmt.Sprint(op.JobIDs) != "[101]" || op.FailureReason != nil {
		t.Errorf("output operation = %+v", op)
	}
	if len(d.Jobs) != 1 {
		t.Fatalf("jobs = %+v", d.Jobs)
	}
	j := d.Jobs[0]
	if j.JobID != 101 || j.OutputOpID != 0 || j.Description != "Collect at app.go:43" || j.Status != "succeeded" || *j.Duration != 50 {
		t.Errorf("job = %+v", j)
	}
	if len(j.Stages) != 2 || j.Stages[0].StageID != 203 || j.Stages[0].Status != "skipped" ||
		j.Stages[1].StageID != 202 || j.Stages[1].Status != "succeeded" || j.Stages[1].NumTasks != 4 ||
		j.Stages[1].RecordsRead != 42 || j.Stages[1].RecordsWritten != 7 || *j.Stages[1].Duration != 50 {
		t.Errorf("stages = %+v", j.Stages)
	}

	h.get("/api/v1/streaming/batches/12345", http.StatusNotFound)
	h.get("/api/v1/streaming/batches/yesterday", http.StatusBadRequest)
}

// TestJobsOutsideOutputOperations checks that jobs that start while no
// output operation runs are not linked to a batch.
func TestJobsOutsideOutputOperations(t *testing.T) {
	h := newHarness(t)
	b := batchSpec{k: 1, records: 1, proc: time.Millisecond}
	h.post(started())
	h.post(metrics.JobStarted{JobID: 7, Description: "Count at adhoc.go:1", Time: t0})
	h.post(b.events()...)
	h.post(metrics.JobEnded{JobID: 7, Time: t0.Add(time.Second)})
	var d apiBatchDetail
	h.getJSON("/api/v1/streaming/batches/"+strconv.FormatInt(b.ms(), 10), &d)
	if len(d.Jobs) != 1 || d.Jobs[0].JobID != 101 {
		t.Errorf("jobs of the batch = %+v, want only job 101", d.Jobs)
	}
}

func TestMaxBatches(t *testing.T) {
	h := newHarness(t, ui.MaxBatches(5))
	h.post(started())
	for k := 1; k <= 8; k++ {
		h.post(batchSpec{k: k, records: int64(k), proc: time.Millisecond}.events()...)
	}
	var st apiStats
	h.getJSON("/api/v1/streaming/statistics", &st)
	if st.NumTotalCompletedBatches != 8 || st.NumRetainedCompletedBatches != 5 || st.NumProcessedRecords != 36 {
		t.Errorf("statistics = %+v, want 8 completed, 5 retained, 36 records", st)
	}
	var all []apiBatch
	h.getJSON("/api/v1/streaming/batches", &all)
	if len(all) != 5 || all[0].BatchID != (batchSpec{k: 8}).ms() || all[4].BatchID != (batchSpec{k: 4}).ms() {
		t.Errorf("retained batches %+v, want batches 8 down to 4", all)
	}
	h.get("/api/v1/streaming/batches/"+strconv.FormatInt((batchSpec{k: 3}).ms(), 10), http.StatusNotFound)
	body := h.get("/batch/"+strconv.FormatInt((batchSpec{k: 3}).ms(), 10), http.StatusNotFound)
	mustContain(t, "page of a dropped batch", body, "Batch not found", "last 5 completed batches")
}

var rowRE = regexp.MustCompile(`<a class="batch-link" href="/batch/(\d+)">`)

// completedRows returns the batch IDs linked from the completed batches
// table of a streaming page.
func completedRows(t *testing.T, page string) []int64 {
	t.Helper()
	i := strings.Index(page, `id="completed-batches"`)
	if i < 0 {
		t.Fatalf("page has no completed batches table")
	}
	var ids []int64
	for _, m := range rowRE.FindAllStringSubmatch(page[i:], -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	return ids
}

func TestStreamingPagePaging(t *testing.T) {
	h := newHarness(t)
	h.post(started())
	for k := 1; k <= 250; k++ {
		h.post(batchSpec{k: k, records: 10, proc: time.Millisecond}.events()...)
	}
	id := func(k int) int64 { return batchSpec{k: k}.ms() }

	first := completedRows(t, h.get("/", http.StatusOK))
	if len(first) != 100 || first[0] != id(250) || first[99] != id(151) {
		t.Errorf("page 1 lists %d batches from %v to %v; want 100, newest (%d) first", len(first), first[0], first[len(first)-1], id(250))
	}
	third := h.get("/streaming/?page=3", http.StatusOK)
	rows := completedRows(t, third)
	if len(rows) != 50 || rows[0] != id(50) || rows[49] != id(1) {
		t.Errorf("page 3 lists %d batches from %v; want 50 from %d", len(rows), rows[0], id(50))
	}
	mustContain(t, "page 3", third, "Batches 201–250 of 250", "page 3 of 3", `href="?page=2"`)
	if got := completedRows(t, h.get("/?page=99", http.StatusOK)); len(got) != 50 {
		t.Errorf("page 99 lists %d batches, want the last page's 50", len(got))
	}
	h.get("/?page=0", http.StatusBadRequest)
	h.get("/?page=x", http.StatusBadRequest)

	// Every batch is in the charts, with a data-points count.
	page := h.get("/", http.StatusOK)
	for _, id := range []string{"input-rate", "scheduling-delay", "processing-time", "total-delay"} {
		mustContain(t, "streaming page", page, `id="timeline-`+id+`" data-points="250"`, `id="histogram-`+id+`" data-points="250"`)
	}
}

func TestStreamingPage(t *testing.T) {
	h := newHarness(t)
	body := h.get("/", http.StatusOK)
	mustContain(t, "page before start", body, "Waiting for the streaming context to start", `data-points="0"`, "no completed batches yet",
		`<script src="/static/ui.js" defer></script>`)

	h.post(started(), metrics.ReceiverStarted{StreamID: 0, Name: "ReceiverStream-0", Time: t0})
	for k := 1; k <= 3; k++ {
		h.post(batchSpec{k: k, records: 1500, sched: time.Millisecond, proc: 1200 * time.Millisecond}.events()...)
	}
	h.post(batchSpec{k: 4, records: 10}.submitEvents()...)
	body = h.get("/streaming/", http.StatusOK)
	mustContain(t, "streaming page", body,
		`<strong id="batch-interval">1 s</strong>`, `<dd id="completed-count">3</dd>`,
		`id="timeline-processing-time" data-points="3"`,
		`<line class="ref"`, "batch interval 1 s", // the processing-time reference line
		`id="active-batches"`, `id="completed-batches"`, `id="receivers"`,
		"avg 1.2 s", // processing time
		"avg 1.5k records/s",
	)
	if n := strings.Count(body, `<circle class="dot"`); n != 12 {
		t.Errorf("charts have %d dots, want 3 batches × 4 timelines", n)
	}
	if n := strings.Count(body, `<rect class="bar"`); n != 4 {
		t.Errorf("histograms have %d bars, want 1 per histogram (equal values)", n)
	}

	frag := h.get("/?fragment=1", http.StatusOK)
	mustNotContain(t, "fragment", frag, "<html", "<head", `<main id="main">`)
	mustContain(t, "fragment", frag, `id="completed-batches"`, `id="timeline-processing-time"`)

	resp, _ := h.do(http.MethodGet, "/streaming", nil)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/streaming/" {
		t.Errorf("GET /streaming: %d to %q, want a redirect to /streaming/", resp.StatusCode, resp.Header.Get("Location"))
	}
	h.get("/nowhere", http.StatusNotFound)
}

func TestBatchPage(t *testing.T) {
	h := newHarness(t)
	b := batchSpec{k: 1, records: 1234, sched: 3 * time.Millisecond, proc: 45 * time.Millisecond, rate: 2000,
		metadata: map[string]string{"files": "/in/part-0001.txt"}}
	f := batchSpec{k: 2, records: 5, proc: time.Millisecond, opErr: errBoom}
	h.post(started())
	h.post(b.events()...)
	h.post(f.events()...)

	body := h.get("/batch/"+strconv.FormatInt(b.ms(), 10), http.StatusOK)
	mustContain(t, "batch page", body,
		`<td id="input-size">1,234 records</td>`,
		`<td id="scheduling-delay">3 ms</td>`,
		`<td id="processing-time">45 ms</td>`,
		`<td id="total-delay">48 ms</td>`,
		`id="output-ops"`, "ForeachRDD at app.go:42", `<span class="badge succeeded">succeeded</span>`,
		`id="inputs"`, "ReceiverStream-0", "2k records/s", "<dt>files</dt><dd>/in/part-0001.txt</dd>",
		`id="jobs"`, "Collect at app.go:43", `id="stages"`, "Map at app.go:40", `<span class="badge skipped">skipped</span>`,
	)
	body = h.get("/batch/"+strconv.FormatInt(f.ms(), 10), http.StatusOK)
	mustContain(t, "failed batch page", body, `<span class="badge failed">failed</span>`, `<pre class="error">boom: sink unavailable</pre>`)
	h.get("/batch/notanumber", http.StatusBadRequest)
	h.get("/batch/1", http.StatusNotFound)
}

func TestReceivers(t *testing.T) {
	h := newHarness(t)
	h.post(started(),
		metrics.ReceiverStarted{StreamID: 0, Name: "ReceiverStream-0", Time: t0},
		metrics.ReceiverStarted{StreamID: 1, Name: "SocketTextStream-1", Time: t0},
	)
	h.post(batchSpec{k: 1, records: 300, rate: 500, proc: time.Millisecond}.events()...)
	h.post(batchSpec{k: 2, records: 500, rate: 500, proc: time.Millisecond}.events()...)
	errTime := t0.Add(1500 * time.Millisecond)
	h.post(
		metrics.ReceiverError{StreamID: 1, Name: "SocketTextStream-1", Message: "connecting to 127.0.0.1:9 failed", Err: errors.New("connection refused"), Time: errTime},
		metrics.ReceiverStopped{StreamID: 1, Name: "SocketTextStream-1", Restarting: true, Time: errTime},
	)

	var rs []apiReceiver
	h.getJSON("/api/v1/streaming/receivers", &rs)
	if len(rs) != 2 {
		t.Fatalf("receivers = %+v", rs)
	}
	r0, r1 := rs[0], rs[1]
	if r0.StreamID != 0 || r0.StreamName != "ReceiverStream-0" || r0.Status != "active" || !r0.IsActive ||
		r0.RateLimit == nil || *r0.RateLimit != 500 || r0.RecordsReceived != 800 || r0.RecordsLastBatch != 500 ||
		r0.AvgEventRate == nil || *r0.AvgEventRate != 400 || r0.LastError != nil {
		t.Errorf("receiver 0 = %+v", r0)
	}
	if r1.Status != "restarting" || r1.IsActive || r1.RateLimit != nil || r1.NumErrors != 1 ||
		r1.LastErrorMessage == nil || *r1.LastErrorMessage != "connecting to 127.0.0.1:9 failed" ||
		r1.LastError == nil || *r1.LastError != "connection refused" || r1.LastErrorTime == nil || *r1.LastErrorTime != "2026-11-24T12:00:01.500Z" {
		t.Errorf("receiver 1 = %+v", r1)
	}

	var st apiStats
	h.getJSON("/api/v1/streaming/statistics", &st)
	if st.NumReceivers != 2 || st.NumActiveReceivers != 1 {
		t.Errorf("statistics count %d receivers, %d active; want 2, 1", st.NumReceivers, st.NumActiveReceivers)
	}

	body := h.get("/", http.StatusOK)
	i := strings.Index(body, `id="receivers"`)
	if i < 0 {
		t.Fatal("no receivers table")
	}
	table := body[i:]
	table = table[:strings.Index(table, "</table>")]
	mustContain(t, "receivers table", table,
		"ReceiverStream-0", "500 records/s", "800",
		"SocketTextStream-1", `<span class="badge restarting">restarting</span>`, "<td class=\"num\">—</td>", // rate limit unknown
		"connecting to 127.0.0.1:9 failed: connection refused", formatLocal(errTime),
	)
}

func formatLocal(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05.000") }

// TestEscaping feeds strings with markup through every place the UI shows
// event strings and checks that the pages hold them escaped.
func TestEscaping(t *testing.T) {
	const evil = "<script>alert(1)</script>"
	const escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
	h := newHarness(t)
	b := batchSpec{k: 1, records: 3, proc: time.Millisecond, opName: evil, opDesc: "op " + evil, opErr: errors.New("err " + evil),
		jobDesc: "job " + evil, stage: "stage " + evil, input: "input " + evil,
		metadata: map[string]string{"files": "/tmp/" + evil + ".txt", evil: "key"}}
	h.post(started(),
		metrics.ReceiverStarted{StreamID: 0, Name: evil, Time: t0},
		metrics.ReceiverError{StreamID: 0, Name: evil, Message: "msg " + evil, Err: errors.New("err2 " + evil), Time: t0},
	)
	h.post(b.events()...)
	h.post(metrics.StreamingStopped{Time: t0.Add(2 * time.Second), Err: errors.New("stop " + evil)})

	for _, path := range []string{"/", "/?fragment=1", "/batch/" + strconv.FormatInt(b.ms(), 10), "/batch/" + strconv.FormatInt(b.ms(), 10) + "?fragment=1"} {
		body := h.get(path, http.StatusOK)
		mustNotContain(t, path, body, "<script>alert", "</script>alert", "<script>a")
		mustContain(t, path, body, escaped)
	}
	batchPage := h.get("/batch/"+strconv.FormatInt(b.ms(), 10), http.StatusOK)
	for _, want := range []string{"op " + escaped, "err " + escaped, "job " + escaped, "stage " + escaped, "input " + escaped, "/tmp/" + escaped + ".txt"} {
		mustContain(t, "batch page", batchPage, want)
	}
	mainPage := h.get("/", http.StatusOK)
	mustContain(t, "streaming page", mainPage, "msg "+escaped, "err2 "+escaped, "stop "+escaped)

	for _, path := range []string{"/api/v1/streaming/receivers", "/api/v1/streaming/batches", "/api/v1/streaming/batches/" + strconv.FormatInt(b.ms(), 10)} {
		body := h.get(path, http.StatusOK)
		mustNotContain(t, path, body, "<script>")
		mustContain(t, path, body, `\u003cscript\u003ealert(1)\u003c/script\u003e`)
	}
	resp, _ := h.do(http.MethodGet, "/", nil)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("no X-Content-Type-Options: nosniff")
	}
}

func TestKillDisabled(t *testing.T) {
	h := newHarness(t)
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if resp, _ := h.do(m, "/kill", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s /kill without KillEnabled: %d, want 404", m, resp.StatusCode)
		}
	}
	// Nothing else accepts a state-changing method either.
	for _, path := range []string{"/", "/streaming/", "/batch/1", "/api/v1/streaming/batches", "/metrics", "/static/ui.js", "/elsewhere"} {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			if resp, _ := h.do(m, path, nil); resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 405", m, path, resp.StatusCode)
			}
		}
	}
	if strings.Contains(h.get("/", http.StatusOK), "kill-form") {
		t.Error("the streaming page shows a kill button without KillEnabled")
	}
}

func TestKillEnabled(t *testing.T) {
	var calls atomic.Int32
	called := make(chan struct{}, 10)
	h := newHarness(t, ui.KillEnabled(true), ui.KillFunc(func() {
		calls.Add(1)
		called <- struct{}{}
	}))
	resp, _ := h.do(http.MethodGet, "/kill", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET /kill: %d, Allow %q; want 405, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, _ = h.do(http.MethodPost, "/kill", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST /kill: %d, want 403", resp.StatusCode)
	}
	if calls.Load() != 0 {
		t.Fatal("kill function called before a valid POST")
	}
	mustContain(t, "streaming page", h.get("/", http.StatusOK), `<form method="post" action="/kill" id="kill-form"`)

	resp, body := h.do(http.MethodPost, "/kill", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /kill: %d %s, want 202", resp.StatusCode, body)
	}
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("kill function not called")
	}
	// A browser form (same origin) gets redirected; the function is not
	// called again.
	resp, _ = h.do(http.MethodPost, "/kill", map[string]string{"Accept": "text/html", "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/streaming/" {
		t.Errorf("form POST /kill: %d to %q, want 303 to /streaming/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("kill function called %d times, want 1", n)
	}
}

func TestQueriesAPI(t *testing.T) {
	h := newHarness(t)
	if body := strings.TrimSpace(h.get("/api/v1/queries", http.StatusOK)); body != "[]" {
		t.Errorf("/api/v1/queries = %s, want []", body)
	}
	h.get("/api/v1/queries/abc/progress", http.StatusNotFound)
	h.get("/api/v1/queries/abc", http.StatusNotFound)
	h.get("/api/v1/nothing", http.StatusNotFound)

	t0 := time.Unix(1000, 0).UTC()
	h.post(
		metrics.QueryStarted{ID: "q1", RunID: "r1", Name: "counts", Time: t0},
		metrics.QueryProgressed{Progress: metrics.QueryProgress{ID: "q1", RunID: "r1", Name: "counts", Timestamp: t0, BatchID: 0, NumInputRows: 7,
			Sources: []metrics.QuerySourceProgress{{Description: "rate", Lag: 3}}}},
		metrics.QueryProgressed{Progress: metrics.QueryProgress{ID: "q1", RunID: "r1", Name: "counts", Timestamp: t0.Add(time.Second), BatchID: 1, NumInputRows: 5}},
		metrics.QueryTerminated{ID: "q1", RunID: "r1", Name: "counts", Time: t0.Add(2 * time.Second), Err: errors.New("sink down")},
	)
	var list []struct {
		ID, Name     string
		IsActive     bool
		Exception    *string
		LastProgress struct{ BatchID int64 }
	}
	if err := json.Unmarshal([]byte(h.get("/api/v1/queries", http.StatusOK)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "q1" || list[0].Name != "counts" || list[0].IsActive || list[0].Exception == nil || *list[0].Exception != "sink down" || list[0].LastProgress.BatchID != 1 {
		t.Errorf("/api/v1/queries = %+v", list)
	}
	var progress []struct {
		BatchID      int64
		NumInputRows int64
	}
	if err := json.Unmarshal([]byte(h.get("/api/v1/queries/q1/progress", http.StatusOK)), &progress); err != nil {
		t.Fatal(err)
	}
	if len(progress) != 2 || progress[0].NumInputRows != 7 || progress[1].BatchID != 1 {
		t.Errorf("/api/v1/queries/q1/progress = %+v", progress)
	}
	h.get("/api/v1/queries/q1", http.StatusOK)
}

func TestPrometheus(t *testing.T) {
	h := newHarness(t)
	h.post(started(), metrics.ReceiverStarted{StreamID: 0, Name: "ReceiverStream-0", Time: t0})
	h.post(batchSpec{k: 1, records: 1000, sched: 2 * time.Millisecond, proc: 100 * time.Millisecond, rate: 1500}.events()...)
	h.post(batchSpec{k: 2, records: 3000, sched: 4 * time.Millisecond, proc: 300 * time.Millisecond, rate: 1500}.events()...)
	h.post(batchSpec{k: 3, records: 500, proc: 2 * time.Second, opErr: errBoom}.events()...)
	h.post(metrics.TaskEnded{JobID: 101, StageID: 202, Time: t0}, metrics.TaskEnded{JobID: 101, StageID: 202, Time: t0, Err: errBoom})

	resp, body := h.do(http.MethodGet, "/metrics", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		lines[l] = true
	}
	for _, want := range []string{
		"spate_streaming_batches_completed_total 3",
		"spate_streaming_batches_failed_total 1",
		"spate_streaming_records_received_total 4500",
		"spate_streaming_records_processed_total 4500",
		"spate_streaming_batch_interval_seconds 1",
		"spate_streaming_processing_time_seconds_count 3",
		"spate_streaming_processing_time_seconds_sum 2.4",
		`spate_streaming_processing_time_seconds_bucket{le="0.1"} 1`,
		`spate_streaming_processing_time_seconds_bucket{le="0.5"} 2`,
		"spate_streaming_scheduling_delay_seconds_count 3",
		"spate_streaming_total_delay_seconds_count 3",
		`spate_streaming_receiver_last_batch_records{receiver="ReceiverStream-0",stream_id="0"} 500`,
		`spate_streaming_receiver_records_total{receiver="ReceiverStream-0",stream_id="0"} 4500`,
		`spate_streaming_receiver_rate_limit_records_per_second{receiver="ReceiverStream-0",stream_id="0"} 0`,
		`spate_streaming_receiver_active{receiver="ReceiverStream-0",stream_id="0"} 1`,
		"spate_engine_jobs_started_total 3",
		"spate_engine_jobs_succeeded_total 2",
		"spate_engine_jobs_failed_total 1",
		"spate_engine_stages_completed_total 2",
		"spate_engine_stages_failed_total 1",
		"spate_engine_stages_skipped_total 3",
		"spate_engine_tasks_completed_total 1",
		"spate_engine_tasks_failed_total 1",
		"spate_metrics_bus_dropped_events_total 0",
	} {
		if !lines[want] {
			t.Errorf("/metrics lacks the line %q", want)
		}
	}
	mustContain(t, "/metrics", body, "# TYPE spate_streaming_processing_time_seconds histogram", "go_goroutines ", "process_cpu_seconds_total ")
}

func TestPortFallback(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	srv, err := ui.New(ui.Addr(fmt.Sprintf("127.0.0.1:%d", port)), ui.Logger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	bus := metrics.NewBus()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go bus.Run(ctx)
	if err := srv.Start(bus); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	u := srv.URL()
	got, err := strconv.Atoi(u[strings.LastIndex(u, ":")+1:])
	if err != nil {
		t.Fatalf("URL %q: %v", u, err)
	}
	if got <= port || got > port+16 || !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Errorf("URL %s: want http://127.0.0.1:PORT with PORT in %d..%d (port %d is taken)", u, port+1, port+16, port)
	}
	if resp, err := http.Get(u + "/api/v1/queries"); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
	}
}

// TestPortRangeTaken takes 17 consecutive ports and checks that Start
// fails with a message that says what to do.
func TestPortRangeTaken(t *testing.T) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	base := 0
	for attempt := 0; attempt < 20 && base == 0; attempt++ {
		for _, ln := range lns {
			ln.Close()
		}
		lns = nil
		first, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, first)
		p := first.Addr().(*net.TCPAddr).Port
		if p+16 > 65535 {
			continue
		}
		ok := true
		for i := 1; i <= 16; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+i))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		if ok {
			base = p
		}
	}
	if base == 0 {
		t.Skip("found no 17 consecutive free ports")
	}
	srv, err := ui.New(ui.Addr(fmt.Sprintf("127.0.0.1:%d", base)), ui.Logger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start(metrics.NewBus())
	if err == nil {
		srv.Stop(context.Background())
		t.Fatal("Start succeeded with every port of the range taken")
	}
	if want := fmt.Sprintf("ports %d to %d", base, base+16); !strings.Contains(err.Error(), want) {
		t.Errorf("Start: %v, want a message with %q", err, want)
	}
	if srv.URL() != "" {
		t.Errorf("URL after a failed Start = %q, want empty", srv.URL())
	}
}

func TestStartStop(t *testing.T) {
	srv, err := ui.New(ui.Addr("127.0.0.1:0"), ui.Logger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
	if srv.URL() != "" {
		t.Errorf("URL before Start = %q", srv.URL())
	}
	if err := srv.Start(nil); err == nil {
		t.Error("Start(nil) succeeded")
	}
	bus := metrics.NewBus()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go bus.Run(ctx)
	if err := srv.Start(bus); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(bus); err == nil {
		t.Error("second Start succeeded")
	}
	u := srv.URL()
	bus.Post(started())
	if err := srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(u + "/"); err == nil {
		t.Error("server still answers after Stop")
	}
	// Events posted before Stop were taken in; the handler still shows them.
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/streaming/statistics", nil))
	mustContain(t, "statistics after Stop", rec.Body.String(), `"status": "running"`)
	if err := srv.Start(bus); err == nil {
		t.Error("Start after Stop succeeded")
	}
	if err := srv.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStatic(t *testing.T) {
	h := newHarness(t)
	resp, body := h.do(http.MethodGet, "/static/ui.js", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") ||
		!strings.Contains(body, "fragment") {
		t.Errorf("/static/ui.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, _ = h.do(http.MethodGet, "/static/ui.css", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("/static/ui.css: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
