package exec

import (
	"context"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/engine"
)

func TestRecycler(t *testing.T) {
	var r recycler
	aligned := func(b []byte) bool { return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%64 == 0 }
	for _, size := range []int{1, 100, 2048, 2049, 4096, 65536, 65600, 1 << 20, 1<<20 + 1, 3 << 20} {
		b := r.Allocate(size)
		if len(b) != size || !aligned(b) {
			t.Fatalf("Allocate(%d): len %d, aligned %v", size, len(b), aligned(b))
		}
		if cap(b) != size { // as memory.GoAllocator: Arrow's kernels grow by cap
			t.Errorf("Allocate(%d): capacity %d, want %d", size, cap(b), size)
		}
		for i := range b {
			b[i] = 0xFF
		}
		r.Free(b)
		// The same class again: the freed buffer, zeroed.
		again := r.Allocate(size)
		if sizeClass(size) >= 0 && unsafe.SliceData(again) != unsafe.SliceData(b) {
			t.Errorf("Allocate(%d) after a Free did not reuse the buffer", size)
		}
		for i, v := range again {
			if v != 0 {
				t.Fatalf("Allocate(%d): byte %d is %#x, want 0", size, i, v)
			}
		}
		if len(again) != size || cap(again) != size || !aligned(again) {
			t.Fatalf("Allocate(%d) reused: len %d, cap %d, aligned %v", size, len(again), cap(again), aligned(again))
		}
		r.Free(again)
	}
	// Buffers of sizes outside the classes are left to the collector.
	before := r.kept
	r.Free(r.Allocate(2048))
	r.Free(r.Allocate(1<<20 + 1))
	if r.kept != before {
		t.Errorf("buffers outside the classes were kept (%d bytes)", r.kept-before)
	}
	// Shrinking keeps the buffer; growing copies (as memory.GoAllocator).
	b := r.Allocate(5000)
	b[0] = 7
	if g := r.Reallocate(4000, b); unsafe.SliceData(g) != unsafe.SliceData(b) || len(g) != 4000 {
		t.Error("Reallocate to a smaller size moved the buffer")
	}
	if g := r.Reallocate(9000, b); g[0] != 7 || len(g) != 9000 || cap(g) != 9000 {
		t.Errorf("Reallocate(9000): first byte %d, len %d, cap %d", g[0], len(g), cap(g))
	}
	// A block freed through a shrunk slice comes back whole.
	r.Free(b[:100])
	if got := r.Allocate(8000); unsafe.SliceData(got) != unsafe.SliceData(b) || cap(got) != 8000 {
		t.Error("a block freed after a shrink was not reused")
	}
	// Arrow arrays built on it release their buffers into it.
	bld := array.NewInt64Builder(&r)
	bld.AppendValues(make([]int64, 1000), nil)
	a := bld.NewArray()
	bld.Release()
	a.Release()
	var kept int
	for _, l := range r.free {
		kept += len(l)
	}
	if kept == 0 {
		t.Error("no buffer of a released array came back")
	}
}

// TestRecyclerArrowTake takes strings with Arrow's kernel, which grows its
// buffers by their capacity (a recycled block shown with more capacity
// than its size made it write past the size).
func TestRecyclerArrowTake(t *testing.T) {
	var r recycler
	ctx := compute.WithAllocator(context.Background(), &r)
	for round := range 3 {
		bld := array.NewStringBuilder(&r)
		for i := range 2000 {
			bld.Append(strings.Repeat("x", 1+i%7+(i%97)*(round+1)))
		}
		strs := bld.NewStringArray()
		bld.Release()
		idx := make([]int32, 3000)
		for i := range idx {
			idx[i] = int32(1900 + i%100) // the longest strings, many times
		}
		ib := array.NewInt32Builder(&r)
		ib.AppendValues(idx, nil)
		ia := ib.NewArray()
		ib.Release()
		out, err := compute.TakeArray(ctx, strs, ia)
		if err != nil {
			t.Fatal(err)
		}
		got := out.(*array.String)
		for i, j := range idx {
			if got.Value(i) != strs.Value(int(j)) {
				t.Fatalf("round %d: row %d is %q, want %q", round, i, got.Value(i), strs.Value(int(j)))
			}
		}
		out.Release()
		ia.Release()
		strs.Release()
	}
}

func TestNewContextRecyclesGoAllocator(t *testing.T) {
	for _, tc := range []struct {
		alloc memory.Allocator
		want  bool
	}{{nil, true}, {memory.DefaultAllocator, true}, {memory.NewGoAllocator(), true}, {memory.NewCheckedAllocator(memory.NewGoAllocator()), false}} {
		ec, err := engine.New(engine.Slots(1))
		if err != nil {
			t.Fatal(err)
		}
		defer ec.Close()
		c, err := NewContext(ec, tc.alloc, time.Time{}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Alloc.(*recycler); ok != tc.want {
			t.Errorf("NewContext(%T): recycler %v, want %v", tc.alloc, ok, tc.want)
		}
		c.Close()
	}
}

// TestRecyclerKeepsBounded: freed buffers beyond recycleMaxKept bytes are
// left to the garbage collector.
func TestRecyclerKeepsBounded(t *testing.T) {
	var r recycler
	var bs [][]byte
	for range 2 * recycleMaxKept / (1 << 20) {
		bs = append(bs, r.Allocate(1<<20))
	}
	for _, b := range bs {
		r.Free(b)
	}
	if r.kept != recycleMaxKept || len(r.free[20]) != recycleMaxKept/(1<<20) {
		t.Errorf("kept %d bytes in %d buffers, want %d", r.kept, len(r.free[20]), recycleMaxKept)
	}
	r.Allocate(1 << 20)
	if r.kept != recycleMaxKept-1<<20 {
		t.Errorf("after an Allocate: kept %d bytes", r.kept)
	}
}

// TestRecyclerClose: once its Context closes, the recycler drops what it
// kept and keeps nothing more (arrays that outlive the execution keep it
// alive).
func TestRecyclerClose(t *testing.T) {
	ec, err := engine.New(engine.Slots(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	c, err := NewContext(ec, nil, time.Time{}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Alloc.(*recycler)
	r.Free(r.Allocate(8192))
	kept := r.Allocate(8192) // outlives the context
	if r.kept != 0 {
		t.Fatalf("kept %d bytes before Close", r.kept)
	}
	r.Free(r.Allocate(8192))
	c.Close()
	if r.kept != 0 {
		t.Errorf("kept %d bytes after Close", r.kept)
	}
	r.Free(kept)
	if r.kept != 0 || len(r.free[13]) != 0 {
		t.Errorf("kept a buffer freed after Close (%d bytes)", r.kept)
	}
	if b := r.Allocate(100_000); len(b) != 100_000 {
		t.Errorf("Allocate after Close: %d bytes", len(b))
	}
}
