package dataframe_test

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRateRampUpOption reads the rate source with rampUpTime through
// ReadStream: batch sizes on a manual clock follow the ramp, and bad
// values are rejected with the option's name and value.
func TestRateRampUpOption(t *testing.T) {
	s, m := streamSession(t)
	ctx := streamCtx(t)
	for _, tc := range []struct{ v, want string }{
		{"-3", `rate: rampUpTime must be a non-negative number of seconds, got "-3"`},
		{"-3s", `rate: rampUpTime must not be negative, got "-3s"`},
		{"2.5s", `rate: rampUpTime must be whole seconds (the rate steps up once a second), got "2.5s"`},
		{"soon", `rate: rampUpTime must be whole seconds such as 10 or 10s (or 2m), got "soon"`},
	} {
		err := s.ReadStream().Format("rate").Option("rampUpTime", tc.v).Load().Err()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rampUpTime %q: %v, want an error with %q", tc.v, err, tc.want)
		}
	}
	if err := s.ReadStream().Format("rate").Option("rampUp", "3").Load().Err(); err == nil || !strings.Contains(err.Error(), "supported: numPartitions, rampUpTime, rowsPerSecond") {
		t.Errorf("unknown option: %v", err)
	}
	for _, ramp := range []string{"4", "4s"} {
		q, err := s.ReadStream().Format("rate").Option("rowsPerSecond", "10").Option("rampUpTime", ramp).Load().
			WriteStream().Format("console").Option("numRows", "0").Console(io.Discard).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int64
		for range 6 {
			m.Advance(time.Second)
			if err := q.ProcessAllAvailable(ctx); err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, q.LastProgress().NumInputRows)
		}
		if err := q.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if want := []int64{2, 4, 6, 8, 10, 10}; !slices.Equal(sizes, want) {
			t.Errorf("rampUpTime %s: batch sizes %v, want %v", ramp, sizes, want)
		}
	}
}
