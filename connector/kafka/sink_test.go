package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/connector"
)

func newSink(t testing.TB, addrs []string, opts ...Option) *Sink {
	t.Helper()
	s, err := NewSink(testCtx(t), append([]Option{Brokers(addrs...), APITimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func values(prefix string, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{Key: fmt.Appendf(nil, "%s-k%d", prefix, i%3), Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	return out
}

// readTopic reads a whole topic as a read_committed (or uncommitted)
// consumer would, through the Source.
func readTopic(t testing.TB, addrs []string, topic string, committed bool) []string {
	t.Helper()
	src := newSource(t, addrs, Subscribe(topic), StartingOffsets(Earliest()), ReadCommitted(committed))
	ctx := testCtx(t)
	start, err := src.InitialOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ranges, _, _, err := connector.PlanBatch(ctx, src, start, connector.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range ranges {
		recs, err := readAll(t, src, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			out = append(out, string(rec.Value))
		}
	}
	slices.Sort(out)
	return out
}

func TestSinkAtLeastOnce(t *testing.T) {
	addrs := newCluster(t, 3, "out", "other")
	s := newSink(t, addrs, Topic("out"))
	if !s.AtLeastOnce() {
		t.Fatal("default sink claims exactly-once")
	}
	ctx := testCtx(t)
	recs := values("a", 10)
	recs[0].Topic = "other"
	recs[0].Headers = []Header{{Key: "h", Value: []byte("1")}}
	if err := s.AddBatch(ctx, 0, recs); err != nil {
		t.Fatal(err)
	}
	if got := readTopic(t, addrs, "out", false); len(got) != 9 {
		t.Fatalf("out has %v", got)
	}
	if got := readTopic(t, addrs, "other", false); len(got) != 1 || got[0] != "a-0" {
		t.Fatalf("other has %v", got)
	}
	if err := newSink(t, addrs).AddBatch(ctx, 0, values("x", 1)); err == nil || !strings.Contains(err.Error(), "no topic") {
		t.Fatalf("record without topic: %v", err)
	}
	// Explicit partitions.
	ep := newSink(t, addrs, Topic("out"), ExplicitPartitions(true))
	if err := ep.AddBatch(ctx, 1, []Record{{Partition: 2, Value: []byte("p2")}}); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, addrs, Assign(part("out", 2)), StartingOffsets(Earliest()))
	latest, _ := src.LatestOffsets(ctx)
	recs2, err := readAll(t, src, connector.OffsetRange{Partition: part("out", 2), From: latest[part("out", 2)] - 1, Until: latest[part("out", 2)]})
	if err != nil || len(recs2) != 1 || string(recs2[0].Value) != "p2" {
		t.Fatal(recs2, err)
	}
}

func TestSinkExactlyOnce(t *testing.T) {
	addrs := newCluster(t, 2, "out")
	ctx := testCtx(t)
	opts := []Option{Topic("out"), Transactional("q1", 0)}

	s1 := newSink(t, addrs, opts...)
	if s1.AtLeastOnce() {
		t.Fatal("transactional sink claims at-least-once")
	}
	if _, ok, _ := s1.LastBatchID(ctx); ok {
		t.Fatal("fresh sink has a last batch")
	}
	for _, b := range []struct {
		id     int64
		prefix string
	}{{0, "a"}, {1, "b"}, {1, "b"}, {0, "a"}} { // re-runs of 1 and 0 are skipped
		if err := s1.AddBatch(ctx, b.id, values(b.prefix, 5)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.AddBatch(ctx, 2, nil); err != nil { // an empty batch
		t.Fatal(err)
	}

	// Restart: a new instance reads the last batch id and skips the re-run.
	s2 := newSink(t, addrs, opts...)
	if id, ok, err := s2.LastBatchID(ctx); err != nil || !ok || id != 1 {
		t.Fatalf("restarted sink: last batch %d %v %v", id, ok, err)
	}
	if err := s2.AddBatch(ctx, 1, values("b", 5)); err != nil {
		t.Fatal(err)
	}
	if err := s2.AddBatch(ctx, 2, values("c", 5)); err != nil {
		t.Fatal(err)
	}
	// The old instance is fenced.
	if err := s1.AddBatch(ctx, 3, values("stale", 5)); !errors.Is(err, ErrFenced) {
		t.Fatalf("old instance after restart: %v", err)
	}

	// A producer killed mid-transaction: records written, never committed,
	// client abandoned.
	zombie := newClient(t, addrs, kgo.TransactionalID(TransactionalID("q1", 0)), kgo.DefaultProduceTopic("out"))
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, r := range values("zombie", 5) {
		if err := zombie.ProduceSync(ctx, &kgo.Record{Key: r.Key, Value: r.Value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// The replacement fences it and aborts its transaction, then re-runs 3.
	s3 := newSink(t, addrs, opts...)
	if id, _, _ := s3.LastBatchID(ctx); id != 2 {
		t.Fatalf("after zombie: last batch %d", id)
	}
	if err := s3.AddBatch(ctx, 3, values("d", 5)); err != nil {
		t.Fatal(err)
	}
	if err := s3.AddBatch(ctx, 3, values("d", 5)); err != nil {
		t.Fatal(err)
	}

	got := readTopic(t, addrs, "out", true)
	var want []string
	for _, p := range []string{"a", "b", "c", "d"} {
		for i := range 5 {
			want = append(want, fmt.Sprintf("%s-%d", p, i))
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("read_committed sees\n%v\nwant\n%v", got, want)
	}
	// The same through a plain franz-go read_committed consumer.
	if plain := kgoReadCommitted(t, addrs, "out", len(want)); !slices.Equal(plain, want) {
		t.Fatalf("franz-go read_committed consumer sees\n%v", plain)
	}
	// The uncommitted view shows the aborted zombie records: they were
	// written, just never committed.
	if all := readTopic(t, addrs, "out", false); len(all) != len(want)+5 {
		t.Fatalf("read_uncommitted sees %d records", len(all))
	}

	// Another sink partition of the same query is independent.
	p1 := newSink(t, addrs, Topic("out"), Transactional("q1", 1))
	if _, ok, _ := p1.LastBatchID(ctx); ok {
		t.Fatal("partition 1 inherited partition 0's batch id")
	}
}

func TestSinkOptions(t *testing.T) {
	ctx := testCtx(t)
	if _, err := NewSink(ctx, Brokers("h:1"), Transactional("", 0)); !errors.Is(err, ErrConfig) {
		t.Errorf("empty query id: %v", err)
	}
	if _, err := NewSink(ctx, Brokers("h:1"), Transactional("q", 0), Acks(1)); !errors.Is(err, ErrConfig) {
		t.Errorf("acks 1 transactional: %v", err)
	}
	opts, err := SinkOptions(map[string]string{"kafka.bootstrap.servers": "h:1", "topic": "t", "kafka.transactional": "true"}, "q9", 4)
	if err != nil {
		t.Fatal(err)
	}
	c := defaults()
	for _, o := range opts {
		o(&c)
	}
	if !c.transactional || c.queryID != "q9" || c.sinkPartition != 4 || c.topic != "t" {
		t.Fatalf("config %+v", c)
	}
}

// kgoReadCommitted consumes topic from the start with a plain franz-go
// read_committed consumer until it has n records, then checks for more with
// one short poll, and returns the values sorted.
func kgoReadCommitted(t *testing.T, addrs []string, topic string, n int) []string {
	t.Helper()
	cl := newClient(t, addrs, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx := testCtx(t)
	var out []string
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d records: %v", len(out), err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	more, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	cl.PollFetches(more).EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	slices.Sort(out)
	return out
}

// A commit whose outcome the sink did not learn (here: the commit happened,
// then AddBatch is told it failed) must not make a re-run write twice.
func TestSinkUncertainCommit(t *testing.T) {
	addrs := newCluster(t, 1, "u")
	ctx := testCtx(t)
	s := newSink(t, addrs, Topic("u"), Transactional("uq", 0))
	if err := s.AddBatch(ctx, 0, values("a", 3)); err != nil {
		t.Fatal(err)
	}
	// Simulate: batch 1 committed on the broker but the sink lost the
	// answer, so its memory says batch 0 and it is uncertain.
	if err := s.AddBatch(ctx, 1, values("b", 3)); err != nil {
		t.Fatal(err)
	}
	s.last, s.uncertain = 0, true
	if err := s.AddBatch(ctx, 1, values("b", 3)); err != nil { // the engine's retry
		t.Fatal(err)
	}
	if got := readTopic(t, addrs, "u", true); len(got) != 6 {
		t.Fatalf("read_committed sees %v", got)
	}
}
