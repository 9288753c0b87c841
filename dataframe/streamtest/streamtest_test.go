package streamtest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/dataframe/streamtest"
)

type click struct {
	User   string `spate:"user"`
	Amount int64  `spate:"amount"`
}

type event struct {
	TS   time.Time `spate:"ts"`
	Word string    `spate:"word"`
}

func TestAggregationCompleteModeAcrossARestart(t *testing.T) {
	streamtest.Run(t, []click{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.GroupBy(dataframe.Col("user")).Agg(dataframe.Sum(dataframe.Col("amount")).As("total"))
	}, streamtest.OutputMode("complete"),
		streamtest.AddData([]click{{"ann", 1}, {"bob", 2}, {"ann", 3}}),
		streamtest.CheckAnswer(streamtest.Row("ann", 4), streamtest.Row("bob", 2)),
		streamtest.StopStream(),
		streamtest.AddData([]click{{"bob", 5}}),
		streamtest.StartStream(),
		streamtest.CheckAnswer(streamtest.Row("ann", 4), streamtest.Row("bob", 7)),
	)
}

func TestStatelessAppend(t *testing.T) {
	streamtest.Run(t, []click{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.Where(dataframe.Col("amount").Gt(1)).Select(dataframe.Col("user"))
	},
		streamtest.AddData([]click{{"ann", 1}, {"bob", 2}}),
		streamtest.CheckNewAnswer(streamtest.Row("bob")),
		streamtest.AddData([]click{{"cid", 3}}),
		streamtest.CheckNewAnswer(streamtest.Row("cid")),
		streamtest.CheckAnswer(streamtest.Row("bob"), streamtest.Row("cid")),
		streamtest.CheckLastBatch(streamtest.Row("cid")),
	)
}

func TestWindowsWithWatermarkAppend(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0).UTC() }
	streamtest.Run(t, []event{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.WithWatermark("ts", 5*time.Second).GroupBy(dataframe.Window(dataframe.Col("ts"), 10*time.Second)).Count()
	},
		streamtest.AddData([]event{{at(3), "a"}, {at(12), "b"}}), // watermark after: 7 s
		streamtest.CheckNewAnswer(),
		streamtest.AddData([]event{{at(16), "c"}, {at(2), "late"}}), // the late row is dropped; watermark: 11 s
		streamtest.CheckNewAnswer(streamtest.Row(at(0), at(10), 1)),
		streamtest.AddData([]event{{at(40), "d"}}), // watermark: 35 s
		streamtest.CheckNewAnswer(streamtest.Row(at(10), at(20), 2)),
	)
}

// Counts per (window, word), then the highest count per window: the first
// aggregation writes a window's counts once, when the watermark passes its
// end, and the second one aggregates those final rows (in append mode
// writing each window's maximum once, in update mode as it changes).
func TestAggregationOverAnAggregation(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0).UTC() }
	top := func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.WithWatermark("ts", 5*time.Second).
			GroupBy(dataframe.Window(dataframe.Col("ts"), 10*time.Second), dataframe.Col("word")).Count().
			GroupBy(dataframe.Col("window_start"), dataframe.Col("window_end")).
			Agg(dataframe.Max(dataframe.Col("count")).As("top"), dataframe.Count(dataframe.Col("word")).As("words"))
	}
	for _, mode := range []string{"append", "update"} {
		t.Run(mode, func(t *testing.T) {
			streamtest.Run(t, []event{}, top, streamtest.OutputMode(mode),
				streamtest.AddData([]event{{at(1), "a"}, {at(2), "a"}, {at(3), "b"}, {at(12), "b"}}), // watermark after: 7 s
				streamtest.CheckNewAnswer(),
				streamtest.StopStream(),
				streamtest.AddData([]event{{at(16), "c"}, {at(4), "late"}, {at(13), "c"}, {at(14), "c"}}), // watermark: 11 s
				streamtest.StartStream(),
				streamtest.CheckNewAnswer(streamtest.Row(at(0), at(10), 2, 2)),
				streamtest.AddData([]event{{at(40), "d"}}), // watermark: 35 s
				streamtest.CheckNewAnswer(streamtest.Row(at(10), at(20), 3, 2)),
				streamtest.CheckAnswer(streamtest.Row(at(0), at(10), 2, 2), streamtest.Row(at(10), at(20), 3, 2)),
			)
		})
	}
}

// A deduplication over a windowed count: each count is written once, for
// the first window that has it.
func TestDeduplicationOverAnAggregation(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0).UTC() }
	streamtest.Run(t, []event{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.WithWatermark("ts", 5*time.Second).
			GroupBy(dataframe.Window(dataframe.Col("ts"), 10*time.Second)).Count().
			DropDuplicates("count").Select(dataframe.Col("count"))
	},
		streamtest.AddData([]event{{at(1), "a"}, {at(2), "b"}, {at(12), "c"}}), // watermark after: 7 s
		streamtest.CheckNewAnswer(),
		streamtest.AddData([]event{{at(16), "d"}, {at(30), "e"}}), // watermark: 25 s; [0, 10) and [10, 20) end
		streamtest.CheckNewAnswer(streamtest.Row(2)),              // both have 2 rows
		streamtest.AddData([]event{{at(50), "f"}}),                // watermark: 45 s; [30, 40) ends
		streamtest.CheckNewAnswer(streamtest.Row(1)),
	)
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, to test that Run reports a failing step.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestAFailingStepIsReported(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		streamtest.Run(rec, []click{}, func(in *dataframe.DataFrame) *dataframe.DataFrame { return in },
			streamtest.AddData([]click{{"ann", 1}}),
			streamtest.CheckAnswer(streamtest.Row("bob", 1)),
		)
	}()
	<-done
	if !strings.Contains(rec.msg, "step 2, CheckAnswer") || !strings.Contains(rec.msg, "[ann, 1]") {
		t.Errorf("Run reported %q", rec.msg)
	}
}

func TestDropDuplicatesAcrossBatchesAndRestart(t *testing.T) {
	streamtest.Run(t, []click{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.DropDuplicates("user")
	},
		streamtest.AddData([]click{{"ann", 1}, {"ann", 2}, {"bob", 3}}),
		streamtest.CheckNewAnswer(streamtest.Row("ann", 1), streamtest.Row("bob", 3)),
		streamtest.AddData([]click{{"bob", 4}, {"cid", 5}}),
		streamtest.CheckNewAnswer(streamtest.Row("cid", 5)),
		streamtest.StopStream(),
		streamtest.StartStream(),
		streamtest.AddData([]click{{"ann", 6}, {"dan", 7}}),
		streamtest.CheckNewAnswer(streamtest.Row("dan", 7)),
	)
}

func TestDropDuplicatesEvictsKeysPastTheWatermark(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0).UTC() }
	streamtest.Run(t, []event{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.WithWatermark("ts", 5*time.Second).DropDuplicates("word", "ts")
	},
		streamtest.AddData([]event{{at(1), "a"}, {at(1), "a"}, {at(2), "b"}}),
		streamtest.CheckNewAnswer(streamtest.Row(at(1), "a"), streamtest.Row(at(2), "b")),
		streamtest.AddData([]event{{at(2), "b"}, {at(20), "c"}}), // watermark after: 15 s
		streamtest.CheckNewAnswer(streamtest.Row(at(20), "c")),
		// (a, 1) is older than the watermark: dropped as late, not
		// compared with the evicted key.
		streamtest.AddData([]event{{at(1), "a"}, {at(21), "c"}}),
		streamtest.CheckNewAnswer(streamtest.Row(at(21), "c")),
	)
}
