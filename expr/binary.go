package expr

import (
	"cmp"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Op is a binary operator.
type Op int

// The binary operators. Arithmetic on two integers computes in int64 and
// wraps around on overflow (two's complement, as Spark without ANSI mode);
// with a float on either side it computes in float64. Div always gives a
// float64, and null when the divisor is zero; Mod gives null for a zero
// divisor too. Comparisons give null when either side is null.
const (
	OpAdd Op = iota
	OpSub
	OpMul
	OpDiv
	OpMod
	OpEq
	OpNotEq
	OpLt
	OpLe
	OpGt
	OpGe
)

var opText = [...]string{"+", "-", "*", "/", "%", "=", "!=", "<", "<=", ">", ">="}

// String implements Expr.
func (o Op) String() string {
	if int(o) < len(opText) {
		return opText[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// IsComparison reports whether o is one of the comparison operators.
func (o Op) IsComparison() bool { return o >= OpEq }

// flip returns the operator with its sides swapped: a < b is b > a.
func (o Op) flip() Op {
	switch o {
	case OpLt:
		return OpGt
	case OpLe:
		return OpGe
	case OpGt:
		return OpLt
	case OpGe:
		return OpLe
	}
	return o
}

// Binary is an arithmetic or comparison operator applied to two
// expressions.
type Binary struct {
	Op          Op
	Left, Right Expr
}

// NewBinary returns left op right.
func NewBinary(op Op, left, right Expr) *Binary { return &Binary{op, left, right} }

// Add returns l + r.
func Add(l, r Expr) Expr { return &Binary{OpAdd, l, r} }

// Sub returns l - r.
func Sub(l, r Expr) Expr { return &Binary{OpSub, l, r} }

// Mul returns l * r.
func Mul(l, r Expr) Expr { return &Binary{OpMul, l, r} }

// Div returns l / r (float64; null when r is zero).
func Div(l, r Expr) Expr { return &Binary{OpDiv, l, r} }

// Mod returns l % r (null when r is zero).
func Mod(l, r Expr) Expr { return &Binary{OpMod, l, r} }

// Eq returns l = r.
func Eq(l, r Expr) Expr { return &Binary{OpEq, l, r} }

// NotEq returns l != r.
func NotEq(l, r Expr) Expr { return &Binary{OpNotEq, l, r} }

// Lt returns l < r.
func Lt(l, r Expr) Expr { return &Binary{OpLt, l, r} }

// Le returns l <= r.
func Le(l, r Expr) Expr { return &Binary{OpLe, l, r} }

// Gt returns l > r.
func Gt(l, r Expr) Expr { return &Binary{OpGt, l, r} }

// Ge returns l >= r.
func Ge(l, r Expr) Expr { return &Binary{OpGe, l, r} }

// Between returns lo <= e AND e <= hi.
func Between(e, lo, hi Expr) Expr { return And(Ge(e, lo), Le(e, hi)) }

// String implements Expr.
func (b *Binary) String() string { return fmt.Sprintf("(%s %s %s)", b.Left, b.Op, b.Right) }

// Children implements Expr.
func (b *Binary) Children() []Expr { return []Expr{b.Left, b.Right} }

// WithChildren implements Expr.
func (b *Binary) WithChildren(c []Expr) (Expr, error) {
	if err := wantChildren(b.Op.String(), c, 2); err != nil {
		return nil, err
	}
	return &Binary{b.Op, c[0], c[1]}, nil
}

// operandType returns the type both sides are converted to, and the
// result type.
func (b *Binary) types(s *arrow.Schema) (operand, result Type, err error) {
	lt, err := resolveChild(b.Left, s)
	if err != nil {
		return Type{}, Type{}, err
	}
	rt, err := resolveChild(b.Right, s)
	if err != nil {
		return Type{}, Type{}, err
	}
	nullable := lt.Nullable || rt.Nullable
	if b.Op.IsComparison() {
		ct, ok := compareType(lt.DataType, rt.DataType)
		if !ok {
			return Type{}, Type{}, fmt.Errorf("%w: cannot compare %s (%s) with %s (%s)", ErrType, b.Left, lt.DataType, b.Right, rt.DataType)
		}
		return Type{ct, nullable}, Type{boolType, nullable}, nil
	}
	ct, ok := arithType(lt.DataType, rt.DataType)
	if !ok {
		return Type{}, Type{}, fmt.Errorf("%w: %s needs numeric operands, got %s (%s) and %s (%s)", ErrType, b.Op, b.Left, lt.DataType, b.Right, rt.DataType)
	}
	switch b.Op {
	case OpDiv:
		return Type{float64Type, true}, Type{float64Type, true}, nil
	case OpMod:
		return Type{ct, true}, Type{ct, true}, nil
	}
	return Type{ct, nullable}, Type{ct, nullable}, nil
}

// Resolve implements Expr.
func (b *Binary) Resolve(s *arrow.Schema) (Type, error) {
	_, rt, err := b.types(s)
	return rt, err
}

// side is an evaluated operand: an array, or a scalar when the operand is
// a literal (so kernels need not materialise constants).
type side struct {
	arr    arrow.Array
	scalar any
	null   bool // a NULL literal
	// owned reports that arr was computed for this evaluation alone (by
	// arithmetic), so its value buffer may be overwritten.
	owned bool
}

func (s side) isScalar() bool { return s.arr == nil }

func (s side) release() {
	if s.arr != nil {
		s.arr.Release()
	}
}

// evalSide evaluates e, converted to type dt.
func evalSide(ec *EvalContext, e Expr, dt arrow.DataType, b arrow.RecordBatch) (side, error) {
	if l, ok := Unalias(e).(*Literal); ok {
		if l.Value == nil {
			return side{null: true}, nil
		}
		v, err := scalarAs(l.Value, dt)
		if err == nil {
			return side{scalar: v}, nil
		}
	}
	a, err := e.Eval(ec, b)
	if err != nil {
		return side{}, err
	}
	defer a.Release()
	c, err := castTo(ec, a, dt)
	if err != nil {
		return side{}, err
	}
	// An arithmetic result (not a NULL array, whose buffers Arrow shares
	// between validity and values) belongs to this evaluation alone.
	owned := false
	if x, ok := Unalias(e).(*Binary); ok && !x.Op.IsComparison() && arrow.TypeEqual(a.DataType(), dt) {
		d := c.Data()
		bufs := d.Buffers()
		owned = d.Offset() == 0 && c.NullN() < c.Len() && len(bufs) == 2 && bufs[1] != nil && bufs[0] != bufs[1]
	}
	return side{arr: c, owned: owned}, nil
}

// scalarAs converts a literal's Go value to the Go type kernels use for
// dt: int64 for integer and timestamp (microseconds), int32 for date32,
// float64, string or bool.
func scalarAs(v any, dt arrow.DataType) (any, error) {
	switch dt.ID() {
	case arrow.INT64:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		}
	case arrow.FLOAT64:
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case int32:
			return float64(x), nil
		case float32:
			return float64(x), nil
		case float64:
			return x, nil
		}
	case arrow.STRING:
		if x, ok := v.(string); ok {
			return x, nil
		}
	case arrow.BOOL:
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case arrow.TIMESTAMP:
		unit := dt.(*arrow.TimestampType).Unit
		switch x := v.(type) {
		case time.Time:
			return unitsOf(x, unit), nil
		case string:
			t, err := parseTime(x, "")
			if err != nil {
				return nil, fmt.Errorf("%w: %q is not a timestamp", ErrType, x)
			}
			return unitsOf(t, unit), nil
		case arrow.Date32:
			return unitsOf(x.ToTime(), unit), nil
		}
	case arrow.DATE32:
		switch x := v.(type) {
		case arrow.Date32:
			return int32(x), nil
		case string:
			t, err := parseTime(x, "")
			if err != nil {
				return nil, fmt.Errorf("%w: %q is not a date", ErrType, x)
			}
			return int32(arrow.Date32FromTime(t)), nil
		}
	}
	return nil, fmt.Errorf("%w: literal %v does not convert to %s", ErrType, v, dt)
}

// Eval implements Expr.
func (b *Binary) Eval(ec *EvalContext, batch arrow.RecordBatch) (arrow.Array, error) {
	ot, rt, err := b.types(batch.Schema())
	if err != nil {
		return nil, err
	}
	n := int(batch.NumRows())
	l, err := evalSide(ec, b.Left, ot.DataType, batch)
	if err != nil {
		return nil, err
	}
	defer l.release()
	r, err := evalSide(ec, b.Right, ot.DataType, batch)
	if err != nil {
		return nil, err
	}
	defer r.release()
	if l.null || r.null {
		return array.MakeArrayOfNull(ec.Alloc, rt.DataType, n), nil
	}
	if l.isScalar() && r.isScalar() {
		// Both constant: evaluate on materialised arrays (constant folding
		// normally removes this case).
		la, err := constArray(ec.Alloc, ot.DataType, unscalar(l.scalar, ot.DataType), n)
		if err != nil {
			return nil, err
		}
		l.arr, l.scalar = la, nil
	}
	op := b.Op
	if l.isScalar() {
		// Keep the scalar on the right.
		l, r = r, l
		switch op {
		case OpSub, OpDiv, OpMod:
			return arithScalarLeft(ec.Alloc, op, ot.DataType, rt.DataType, r.scalar, l.arr)
		}
		op = op.flip()
	}
	if op.IsComparison() {
		return compare(ec.Alloc, op, ot.DataType, l.arr, r)
	}
	if l.owned && arrow.TypeEqual(ot.DataType, rt.DataType) {
		return arithInPlace(ec.Alloc, op, rt.DataType, l.arr, r)
	}
	return arith(ec.Alloc, op, ot.DataType, rt.DataType, l.arr, r)
}

// unscalar turns a kernel scalar back into a literal value of dt.
func unscalar(v any, dt arrow.DataType) any {
	switch dt.ID() {
	case arrow.TIMESTAMP:
		return timeOf(v.(int64), dt.(*arrow.TimestampType).Unit)
	case arrow.DATE32:
		return arrow.Date32(v.(int32))
	}
	return v
}

// ---- comparison kernels ----

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// compare evaluates l op r where l is an array and r an array or scalar,
// both of type dt.
func compare(alloc memory.Allocator, op Op, dt arrow.DataType, l arrow.Array, r side) (arrow.Array, error) {
	n := l.Len()
	valid, nulls := validityOf(alloc, n, l, r.arr)
	out := memory.NewResizableBuffer(alloc)
	out.Resize(int(bitmapBytes(n)))
	bits := out.Bytes()
	clear(bits)
	switch dt.ID() {
	case arrow.INT64, arrow.TIMESTAMP:
		cmpFixed(op, Values[int64](l), r, bits)
	case arrow.FLOAT64:
		cmpFixed(op, Values[float64](l), r, bits)
	case arrow.DATE32:
		cmpFixed(op, Values[int32](l), r, bits)
	case arrow.STRING:
		ls := l.(*array.String)
		if r.isScalar() {
			s := r.scalar.(string)
			cmpLoop(op, n, bits, func(i int) int { return cmp.Compare(ls.Value(i), s) })
		} else {
			rs := r.arr.(*array.String)
			cmpLoop(op, n, bits, func(i int) int { return cmp.Compare(ls.Value(i), rs.Value(i)) })
		}
	case arrow.BOOL:
		lb := l.(*array.Boolean)
		toInt := func(b bool) int { return int(b2u(b)) }
		if r.isScalar() {
			s := toInt(r.scalar.(bool))
			cmpLoop(op, n, bits, func(i int) int { return toInt(lb.Value(i)) - s })
		} else {
			rb := r.arr.(*array.Boolean)
			cmpLoop(op, n, bits, func(i int) int { return toInt(lb.Value(i)) - toInt(rb.Value(i)) })
		}
	default:
		out.Release()
		if valid != nil {
			valid.Release()
		}
		return nil, fmt.Errorf("%w: no comparison for %s", ErrType, dt)
	}
	return makeArray(boolType, n, valid, out, nulls), nil
}

// cmpLoop sets bit i of bits when c(i) satisfies op.
func cmpLoop(op Op, n int, bits []byte, c func(i int) int) {
	for i := range n {
		v := c(i)
		var ok bool
		switch op {
		case OpEq:
			ok = v == 0
		case OpNotEq:
			ok = v != 0
		case OpLt:
			ok = v < 0
		case OpLe:
			ok = v <= 0
		case OpGt:
			ok = v > 0
		case OpGe:
			ok = v >= 0
		}
		if ok {
			bitutil.SetBit(bits, i)
		}
	}
}

// cmpFixed compares fixed-width values, eight at a time into one byte of
// the output bitmap.
func cmpFixed[T int32 | int64 | float64](op Op, a []T, r side, bits []byte) {
	if r.isScalar() {
		var s T
		switch x := r.scalar.(type) {
		case int64:
			s = T(x)
		case int32:
			s = T(x)
		case float64:
			s = T(x)
		}
		switch op {
		case OpEq:
			packBits(len(a), bits, func(i int) bool { return a[i] == s })
		case OpNotEq:
			packBits(len(a), bits, func(i int) bool { return a[i] != s })
		case OpLt:
			packBits(len(a), bits, func(i int) bool { return a[i] < s })
		case OpLe:
			packBits(len(a), bits, func(i int) bool { return a[i] <= s })
		case OpGt:
			packBits(len(a), bits, func(i int) bool { return a[i] > s })
		case OpGe:
			packBits(len(a), bits, func(i int) bool { return a[i] >= s })
		}
		return
	}
	b := Values[T](r.arr)
	b = b[:len(a)]
	switch op {
	case OpEq:
		packBits(len(a), bits, func(i int) bool { return a[i] == b[i] })
	case OpNotEq:
		packBits(len(a), bits, func(i int) bool { return a[i] != b[i] })
	case OpLt:
		packBits(len(a), bits, func(i int) bool { return a[i] < b[i] })
	case OpLe:
		packBits(len(a), bits, func(i int) bool { return a[i] <= b[i] })
	case OpGt:
		packBits(len(a), bits, func(i int) bool { return a[i] > b[i] })
	case OpGe:
		packBits(len(a), bits, func(i int) bool { return a[i] >= b[i] })
	}
}

// packBits writes f(i) for i < n into bits, a byte at a time. f is a
// closure the compiler inlines into the loop.
func packBits(n int, bits []byte, f func(i int) bool) {
	full := n &^ 7
	for j := 0; j < full; j += 8 {
		var x byte
		x |= b2u(f(j))
		x |= b2u(f(j+1)) << 1
		x |= b2u(f(j+2)) << 2
		x |= b2u(f(j+3)) << 3
		x |= b2u(f(j+4)) << 4
		x |= b2u(f(j+5)) << 5
		x |= b2u(f(j+6)) << 6
		x |= b2u(f(j+7)) << 7
		bits[j>>3] = x
	}
	for i := full; i < n; i++ {
		if f(i) {
			bits[i>>3] |= 1 << (i & 7)
		}
	}
}

// ---- arithmetic kernels ----

// arith evaluates l op r (r an array or a scalar) computing in dt and
// returning type rt.
func arith(alloc memory.Allocator, op Op, dt, rt arrow.DataType, l arrow.Array, r side) (arrow.Array, error) {
	switch dt.ID() {
	case arrow.INT64:
		if r.isScalar() {
			return arithTyped(alloc, op, rt, Values[int64](l), nil, r.scalar.(int64), l, nil, false)
		}
		return arithTyped(alloc, op, rt, Values[int64](l), Values[int64](r.arr), 0, l, r.arr, false)
	case arrow.FLOAT64:
		if r.isScalar() {
			return arithTyped(alloc, op, rt, Values[float64](l), nil, r.scalar.(float64), l, nil, false)
		}
		return arithTyped(alloc, op, rt, Values[float64](l), Values[float64](r.arr), 0, l, r.arr, false)
	}
	return nil, fmt.Errorf("%w: no arithmetic for %s", ErrType, dt)
}

// arithInPlace is arith writing into the value buffer of l, an array
// computed for this evaluation alone.
func arithInPlace(alloc memory.Allocator, op Op, dt arrow.DataType, l arrow.Array, r side) (arrow.Array, error) {
	buf := l.Data().Buffers()[1]
	switch dt.ID() {
	case arrow.INT64:
		if r.isScalar() {
			return arithInto(alloc, op, dt, Values[int64](l), nil, r.scalar.(int64), l, nil, false, buf)
		}
		return arithInto(alloc, op, dt, Values[int64](l), Values[int64](r.arr), 0, l, r.arr, false, buf)
	case arrow.FLOAT64:
		if r.isScalar() {
			return arithInto(alloc, op, dt, Values[float64](l), nil, r.scalar.(float64), l, nil, false, buf)
		}
		return arithInto(alloc, op, dt, Values[float64](l), Values[float64](r.arr), 0, l, r.arr, false, buf)
	}
	return nil, fmt.Errorf("%w: no arithmetic for %s", ErrType, dt)
}

// arithScalarLeft evaluates s op r for the operators whose sides do not
// commute.
func arithScalarLeft(alloc memory.Allocator, op Op, dt, rt arrow.DataType, s any, r arrow.Array) (arrow.Array, error) {
	switch dt.ID() {
	case arrow.INT64:
		return arithTyped(alloc, op, rt, Values[int64](r), nil, s.(int64), r, nil, true)
	case arrow.FLOAT64:
		return arithTyped(alloc, op, rt, Values[float64](r), nil, s.(float64), r, nil, true)
	}
	return nil, fmt.Errorf("%w: no arithmetic for %s", ErrType, dt)
}

// arithTyped computes a op b (or a op s when b is nil; s op a when
// swapped). Division and modulo by zero give null.
func arithTyped[T int64 | float64](alloc memory.Allocator, op Op, rt arrow.DataType, a, b []T, s T, la, ra arrow.Array, swapped bool) (arrow.Array, error) {
	return arithInto(alloc, op, rt, a, b, s, la, ra, swapped, nil)
}

// arithInto is arithTyped writing into into (the value buffer of la) when
// it is not nil.
func arithInto[T int64 | float64](alloc memory.Allocator, op Op, rt arrow.DataType, a, b []T, s T, la, ra arrow.Array, swapped bool, into *memory.Buffer) (arrow.Array, error) {
	n := len(a)
	valid, nulls := validityOf(alloc, n, la, ra)
	var buf *memory.Buffer
	var out []T
	if into != nil {
		into.Retain()
		buf, out = into, a
	} else {
		buf, out = newFixedBuf[T](alloc, n)
	}
	var zeroDiv []int // rows whose divisor is zero
	switch op {
	case OpAdd:
		if b != nil {
			b = b[:n]
			for i := range out {
				out[i] = a[i] + b[i]
			}
		} else {
			for i := range out {
				out[i] = a[i] + s
			}
		}
	case OpMul:
		if b != nil {
			b = b[:n]
			for i := range out {
				out[i] = a[i] * b[i]
			}
		} else {
			for i := range out {
				out[i] = a[i] * s
			}
		}
	case OpSub:
		switch {
		case b != nil:
			b = b[:n]
			for i := range out {
				out[i] = a[i] - b[i]
			}
		case swapped:
			for i := range out {
				out[i] = s - a[i]
			}
		default:
			for i := range out {
				out[i] = a[i] - s
			}
		}
	case OpDiv, OpMod:
		if b == nil && !swapped {
			// An int64 column by a constant: no division per value.
			if ia, ok := any(a).([]int64); ok {
				if dc, ok := newDivConst(any(s).(int64)); ok {
					dc.div(ia, any(out).([]int64), op == OpMod)
					break
				}
			}
		}
		for i := range out {
			var x, y T
			switch {
			case b != nil:
				x, y = a[i], b[i]
			case swapped:
				x, y = s, a[i]
			default:
				x, y = a[i], s
			}
			if y == 0 {
				zeroDiv = append(zeroDiv, i)
				continue
			}
			if op == OpDiv {
				out[i] = x / y
			} else {
				out[i] = mod(x, y)
			}
		}
	default:
		buf.Release()
		if valid != nil {
			valid.Release()
		}
		return nil, fmt.Errorf("%w: %s is not arithmetic", ErrInvalid, op)
	}
	if len(zeroDiv) > 0 {
		if valid == nil {
			valid = memory.NewResizableBuffer(alloc)
			valid.Resize(int(bitmapBytes(n)))
			setAllBits(valid.Bytes(), n)
		}
		for _, i := range zeroDiv {
			if bitutil.BitIsSet(valid.Bytes(), i) {
				bitutil.ClearBit(valid.Bytes(), i)
				nulls++
			}
		}
	}
	return makeArray(rt, n, valid, buf, nulls), nil
}

func mod[T int64 | float64](x, y T) T {
	switch any(x).(type) {
	case int64:
		return T(int64(x) % int64(y))
	}
	return T(math.Mod(float64(x), float64(y)))
}
