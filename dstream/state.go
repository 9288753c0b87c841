package dstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"sync"
	"time"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/rdd"
)

// State is the state of one key, handed to a MapWithState function.
type State[S any] struct {
	value     S
	exists    bool
	updated   bool
	removed   bool
	timingOut bool
}

// ErrStateTimingOut is returned by State.Update and State.Remove during
// the last call for a key that timed out: its state is removed anyway.
var ErrStateTimingOut = errors.New("dstream: the state is timing out and cannot be updated or removed")

// Exists reports whether the key has state.
func (s *State[S]) Exists() bool { return s.exists }

// Get returns the key's state, or the zero value when it has none.
func (s *State[S]) Get() S { return s.value }

// Update sets the key's state. A checkpoint records v as it is when the
// function returns: change a state value later only through Update.
func (s *State[S]) Update(v S) error {
	if s.timingOut {
		return ErrStateTimingOut
	}
	s.value, s.exists, s.updated, s.removed = v, true, true, false
	return nil
}

// Remove deletes the key's state.
func (s *State[S]) Remove() error {
	if s.timingOut {
		return ErrStateTimingOut
	}
	var zero S
	s.value, s.exists, s.updated, s.removed = zero, false, false, true
	return nil
}

// IsTimingOut reports whether this is the last call for a key that has
// had no data for longer than the StateSpec's Timeout.
func (s *State[S]) IsTimingOut() bool { return s.timingOut }

// StateSpec describes a MapWithState operation.
type StateSpec[K comparable, V, S, M any] struct {
	// Func is called for every key with new data in a batch, once per
	// value, with the batch time, the key, the value and the key's state,
	// and returns the value to emit. When a key times out it is called
	// once more with the zero V and state.IsTimingOut() true; the state
	// is removed after that call. Required.
	Func func(t time.Time, key K, value V, state *State[S]) M
	// InitialState, when set, gives keys their state before the first
	// batch.
	InitialState *rdd.RDD[rdd.Pair[K, S]]
	// Partitions sets how keys are spread over state partitions (see
	// rdd.NumPartitions and rdd.WithPartitioner). Default: as many hash
	// partitions as the engine has slots. The number is fixed for the
	// life of the stream.
	Partitions []rdd.PartitionOption
	// Timeout, when positive, removes a key that had no data for longer
	// than Timeout: at the first batch more than Timeout after the batch
	// of its last data, Func is called one last time with the state
	// timing out.
	Timeout time.Duration
	// KeyCodec and StateCodec encode keys and states for checkpoints.
	// Default: see [Codec].
	KeyCodec   Codec[K]
	StateCodec Codec[S]
}

// stateEntry is one key's state and the batch time of its last data.
type stateEntry[S any] struct {
	state   S
	updated int64
}

// stateStore is the state of one partition of a stateful stream. It holds
// one version, identified by the batch time it reflects; a batch's state
// is computed from the previous batch's version exactly once, and asking
// for the current version again returns the block already made, so a
// recomputed partition never applies a batch twice. The cost of a batch
// is proportional to its data (plus the keys that time out), not to the
// number of keys, except where the operation itself visits every key
// (UpdateStateByKey, snapshots).
type stateStore[K comparable, S any] struct {
	mu      sync.Mutex
	loaded  bool
	version int64 // batch time (Unix ns) of m; valid when loaded
	m       map[K]stateEntry[S]
	// byUpdate indexes keys by the batch time of their last data, for
	// timeouts (nil without a timeout).
	byUpdate map[int64]map[K]struct{}
	last     any // the block made for version
	// For incremental checkpoints (MapWithState), the changes since the
	// last checkpoint: with a per-value codec (rec set), dlog, the
	// changes encoded as they happen; with gob, changed, the keys updated
	// or removed (see noteChange). lastCkpt is the batch time of the last
	// checkpoint.
	rec      *stateRecordCodec[K, S]
	fast     func([]byte, K, S, int64) []byte // see fastAppender; nil without rec
	dlog     deltaLog
	changed  []K
	lastCkpt int64
	// sinceFull counts the records of the delta checkpoints since the
	// last full one; fullNext makes the next checkpoint a full one (the
	// first after a restore: the files before it spread keys over the
	// partitions with another hash seed).
	sinceFull int
	fullNext  bool
	// fullSize is about the size of the last full checkpoint and logSize
	// the size of the last delta log, to size the next buffers.
	fullSize, logSize int
	// spare is a delta log buffer the writer has finished with, for reuse.
	spare chan []byte
	// scan, when set, encodes the next checkpoint, a full one, over the
	// batches before it (see fullScan).
	scan *fullScan
}

// fullScan encodes a full checkpoint a chunk per batch over the
// checkpoint interval before it, so that no batch stalls for the whole
// encoding: it goes through the map (an iterator paused between batches)
// and appends each key's record to the delta log, among the records of
// the changes the batches make meanwhile. Applied in order, the records
// give the state at the checkpoint: a key's record holds its state when
// the scan reached it, and any later change is logged after it; a key
// added or removed while the scan runs has a record of that, whether the
// scan sees it or not; every other key the scan sees exactly once.
type fullScan struct {
	next   func() (struct{}, bool)
	stop   func()
	chunk  int // records per batch
	budget int // records left in this batch's chunk; negative: no limit
	done   bool
	err    error
}

// deltaLog holds, encoded as checkpoint records in the order they
// happened, every change to a store's state since its last checkpoint,
// so that a delta checkpoint is the buffer as it is: no key is looked up
// again, no record is copied, and nothing in it holds a pointer for the
// garbage collector. A key changed in several batches has several
// records; recovery applies them in order, so the last one wins. The log
// stops (and the next checkpoint writes the whole state) when it and the
// deltas since the last full checkpoint hold more records than twice the
// keys of the state, which bounds what recovery reads to about three
// full checkpoints' worth.
type deltaLog struct {
	on      bool   // buf holds every change since the last checkpoint
	buf     []byte // logHeader bytes kept free for the file's header, then the records
	n       int    // records in buf
	changes int    // of which records of changes (the others are a fullScan's)
}

// logHeader is the room kept at the start of a record buffer for the kind
// byte and the uvarint record count that precede the records in a state
// file (see sealRecords).
const logHeader = 1 + binary.MaxVarintLen64

// minDeltaLog is the number of records the deltas since a full
// checkpoint may hold whatever the size of the state.
const minDeltaLog = 4096

// sealRecords writes the header of a state file (kind, record count)
// right before the records that follow logHeader bytes of room in buf,
// and returns the file's payload: a suffix of buf, so nothing is copied.
func sealRecords(buf []byte, kind byte, n int) []byte {
	var h [logHeader]byte
	hb := binary.AppendUvarint(append(h[:0], kind), uint64(n))
	start := logHeader - len(hb)
	copy(buf[start:], hb)
	return buf[start:]
}

// noteChange records that k changes in this batch: with a delta log, the
// record of its new state s and time of last data u (u = deleted for a
// removal); otherwise k in changed, unless listed already. A key whose
// last data came after the last checkpoint is listed already (every
// change sets the time of last data), so a key is listed about once per
// checkpoint interval without a set to look it up in; the rare repeat (a
// key removed and added again) writes the same record twice, which is
// harmless.
func (st *stateStore[K, S]) noteChange(k K, existed bool, lastData int64, s S, u int64) {
	if st.rec == nil {
		if !existed || lastData <= st.lastCkpt {
			st.changed = append(st.changed, k)
		}
		return
	}
	l := &st.dlog
	if !l.on {
		return
	}
	var err error
	if st.sinceFull+l.changes < max(2*len(st.m), minDeltaLog) {
		var b []byte
		if b, err = st.appendRecord(l.buf, k, s, u); err == nil {
			l.buf = b
			l.n++
			l.changes++
			return
		}
	}
	// More changes than twice the keys, where a full checkpoint is
	// smaller than what recovery would read, or an error, which the full checkpoint that follows reports if it
	// persists: stop logging.
	st.restartLog(false)
}

// encodeFull encodes the whole state as the payload of a full checkpoint.
func (st *stateStore[K, S]) encodeFull() ([]byte, error) {
	buf := make([]byte, logHeader, logHeader+max(st.fullSize, 16*len(st.m)))
	var err error
	for k, e := range st.m {
		if buf, err = st.appendRecord(buf, k, e.state, e.updated); err != nil {
			return nil, err
		}
	}
	st.fullSize = len(buf) + len(buf)/8
	return sealRecords(buf, stateFull, len(st.m)), nil
}

// fastAppender returns a function that appends a state record as a
// stateRecordCodec of kc and sc does, without its interface calls, for
// the common case of string keys and int or int64 states with the
// built-in codecs; nil for other types and codecs.
func fastAppender[K comparable, S any](kc Codec[K], sc Codec[S]) func([]byte, K, S, int64) []byte {
	if _, ok := any(kc).(StringCodec); !ok {
		return nil
	}
	var f any
	switch any(sc).(type) {
	case Int64Codec:
		f = appendStringIntRecord[int64]
	case IntCodec:
		f = appendStringIntRecord[int]
	}
	fn, _ := f.(func([]byte, K, S, int64) []byte)
	return fn
}

func appendStringIntRecord[S int | int64](b []byte, k string, s S, updated int64) []byte {
	b = binary.AppendUvarint(b, uint64(len(k)))
	b = append(b, k...)
	b = binary.AppendVarint(b, int64(s))
	return binary.AppendVarint(b, updated)
}

// appendRecord appends the record (k, s, updated); on an error it returns
// nil.
func (st *stateStore[K, S]) appendRecord(b []byte, k K, s S, updated int64) ([]byte, error) {
	if st.fast != nil {
		return st.fast(b, k, s, updated), nil
	}
	return st.rec.appendRecord(b, k, s, updated)
}

// restartLog empties the delta log and starts or stops it; it stops a
// full scan, which writes to the log.
func (st *stateStore[K, S]) restartLog(on bool) {
	st.stopScan()
	l := &st.dlog
	l.on, l.n, l.changes = on && st.rec != nil, 0, 0
	if l.buf == nil && l.on {
		select {
		case l.buf = <-st.spare:
		default:
			l.buf = make([]byte, 0, max(64<<10, st.logSize+st.logSize/4))
		}
	}
	if l.buf != nil {
		l.buf = l.buf[:logHeader]
	}
}

// startScan starts a full scan, to be done in batches batches; without
// a delta log (which it writes to), it does nothing.
func (st *stateStore[K, S]) startScan(batches int) {
	l := &st.dlog
	if !l.on {
		return
	}
	if need := logHeader + max(st.fullSize, 16*len(st.m)); cap(l.buf) < need {
		buf := make([]byte, len(l.buf), need)
		copy(buf, l.buf)
		l.buf = buf
	}
	sc := &fullScan{chunk: len(st.m)/max(batches, 1) + 1}
	sc.next, sc.stop = iter.Pull(func(yield func(struct{}) bool) {
		// Between two records the iterator may pause for a batch, which
		// changes the map: the next entry is taken after it, as Go's
		// range over a map allows.
		for k, e := range st.m {
			b, err := st.appendRecord(st.dlog.buf, k, e.state, e.updated)
			if err != nil {
				sc.err = err
				return
			}
			st.dlog.buf = b
			st.dlog.n++
			if sc.budget--; sc.budget == 0 && !yield(struct{}{}) {
				return
			}
		}
	})
	st.scan = sc
}

// advanceScan encodes the next chunk of the full scan, or all that is
// left; it reports whether the scan is complete without an error.
func (st *stateStore[K, S]) advanceScan(all bool) bool {
	sc := st.scan
	if sc == nil {
		return false
	}
	if !sc.done {
		sc.budget = sc.chunk
		if all {
			sc.budget = -1
		}
		_, more := sc.next()
		sc.done = !more
	}
	return sc.done && sc.err == nil
}

// stopScan ends the full scan, if any.
func (st *stateStore[K, S]) stopScan() {
	if st.scan != nil {
		st.scan.stop()
		st.scan = nil
	}
}

// stopScans ends the full scans of every partition (when the context
// stops).
func (sf *stateful[K, V, S, M]) stopScans() {
	for _, st := range sf.stores {
		st.mu.Lock()
		st.stopScan()
		st.mu.Unlock()
	}
}

// recycle offers a record buffer the writer has finished with for reuse
// as the delta log.
func (st *stateStore[K, S]) recycle(buf []byte) {
	select {
	case st.spare <- buf[:0]:
	default:
	}
}

func (st *stateStore[K, S]) touch(k K, old, now int64) {
	if st.byUpdate == nil {
		return
	}
	if old != 0 {
		if b := st.byUpdate[old]; b != nil {
			delete(b, k)
			if len(b) == 0 {
				delete(st.byUpdate, old)
			}
		}
	}
	b := st.byUpdate[now]
	if b == nil {
		b = map[K]struct{}{}
		st.byUpdate[now] = b
	}
	b[k] = struct{}{}
}

func (st *stateStore[K, S]) forget(k K, updated int64) {
	if st.byUpdate == nil {
		return
	}
	if b := st.byUpdate[updated]; b != nil {
		delete(b, k)
		if len(b) == 0 {
			delete(st.byUpdate, updated)
		}
	}
}

// snapshot copies every (key, state) pair.
func (st *stateStore[K, S]) snapshot() []rdd.Pair[K, S] {
	out := make([]rdd.Pair[K, S], 0, len(st.m))
	for k, e := range st.m {
		out = append(out, rdd.Pair[K, S]{Key: k, Value: e.state})
	}
	return out
}

// stateBlock is what one partition of a stateful stream holds for a batch.
type stateBlock[K comparable, S, M any] struct {
	mapped   []M
	snapshot []rdd.Pair[K, S]
}

// stateful is the machinery shared by UpdateStateByKey and MapWithState:
// per-partition stores, and a stream of blocks, one per partition and
// batch, persisted, from which the operations' output streams are derived.
type stateful[K comparable, V, S, M any] struct {
	parent      *DStream[rdd.Pair[K, V]]
	partitioner rdd.Partitioner[K]
	initial     *rdd.RDD[rdd.Pair[K, S]] // partitioned by partitioner, or nil
	stores      []*stateStore[K, S]
	snapshots   bool // whether blocks carry snapshots; set before Start
	// apply advances a store by one batch, given the batch's pairs of the
	// store's partition, and fills the block's mapped values.
	apply  func(st *stateStore[K, S], t time.Time, data iter.Seq[rdd.Pair[K, V]], block *stateBlock[K, S, M])
	blocks *DStream[*stateBlock[K, S, M]]
	codec  sliceCodec[stateRecord[K, S]]
	// deltas: checkpoints between full ones hold only changed keys
	// (MapWithState, whose batches change few keys); the apply function
	// then records changes in stateStore.changed.
	deltas bool
}

// Kinds of state checkpoint files: the first byte of the payload.
const (
	stateFull  byte = 'F'
	stateDelta byte = 'D'
)

// deleted marks a key removed since the previous checkpoint, in the
// Updated field of a delta's record.
const deleted int64 = -1

// stateRecord is one key's state in a checkpoint file.
type stateRecord[K comparable, S any] struct {
	Key     K
	State   S
	Updated int64
}

// stateRecordCodec encodes state records with a key and a state codec.
type stateRecordCodec[K comparable, S any] struct {
	k Codec[K]
	s Codec[S]
}

func (c stateRecordCodec[K, S]) Append(b []byte, r stateRecord[K, S]) ([]byte, error) {
	return c.appendRecord(b, r.Key, r.State, r.Updated)
}

// appendRecord appends the record (k, s, updated); on an error it returns
// nil.
func (c stateRecordCodec[K, S]) appendRecord(b []byte, k K, s S, updated int64) ([]byte, error) {
	b, err := c.k.Append(b, k)
	if err != nil {
		return nil, err
	}
	if b, err = c.s.Append(b, s); err != nil {
		return nil, err
	}
	return binary.AppendVarint(b, updated), nil
}

func (c stateRecordCodec[K, S]) Decode(b []byte) (stateRecord[K, S], int, error) {
	var r stateRecord[K, S]
	k, n1, err := c.k.Decode(b)
	if err != nil {
		return r, 0, err
	}
	st, n2, err := c.s.Decode(b[n1:])
	if err != nil {
		return r, 0, err
	}
	u, n3 := binary.Varint(b[n1+n2:])
	if n3 <= 0 {
		return r, 0, errShortCodecInput
	}
	return stateRecord[K, S]{k, st, u}, n1 + n2 + n3, nil
}

// stateCodecFor picks the codec of state records: the key and state
// codecs given or built in, or gob for the whole record.
func stateCodecFor[K comparable, S any](kc Codec[K], sc Codec[S]) sliceCodec[stateRecord[K, S]] {
	if kc == nil {
		kc, _ = builtinCodec[K]()
	}
	if sc == nil {
		sc, _ = builtinCodec[S]()
	}
	if kc != nil && sc != nil {
		return valueSliceCodec[stateRecord[K, S]]{stateRecordCodec[K, S]{kc, sc}}
	}
	return gobSliceCodec[stateRecord[K, S]]{}
}

func (sf *stateful[K, V, S, M]) node() *streamNode  { return sf.blocks.streamNode }
func (sf *stateful[K, V, S, M]) numPartitions() int { return len(sf.stores) }
func (sf *stateful[K, V, S, M]) checkCodec() error  { return sf.codec.check() }
func (sf *stateful[K, V, S, M]) incremental() bool  { return sf.deltas }

// restore replaces the stores' contents with the state written at t:
// per old partition a full checkpoint and the deltas after it, then every
// key goes to its partition under the current partitioner (its hash seed
// differs from run to run).
func (sf *stateful[K, V, S, M]) restore(chains [][]string, t time.Time) error {
	tn := t.UnixNano()
	// Read every chain; only its last full checkpoint and the deltas
	// after it matter. They were all written by one run (a restored
	// context writes full checkpoints first), which spread keys over
	// partitions with one hash seed, so each key is in one chain only and
	// its records go straight to its store under the current partitioner
	// (whose seed differs from run to run).
	type stateFile struct {
		path string
		b    []byte
	}
	live := make([][]stateFile, len(chains))
	_, sized := sf.codec.(valueSliceCodec[stateRecord[K, S]])
	keys := 0
	for p, chain := range chains {
		for i, f := range chain {
			b, err := checkpoint.ReadFile(f, "state")
			if err != nil {
				return err
			}
			if len(b) == 0 || (b[0] != stateFull && b[0] != stateDelta) || (i == 0 && b[0] != stateFull) {
				return fmt.Errorf("%s: not a full checkpoint where one is needed, or an unknown kind of state file: %w", f, checkpoint.ErrCorrupt)
			}
			if b[0] == stateFull {
				live[p] = live[p][:0]
			}
			live[p] = append(live[p], stateFile{f, b[1:]})
		}
		if len(live[p]) > 0 && sized {
			// The full checkpoint's record count, as a size hint.
			if n, k := binary.Uvarint(live[p][0].b); k > 0 && n <= uint64(len(live[p][0].b)) {
				keys += int(n)
			}
		}
	}
	for _, st := range sf.stores {
		st.m = make(map[K]stateEntry[S], keys/len(sf.stores)+keys/(8*len(sf.stores)))
		if st.byUpdate != nil {
			st.byUpdate = map[int64]map[K]struct{}{}
		}
		st.loaded, st.version, st.last, st.changed, st.lastCkpt = true, tn, nil, st.changed[:0], tn
		st.restartLog(false)
		st.fullNext = true
	}
	apply := func(r stateRecord[K, S]) {
		st := sf.stores[sf.partitioner.Partition(r.Key)]
		if r.Updated == deleted {
			delete(st.m, r.Key)
		} else {
			st.m[r.Key] = stateEntry[S]{state: r.State, updated: r.Updated}
		}
	}
	for _, files := range live {
		for _, f := range files {
			if err := sf.decodeRecords(f.b, apply); err != nil {
				return fmt.Errorf("%s: decoding: %w", f.path, err)
			}
		}
	}
	for _, st := range sf.stores {
		if st.byUpdate != nil {
			for k, e := range st.m {
				st.touch(k, 0, e.updated)
			}
		}
	}
	sf.initial = nil // part of the checkpoint
	return nil
}

// decodeRecords decodes the records of a state file's payload (after the
// kind byte) and hands them to apply in order; with a per-value codec,
// one by one, without a slice of them all.
func (sf *stateful[K, V, S, M]) decodeRecords(b []byte, apply func(stateRecord[K, S])) error {
	vc, ok := sf.codec.(valueSliceCodec[stateRecord[K, S]])
	if !ok {
		recs, err := sf.codec.decode(b)
		for _, r := range recs {
			apply(r)
		}
		return err
	}
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return errShortCodecInput
	}
	b = b[k:]
	for range n {
		r, used, err := vc.c.Decode(b)
		if err != nil {
			return err
		}
		apply(r)
		b = b[used:]
	}
	if len(b) != 0 {
		return fmt.Errorf("dstream: codec: %d bytes left after the last value", len(b))
	}
	return nil
}

// checkpointPartition queues partition part's state at batch t for
// writing: the whole state, or at a delta checkpoint the changes since the
// previous one. With a per-value codec a delta is the delta log as it
// stands (see deltaLog), and a full checkpoint is encoded now, into one
// pointer-free buffer (cheap for the garbage collector, unlike a copy of
// the map); with gob a copy is taken now and encoded in the background.
// Writing happens in the background.
func (sf *stateful[K, V, S, M]) checkpointPartition(c *checkpointer, part int, t int64, st *stateStore[K, S]) {
	name := sf.node().CheckpointName()
	at := time.Unix(0, t)
	full := c.isFullCheckpoint(sf, at) || st.fullNext
	defer func() { st.changed, st.lastCkpt, st.fullNext = st.changed[:0], t, false }()
	if st.rec != nil {
		var b, recycle []byte
		var err error
		switch {
		case full && st.dlog.on && st.advanceScan(true):
			// A full scan's records and the changes logged meanwhile.
			b = sealRecords(st.dlog.buf, stateFull, st.dlog.n)
			st.dlog.buf, st.fullSize, st.sinceFull = nil, len(b)+len(b)/8, 0
		case full || !st.dlog.on:
			// The whole state, now; a delta stream whose log stopped
			// writes a full checkpoint out of turn, which recovery
			// handles like any other (it starts over from it).
			b, err = st.encodeFull()
			st.sinceFull = 0
		default:
			recycle = st.dlog.buf
			b = sealRecords(recycle, stateDelta, st.dlog.n)
			st.dlog.buf, st.logSize = nil, len(recycle)
			st.sinceFull += st.dlog.changes
		}
		// Log the next interval's changes; when its checkpoint is a full
		// one, scan the state over its batches too.
		st.restartLog(sf.deltas)
		n := sf.node()
		if next := at.Add(every(n)); sf.deltas && c.isFullCheckpoint(sf, next) {
			st.startScan(int(every(n) / n.slide))
		}
		w := stateWrite{stream: name, part: part, t: t, encode: func() ([]byte, error) { return b, err }}
		if recycle != nil {
			w.done = func() { st.recycle(recycle) }
		}
		c.enqueue(w)
		return
	}
	records := func(yield func(stateRecord[K, S]) bool) {
		if full {
			for k, e := range st.m {
				if !yield(stateRecord[K, S]{k, e.state, e.updated}) {
					return
				}
			}
			return
		}
		for _, k := range st.changed {
			r := stateRecord[K, S]{Key: k, Updated: deleted}
			if e, ok := st.m[k]; ok {
				r.State, r.Updated = e.state, e.updated
			}
			if !yield(r) {
				return
			}
		}
	}
	kind := stateDelta
	if full {
		kind = stateFull
	}
	var recs []stateRecord[K, S]
	var snap map[K]stateEntry[S]
	if full {
		snap = maps.Clone(st.m)
	} else {
		for r := range records {
			recs = append(recs, r)
		}
	}
	codec := sf.codec
	c.enqueue(stateWrite{stream: name, part: part, t: t, encode: func() ([]byte, error) {
		if snap != nil {
			recs = make([]stateRecord[K, S], 0, len(snap))
			for k, e := range snap {
				recs = append(recs, stateRecord[K, S]{k, e.state, e.updated})
			}
		}
		b, err := codec.encode(recs)
		return append([]byte{kind}, b...), err
	}})
}

func newStateful[K comparable, V, S, M any](op string, parent *DStream[rdd.Pair[K, V]], parts []rdd.PartitionOption, initial *rdd.RDD[rdd.Pair[K, S]], timeout bool, bad error,
	codec sliceCodec[stateRecord[K, S]],
	apply func(st *stateStore[K, S], t time.Time, data iter.Seq[rdd.Pair[K, V]], block *stateBlock[K, S, M])) *stateful[K, V, S, M] {
	sf := &stateful[K, V, S, M]{parent: parent, apply: apply, codec: codec}
	if bad == nil && parent.ssc != nil && parent.err == nil {
		bad = sf.setUp(parent.ssc, parts, initial, timeout)
	}
	var self *DStream[*stateBlock[K, S, M]]
	self = newStream(parent.ssc, op, parent.slide, []*streamNode{parent.streamNode}, func(t time.Time) (*rdd.RDD[*stateBlock[K, S, M]], error) {
		return sf.compute(self, t)
	}, bad)
	self.persist = true
	self.needsCheckpoint = true
	self.checkpointed = sf
	// A batch's state is built from the previous batch's, so every
	// partition must advance in every batch, even when the user's outputs
	// read only some partitions (Print) or none: this internal output
	// operation makes sure, before the user's run.
	if err := registerInternal(self, op+" state update", func(ctx context.Context, r *rdd.RDD[*stateBlock[K, S, M]], _ time.Time) error {
		_, err := r.Count(ctx)
		return err
	}); err != nil && self.err == nil {
		self.err = err
	}
	sf.blocks = self
	return sf
}

func (sf *stateful[K, V, S, M]) setUp(ssc *StreamingContext, parts []rdd.PartitionOption, initial *rdd.RDD[rdd.Pair[K, S]], timeout bool) error {
	p, err := rdd.PartitionerFor[K](ssc.ec, parts...)
	if err != nil {
		return err
	}
	sf.partitioner = p
	sf.stores = make([]*stateStore[K, S], p.NumPartitions())
	for i := range sf.stores {
		sf.stores[i] = &stateStore[K, S]{m: map[K]stateEntry[S]{}, spare: make(chan []byte, 1)}
		if vc, ok := sf.codec.(valueSliceCodec[stateRecord[K, S]]); ok {
			if rc, ok := vc.c.(stateRecordCodec[K, S]); ok {
				sf.stores[i].rec, sf.stores[i].fast = &rc, fastAppender(rc.k, rc.s)
			}
		}
		if timeout {
			sf.stores[i].byUpdate = map[int64]map[K]struct{}{}
		}
	}
	if initial != nil {
		if err := initial.Err(); err != nil {
			return fmt.Errorf("initial state: %w", err)
		}
		if initial.Context() != ssc.ec {
			return errors.New("initial state: RDDs of different engine contexts cannot be combined; build it on the streaming context's engine (StreamingContext.Engine)")
		}
		sf.initial = rdd.PartitionBy(initial, rdd.WithPartitioner(p))
	}
	return nil
}

// compute builds the RDD of batch t: one block per partition, from the
// batch's data partitioned by key and the previous batch's state. When
// the previous batch's state is not computed yet (its jobs are still
// queued), its RDD becomes a parent, so that it is computed first;
// otherwise the stores are used directly and no lineage links batch to
// batch.
func (sf *stateful[K, V, S, M]) compute(self *DStream[*stateBlock[K, S, M]], t time.Time) (*rdd.RDD[*stateBlock[K, S, M]], error) {
	ec := sf.parent.ssc.ec
	data, err := sf.parent.getOrCompute(t)
	if err != nil {
		return nil, err
	}
	var keyed *rdd.RDD[rdd.Pair[K, V]]
	if data == nil {
		keyed = rdd.FromPartitions(ec, make([][]rdd.Pair[K, V], len(sf.stores)))
	} else {
		keyed = rdd.PartitionBy(data, rdd.WithPartitioner(sf.partitioner))
	}
	prevTime := t.Add(-self.slide)
	first := !prevTime.After(sf.parent.ssc.zeroTime)
	if !first {
		// The initial state is loaded by the first batch; let it go (the
		// first batch's RDD holds it while it is remembered).
		sf.initial = nil
	}
	var out *rdd.RDD[*stateBlock[K, S, M]]
	switch {
	case first && sf.initial != nil:
		out = rdd.ZipPartitions(sf.initial, keyed, func(part int, init iter.Seq[rdd.Pair[K, S]], data iter.Seq[rdd.Pair[K, V]]) iter.Seq[*stateBlock[K, S, M]] {
			return sf.step(part, t, prevTime, init, data)
		})
	case first || sf.computed(prevTime):
		out = rdd.MapPartitionsWithIndex(keyed, func(part int, data iter.Seq[rdd.Pair[K, V]]) iter.Seq[*stateBlock[K, S, M]] {
			return sf.step(part, t, prevTime, nil, data)
		})
	default:
		prev, err := self.getOrCompute(prevTime)
		if err != nil {
			return nil, err
		}
		if prev == nil {
			return nil, fmt.Errorf("no state for the previous batch %s", formatBatchTime(prevTime))
		}
		out = rdd.ZipPartitions(prev, keyed, func(part int, prev iter.Seq[*stateBlock[K, S, M]], data iter.Seq[rdd.Pair[K, V]]) iter.Seq[*stateBlock[K, S, M]] {
			return func(yield func(*stateBlock[K, S, M]) bool) {
				for range prev { // compute the previous batch's state first
				}
				sf.step(part, t, prevTime, nil, data)(yield)
			}
		})
	}
	return out, nil
}

// computed reports whether every store holds the state of batch t or a
// later one.
func (sf *stateful[K, V, S, M]) computed(t time.Time) bool {
	tn := t.UnixNano()
	for _, st := range sf.stores {
		st.mu.Lock()
		ok := st.loaded && st.version >= tn
		st.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

// step advances partition part's store to batch t and yields its block;
// for a batch already applied it yields the block made then.
func (sf *stateful[K, V, S, M]) step(part int, t, prevTime time.Time, init iter.Seq[rdd.Pair[K, S]], data iter.Seq[rdd.Pair[K, V]]) iter.Seq[*stateBlock[K, S, M]] {
	return func(yield func(*stateBlock[K, S, M]) bool) {
		st := sf.stores[part]
		tn := t.UnixNano()
		st.mu.Lock()
		defer st.mu.Unlock()
		switch {
		case st.loaded && st.version == tn:
			if st.last == nil {
				// Restored from a checkpoint: the state is there, the
				// values that batch emitted are not.
				panic(fmt.Errorf("dstream: the output of batch %s of %s is not available after recovery; only later batches can be computed", formatBatchTime(t), sf.node()))
			}
			yield(st.last.(*stateBlock[K, S, M]))
			return
		case st.loaded && st.version != prevTime.UnixNano():
			// An internal invariant: batches run in order. The panic
			// fails the task with this error.
			panic(fmt.Errorf("dstream: state partition %d holds batch %s, but batch %s needs batch %s", part, formatBatchTime(time.Unix(0, st.version)), formatBatchTime(t), formatBatchTime(prevTime)))
		case !st.loaded && init != nil:
			for kv := range init {
				st.m[kv.Key] = stateEntry[S]{state: kv.Value, updated: tn}
				st.touch(kv.Key, 0, tn)
			}
		}
		block := &stateBlock[K, S, M]{}
		sf.apply(st, t, data, block)
		if sf.snapshots {
			block.snapshot = st.snapshot()
		}
		st.loaded, st.version, st.last = true, tn, block
		if c := sf.parent.ssc.ckpt; c != nil && c.isCheckpointTime(sf.node(), t) {
			sf.checkpointPartition(c, part, tn, st)
		} else if st.scan != nil {
			st.advanceScan(false)
		}
		yield(block)
	}
}

// MapWithStateDStream is the stream of values a MapWithState function
// returns, with access to the full state.
type MapWithStateDStream[K comparable, S, M any] struct {
	*DStream[M]
	snapshots func() *DStream[rdd.Pair[K, S]]
}

// StateSnapshots returns a stream with, in every batch, every key and its
// state after the batch. Producing it visits every key in every batch.
func (m *MapWithStateDStream[K, S, M]) StateSnapshots() *DStream[rdd.Pair[K, S]] {
	return m.snapshots()
}

// MapWithState maintains a state per key across batches. For every value
// of a batch, spec.Func gets the batch time, the key, the value and the
// key's State, may update or remove the state, and returns a value for the
// output stream. Only keys with data in a batch (or timing out) are
// visited, so a batch costs in proportion to its data, not to the number
// of keys. The state lives in memory, in a fixed number of partitions; the
// stream needs a checkpoint directory (see [StreamingContext.Checkpoint]).
func MapWithState[K comparable, V, S, M any](s *DStream[rdd.Pair[K, V]], spec StateSpec[K, V, S, M]) *MapWithStateDStream[K, S, M] {
	const op = "MapWithState"
	if s == nil {
		bad := nilStream[M](op)
		return &MapWithStateDStream[K, S, M]{DStream: bad, snapshots: func() *DStream[rdd.Pair[K, S]] { return nilStream[rdd.Pair[K, S]]("StateSnapshots") }}
	}
	var bad error
	switch {
	case spec.Func == nil:
		bad = errors.New("StateSpec.Func must not be nil")
	case spec.Timeout < 0:
		bad = fmt.Errorf("StateSpec.Timeout must not be negative, got %v", spec.Timeout)
	}
	f, timeout := spec.Func, int64(spec.Timeout)
	sf := newStateful(op, s, spec.Partitions, spec.InitialState, timeout > 0, bad, stateCodecFor(spec.KeyCodec, spec.StateCodec),
		func(st *stateStore[K, S], t time.Time, data iter.Seq[rdd.Pair[K, V]], block *stateBlock[K, S, M]) {
			tn := t.UnixNano()
			var zeroS S
			for kv := range data {
				e, exists := st.m[kv.Key]
				state := State[S]{value: e.state, exists: exists}
				block.mapped = append(block.mapped, f(t, kv.Key, kv.Value, &state))
				switch {
				case state.removed:
					if exists {
						delete(st.m, kv.Key)
						st.forget(kv.Key, e.updated)
						st.noteChange(kv.Key, true, e.updated, zeroS, deleted)
					}
				case state.updated || (exists && timeout > 0):
					st.noteChange(kv.Key, exists, e.updated, state.value, tn)
					// With a timeout, data refreshes a key even when the
					// function leaves its state alone.
					st.m[kv.Key] = stateEntry[S]{state: state.value, updated: tn}
					old := int64(0)
					if exists {
						old = e.updated
					}
					st.touch(kv.Key, old, tn)
				}
			}
			if timeout <= 0 {
				return
			}
			var zero V
			for updated, keys := range st.byUpdate {
				if updated >= tn-timeout {
					continue
				}
				for k := range keys {
					state := State[S]{value: st.m[k].state, exists: true, timingOut: true}
					block.mapped = append(block.mapped, f(t, k, zero, &state))
					delete(st.m, k)
					st.noteChange(k, true, updated, zeroS, deleted)
				}
				delete(st.byUpdate, updated)
			}
		})
	sf.deltas = true
	mapped := derive(op, sf.blocks, func(r *rdd.RDD[*stateBlock[K, S, M]], _ time.Time) *rdd.RDD[M] {
		return rdd.FlatMap(r, func(b *stateBlock[K, S, M]) []M { return b.mapped })
	}, nil)
	mapped.stateOf = sf.blocks.streamNode
	return &MapWithStateDStream[K, S, M]{DStream: mapped, snapshots: func() *DStream[rdd.Pair[K, S]] {
		out := derive("StateSnapshots", sf.blocks, func(r *rdd.RDD[*stateBlock[K, S, M]], _ time.Time) *rdd.RDD[rdd.Pair[K, S]] {
			return rdd.FlatMap(r, func(b *stateBlock[K, S, M]) []rdd.Pair[K, S] { return b.snapshot })
		}, nil)
		out.stateOf = sf.blocks.streamNode
		if out.err == nil {
			// Only while the graph is being built: once the context
			// runs, batches read the flag.
			sf.snapshots = true
		}
		return out
	}}
}

// StateOption configures UpdateStateByKey.
type StateOption func(*stateConfig)

type stateConfig struct {
	partitions []rdd.PartitionOption
	initial    any // *rdd.RDD[rdd.Pair[K, S]]
	keyCodec   any // Codec[K]
	stateCodec any // Codec[S]
}

// StateCodecs sets the codecs of keys and states for checkpoints; either
// may be nil for the default (see [Codec]). Their K and S must be the
// stream's.
func StateCodecs[K comparable, S any](keys Codec[K], states Codec[S]) StateOption {
	return func(c *stateConfig) {
		if keys != nil {
			c.keyCodec = keys
		}
		if states != nil {
			c.stateCodec = states
		}
	}
}

// StatePartitions sets how keys are spread over state partitions.
// Default: as many hash partitions as the engine has slots.
func StatePartitions(opts ...rdd.PartitionOption) StateOption {
	return func(c *stateConfig) { c.partitions = opts }
}

// InitialState gives keys their state before the first batch. Its K and
// S must be the stream's.
func InitialState[K comparable, S any](r *rdd.RDD[rdd.Pair[K, S]]) StateOption {
	return func(c *stateConfig) { c.initial = r }
}

// UpdateStateByKey maintains a state per key across batches: in every
// batch, update is called for every key that has state or new values,
// with the batch's values of the key (in arrival order), its state and
// whether it had one; it returns the new state and whether to keep the
// key. The output stream holds every (key, state) pair after each batch,
// so each batch visits every key (see MapWithState for updates in
// proportion to the data). It needs a checkpoint directory.
func UpdateStateByKey[K comparable, V, S any](s *DStream[rdd.Pair[K, V]], update func(newValues []V, state S, exists bool) (S, bool), opts ...StateOption) *DStream[rdd.Pair[K, S]] {
	const op = "UpdateStateByKey"
	if s == nil {
		return nilStream[rdd.Pair[K, S]](op)
	}
	var cfg stateConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	var bad error
	var initial *rdd.RDD[rdd.Pair[K, S]]
	if cfg.initial != nil {
		r, ok := cfg.initial.(*rdd.RDD[rdd.Pair[K, S]])
		if !ok || r == nil {
			bad = fmt.Errorf("InitialState: got a %T, want a non-nil *rdd.RDD[rdd.Pair[K, S]] with the stream's key and state types", cfg.initial)
		}
		initial = r
	}
	if update == nil {
		bad = errNil("update")
	}
	var kc Codec[K]
	var sc Codec[S]
	if cfg.keyCodec != nil {
		var ok bool
		if kc, ok = cfg.keyCodec.(Codec[K]); !ok {
			bad = fmt.Errorf("StateCodecs: got a key codec %T, want a Codec of the stream's key type", cfg.keyCodec)
		}
	}
	if cfg.stateCodec != nil {
		var ok bool
		if sc, ok = cfg.stateCodec.(Codec[S]); !ok {
			bad = fmt.Errorf("StateCodecs: got a state codec %T, want a Codec of the state type", cfg.stateCodec)
		}
	}
	sf := newStateful(op, s, cfg.partitions, initial, false, bad, stateCodecFor(kc, sc),
		func(st *stateStore[K, S], t time.Time, data iter.Seq[rdd.Pair[K, V]], block *stateBlock[K, S, struct{}]) {
			groups := map[K][]V{}
			for kv := range data {
				groups[kv.Key] = append(groups[kv.Key], kv.Value)
			}
			tn := t.UnixNano()
			for k, e := range st.m {
				vs := groups[k]
				delete(groups, k)
				if ns, keep := update(vs, e.state, true); keep {
					st.m[k] = stateEntry[S]{state: ns, updated: tn}
				} else {
					delete(st.m, k)
				}
			}
			var zero S
			for k, vs := range groups {
				if ns, keep := update(vs, zero, false); keep {
					st.m[k] = stateEntry[S]{state: ns, updated: tn}
				}
			}
		})
	sf.snapshots = true
	out := derive(op, sf.blocks, func(r *rdd.RDD[*stateBlock[K, S, struct{}]], _ time.Time) *rdd.RDD[rdd.Pair[K, S]] {
		return rdd.FlatMap(r, func(b *stateBlock[K, S, struct{}]) []rdd.Pair[K, S] { return b.snapshot })
	}, nil)
	out.stateOf = sf.blocks.streamNode
	return out
}
