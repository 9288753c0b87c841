package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/connector/kafka"
)

func TestBenchList(t *testing.T) {
	code, out, errOut := runCLI(t, testCtx(t), "bench", "--list")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"ysb", "q0", "q1", "q2", "q5", "q7", "apis: dstream, dataframe, sql, handloop", "apis: dstream, handloop",
		"no dataframe, sql: needs an aggregation over an aggregation whose groups never become final"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list output lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchAllShort is the CI smoke run of the suite: every query in every
// API that has it (--short runs them all by default) on small inputs,
// each checked against its baseline (no timing checked).
func TestBenchAllShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.json")
	code, out, errOut := runCLI(t, testCtx(t), "bench", "all", "--short", "--json", path, "--checkpoint-dir", t.TempDir())
	if code != exitOK {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var report struct {
		Measurements []struct {
			Query, Variant, Status string
			MatchesHand            *bool `json:"matches_handloop"`
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &report); err != nil {
		t.Fatal(err)
	}
	runs := map[string]int{}
	for _, m := range report.Measurements {
		switch {
		case m.Status == "unsupported" && (m.Variant == "dataframe" || m.Variant == "sql"):
			continue
		case m.Status == "skipped" && m.Variant == "sql": // a build without cgo
			continue
		case m.Status != "ok":
			t.Errorf("%s %s: status %q", m.Query, m.Variant, m.Status)
		}
		runs[m.Variant]++
		if m.Variant != "handloop" && (m.MatchesHand == nil || !*m.MatchesHand) {
			t.Errorf("%s %s: the result was not checked against the baseline or differs", m.Query, m.Variant)
		}
	}
	if runs["dstream"] != 9 {
		t.Errorf("%d dstream runs, want 9 (ysb and nexmark q0, q1, q2, q3, q4, q5, q7, q8)", runs["dstream"])
	}
	if runs["dataframe"] != 8 {
		t.Errorf("%d dataframe runs, want 8 (ysb and nexmark q0, q1, q2, q3, q5, q7, q8)", runs["dataframe"])
	}
	if !strings.Contains(out, "| nexmark/q5 | dstream | ok ✓ |") {
		t.Errorf("the table has no checked q5 row:\n%s", out)
	}
}

func TestBenchStructuredVariants(t *testing.T) {
	code, out, errOut := runCLI(t, testCtx(t), "bench", "nexmark", "--query", "q2,q5", "--short", "--api", "dataframe,sql")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, "| nexmark/q2 | dataframe | ok ✓ |") || !strings.Contains(out, "| nexmark/q2 | handloop | ok |") {
		t.Errorf("no checked q2 dataframe row, or no baseline:\n%s", out)
	}
	if !strings.Contains(out, "| nexmark/q5 | dataframe | ok ✓ |") || !strings.Contains(out, "| nexmark/q5 | sql | ok ✓ |") {
		t.Errorf("no checked q5 dataframe or sql row:\n%s", out)
	}
	if strings.Contains(out, "| dstream |") {
		t.Errorf("--api dataframe,sql ran the dstream variant:\n%s", out)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "name a benchmark: ysb, nexmark or all"},
		{[]string{"bench", "tpch"}, `unknown benchmark "tpch": want ysb, nexmark or all`},
		{[]string{"bench", "nexmark", "--query", "q9"}, `unknown query "q9" for nexmark: valid queries are q0, q1, q2, q3, q4, q5, q7, q8`},
		{[]string{"bench", "ysb", "--query", "q5"}, `valid queries are ysb`},
		{[]string{"bench", "ysb", "--events", "lots"}, `invalid value "lots" for flag -events`},
		{[]string{"bench", "ysb", "--api", "flink"}, `unknown variant "flink": want one of dstream, dataframe, sql, handloop`},
		{[]string{"bench", "ysb", "--parser", "simd"}, `unknown parser "simd": want fast or encoding/json`},
		{[]string{"bench", "ysb", "--short", "--events", "5"}, "--short sets its own sizes"},
		{[]string{"bench", "ysb", "--partitions", "-1"}, "partitions must be in [1, 1024], got -1"},
		{[]string{"bench", "ysb", "extra"}, `unexpected argument "extra"`},
		{[]string{"bench", "all", "--write", "x.json", "--events", "5"}, "--write needs ysb or nexmark"},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(t, testCtx(t), tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit %d and %q", tt.args, code, errOut, exitUsage, tt.want)
		}
	}
}

func TestBenchWriteEvents(t *testing.T) {
	for _, bm := range []string{"ysb", "nexmark"} {
		path := filepath.Join(t.TempDir(), bm+".json")
		code, _, errOut := runCLI(t, testCtx(t), "bench", bm, "--write", path, "--events", "1K")
		if code != exitOK {
			t.Fatalf("%s: exit %d, stderr:\n%s", bm, code, errOut)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 1000 {
			t.Fatalf("%s: %d lines, want 1000", bm, len(lines))
		}
		for i, l := range lines {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("%s line %d: %v: %s", bm, i+1, err, l)
			}
		}
	}
}

// --write kafka://... produces one record per event to a topic of a real
// (in-process, protocol-level) Kafka cluster.
func TestBenchWriteEventsToKafka(t *testing.T) {
	emb, err := kafka.NewEmbedded(2, "events")
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	target := "kafka://" + strings.Join(emb.Addrs(), ",") + "/events"
	code, out, errOut := runCLI(t, testCtx(t), "bench", "ysb", "--write", target, "--events", "2500")
	if code != exitOK || !strings.Contains(out, "wrote 2500 ysb events to topic events") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Addrs()...), kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testCtx(t)
	n := 0
	for n < 2500 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of 2500 records: %v", n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v map[string]any
			if err := json.Unmarshal(r.Value, &v); err != nil || v["event_type"] == nil {
				t.Fatalf("record %d is not a YSB event: %s", n, r.Value)
			}
			n++
		})
	}
	if code, _, errOut := runCLI(t, testCtx(t), "bench", "ysb", "--write", "kafka://host:1/", "--events", "1"); code != exitUsage || !strings.Contains(errOut, "name one topic") {
		t.Errorf("no topic: exit %d, %s", code, errOut)
	}
}
