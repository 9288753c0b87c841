package file

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Predicate is a comparison of a top-level column with a constant, pushed
// into a scan. Op is one of = != < <= > >=. Value is a Go value of the
// column's kind: an integer type, float64, string, []byte, bool, or
// time.Time for date and timestamp columns. Parquet uses predicates to skip
// whole row groups by their min/max statistics; the other formats ignore
// them. A predicate never removes single rows: callers re-apply their
// filter to what is emitted.
type Predicate struct {
	Column string
	Op     string
	Value  any
}

// ReadOptions configures [ReadFile].
type ReadOptions struct {
	// Schema is the schema of the rows to produce. Nil means: infer it from
	// the file (as [InferSchema] would for this one file). Columns named
	// after a hive partition directory of the path (col=value) are filled
	// with that value; columns absent from the file are null; the column
	// named by option columnNameOfCorruptRecord (CSV and JSON) receives the
	// raw text of malformed records.
	Schema *arrow.Schema
	// Options are the format's options (see the package documentation);
	// names are case-insensitive. Default: none.
	Options map[string]string
	// Alloc allocates the emitted batches. Default: memory.DefaultAllocator.
	Alloc memory.Allocator
	// Columns projects the output onto these columns of Schema, in this
	// order. Default: all columns of Schema.
	Columns []string
	// Filters are pushed into Parquet row-group skipping; see [Predicate].
	Filters []Predicate
	// BatchRows is the most rows per emitted batch. Default: 8192
	// ([DefaultBatchRows]).
	BatchRows int
	// PartitionValues overrides the partition values parsed from the path
	// (see [PartitionValues]); a nil map means "parse the path".
	PartitionValues map[string]string
	// Range restricts the read to the records that start inside a byte
	// range of the file, so several tasks can share one large file; ranges
	// that tile the file read every record exactly once. [Splits] computes
	// them. CSV (without multiLine), JSON lines and text split at line
	// starts; Parquet reads the row groups that start in the range.
	// Compressed text files, JSON and CSV with multiLine, and text with
	// wholetext can only be read whole. Default: the whole file.
	Range ByteRange
}

// ByteRange is the part [Offset, Offset+Length) of a file. A Length of 0
// or less means the whole file.
type ByteRange struct {
	Offset, Length int64
}

// whole reports whether r covers a file of size bytes.
func (r ByteRange) whole(size int64) bool {
	return r.Length <= 0 || (r.Offset <= 0 && r.Offset+r.Length >= size)
}

func (r ByteRange) String() string {
	return fmt.Sprintf("bytes [%d, %d)", r.Offset, r.Offset+r.Length)
}

// Splits cuts a file into ranges of about target bytes for [ReadOptions]
// Range. A file that the format and options cannot split (see Range), or
// a target of 0 or less, gives one range for the whole file.
func Splits(format string, fi FileInfo, opts map[string]string, target int64) []ByteRange {
	whole := []ByteRange{{Offset: 0, Length: fi.Size}}
	f, err := checkFormat(format)
	if err != nil || target <= 0 || fi.Size <= target || !splittable(f, fi.Path, newOptions(opts)) {
		return whole
	}
	var out []ByteRange
	for off := int64(0); off < fi.Size; off += target {
		out = append(out, ByteRange{Offset: off, Length: min(target, fi.Size-off)})
	}
	return out
}

// splittable reports whether a file can be read in ranges.
func splittable(format, path string, o options) bool {
	if format != FormatParquet && strings.HasSuffix(path, ".gz") {
		return false
	}
	switch format {
	case FormatCSV, FormatJSON:
		multi, err := o.boolean("multiLine", false)
		return err == nil && !multi
	case FormatText:
		whole, err := o.boolean("wholetext", false)
		return err == nil && !whole
	}
	return true
}

// ReadStats reports what [ReadFile] did.
type ReadStats struct {
	// Rows is the number of rows emitted.
	Rows int64
	// Batches is the number of batches emitted.
	Batches int64
	// MalformedRows counts malformed records (in every mode).
	MalformedRows int64
	// DroppedRows counts records dropped in DROPMALFORMED mode.
	DroppedRows int64
	// Bytes is the size of the file read.
	Bytes int64
	// RowGroups is the number of Parquet row groups in the file;
	// RowGroupsSkipped how many of them the filters excluded.
	RowGroups, RowGroupsSkipped int64
}

// Add returns the sum of two stats, for callers that read many files.
func (s ReadStats) Add(o ReadStats) ReadStats {
	return ReadStats{
		Rows: s.Rows + o.Rows, Batches: s.Batches + o.Batches,
		MalformedRows: s.MalformedRows + o.MalformedRows, DroppedRows: s.DroppedRows + o.DroppedRows,
		Bytes: s.Bytes + o.Bytes, RowGroups: s.RowGroups + o.RowGroups,
		RowGroupsSkipped: s.RowGroupsSkipped + o.RowGroupsSkipped,
	}
}

// ReadFile reads one file of the given format and calls emit with each
// record batch, in file order, each with at most o.BatchRows rows and the
// schema o.Schema projected on o.Columns. emit takes ownership of the batch:
// it must Release it (also when it returns an error, which stops the read
// and is returned as is). ReadFile returns promptly with ctx's error when
// ctx is cancelled. Errors name the file, and for malformed records in
// FAILFAST mode the line.
func ReadFile(ctx context.Context, format, path string, o ReadOptions, emit func(arrow.RecordBatch) error) (ReadStats, error) {
	f, err := checkFormat(format)
	if err != nil {
		return ReadStats{}, err
	}
	if emit == nil {
		return ReadStats{}, errors.New("file: ReadFile needs an emit function")
	}
	if o.Alloc == nil {
		o.Alloc = memory.DefaultAllocator
	}
	if o.BatchRows <= 0 {
		o.BatchRows = DefaultBatchRows
	}
	if err := ctx.Err(); err != nil {
		return ReadStats{}, err
	}
	if o.Schema == nil {
		s, err := InferSchema(ctx, f, []string{path}, o.Options)
		if err != nil {
			return ReadStats{}, err
		}
		o.Schema = s
	}
	var st ReadStats
	switch f {
	case FormatCSV:
		st, err = readCSV(ctx, path, o, emit)
	case FormatJSON:
		st, err = readJSON(ctx, path, o, emit)
	case FormatText:
		st, err = readText(ctx, path, o, emit)
	case FormatParquet:
		st, err = readParquet(ctx, path, o, emit)
	}
	return st, err
}

// role says where an output column's values come from.
type role uint8

const (
	roleData      role = iota // parsed from the record
	rolePartition             // constant from the path
	roleCorrupt               // raw text of malformed records
)

// outCol is one output column of a text reader.
type outCol struct {
	*column
	role  role
	src   int  // position among the file's data columns (CSV), -1 = absent
	konst cell // rolePartition value
}

// textPlan is the resolved output of a text-format read: columns, their
// roles and the batch builder.
type textPlan struct {
	format  string
	path    string
	schema  *arrow.Schema // output (projected) schema
	cols    []*outCol
	data    []arrow.Field // the schema's data fields (not partition, not corrupt), in schema order
	corrupt int           // index of the corrupt column in cols, -1 if none
	mode    Mode
	tp      *timeParser
	opts    options
}

// planText resolves schema, projection, partition columns and the corrupt
// column for CSV, JSON and text reads.
func planText(format, path string, o ReadOptions, nested bool) (*textPlan, error) {
	opts := newOptions(o.Options)
	mode, err := ParseMode(opts.str("mode", ""))
	if err != nil {
		return nil, err
	}
	tp, err := newTimeParser(opts)
	if err != nil {
		return nil, err
	}
	p := &textPlan{format: format, path: path, mode: mode, tp: tp, opts: opts, corrupt: -1}
	corruptName := opts.str("columnNameOfCorruptRecord", DefaultCorruptColumn)
	pv, pnull := o.PartitionValues, map[string]bool(nil)
	if pv == nil {
		pv, pnull = PartitionValues(path)
	}
	out, err := project(o.Schema, o.Columns)
	if err != nil {
		return nil, fmt.Errorf("file: %s: %w", path, err)
	}
	p.schema = out
	isPart := func(name string) bool { _, ok := pv[name]; return ok }
	dataPos := map[string]int{}
	for _, f := range o.Schema.Fields() {
		if isPart(f.Name) || (f.Name == corruptName && format != FormatText) {
			continue
		}
		if _, dup := dataPos[f.Name]; !dup {
			dataPos[f.Name] = len(p.data)
		}
		p.data = append(p.data, f)
	}
	for _, f := range out.Fields() {
		c, err := newColumn(format, f, nested)
		if err != nil {
			return nil, err
		}
		oc := &outCol{column: c, src: -1}
		switch {
		case isPart(f.Name):
			oc.role = rolePartition
			if !pnull[f.Name] {
				v := pv[f.Name]
				if err := convertText(c.kind, c.unit, tp, []byte(v), &oc.konst); err != nil {
					return nil, fmt.Errorf("file: %s: partition value %s=%s does not fit column type %s: %w", path, f.Name, v, f.Type, err)
				}
				oc.konst.s = []byte(v)
			}
		case f.Name == corruptName && format != FormatText:
			if c.kind != kString && c.kind != kLargeString {
				return nil, fmt.Errorf("file: corrupt record column %q must be a string column, not %s", f.Name, f.Type)
			}
			oc.role = roleCorrupt
			p.corrupt = len(p.cols)
		default:
			if i, ok := dataPos[f.Name]; ok {
				oc.src = i
			}
		}
		p.cols = append(p.cols, oc)
	}
	return p, nil
}

// project returns s restricted to cols, in that order; nil cols means all.
func project(s *arrow.Schema, cols []string) (*arrow.Schema, error) {
	if cols == nil {
		return s, nil
	}
	fs := make([]arrow.Field, 0, len(cols))
	for _, c := range cols {
		i := s.FieldIndices(c)
		if len(i) == 0 {
			return nil, fmt.Errorf("projected column %q is not in the schema (columns: %s)", c, strings.Join(fieldNames(s), ", "))
		}
		fs = append(fs, s.Field(i[0]))
	}
	md := s.Metadata()
	return arrow.NewSchema(fs, &md), nil
}

func fieldNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

// batcher accumulates rows into a record builder and emits full batches.
type batcher struct {
	rb      *array.RecordBuilder
	max     int
	rows    int
	emit    func(arrow.RecordBatch) error
	stats   *ReadStats
	checked int
}

func newBatcher(o ReadOptions, p *textPlan, st *ReadStats, emit func(arrow.RecordBatch) error) *batcher {
	rb := array.NewRecordBuilder(o.Alloc, p.schema)
	for i, c := range p.cols {
		c.bind(rb.Field(i))
	}
	return &batcher{rb: rb, max: o.BatchRows, emit: emit, stats: st}
}

// row records that one row was appended to every column, emitting a batch
// when full. It checks ctx every 1024 rows.
func (b *batcher) row(ctx context.Context) error {
	b.rows++
	if b.rows >= b.max {
		return b.flush(ctx)
	}
	b.checked++
	if b.checked >= 1024 {
		b.checked = 0
		return ctx.Err()
	}
	return nil
}

func (b *batcher) flush(ctx context.Context) error {
	if b.rows == 0 {
		return nil
	}
	var rec arrow.RecordBatch
	if len(b.rb.Fields()) == 0 { // no columns (a count): only the row count
		rec = array.NewRecordBatch(b.rb.Schema(), nil, int64(b.rows))
	} else {
		rec = b.rb.NewRecordBatch()
	}
	b.stats.Rows += int64(b.rows)
	b.stats.Batches++
	if b.rows == b.max {
		b.reserve(rec)
	}
	b.rows = 0
	if err := ctx.Err(); err != nil {
		rec.Release()
		return err
	}
	return b.emit(rec)
}

func (b *batcher) release() { b.rb.Release() }

// reserve sizes the builders for the next full batch from the one just
// built, so string data and validity buffers are not regrown by doubling
// in every batch.
func (b *batcher) reserve(prev arrow.RecordBatch) {
	for i, f := range b.rb.Fields() {
		switch fb := f.(type) {
		case *array.StringBuilder:
			fb.Reserve(b.max)
			fb.ReserveData(dataLen(prev.Column(i)))
		case *array.BinaryBuilder:
			fb.Reserve(b.max)
			fb.ReserveData(dataLen(prev.Column(i)))
		case *array.StructBuilder, *array.ListBuilder:
			// nested: sizes vary, let them grow
		default:
			f.Reserve(b.max)
		}
	}
}

// dataLen returns the bytes of value data of a string or binary array.
func dataLen(a arrow.Array) int {
	var offs []int32
	switch a := a.(type) {
	case *array.String:
		offs = a.ValueOffsets()
	case *array.Binary:
		offs = a.ValueOffsets()
	}
	if len(offs) == 0 {
		return 0
	}
	return int(offs[len(offs)-1] - offs[0])
}

// lineReader reads lines (without the \n or \r\n) and counts them. In a
// range read it returns the lines that start inside the range.
type lineReader struct {
	r     *bufio.Reader
	line  int   // number of the line last returned, 1-based (within the range)
	pos   int64 // offset of the next byte of the stream
	start int64 // offset of the line last returned
	end   int64 // range end; 0: no range
	split bool  // reading a range that is not the whole file
	buf   []byte
	c     []io.Closer
}

// openLines opens path for line reading, decompressing .gz files, and in a
// range read positions it at the first line that starts in the range.
func openLines(path string, st *ReadStats, rng ByteRange, format string, o options) (*lineReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("file: open %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file: open %s: %w", path, err)
	}
	st.Bytes = fi.Size()
	lr := &lineReader{c: []io.Closer{f}}
	if !rng.whole(fi.Size()) {
		if !splittable(format, path, o) {
			f.Close()
			return nil, fmt.Errorf("file: %s: cannot read %s of this file: compressed files, multiLine and wholetext are read whole", path, rng)
		}
		lr.split, lr.end = true, rng.Offset+rng.Length
		st.Bytes = min(lr.end, fi.Size()) - max(rng.Offset, 0)
		if rng.Offset > 0 {
			// the line that starts at Offset is ours when the byte before it
			// ends a line; anything before belongs to the previous range
			if _, err := f.Seek(rng.Offset-1, io.SeekStart); err != nil {
				f.Close()
				return nil, fmt.Errorf("file: %s: %w", path, err)
			}
			lr.pos = rng.Offset - 1
			lr.r = bufio.NewReaderSize(f, bufSize(rng.Length))
			if _, err := lr.next(); err != nil && err != io.EOF {
				f.Close()
				return nil, fmt.Errorf("file: read %s: %w", path, err)
			}
			lr.line = 0
			return lr, nil
		}
	}
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("file: %s: gzip: %w", path, err)
		}
		lr.c = append(lr.c, z)
		r = z
	}
	lr.r = bufio.NewReaderSize(r, bufSize(fi.Size()))
	return lr, nil
}

// bufSize is the read buffer for n bytes of input: 1 MiB at most, less for
// small files (many small files are common in streaming directories).
func bufSize(n int64) int {
	return int(min(max(n+1, 4096), 1<<20))
}

// next returns the next line; the slice is valid until the next call. It
// returns io.EOF after the last line (of the range).
func (lr *lineReader) next() ([]byte, error) {
	if lr.end > 0 && lr.pos >= lr.end {
		return nil, io.EOF
	}
	line, err := lr.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.buf = append(lr.buf[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = lr.r.ReadSlice('\n')
			lr.buf = append(lr.buf, line...)
		}
		line = lr.buf
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(line) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	lr.line++
	lr.start = lr.pos
	lr.pos += int64(len(line))
	if lr.start == 0 && len(line) >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
		line = line[3:] // a UTF-8 byte order mark
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line, nil
}

// where describes the position of a record for error messages: its line
// number, or in a range read (where line numbers are unknown) its byte
// offset.
func (lr *lineReader) where(line int, offset int64) string {
	if lr.split {
		return fmt.Sprintf("byte %d", offset)
	}
	return strconv.Itoa(line)
}

func (lr *lineReader) close() {
	for i := len(lr.c) - 1; i >= 0; i-- {
		lr.c[i].Close()
	}
}

// malformed applies the read mode to a malformed record: it returns
// (keep=true) when the row must still be emitted (PERMISSIVE), nil error
// and keep=false when it is dropped, or the FAILFAST error.
func (p *textPlan) malformed(st *ReadStats, lr *lineReader, line int, offset int64, cause error) (keep bool, err error) {
	st.MalformedRows++
	switch p.mode {
	case DropMalformed:
		st.DroppedRows++
		return false, nil
	case FailFast:
		return false, fmt.Errorf("%w: %s:%s: %v (mode FAILFAST)", ErrMalformed, p.path, lr.where(line, offset), cause)
	}
	return true, nil
}

// appendMalformed appends a PERMISSIVE row for a malformed record: nulls,
// partition constants, and raw in the corrupt column.
func (p *textPlan) appendMalformed(raw []byte) {
	for _, c := range p.cols {
		switch c.role {
		case rolePartition:
			c.appendCell(&c.konst)
		case roleCorrupt:
			v := cell{valid: true, s: raw}
			c.appendCell(&v)
		default:
			c.b.AppendNull()
		}
	}
}
