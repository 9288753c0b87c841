package dataframe_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/dataframe/streamtest"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/streaming"
)

// TestSQLStreamGolden runs the streaming SQL cases of
// testdata/sql_stream/*.txt through package streamtest: each case in a
// fresh Session on a manual clock with a fresh checkpoint directory
// (streamtest.RunQuery). `go test ./dataframe -run TestSQLStreamGolden
// -rewrite` rewrites the expected outputs (the blocks after "----") with
// what the cases do now, leaving everything else as it is.
//
// The format, line by line. Cases are separated by blank lines (a case
// has none inside); '#' lines before a case, or among the rows of add and
// table, are comments. Inside a case:
//
//	stream NAME (COL TYPE, ...) [watermark COL DURATION]
//	        a streaming view over a memory stream; DURATION as Go's
//	        time.ParseDuration ("10s"), as DataFrame.WithWatermark takes
//	table NAME (COL TYPE, ...)
//	        a static view; its rows follow, one a line
//	query append|update|complete
//	        the output mode; the SQL text follows, up to the "----" line,
//	        whose block shows the result columns or the error at start
//	add NAME
//	        the rows that follow go to stream NAME as one offset (AddData)
//	stop    stop the query (the checkpoint stays): StopStream
//	start   start it again from its checkpoint: StartStream
//	----    process everything added (ProcessAllAvailable) and show, up
//	        to the next directive or blank line, what the sink got since
//	        the previous "----": "batch N:" and its rows per batch,
//	        "batch N: no rows", "no new batch", and "error: ..." when the
//	        query failed (steps after a failure see "error: streamtest:
//	        the query is not running"; after an error at start, checks
//	        show "not run: the query did not start")
//	explain
//	        instead of query: the SQL text (EXPLAIN ...) runs as a batch
//	        query through Session.SQL; "----" shows its plan column
//	        without blank lines
//
// The query runs on its own between checks, so rows added by two add
// steps without a "----" between them may make one batch or two: add
// them while the query is stopped to make one batch.
//
// TYPE is STRING, DOUBLE, BIGINT, INT, BOOLEAN or TIMESTAMP; every column
// is nullable. Rows are values separated by commas (no quoting: strings
// hold no commas), NULL for null, timestamps in RFC 3339
// (2024-01-01T00:00:01Z). A row must not start with a directive's word.
// Output rows are rendered the same way (floats as strconv's shortest
// 'g' form) and sorted, unless the query text has ORDER BY. Errors are
// rendered whole, so a SQL error shows its line, column and underline.
func TestSQLStreamGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/sql_stream/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	s, _ := streamSession(t)
	skipWithoutCgo(t, s)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			cases, err := parseStreamGolden(lines)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			replace := map[int]streamCheck{} // by first line of the output
			for _, c := range cases {
				got := runStreamCase(t, c)
				for i, chk := range c.checks {
					if !*rewrite && got[i] != chk.want {
						t.Errorf("%s:%d: case at line %d, check %d:\ngot:\n%s\n\nwant:\n%s", file, chk.from+1, c.line+1, i, got[i], chk.want)
					}
					chk.want = got[i]
					replace[chk.from] = chk
				}
			}
			if !*rewrite {
				return
			}
			var out []string
			for i := 0; i <= len(lines); {
				if chk, ok := replace[i]; ok {
					out = append(out, strings.Split(chk.want, "\n")...)
					delete(replace, i) // an empty block has to == from
					i = chk.to
					continue
				}
				if i < len(lines) {
					out = append(out, lines[i])
				}
				i++
			}
			if err := os.WriteFile(file, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// streamCase is one case of a streaming golden file.
type streamCase struct {
	line    int // index of the first line
	streams []streamDecl
	tables  []streamDecl
	mode    string // "explain" for an explain case
	query   string
	steps   []streamGoldenStep
	checks  []streamCheck // checks[0] is the start's
}

type streamDecl struct {
	name      string
	schema    *arrow.Schema
	watermark string // column, or ""
	delay     time.Duration
	rows      [][]string // a table's
}

// streamGoldenStep is add (rows to stream), stop, start or check (the
// index of a check).
type streamGoldenStep struct {
	kind   string
	stream string
	rows   [][]string
	check  int
}

// streamCheck is an expected output: lines [from, to) of the file.
type streamCheck struct {
	from, to int
	want     string
}

var streamDirective = regexp.MustCompile(`^(stream|table|query|add)( |$)|^(stop|start|explain|----)$`)

// parseStreamGolden splits a file's lines into cases.
func parseStreamGolden(lines []string) ([]*streamCase, error) {
	var cases []*streamCase
	var c *streamCase
	const (
		none   = iota // between directives
		inSQL         // after query or explain
		inRows        // after add or table
		inWant        // after ----
	)
	state := none
	var rows *[][]string
	var sqlLines []string
	endWant := func(i int) {
		if state == inWant {
			chk := &c.checks[len(c.checks)-1]
			chk.to = i
			chk.want = strings.Join(lines[chk.from:i], "\n")
		}
	}
	for i, line := range lines {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %s", i+1, fmt.Sprintf(format, args...))
		}
		if c == nil {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			c = &streamCase{line: i}
			cases = append(cases, c)
			state = none
		}
		if line == "" {
			if state == inSQL {
				return nil, fail("a blank line in the query (end it with ----)")
			}
			endWant(i)
			c = nil
			continue
		}
		directive := streamDirective.MatchString(line)
		switch {
		case state == inSQL && line != "----":
			sqlLines = append(sqlLines, line)
			continue
		case state == inWant && !directive:
			continue
		case state == inRows && !directive:
			if !strings.HasPrefix(line, "#") {
				*rows = append(*rows, strings.Split(line, ","))
			}
			continue
		case state == none && !directive && !strings.HasPrefix(line, "#"):
			return nil, fail("want a directive (stream, table, query, explain, add, stop, start, ----), got %q", line)
		case state == none && !directive:
			continue // a comment
		}
		endWant(i)
		word, rest, _ := strings.Cut(line, " ")
		if c.mode == "" && !slices.Contains([]string{"stream", "table", "query", "explain"}, word) {
			return nil, fail("%s before the query", word)
		}
		state = none
		switch word {
		case "stream", "table":
			d, err := parseStreamDecl(rest, word == "stream")
			if err != nil {
				return nil, fail("%v", err)
			}
			if word == "stream" {
				c.streams = append(c.streams, d)
			} else {
				c.tables = append(c.tables, d)
				rows, state = &c.tables[len(c.tables)-1].rows, inRows
			}
		case "query", "explain":
			if c.mode != "" {
				return nil, fail("a second query in a case")
			}
			c.mode = rest
			if word == "explain" {
				c.mode = "explain"
			} else if !slices.Contains([]string{"append", "update", "complete"}, rest) {
				return nil, fail("want query append|update|complete, got %q", line)
			}
			sqlLines, state = nil, inSQL
		case "add":
			if !slices.ContainsFunc(c.streams, func(d streamDecl) bool { return d.name == rest }) {
				return nil, fail("add %s: no such stream", rest)
			}
			c.steps = append(c.steps, streamGoldenStep{kind: "add", stream: rest})
			rows, state = &c.steps[len(c.steps)-1].rows, inRows
		case "stop", "start":
			c.steps = append(c.steps, streamGoldenStep{kind: word})
		case "----":
			if len(c.checks) == 0 {
				c.query = strings.Join(sqlLines, "\n")
			} else {
				c.steps = append(c.steps, streamGoldenStep{kind: "check", check: len(c.checks)})
			}
			c.checks = append(c.checks, streamCheck{from: i + 1})
			state = inWant
		}
	}
	if state == inSQL {
		return nil, fmt.Errorf("line %d: the query does not end with ----", len(lines))
	}
	endWant(len(lines))
	for _, c := range cases {
		if len(c.checks) == 0 {
			return nil, fmt.Errorf("line %d: a case without a query and its ----", c.line+1)
		}
	}
	return cases, nil
}

var streamDeclRE = regexp.MustCompile(`^(\w+) \((.*)\)(?: watermark (\w+) (\S+))?$`)

// parseStreamDecl reads NAME (COL TYPE, ...) [watermark COL DURATION].
func parseStreamDecl(text string, stream bool) (streamDecl, error) {
	m := streamDeclRE.FindStringSubmatch(text)
	if m == nil || (m[3] != "" && !stream) {
		return streamDecl{}, fmt.Errorf("want NAME (COL TYPE, ...)%s, got %q", map[bool]string{true: " [watermark COL DURATION]"}[stream], text)
	}
	d := streamDecl{name: m[1], watermark: m[3]}
	var fields []arrow.Field
	for col := range strings.SplitSeq(m[2], ",") {
		name, typ, ok := strings.Cut(strings.TrimSpace(col), " ")
		var dt arrow.DataType
		switch strings.ToUpper(strings.TrimSpace(typ)) {
		case "STRING":
			dt = arrow.BinaryTypes.String
		case "DOUBLE":
			dt = arrow.PrimitiveTypes.Float64
		case "BIGINT":
			dt = arrow.PrimitiveTypes.Int64
		case "INT":
			dt = arrow.PrimitiveTypes.Int32
		case "BOOLEAN":
			dt = arrow.FixedWidthTypes.Boolean
		case "TIMESTAMP":
			dt = expr.TimestampType
		}
		if !ok || dt == nil {
			return streamDecl{}, fmt.Errorf("column %q: want NAME TYPE with TYPE one of STRING, DOUBLE, BIGINT, INT, BOOLEAN, TIMESTAMP", col)
		}
		fields = append(fields, arrow.Field{Name: name, Type: dt, Nullable: true})
	}
	d.schema = arrow.NewSchema(fields, nil)
	if m[4] != "" {
		var err error
		if d.delay, err = time.ParseDuration(m[4]); err != nil {
			return streamDecl{}, err
		}
	}
	return d, nil
}

// goldenBatch makes a record batch of rows of text.
func goldenBatch(schema *arrow.Schema, rows [][]string) (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	for _, row := range rows {
		if len(row) != schema.NumFields() {
			return nil, fmt.Errorf("row %q: %d values, want %d", strings.Join(row, ","), len(row), schema.NumFields())
		}
		for j, v := range row {
			if v == "NULL" {
				b.Field(j).AppendNull()
				continue
			}
			var err error
			switch fb := b.Field(j).(type) {
			case *array.StringBuilder:
				fb.Append(v)
			case *array.Float64Builder:
				var f float64
				f, err = strconv.ParseFloat(v, 64)
				fb.Append(f)
			case *array.Int64Builder:
				var n int64
				n, err = strconv.ParseInt(v, 10, 64)
				fb.Append(n)
			case *array.Int32Builder:
				var n int64
				n, err = strconv.ParseInt(v, 10, 32)
				fb.Append(int32(n))
			case *array.BooleanBuilder:
				var x bool
				x, err = strconv.ParseBool(v)
				fb.Append(x)
			case *array.TimestampBuilder:
				var ts time.Time
				ts, err = time.Parse(time.RFC3339Nano, v)
				fb.Append(arrow.Timestamp(ts.UnixMicro()))
			}
			if err != nil {
				return nil, fmt.Errorf("row %q, column %s: %v", strings.Join(row, ","), schema.Field(j).Name, err)
			}
		}
	}
	return b.NewRecordBatch(), nil
}

var orderBy = regexp.MustCompile(`(?i)\border\s+by\b`)

// runStreamCase runs a case and returns the output of each of its checks.
func runStreamCase(t *testing.T, c *streamCase) []string {
	t.Helper()
	got := make([]string, len(c.checks))
	for i := range got {
		got[i] = "not run: the query did not start"
	}
	mems := map[string]*streaming.MemoryStream{}
	for _, d := range c.streams {
		mems[d.name] = streaming.NewMemoryStream(d.schema, d.name)
		defer mems[d.name].Close()
	}
	views := func(s *Session) error {
		for _, d := range c.streams {
			df := s.StreamFrom(mems[d.name])
			if d.watermark != "" {
				df = df.WithWatermark(d.watermark, d.delay)
			}
			if err := df.CreateOrReplaceTempView(d.name); err != nil {
				return err
			}
		}
		for _, d := range c.tables {
			b, err := goldenBatch(d.schema, d.rows)
			if err != nil {
				return err
			}
			err = CreateDataFrameFromBatches(s, d.schema, []arrow.RecordBatch{b}).CreateOrReplaceTempView(d.name)
			b.Release()
			if err != nil {
				return err
			}
		}
		return nil
	}
	if c.mode == "explain" {
		s, _ := streamSession(t)
		if err := views(s); err != nil {
			t.Fatalf("line %d: %v", c.line+1, err)
		}
		rows, err := s.SQL(c.query).Collect(streamCtx(t))
		switch {
		case err != nil:
			got[0] = renderStreamError(err)
		case len(rows) != 1 || len(rows[0]) != 1:
			got[0] = fmt.Sprintf("want one row with a plan, got %v", rows)
		default:
			// Without the blank lines between the plans, which would end
			// the case.
			var ls []string
			for l := range strings.SplitSeq(fmt.Sprint(rows[0][0]), "\n") {
				if strings.TrimSpace(l) != "" {
					ls = append(ls, l)
				}
			}
			got[0] = strings.Join(ls, "\n")
		}
		if len(c.steps) > 0 {
			t.Errorf("line %d: an explain case has no steps", c.line+1)
		}
		return got
	}
	steps := []streamtest.Step{streamtest.OutputMode(c.mode), streamtest.OnStartFailure(func(err error) error {
		got[0] = renderStreamError(err)
		return nil
	})}
	for _, st := range c.steps {
		switch st.kind {
		case "add":
			in := mems[st.stream]
			b, err := goldenBatch(in.Schema(), st.rows)
			if err != nil {
				t.Fatalf("line %d: add %s: %v", c.line+1, st.stream, err)
			}
			defer b.Release()
			steps = append(steps, streamtest.AddBatchesTo(in, b))
		case "stop":
			steps = append(steps, streamtest.StopStream())
		case "start":
			steps = append(steps, streamtest.StartStream())
		case "check":
			steps = append(steps, streamtest.Observe(func(bs []streamtest.Batch, err error) error {
				got[st.check] = renderStreamBatches(bs, err, orderBy.MatchString(c.query))
				return nil
			}))
		}
	}
	streamtest.RunQuery(t, func(s *Session) *DataFrame {
		if err := views(s); err != nil {
			t.Fatalf("line %d: %v", c.line+1, err)
		}
		df := s.SQL(c.query)
		if df.Err() == nil {
			var cols []string
			for _, f := range df.Schema().Fields() {
				cols = append(cols, f.Name+" "+f.Type.String())
			}
			got[0] = "columns: " + strings.Join(cols, ", ")
		}
		return df
	}, steps...)
	return got
}

// renderStreamBatches renders what a check saw.
func renderStreamBatches(bs []streamtest.Batch, err error, ordered bool) string {
	var out []string
	for _, b := range bs {
		if len(b.Rows) == 0 {
			out = append(out, fmt.Sprintf("batch %d: no rows", b.ID))
			continue
		}
		out = append(out, fmt.Sprintf("batch %d:", b.ID))
		rows := make([]string, len(b.Rows))
		for i, r := range b.Rows {
			vals := make([]string, len(r))
			for j, v := range r {
				switch x := v.(type) {
				case nil:
					vals[j] = "NULL"
				case time.Time:
					vals[j] = x.UTC().Format(time.RFC3339Nano)
				case float64:
					vals[j] = strconv.FormatFloat(x, 'g', -1, 64)
				case string:
					vals[j] = x
					if x == "" {
						vals[j] = "''"
					}
				default:
					vals[j] = fmt.Sprint(x)
				}
			}
			rows[i] = strings.Join(vals, ",")
		}
		if !ordered {
			slices.Sort(rows)
		}
		out = append(out, rows...)
	}
	if err != nil {
		out = append(out, renderStreamError(err))
	} else if len(bs) == 0 {
		out = append(out, "no new batch")
	}
	return strings.Join(out, "\n")
}

// renderStreamError renders an error without the parts that vary between
// runs.
func renderStreamError(err error) string {
	msg := stageNumbers.ReplaceAllString(err.Error(), "stage N")
	return "error: " + regexp.MustCompile(`partition \d+`).ReplaceAllString(msg, "partition N")
}
