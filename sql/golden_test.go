package sql

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

var rewriteGolden = flag.Bool("rewrite", false, "rewrite the golden files in testdata/ with the current output")

// table makes an in-memory relation from rows of Go values (nil for null,
// a time.Time for timestamps), split into two partitions.
func table(t testing.TB, fields []arrow.Field, rows [][]any) *plan.LocalRelation {
	t.Helper()
	s := arrow.NewSchema(fields, nil)
	var parts [][]arrow.RecordBatch
	half := (len(rows) + 1) / 2
	for _, chunk := range [][][]any{rows[:half], rows[half:]} {
		b := array.NewRecordBuilder(memory.NewGoAllocator(), s)
		for _, row := range chunk {
			for j, v := range row {
				fb := b.Field(j)
				if v == nil {
					fb.AppendNull()
					continue
				}
				switch fb := fb.(type) {
				case *array.StringBuilder:
					fb.Append(v.(string))
				case *array.Float64Builder:
					fb.Append(v.(float64))
				case *array.Int64Builder:
					fb.Append(int64(v.(int)))
				case *array.TimestampBuilder:
					fb.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
				case *array.BooleanBuilder:
					fb.Append(v.(bool))
				default:
					t.Fatalf("table: unsupported builder %T", fb)
				}
			}
		}
		parts = append(parts, []arrow.RecordBatch{b.NewRecordBatch()})
		b.Release()
	}
	l, err := plan.NewLocalRelation(s, parts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func at(sec int) time.Time { return time.Date(2024, 1, 1, 0, 0, sec, 0, time.UTC) }

// testCatalog holds the tables of the golden tests.
func testCatalog(t testing.TB) MapCatalog {
	str, f64, i64 := arrow.BinaryTypes.String, arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Int64
	return MapCatalog{
		"events": table(t, []arrow.Field{
			{Name: "device", Type: str}, {Name: "kind", Type: str}, {Name: "signal", Type: f64, Nullable: true}, {Name: "ts", Type: expr.TimestampType},
		}, [][]any{
			{"d1", "temp", 10.5, at(1)},
			{"d1", "temp", 12.0, at(7)},
			{"d2", "hum", 55.0, at(3)},
			{"d2", "hum", nil, at(12)},
			{"d3", "temp", -3.25, at(15)},
			{"d1", "temp", 11.0, at(21)},
		}),
		"devices": table(t, []arrow.Field{
			{Name: "device", Type: str}, {Name: "type", Type: str}, {Name: "floor", Type: i64, Nullable: true},
		}, [][]any{
			{"d1", "thermo", 1},
			{"d2", "hygro", 2},
			{"d4", "thermo", nil},
		}),
		"tweets": table(t, []arrow.Field{
			{Name: "id", Type: i64}, {Name: "text", Type: str},
		}, [][]any{
			{1, "Go #golang #streaming"},
			{2, "#golang rocks"},
			{3, "no tags here"},
		}),
	}
}

// runPlan optimizes and executes n and renders its rows, one per line,
// values separated by commas. Rows are sorted unless the plan orders them.
func runPlan(t testing.TB, n plan.Node) (string, error) {
	opt, err := plan.NewOptimizer().Optimize(n)
	if err != nil {
		return "", fmt.Errorf("optimize: %w", err)
	}
	ec, err := engine.New(engine.Slots(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	c, err := exec.NewContext(ec, alloc, at(0), exec.Config{ShufflePartitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	op, err := exec.Plan(c, opt)
	if err != nil {
		c.Close()
		return "", fmt.Errorf("physical plan: %w", err)
	}
	bs, err := c.Collect(context.Background(), op, "sql test")
	c.Close()
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	var rows []string
	for _, b := range bs {
		for i := range int(b.NumRows()) {
			var sb strings.Builder
			for j, col := range b.Columns() {
				if j > 0 {
					sb.WriteString(",")
				}
				if col.IsNull(i) || col.ValueStr(i) == "(null)" {
					sb.WriteString("NULL")
				} else {
					sb.WriteString(col.ValueStr(i))
				}
			}
			if sb.Len() == 0 {
				sb.WriteString("''")
			}
			rows = append(rows, sb.String())
		}
		b.Release()
	}
	if !ordered(n) {
		slices.Sort(rows)
	}
	if alloc.CurrentAlloc() != 0 {
		t.Errorf("%d bytes of query memory not released", alloc.CurrentAlloc())
	}
	return strings.Join(rows, "\n"), nil
}

// ordered reports whether the plan's output order is defined by a sort.
func ordered(n plan.Node) bool {
	for {
		switch x := n.(type) {
		case *plan.Sort:
			return true
		case *plan.Project:
			n = x.Child
		case *plan.Limit:
			n = x.Child
		case *plan.Filter:
			n = x.Child
		default:
			return false
		}
	}
}

// goldenCase is one query of a golden file and its expected output.
type goldenCase struct {
	comment, query, want string
}

// parseGolden splits a golden file into cases: lines starting with '#'
// are comments, a query ends at a line "----", its expected output at
// the next blank line.
func parseGolden(text string) []goldenCase {
	var cases []goldenCase
	var q, w, comment []string
	inWant := false
	flush := func() {
		if len(q) > 0 {
			cases = append(cases, goldenCase{comment: strings.Join(comment, "\n"), query: strings.Join(q, "\n"), want: strings.Join(w, "\n")})
			comment = nil
		}
		q, w, inWant = nil, nil, false
	}
	for _, line := range strings.Split(text, "\n") {
		switch {
		case inWant && line == "":
			flush()
		case inWant:
			w = append(w, line)
		case line == "----":
			inWant = true
		case strings.HasPrefix(line, "#") && len(q) == 0:
			comment = append(comment, line)
		case line == "" && len(q) == 0:
		default:
			q = append(q, line)
		}
	}
	flush()
	return cases
}

// render is what a golden case shows: the plan, its columns and its rows,
// or the error.
func render(t testing.TB, query string, cat Catalog) string {
	n, err := Plan(context.Background(), query, cat)
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			return "error (not *sql.Error): " + err.Error()
		}
		return "error: " + err.Error()
	}
	var cols []string
	for _, f := range n.Schema().Fields() {
		cols = append(cols, f.Name+" "+f.Type.String())
	}
	out := strings.TrimRight(plan.Explain(n), "\n") + "\ncolumns: " + strings.Join(cols, ", ") + "\nrows:"
	rows, err := runPlan(t, n)
	if err != nil {
		return out + "\nerror: " + err.Error()
	}
	if rows != "" {
		out += "\n" + rows
	}
	return out
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	cat := testCatalog(t)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cases := parseGolden(string(data))
			var sb strings.Builder
			for i, c := range cases {
				if i > 0 {
					sb.WriteString("\n")
				}
				if c.comment != "" {
					sb.WriteString(c.comment + "\n")
				}
				got := strings.TrimRight(render(t, c.query, cat), "\n")
				if !*rewriteGolden && got != c.want {
					t.Errorf("%s\n----\ngot:\n%s\n\nwant:\n%s", c.query, got, c.want)
				}
				fmt.Fprintf(&sb, "%s\n----\n%s\n", c.query, got)
			}
			if *rewriteGolden {
				if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
