package streaming

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/expr"
)

// The state row codec turns some columns of a row of an Arrow table (a
// stateful operator's key columns, or its value columns) into bytes and
// back, for the state store (package state), which keeps byte keys and
// values.
//
// A row is its columns in order; each column is a tag byte, 0 for null
// or 1 for a value, and after a 1 the value:
//
//   - bool: one byte, 0 or 1;
//   - integers, floats, date32/64, time32/64, timestamp (any unit and
//     zone: the unit and zone are the schema's, not the row's) and
//     duration: the value's bits, little endian, in the type's width;
//   - utf8, large utf8, binary, large binary: the length as a uvarint
//     (shortest form), then the bytes;
//   - null: no value (the tag is always 0).
//
// The encoding is canonical: equal rows give equal bytes (floats by their
// bits, so 0 and -0 differ, as they do as grouping keys stored apart), and
// the decoder accepts only bytes the encoder can give (tags and bools 0
// or 1, shortest uvarints, nothing left over), so decoding then encoding a
// row gives back the same bytes. The keys of the state store are these
// bytes, so the format must never change for a given schema; a new
// format needs a new checkpoint location or a migration.

// stateTypeWidth returns the byte width of a fixed-width state column
// type, 0 for the variable-length ones (strings, binaries), -1 for bool
// and -2 for null, or an error naming the type for one the state cannot
// hold.
func stateTypeWidth(dt arrow.DataType) (int, error) {
	switch dt.ID() {
	case arrow.NULL:
		return -2, nil
	case arrow.BOOL:
		return -1, nil
	case arrow.INT8, arrow.UINT8:
		return 1, nil
	case arrow.INT16, arrow.UINT16:
		return 2, nil
	case arrow.INT32, arrow.UINT32, arrow.FLOAT32, arrow.DATE32, arrow.TIME32:
		return 4, nil
	case arrow.INT64, arrow.UINT64, arrow.FLOAT64, arrow.DATE64, arrow.TIME64, arrow.TIMESTAMP, arrow.DURATION:
		return 8, nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return 0, nil
	}
	return 0, fmt.Errorf("type %s cannot be kept in streaming state yet (supported: integers, floats, bool, strings, binary, timestamp, date, time, duration, null)", dt)
}

// checkStateSchema checks that every column of s can be kept in state.
func checkStateSchema(s *arrow.Schema) error {
	for _, f := range s.Fields() {
		if _, err := stateTypeWidth(f.Type); err != nil {
			return fmt.Errorf("column %q: %w", f.Name, err)
		}
	}
	return nil
}

// rowEncoder encodes rows of a fixed set of arrays (the columns of one
// record batch). Its arrays' types must have passed stateTypeWidth.
type rowEncoder struct {
	cols []func(dst []byte, i int) []byte
}

func newRowEncoder(cols []arrow.Array) (*rowEncoder, error) {
	e := &rowEncoder{cols: make([]func([]byte, int) []byte, len(cols))}
	for c, a := range cols {
		if e.cols[c] = columnRowEncoder(a); e.cols[c] == nil {
			_, err := stateTypeWidth(a.DataType())
			return nil, fmt.Errorf("column %d: %w", c, err)
		}
	}
	return e, nil
}

// encode appends row i to dst.
func (e *rowEncoder) encode(dst []byte, i int) []byte {
	for _, f := range e.cols {
		dst = f(dst, i)
	}
	return dst
}

func columnRowEncoder(a arrow.Array) func([]byte, int) []byte {
	withNull := func(f func([]byte, int) []byte) func([]byte, int) []byte {
		if a.NullN() == 0 {
			return func(dst []byte, i int) []byte { return f(append(dst, 1), i) }
		}
		return func(dst []byte, i int) []byte {
			if a.IsNull(i) {
				return append(dst, 0)
			}
			return f(append(dst, 1), i)
		}
	}
	bytesOf := func(get func(int) []byte) func([]byte, int) []byte {
		return withNull(func(dst []byte, i int) []byte {
			v := get(i)
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			return append(dst, v...)
		})
	}
	switch x := a.(type) {
	case *array.Null:
		return func(dst []byte, _ int) []byte { return append(dst, 0) }
	case *array.Boolean:
		return withNull(func(dst []byte, i int) []byte {
			if x.Value(i) {
				return append(dst, 1)
			}
			return append(dst, 0)
		})
	case *array.String:
		return withNull(func(dst []byte, i int) []byte {
			v := x.Value(i)
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			return append(dst, v...)
		})
	case *array.LargeString:
		return withNull(func(dst []byte, i int) []byte {
			v := x.Value(i)
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			return append(dst, v...)
		})
	case *array.Binary:
		return bytesOf(x.Value)
	case *array.LargeBinary:
		return bytesOf(x.Value)
	}
	w, _ := stateTypeWidth(a.DataType())
	switch w {
	case 1:
		v := expr.Values[uint8](a)
		return withNull(func(dst []byte, i int) []byte { return append(dst, v[i]) })
	case 2:
		v := expr.Values[uint16](a)
		return withNull(func(dst []byte, i int) []byte { return binary.LittleEndian.AppendUint16(dst, v[i]) })
	case 4:
		v := expr.Values[uint32](a)
		return withNull(func(dst []byte, i int) []byte { return binary.LittleEndian.AppendUint32(dst, v[i]) })
	case 8:
		v := expr.Values[uint64](a)
		return withNull(func(dst []byte, i int) []byte { return binary.LittleEndian.AppendUint64(dst, v[i]) })
	}
	return nil // not a state type
}

// errCorruptRow is matched by the errors of rowDecoder.decode.
var errCorruptRow = errors.New("corrupt state row")

// rowDecoder decodes rows into a fixed set of builders, one per field.
type rowDecoder struct {
	fields []arrow.Field
	cols   []func(b []byte) ([]byte, error)
}

// newRowDecoder returns a decoder appending to bs, the builders of fields
// (made with array.NewBuilder for those types, which must have passed
// stateTypeWidth).
func newRowDecoder(fields []arrow.Field, bs []array.Builder) (*rowDecoder, error) {
	d := &rowDecoder{fields: fields, cols: make([]func([]byte) ([]byte, error), len(fields))}
	for c, f := range fields {
		if d.cols[c] = columnRowDecoder(bs[c]); d.cols[c] == nil {
			_, err := stateTypeWidth(f.Type)
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
	}
	return d, nil
}

// decode appends the row encoded in b to the builders. A row that the
// encoder cannot have written is an error matching errCorruptRow, naming
// the column; the builders may then hold part of the row.
func (d *rowDecoder) decode(b []byte) error {
	var err error
	for c, f := range d.cols {
		if b, err = f(b); err != nil {
			return fmt.Errorf("%w: column %d %q (%s): %s", errCorruptRow, c, d.fields[c].Name, d.fields[c].Type, err)
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes left after the last column", errCorruptRow, len(b))
	}
	return nil
}

// rowError is a decoding failure within a column, without the column.
type rowError string

func (e rowError) Error() string { return string(e) }

func columnRowDecoder(bld array.Builder) func([]byte) ([]byte, error) {
	// tag reads the null marker: ok false means null (appended already).
	tag := func(b []byte) (rest []byte, valid bool, err error) {
		if len(b) == 0 {
			return nil, false, rowError("missing null marker (row too short)")
		}
		switch b[0] {
		case 0:
			bld.AppendNull()
			return b[1:], false, nil
		case 1:
			return b[1:], true, nil
		}
		return nil, false, rowError(fmt.Sprintf("null marker %d, want 0 or 1", b[0]))
	}
	fixed := func(w int, put func(v []byte)) func([]byte) ([]byte, error) {
		return func(b []byte) ([]byte, error) {
			b, ok, err := tag(b)
			if err != nil || !ok {
				return b, err
			}
			if len(b) < w {
				return nil, rowError(fmt.Sprintf("need %d bytes for the value, %d left", w, len(b)))
			}
			put(b[:w])
			return b[w:], nil
		}
	}
	variable := func(put func(v []byte)) func([]byte) ([]byte, error) {
		return func(b []byte) ([]byte, error) {
			b, ok, err := tag(b)
			if err != nil || !ok {
				return b, err
			}
			n, k := binary.Uvarint(b)
			switch {
			case k <= 0:
				return nil, rowError("bad value length")
			case k != uvarintLen(n):
				return nil, rowError("value length not in its shortest form")
			case n > uint64(len(b)-k):
				return nil, rowError(fmt.Sprintf("value length %d, only %d bytes left", n, len(b)-k))
			}
			b = b[k:]
			put(b[:n])
			return b[n:], nil
		}
	}
	le16 := binary.LittleEndian.Uint16
	le32 := binary.LittleEndian.Uint32
	le64 := binary.LittleEndian.Uint64
	switch x := bld.(type) {
	case *array.NullBuilder:
		return func(b []byte) ([]byte, error) {
			if len(b) == 0 || b[0] != 0 {
				return nil, rowError("a null column's marker must be 0")
			}
			x.AppendNull()
			return b[1:], nil
		}
	case *array.BooleanBuilder:
		return func(b []byte) ([]byte, error) {
			b, ok, err := tag(b)
			if err != nil || !ok {
				return b, err
			}
			if len(b) < 1 || b[0] > 1 {
				return nil, rowError("a bool must be one byte, 0 or 1")
			}
			x.Append(b[0] == 1)
			return b[1:], nil
		}
	case *array.Int8Builder:
		return fixed(1, func(v []byte) { x.Append(int8(v[0])) })
	case *array.Uint8Builder:
		return fixed(1, func(v []byte) { x.Append(v[0]) })
	case *array.Int16Builder:
		return fixed(2, func(v []byte) { x.Append(int16(le16(v))) })
	case *array.Uint16Builder:
		return fixed(2, func(v []byte) { x.Append(le16(v)) })
	case *array.Int32Builder:
		return fixed(4, func(v []byte) { x.Append(int32(le32(v))) })
	case *array.Uint32Builder:
		return fixed(4, func(v []byte) { x.Append(le32(v)) })
	case *array.Float32Builder:
		return fixed(4, func(v []byte) { x.Append(math.Float32frombits(le32(v))) })
	case *array.Date32Builder:
		return fixed(4, func(v []byte) { x.Append(arrow.Date32(le32(v))) })
	case *array.Time32Builder:
		return fixed(4, func(v []byte) { x.Append(arrow.Time32(le32(v))) })
	case *array.Int64Builder:
		return fixed(8, func(v []byte) { x.Append(int64(le64(v))) })
	case *array.Uint64Builder:
		return fixed(8, func(v []byte) { x.Append(le64(v)) })
	case *array.Float64Builder:
		return fixed(8, func(v []byte) { x.Append(math.Float64frombits(le64(v))) })
	case *array.Date64Builder:
		return fixed(8, func(v []byte) { x.Append(arrow.Date64(le64(v))) })
	case *array.Time64Builder:
		return fixed(8, func(v []byte) { x.Append(arrow.Time64(le64(v))) })
	case *array.TimestampBuilder:
		return fixed(8, func(v []byte) { x.Append(arrow.Timestamp(le64(v))) })
	case *array.DurationBuilder:
		return fixed(8, func(v []byte) { x.Append(arrow.Duration(le64(v))) })
	case *array.StringBuilder:
		return variable(func(v []byte) { x.BinaryBuilder.Append(v) })
	case *array.LargeStringBuilder:
		return variable(func(v []byte) { x.BinaryBuilder.Append(v) })
	case *array.BinaryBuilder: // binary and large binary
		return variable(func(v []byte) { x.Append(v) })
	}
	return nil // not a state type
}

// uvarintLen is the length of x's shortest uvarint form.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// stateKeyHash routes an encoded key to its state partition: FNV-1a (64
// bits) of the key's bytes, then SplitMix64's finaliser so that the low
// bits (taken modulo the number of partitions) depend on every byte. It
// is part of the checkpoint format: a key must go to the same partition in
// every process and every release, so it uses no seed.
func stateKeyHash(key []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
