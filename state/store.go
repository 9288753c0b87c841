package state

import (
	"context"
	"fmt"
	"iter"
	"unsafe"
)

// Store is one version of a partition's state, opened for one batch by
// [Partition.Load]. Reads see the loaded version plus the changes made
// through this Store; [Store.Commit] makes those changes the next version,
// [Store.Abort] drops them.
//
// A Store is used by one goroutine (the task of its partition); it is not
// safe for concurrent use. After Commit or Abort it must not be used again:
// Put, Delete and Commit then return [ErrStoreClosed], Get finds nothing.
type Store struct {
	pt      *Partition
	version int64
	base    map[string][]byte
	layers  []layer
	dirty   map[string][]byte // this version's changes; nil value: deleted
	numKeys int64             // keys of the loaded version
	done    bool
}

// Version returns the version this store was loaded at. Commit writes
// Version()+1.
func (s *Store) Version() int64 { return s.version }

// Get returns the value of key and whether it is present. The returned
// slice belongs to the store and must not be modified; it stays valid (and
// unchanged) after later Puts, which store new slices.
func (s *Store) Get(key []byte) ([]byte, bool) {
	if v, ok := s.dirty[string(key)]; ok {
		return v, v != nil
	}
	return s.getBefore(key)
}

// getBefore looks key up in the loaded version, ignoring this store's
// changes.
//
// Every lookup indexes a map with string(key) in the index expression,
// which the compiler does without allocating; converting key to a string
// anywhere else would allocate a copy.
func (s *Store) getBefore(key []byte) ([]byte, bool) {
	for i := len(s.layers) - 1; i >= 0; i-- {
		if v, ok := s.layers[i].changes[string(key)]; ok {
			return v, v != nil
		}
	}
	v, ok := s.base[string(key)]
	return v, ok
}

// Put sets the value of key. It copies key and value, so the caller may
// reuse both buffers. A nil value is stored as an empty one.
func (s *Store) Put(key, value []byte) error {
	if s.done {
		return ErrStoreClosed
	}
	k, v := newEntry(key, value)
	s.dirty[k] = v
	return nil
}

// Delete removes key; deleting a missing key is not an error.
func (s *Store) Delete(key []byte) error {
	if s.done {
		return ErrStoreClosed
	}
	if _, existed := s.getBefore(key); existed {
		s.dirty[string(key)] = nil
	} else {
		delete(s.dirty, string(key))
	}
	return nil
}

// Len returns the number of keys. It costs a lookup per key changed
// through this store.
func (s *Store) Len() int64 {
	n := s.numKeys
	for k, v := range s.dirty {
		_, existed := s.getBefore(bytesOf(k))
		switch {
		case v == nil && existed:
			n--
		case v != nil && !existed:
			n++
		}
	}
	return n
}

// newEntry copies key and value into one allocation and returns the key
// as a string sharing it and the (non-nil) value. Neither part is ever
// modified afterwards, which makes the shared string legal. One allocation
// per entry instead of two; a map assignment to an existing string key
// replaces the stored key too, so an entry never pins the buffer of an
// older value.
func newEntry(key, value []byte) (string, []byte) {
	n := len(key) + len(value)
	if n == 0 {
		return "", []byte{}
	}
	buf := make([]byte, n)
	copy(buf, key)
	copy(buf[len(key):], value)
	var k string
	if len(key) > 0 {
		k = unsafe.String(&buf[0], len(key))
	}
	return k, buf[len(key):n:n]
}

// bytesOf returns a []byte sharing k's memory; it must not be modified.
func bytesOf(k string) []byte { return unsafe.Slice(unsafe.StringData(k), len(k)) }

// All returns an iterator over every key and value, in no particular
// order (it differs from call to call, as a Go map's does). The slices
// belong to the store and must not be modified. During the iteration the
// current key may be Put or Deleted; whether other keys put or deleted
// during the iteration are visited is unspecified.
func (s *Store) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		if s.done {
			return
		}
		for k, v := range s.dirty {
			if v != nil && !yield(bytesOf(k), v) {
				return
			}
		}
		shadowed := func(k string, above int) bool {
			if _, ok := s.dirty[k]; ok {
				return true
			}
			for j := above; j < len(s.layers); j++ {
				if _, ok := s.layers[j].changes[k]; ok {
					return true
				}
			}
			return false
		}
		for i := len(s.layers) - 1; i >= 0; i-- {
			for k, v := range s.layers[i].changes {
				if v != nil && !shadowed(k, i+1) && !yield(bytesOf(k), v) {
					return
				}
			}
		}
		for k, v := range s.base {
			if !shadowed(k, 0) && !yield(bytesOf(k), v) {
				return
			}
		}
	}
}

// Changes returns an iterator over the keys put or deleted through this
// store so far, in no particular order; the value is nil for a deleted
// key. Deleting a key that was not in the loaded version is not a change.
func (s *Store) Changes() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for k, v := range s.dirty {
			if !yield(bytesOf(k), v) {
				return
			}
		}
	}
}

// Abort drops the changes and releases the partition for the next Load;
// the partition stays at the loaded version. Abort after Commit or Abort
// does nothing.
func (s *Store) Abort() {
	if s.done {
		return
	}
	s.done = true
	s.dirty = nil
	s.pt.mu.Lock()
	if s.pt.active == s {
		s.pt.active = nil
	}
	s.pt.mu.Unlock()
}

// Commit writes the changes as version Version()+1 (a delta file holding
// only the keys put and deleted) and returns that version. When it
// returns, the delta file is durable and the new version is the one the
// partition holds in memory, so loading it reads no file. If the new
// version is due for a snapshot, Commit starts one in the background and
// does not wait for it.
//
// If Commit fails (ctx done, a full disk, ...), the store is aborted and
// the partition stays at the loaded version, which remains loadable; a
// write error is a [*FileError].
func (s *Store) Commit(ctx context.Context) (int64, error) {
	if s.done {
		return 0, ErrStoreClosed
	}
	pt := s.pt
	if err := ctx.Err(); err != nil {
		s.Abort()
		return 0, err
	}
	start := pt.opts.clock.Now()
	newV := s.version + 1
	var updated, removed, dirtyBytes int64
	for k, v := range s.dirty {
		dirtyBytes += int64(len(k)+len(v)) + entryOverhead
		if v == nil {
			removed++ // Delete keeps tombstones only for keys that existed
		} else {
			updated++
		}
	}
	payload := encodeDelta(newV, s.dirty)

	pt.mu.Lock()
	fork := pt.maxOnDisk > s.version
	pt.mu.Unlock()
	var removedFiles int64
	if fork {
		// Files of versions after the loaded one belong to an abandoned
		// history (the batch is being re-run): remove them before writing,
		// so that no stale snapshot or delta is ever combined with the new
		// one.
		n, err := pt.removeFrom(newV)
		removedFiles = n
		if err != nil {
			s.Abort()
			return 0, fmt.Errorf("state: operator %q partition %d: commit version %d: remove files of versions after %d: %w",
				pt.operator, pt.partition, newV, s.version, err)
		}
	}
	if err := pt.dir.Write(seriesDelta, newV, kindDelta, payload); err != nil {
		s.Abort()
		return 0, pt.fileError("write", "delta", newV, err)
	}

	pt.mu.Lock()
	defer pt.mu.Unlock()
	s.done = true
	if pt.active == s {
		pt.active = nil
	}
	if pt.snapDone == nil {
		for _, l := range pt.layers {
			pt.mergeLocked(l.changes, nil)
		}
		pt.layers = nil
		// The undo log costs an append per change; a commit that changes
		// more keys than the state held (the first batch, typically)
		// keeps none, and a step back from it reads files.
		var undo *[]undoEntry
		if len(s.dirty) <= len(pt.base) {
			log := make([]undoEntry, 0, len(s.dirty))
			undo = &log
		}
		pt.mergeLocked(s.dirty, undo)
		pt.undo = nil
		if undo != nil {
			pt.undo = *undo
		}
		pt.numKeys = int64(len(pt.base))
	} else {
		// The base is being read by the snapshot: keep the changes as a
		// layer, and count the new keys with a lookup each.
		var added int64
		for k, v := range s.dirty {
			if _, existed := s.getBefore(bytesOf(k)); v != nil && !existed {
				added++
			}
		}
		pt.layers = append(pt.layers, layer{version: newV, changes: s.dirty, bytes: dirtyBytes, keysBefore: s.numKeys})
		pt.undo = nil // the top layer is the way back
		pt.numKeys = s.numKeys + added - removed
	}
	s.dirty = nil
	pt.version, pt.loaded = newV, true
	pt.maxOnDisk = newV
	pt.metrics.NumUpdated, pt.metrics.NumRemoved = updated, removed
	pt.metrics.DeltaBytes = int64(len(payload))
	pt.metrics.FilesRemoved += removedFiles
	if fork && pt.lastSnap >= newV {
		pt.lastSnap = 0
	}
	if pt.snapDone == nil && !pt.closed && newV-pt.lastSnap >= int64(pt.opts.snapshotInterval) {
		done := make(chan struct{})
		pt.snapDone = done
		go pt.snapshot(pt.base, newV, done)
	}
	pt.metrics.CommitDuration = pt.opts.clock.Since(start)
	return newV, nil
}

// undoEntry is the value a key had before the last commit (nil: absent).
type undoEntry struct {
	key string
	old []byte
}

// mergeLocked applies changes to the base map. If changes is the larger
// map, it copies the base into changes instead and adopts changes as the
// base (the caller gives up changes, which nothing else references once
// its store is done and its layer merged). If undo is not nil, it receives
// the previous value of every changed key (nil for a key that was absent).
func (pt *Partition) mergeLocked(changes map[string][]byte, undo *[]undoEntry) {
	if len(changes) > len(pt.base) {
		if undo != nil {
			for k := range changes {
				*undo = append(*undo, undoEntry{k, pt.base[k]})
			}
		}
		for k, v := range pt.base {
			if _, ok := changes[k]; !ok {
				changes[k] = v
			}
		}
		var bytes int64
		for k, v := range changes {
			if v == nil {
				delete(changes, k)
				continue
			}
			bytes += int64(len(k)+len(v)) + entryOverhead
		}
		pt.base, pt.baseBytes = changes, bytes
		return
	}
	for k, v := range changes {
		old, ok := pt.base[k]
		if ok {
			pt.baseBytes -= int64(len(k)+len(old)) + entryOverhead
		}
		if undo != nil {
			*undo = append(*undo, undoEntry{k, old})
		}
		if v == nil {
			delete(pt.base, k)
			continue
		}
		pt.base[k] = v
		pt.baseBytes += int64(len(k)+len(v)) + entryOverhead
	}
}

// undoLocked applies an undo log to the base map.
func (pt *Partition) undoLocked(undo []undoEntry) {
	for _, e := range undo {
		if old, ok := pt.base[e.key]; ok {
			pt.baseBytes -= int64(len(e.key)+len(old)) + entryOverhead
		}
		if e.old == nil {
			delete(pt.base, e.key)
			continue
		}
		pt.base[e.key] = e.old
		pt.baseBytes += int64(len(e.key)+len(e.old)) + entryOverhead
	}
}
