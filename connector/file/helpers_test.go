package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// checkedAlloc returns an allocator that fails the test if anything it
// allocated is still held when the test ends.
func checkedAlloc(t testing.TB) *memory.CheckedAllocator {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// writeTemp writes content to name under a new temporary directory.
func writeTemp(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rowsOf renders batches as lines of "v1|v2|..." ("(null)" for nulls).
func rowsOf(recs []arrow.RecordBatch) []string {
	var out []string
	for _, r := range recs {
		for i := range int(r.NumRows()) {
			vals := make([]string, r.NumCols())
			for c := range vals {
				vals[c] = r.Column(c).ValueStr(i)
			}
			out = append(out, strings.Join(vals, "|"))
		}
	}
	return out
}

// readAll reads path and returns the rows rendered by rowsOf, the schema
// of the batches, and the stats; batches are released.
func readAll(t testing.TB, format, path string, o ReadOptions) ([]string, *arrow.Schema, ReadStats, error) {
	t.Helper()
	if o.Alloc == nil {
		o.Alloc = checkedAlloc(t)
	}
	var recs []arrow.RecordBatch
	st, err := ReadFile(context.Background(), format, path, o, func(r arrow.RecordBatch) error {
		recs = append(recs, r)
		return nil
	})
	var schema *arrow.Schema
	if len(recs) > 0 {
		schema = recs[0].Schema()
	}
	rows := rowsOf(recs)
	for _, r := range recs {
		r.Release()
	}
	return rows, schema, st, err
}

func schemaOf(fields ...arrow.Field) *arrow.Schema { return arrow.NewSchema(fields, nil) }

func fld(name string, t arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: t, Nullable: true}
}

var (
	tInt64  = arrow.PrimitiveTypes.Int64
	tInt32  = arrow.PrimitiveTypes.Int32
	tFloat  = arrow.PrimitiveTypes.Float64
	tString = arrow.BinaryTypes.String
	tBool   = arrow.FixedWidthTypes.Boolean
	tTsUs   = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	tDate   = arrow.FixedWidthTypes.Date32
)
