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

// testBatch has 4 rows: i int64 [1, -2, null, 9223372036854775807],
// j int32 [3, 0, 5, null], f float64 [1.5, null, -0.5, 4], s string
// ["Hello", "  spate ", null, "a_b%c"], b bool [true, false, null, true],
// t timestamp [2026-03-14 09:26:53, 2026-01-01 00:00, null, 1970-01-01 00:00:01].
func testBatch(t *testing.T, alloc memory.Allocator) arrow.RecordBatch {
	t.Helper()
	s := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "j", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "t", Type: TimestampType, Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(alloc, s)
	defer bld.Release()
	bld.Field(0).(*array.Int64Builder).AppendValues([]int64{1, -2, 0, math.MaxInt64}, []bool{true, true, false, true})
	bld.Field(1).(*array.Int32Builder).AppendValues([]int32{3, 0, 5, 0}, []bool{true, true, true, false})
	bld.Field(2).(*array.Float64Builder).AppendValues([]float64{1.5, 0, -0.5, 4}, []bool{true, false, true, true})
	bld.Field(3).(*array.StringBuilder).AppendValues([]string{"Hello", "  spate ", "", "a_b%c"}, []bool{true, true, false, true})
	bld.Field(4).(*array.BooleanBuilder).AppendValues([]bool{true, false, false, true}, []bool{true, true, false, true})
	ts := []time.Time{time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), {}, time.Unix(1, 0)}
	tb := bld.Field(5).(*array.TimestampBuilder)
	for k, x := range ts {
		if k == 2 {
			tb.AppendNull()
		} else {
			tb.Append(arrow.Timestamp(x.UnixMicro()))
		}
	}
	return bld.NewRecordBatch()
}

func render(a arrow.Array) string {
	parts := make([]string, a.Len())
	for i := range parts {
		if a.IsNull(i) || a.DataType().ID() == arrow.NULL {
			parts[i] = "null"
			continue
		}
		if v, ok := ScalarAt(a, i); ok {
			if tm, ok := v.(time.Time); ok {
				parts[i] = tm.Format("2006-01-02 15:04:05")
				continue
			}
		}
		parts[i] = a.ValueStr(i)
	}
	return strings.Join(parts, " ")
}

func TestExpressions(t *testing.T) {
	i, j, f, s, b, ts := Col("i"), Col("j"), Col("f"), Col("s"), Col("b"), Col("t")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		e    Expr
		typ  string
		want string
	}{
		{"col", i, "int64", "1 -2 null 9223372036854775807"},
		{"lit", Lit(7), "int64", "7 7 7 7"},
		{"null lit", Lit(nil), "null", "null null null null"},
		{"add", Add(i, j), "int64", "4 -2 null null"},
		{"add overflow wraps", Add(i, Lit(1)), "int64", "2 -1 null -9223372036854775808"},
		{"sub scalar left", Sub(Lit(10), i), "int64", "9 12 null -9223372036854775797"},
		{"mul float", Mul(i, f), "float64", "1.5 null null 3.6893488147419103e+19"},
		{"div is float", Div(i, j), "float64", "0.3333333333333333 null null null"},
		{"div by zero null", Div(Lit(1), Sub(j, j)), "float64", "null null null null"},
		{"mod", Mod(i, j), "int64", "1 null null null"},
		{"mod by zero", Mod(i, Lit(0)), "int64", "null null null null"},
		{"eq", Eq(i, Lit(1)), "bool", "true false null false"},
		{"lt mixed types", Lt(j, f), "bool", "false null false null"},
		{"ge scalar left", Ge(Lit(0), i), "bool", "false true null false"},
		{"string compare", Gt(s, Lit("b")), "bool", "false false null false"},
		{"bool compare", Eq(b, Lit(true)), "bool", "true false null true"},
		{"timestamp vs string", Gt(ts, Lit("2026-02-01")), "bool", "true false null false"},
		{"and kleene", And(b, Gt(i, Lit(0))), "bool", "true false null true"},
		{"and false null", And(b, Lit(false)), "bool", "false false false false"},
		{"or true null", Or(b, Lit(true)), "bool", "true true true true"},
		{"or null", Or(b, Lit(false)), "bool", "true false null true"},
		{"not", NewNot(b), "bool", "false true null false"},
		{"is null", IsNull(i), "bool", "false false true false"},
		{"is not null", IsNotNull(s), "bool", "true true false true"},
		{"cast int to string", NewCast(i, arrow.BinaryTypes.String), "utf8", "1 -2 null 9223372036854775807"},
		{"cast string to int", NewCast(s, arrow.PrimitiveTypes.Int64), "int64", "null null null null"},
		{"cast float to int truncates", NewCast(f, arrow.PrimitiveTypes.Int32), "int32", "1 null 0 4"},
		{"cast bool to string", NewCast(b, arrow.BinaryTypes.String), "utf8", "true false null true"},
		{"when", When(Gt(i, Lit(0)), Lit("pos")).When(Lt(i, Lit(0)), Lit("neg")).Otherwise(Lit("zero")), "utf8", "pos neg zero pos"},
		{"when no else", When(b, i), "int64", "1 null null 9223372036854775807"},
		{"coalesce", NewCoalesce(i, NewCast(j, arrow.PrimitiveTypes.Int64), Lit(0)), "int64", "1 -2 5 9223372036854775807"},
		{"in", In(i, Lit(1), Lit(9223372036854775807)), "bool", "true false null true"},
		{"in with null", In(i, Lit(1), Lit(nil)), "bool", "true null null null"},
		{"between", Between(f, Lit(0), Lit(2)), "bool", "true null false false"},
		{"like", Like(s, "%l%"), "bool", "true false null false"},
		{"like escape", Like(s, `a\_b\%c`), "bool", "false false null true"},
		{"like underscore", Like(s, "_ello"), "bool", "true false null false"},
		{"lower", Lower(s), "utf8", "hello   spate  null a_b%c"},
		{"upper", Upper(s), "utf8", "HELLO   SPATE  null A_B%C"},
		{"trim", Trim(s), "utf8", "Hello spate null a_b%c"},
		{"substring", Substring(s, 2, 3), "utf8", "ell  sp null _b%"},
		{"substring negative", Substring(s, -2, 2), "utf8", "lo e  null %c"},
		{"concat", Concat(s, Lit("!")), "utf8", "Hello!   spate ! null a_b%c!"},
		{"length", Length(s), "int32", "5 8 null 5"},
		{"split", Split(s, "_"), "list<item: utf8, nullable>", `["Hello"] ["  spate "] null ["a","b%c"]`},
		{"regexp_extract", RegexpExtract(s, `([a-z])(.)`, 2), "utf8", "l p null _"},
		{"regexp_replace", RegexpReplace(s, `[aeiou]`, "*"), "utf8", "H*ll*   sp*t*  null *_b%c"},
		{"year", Year(ts), "int32", "2026 2026 null 1970"},
		{"month", Month(ts), "int32", "3 1 null 1"},
		{"day", Day(ts), "int32", "14 1 null 1"},
		{"hour", Hour(ts), "int32", "9 0 null 0"},
		{"minute", Minute(ts), "int32", "26 0 null 0"},
		{"unix_timestamp", UnixTimestamp(ts), "int64", "1773480413 1767225600 null 1"},
		{"timestamp_add", TimestampAdd(ts, 90*time.Second), "timestamp[us, tz=UTC]", "2026-03-14 09:28:23 2026-01-01 00:01:30 null 1970-01-01 00:01:31"},
		{"window bound", WindowBound(ts, 10*time.Second, 0, 1, 30*time.Second), "timestamp[us, tz=UTC]", "2026-03-14 09:27:10 2026-01-01 00:00:20 null 1970-01-01 00:00:20"},
		{"date_trunc hour", DateTrunc("hour", ts), "timestamp[us, tz=UTC]", "2026-03-14 09:00:00 2026-01-01 00:00:00 null 1970-01-01 00:00:00"},
		{"date_trunc month", DateTrunc("MONTH", ts), "timestamp[us, tz=UTC]", "2026-03-01 00:00:00 2026-01-01 00:00:00 null 1970-01-01 00:00:00"},
		{"from_unixtime", FromUnixtime(i, "yyyy-MM-dd"), "utf8", "1970-01-01 1969-12-31 null 292277026596-12-04"},
		{"to_timestamp", ToTimestamp(Lit("2026-05-06 07:08:09")), "timestamp[us, tz=UTC]", "2026-05-06 07:08:09 2026-05-06 07:08:09 2026-05-06 07:08:09 2026-05-06 07:08:09"},
		{"to_timestamp pattern bad", ToTimestamp(s, "yyyy"), "timestamp[us, tz=UTC]", "null null null null"},
		{"current_timestamp", CurrentTimestamp(), "timestamp[us, tz=UTC]", "2030-01-02 03:04:05 2030-01-02 03:04:05 2030-01-02 03:04:05 2030-01-02 03:04:05"},
		{"abs", Abs(i), "int64", "1 2 null 9223372036854775807"},
		{"abs float", Abs(f), "float64", "1.5 null 0.5 4"},
		{"round", Round(f, 0), "float64", "2 null -1 4"},
		{"round int", Round(i, 0), "int64", "1 -2 null 9223372036854775807"},
		{"floor", Floor(f), "int64", "1 null -1 4"},
		{"ceil", Ceil(f), "int64", "2 null 0 4"},
		{"sqrt", Sqrt(f), "float64", "1.224744871391589 null NaN 2"},
		{"pow", Pow(j, Lit(2)), "float64", "9 0 25 null"},
		{"alias", As(Add(i, Lit(1)), "x"), "int64", "2 -1 null -9223372036854775808"},
		{"chained arithmetic", Mul(Add(Mul(i, Lit(2)), Lit(1)), Lit(-1)), "int64", "-3 3 null 1"},
		{"chained over null", Add(Add(i, NullOf(arrow.PrimitiveTypes.Int64)), Lit(1)), "int64", "null null null null"},
		{"chained float", Sub(Div(f, Lit(2)), Lit(1)), "float64", "-0.25 null -1.25 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			batch := testBatch(t, alloc)
			defer batch.Release()
			typ, err := tc.e.Resolve(batch.Schema())
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if typ.DataType.String() != tc.typ {
				t.Errorf("type %s, want %s", typ.DataType, tc.typ)
			}
			out, err := tc.e.Eval(NewEvalContext(context.Background(), alloc, now), batch)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			defer out.Release()
			if !arrow.TypeEqual(out.DataType(), typ.DataType) && !(typ.DataType.ID() == arrow.NULL) {
				t.Errorf("Eval type %s, Resolve type %s", out.DataType(), typ.DataType)
			}
			if got := render(out); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestTypeErrors(t *testing.T) {
	i, s, b := Col("i"), Col("s"), Col("b")
	tests := []struct {
		name string
		e    Expr
		is   error
		msg  string
	}{
		{"string plus int", Add(s, Lit(1)), ErrType, "+ needs numeric operands"},
		{"compare string and bool", Eq(s, b), ErrType, "cannot compare"},
		{"and on ints", And(i, b), ErrType, "AND needs boolean operands"},
		{"not on string", NewNot(s), ErrType, "NOT needs boolean"},
		{"unknown column", Add(Col("nope"), i), nil, `column "nope" not found; available columns: i, j, f, s, b, t`},
		{"upper of int", Upper(i), ErrType, "upper needs a string"},
		{"sqrt of string", Sqrt(s), ErrType, "sqrt needs a number"},
		{"year of int", Year(i), ErrType, "year needs a timestamp"},
		{"bad regexp", RegexpReplace(s, "(", ""), ErrInvalid, "bad pattern"},
		{"bad group", RegexpExtract(s, "(a)", 3), ErrInvalid, "group 3 out of range"},
		{"bad unit", DateTrunc("fortnight", Col("t")), ErrInvalid, "unknown unit"},
		{"case mixed types", When(b, Lit(1)).Otherwise(Lit("x")), nil, "incompatible types"},
		{"cast to nothing", NewCast(i, nil), ErrInvalid, "target type"},
		{"sum of string", Sum(s), ErrType, "sum needs a numeric argument"},
		{"aggregate of aggregate", Sum(Sum(i)), ErrAggregate, "inside aggregate"},
		{"unsupported literal", Lit(struct{}{}), ErrType, "unsupported Go type"},
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	batch := testBatch(t, alloc)
	defer batch.Release()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.e.Resolve(batch.Schema())
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			if _, err := tc.e.Eval(NewEvalContext(context.Background(), alloc, time.Time{}), batch); err == nil {
				t.Error("Eval: no error")
			}
		})
	}
	var nf *ColumnNotFoundError
	_, err := Col("x").Resolve(batch.Schema())
	if !errors.As(err, &nf) || nf.Name != "x" || len(nf.Available) != 6 {
		t.Errorf("got %v, want a *ColumnNotFoundError for x", err)
	}
}

func TestAggregatesTwoPhase(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ec := NewEvalContext(context.Background(), alloc, time.Time{})
	batch := testBatch(t, alloc)
	defer batch.Release()
	// Rows 0, 2 go to group 0 and rows 1, 3 to group 1, in two partial
	// accumulators (rows 0-1 and rows 2-3) merged into a final one.
	aggs := []struct {
		a    *AggExpr
		want string
	}{
		{Count(nil), "2 2"},
		{Count(Col("i")), "1 2"},
		{Sum(Col("i")), "1 9223372036854775805"},
		{Sum(Col("f")), "1 4"},
		{Avg(Col("j")), "4 0"},
		{Min(Col("s")), "Hello   spate "},
		{Max(Col("t")), "2026-03-14 09:26:53 2026-01-01 00:00:00"},
		{First(Col("i")), "1 -2"},
		{Last(Col("i")), "null 9223372036854775807"},
		{CountDistinct(Col("b")), "1 2"},
		{CollectList(Col("j")), "[3,5] [0]"},
	}
	for _, tc := range aggs {
		t.Run(tc.a.String(), func(t *testing.T) {
			final, err := NewAccumulator(tc.a, batch.Schema())
			if err != nil {
				t.Fatal(err)
			}
			for _, rows := range [][2]int64{{0, 2}, {2, 4}} {
				part, err := NewAccumulator(tc.a, batch.Schema())
				if err != nil {
					t.Fatal(err)
				}
				slice := batch.NewSlice(rows[0], rows[1])
				var arg arrow.Array
				if tc.a.Arg != nil {
					if arg, err = tc.a.Arg.Eval(ec, slice); err != nil {
						t.Fatal(err)
					}
				}
				groups := []uint32{0, 1}
				if rows[0] == 2 {
					groups = []uint32{0, 1}
				}
				if err := part.Update(ec, groups, 2, arg); err != nil {
					t.Fatal(err)
				}
				if arg != nil {
					arg.Release()
				}
				slice.Release()
				st, err := part.State(ec)
				if err != nil {
					t.Fatal(err)
				}
				if err := final.Merge(ec, []uint32{0, 1}, 2, st); err != nil {
					t.Fatal(err)
				}
				for _, a := range st {
					a.Release()
				}
			}
			out, err := final.Final(ec)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Release()
			if got := render(out); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFoldConstant(t *testing.T) {
	lit, ok, err := FoldConstant(Add(Lit(2), Mul(Lit(3), Lit(4))))
	if err != nil || !ok || lit.Value != int64(14) {
		t.Fatalf("got %v %v %v", lit, ok, err)
	}
	if _, ok, _ := FoldConstant(Add(Col("x"), Lit(1))); ok {
		t.Error("folded a column reference")
	}
	if _, ok, _ := FoldConstant(CurrentTimestamp()); ok {
		t.Error("folded current_timestamp")
	}
}

func TestSubstringEdges(t *testing.T) {
	for _, tc := range []struct {
		s           string
		pos, length int
		want        string
	}{
		{"hello", 1, 3, "hel"}, {"hello", 0, 2, "he"}, {"hello", -3, 2, "ll"}, {"hello", -7, 4, "he"},
		{"hello", -7, 2, ""}, {"hello", 6, 1, ""}, {"hello", 2, math.MaxInt, "ello"}, {"hello", math.MinInt, math.MaxInt, "hell"},
		{"hello", 3, -1, ""}, {"héllo", 2, 2, "él"},
	} {
		if got := substring(tc.s, tc.pos, tc.length); got != tc.want {
			t.Errorf("substring(%q, %d, %d) = %q, want %q", tc.s, tc.pos, tc.length, got, tc.want)
		}
	}
}

// An accumulator keeps no reference into its input arrays: the strings
// it keeps are copies, so overwriting (or reusing) an input's buffer
// after Update does not change its result. A streaming aggregation keeps
// its accumulators from batch to batch while the batches' buffers are
// recycled.
func TestAccumulatorsCopyStrings(t *testing.T) {
	ec := NewEvalContext(context.Background(), memory.NewGoAllocator(), time.Time{})
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	for _, a := range []*AggExpr{Min(Col("s")), Max(Col("s")), First(Col("s")), Last(Col("s")), CountDistinct(Col("s")), CollectList(Col("s"))} {
		t.Run(a.String(), func(t *testing.T) {
			acc, err := NewAccumulator(a, schema)
			if err != nil {
				t.Fatal(err)
			}
			b := array.NewStringBuilder(memory.NewGoAllocator())
			b.AppendValues([]string{"kiwi", "apple"}, nil)
			in := b.NewArray()
			b.Release()
			want := func() string {
				out, err := acc.Final(ec)
				if err != nil {
					t.Fatal(err)
				}
				defer out.Release()
				return render(out)
			}
			if err := acc.Update(ec, []uint32{0, 0}, 1, in); err != nil {
				t.Fatal(err)
			}
			before := want()
			data := in.Data().Buffers()[2].Bytes()
			for i := range data {
				data[i] = 'x' // what a recycled buffer's next user may write
			}
			in.Release()
			if after := want(); after != before {
				t.Errorf("result %q after the input's buffer changed, was %q", after, before)
			}
		})
	}
}
