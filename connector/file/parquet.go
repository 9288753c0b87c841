package file

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetSchema returns the Arrow schema of a Parquet file.
func parquetSchema(path string) (*arrow.Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("file: open %s: %w", path, err)
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, fmt.Errorf("file: parquet %s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, nil)
	if err != nil {
		return nil, fmt.Errorf("file: parquet %s: %w", path, err)
	}
	s, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("file: parquet %s: schema: %w", path, err)
	}
	fs := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		fs[i] = cleanField(f)
	}
	return arrow.NewSchema(fs, nil), nil
}

// pqOut says how one output column of a Parquet read is produced.
type pqOut struct {
	field   arrow.Field
	fileIdx int  // top-level field index in the file, -1 if absent
	cast    bool // the file's type differs and is cast
	retype  bool // the file's type differs only in names or metadata
	part    *cell
	col     *column
}

// readParquet implements ReadFile for Parquet. Columns are matched by name;
// a column absent from the file is null; a column whose type differs is
// converted as [castable] allows (see the package documentation), and is
// an error otherwise.
func readParquet(ctx context.Context, path string, o ReadOptions, emit func(arrow.RecordBatch) error) (ReadStats, error) {
	var st ReadStats
	f, err := os.Open(path)
	if err != nil {
		return st, fmt.Errorf("file: open %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		st.Bytes = fi.Size()
	}
	pf, err := file.NewParquetReader(f, file.WithReadProps(nil))
	if err != nil {
		return st, fmt.Errorf("file: parquet %s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(o.BatchRows)}, o.Alloc)
	if err != nil {
		return st, fmt.Errorf("file: parquet %s: %w", path, err)
	}
	fs, err := fr.Schema()
	if err != nil {
		return st, fmt.Errorf("file: parquet %s: schema: %w", path, err)
	}
	out, err := project(o.Schema, o.Columns)
	if err != nil {
		return st, fmt.Errorf("file: %s: %w", path, err)
	}
	pv, pnull := o.PartitionValues, map[string]bool(nil)
	if pv == nil {
		pv, pnull = PartitionValues(path)
	}
	tp, err := newTimeParser(newOptions(o.Options))
	if err != nil {
		return st, err
	}
	outs := make([]pqOut, out.NumFields())
	var selected []int // file field indices read
	for i, of := range out.Fields() {
		po := pqOut{field: of, fileIdx: -1}
		if v, ok := pv[of.Name]; ok {
			c, err := newColumn(FormatParquet, of, false)
			if err != nil {
				return st, err
			}
			po.col = c
			po.part = &cell{}
			if !pnull[of.Name] {
				if err := convertText(c.kind, c.unit, tp, []byte(v), po.part); err != nil {
					return st, fmt.Errorf("file: %s: partition value %s=%s does not fit column type %s: %w", path, of.Name, v, of.Type, err)
				}
				po.part.s = []byte(v)
			}
		} else if idx := fs.FieldIndices(of.Name); len(idx) > 0 {
			po.fileIdx = idx[0]
			ft := fs.Field(idx[0]).Type
			if !arrow.TypeEqual(ft, of.Type) {
				if sameLayout(ft, of.Type) {
					po.retype = true
				} else if castable(ft, of.Type) {
					po.cast = true
				} else {
					return st, fmt.Errorf("file: parquet %s: column %q has type %s in the file, the schema wants %s", path, of.Name, ft, of.Type)
				}
			}
			if !slices.Contains(selected, po.fileIdx) {
				selected = append(selected, po.fileIdx)
			}
		}
		outs[i] = po
	}
	slices.Sort(selected)
	var leaves []int
	for _, fi := range selected {
		leaves = appendLeaves(leaves, &fr.Manifest.Fields[fi])
	}
	slices.Sort(leaves)

	md := pf.MetaData()
	var groups []int
	for rg := range pf.NumRowGroups() {
		if !o.Range.whole(st.Bytes) && !inRange(md.RowGroup(rg), o.Range) {
			continue // another range's row group
		}
		st.RowGroups++
		if skipRowGroup(md.RowGroup(rg), fs, o.Filters) {
			st.RowGroupsSkipped++
			continue
		}
		groups = append(groups, rg)
	}
	if len(groups) == 0 {
		return st, nil
	}

	build := func(n int64, fileCols func(fi int) arrow.Array) (arrow.RecordBatch, error) {
		cols := make([]arrow.Array, len(outs))
		release := func() {
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
		}
		for i, po := range outs {
			switch {
			case po.part != nil:
				cols[i] = constArray(o, po.col, po.part, int(n))
			case po.fileIdx < 0:
				cols[i] = array.MakeArrayOfNull(o.Alloc, po.field.Type, int(n))
			case po.cast && po.field.Type.ID() == arrow.STRING:
				// written out by hand: arrow-go's cast to string leaks buffers
				cols[i] = stringArray(o.Alloc, fileCols(po.fileIdx))
			case po.cast:
				a, err := compute.CastArray(compute.WithAllocator(ctx, o.Alloc), fileCols(po.fileIdx), compute.SafeCastOptions(po.field.Type))
				if err != nil {
					release()
					return nil, fmt.Errorf("file: parquet %s: column %q: cast to %s: %w", path, po.field.Name, po.field.Type, err)
				}
				cols[i] = a
			case po.retype:
				cols[i] = retype(fileCols(po.fileIdx), po.field.Type)
			default:
				a := fileCols(po.fileIdx)
				a.Retain()
				cols[i] = a
			}
		}
		rec := array.NewRecordBatch(out, cols, n)
		release()
		return rec, nil
	}
	send := func(rec arrow.RecordBatch) error {
		st.Rows += rec.NumRows()
		st.Batches++
		if err := ctx.Err(); err != nil {
			rec.Release()
			return err
		}
		return emit(rec)
	}

	if len(leaves) == 0 { // only partition or missing columns: just row counts
		for _, rg := range groups {
			for left := md.RowGroup(rg).NumRows(); left > 0; {
				n := min(left, int64(o.BatchRows))
				left -= n
				rec, err := build(n, nil)
				if err != nil {
					return st, err
				}
				if err := send(rec); err != nil {
					return st, err
				}
			}
		}
		return st, nil
	}

	rr, err := fr.GetRecordReader(ctx, leaves, groups)
	if err != nil {
		return st, fmt.Errorf("file: parquet %s: %w", path, err)
	}
	defer rr.Release()
	pos := make(map[int]int, len(selected))
	for i, fi := range selected {
		pos[fi] = i
	}
	for rr.Next() {
		got := rr.RecordBatch()
		rec, err := build(got.NumRows(), func(fi int) arrow.Array { return got.Column(pos[fi]) })
		if err != nil {
			return st, err
		}
		if err := send(rec); err != nil {
			return st, err
		}
	}
	if err := rr.Err(); err != nil {
		return st, fmt.Errorf("file: parquet %s: %w", path, err)
	}
	return st, nil
}

// appendLeaves appends the leaf column indices below a manifest field.
func appendLeaves(dst []int, f *pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(dst, f.ColIndex)
	}
	for i := range f.Children {
		dst = appendLeaves(dst, &f.Children[i])
	}
	return dst
}

// constArray builds an array of n copies of v.
func constArray(o ReadOptions, c *column, v *cell, n int) arrow.Array {
	b := array.NewBuilder(o.Alloc, c.typ)
	defer b.Release()
	c.bind(b)
	b.Reserve(n)
	for range n {
		c.appendCell(v)
	}
	return b.NewArray()
}

// castable reports whether a file column of type from is read as type to.
func castable(from, to arrow.DataType) bool {
	num := func(t arrow.DataType) bool { return arrow.IsInteger(t.ID()) || arrow.IsFloating(t.ID()) }
	switch {
	case num(from) && num(to):
		return true
	case to.ID() == arrow.STRING && (num(from) || from.ID() == arrow.BOOL || from.ID() == arrow.LARGE_STRING):
		return true
	case from.ID() == arrow.TIMESTAMP && to.ID() == arrow.TIMESTAMP:
		return true
	case from.ID() == arrow.DATE32 && to.ID() == arrow.TIMESTAMP:
		return true
	}
	return false
}

// skipRowGroup reports whether the row group's statistics prove that some
// predicate is false (or null) for every row.
func skipRowGroup(rg *metadata.RowGroupMetaData, fs *arrow.Schema, preds []Predicate) bool {
	for _, p := range preds {
		idx := fs.FieldIndices(p.Column)
		if len(idx) == 0 {
			continue
		}
		ft := fs.Field(idx[0]).Type
		leaf := leafIndex(fs, idx[0])
		if leaf < 0 || leaf >= rg.NumColumns() {
			continue
		}
		cc, err := rg.ColumnChunk(leaf)
		if err != nil {
			continue
		}
		ok, err := cc.StatsSet()
		if err != nil || !ok {
			continue
		}
		stats, err := cc.Statistics()
		if err != nil || stats == nil {
			continue
		}
		if stats.HasNullCount() && stats.NullCount() == rg.NumRows() && rg.NumRows() > 0 {
			return true // all null: every comparison is null
		}
		if !stats.HasMinMax() {
			continue
		}
		lo, hi, ok := statBounds(stats)
		if !ok {
			continue
		}
		v, ok := predValue(p.Value, ft, lo.kind)
		if !ok {
			continue
		}
		if excludes(p.Op, lo.cmp(v), hi.cmp(v)) {
			return true
		}
	}
	return false
}

// leafIndex returns the leaf column index of a primitive top-level field,
// or -1 for nested fields.
func leafIndex(fs *arrow.Schema, fieldIdx int) int {
	leaf := 0
	for i, f := range fs.Fields() {
		if i == fieldIdx {
			if _, nested := f.Type.(arrow.NestedType); nested {
				return -1
			}
			return leaf
		}
		leaf += countLeaves(f.Type)
	}
	return -1
}

func countLeaves(t arrow.DataType) int {
	switch t := t.(type) {
	case *arrow.StructType:
		n := 0
		for _, f := range t.Fields() {
			n += countLeaves(f.Type)
		}
		return n
	case arrow.ListLikeType:
		return countLeaves(t.Elem())
	}
	return 1
}

// bound is a statistic or predicate value in one of three comparable
// domains.
type bound struct {
	kind byte // 'i' int64, 'f' float64, 's' bytes
	i    int64
	f    float64
	s    []byte
}

// cmp compares b with v (same kind): -1, 0 or +1.
func (b bound) cmp(v bound) int {
	switch b.kind {
	case 'i':
		return cmpOrdered(b.i, v.i)
	case 'f':
		return cmpOrdered(b.f, v.f)
	}
	return bytes.Compare(b.s, v.s)
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func statBounds(s metadata.TypedStatistics) (lo, hi bound, ok bool) {
	switch s := s.(type) {
	case *metadata.Int32Statistics:
		return bound{kind: 'i', i: int64(s.Min())}, bound{kind: 'i', i: int64(s.Max())}, true
	case *metadata.Int64Statistics:
		return bound{kind: 'i', i: s.Min()}, bound{kind: 'i', i: s.Max()}, true
	case *metadata.Float32Statistics:
		lo, hi := float64(s.Min()), float64(s.Max())
		return bound{kind: 'f', f: lo}, bound{kind: 'f', f: hi}, !math.IsNaN(lo) && !math.IsNaN(hi)
	case *metadata.Float64Statistics:
		return bound{kind: 'f', f: s.Min()}, bound{kind: 'f', f: s.Max()}, !math.IsNaN(s.Min()) && !math.IsNaN(s.Max())
	case *metadata.BooleanStatistics:
		b2i := func(b bool) int64 {
			if b {
				return 1
			}
			return 0
		}
		return bound{kind: 'i', i: b2i(s.Min())}, bound{kind: 'i', i: b2i(s.Max())}, true
	case *metadata.ByteArrayStatistics:
		return bound{kind: 's', s: s.Min()}, bound{kind: 's', s: s.Max()}, true
	}
	return bound{}, bound{}, false
}

// predValue converts a predicate constant into the statistics' domain for
// a column of Arrow type t; ok is false when the comparison is not
// well-defined (then no row group is skipped).
func predValue(v any, t arrow.DataType, domain byte) (bound, bool) {
	switch domain {
	case 'i':
		switch t.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
			n, ok := asInt(v)
			return bound{kind: 'i', i: n}, ok
		case arrow.BOOL:
			if b, ok := v.(bool); ok {
				return bound{kind: 'i', i: map[bool]int64{false: 0, true: 1}[b]}, true
			}
		case arrow.DATE32:
			// only a midnight (UTC) converts exactly; another time of day
			// would round and could skip a group that "<" needs
			switch x := v.(type) {
			case time.Time:
				u := x.UTC()
				if u.Hour() != 0 || u.Minute() != 0 || u.Second() != 0 || u.Nanosecond() != 0 {
					return bound{}, false
				}
				return bound{kind: 'i', i: dateFrom(u)}, true
			case arrow.Date32:
				return bound{kind: 'i', i: int64(x)}, true
			}
		case arrow.TIMESTAMP:
			if tm, ok := v.(time.Time); ok {
				unit := t.(*arrow.TimestampType).Unit
				if int64(tm.Nanosecond())%int64(unit.Multiplier()) != 0 {
					return bound{}, false // not exact in the column's unit
				}
				n, err := timestampFrom(tm, unit)
				return bound{kind: 'i', i: n}, err == nil
			}
		}
	case 'f':
		if t.ID() != arrow.FLOAT32 && t.ID() != arrow.FLOAT64 {
			return bound{}, false
		}
		if n, ok := asInt(v); ok {
			return bound{kind: 'f', f: float64(n)}, true
		}
		switch f := v.(type) {
		case float64:
			return bound{kind: 'f', f: f}, !math.IsNaN(f)
		case float32:
			return bound{kind: 'f', f: float64(f)}, !math.IsNaN(float64(f))
		}
	case 's':
		if t.ID() != arrow.STRING && t.ID() != arrow.BINARY && t.ID() != arrow.LARGE_STRING {
			return bound{}, false
		}
		switch s := v.(type) {
		case string:
			return bound{kind: 's', s: []byte(s)}, true
		case []byte:
			return bound{kind: 's', s: s}, true
		}
	}
	return bound{}, false
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<62 {
			return int64(n), true
		}
	}
	return 0, false
}

// excludes reports whether "x op v" is false for every x in [min, max],
// given cmpLo = cmp(min, v) and cmpHi = cmp(max, v).
func excludes(op string, cmpLo, cmpHi int) bool {
	switch op {
	case "=", "==":
		return cmpLo > 0 || cmpHi < 0
	case "!=", "<>":
		return cmpLo == 0 && cmpHi == 0
	case "<":
		return cmpLo >= 0
	case "<=":
		return cmpLo > 0
	case ">":
		return cmpHi <= 0
	case ">=":
		return cmpHi < 0
	}
	return false
}

// sameLayout reports whether a and b describe the same data apart from
// list element names, nullability and field metadata (Parquet files name
// list elements "element", Arrow builders "item").
func sameLayout(a, b arrow.DataType) bool {
	if a.ID() != b.ID() {
		return false
	}
	switch at := a.(type) {
	case *arrow.StructType:
		bt := b.(*arrow.StructType)
		if at.NumFields() != bt.NumFields() {
			return false
		}
		for i, f := range at.Fields() {
			g := bt.Field(i)
			if f.Name != g.Name || !sameLayout(f.Type, g.Type) {
				return false
			}
		}
		return true
	case arrow.ListLikeType:
		bt, ok := b.(arrow.ListLikeType)
		if !ok || at.ID() != bt.ID() {
			return false
		}
		if fa, ok := a.(*arrow.FixedSizeListType); ok && fa.Len() != b.(*arrow.FixedSizeListType).Len() {
			return false
		}
		return sameLayout(at.Elem(), bt.Elem())
	}
	return arrow.TypeEqual(a, b)
}

// retype returns a with type t, which must have the same layout
// ([sameLayout]); buffers are shared.
func retype(a arrow.Array, t arrow.DataType) arrow.Array {
	d := retypeData(a.Data(), t)
	defer d.Release()
	return array.MakeFromData(d)
}

func retypeData(d arrow.ArrayData, t arrow.DataType) *array.Data {
	var children []arrow.ArrayData
	switch tt := t.(type) {
	case *arrow.StructType:
		for i, c := range d.Children() {
			children = append(children, retypeData(c, tt.Field(i).Type))
		}
	case arrow.ListLikeType:
		for _, c := range d.Children() {
			children = append(children, retypeData(c, tt.Elem()))
		}
	default:
		children = d.Children()
		for _, c := range children {
			c.Retain()
		}
	}
	out := array.NewData(t, d.Len(), d.Buffers(), children, d.NullN(), d.Offset())
	for _, c := range children {
		c.Release()
	}
	return out
}

// cleanField drops the "PARQUET:field_id" metadata pqarrow adds to every
// field, recursively, so a schema read from a file equals the one written.
func cleanField(f arrow.Field) arrow.Field {
	if f.HasMetadata() {
		keys, vals := []string{}, []string{}
		for i, k := range f.Metadata.Keys() {
			if k != "PARQUET:field_id" {
				keys, vals = append(keys, k), append(vals, f.Metadata.Values()[i])
			}
		}
		f.Metadata = arrow.NewMetadata(keys, vals)
	}
	switch t := f.Type.(type) {
	case *arrow.StructType:
		fs := make([]arrow.Field, t.NumFields())
		for i, c := range t.Fields() {
			fs[i] = cleanField(c)
		}
		f.Type = arrow.StructOf(fs...)
	case *arrow.ListType:
		f.Type = arrow.ListOfField(cleanField(t.ElemField()))
	case *arrow.LargeListType:
		f.Type = arrow.LargeListOfField(cleanField(t.ElemField()))
	}
	return f
}

// stringArray converts a to strings with the writers' text forms.
func stringArray(mem memory.Allocator, a arrow.Array) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(a.Len())
	var buf []byte
	for i := range a.Len() {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		buf = appendPlain(buf[:0], a, i, "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02")
		b.BinaryBuilder.Append(buf)
	}
	return b.NewArray()
}

// inRange reports whether a row group starts inside r: it belongs to the
// range holding the first page of its first column.
func inRange(rg *metadata.RowGroupMetaData, r ByteRange) bool {
	if rg.NumColumns() == 0 {
		return r.Offset <= 0
	}
	cc, err := rg.ColumnChunk(0)
	if err != nil {
		return r.Offset <= 0
	}
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
		start = cc.DictionaryPageOffset()
	}
	return start >= r.Offset && start < r.Offset+r.Length
}
