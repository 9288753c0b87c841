package kafka_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/connector/kafka"
)

// seed starts an in-process cluster with topic "events" (2 partitions) and
// writes six records to it.
func seed() (*kfake.Cluster, []string) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "events"))
	if err != nil {
		log.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	for i, word := range []string{"a", "b", "a", "c", "a", "b"} {
		r := &kgo.Record{Topic: "events", Partition: int32(i % 2), Key: []byte(word), Value: []byte(fmt.Sprint(i))}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			log.Fatal(err)
		}
	}
	return c, c.ListenAddrs()
}

// A micro-batch as an engine runs it: plan ranges from the start offsets,
// read each range (one task each), then commit for monitoring.
func ExampleNewSource() {
	c, addrs := seed()
	defer c.Close()
	ctx := context.Background()

	src, err := kafka.NewSource(ctx,
		kafka.Brokers(addrs...),
		kafka.Subscribe("events"),
		kafka.StartingOffsets(kafka.Earliest()),
		kafka.MaxOffsetsPerTrigger(4),
		kafka.GroupID("monitoring"),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	start, err := src.InitialOffsets(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for batch := 0; ; batch++ {
		ranges, end, _, err := connector.PlanBatch(ctx, src, start, src.Limits())
		if err != nil {
			log.Fatal(err)
		}
		if len(ranges) == 0 {
			break
		}
		counts := map[string]int{}
		for _, r := range ranges {
			err := src.Read(ctx, r, func(recs []kafka.Record) error {
				for _, rec := range recs {
					counts[string(rec.Key)]++
				}
				return nil
			})
			if err != nil {
				log.Fatal(err)
			}
		}
		fmt.Printf("batch %d: ranges %v counts a=%d b=%d c=%d, end %v\n", batch, ranges, counts["a"], counts["b"], counts["c"], end)
		if err := src.Commit(ctx, end); err != nil {
			log.Fatal(err)
		}
		start = end
	}
	// Output:
	// batch 0: ranges [events-0[0,2) events-1[0,2)] counts a=2 b=1 c=1, end {"events":{"0":2,"1":2}}
	// batch 1: ranges [events-0[2,3) events-1[2,3)] counts a=1 b=1 c=0, end {"events":{"0":3,"1":3}}
}

// Spark-style string options, as the DataFrame reader passes them.
func ExampleSourceOptions() {
	_, err := kafka.SourceOptions(map[string]string{
		"kafka.bootstrap.servers": "localhost:9092",
		"subscribe":               "events",
		"kafka.sasl.kerberos":     "yes",
	})
	fmt.Println(strings.SplitAfter(err.Error(), "supported: ")[0] + "...")
	// Output:
	// kafka source: unknown option "kafka.sasl.kerberos"; supported: ...
}

// The exactly-once sink: a batch re-run after a failure is skipped, also by
// a new instance of the sink (after a restart).
func ExampleNewSink() {
	c, addrs := seed()
	defer c.Close()
	ctx := context.Background()
	open := func() *kafka.Sink {
		s, err := kafka.NewSink(ctx, kafka.Brokers(addrs...), kafka.Topic("events"), kafka.Transactional("query-7", 0))
		if err != nil {
			log.Fatal(err)
		}
		return s
	}
	batch := []kafka.Record{{Key: []byte("d"), Value: []byte("6")}, {Key: []byte("d"), Value: []byte("7")}}

	s := open()
	if err := s.AddBatch(ctx, 0, batch); err != nil {
		log.Fatal(err)
	}
	s.Close()

	s = open() // restart
	defer s.Close()
	last, _, _ := s.LastBatchID(ctx)
	fmt.Println("last committed batch:", last)
	if err := s.AddBatch(ctx, 0, batch); err != nil { // the re-run: skipped
		log.Fatal(err)
	}

	src, err := kafka.NewSource(ctx, kafka.Brokers(addrs...), kafka.Subscribe("events"), kafka.ReadCommitted(true))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	latest, err := src.LatestOffsets(ctx)
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for _, p := range latest.Partitions() {
		err := src.Read(ctx, connector.OffsetRange{Partition: p, From: 0, Until: latest[p]}, func(recs []kafka.Record) error {
			for _, r := range recs {
				if string(r.Key) == "d" {
					n++
				}
			}
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("records of the batch visible to read_committed consumers:", n)
	// Output:
	// last committed batch: 0
	// records of the batch visible to read_committed consumers: 2
}
