package file

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// benchRows is the input size: 10M rows for Parquet, 1M for CSV and JSON,
// and 10K for both with SPATE_BENCH_SHORT=1.
func benchRows(full int) int {
	if os.Getenv("SPATE_BENCH_SHORT") == "1" {
		return 10_000
	}
	return full
}

// benchSchema is the 4-column schema of the benchmarks.
var benchSchema = schemaOf(fld("id", tInt64), fld("value", tFloat), fld("user", tString), fld("ts", tTsUs))

var benchBatches = sync.OnceValue(func() []arrow.RecordBatch {
	n := benchRows(10_000_000)
	var out []arrow.RecordBatch
	rb := array.NewRecordBuilder(memory.DefaultAllocator, benchSchema)
	defer rb.Release()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	id := rb.Field(0).(*array.Int64Builder)
	val := rb.Field(1).(*array.Float64Builder)
	user := rb.Field(2).(*array.StringBuilder)
	ts := rb.Field(3).(*array.TimestampBuilder)
	var buf []byte
	for start := 0; start < n; start += DefaultBatchRows {
		m := min(DefaultBatchRows, n-start)
		for i := start; i < start+m; i++ {
			id.Append(int64(i))
			val.Append(float64(i%1000) * 0.25)
			buf = strconv.AppendInt(append(buf[:0], "user-"...), int64(i%10007), 10)
			user.BinaryBuilder.Append(buf)
			ts.Append(arrow.Timestamp(base + int64(i)*1000))
		}
		out = append(out, rb.NewRecordBatch())
	}
	return out
})

func batchRowsTotal(bs []arrow.RecordBatch) int64 {
	var n int64
	for _, b := range bs {
		n += b.NumRows()
	}
	return n
}

// BenchmarkParquet compares the connector's write job and reader with
// arrow-go's pqarrow writer and record reader used directly, on the same
// batches, with the same codec (zstd) and row-group size.
func BenchmarkParquet(b *testing.B) {
	batches := benchBatches()
	rows := batchRowsTotal(batches)
	dir := b.TempDir()
	props := func() *parquet.WriterProperties {
		return parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd),
			parquet.WithMaxRowGroupLength(1<<20), parquet.WithStats(true))
	}
	spateFile := filepath.Join(dir, "spate-read")
	b.Run("write/spate", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			out := filepath.Join(dir, fmt.Sprintf("w%d", i))
			j, err := NewWriteJob(out, SaveOverwrite, "parquet", WriteOptions{JobID: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			if err := j.WritePartition(context.Background(), 0, benchSchema, batches); err != nil {
				b.Fatal(err)
			}
			if err := j.Commit(context.Background()); err != nil {
				b.Fatal(err)
			}
			if i == 0 {
				files, _ := ListFiles(out)
				os.Rename(files[0], spateFile)
			}
			os.RemoveAll(out)
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	arrowFile := filepath.Join(dir, "arrow.parquet")
	b.Run("write/pqarrow", func(b *testing.B) {
		for b.Loop() {
			f, err := os.Create(arrowFile)
			if err != nil {
				b.Fatal(err)
			}
			bw := bufio.NewWriterSize(f, 1<<20)
			fw, err := pqarrow.NewFileWriter(benchSchema, struct{ *bufio.Writer }{bw}, props(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
			if err != nil {
				b.Fatal(err)
			}
			for _, rec := range batches {
				if err := fw.WriteBuffered(rec); err != nil {
					b.Fatal(err)
				}
			}
			if err := fw.Close(); err != nil {
				b.Fatal(err)
			}
			bw.Flush()
			f.Close()
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("read/spate", func(b *testing.B) {
		if _, err := os.Stat(spateFile); err != nil {
			b.Skip("run write/spate first")
		}
		for b.Loop() {
			var n int64
			_, err := ReadFile(context.Background(), "parquet", spateFile, ReadOptions{Schema: benchSchema}, func(r arrow.RecordBatch) error {
				n += r.NumRows()
				r.Release()
				return nil
			})
			if err != nil || n != rows {
				b.Fatalf("read %d rows, %v", n, err)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("read/pqarrow", func(b *testing.B) {
		if _, err := os.Stat(arrowFile); err != nil {
			b.Skip("run write/pqarrow first")
		}
		for b.Loop() {
			f, err := os.Open(arrowFile)
			if err != nil {
				b.Fatal(err)
			}
			pf, err := pqfile.NewParquetReader(f)
			if err != nil {
				b.Fatal(err)
			}
			fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: DefaultBatchRows}, memory.DefaultAllocator)
			if err != nil {
				b.Fatal(err)
			}
			rr, err := fr.GetRecordReader(context.Background(), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			var n int64
			for rr.Next() {
				n += rr.RecordBatch().NumRows()
			}
			if rr.Err() != nil || n != rows {
				b.Fatalf("read %d rows, %v", n, rr.Err())
			}
			rr.Release()
			pf.Close()
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// textBenchFile writes the first benchRows(1M) rows of the bench batches as
// format (b.Loop runs the benchmark function once, so this runs once).
func textBenchFile(b *testing.B, format string) (string, int64) {
	b.Helper()
	n := benchRows(1_000_000)
	dir := b.TempDir()
	all := benchBatches()
	var use []arrow.RecordBatch
	var got int
	for _, r := range all {
		if got >= n {
			break
		}
		take := min(int(r.NumRows()), n-got)
		use = append(use, r.NewSlice(0, int64(take)))
		got += take
	}
	out := filepath.Join(dir, format)
	j, err := NewWriteJob(out, SaveOverwrite, format, WriteOptions{JobID: "bench"})
	if err == nil {
		err = j.WritePartition(context.Background(), 0, benchSchema, use)
	}
	if err == nil {
		err = j.Commit(context.Background())
	}
	for _, r := range use {
		r.Release()
	}
	if err != nil {
		b.Fatal(err)
	}
	files, _ := ListFiles(out)
	return files[0], int64(n)
}

func benchTextRead(b *testing.B, format string) {
	path, rows := textBenchFile(b, format)
	st, _ := os.Stat(path)
	for b.Loop() {
		var n int64
		_, err := ReadFile(context.Background(), format, path, ReadOptions{Schema: benchSchema}, func(r arrow.RecordBatch) error {
			n += r.NumRows()
			r.Release()
			return nil
		})
		if err != nil || n != rows {
			b.Fatalf("read %d rows, %v", n, err)
		}
	}
	b.SetBytes(st.Size())
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCSVRead reads a 4-column CSV file of 1M rows.
func BenchmarkCSVRead(b *testing.B) { benchTextRead(b, "csv") }

// BenchmarkJSONRead reads a 4-column JSON lines file of 1M rows.
func BenchmarkJSONRead(b *testing.B) { benchTextRead(b, "json") }
