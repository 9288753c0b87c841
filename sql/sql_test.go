package sql

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

func TestErrorPositions(t *testing.T) {
	cat := testCatalog(t)
	tests := []struct {
		query     string
		line, col int
		is        error
		msg       string
	}{
		{"SELECT device FROM evnts", 1, 20, ErrNoSuchTable, "did you mean `events`"},
		{"SELECT\n  device,\n  sigal\nFROM events", 3, 3, nil, "did you mean `signal`"},
		{"SELECT device FROM events WHERE", 1, 32, ErrSyntax, "syntax error at end of input"},
		{"SELECT device FROM events\nWHERE signal >> 1 AND", 2, 22, ErrSyntax, "syntax error"},
		{"SELECT 'héllo', sigal FROM events", 1, 17, nil, "unknown column `sigal`"},
		{"SELECT 'éé', device FORM events", 1, 26, ErrSyntax, `at or near "events"`},
		{"SELECT * FROM events\n\tWHERE x = 1", 2, 8, nil, "unknown column `x`"},
		{"SELECT lenght(device) FROM events", 1, 8, ErrNoSuchFunction, "did you mean `length`"},
		{"SELECT device FROM events e JOIN devices d ON e.device = d.device WHERE device = 'x'", 1, 73, nil, "ambiguous"},
		{"DELETE FROM events", 1, 1, ErrUnsupported, "only queries"},
		{"SELECT device FROM events OFFSET 1", 1, 34, ErrUnsupported, "OFFSET"},
		{"SELECT device, count(*) FROM events", 1, 8, ErrInvalid, "GROUP BY"},
		{"SELECT session_window(ts, '1 minute') FROM events", 1, 8, ErrInvalid, "use session_window(ts, gap) in GROUP BY"},
		{"SELECT window(ts, '1 minute', '10 seconds') FROM events", 1, 8, ErrInvalid, "use it in GROUP BY"},
		{"SELECT device FROM events WHERE sum(signal) > 1", 1, 33, ErrInvalid, "HAVING"},
		{"", 0, 0, ErrSyntax, "empty query"},
		{"   -- only a comment", 0, 0, ErrSyntax, "empty query"},
		{"SELECT 'a\x00b'", 1, 10, ErrSyntax, "NUL"},
	}
	for _, tt := range tests {
		_, err := Plan(context.Background(), tt.query, cat)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v is not a *sql.Error", tt.query, err)
			continue
		}
		if se.Line != tt.line || se.Column != tt.col {
			t.Errorf("%q: at %d:%d, want %d:%d\n%v", tt.query, se.Line, se.Column, tt.line, tt.col, err)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%q: %v does not wrap %v", tt.query, err, tt.is)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: %v does not say %q", tt.query, err, tt.msg)
		}
		if se.Line > 0 && !strings.Contains(se.Excerpt, "^") {
			t.Errorf("%q: excerpt without caret: %q", tt.query, se.Excerpt)
		}
	}
}

func TestErrorTypes(t *testing.T) {
	cat := testCatalog(t)
	_, err := Plan(context.Background(), "SELECT sigal FROM events", cat)
	var nf *expr.ColumnNotFoundError
	if !errors.As(err, &nf) || nf.Name != "sigal" || len(nf.Available) != 4 {
		t.Errorf("unknown column: %v (%#v)", err, nf)
	}
	_, err = Plan(context.Background(), "SELECT device FROM events e JOIN devices d ON e.device = d.device", cat)
	var amb *expr.AmbiguousColumnError
	if !errors.As(err, &amb) || amb.Name != "device" {
		t.Errorf("ambiguous column: %v", err)
	}
	_, err = Plan(context.Background(), "SELECT device + 1 FROM events", cat)
	if !errors.Is(err, expr.ErrType) {
		t.Errorf("type error %v does not wrap expr.ErrType", err)
	}
	_, err = Plan(context.Background(), "SELECT device, kind FROM events UNION SELECT device FROM devices", cat)
	if !errors.Is(err, plan.ErrPlan) {
		t.Errorf("union error %v does not wrap plan.ErrPlan", err)
	}
}

func TestPlanCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Plan(ctx, "SELECT 1", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestNilCatalog(t *testing.T) {
	if _, err := Plan(context.Background(), "SELECT 1 AS one", nil); err != nil {
		t.Fatal(err)
	}
	_, err := Plan(context.Background(), "SELECT * FROM t", nil)
	if !errors.Is(err, ErrNoSuchTable) || !strings.Contains(err.Error(), "(tables: (none))") {
		t.Errorf("got %v", err)
	}
}

func TestParseExpr(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "device", Type: arrow.BinaryTypes.String},
		{Name: "signal", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "deviceType", Type: arrow.BinaryTypes.String},
	}, nil)
	tests := []struct{ in, want string }{
		{"signal * 2 + 1", "((signal * 2) + 1)"},
		{"upper(device) AS d", "upper(device) AS d"},
		{"count(DISTINCT device)", "count(DISTINCT device)"},
		{"devicetype = 'x'", "(deviceType = 'x')"},
		{`"deviceType" LIKE 'a%'`, "like(deviceType, 'a%')"},
		{"CASE WHEN signal IS NULL THEN 0 ELSE signal END", "CASE WHEN (signal IS NULL) THEN 0 ELSE signal END"},
		// Spark's CAST between numbers and timestamps (seconds), chosen
		// from the schema's types.
		{"CAST(signal AS TIMESTAMP)", "timestamp_seconds(signal)"},
		{"max(CAST(signal AS TIMESTAMP))", "max(timestamp_seconds(signal))"},
		{"CAST(CAST(signal AS TIMESTAMP) AS INT)", "CAST(unix_seconds(timestamp_seconds(signal)) AS int32)"},
		{"CAST(device AS TIMESTAMP)", "CAST(device AS timestamp[us, tz=UTC])"},
		{"unix_millis(timestamp_millis(CAST(signal AS BIGINT)))", "unix_millis(timestamp_millis(CAST(signal AS int64)))"},
	}
	for _, tt := range tests {
		e, err := ParseExpr(tt.in, s)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if e.String() != tt.want {
			t.Errorf("%q: got %s, want %s", tt.in, e, tt.want)
		}
	}
	errs := []struct {
		in       string
		col      int
		contains string
	}{
		{"sigal + 1", 1, "did you mean `signal`"},
		{"signal +", 9, "syntax error"},
		{"a, b", 0, "one expression"},
		{"signal FROM t", 0, "one expression"},
		{"*", 1, "not an expression"},
		{"device + 1", 1, "type mismatch"},
	}
	for _, tt := range errs {
		_, err := ParseExpr(tt.in, s)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("%q: %v is not a *sql.Error", tt.in, err)
			continue
		}
		if se.Column != tt.col || !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("%q: got column %d and %v; want column %d and %q", tt.in, se.Column, err, tt.col, tt.contains)
		}
	}
}

func TestWithFunction(t *testing.T) {
	double := func(args []expr.Expr) (expr.Expr, error) {
		if len(args) != 1 {
			return nil, errors.New("takes one argument")
		}
		return expr.Mul(args[0], expr.Lit(2)), nil
	}
	n, err := Plan(context.Background(), "SELECT twice(signal) AS t FROM events", testCatalog(t), WithFunction("TWICE", double))
	if err != nil {
		t.Fatal(err)
	}
	if got := n.(*plan.Project).Exprs[0].String(); got != "(signal * 2) AS t" {
		t.Errorf("got %s", got)
	}
	_, err = Plan(context.Background(), "SELECT twice(signal, 1) FROM events", testCatalog(t), WithFunction("twice", double))
	if err == nil || !strings.Contains(err.Error(), "twice: takes one argument") {
		t.Errorf("got %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"10 seconds", "10s"}, {"1 minute", "1m0s"}, {"1 hour 30 minutes", "1h30m0s"}, {"500 ms", "500ms"},
		{"2 days", "48h0m0s"}, {"10s", "10s"}, {"5m", "5m0s"}, {"1 week", "168h0m0s"}, {"1.5 seconds", "1.5s"},
	}
	for _, tt := range tests {
		d, err := parseDuration(tt.in, 0)
		if err != nil || d.String() != tt.want {
			t.Errorf("%q: got %v, %v; want %s", tt.in, d, err, tt.want)
		}
	}
	for _, bad := range []string{"", "ten seconds", "10", "1 month", "0 seconds", "10 lightyears"} {
		if _, err := parseDuration(bad, 0); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzPlan(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, c := range parseGolden(string(data)) {
			f.Add(c.query)
		}
	}
	f.Add("SELECT window(ts, '1 minute'), a FROM t LEFT SEMI JOIN u ON t.a = u.a")
	cat := testCatalog(f)
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Plan(context.Background(), q, cat)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("%q: error %v is not a *sql.Error", q, err)
			}
			_ = err.Error()
			return
		}
		if err := plan.Analyze(n); err != nil {
			t.Fatalf("%q: plan does not analyse: %v", q, err)
		}
		_ = plan.Explain(n)
	})
}

func TestPlanStatementExplain(t *testing.T) {
	cat := testCatalog(t)
	st, err := PlanStatement(context.Background(), "  EXPLAIN SELECT device FROM events WHERE signal > 1", cat)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Explain || !strings.HasPrefix(plan.Explain(st.Plan), "Project [device]") {
		t.Errorf("got explain=%v\n%s", st.Explain, plan.Explain(st.Plan))
	}
	st, err = PlanStatement(context.Background(), "SELECT 1 AS x", cat)
	if err != nil || st.Explain {
		t.Errorf("got %v, %v", st, err)
	}
	_, err = Plan(context.Background(), "\nEXPLAIN SELECT 1", cat)
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, ErrUnsupported) || se.Line != 2 || se.Column != 1 {
		t.Errorf("Plan(EXPLAIN): %v", err)
	}
	if _, err := PlanStatement(context.Background(), "EXPLAIN ANALYZE SELECT 1", cat); !errors.Is(err, ErrUnsupported) {
		t.Errorf("EXPLAIN ANALYZE: %v", err)
	}
}
