package rdd

import (
	"strings"
	"testing"
)

// TestNilRDDsGiveErrors checks that a nil RDD given to an operation or
// action gives an error naming it, not a panic.
func TestNilRDDsGiveErrors(t *testing.T) {
	ctx := testCtx(t)
	var r *RDD[int]
	var p *RDD[Pair[string, int]]
	sum := func(a, b int) int { return a + b }
	ec := newEngine(t)
	good := Parallelize(ec, []Pair[string, int]{KV("a", 1)}, 1)
	cases := []struct {
		op  string
		err error
	}{
		{"Map", Map(r, func(x int) int { return x }).Err()},
		{"FlatMap", FlatMap(r, func(x int) []int { return nil }).Err()},
		{"Filter", r.Filter(func(int) bool { return true }).Err()},
		{"Union", r.Union().Err()},
		{"Coalesce", r.Coalesce(1, false).Err()},
		{"Repartition", r.Repartition(1).Err()},
		{"Sample", r.Sample(false, 0.5, 1).Err()},
		{"Glom", Glom(r).Err()},
		{"ReduceByKey", ReduceByKey(p, sum).Err()},
		{"GroupByKey", GroupByKey(p).Err()},
		{"SortByKey", SortByKey(p, true).Err()},
		{"Distinct", Distinct(r).Err()},
		{"Join", Join(good, p).Err()},
		{"FullOuterJoin", FullOuterJoin(p, good).Err()},
		{"ZipPartitions", ZipPartitions[int, int, int](r, r, nil).Err()},
		{"Collect", func() error { _, err := r.Collect(ctx); return err }()},
		{"Count", func() error { _, err := r.Count(ctx); return err }()},
		{"Reduce", func() error { _, err := r.Reduce(ctx, sum); return err }()},
		{"Take", func() error { _, err := r.Take(ctx, 1); return err }()},
		{"First", func() error { _, err := r.First(ctx); return err }()},
		{"Foreach", r.Foreach(ctx, func(int) {})},
		{"SaveAsTextFile", r.SaveAsTextFile(ctx, t.TempDir()+"/out")},
		{"Aggregate", func() error { _, err := Aggregate(ctx, r, 0, sum, sum); return err }()},
		{"CountByKey", func() error { _, err := CountByKey(ctx, p); return err }()},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), "rdd."+c.op) || !strings.Contains(c.err.Error(), "must not be nil") {
			t.Errorf("%s on a nil RDD: err = %v, want one naming rdd.%s and the nil RDD", c.op, c.err, c.op)
		}
	}
	if r.Persist() != nil || r.Unpersist() != nil || r.ToDebugString() == "" {
		t.Error("Persist/Unpersist/ToDebugString of a nil RDD misbehaved")
	}
	if _, ok := r.Cached(); ok {
		t.Error("Cached of a nil RDD reported data")
	}
}
