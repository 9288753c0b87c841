package expr

import "math/bits"

// divConst divides int64 values by a constant, as Go's / and % do
// (truncating; the remainder has the sign of the dividend), with a
// multiplication and shifts instead of a division per value: the method of
// Granlund and Montgomery, "Division by Invariant Integers using
// Multiplication" (1994), figure 4.1, on the values' magnitudes. A column
// modulo or divided by a literal (a key such as value % 10000) runs
// several times faster.
type divConst struct {
	d     int64
	ad    uint64 // |d|
	m     uint64 // the multiplier; 0 when ad is a power of two
	shift uint   // l-1, or log2(ad) for a power of two
}

// newDivConst prepares division by d; ok is false for 0 and -1 (which
// the caller handles: a null, and the wrap-around of MinInt64 / -1).
func newDivConst(d int64) (divConst, bool) {
	if d == 0 || d == -1 {
		return divConst{}, false
	}
	ad := uint64(d)
	if d < 0 {
		ad = -ad
	}
	if ad&(ad-1) == 0 {
		return divConst{d: d, ad: ad, shift: uint(bits.TrailingZeros64(ad))}, true
	}
	l := uint(bits.Len64(ad - 1)) // 2^(l-1) < ad < 2^l
	// m = floor(2^64 (2^l - ad) / ad) + 1; 2^l - ad < ad, so it fits.
	q, _ := bits.Div64((uint64(1)<<l)-ad, 0, ad)
	return divConst{d: d, ad: ad, m: q + 1, shift: l - 1}, true
}

// udiv returns n / |d|.
func (c *divConst) udiv(n uint64) uint64 {
	if c.m == 0 {
		return n >> c.shift
	}
	t, _ := bits.Mul64(c.m, n)
	return (t + (n-t)>>1) >> c.shift
}

// quoRem returns x / d and x % d as Go computes them.
func (c *divConst) quoRem(x int64) (q, r int64) {
	ax := uint64(x)
	if x < 0 {
		ax = -ax // MinInt64 becomes 2^63, its magnitude
	}
	uq := c.udiv(ax)
	ur := ax - uq*c.ad
	q, r = int64(uq), int64(ur)
	if (x < 0) != (c.d < 0) {
		q = -q
	}
	if x < 0 {
		r = -r
	}
	return q, r
}

// div writes a[i] / d (mod false) or a[i] % d (mod true) to out.
func (c *divConst) div(a, out []int64, mod bool) {
	a = a[:len(out)]
	if mod {
		for i, x := range a {
			_, out[i] = c.quoRem(x)
		}
		return
	}
	for i, x := range a {
		out[i], _ = c.quoRem(x)
	}
}
