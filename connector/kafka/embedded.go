package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Embedded is an in-process cluster speaking the Kafka protocol (franz-go's
// kfake), for demos and tests: `spate demo --kafka` runs the Kafka path on a
// machine without Kafka. Data lives in memory and is gone after Close. Point
// Brokers at Addrs; a real cluster needs no other change.
type Embedded struct {
	c *kfake.Cluster
}

// NewEmbedded starts a one-broker cluster with the given topics, each with
// partitions partitions.
func NewEmbedded(partitions int32, topics ...string) (*Embedded, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		if partitions <= 0 {
			return nil, fmt.Errorf("%w: NewEmbedded: partitions must be > 0, got %d", ErrConfig, partitions)
		}
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: start embedded cluster: %w", err)
	}
	return &Embedded{c: c}, nil
}

// Addrs returns the broker addresses ("127.0.0.1:port").
func (e *Embedded) Addrs() []string { return e.c.ListenAddrs() }

// Cluster returns the kfake cluster, for fault injection in tests.
func (e *Embedded) Cluster() *kfake.Cluster { return e.c }

// CreateTopic creates a topic with the given number of partitions.
func (e *Embedded) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("kafka: create topic %q: %w", topic, err)
	}
	return nil
}

// Close stops the cluster.
func (e *Embedded) Close() { e.c.Close() }
