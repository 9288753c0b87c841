package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/connector"
)

func TestReadExactRanges(t *testing.T) {
	addrs := newCluster(t, 3, "events")
	for p := range int32(3) {
		produce(t, addrs, "events", p, 100+int(p), 7)
	}
	s := newSource(t, addrs, Subscribe("events"), StartingOffsets(Earliest()))
	ctx := testCtx(t)
	latest, err := s.LatestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := connector.Offsets{part("events", 0): 100, part("events", 1): 101, part("events", 2): 102}
	if !reflect.DeepEqual(latest, want) {
		t.Fatalf("latest = %v, want %v", latest, want)
	}
	init, err := s.InitialOffsets(ctx)
	if err != nil || init.Total(latest) != 303 {
		t.Fatalf("initial = %v, %v", init, err)
	}
	recs, err := readAll(t, s, connector.OffsetRange{Partition: part("events", 1), From: 10, Until: 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 10 {
		t.Fatalf("read %d records, want 10", len(recs))
	}
	for i, r := range recs {
		off := int64(10 + i)
		if r.Topic != "events" || r.Partition != 1 || r.Offset != off || string(r.Value) != fmt.Sprintf("v%d", off) ||
			string(r.Key) != fmt.Sprintf("k%d", off%7) || r.Timestamp.IsZero() || r.TimestampType != CreateTime || r.Headers != nil {
			t.Fatalf("record %d = %+v", i, r)
		}
	}
	// Whole partitions, through a batch plan.
	ranges, end, _, err := connector.PlanBatch(ctx, s, init, connector.Limits{})
	if err != nil || !reflect.DeepEqual(end, latest) || len(ranges) != 3 {
		t.Fatalf("plan = %v %v %v", ranges, end, err)
	}
	total := 0
	for _, r := range ranges {
		recs, err := readAll(t, s, r)
		if err != nil {
			t.Fatal(err)
		}
		total += len(recs)
		if recs[0].Offset != r.From || recs[len(recs)-1].Offset != r.Until-1 {
			t.Fatalf("range %v read %d..%d", r, recs[0].Offset, recs[len(recs)-1].Offset)
		}
	}
	if total != 303 || s.Stats().RecordsRead != 313 {
		t.Fatalf("total %d, stats %+v", total, s.Stats())
	}
	// An empty range reads nothing; an emit error stops the read.
	if recs, err := readAll(t, s, connector.OffsetRange{Partition: part("events", 0), From: 5, Until: 5}); err != nil || len(recs) != 0 {
		t.Fatal("empty range", recs, err)
	}
	stop := errors.New("stop")
	if err := s.Read(ctx, connector.OffsetRange{Partition: part("events", 0), From: 0, Until: 50}, func([]Record) error { return stop }); err != stop {
		t.Fatalf("emit error = %v", err)
	}
}

func TestHeadersAndLargeRange(t *testing.T) {
	addrs := newCluster(t, 1, "h")
	cl := newClient(t, addrs)
	ctx := testCtx(t)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "h", Value: []byte("x"), Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produce(t, addrs, "h", 0, 30000, 10)
	s := newSource(t, addrs, Subscribe("h"), IncludeHeaders(true), FetchMaxPartitionBytes(64<<10))
	recs, err := readAll(t, s, connector.OffsetRange{Partition: part("h", 0), From: 0, Until: 30001})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 30001 || len(recs[0].Headers) != 1 || recs[0].Headers[0].Key != "a" || recs[30000].Offset != 30000 {
		t.Fatalf("got %d records, first %+v", len(recs), recs[0])
	}
	for i, r := range recs {
		if r.Offset != int64(i) {
			t.Fatalf("record %d has offset %d", i, r.Offset)
		}
	}
}

func TestStartingOffsetKinds(t *testing.T) {
	addrs := newCluster(t, 2, "t")
	cl := newClient(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t)
	base := time.UnixMilli(1_700_000_000_000)
	for p := range int32(2) {
		for i := range 10 {
			r := &kgo.Record{Topic: "t", Partition: p, Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Second)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	p0, p1 := part("t", 0), part("t", 1)
	tests := []struct {
		name string
		spec OffsetSpec
		want connector.Offsets
	}{
		{"earliest", Earliest(), connector.Offsets{p0: 0, p1: 0}},
		{"latest", Latest(), connector.Offsets{p0: 10, p1: 10}},
		{"default", OffsetSpec{}, connector.Offsets{p0: 10, p1: 10}},
		{"specific", Specific(connector.Offsets{p0: 4, p1: 7}), connector.Offsets{p0: 4, p1: 7}},
		{"specific special", Specific(connector.Offsets{p0: connector.OffsetEarliest, p1: connector.OffsetLatest}), connector.Offsets{p0: 0, p1: 10}},
		{"timestamp", AtTime(base.Add(3500 * time.Millisecond)), connector.Offsets{p0: 4, p1: 4}},
		{"timestamp after all", AtTime(base.Add(time.Hour)), connector.Offsets{p0: 10, p1: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource(t, addrs, Subscribe("t"), StartingOffsets(tt.spec))
			got, err := s.InitialOffsets(ctx)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("InitialOffsets = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	s := newSource(t, addrs, Subscribe("t"), StartingOffsets(Specific(connector.Offsets{p0: 1})))
	if _, err := s.InitialOffsets(ctx); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "missing [t-1]") {
		t.Fatalf("missing partition: %v", err)
	}
	s = newSource(t, addrs, Subscribe("t"), EndingOffsets(Specific(connector.Offsets{p0: 5, p1: connector.OffsetLatest})))
	if got, err := s.EndingOffsets(ctx); err != nil || !reflect.DeepEqual(got, connector.Offsets{p0: 5, p1: 10}) {
		t.Fatalf("EndingOffsets = %v, %v", got, err)
	}
}

func TestPartitionsAddedDuringRun(t *testing.T) {
	addrs := newCluster(t, 2, "grow")
	produce(t, addrs, "grow", 0, 5, 1)
	produce(t, addrs, "grow", 1, 5, 1)
	s := newSource(t, addrs, Subscribe("grow"), StartingOffsets(Earliest()))
	ctx := testCtx(t)
	start, err := s.InitialOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, end, _, err := connector.PlanBatch(ctx, s, start, connector.Limits{})
	if err != nil || len(end) != 2 {
		t.Fatal(end, err)
	}
	if _, err := admin(t, addrs).CreatePartitions(ctx, 1, "grow"); err != nil {
		t.Fatal(err)
	}
	produce(t, addrs, "grow", 2, 3, 1)
	ranges, end2, _, err := connector.PlanBatch(ctx, s, end, connector.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []connector.OffsetRange{{Partition: part("grow", 2), From: 0, Until: 3}}
	if !reflect.DeepEqual(ranges, want) || end2[part("grow", 2)] != 3 {
		t.Fatalf("after growth: %v %v", ranges, end2)
	}
	recs, err := readAll(t, s, ranges[0])
	if err != nil || len(recs) != 3 {
		t.Fatal(recs, err)
	}
}

func TestSubscribePatternPicksUpNewTopics(t *testing.T) {
	addrs := newCluster(t, 1, "ev-a", "ev-b", "other")
	s := newSource(t, addrs, SubscribePattern(`ev-.*`))
	ctx := testCtx(t)
	got, err := s.LatestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps := got.Partitions(); !reflect.DeepEqual(ps, []connector.Partition{part("ev-a", 0), part("ev-b", 0)}) {
		t.Fatalf("partitions %v", ps)
	}
	if _, err := admin(t, addrs).CreateTopic(ctx, 2, 1, nil, "ev-c"); err != nil {
		t.Fatal(err)
	}
	produce(t, addrs, "ev-c", 1, 4, 1)
	got, err = s.LatestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[part("ev-c", 1)] != 4 {
		t.Fatalf("after create: %v", got)
	}
}

func TestAssign(t *testing.T) {
	addrs := newCluster(t, 3, "a")
	produce(t, addrs, "a", 2, 6, 1)
	s := newSource(t, addrs, Assign(part("a", 2), part("a", 0)))
	got, err := s.LatestOffsets(testCtx(t))
	if err != nil || !reflect.DeepEqual(got, connector.Offsets{part("a", 0): 0, part("a", 2): 6}) {
		t.Fatal(got, err)
	}
	bad := newSource(t, addrs, Assign(part("a", 9)))
	if _, err := bad.LatestOffsets(testCtx(t)); err == nil || !strings.Contains(err.Error(), "a-9 does not exist") {
		t.Fatalf("missing assigned partition: %v", err)
	}
}

func TestRateCaps(t *testing.T) {
	addrs := newCluster(t, 3, "r")
	for p, n := range []int{600, 300, 100} {
		produce(t, addrs, "r", int32(p), n, 1)
	}
	s := newSource(t, addrs, Subscribe("r"), StartingOffsets(Earliest()), MaxOffsetsPerTrigger(100))
	ctx := testCtx(t)
	start, err := s.InitialOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lim := s.Limits()
	var batches, total int
	for {
		ranges, end, _, err := connector.PlanBatch(ctx, s, start, lim)
		if err != nil {
			t.Fatal(err)
		}
		if len(ranges) == 0 {
			break
		}
		n := 0
		for _, r := range ranges {
			recs, err := readAll(t, s, r)
			if err != nil {
				t.Fatal(err)
			}
			n += len(recs)
		}
		if n > 100 {
			t.Fatalf("batch %d has %d records, cap 100", batches, n)
		}
		if batches == 0 && (ranges[0].Count() != 60 || ranges[1].Count() != 30 || ranges[2].Count() != 10) {
			t.Fatalf("first batch not proportional to lag: %v", ranges)
		}
		total += n
		batches++
		start = end
	}
	if total != 1000 || batches != 10 {
		t.Fatalf("read %d records in %d batches", total, batches)
	}
	// minOffsetsPerTrigger with maxTriggerDelay decide whether to run.
	lazy := newSource(t, addrs, Subscribe("r"), MinOffsetsPerTrigger(2000), MaxTriggerDelay(time.Minute))
	if l := lazy.Limits(); l.Ready(1000, time.Second) || !l.Ready(1000, time.Minute) || !l.Ready(2000, 0) {
		t.Fatalf("limits %+v", l)
	}
	// Per-partition cap from a rate: 50 records/s over 2s.
	rated := newSource(t, addrs, Subscribe("r"), MaxRatePerPartition(50), MinPartitions(8))
	lim = rated.LimitsFor(2 * time.Second)
	start, _ = s.InitialOffsets(ctx)
	ranges, _, _, err := connector.PlanBatch(ctx, s, start, lim)
	if err != nil || len(ranges) != 3 || ranges[0].Count() != 100 || ranges[2].Count() != 100 {
		t.Fatal(ranges, err)
	}
	// minPartitions splits the 300 offsets into at least 8 ranges, read as one.
	split := connector.SplitRanges(ranges, rated.MinPartitions())
	n := 0
	for _, r := range split {
		recs, err := readAll(t, s, r)
		if err != nil {
			t.Fatal(err)
		}
		n += len(recs)
	}
	if len(split) < 8 || n != 300 {
		t.Fatalf("split into %d ranges, %d records", len(split), n)
	}
}

func TestDataLoss(t *testing.T) {
	addrs := newCluster(t, 1, "d")
	produce(t, addrs, "d", 0, 100, 1)
	ctx := testCtx(t)
	var os kadm.Offsets
	os.AddOffset("d", 0, 50, -1)
	resp, err := admin(t, addrs).DeleteRecords(ctx, os)
	if err != nil || resp.Error() != nil {
		t.Fatal(err, resp.Error())
	}
	r := connector.OffsetRange{Partition: part("d", 0), From: 10, Until: 80}

	strict := newSource(t, addrs, Subscribe("d"))
	_, err = readAll(t, strict, r)
	var dl *DataLossError
	if !errors.As(err, &dl) || !errors.Is(err, ErrDataLoss) {
		t.Fatalf("want *DataLossError, got %v", err)
	}
	want := DataLossError{Topic: "d", Partition: 0, From: 10, Until: 80, LostFrom: 10, LostUntil: 50, AvailableFrom: 50, AvailableUntil: 100}
	if *dl != want || !strings.Contains(dl.Error(), "d-0") || !strings.Contains(dl.Error(), "[10, 50)") {
		t.Fatalf("got %+v: %v", *dl, dl)
	}
	// A range wholly inside the deleted part.
	_, err = readAll(t, strict, connector.OffsetRange{Partition: part("d", 0), From: 0, Until: 20})
	if !errors.As(err, &dl) || dl.LostUntil != 20 {
		t.Fatalf("inside: %v", err)
	}

	lenient := newSource(t, addrs, Subscribe("d"), FailOnDataLoss(false))
	recs, err := readAll(t, lenient, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 30 || recs[0].Offset != 50 || recs[29].Offset != 79 {
		t.Fatalf("lenient read %d records", len(recs))
	}
	if _, err := readAll(t, lenient, connector.OffsetRange{Partition: part("d", 0), From: 0, Until: 20}); err != nil {
		t.Fatal(err)
	}
	st := lenient.Stats()
	if st.LostRecords != 60 || st.LostByPartition[part("d", 0)] != 60 {
		t.Fatalf("stats %+v", st)
	}
	// Earliest now starts after the deleted records.
	e, err := lenient.EarliestOffsets(ctx, []connector.Partition{part("d", 0)})
	if err != nil || e[part("d", 0)] != 50 {
		t.Fatal(e, err)
	}
}

func TestRecreatedTopic(t *testing.T) {
	addrs := newCluster(t, 1, "re")
	produce(t, addrs, "re", 0, 10, 1)
	ctx := testCtx(t)
	strict := newSource(t, addrs, Subscribe("re"))
	lenient := newSource(t, addrs, Subscribe("re"), FailOnDataLoss(false))
	for _, s := range []*Source{strict, lenient} {
		if _, err := s.LatestOffsets(ctx); err != nil { // caches the old topic id
			t.Fatal(err)
		}
	}
	adm := admin(t, addrs)
	if _, err := adm.DeleteTopics(ctx, "re"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "re"); err != nil {
		t.Fatal(err)
	}
	produce(t, addrs, "re", 0, 2, 1)
	r := connector.OffsetRange{Partition: part("re", 0), From: 5, Until: 10}
	_, err := readAll(t, strict, r)
	var dl *DataLossError
	if !errors.As(err, &dl) || dl.LostFrom != 5 || dl.LostUntil != 10 || dl.AvailableUntil != 2 {
		t.Fatalf("recreated topic: %v", err)
	}
	if recs, err := readAll(t, lenient, r); err != nil || len(recs) != 0 || lenient.Stats().LostRecords != 5 {
		t.Fatalf("lenient: %v %v %+v", recs, err, lenient.Stats())
	}
	// Planning from the old offsets: strict fails, lenient restarts at 0.
	old := connector.Offsets{part("re", 0): 10}
	if _, _, _, err := connector.PlanBatch(ctx, strict, old, connector.Limits{}); !errors.Is(err, connector.ErrOffsetsRegressed) {
		t.Fatalf("strict plan: %v", err)
	}
	ranges, _, _, err := connector.PlanBatch(ctx, lenient, old, connector.Limits{})
	if err != nil || len(ranges) != 1 || ranges[0].From != 0 || ranges[0].Until != 2 {
		t.Fatalf("lenient plan: %v %v", ranges, err)
	}
}

func TestBrokerUnreachable(t *testing.T) {
	ctx := testCtx(t)
	t0 := time.Now()
	_, err := NewSource(ctx, Brokers("127.0.0.1:1"), Subscribe("x"), APITimeout(300*time.Millisecond))
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("want ErrUnavailable naming the broker, got %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("took %v with a 300ms timeout", d)
	}
	// A broker that accepts connections but never answers: the API timeout
	// decides.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	t0 = time.Now()
	_, err = NewSource(ctx, Brokers(ln.Addr().String()), Subscribe("x"), APITimeout(400*time.Millisecond))
	if d := time.Since(t0); !errors.Is(err, ErrUnavailable) || d < 400*time.Millisecond || d > 5*time.Second {
		t.Fatalf("silent broker: after %v: %v", d, err)
	}
	// Cancellation is not reported as unavailability.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NewSource(cctx, Brokers("127.0.0.1:1"), Subscribe("x")); errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestBrokerLostDuringRun(t *testing.T) {
	// A cluster of its own, closed in the middle.
	c := newKfake(t, 1, "gone")
	addrs := c.ListenAddrs()
	produce(t, addrs, "gone", 0, 10, 1)
	s := newSource(t, addrs, Subscribe("gone"), APITimeout(500*time.Millisecond))
	ctx := testCtx(t)
	if _, err := s.LatestOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	_, err := readAll(t, s, connector.OffsetRange{Partition: part("gone", 0), From: 0, Until: 10})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "gone-0[0,10)") {
		t.Fatalf("read with the broker gone: %v", err)
	}
	if _, err := s.LatestOffsets(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("LatestOffsets: %v", err)
	}
	if st := s.Stats(); st.RecordsRead != 0 {
		t.Fatalf("records read %d", st.RecordsRead)
	}
}

func TestCommitToGroup(t *testing.T) {
	addrs := newCluster(t, 2, "c")
	s := newSource(t, addrs, Subscribe("c"), GroupID("monitor"))
	ctx := testCtx(t)
	if err := s.Commit(ctx, connector.Offsets{part("c", 0): 3, part("c", 1): 7}); err != nil {
		t.Fatal(err)
	}
	got, err := admin(t, addrs).FetchOffsets(ctx, "monitor")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := got.Lookup("c", 1); o.At != 7 {
		t.Fatalf("committed %+v", got)
	}
	if err := newSource(t, addrs, Subscribe("c")).Commit(ctx, connector.Offsets{part("c", 0): 1}); err != nil {
		t.Fatal("commit without group", err)
	}
}

func TestReadTransactionalTopic(t *testing.T) {
	addrs := newCluster(t, 1, "tx")
	ctx := testCtx(t)
	txn := newClient(t, addrs, kgo.TransactionalID("upstream"), kgo.DefaultProduceTopic("tx"))
	write := func(commit bool, vals ...string) {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if err := txn.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	write(true, "a", "b")
	write(false, "x", "y")
	write(true, "c")
	for _, rc := range []bool{false, true} {
		s := newSource(t, addrs, Subscribe("tx"), StartingOffsets(Earliest()), ReadCommitted(rc))
		start, _ := s.InitialOffsets(ctx)
		ranges, _, _, err := connector.PlanBatch(ctx, s, start, connector.Limits{})
		if err != nil || len(ranges) != 1 {
			t.Fatal(ranges, err)
		}
		recs, err := readAll(t, s, ranges[0]) // ends on a commit marker: must not wait for it
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		for _, r := range recs {
			vals = append(vals, string(r.Value))
		}
		want := "a,b,x,y,c"
		if rc {
			want = "a,b,c"
		}
		if strings.Join(vals, ",") != want {
			t.Fatalf("read_committed=%v: %v (range %v)", rc, vals, ranges[0])
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	ctx := testCtx(t)
	if _, err := NewSource(ctx, Subscribe("x")); !errors.Is(err, ErrConfig) {
		t.Errorf("no brokers: %v", err)
	}
	if _, err := NewSource(ctx, Brokers("h:1"), Subscribe("x"), Assign(part("y", 0))); !errors.Is(err, ErrConfig) {
		t.Errorf("two strategies: %v", err)
	}
	if _, err := NewSource(ctx, Brokers("h:1"), SubscribePattern("(")); !errors.Is(err, ErrConfig) {
		t.Errorf("bad pattern: %v", err)
	}
	if _, err := NewSource(ctx, Brokers("h:1"), Subscribe("x"), EndingOffsets(Earliest())); !errors.Is(err, ErrConfig) {
		t.Errorf("earliest end: %v", err)
	}
}

func TestLeaderMove(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(1, "m"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	produce(t, addrs, "m", 0, 100, 1)
	s := newSource(t, addrs, Subscribe("m"))
	if _, err := s.LatestOffsets(testCtx(t)); err != nil { // caches the leader
		t.Fatal(err)
	}
	old := c.LeaderFor("m", 0)
	if err := c.MoveTopicPartition("m", 0, (old+1)%3); err != nil {
		t.Fatal(err)
	}
	recs, err := readAll(t, s, connector.OffsetRange{Partition: part("m", 0), From: 0, Until: 100})
	if err != nil || len(recs) != 100 {
		t.Fatalf("after the leader moved from %d: %d records, %v", old, len(recs), err)
	}
}

func TestReadCancelled(t *testing.T) {
	addrs := newCluster(t, 1, "big")
	produce(t, addrs, "big", 0, 20000, 1)
	s := newSource(t, addrs, Subscribe("big"))
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	batches := 0
	err := s.Read(ctx, connector.OffsetRange{Partition: part("big", 0), From: 0, Until: 20000}, func(recs []Record) error {
		if len(recs) > 1024 {
			t.Errorf("emit got %d records", len(recs))
		}
		batches++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || batches != 1 {
		t.Fatalf("after cancel: %v, %d batches", err, batches)
	}
}

func TestReadCompressedMidBatch(t *testing.T) {
	for _, codec := range []kgo.CompressionCodec{kgo.ZstdCompression(), kgo.Lz4Compression(), kgo.SnappyCompression(), kgo.GzipCompression()} {
		addrs := newCluster(t, 1, "z")
		cl := newClient(t, addrs, kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic("z"))
		ctx := testCtx(t)
		var rs []*kgo.Record
		for i := range 50 {
			rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil { // one batch
			t.Fatal(err)
		}
		s := newSource(t, addrs, Subscribe("z"))
		recs, err := readAll(t, s, connector.OffsetRange{Partition: part("z", 0), From: 13, Until: 21})
		if err != nil || len(recs) != 8 || string(recs[0].Value) != "v13" || recs[7].Offset != 20 {
			t.Fatalf("%v: %d records, %v", codec, len(recs), err)
		}
	}
}
