package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// allTypes is a schema with every common type the writers and the Parquet
// reader handle.
var allTypes = schemaOf(
	fld("i32", tInt32),
	fld("i64", tInt64),
	fld("f64", tFloat),
	fld("b", tBool),
	fld("s", tString),
	fld("bin", arrow.BinaryTypes.Binary),
	fld("ts", tTsUs),
	fld("d", tDate),
	fld("st", arrow.StructOf(fld("x", tInt64), fld("y", tString))),
	fld("l", arrow.ListOf(tInt64)),
)

// allTypesBatch builds n rows of allTypes; every 5th row is all nulls.
func allTypesBatch(mem memory.Allocator, start, n int) arrow.RecordBatch {
	rb := array.NewRecordBuilder(mem, allTypes)
	defer rb.Release()
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for r := start; r < start+n; r++ {
		if r%5 == 4 {
			for _, f := range rb.Fields() {
				f.AppendNull()
			}
			continue
		}
		rb.Field(0).(*array.Int32Builder).Append(int32(r))
		rb.Field(1).(*array.Int64Builder).Append(int64(r) * 1000)
		rb.Field(2).(*array.Float64Builder).Append(float64(r) / 4)
		rb.Field(3).(*array.BooleanBuilder).Append(r%2 == 0)
		rb.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("row, \"%d\"\n", r))
		rb.Field(5).(*array.BinaryBuilder).Append([]byte{byte(r), 0, 255})
		rb.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(r) * time.Second).UnixMicro()))
		rb.Field(7).(*array.Date32Builder).Append(arrow.Date32FromTime(base.AddDate(0, 0, r)))
		sb := rb.Field(8).(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Int64Builder).Append(int64(r))
		sb.FieldBuilder(1).(*array.StringBuilder).Append("y")
		lb := rb.Field(9).(*array.ListBuilder)
		lb.Append(true)
		for k := range r % 3 {
			lb.ValueBuilder().(*array.Int64Builder).Append(int64(k))
		}
	}
	return rb.NewRecordBatch()
}

// writeJob writes batches as one partition per batch and commits.
func writeJob(t testing.TB, path string, mode SaveMode, format string, opts WriteOptions, batches ...arrow.RecordBatch) error {
	t.Helper()
	j, err := NewWriteJob(path, mode, format, opts)
	if err != nil {
		return err
	}
	for i, b := range batches {
		if err := j.WritePartition(context.Background(), i, b.Schema(), []arrow.RecordBatch{b}); err != nil {
			j.Abort()
			return err
		}
	}
	return j.Commit(context.Background())
}

// readDir reads every file of dir with the given schema and returns sorted
// rows.
func readDir(t testing.TB, format, dir string, schema *arrow.Schema, opts map[string]string) []string {
	t.Helper()
	files, err := ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, f := range files {
		rows, _, _, err := readAll(t, format, f, ReadOptions{Schema: schema, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
	}
	slices.Sort(all)
	return all
}

func TestParquetRoundTrip(t *testing.T) {
	mem := checkedAlloc(t)
	b1, b2 := allTypesBatch(mem, 0, 10), allTypesBatch(mem, 10, 7)
	defer b1.Release()
	defer b2.Release()
	dir := filepath.Join(t.TempDir(), "out")
	if err := writeJob(t, dir, SaveError, "parquet", WriteOptions{Alloc: mem}, b1, b2); err != nil {
		t.Fatal(err)
	}
	want := rowsOf([]arrow.RecordBatch{b1, b2})
	slices.Sort(want)
	got := readDir(t, "parquet", dir, allTypes, nil)
	if !slices.Equal(got, want) {
		t.Fatalf("round trip:\n got %q\nwant %q", got, want)
	}
	// schema inference reads the file schema back
	files, _ := ListFiles(dir)
	s, err := InferSchema(context.Background(), "parquet", files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Fields()) != len(allTypes.Fields()) || !slices.EqualFunc(s.Fields(), allTypes.Fields(), func(a, b arrow.Field) bool { return a.Name == b.Name && sameLayout(a.Type, b.Type) && !a.HasMetadata() }) {
		t.Errorf("inferred %s\nwant %s", s, allTypes)
	}
	for _, f := range files {
		if !strings.HasSuffix(f, ".zstd.parquet") || !strings.Contains(filepath.Base(f), "part-0000") {
			t.Errorf("file name %s: want part-0000N-<id>.zstd.parquet", f)
		}
	}
}

func TestTextFormatsRoundTrip(t *testing.T) {
	flat := schemaOf(fld("i32", tInt32), fld("i64", tInt64), fld("f64", tFloat), fld("b", tBool), fld("s", tString), fld("ts", tTsUs), fld("d", tDate))
	for _, format := range []string{"csv", "json"} {
		for _, comp := range []string{"", "gzip"} {
			t.Run(format+comp, func(t *testing.T) {
				mem := checkedAlloc(t)
				full := allTypesBatch(mem, 0, 12)
				defer full.Release()
				schema := allTypes
				rec := full
				if format == "csv" {
					idx := []int{0, 1, 2, 3, 4, 6, 7}
					cols := make([]arrow.Array, len(idx))
					for i, c := range idx {
						cols[i] = full.Column(c)
					}
					rec = array.NewRecordBatch(flat, cols, full.NumRows())
					defer rec.Release()
					schema = flat
				}
				dir := filepath.Join(t.TempDir(), "out")
				if err := writeJob(t, dir, SaveError, format, WriteOptions{Alloc: mem, Options: map[string]string{"compression": comp}}, rec); err != nil {
					t.Fatal(err)
				}
				want := rowsOf([]arrow.RecordBatch{rec})
				slices.Sort(want)
				readOpts := map[string]string{"mode": "FAILFAST"}
				if format == "csv" {
					readOpts["multiLine"] = "true" // strings hold line breaks
				}
				got := readDir(t, format, dir, schema, readOpts)
				if !slices.Equal(got, want) {
					t.Fatalf("round trip:\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

func TestTextRoundTrip(t *testing.T) {
	mem := checkedAlloc(t)
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"one", "", "three"}, nil)
	arr := sb.NewArray()
	sb.Release()
	s := schemaOf(fld("value", tString))
	rec := array.NewRecordBatch(s, []arrow.Array{arr}, 3)
	arr.Release()
	defer rec.Release()
	dir := filepath.Join(t.TempDir(), "txt")
	if err := writeJob(t, dir, SaveError, "text", WriteOptions{Alloc: mem}, rec); err != nil {
		t.Fatal(err)
	}
	files, _ := ListFiles(dir)
	rows, _, _, err := readAll(t, "text", files[0], ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"one", "", "three"}; !slices.Equal(rows, want) {
		t.Fatalf("got %q, want %q", rows, want)
	}
	rows, _, _, err = readAll(t, "text", files[0], ReadOptions{Options: map[string]string{"wholetext": "true"}})
	if err != nil || len(rows) != 1 || rows[0] != "one\n\nthree\n" {
		t.Fatalf("wholetext: %q, %v", rows, err)
	}
}

func TestSaveModes(t *testing.T) {
	ctx := context.Background()
	mem := checkedAlloc(t)
	b := allTypesBatch(mem, 0, 5)
	defer b.Release()
	count := func(dir string) int {
		return len(readDir(t, "parquet", dir, allTypes, nil))
	}
	dir := filepath.Join(t.TempDir(), "t")

	// error mode: first write succeeds, second fails
	if err := writeJob(t, dir, SaveError, "parquet", WriteOptions{Alloc: mem}, b); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "_SUCCESS")); err != nil {
		t.Fatalf("no _SUCCESS marker: %v", err)
	}
	if _, err := NewWriteJob(dir, SaveError, "parquet", WriteOptions{}); !errors.Is(err, ErrPathExists) {
		t.Fatalf("second write in error mode: %v, want ErrPathExists", err)
	}
	// append adds files
	if err := writeJob(t, dir, SaveAppend, "parquet", WriteOptions{Alloc: mem}, b); err != nil {
		t.Fatal(err)
	}
	if n := count(dir); n != 10 {
		t.Fatalf("after append: %d rows, want 10", n)
	}
	// ignore writes nothing
	j, err := NewWriteJob(dir, SaveIgnore, "parquet", WriteOptions{Alloc: mem})
	if err != nil || !j.Ignored() {
		t.Fatalf("ignore: %v, ignored %v", err, j != nil && j.Ignored())
	}
	if err := j.WritePartition(ctx, 0, b.Schema(), []arrow.RecordBatch{b}); err != nil {
		t.Fatal(err)
	}
	if err := j.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(dir); n != 10 {
		t.Fatalf("after ignore: %d rows, want 10", n)
	}
	// overwrite replaces the old contents, but only at commit
	j, err = NewWriteJob(dir, SaveOverwrite, "parquet", WriteOptions{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.WritePartition(ctx, 0, b.Schema(), []arrow.RecordBatch{b}); err != nil {
		t.Fatal(err)
	}
	if n := count(dir); n != 10 {
		t.Fatalf("overwrite before commit: readers see %d rows, want the old 10", n)
	}
	if err := j.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(dir); n != 5 {
		t.Fatalf("after overwrite: %d rows, want 5", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "_temporary")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("_temporary left behind: %v", err)
	}
	if err := j.Commit(ctx); err == nil {
		t.Error("second commit succeeded")
	}
}

func TestParseSaveMode(t *testing.T) {
	for in, want := range map[string]SaveMode{"": SaveError, "error": SaveError, "ErrorIfExists": SaveError, "overwrite": SaveOverwrite, "APPEND": SaveAppend, "ignore": SaveIgnore} {
		got, err := ParseSaveMode(in)
		if err != nil || got != want {
			t.Errorf("ParseSaveMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseSaveMode("replace"); err == nil {
		t.Error("ParseSaveMode(replace) succeeded")
	}
}

func TestAbortRemovesTemporaryFiles(t *testing.T) {
	mem := checkedAlloc(t)
	b := allTypesBatch(mem, 0, 3)
	defer b.Release()
	dir := filepath.Join(t.TempDir(), "t")
	j, err := NewWriteJob(dir, SaveError, "json", WriteOptions{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.WritePartition(context.Background(), 0, b.Schema(), []arrow.RecordBatch{b}); err != nil {
		t.Fatal(err)
	}
	if files, _ := ListFiles(dir); len(files) != 0 {
		t.Fatalf("uncommitted files are visible: %v", files)
	}
	if err := j.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("abort left %s: %v", dir, err)
	}
	if err := j.Commit(context.Background()); err == nil {
		t.Fatal("commit after abort succeeded")
	}
}

func TestPartitionByAndConcurrentPartitions(t *testing.T) {
	mem := checkedAlloc(t)
	s := schemaOf(fld("country", tString), fld("year", tInt64), fld("v", tFloat))
	batch := func(p int) arrow.RecordBatch {
		rb := array.NewRecordBuilder(mem, s)
		defer rb.Release()
		for i := range 20 {
			if i == 19 {
				rb.Field(0).AppendNull()
			} else {
				rb.Field(0).(*array.StringBuilder).Append([]string{"no", "se", "a/b"}[i%3])
			}
			rb.Field(1).(*array.Int64Builder).Append(int64(2020 + i%2))
			rb.Field(2).(*array.Float64Builder).Append(float64(p*100 + i))
		}
		return rb.NewRecordBatch()
	}
	dir := filepath.Join(t.TempDir(), "t")
	j, err := NewWriteJob(dir, SaveError, "parquet", WriteOptions{Alloc: mem, PartitionBy: []string{"country", "year"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for p := range 8 {
		wg.Go(func() {
			b := batch(p)
			defer b.Release()
			errs[p] = j.WritePartition(context.Background(), p, s, []arrow.RecordBatch{b})
			if p == 3 { // a retried task replaces its files
				errs[p] = errors.Join(errs[p], j.WritePartition(context.Background(), p, s, []arrow.RecordBatch{b}))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := j.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err := ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 8*7 { // 3 countries + null, 2 years, minus (null, 2020) which never occurs
		t.Errorf("%d files, want 56", len(files))
	}
	var dirs []string
	for _, f := range files {
		rel, _ := filepath.Rel(dir, filepath.Dir(f))
		if !slices.Contains(dirs, rel) {
			dirs = append(dirs, rel)
		}
	}
	slices.Sort(dirs)
	want := []string{"country=__HIVE_DEFAULT_PARTITION__/year=2021", "country=a%2Fb/year=2020", "country=a%2Fb/year=2021", "country=no/year=2020", "country=no/year=2021", "country=se/year=2020", "country=se/year=2021"}
	if !slices.Equal(dirs, want) {
		t.Errorf("dirs %q\nwant %q", dirs, want)
	}
	// read back with the partition columns recovered from the paths
	inferred, err := InferSchema(context.Background(), "parquet", files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(fieldNames(inferred)); got != "[v country year]" {
		t.Errorf("inferred columns %s", got)
	}
	if inferred.Field(2).Type.ID() != arrow.INT64 {
		t.Errorf("year inferred as %s", inferred.Field(2).Type)
	}
	rows := readDir(t, "parquet", dir, inferred, nil)
	if len(rows) != 160 {
		t.Fatalf("%d rows, want 160", len(rows))
	}
	if !slices.Contains(rows, "319|(null)|2021") || !slices.Contains(rows, "302|a/b|2020") {
		t.Errorf("partition values not restored: %q", rows[:5])
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewWriteJob(dir, SaveError, "avro", WriteOptions{}); !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), "csv, json, parquet, text") {
		t.Errorf("avro: %v", err)
	}
	if _, err := NewWriteJob(dir, SaveError, "parquet", WriteOptions{Options: map[string]string{"compression": "lzma"}}); err == nil {
		t.Error("bad codec accepted")
	}
	mem := checkedAlloc(t)
	b := allTypesBatch(mem, 0, 2)
	defer b.Release()
	j, err := NewWriteJob(filepath.Join(dir, "x"), SaveError, "csv", WriteOptions{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Abort()
	if err := j.WritePartition(context.Background(), 0, b.Schema(), []arrow.RecordBatch{b}); err == nil || !strings.Contains(err.Error(), "csv cannot hold column") {
		t.Errorf("nested column into csv: %v", err)
	}
	j2, err := NewWriteJob(filepath.Join(dir, "y"), SaveError, "csv", WriteOptions{Alloc: mem, PartitionBy: []string{"nope"}})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Abort()
	if err := j2.WritePartition(context.Background(), 0, b.Schema(), []arrow.RecordBatch{b}); err == nil || !strings.Contains(err.Error(), `partitionBy column "nope"`) {
		t.Errorf("unknown partition column: %v", err)
	}
}

func TestSameJobIDReplacesFiles(t *testing.T) {
	mem := checkedAlloc(t)
	b := allTypesBatch(mem, 0, 4)
	defer b.Release()
	dir := filepath.Join(t.TempDir(), "t")
	for range 3 { // a batch re-executed after a crash commits again
		if err := writeJob(t, dir, SaveAppend, "parquet", WriteOptions{Alloc: mem, JobID: "batch-7"}, b); err != nil {
			t.Fatal(err)
		}
	}
	if rows := readDir(t, "parquet", dir, allTypes, nil); len(rows) != 4 {
		t.Fatalf("%d rows after three commits of the same job id, want 4", len(rows))
	}
	if _, err := NewWriteJob(dir, SaveAppend, "parquet", WriteOptions{JobID: "../x"}); err == nil {
		t.Error("job id with a path separator accepted")
	}
}

func TestWholeFloatsReadBackAsFloats(t *testing.T) {
	mem := checkedAlloc(t)
	s := schemaOf(fld("f", tFloat))
	fb := array.NewFloat64Builder(mem)
	fb.AppendValues([]float64{2, -0.5, 1e21}, nil)
	arr := fb.NewArray()
	fb.Release()
	rec := array.NewRecordBatch(s, []arrow.Array{arr}, 3)
	arr.Release()
	defer rec.Release()
	for _, format := range []string{"csv", "json"} {
		dir := filepath.Join(t.TempDir(), format)
		if err := writeJob(t, dir, SaveError, format, WriteOptions{Alloc: mem}, rec); err != nil {
			t.Fatal(err)
		}
		files, _ := ListFiles(dir)
		got, err := InferSchema(context.Background(), format, files, map[string]string{"inferSchema": "true"})
		if err != nil || got.Field(0).Type.ID() != arrow.FLOAT64 {
			t.Errorf("%s: inferred %v, %v", format, got, err)
		}
	}
}
