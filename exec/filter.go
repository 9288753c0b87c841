package exec

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/expr"
)

// selection returns the rows a filter mask keeps as a bitmap starting at
// bit 0 (true and not null) and how many there are.
func selection(alloc memory.Allocator, mask *array.Boolean) (*memory.Buffer, int) {
	n := mask.Len()
	d := mask.Data()
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	bitutil.CopyBitmap(d.Buffers()[1].Bytes(), d.Offset(), n, bits, 0)
	if mask.NullN() > 0 {
		bitutil.BitmapAnd(bits, d.Buffers()[0].Bytes(), 0, int64(d.Offset()), bits, 0, int64(n))
	}
	return buf, bitutil.CountSetBits(bits, 0, n)
}

// compact copies the values of src whose bit is set to dst, which holds
// at least count+1 values. It does not branch on the bits, except to skip
// empty and full bytes.
func compact[T uint8 | uint16 | uint32 | uint64](src []T, bits []byte, dst []T) {
	j := 0
	n := len(src)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		by := bits[i>>3]
		switch by {
		case 0:
			continue
		case 0xFF:
			copy(dst[j:j+8], src[i:i+8])
			j += 8
			continue
		}
		s := src[i : i+8 : i+8]
		for k := range 8 {
			dst[j] = s[k]
			j += int(by >> k & 1)
		}
	}
	for i := full; i < n; i++ {
		dst[j] = src[i]
		j += int(bits[i>>3] >> (i & 7) & 1)
	}
}

func compactFixed[T uint8 | uint16 | uint32 | uint64](alloc memory.Allocator, a arrow.Array, bits []byte, count int) arrow.Array {
	var zero T
	size := int(unsafe.Sizeof(zero))
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize((count + 1) * size)
	dst := arrow.GetData[T](buf.Bytes())[:count+1]
	compact(expr.Values[T](a), bits, dst)
	buf.Resize(count * size)
	data := array.NewData(a.DataType(), count, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	defer data.Release()
	return array.MakeFromData(data)
}

// filterWithMask returns the rows of b whose mask value is true.
// Fixed-width columns without nulls are compacted here; the others go
// through Arrow's filter kernel.
func filterWithMask(c *Context, b arrow.RecordBatch, mask *array.Boolean) (arrow.RecordBatch, error) {
	sel, count := selection(c.Alloc, mask)
	defer sel.Release()
	if count == int(b.NumRows()) {
		b.Retain()
		return b, nil
	}
	bits := sel.Bytes()
	cols := make([]arrow.Array, b.NumCols())
	defer releaseArrays(cols)
	var selArr arrow.Array
	for i, col := range b.Columns() {
		w := fixedWidth(col.DataType())
		if col.NullN() == 0 && col.DataType().ID() != arrow.BOOL && w > 0 {
			switch w {
			case 1:
				cols[i] = compactFixed[uint8](c.Alloc, col, bits, count)
			case 2:
				cols[i] = compactFixed[uint16](c.Alloc, col, bits, count)
			case 4:
				cols[i] = compactFixed[uint32](c.Alloc, col, bits, count)
			case 8:
				cols[i] = compactFixed[uint64](c.Alloc, col, bits, count)
			}
			if cols[i] != nil {
				continue
			}
		}
		if str, ok := col.(*array.String); ok {
			cols[i] = filterStrings(c.Alloc, str, bits, count)
			continue
		}
		if selArr == nil {
			sel.Retain()
			d := array.NewData(arrow.FixedWidthTypes.Boolean, mask.Len(), []*memory.Buffer{nil, sel}, nil, 0, 0)
			sel.Release()
			selArr = array.MakeFromData(d)
			d.Release()
			defer selArr.Release()
		}
		out, err := compute.FilterArray(computeCtx(c), col, selArr, *compute.DefaultFilterOptions())
		if err != nil {
			return nil, fmt.Errorf("exec: filter: %w", err)
		}
		cols[i] = out
	}
	return array.NewRecordBatch(b.Schema(), cols, int64(count)), nil
}

// filterStrings returns the rows of a whose bit is set, reserving the
// exact bytes of the kept strings first. (Arrow's filter kernel reserves
// from the column's average string length and, when the kept strings are
// longer than average, grows its buffer by a few bytes per append,
// copying it each time: quadratic.)
func filterStrings(alloc memory.Allocator, a *array.String, bits []byte, count int) arrow.Array {
	offs := a.ValueOffsets()
	total := 0
	for i := range a.Len() {
		if bitutil.BitIsSet(bits, i) {
			total += int(offs[i+1] - offs[i])
		}
	}
	b := array.NewStringBuilder(alloc)
	defer b.Release()
	b.Reserve(count)
	b.ReserveData(total)
	for i := range a.Len() {
		if !bitutil.BitIsSet(bits, i) {
			continue
		}
		if a.IsNull(i) {
			b.AppendNull()
		} else {
			b.Append(a.Value(i))
		}
	}
	return b.NewArray()
}
