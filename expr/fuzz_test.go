package expr

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// likeNaive matches SQL LIKE by recursion over runes.
func likeNaive(s, p []rune) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch {
	case p[0] == '\\' && len(p) > 1:
		return len(s) > 0 && s[0] == p[1] && likeNaive(s[1:], p[2:])
	case p[0] == '\\':
		return len(s) == 0 // a trailing escape escapes nothing
	case p[0] == '%':
		for i := 0; i <= len(s); i++ {
			if likeNaive(s[i:], p[1:]) {
				return true
			}
		}
		return false
	case p[0] == '_':
		return len(s) > 0 && likeNaive(s[1:], p[1:])
	}
	return len(s) > 0 && s[0] == p[0] && likeNaive(s[1:], p[1:])
}

func evalString(t *testing.T, e Expr, values ...string) arrow.Array {
	t.Helper()
	s := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(values, nil)
	rb := b.NewRecordBatch()
	defer rb.Release()
	out, err := e.Eval(NewEvalContext(context.Background(), memory.DefaultAllocator, time.Time{}), rb)
	if err != nil {
		t.Fatalf("%s: %v", e, err)
	}
	return out
}

func FuzzLike(f *testing.F) {
	for _, c := range [][2]string{{"hello", "h%o"}, {"a_b", `a\_b`}, {"", "%"}, {"abc", "_b_"}, {"x%y", `x\%y`}, {"ab", `ab\`}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, s, pattern string) {
		if len(s) > 64 || len(pattern) > 16 {
			return
		}
		out := evalString(t, Like(Col("s"), pattern), s)
		defer out.Release()
		got := out.(*array.Boolean).Value(0)
		if want := likeNaive([]rune(s), []rune(pattern)); got != want {
			t.Errorf("%q LIKE %q = %v, want %v", s, pattern, got, want)
		}
	})
}

func FuzzStringFunctions(f *testing.F) {
	f.Add("2026-03-14 09:26:53", "yyyy-MM-dd HH:mm:ss", 2, 3)
	f.Add("  héllo wörld ", "dd/MM/yyyy", -3, 10)
	f.Fuzz(func(t *testing.T, s, format string, pos, length int) {
		for _, e := range []Expr{
			ToTimestamp(Col("s"), format), Substring(Col("s"), pos, length), Upper(Col("s")), Trim(Col("s")),
			Length(Col("s")), Split(Col("s"), ","), NewCast(Col("s"), arrow.PrimitiveTypes.Int64),
			NewCast(Col("s"), TimestampType), NewCast(Col("s"), arrow.FixedWidthTypes.Boolean),
		} {
			out := evalString(t, e, s)
			if out.Len() != 1 {
				t.Errorf("%s: %d values", e, out.Len())
			}
			out.Release()
		}
	})
}
