package file

import (
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// writeConfig is the parsed write options of a job.
type writeConfig struct {
	format       string
	compression  string // text formats: "" or "gzip"; parquet codec name
	codec        compress.Compression
	level        int
	rowGroupRows int64
	csv          csvConfig
	tsLayout     string
	dateLayout   string
	ignoreNulls  bool // JSON: omit null fields
}

func parseWriteConfig(format string, o options) (writeConfig, error) {
	wc := writeConfig{format: format, tsLayout: "2006-01-02T15:04:05.999999999Z07:00", dateLayout: "2006-01-02"}
	var err error
	if f := o.str("timestampFormat", ""); f != "" {
		ls, err := javaLayouts(f)
		if err != nil {
			return wc, fmt.Errorf("file: option timestampFormat = %q: %w", f, err)
		}
		wc.tsLayout = ls[0]
	}
	if f := o.str("dateFormat", ""); f != "" {
		ls, err := javaLayouts(f)
		if err != nil {
			return wc, fmt.Errorf("file: option dateFormat = %q: %w", f, err)
		}
		wc.dateLayout = ls[0]
	}
	comp := o.str("compression", o.str("codec", ""))
	switch format {
	case FormatParquet:
		if comp == "" {
			comp = "zstd"
		}
		codecs := map[string]compress.Compression{
			"none": compress.Codecs.Uncompressed, "uncompressed": compress.Codecs.Uncompressed,
			"snappy": compress.Codecs.Snappy, "gzip": compress.Codecs.Gzip, "zstd": compress.Codecs.Zstd,
			"lz4": compress.Codecs.Lz4Raw, "lz4raw": compress.Codecs.Lz4Raw, "brotli": compress.Codecs.Brotli,
		}
		c, ok := codecs[comp]
		if !ok {
			return wc, fmt.Errorf("file: option compression = %q: parquet supports none, snappy, gzip, zstd, lz4, brotli", comp)
		}
		wc.codec = c
		lvl, err := o.integer("compressionLevel", 0, -1<<20)
		if err != nil {
			return wc, err
		}
		wc.level = int(lvl)
		if wc.rowGroupRows, err = o.integer("rowGroupRows", 1<<20, 1); err != nil {
			return wc, err
		}
	default:
		switch comp {
		case "", "none", "uncompressed":
			comp = ""
		case "gzip":
		default:
			return wc, fmt.Errorf("file: option compression = %q: %s supports none and gzip", comp, format)
		}
	}
	wc.compression = comp
	if format == FormatCSV {
		if wc.csv, err = csvOptions(o); err != nil {
			return wc, err
		}
	}
	if format == FormatJSON {
		if wc.ignoreNulls, err = o.boolean("ignoreNullFields", true); err != nil {
			return wc, err
		}
	}
	return wc, nil
}

// ext returns the file name extension of the job's files.
func (wc writeConfig) ext() string {
	e := map[string]string{FormatCSV: ".csv", FormatJSON: ".json", FormatText: ".txt", FormatParquet: ".parquet"}[wc.format]
	if wc.format == FormatParquet {
		if wc.compression != "none" && wc.compression != "uncompressed" {
			e = "." + wc.compression + e
		}
		return e
	}
	if wc.compression == "gzip" {
		e += ".gz"
	}
	return e
}

// recordWriter writes batches of one schema into one file.
type recordWriter interface {
	write(rec arrow.RecordBatch) error
	close() error // flushes; does not close the underlying file
}

func newRecordWriter(wc writeConfig, w io.Writer, schema *arrow.Schema, alloc memory.Allocator) (recordWriter, error) {
	switch wc.format {
	case FormatParquet:
		opts := []parquet.WriterProperty{
			parquet.WithCompression(wc.codec),
			parquet.WithAllocator(alloc),
			parquet.WithMaxRowGroupLength(wc.rowGroupRows),
			parquet.WithStats(true),
		}
		if wc.level != 0 {
			opts = append(opts, parquet.WithCompressionLevel(wc.level))
		}
		fw, err := pqarrow.NewFileWriter(schema, w, parquet.NewWriterProperties(opts...),
			pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(alloc)))
		if err != nil {
			return nil, err
		}
		return &parquetWriter{fw: fw}, nil
	case FormatText:
		if schema.NumFields() != 1 || (schema.Field(0).Type.ID() != arrow.STRING && schema.Field(0).Type.ID() != arrow.LARGE_STRING) {
			return nil, fmt.Errorf("text needs exactly one string column, got %s", schema)
		}
	case FormatCSV:
		for _, f := range schema.Fields() {
			if _, nested := f.Type.(arrow.NestedType); nested {
				return nil, fmt.Errorf("csv cannot hold column %q of type %s", f.Name, f.Type)
			}
		}
	}
	tw := &textWriter{wc: wc, w: w, schema: schema}
	if wc.format == FormatCSV && wc.csv.header {
		for i, f := range schema.Fields() {
			if i > 0 {
				tw.buf = append(tw.buf, wc.csv.sep)
			}
			tw.buf = tw.csvField(tw.buf, []byte(f.Name))
		}
		tw.buf = append(tw.buf, '\n')
	}
	return tw, nil
}

type parquetWriter struct{ fw *pqarrow.FileWriter }

// write buffers rec into the current row group and starts a new one past
// 128 MiB of encoded data, so row groups stay bounded in memory.
func (p *parquetWriter) write(rec arrow.RecordBatch) error {
	if err := p.fw.WriteBuffered(rec); err != nil {
		return err
	}
	if p.fw.RowGroupTotalBytesWritten() > 128<<20 {
		return p.fw.NewBufferedRowGroupChecked()
	}
	return nil
}

func (p *parquetWriter) close() error { return p.fw.Close() }

// textWriter writes CSV, JSON lines or text.
type textWriter struct {
	wc     writeConfig
	w      io.Writer
	schema *arrow.Schema
	buf    []byte
	tmp    []byte
	zones  zones
}

func (t *textWriter) write(rec arrow.RecordBatch) error {
	cols := rec.Columns()
	n := int(rec.NumRows())
	for r := range n {
		switch t.wc.format {
		case FormatText:
			if c := cols[0]; c.IsValid(r) {
				t.buf = appendStringValue(t.buf, c, r)
			}
		case FormatCSV:
			for i, c := range cols {
				if i > 0 {
					t.buf = append(t.buf, t.wc.csv.sep)
				}
				if c.IsNull(r) {
					t.buf = append(t.buf, t.wc.csv.nullValue...)
					continue
				}
				t.tmp = t.appendPlain(t.tmp[:0], c, r)
				t.buf = t.csvField(t.buf, t.tmp)
			}
		case FormatJSON:
			t.buf = t.appendObject(t.buf, t.schema.Fields(), cols, r)
		}
		t.buf = append(t.buf, '\n')
		if len(t.buf) > 64<<10 {
			if _, err := t.w.Write(t.buf); err != nil {
				return err
			}
			t.buf = t.buf[:0]
		}
	}
	return nil
}

func (t *textWriter) close() error {
	if _, err := t.w.Write(t.buf); err != nil {
		return err
	}
	t.buf = t.buf[:0]
	return nil
}

// csvField appends s, quoted when it holds the separator, the quote, a
// line break, leading or trailing blanks, or equals the null marker (so it
// reads back as itself). Quotes inside are doubled.
func (t *textWriter) csvField(dst, s []byte) []byte {
	c := t.wc.csv
	need := len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ') ||
		string(s) == string(c.nullValue) || (c.comment != 0 && len(s) > 0 && s[0] == c.comment)
	for _, b := range s {
		if b == c.sep || b == c.quote || b == '\n' || b == '\r' || (c.escape != 0 && b == c.escape) {
			need = true
			break
		}
	}
	if !need || c.quote == 0 {
		return append(dst, s...)
	}
	dst = append(dst, c.quote)
	for _, b := range s {
		if b == c.quote {
			dst = append(dst, c.quote)
		} else if c.escape != 0 && c.escape != c.quote && b == c.escape {
			dst = append(dst, c.escape)
		}
		dst = append(dst, b)
	}
	return append(dst, c.quote)
}

func appendStringValue(dst []byte, a arrow.Array, i int) []byte {
	switch a := a.(type) {
	case *array.String:
		return append(dst, a.Value(i)...)
	case *array.LargeString:
		return append(dst, a.Value(i)...)
	}
	return append(dst, a.ValueStr(i)...)
}

// appendPlain appends the text form of a non-null value, as CSV and
// partition directory names write it.
func (t *textWriter) appendPlain(dst []byte, a arrow.Array, i int) []byte {
	if t.zones == nil {
		t.zones = zones{}
	}
	return appendPlainIn(dst, a, i, t.wc.tsLayout, t.wc.dateLayout, t.zones)
}

func appendPlain(dst []byte, a arrow.Array, i int, tsLayout, dateLayout string) []byte {
	return appendPlainIn(dst, a, i, tsLayout, dateLayout, nil)
}

// zones caches time zones by name for writers.
type zones map[string]*time.Location

func (z zones) get(name string) *time.Location {
	if loc, ok := z[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC
	}
	if z != nil {
		z[name] = loc
	}
	return loc
}

func appendPlainIn(dst []byte, a arrow.Array, i int, tsLayout, dateLayout string, z zones) []byte {
	switch a := a.(type) {
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10)
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Int8:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(dst, a.Value(i), 10)
	case *array.Uint32:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Uint8:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Float64:
		return appendFloat(dst, a.Value(i), 64)
	case *array.Float32:
		return appendFloat(dst, float64(a.Value(i)), 32)
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i))
	case *array.String:
		return append(dst, a.Value(i)...)
	case *array.LargeString:
		return append(dst, a.Value(i)...)
	case *array.Binary:
		return append(dst, a.Value(i)...)
	case *array.Date32:
		return a.Value(i).ToTime().AppendFormat(dst, dateLayout)
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		tm := a.Value(i).ToTime(unit)
		if tz := a.DataType().(*arrow.TimestampType).TimeZone; tz != "" && tz != "UTC" {
			tm = tm.In(z.get(tz))
		}
		return tm.AppendFormat(dst, tsLayout)
	}
	return append(dst, a.ValueStr(i)...)
}

// appendObject appends row r of cols as a JSON object.
func (t *textWriter) appendObject(dst []byte, fields []arrow.Field, cols []arrow.Array, r int) []byte {
	dst = append(dst, '{')
	first := true
	for i, f := range fields {
		c := cols[i]
		if c.IsNull(r) && t.wc.ignoreNulls {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		dst = t.appendJSONValue(dst, c, r)
	}
	return append(dst, '}')
}

func (t *textWriter) appendJSONValue(dst []byte, a arrow.Array, i int) []byte {
	if a.IsNull(i) {
		return append(dst, "null"...)
	}
	switch a := a.(type) {
	case *array.Int64, *array.Int32, *array.Int16, *array.Int8, *array.Uint64, *array.Uint32, *array.Uint16, *array.Uint8, *array.Boolean:
		return t.appendPlain(dst, a, i)
	case *array.Float64:
		return appendJSONFloat(dst, a.Value(i), 64)
	case *array.Float32:
		return appendJSONFloat(dst, float64(a.Value(i)), 32)
	case *array.String:
		return appendJSONString(dst, a.Value(i))
	case *array.LargeString:
		return appendJSONString(dst, a.Value(i))
	case *array.Binary:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, a.Value(i))
		return append(dst, '"')
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		cols := make([]arrow.Array, a.NumField())
		for j := range cols {
			cols[j] = a.Field(j)
		}
		return t.appendObject(dst, st.Fields(), cols, i)
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		vals := a.ListValues()
		dst = append(dst, '[')
		for j := start; j < end; j++ {
			if j > start {
				dst = append(dst, ',')
			}
			dst = t.appendJSONValue(dst, vals, int(j))
		}
		return append(dst, ']')
	}
	t.tmp = t.appendPlain(t.tmp[:0], a, i)
	return appendJSONString(dst, string(t.tmp))
}

func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return appendFloat(dst, f, bits)
}

// appendFloat writes f in its shortest form, with ".0" added to whole
// numbers so that schema inference reads the column back as floating
// point.
func appendFloat(dst []byte, f float64, bits int) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, bits)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' || c == 'n' || c == 'N' { // fraction, exponent, Inf, NaN
			return dst
		}
	}
	return append(dst, '.', '0')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal; invalid UTF-8 is
// replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
