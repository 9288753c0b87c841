package dataframe_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/plan"
)

type setRow struct {
	A *int64  `spate:"a"`
	B *string `spate:"b"`
}

func setRows(rows ...[2]any) []setRow {
	out := make([]setRow, len(rows))
	for i, r := range rows {
		if a, ok := r[0].(int); ok {
			v := int64(a)
			out[i].A = &v
		}
		if b, ok := r[1].(string); ok {
			out[i].B = &b
		}
	}
	return out
}

// Intersect, IntersectAll, Except and ExceptAll follow Spark: a null
// equals a null, the DISTINCT forms return each row once, the ALL forms
// count copies; with tiny batches and one or several partitions.
func TestSetOperations(t *testing.T) {
	for _, opts := range [][]Option{nil, {BatchRows(2), ShufflePartitions(1)}} {
		s := newSession(t, opts...)
		ctx := context.Background()
		// (1, x) 3 times on the left and twice on the right; (2, null)
		// twice and once; (null, null) once and twice; (3, y) left only;
		// (4, z) right only.
		left := CreateDataFrame(s, setRows([2]any{1, "x"}, [2]any{2, nil}, [2]any{1, "x"}, [2]any{nil, nil},
			[2]any{3, "y"}, [2]any{1, "x"}, [2]any{2, nil}))
		right := CreateDataFrame(s, setRows([2]any{nil, nil}, [2]any{1, "x"}, [2]any{2, nil}, [2]any{4, "z"},
			[2]any{1, "x"}, [2]any{nil, nil}))
		// The right side's columns are named differently: columns match
		// by position, and the names come from the left.
		right = right.Select(Col("a").As("c"), Col("b").As("d"))
		empty := left.Where(Col("a").Gt(100))
		for _, tc := range []struct {
			name string
			df   *DataFrame
			want string
		}{
			{"intersect", left.Intersect(right), "null,null;1,x;2,null"},
			{"intersect all", left.IntersectAll(right), "null,null;1,x;1,x;2,null"},
			{"except", left.Except(right), "3,y"},
			{"except all", left.ExceptAll(right), "1,x;2,null;3,y"},
			{"except all the other way", right.ExceptAll(left), "null,null;4,z"},
			{"intersect with itself is distinct", left.Intersect(left), "null,null;1,x;2,null;3,y"},
			{"intersect empty", left.Intersect(empty), ""},
			{"intersect all empty", empty.IntersectAll(left), ""},
			{"except empty", left.Except(empty), "null,null;1,x;2,null;3,y"},
			{"except all empty", left.ExceptAll(empty), "null,null;1,x;1,x;1,x;2,null;2,null;3,y"},
			{"empty except", empty.Except(left), ""},
			{"filter over except all", left.ExceptAll(right).Where(Col("a").Lt(3)), "1,x;2,null"},
			{"one column", left.Select(Col("b")).Except(right.Select(Col("d"))), "y"},
		} {
			var order []Column
			for _, c := range tc.df.Columns() {
				order = append(order, Col(c))
			}
			rows, err := tc.df.OrderBy(order...).Collect(ctx)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var got []string
			for _, r := range rows {
				var cells []string
				for _, v := range r {
					cells = append(cells, FormatValue(v))
				}
				got = append(got, strings.Join(cells, ","))
			}
			if g := strings.Join(got, ";"); g != tc.want {
				t.Errorf("%s (%v): got %s, want %s", tc.name, opts, g, tc.want)
			}
		}
		cols := left.Intersect(right).Columns()
		if strings.Join(cols, ",") != "a,b" {
			t.Errorf("Intersect columns = %v, want the left's a, b", cols)
		}
	}
}

func TestSetOperationErrors(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	left := CreateDataFrame(s, setRows([2]any{1, "x"}))
	for _, tc := range []struct {
		name string
		df   *DataFrame
		want string
	}{
		{"types", left.Intersect(left.Select(Col("a"), Col("a").As("n"))),
			"dataframe.Intersect: plan: invalid plan: Intersect: expr: type mismatch: column 2 (b; n in the right input) is int64 in the right input but utf8 in the left; cast one of them"},
		{"arity", left.ExceptAll(left.Select(Col("a"))),
			"dataframe.ExceptAll: plan: invalid plan: Except: the right input has 1 columns, the left has 2"},
		{"bad other", left.Except(left.Select(Col("nope"))), `column "nope" not found`},
		{"nil other", left.IntersectAll(nil), "nil DataFrame"},
	} {
		_, err := tc.df.Collect(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
		if tc.name == "types" && !errors.Is(err, plan.ErrPlan) {
			t.Errorf("%s: %v does not wrap plan.ErrPlan", tc.name, err)
		}
	}
}
