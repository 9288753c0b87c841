package dataframe_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/sql"
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
