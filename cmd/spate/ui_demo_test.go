package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a buffer that one goroutine writes while another reads,
// with a way to wait for some text.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // signalled after each write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until re matches the buffer and returns the match.
func (s *syncBuffer) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(s.String()); m != nil {
			return m
		}
		select {
		case <-s.changed:
		case <-timeout:
			t.Fatalf("output never matched %v:\n%s", re, s.String())
		}
	}
}

// TestStreamDemoUI runs the streaming demo with its UI on a free port,
// reads the UI's pages, API and metrics while it runs, and stops it with
// POST /kill (--ui-kill).
func TestStreamDemoUI(t *testing.T) {
	t.Parallel()
	out, errb := newSyncBuffer(), newSyncBuffer()
	done := make(chan int, 1)
	go func() {
		done <- run(testCtx(t), []string{"demo", "--interval", "100ms", "--rate", "1000", "--ui-addr", "127.0.0.1:0", "--ui-kill"}, out, errb)
	}()
	url := out.waitFor(t, regexp.MustCompile(`(?m)^UI: (http://127\.0\.0\.1:\d+)$`))[1]
	out.waitFor(t, regexp.MustCompile(`(?m)^batch `)) // a batch completed

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, `id="completed-batches"`) || !strings.Contains(body, `id="kill-form"`) {
		t.Errorf("GET /: %d, want the streaming page with its kill button:\n%s", code, body)
	}
	code, body := get("/api/v1/streaming/batches?status=completed")
	var batches []map[string]any
	if err := json.Unmarshal([]byte(body), &batches); code != http.StatusOK || err != nil || len(batches) == 0 {
		t.Errorf("GET /api/v1/streaming/batches: %d %v, want completed batches:\n%s", code, err, body)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "spate_streaming_batches_completed_total") {
		t.Errorf("GET /metrics: %d, lacks spate_streaming_batches_completed_total", code)
	}
	if code, _ := get("/kill"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /kill: %d, want 405", code)
	}

	resp, err := http.Post(url+"/kill", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /kill: %d, want 202", resp.StatusCode)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit code %d, stderr:\n%s\nstdout:\n%s", code, errb, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop after POST /kill")
	}
	if !strings.Contains(out.String(), "stop requested from the UI (POST /kill): stopping gracefully") {
		t.Errorf("output does not say the UI stopped the demo:\n%s", out)
	}
	checkStreamRun(t, out.String(), 10)
	if _, err := http.Get(url + "/"); err == nil {
		t.Error("the UI still answers after the demo ended")
	}
}
