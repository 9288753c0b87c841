package dataframe_test

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/connector/kafka"
	. "github.com/spate-io/spate/dataframe"
)

// TestKafkaBatchAndStreaming reads a topic as a batch DataFrame, then as
// a stream whose rows are written to another topic with the Kafka sink
// and read back.
func TestKafkaBatchAndStreaming(t *testing.T) {
	s, _ := streamSession(t)
	ctx := streamCtx(t)
	emb, err := kafka.NewEmbedded(3, "in", "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	brokers := strings.Join(emb.Addrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Addrs()...), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 30 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	read := func(topic string) *DataFrame {
		return s.Read().Format("kafka").Option("kafka.bootstrap.servers", brokers).Option("subscribe", topic).Load("")
	}
	n, err := read("in").Count(ctx)
	if err != nil || n != 30 {
		t.Fatalf("batch read of the topic: %d rows, %v; want 30", n, err)
	}
	rows, err := read("in").Select(Col("key").Cast(arrow.BinaryTypes.String).As("k")).GroupBy(Col("k")).Count().OrderBy(Col("k")).Collect(ctx)
	if err != nil || len(rows) != 5 || rows[0][1] != int64(6) {
		t.Fatalf("per key: %v, %v", rows, err)
	}

	// Stream in → upper-case nothing, just copy key and value → out.
	stream := s.ReadStream().Format("kafka").Option("kafka.bootstrap.servers", brokers).Option("subscribe", "in").
		Option("startingOffsets", "earliest").Load().Select(Col("key"), Col("value"))
	q, err := stream.WriteStream().Format("kafka").Option("kafka.bootstrap.servers", brokers).Option("topic", "out").
		Option("checkpointLocation", t.TempDir()).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.ProcessAllAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	q.Stop(ctx)
	if n, err := read("out").Count(ctx); err != nil || n != 30 {
		t.Errorf("the copied topic has %d rows (%v), want 30", n, err)
	}
	p := q.LastProgress()
	if p == nil || len(p.Sources) != 1 || !strings.Contains(p.Sources[0].EndOffset, `"in"`) || len(p.Sources[0].Partitions) != 3 || p.Sources[0].Lag != 0 {
		t.Errorf("progress = %+v", p)
	}
}
