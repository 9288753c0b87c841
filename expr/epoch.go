package expr

import (
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ErrOutOfRange is wrapped by errors of values that do not fit the result
// type of a conversion that does not wrap around: timestamp_seconds,
// timestamp_millis and Spark SQL's CAST of a number to a timestamp give
// it for a count of seconds or milliseconds beyond int64 microseconds
// (about 292,000 years either side of 1970).
var ErrOutOfRange = errors.New("expr: value out of range")

// Conversions between timestamps and counts of seconds, milliseconds or
// microseconds since the Unix epoch, named as Spark's functions.

// TimestampSeconds returns timestamp_seconds(e): the timestamp e seconds
// after 1970-01-01T00:00:00Z (before it when negative), as a UTC
// microsecond timestamp. e is an integer or a float; a float's fraction
// is kept down to the microsecond (truncated toward zero, as Spark), and
// NaN and ±Inf give null. Null gives null. A value beyond the range of
// int64 microseconds fails the evaluation with an error wrapping
// [ErrOutOfRange] (as Spark's function, which throws), rather than
// wrapping around.
func TimestampSeconds(e Expr) Expr { return call("timestamp_seconds", fnTimestampSeconds, []Expr{e}) }

// TimestampMillis returns timestamp_millis(e): the timestamp e
// milliseconds after the epoch, for an integer e; otherwise as
// [TimestampSeconds].
func TimestampMillis(e Expr) Expr { return call("timestamp_millis", fnTimestampMillis, []Expr{e}) }

// TimestampMicros returns timestamp_micros(e): the timestamp e
// microseconds after the epoch, for an integer e (never out of range);
// otherwise as [TimestampSeconds].
func TimestampMicros(e Expr) Expr { return call("timestamp_micros", fnTimestampMicros, []Expr{e}) }

// UnixSeconds returns unix_seconds(e): the whole seconds from the epoch
// to the timestamp e (int64), rounded down, so that 1969-12-31T23:59:59.5Z
// is -1. e may also be a date or a string (parsed as a timestamp, null
// when it does not parse). Null gives null.
func UnixSeconds(e Expr) Expr { return call("unix_seconds", fnUnixSeconds, []Expr{e}) }

// UnixMillis returns unix_millis(e): the whole milliseconds from the
// epoch to the timestamp e, rounded down; otherwise as [UnixSeconds].
func UnixMillis(e Expr) Expr { return call("unix_millis", fnUnixMillis, []Expr{e}) }

// UnixMicros returns unix_micros(e): the microseconds from the epoch to
// the timestamp e; otherwise as [UnixSeconds].
func UnixMicros(e Expr) Expr { return call("unix_micros", fnUnixMicros, []Expr{e}) }

var (
	fnTimestampSeconds = epochToTimestamp(1e6, true)
	fnTimestampMillis  = epochToTimestamp(1e3, false)
	fnTimestampMicros  = epochToTimestamp(1, false)
	fnUnixSeconds      = timestampToEpoch(1e6)
	fnUnixMillis       = timestampToEpoch(1e3)
	fnUnixMicros       = timestampToEpoch(1)
)

// epochToTimestamp is timestamp_seconds/millis/micros: per is the number
// of microseconds in one unit of the argument; floats are accepted when
// floats is set.
func epochToTimestamp(per int64, floats bool) *function {
	want := "an integer"
	if floats {
		want = "a number"
	}
	resolve := func(c *Call, ts []Type) (Type, error) {
		t := ts[0]
		ok := IsInteger(t.DataType) || floats && IsFloat(t.DataType)
		if err := argKind(c, 0, t, ok, want); err != nil {
			return Type{}, err
		}
		// NaN and ±Inf become null.
		return Type{TimestampType, t.Nullable || IsFloat(t.DataType) || isNull(t.DataType)}, nil
	}
	eval := func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		a := args[0]
		switch {
		case isNull(a.DataType()):
			return array.MakeArrayOfNull(ec.Alloc, TimestampType, n), nil
		case IsFloat(a.DataType()):
			return floatsToTimestamp(ec, c, a, per)
		}
		if a.DataType().ID() == arrow.UINT64 {
			// The cast to int64 below would wrap these around.
			for i, v := range Values[uint64](a) {
				if v > math.MaxInt64 && isValid(a, i) {
					return nil, outOfRange(c, fmt.Sprint(v))
				}
			}
		}
		ia, err := castTo(ec, a, int64Type)
		if err != nil {
			return nil, err
		}
		defer ia.Release()
		lo, hi := int64(math.MinInt64)/per, int64(math.MaxInt64)/per
		valid, nulls := validityOf(ec.Alloc, n, ia)
		buf, out := newFixedBuf[int64](ec.Alloc, n)
		for i, v := range Values[int64](ia) {
			if (v < lo || v > hi) && isValid(ia, i) {
				if valid != nil {
					valid.Release()
				}
				buf.Release()
				return nil, outOfRange(c, fmt.Sprint(v))
			}
			out[i] = v * per
		}
		return makeArray(TimestampType, n, valid, buf, nulls), nil
	}
	return &function{args: 1, resolve: resolve, eval: eval}
}

// floatsToTimestamp converts seconds (or another unit of per
// microseconds) held in floats to microseconds, truncating toward zero.
func floatsToTimestamp(ec *EvalContext, c *Call, a arrow.Array, per int64) (arrow.Array, error) {
	fa, err := castTo(ec, a, float64Type)
	if err != nil {
		return nil, err
	}
	defer fa.Release()
	bld := array.NewTimestampBuilder(ec.Alloc, TimestampType)
	defer bld.Release()
	bld.Reserve(fa.Len())
	for i, v := range Values[float64](fa) {
		if !isValid(fa, i) || math.IsNaN(v) || math.IsInf(v, 0) {
			bld.AppendNull()
			continue
		}
		us := v * float64(per)
		// float64(math.MaxInt64) is 2^63, itself out of range; -2^63 is not.
		if us >= math.MaxInt64 || us < math.MinInt64 {
			return nil, outOfRange(c, fmt.Sprint(v))
		}
		bld.Append(arrow.Timestamp(int64(us)))
	}
	return bld.NewArray(), nil
}

func outOfRange(c *Call, v string) error {
	return fmt.Errorf("%w: %s(%s): the result is beyond the timestamp range (int64 microseconds, about 292,000 years either side of 1970)", ErrOutOfRange, c.Name, v)
}

// timestampToEpoch is unix_seconds/millis/micros: per is the number of
// microseconds in one unit of the result.
func timestampToEpoch(per int64) *function {
	return &function{args: 1, resolve: timestampIn(int64Type), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
		ts, err := timestamps(ec, args[0])
		if err != nil {
			return nil, err
		}
		defer ts.Release()
		valid, nulls := validityOf(ec.Alloc, n, ts)
		buf, out := newFixedBuf[int64](ec.Alloc, n)
		for i, v := range Values[int64](ts) {
			out[i] = floorDiv(v, per)
		}
		return makeArray(int64Type, n, valid, buf, nulls), nil
	}}
}

// SparkCast returns CAST(e AS to) with the meaning Spark SQL gives it
// where that differs from [NewCast]'s (Arrow's cast, which reads a number
// as a count of the timestamp type's unit): a number cast to a timestamp
// is seconds since the epoch ([TimestampSeconds], keeping a float's
// fraction); a timestamp cast to an integer type is its whole seconds,
// rounded down ([UnixSeconds], then wrapped to the narrower type as
// numeric casts are); a timestamp cast to a float type is its seconds
// with the fraction (unix_micros / 1000000). Every other cast is
// NewCast's. Package sql's CAST is this.
//
// The choice is made when the expression is resolved, from e's type, and
// the expression prints as CAST(e AS to); [SparkCastFrom] makes the
// chosen expression itself when e's type is known.
func SparkCast(e Expr, to arrow.DataType) Expr { return &sparkCast{Child: e, To: to} }

// SparkCastFrom returns the expression [SparkCast] stands for when e has
// type from: timestamp_seconds(e), unix_seconds(e), (unix_micros(e) /
// 1000000) or CAST(e AS to), possibly within a further cast to the exact
// type.
func SparkCastFrom(e Expr, from, to arrow.DataType) Expr {
	if from == nil || to == nil {
		return NewCast(e, to)
	}
	switch {
	case IsNumeric(from) && to.ID() == arrow.TIMESTAMP:
		return castIfNot(TimestampSeconds(e), TimestampType, to)
	case from.ID() == arrow.TIMESTAMP && IsInteger(to):
		return castIfNot(UnixSeconds(e), int64Type, to)
	case from.ID() == arrow.TIMESTAMP && IsFloat(to):
		return castIfNot(Div(UnixMicros(e), Lit(int64(1e6))), float64Type, to)
	}
	return NewCast(e, to)
}

func castIfNot(e Expr, is, to arrow.DataType) Expr {
	if arrow.TypeEqual(is, to) {
		return e
	}
	return NewCast(e, to)
}

// sparkCast is SparkCast's expression: SparkCastFrom of its child's type,
// chosen at each Resolve and Eval.
type sparkCast struct {
	Child Expr
	To    arrow.DataType
}

func (c *sparkCast) String() string { return fmt.Sprintf("CAST(%s AS %s)", c.Child, c.To) }

func (c *sparkCast) Children() []Expr { return []Expr{c.Child} }

func (c *sparkCast) WithChildren(k []Expr) (Expr, error) {
	if err := wantChildren("CAST", k, 1); err != nil {
		return nil, err
	}
	return &sparkCast{k[0], c.To}, nil
}

func (c *sparkCast) chosen(s *arrow.Schema) (Expr, error) {
	t, err := resolveChild(c.Child, s)
	if err != nil {
		return nil, err
	}
	return SparkCastFrom(c.Child, t.DataType, c.To), nil
}

func (c *sparkCast) Resolve(s *arrow.Schema) (Type, error) {
	e, err := c.chosen(s)
	if err != nil {
		return Type{}, err
	}
	return e.Resolve(s)
}

func (c *sparkCast) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	e, err := c.chosen(b.Schema())
	if err != nil {
		return nil, err
	}
	return e.Eval(ec, b)
}
