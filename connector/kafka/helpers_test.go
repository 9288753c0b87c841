package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/connector"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newCluster starts a one-broker kfake cluster with topics of n partitions
// and returns its addresses.
func newCluster(t testing.TB, n int32, topics ...string) []string {
	t.Helper()
	return newKfake(t, n, topics...).ListenAddrs()
}

// newKfake starts a one-broker kfake cluster, closed at cleanup.
func newKfake(t testing.TB, n int32, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(n, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newClient(t testing.TB, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func admin(t testing.TB, addrs []string) *kadm.Client {
	return kadm.NewClient(newClient(t, addrs))
}

// produce writes n records "k<i%keys>"/"v<i>" to topic/partition.
func produce(t testing.TB, addrs []string, topic string, part int32, n, keys int) {
	t.Helper()
	cl := newClient(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t)
	const chunk = 2000
	for i := 0; i < n; i += chunk {
		var rs []*kgo.Record
		for j := i; j < min(n, i+chunk); j++ {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: part,
				Key: fmt.Appendf(nil, "k%d", j%keys), Value: fmt.Appendf(nil, "v%d", j)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func newSource(t testing.TB, addrs []string, opts ...Option) *Source {
	t.Helper()
	s, err := NewSource(testCtx(t), append([]Option{Brokers(addrs...), APITimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readAll(t testing.TB, s *Source, r connector.OffsetRange) ([]Record, error) {
	t.Helper()
	var out []Record
	err := s.Read(testCtx(t), r, func(rs []Record) error {
		out = append(out, rs...)
		return nil
	})
	return out, err
}

func part(topic string, i int32) connector.Partition {
	return connector.Partition{Stream: topic, Index: i}
}
