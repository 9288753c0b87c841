package dataframe_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/spate-io/spate/dataframe"
)

// TestSessionWindowBatch groups a batch DataFrame into session windows
// per user: events less than the gap apart share a session, across
// partitions and out of order; the grouping key may be an expression.
func TestSessionWindowBatch(t *testing.T) {
	s := newSession(t)
	type click struct {
		User string    `spate:"user"`
		TS   time.Time `spate:"ts"`
		N    int64     `spate:"n"`
	}
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	clicks := []click{
		{"ann", at(40), 1}, {"bob", at(0), 2}, {"ann", at(0), 3}, {"ann", at(9), 4},
		{"bob", at(10), 5},                     // touches bob's first session's end (0+10): a new session
		{"ann", at(32), 6}, {"ann", at(18), 7}, // 18 joins [0,19) into [0,28); 32 and 40 form [32,50)
		{"ANN", at(100), 8},
	}
	df := CreateDataFrame(s, clicks)
	ctx := context.Background()
	render := func(df *DataFrame) []string {
		t.Helper()
		rows, err := df.Collect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			parts := make([]string, len(r))
			for i, v := range r {
				if tm, ok := v.(time.Time); ok {
					v = int(tm.Sub(t0).Seconds())
				}
				parts[i] = fmt.Sprint(v)
			}
			out = append(out, strings.Join(parts, " "))
		}
		slices.Sort(out)
		return out
	}
	got := render(df.GroupBy(Col("user"), SessionWindow(Col("ts"), 10*time.Second)).Agg(Sum(Col("n")).As("n"), CountAll().As("events")))
	want := []string{"ANN 100 110 8 1", "ann 0 28 14 3", "ann 32 50 7 2", "bob 0 10 2 1", "bob 10 20 5 1"}
	if !slices.Equal(got, want) {
		t.Errorf("sessions per user = %q, want %q", got, want)
	}
	got = render(df.GroupBy(Lower(Col("user")), SessionWindow(Col("ts"), 10*time.Second)).Count())
	want = []string{"ann 0 28 3", "ann 100 110 1", "ann 32 50 2", "bob 0 10 1", "bob 10 20 1"}
	if !slices.Equal(got, want) {
		t.Errorf("sessions per lower(user) = %q, want %q", got, want)
	}
	got = render(df.GroupBy(SessionWindow(Col("ts"), 10*time.Second)).Count())
	want = []string{"0 28 5", "100 110 1", "32 50 2"}
	if !slices.Equal(got, want) {
		t.Errorf("global sessions = %q, want %q", got, want)
	}
	if err := df.GroupBy(SessionWindow(Col("ts"), 0)).Count().Err(); err == nil || !strings.Contains(err.Error(), "gap must be positive") {
		t.Errorf("zero gap: err = %v", err)
	}
	if err := df.GroupBy(SessionWindow(Col("ts"), time.Second), Window(Col("ts"), time.Second)).Count().Err(); err == nil || !strings.Contains(err.Error(), "at most one") {
		t.Errorf("two windows: err = %v", err)
	}
}
