package file

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestEmitErrorAndCancelStopTheRead(t *testing.T) {
	data := "a\n" + strings.Repeat("1\n", 5000)
	jdata := strings.Repeat(`{"a":1}`+"\n", 5000)
	for _, tc := range []struct{ format, data string }{{"csv", data}, {"json", jdata}, {"text", data}} {
		t.Run(tc.format, func(t *testing.T) {
			p := writeTemp(t, "d", tc.data)
			s := schemaOf(fld("a", tInt64))
			if tc.format == "text" {
				s = schemaOf(fld("value", tString))
			}
			mem := checkedAlloc(t)
			stop := errors.New("stop")
			calls := 0
			_, err := ReadFile(context.Background(), tc.format, p, ReadOptions{Schema: s, Alloc: mem, BatchRows: 100}, func(r arrow.RecordBatch) error {
				r.Release()
				calls++
				return stop
			})
			if err != stop || calls != 1 {
				t.Fatalf("emit error: %v after %d calls", err, calls)
			}
			ctx, cancel := context.WithCancel(context.Background())
			calls = 0
			_, err = ReadFile(ctx, tc.format, p, ReadOptions{Schema: s, Alloc: mem, BatchRows: 100}, func(r arrow.RecordBatch) error {
				r.Release()
				calls++
				cancel()
				return nil
			})
			if !errors.Is(err, context.Canceled) || calls != 1 {
				t.Fatalf("cancel: %v after %d calls", err, calls)
			}
		})
	}
}

func TestEmptyPartitionKeepsSchema(t *testing.T) {
	mem := checkedAlloc(t)
	for _, format := range []string{"parquet", "csv"} {
		dir := filepath.Join(t.TempDir(), format)
		s := schemaOf(fld("a", tInt64), fld("b", tString))
		j, err := NewWriteJob(dir, SaveError, format, WriteOptions{Alloc: mem})
		if err != nil {
			t.Fatal(err)
		}
		if err := j.WritePartition(context.Background(), 0, s, nil); err != nil {
			t.Fatal(err)
		}
		if err := j.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		files, _ := ListFiles(dir)
		got, err := InferSchema(context.Background(), format, files, nil)
		if err != nil {
			t.Fatal(err)
		}
		if names := fieldNames(got); len(names) != 2 || names[0] != "a" || names[1] != "b" {
			t.Errorf("%s: schema of an empty file: %v", format, names)
		}
		rows, _, st, err := readAll(t, format, files[0], ReadOptions{Schema: s, Alloc: mem})
		if err != nil || len(rows) != 0 || st.Bytes == 0 {
			t.Errorf("%s: rows %q stats %+v err %v", format, rows, st, err)
		}
	}
}

func TestUnsupportedColumnTypes(t *testing.T) {
	p := writeTemp(t, "d.csv", "a\n1\n")
	_, _, _, err := readAll(t, "csv", p, ReadOptions{Schema: schemaOf(fld("a", arrow.ListOf(tInt64)))})
	if err == nil || !strings.Contains(err.Error(), `csv cannot read column "a"`) {
		t.Errorf("list in csv: %v", err)
	}
	_, _, _, err = readAll(t, "text", p, ReadOptions{Schema: schemaOf(fld("a", tInt64))})
	if err == nil || !strings.Contains(err.Error(), "one string column") {
		t.Errorf("int text column: %v", err)
	}
	_, _, _, err = readAll(t, "csv", p, ReadOptions{Schema: schemaOf(fld("a", tInt64), fld("_corrupt_record", tInt64))})
	if err == nil || !strings.Contains(err.Error(), "must be a string column") {
		t.Errorf("int corrupt column: %v", err)
	}
}

func TestJavaLayouts(t *testing.T) {
	tests := map[string][]string{
		"yyyy-MM-dd'T'HH:mm:ss[.SSS][XXX]": {"2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05"},
		"dd/MM/yy hh:mm a":                 {"02/01/06 03:04 PM"},
		"EEE, d MMM yyyy HH:mm:ss Z":       {"Mon, 2 Jan 2006 15:04:05 -0700"},
		"yyyy''MM":                         {"2006'01"},
	}
	for in, want := range tests {
		got, err := javaLayouts(in)
		if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("javaLayouts(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"yyyy[MM", "yyyy]", "'open", "yyyy-QQ"} {
		if _, err := javaLayouts(bad); err == nil {
			t.Errorf("javaLayouts(%q) succeeded", bad)
		}
	}
}

func TestFastTimestampMatchesTimeParse(t *testing.T) {
	for _, s := range []string{
		"2024-05-01", "2024-05-01T10:00", "2024-05-01 10:00:59", "2024-02-29T23:59:59.123456789Z",
		"1969-12-31T23:59:59.5-01:30", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+0530", "1900-03-01 00:00:00.1",
	} {
		sec, ns, _, ok := fastTimestamp([]byte(s))
		if !ok {
			t.Errorf("%s: not parsed", s)
			continue
		}
		tp := &timeParser{tsLayouts: append(defaultTimestampLayouts, "2006-01-02T15:04:05Z0700"), loc: time.UTC}
		want, err := tp.parse(tp.tsLayouts, s)
		if err != nil {
			t.Fatal(err)
		}
		if sec != want.Unix() || ns != int64(want.Nanosecond()) {
			t.Errorf("%s: got %d.%09d, want %d.%09d", s, sec, ns, want.Unix(), want.Nanosecond())
		}
	}
	for _, s := range []string{"2024-02-30", "2024-13-01", "2024-05-01T25:00", "2024-05-01T10:00:00.", "2024-05-01X", "2024-05-01T10:00:00+2"} {
		if _, _, _, ok := fastTimestamp([]byte(s)); ok {
			t.Errorf("%s: parsed", s)
		}
	}
}

func TestNoColumnsCountsRows(t *testing.T) {
	mem := checkedAlloc(t)
	csvPath := writeTemp(t, "c.csv", "a\n1\n2\n3\n")
	jsonPath := writeTemp(t, "j.json", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n")
	txtPath := writeTemp(t, "t.txt", "1\n2\n3\n")
	pq, s := rowGroupFile(t, mem)
	for _, c := range []struct {
		format, path string
		schema       *arrow.Schema
		want         int64
	}{
		{"csv", csvPath, schemaOf(fld("a", tInt64)), 3},
		{"json", jsonPath, schemaOf(fld("a", tInt64)), 3},
		{"text", txtPath, schemaOf(fld("value", tString)), 3},
		{"parquet", pq, s, 400},
	} {
		var rows int64
		_, err := ReadFile(context.Background(), c.format, c.path, ReadOptions{Schema: c.schema, Columns: []string{}, Alloc: mem, BatchRows: 2},
			func(r arrow.RecordBatch) error {
				if r.NumCols() != 0 {
					t.Errorf("%s: %d columns", c.format, r.NumCols())
				}
				rows += r.NumRows()
				r.Release()
				return nil
			})
		if err != nil || rows != c.want {
			t.Errorf("%s: %d rows, %v; want %d", c.format, rows, err, c.want)
		}
	}
}
