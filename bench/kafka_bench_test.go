package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector/kafka"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/rdd"
)

// kafkaBenchRecords is how many records BenchmarkKafkaDStreamCount reads.
func kafkaBenchRecords() int { return pick(1_000_000, 4_000) }

const (
	kafkaBenchKeys       = 1000
	kafkaBenchPartitions = 4
)

// BenchmarkKafkaDStreamCount measures Kafka → count per key → memory on
// spate's DStreams against a plain franz-go consumer loop doing the same
// count, in the same run, on an embedded kfake cluster (in this process,
// so both rates include the broker's cost). The spate side is one batch
// of a DirectStream over all the records (4 partitions, so 4 read tasks)
// → Map(key) → CountByValue → Collect into a map; the baseline polls
// every partition with one consumer and counts into a map. ratio = spate
// ÷ franz-go records/s; target ≥ 0.7.
func BenchmarkKafkaDStreamCount(b *testing.B) {
	ctx := b.Context()
	emb, err := kafka.NewEmbedded(kafkaBenchPartitions, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer emb.Close()
	n := kafkaBenchRecords()
	if err := produceBench(ctx, emb.Addrs(), "bench", n); err != nil {
		b.Fatal(err)
	}
	var spate, base time.Duration
	rounds := 0
	for b.Loop() {
		for i := range 2 {
			first := (rounds+i)%2 == 0 // alternate which side runs first
			t0 := time.Now()
			var counts map[string]int64
			if first {
				counts, err = spateKafkaCount(ctx, emb.Addrs())
			} else {
				counts, err = kgoKafkaCount(ctx, emb.Addrs(), n)
			}
			d := time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			if err := checkKafkaCounts(counts, n); err != nil {
				b.Fatal(err)
			}
			if first {
				spate += d
			} else {
				base += d
			}
		}
		rounds++
	}
	rate := func(d time.Duration) float64 { return float64(n*rounds) / d.Seconds() }
	b.ReportMetric(rate(spate), "spate-rec/s")
	b.ReportMetric(rate(base), "franz-go-rec/s")
	b.ReportMetric(rate(spate)/rate(base), "ratio")
}

func produceBench(ctx context.Context, addrs []string, topic string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	const chunk = 10_000
	for i := 0; i < n; i += chunk {
		recs := make([]*kgo.Record, 0, chunk)
		for j := i; j < min(n, i+chunk); j++ {
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "key-%03d", j%kafkaBenchKeys), Value: fmt.Appendf(nil, "value-%d", j)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return err
		}
	}
	return nil
}

func checkKafkaCounts(counts map[string]int64, n int) error {
	var total int64
	for _, c := range counts {
		total += c
	}
	if len(counts) != kafkaBenchKeys || total != int64(n) {
		return fmt.Errorf("counted %d records over %d keys, want %d over %d", total, len(counts), n, kafkaBenchKeys)
	}
	return nil
}

// spateKafkaCount runs one batch of a DirectStream over the whole topic.
func spateKafkaCount(ctx context.Context, addrs []string) (map[string]int64, error) {
	src, err := kafka.NewSource(ctx, kafka.Brokers(addrs...), kafka.Subscribe("bench"), kafka.StartingOffsets(kafka.Earliest()))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	clk := clock.NewManual(time.Unix(0, 0))
	ec, err := engine.New(engine.WithClock(clk))
	if err != nil {
		return nil, err
	}
	defer ec.Close()
	ssc, err := dstream.NewStreamingContext(ec, streamInterval, dstream.WithClock(clk))
	if err != nil {
		return nil, err
	}
	keys := dstream.Map(dstream.DirectStream(ssc, src).DStream, func(r kafka.Record) string { return string(r.Key) })
	counts := map[string]int64{}
	err = dstream.CountByValue(keys).ForeachRDD(func(ctx context.Context, r *rdd.RDD[rdd.Pair[string, int]], _ time.Time) error {
		got, err := r.Collect(ctx)
		for _, p := range got {
			counts[p.Key] += int64(p.Value)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	st, err := startStepped(ssc, clk)
	if err != nil {
		return nil, err
	}
	if err := st.step(ctx); err != nil {
		return nil, err
	}
	return counts, st.stop()
}

// kgoKafkaCount is the baseline: one franz-go consumer of every partition
// from the start, polling until it has n records, counting per key.
func kgoKafkaCount(ctx context.Context, addrs []string, n int) (map[string]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	counts := make(map[string]int64, kafkaBenchKeys)
	seen := 0
	for seen < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return nil, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			counts[string(r.Key)]++
			seen++
		})
	}
	return counts, nil
}
