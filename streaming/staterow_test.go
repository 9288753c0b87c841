package streaming

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// stateRowSchema has a column of every type the state row codec knows.
var stateRowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
	{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
	{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
	{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "lbin", Type: arrow.BinaryTypes.LargeBinary, Nullable: true},
	{Name: "ts_us", Type: arrow.FixedWidthTypes.Timestamp_us, Nullable: true},
	{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "Europe/Paris"}, Nullable: true},
	{Name: "ts_s", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true},
	{Name: "d32", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "d64", Type: arrow.FixedWidthTypes.Date64, Nullable: true},
	{Name: "dur", Type: arrow.FixedWidthTypes.Duration_ms, Nullable: true},
	{Name: "t32", Type: arrow.FixedWidthTypes.Time32ms, Nullable: true},
	{Name: "t64", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
	{Name: "null", Type: arrow.Null, Nullable: true},
}, nil)

// stateRowBatch returns rows of stateRowSchema: edge values, then a row
// of nulls.
func stateRowBatch(t testing.TB, alloc memory.Allocator) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(alloc, stateRowSchema)
	defer b.Release()
	type row struct {
		i     int64
		u     uint64
		f     float64
		b     bool
		s     string
		valid bool
	}
	rows := []row{
		{0, 0, 0, false, "", true},
		{-1, 1, math.Copysign(0, -1), true, "é, a longer string with a \x00 byte", true},
		{math.MaxInt64, math.MaxUint64, math.Inf(1), true, strings.Repeat("x", 300), true},
		{math.MinInt64, 1 << 63, math.NaN(), false, "z", true},
		{42, 7, -2.5, true, "ok", true},
		{}, // nulls
	}
	for _, r := range rows {
		if !r.valid {
			for _, f := range b.Fields() {
				f.AppendNull()
			}
			continue
		}
		b.Field(0).(*array.Int8Builder).Append(int8(r.i))
		b.Field(1).(*array.Int16Builder).Append(int16(r.i))
		b.Field(2).(*array.Int32Builder).Append(int32(r.i))
		b.Field(3).(*array.Int64Builder).Append(r.i)
		b.Field(4).(*array.Uint8Builder).Append(uint8(r.u))
		b.Field(5).(*array.Uint16Builder).Append(uint16(r.u))
		b.Field(6).(*array.Uint32Builder).Append(uint32(r.u))
		b.Field(7).(*array.Uint64Builder).Append(r.u)
		b.Field(8).(*array.Float32Builder).Append(float32(r.f))
		b.Field(9).(*array.Float64Builder).Append(r.f)
		b.Field(10).(*array.BooleanBuilder).Append(r.b)
		b.Field(11).(*array.StringBuilder).Append(r.s)
		b.Field(12).(*array.LargeStringBuilder).Append(r.s)
		b.Field(13).(*array.BinaryBuilder).Append([]byte(r.s))
		b.Field(14).(*array.BinaryBuilder).Append([]byte(r.s))
		b.Field(15).(*array.TimestampBuilder).Append(arrow.Timestamp(r.i))
		b.Field(16).(*array.TimestampBuilder).Append(arrow.Timestamp(r.i))
		b.Field(17).(*array.TimestampBuilder).Append(arrow.Timestamp(r.i))
		b.Field(18).(*array.Date32Builder).Append(arrow.Date32(r.i))
		b.Field(19).(*array.Date64Builder).Append(arrow.Date64(r.i))
		b.Field(20).(*array.DurationBuilder).Append(arrow.Duration(r.i))
		b.Field(21).(*array.Time32Builder).Append(arrow.Time32(int32(r.i)))
		b.Field(22).(*array.Time64Builder).Append(arrow.Time64(r.i))
		b.Field(23).(*array.NullBuilder).AppendNull()
	}
	return b.NewRecordBatch()
}

func TestStateRowRoundTrip(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	in := stateRowBatch(t, alloc)
	defer in.Release()
	if err := checkStateSchema(stateRowSchema); err != nil {
		t.Fatal(err)
	}
	for _, split := range []int{0, 1, 5, 11, stateRowSchema.NumFields()} {
		fields := stateRowSchema.Fields()
		kenc, err := newRowEncoder(in.Columns()[:split])
		if err != nil {
			t.Fatal(err)
		}
		venc, err := newRowEncoder(in.Columns()[split:])
		if err != nil {
			t.Fatal(err)
		}
		out := array.NewRecordBuilder(alloc, stateRowSchema)
		kdec, err := newRowDecoder(fields[:split], out.Fields()[:split])
		if err != nil {
			t.Fatal(err)
		}
		vdec, err := newRowDecoder(fields[split:], out.Fields()[split:])
		if err != nil {
			t.Fatal(err)
		}
		var keys [][]byte
		for i := range int(in.NumRows()) {
			k := kenc.encode(nil, i)
			v := venc.encode(nil, i)
			keys = append(keys, k)
			if err := kdec.decode(k); err != nil {
				t.Fatalf("split %d, row %d: key: %v", split, i, err)
			}
			if err := vdec.decode(v); err != nil {
				t.Fatalf("split %d, row %d: value: %v", split, i, err)
			}
		}
		got := out.NewRecordBatch()
		out.Release()
		for c := range int(in.NumCols()) {
			if !array.Equal(in.Column(c), got.Column(c)) {
				// NaN != NaN: compare the bits of floats.
				if a, ok := in.Column(c).(*array.Float64); ok {
					g := got.Column(c).(*array.Float64)
					for i := range a.Len() {
						if a.IsValid(i) != g.IsValid(i) || math.Float64bits(a.Value(i)) != math.Float64bits(g.Value(i)) {
							t.Errorf("split %d, column %s row %d: got %v, want %v", split, fields[c].Name, i, g.Value(i), a.Value(i))
						}
					}
					continue
				}
				if a, ok := in.Column(c).(*array.Float32); ok {
					g := got.Column(c).(*array.Float32)
					for i := range a.Len() {
						if a.IsValid(i) != g.IsValid(i) || math.Float32bits(a.Value(i)) != math.Float32bits(g.Value(i)) {
							t.Errorf("split %d, column %s row %d: got %v, want %v", split, fields[c].Name, i, g.Value(i), a.Value(i))
						}
					}
					continue
				}
				t.Errorf("split %d, column %s: got %v, want %v", split, fields[c].Name, got.Column(c), in.Column(c))
			}
		}
		// Canonical: the decoded rows encode to the same bytes, and
		// distinct rows to distinct keys.
		kenc2, err := newRowEncoder(got.Columns()[:split])
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			if k2 := kenc2.encode(nil, i); !bytes.Equal(k, k2) {
				t.Errorf("split %d, row %d: re-encoded key %x, first %x", split, i, k2, k)
			}
			for j := range i {
				if split > 3 && bytes.Equal(keys[j], k) {
					t.Errorf("split %d: rows %d and %d have the same key %x", split, j, i, k)
				}
			}
		}
		got.Release()
	}
}

func TestStateRowUnsupportedType(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "ok", Type: arrow.PrimitiveTypes.Int64},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	}, nil)
	err := checkStateSchema(s)
	if err == nil || !strings.Contains(err.Error(), `"tags"`) || !strings.Contains(err.Error(), "list") {
		t.Fatalf("checkStateSchema = %v, want an error naming column tags and its type", err)
	}
}

func TestStateRowDecodeErrors(t *testing.T) {
	fields := []arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, `column 0 "n"`},
		{"bad marker", []byte{2}, "null marker 2"},
		{"short int", []byte{1, 1, 2, 3}, "need 8 bytes"},
		{"long string", []byte{0, 1, 5, 'a', 'b'}, "value length 5"},
		{"overlong length", []byte{0, 1, 0x81, 0x00, 'a', 0, 0}, "shortest form"},
		{"bad bool", []byte{0, 0, 1, 2}, "0 or 1"},
		{"trailing bytes", []byte{0, 0, 0, 9}, "1 bytes left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
			defer b.Release()
			d, err := newRowDecoder(fields, b.Fields())
			if err != nil {
				t.Fatal(err)
			}
			err = d.decode(tc.in)
			if !errors.Is(err, errCorruptRow) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decode(%x) = %v, want a corrupt row error with %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestStateKeyHashIsStable(t *testing.T) {
	// The routing of keys to state partitions is part of the checkpoint
	// format: these values must never change.
	for _, tc := range []struct {
		key  string
		want uint64
	}{
		{"", 0xf52a15e9a9b5e89b},
		{"\x01\x00\x00\x00\x00\x00\x00\x00\x00", 0x2bd2f3b4ca8a517b},
		{"\x01\x03ann", 0xe4d9d54fd9997b86},
	} {
		if got := stateKeyHash([]byte(tc.key)); got != tc.want {
			t.Errorf("stateKeyHash(%q) = %#x, want %#x", tc.key, got, tc.want)
		}
	}
}

func FuzzDecodeRow(f *testing.F) {
	in := stateRowBatch(f, memory.DefaultAllocator)
	defer in.Release()
	enc, err := newRowEncoder(in.Columns())
	if err != nil {
		f.Fatal(err)
	}
	for i := range int(in.NumRows()) {
		f.Add(enc.encode(nil, i))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := array.NewRecordBuilder(memory.DefaultAllocator, stateRowSchema)
		defer b.Release()
		d, err := newRowDecoder(stateRowSchema.Fields(), b.Fields())
		if err != nil {
			t.Fatal(err)
		}
		if err := d.decode(data); err != nil {
			if !errors.Is(err, errCorruptRow) {
				t.Fatalf("decode error %v does not match errCorruptRow", err)
			}
			return
		}
		// A row the decoder accepts encodes back to the same bytes.
		rec := b.NewRecordBatch()
		defer rec.Release()
		e, err := newRowEncoder(rec.Columns())
		if err != nil {
			t.Fatal(err)
		}
		if got := e.encode(nil, 0); !bytes.Equal(got, data) {
			t.Fatalf("decoded %x, re-encoded %x", data, got)
		}
	})
}
