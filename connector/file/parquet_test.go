package file

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// rowGroupFile writes one Parquet file with row groups of 100 rows:
// id 0..399, name "n<id>", ts one hour per row group, score id/2.
func rowGroupFile(t testing.TB, mem memory.Allocator) (string, *arrow.Schema) {
	t.Helper()
	s := schemaOf(fld("id", tInt64), fld("name", tString), fld("ts", tTsUs), fld("score", tFloat), fld("small", tInt32))
	rb := array.NewRecordBuilder(mem, s)
	defer rb.Release()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 400 {
		rb.Field(0).(*array.Int64Builder).Append(int64(i))
		rb.Field(1).(*array.StringBuilder).Append("n" + string(rune('a'+i/100)))
		rb.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(i/100) * time.Hour).UnixMicro()))
		rb.Field(3).(*array.Float64Builder).Append(float64(i) / 2)
		if i < 100 {
			rb.Field(4).AppendNull()
		} else {
			rb.Field(4).(*array.Int32Builder).Append(int32(i))
		}
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	dir := filepath.Join(t.TempDir(), "rg")
	if err := writeJob(t, dir, SaveError, "parquet", WriteOptions{Alloc: mem, Options: map[string]string{"rowGroupRows": "100"}}, rec); err != nil {
		t.Fatal(err)
	}
	files, err := ListFiles(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v, %v", files, err)
	}
	return files[0], s
}

func TestParquetRowGroupSkipping(t *testing.T) {
	mem := checkedAlloc(t)
	path, s := rowGroupFile(t, mem)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		filters []Predicate
		skipped int64
		rows    int
	}{
		{"none", nil, 0, 400},
		{"id = 150", []Predicate{{"id", "=", 150}}, 3, 100},
		{"id < 100", []Predicate{{"id", "<", int64(100)}}, 3, 100},
		{"id <= 100", []Predicate{{"id", "<=", 100}}, 2, 200},
		{"id > 299", []Predicate{{"id", ">", 299}}, 3, 100},
		{"id >= 1000", []Predicate{{"id", ">=", 1000}}, 4, 0},
		{"name = nc", []Predicate{{"name", "=", "nc"}}, 3, 100},
		{"name != na", []Predicate{{"name", "!=", "na"}}, 1, 300},
		{"ts >= 02:00", []Predicate{{"ts", ">=", base.Add(2 * time.Hour)}}, 2, 200},
		{"score > 150.0", []Predicate{{"score", ">", 150.0}}, 3, 100},
		{"small = 5 skips the all-null group and the others", []Predicate{{"small", "=", 5}}, 4, 0},
		{"and of two", []Predicate{{"id", ">=", 100}, {"name", "<", "nc"}}, 3, 100},
		{"ts < 02:00 plus 1ns is not exact: no skip", []Predicate{{"ts", "<", base.Add(2*time.Hour + 1)}}, 0, 400},
		{"ts < 02:00", []Predicate{{"ts", "<", base.Add(2 * time.Hour)}}, 2, 200},
		{"unknown column ignored", []Predicate{{"nope", "=", 1}}, 0, 400},
		{"type mismatch ignored", []Predicate{{"id", "=", "x"}}, 0, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, _, st, err := readAll(t, "parquet", path, ReadOptions{Schema: s, Filters: tt.filters, Alloc: mem})
			if err != nil {
				t.Fatal(err)
			}
			if st.RowGroups != 4 || st.RowGroupsSkipped != tt.skipped || len(rows) != tt.rows {
				t.Errorf("row groups %d skipped %d rows %d; want 4, %d, %d", st.RowGroups, st.RowGroupsSkipped, len(rows), tt.skipped, tt.rows)
			}
		})
	}
}

func TestParquetSchemaMismatch(t *testing.T) {
	mem := checkedAlloc(t)
	path, _ := rowGroupFile(t, mem)
	// missing column → null; int32 → int64 widening; projection order
	s := schemaOf(fld("small", tInt64), fld("missing", tString), fld("id", tFloat))
	rows, schema, _, err := readAll(t, "parquet", path, ReadOptions{Schema: s, Alloc: mem, BatchRows: 64})
	if err != nil {
		t.Fatal(err)
	}
	if !schema.Equal(s) || len(rows) != 400 || rows[0] != "(null)|(null)|0" || rows[399] != "399|(null)|399" {
		t.Fatalf("schema %s rows %d first %q last %q", schema, len(rows), rows[0], rows[399])
	}
	// an impossible type is an error naming the column and both types
	_, _, _, err = readAll(t, "parquet", path, ReadOptions{Schema: schemaOf(fld("name", tTsUs)), Alloc: mem})
	if err == nil || !strings.Contains(err.Error(), `column "name" has type utf8 in the file, the schema wants timestamp`) {
		t.Fatalf("err = %v", err)
	}
	// only columns absent from the file: rows counted from the metadata
	rows, _, _, err = readAll(t, "parquet", path, ReadOptions{Schema: schemaOf(fld("x", tInt64)), Alloc: mem})
	if err != nil || len(rows) != 400 || rows[0] != "(null)" {
		t.Fatalf("rows %d, %v", len(rows), err)
	}
}

func TestParquetProjectionAndCancel(t *testing.T) {
	mem := checkedAlloc(t)
	path, s := rowGroupFile(t, mem)
	rows, schema, _, err := readAll(t, "parquet", path, ReadOptions{Schema: s, Columns: []string{"name", "id"}, Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldNames(schema); !slices.Equal(got, []string{"name", "id"}) || rows[5] != "na|5" {
		t.Fatalf("columns %v row %q", got, rows[5])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadFile(ctx, "parquet", path, ReadOptions{Schema: s, Alloc: mem}, func(r arrow.RecordBatch) error { r.Release(); return nil }); err != context.Canceled {
		t.Fatalf("cancelled read: %v", err)
	}
}

func TestParquetListElementNamesAndCasts(t *testing.T) {
	mem := checkedAlloc(t)
	b := allTypesBatch(mem, 0, 6)
	defer b.Release()
	dir := filepath.Join(t.TempDir(), "t")
	if err := writeJob(t, dir, SaveError, "parquet", WriteOptions{Alloc: mem}, b); err != nil {
		t.Fatal(err)
	}
	files, _ := ListFiles(dir)
	// a list named "element" (as Spark writes it), a timestamp in ms, an
	// int32 read as a string
	s := schemaOf(
		fld("l", arrow.ListOfField(arrow.Field{Name: "element", Type: tInt64, Nullable: true})),
		fld("ts", &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}),
		fld("i32", tString),
	)
	rows, schema, _, err := readAll(t, "parquet", files[0], ReadOptions{Schema: s, Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if !schema.Equal(s) {
		t.Errorf("schema %s, want %s", schema, s)
	}
	if want := "[0,1]|2024-05-01T10:00:02Z|2"; rows[2] != want {
		t.Errorf("row 2 = %q, want %q", rows[2], want)
	}
}

func TestParquetMergeSchema(t *testing.T) {
	mem := checkedAlloc(t)
	write := func(dir string, s *arrow.Schema) string {
		rb := array.NewRecordBuilder(mem, s)
		defer rb.Release()
		for _, f := range rb.Fields() {
			f.AppendNull()
		}
		rec := rb.NewRecordBatch()
		defer rec.Release()
		if err := writeJob(t, dir, SaveError, "parquet", WriteOptions{Alloc: mem}, rec); err != nil {
			t.Fatal(err)
		}
		files, _ := ListFiles(dir)
		return files[0]
	}
	root := t.TempDir()
	a := write(filepath.Join(root, "a"), schemaOf(fld("x", tInt64), fld("y", tString)))
	b := write(filepath.Join(root, "b"), schemaOf(fld("z", tFloat), fld("x", tInt64)))
	c := write(filepath.Join(root, "c"), schemaOf(fld("x", tString)))
	s, err := InferSchema(context.Background(), "parquet", []string{a, b}, map[string]string{"mergeSchema": "true"})
	if err != nil || strings.Join(fieldNames(s), ",") != "x,y,z" {
		t.Fatalf("merged %v, %v", s, err)
	}
	s, err = InferSchema(context.Background(), "parquet", []string{a, b}, nil)
	if err != nil || strings.Join(fieldNames(s), ",") != "x,y" {
		t.Fatalf("first file %v, %v", s, err)
	}
	if _, err := InferSchema(context.Background(), "parquet", []string{a, c}, map[string]string{"mergeSchema": "true"}); err == nil || !strings.Contains(err.Error(), `column "x" is int64`) {
		t.Fatalf("conflict: %v", err)
	}
}
