package benchsuite

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"
)

// rng is a small splitmix64 generator, seeded per event so that event g is
// a pure function of (seed, g). It is a value type: making one costs
// nothing and it never allocates.
type rng struct{ s uint64 }

// eventRNG returns the generator of event g of a run seeded with seed.
func eventRNG(seed uint64, g int64) rng {
	return rng{s: mix64(seed ^ mix64(uint64(g)+0x9e3779b97f4a7c15))}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// intn returns a uniform integer in [0, n); n must be > 0.
func (r *rng) intn(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// mix64 is the splitmix64 finalizer: a cheap, good 64-bit mixer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hashString is a fast, process-independent 64-bit hash of s (8 bytes at
// a time), for checksums that are the same in every run.
func hashString(s string) uint64 {
	h := uint64(len(s)) * 0x9e3779b97f4a7c15
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 0x100000001b3
		h ^= h >> 29
		b = b[8:]
	}
	var tail uint64
	for i, c := range b {
		tail |= uint64(c) << (8 * i)
	}
	return mix64(h ^ tail)
}

// hashInts combines integers into one 64-bit hash.
func hashInts(xs ...int64) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, x := range xs {
		h = mix64(h ^ uint64(x))
	}
	return h
}

// letters is the alphabet of generated strings.
const letters = "abcdefghijklmnopqrstuvwxyz"

// stringPool is a block of random letters that generated strings are cut
// from (a substring costs no allocation).
type stringPool string

func newStringPool(seed uint64, n int) stringPool {
	r := rng{s: seed}
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.intn(int64(len(letters)))]
	}
	return stringPool(b)
}

// exact returns a string of n random letters drawn with r.
func (p stringPool) exact(r *rng, n int) string {
	if n <= 0 {
		return ""
	}
	n = min(n, len(p))
	at := r.intn(int64(len(p) - n + 1))
	return string(p[at : at+int64(n)])
}

// upTo returns a string of 1..max random letters.
func (p stringPool) upTo(r *rng, max int) string {
	return p.exact(r, 1+int(r.intn(int64(max))))
}

// roundHalfUp rounds as Java's Math.round does.
func roundHalfUp(x float64) int64 { return int64(math.Floor(x + 0.5)) }
