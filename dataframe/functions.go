package dataframe

import (
	"time"

	"github.com/spate-io/spate/expr"
)

func fn(cs []Column, f func(es []expr.Expr) expr.Expr) Column {
	if err := firstErr(cs...); err != nil {
		return Column{err: err}
	}
	return Column{e: f(exprsOf(cs))}
}

// When starts a CASE expression: the value of the first branch whose
// condition is true; add branches with Column.When and the default with
// Column.Otherwise (null without one).
func When(cond Column, value any) Column {
	v := operand(value)
	return fn([]Column{cond, v}, func(es []expr.Expr) expr.Expr { return expr.When(es[0], es[1]) })
}

// Coalesce returns the first non-null argument.
func Coalesce(cs ...Column) Column {
	return fn(cs, func(es []expr.Expr) expr.Expr { return expr.NewCoalesce(es...) })
}

// Lower returns c in lower case.
func Lower(c Column) Column { return unary(c, expr.Lower) }

// Upper returns c in upper case.
func Upper(c Column) Column { return unary(c, expr.Upper) }

// Trim removes leading and trailing white space.
func Trim(c Column) Column { return unary(c, expr.Trim) }

// LTrim removes leading white space.
func LTrim(c Column) Column { return unary(c, expr.LTrim) }

// RTrim removes trailing white space.
func RTrim(c Column) Column { return unary(c, expr.RTrim) }

// Length returns the number of characters of c.
func Length(c Column) Column { return unary(c, expr.Length) }

// Substring returns length characters of c from the 1-based position pos.
func Substring(c Column, pos, length int) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.Substring(e, pos, length) })
}

// Concat joins strings; null when any is null.
func Concat(cs ...Column) Column {
	return fn(cs, func(es []expr.Expr) expr.Expr { return expr.Concat(es...) })
}

// Split splits c around matches of the regular expression pattern.
func Split(c Column, pattern string) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.Split(e, pattern) })
}

// RegexpExtract returns group idx of the first match of pattern in c.
func RegexpExtract(c Column, pattern string, idx int) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.RegexpExtract(e, pattern, idx) })
}

// RegexpReplace replaces every match of pattern in c by repl ($1 refers
// to a group).
func RegexpReplace(c Column, pattern, repl string) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.RegexpReplace(e, pattern, repl) })
}

// ToTimestamp parses strings as timestamps, with an optional Spark date
// pattern; null when a string does not parse.
func ToTimestamp(c Column, format ...string) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.ToTimestamp(e, format...) })
}

// FromUnixtime renders seconds since the epoch as a string (default
// pattern yyyy-MM-dd HH:mm:ss, UTC).
func FromUnixtime(c Column, format ...string) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.FromUnixtime(e, format...) })
}

// UnixTimestamp returns the seconds since the epoch of a timestamp.
func UnixTimestamp(c Column) Column { return unary(c, expr.UnixTimestamp) }

// TimestampSeconds returns the timestamp c seconds after 1970-01-01
// 00:00:00 UTC (before it when negative), as Spark's timestamp_seconds: c
// is an integer or a float, whose fraction is kept to the microsecond
// (NaN and infinities give null). A result beyond the timestamp range
// (about 292,000 years either side of 1970) fails the query with an error
// wrapping expr.ErrOutOfRange. Column.Cast to a timestamp type instead
// counts the type's unit (microseconds for TimestampType), as Arrow does.
func TimestampSeconds(c Column) Column { return unary(c, expr.TimestampSeconds) }

// TimestampMillis returns the timestamp c milliseconds (an integer) after
// the epoch, as Spark's timestamp_millis; see TimestampSeconds.
func TimestampMillis(c Column) Column { return unary(c, expr.TimestampMillis) }

// TimestampMicros returns the timestamp c microseconds (an integer) after
// the epoch, as Spark's timestamp_micros.
func TimestampMicros(c Column) Column { return unary(c, expr.TimestampMicros) }

// UnixSeconds returns the whole seconds (long) from the epoch to the
// timestamp c, rounded down (-1 for half a second before it), as Spark's
// unix_seconds.
func UnixSeconds(c Column) Column { return unary(c, expr.UnixSeconds) }

// UnixMillis returns the whole milliseconds from the epoch to the
// timestamp c, rounded down, as Spark's unix_millis.
func UnixMillis(c Column) Column { return unary(c, expr.UnixMillis) }

// UnixMicros returns the microseconds from the epoch to the timestamp c,
// as Spark's unix_micros.
func UnixMicros(c Column) Column { return unary(c, expr.UnixMicros) }

// TimestampAdd shifts a timestamp by d (earlier when d is negative), as
// SQL's ts + INTERVAL: the time bounds of a stream-stream join are
// written with it.
func TimestampAdd(c Column, d time.Duration) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.TimestampAdd(e, d) })
}

// DateTrunc truncates a timestamp to unit: year, quarter, month, week,
// day, hour, minute or second.
func DateTrunc(unit string, c Column) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.DateTrunc(unit, e) })
}

// Year returns the year of a timestamp (UTC).
func Year(c Column) Column { return unary(c, expr.Year) }

// Month returns the month of a timestamp, 1 to 12.
func Month(c Column) Column { return unary(c, expr.Month) }

// DayOfMonth returns the day of the month of a timestamp.
func DayOfMonth(c Column) Column { return unary(c, expr.Day) }

// Hour returns the hour of a timestamp.
func Hour(c Column) Column { return unary(c, expr.Hour) }

// Minute returns the minute of a timestamp.
func Minute(c Column) Column { return unary(c, expr.Minute) }

// CurrentTimestamp is the query's start time from the session's clock.
func CurrentTimestamp() Column { return Column{e: expr.CurrentTimestamp()} }

// Abs returns |c|.
func Abs(c Column) Column { return unary(c, expr.Abs) }

// Round rounds c to scale decimal places, half away from zero.
func Round(c Column, scale int) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.Round(e, scale) })
}

// Floor returns the largest integer not above c (int64).
func Floor(c Column) Column { return unary(c, expr.Floor) }

// Ceil returns the smallest integer not below c (int64).
func Ceil(c Column) Column { return unary(c, expr.Ceil) }

// Sqrt returns the square root of c.
func Sqrt(c Column) Column { return unary(c, expr.Sqrt) }

// Pow returns x to the power y.
func Pow(x Column, y any) Column { return binary(x, y, expr.Pow) }

func agg(c Column, f func(expr.Expr) *expr.AggExpr) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return f(e) })
}

// Count counts the non-null values of c.
func Count(c Column) Column { return agg(c, expr.Count) }

// CountAll counts rows: count(*).
func CountAll() Column { return Column{e: expr.Count(nil)} }

// CountDistinct counts the distinct non-null values of c.
func CountDistinct(c Column) Column { return agg(c, expr.CountDistinct) }

// Sum adds up c (int64 for integers, wrapping on overflow; float64 for
// floats); null for a group without values.
func Sum(c Column) Column { return agg(c, expr.Sum) }

// Avg is the mean of c as float64.
func Avg(c Column) Column { return agg(c, expr.Avg) }

// Min is the smallest value of c.
func Min(c Column) Column { return agg(c, expr.Min) }

// Max is the largest value of c.
func Max(c Column) Column { return agg(c, expr.Max) }

// First is c of the group's first row.
func First(c Column) Column { return agg(c, expr.First) }

// Last is c of the group's last row.
func Last(c Column) Column { return agg(c, expr.Last) }

// CollectList gathers the non-null values of c into a list.
func CollectList(c Column) Column { return agg(c, expr.CollectList) }
