package file

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestInferSchema(t *testing.T) {
	tests := []struct {
		name   string
		format string
		data   string
		opts   map[string]string
		want   string // "name:type, ..."
	}{
		{"csv strings without inferSchema", "csv", "a,b\n1,x\n", nil, "a:utf8, b:utf8"},
		{"csv widening over many rows", "csv", "i,f,s,n,b,mix\n1,1,1,,true,true\n2,2.5,x,,false,1\n3,3,3,,true,2\n", map[string]string{"inferSchema": "true"}, "i:int64, f:float64, s:utf8, n:utf8, b:bool, mix:utf8"},
		{"csv widening after row 1000", "csv", "v\n" + strings.Repeat("1\n", 1000) + "1.5\n", map[string]string{"inferSchema": "true"}, "v:float64"},
		{"csv row cap", "csv", "v\n" + strings.Repeat("1\n", 1000) + "x\n", map[string]string{"inferSchema": "true", "inferSchemaMaxRows": "10"}, "v:int64"},
		{"csv dates and timestamps", "csv", "d,t,dt,x\n2024-05-01,2024-05-01T10:00:00Z,2024-05-01,2024-05-01\n2024-05-02,2024-05-01 11:00:00,2024-05-01 10:00,1\n", map[string]string{"inferSchema": "true"},
			"d:date32, t:timestamp[us, tz=UTC], dt:timestamp[us, tz=UTC], x:utf8"},
		{"csv custom formats", "csv", "d,t\n01/05/2024,01/05/2024 10:00\n", map[string]string{"inferSchema": "true", "dateFormat": "dd/MM/yyyy", "timestampFormat": "dd/MM/yyyy HH:mm"},
			"d:date32, t:timestamp[us, tz=UTC]"},
		{"csv no header, duplicate names", "csv", "1,2\n", map[string]string{"header": "false", "inferSchema": "true"}, "_c0:int64, _c1:int64"},
		{"csv duplicate header", "csv", "a,a,\n1,2,3\n", nil, "a0:utf8, a1:utf8, _c2:utf8"},
		{"json widening and nesting", "json", `{"b":1,"a":{"y":1}}` + "\n" + `{"b":2.5,"a":{"x":"s"},"l":[1,2]}` + "\n" + `{"n":null,"l":[]}`,
			nil, "a:struct<x: utf8, y: int64>, b:float64, l:list<item: int64, nullable>, n:utf8"},
		{"json conflicting kinds become strings", "json", `{"v":1}` + "\n" + `{"v":{"a":1}}` + "\n" + `{"w":true}` + "\n" + `{"w":1}`, nil, "v:utf8, w:utf8"},
		{"json malformed lines add the corrupt column", "json", `{"a":1}` + "\n" + `{oops`, nil, "a:int64, _corrupt_record:utf8"},
		{"json dropmalformed does not", "json", `{"a":1}` + "\n" + `{oops`, map[string]string{"mode": "DROPMALFORMED"}, "a:int64"},
		{"text", "text", "x\n", nil, "value:utf8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTemp(t, "d."+tt.format, tt.data)
			s, err := InferSchema(context.Background(), tt.format, []string{p}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range s.Fields() {
				got = append(got, f.Name+":"+strings.ReplaceAll(f.Type.String(), " nullable", ""))
			}
			want := strings.ReplaceAll(tt.want, " nullable", "")
			if strings.Join(got, ", ") != want {
				t.Errorf("got  %s\nwant %s", strings.Join(got, ", "), want)
			}
		})
	}
}

func TestInferThenRead(t *testing.T) {
	p := writeTemp(t, "d.json", `{"id":1,"tags":["a"],"pos":{"x":1.5}}`+"\n"+`{"id":2,"pos":{"x":2}}`)
	rows, _, _, err := readAll(t, "json", p, ReadOptions{}) // nil schema: inferred
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`1|{"x":1.5}|["a"]`, `2|{"x":2}|(null)`}; !slices.Equal(rows, want) {
		t.Errorf("got %q, want %q", rows, want)
	}
}

func TestMissingPathAndUnsupportedFormat(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := ListFiles(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("ListFiles: %v", err)
	}
	for _, f := range Formats() {
		_, _, _, err := readAll(t, f, missing, ReadOptions{Schema: schemaOf(fld("value", tString))})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
			t.Errorf("%s ReadFile: %v", f, err)
		}
		if _, err := InferSchema(context.Background(), f, []string{missing}, nil); f != "text" && (!errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing)) {
			t.Errorf("%s InferSchema: %v", f, err)
		}
	}
	_, _, _, err := readAll(t, "orc", missing, ReadOptions{})
	if !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), `"orc": supported formats are csv, json, parquet, text`) {
		t.Errorf("orc: %v", err)
	}
	if _, err := InferSchema(context.Background(), "Avro", nil, nil); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("InferSchema avro: %v", err)
	}
	if _, err := InferSchema(context.Background(), "JSON", nil, nil); err == nil || !strings.Contains(err.Error(), "no files") {
		t.Errorf("no files: %v", err)
	}
}

func TestListFiles(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"b.csv", "a.csv", "_SUCCESS", ".crc", "_temporary/1/x.csv", "sub/c.csv", "year=2024/month=5/d.csv", ".hidden/e.csv", "_meta/f.csv"} {
		p := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	got, err := ListFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i], _ = filepath.Rel(root, got[i])
	}
	want := []string{"a.csv", "b.csv", "sub/c.csv", "year=2024/month=5/d.csv"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	one, err := ListFiles(filepath.Join(root, "a.csv"))
	if err != nil || len(one) != 1 {
		t.Errorf("single file: %v %v", one, err)
	}
}

func TestPartitionValues(t *testing.T) {
	vals, null := PartitionValues("/data/t/country=a%2Fb/year=2024/x=__HIVE_DEFAULT_PARTITION__/part-0.parquet")
	if vals["country"] != "a/b" || vals["year"] != "2024" || !null["x"] || len(vals) != 3 {
		t.Errorf("vals %v null %v", vals, null)
	}
	for _, s := range []string{"plain", "a/b=c", "100%", "\x01:?"} {
		if got := unescapePathName(escapePathName(s)); got != s {
			t.Errorf("escape round trip %q → %q", s, got)
		}
	}
}

func TestPartitionColumnsFromPath(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "day=2024-05-01", "n=7", "a.csv")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("v\n1\n"), 0o644)
	s, err := InferSchema(context.Background(), "csv", []string{p}, map[string]string{"inferSchema": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); !strings.Contains(got, "day: type=utf8") || !strings.Contains(got, "n: type=int64") {
		t.Fatalf("schema %s", got)
	}
	rows, _, _, err := readAll(t, "csv", p, ReadOptions{Schema: s})
	if err != nil || len(rows) != 1 || rows[0] != "1|2024-05-01|7" {
		t.Fatalf("rows %q, %v", rows, err)
	}
}
