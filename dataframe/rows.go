package dataframe

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/expr"
)

// Row is one row of a collected DataFrame: one Go value per column, nil
// for null. Values are int64, int32, int16, int8, float64, float32,
// string, bool, []byte, time.Time (timestamps and dates, UTC) and []any
// (lists).
type Row []any

// Collect runs the query and returns every row, in partition order (the
// order of OrderBy when the plan ends with one).
func (df *DataFrame) Collect(ctx context.Context) ([]Row, error) {
	bs, err := df.collectBatches(ctx, "Collect")
	if err != nil {
		return nil, err
	}
	defer releaseAll(bs)
	var rows []Row
	for _, b := range bs {
		rows = appendRows(rows, b)
	}
	return rows, nil
}

// Take returns the first n rows.
func (df *DataFrame) Take(ctx context.Context, n int) ([]Row, error) { return df.Limit(n).Collect(ctx) }

func appendRows(rows []Row, b arrow.RecordBatch) []Row {
	n := int(b.NumRows())
	for i := range n {
		r := make(Row, b.NumCols())
		for j, c := range b.Columns() {
			r[j] = valueAt(c, i)
		}
		rows = append(rows, r)
	}
	return rows
}

// valueAt returns row i of a as a Row value.
func valueAt(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch x := a.(type) {
	case *array.Int32:
		return x.Value(i)
	case *array.Int16:
		return x.Value(i)
	case *array.Int8:
		return x.Value(i)
	case *array.Float32:
		return x.Value(i)
	case *array.Date32:
		return x.Value(i).ToTime()
	case *array.Binary:
		return append([]byte{}, x.Value(i)...)
	case *array.List:
		lo, hi := x.ValueOffsets(i)
		out := make([]any, 0, hi-lo)
		for j := lo; j < hi; j++ {
			out = append(out, valueAt(x.ListValues(), int(j)))
		}
		return out
	}
	if v, ok := expr.ScalarAt(a, i); ok {
		return v
	}
	return a.ValueStr(i)
}

// Show prints the first n rows as a table to standard output, strings cut
// to 20 characters (Spark's show(n)).
func (df *DataFrame) Show(ctx context.Context, n int) error {
	return df.ShowTo(ctx, os.Stdout, n, true)
}

// ShowTo writes the first n rows to w in Spark's table format; truncate
// cuts cells to 20 characters and right-aligns them.
func (df *DataFrame) ShowTo(ctx context.Context, w io.Writer, n int, truncate bool) error {
	if n < 0 {
		n = 0
	}
	rows, err := df.Limit(n + 1).Collect(ctx)
	if err != nil {
		return err
	}
	more := len(rows) > n
	if more {
		rows = rows[:n]
	}
	_, err = io.WriteString(w, formatTable(df.Columns(), rows, truncate, more, n))
	return err
}

func formatTable(cols []string, rows []Row, truncate, more bool, n int) string {
	cells := make([][]string, len(rows)+1)
	cells[0] = cols
	for i, r := range rows {
		line := make([]string, len(r))
		for j, v := range r {
			s := FormatValue(v)
			if truncate && utf8.RuneCountInString(s) > 20 {
				s = string([]rune(s)[:17]) + "..."
			}
			line[j] = s
		}
		cells[i+1] = line
	}
	widths := make([]int, len(cols))
	for _, line := range cells {
		for j, s := range line {
			widths[j] = max(widths[j], 3, utf8.RuneCountInString(s))
		}
	}
	var sb strings.Builder
	sep := func() {
		sb.WriteByte('+')
		for _, w := range widths {
			sb.WriteString(strings.Repeat("-", w))
			sb.WriteByte('+')
		}
		sb.WriteByte('\n')
	}
	sep()
	for i, line := range cells {
		sb.WriteByte('|')
		for j, s := range line {
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(s))
			if truncate {
				sb.WriteString(pad + s)
			} else {
				sb.WriteString(s + pad)
			}
			sb.WriteByte('|')
		}
		sb.WriteByte('\n')
		if i == 0 {
			sep()
		}
	}
	sep()
	if more {
		fmt.Fprintf(&sb, "only showing top %d rows\n", n)
	}
	return sb.String()
}

// FormatValue renders a Row value as Show does: null, 1.0 for whole
// doubles, timestamps as yyyy-MM-dd HH:mm:ss[.ffffff], lists as [a, b].
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case float64:
		return formatFloat(x, 64)
	case float32:
		return formatFloat(float64(x), 32)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02 15:04:05")
		}
		return x.Format("2006-01-02 15:04:05.999999")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = FormatValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []byte:
		parts := make([]string, len(x))
		for i, b := range x {
			parts[i] = fmt.Sprintf("%02X", b)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if math.Abs(f) >= 1e7 || (f != 0 && math.Abs(f) < 1e-3) {
		// Java's Double.toString form: 1.0E7, 1.25E-4.
		mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'E', -1, bits), "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(exp, "+-0")
		if neg {
			exp = "-" + exp
		}
		return mant + "E" + exp
	}
	s := strconv.FormatFloat(f, 'f', -1, bits)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
