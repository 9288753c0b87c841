package expr

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDivConst checks division by constants against Go's / and %, for
// divisors and dividends of every size and sign, the extremes included.
func TestDivConst(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	divisors := []int64{1, 2, 3, 5, 7, 10, 60, 1000, 10_000, 86_400_000_000, 1 << 20, (1 << 20) + 1, math.MaxInt64, math.MinInt64, math.MinInt64 + 1, -2, -3, -10_000, -(1 << 40)}
	for range 200 {
		divisors = append(divisors, r.Int64(), -r.Int64(), r.Int64N(1<<16)+2, -r.Int64N(1<<16)-2)
	}
	xs := []int64{0, 1, -1, 2, -2, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1}
	for range 2000 {
		xs = append(xs, r.Int64(), -r.Int64(), r.Int64N(1<<20)-1<<19)
	}
	for _, d := range divisors {
		dc, ok := newDivConst(d)
		if !ok {
			t.Fatalf("newDivConst(%d) refused", d)
		}
		for _, x := range xs {
			q, rem := dc.quoRem(x)
			if q != x/d || rem != x%d {
				t.Fatalf("%d / %d = %d rem %d, want %d rem %d", x, d, q, rem, x/d, x%d)
			}
		}
		// Near multiples of the divisor.
		for k := int64(-3); k <= 3; k++ {
			for _, e := range []int64{-1, 0, 1} {
				x := k*d + e
				if q, rem := dc.quoRem(x); q != x/d || rem != x%d {
					t.Fatalf("%d / %d = %d rem %d, want %d rem %d", x, d, q, rem, x/d, x%d)
				}
			}
		}
	}
	for _, d := range []int64{0, -1} {
		if _, ok := newDivConst(d); ok {
			t.Errorf("newDivConst(%d) accepted", d)
		}
	}
}
