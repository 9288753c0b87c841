package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spate-io/spate/connector/file"
)

// Reading a CSV file in PERMISSIVE mode: the malformed line is kept in the
// corrupt-record column.
func ExampleReadFile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "people.csv")
	os.WriteFile(path, []byte("name,age\nann,31\nbob,old\n"), 0o644)

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "age", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "_corrupt_record", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	st, err := file.ReadFile(context.Background(), "csv", path, file.ReadOptions{Schema: schema},
		func(rec arrow.RecordBatch) error {
			defer rec.Release()
			for i := range int(rec.NumRows()) {
				fmt.Println(rec.Column(0).ValueStr(i), rec.Column(1).ValueStr(i), rec.Column(2).ValueStr(i))
			}
			return nil
		})
	fmt.Println(st.Rows, st.MalformedRows, err)
	// Output:
	// ann 31 (null)
	// (null) (null) bob,old
	// 2 1 <nil>
}

// Writing a dataset partitioned by a column, then listing what readers see.
func ExampleNewWriteJob() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "events")

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "day", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"mon", "tue", "mon"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	b.Release()

	job, err := file.NewWriteJob(out, file.SaveError, "json", file.WriteOptions{PartitionBy: []string{"day"}, JobID: "job1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := job.WritePartition(context.Background(), 0, schema, []arrow.RecordBatch{rec}); err != nil {
		job.Abort()
		fmt.Println(err)
		return
	}
	if err := job.Commit(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	files, _ := file.ListFiles(out)
	for _, f := range files {
		rel, _ := filepath.Rel(out, f)
		data, _ := os.ReadFile(f)
		fmt.Printf("%s: %s", filepath.ToSlash(rel), data)
	}
	// Output:
	// day=mon/part-00000-job1.json: {"n":1}
	// {"n":3}
	// day=tue/part-00000-job1.json: {"n":2}
}

// Choosing a save mode from Spark's name for it.
func ExampleParseSaveMode() {
	m, _ := file.ParseSaveMode("ErrorIfExists")
	fmt.Println(m)
	_, err := file.ParseSaveMode("replace")
	fmt.Println(err)
	// Output:
	// errorifexists
	// file: save mode "replace": want error, errorifexists, overwrite, append or ignore
}

// Inferring a JSON schema: numbers widen, objects become structs.
func ExampleInferSchema() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "e.json")
	os.WriteFile(path, []byte(`{"id":1,"pos":{"x":1}}`+"\n"+`{"id":2.5,"tags":["a"]}`+"\n"), 0o644)
	s, err := file.InferSchema(context.Background(), "json", []string{path}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range s.Fields() {
		fmt.Println(f.Name, f.Type)
	}
	// Output:
	// id float64
	// pos struct<x: int64 nullable>
	// tags list<item: utf8, nullable>
}
