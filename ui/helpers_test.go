package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/ui"
)

// harness is a started server fed by a bus the test posts events to.
type harness struct {
	t    *testing.T
	bus  *metrics.Bus
	srv  *ui.Server
	base string
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newHarness(t *testing.T, opts ...ui.Option) *harness {
	t.Helper()
	bus := metrics.NewBus()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		bus.Run(ctx)
	}()
	srv, err := ui.New(append([]ui.Option{ui.Addr("127.0.0.1:0"), ui.Logger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(bus); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := srv.Stop(sctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		cancel()
		<-done
	})
	return &harness{t: t, bus: bus, srv: srv, base: srv.URL()}
}

// post posts the events and waits until they were delivered.
func (h *harness) post(events ...metrics.Event) {
	h.t.Helper()
	for _, e := range events {
		if !h.bus.Post(e) {
			h.t.Fatalf("bus dropped %T", e)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.bus.Flush(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// do sends a request and returns the response with its body read.
func (h *harness) do(method, path string, header map[string]string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, string(body)
}

// get fetches path and fails the test unless the status is want.
func (h *harness) get(path string, want int) string {
	h.t.Helper()
	resp, body := h.do(http.MethodGet, path, nil)
	if resp.StatusCode != want {
		h.t.Fatalf("GET %s: status %d, want %d; body:\n%s", path, resp.StatusCode, want, body)
	}
	return body
}

// getJSON fetches path (status 200) and decodes it into v.
func (h *harness) getJSON(path string, v any) {
	h.t.Helper()
	body := h.get(path, http.StatusOK)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		h.t.Fatalf("GET %s: %v; body:\n%s", path, err, body)
	}
}

// t0 is the start of the streaming context in the tests.
var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

const interval = time.Second

// batchSpec describes a batch the tests report.
type batchSpec struct {
	k        int // the batch is at t0 + k × interval
	records  int64
	sched    time.Duration
	proc     time.Duration
	opName   string
	opDesc   string
	opErr    error
	jobDesc  string
	stage    string
	input    string
	rate     float64
	metadata map[string]string
	jobID    int
}

func (b batchSpec) time() time.Time { return t0.Add(time.Duration(b.k) * interval) }

func (b batchSpec) ms() int64 { return b.time().UnixMilli() }

func (b batchSpec) defaults() batchSpec {
	if b.opName == "" {
		b.opName = "ForeachRDD"
	}
	if b.opDesc == "" {
		b.opDesc = "ForeachRDD at app.go:42"
	}
	if b.jobDesc == "" {
		b.jobDesc = "Collect at app.go:43"
	}
	if b.stage == "" {
		b.stage = "Map at app.go:40"
	}
	if b.input == "" {
		b.input = "ReceiverStream-0"
	}
	if b.metadata == nil {
		b.metadata = map[string]string{"blocks": "5"}
	}
	if b.jobID == 0 {
		b.jobID = 100 + b.k
	}
	return b
}

// info returns the batch report as submitted.
func (b batchSpec) info() metrics.BatchInfo {
	bt := b.time()
	return metrics.BatchInfo{
		BatchTime:      bt,
		SubmissionTime: bt,
		Inputs: []metrics.InputInfo{{StreamID: 0, Name: b.input, Records: b.records, RateLimit: b.rate,
			DelayedRecords: b.records / 10, Metadata: b.metadata}},
		OutputOperations: []metrics.OutputOperationInfo{{ID: 0, Name: b.opName, Description: b.opDesc}},
	}
}

// submit reports the batch as submitted and started, with its output
// operation and job running.
func (b batchSpec) submitEvents() []metrics.Event {
	b = b.defaults()
	info := b.info()
	start := info.SubmissionTime.Add(b.sched)
	started := info
	started.ProcessingStart = start
	op := started.OutputOperations[0]
	op.Start = start
	started.OutputOperations = []metrics.OutputOperationInfo{op}
	return []metrics.Event{
		metrics.BatchSubmitted{Info: info},
		metrics.BatchStarted{Info: started},
		metrics.OutputOperationStarted{BatchTime: info.BatchTime, Info: op},
		metrics.JobStarted{JobID: b.jobID, Description: b.jobDesc, StageIDs: []int{2*b.jobID + 1, 2 * b.jobID}, Time: start},
		metrics.StageSkipped{JobID: b.jobID, StageID: 2*b.jobID + 1, Name: "ReduceByKey at app.go:41", Time: start},
		metrics.StageSubmitted{JobID: b.jobID, StageID: 2 * b.jobID, Name: b.stage, NumTasks: 4, Time: start},
	}
}

// completeEvents reports the end of the batch's job, output operation and
// the batch.
func (b batchSpec) completeEvents() []metrics.Event {
	b = b.defaults()
	info := b.info()
	start := info.SubmissionTime.Add(b.sched)
	end := start.Add(b.proc)
	info.ProcessingStart, info.ProcessingEnd = start, end
	op := info.OutputOperations[0]
	op.Start, op.End, op.Err = start, end, b.opErr
	info.OutputOperations = []metrics.OutputOperationInfo{op}
	return []metrics.Event{
		metrics.StageCompleted{JobID: b.jobID, StageID: 2 * b.jobID, Name: b.stage, NumTasks: 4, Time: end,
			Duration: b.proc, RecordsRead: b.records, RecordsWritten: 7, Err: b.opErr},
		metrics.JobEnded{JobID: b.jobID, Time: end, Duration: b.proc, Err: b.opErr},
		metrics.OutputOperationCompleted{BatchTime: info.BatchTime, Info: op},
		metrics.BatchCompleted{Info: info},
	}
}

func (b batchSpec) events() []metrics.Event {
	return append(b.submitEvents(), b.completeEvents()...)
}

func started() metrics.Event { return metrics.StreamingStarted{Time: t0, BatchInterval: interval} }

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func mustNotContain(t *testing.T, what, body string, bads ...string) {
	t.Helper()
	for _, b := range bads {
		if strings.Contains(body, b) {
			t.Errorf("%s contains %q", what, b)
		}
	}
}

var errBoom = errors.New("boom: sink unavailable")
