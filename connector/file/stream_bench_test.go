package file

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
)

// BenchmarkStreamSource reads 100 JSON-lines files of 1000 rows through a
// StreamSource (listing, admission with the seen-files log on disk, Read)
// and, in the same iteration, through a plain ReadFile loop over the same
// files; it reports both rates and their ratio.
func BenchmarkStreamSource(b *testing.B) {
	dir := b.TempDir()
	const files, rows = 100, 1000
	var sb strings.Builder
	for i := range rows {
		fmt.Fprintf(&sb, `{"id":%d,"name":"n%d"}`+"\n", i, i%7)
	}
	for f := range files {
		putFile(b, dir, fmt.Sprintf("f%03d.json", f), sb.String(), base.Add(time.Duration(f)*time.Second))
	}
	schema := schemaOf(fld("id", tInt64), fld("name", tString))
	ctx := context.Background()
	var srcT, plainT time.Duration
	for b.Loop() {
		t0 := time.Now()
		s, err := NewStreamSource(ctx, dir, "json", StreamSourceOptions{Schema: schema, MetadataDir: b.TempDir(), Alloc: memory.DefaultAllocator})
		if err != nil {
			b.Fatal(err)
		}
		end, err := s.LatestOffsets(ctx)
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		err = s.Read(ctx, connector.OffsetRange{Partition: StreamPartition, Until: end[StreamPartition]}, func(bs []arrow.RecordBatch) error {
			for _, r := range bs {
				got += int(r.NumRows())
				r.Release()
			}
			return nil
		})
		if err != nil || got != files*rows {
			b.Fatalf("read %d rows: %v", got, err)
		}
		srcT += time.Since(t0)
		t0 = time.Now()
		paths, _ := ListFiles(dir)
		got = 0
		for _, p := range paths {
			if _, err := ReadFile(ctx, "json", p, ReadOptions{Schema: schema}, func(r arrow.RecordBatch) error {
				got += int(r.NumRows())
				r.Release()
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		plainT += time.Since(t0)
	}
	n := float64(b.N * files * rows)
	b.ReportMetric(n/srcT.Seconds(), "source-rows/s")
	b.ReportMetric(n/plainT.Seconds(), "readfile-rows/s")
	b.ReportMetric(plainT.Seconds()/srcT.Seconds(), "ratio")
}

// BenchmarkStreamSink writes batches of 10,000 rows as JSON through a
// StreamSink (write job, commit, metadata log with fsync, compaction every
// 10 batches).
func BenchmarkStreamSink(b *testing.B) {
	s, err := NewStreamSink(filepath.Join(b.TempDir(), "out"), "json", StreamSinkOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, 10_000)
	for i := range ids {
		ids[i] = int64(i)
	}
	rec := idBatch(memory.DefaultAllocator, ids...)
	defer rec.Release()
	ctx := context.Background()
	id := int64(0)
	for b.Loop() {
		if err := s.AddBatch(ctx, id, []arrow.RecordBatch{rec}); err != nil {
			b.Fatal(err)
		}
		id++
	}
	b.ReportMetric(float64(b.N*len(ids))/b.Elapsed().Seconds(), "rows/s")
}
