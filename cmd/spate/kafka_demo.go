package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/connector/kafka"
	"github.com/spate-io/spate/dstream"
)

// kafkaDemoPartitions is the number of partitions of the embedded
// cluster's topic.
const kafkaDemoPartitions = 3

// kafkaLines returns the demo's lines read from Kafka with a DirectStream,
// a description of the source, and a function that stops what it started.
// Without cfg.brokers it starts an embedded cluster and a producer writing
// the generator's lines (cfg.rate per second) into cfg.topic.
func kafkaLines(ctx context.Context, ssc *dstream.StreamingContext, cfg demoConfig) (*dstream.DStream[string], string, func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	brokers := strings.Split(cfg.brokers, ",")
	start := kafka.Latest()
	desc := fmt.Sprintf("Kafka topic %q on %s, read with a DirectStream", cfg.topic, cfg.brokers)
	if cfg.brokers == "" {
		emb, err := kafka.NewEmbedded(kafkaDemoPartitions, cfg.topic)
		if err != nil {
			return nil, "", nil, fmt.Errorf("starting the embedded Kafka cluster: %w", err)
		}
		stops = append(stops, emb.Close)
		brokers = emb.Addrs()
		start = kafka.Earliest()
		p, err := startLineProducer(ssc, brokers, cfg)
		if err != nil {
			stop()
			return nil, "", nil, err
		}
		stops = append(stops, p)
		desc = fmt.Sprintf("Kafka topic %q (%d partitions) on an embedded cluster at %s, fed %d lines/s by the generator, read with a DirectStream",
			cfg.topic, kafkaDemoPartitions, brokers[0], cfg.rate)
	}
	src, err := kafka.NewSource(ctx, kafka.Brokers(brokers...), kafka.Subscribe(cfg.topic), kafka.StartingOffsets(start))
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	stops = append(stops, func() { src.Close() })
	records := dstream.DirectStream(ssc, src)
	lines := dstream.Map(records.DStream, func(r kafka.Record) string { return string(r.Value) })
	return lines, desc, stop, nil
}

// startLineProducer writes the generator's lines into the topic at
// cfg.rate lines per second until the returned function is called.
func startLineProducer(ssc *dstream.StreamingContext, brokers []string, cfg demoConfig) (func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(cfg.topic))
	if err != nil {
		return nil, fmt.Errorf("the demo's Kafka producer: %w", err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	maker := newLineMaker(cfg.distinct, cfg.seed)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-done
			cancel()
		}()
		err := emitLines(ssc.Clock(), cfg.rate, generatorTick, maker.next, done, func(lines []string) error {
			recs := make([]*kgo.Record, len(lines))
			for i, l := range lines {
				recs[i] = &kgo.Record{Value: []byte(l)}
			}
			return cl.ProduceSync(ctx, recs...).FirstErr()
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			ssc.Engine().Logger().Warn("spate demo: producing lines to Kafka failed", "err", err)
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		cl.Close()
	}, nil
}
