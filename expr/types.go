package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// IsInteger reports whether dt is a signed or unsigned integer type.
func IsInteger(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

// IsFloat reports whether dt is a floating-point type.
func IsFloat(dt arrow.DataType) bool {
	return dt.ID() == arrow.FLOAT32 || dt.ID() == arrow.FLOAT64 || dt.ID() == arrow.FLOAT16
}

// IsNumeric reports whether dt is an integer or floating-point type.
func IsNumeric(dt arrow.DataType) bool { return IsInteger(dt) || IsFloat(dt) }

func isString(dt arrow.DataType) bool {
	return dt.ID() == arrow.STRING || dt.ID() == arrow.LARGE_STRING
}

func isNull(dt arrow.DataType) bool { return dt.ID() == arrow.NULL }

func isTemporal(dt arrow.DataType) bool {
	return dt.ID() == arrow.TIMESTAMP || dt.ID() == arrow.DATE32
}

var (
	int64Type   = arrow.PrimitiveTypes.Int64
	int32Type   = arrow.PrimitiveTypes.Int32
	float64Type = arrow.PrimitiveTypes.Float64
	stringType  = arrow.BinaryTypes.String
	boolType    = arrow.FixedWidthTypes.Boolean
	date32Type  = arrow.FixedWidthTypes.Date32
)

// arithType is the type binary arithmetic computes in: int64 for two
// integers, float64 when either side is a float. ok is false for
// non-numeric operands.
func arithType(l, r arrow.DataType) (arrow.DataType, bool) {
	switch {
	case isNull(l) && isNull(r):
		return int64Type, true
	case isNull(l):
		l = r
	case isNull(r):
		r = l
	}
	switch {
	case IsInteger(l) && IsInteger(r):
		return int64Type, true
	case IsNumeric(l) && IsNumeric(r):
		return float64Type, true
	}
	return nil, false
}

// compareType is the type two operands are compared in.
func compareType(l, r arrow.DataType) (arrow.DataType, bool) {
	switch {
	case isNull(l) && isNull(r):
		return boolType, true
	case isNull(l):
		l = r
	case isNull(r):
		r = l
	}
	if t, ok := arithType(l, r); ok {
		return t, true
	}
	switch {
	case isString(l) && isString(r):
		return stringType, true
	case l.ID() == arrow.BOOL && r.ID() == arrow.BOOL:
		return boolType, true
	case l.ID() == arrow.DATE32 && r.ID() == arrow.DATE32:
		return date32Type, true
	case isTemporal(l) && (isTemporal(r) || isString(r)), isTemporal(r) && isString(l):
		if l.ID() == arrow.DATE32 && isString(r) || r.ID() == arrow.DATE32 && isString(l) {
			return date32Type, true
		}
		return TimestampType, true
	}
	return nil, false
}

// commonType is the type the branches of When/Coalesce/In share.
func commonType(ts []arrow.DataType) (arrow.DataType, bool) {
	var out arrow.DataType = arrow.Null
	for _, t := range ts {
		if isNull(out) {
			out = t
			continue
		}
		if isNull(t) || arrow.TypeEqual(out, t) {
			continue
		}
		c, ok := compareType(out, t)
		if !ok {
			return nil, false
		}
		out = c
	}
	return out, true
}

// castArray casts a to dt. Strings parse to numbers, booleans, dates and
// timestamps with null for values that do not parse (as Spark's non-ANSI
// casts); every other cast is Arrow's safe cast.
func castArray(ec *EvalContext, a arrow.Array, dt arrow.DataType) (arrow.Array, error) {
	if isNull(a.DataType()) {
		return array.MakeArrayOfNull(ec.Alloc, dt, a.Len()), nil
	}
	if isString(a.DataType()) && !isString(dt) {
		return parseStrings(ec.Alloc, a, dt)
	}
	if a.DataType().ID() == arrow.TIMESTAMP && dt.ID() == arrow.TIMESTAMP {
		return castTimestamp(ec, a, dt.(*arrow.TimestampType))
	}
	if isString(dt) && a.DataType().ID() == arrow.TIMESTAMP {
		return formatTimestamps(ec.Alloc, a, "2006-01-02 15:04:05.999999")
	}
	if isString(dt) && (IsNumeric(a.DataType()) || a.DataType().ID() == arrow.BOOL) {
		// Arrow's number-to-string cast leaks a buffer (arrow-go
		// v18.8.0); formatting here also gives Go's shortest floats.
		return formatValues(ec.Alloc, a), nil
	}
	opts := compute.SafeCastOptions(dt)
	if IsNumeric(a.DataType()) && IsNumeric(dt) {
		// Numeric casts truncate and wrap, as Spark's non-ANSI casts.
		opts = compute.UnsafeCastOptions(dt)
	}
	out, err := compute.CastArray(ec.computeCtx(), a, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot cast %s to %s: %v", ErrType, a.DataType(), dt, err)
	}
	return out, nil
}

func castTimestamp(ec *EvalContext, a arrow.Array, to *arrow.TimestampType) (arrow.Array, error) {
	from := a.DataType().(*arrow.TimestampType)
	src := Values[int64](a)
	buf, dst := newFixedBuf[int64](ec.Alloc, len(src))
	fm, tm := unitNanos(from.Unit), unitNanos(to.Unit)
	for i, v := range src {
		switch {
		case fm == tm:
			dst[i] = v
		case fm > tm:
			dst[i] = v * (fm / tm)
		default:
			dst[i] = floorDiv(v, tm/fm)
		}
	}
	valid, nulls := validityOf(ec.Alloc, len(src), a)
	return makeArray(to, len(src), valid, buf, nulls), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// timeOf returns the instant v units of u after the epoch (UTC). Unlike
// time.Unix(0, v*nanosPerUnit) it covers every int64 value of every
// unit, not only the years 1678 to 2261.
func timeOf(v int64, u arrow.TimeUnit) time.Time {
	un := unitNanos(u)
	perSec := int64(1e9) / un
	sec := floorDiv(v, perSec)
	return time.Unix(sec, (v-sec*perSec)*un).UTC()
}

// unitsOf returns t as a count of units u since the epoch, rounded down
// (t.UnixNano()/n would overflow before 1678 and after 2261).
func unitsOf(t time.Time, u arrow.TimeUnit) int64 {
	un := unitNanos(u)
	return t.Unix()*(int64(1e9)/un) + int64(t.Nanosecond())/un
}

func unitNanos(u arrow.TimeUnit) int64 {
	switch u {
	case arrow.Second:
		return 1e9
	case arrow.Millisecond:
		return 1e6
	case arrow.Microsecond:
		return 1e3
	}
	return 1
}

// parseStrings casts a string array to dt, with null for unparsable
// values.
func parseStrings(alloc memory.Allocator, a arrow.Array, dt arrow.DataType) (arrow.Array, error) {
	s := a.(interface{ Value(int) string })
	bld := array.NewBuilder(alloc, dt)
	defer bld.Release()
	bld.Reserve(a.Len())
	var err error
	switch b := bld.(type) {
	case *array.Int64Builder:
		parseLoop(a, s, b.Append, b.AppendNull, func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) })
	case *array.Int32Builder:
		parseLoop(a, s, b.Append, b.AppendNull, func(v string) (int32, error) { x, err := strconv.ParseInt(v, 10, 32); return int32(x), err })
	case *array.Int16Builder:
		parseLoop(a, s, b.Append, b.AppendNull, func(v string) (int16, error) { x, err := strconv.ParseInt(v, 10, 16); return int16(x), err })
	case *array.Int8Builder:
		parseLoop(a, s, b.Append, b.AppendNull, func(v string) (int8, error) { x, err := strconv.ParseInt(v, 10, 8); return int8(x), err })
	case *array.Float64Builder:
		parseLoop(a, s, b.Append, b.AppendNull, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) })
	case *array.Float32Builder:
		parseLoop(a, s, b.Append, b.AppendNull, func(v string) (float32, error) { x, err := strconv.ParseFloat(v, 32); return float32(x), err })
	case *array.BooleanBuilder:
		parseLoop(a, s, b.Append, b.AppendNull, parseBool)
	case *array.TimestampBuilder:
		tu := dt.(*arrow.TimestampType).Unit
		parseLoop(a, s, b.Append, b.AppendNull, func(v string) (arrow.Timestamp, error) {
			t, err := parseTime(v, "")
			return arrow.Timestamp(unitsOf(t, tu)), err
		})
	case *array.Date32Builder:
		parseLoop(a, s, b.Append, b.AppendNull, func(v string) (arrow.Date32, error) {
			t, err := parseTime(v, "")
			return arrow.Date32FromTime(t), err
		})
	default:
		err = fmt.Errorf("%w: cannot cast %s to %s", ErrType, a.DataType(), dt)
	}
	if err != nil {
		return nil, err
	}
	return bld.NewArray(), nil
}

func parseLoop[T any](a arrow.Array, s interface{ Value(int) string }, appendV func(T), appendNull func(), parse func(string) (T, error)) {
	for i := range a.Len() {
		if !isValid(a, i) {
			appendNull()
			continue
		}
		v, err := parse(strings.TrimSpace(s.Value(i)))
		if err != nil {
			appendNull()
			continue
		}
		appendV(v)
	}
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "t", "yes", "y", "1":
		return true, nil
	case "false", "f", "no", "n", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", v)
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime parses s with layout (a Go layout) or, when layout is empty,
// with the usual ISO forms. Times without a zone are UTC.
func parseTime(s, layout string) (time.Time, error) {
	if layout != "" {
		return time.ParseInLocation(layout, s, time.UTC)
	}
	var err error
	for _, l := range timeLayouts {
		var t time.Time
		if t, err = time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// CompareType returns the type two values of types l and r are compared
// in (and joined on), and whether they can be compared at all.
func CompareType(l, r arrow.DataType) (arrow.DataType, bool) { return compareType(l, r) }

// CastArray casts a to dt with the expression layer's rules (strings that
// do not parse become null). The result must be released.
func CastArray(ec *EvalContext, a arrow.Array, dt arrow.DataType) (arrow.Array, error) {
	return castTo(ec, a, dt)
}

// formatValues renders numbers or booleans as strings.
func formatValues(alloc memory.Allocator, a arrow.Array) arrow.Array {
	bld := array.NewStringBuilder(alloc)
	defer bld.Release()
	bld.Reserve(a.Len())
	for i := range a.Len() {
		if !isValid(a, i) {
			bld.AppendNull()
			continue
		}
		switch x := a.(type) {
		case *array.Float64:
			bld.Append(strconv.FormatFloat(x.Value(i), 'g', -1, 64))
		case *array.Float32:
			bld.Append(strconv.FormatFloat(float64(x.Value(i)), 'g', -1, 32))
		default:
			bld.Append(a.ValueStr(i))
		}
	}
	return bld.NewArray()
}
