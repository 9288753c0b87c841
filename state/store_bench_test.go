package state

import (
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
)

// benchKeys is the number of keys: 1M, or 10K with SPATE_BENCH_SHORT=1.
func benchKeys() int {
	if os.Getenv("SPATE_BENCH_SHORT") == "1" {
		return 10_000
	}
	return 1_000_000
}

// benchData returns n 16-byte keys (scattered, so not in insertion order)
// and values of 8 to 32 bytes.
func benchData(n int) (keys, vals [][]byte) {
	keys = make([][]byte, n)
	vals = make([][]byte, n)
	for i := range n {
		k := make([]byte, 16)
		binary.BigEndian.PutUint64(k, uint64(i)*0x9E3779B97F4A7C15)
		binary.BigEndian.PutUint64(k[8:], uint64(i))
		keys[i] = k
		v := make([]byte, 8+i%25)
		binary.LittleEndian.PutUint64(v, uint64(i))
		vals[i] = v
	}
	return keys, vals
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkStore measures, per iteration, on a fresh partition: n puts,
// the commit of those n keys (one delta file), n gets on the committed
// version, and a batch updating 10% of the keys with its commit; and in
// the same iteration a plain Go map doing the same puts (copying each
// value, as Put does) and gets. The ratios are store time ÷ map time.
func BenchmarkStore(b *testing.B) {
	n := benchKeys()
	keys, vals := benchData(n)
	ctx := context.Background()
	var putD, getD, mapPutD, mapGetD, commitD, updD, updCommitD []time.Duration
	runStore := func() {
		b.StopTimer()
		p, err := NewProvider(b.TempDir(), 1)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close(ctx)
		pt, _ := p.Partition("bench", 0)
		s, err := pt.Load(ctx, 0)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()

		t0 := time.Now()
		for i, k := range keys {
			s.Put(k, vals[i])
		}
		t1 := time.Now()
		if _, err := s.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		s, _ = pt.Load(ctx, 1)
		t3 := time.Now()
		found := 0
		for _, k := range keys {
			if _, ok := s.Get(k); ok {
				found++
			}
		}
		t4 := time.Now()
		if found != n {
			b.Fatalf("found %d of %d keys", found, n)
		}
		for i := 0; i < n; i += 10 {
			s.Put(keys[i], vals[(i+1)%n])
		}
		t5 := time.Now()
		if _, err := s.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		t6 := time.Now()
		putD = append(putD, t1.Sub(t0))
		commitD = append(commitD, t2.Sub(t1))
		getD = append(getD, t4.Sub(t3))
		updD = append(updD, t5.Sub(t4))
		updCommitD = append(updCommitD, t6.Sub(t5))
	}
	runMap := func() {
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		m0 := time.Now()
		m := make(map[string][]byte)
		for i, k := range keys {
			v := make([]byte, len(vals[i]))
			copy(v, vals[i])
			m[string(k)] = v
		}
		m1 := time.Now()
		found := 0
		for _, k := range keys {
			if _, ok := m[string(k)]; ok {
				found++
			}
		}
		m2 := time.Now()
		if found != n {
			b.Fatal("map lost keys")
		}
		mapPutD = append(mapPutD, m1.Sub(m0))
		mapGetD = append(mapGetD, m2.Sub(m1))
	}
	round := 0
	for b.Loop() {
		// Alternate which side runs first, so that neither always runs
		// on the heap the other left.
		if round%2 == 0 {
			runStore()
			runMap()
		} else {
			runMap()
			runStore()
		}
		round++
	}
	perKey := func(d []time.Duration, k int) float64 { return float64(median(d).Nanoseconds()) / float64(k) }
	b.ReportMetric(perKey(putD, n), "put-ns/key")
	b.ReportMetric(perKey(mapPutD, n), "map-put-ns/key")
	b.ReportMetric(perKey(putD, n)/perKey(mapPutD, n), "put-ratio")
	b.ReportMetric(perKey(getD, n), "get-ns/key")
	b.ReportMetric(perKey(mapGetD, n), "map-get-ns/key")
	b.ReportMetric(perKey(getD, n)/perKey(mapGetD, n), "get-ratio")
	b.ReportMetric(float64(median(commitD).Microseconds())/1000, "commit-all-ms")
	b.ReportMetric(float64(n)/median(commitD).Seconds(), "commit-all-keys/s")
	b.ReportMetric(float64(median(updCommitD).Microseconds())/1000, "commit-10%-ms")
	b.ReportMetric(float64(n/10)/median(updCommitD).Seconds(), "commit-10%-keys/s")
}

// committed returns a provider root whose partition holds the n keys as
// version 1 and, after a snapshot, version 11 (10 further versions of 1%
// updates each); waiting for the snapshot of 11 is left to the caller.
func committed(b *testing.B, ctx context.Context, root string, keys, vals [][]byte, opts ...Option) (*Provider, *Partition) {
	b.Helper()
	p, err := NewProvider(root, 1, opts...)
	if err != nil {
		b.Fatal(err)
	}
	pt, _ := p.Partition("bench", 0)
	s, err := pt.Load(ctx, 0)
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range keys {
		s.Put(k, vals[i])
	}
	if _, err := s.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	return p, pt
}

// BenchmarkSnapshot measures a snapshot of n keys: it commits a small
// change with SnapshotInterval(1) and reports the background snapshot's
// duration (encode, write, fsync, rename) and the commit's own duration,
// which does not include it.
func BenchmarkSnapshot(b *testing.B) {
	n := benchKeys()
	keys, vals := benchData(n)
	ctx := context.Background()
	p, pt := committed(b, ctx, b.TempDir(), keys, vals, SnapshotInterval(1), Retain(2))
	defer p.Close(ctx)
	if err := pt.WaitSnapshot(ctx); err != nil {
		b.Fatal(err)
	}
	var snapD, commitD []time.Duration
	var snapBytes int64
	v := int64(1)
	for b.Loop() {
		s, err := pt.Load(ctx, v)
		if err != nil {
			b.Fatal(err)
		}
		s.Put(keys[int(v)%n], vals[0])
		if v, err = s.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		if err := pt.WaitSnapshot(ctx); err != nil {
			b.Fatal(err)
		}
		m := pt.Metrics()
		if m.SnapshotErr != nil || m.SnapshotVersion != v {
			b.Fatalf("snapshot %d: %v", m.SnapshotVersion, m.SnapshotErr)
		}
		snapD = append(snapD, m.SnapshotDuration)
		commitD = append(commitD, m.CommitDuration)
		snapBytes = m.SnapshotBytes
	}
	b.ReportMetric(float64(median(snapD).Microseconds())/1000, "snapshot-ms")
	b.ReportMetric(float64(n)/median(snapD).Seconds(), "snapshot-keys/s")
	b.ReportMetric(float64(snapBytes)/float64(n), "snapshot-B/key")
	b.ReportMetric(float64(median(commitD).Microseconds())/1000, "commit-ms")
}

// BenchmarkLoad measures loading n keys from files with a new provider:
// from a snapshot alone, and from a snapshot plus 9 deltas of 1% updates.
func BenchmarkLoad(b *testing.B) {
	n := benchKeys()
	keys, vals := benchData(n)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		deltas int
	}{{"snapshot", 0}, {"snapshot+9deltas", 9}} {
		b.Run(tc.name, func(b *testing.B) {
			root := b.TempDir()
			p, pt := committed(b, ctx, root, keys, vals, SnapshotInterval(1))
			if err := pt.WaitSnapshot(ctx); err != nil {
				b.Fatal(err)
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			p, err := NewProvider(root, 1, SnapshotInterval(100))
			if err != nil {
				b.Fatal(err)
			}
			pt, _ = p.Partition("bench", 0)
			for v := int64(1); v <= int64(tc.deltas); v++ {
				s, err := pt.Load(ctx, v)
				if err != nil {
					b.Fatal(err)
				}
				for i := int(v); i < n; i += 100 {
					s.Put(keys[i], vals[0])
				}
				if _, err := s.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			p.Close(ctx)
			last := int64(1 + tc.deltas)
			var loadD []time.Duration
			for b.Loop() {
				b.StopTimer()
				p, err := NewProvider(root, 1)
				if err != nil {
					b.Fatal(err)
				}
				pt, _ := p.Partition("bench", 0)
				runtime.GC()
				b.StartTimer()
				t0 := time.Now()
				s, err := pt.Load(ctx, last)
				if err != nil {
					b.Fatal(err)
				}
				loadD = append(loadD, time.Since(t0))
				if s.Len() != int64(n) {
					b.Fatalf("loaded %d keys, want %d", s.Len(), n)
				}
				s.Abort()
				p.Close(ctx)
			}
			b.ReportMetric(float64(median(loadD).Microseconds())/1000, "load-ms")
			b.ReportMetric(float64(n)/median(loadD).Seconds(), "load-keys/s")
		})
	}
}

// BenchmarkStepBack measures a re-run of the last batch on a partition of
// n keys: with version v cached after a commit of n/100 changes, Load(v-1)
// is served by undoing that commit in memory. Compare with BenchmarkLoad,
// which is what the same load costs from files.
func BenchmarkStepBack(b *testing.B) {
	n := benchKeys()
	keys, vals := benchData(n)
	ctx := context.Background()
	p, pt := committed(b, ctx, b.TempDir(), keys, vals, SnapshotInterval(1000))
	defer p.Close(ctx)
	v := int64(1)
	var stepD []time.Duration
	for b.Loop() {
		b.StopTimer()
		s, err := pt.Load(ctx, v)
		if err != nil {
			b.Fatal(err)
		}
		for i := int(v) % 100; i < n; i += 100 {
			s.Put(keys[i], vals[0])
		}
		if v, err = s.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		s, err = pt.Load(ctx, v-1)
		if err != nil {
			b.Fatal(err)
		}
		stepD = append(stepD, time.Since(t0))
		b.StopTimer()
		s.Abort()
		v--
		b.StartTimer()
	}
	if m := pt.Metrics(); m.StepBacks != int64(len(stepD)) {
		b.Fatalf("%d step backs, want %d", m.StepBacks, len(stepD))
	}
	b.ReportMetric(float64(median(stepD).Microseconds())/1000, "stepback-ms")
}
