package expr

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// epochBatch has 5 rows of numbers and timestamps around the epoch:
//
//	n   int64   [1700000000, -1, null, 0, 1700000000123]
//	n32 int32   [86400, -86400, 7, null, 0]
//	f   float64 [1.5, -0.25, null, NaN, 1700000000.123456]
//	f32 float32 [0.5, -1, null, +Inf, 2]
//	u   uint64  [1, null, 0, 2, 3]
//	t   timestamp[us] [2023-11-14T22:13:20.5Z, 1969-12-31T23:59:59.5Z,
//	                   null, 1970-01-01T00:00:00Z, 1653-02-10T06:13:20Z]
//	tms timestamp[ms] [1.5 s, -1.5 s, null, 0, 1 ms]
//	s   string  ["1970-01-01 00:00:01", "1969-12-31 23:59:59.999", null, "bad", "2024-01-01"]
func epochBatch(t *testing.T, alloc memory.Allocator) arrow.RecordBatch {
	t.Helper()
	msType := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	s := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "n32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "t", Type: TimestampType, Nullable: true},
		{Name: "tms", Type: msType, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(alloc, s)
	defer b.Release()
	ok := []bool{true, true, false, true, true}
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1700000000, -1, 0, 0, 1700000000123}, ok)
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{86400, -86400, 7, 0, 0}, []bool{true, true, true, false, true})
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1.5, -0.25, 0, math.NaN(), 1700000000.123456}, ok)
	b.Field(3).(*array.Float32Builder).AppendValues([]float32{0.5, -1, 0, float32(math.Inf(1)), 2}, ok)
	b.Field(4).(*array.Uint64Builder).AppendValues([]uint64{1, 0, 0, 2, 3}, []bool{true, false, true, true, true})
	b.Field(5).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1700000000500000, -500000, 0, 0, -10000000000e6}, ok)
	b.Field(6).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1500, -1500, 0, 0, 1}, ok)
	b.Field(7).(*array.StringBuilder).AppendValues([]string{"1970-01-01 00:00:01", "1969-12-31 23:59:59.999", "", "bad", "2024-01-01"}, ok)
	return b.NewRecordBatch()
}

// renderEpoch renders timestamps in RFC 3339 with their fraction, other
// values as Arrow does.
func renderEpoch(a arrow.Array) string {
	parts := make([]string, a.Len())
	for i := range parts {
		if a.IsNull(i) || a.DataType().ID() == arrow.NULL {
			parts[i] = "null"
			continue
		}
		if v, ok := ScalarAt(a, i); ok {
			if tm, ok := v.(time.Time); ok {
				parts[i] = tm.Format(time.RFC3339Nano)
				continue
			}
		}
		parts[i] = a.ValueStr(i)
	}
	return strings.Join(parts, " ")
}

func TestEpochConversions(t *testing.T) {
	n, n32, f, f32, u, ts, tms, s := Col("n"), Col("n32"), Col("f"), Col("f32"), Col("u"), Col("t"), Col("tms"), Col("s")
	tsType := "timestamp[us, tz=UTC]"
	tests := []struct {
		name     string
		e        Expr
		typ      string
		nullable bool
		want     string
	}{
		{"timestamp_seconds int64", TimestampSeconds(n), tsType, true,
			"2023-11-14T22:13:20Z 1969-12-31T23:59:59Z null 1970-01-01T00:00:00Z 55840-11-08T22:15:23Z"},
		{"timestamp_seconds int32", TimestampSeconds(n32), tsType, true,
			"1970-01-02T00:00:00Z 1969-12-31T00:00:00Z 1970-01-01T00:00:07Z null 1970-01-01T00:00:00Z"},
		{"timestamp_seconds float keeps the fraction", TimestampSeconds(f), tsType, true,
			"1970-01-01T00:00:01.5Z 1969-12-31T23:59:59.75Z null null 2023-11-14T22:13:20.123456Z"},
		{"timestamp_seconds float32, +Inf is null", TimestampSeconds(f32), tsType, true,
			"1970-01-01T00:00:00.5Z 1969-12-31T23:59:59Z null null 1970-01-01T00:00:02Z"},
		{"timestamp_seconds uint64", TimestampSeconds(u), tsType, true,
			"1970-01-01T00:00:01Z null 1970-01-01T00:00:00Z 1970-01-01T00:00:02Z 1970-01-01T00:00:03Z"},
		{"timestamp_seconds literal", TimestampSeconds(Lit(1700000000)), tsType, false,
			"2023-11-14T22:13:20Z 2023-11-14T22:13:20Z 2023-11-14T22:13:20Z 2023-11-14T22:13:20Z 2023-11-14T22:13:20Z"},
		{"timestamp_seconds null", TimestampSeconds(Lit(nil)), tsType, true, "null null null null null"},
		{"timestamp_seconds before 1678", TimestampSeconds(Lit(-10000000000)), tsType, false,
			"1653-02-10T06:13:20Z 1653-02-10T06:13:20Z 1653-02-10T06:13:20Z 1653-02-10T06:13:20Z 1653-02-10T06:13:20Z"},
		{"timestamp_millis", TimestampMillis(n), tsType, true,
			"1970-01-20T16:13:20Z 1969-12-31T23:59:59.999Z null 1970-01-01T00:00:00Z 2023-11-14T22:13:20.123Z"},
		{"timestamp_micros", TimestampMicros(n), tsType, true,
			"1970-01-01T00:28:20Z 1969-12-31T23:59:59.999999Z null 1970-01-01T00:00:00Z 1970-01-20T16:13:20.000123Z"},
		{"unix_seconds", UnixSeconds(ts), "int64", true, "1700000000 -1 null 0 -10000000000"},
		{"unix_millis", UnixMillis(ts), "int64", true, "1700000000500 -500 null 0 -10000000000000"},
		{"unix_micros", UnixMicros(ts), "int64", true, "1700000000500000 -500000 null 0 -10000000000000000"},
		{"unix_seconds of ms timestamps", UnixSeconds(tms), "int64", true, "1 -2 null 0 0"},
		{"unix_millis of ms timestamps", UnixMillis(tms), "int64", true, "1500 -1500 null 0 1"},
		{"unix_seconds of strings", UnixSeconds(s), "int64", true, "1 -1 null null 1704067200"},
		{"unix_millis of strings", UnixMillis(s), "int64", true, "1000 -1 null null 1704067200000"},
		{"unix_seconds null", UnixSeconds(Lit(nil)), "int64", true, "null null null null null"},
		{"round trip seconds", UnixSeconds(TimestampSeconds(n)), "int64", true, "1700000000 -1 null 0 1700000000123"},
		{"round trip micros", TimestampMicros(UnixMicros(ts)), tsType, true,
			"2023-11-14T22:13:20.5Z 1969-12-31T23:59:59.5Z null 1970-01-01T00:00:00Z 1653-02-10T06:13:20Z"},

		{"spark cast int to timestamp", SparkCast(n32, TimestampType), tsType, true,
			"1970-01-02T00:00:00Z 1969-12-31T00:00:00Z 1970-01-01T00:00:07Z null 1970-01-01T00:00:00Z"},
		{"spark cast float to timestamp", SparkCast(f, TimestampType), tsType, true,
			"1970-01-01T00:00:01.5Z 1969-12-31T23:59:59.75Z null null 2023-11-14T22:13:20.123456Z"},
		{"spark cast to ms timestamp", SparkCast(f, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}), "timestamp[ms, tz=UTC]", true,
			"1970-01-01T00:00:01.5Z 1969-12-31T23:59:59.75Z null null 2023-11-14T22:13:20.123Z"},
		{"spark cast timestamp to bigint floors", SparkCast(ts, arrow.PrimitiveTypes.Int64), "int64", true, "1700000000 -1 null 0 -10000000000"},
		{"spark cast timestamp to int wraps", SparkCast(ts, arrow.PrimitiveTypes.Int32), "int32", true, "1700000000 -1 null 0 -1410065408"},
		{"spark cast timestamp to smallint", SparkCast(tms, arrow.PrimitiveTypes.Int16), "int16", true, "1 -2 null 0 0"},
		{"spark cast timestamp to double", SparkCast(ts, arrow.PrimitiveTypes.Float64), "float64", true, "1.7000000005e+09 -0.5 null 0 -1e+10"},
		{"spark cast timestamp to real", SparkCast(tms, arrow.PrimitiveTypes.Float32), "float32", true, "1.5 -1.5 null 0 0.001"},
		{"spark cast string to timestamp parses", SparkCast(s, TimestampType), tsType, true,
			"1970-01-01T00:00:01Z 1969-12-31T23:59:59.999Z null null 2024-01-01T00:00:00Z"},
		{"spark cast timestamp to string", SparkCast(tms, arrow.BinaryTypes.String), "utf8", true,
			"1970-01-01 00:00:01.5 1969-12-31 23:59:58.5 null 1970-01-01 00:00:00 1970-01-01 00:00:00.001"},
		{"spark cast int to string", SparkCast(n32, arrow.BinaryTypes.String), "utf8", true, "86400 -86400 7 null 0"},
		{"spark cast null to timestamp", SparkCast(Lit(nil), TimestampType), tsType, true, "null null null null null"},
		{"arrow cast reads microseconds", NewCast(n, TimestampType), tsType, true,
			"1970-01-01T00:28:20Z 1969-12-31T23:59:59.999999Z null 1970-01-01T00:00:00Z 1970-01-20T16:13:20.000123Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			batch := epochBatch(t, alloc)
			defer batch.Release()
			typ, err := tc.e.Resolve(batch.Schema())
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if typ.DataType.String() != tc.typ || typ.Nullable != tc.nullable {
				t.Errorf("type %s nullable %v, want %s nullable %v", typ.DataType, typ.Nullable, tc.typ, tc.nullable)
			}
			out, err := tc.e.Eval(NewEvalContext(context.Background(), alloc, time.Time{}), batch)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			defer out.Release()
			if !arrow.TypeEqual(out.DataType(), typ.DataType) {
				t.Errorf("Eval type %s, Resolve type %s", out.DataType(), typ.DataType)
			}
			if got := renderEpoch(out); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestEpochConversionErrors(t *testing.T) {
	n, f, s, ts := Col("n"), Col("f"), Col("s"), Col("t")
	typeErrs := []struct {
		e    Expr
		want string
	}{
		{TimestampSeconds(s), "timestamp_seconds needs a number for argument 1, got s (utf8)"},
		{TimestampSeconds(ts), "timestamp_seconds needs a number for argument 1"},
		{TimestampMillis(f), "timestamp_millis needs an integer for argument 1, got f (float64)"},
		{TimestampMicros(Lit(1.5)), "timestamp_micros needs an integer for argument 1"},
		{UnixSeconds(n), "unix_seconds needs a timestamp for argument 1, got n (int64)"},
		{UnixMicros(f), "unix_micros needs a timestamp for argument 1"},
		{SparkCast(Col("nope"), TimestampType), `column "nope" not found`},
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	batch := epochBatch(t, alloc)
	defer batch.Release()
	for _, tc := range typeErrs {
		_, err := tc.e.Resolve(batch.Schema())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.e, err, tc.want)
		}
	}

	ranged := []struct {
		e    Expr
		want string
	}{
		{TimestampSeconds(Lit(int64(9223372036855))), "timestamp_seconds(9223372036855): the result is beyond the timestamp range"},
		{TimestampSeconds(Lit(int64(-9223372036855))), "timestamp_seconds(-9223372036855)"},
		{TimestampSeconds(Lit(1e300)), "timestamp_seconds(1e+300)"},
		{TimestampSeconds(Lit(-9223372036855.0)), "timestamp_seconds(-9.223372036855e+12)"},
		{TimestampMillis(Lit(int64(math.MaxInt64))), "timestamp_millis(9223372036854775807)"},
		{SparkCast(Lit(int64(math.MinInt64)), TimestampType), "timestamp_seconds(-9223372036854775808)"},
		{TimestampSeconds(Mul(n, Lit(100000))), "timestamp_seconds(170000000000000)"},
	}
	for _, tc := range ranged {
		_, err := tc.e.Resolve(batch.Schema())
		if err != nil {
			t.Fatalf("%s: Resolve: %v", tc.e, err)
		}
		out, err := tc.e.Eval(NewEvalContext(context.Background(), alloc, time.Time{}), batch)
		if err == nil {
			out.Release()
			t.Errorf("%s: no error", tc.e)
			continue
		}
		if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrOutOfRange containing %q", tc.e, err, tc.want)
		}
	}

	// The largest values in range convert.
	for _, e := range []Expr{
		TimestampSeconds(Lit(int64(9223372036854))),
		TimestampSeconds(Lit(int64(-9223372036854))),
		TimestampMillis(Lit(int64(math.MinInt64 / 1000))),
		TimestampMicros(Lit(int64(math.MinInt64))),
		TimestampMicros(Lit(int64(math.MaxInt64))),
		TimestampSeconds(Lit(-9223372036854.775)), // × 1e6 is just above -2^63
	} {
		out, err := e.Eval(NewEvalContext(context.Background(), alloc, time.Time{}), batch)
		if err != nil {
			t.Errorf("%s: %v", e, err)
			continue
		}
		out.Release()
	}
}

func TestUint64OutOfRange(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	s := arrow.NewSchema([]arrow.Field{{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(alloc, s)
	defer b.Release()
	// A null slot's value is not looked at.
	b.Field(0).(*array.Uint64Builder).AppendValues([]uint64{1, math.MaxUint64}, []bool{true, false})
	batch := b.NewRecordBatch()
	defer batch.Release()
	out, err := TimestampMicros(Col("u")).Eval(NewEvalContext(context.Background(), alloc, time.Time{}), batch)
	if err != nil {
		t.Fatal(err)
	}
	if got := renderEpoch(out); got != "1970-01-01T00:00:00.000001Z null" {
		t.Errorf("got %s", got)
	}
	out.Release()

	b.Field(0).(*array.Uint64Builder).AppendValues([]uint64{1, math.MaxUint64}, nil)
	batch2 := b.NewRecordBatch()
	defer batch2.Release()
	_, err = TimestampMicros(Col("u")).Eval(NewEvalContext(context.Background(), alloc, time.Time{}), batch2)
	if !errors.Is(err, ErrOutOfRange) {
		t.Errorf("error %v, want ErrOutOfRange", err)
	}
}

func TestSparkCastFrom(t *testing.T) {
	i64, i32, f64 := arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Float64
	tests := []struct {
		from, to arrow.DataType
		want     string
	}{
		{i64, TimestampType, "timestamp_seconds(x)"},
		{f64, TimestampType, "timestamp_seconds(x)"},
		{TimestampType, i64, "unix_seconds(x)"},
		{TimestampType, i32, "CAST(unix_seconds(x) AS int32)"},
		{TimestampType, f64, "(unix_micros(x) / 1000000)"},
		{TimestampType, arrow.PrimitiveTypes.Float32, "CAST((unix_micros(x) / 1000000) AS float32)"},
		{arrow.BinaryTypes.String, TimestampType, "CAST(x AS timestamp[us, tz=UTC])"},
		{i64, f64, "CAST(x AS float64)"},
		{arrow.FixedWidthTypes.Date32, i64, "CAST(x AS int64)"},
	}
	for _, tc := range tests {
		if got := SparkCastFrom(Col("x"), tc.from, tc.to).String(); got != tc.want {
			t.Errorf("SparkCastFrom(x, %s, %s) = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
	if got := SparkCast(Col("x"), TimestampType).String(); got != "CAST(x AS timestamp[us, tz=UTC])" {
		t.Errorf("SparkCast prints %s", got)
	}
	c, err := SparkCast(Col("x"), i64).WithChildren([]Expr{Col("y")})
	if err != nil || c.String() != "CAST(y AS int64)" {
		t.Errorf("WithChildren: %v, %v", c, err)
	}
}

func TestTimeOfExtremes(t *testing.T) {
	for _, u := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond} {
		for _, v := range []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, -1e17, 1e17} {
			if u == arrow.Second && (v == math.MinInt64 || v == math.MaxInt64) {
				continue // beyond time.Time's range
			}
			tm := timeOf(v, u)
			if got := unitsOf(tm, u); got != v {
				t.Errorf("unit %s: unitsOf(timeOf(%d)) = %d (%s)", u, v, got, tm)
			}
		}
	}
	if got := timeOf(-1, arrow.Microsecond).Format(time.RFC3339Nano); got != "1969-12-31T23:59:59.999999Z" {
		t.Errorf("timeOf(-1 µs) = %s", got)
	}
	if got := timeOf(-1e17, arrow.Microsecond).Year(); got != -1199 {
		t.Errorf("timeOf(-1e17 µs) is in year %d", got)
	}
}
