package dstreamtest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/rdd"
)

func limitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func identity(s *dstream.DStream[int]) *dstream.DStream[int] { return s }

func TestRun(t *testing.T) {
	in := [][]int{{1, 2, 3}, {}, {4}}
	tests := []struct {
		name       string
		numBatches int
		opts       []dstreamtest.Option
		want       [][]int
	}{
		{"defaults", 3, nil, [][]int{{1, 2, 3}, {}, {4}}},
		{"fewer batches than input", 1, nil, [][]int{{1, 2, 3}}},
		{"batches beyond the input are empty", 5, nil, [][]int{{1, 2, 3}, {}, {4}, {}, {}}},
		{"no batches", 0, nil, [][]int{}},
		{"one partition, one slot", 3, []dstreamtest.Option{dstreamtest.Partitions(1), dstreamtest.Slots(1)}, [][]int{{1, 2, 3}, {}, {4}}},
		{"many partitions", 3, []dstreamtest.Option{dstreamtest.Partitions(8)}, [][]int{{1, 2, 3}, {}, {4}}},
		{"other interval", 3, []dstreamtest.Option{dstreamtest.Interval(100 * time.Millisecond)}, [][]int{{1, 2, 3}, {}, {4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := dstreamtest.Run(limitCtx(t), in, identity, tt.numBatches, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			dstreamtest.Equal(t, out, tt.want)
		})
	}
}

func TestRunPartitionsAndInterval(t *testing.T) {
	type batch struct {
		Parts int
		Ms    int64
	}
	out, err := dstreamtest.Run(limitCtx(t), [][]int{{1, 2, 3, 4}, {5}}, func(s *dstream.DStream[int]) *dstream.DStream[batch] {
		return dstream.Transform(s, func(r *rdd.RDD[int], bt time.Time) *rdd.RDD[batch] {
			return rdd.Parallelize(r.Context(), []batch{{r.NumPartitions(), bt.UnixMilli()}}, 1)
		})
	}, 3, dstreamtest.Partitions(3), dstreamtest.Interval(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// Input batch i comes at (i+1)×interval in Partitions partitions;
	// batches beyond the input are empty RDDs.
	dstreamtest.Equal(t, out, [][]batch{{{3, 250}}, {{3, 500}}, {{0, 750}}})
}

func TestRun2(t *testing.T) {
	out, err := dstreamtest.Run2(limitCtx(t), [][]int{{1}, {2}}, [][]string{{"a"}}, func(a *dstream.DStream[int], b *dstream.DStream[string]) *dstream.DStream[string] {
		return dstream.Map(a, func(x int) string { return fmt.Sprint(x) }).Union(b)
	}, 3)
	if err != nil {
		t.Fatal(err)
	}
	dstreamtest.Equal(t, out, [][]string{{"1", "a"}, {"2"}, {}})
}

func TestRunBadOptions(t *testing.T) {
	tests := []struct {
		name       string
		numBatches int
		opts       []dstreamtest.Option
		want       string
	}{
		{"Interval(0)", 1, []dstreamtest.Option{dstreamtest.Interval(0)}, "dstreamtest: Interval must be positive, got 0s"},
		{"Interval(-1s)", 1, []dstreamtest.Option{dstreamtest.Interval(-time.Second)}, "Interval must be positive, got -1s"},
		{"Partitions(0)", 1, []dstreamtest.Option{dstreamtest.Partitions(0)}, "dstreamtest: Partitions must be at least 1, got 0"},
		{"negative numBatches", -1, nil, "dstreamtest: numBatches must not be negative, got -1"},
		{"bad streaming option", 1, []dstreamtest.Option{dstreamtest.StreamingOptions(dstream.ConcurrentJobs(0))}, "ConcurrentJobs must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := dstreamtest.Run(limitCtx(t), [][]int{{1}}, identity, tt.numBatches, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, %v; want error %q", out, err, tt.want)
			}
		})
	}
}

func TestRunBadStream(t *testing.T) {
	_, err := dstreamtest.Run(limitCtx(t), [][]int{{1}}, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		return s.Filter(nil)
	}, 1)
	if err == nil || !strings.Contains(err.Error(), "dstream.Filter: keep must not be nil") {
		t.Errorf("Run = %v, want the stream's construction error", err)
	}
}

func TestRunFailingBatch(t *testing.T) {
	errBoom := errors.New("boom")
	out, err := dstreamtest.Run(limitCtx(t), [][]int{{1}, {2}, {3}}, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		if err := s.ForeachRDD(func(_ context.Context, _ *rdd.RDD[int], bt time.Time) error {
			if bt.Equal(time.Unix(2, 0)) {
				return errBoom
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return s
	}, 3)
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run = %v, want the failing output operation's error", err)
	}
	if !strings.Contains(err.Error(), "batch 2") {
		t.Errorf("error %q does not name batch 2", err)
	}
	if len(out) != 3 || fmt.Sprint(out[0]) != "[1]" {
		t.Errorf("outputs = %v, want batch 1's output kept", out)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := dstreamtest.Run(ctx, [][]int{{1}}, func(s *dstream.DStream[int]) *dstream.DStream[int] {
		// An output operation that cancels the run's context and then
		// blocks until its job is cancelled.
		if err := s.ForeachRDD(func(jobCtx context.Context, _ *rdd.RDD[int], _ time.Time) error {
			cancel()
			<-jobCtx.Done()
			return jobCtx.Err()
		}); err != nil {
			t.Fatal(err)
		}
		return s
	}, 2)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "batch 1") {
		t.Errorf("Run = %v, want context.Canceled while waiting for batch 1", err)
	}
}

// fakeTB records Fatalf instead of failing the test. Like testing.T's,
// its Fatalf ends the calling goroutine, so checks run in their own
// goroutine (see fails).
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fails runs check with a fakeTB and returns the Fatalf message, "" when
// check passed.
func fails(check func(testing.TB)) string {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(f)
	}()
	<-done
	return f.fatal
}

func TestEqual(t *testing.T) {
	dstreamtest.Equal(t, [][]int{{1, 2}, {}, nil}, [][]int{{1, 2}, nil, {}})
	tests := []struct {
		name      string
		got, want [][]int
		msg       string
	}{
		{"order", [][]int{{1, 2}}, [][]int{{2, 1}}, "batch 0: got [1 2], want [2 1]"},
		{"second batch", [][]int{{1}, {2}}, [][]int{{1}, {3}}, "batch 1: got [2], want [3]"},
		{"missing element", [][]int{{1}}, [][]int{{1, 1}}, "batch 0"},
		{"fewer batches", [][]int{{1}}, [][]int{{1}, {}}, "got 1 batches, want 2"},
		{"more batches", [][]int{{1}, {}}, [][]int{{1}}, "got 2 batches, want 1"},
	}
	for _, tt := range tests {
		msg := fails(func(tb testing.TB) { dstreamtest.Equal(tb, tt.got, tt.want) })
		if msg == "" || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: Equal(%v, %v) Fatalf message %q, want one containing %q", tt.name, tt.got, tt.want, msg, tt.msg)
		}
	}
}

func TestEqualUnordered(t *testing.T) {
	dstreamtest.EqualUnordered(t, [][]string{{"b", "a", "b"}, {}}, [][]string{{"b", "b", "a"}, nil})
	dstreamtest.EqualUnordered(t, [][]rdd.Pair[string, int]{{rdd.KV("x", 1), rdd.KV("y", 2)}}, [][]rdd.Pair[string, int]{{rdd.KV("y", 2), rdd.KV("x", 1)}})
	tests := []struct {
		name      string
		got, want [][]string
		msg       string
	}{
		{"multiplicity", [][]string{{"a", "a", "b"}}, [][]string{{"a", "b", "b"}}, "batch 0"},
		{"extra element", [][]string{{"a"}, {"b", "c"}}, [][]string{{"a"}, {"b"}}, "batch 1"},
		{"different element", [][]string{{"a"}}, [][]string{{"A"}}, "in any order"},
		{"batch count", [][]string{{"a"}}, [][]string{{"a"}, {}}, "got 1 batches, want 2"},
	}
	for _, tt := range tests {
		msg := fails(func(tb testing.TB) { dstreamtest.EqualUnordered(tb, tt.got, tt.want) })
		if msg == "" || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: EqualUnordered(%v, %v) Fatalf message %q, want one containing %q", tt.name, tt.got, tt.want, msg, tt.msg)
		}
	}
	// Pairs differing in one value are told apart.
	if msg := fails(func(tb testing.TB) {
		dstreamtest.EqualUnordered(tb, [][]rdd.Pair[string, int]{{rdd.KV("x", 1)}}, [][]rdd.Pair[string, int]{{rdd.KV("x", 2)}})
	}); msg == "" {
		t.Error("EqualUnordered accepted (x,1) for (x,2)")
	}
}

// The fake really detects failures: a passing check leaves it untouched.
func TestFakeTB(t *testing.T) {
	if msg := fails(func(tb testing.TB) { dstreamtest.Equal(tb, [][]int{{1}}, [][]int{{1}}) }); msg != "" {
		t.Errorf("Equal on equal outputs called Fatalf(%q)", msg)
	}
	if msg := fails(func(tb testing.TB) { dstreamtest.EqualUnordered(tb, [][]int{{1, 2}}, [][]int{{2, 1}}) }); msg != "" {
		t.Errorf("EqualUnordered on equal outputs called Fatalf(%q)", msg)
	}
}
