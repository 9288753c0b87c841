package expr

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// fixed lists the fixed-width Go types behind the Arrow types the kernels
// loop over.
type fixed interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// Values returns the value slice of a fixed-width array (int64, float64,
// timestamp, date32, ...) as []T, without copying. T must have the size of
// the array's values; slots of null entries hold unspecified values.
func Values[T fixed](a arrow.Array) []T {
	d := a.Data()
	bufs := d.Buffers()
	if len(bufs) < 2 || bufs[1] == nil {
		return nil
	}
	v := arrow.GetData[T](bufs[1].Bytes())
	return v[d.Offset() : d.Offset()+d.Len()]
}

// newFixedBuf allocates a value buffer for n values of T.
func newFixedBuf[T fixed](alloc memory.Allocator, n int) (*memory.Buffer, []T) {
	var zero T
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize(n * int(unsafe.Sizeof(zero)))
	return buf, arrow.GetData[T](buf.Bytes())[:n]
}

// makeArray builds an array from a validity bitmap (nil for none) and a
// value buffer, taking over the caller's references to both.
func makeArray(dt arrow.DataType, n int, validity, values *memory.Buffer, nulls int) arrow.Array {
	if validity == nil {
		nulls = 0
	}
	data := array.NewData(dt, n, []*memory.Buffer{validity, values}, nil, nulls, 0)
	if validity != nil {
		validity.Release()
	}
	values.Release()
	defer data.Release()
	return array.MakeFromData(data)
}

func bitmapBytes(n int) int64 { return bitutil.BytesForBits(int64(n)) }

func setAllBits(bm []byte, n int) { bitutil.SetBitsTo(bm, 0, int64(n), true) }

// validityOf returns a copy of the validity of the given arrays ANDed
// together (nil when none has nulls) and its null count. All arrays have
// length n.
func validityOf(alloc memory.Allocator, n int, arrs ...arrow.Array) (*memory.Buffer, int) {
	var out *memory.Buffer
	for _, a := range arrs {
		if a == nil || a.NullN() == 0 {
			continue
		}
		if a.DataType().ID() == arrow.NULL {
			if out == nil {
				out = memory.NewResizableBuffer(alloc)
				out.Resize(int(bitmapBytes(n)))
			}
			clear(out.Bytes())
			continue
		}
		bm := a.NullBitmapBytes()
		off := int64(a.Data().Offset())
		if out == nil {
			out = memory.NewResizableBuffer(alloc)
			out.Resize(int(bitmapBytes(n)))
			bitutil.CopyBitmap(bm, int(off), n, out.Bytes(), 0)
			continue
		}
		bitutil.BitmapAnd(out.Bytes(), bm, 0, off, out.Bytes(), 0, int64(n))
	}
	if out == nil {
		return nil, 0
	}
	return out, n - bitutil.CountSetBits(out.Bytes(), 0, n)
}

// boolBits returns the value bitmap of a boolean array and its bit offset.
func boolBits(a arrow.Array) ([]byte, int) {
	d := a.Data()
	return d.Buffers()[1].Bytes(), d.Offset()
}

// isValid reports whether row i of a is not null, quickly when a has no
// nulls.
func isValid(a arrow.Array, i int) bool { return a.NullN() == 0 || a.IsValid(i) }

// castTo returns a cast to dt (a retained a when it already has that
// type). String to number casts give null for unparsable values, as
// Spark's non-ANSI casts do.
func castTo(ec *EvalContext, a arrow.Array, dt arrow.DataType) (arrow.Array, error) {
	if arrow.TypeEqual(a.DataType(), dt) {
		a.Retain()
		return a, nil
	}
	return castArray(ec, a, dt)
}

func checkLen(a arrow.Array, n int) error {
	if a.Len() != n {
		return fmt.Errorf("expr: internal error: array of %d values for a batch of %d rows", a.Len(), n)
	}
	return nil
}

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}
