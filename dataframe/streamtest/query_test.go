package streamtest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/dataframe/streamtest"
	"github.com/spate-io/spate/streaming"
)

// clickStream returns an empty memory stream of clicks, closed when the
// test ends.
func clickStream(t *testing.T, name string) *streaming.MemoryStream {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	in := streaming.NewMemoryStream(schema, name)
	t.Cleanup(func() { in.Close() })
	return in
}

// failingStream fails to read once fail is set.
type failingStream struct {
	*streaming.MemoryStream
	fail atomic.Bool
}

func (f *failingStream) Read(ctx context.Context, r connector.OffsetRange, emit func([]arrow.RecordBatch) error) error {
	if f.fail.Load() {
		return errors.New("the disk is on fire")
	}
	return f.MemoryStream.Read(ctx, r, emit)
}

func TestRunQueryOverTwoStreamsAcrossARestart(t *testing.T) {
	web, app := clickStream(t, "web"), clickStream(t, "app")
	var observed []string
	streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
		return s.StreamFrom(web).Union(s.StreamFrom(app)).
			GroupBy(dataframe.Col("user")).Agg(dataframe.Sum(dataframe.Col("amount")).As("total"))
	}, streamtest.OutputMode("update"),
		streamtest.AddDataTo(web, []click{{"ann", 1}, {"bob", 2}}),
		streamtest.CheckLastBatch(streamtest.Row("ann", 1), streamtest.Row("bob", 2)),
		streamtest.AddDataTo(app, []click{{"ann", 10}}),
		streamtest.CheckLastBatch(streamtest.Row("ann", 11)),
		streamtest.StopStream(),
		streamtest.AddDataTo(app, []click{{"bob", 5}}),
		streamtest.StartStream(), // the sums survive the restart
		streamtest.Observe(func(bs []streamtest.Batch, err error) error {
			for _, b := range bs {
				observed = append(observed, fmt.Sprint(b.ID, b.Rows))
			}
			return err
		}),
	)
	if got, want := strings.Join(observed, "; "), "2 [[bob 7]]"; got != want {
		t.Errorf("Observe saw %q, want %q", got, want)
	}
}

func TestAddDataWithoutAnInputFailsUnderRunQuery(t *testing.T) {
	in := clickStream(t, "in")
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		streamtest.RunQuery(rec, func(s *dataframe.Session) *dataframe.DataFrame { return s.StreamFrom(in) },
			streamtest.AddData([]click{{"ann", 1}}),
		)
	}()
	<-done
	if !strings.Contains(rec.msg, "step 1") || !strings.Contains(rec.msg, "AddDataTo") {
		t.Errorf("RunQuery reported %q", rec.msg)
	}
}

func TestObserveSeesTheQueryFailing(t *testing.T) {
	in := &failingStream{MemoryStream: clickStream(t, "in")}
	var got error
	streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
		return s.StreamFrom(in).Select(dataframe.Col("user"))
	},
		streamtest.AddDataTo(in.MemoryStream, []click{{"ann", 1}}),
		streamtest.Observe(func(bs []streamtest.Batch, err error) error {
			if err != nil || len(bs) != 1 || bs[0].ID != 0 || fmt.Sprint(bs[0].Rows) != "[[ann]]" {
				return fmt.Errorf("batches %v, error %v; want batch 0 with [ann]", bs, err)
			}
			return nil
		}),
		streamtest.Observe(func(bs []streamtest.Batch, err error) error {
			if err != nil || len(bs) != 0 {
				return fmt.Errorf("batches %v, error %v; want none", bs, err)
			}
			in.fail.Store(true)
			return nil
		}),
		streamtest.AddDataTo(in.MemoryStream, []click{{"bob", 2}}),
		streamtest.Observe(func(_ []streamtest.Batch, err error) error { got = err; return nil }),
		streamtest.Observe(func(_ []streamtest.Batch, err error) error {
			if !errors.Is(err, streamtest.ErrNotRunning) {
				return fmt.Errorf("error %v after the failure, want streamtest.ErrNotRunning", err)
			}
			return nil
		}),
	)
	if got == nil || !strings.Contains(got.Error(), "the disk is on fire") {
		t.Errorf("Observe got error %v, want the source's", got)
	}
}

func TestOnStartFailureGetsTheError(t *testing.T) {
	in := clickStream(t, "in")
	var got error
	ran := false
	streamtest.RunQuery(t, func(s *dataframe.Session) *dataframe.DataFrame {
		// Append mode with an aggregation and no watermark cannot start.
		return s.StreamFrom(in).GroupBy(dataframe.Col("user")).Count()
	}, streamtest.OnStartFailure(func(err error) error { got = err; return nil }),
		streamtest.Observe(func([]streamtest.Batch, error) error { ran = true; return nil }),
	)
	if !errors.Is(got, streaming.ErrUnsupported) || ran {
		t.Errorf("OnStartFailure got %v (steps ran: %v), want streaming.ErrUnsupported and no steps", got, ran)
	}
}
