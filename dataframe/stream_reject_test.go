package dataframe_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	. "github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/streaming"
)

// Every combination Start rejects fails with streaming.ErrUnsupported and
// a message that says what to change.
func TestStreamingRejections(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: expr.TimestampType}, {Name: "k", Type: arrow.BinaryTypes.String}}, nil)
	other := arrow.NewSchema([]arrow.Field{{Name: "ts2", Type: expr.TimestampType}, {Name: "k2", Type: arrow.BinaryTypes.String}}, nil)
	a, b := streaming.NewMemoryStream(schema, "a"), streaming.NewMemoryStream(other, "b")
	defer a.Close()
	defer b.Close()
	static := CreateDataFrame(s, []struct {
		K2 string `spate:"k2"`
	}{{"x"}})
	left, right := s.StreamFrom(a), s.StreamFrom(b)
	wl, wr := left.WithWatermark("ts", time.Second), right.WithWatermark("ts2", time.Second)
	on := Col("k").EqualTo(Col("k2"))
	if err := left.CreateOrReplaceTempView("reject_stream"); err != nil {
		t.Fatal(err)
	}
	if err := static.CreateOrReplaceTempView("reject_static"); err != nil {
		t.Fatal(err)
	}
	bounded := on.And(Col("ts2").Geq(Col("ts"))).And(Col("ts2").Leq(TimestampAdd(Col("ts"), time.Minute)))
	for _, tc := range []struct {
		name string
		df   *DataFrame
		mode string
		want string
	}{
		{"append aggregation without watermark", left.GroupBy(Col("k")).Count(), "append", "needs a watermark"},
		{"complete without aggregation", left, "complete", "complete output mode needs an aggregation"},
		{"sort", left.OrderBy(Col("k")), "append", "sorting a streaming DataFrame"},
		{"limit", left.Limit(3), "append", "Limit on a streaming DataFrame"},
		{"stream on the right of a left outer join", static.Join(left, on, "left_outer"), "append", "put the stream on the left"},
		{"full outer join with a static side", left.Join(static, on, "full_outer"), "append", "use inner or left outer"},
		{"outer stream join without watermarks", left.Join(right, on, "left_outer"), "append", "needs a watermark on both"},
		{"outer stream join without time bounds", wl.Join(wr, on, "right_outer"), "append", "bounds the event times"},
		{"stream join in update mode", wl.Join(wr, bounded, "inner"), "update", "append mode only"},
		{"semi join of streams", wl.Join(wr, bounded, "left_semi"), "append", "inner, left outer, right outer and full outer"},
		{"aggregation over an aggregation without a window", left.GroupBy(Col("k")).Count().GroupBy(Col("count")).Count(), "complete", "feeds another stateful operator"},
		{"outer join over an aggregation without time bounds", wl.GroupBy(Window(Col("ts"), time.Minute), Col("k")).Count().Join(wr, on, "left_outer"), "append", "bounds the event times"},
		{"append aggregation over an unbounded stream join", wl.Join(wr, on, "inner").GroupBy(Window(Col("ts"), time.Minute)).Count(), "append", "needs time bounds in the join's condition"},
		{"dedup within watermark without one", left.DropDuplicatesWithinWatermark("k"), "append", "needs a watermark"},
		{"intersect of a stream with a static DataFrame", left.Select(Col("k")).Intersect(static), "append", "INTERSECT/EXCEPT of a stream is not supported (as in Spark)"},
		{"except all with the stream on the right", static.ExceptAll(left.Select(Col("k"))), "append", "INTERSECT/EXCEPT of a stream is not supported"},
		{"except of two streams", left.Except(left), "append", "INTERSECT/EXCEPT of a stream is not supported"},
		{"SQL EXCEPT ALL of a stream", s.SQL("SELECT k FROM reject_stream EXCEPT ALL SELECT k2 FROM reject_static"), "append", "INTERSECT/EXCEPT of a stream is not supported"},
		{"unsupported aggregate", left.GroupBy(Col("k")).Agg(CollectList(Col("ts"))), "update", "not supported yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := tc.df.WriteStream().Format("memory").QueryName(strings.ReplaceAll(tc.name, " ", "_")).OutputMode(tc.mode).Start(ctx)
			if err == nil {
				q.Stop(ctx)
			}
			if !errors.Is(err, streaming.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start = %v, want ErrUnsupported saying %q", err, tc.want)
			}
		})
	}
}
