package dataframe_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/rdd"
)

type allTypes struct {
	I     int       `spate:"i"`
	I32   int32     `spate:"i32"`
	I16   int16     `spate:"i16"`
	I8    int8      `spate:"i8"`
	U     uint      `spate:"u"`
	F     float64   `spate:"f"`
	F32   float32   `spate:"f32"`
	S     string    `spate:"s"`
	B     bool      `spate:"b"`
	T     time.Time `spate:"t"`
	P     *string   `spate:"p"`
	L     []int64   `spate:"l"`
	Bytes []byte    `spate:"bytes"`
	Skip  string    `spate:"-"`
	Plain float64
	priv  int
}

func TestCreateAndCollectAsRoundTrip(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	str := "x"
	in := []allTypes{
		{I: -1, I32: 2, I16: 3, I8: 4, U: 5, F: 1.5, F32: 2.5, S: "a", B: true, T: t0, P: &str, L: []int64{1, 2}, Bytes: []byte("hi"), Skip: "gone", Plain: 9},
		{I: 7, T: t0.Add(time.Hour), L: nil},
	}
	df := CreateDataFrame(s, in)
	var sb strings.Builder
	if err := df.PrintSchemaTo(&sb); err != nil {
		t.Fatal(err)
	}
	want := `root
 |-- i: long (nullable = false)
 |-- i32: integer (nullable = false)
 |-- i16: short (nullable = false)
 |-- i8: byte (nullable = false)
 |-- u: long (nullable = false)
 |-- f: double (nullable = false)
 |-- f32: float (nullable = false)
 |-- s: string (nullable = false)
 |-- b: boolean (nullable = false)
 |-- t: timestamp (nullable = false)
 |-- p: string (nullable = true)
 |-- l: array (nullable = true)
 |    |-- element: long (containsNull = false)
 |-- bytes: binary (nullable = true)
 |-- Plain: double (nullable = false)
`
	if sb.String() != want {
		t.Errorf("schema:\n%s\nwant:\n%s", sb.String(), want)
	}
	out, err := CollectAs[allTypes](ctx, df)
	if err != nil {
		t.Fatal(err)
	}
	in[0].Skip = ""
	in[1].L = nil
	if len(out) != 2 || !reflect.DeepEqual(out[0], in[0]) || !reflect.DeepEqual(out[1], in[1]) {
		t.Errorf("got %+v\nwant %+v", out, in)
	}
	rows, err := df.Select(Col("i"), Col("p"), Col("l")).Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows[0], Row{int64(-1), "x", []any{int64(1), int64(2)}}) || rows[1][1] != nil {
		t.Errorf("rows: %v", rows)
	}
	type missing struct {
		Nope int `spate:"nope"`
	}
	if _, err := CollectAs[missing](ctx, df); err == nil || !strings.Contains(err.Error(), "available columns: i, i32") {
		t.Errorf("CollectAs with a missing column: %v", err)
	}
	if df := CreateDataFrame(s, []struct{ M map[string]int }{{}}); !errors.Is(df.Err(), ErrUnsupportedType) {
		t.Errorf("map field: %v", df.Err())
	}
	if df := CreateDataFrame(s, []int{1}); !errors.Is(df.Err(), ErrUnsupportedType) {
		t.Errorf("non-struct: %v", df.Err())
	}
	// Pointers to structs work too, and an empty slice gives no rows.
	ptrs := CreateDataFrame(s, []*order{&orders[0], nil})
	if n, err := ptrs.Count(ctx); err != nil || n != 2 {
		t.Errorf("pointer rows: %d %v", n, err)
	}
	if n, err := CreateDataFrame(s, []order{}).Count(ctx); err != nil || n != 0 {
		t.Errorf("empty: %d %v", n, err)
	}
}

func TestFromRDDAndTempViews(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	r := rdd.Parallelize(s.Engine(), orders, 3)
	df := CreateDataFrameFromRDD(s, r)
	if err := df.Where(Col("amount").Gt(10)).CreateOrReplaceTempView("Big"); err != nil {
		t.Fatal(err)
	}
	n, err := s.Table("big").Count(ctx)
	if err != nil || n != 4 {
		t.Fatalf("count: %d %v", n, err)
	}
	ex, err := s.Table("BIG").Explain()
	if err != nil || !strings.Contains(ex, "ExistingRDD") {
		t.Errorf("explain: %v\n%s", err, ex)
	}
	if err := s.Table("nope").Err(); !errors.Is(err, ErrNoSuchTable) || !strings.Contains(err.Error(), "big") {
		t.Errorf("unknown view: %v", err)
	}
	if !s.DropTempView("big") || s.DropTempView("big") {
		t.Error("DropTempView")
	}
	if err := CreateDataFrameFromRDD[order](s, nil).Err(); err == nil {
		t.Error("nil RDD accepted")
	}
}

func TestErrorsSurfaceAtActions(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	df := CreateDataFrame(s, orders)
	bad := df.Where(Col("nope").Gt(1)).Select(Col("id")).OrderBy(Col("id"))
	var nf *expr.ColumnNotFoundError
	if !errors.As(bad.Err(), &nf) || nf.Name != "nope" {
		t.Fatalf("Err: %v", bad.Err())
	}
	if !errors.Is(bad.Err(), plan.ErrPlan) {
		t.Errorf("%v does not wrap plan.ErrPlan", bad.Err())
	}
	if _, err := bad.Collect(ctx); !errors.As(err, &nf) {
		t.Errorf("Collect: %v", err)
	}
	if _, err := bad.Count(ctx); !errors.As(err, &nf) {
		t.Errorf("Count: %v", err)
	}
	if err := bad.ShowTo(ctx, &strings.Builder{}, 5, true); !errors.As(err, &nf) {
		t.Errorf("Show: %v", err)
	}
	if _, err := bad.Explain(); !errors.As(err, &nf) {
		t.Errorf("Explain: %v", err)
	}
	if bad.Schema() != nil || bad.Columns() != nil {
		t.Error("schema of a failed DataFrame")
	}
	var nilDF *DataFrame
	if nilDF.Err() == nil || nilDF.Select(Col("a")).Err() == nil {
		t.Error("nil DataFrame")
	}
	if err := df.Join(df.Select(Col("id").As("k")), Col("id").Plus(Col("k")), "inner").Err(); err == nil || !strings.Contains(err.Error(), "not boolean") {
		t.Errorf("join on a number: %v", err)
	}
	if err := df.Join(df.Select(Col("id").As("k")), Col("id").EqualTo(Col("k")), "sideways").Err(); err == nil || !strings.Contains(err.Error(), "left_anti") {
		t.Errorf("bad join type: %v", err)
	}
	if err := df.GroupBy(Col("customer")).Agg(Col("id")).Err(); !errors.Is(err, expr.ErrAggregate) {
		t.Errorf("non-aggregate in Agg: %v", err)
	}
	if err := df.Select(Col("id").When(Col("id").Gt(1), 1)).Err(); err == nil {
		t.Error("When on a non-CASE column accepted")
	}
	if err := df.Select(Lit(struct{}{})).Err(); !errors.Is(err, expr.ErrType) {
		t.Errorf("bad literal: %v", err)
	}
	if err := df.Select(Column{}).Err(); err == nil {
		t.Error("empty Column accepted")
	}
	if err := df.Union(df.Select(Col("id"))).Err(); err == nil {
		t.Error("union of different widths accepted")
	}
}

func TestSessionOptions(t *testing.T) {
	ec, err := engine.New(engine.Slots(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	for _, tc := range []struct {
		opt Option
		msg string
	}{
		{ShufflePartitions(0), "ShufflePartitions must be at least 1"},
		{BatchRows(0), "BatchRows must be at least 1"},
		{BroadcastRowThreshold(-1), "BroadcastRowThreshold must be at least 0"},
		{DefaultParallelism(0), "DefaultParallelism must be at least 1"},
		{WithAllocator(nil), "WithAllocator"},
		{WithClock(nil), "WithClock"},
	} {
		if _, err := NewSession(ec, tc.opt); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("got %v, want %q", err, tc.msg)
		}
	}
	if _, err := NewSession(nil); err == nil {
		t.Error("nil engine accepted")
	}
}

func TestOperationsAndSmallBatches(t *testing.T) {
	// Tiny batches and one shuffle partition exercise batch boundaries.
	s := newSession(t, BatchRows(2), ShufflePartitions(1), BroadcastRowThreshold(0))
	ctx := context.Background()
	p := CreateDataFrame(s, people)
	check := func(name string, df *DataFrame, want string) {
		t.Helper()
		rows, err := df.Collect(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var parts []string
		for _, r := range rows {
			var cells []string
			for _, v := range r {
				cells = append(cells, FormatValue(v))
			}
			parts = append(parts, strings.Join(cells, ","))
		}
		if got := strings.Join(parts, ";"); got != want {
			t.Errorf("%s: got %s, want %s", name, got, want)
		}
	}
	check("renamed missing", p.WithColumnRenamed("nope", "x").Select(Col("name")).Limit(1), "alice")
	check("drop unknown", p.Drop("nope", "tags", "score", "city").Limit(2), "alice,34;bob,28")
	check("distinct", p.Select(Col("age")).Distinct().OrderBy(Col("age").DescNullsFirst()), "null;51;45;34;28")
	check("dedup keeps first", p.DropDuplicates("city").Select(Col("city"), Col("name")).OrderBy(Col("city")), "Berlin,bob;Paris,alice;Rome,dave")
	check("order nulls last", p.OrderBy(Col("age").AscNullsLast()).Select(Col("name")).Limit(1).Union(p.Select(Col("name")).Limit(1)), "bob;alice")
	check("take", p.Select(Col("name")).OrderBy(Col("name").Desc()).Limit(2), "frank;erin")
	check("self join shuffled", p.Select(Col("name"), Col("city")).Join(p.Select(Col("city").As("c2"), Col("name").As("n2")),
		Col("city").EqualTo(Col("c2")).And(Col("name").Lt(Col("n2"))), "inner").Select(Col("name"), Col("n2")).OrderBy(Col("name"), Col("n2")),
		"alice,carol;alice,frank;bob,erin;carol,frank")
	check("cross join", p.Select(Col("name")).Limit(2).CrossJoin(p.Select(Col("age").As("a")).Where(Col("a").Gt(44))).OrderBy(Col("name"), Col("a")),
		"alice,45;alice,51;bob,45;bob,51")
	check("range join", p.Select(Col("name"), Col("score")).Join(p.Select(Col("name").As("n2"), Col("score").As("s2")),
		Col("s2").Gt(Col("score").Plus(20)), "left_semi").OrderBy(Col("name")).Select(Col("name")), "bob;dave;erin;frank")
	check("group sum avg min max", p.GroupBy(Col("city")).Max("score").OrderBy(Col("city")), "Berlin,70.0;Paris,90.25;Rome,55.5")
	check("count all", p.GroupBy().Count(), "6")
	rows, err := p.Take(ctx, 2)
	if err != nil || len(rows) != 2 {
		t.Errorf("Take: %v %v", rows, err)
	}
	var n atomic.Int64
	if err := p.ForeachBatch(ctx, func(_ context.Context, _ int, b arrow.RecordBatch) error {
		if b.NumRows() > 2 {
			t.Errorf("batch of %d rows with BatchRows(2)", b.NumRows())
		}
		n.Add(b.NumRows())
		return nil
	}); err != nil || n.Load() != 6 {
		t.Errorf("ForeachBatch: %d %v", n.Load(), err)
	}
}

func TestCreateFromBatchesKeepsOwnership(t *testing.T) {
	s := newSession(t)
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var batches []arrow.RecordBatch
	for i := range 3 {
		b := array.NewRecordBuilder(alloc, schema)
		b.Field(0).(*array.Int64Builder).AppendValues([]int64{int64(i), int64(i * 10)}, nil)
		batches = append(batches, b.NewRecordBatch())
		b.Release()
	}
	df := CreateDataFrameFromBatches(s, schema, batches)
	for _, b := range batches {
		b.Release() // the DataFrame holds its own references
	}
	rows, err := df.Agg(Sum(Col("v")).As("s")).Collect(context.Background())
	if err != nil || rows[0][0] != int64(33) {
		t.Fatalf("got %v %v", rows, err)
	}
	// The relation's references go away with the DataFrame; drop them
	// explicitly so the checked allocator can tell.
	rel := df.Plan().(*plan.LocalRelation)
	for _, p := range rel.Partitions {
		for _, b := range p {
			b.Release()
		}
	}
	bad := arrow.NewSchema([]arrow.Field{{Name: "w", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	b.Field(0).(*array.Int64Builder).Append(1)
	rb := b.NewRecordBatch()
	b.Release()
	if err := CreateDataFrameFromBatches(s, bad, []arrow.RecordBatch{rb}).Err(); err == nil {
		t.Error("schema mismatch accepted")
	}
	rb.Release()
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "null"}, {1.0, "1.0"}, {-2.5, "-2.5"}, {1e7, "1.0E7"}, {1.25e-4, "1.25E-4"}, {float32(0.5), "0.5"},
		{12345678.9, "1.23456789E7"}, {int64(3), "3"}, {true, "true"}, {[]byte("hi"), "[68 69]"},
		{[]any{int64(1), nil}, "[1, null]"}, {t0, "2026-03-14 09:26:53"}, {t0.Add(1500 * time.Microsecond), "2026-03-14 09:26:53.0015"},
	} {
		if got := FormatValue(tc.v); got != tc.want {
			t.Errorf("FormatValue(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestAliasSelfJoin(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	type emp struct {
		ID      int64  `spate:"id"`
		Name    string `spate:"name"`
		Manager *int64 `spate:"manager"`
	}
	emps := CreateDataFrame(s, []emp{{1, "ann", nil}, {2, "bob", i64(1)}, {3, "cyd", i64(1)}, {4, "dan", i64(2)}})
	a, b := emps.Alias("e"), emps.Alias("m")
	q := a.Join(b, Col("e.manager").EqualTo(Col("m.id")), "left").
		Where(Col("e.id").Gt(1).Or(Col("m.name").IsNull())).
		Select(Col("e.name"), Col("m.name").As("manager")).OrderBy(Col("name"))
	var sb strings.Builder
	if err := q.ShowTo(ctx, &sb, 10, true); err != nil {
		t.Fatal(err)
	}
	want := `+----+-------+
|name|manager|
+----+-------+
| ann|   null|
| bob|    ann|
| cyd|    ann|
| dan|    bob|
+----+-------+
`
	if sb.String() != want {
		t.Errorf("got\n%s", sb.String())
	}
	ex, err := q.Explain()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ex, "HashJoin LeftOuter, [e.manager = m.id]") {
		t.Errorf("not a hash join on the qualified keys:\n%s", ex)
	}
	// Unqualified, the shared names are ambiguous; the error says so.
	bad := a.Join(b, Col("manager").EqualTo(Col("m.id")), "inner").Select(Col("name"))
	var amb *expr.AmbiguousColumnError
	if !errors.As(bad.Err(), &amb) {
		t.Errorf("got %v, want an ambiguity error", bad.Err())
	}
	if err := emps.Alias("a.b").Err(); err == nil {
		t.Error("alias with a dot accepted")
	}
	// WithColumn and Drop on a joined frame with duplicate names.
	both := a.Join(b, Col("e.manager").EqualTo(Col("m.id")), "inner").Drop("m.manager").WithColumn("x", Lit(1))
	if got := strings.Join(both.Columns(), ","); got != "id,name,manager,id,name,x" {
		t.Errorf("columns %s", got)
	}
	if n, err := both.Count(ctx); err != nil || n != 3 {
		t.Errorf("count %d %v", n, err)
	}
}

func TestCache(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	var computed atomic.Int64
	r := rdd.Map(rdd.Parallelize(s.Engine(), orders, 2), func(o order) order { computed.Add(1); return o })
	cached := CreateDataFrameFromRDD(s, r).Where(Col("amount").Gt(10)).Cache()
	defer cached.Unpersist()
	for range 3 {
		n, err := cached.Count(ctx)
		if err != nil || n != 4 {
			t.Fatalf("count %d %v", n, err)
		}
	}
	rows, err := cached.GroupBy(Col("customer")).Count().OrderBy(Col("customer")).Collect(ctx)
	if err != nil || len(rows) != 3 {
		t.Fatalf("rows %v %v", rows, err)
	}
	if c := computed.Load(); c != int64(len(orders)) {
		t.Errorf("the RDD was computed for %d records, want %d (once)", c, len(orders))
	}
	ex, err := cached.Select(Col("id")).Explain()
	if err != nil || !strings.Contains(ex, "InMemoryRelation") {
		t.Errorf("explain: %v\n%s", err, ex)
	}
	cached.Unpersist()
	if n, err := cached.Count(ctx); err != nil || n != 4 || computed.Load() != 2*int64(len(orders)) {
		t.Errorf("after Unpersist: %d %v, computed %d", n, err, computed.Load())
	}
}

func TestBroadcastHint(t *testing.T) {
	s := newSession(t, BroadcastRowThreshold(0))
	p, o := CreateDataFrame(s, people), CreateDataFrame(s, orders)
	plain := o.Join(p.Select(Col("name"), Col("city")), Col("customer").EqualTo(Col("name")), "inner")
	hinted := o.Join(Broadcast(p.Select(Col("name"), Col("city"))), Col("customer").EqualTo(Col("name")), "inner")
	for df, want := range map[*DataFrame]string{plain: "ShuffledHashJoin", hinted: "BroadcastHashJoin"} {
		ex, err := df.Explain()
		if err != nil || !strings.Contains(ex, want) {
			t.Errorf("want %s:\n%s %v", want, ex, err)
		}
	}
	a, err := plain.OrderBy(Col("id")).Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := hinted.OrderBy(Col("id")).Collect(context.Background())
	if err != nil || !reflect.DeepEqual(a, b) || len(a) != 4 {
		t.Errorf("hinted join: %v %v, plain %v", b, err, a)
	}
}
