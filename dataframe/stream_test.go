package dataframe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/clock"
	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/streaming"
)

// streamSession returns a session on a manual clock with a checked
// allocator.
func streamSession(t *testing.T) (*Session, *clock.Manual) {
	t.Helper()
	m := clock.NewManual(time.Unix(1_700_000_000, 0))
	ec, err := engine.New(engine.Slots(2), engine.WithClock(m))
	if err != nil {
		t.Fatal(err)
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() {
		ec.Close()
		alloc.AssertSize(t, 0)
	})
	s, err := NewSession(ec, WithAllocator(alloc), ShufflePartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func streamCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRateToMemoryTable runs readStream.format("rate") → filter → project
// → writeStream.format("memory") and queries the table with batch
// operations, as in Spark's quick example.
func TestRateToMemoryTable(t *testing.T) {
	s, m := streamSession(t)
	ctx := streamCtx(t)
	rate := s.ReadStream().Format("rate").Option("rowsPerSecond", "10").Option("numPartitions", "2").Load()
	if !rate.IsStreaming() {
		t.Fatal("a rate DataFrame is not streaming")
	}
	if _, err := rate.Count(ctx); !errors.Is(err, streaming.ErrStreamingSource) {
		t.Errorf("Count on a streaming DataFrame = %v, want ErrStreamingSource", err)
	}
	evens := rate.Where(Col("value").Mod(2).EqualTo(0)).Select(Col("value"), Col("value").Multiply(10).As("tens"))
	q, err := evens.WriteStream().Format("memory").QueryName("evens").Option("checkpointLocation", t.TempDir()).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Advance(3 * time.Second) // 30 rows due
	if err := q.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := s.Table("evens").Count(ctx)
	if err != nil || n != 15 {
		t.Fatalf("table evens has %d rows (%v), want the 15 even values of 0..29", n, err)
	}
	rows, err := s.Table("evens").Where(Col("value").Gt(25)).Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][1] != int64(260) && rows[1][1] != int64(260) {
		t.Errorf("values > 25: %v", rows)
	}
	if active := s.Streams().Active(); len(active) != 1 || active[0] != q {
		t.Errorf("active queries = %v", active)
	}
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if p := q.LastProgress(); p == nil || p.Name != "evens" || p.Sink.NumOutputRows == 0 {
		t.Errorf("last progress = %+v", p)
	}
	streamSinkRelease(t, s)
}

// streamSinkRelease drops the memory table so its rows are released
// before the allocator check.
func streamSinkRelease(t *testing.T, s *Session) {
	t.Helper()
	s.DropTempView("evens")
}

func TestConsoleAndForeachBatchSinks(t *testing.T) {
	s, m := streamSession(t)
	ctx := streamCtx(t)
	var out bytes.Buffer
	rate := s.ReadStream().Format("rate").Option("rowsPerSecond", "2").Load()
	q, err := rate.Select(Col("value")).WriteStream().Console(&out).Trigger(streaming.ProcessingTime(time.Second)).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Advance(2 * time.Second)
	if err := q.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	q.Stop(ctx)
	if got := out.String(); !strings.Contains(got, "Batch: 0\n") || !strings.Contains(got, "|value|") || !strings.Contains(got, "|    3|") {
		t.Errorf("console output:\n%s", got)
	}

	var total int64
	q2, err := s.ReadStream().Format("rate").Option("rowsPerSecond", "4").Load().WriteStream().
		ForeachBatch(func(ctx context.Context, batch *DataFrame, id int64) error {
			rows, err := batch.Agg(Sum(Col("value")).As("s")).Collect(ctx)
			if err != nil {
				return err
			}
			total += rows[0][0].(int64)
			return nil
		}).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Advance(time.Second) // values 0..3
	if err := q2.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	q2.Stop(ctx)
	if total != 6 {
		t.Errorf("foreachBatch summed %d, want 0+1+2+3", total)
	}
}

func TestWriteStreamErrors(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	rate := s.ReadStream().Format("rate").Load()
	for _, tc := range []struct {
		w    *DataStreamWriter
		want string
	}{
		{rate.WriteStream(), "set exactly one sink"},
		{rate.WriteStream().Format("memory"), "needs QueryName"},
		{rate.WriteStream().Format("delta"), `unsupported format "delta"`},
		{rate.WriteStream().Format("kafka"), `option "kafka.bootstrap.servers" is required`},
		{rate.WriteStream().Format("json"), `the json sink needs Option("path", dir)`},
		{rate.WriteStream().Format("console").Option("bogus", "1"), `unknown option "bogus"`},
		{rate.WriteStream().Format("console").OutputMode("complete"), "complete output mode needs an aggregation"},
		{rate.GroupBy(Col("value")).Count().WriteStream().Format("console"), "append output mode with an aggregation needs a watermark"},
		{CreateDataFrame(s, []struct{ A int }{{1}}).WriteStream().Format("console"), "use Write for batch DataFrames"},
	} {
		if _, err := tc.w.Start(ctx); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start = %v, want %q", err, tc.want)
		}
	}
	if err := s.ReadStream().Format("delta").Load().Err(); err == nil || !strings.Contains(err.Error(), "supported: csv, json, kafka, parquet, rate, rate-micro-batch, socket, text") {
		t.Errorf("unsupported format: %v", err)
	}
	if err := s.ReadStream().Format("rate").Option("rowsPerSecond", "-1").Load().Err(); err == nil {
		t.Error("a negative rate was accepted")
	}
}

// TestStreamingGroupByCount is the streaming aggregation through the
// DataFrame API: rate → GroupBy(value % 3).Count() → memory, complete mode.
func TestStreamingGroupByCount(t *testing.T) {
	s, m := streamSession(t)
	ctx := streamCtx(t)
	counts := s.ReadStream().Format("rate").Option("rowsPerSecond", "10").Load().
		GroupBy(Col("value").Mod(3).As("bucket")).Count()
	q, err := counts.WriteStream().Format("memory").QueryName("buckets").OutputMode("complete").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("buckets")
	for range 3 {
		m.Advance(time.Second)
		if err := q.ProcessAllAvailable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	q.Stop(ctx)
	// In complete mode the memory table holds the latest result: the 30
	// values 0..29, 10 per bucket.
	p := q.LastProgress()
	if p == nil || p.BatchID != 2 {
		t.Fatalf("last progress = %+v", p)
	}
	rows, err := s.Table("buckets").Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("table has %d rows, want the 3 buckets: %v", len(rows), rows)
	}
	for _, r := range rows {
		if r[1] != int64(10) {
			t.Errorf("last batch: bucket %v counted %v, want 10", r[0], r[1])
		}
	}
}

// TestWindowedCountWithWatermark is event-time processing: 10 s tumbling
// windows, a 5 s watermark delay, append mode. A window is written once,
// when the watermark passes its end; a row older than the watermark is
// dropped.
func TestWindowedCountWithWatermark(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: expr.TimestampType}, {Name: "word", Type: arrow.BinaryTypes.String}}, nil)
	in := streaming.NewMemoryStream(schema, "words")
	defer in.Close()
	base := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	add := func(rows ...any) {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for i := 0; i < len(rows); i += 2 {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(rows[i].(time.Duration)).UnixMicro()))
			b.Field(1).(*array.StringBuilder).Append(rows[i+1].(string))
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		if _, err := in.AddBatches(rec); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	counts := s.StreamFrom(in).WithWatermark("ts", 5*time.Second).GroupBy(Window(Col("ts"), 10*time.Second)).Count()
	q, err := counts.WriteStream().OutputMode("append").Option("checkpointLocation", t.TempDir()).
		ForeachBatch(func(ctx context.Context, batch *DataFrame, id int64) error {
			rows, err := batch.Collect(ctx)
			for _, r := range rows {
				out = append(out, fmt.Sprintf("batch %d: %s-%s %d", id, r[0].(time.Time).Format("04:05"), r[1].(time.Time).Format("04:05"), r[2]))
			}
			return err
		}).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	step := func() {
		if err := q.ProcessAllAvailable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	add(3*time.Second, "a", 7*time.Second, "b", 12*time.Second, "a") // watermark after: 00:07
	step()
	add(16*time.Second, "a", 4*time.Second, "late") // 00:04 < 00:07: dropped; watermark after: 00:11
	step()
	add(26*time.Second, "a") // watermark after: 00:21
	step()
	q.Stop(ctx)
	want := []string{"batch 1: 00:00-00:10 2", "batch 2: 00:10-00:20 2"}
	if !slices.Equal(out, want) {
		t.Errorf("append output = %q, want %q", out, want)
	}
	if p := q.LastProgress(); p == nil || p.EventTime["watermark"] != "2026-11-24T12:00:21Z" || p.StateOperators[0].NumRowsTotal != 1 ||
		p.EventTime["min"] != "2026-11-24T12:00:26Z" || p.EventTime["max"] != "2026-11-24T12:00:26Z" || p.EventTime["avg"] != "2026-11-24T12:00:26Z" {
		t.Errorf("last progress = %+v", p)
	}
	// The second batch: event times 00:04 and 00:16, the first dropped as
	// late.
	if ps := q.RecentProgress(); len(ps) < 3 || ps[1].EventTime["min"] != "2026-11-24T12:00:04Z" || ps[1].EventTime["avg"] != "2026-11-24T12:00:10Z" ||
		ps[1].StateOperators[0].NumRowsDroppedByWatermark != 1 || ps[2].StateOperators[0].NumRowsDroppedByWatermark != 0 {
		t.Errorf("progress = %+v", ps)
	}
}

// TestStreamStaticJoin joins a stream with a static DataFrame (the
// campaigns of the ad events), and rejects a stream on the right of a
// left outer join.
func TestStreamStaticJoin(t *testing.T) {
	s, m := streamSession(t)
	ctx := streamCtx(t)
	type campaign struct {
		Ad       int64  `spate:"ad"`
		Campaign string `spate:"campaign"`
	}
	static := CreateDataFrame(s, []campaign{{0, "red"}, {1, "blue"}, {2, "red"}})
	ads := s.ReadStream().Format("rate").Option("rowsPerSecond", "6").Load().Select(Col("value").Mod(4).As("ad"))
	joined := ads.JoinUsing(static, []string{"ad"}, "inner")
	q, err := joined.GroupBy(Col("campaign")).Count().WriteStream().Format("memory").QueryName("per_campaign").OutputMode("complete").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("per_campaign")
	m.Advance(2 * time.Second) // values 0..11: ads 0,1,2,3 three times each; ad 3 has no campaign
	if err := q.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	q.Stop(ctx)
	rows, err := s.Table("per_campaign").OrderBy(Col("campaign")).Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "blue" || rows[0][1] != int64(3) || rows[1][0] != "red" || rows[1][1] != int64(6) {
		t.Errorf("per campaign = %v, want [[blue 3] [red 6]]", rows)
	}
	_, err = static.JoinUsing(ads, []string{"ad"}, "left").WriteStream().Format("console").Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "stream on the right") {
		t.Errorf("stream on the right of a left join: %v", err)
	}
}

type rowWriter struct {
	opened []int64
	rows   []Row
	closed []error
	skip   int64
}

func (w *rowWriter) Open(_ context.Context, id int64) (bool, error) {
	w.opened = append(w.opened, id)
	return id != w.skip, nil
}
func (w *rowWriter) Process(_ context.Context, r Row) error { w.rows = append(w.rows, r); return nil }
func (w *rowWriter) Close(err error) error                  { w.closed = append(w.closed, err); return nil }

func TestForeachWriter(t *testing.T) {
	s, m := streamSession(t)
	ctx := streamCtx(t)
	w := &rowWriter{skip: 1}
	q, err := s.ReadStream().Format("rate").Option("rowsPerSecond", "3").Load().Select(Col("value")).
		WriteStream().Foreach(w).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Advance(time.Second)
	q.ProcessAllAvailable(ctx)
	m.Advance(time.Second)
	q.ProcessAllAvailable(ctx)
	q.Stop(ctx)
	if !slices.Equal(w.opened, []int64{0, 1}) || len(w.rows) != 3 || len(w.closed) != 1 || w.closed[0] != nil {
		t.Errorf("opened %v, rows %v, closed %v; want batches 0 and 1 opened, batch 1 skipped", w.opened, w.rows, w.closed)
	}
}

func TestSocketSource(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	port, accepted := lineServer(t, ctx)
	words := s.ReadStream().Format("socket").Option("host", "127.0.0.1").Option("port", strconv.Itoa(port)).Load()
	q, err := words.GroupBy(Col("value")).Count().WriteStream().Format("memory").QueryName("words").OutputMode("complete").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("words")
	c := accepted()
	fmt.Fprint(c, "to\nbe\nor\nnot\nto\nbe\n")
	c.Close()
	// Wait until the lines are in (the source reads them asynchronously).
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := q.ProcessAllAvailable(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Table("words").Count(ctx); n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the socket's lines did not arrive")
		}
		time.Sleep(10 * time.Millisecond) // polling the network reader, with a deadline
	}
	q.Stop(ctx)
	rows, err := s.Table("words").Where(Col("value").EqualTo("to")).Collect(ctx)
	if err != nil || len(rows) != 1 || rows[0][1] != int64(2) {
		t.Errorf("count of to = %v, %v", rows, err)
	}
	if err := s.ReadStream().Format("socket").Option("host", "127.0.0.1").Load().Err(); err == nil {
		t.Error("a socket source without a port was accepted")
	}
}

func TestRateMicroBatchFormat(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	var sums []int64
	q, err := s.ReadStream().Format("rate-micro-batch").Option("rowsPerBatch", "4").Option("numPartitions", "2").Load().
		Agg(Sum(Col("value")).As("s")).WriteStream().OutputMode("complete").
		ForeachBatch(func(ctx context.Context, b *DataFrame, id int64) error {
			rows, err := b.Collect(ctx)
			if err != nil {
				return err
			}
			sums = append(sums, rows[0][0].(int64))
			if len(sums) == 3 {
				return errors.New("enough")
			}
			return nil
		}).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q.AwaitTermination(ctx)
	if want := []int64{6, 28, 66}; !slices.Equal(sums, want) { // running sums of 0..3, 0..7, 0..11
		t.Errorf("running sums = %v, want %v", sums, want)
	}
}

// Session.Close stops the active queries and closes the connections of
// the sources ReadStream opened (the socket server sees its end); a
// MemoryStream given to StreamFrom stays usable.
func TestSessionCloseStopsQueriesAndClosesSources(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	port, accepted := lineServer(t, ctx)
	lines := s.ReadStream().Format("socket").Option("host", "127.0.0.1").Option("port", strconv.Itoa(port)).Load()
	q, err := lines.WriteStream().Format("memory").QueryName("lines").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("lines")
	mem := streaming.NewMemoryStream(arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil), "mem")
	defer mem.Close()
	c := accepted()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if q.IsActive() {
		t.Error("the query is still active after Session.Close")
	}
	// The source's connection is closed: the server's read ends.
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("server read = %d, %v; want EOF (the source closed its connection)", n, err)
	}
	if err := s.ReadStream().Format("rate").Option("rowsPerSecond", "1").Load().Err(); err == nil || !strings.Contains(err.Error(), "session is closed") {
		t.Errorf("ReadStream after Close: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if s.StreamFrom(mem).Err() != nil {
		t.Error("StreamFrom of a caller's source fails after Close")
	}
}
