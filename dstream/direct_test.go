package dstream_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/connector/kafka"
	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/rdd"
)

// produce writes n records "<prefix>-<i>" to topic, spread over its
// partitions by key, and waits until they are acknowledged.
func produce(t *testing.T, addrs []string, topic, prefix string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	if err := cl.ProduceSync(rtCtx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// directRun is a DirectStream over Kafka on a manual clock, collecting
// each batch's values and offset ranges.
type directRun struct {
	ssc    *dstream.StreamingContext
	m      *clock.Manual
	rec    *rtRecorder
	mu     sync.Mutex
	values map[time.Time][]string
	ranges map[time.Time][]connector.OffsetRange
	parts  map[time.Time]int
}

func newDirectRun(t *testing.T, addrs []string, dir string, opts ...dstream.Option) (*directRun, error) {
	src, err := kafka.NewSource(rtCtx(t), kafka.Brokers(addrs...), kafka.Subscribe("events"),
		kafka.StartingOffsets(kafka.Earliest()), kafka.GroupID("spate-test"))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { src.Close() })
	d := &directRun{values: map[time.Time][]string{}, ranges: map[time.Time][]connector.OffsetRange{}, parts: map[time.Time]int{}}
	create := func() (*dstream.StreamingContext, error) {
		ssc, m := rtNewContext(t, time.Second, opts...)
		d.m = m
		ds := dstream.DirectStream(ssc, src)
		ds.Name("events")
		values := dstream.Map(ds.DStream, func(r kafka.Record) string { return string(r.Value) })
		err := values.ForeachRDD(func(ctx context.Context, r *rdd.RDD[string], bt time.Time) error {
			got, err := r.Collect(ctx)
			if err != nil {
				return err
			}
			ranges := ds.OffsetRanges(bt)
			d.mu.Lock()
			d.values[bt] = got
			d.ranges[bt] = ranges
			d.parts[bt] = r.NumPartitions()
			d.mu.Unlock()
			return ds.CommitOffsets(ctx, ranges)
		})
		return ssc, err
	}
	var ssc *dstream.StreamingContext
	if dir == "" {
		ssc, err = create()
	} else {
		ssc, err = dstream.GetOrCreate(dir, create)
	}
	if err != nil {
		return nil, err
	}
	d.ssc = ssc
	d.rec = rtRecord(t, ssc)
	return d, nil
}

func (d *directRun) batch(t *testing.T, s int) []string {
	t.Helper()
	bt := rtAt(time.Duration(s) * time.Second)
	d.m.Set(bt)
	d.rec.waitBatch(t, bt)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.values[bt]
}

func TestDirectStreamKafka(t *testing.T) {
	emb, err := kafka.NewEmbedded(3, "events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	produce(t, emb.Addrs(), "events", "a", 60)

	// 10 records/s per partition and 1 s batches: at most 30 per batch.
	d, err := newDirectRun(t, emb.Addrs(), "", dstream.MaxRatePerPartition(10))
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, d.ssc)
	var all []string
	for s := 1; s <= 3; s++ {
		got := d.batch(t, s)
		if len(got) > 30 {
			t.Errorf("batch %d read %d records, more than 10 per partition", s, len(got))
		}
		all = append(all, got...)
		bt := rtAt(time.Duration(s) * time.Second)
		if n := d.parts[bt]; n != 3 {
			t.Errorf("batch %d has %d RDD partitions, want one per Kafka partition (3)", s, n)
		}
		var sum int64
		for _, r := range d.ranges[bt] {
			sum += r.Count()
		}
		if sum != int64(len(got)) {
			t.Errorf("batch %d: offset ranges %v cover %d records, the batch has %d", s, d.ranges[bt], sum, len(got))
		}
	}
	want := make([]string, 60)
	for i := range want {
		want[i] = fmt.Sprintf("a-%d", i)
	}
	slices.Sort(all)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Fatalf("read %d records %v, want each of the 60 once", len(all), all)
	}
	// Records produced later go to the next batch; nothing more is read
	// twice.
	produce(t, emb.Addrs(), "events", "b", 6)
	if got := d.batch(t, 4); len(got) != 6 {
		t.Errorf("batch 4 = %v, want the 6 new records", got)
	}
	// The processed offsets reached the consumer group.
	adm := kadm.NewClient(kafkaClient(t, emb.Addrs()))
	offs, err := adm.FetchOffsets(rtCtx(t), "spate-test")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 66 {
		t.Errorf("the group's committed offsets add up to %d, want 66", committed)
	}
}

func kafkaClient(t *testing.T, addrs []string) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestDirectStreamResumesFromCheckpointedOffsets(t *testing.T) {
	emb, err := kafka.NewEmbedded(2, "events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	dir := t.TempDir()
	produce(t, emb.Addrs(), "events", "a", 20)
	d1, err := newDirectRun(t, emb.Addrs(), dir, dstream.MaxRatePerPartition(4))
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, d1.ssc)
	var all []string
	all = append(all, d1.batch(t, 1)...)
	all = append(all, d1.batch(t, 2)...)
	if err := d1.ssc.Stop(rtCtx(t), false); err != nil {
		t.Fatal(err)
	}
	if len(all) != 16 {
		t.Fatalf("two batches of at most 4 per partition read %d records", len(all))
	}
	d2, err := newDirectRun(t, emb.Addrs(), dir, dstream.MaxRatePerPartition(4))
	if err != nil {
		t.Fatal(err)
	}
	rtStart(t, d2.ssc)
	all = append(all, d2.batch(t, 3)...)
	slices.Sort(all)
	if len(all) != 20 || len(slices.Compact(slices.Clone(all))) != 20 {
		t.Fatalf("after the restart: %d records %v, want each of the 20 once", len(all), all)
	}
}
