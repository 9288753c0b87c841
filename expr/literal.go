package expr

import (
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TimestampType is the type of timestamps made by spate's expressions:
// microseconds since the Unix epoch, UTC (as Spark's TimestampType).
var TimestampType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// Literal is a constant. Value is nil (SQL NULL), or a Go value of the
// type Type describes: int64, int32, float64, float32, string, bool,
// time.Time (timestamp) or arrow.Date32.
type Literal struct {
	Value any
	Type  arrow.DataType
}

// Lit returns a literal for a Go value: integers become int64 (int32 stays
// int32), floats float64 (float32 stays float32), time.Time a UTC
// microsecond timestamp, nil a NULL of the null type (it takes the type its
// context needs). Other types give a literal whose Resolve fails.
func Lit(v any) *Literal {
	switch x := v.(type) {
	case nil:
		return &Literal{nil, arrow.Null}
	case int:
		return &Literal{int64(x), arrow.PrimitiveTypes.Int64}
	case int8:
		return &Literal{int64(x), arrow.PrimitiveTypes.Int64}
	case int16:
		return &Literal{int64(x), arrow.PrimitiveTypes.Int64}
	case int32:
		return &Literal{x, arrow.PrimitiveTypes.Int32}
	case int64:
		return &Literal{x, arrow.PrimitiveTypes.Int64}
	case uint:
		return &Literal{int64(x), arrow.PrimitiveTypes.Int64}
	case uint8:
		return &Literal{int64(x), arrow.PrimitiveTypes.Int64}
	case uint16:
		return &Literal{int64(x), arrow.PrimitiveTypes.Int64}
	case uint32:
		return &Literal{int64(x), arrow.PrimitiveTypes.Int64}
	case float32:
		return &Literal{x, arrow.PrimitiveTypes.Float32}
	case float64:
		return &Literal{x, arrow.PrimitiveTypes.Float64}
	case string:
		return &Literal{x, arrow.BinaryTypes.String}
	case bool:
		return &Literal{x, arrow.FixedWidthTypes.Boolean}
	case time.Time:
		return &Literal{x.UTC(), TimestampType}
	case arrow.Date32:
		return &Literal{x, arrow.FixedWidthTypes.Date32}
	}
	return &Literal{v, nil}
}

// NullOf returns a NULL literal of type dt.
func NullOf(dt arrow.DataType) *Literal { return &Literal{nil, dt} }

// Resolve implements Expr.
func (l *Literal) Resolve(*arrow.Schema) (Type, error) {
	if l.Type == nil {
		return Type{}, fmt.Errorf("%w: literal of unsupported Go type %T", ErrType, l.Value)
	}
	return Type{l.Type, l.Value == nil}, nil
}

// Eval implements Expr.
func (l *Literal) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	if _, err := l.Resolve(nil); err != nil {
		return nil, err
	}
	return constArray(ec.Alloc, l.Type, l.Value, int(b.NumRows()))
}

// String implements Expr.
func (l *Literal) String() string {
	switch v := l.Value.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + v + "'"
	case time.Time:
		return "TIMESTAMP '" + v.Format("2006-01-02 15:04:05.999999") + "'"
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(l.Value)
}

// Children implements Expr.
func (l *Literal) Children() []Expr { return nil }

// WithChildren implements Expr.
func (l *Literal) WithChildren([]Expr) (Expr, error) { return l, nil }

// constArray returns an array of n copies of v (or n nulls when v is nil).
func constArray(alloc memory.Allocator, dt arrow.DataType, v any, n int) (arrow.Array, error) {
	if v == nil {
		return array.MakeArrayOfNull(alloc, dt, n), nil
	}
	switch dt.ID() {
	case arrow.INT64:
		return fillFixed(alloc, dt, v.(int64), n), nil
	case arrow.INT32:
		return fillFixed(alloc, dt, v.(int32), n), nil
	case arrow.FLOAT64:
		return fillFixed(alloc, dt, v.(float64), n), nil
	case arrow.FLOAT32:
		return fillFixed(alloc, dt, v.(float32), n), nil
	case arrow.DATE32:
		return fillFixed(alloc, dt, v.(arrow.Date32), n), nil
	case arrow.TIMESTAMP:
		return fillFixed(alloc, dt, toMicros(v.(time.Time)), n), nil
	case arrow.BOOL:
		bm := memory.NewResizableBuffer(alloc)
		bm.Resize(int(bitmapBytes(n)))
		if v.(bool) {
			setAllBits(bm.Bytes(), n)
		}
		return makeArray(dt, n, nil, bm, 0), nil
	case arrow.STRING:
		s := v.(string)
		bld := array.NewStringBuilder(alloc)
		defer bld.Release()
		bld.Reserve(n)
		bld.ReserveData(n * len(s))
		for range n {
			bld.Append(s)
		}
		return bld.NewArray(), nil
	}
	return nil, fmt.Errorf("%w: no literal arrays of type %s", ErrType, dt)
}

func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fillFixed[T fixed](alloc memory.Allocator, dt arrow.DataType, v T, n int) arrow.Array {
	buf, vals := newFixedBuf[T](alloc, n)
	for i := range vals {
		vals[i] = v
	}
	return makeArray(dt, n, nil, buf, 0)
}

// ScalarAt returns row i of a as a Go value of the kind Lit takes (nil
// for null): int64 for integers, float64, string, bool, time.Time for
// timestamps, arrow.Date32. ok is false for other types.
func ScalarAt(a arrow.Array, i int) (v any, ok bool) {
	if a.IsNull(i) {
		return nil, true
	}
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(i), true
	case *array.Int32:
		return x.Value(i), true
	case *array.Int16:
		return int64(x.Value(i)), true
	case *array.Int8:
		return int64(x.Value(i)), true
	case *array.Uint64:
		return int64(x.Value(i)), true
	case *array.Uint32:
		return int64(x.Value(i)), true
	case *array.Uint16:
		return int64(x.Value(i)), true
	case *array.Uint8:
		return int64(x.Value(i)), true
	case *array.Float64:
		return x.Value(i), true
	case *array.Float32:
		return x.Value(i), true
	case *array.String:
		return x.Value(i), true
	case *array.LargeString:
		return x.Value(i), true
	case *array.Boolean:
		return x.Value(i), true
	case *array.Timestamp:
		return timeOf(int64(x.Value(i)), x.DataType().(*arrow.TimestampType).Unit), true
	case *array.Date32:
		return x.Value(i), true
	}
	return nil, false
}

// FoldConstant evaluates e, which must refer to no column, and returns it
// as a literal of e's type. ok is false when e cannot be folded (it refers
// to columns, is not deterministic, is an aggregate, or its type has no
// literal form).
func FoldConstant(e Expr) (lit *Literal, ok bool, err error) {
	if len(Columns(e)) > 0 || !IsDeterministic(e) || IsAggregate(e) {
		return nil, false, nil
	}
	empty := arrow.NewSchema(nil, nil)
	t, err := e.Resolve(empty)
	if err != nil {
		return nil, false, err
	}
	b := array.NewRecordBatch(empty, nil, 1)
	defer b.Release()
	a, err := e.Eval(NewEvalContext(nil, memory.DefaultAllocator, time.Time{}), b)
	if err != nil {
		return nil, false, err
	}
	defer a.Release()
	v, ok := ScalarAt(a, 0)
	if !ok {
		return nil, false, nil
	}
	return &Literal{Value: v, Type: t.DataType}, true, nil
}
