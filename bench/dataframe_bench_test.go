package bench

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/expr"
)

// DataFrame benchmarks (issue 8): each spate query runs next to a
// hand-written single-threaded Go loop over the same Arrow arrays, in one
// benchmark function, and reports the ratio (see measureRatio).

// dfRows is the number of input rows: 10M, or 100K with
// SPATE_BENCH_SHORT=1.
func dfRows() int {
	if shortRun() {
		return 100_000
	}
	return 10_000_000
}

// dfGroups is the number of distinct group-by keys (kept at 100K in a short
// run so that the hash tables keep their size).
const dfGroups = 100_000

// dfBatchRows is the size of the input batches.
const dfBatchRows = 65536

// dfInput is the input: 4 columns (a, b int64; c, d float64), a uniform
// in [0, 1000), k uniform in [0, dfGroups) as column b; cut into batches.
type dfInput struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
}

var benchDFInput = sync.OnceValue(func() dfInput {
	n := dfRows()
	r := rand.New(rand.NewPCG(1, 2))
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64},
		{Name: "c", Type: arrow.PrimitiveTypes.Float64},
		{Name: "d", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	var out []arrow.RecordBatch
	for lo := 0; lo < n; lo += dfBatchRows {
		m := min(dfBatchRows, n-lo)
		bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		a, b := bld.Field(0).(*array.Int64Builder), bld.Field(1).(*array.Int64Builder)
		c, d := bld.Field(2).(*array.Float64Builder), bld.Field(3).(*array.Float64Builder)
		for range m {
			a.Append(r.Int64N(1000))
			b.Append(r.Int64N(dfGroups))
			c.Append(r.Float64())
			d.Append(r.Float64() * 100)
		}
		out = append(out, bld.NewRecordBatch())
		bld.Release()
	}
	return dfInput{schema, out}
})

func newBenchSession(b *testing.B) *dataframe.Session {
	ec := newBenchEngine(b)
	s, err := dataframe.NewSession(ec, dataframe.ShufflePartitions(ec.Slots()))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// filterProjectQuery: WHERE a < 500 SELECT b*2+1 AS x, c+d AS y (half the
// rows pass).
func filterProjectQuery(s *dataframe.Session, in dfInput) *dataframe.DataFrame {
	df := dataframe.CreateDataFrameFromBatches(s, in.schema, in.batches)
	return df.Where(dataframe.Col("a").Lt(500)).
		Select(dataframe.Col("b").Multiply(2).Plus(1).As("x"), dataframe.Col("c").Plus(dataframe.Col("d")).As("y"))
}

// spateFilterProject runs the query and returns the number of rows and
// the sum of x (to check against the hand loop).
func spateFilterProject(b *testing.B, df *dataframe.DataFrame) (int64, int64) {
	var rows, sum atomic.Int64
	err := df.ForeachBatch(context.Background(), func(_ context.Context, _ int, rb arrow.RecordBatch) error {
		rows.Add(rb.NumRows())
		var s int64
		for _, v := range expr.Values[int64](rb.Column(0)) {
			s += v
		}
		sum.Add(s)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return rows.Load(), sum.Load()
}

// handFilterProject is the baseline: one loop over the same arrays,
// building the two output columns as Go slices.
func handFilterProject(in dfInput) (int64, int64) {
	var rows, sum int64
	for _, rb := range in.batches {
		a := rb.Column(0).(*array.Int64).Int64Values()
		bb := rb.Column(1).(*array.Int64).Int64Values()
		c := rb.Column(2).(*array.Float64).Float64Values()
		d := rb.Column(3).(*array.Float64).Float64Values()
		xs := make([]int64, 0, len(a))
		ys := make([]float64, 0, len(a))
		for i, v := range a {
			if v < 500 {
				xs = append(xs, bb[i]*2+1)
				ys = append(ys, c[i]+d[i])
			}
		}
		rows += int64(len(xs))
		for _, x := range xs {
			sum += x
		}
		sinkFloats = ys
	}
	return rows, sum
}

var sinkFloats []float64

// groupSumQuery: SELECT b, sum(d) GROUP BY b (100K groups).
func groupSumQuery(s *dataframe.Session, in dfInput) *dataframe.DataFrame {
	df := dataframe.CreateDataFrameFromBatches(s, in.schema, in.batches)
	return df.GroupBy(dataframe.Col("b")).Agg(dataframe.Sum(dataframe.Col("a")).As("s"))
}

func spateGroupSum(b *testing.B, df *dataframe.DataFrame) (int64, int64) {
	var groups, total atomic.Int64
	err := df.ForeachBatch(context.Background(), func(_ context.Context, _ int, rb arrow.RecordBatch) error {
		groups.Add(rb.NumRows())
		var s int64
		for _, v := range expr.Values[int64](rb.Column(1)) {
			s += v
		}
		total.Add(s)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return groups.Load(), total.Load()
}

// handGroupSum is the baseline: a map from key to sum over the same
// arrays, then the result as two slices.
func handGroupSum(in dfInput) (int64, int64) {
	m := map[int64]int64{}
	for _, rb := range in.batches {
		a := rb.Column(0).(*array.Int64).Int64Values()
		k := rb.Column(1).(*array.Int64).Int64Values()
		for i, key := range k {
			m[key] += a[i]
		}
	}
	keys := make([]int64, 0, len(m))
	sums := make([]int64, 0, len(m))
	var total int64
	for key, s := range m {
		keys = append(keys, key)
		sums = append(sums, s)
		total += s
	}
	sinkInt = len(keys) + len(sums)
	return int64(len(keys)), total
}

func BenchmarkDataFrameFilterProjectRatio(b *testing.B) {
	in := benchDFInput()
	s := newBenchSession(b)
	df := filterProjectQuery(s, in)
	wantRows, wantSum := handFilterProject(in)
	gotRows, gotSum := spateFilterProject(b, df)
	if gotRows != wantRows || gotSum != wantSum {
		b.Fatalf("spate: %d rows, sum %d; hand: %d rows, sum %d", gotRows, gotSum, wantRows, wantSum)
	}
	measureRatio(b, float64(dfRows()), "rows/s",
		func() { spateFilterProject(b, df) },
		func() { handFilterProject(in) })
}

func BenchmarkDataFrameGroupBySumRatio(b *testing.B) {
	in := benchDFInput()
	s := newBenchSession(b)
	df := groupSumQuery(s, in)
	wantGroups, wantTotal := handGroupSum(in)
	gotGroups, gotTotal := spateGroupSum(b, df)
	if gotGroups != wantGroups || gotTotal != wantTotal {
		b.Fatalf("spate: %d groups, total %d; hand: %d groups, total %d", gotGroups, gotTotal, wantGroups, wantTotal)
	}
	measureRatio(b, float64(dfRows()), "rows/s",
		func() { spateGroupSum(b, df) },
		func() { handGroupSum(in) })
}

// The Parquet benchmark: the DataFrame API (Write().Save, then
// Read().Parquet(...).ForeachBatch) next to arrow-go's pqarrow writer and
// reader used directly on the same batches, one file, zstd, 1M-row row
// groups (the connector's defaults).

func pqarrowWrite(b *testing.B, path string, in dfInput) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(1<<20), parquet.WithStats(true))
	fw, err := pqarrow.NewFileWriter(in.schema, struct{ *bufio.Writer }{bw}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		b.Fatal(err)
	}
	for _, rec := range in.batches {
		if err := fw.WriteBuffered(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := errors.Join(fw.Close(), bw.Flush(), f.Close()); err != nil {
		b.Fatal(err)
	}
}

func pqarrowRead(b *testing.B, path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	pf, err := pqfile.NewParquetReader(f)
	if err != nil {
		b.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: dfBatchRows}, memory.DefaultAllocator)
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
	if rr.Err() != nil {
		b.Fatal(rr.Err())
	}
	return n
}

func spateParquetRead(b *testing.B, s *dataframe.Session, path string) int64 {
	var n atomic.Int64
	err := s.Read().Parquet(path).ForeachBatch(context.Background(), func(_ context.Context, _ int, rb arrow.RecordBatch) error {
		n.Add(rb.NumRows())
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n.Load()
}

func BenchmarkDataFrameParquetRatio(b *testing.B) {
	in := benchDFInput()
	s := newBenchSession(b)
	// One partition, as the hand side writes one file.
	one, err := dataframe.NewSession(s.Engine(), dataframe.DefaultParallelism(1))
	if err != nil {
		b.Fatal(err)
	}
	df := dataframe.CreateDataFrameFromBatches(one, in.schema, in.batches)
	dir := b.TempDir()
	spatePath, handPath := filepath.Join(dir, "spate"), filepath.Join(dir, "hand.parquet")
	b.Run("write", func(b *testing.B) {
		measureRatio(b, float64(dfRows()), "rows/s",
			func() {
				if err := df.Write().Mode("overwrite").Save(context.Background(), spatePath); err != nil {
					b.Fatal(err)
				}
			},
			func() { pqarrowWrite(b, handPath, in) })
	})
	b.Run("read", func(b *testing.B) {
		if n, m := spateParquetRead(b, one, spatePath), pqarrowRead(b, handPath); n != int64(dfRows()) || m != n {
			b.Fatalf("read %d and %d rows, want %d", n, m, dfRows())
		}
		measureRatio(b, float64(dfRows()), "rows/s",
			func() { spateParquetRead(b, one, spatePath) },
			func() { pqarrowRead(b, handPath) })
	})
}
