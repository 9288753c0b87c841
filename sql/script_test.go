package sql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/plan"
)

const pipeline = `-- Device signals to Parquet, averaged per device.
CREATE SOURCE events (
    device STRING NOT NULL,
    signal DOUBLE,
    ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '10' SECOND
) WITH (format = 'kafka', topic = 'events', "kafka.bootstrap.servers" = 'localhost:9092', partitions = 4);

CREATE SINK averages WITH (
    format = 'parquet', path = '/tmp/averages', checkpoint = '/tmp/ckpt',
    output_mode = 'append', trigger = '1 second'
);

/* one query per sink */
INSERT INTO averages
SELECT device, avg(signal) AS avg_signal
FROM events
GROUP BY device;

CREATE SOURCE rate WITH (format = 'rate', rows_per_second = 100);
EXPLAIN SELECT * FROM events
`

func TestParseScript(t *testing.T) {
	sts, err := ParseScript(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 5 {
		t.Fatalf("got %d statements", len(sts))
	}
	src := sts[0].(*CreateSource)
	if src.Name != "events" || len(src.Columns) != 3 || src.Line != 2 || src.Column != 1 {
		t.Errorf("source: %+v", src)
	}
	want := []ColumnDef{{"device", arrow.BinaryTypes.String, false}, {"signal", arrow.PrimitiveTypes.Float64, true}}
	for i, w := range want {
		c := src.Columns[i]
		if c.Name != w.Name || !arrow.TypeEqual(c.Type, w.Type) || c.Nullable != w.Nullable {
			t.Errorf("column %d: %+v, want %+v", i, c, w)
		}
	}
	if src.Watermark == nil || src.Watermark.Column != "ts" || src.Watermark.Delay != 10*time.Second {
		t.Errorf("watermark: %+v", src.Watermark)
	}
	if src.Options["format"] != "kafka" || src.Options["kafka.bootstrap.servers"] != "localhost:9092" || src.Options["partitions"] != "4" {
		t.Errorf("options: %v", src.Options)
	}
	sink := sts[1].(*CreateSink)
	if sink.Name != "averages" || sink.Options["trigger"] != "1 second" || len(sink.Options) != 5 {
		t.Errorf("sink: %+v", sink)
	}
	ins := sts[2].(*Insert)
	if ins.Sink != "averages" || ins.Line != 15 {
		t.Errorf("insert: %+v", ins)
	}
	if strings.TrimSpace(ins.Query) != "SELECT device, avg(signal) AS avg_signal\nFROM events\nGROUP BY device" {
		t.Errorf("insert query: %q", strings.TrimSpace(ins.Query))
	}
	rate := sts[3].(*CreateSource)
	if rate.Name != "rate" || len(rate.Columns) != 0 || rate.Options["rows_per_second"] != "100" {
		t.Errorf("rate: %+v", rate)
	}
	if q := sts[4].(*Query); !strings.HasPrefix(strings.TrimSpace(q.Text), "EXPLAIN SELECT") || q.Line != 21 {
		t.Errorf("query: %+v", q)
	}

	// The padded query reports errors at the script's lines.
	schema := arrow.NewSchema([]arrow.Field{{Name: "device", Type: arrow.BinaryTypes.String}, {Name: "signal", Type: arrow.PrimitiveTypes.Float64}}, nil)
	events, _ := plan.NewLocalRelation(schema, nil)
	if _, err := Plan(context.Background(), ins.Query, MapCatalog{"events": events}); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(pipeline, "avg(signal)", "avg(sigal)", 1)
	sts, err = ParseScript(bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Plan(context.Background(), sts[2].(*Insert).Query, MapCatalog{"events": events})
	var se *Error
	if !errors.As(err, &se) || se.Line != 16 || se.Column != 20 || !strings.Contains(se.Excerpt, "SELECT device, avg(sigal)") {
		t.Errorf("got %v", err)
	}
}

func TestParseScriptErrors(t *testing.T) {
	tests := []struct {
		script    string
		line, col int
		contains  string
	}{
		{"CREATE SINK out", 1, 16, "expected WITH"},
		{"CREATE SINK out WITH (path '/x')", 1, 28, "expected option = 'value'"},
		{"CREATE SINK out WITH (a = 1, a = 2)", 1, 30, "given twice"},
		{"CREATE SINK out WITH (a = 1) extra", 1, 30, "unexpected text"},
		{"CREATE SOURCE s (a INT)", 1, 24, "expected WITH"},
		{"CREATE SOURCE s (a INT,\n  b FLOAT8 DEFAULT 1,\n c decimal) WITH (format = 'x')", 3, 4, "type numeric is not supported"},
		{"CREATE SOURCE s (a TIMESTAMP, WATERMARK FOR b AS b) WITH (format = 'x')", 1, 45, "unknown watermark column `b`"},
		{"CREATE SOURCE s (a STRING, WATERMARK FOR a AS a) WITH (format = 'x')", 1, 28, "not a timestamp"},
		{"CREATE SOURCE s (a TIMESTAMP, WATERMARK FOR a AS a * 2) WITH (format = 'x')", 1, 50, "constant delay"},
		{"CREATE SOURCE s (a TIMESTAMP, WATERMARK FOR a AS a - INTERVAL '1 month') WITH (format = 'x')", 1, 63, "month"},
		{"CREATE SOURCE s (a TIMESTAMP WATERMARK) WITH (format = 'x')", 1, 30, "syntax error"},
		{"INSERT INTO out (a) SELECT 1", 1, 18, "not supported"},
		{"INSERT INTO out SELEC 1", 1, 17, "syntax error"},
		{"DROP TABLE x", 1, 1, "a pipeline script holds"},
		{"SELECT 1;\nUPDATE t SET a = 1", 2, 1, "a pipeline script holds"},
	}
	for _, tt := range tests {
		_, err := ParseScript(tt.script)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("%q: %v is not a *sql.Error", tt.script, err)
			continue
		}
		if se.Line != tt.line || se.Column != tt.col || !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("%q: got %d:%d %v; want %d:%d %q", tt.script, se.Line, se.Column, err, tt.line, tt.col, tt.contains)
		}
	}
	if sts, err := ParseScript("  -- nothing\n"); err != nil || len(sts) != 0 {
		t.Errorf("empty script: %v, %v", sts, err)
	}
}

func FuzzParseScript(f *testing.F) {
	f.Add(pipeline)
	f.Add("CREATE SOURCE s (a TIMESTAMP, WATERMARK FOR a AS a - INTERVAL '1' SECOND) WITH (x = 'y')")
	f.Add("CREATE SINK s WITH (a.b = 1, 'c' = true)")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseScript(s)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("%q: %v is not a *sql.Error", s, err)
			}
		}
	})
}
