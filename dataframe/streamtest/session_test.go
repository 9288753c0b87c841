package streamtest_test

import (
	"testing"
	"time"

	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/dataframe/streamtest"
)

func sessionCounts(in *dataframe.DataFrame) *dataframe.DataFrame {
	return in.WithWatermark("ts", 5*time.Second).
		GroupBy(dataframe.SessionWindow(dataframe.Col("ts"), 10*time.Second), dataframe.Col("word")).
		Agg(dataframe.CountAll().As("n"), dataframe.Max(dataframe.Col("ts")).As("last"))
}

// Sessions in append mode: written once, when the watermark passes their
// end; a row that bridges two sessions merges them; a late row is
// dropped; a restart in the middle keeps the open sessions.
func TestSessionWindowsAppend(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0).UTC() }
	streamtest.Run(t, []event{}, sessionCounts,
		streamtest.AddData([]event{{at(1), "a"}, {at(5), "a"}, {at(30), "a"}, {at(2), "b"}}), // a: [1,15) [30,40); b: [2,12); watermark 25
		streamtest.CheckNewAnswer(streamtest.Row(at(1), at(15), "a", 2, at(5)), streamtest.Row(at(2), at(12), "b", 1, at(2))),
		streamtest.AddData([]event{{at(45), "a"}, {at(20), "late"}}), // [45,55) does not overlap [30,40); the late row is dropped; watermark 40
		streamtest.CheckNewAnswer(streamtest.Row(at(30), at(40), "a", 1, at(30))),
		streamtest.StopStream(),
		streamtest.StartStream(),
		streamtest.AddData([]event{{at(60), "a"}, {at(52), "a"}}), // 52 bridges [45,55) and [60,70): one session [45,70); watermark 55
		streamtest.CheckNewAnswer(),
		streamtest.AddData([]event{{at(90), "b"}}), // watermark 85: [45,70) is final
		streamtest.CheckNewAnswer(streamtest.Row(at(45), at(70), "a", 3, at(60))),
	)
}

// Sessions in update mode: every batch writes the sessions it changed,
// with their new bounds.
func TestSessionWindowsUpdate(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0).UTC() }
	streamtest.Run(t, []event{}, sessionCounts,
		streamtest.OutputMode("update"),
		streamtest.AddData([]event{{at(1), "a"}, {at(3), "b"}}),
		streamtest.CheckLastBatch(streamtest.Row(at(1), at(11), "a", 1, at(1)), streamtest.Row(at(3), at(13), "b", 1, at(3))),
		streamtest.AddData([]event{{at(8), "a"}}), // extends a's session; b's is not written again
		streamtest.CheckLastBatch(streamtest.Row(at(1), at(18), "a", 2, at(8))),
	)
}

// Sessions in complete mode: every batch writes every session.
func TestSessionWindowsComplete(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0).UTC() }
	streamtest.Run(t, []event{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.GroupBy(dataframe.SessionWindow(dataframe.Col("ts"), 10*time.Second)).Count()
	},
		streamtest.OutputMode("complete"),
		streamtest.AddData([]event{{at(1), "a"}, {at(30), "b"}}),
		streamtest.CheckLastBatch(streamtest.Row(at(1), at(11), 1), streamtest.Row(at(30), at(40), 1)),
		streamtest.AddData([]event{{at(12), "c"}, {at(21), "d"}}), // [12,22) [21,31) bridge the two sessions
		streamtest.CheckLastBatch(streamtest.Row(at(1), at(11), 1), streamtest.Row(at(12), at(40), 3)),
	)
}

type maybeWord struct {
	TS   time.Time `spate:"ts"`
	Word *string   `spate:"word"`
}

// Sessions in update mode keep a null key a group of its own, as Spark
// does: the batch's sessions of the null word are written too.
func TestSessionWindowsUpdateNullKey(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0).UTC() }
	a := "a"
	streamtest.Run(t, []maybeWord{}, func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.WithWatermark("ts", 5*time.Second).
			GroupBy(dataframe.SessionWindow(dataframe.Col("ts"), 10*time.Second), dataframe.Col("word")).Count()
	},
		streamtest.OutputMode("update"),
		streamtest.AddData([]maybeWord{{at(1), &a}, {at(3), nil}}),
		streamtest.CheckLastBatch(streamtest.Row(at(1), at(11), "a", 1), streamtest.Row(at(3), at(13), nil, 1)),
		streamtest.AddData([]maybeWord{{at(8), nil}}), // extends the null word's session
		streamtest.CheckLastBatch(streamtest.Row(at(3), at(18), nil, 2)),
	)
}
