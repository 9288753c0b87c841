package kafka

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spate-io/spate/connector"
)

// benchRecords returns the records of the read benchmark: 1,000,000, or
// 4,000 with SPATE_BENCH_SHORT=1.
func benchRecords() int {
	if os.Getenv("SPATE_BENCH_SHORT") == "1" {
		return 4000
	}
	return 1_000_000
}

const benchKeys = 1000

// spateCount reads every range of the topic through Source.Read, one
// goroutine per range (one task per partition, as the engine runs them),
// and counts records per key.
func spateCount(ctx context.Context, src *Source, start connector.Offsets) (map[string]int, error) {
	ranges, _, _, err := connector.PlanBatch(ctx, src, start, connector.Limits{})
	if err != nil {
		return nil, err
	}
	parts := make([]map[string]int, len(ranges))
	errs := make([]error, len(ranges))
	var wg sync.WaitGroup
	for i, r := range ranges {
		wg.Go(func() {
			m := make(map[string]int, benchKeys)
			errs[i] = src.Read(ctx, r, func(recs []Record) error {
				for j := range recs {
					m[string(recs[j].Key)]++
				}
				return nil
			})
			parts[i] = m
		})
	}
	wg.Wait()
	out := make(map[string]int, benchKeys)
	for i, m := range parts {
		if errs[i] != nil {
			return nil, errs[i]
		}
		for k, v := range m {
			out[k] += v
		}
	}
	return out, nil
}

// kgoCount is the baseline: a plain franz-go consumer of all partitions
// from the start, polling until it has n records, counting per key.
func kgoCount(ctx context.Context, addrs []string, topic string, n int) (map[string]int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out := make(map[string]int, benchKeys)
	seen := 0
	for seen < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return nil, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			out[string(r.Key)]++
			seen++
		})
	}
	return out, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkReadCountPerKey compares, in one run, reading a topic (4
// partitions, then 1) and counting records per key through Source.Read
// against a plain franz-go consumer loop doing the same count, both against
// an in-process kfake cluster. Each iteration runs one pair (order
// alternating); it reports the median rates, ratio = spate rate /
// franz-go rate, and ratio-cpu = franz-go process CPU time / spate process
// CPU time (both include the in-process broker's work).
func BenchmarkReadCountPerKey(b *testing.B) {
	for _, p := range []int{4, 1} {
		b.Run(fmt.Sprintf("partitions=%d", p), func(b *testing.B) { benchReadCount(b, p) })
	}
}

func benchReadCount(b *testing.B, p int) {
	n := benchRecords()
	addrs := newCluster(b, int32(p), "bench")
	for i := range p {
		produce(b, addrs, "bench", int32(i), n/p, benchKeys)
	}
	ctx := context.Background()
	src := newSource(b, addrs, Subscribe("bench"), StartingOffsets(Earliest()))
	start, err := src.InitialOffsets(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var spateT, kgoT, spateCPU, kgoCPU []time.Duration
	run := func(spate bool) {
		runtime.GC()
		t0, c0 := time.Now(), processCPU()
		var (
			m   map[string]int
			err error
		)
		if spate {
			m, err = spateCount(ctx, src, start)
		} else {
			m, err = kgoCount(ctx, addrs, "bench", n)
		}
		d, c := time.Since(t0), processCPU()-c0
		if err != nil {
			b.Fatal(err)
		}
		total := 0
		for _, v := range m {
			total += v
		}
		if total != n || len(m) != benchKeys {
			b.Fatalf("spate=%v counted %d records over %d keys, want %d over %d", spate, total, len(m), n, benchKeys)
		}
		if spate {
			spateT, spateCPU = append(spateT, d), append(spateCPU, c)
		} else {
			kgoT, kgoCPU = append(kgoT, d), append(kgoCPU, c)
		}
	}
	i := 0
	for b.Loop() {
		run(i%2 == 0)
		run(i%2 != 0)
		i++
	}
	b.StopTimer()
	for len(spateT) < 3 {
		run(true)
		run(false)
	}
	ms, mk := median(spateT), median(kgoT)
	b.ReportMetric(float64(n)/ms.Seconds(), "spate-rec/s")
	b.ReportMetric(float64(n)/mk.Seconds(), "franz-go-rec/s")
	b.ReportMetric(mk.Seconds()/ms.Seconds(), "ratio")
	if cs := median(spateCPU); cs > 0 {
		b.ReportMetric(median(kgoCPU).Seconds()/cs.Seconds(), "ratio-cpu")
	}
}
