package dstream_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// A streaming word count, run batch by batch with dstreamtest: each input
// batch holds the lines received in one interval, and each output batch
// the counts of the words of those lines.
func Example_wordCount() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	input := [][]string{
		{"to be or not to be"},
		{"that is the question", "to be"},
		{},
	}
	out, err := dstreamtest.Run(ctx, input, func(lines *dstream.DStream[string]) *dstream.DStream[rdd.Pair[string, int]] {
		words := dstream.FlatMap(lines, strings.Fields)
		ones := dstream.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
		return dstream.ReduceByKey(ones, func(a, b int) int { return a + b })
	}, len(input))
	if err != nil {
		panic(err)
	}
	for i, counts := range out {
		slices.SortFunc(counts, func(a, b rdd.Pair[string, int]) int { return strings.Compare(a.Key, b.Key) })
		fmt.Println("batch", i+1, counts)
	}
	// Output:
	// batch 1 [(be,2) (not,1) (or,1) (to,2)]
	// batch 2 [(be,1) (is,1) (question,1) (that,1) (the,1) (to,1)]
	// batch 3 []
}

// Print shows the first elements of every batch under a header with the
// batch time, as Spark does. Here a manual clock drives the batches and
// Fprint writes to standard output.
func ExampleDStream_Print() {
	clk := clock.NewManual(time.Unix(0, 0))
	ec, err := engine.New(engine.WithClock(clk))
	if err != nil {
		panic(err)
	}
	defer ec.Close()
	ssc, err := dstream.NewStreamingContext(ec, time.Second, dstream.WithClock(clk))
	if err != nil {
		panic(err)
	}

	queue := dstream.NewQueue(
		rdd.Parallelize(ec, []string{"a", "b", "c", "d"}, 2),
		rdd.Parallelize(ec, []string{"e"}, 1),
	)
	if err := dstream.QueueStream(ssc, queue, true, nil).Fprint(os.Stdout, 3); err != nil {
		panic(err)
	}

	completed := make(chan struct{}, 3)
	remove := ssc.AddListener(metrics.ListenerFunc(func(e metrics.Event) {
		if _, ok := e.(metrics.BatchCompleted); ok {
			completed <- struct{}{}
		}
	}))
	defer remove()
	if err := ssc.Start(); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		// Wait until the job generator armed its timer for the next
		// batch, then let the batch interval pass.
		if err := clk.BlockUntil(ctx, 1); err != nil {
			panic(err)
		}
		clk.Advance(time.Second)
		<-completed
	}
	if err := ssc.Stop(context.Background(), false); err != nil {
		panic(err)
	}
	// Output:
	// -------------------------------------------
	// Time: 1000 ms
	// -------------------------------------------
	// a
	// b
	// c
	// ...
	//
	// -------------------------------------------
	// Time: 2000 ms
	// -------------------------------------------
	// e
	//
	// -------------------------------------------
	// Time: 3000 ms
	// -------------------------------------------
}
