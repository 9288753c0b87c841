package exec

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// filterStrings keeps the same rows as Arrow's filter kernel, nulls and
// slices included, with kept strings longer than the column's average
// (the case that made the kernel quadratic).
func TestFilterStrings(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	b := array.NewStringBuilder(alloc)
	keep := array.NewBooleanBuilder(alloc)
	for i := range 5000 {
		switch {
		case i%12 == 0:
			b.AppendNull()
			keep.Append(i%24 == 0)
		case i%12 == 1:
			b.Append("")
			keep.Append(false)
		default:
			b.Append(strings.Repeat(string(rune('a'+i%26)), 100+i%7))
			keep.Append(true)
		}
	}
	full := b.NewStringArray()
	mask := keep.NewBooleanArray()
	b.Release()
	keep.Release()
	defer full.Release()
	defer mask.Release()
	for _, sl := range [][2]int64{{0, 5000}, {7, 4321}} {
		a := array.NewSlice(full, sl[0], sl[1]).(*array.String)
		m := array.NewSlice(mask, sl[0], sl[1]).(*array.Boolean)
		sel, count := selection(alloc, m)
		got := filterStrings(alloc, a, sel.Bytes(), count)
		want, err := compute.FilterArray(compute.WithAllocator(context.Background(), alloc), a, m, *compute.DefaultFilterOptions())
		if err != nil {
			t.Fatal(err)
		}
		if !array.Equal(got, want) {
			t.Errorf("slice %v: filterStrings differs from Arrow's filter", sl)
		}
		for _, x := range []arrow.Array{a, m, got, want} {
			x.Release()
		}
		sel.Release()
	}
}

// BenchmarkFilterStrings filters 16K 100-byte strings of which every 12th
// is null and dropped: Arrow's kernel against filterStrings.
func BenchmarkFilterStrings(b *testing.B) {
	alloc := memory.NewGoAllocator()
	sb := array.NewStringBuilder(alloc)
	kb := array.NewBooleanBuilder(alloc)
	for i := range 1 << 14 {
		if i%12 == 0 {
			sb.AppendNull()
			kb.Append(false)
		} else {
			sb.Append(strings.Repeat("x", 100))
			kb.Append(true)
		}
	}
	a, m := sb.NewStringArray(), kb.NewBooleanArray()
	b.Run("arrow-kernel", func(b *testing.B) {
		for range b.N {
			out, err := compute.FilterArray(context.Background(), a, m, *compute.DefaultFilterOptions())
			if err != nil {
				b.Fatal(err)
			}
			out.Release()
		}
	})
	b.Run("filterStrings", func(b *testing.B) {
		for range b.N {
			sel, count := selection(alloc, m)
			filterStrings(alloc, a, sel.Bytes(), count).Release()
			sel.Release()
		}
	})
}
