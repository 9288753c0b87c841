package exec

import (
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/array"
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
		if c := sizeClass(size); c >= 0 && cap(b) != 1<<c {
			t.Errorf("Allocate(%d): capacity %d, want %d", size, cap(b), 1<<c)
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
		if len(again) != size || !aligned(again) {
			t.Fatalf("Allocate(%d) reused: len %d, aligned %v", size, len(again), aligned(again))
		}
	}
	// A buffer that is not of a class's exact capacity is not kept.
	r.Free(make([]byte, 5000))
	if n := len(r.free[13]); n != 0 {
		t.Errorf("a foreign buffer was kept (%d in the 8 KiB class)", n)
	}
	// Growing within the capacity keeps the buffer; beyond it copies.
	b := r.Allocate(5000)
	b[0] = 7
	if g := r.Reallocate(8192, b); unsafe.SliceData(g) != unsafe.SliceData(b) || len(g) != 8192 {
		t.Error("Reallocate within the capacity moved the buffer")
	}
	if g := r.Reallocate(9000, b); g[0] != 7 || len(g) != 9000 || cap(g) != 16384 {
		t.Errorf("Reallocate(9000): first byte %d, len %d, cap %d", g[0], len(g), cap(g))
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
