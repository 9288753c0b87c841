package exec

import "math/bits"

// tupleMap assigns dense ids (0, 1, ...) to tuples of up to three int64s
// (the key values of 1 to 3 int64-like key columns; unused positions are
// 0). It is an open-addressing hash table with linear probing: the slots
// hold ids, the keys are kept by id (so a scan whose keys repeat in the
// order they first came reads them in order). It replaces a Go map keyed
// by the tuple, whose hashing of the tuple's bytes and probing were the
// top of the profile of a windowed count (window start, window end, key).
// Reads (find) are safe from concurrent goroutines while nothing is added.
type tupleMap struct {
	slots []uint32 // the id + 1 of a key; 0: empty
	keys  [][3]int64
	mask  uint64 // len(slots) - 1 (a power of two)
	shift uint   // 64 - log2(len(slots)): the slot of hash h is h >> shift
}

// Odd constants of the tuple hash (from wyhash and Fibonacci hashing).
const (
	tupleMul0 = 0xa0761d6478bd642f
	tupleMul1 = 0xe7037ed1a0b428db
	tupleMul2 = 0x8ebc6af09c88c6e3
	tupleFib  = 0x9e3779b97f4a7c15
)

// tupleHash hashes a key tuple: the values times odd constants (each
// product's high bits depend on all of the value's bits), combined, folded
// and multiplied again, so that the high bits depend on every bit of every
// value; the slot index is the top bits (multiplicative hashing). The
// three products are independent, so the hash costs about two
// multiplications' latency.
func tupleHash(k [3]int64) uint64 {
	h := uint64(k[0])*tupleMul0 ^ uint64(k[1])*tupleMul1 ^ uint64(k[2])*tupleMul2
	h ^= h >> 32
	return h * tupleFib
}

// len returns the number of keys.
func (m *tupleMap) len() int { return len(m.keys) }

// find returns the id of key k.
func (m *tupleMap) find(k [3]int64) (uint32, bool) {
	if len(m.slots) == 0 {
		return 0, false
	}
	for i := tupleHash(k) >> m.shift; ; i = (i + 1) & m.mask {
		s := m.slots[i]
		if s == 0 {
			return 0, false
		}
		if m.keys[s-1] == k {
			return s - 1, true
		}
	}
}

// add returns the id of key k, adding it with id next when it is new
// (added reports that). Ids must be added in order: next is the number
// of keys added before, plus any ids the caller gave elsewhere.
func (m *tupleMap) add(k [3]int64, next uint32) (id uint32, added bool) {
	if len(m.slots) == 0 {
		m.resize(64)
	}
	i := tupleHash(k) >> m.shift
	for {
		s := m.slots[i]
		if s == 0 {
			break
		}
		if m.keys[s-1] == k {
			return s - 1, false
		}
		i = (i + 1) & m.mask
	}
	for uint32(len(m.keys)) < next { // ids the caller gave other keys
		m.keys = append(m.keys, [3]int64{})
	}
	m.keys = append(m.keys, k)
	m.slots[i] = next + 1
	if 2*len(m.keys) > len(m.slots) { // at most half full: short probes
		m.resize(2 * len(m.slots))
	}
	return next, true
}

// reserve makes room for n keys in all without growing again.
func (m *tupleMap) reserve(n int) {
	want := 64
	for want < 2*n {
		want *= 2
	}
	if want > len(m.slots) {
		m.resize(want)
	}
	if cap(m.keys) < n {
		m.keys = append(make([][3]int64, 0, n), m.keys...)
	}
}

// resize rehashes the keys into n slots (a power of two).
func (m *tupleMap) resize(n int) {
	old := m.slots
	m.slots = make([]uint32, n)
	m.mask = uint64(n - 1)
	m.shift = uint(64 - bits.TrailingZeros(uint(n)))
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := tupleHash(m.keys[s-1]) >> m.shift
		for m.slots[i] != 0 {
			i = (i + 1) & m.mask
		}
		m.slots[i] = s
	}
}

// lookup writes the id of each row's key (the values of a, b and c at
// the row; b or c nil: 0) into ids, and ^0 for keys not in the map; it
// reports whether any was missing. It is the batch form of find, its loop
// free of calls so that the probes of successive rows overlap.
func (m *tupleMap) lookup(a, b, c []int64, ids []uint32) bool {
	n := len(ids)
	if len(m.slots) == 0 {
		for i := range ids {
			ids[i] = ^uint32(0)
		}
		return n > 0
	}
	a = a[:n]
	var zeros [1]int64
	bs, cs := b, c
	bstep, cstep := 1, 1
	if bs == nil {
		bs, bstep = zeros[:], 0
	}
	if cs == nil {
		cs, cstep = zeros[:], 0
	}
	slots, keys, mask, shift := m.slots, m.keys, m.mask, m.shift
	missing := false
	bi, ci := 0, 0
	for i := range ids {
		k := [3]int64{a[i], bs[bi], cs[ci]}
		bi += bstep
		ci += cstep
		id := ^uint32(0)
		for j := tupleHash(k) >> shift; ; j = (j + 1) & mask {
			s := slots[j]
			if s == 0 {
				missing = true
				break
			}
			if keys[s-1] == k {
				id = s - 1
				break
			}
		}
		ids[i] = id
	}
	return missing
}
