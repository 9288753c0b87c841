package dataframe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector/file"
	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// DataFrameReader loads files into a DataFrame: Session.Read().
// Format(f).Option(k, v).Schema(s).Load(path). Formats and options are
// those of package connector/file (csv, json, parquet, text).
type DataFrameReader struct {
	s      *Session
	format string
	opts   map[string]string
	schema *arrow.Schema
}

// Read starts reading files. The default format is parquet.
func (s *Session) Read() *DataFrameReader {
	return &DataFrameReader{s: s, format: file.FormatParquet, opts: map[string]string{}}
}

// Format sets the file format: csv, json, parquet or text.
func (r *DataFrameReader) Format(f string) *DataFrameReader {
	out := r.clone()
	out.format = f
	return out
}

// Option sets a format option (see package connector/file).
func (r *DataFrameReader) Option(key, value string) *DataFrameReader {
	out := r.clone()
	out.opts[key] = value
	return out
}

// Options sets several format options.
func (r *DataFrameReader) Options(opts map[string]string) *DataFrameReader {
	out := r.clone()
	maps.Copy(out.opts, opts)
	return out
}

// Schema sets the schema to read with, instead of inferring one.
func (r *DataFrameReader) Schema(s *arrow.Schema) *DataFrameReader {
	out := r.clone()
	out.schema = s
	return out
}

func (r *DataFrameReader) clone() *DataFrameReader {
	out := *r
	out.opts = maps.Clone(r.opts)
	return &out
}

// CSV loads CSV files.
func (r *DataFrameReader) CSV(path string) *DataFrame { return r.Format(file.FormatCSV).Load(path) }

// Load lists the files at path (a file or a directory, read recursively)
// and returns a DataFrame over them, one partition per file or, for files
// larger than MaxPartitionBytes that the format can split, per byte range.
// Without a
// schema it infers one now, from the files. A missing path, an unknown
// format or an inference failure gives a DataFrame carrying the error.
func (r *DataFrameReader) Load(path string) *DataFrame {
	s := r.s
	format := strings.ToLower(strings.TrimSpace(r.format))
	if format == "kafka" {
		return r.loadKafka()
	}
	if !containsString(file.Formats(), format) {
		return s.failed(fmt.Errorf("dataframe.Load: %w %q: supported formats are %s", file.ErrUnsupportedFormat, r.format, strings.Join(append(file.Formats(), "kafka"), ", ")))
	}
	infos, err := file.ListFileInfos(path)
	if err != nil {
		return s.failed(fmt.Errorf("dataframe.Load: %w", err))
	}
	files := make([]string, len(infos))
	var splits []fileSplit
	for i, fi := range infos {
		files[i] = fi.Path
		for _, rng := range file.Splits(format, fi, r.opts, s.cfg.maxPartitionBytes) {
			splits = append(splits, fileSplit{path: fi.Path, rng: rng})
		}
	}
	schema := r.schema
	if schema == nil {
		if len(files) == 0 {
			return s.failed(fmt.Errorf("dataframe.Load: %s holds no data files to infer a schema from; give one with Schema", path))
		}
		if schema, err = file.InferSchema(context.Background(), format, files, r.opts); err != nil {
			return s.failed(fmt.Errorf("dataframe.Load: %w", err))
		}
	}
	src := &fileSource{format: format, path: path, splits: splits, schema: schema, opts: r.opts, batchRows: s.cfg.exec.BatchRows}
	scan, err := plan.NewScan(src, nil, nil)
	if err != nil {
		return s.failed(err)
	}
	return &DataFrame{s: s, plan: scan}
}

// Parquet loads Parquet files.
func (r *DataFrameReader) Parquet(path string) *DataFrame {
	return r.Format(file.FormatParquet).Load(path)
}

// JSON loads JSON-lines files.
func (r *DataFrameReader) JSON(path string) *DataFrame { return r.Format(file.FormatJSON).Load(path) }

// Text loads text files, one row per line in a column "value".
func (r *DataFrameReader) Text(path string) *DataFrame { return r.Format(file.FormatText).Load(path) }

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// fileSource scans files through connector/file, one partition per
// split: a whole file, or a byte range of a large one.
type fileSource struct {
	format    string
	path      string
	splits    []fileSplit
	schema    *arrow.Schema
	opts      map[string]string
	batchRows int
}

type fileSplit struct {
	path string
	rng  file.ByteRange
}

var (
	_ plan.Source        = (*fileSource)(nil)
	_ plan.FilterSupport = (*fileSource)(nil)
)

func (f *fileSource) Schema() *arrow.Schema { return f.schema }
func (f *fileSource) String() string {
	return fmt.Sprintf("%s %s", f.format, filepath.Base(f.path))
}
func (f *fileSource) NumPartitions() int { return max(1, len(f.splits)) }

func (f *fileSource) Read(ctx context.Context, alloc memory.Allocator, part int, columns []string, filters []expr.Expr, emit func(arrow.RecordBatch) error) error {
	if part >= len(f.splits) {
		return nil
	}
	sp := f.splits[part]
	var preds []file.Predicate
	for _, e := range filters {
		if p, ok := predicate(e); ok {
			preds = append(preds, p)
		}
	}
	_, err := file.ReadFile(ctx, f.format, sp.path, file.ReadOptions{
		Schema: f.schema, Options: f.opts, Alloc: alloc, Columns: columns, Filters: preds, BatchRows: f.batchRows, Range: sp.rng,
	}, func(b arrow.RecordBatch) error {
		defer b.Release()
		return emit(b)
	})
	return err
}

// SupportsFilter accepts comparisons of a column with a non-null literal,
// which Parquet uses to skip row groups.
func (f *fileSource) SupportsFilter(e expr.Expr) bool {
	if f.format != file.FormatParquet {
		return false
	}
	_, ok := predicate(e)
	return ok
}

// predicate converts column <op> literal (either way round) into a file
// predicate.
func predicate(e expr.Expr) (file.Predicate, bool) {
	b, ok := e.(*expr.Binary)
	if !ok || !b.Op.IsComparison() {
		return file.Predicate{}, false
	}
	op := b.Op
	col, cok := b.Left.(*expr.Column)
	lit, lok := b.Right.(*expr.Literal)
	if !cok || !lok {
		col, cok = b.Right.(*expr.Column)
		lit, lok = b.Left.(*expr.Literal)
		switch op {
		case expr.OpLt:
			op = expr.OpGt
		case expr.OpLe:
			op = expr.OpGe
		case expr.OpGt:
			op = expr.OpLt
		case expr.OpGe:
			op = expr.OpLe
		}
	}
	if !cok || !lok || lit.Value == nil {
		return file.Predicate{}, false
	}
	v := lit.Value
	if d, ok := v.(arrow.Date32); ok {
		v = d.ToTime()
	}
	return file.Predicate{Column: col.Name, Op: op.String(), Value: v}, true
}

// DataFrameWriter saves a DataFrame as files: df.Write().Format(f).
// Mode(m).Option(k, v).PartitionBy(cols...).Save(ctx, path).
type DataFrameWriter struct {
	df          *DataFrame
	format      string
	mode        string
	opts        map[string]string
	partitionBy []string
}

// Write starts saving df. The default format is parquet and the default
// mode "error".
func (df *DataFrame) Write() *DataFrameWriter {
	return &DataFrameWriter{df: df, format: file.FormatParquet, mode: "error", opts: map[string]string{}}
}

func (w *DataFrameWriter) clone() *DataFrameWriter {
	out := *w
	out.opts = maps.Clone(w.opts)
	return &out
}

// Format sets the file format: csv, json, parquet or text.
func (w *DataFrameWriter) Format(f string) *DataFrameWriter {
	out := w.clone()
	out.format = f
	return out
}

// Mode sets what happens when the target holds data: error (the
// default; errorifexists), overwrite, append or ignore.
func (w *DataFrameWriter) Mode(m string) *DataFrameWriter {
	out := w.clone()
	out.mode = m
	return out
}

// Option sets a format option.
func (w *DataFrameWriter) Option(key, value string) *DataFrameWriter {
	out := w.clone()
	out.opts[key] = value
	return out
}

// PartitionBy writes one directory col=value per distinct value of the
// columns (hive layout); the columns leave the files.
func (w *DataFrameWriter) PartitionBy(cols ...string) *DataFrameWriter {
	out := w.clone()
	out.partitionBy = append([]string{}, cols...)
	return out
}

// Save runs the query and writes its partitions as files under path.
// Output is committed atomically: files are written into a temporary
// directory and renamed into place when every partition is written; a
// failure removes them.
func (w *DataFrameWriter) Save(ctx context.Context, path string) error {
	df := w.df
	if err := df.Err(); err != nil {
		return err
	}
	mode, err := file.ParseSaveMode(w.mode)
	if err != nil {
		return fmt.Errorf("dataframe.Save: %w", err)
	}
	for _, c := range w.partitionBy {
		if _, err := expr.FieldIndex(df.Schema(), c); err != nil {
			return fmt.Errorf("dataframe.Save: PartitionBy: %w", err)
		}
	}
	job, err := file.NewWriteJob(path, mode, w.format, file.WriteOptions{Options: w.opts, PartitionBy: w.partitionBy, Alloc: df.s.cfg.alloc})
	if err != nil {
		return fmt.Errorf("dataframe.Save: %w", err)
	}
	if job.Ignored() {
		return nil
	}
	if err := w.run(ctx, job); err != nil {
		return errors.Join(fmt.Errorf("dataframe.Save: %w", err), job.Abort())
	}
	if err := job.Commit(ctx); err != nil {
		return fmt.Errorf("dataframe.Save: %w", err)
	}
	return nil
}

func (w *DataFrameWriter) run(ctx context.Context, job *file.WriteJob) error {
	df := w.df
	p, err := df.optimized(ctx, true)
	if err != nil {
		return err
	}
	c, err := exec.NewContext(df.s.ec, df.s.cfg.alloc, df.s.cfg.clock.Now(), df.s.cfg.exec)
	if err != nil {
		return err
	}
	defer c.Close()
	op, err := exec.Plan(c, p)
	if err != nil {
		return err
	}
	schema := op.Schema()
	return c.RunPartitions(ctx, op, "Save", func(ctx context.Context, part int, bs []arrow.RecordBatch) error {
		return job.WritePartition(ctx, part, schema, bs)
	})
}
