package dstream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/rdd"
)

// TestNilStreamsGiveErrors checks that passing a nil stream to an
// operation gives an error naming the operation, not a panic.
func TestNilStreamsGiveErrors(t *testing.T) {
	var s *dstream.DStream[string]
	var p *dstream.DStream[rdd.Pair[string, int]]
	sum := func(a, b int) int { return a + b }
	cases := []struct {
		op  string
		err error
	}{
		{"Map", dstream.Map(s, strings.ToUpper).Err()},
		{"Filter", s.Filter(func(string) bool { return true }).Err()},
		{"Window", s.Window(time.Second, time.Second).Err()},
		{"ReduceByKey", dstream.ReduceByKey(p, sum).Err()},
		{"Join", dstream.Join(p, p).Err()},
		{"Transform", dstream.Transform(s, func(r *rdd.RDD[string], _ time.Time) *rdd.RDD[string] { return r }).Err()},
		{"TransformWith", dstream.TransformWith(s, p, func(a *rdd.RDD[string], _ *rdd.RDD[rdd.Pair[string, int]], _ time.Time) *rdd.RDD[string] { return a }).Err()},
		{"ReduceByKeyAndWindow", dstream.ReduceByKeyAndWindow(p, sum, time.Second, time.Second).Err()},
		{"ReduceByKeyAndWindowInv", dstream.ReduceByKeyAndWindowInv(p, sum, sum, time.Second, time.Second).Err()},
		{"GroupByKeyAndWindow", dstream.GroupByKeyAndWindow(p, time.Second, time.Second).Err()},
		{"UpdateStateByKey", dstream.UpdateStateByKey(p, func([]int, int, bool) (int, bool) { return 0, true }).Err()},
		{"MapWithState", dstream.MapWithState(p, dstream.StateSpec[string, int, int, int]{Func: func(time.Time, string, int, *dstream.State[int]) int { return 0 }}).Err()},
		{"ForeachRDD", s.ForeachRDD(func(context.Context, *rdd.RDD[string], time.Time) error { return nil })},
		{"Slice", func() error { _, err := s.Slice(time.Time{}, time.Time{}); return err }()},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.op) || !strings.Contains(c.err.Error(), "stream must not be nil") {
			t.Errorf("%s on a nil stream: err = %v, want one naming %s and the nil stream", c.op, c.err, c.op)
		}
	}
	if s.Persist() != nil {
		t.Error("Persist of a nil stream returned a stream")
	}
}
