//go:build cgo

package dataframe_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/dstream/dstreamtest"
	"github.com/spate-io/spate/rdd"
)

// The lecture's "Combine SQL with Streaming": each batch of a DStream
// registered as a table inside ForeachRDD, then queried with SQL text.
// (Built with cgo only: SQL parses with PostgreSQL's parser.)
func Example_streamBatchSQL() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type tweet struct {
		Tag string `spate:"tag"`
	}
	var (
		mu      sync.Mutex
		answers = map[time.Time]string{}
	)
	input := [][]tweet{
		{{"#go"}, {"#spark"}, {"#go"}},
		{{"#arrow"}},
	}
	_, err := dstreamtest.Run(ctx, input, func(tweets *dstream.DStream[tweet]) *dstream.DStream[tweet] {
		err := tweets.ForeachRDD(func(ctx context.Context, r *rdd.RDD[tweet], t time.Time) error {
			s, err := dataframe.NewSession(r.Context())
			if err != nil {
				return err
			}
			if err := dataframe.CreateDataFrameFromRDD(s, r).CreateOrReplaceTempView("tweets"); err != nil {
				return err
			}
			top := s.SQL("SELECT tag, count(*) AS n FROM tweets GROUP BY tag ORDER BY n DESC, tag LIMIT 1")
			rows, err := top.Collect(ctx)
			if err != nil {
				return err
			}
			mu.Lock()
			answers[t] = fmt.Sprint(rows)
			mu.Unlock()
			return nil
		})
		if err != nil {
			panic(err)
		}
		return tweets
	}, len(input))
	if err != nil {
		panic(err)
	}
	times := make([]time.Time, 0, len(answers))
	for t := range answers {
		times = append(times, t)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	var out []string
	for i, t := range times {
		out = append(out, fmt.Sprintf("batch %d: %s", i+1, answers[t]))
	}
	fmt.Println(strings.Join(out, "\n"))
	// Output:
	// batch 1: [[#go 2]]
	// batch 2: [[#arrow 1]]
}
