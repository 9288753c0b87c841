package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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

// parquetOps are the four measured operations over the same batches: the
// connector's write job and reader, and arrow-go's pqarrow writer and
// record reader used directly with the same codec (zstd), row-group size
// and batch size.
type parquetOps struct {
	batches   []arrow.RecordBatch
	rows      int64
	dir       string
	spateFile string // written by writeSpate, read by readSpate
	arrowFile string // written by writeArrow, read by readArrow
	n         int
}

func newParquetOps(b *testing.B) *parquetOps {
	bs := benchBatches()
	dir := b.TempDir()
	return &parquetOps{batches: bs, rows: batchRowsTotal(bs), dir: dir,
		spateFile: filepath.Join(dir, "spate.parquet"), arrowFile: filepath.Join(dir, "arrow.parquet")}
}

func (p *parquetOps) writeSpate(b *testing.B) {
	p.n++
	out := filepath.Join(p.dir, fmt.Sprintf("w%d", p.n))
	j, err := NewWriteJob(out, SaveOverwrite, "parquet", WriteOptions{JobID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := j.WritePartition(context.Background(), 0, benchSchema, p.batches); err != nil {
		b.Fatal(err)
	}
	if err := j.Commit(context.Background()); err != nil {
		b.Fatal(err)
	}
	files, _ := ListFiles(out)
	if err := os.Rename(files[0], p.spateFile); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(out)
}

func (p *parquetOps) writeArrow(b *testing.B) {
	f, err := os.Create(p.arrowFile)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(1<<20), parquet.WithStats(true))
	fw, err := pqarrow.NewFileWriter(benchSchema, struct{ *bufio.Writer }{bw}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		b.Fatal(err)
	}
	for _, rec := range p.batches {
		if err := fw.WriteBuffered(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := errors.Join(bw.Flush(), f.Close()); err != nil {
		b.Fatal(err)
	}
}

func (p *parquetOps) readSpate(b *testing.B) {
	var n int64
	_, err := ReadFile(context.Background(), "parquet", p.spateFile, ReadOptions{Schema: benchSchema}, func(r arrow.RecordBatch) error {
		n += r.NumRows()
		r.Release()
		return nil
	})
	if err != nil || n != p.rows {
		b.Fatalf("read %d rows, %v", n, err)
	}
}

func (p *parquetOps) readArrow(b *testing.B) {
	f, err := os.Open(p.arrowFile)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	pf, err := pqfile.NewParquetReader(f)
	if err != nil {
		b.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: DefaultBatchRows}, memory.DefaultAllocator)
	if err != nil {
		b.Fatal(err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rr.Release()
	var n int64
	for rr.Next() {
		n += rr.RecordBatch().NumRows()
	}
	if rr.Err() != nil || n != p.rows {
		b.Fatalf("read %d rows, %v", n, rr.Err())
	}
}

// timed runs f after a GC, returning its wall time.
func timed(b *testing.B, f func(*testing.B)) time.Duration {
	b.StopTimer()
	runtime.GC()
	b.StartTimer()
	start := time.Now()
	f(b)
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkParquet measures each side on its own: write/spate,
// write/pqarrow, read/spate, read/pqarrow (rows/s).
func BenchmarkParquet(b *testing.B) {
	p := newParquetOps(b)
	p.writeSpate(b)
	p.writeArrow(b)
	for _, c := range []struct {
		name string
		f    func(*testing.B)
	}{{"write/spate", p.writeSpate}, {"write/pqarrow", p.writeArrow}, {"read/spate", p.readSpate}, {"read/pqarrow", p.readArrow}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.f(b)
			}
			b.ReportMetric(float64(p.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkParquetRatio runs both sides in one loop, in alternating order,
// at least 3 rounds, and reports median rows/s per side and the ratios
// spate ÷ pqarrow for writing and reading (1.0 = as fast as pqarrow used
// directly). On a shared machine only the ratios are meaningful.
func BenchmarkParquetRatio(b *testing.B) {
	p := newParquetOps(b)
	var ws, wa, rs, ra []time.Duration
	round := func(i int) {
		if i%2 == 0 {
			ws = append(ws, timed(b, p.writeSpate))
			wa = append(wa, timed(b, p.writeArrow))
			rs = append(rs, timed(b, p.readSpate))
			ra = append(ra, timed(b, p.readArrow))
		} else {
			wa = append(wa, timed(b, p.writeArrow))
			ws = append(ws, timed(b, p.writeSpate))
			ra = append(ra, timed(b, p.readArrow))
			rs = append(rs, timed(b, p.readSpate))
		}
	}
	i := 0
	for b.Loop() {
		round(i)
		i++
	}
	for ; i < 3; i++ {
		round(i)
	}
	rate := func(d time.Duration) float64 { return float64(p.rows) / d.Seconds() }
	b.ReportMetric(rate(median(ws)), "spate-write-rows/s")
	b.ReportMetric(rate(median(wa)), "pqarrow-write-rows/s")
	b.ReportMetric(rate(median(rs)), "spate-read-rows/s")
	b.ReportMetric(rate(median(ra)), "pqarrow-read-rows/s")
	b.ReportMetric(float64(median(wa))/float64(median(ws)), "write-ratio")
	b.ReportMetric(float64(median(ra))/float64(median(rs)), "read-ratio")
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
	b.Run("spate", func(b *testing.B) {
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
	})
	// arrow-go's own reader on the same file, for reference: it has no
	// malformed-record modes (it stops at the first bad record).
	b.Run("arrow", func(b *testing.B) {
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			var rr array.RecordReader
			if format == "csv" {
				rr = arrowcsv.NewReader(bufio.NewReaderSize(f, 1<<20), benchSchema, arrowcsv.WithHeader(true), arrowcsv.WithChunk(DefaultBatchRows), arrowcsv.WithNullReader(true, ""))
			} else {
				rr = array.NewJSONReader(bufio.NewReaderSize(f, 1<<20), benchSchema, array.WithChunk(DefaultBatchRows))
			}
			var n int64
			for rr.Next() {
				n += rr.RecordBatch().NumRows()
			}
			if rr.Err() != nil || n != rows {
				b.Fatalf("read %d rows, %v", n, rr.Err())
			}
			rr.Release()
			f.Close()
		}
		b.SetBytes(st.Size())
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkCSVRead reads a 4-column CSV file of 1M rows, with the
// connector and with arrow-go's CSV reader.
func BenchmarkCSVRead(b *testing.B) { benchTextRead(b, "csv") }

// BenchmarkJSONRead reads a 4-column JSON lines file of 1M rows, with the
// connector and with arrow-go's JSON reader.
func BenchmarkJSONRead(b *testing.B) { benchTextRead(b, "json") }

// BenchmarkJSONReadYSB reads YSB-shaped JSON lines (7 string keys, about
// 250 B a record; benchRows(1M) rows) reading all 7 columns and the 3 the
// YSB query uses: the other keys' values are only scanned to their end.
func BenchmarkJSONReadYSB(b *testing.B) {
	n := benchRows(1_000_000)
	path := filepath.Join(b.TempDir(), "ysb.json")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	uuid := func(i int) string {
		return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i*2654435761%(1<<32), i%65536, i%4096, (i/7)%4096, i*40503)
	}
	for i := range n {
		fmt.Fprintf(w, `{"user_id": "%s", "page_id": "%s", "ad_id": "%s", "ad_type": "%s", "event_type": "%s", "event_time": "%d", "ip_address": "1.2.3.4"}`+"\n",
			uuid(i%100), uuid(1000+i%100), uuid(2000+i%1000), []string{"banner", "modal", "sponsored-search", "mail", "mobile"}[i%5],
			[]string{"view", "click", "purchase"}[i%3], 1700000000000+i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	for _, c := range []struct {
		name string
		cols []string
	}{{"all7", nil}, {"cols3", []string{"ad_id", "event_type", "event_time"}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				var rows int64
				_, err := ReadFile(context.Background(), FormatJSON, path, ReadOptions{Schema: ysbSchema, Columns: c.cols}, func(r arrow.RecordBatch) error {
					rows += r.NumRows()
					r.Release()
					return nil
				})
				if err != nil || rows != int64(n) {
					b.Fatalf("read %d rows, %v", rows, err)
				}
			}
			b.SetBytes(st.Size())
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
