package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/connector/file"
)

// A streaming file source admits new files into its seen-files log and
// reads batches by log positions, as an engine's micro-batch loop does.
func ExampleNewStreamSource() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	in, meta := filepath.Join(root, "in"), filepath.Join(root, "checkpoint", "sources", "0")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.json"), []byte(`{"word":"hello"}`+"\n"), 0o644)

	schema := arrow.NewSchema([]arrow.Field{{Name: "word", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	src, err := file.NewStreamSource(ctx, in, "json", file.StreamSourceOptions{
		Schema:      schema,
		MetadataDir: meta,
		Options:     map[string]string{"maxFilesPerTrigger": "10", "cleanSource": "delete"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	start, _ := src.InitialOffsets(ctx)
	for batch := 0; batch < 2; batch++ {
		ranges, end, _, err := connector.PlanBatch(ctx, src, start, src.Limits())
		if err != nil {
			fmt.Println(err)
			return
		}
		// the engine logs end as offsets/<batch> here, then runs the batch
		for _, r := range ranges {
			_ = src.Read(ctx, r, func(bs []arrow.RecordBatch) error {
				for _, b := range bs {
					fmt.Printf("batch %d %s: %s\n", batch, r, b.Column(0).ValueStr(0))
					b.Release()
				}
				return nil
			})
		}
		// after the commit: cleanSource deletes the files read
		_ = src.Commit(ctx, end)
		start = end
		os.WriteFile(filepath.Join(in, "b.json"), []byte(`{"word":"world"}`+"\n"), 0o644)
	}
	_, err = os.Stat(filepath.Join(in, "a.json"))
	fmt.Println("a.json deleted:", os.IsNotExist(err))
	// Output:
	// batch 0 files-0[0,1): hello
	// batch 1 files-0[1,2): world
	// a.json deleted: true
}

// A streaming file sink writes each batch once, whatever the number of
// attempts, and readers list only committed files.
func ExampleNewStreamSink() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	out := filepath.Join(root, "out")

	sink, err := file.NewStreamSink(out, "csv", file.StreamSinkOptions{QueryID: "q1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for id := int64(0); id < 2; id++ {
		b.Field(0).(*array.Int64Builder).Append(id)
		rec := b.NewRecordBatch()
		_ = sink.AddBatch(ctx, id, []arrow.RecordBatch{rec})
		_ = sink.AddBatch(ctx, id, []arrow.RecordBatch{rec}) // a re-run: no effect
		rec.Release()
	}
	files, _ := file.CommittedFiles(out)
	for _, f := range files {
		rel, _ := filepath.Rel(out, f)
		fmt.Println(rel)
	}
	// Output:
	// part-00000-batch0.csv
	// part-00000-batch1.csv
}
