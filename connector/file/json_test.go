package file

import (
	"context"
	"encoding/base64"
	"github.com/apache/arrow-go/v18/arrow/array"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestReadJSON(t *testing.T) {
	people := schemaOf(fld("name", tString), fld("age", tInt64), fld("score", tFloat))
	withCorrupt := schemaOf(fld("name", tString), fld("age", tInt64), fld("_corrupt_record", tString))
	nested := schemaOf(
		fld("id", tInt64),
		fld("addr", arrow.StructOf(fld("city", tString), fld("zip", tInt32))),
		fld("tags", arrow.ListOf(tString)),
		fld("pts", arrow.ListOf(arrow.StructOf(fld("x", tFloat)))),
	)
	tests := []readCase{
		{
			name:   "flat with missing fields and extra keys",
			data:   `{"name":"ann","age":31,"score":1.5}` + "\n" + `{"age":2,"extra":{"deep":[1,2]}}` + "\n\n" + `{"score":3,"name":null}`,
			schema: people,
			want:   []string{"ann|31|1.5", "(null)|2|(null)", "(null)|(null)|3"},
		},
		{
			name:   "escapes and unicode",
			data:   `{"name":"a\"b\\c\n\u00e9\ud83d\ude00"}`,
			schema: schemaOf(fld("name", tString)),
			want:   []string{"a\"b\\c\né😀"},
		},
		{
			name:   "non-string values into a string column keep their JSON text",
			data:   `{"name":12}` + "\n" + `{"name":{"a":[1, 2]}}` + "\n" + `{"name":true}`,
			schema: schemaOf(fld("name", tString)),
			want:   []string{"12", `{"a":[1, 2]}`, "true"},
		},
		{
			name:   "nested struct and lists",
			data:   `{"id":1,"addr":{"city":"Oslo","zip":150},"tags":["a","b"],"pts":[{"x":1},{"x":2.5}]}` + "\n" + `{"id":2,"addr":null,"tags":[],"pts":null}` + "\n" + `{"id":3,"addr":{"zip":1}}`,
			schema: nested,
			want:   []string{`1|{"city":"Oslo","zip":150}|["a","b"]|[{"x":1},{"x":2.5}]`, `2|(null)|[]|(null)`, `3|{"city":null,"zip":1}|(null)|(null)`},
		},
		{
			name:   "malformed nested value leaves no partial row (permissive)",
			data:   `{"id":1,"addr":{"city":"Oslo","zip":"x"},"tags":["a"]}` + "\n" + `{"id":2,"tags":["b"]}`,
			schema: nested,
			want:   []string{`(null)|(null)|(null)|(null)`, `2|(null)|["b"]|(null)`},
			stats:  ReadStats{Rows: 2, MalformedRows: 1},
		},
		{
			name:   "permissive corrupt column",
			data:   `{"name":"ann","age":1}` + "\n" + `{"name":"bob","age":"old"}` + "\n" + `{broken` + "\n" + `[1,2]`,
			schema: withCorrupt,
			want:   []string{"ann|1|(null)", `(null)|(null)|{"name":"bob","age":"old"}`, "(null)|(null)|{broken", "(null)|(null)|[1,2]"},
			stats:  ReadStats{Rows: 4, MalformedRows: 3},
		},
		{
			name:   "dropmalformed",
			data:   `{"age":1.5}` + "\n" + `{"age":2}` + "\n" + `{"age":2} trailing`,
			schema: people,
			opts:   map[string]string{"mode": "dropmalformed"},
			want:   []string{"(null)|2|(null)"},
			stats:  ReadStats{Rows: 1, MalformedRows: 2, DroppedRows: 2},
		},
		{
			name:    "failfast",
			data:    `{"age":1}` + "\n" + `{"age":"x"}`,
			schema:  people,
			opts:    map[string]string{"mode": "FAILFAST"},
			wantErr: `data.json:2: column "age": want an integer of 64 bits`,
		},
		{
			name:   "timestamps as RFC 3339 strings and epoch seconds, dates",
			data:   `{"t":"2024-05-01T10:00:00+02:00","d":"2024-05-01"}` + "\n" + `{"t":0}`,
			schema: schemaOf(fld("t", tTsUs), fld("d", tDate)),
			want:   []string{"2024-05-01T08:00:00Z|2024-05-01", "1970-01-01T00:00:00Z|(null)"},
		},
		{
			name:   "booleans floats NaN and binary",
			data:   `{"b":true,"f":"NaN","bin":"aGk="}` + "\n" + `{"b":false,"f":-1e3}`,
			schema: schemaOf(fld("b", tBool), fld("f", tFloat), fld("bin", arrow.BinaryTypes.Binary)),
			want:   []string{"true|NaN|aGk=", "false|-1000|(null)"},
		},
		{
			name:   "projection",
			data:   `{"name":"ann","age":31,"score":1.5}`,
			schema: people,
			cols:   []string{"age"},
			want:   []string{"31"},
		},
	}
	runReadCases(t, "json", "data.json", tests)
}

func TestReadJSONBinaryLongValues(t *testing.T) {
	// base64 decoding must not overwrite input it has not read yet
	long := strings.Repeat("0123456789abcdef", 8)
	enc := base64.StdEncoding.EncodeToString([]byte(long))
	p := writeTemp(t, "b.json", `{"bin":"`+enc+`","s":"after"}`)
	mem := checkedAlloc(t)
	var got, after string
	_, err := ReadFile(context.Background(), "json", p, ReadOptions{Schema: schemaOf(fld("bin", arrow.BinaryTypes.Binary), fld("s", tString)), Alloc: mem}, func(r arrow.RecordBatch) error {
		defer r.Release()
		got = string(r.Column(0).(*array.Binary).Value(0))
		after = r.Column(1).(*array.String).Value(0)
		return nil
	})
	if err != nil || got != long || after != "after" {
		t.Fatalf("got %q %q, %v", got, after, err)
	}
}

func TestInferEmptyJSON(t *testing.T) {
	p := writeTemp(t, "e.json", "\n\n")
	if _, err := InferSchema(context.Background(), "json", []string{p}, nil); err == nil || !strings.Contains(err.Error(), "hold no records") {
		t.Fatalf("err = %v", err)
	}
}

func TestReadJSONMultiLine(t *testing.T) {
	s := schemaOf(fld("a", tInt64), fld("_corrupt_record", tString))
	tests := []struct {
		name, data string
		want       []string
	}{
		{"array of objects", "[\n {\"a\": 1},\n {\"a\":\n   2},\n {\"a\": \"x\"}\n]\n", []string{"1|(null)", "2|(null)", `(null)|{"a": "x"}`}},
		{"one object", "{\n \"a\": 7\n}\n", []string{"7|(null)"}},
		{"broken array", "[{\"a\":1}, oops", []string{"1|(null)", `(null)|[{"a":1}, oops`}},
		{"empty", "  \n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTemp(t, "m.json", tt.data)
			rows, _, _, err := readAll(t, "json", p, ReadOptions{Schema: s, Options: map[string]string{"multiLine": "true"}})
			if err != nil || !slices.Equal(rows, tt.want) {
				t.Fatalf("rows %q, %v; want %q", rows, err, tt.want)
			}
		})
	}
	p := writeTemp(t, "m.json", "[{\"a\":1},\n{\"b\":\"x\"}]")
	inferred, err := InferSchema(context.Background(), "json", []string{p}, map[string]string{"multiLine": "true"})
	if err != nil || strings.Join(fieldNames(inferred), ",") != "a,b" {
		t.Fatalf("inferred %v, %v", inferred, err)
	}
	_, _, _, err = readAll(t, "json", writeTemp(t, "f.json", "[{\"a\":1},\n{\"a\":true}]"), ReadOptions{Schema: s, Options: map[string]string{"multiLine": "true", "mode": "FAILFAST"}})
	if err == nil || !strings.Contains(err.Error(), "f.json:2:") {
		t.Fatalf("failfast: %v", err)
	}
}

// readCase is a table test of a reader: data read with schema, options
// and columns gives want (rows as readAll renders them) and stats, or an
// error containing wantErr.
type readCase struct {
	name    string
	data    string
	schema  *arrow.Schema
	opts    map[string]string
	cols    []string
	want    []string
	wantErr string
	stats   ReadStats // checked when set (bytes and batches not)
}

// runReadCases runs tests of format over a file named name.
func runReadCases(t *testing.T, format, name string, tests []readCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTemp(t, name, tt.data)
			rows, _, st, err := readAll(t, format, p, ReadOptions{Schema: tt.schema, Options: tt.opts, Columns: tt.cols})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rows, tt.want) {
				t.Errorf("rows:\n got %q\nwant %q", rows, tt.want)
			}
			if tt.stats != (ReadStats{}) {
				st.Bytes, st.Batches = 0, 0
				if st != tt.stats {
					t.Errorf("stats = %+v, want %+v", st, tt.stats)
				}
			}
		})
	}
}
