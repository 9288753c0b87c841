// Package expr holds spate's expressions over Apache Arrow record
// batches: column references, literals, operators, scalar functions and
// aggregate function descriptors, evaluated a whole batch at a time.
//
// # Model
//
// An [Expr] is an immutable tree. Resolve checks it against an input
// schema and returns its [Type] (Arrow data type and nullability); errors
// name the offending expression, and an unknown column gives a
// [*ColumnNotFoundError] listing the available columns. Eval computes one
// value per row of a batch and returns a new array that the caller
// releases; it allocates from [EvalContext.Alloc] and never boxes values
// per row on the hot paths (arithmetic, comparisons, boolean logic,
// IS NULL and casts run as typed loops over the arrays' value slices or as
// Arrow compute kernels; literals are kept as scalars, not materialised).
// Children and WithChildren let optimizer rules rewrite trees
// ([Transform], [Walk]).
//
// # Semantics
//
// SQL three-valued logic throughout: comparisons and arithmetic with a
// null operand are null; false AND null is false, true OR null is true;
// NOT null is null; IN is null when the value is null or when nothing
// matches and the list holds a null. Integer arithmetic computes in int64
// and wraps around on overflow (two's complement), like Spark without ANSI
// mode: max int64 + 1 is min int64, and abs(min int64) is min int64.
// Division always gives float64; division and modulo by zero give null (as
// Spark). A float on either side makes arithmetic float64. Casts from
// strings that do not parse give null; numeric casts truncate and wrap;
// impossible casts are type errors. [NewCast] is Arrow's cast otherwise:
// between numbers and timestamps it counts the timestamp type's unit
// (microseconds), where Spark SQL counts seconds; [SparkCast] is Spark's
// (package sql's CAST). Timestamps are UTC microseconds
// ([TimestampType]); current_timestamp() is [EvalContext.Now], one instant
// per query taken from a clock, never time.Now.
//
// # Functions
//
//	group        functions
//	operators    + - * / %  = != < <= > >=  AND OR NOT  IS NULL, IS NOT NULL
//	conditional  CASE WHEN ... (When/Otherwise), coalesce, IN, BETWEEN, LIKE, CAST
//	string       lower, upper, trim, ltrim, rtrim, substring, concat, length, split,
//	             regexp_extract, regexp_replace
//	time         to_timestamp, from_unixtime, unix_timestamp, date_trunc, year, month,
//	             day, hour, minute, current_timestamp
//	epoch        timestamp_seconds, timestamp_millis, timestamp_micros, unix_seconds,
//	             unix_millis, unix_micros
//	math         abs, round (half away from zero), floor, ceil, sqrt, pow
//	aggregate    count, count(*), count_distinct, sum, avg, min, max, first, last,
//	             collect_list
//
// # Aggregates
//
// An [AggExpr] describes an aggregate call; it cannot be evaluated row by
// row. [NewAccumulator] returns an [Accumulator] that runs it for many
// groups at once, in two phases: partial accumulators Update from input
// rows (a dense group id per row) and emit their State (one row per group,
// Arrow arrays); final accumulators Merge states from many partials and
// produce the Final values. sum of integers is int64 (wrapping), of floats
// float64; avg is float64; a group without values has a null sum, avg,
// min and max, and count 0; first and last keep the (possibly null) value
// of the group's first or last row in input order.
package expr
