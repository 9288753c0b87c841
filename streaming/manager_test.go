package streaming_test

import (
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/streaming"
)

// chanListener sends a line per event to a channel.
type chanListener chan string

func (c chanListener) OnQueryStarted(e metrics.QueryStarted) { c <- "started " + e.Name }
func (c chanListener) OnQueryProgress(e metrics.QueryProgressed) {
	c <- "progress " + e.Progress.Name
}
func (c chanListener) OnQueryIdle(e metrics.QueryIdle) { c <- "idle " + e.Name }
func (c chanListener) OnQueryTerminated(e metrics.QueryTerminated) {
	c <- "terminated " + e.Name
}

// A manager's listeners hear of its queries' start, batches, idle
// triggers and termination, in order; a removed listener hears nothing
// more.
func TestManagerListener(t *testing.T) {
	ec := newEngine(t, nil)
	mgr := streaming.NewManager()
	heard := make(chanListener, 100)
	mgr.AddListener(heard)
	in := streaming.NewMemoryStream(eventSchema, "events")
	defer in.Close()
	b := events(t, memory.DefaultAllocator, []string{"a"}, []int64{99})
	in.AddBatches(b)
	b.Release()
	ctx := testCtx(t)
	q, err := streaming.Start(ctx, ec, bigSpenders(t, in), streaming.NewMemorySink(), streaming.QueryName("spenders"),
		streaming.WithManager(mgr), streaming.WithTrigger(streaming.ProcessingTime(time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		select {
		case s := <-heard:
			return s
		case <-ctx.Done():
			t.Fatal("no event")
			return ""
		}
	}
	var got []string
	for len(got) == 0 || got[len(got)-1] != "idle spenders" {
		got = append(got, next())
	}
	if want := []string{"started spenders", "progress spenders", "idle spenders"}; !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for s := next(); s != "terminated spenders"; s = next() {
		if s != "idle spenders" {
			t.Errorf("after idle: %q", s)
		}
	}
	mgr.RemoveListener(heard)
	q2, err := streaming.Start(ctx, ec, bigSpenders(t, in), streaming.NewMemorySink(), streaming.QueryName("other"), streaming.WithManager(mgr))
	if err != nil {
		t.Fatal(err)
	}
	q2.ProcessAllAvailable(ctx)
	q2.Stop(ctx)
	select {
	case s := <-heard:
		t.Errorf("a removed listener heard %q", s)
	default:
	}
}
