package exec

import (
	"math/rand/v2"
	"testing"
)

// TestTupleMap checks the table against a Go map over keys that collide
// in their low bits, repeat, and grow the table many times.
func TestTupleMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var m tupleMap
	want := map[[3]int64]uint32{}
	for i := range 200_000 {
		var k [3]int64
		switch i % 4 {
		case 0: // small values
			k = [3]int64{int64(r.IntN(50)), int64(r.IntN(50)), 0}
		case 1: // values apart by multiples of a large power of two
			k = [3]int64{int64(r.IntN(64)) << 40, 0, int64(r.IntN(64)) << 20}
		case 2:
			k = [3]int64{r.Int64(), r.Int64(), r.Int64()}
		case 3: // negative and extreme values
			k = [3]int64{-int64(r.IntN(100)), -1 << 63, 1<<63 - 1}
		}
		id, added := m.add(k, uint32(len(want)))
		w, ok := want[k]
		if !ok {
			w = uint32(len(want))
			want[k] = w
		}
		if id != w || added == ok {
			t.Fatalf("add(%v) = %d, %v; want %d, %v", k, id, added, w, !ok)
		}
	}
	if m.len() < len(want) {
		t.Fatalf("%d keys, want %d", m.len(), len(want))
	}
	for k, w := range want {
		if id, ok := m.find(k); !ok || id != w {
			t.Fatalf("find(%v) = %d, %v; want %d", k, id, ok, w)
		}
	}
	if _, ok := m.find([3]int64{1, 2, 3}); ok {
		t.Fatal("found a key never added")
	}
	var empty tupleMap
	if _, ok := empty.find([3]int64{}); ok {
		t.Fatal("found a key in an empty map")
	}
	// reserve keeps the keys and their ids, and room for more.
	m.reserve(2 * m.len())
	slots := len(m.slots)
	for k, w := range want {
		if id, ok := m.find(k); !ok || id != w {
			t.Fatalf("after reserve, find(%v) = %d, %v; want %d", k, id, ok, w)
		}
	}
	for i := range m.len() {
		m.add([3]int64{int64(i), -7, 7}, uint32(m.len()))
	}
	if len(m.slots) != slots {
		t.Errorf("grew from %d to %d slots after reserving room", slots, len(m.slots))
	}
}

// BenchmarkTupleMap: ids of (window start, window end, key) tuples, 20K
// distinct, as the windowed count's partial aggregation sees them.
func BenchmarkTupleMap(b *testing.B) {
	const n = 1 << 16
	keys := make([][3]int64, n)
	for i := range keys {
		start := int64(i/40_000) * 10_000_000
		keys[i] = [3]int64{start, start + 10_000_000, int64(i % 10_000)}
	}
	b.Run("tupleMap", func(b *testing.B) {
		var m tupleMap
		for b.Loop() {
			for _, k := range keys {
				m.add(k, uint32(m.len()))
			}
		}
	})
	b.Run("go-map", func(b *testing.B) {
		m := map[[3]int64]uint32{}
		for b.Loop() {
			for _, k := range keys {
				if _, ok := m[k]; !ok {
					m[k] = uint32(len(m))
				}
			}
		}
	})
}

func BenchmarkTupleMapLookup(b *testing.B) {
	const n = 8192
	a, bb, c := make([]int64, n), make([]int64, n), make([]int64, n)
	var m tupleMap
	for i := range 20_000 {
		start := int64(i/10_000) * 10_000_000
		m.add([3]int64{start, start + 10_000_000, int64(i % 10_000)}, uint32(m.len()))
	}
	for i := range n {
		a[i], bb[i], c[i] = 10_000_000, 20_000_000, int64(i%10_000)
	}
	ids := make([]uint32, n)
	for b.Loop() {
		m.lookup(a, bb, c, ids)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}
