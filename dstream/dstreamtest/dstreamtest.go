// Package dstreamtest runs DStream operations on a manual clock, batch by
// batch, so that users (and spate's own tests) can check a pipeline's
// output per batch without sleeping or depending on timing.
//
// [Run] feeds input batch i (from 0) to the stream at batch time
// (i+1) × interval, advances the clock one interval at a time, waits for
// each batch to complete and returns what the operation produced in each
// batch. Batches beyond the input get empty RDDs, as Spark's test
// harness does. Each run gets a fresh temporary checkpoint directory, so
// stateful operations work. [Run2] does the same for operations on two input streams.
// [Equal] and [EqualUnordered] compare outputs per batch.
//
//	out, err := dstreamtest.Run(ctx, [][]string{{"a b"}, {"b"}},
//		func(s *dstream.DStream[string]) *dstream.DStream[rdd.Pair[string, int]] {
//			words := dstream.FlatMap(s, strings.Fields)
//			return dstream.CountByValue(words)
//		}, 2)
package dstreamtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// Option configures a run.
type Option func(*config)

type config struct {
	interval   time.Duration
	partitions int
	slots      int
	start      time.Time
	ctxOpts    []dstream.Option
}

// Interval sets the batch interval. Default: 1s.
func Interval(d time.Duration) Option { return func(c *config) { c.interval = d } }

// Partitions sets the number of partitions of every input batch.
// Default: 2.
func Partitions(n int) Option { return func(c *config) { c.partitions = n } }

// Slots sets the engine's worker slots. Default: 2.
func Slots(n int) Option { return func(c *config) { c.slots = n } }

// StreamingOptions passes options to the StreamingContext (the clock
// option is set by the harness).
func StreamingOptions(opts ...dstream.Option) Option {
	return func(c *config) { c.ctxOpts = append(c.ctxOpts, opts...) }
}

func newConfig(opts []Option) (config, error) {
	c := config{interval: time.Second, partitions: 2, slots: 2, start: time.Unix(0, 0)}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.interval <= 0:
		return c, fmt.Errorf("dstreamtest: Interval must be positive, got %v", c.interval)
	case c.partitions < 1:
		return c, fmt.Errorf("dstreamtest: Partitions must be at least 1, got %d", c.partitions)
	}
	return c, nil
}

// Run runs op over input, batch by batch, for numBatches batches and
// returns each batch's output, in partition order.
func Run[T, U any](ctx context.Context, input [][]T, op func(*dstream.DStream[T]) *dstream.DStream[U], numBatches int, opts ...Option) ([][]U, error) {
	return run(ctx, numBatches, opts, func(ssc *dstream.StreamingContext, c config) *dstream.DStream[U] {
		return op(inputStream(ssc, input, c.partitions))
	})
}

// Run2 is [Run] for an operation on two input streams.
func Run2[T1, T2, U any](ctx context.Context, input1 [][]T1, input2 [][]T2, op func(*dstream.DStream[T1], *dstream.DStream[T2]) *dstream.DStream[U], numBatches int, opts ...Option) ([][]U, error) {
	return run(ctx, numBatches, opts, func(ssc *dstream.StreamingContext, c config) *dstream.DStream[U] {
		return op(inputStream(ssc, input1, c.partitions), inputStream(ssc, input2, c.partitions))
	})
}

// inputStream makes a stream whose batch i holds input[i].
func inputStream[T any](ssc *dstream.StreamingContext, input [][]T, partitions int) *dstream.DStream[T] {
	q := dstream.NewQueue[T]()
	for _, batch := range input {
		q.Push(rdd.Parallelize(ssc.Engine(), batch, partitions))
	}
	return dstream.QueueStream(ssc, q, true, nil)
}

func run[U any](ctx context.Context, numBatches int, opts []Option, build func(*dstream.StreamingContext, config) *dstream.DStream[U]) ([][]U, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if numBatches < 0 {
		return nil, fmt.Errorf("dstreamtest: numBatches must not be negative, got %d", numBatches)
	}
	manual := clock.NewManual(c.start)
	ec, err := engine.New(engine.Slots(c.slots), engine.WithClock(manual))
	if err != nil {
		return nil, err
	}
	defer ec.Close()
	ssc, err := dstream.NewStreamingContext(ec, c.interval, append(c.ctxOpts, dstream.WithClock(manual))...)
	if err != nil {
		return nil, err
	}
	// Stateful operations need a checkpoint directory; give every run a
	// fresh one.
	dir, err := os.MkdirTemp("", "dstreamtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := ssc.Checkpoint(dir); err != nil {
		return nil, err
	}
	out := build(ssc, c)
	outputs := make([][]U, numBatches)
	var mu sync.Mutex
	zero := c.start
	err = out.ForeachRDD(func(ctx context.Context, r *rdd.RDD[U], t time.Time) error {
		got, err := r.Collect(ctx)
		if err != nil {
			return err
		}
		k := int(t.Sub(zero)/c.interval) - 1
		mu.Lock()
		defer mu.Unlock()
		if k >= 0 && k < numBatches {
			outputs[k] = got
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	completed := make(chan metrics.BatchInfo, numBatches+1)
	remove := ssc.AddListener(metrics.ListenerFunc(func(e metrics.Event) {
		if b, ok := e.(metrics.BatchCompleted); ok {
			completed <- b.Info
		}
	}))
	defer remove()
	if err := ssc.Start(); err != nil {
		return nil, err
	}
	defer ssc.Stop(context.Background(), false)
	stopped := doneOf(ssc)
	for k := 1; k <= numBatches; k++ {
		// Advance only once the job generator has armed its timer for
		// batch k: a timer armed just after the advance would count its
		// delay from the new time and fire an interval late, or never.
		if err := waitArmed(ctx, manual, stopped); err != nil {
			return outputs, fmt.Errorf("dstreamtest: waiting for batch %d: %w", k, err)
		}
		manual.Advance(c.interval)
		want := zero.Add(time.Duration(k) * c.interval)
		for {
			select {
			case info := <-completed:
				if err := info.Err(); err != nil {
					return outputs, fmt.Errorf("dstreamtest: batch %d failed: %w", k, err)
				}
				if info.BatchTime.Before(want) {
					continue
				}
			case <-ctx.Done():
				return outputs, fmt.Errorf("dstreamtest: waiting for batch %d: %w", k, ctx.Err())
			case <-stopped:
				err := ssc.AwaitTermination(ctx)
				if err == nil {
					err = errors.New("streaming context stopped")
				}
				return outputs, fmt.Errorf("dstreamtest: batch %d: %w", k, err)
			}
			break
		}
	}
	return outputs, nil
}

// waitArmed waits until a timer is armed on the manual clock (the job
// generator's, for the next batch), until the context stopped (the select
// that follows reports that) or until ctx is done.
func waitArmed(ctx context.Context, manual *clock.Manual, stopped <-chan struct{}) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stopped:
			cancel()
		case <-wctx.Done():
		}
	}()
	if err := manual.BlockUntil(wctx, 1); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// doneOf returns a channel closed when ssc stops.
func doneOf(ssc *dstream.StreamingContext) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		_ = ssc.AwaitTermination(context.Background())
		close(ch)
	}()
	return ch
}

// Equal fails t unless got and want have the same batches with the same
// elements in the same order.
func Equal[U comparable](t testing.TB, got, want [][]U) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d batches, want %d\ngot:  %v\nwant: %v", len(got), len(want), got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("batch %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

// EqualUnordered fails t unless every batch of got holds the same
// elements as the batch of want, in any order (as multisets).
func EqualUnordered[U any](t testing.TB, got, want [][]U) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d batches, want %d\ngot:  %v\nwant: %v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := sortedStrings(got[i]), sortedStrings(want[i])
		if !slices.Equal(g, w) {
			t.Fatalf("batch %d: got %v, want %v (in any order)", i, got[i], want[i])
		}
	}
}

// sortedStrings formats and sorts elements so that multisets of any
// printable type can be compared.
func sortedStrings[U any](xs []U) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%#v", x)
	}
	slices.SortFunc(out, cmp.Compare[string])
	return out
}
