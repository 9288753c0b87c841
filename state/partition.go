package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/spate-io/spate/checkpoint"
)

// entryOverhead estimates the bytes a map entry costs beyond its key and
// value bytes: the string and slice headers in the map's slot, the map's
// own overhead per slot and allocation rounding.
const entryOverhead = 64

// layer is the set of changes of one committed version that is not yet
// merged into the base map (because a snapshot was reading the base).
type layer struct {
	version    int64
	changes    map[string][]byte // nil value: deleted
	bytes      int64             // memory estimate
	keysBefore int64             // number of keys of the version below
}

// Partition is the versioned state of one stateful operator in one state
// partition. Get it from [Provider.Partition]. A Partition keeps the latest
// version it loaded or committed in memory, so that loading the next batch's
// version reads no file.
//
// One task at a time uses a Partition: it calls [Partition.Load], reads and
// changes the returned [Store], and ends with [Store.Commit] or
// [Store.Abort]; Load fails with [ErrStoreInUse] until then. Partitions are
// independent of each other and may be used from different goroutines at
// the same time. [Partition.Metrics] and [Partition.WaitSnapshot] may be
// called from any goroutine at any time.
type Partition struct {
	opts      *options
	operator  string
	partition int
	path      string
	dir       *checkpoint.Dir // delta files, and reads
	snapDir   *checkpoint.Dir // snapshot writes (see Provider.Partition)

	mu     sync.Mutex
	closed bool
	active *Store
	// The cached version: base overlaid by layers, oldest first. base is
	// read by the snapshot goroutine while snapDone is non-nil, and is
	// changed only by Commit and Load when snapDone is nil.
	loaded    bool
	version   int64
	base      map[string][]byte
	baseBytes int64
	layers    []layer
	numKeys   int64
	lastSnap  int64         // newest version with a snapshot on disk (0: none known)
	maxOnDisk int64         // newest version with a file on disk, as far as this partition knows
	snapDone  chan struct{} // non-nil while a snapshot runs; closed when it ends
	// undo holds, when not nil, the value before the last commit of every
	// key that commit changed in the base (nil: the key was absent), so
	// that version-1 can be restored without reading files. Each key
	// appears once (the changes came from a map).
	undo    []undoEntry
	metrics Metrics
}

// Metrics describes a partition's state store. The fields about a version
// refer to the last committed one.
type Metrics struct {
	Operator  string
	Partition int
	// Version is the version in memory: the last one loaded or committed.
	Version int64
	// NumKeys is the number of keys of Version.
	NumKeys int64
	// NumUpdated and NumRemoved count the keys put and deleted by the last
	// commit.
	NumUpdated int64
	NumRemoved int64
	// MemoryBytes estimates the memory the cached version takes: key and
	// value bytes plus a fixed overhead per entry.
	MemoryBytes int64
	// DeltaBytes is the payload size of the last delta file written.
	DeltaBytes int64
	// CommitDuration is the time the last commit took (encoding, writing
	// and syncing its delta file, updating the cache).
	CommitDuration time.Duration
	// LoadDuration is the time the last load from files took; loads served
	// from memory do not change it.
	LoadDuration time.Duration
	// CacheHits and CacheMisses count loads served from memory and from
	// files. StepBacks counts the cache hits that loaded the version
	// before the cached one (a batch re-run after its commit).
	CacheHits, CacheMisses, StepBacks int64
	// SnapshotVersion, SnapshotBytes and SnapshotDuration describe the last
	// snapshot written (SnapshotVersion 0: none yet by this process).
	SnapshotVersion  int64
	SnapshotBytes    int64
	SnapshotDuration time.Duration
	// SnapshotErr is the error of the last background snapshot or clean-up,
	// nil if it succeeded. A failed snapshot loses nothing: the delta files
	// are still there, and the next commit tries again.
	SnapshotErr error
	// FilesRemoved counts the files removed by clean-up in this process.
	FilesRemoved int64
}

// Operator returns the operator id.
func (pt *Partition) Operator() string { return pt.operator }

// Index returns the state partition number.
func (pt *Partition) Index() int { return pt.partition }

// Dir returns the partition's directory, <root>/state/<operator>/<partition>.
func (pt *Partition) Dir() string { return pt.path }

// Metrics returns the current metrics.
func (pt *Partition) Metrics() Metrics {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	m := pt.metrics
	m.Operator, m.Partition = pt.operator, pt.partition
	m.Version, m.NumKeys = pt.version, pt.numKeys
	m.MemoryBytes = pt.baseBytes
	for _, l := range pt.layers {
		m.MemoryBytes += l.bytes
	}
	return m
}

// WaitSnapshot waits until no background snapshot of this partition runs.
// It returns ctx.Err() if ctx ends first; the snapshot's own outcome is in
// [Metrics].SnapshotErr.
func (pt *Partition) WaitSnapshot(ctx context.Context) error {
	pt.mu.Lock()
	done := pt.snapDone
	pt.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Load returns a [Store] holding the given version of the state, which
// must be 0 (the empty state) or a committed version. The version in
// memory and the one before it are served without reading files (the
// latter by undoing the last commit in memory); any other version is rebuilt
// from the latest snapshot at or below it and the delta files after that
// snapshot (waiting first for a running snapshot to finish). A damaged
// file gives a [*FileError], a missing one a [*MissingVersionError]; the
// state is never silently wrong.
func (pt *Partition) Load(ctx context.Context, version int64) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, fmt.Errorf("state: operator %q partition %d: load version %d: must not be negative", pt.operator, pt.partition, version)
	}
	pt.mu.Lock()
	switch {
	case pt.closed:
		pt.mu.Unlock()
		return nil, ErrClosed
	case pt.active != nil:
		pt.mu.Unlock()
		return nil, fmt.Errorf("state: operator %q partition %d: load version %d: %w", pt.operator, pt.partition, version, ErrStoreInUse)
	case pt.loaded && pt.version == version:
		s := pt.newStoreLocked()
		pt.metrics.CacheHits++
		pt.mu.Unlock()
		return s, nil
	case pt.loaded && pt.version-1 == version && len(pt.layers) > 0:
		pt.stepBackLocked()
		s := pt.newStoreLocked()
		pt.mu.Unlock()
		return s, nil
	}
	// Reserve the partition so that no other Load runs meanwhile.
	reserve := &Store{pt: pt, done: true}
	pt.active = reserve
	done := pt.snapDone
	pt.mu.Unlock()
	release := func() {
		pt.mu.Lock()
		pt.active = nil
		pt.mu.Unlock()
	}
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	pt.mu.Lock()
	if pt.loaded && pt.version-1 == version && pt.undo != nil {
		// The snapshot, which read the base, has finished: undo the last
		// commit in place.
		pt.stepBackLocked()
		pt.active = nil
		s := pt.newStoreLocked()
		pt.mu.Unlock()
		return s, nil
	}
	pt.mu.Unlock()
	start := pt.opts.clock.Now()
	base, bytes, snap, maxOnDisk, err := pt.readVersion(ctx, version)
	if err != nil {
		release()
		return nil, err
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.loaded, pt.version = true, version
	pt.base, pt.baseBytes, pt.layers = base, bytes, nil
	pt.numKeys = int64(len(base))
	pt.lastSnap, pt.maxOnDisk = snap, maxOnDisk
	pt.undo = nil
	pt.metrics.CacheMisses++
	pt.metrics.LoadDuration = pt.opts.clock.Since(start)
	pt.active = nil
	return pt.newStoreLocked(), nil
}

// stepBackLocked turns the cached version v into v-1, by dropping the top
// layer or, when there is none, applying the undo map to the base (which
// no snapshot may be reading). The files of v stay until the next commit
// replaces them. The caller checked that one of the two is possible.
func (pt *Partition) stepBackLocked() {
	if n := len(pt.layers); n > 0 {
		top := pt.layers[n-1]
		pt.layers = pt.layers[:n-1]
		pt.numKeys = top.keysBefore
	} else {
		pt.undoLocked(pt.undo)
		pt.undo = nil
		pt.numKeys = int64(len(pt.base))
	}
	if pt.lastSnap >= pt.version {
		pt.lastSnap = 0 // that snapshot is of the abandoned version
	}
	pt.version--
	pt.metrics.CacheHits++
	pt.metrics.StepBacks++
}

func (pt *Partition) newStoreLocked() *Store {
	s := &Store{
		pt:      pt,
		version: pt.version,
		base:    pt.base,
		layers:  slices.Clip(pt.layers),
		dirty:   make(map[string][]byte),
		numKeys: pt.numKeys,
	}
	pt.active = s
	return s
}

func (pt *Partition) fileError(op, kind string, version int64, err error) error {
	series := seriesDelta
	if kind == "snapshot" {
		series = seriesSnapshot
	}
	path := filepath.Join(pt.path, checkpoint.FileName(series, version))
	var fe formatError
	if errors.As(err, &fe) {
		err = &checkpoint.CorruptError{Path: path, Reason: string(fe)}
	}
	return &FileError{Operator: pt.operator, Partition: pt.partition, Kind: kind, Version: version, Path: path, Op: op, Err: err}
}

// readVersion rebuilds a version from files. It returns the state, its
// memory estimate, the snapshot it started from and the newest version on
// disk.
func (pt *Partition) readVersion(ctx context.Context, version int64) (m map[string][]byte, bytes, snap, maxOnDisk int64, err error) {
	snaps, err := pt.dir.List(seriesSnapshot)
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("state: operator %q partition %d: %w", pt.operator, pt.partition, err)
	}
	deltas, err := pt.dir.List(seriesDelta)
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("state: operator %q partition %d: %w", pt.operator, pt.partition, err)
	}
	if len(snaps) > 0 {
		maxOnDisk = snaps[len(snaps)-1]
	}
	if len(deltas) > 0 {
		maxOnDisk = max(maxOnDisk, deltas[len(deltas)-1])
	}
	for _, s := range slices.Backward(snaps) {
		if s <= version {
			snap = s
			break
		}
	}
	if snap > 0 {
		payload, err := pt.dir.Read(seriesSnapshot, snap, kindSnapshot)
		if err != nil {
			return nil, 0, 0, 0, pt.fileError("read", "snapshot", snap, err)
		}
		var dup []byte
		err = decodeSnapshot(payload, snap,
			func(n int) { m = make(map[string][]byte, n) },
			func(k, v []byte) {
				if _, ok := m[string(k)]; ok && dup == nil {
					dup = k
				}
				ks, vs := newEntry(k, v)
				m[ks] = vs
				bytes += int64(len(k)+len(v)) + entryOverhead
			})
		if err == nil && dup != nil {
			err = badf("key %q appears twice", dup)
		}
		if err != nil {
			return nil, 0, 0, 0, pt.fileError("read", "snapshot", snap, err)
		}
	} else {
		m = make(map[string][]byte)
	}
	have := make(map[int64]bool, len(deltas))
	for _, d := range deltas {
		have[d] = true
	}
	for v := snap + 1; v <= version; v++ {
		if err := ctx.Err(); err != nil {
			return nil, 0, 0, 0, err
		}
		missing := func() error {
			return &MissingVersionError{Operator: pt.operator, Partition: pt.partition, Version: version, Missing: v,
				Path: filepath.Join(pt.path, checkpoint.FileName(seriesDelta, v)), Latest: maxOnDisk}
		}
		if !have[v] {
			return nil, 0, 0, 0, missing()
		}
		payload, err := pt.dir.Read(seriesDelta, v, kindDelta)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, 0, 0, missing()
		}
		if err != nil {
			return nil, 0, 0, 0, pt.fileError("read", "delta", v, err)
		}
		err = decodeDelta(payload, v, func(k, val []byte) {
			old, ok := m[string(k)]
			if ok {
				bytes -= int64(len(k)+len(old)) + entryOverhead
			}
			if val == nil {
				delete(m, string(k))
				return
			}
			ks, vs := newEntry(k, val)
			m[ks] = vs
			bytes += int64(len(k)+len(val)) + entryOverhead
		})
		if err != nil {
			return nil, 0, 0, 0, pt.fileError("read", "delta", v, err)
		}
	}
	return m, bytes, snap, maxOnDisk, nil
}

// clone copies b into a new non-nil slice.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// removeFile removes one file of the partition, ignoring a missing file.
func (pt *Partition) removeFile(series string, version int64) error {
	err := pt.opts.fs.Remove(filepath.Join(pt.path, checkpoint.FileName(series, version)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeFrom removes the files of a version history that a commit of
// version v replaces: snapshots at or after v and deltas after v, left
// over from before a reload of an older version.
func (pt *Partition) removeFrom(v int64) (int64, error) {
	var n int64
	for _, series := range []string{seriesSnapshot, seriesDelta} {
		seqs, err := pt.dir.List(series)
		if err != nil {
			return n, err
		}
		for _, s := range seqs {
			if s > v || (s == v && series == seriesSnapshot) {
				if err := pt.removeFile(series, s); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}

// snapshot runs in its own goroutine: it encodes base (version v), writes
// it and then removes files that the retained versions no longer need.
func (pt *Partition) snapshot(base map[string][]byte, v int64, done chan struct{}) {
	start := pt.opts.clock.Now()
	payload := encodeSnapshot(v, base)
	var writeErr, cleanErr error
	if err := pt.snapDir.Write(seriesSnapshot, v, kindSnapshot, payload); err != nil {
		writeErr = pt.fileError("write", "snapshot", v, err)
	}
	elapsed := pt.opts.clock.Since(start)
	var removed int64
	if writeErr == nil {
		pt.mu.Lock()
		latest := pt.version
		pt.mu.Unlock()
		removed, cleanErr = pt.cleanup(latest)
	}
	pt.mu.Lock()
	if writeErr == nil {
		pt.lastSnap = max(pt.lastSnap, v)
		pt.metrics.SnapshotVersion = v
		pt.metrics.SnapshotBytes = int64(len(payload))
		pt.metrics.SnapshotDuration = elapsed
	}
	pt.metrics.SnapshotErr = errors.Join(writeErr, cleanErr)
	pt.metrics.FilesRemoved += removed
	pt.snapDone = nil
	pt.mu.Unlock()
	close(done)
}

var errCleanup = errors.New("state: clean-up of old state files failed")

// cleanup removes the files not needed to load any of the latest
// opts.retain+1 versions up to latest: snapshots older than the newest
// snapshot at or below the oldest retained version, and deltas up to that
// snapshot.
func (pt *Partition) cleanup(latest int64) (int64, error) {
	// One version more than asked: latest may have been read just before
	// a step back to latest-1 (which does not wait for this goroutine).
	oldest := latest - int64(pt.opts.retain)
	if oldest <= 1 {
		return 0, nil
	}
	snaps, err := pt.dir.List(seriesSnapshot)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errCleanup, err)
	}
	var keep int64
	for _, s := range slices.Backward(snaps) {
		if s <= oldest {
			keep = s
			break
		}
	}
	if keep == 0 {
		return 0, nil
	}
	deltas, err := pt.dir.List(seriesDelta)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errCleanup, err)
	}
	var n int64
	var errs []error
	for _, s := range snaps {
		if s < keep {
			if err := pt.removeFile(seriesSnapshot, s); err != nil {
				errs = append(errs, err)
			} else {
				n++
			}
		}
	}
	for _, d := range deltas {
		if d <= keep {
			if err := pt.removeFile(seriesDelta, d); err != nil {
				errs = append(errs, err)
			} else {
				n++
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("%w: %w", errCleanup, err)
	}
	return n, nil
}
