package dstream_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spate-io/spate/connector/kafka"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

// A program that survives being killed: GetOrCreate builds the graph with
// create on every start, and on a restart resumes it from the checkpoint
// (running totals restored, unfinished batches re-run with their input).
// Each batch's output goes to a directory named after its batch time, so
// a re-run batch never writes twice.
func ExampleGetOrCreate() {
	ec, err := engine.New()
	if err != nil {
		panic(err)
	}
	defer ec.Close()
	base := os.TempDir()
	create := func() (*dstream.StreamingContext, error) {
		ssc, err := dstream.NewStreamingContext(ec, time.Second, dstream.WriteAheadLog(true))
		if err != nil {
			return nil, err
		}
		lines := dstream.TextFileStream(ssc, filepath.Join(base, "in")).Name("lines")
		words := dstream.Map(dstream.FlatMap(lines, strings.Fields), func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
		totals := dstream.UpdateStateByKey(words, func(vs []int, total int, _ bool) (int, bool) {
			return total + len(vs), true
		}).Name("totals").Checkpoint(10 * time.Second)
		return ssc, totals.SaveAsTextFiles(filepath.Join(base, "out", "totals"), "")
	}
	ssc, err := dstream.GetOrCreate(filepath.Join(base, "checkpoint"), create)
	if err != nil {
		panic(err) // for example dstream.ErrGraphMismatch after renaming a stream
	}
	if err := ssc.Start(); err != nil {
		panic(err)
	}
	_ = ssc.AwaitTermination(context.Background())
}

// Reading Kafka without receivers: one RDD partition per Kafka partition,
// offset ranges in the checkpoint, and the processed offsets committed to a
// consumer group for monitoring. Storing the ranges with the results in one
// transaction makes the output exactly once.
func ExampleDirectStream() {
	ctx := context.Background()
	ec, err := engine.New()
	if err != nil {
		panic(err)
	}
	defer ec.Close()
	src, err := kafka.NewSource(ctx, kafka.Brokers("localhost:9092"), kafka.Subscribe("events"),
		kafka.StartingOffsets(kafka.Earliest()), kafka.GroupID("my-app"))
	if err != nil {
		panic(err)
	}
	defer src.Close()
	ssc, err := dstream.NewStreamingContext(ec, time.Second, dstream.MaxRatePerPartition(10_000))
	if err != nil {
		panic(err)
	}
	events := dstream.DirectStream(ssc, src)
	err = events.ForeachRDD(func(ctx context.Context, r *rdd.RDD[kafka.Record], t time.Time) error {
		n, err := r.Count(ctx)
		if err != nil {
			return err
		}
		ranges := events.OffsetRanges(t)
		fmt.Printf("batch %s: %d records from %v\n", t.Format(time.TimeOnly), n, ranges)
		return events.CommitOffsets(ctx, ranges)
	})
	if err != nil {
		panic(err)
	}
	if err := ssc.Start(); err != nil {
		panic(err)
	}
	_ = ssc.AwaitTermination(ctx)
}
