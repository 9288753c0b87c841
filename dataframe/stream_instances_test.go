package dataframe_test

import (
	"context"
	"io"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/streaming"
)

// Two queries of one streaming DataFrame from ReadStream run at once,
// each with its own instance of the file source and its own seen-files
// log in its checkpoint (Spark opens a source per query): both read every
// file, a stopped query restarts from its own checkpoint, and the other
// is not disturbed. (With one shared instance the second Start failed:
// the source's log was already in the first query's checkpoint.)
func TestQueriesOfOneStreamHaveTheirOwnSources(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	dir, ckA, ckB := t.TempDir(), t.TempDir(), t.TempDir()
	writeLines(t, dir, "1.json", `{"id": 1, "name": "ada"}`, `{"id": 2, "name": "bob"}`)
	in := s.ReadStream().Format("json").Schema(malformedSchema).Load(dir)
	ids := func(table string) []int64 {
		t.Helper()
		rows, err := s.Table(table).Collect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range rows {
			out = append(out, r[0].(int64))
		}
		slices.Sort(out)
		return out
	}
	qa, err := in.WriteStream().Format("memory").QueryName("all_ids").Option("checkpointLocation", ckA).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("all_ids")
	qb, err := in.Where(Col("id").Gt(int64(1))).WriteStream().Format("memory").QueryName("big_ids").Option("checkpointLocation", ckB).Start(ctx)
	if err != nil {
		t.Fatalf("a second query of the same DataFrame: %v", err)
	}
	defer s.DropTempView("big_ids")
	defer qb.Stop(ctx)
	if err := qa.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := qb.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ids("all_ids"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("query a read %v, want [1 2]", got)
	}
	if got := ids("big_ids"); !slices.Equal(got, []int64{2}) {
		t.Errorf("query b read %v, want [2]", got)
	}
	// Query a stops; a new file reaches b; a restarted from its
	// checkpoint reads only the new file.
	if err := qa.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	writeLines(t, dir, "2.json", `{"id": 3, "name": "cy"}`)
	if err := qb.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ids("big_ids"); !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("query b read %v, want [2 3]", got)
	}
	qa, err = in.WriteStream().Format("memory").QueryName("new_ids").Option("checkpointLocation", ckA).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("new_ids")
	defer qa.Stop(ctx)
	if err := qa.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ids("new_ids"); !slices.Equal(got, []int64{3}) {
		t.Errorf("restarted query a read %v, want [3] (only the file after its checkpoint)", got)
	}
}

// lineServer listens on a loopback port for the tests of the socket
// source and returns the port, and what returns its next accepted
// connection (closed when t ends), failing t once ctx is done.
func lineServer(t *testing.T, ctx context.Context) (int, func() net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 4)
	t.Cleanup(func() { // after the listener's close, below: close what no test took
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, func() net.Conn {
		t.Helper()
		select {
		case c := <-conns:
			t.Cleanup(func() { c.Close() })
			return c
		case <-ctx.Done():
			t.Fatal("the source did not connect")
			return nil
		}
	}
}

// A query closes the source instance it read when it stops (the socket
// server sees its connection end), without Session.Close; the next query
// of the DataFrame connects again.
func TestStoppedQueryClosesItsSource(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	port, accepted := lineServer(t, ctx)
	lines := s.ReadStream().Format("socket").Option("host", "127.0.0.1").Option("port", strconv.Itoa(port)).Load()
	first := accepted() // Load connected; the first query takes that connection
	q, err := lines.WriteStream().Format("memory").QueryName("socket_lines").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("socket_lines")
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := first.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("server read = %d, %v; want EOF (the stopped query closed its source)", n, err)
	}
	q, err = lines.WriteStream().Format("memory").QueryName("socket_lines").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	accepted() // the second query's own connection
}

// A DataFrame used twice in one query (the counts, joined with their
// maximum per window) is one stateful operator, read by both: the query
// has an aggregation for the counts, one for the maxima and the join.
func TestDataFrameUsedTwiceIsOneOperator(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	in := streaming.NewMemoryStream(arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: expr.TimestampType}, {Name: "k", Type: arrow.BinaryTypes.String},
	}, nil), "events")
	defer in.Close()
	counts := s.StreamFrom(in).WithWatermark("ts", time.Second).GroupBy(Window(Col("ts"), 10*time.Second), Col("k")).Count()
	maxes := counts.GroupBy(Col("window_start"), Col("window_end")).Agg(Max(Col("count")).As("top")).
		Select(Col("window_end").As("top_end"), Col("top"))
	hot := counts.Join(maxes, Col("window_end").EqualTo(Col("top_end")).And(Col("count").Geq(Col("top"))), "inner")
	q, err := hot.WriteStream().Format("memory").QueryName("hot").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("hot")
	defer q.Stop(ctx)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, in.Schema())
	rb.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Second.Microseconds()))
	rb.Field(1).(*array.StringBuilder).Append("a")
	b := rb.NewRecordBatch()
	rb.Release()
	_, err = in.AddBatches(b)
	b.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := q.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	if p := q.LastProgress(); p != nil {
		for _, op := range p.StateOperators {
			kinds = append(kinds, op.OperatorName)
		}
	}
	if want := []string{"aggregate-0", "aggregate-1", "join-2"}; !slices.Equal(kinds, want) {
		t.Errorf("stateful operators %v, want %v (the counts once)", kinds, want)
	}
}
