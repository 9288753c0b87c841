package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/ui"
)

// TestWithStreamingContext runs a real pipeline on a manual clock with the
// server as the context's service and checks what the server learned: the
// batches, their inputs, and the engine jobs and stages linked to their
// output operation. (Queue streams report no input sizes; the browser
// test uses a receiver.)
func TestWithStreamingContext(t *testing.T) {
	srv, err := ui.New(ui.Addr("127.0.0.1:0"), ui.Logger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	input := [][]string{{"a b", "b c"}, {"c"}, {"a a a"}}
	_, err = dstreamtest.Run(ctx, input, func(s *dstream.DStream[string]) *dstream.DStream[string] {
		return dstream.FlatMap(s, strings.Fields)
	}, 3, dstreamtest.StreamingOptions(dstream.WithService(srv)))
	if err != nil {
		t.Fatal(err)
	}
	if srv.URL() == "" {
		t.Fatal("the streaming context did not start the server")
	}
	if _, err := http.Get(srv.URL()); err == nil {
		t.Error("the server still answers after the streaming context stopped")
	}

	get := func(path string, v any) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var st apiStats
	get("/api/v1/streaming/statistics", &st)
	if st.Status != "stopped" || st.BatchDuration != 1000 || st.NumTotalCompletedBatches < 3 {
		t.Errorf("statistics = %+v; want stopped, 1000 ms batches, at least 3 completed", st)
	}
	var batches []apiBatch
	get("/api/v1/streaming/batches?status=completed", &batches)
	if len(batches) < 3 {
		t.Fatalf("batches = %+v", batches)
	}
	oldest := batches[len(batches)-1]
	if oldest.BatchID != time.Unix(1, 0).UnixMilli() || oldest.NumCompletedOutputOps != 1 {
		t.Errorf("first batch = %+v, want batch 1000 with 1 completed output operation", oldest)
	}
	var d apiBatchDetail
	get("/api/v1/streaming/batches/"+strconv.FormatInt(oldest.BatchID, 10), &d)
	if len(d.OutputOperations) != 1 || d.OutputOperations[0].Name != "ForeachRDD" || d.OutputOperations[0].Status != "succeeded" {
		t.Fatalf("output operations = %+v", d.OutputOperations)
	}
	if len(d.Jobs) == 0 || len(d.OutputOperations[0].JobIDs) != len(d.Jobs) {
		t.Fatalf("jobs = %+v, output operation's job IDs %v; want the operation's Collect job", d.Jobs, d.OutputOperations[0].JobIDs)
	}
	j := d.Jobs[0]
	if !strings.HasPrefix(j.Description, "Collect") || j.Status != "succeeded" || len(j.Stages) == 0 || j.Stages[len(j.Stages)-1].Status != "succeeded" {
		t.Errorf("job = %+v, want a succeeded Collect job with its stages", j)
	}
}
