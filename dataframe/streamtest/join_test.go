package streamtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/dataframe/streamtest"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/streaming"
)

type impression struct {
	Ad  string    `spate:"ad"`
	ITS time.Time `spate:"its"`
}

type adClick struct {
	ClickAd string    `spate:"click_ad"`
	CTS     time.Time `spate:"cts"`
}

func adStreams(t *testing.T) (*streaming.MemoryStream, *streaming.MemoryStream) {
	t.Helper()
	imps := streaming.NewMemoryStream(arrow.NewSchema([]arrow.Field{
		{Name: "ad", Type: arrow.BinaryTypes.String}, {Name: "its", Type: expr.TimestampType},
	}, nil), "impressions")
	clicks := streaming.NewMemoryStream(arrow.NewSchema([]arrow.Field{
		{Name: "click_ad", Type: arrow.BinaryTypes.String}, {Name: "cts", Type: expr.TimestampType},
	}, nil), "clicks")
	t.Cleanup(func() { imps.Close(); clicks.Close() })
	return imps, clicks
}

// clicksOnImpressions is Spark's ad monetization join: a click matches an
// impression of its ad up to 20 s after it; both streams have a 10 s
// watermark.
func clicksOnImpressions(imps, clicks *streaming.MemoryStream, how string) func(s *dataframe.Session) *dataframe.DataFrame {
	return func(s *dataframe.Session) *dataframe.DataFrame {
		i := s.StreamFrom(imps).WithWatermark("its", 10*time.Second)
		c := s.StreamFrom(clicks).WithWatermark("cts", 10*time.Second)
		cond := dataframe.Col("ad").EqualTo(dataframe.Col("click_ad")).
			And(dataframe.Col("cts").Geq(dataframe.Col("its"))).
			And(dataframe.Col("cts").Leq(dataframe.TimestampAdd(dataframe.Col("its"), 20*time.Second)))
		return i.Join(c, cond, how).Select(dataframe.Col("ad"), dataframe.Col("its"), dataframe.Col("cts"))
	}
}

func at(s int) time.Time { return time.Unix(int64(s), 0).UTC() }

// An inner stream-stream join writes each pair once, in the batch that
// brings its later row, whichever side that is; buffered rows survive a
// restart and leave the state once the watermark passes their bound.
func TestStreamStreamInnerJoin(t *testing.T) {
	imps, clicks := adStreams(t)
	streamtest.RunQuery(t, clicksOnImpressions(imps, clicks, "inner"),
		streamtest.AddDataTo(imps, []impression{{"a", at(100)}, {"b", at(101)}}),
		streamtest.CheckNewAnswer(),
		streamtest.AddDataTo(clicks, []adClick{{"a", at(105)}, {"b", at(99)}}), // b's click is before its impression
		streamtest.CheckNewAnswer(streamtest.Row("a", at(100), at(105))),
		streamtest.StopStream(),
		streamtest.StartStream(),
		streamtest.AddDataTo(clicks, []adClick{{"a", at(118)}, {"a", at(121)}}), // 121 is more than 20 s after 100
		streamtest.CheckNewAnswer(streamtest.Row("a", at(100), at(118))),
		streamtest.AddDataTo(imps, []impression{{"a", at(115)}}), // matches the buffered clicks 118 and 121
		streamtest.CheckNewAnswer(streamtest.Row("a", at(115), at(118)), streamtest.Row("a", at(115), at(121))),
	)
}

// A left outer join writes an impression without a click, with a null
// click time, once the watermark shows no click can match it any more.
func TestStreamStreamLeftOuterJoin(t *testing.T) {
	imps, clicks := adStreams(t)
	streamtest.RunQuery(t, clicksOnImpressions(imps, clicks, "left_outer"),
		streamtest.AddDataTo(imps, []impression{{"a", at(100)}, {"b", at(101)}}),
		streamtest.AddDataTo(clicks, []adClick{{"a", at(110)}}), // watermark: min(101, 110) - 10 = 91
		streamtest.CheckNewAnswer(streamtest.Row("a", at(100), at(110))),
		streamtest.AddDataTo(imps, []impression{{"c", at(200)}}),
		streamtest.AddDataTo(clicks, []adClick{{"c", at(205)}}), // watermark: min(200, 205) - 10 = 190 > 101 + 20
		streamtest.CheckNewAnswer(streamtest.Row("b", at(101), nil), streamtest.Row("c", at(200), at(205))),
	)
}

// An outer join of two streams without time bounds cannot know when a
// row has no match: Start says what to add.
func TestStreamStreamOuterJoinNeedsBounds(t *testing.T) {
	imps, clicks := adStreams(t)
	var got error
	streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
		return s.StreamFrom(imps).Join(s.StreamFrom(clicks), dataframe.Col("ad").EqualTo(dataframe.Col("click_ad")), "left_outer")
	}, streamtest.OnStartFailure(func(err error) error { got = err; return nil }))
	if got == nil || !strings.Contains(got.Error(), "outer join of two streams needs a watermark") {
		t.Errorf("start error = %v", got)
	}
}

// Clicks per ad in 10 s windows over the joined stream, in append mode:
// the aggregation waits for the join's time bound (20 s) beyond the
// watermark before it writes a window, so no late pair reopens one.
func TestAggregationOverStreamStreamJoin(t *testing.T) {
	imps, clicks := adStreams(t)
	join := clicksOnImpressions(imps, clicks, "inner")
	streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
		return join(s).GroupBy(dataframe.Window(dataframe.Col("its"), 10*time.Second), dataframe.Col("ad")).Count()
	},
		streamtest.AddDataTo(imps, []impression{{"a", at(100)}, {"b", at(102)}}),
		streamtest.AddDataTo(clicks, []adClick{{"a", at(101)}, {"a", at(103)}}), // watermark 92
		streamtest.CheckNewAnswer(),
		streamtest.AddDataTo(imps, []impression{{"c", at(140)}}),
		streamtest.AddDataTo(clicks, []adClick{{"b", at(121)}, {"c", at(141)}}), // watermark 130: windows ending by 110 are final
		streamtest.CheckNewAnswer(streamtest.Row(at(100), at(110), "a", 2), streamtest.Row(at(100), at(110), "b", 1)),
	)
}

// Deduplication within the watermark: a click id seen again within the
// delay is dropped even with another event time; after the watermark
// passes its first time plus the delay it is forgotten.
func TestDropDuplicatesWithinWatermark(t *testing.T) {
	streamtest.Run(t, []event{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.WithWatermark("ts", 10*time.Second).DropDuplicatesWithinWatermark("word")
	},
		streamtest.AddData([]event{{at(100), "a"}, {at(101), "a"}, {at(100), "b"}}), // watermark 91
		streamtest.CheckNewAnswer(streamtest.Row(at(100), "a"), streamtest.Row(at(100), "b")),
		streamtest.AddData([]event{{at(108), "a"}, {at(115), "c"}}), // a is still remembered (until 110); watermark 105
		streamtest.CheckNewAnswer(streamtest.Row(at(115), "c")),
		streamtest.StopStream(),
		streamtest.StartStream(),
		streamtest.AddData([]event{{at(130), "x"}}), // watermark 120: a's and b's expiry (110) passed
		streamtest.CheckNewAnswer(streamtest.Row(at(130), "x")),
		streamtest.AddData([]event{{at(125), "a"}, {at(126), "c"}}), // a is new again; c (expires 125) was evicted at 120? no: 125 > 120
		streamtest.CheckNewAnswer(streamtest.Row(at(125), "a")),
	)
}

// Two inputs with watermarks: by default the query's watermark follows
// the slower one, so its rows are not dropped as late; with the max
// policy it follows the faster one.
func TestWatermarkOfTwoInputs(t *testing.T) {
	for _, tc := range []struct {
		policy      string
		first, next [][]any
	}{
		{"min", nil, [][]any{streamtest.Row(at(50), at(60), 2)}},
		{"max", [][]any{streamtest.Row(at(50), at(60), 1)}, [][]any{streamtest.Row(at(100), at(110), 1)}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			web, app := eventStream(t, "web"), eventStream(t, "app")
			streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
				w := s.StreamFrom(web).WithWatermark("ts", 5*time.Second)
				a := s.StreamFrom(app).WithWatermark("ts", 5*time.Second)
				return w.Union(a).GroupBy(dataframe.Window(dataframe.Col("ts"), 10*time.Second)).Count()
			}, streamtest.WriterOption("multipleWatermarkPolicy", tc.policy),
				streamtest.AddDataTo(web, []event{{at(100), "w"}}),
				streamtest.AddDataTo(app, []event{{at(50), "a"}}), // min: 45; max: 95, which ends [50,60)
				streamtest.CheckNewAnswer(tc.first...),
				streamtest.AddDataTo(app, []event{{at(52), "a"}}), // min: not late; max: late, dropped
				streamtest.AddDataTo(app, []event{{at(300), "a"}}),
				streamtest.CheckNewAnswer(tc.next...), // min: 95 ends [50,60); max: 295 ends [100,110)
			)
		})
	}
}

func eventStream(t *testing.T, name string) *streaming.MemoryStream {
	t.Helper()
	in := streaming.NewMemoryStream(arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: expr.TimestampType}, {Name: "word", Type: arrow.BinaryTypes.String},
	}, nil), name)
	t.Cleanup(func() { in.Close() })
	return in
}

// A full outer join writes the rows of either side that never matched
// once the watermark ends them, across a restart.
func TestStreamStreamFullOuterJoin(t *testing.T) {
	imps, clicks := adStreams(t)
	streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
		i := s.StreamFrom(imps).WithWatermark("its", 10*time.Second)
		c := s.StreamFrom(clicks).WithWatermark("cts", 10*time.Second)
		cond := dataframe.Col("ad").EqualTo(dataframe.Col("click_ad")).
			And(dataframe.Col("cts").Geq(dataframe.Col("its"))).
			And(dataframe.Col("cts").Leq(dataframe.TimestampAdd(dataframe.Col("its"), 20*time.Second)))
		return i.Join(c, cond, "full_outer")
	},
		streamtest.AddDataTo(imps, []impression{{"a", at(100)}, {"b", at(101)}}),
		streamtest.AddDataTo(clicks, []adClick{{"a", at(110)}, {"z", at(102)}}), // watermark 91
		streamtest.CheckNewAnswer(streamtest.Row("a", at(100), "a", at(110))),
		streamtest.StopStream(),
		streamtest.StartStream(),
		streamtest.AddDataTo(imps, []impression{{"c", at(300)}}),
		streamtest.AddDataTo(clicks, []adClick{{"c", at(301)}}), // watermark 290 ends every earlier row
		streamtest.CheckNewAnswer(
			streamtest.Row("b", at(101), nil, nil),
			streamtest.Row(nil, nil, "z", at(102)),
			streamtest.Row("c", at(300), "c", at(301)),
		),
	)
}

// Nexmark's q5 shape: the bids per item in 10 s windows, the largest
// count per window (an aggregation over the first), and the items with
// that count (a join of the two aggregations on the window's end, which
// bounds both sides' rows). Each window's hot items are written once,
// when the watermark passes its end, across a restart.
func TestJoinOverAggregations(t *testing.T) {
	col := dataframe.Col
	bids := eventStream(t, "bids")
	streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
		counts := s.StreamFrom(bids).WithWatermark("ts", 5*time.Second).
			GroupBy(dataframe.Window(col("ts"), 10*time.Second), col("word")).Count()
		maxes := counts.GroupBy(col("window_start"), col("window_end")).Agg(dataframe.Max(col("count")).As("maxn")).
			Select(col("window_end").As("max_end"), col("maxn"))
		return counts.Join(maxes, col("window_end").EqualTo(col("max_end")).And(col("count").Geq(col("maxn"))), "inner").
			Select(col("window_start"), col("word"), col("count"))
	},
		streamtest.AddDataTo(bids, []event{{at(101), "a"}, {at(102), "a"}, {at(103), "b"}, {at(111), "c"}}), // watermark 106
		streamtest.CheckNewAnswer(),
		streamtest.AddDataTo(bids, []event{{at(107), "b"}, {at(108), "b"}, {at(104), "late"}, {at(125), "c"}}), // watermark 120
		streamtest.CheckNewAnswer(streamtest.Row(at(100), "b", 3), streamtest.Row(at(110), "c", 1)),
		streamtest.StopStream(),
		streamtest.StartStream(),
		streamtest.AddDataTo(bids, []event{{at(130), "d"}, {at(131), "d"}, {at(132), "e"}, {at(133), "e"}, {at(150), "x"}}), // watermark 145
		streamtest.CheckNewAnswer(streamtest.Row(at(120), "c", 1), streamtest.Row(at(130), "d", 2), streamtest.Row(at(130), "e", 2)),
	)
}

// A join bounded by event-time columns in milliseconds keeps its rows
// until the watermark passes them (it compared the columns' raw values
// with the watermark in microseconds, evicting every row at once).
func TestStreamStreamJoinMillisecondTimes(t *testing.T) {
	col, ms := dataframe.Col, arrow.FixedWidthTypes.Timestamp_ms
	imps, clicks := adStreams(t)
	streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
		i := s.StreamFrom(imps).Select(col("ad"), col("its").Cast(ms).As("its")).WithWatermark("its", 10*time.Second)
		c := s.StreamFrom(clicks).Select(col("click_ad"), col("cts").Cast(ms).As("cts")).WithWatermark("cts", 10*time.Second)
		cond := col("ad").EqualTo(col("click_ad")).And(col("cts").Geq(col("its"))).
			And(col("cts").Leq(dataframe.TimestampAdd(col("its"), 20*time.Second)))
		return i.Join(c, cond, "inner").Select(col("ad"), col("its").Cast(expr.TimestampType), col("cts").Cast(expr.TimestampType))
	},
		streamtest.AddDataTo(imps, []impression{{"a", at(100)}}),
		streamtest.AddDataTo(clicks, []adClick{{"x", at(110)}}), // watermark 100: the impression may still get clicks until 120
		streamtest.CheckNewAnswer(),
		streamtest.AddDataTo(clicks, []adClick{{"a", at(112)}}),
		streamtest.CheckNewAnswer(streamtest.Row("a", at(100), at(112))),
	)
}
