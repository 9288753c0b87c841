package file

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// fuzzSchema covers every kind the text readers convert into.
var fuzzSchema = schemaOf(
	fld("s", tString), fld("i", tInt64), fld("f", tFloat), fld("b", tBool),
	fld("t", tTsUs), fld("d", tDate), fld("i8", arrow.PrimitiveTypes.Int8),
	fld("u", arrow.PrimitiveTypes.Uint16), fld("_corrupt_record", tString),
)

var fuzzJSONSchema = schemaOf(
	fld("s", tString), fld("i", tInt64), fld("f", tFloat), fld("b", tBool),
	fld("t", tTsUs), fld("bin", arrow.BinaryTypes.Binary),
	fld("st", arrow.StructOf(fld("x", tInt32), fld("l", arrow.ListOf(tString)))),
	fld("l", arrow.ListOf(arrow.ListOf(tFloat))), fld("_corrupt_record", tString),
)

// fuzzRead reads data as format with a fixed schema in each mode and with
// an inferred schema; errors are fine, panics and leaks are not.
func fuzzRead(t *testing.T, format string, schema *arrow.Schema, data []byte, opts map[string]string) {
	p := filepath.Join(t.TempDir(), "in."+format)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"PERMISSIVE", "DROPMALFORMED", "FAILFAST"} {
		o := map[string]string{"mode": mode, "inferSchema": "true"}
		for k, v := range opts {
			o[k] = v
		}
		mem := checkedAlloc(t)
		emit := func(r arrow.RecordBatch) error {
			if r.NumRows() > 7 {
				t.Errorf("batch of %d rows, max 7", r.NumRows())
			}
			r.Release()
			return nil
		}
		whole, werr := ReadFile(context.Background(), format, p, ReadOptions{Schema: schema, Options: o, Alloc: mem, BatchRows: 7}, emit)
		if mode == "PERMISSIVE" && werr == nil {
			// ranges that tile the file give the same rows as one read
			fi := FileInfo{Path: p, Size: int64(len(data))}
			var rows int64
			for _, r := range Splits(format, fi, o, int64(len(data)/3+1)) {
				st, err := ReadFile(context.Background(), format, p, ReadOptions{Schema: schema, Options: o, Alloc: mem, BatchRows: 7, Range: r}, emit)
				if err != nil {
					t.Fatalf("range %v: %v", r, err)
				}
				rows += st.Rows
			}
			if rows != whole.Rows {
				t.Fatalf("ranges read %d rows, the whole file %d", rows, whole.Rows)
			}
		}
		if s, err := InferSchema(context.Background(), format, []string{p}, o); err == nil {
			ReadFile(context.Background(), format, p, ReadOptions{Schema: s, Options: o, Alloc: mem, BatchRows: 7}, emit)
		}
	}
}

func addSeedFiles(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
}

func FuzzReadCSV(f *testing.F) {
	addSeedFiles(f, "people.csv", "malformed.csv")
	f.Add([]byte("s,i,f,b,t,d,i8,u\nx,1,1.5,true,2024-01-01T00:00:00Z,2024-01-01,-8,9\n"), false)
	f.Add([]byte("\"a\nb\",\"\\\"\"\n\"unterminated\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, multi bool) {
		opts := map[string]string{}
		if multi {
			opts["multiLine"] = "true"
			opts["header"] = "false"
		}
		fuzzRead(t, "csv", fuzzSchema, data, opts)
	})
}

func FuzzReadJSON(f *testing.F) {
	addSeedFiles(f, "people.json", "malformed.json")
	f.Add([]byte(`{"s":"\ud83d\ude00","i":1,"f":"NaN","b":true,"t":1.5,"bin":"aGk=","st":{"x":1,"l":["a",null]},"l":[[1,2],[],null]}`), false)
	f.Add([]byte(`{"st":{"x":"bad"}}`+"\n"+`[[[[[[[[[[`), false)
	f.Add([]byte("[{\"i\":1},\n{\"s\":[1,{}]}, 3]"), true)
	f.Fuzz(func(t *testing.T, data []byte, multi bool) {
		opts := map[string]string{}
		if multi {
			opts["multiLine"] = "true"
		}
		fuzzRead(t, "json", fuzzJSONSchema, data, opts)
	})
}
