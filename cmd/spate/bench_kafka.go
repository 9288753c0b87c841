package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/cmd/spate/benchsuite"
)

// kafkaTarget is where --write kafka://broker[,broker]/topic sends events.
type kafkaTarget struct {
	brokers []string
	topic   string
}

// parseKafkaTarget reads kafka://host:port[,host:port...]/topic.
func parseKafkaTarget(s string) (kafkaTarget, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "kafka" || u.Host == "" {
		return kafkaTarget{}, fmt.Errorf("--write %q: a Kafka target is kafka://host:port[,host:port...]/topic", s)
	}
	topic := strings.Trim(u.Path, "/")
	if topic == "" || strings.Contains(topic, "/") {
		return kafkaTarget{}, fmt.Errorf("--write %q: name one topic after the brokers (kafka://host:port/topic)", s)
	}
	return kafkaTarget{brokers: strings.Split(u.Host, ","), topic: topic}, nil
}

// kafkaLineWriter produces each JSON line written to it as one record,
// in synchronous batches, so that a write error is the produce error.
type kafkaLineWriter struct {
	ctx     context.Context
	cl      *kgo.Client
	pending []byte
	recs    []*kgo.Record
	sent    int64
}

// produceBatch is how many records go in one synchronous produce.
const produceBatch = 10_000

func (w *kafkaLineWriter) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		w.recs = append(w.recs, &kgo.Record{Value: bytes.Clone(w.pending[:i])})
		w.pending = w.pending[i+1:]
		if len(w.recs) >= produceBatch {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return len(p), nil
}

func (w *kafkaLineWriter) flush() error {
	if len(w.recs) == 0 {
		return nil
	}
	if err := w.cl.ProduceSync(w.ctx, w.recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing events to Kafka: %w", err)
	}
	w.sent += int64(len(w.recs))
	w.recs = w.recs[:0]
	return nil
}

// writeEventsToKafka writes events 0..n-1 of benchmark to a Kafka topic,
// one JSON line per record, and returns how many it produced.
func writeEventsToKafka(ctx context.Context, t kafkaTarget, benchmark string, p benchsuite.Params, n int64) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.brokers...), kgo.DefaultProduceTopic(t.topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		return 0, fmt.Errorf("Kafka client: %w", err)
	}
	defer cl.Close()
	w := &kafkaLineWriter{ctx: ctx, cl: cl}
	if err := benchsuite.WriteEvents(ctx, w, benchmark, p, n); err != nil {
		return w.sent, err
	}
	return w.sent, w.flush()
}
