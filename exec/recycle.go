package exec

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// recycler is the allocator of a Context given Go's allocator: it keeps
// the buffers of batch-sized allocations (4 KiB to 1 MiB, by power of two)
// once their last reference is released, and hands them out again,
// zeroed, as Go's allocator does, until the Context closes. An operator
// pipeline allocates and frees buffers of the same few sizes for every
// batch it streams (a projection's columns, a grouping key computed per
// batch); left to the garbage collector they made a windowed count spend
// about a fifth of its time allocating, clearing and collecting. After
// Close it keeps nothing (arrays of the execution that outlive it keep the
// recycler too). Buffers are 64-byte aligned, as memory.GoAllocator's are.
type recycler struct {
	mu     sync.Mutex
	free   [recycleMaxClass + 1][][]byte
	kept   int  // bytes in free
	closed bool // the Context closed: keep nothing more
}

const (
	recycleMinClass = 12       // 4 KiB
	recycleMaxClass = 20       // 1 MiB
	recycleMaxKept  = 16 << 20 // bytes kept at most, over every class
)

var _ memory.Allocator = (*recycler)(nil)

// sizeClass returns the power of two of the class holding size bytes, or
// -1 for a size the recycler does not keep.
func sizeClass(size int) int {
	if size <= 0 {
		return -1
	}
	c := bits.Len(uint(size - 1))
	if c < recycleMinClass || c > recycleMaxClass {
		return -1
	}
	return c
}

// Allocate implements memory.Allocator.
func (r *recycler) Allocate(size int) []byte {
	c := sizeClass(size)
	if c < 0 {
		return goAllocate(size, size)
	}
	// A block of the class, shown with a capacity of size.
	r.mu.Lock()
	if n := len(r.free[c]); n > 0 {
		b := r.free[c][n-1]
		r.free[c] = r.free[c][:n-1]
		r.kept -= cap(b)
		r.mu.Unlock()
		b = b[:size:size]
		clear(b)
		return b
	}
	r.mu.Unlock()
	return goAllocate(1<<c, 1<<c)[:size:size]
}

// Reallocate implements memory.Allocator, as memory.GoAllocator does: the
// old buffer is left to the garbage collector (a caller may not expect it
// to be reused at once).
func (r *recycler) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := r.Allocate(size)
	copy(nb, b)
	return nb
}

// Free implements memory.Allocator: a buffer of a kept class goes back to
// its list, unless the lists hold recycleMaxKept bytes already (the
// garbage collector then takes it, as it would every buffer without the
// recycler). The buffer's capacity is the size it was allocated with
// (Arrow's buffers and kernels take cap as the usable size, as
// memory.GoAllocator makes it, so Allocate hides the rest of the block),
// which gives the block's class; the block is the 1<<class bytes at the
// buffer's start.
func (r *recycler) Free(b []byte) {
	c := sizeClass(cap(b))
	if c < 0 {
		return // from goAllocate: not a block
	}
	b = unsafe.Slice(unsafe.SliceData(b), 1<<c)
	r.mu.Lock()
	if !r.closed && r.kept+cap(b) <= recycleMaxKept {
		r.free[c] = append(r.free[c], b[:0])
		r.kept += cap(b)
	}
	r.mu.Unlock()
}

// close drops the kept buffers and keeps none from now on: arrays made in
// the execution may outlive it (a sink or the state keeps them) and with
// them the recycler, which must not hold on to buffers nobody uses.
func (r *recycler) close() {
	r.mu.Lock()
	r.free = [recycleMaxClass + 1][][]byte{}
	r.kept, r.closed = 0, true
	r.mu.Unlock()
}

// goAllocate returns size bytes with capacity capacity, 64-byte aligned,
// from Go's heap (zeroed). Outside the kept classes size and capacity are
// equal, so that Free knows such a buffer is not a block.
func goAllocate(size, capacity int) []byte {
	const align = 64
	buf := make([]byte, capacity+align)
	shift := (align - int(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%align)) % align
	return buf[shift : shift+size : shift+capacity]
}
