package expr

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// WindowBound returns a bound of an event-time window containing the
// timestamp e: the start of the window that starts back slides before the
// latest window start at or before e (windows start at offset + k·slide
// from the epoch), plus add (0 for the start, the window's length for
// its end). Tumbling windows use slide = length and back 0; a row
// belongs to the sliding windows back = 0, 1, ... while e is before their
// end. Streaming aggregations group by these bounds (see
// dataframe.Window).
func WindowBound(e Expr, slide, offset time.Duration, back int, add time.Duration) Expr {
	if slide <= 0 {
		return badCall("window", []Expr{e}, fmt.Errorf("%w: window: the slide must be positive, got %v", ErrInvalid, slide), slide, offset, back, add)
	}
	return call("window", fnWindowBound, []Expr{e}, slide, offset, back, add)
}

var fnWindowBound = &function{args: 1, resolve: timestampIn(TimestampType), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
	ts, err := timestamps(ec, args[0])
	if err != nil {
		return nil, err
	}
	defer ts.Release()
	slide := c.Params[0].(time.Duration).Microseconds()
	offset := c.Params[1].(time.Duration).Microseconds()
	back := int64(c.Params[2].(int))
	add := c.Params[3].(time.Duration).Microseconds()
	valid, nulls := validityOf(ec.Alloc, n, ts)
	buf, out := newFixedBuf[int64](ec.Alloc, n)
	// Rows come mostly in time order, so most fall in the window of the
	// row before: reuse its bound rather than divide again. lo and hi are
	// the start and end of the last row's window (hi < lo when the end
	// overflows: then every row divides).
	lo, hi, bound := int64(1), int64(0), int64(0)
	for i, v := range Values[int64](ts) {
		if v < lo || v >= hi {
			lo = floorDiv(v-offset, slide)*slide + offset
			hi = lo + slide
			bound = lo - back*slide + add
		}
		out[i] = bound
	}
	return makeArray(TimestampType, n, valid, buf, nulls), nil
}}

// TimestampAdd returns the timestamp e shifted by d (negative: earlier).
// Session windows use it for the end of a row's own session, ts + gap.
func TimestampAdd(e Expr, d time.Duration) Expr {
	return call("timestamp_add", fnTimestampAdd, []Expr{e}, d)
}

var fnTimestampAdd = &function{args: 1, resolve: timestampIn(TimestampType), eval: func(ec *EvalContext, c *Call, args []arrow.Array, n int) (arrow.Array, error) {
	ts, err := timestamps(ec, args[0])
	if err != nil {
		return nil, err
	}
	defer ts.Release()
	d := c.Params[0].(time.Duration).Microseconds()
	valid, nulls := validityOf(ec.Alloc, n, ts)
	buf, out := newFixedBuf[int64](ec.Alloc, n)
	for i, v := range Values[int64](ts) {
		out[i] = v + d
	}
	return makeArray(TimestampType, n, valid, buf, nulls), nil
}}
