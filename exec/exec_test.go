package exec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// relation makes a local relation of (k int64, v float64, s string) with
// rows spread over parts partitions; key k = i % keys, null every 7th v.
func relation(t testing.TB, rows, parts, keys int) *plan.LocalRelation {
	t.Helper()
	s := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	out := make([][]arrow.RecordBatch, parts)
	per := (rows + parts - 1) / parts
	for p := range parts {
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		for i := p * per; i < min(rows, (p+1)*per); i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i % keys))
			if i%7 == 6 {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.Float64Builder).Append(float64(i))
			}
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("s%d", i%3))
		}
		out[p] = []arrow.RecordBatch{b.NewRecordBatch()}
		b.Release()
	}
	l, err := plan.NewLocalRelation(s, out)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func run(t *testing.T, n plan.Node, cfg Config) string {
	t.Helper()
	ec, err := engine.New(engine.Slots(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	c, err := NewContext(ec, alloc, time.Unix(0, 0), cfg)
	if err != nil {
		t.Fatal(err)
	}
	op, err := Plan(c, n)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := c.Collect(context.Background(), op, "test")
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, b := range bs {
		for i := range int(b.NumRows()) {
			for j, col := range b.Columns() {
				if j > 0 {
					sb.WriteString(",")
				}
				sb.WriteString(col.ValueStr(i))
			}
			sb.WriteString("\n")
		}
		b.Release()
	}
	return sb.String()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAggregateSortNoLeaks(t *testing.T) {
	rel := relation(t, 100, 3, 4)
	f := must(plan.NewFilter(rel, expr.Gt(expr.Col("k"), expr.Lit(0))))
	a := must(plan.NewAggregate(f, []expr.Expr{expr.Col("k")}, []expr.Expr{
		expr.As(expr.Sum(expr.Col("v")), "sv"), expr.As(expr.Count(nil), "n"), expr.Min(expr.Col("s")),
		expr.As(expr.CountDistinct(expr.Col("s")), "ds"), expr.As(expr.Avg(expr.Col("k")), "ak"),
	}))
	s := must(plan.NewSort(a, []plan.SortOrder{{Expr: expr.Col("k")}}))
	got := run(t, s, Config{ShufflePartitions: 3})
	want := "1,1005,25,s0,3,1\n2,1058,25,s0,3,2\n3,1110,25,s0,3,3\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestGlobalAggregateEmpty(t *testing.T) {
	rel := relation(t, 10, 2, 4)
	f := must(plan.NewFilter(rel, expr.Gt(expr.Col("k"), expr.Lit(100))))
	a := must(plan.NewAggregate(f, nil, []expr.Expr{expr.Count(nil), expr.Sum(expr.Col("v"))}))
	if got := run(t, a, Config{}); got != "0,(null)\n" {
		t.Errorf("got %q", got)
	}
}

func TestJoins(t *testing.T) {
	l := relation(t, 6, 2, 6) // k 0..5
	r := relation(t, 4, 2, 2) // k 0,1,0,1
	rp := must(plan.NewProject(r, []expr.Expr{expr.As(expr.Col("k"), "rk"), expr.As(expr.Col("v"), "rv")}))
	lp := must(plan.NewProject(l, []expr.Expr{expr.Col("k")}))
	for _, bc := range []int64{0, 1000} {
		for _, tc := range []struct {
			jt   plan.JoinType
			want string
		}{
			{plan.InnerJoin, "0,0,0\n0,0,2\n1,1,1\n1,1,3\n"},
			{plan.LeftOuterJoin, "0,0,0\n0,0,2\n1,1,1\n1,1,3\n2,(null),(null)\n3,(null),(null)\n4,(null),(null)\n5,(null),(null)\n"},
			{plan.LeftSemiJoin, "0\n1\n"},
			{plan.LeftAntiJoin, "2\n3\n4\n5\n"},
		} {
			j := must(plan.NewJoin(lp, rp, tc.jt, expr.Eq(expr.Col("k"), expr.Col("rk"))))
			var orders []plan.SortOrder
			for _, f := range j.Schema().Fields() {
				orders = append(orders, plan.SortOrder{Expr: expr.Col(f.Name)})
			}
			s := must(plan.NewSort(j, orders))
			if got := run(t, s, Config{BroadcastRowThreshold: bc, ShufflePartitions: 3}); got != tc.want {
				t.Errorf("%s broadcast=%d: got\n%s\nwant\n%s", tc.jt, bc, got, tc.want)
			}
		}
	}
	j := must(plan.NewJoin(lp, rp, plan.FullOuterJoin, expr.And(expr.Eq(expr.Col("k"), expr.Col("rk")), expr.Gt(expr.Col("rv"), expr.Lit(1.5)))))
	s := must(plan.NewSort(j, []plan.SortOrder{{Expr: expr.Col("k")}, {Expr: expr.Col("rv")}}))
	want := "0,0,2\n1,1,3\n2,(null),(null)\n3,(null),(null)\n4,(null),(null)\n5,(null),(null)\n(null),0,0\n(null),1,1\n"
	if got := run(t, s, Config{}); got != want {
		t.Errorf("full: got\n%s\nwant\n%s", got, want)
	}
}

func TestNestedLoopJoins(t *testing.T) {
	l := must(plan.NewProject(relation(t, 4, 2, 4), []expr.Expr{expr.Col("k")}))
	r := must(plan.NewProject(relation(t, 3, 2, 3), []expr.Expr{expr.As(expr.Col("k"), "rk")}))
	for _, bc := range []int64{0, 1000} {
		for _, tc := range []struct {
			jt   plan.JoinType
			cond expr.Expr
			want string
		}{
			{plan.InnerJoin, nil, "0,0\n0,1\n0,2\n1,0\n1,1\n1,2\n2,0\n2,1\n2,2\n3,0\n3,1\n3,2\n"},
			{plan.InnerJoin, expr.Gt(expr.Col("k"), expr.Col("rk")), "1,0\n2,0\n2,1\n3,0\n3,1\n3,2\n"},
			{plan.LeftOuterJoin, expr.Lt(expr.Col("k"), expr.Sub(expr.Col("rk"), expr.Lit(1))), "0,2\n1,(null)\n2,(null)\n3,(null)\n"},
			{plan.RightOuterJoin, expr.Gt(expr.Col("k"), expr.Add(expr.Col("rk"), expr.Lit(2))), "3,0\n(null),1\n(null),2\n"},
			{plan.LeftAntiJoin, expr.Lt(expr.Col("k"), expr.Col("rk")), "2\n3\n"},
		} {
			j := must(plan.NewJoin(l, r, tc.jt, tc.cond))
			var orders []plan.SortOrder
			for _, f := range j.Schema().Fields() {
				orders = append(orders, plan.SortOrder{Expr: expr.Col(f.Name)})
			}
			got := run(t, must(plan.NewSort(j, orders)), Config{BroadcastRowThreshold: bc, ShufflePartitions: 3, BatchRows: 2})
			if got != tc.want {
				t.Errorf("%s %v broadcast=%d: got\n%s\nwant\n%s", tc.jt, tc.cond, bc, got, tc.want)
			}
		}
	}
}

func TestLimitDedupUnion(t *testing.T) {
	rel := relation(t, 20, 3, 4)
	p := must(plan.NewProject(rel, []expr.Expr{expr.Col("k")}))
	u := must(plan.NewUnion(p, p))
	d := must(plan.NewDeduplicate(u, nil))
	s := must(plan.NewSort(d, []plan.SortOrder{{Expr: expr.Col("k"), Desc: true}}))
	l := must(plan.NewLimit(s, 2))
	if got := run(t, l, Config{}); got != "3\n2\n" {
		t.Errorf("got %q", got)
	}
	l2 := must(plan.NewLimit(rel, 5))
	if got := run(t, l2, Config{}); strings.Count(got, "\n") != 5 {
		t.Errorf("limit: got %q", got)
	}
}

// failingSource emits batches from the allocator it is given, then fails.
type failingSource struct {
	schema *arrow.Schema
	after  int
	block  chan struct{} // when set, Read waits for it or ctx
}

func (f *failingSource) Schema() *arrow.Schema { return f.schema }
func (f *failingSource) String() string        { return "failing" }
func (f *failingSource) NumPartitions() int    { return 3 }
func (f *failingSource) Read(ctx context.Context, alloc memory.Allocator, part int, _ []string, _ []expr.Expr, emit func(arrow.RecordBatch) error) error {
	for i := range f.after {
		b := array.NewRecordBuilder(alloc, f.schema)
		b.Field(0).(*array.Int64Builder).AppendValues([]int64{int64(i), int64(part)}, nil)
		rb := b.NewRecordBatch()
		b.Release()
		err := emit(rb)
		rb.Release()
		if err != nil {
			return err
		}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if part == 1 {
		return fmt.Errorf("source broke")
	}
	return nil
}

func TestErrorsReleaseEverything(t *testing.T) {
	src := &failingSource{schema: arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil), after: 3}
	scan := must(plan.NewScan(src, nil, nil))
	agg := must(plan.NewAggregate(scan, []expr.Expr{expr.Col("x")}, []expr.Expr{expr.Count(nil)}))
	j := must(plan.NewJoin(scan, must(plan.NewProject(scan, []expr.Expr{expr.As(expr.Col("x"), "y")})), plan.InnerJoin, expr.Eq(expr.Col("x"), expr.Col("y"))))
	srt := must(plan.NewSort(scan, []plan.SortOrder{{Expr: expr.Col("x")}}))
	for _, n := range []plan.Node{scan, agg, j, srt} {
		t.Run(n.String(), func(t *testing.T) {
			ec, err := engine.New(engine.Slots(2))
			if err != nil {
				t.Fatal(err)
			}
			defer ec.Close()
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			c := must(NewContext(ec, alloc, time.Time{}, Config{}))
			op := must(Plan(c, n))
			_, err = c.Collect(context.Background(), op, "test")
			c.Close()
			if err == nil || !strings.Contains(err.Error(), "source broke") {
				t.Fatalf("got %v, want the source's error", err)
			}
		})
	}
}

func TestCancelStopsAndReleases(t *testing.T) {
	src := &failingSource{schema: arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil), after: 2, block: make(chan struct{})}
	scan := must(plan.NewScan(src, nil, nil))
	agg := must(plan.NewAggregate(scan, nil, []expr.Expr{expr.Count(nil)}))
	ec, err := engine.New(engine.Slots(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	c := must(NewContext(ec, alloc, time.Time{}, Config{}))
	op := must(Plan(c, agg))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Collect(ctx, op, "test")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	c.Close()
}

func TestRangeSortMatchesSinglePartition(t *testing.T) {
	rel := relation(t, 3000, 5, 37)
	orders := []plan.SortOrder{
		{Expr: expr.Col("s")},
		{Expr: expr.Col("v"), Desc: true, NullsFirst: true},
		{Expr: expr.Mod(expr.Col("k"), expr.Lit(5))},
		{Expr: expr.Col("k"), Desc: true},
	}
	s := must(plan.NewSort(rel, orders))
	one := run(t, s, Config{ShufflePartitions: 1})
	for _, n := range []int{2, 4, 7} {
		if got := run(t, s, Config{ShufflePartitions: n, BatchRows: 100}); got != one {
			t.Fatalf("%d partitions: output differs from one partition", n)
		}
	}
	if strings.Count(one, "\n") != 3000 {
		t.Fatalf("%d rows", strings.Count(one, "\n"))
	}
	empty := must(plan.NewSort(must(plan.NewFilter(rel, expr.Lt(expr.Col("k"), expr.Lit(0)))), orders))
	if got := run(t, empty, Config{ShufflePartitions: 3}); got != "" {
		t.Fatalf("empty input: %q", got)
	}
}

func TestAggregateKeysOfManyTypes(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	var parts [][]arrow.RecordBatch
	want := map[string]int64{}
	for p := range 3 {
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		for i := range 200 {
			x := p*200 + i
			key := ""
			if x%11 == 0 {
				b.Field(0).AppendNull()
				key += "null|"
			} else {
				name := fmt.Sprintf("k%d", x%3)
				b.Field(0).(*array.StringBuilder).Append(name)
				key += name + "|"
			}
			if x%13 == 0 {
				b.Field(1).AppendNull()
				key += "null|"
			} else {
				b.Field(1).(*array.Int32Builder).Append(int32(x % 2))
				key += fmt.Sprint(x%2) + "|"
			}
			switch x % 4 {
			case 0:
				b.Field(2).(*array.Float64Builder).Append(0)
				key += "0|"
			case 1:
				b.Field(2).(*array.Float64Builder).Append(math.Copysign(0, -1)) // -0 groups with 0
				key += "0|"
			case 2:
				b.Field(2).(*array.Float64Builder).Append(math.NaN())
				key += "NaN|"
			default:
				b.Field(2).AppendNull()
				key += "null|"
			}
			b.Field(3).(*array.BooleanBuilder).Append(x%5 == 0)
			key += fmt.Sprint(x%5 == 0)
			b.Field(4).(*array.Int64Builder).Append(int64(x))
			want[key] += int64(x)
		}
		parts = append(parts, []arrow.RecordBatch{b.NewRecordBatch()})
		b.Release()
	}
	rel := must(plan.NewLocalRelation(s, parts))
	agg := must(plan.NewAggregate(rel, []expr.Expr{expr.Col("name"), expr.Col("n"), expr.Col("f"), expr.Col("ok")}, []expr.Expr{expr.Sum(expr.Col("v"))}))
	got := run(t, agg, Config{ShufflePartitions: 4})
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d groups, want %d:\n%s", len(lines), len(want), got)
	}
	for _, l := range lines {
		f := strings.Split(l, ",")
		for i := range 3 {
			if f[i] == "(null)" {
				f[i] = "null"
			}
		}
		if f[2] == "-0" {
			f[2] = "0"
		}
		key := strings.Join(f[:4], "|")
		if fmt.Sprint(want[key]) != f[4] {
			t.Errorf("group %s: sum %s, want %d", key, f[4], want[key])
		}
	}
}

func TestStringKeysWithNulls(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	mk := func(keys []string, valid []bool) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		defer b.Release()
		b.Field(0).(*array.StringBuilder).AppendValues(keys, valid)
		for i := range keys {
			b.Field(1).(*array.Int64Builder).Append(int64(i + 1))
		}
		return b.NewRecordBatch()
	}
	rel := must(plan.NewLocalRelation(s, [][]arrow.RecordBatch{
		{mk([]string{"a", "", "b", "a"}, []bool{true, false, true, true})},
		{mk([]string{"", "b", ""}, []bool{true, true, false})},
	}))
	agg := must(plan.NewAggregate(rel, []expr.Expr{expr.Col("k")}, []expr.Expr{expr.Sum(expr.Col("v")), expr.Count(nil)}))
	srt := must(plan.NewSort(agg, []plan.SortOrder{{Expr: expr.Col("k"), NullsFirst: true}}))
	if got := run(t, srt, Config{ShufflePartitions: 3}); got != "(null),5,2\n,1,1\na,5,2\nb,5,2\n" {
		t.Errorf("group by string: got %q", got)
	}
	r := must(plan.NewProject(rel, []expr.Expr{expr.As(expr.Col("k"), "k2")}))
	j := must(plan.NewJoin(rel, r, plan.InnerJoin, expr.Eq(expr.Col("k"), expr.Col("k2"))))
	cnt := must(plan.NewAggregate(j, nil, []expr.Expr{expr.Count(nil)}))
	for _, bc := range []int64{0, 100} {
		// a: 2×2, b: 2×2, "": 1×1; nulls never match.
		if got := run(t, cnt, Config{ShufflePartitions: 3, BroadcastRowThreshold: bc}); got != "9\n" {
			t.Errorf("join on strings (broadcast %d): got %q", bc, got)
		}
	}
}

// TestTupleKeysWithNulls groups and joins by two and three int64-like
// keys (the tuple fast path), with nulls (which take the encoded path).
func TestTupleKeysWithNulls(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "c", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	mk := func(a, b []int64, valid []bool) arrow.RecordBatch {
		bl := array.NewRecordBuilder(memory.DefaultAllocator, s)
		defer bl.Release()
		bl.Field(0).(*array.Int64Builder).AppendValues(a, nil)
		bl.Field(1).(*array.Int64Builder).AppendValues(b, valid)
		for i := range a {
			bl.Field(2).(*array.Int64Builder).Append(int64(i % 2))
		}
		return bl.NewRecordBatch()
	}
	rel := must(plan.NewLocalRelation(s, [][]arrow.RecordBatch{
		{mk([]int64{1, 1, 2, 1}, []int64{10, 10, 20, 0}, []bool{true, true, true, false})},
		{mk([]int64{1, 2, 1}, []int64{10, 20, 0}, []bool{true, true, false})},
	}))
	two := must(plan.NewAggregate(rel, []expr.Expr{expr.Col("a"), expr.Col("b")}, []expr.Expr{expr.Count(nil)}))
	srt := must(plan.NewSort(two, []plan.SortOrder{{Expr: expr.Col("a")}, {Expr: expr.Col("b"), NullsFirst: true}}))
	if got := run(t, srt, Config{ShufflePartitions: 3}); got != "1,(null),2\n1,10,3\n2,20,2\n" {
		t.Errorf("group by (a, b): got %q", got)
	}
	three := must(plan.NewAggregate(rel, []expr.Expr{expr.Col("a"), expr.Col("b"), expr.Col("c")}, []expr.Expr{expr.Count(nil)}))
	cnt := must(plan.NewAggregate(three, nil, []expr.Expr{expr.Count(nil)}))
	// (1,10,0) (1,10,1) (2,20,0) (1,null,1) | (1,10,0) (2,20,1) (1,null,0)
	if got := run(t, cnt, Config{ShufflePartitions: 2}); got != "6\n" {
		t.Errorf("groups of (a, b, c): got %q", got)
	}
	r := must(plan.NewProject(rel, []expr.Expr{expr.As(expr.Col("a"), "a2"), expr.As(expr.Col("b"), "b2")}))
	j := must(plan.NewJoin(rel, r, plan.InnerJoin, expr.And(expr.Eq(expr.Col("a"), expr.Col("a2")), expr.Eq(expr.Col("b"), expr.Col("b2")))))
	jc := must(plan.NewAggregate(j, nil, []expr.Expr{expr.Count(nil)}))
	for _, bc := range []int64{0, 100} {
		// (1,10): 3×3, (2,20): 2×2; null keys never match.
		if got := run(t, jc, Config{ShufflePartitions: 3, BroadcastRowThreshold: bc}); got != "13\n" {
			t.Errorf("join on (a, b) (broadcast %d): got %q", bc, got)
		}
	}
}
