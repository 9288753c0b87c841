package dataframe_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/sql"
	"github.com/spate-io/spate/streaming"
)

type sqlSale struct {
	Region string `spate:"region"`
	Amount int64  `spate:"amount"`
}

// skipWithoutCgo skips SQL tests in a build without cgo, where package
// sql cannot parse (sql.ErrNoCgo).
func skipWithoutCgo(t *testing.T, s *Session) {
	t.Helper()
	if errors.Is(s.SQL("SELECT 1").Err(), sql.ErrNoCgo) {
		if os.Getenv("SPATE_INTEGRATION") != "" {
			t.Fatal("SQL needs cgo (a C compiler), and SPATE_INTEGRATION is set")
		}
		t.Skip("SQL needs a build with cgo (CGO_ENABLED=1 and a C compiler)")
	}
}

func TestSessionSQL(t *testing.T) {
	s, _ := streamSession(t)
	skipWithoutCgo(t, s)
	ctx := streamCtx(t)
	if err := CreateDataFrame(s, []sqlSale{{"eu", 10}, {"us", 5}, {"eu", 7}}).CreateOrReplaceTempView("sales"); err != nil {
		t.Fatal(err)
	}
	rows, err := s.SQL("SELECT region, sum(amount) AS total FROM sales WHERE amount > 6 GROUP BY region ORDER BY region").Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0][0] != "eu" || rows[0][1] != int64(17) {
		t.Errorf("rows = %v, want [[eu 17]]", rows)
	}
	got, err := s.Table("sales").SelectExpr("*", "amount * 2 AS double").WhereExpr("region = 'us'").Collect(ctx)
	if err != nil || len(got) != 1 || got[0][2] != int64(10) {
		t.Errorf("SelectExpr/WhereExpr = %v, %v", got, err)
	}
	ex, err := s.SQL("EXPLAIN SELECT region FROM sales WHERE amount > 6").Collect(ctx)
	if err != nil || len(ex) != 1 || !strings.Contains(ex[0][0].(string), "Filter") {
		t.Errorf("EXPLAIN = %v, %v", ex, err)
	}
	err = s.SQL("SELECT regoin FROM sales").Err()
	var se *sql.Error
	if !errors.As(err, &se) || se.Line != 1 || !strings.Contains(err.Error(), "region") {
		t.Errorf("unknown column: %v", err)
	}
}

// TestStreamingSQL runs SQL over a streaming view: the result is a
// streaming DataFrame, written with WriteStream.
func TestStreamingSQL(t *testing.T) {
	s, m := streamSession(t)
	skipWithoutCgo(t, s)
	ctx := streamCtx(t)
	if err := s.ReadStream().Format("rate").Option("rowsPerSecond", "10").Load().CreateOrReplaceTempView("ticks"); err != nil {
		t.Fatal(err)
	}
	df := s.SQL("SELECT value % 2 AS parity, count(*) AS n FROM ticks GROUP BY value % 2")
	if !df.IsStreaming() {
		t.Fatalf("SQL over a streaming view is not streaming (err %v)", df.Err())
	}
	q, err := df.WriteStream().Format("memory").QueryName("parities").OutputMode("complete").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("parities")
	m.Advance(2 * time.Second)
	if err := q.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	q.Stop(ctx)
	rows, err := s.SQL("SELECT parity, n FROM parities ORDER BY parity").Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][1] != int64(10) || rows[1][1] != int64(10) {
		t.Errorf("parities = %v, want 10 even and 10 odd", rows)
	}
}

// TestStreamingSQLSessionWindows runs session_window over a streaming
// view in append mode: a session is written once, when the watermark
// passes its end, with session_end in the SELECT list; a later event
// extends an open session.
func TestStreamingSQLSessionWindows(t *testing.T) {
	s, _ := streamSession(t)
	skipWithoutCgo(t, s)
	ctx := streamCtx(t)
	type click struct {
		user string
		sec  int
	}
	at := func(sec int) time.Time { return time.Unix(int64(sec), 0).UTC() }
	schema := arrow.NewSchema([]arrow.Field{{Name: "who", Type: arrow.BinaryTypes.String}, {Name: "ts", Type: expr.TimestampType}}, nil)
	in := streaming.NewMemoryStream(schema, "clicks")
	defer in.Close()
	if err := s.StreamFrom(in).WithWatermark("ts", 5*time.Second).CreateOrReplaceTempView("clicks"); err != nil {
		t.Fatal(err)
	}
	df := s.SQL(`SELECT who, session_window(ts, '10 seconds') AS visit_start, session_end(ts, '10 seconds') AS visit_end, count(*) AS clicks
		FROM clicks GROUP BY who, session_window(ts, '10 seconds')`)
	q, err := df.WriteStream().Format("memory").QueryName("visits").OutputMode("append").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.DropTempView("visits")
	for _, batch := range [][]click{
		{{"ann", 0}, {"bob", 3}, {"ann", 8}}, // watermark 3
		{{"ann", 16}},                        // extends ann's [0,18) to [0,26); watermark 11
		{{"bob", 40}},                        // watermark 35: both sessions are final
	} {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for _, c := range batch {
			b.Field(0).(*array.StringBuilder).Append(c.user)
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at(c.sec).UnixMicro()))
		}
		rec := b.NewRecordBatch()
		b.Release()
		_, err := in.AddBatches(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if err := q.ProcessAllAvailable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	q.Stop(ctx)
	rows, err := s.SQL("SELECT * FROM visits ORDER BY who").Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "ann" || !rows[0][1].(time.Time).Equal(at(0)) || !rows[0][2].(time.Time).Equal(at(26)) || rows[0][3] != int64(3) ||
		rows[1][0] != "bob" || !rows[1][2].(time.Time).Equal(at(13)) || rows[1][3] != int64(1) {
		t.Errorf("visits = %v", rows)
	}
}
