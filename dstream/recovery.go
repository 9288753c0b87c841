package dstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spate-io/spate/checkpoint"
)

// metadataFormat is the version of the metadata checkpoint's JSON payload.
const metadataFormat = 1

// retainedCheckpoints is how many complete state checkpoints are kept: the
// newest, and older ones to fall back to (see [RecoverFromOlderCheckpoint]).
const retainedCheckpoints = 3

// defaultCheckpointEvery is the target interval of state checkpoints; a
// stream's default is the smallest multiple of its slide at least this long.
const defaultCheckpointEvery = 10 * time.Second

// fullCheckpointEvery is how often a stream that writes incremental
// checkpoints (MapWithState) writes its whole state instead: the 1st,
// 21st, 41st, ... checkpoint is full, the others hold only the changes
// since the previous checkpoint. A partition also writes a full one out
// of turn at its first checkpoint after a restore, and when the changes
// since its last full one outnumber twice its keys (see deltaLog), so
// that recovery reads about three full checkpoints' worth at most.
const fullCheckpointEvery = 20

// ErrGraphMismatch is matched (errors.Is) by the error GetOrCreate returns
// when the graph that create builds does not match the checkpoint's.
var ErrGraphMismatch = errors.New("dstream: the streaming graph does not match the checkpoint")

// ErrCheckpointExists is returned by Start when the checkpoint directory
// already holds a checkpoint but the context was not made by GetOrCreate:
// starting afresh would mix two runs.
var ErrCheckpointExists = errors.New("dstream: the checkpoint directory holds a checkpoint of an earlier run")

// metadata is the JSON payload of a metadata checkpoint: everything needed
// to resume the context besides the state files and the write-ahead log.
type metadata struct {
	Format          int   `json:"format"`
	BatchIntervalNs int64 `json:"batchIntervalNs"`
	// ZeroTimeNs anchors batch times: batch k runs at zero + k*interval.
	ZeroTimeNs int64 `json:"zeroTimeNs"`
	// LastCompletedNs is the latest batch time whose jobs all completed.
	LastCompletedNs int64 `json:"lastCompletedNs"`
	// LastGeneratedNs is the latest batch time generated.
	LastGeneratedNs int64 `json:"lastGeneratedNs"`
	// PendingNs are the batch times generated and not completed.
	PendingNs []int64 `json:"pendingNs"`
	// CheckpointsNs are the batch times, oldest first, at which every
	// stateful stream's state was completely written.
	CheckpointsNs []int64                  `json:"checkpointsNs"`
	Stateful      []statefulMeta           `json:"stateful"`
	Inputs        map[string]*inputRecords `json:"inputs"`
}

// statefulMeta identifies a checkpointed stream.
type statefulMeta struct {
	Name       string `json:"name"`
	Op         string `json:"op"`
	Partitions int    `json:"partitions"`
}

// inputRecords is what an input stream needs to replay batches.
type inputRecords struct {
	Op string `json:"op"`
	// Progress is the input's position across batches.
	Progress json.RawMessage `json:"progress,omitempty"`
	// Batches holds, by batch time in Unix ns, what each retained batch
	// took.
	Batches map[string]json.RawMessage `json:"batches"`
}

// checkpointedStream is a stream whose state is checkpointed: stateful
// streams and inverse windows.
type checkpointedStream interface {
	node() *streamNode
	numPartitions() int
	// checkCodec reports whether the state can be encoded.
	checkCodec() error
	// incremental reports whether the stream writes delta checkpoints
	// between full ones (see fullCheckpointEvery).
	incremental() bool
	// restore loads the state written at t, given for every partition
	// the files to apply in order (a full checkpoint, then deltas).
	restore(files [][]string, t time.Time) error
}

// recoverableInput is an input stream that can replay its batches after a
// failure.
type recoverableInput interface {
	inputNode() *streamNode
	// takeRecords returns what the batches computed since the last call
	// took, by batch time in Unix ns.
	takeRecords() (map[int64]json.RawMessage, error)
	// progress returns the input's position across batches.
	progress() (json.RawMessage, error)
	// restore loads the progress and the records of the batches up to
	// until, which are then replayed instead of taking new input.
	restore(c *checkpointer, progress json.RawMessage, records map[int64]json.RawMessage, until time.Time) error
	// forget drops what only batches at or before t need.
	forget(t time.Time)
}

// checkpointer writes a context's checkpoints: a metadata checkpoint after
// every batch is generated and after it completes, and the state of
// checkpointed streams at their checkpoint times, written in the
// background.
type checkpointer struct {
	ssc     *StreamingContext
	dir     string
	metaDir *checkpoint.Dir
	streams []checkpointedStream
	inputs  []recoverableInput
	// totalParts is the number of state files of one complete checkpoint.
	totalParts int

	mu      sync.Mutex
	seq     int64
	m       metadata
	written map[int64]int // batch time -> state files written
	failed  error

	writes  chan stateWrite
	writerD chan struct{} // closed when the writer goroutine ended
}

// stateWrite is one state file to write.
type stateWrite struct {
	stream string
	part   int
	t      int64
	encode func() ([]byte, error)
	// done, when set, is called once the write is over (or skipped):
	// the bytes encode returned are no longer used.
	done func()
}

func (c *checkpointer) stateDir(stream string, part int) string {
	return filepath.Join(c.dir, "state", stream, strconv.Itoa(part))
}

func stateFileName(t int64) string { return fmt.Sprintf("%020d", t) }

// newCheckpointer prepares checkpointing for a context about to start.
func newCheckpointer(ssc *StreamingContext) (*checkpointer, error) {
	d, err := checkpoint.Open(ssc.checkpointDir, checkpoint.Retain(10))
	if err != nil {
		return nil, err
	}
	c := &checkpointer{ssc: ssc, dir: ssc.checkpointDir, metaDir: d, written: map[int64]int{}}
	seen := map[*streamNode]bool{}
	for _, o := range ssc.outputs {
		for _, n := range o.stream.ancestors() {
			if seen[n] {
				continue
			}
			seen[n] = true
			if n.checkpointed != nil {
				c.streams = append(c.streams, n.checkpointed)
			}
			if n.input != nil {
				c.inputs = append(c.inputs, n.input)
			}
		}
	}
	slices.SortFunc(c.streams, func(a, b checkpointedStream) int { return a.node().id - b.node().id })
	slices.SortFunc(c.inputs, func(a, b recoverableInput) int { return a.inputNode().id - b.inputNode().id })
	for _, s := range c.streams {
		c.totalParts += s.numPartitions()
	}
	c.m = metadata{Format: metadataFormat, BatchIntervalNs: int64(ssc.interval), Inputs: map[string]*inputRecords{}}
	for _, s := range c.streams {
		n := s.node()
		c.m.Stateful = append(c.m.Stateful, statefulMeta{Name: n.CheckpointName(), Op: n.op, Partitions: s.numPartitions()})
	}
	for _, in := range c.inputs {
		n := in.inputNode()
		c.m.Inputs[n.CheckpointName()] = &inputRecords{Op: n.op, Batches: map[string]json.RawMessage{}}
	}
	return c, nil
}

// readMetadata returns the newest metadata checkpoint in dir, falling back
// past corrupt ones when fallback is set, or checkpoint.ErrNoCheckpoint.
func readMetadata(dir string, fallback bool, log func(msg string, args ...any)) (*metadata, int64, error) {
	d, err := checkpoint.Open(dir)
	if err != nil {
		return nil, 0, err
	}
	var seq int64
	var payload []byte
	if fallback {
		var skipped []error
		seq, payload, skipped, err = d.LatestValid("metadata", "meta")
		for _, e := range skipped {
			log("dstream: skipping a corrupt metadata checkpoint", "err", e)
		}
	} else {
		seq, payload, err = d.Latest("metadata", "meta")
	}
	if err != nil {
		return nil, 0, err
	}
	var m metadata
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, 0, fmt.Errorf("dstream: metadata checkpoint %s: %w", filepath.Join(dir, checkpoint.FileName("metadata", seq)), err)
	}
	if m.Format != metadataFormat {
		return nil, 0, fmt.Errorf("dstream: metadata checkpoint %s has format %d; this build reads format %d", filepath.Join(dir, checkpoint.FileName("metadata", seq)), m.Format, metadataFormat)
	}
	if m.Inputs == nil {
		m.Inputs = map[string]*inputRecords{}
	}
	return &m, seq, nil
}

// GetOrCreate returns a streaming context that resumes from the
// checkpoint in dir, or a new one when dir holds none.
//
// Go cannot serialise functions, so the graph is always built by create,
// which must build the same graph every time: create returns a context
// with its streams and output operations (and may call Checkpoint(dir)
// itself; otherwise GetOrCreate does). Without a checkpoint that context
// is returned as it is. With one, GetOrCreate checks that the graph
// matches the checkpoint's: the same batch interval, and the same stateful
// streams and inputs, matched by their checkpoint names (see
// [DStream.Name]) with the same numbers of state partitions; other code
// may change between runs. A mismatch is an error matching
// [ErrGraphMismatch] that lists the differences. On Start the context
// then restores the state of the newest complete state checkpoint,
// re-runs the batches generated after it with the same input (batches
// that had completed are re-run only as far as needed to rebuild state;
// their output operations are not called again), and goes on with new
// batches. Batch times that passed while the program was down are not
// generated.
func GetOrCreate(dir string, create func() (*StreamingContext, error), opts ...RecoveryOption) (*StreamingContext, error) {
	if dir == "" {
		return nil, errors.New("dstream.GetOrCreate: directory must not be empty")
	}
	if create == nil {
		return nil, errors.New("dstream.GetOrCreate: create must not be nil")
	}
	var rc recoveryConfig
	for _, o := range opts {
		o(&rc)
	}
	ssc, err := create()
	if err != nil {
		return nil, fmt.Errorf("dstream.GetOrCreate: create: %w", err)
	}
	if ssc == nil {
		return nil, errors.New("dstream.GetOrCreate: create returned a nil context")
	}
	switch cur := ssc.CheckpointDir(); {
	case cur == "":
		if err := ssc.Checkpoint(dir); err != nil {
			return nil, fmt.Errorf("dstream.GetOrCreate: %w", err)
		}
	case filepath.Clean(cur) != filepath.Clean(dir):
		return nil, fmt.Errorf("dstream.GetOrCreate: create set the checkpoint directory %q, not %q", cur, dir)
	}
	ssc.mu.Lock()
	err = ssc.validateLocked()
	ssc.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("dstream.GetOrCreate: %w", err)
	}
	m, _, err := readMetadata(dir, rc.fallback, ssc.log.Warn)
	if errors.Is(err, checkpoint.ErrNoCheckpoint) {
		return ssc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dstream.GetOrCreate: %w", err)
	}
	c, err := newCheckpointer(ssc)
	if err != nil {
		return nil, fmt.Errorf("dstream.GetOrCreate: %w", err)
	}
	if err := c.compare(m); err != nil {
		return nil, fmt.Errorf("dstream.GetOrCreate: %w", err)
	}
	ssc.mu.Lock()
	ssc.recovered = m
	ssc.recoveryCfg = rc
	err = ssc.validateLocked() // now also for what cannot be recovered
	ssc.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("dstream.GetOrCreate: %w", err)
	}
	return ssc, nil
}

// RecoveryOption configures GetOrCreate.
type RecoveryOption func(*recoveryConfig)

type recoveryConfig struct {
	fallback bool
}

// RecoverFromOlderCheckpoint makes recovery fall back to an older
// checkpoint when the newest is corrupt: an older metadata checkpoint when
// the newest metadata file is damaged, and an older state checkpoint when
// a state file of the newest is damaged (as long as the input needed to
// replay from it is still kept: spate keeps the last 3 state checkpoints).
// Skipped files are logged. Without it such damage is an error naming the
// file, and the operator decides. Default: off.
func RecoverFromOlderCheckpoint(enabled bool) RecoveryOption {
	return func(c *recoveryConfig) { c.fallback = enabled }
}

// compare checks the graph against a checkpoint's metadata.
func (c *checkpointer) compare(m *metadata) error {
	var diffs []string
	if m.BatchIntervalNs != int64(c.ssc.interval) {
		diffs = append(diffs, fmt.Sprintf("batch interval: checkpoint %v, graph %v", time.Duration(m.BatchIntervalNs), c.ssc.interval))
	}
	ck := map[string]statefulMeta{}
	for _, s := range m.Stateful {
		ck[s.Name] = s
	}
	for _, s := range c.m.Stateful {
		old, ok := ck[s.Name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("stateful stream %s (%s) is not in the checkpoint", s.Name, s.Op))
		case old.Op != s.Op:
			diffs = append(diffs, fmt.Sprintf("stateful stream %s: checkpoint has a %s, graph a %s", s.Name, old.Op, s.Op))
		case old.Partitions != s.Partitions:
			diffs = append(diffs, fmt.Sprintf("stateful stream %s: checkpoint has %d state partitions, graph %d (the number is fixed for the life of a checkpoint)", s.Name, old.Partitions, s.Partitions))
		}
		delete(ck, s.Name)
	}
	for _, s := range m.Stateful {
		if _, left := ck[s.Name]; left {
			diffs = append(diffs, fmt.Sprintf("stateful stream %s (%s) of the checkpoint is not in the graph", s.Name, s.Op))
		}
	}
	for name, in := range c.m.Inputs {
		old, ok := m.Inputs[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("input %s (%s) is not in the checkpoint", name, in.Op))
		case old.Op != in.Op:
			diffs = append(diffs, fmt.Sprintf("input %s: checkpoint has a %s, graph a %s", name, old.Op, in.Op))
		}
	}
	for name, in := range m.Inputs {
		if _, ok := c.m.Inputs[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("input %s (%s) of the checkpoint is not in the graph", name, in.Op))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	slices.Sort(diffs)
	return fmt.Errorf("%w in %s:\n  - %s\nname streams with DStream.Name to keep them matched across code changes, or start from an empty directory", ErrGraphMismatch, c.dir, strings.Join(diffs, "\n  - "))
}

// replayBatch is a batch re-run on recovery.
type replayBatch struct {
	t time.Time
	// stateOnly: the batch completed before the failure; only the jobs
	// that advance state run.
	stateOnly bool
}

// recover restores state and inputs from m and returns the batches to
// re-run and the last batch time generated before the failure.
func (c *checkpointer) recover(m *metadata, fallback bool) ([]replayBatch, time.Time, error) {
	ssc := c.ssc
	c.m.ZeroTimeNs, c.m.LastCompletedNs, c.m.LastGeneratedNs = m.ZeroTimeNs, m.LastCompletedNs, m.LastGeneratedNs
	c.m.CheckpointsNs = append([]int64(nil), m.CheckpointsNs...)
	c.m.PendingNs = append([]int64(nil), m.PendingNs...)
	for _, in := range c.inputs {
		name := in.inputNode().CheckpointName()
		if old := m.Inputs[name]; old != nil {
			c.m.Inputs[name] = old
			if old.Batches == nil {
				old.Batches = map[string]json.RawMessage{}
			}
		}
	}

	// The base: the newest complete state checkpoint whose files all
	// read back; the start when there is none yet; the last completed
	// batch when nothing is stateful.
	base := m.ZeroTimeNs
	if len(c.streams) == 0 {
		base = m.LastCompletedNs
	}
	for i := len(m.CheckpointsNs) - 1; i >= 0 && len(c.streams) > 0; i-- {
		t := m.CheckpointsNs[i]
		err := c.restoreAt(t)
		if err == nil {
			base = t
			break
		}
		if !fallback {
			return nil, time.Time{}, fmt.Errorf("%w (GetOrCreate's RecoverFromOlderCheckpoint falls back to an older checkpoint)", err)
		}
		ssc.log.Warn("dstream: a state checkpoint cannot be read; falling back to an older one", "batch", formatBatchTime(time.Unix(0, t)), "err", err)
		if i == 0 {
			return nil, time.Time{}, fmt.Errorf("no state checkpoint can be read; the oldest failed with: %w", err)
		}
	}
	// The input records must reach back to base.
	until := time.Unix(0, m.LastGeneratedNs)
	for _, in := range c.inputs {
		name := in.inputNode().CheckpointName()
		recs := map[int64]json.RawMessage{}
		var progress json.RawMessage
		if r := c.m.Inputs[name]; r != nil {
			progress = r.Progress
			for k, v := range r.Batches {
				t, err := strconv.ParseInt(k, 10, 64)
				if err != nil {
					return nil, time.Time{}, fmt.Errorf("metadata checkpoint: input %s: bad batch time %q", name, k)
				}
				recs[t] = v
			}
		}
		if err := in.restore(c, progress, recs, until); err != nil {
			return nil, time.Time{}, fmt.Errorf("restoring input %s: %w", name, err)
		}
	}
	pending := map[int64]bool{}
	for _, t := range m.PendingNs {
		pending[t] = true
	}
	var replay []replayBatch
	step := int64(ssc.interval)
	for t := base + step; t <= m.LastGeneratedNs; t += step {
		stateOnly := t <= m.LastCompletedNs && !pending[t]
		if stateOnly && len(c.streams) == 0 {
			continue
		}
		replay = append(replay, replayBatch{t: time.Unix(0, t), stateOnly: stateOnly})
	}
	return replay, until, nil
}

// restoreAt loads every checkpointed stream's state written at t.
func (c *checkpointer) restoreAt(t int64) error {
	for _, s := range c.streams {
		name := s.node().CheckpointName()
		times := c.chain(s, t)
		files := make([][]string, s.numPartitions())
		for p := range files {
			for _, at := range times {
				files[p] = append(files[p], filepath.Join(c.stateDir(name, p), stateFileName(at)))
			}
		}
		if err := s.restore(files, time.Unix(0, t)); err != nil {
			return fmt.Errorf("state of %s at batch %s: %w", name, formatBatchTime(time.Unix(0, t)), err)
		}
	}
	return nil
}

// start begins the background state writer.
func (c *checkpointer) start() {
	c.writes = make(chan stateWrite, max(4, 2*c.totalParts))
	c.writerD = make(chan struct{})
	go c.writer()
}

// close waits for the state writes queued so far, stops the writer and
// closes the write-ahead logs.
func (c *checkpointer) close() {
	for _, in := range c.inputs {
		if l, ok := in.(interface{ closeLog() }); ok {
			l.closeLog()
		}
	}
	for _, s := range c.streams {
		if sc, ok := s.(interface{ stopScans() }); ok {
			sc.stopScans()
		}
	}
	if c.writes == nil {
		return
	}
	close(c.writes)
	<-c.writerD
}

func (c *checkpointer) writer() {
	defer close(c.writerD)
	for w := range c.writes {
		c.mu.Lock()
		failed := c.failed
		c.mu.Unlock()
		if failed != nil {
			if w.done != nil {
				w.done()
			}
			continue
		}
		err := func() error {
			if w.done != nil {
				defer w.done()
			}
			b, err := w.encode()
			if err != nil {
				return fmt.Errorf("encoding the state of %s, partition %d: %w", w.stream, w.part, err)
			}
			dir := c.stateDir(w.stream, w.part)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return checkpoint.WriteFile(dir, stateFileName(w.t), "state", b)
		}()
		if err != nil {
			c.fail(fmt.Errorf("dstream: writing a state checkpoint of %s for batch %s: %w", w.stream, formatBatchTime(time.Unix(0, w.t)), err))
			continue
		}
		c.stateWritten(w.t)
	}
}

// fail records a checkpoint failure and stops the context.
func (c *checkpointer) fail(err error) {
	c.mu.Lock()
	first := c.failed == nil
	if first {
		c.failed = err
	}
	c.mu.Unlock()
	if first {
		c.ssc.log.Error("dstream: checkpointing failed; stopping", "err", err)
		c.ssc.stopAsync(err)
	}
}

// enqueue queues a state file; it waits while the writer is behind, which
// holds the batch back rather than letting copies of the state pile up.
func (c *checkpointer) enqueue(w stateWrite) {
	c.writes <- w
}

// every returns how often n checkpoints its state.
func every(n *streamNode) time.Duration {
	if n.checkpointEvery != 0 {
		return n.checkpointEvery
	}
	return n.slide * ((defaultCheckpointEvery + n.slide - 1) / n.slide)
}

// checkpointIndex returns k when t is n's k-th checkpoint time (k ≥ 1),
// or 0 when n does not checkpoint at t.
func (c *checkpointer) checkpointIndex(n *streamNode, t time.Time) int64 {
	since := t.UnixNano() - c.m.ZeroTimeNs
	e := int64(every(n))
	if since <= 0 || since%e != 0 {
		return 0
	}
	return since / e
}

// isCheckpointTime reports whether n checkpoints its state at t.
func (c *checkpointer) isCheckpointTime(n *streamNode, t time.Time) bool {
	return c.checkpointIndex(n, t) > 0
}

// isFullCheckpoint reports whether n's checkpoint at t holds the whole
// state (always, for streams without incremental checkpoints).
func (c *checkpointer) isFullCheckpoint(s checkpointedStream, t time.Time) bool {
	k := c.checkpointIndex(s.node(), t)
	return !s.incremental() || (k-1)%fullCheckpointEvery == 0
}

// chain returns the checkpoint times whose files rebuild s's state at t:
// the full checkpoint at or before t, then every delta up to t.
func (c *checkpointer) chain(s checkpointedStream, t int64) []int64 {
	n := s.node()
	k := c.checkpointIndex(n, time.Unix(0, t))
	if !s.incremental() || k == 0 {
		return []int64{t}
	}
	first := (k-1)/fullCheckpointEvery*fullCheckpointEvery + 1
	e := int64(every(n))
	var out []int64
	for i := first; i <= k; i++ {
		out = append(out, c.m.ZeroTimeNs+i*e)
	}
	return out
}

// stateWritten counts a state file of batch t; when the last one of a
// complete checkpoint is written, the checkpoint is recorded.
func (c *checkpointer) stateWritten(t int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written[t]++
	if c.written[t] < c.totalParts {
		return
	}
	delete(c.written, t)
	for at := range c.written {
		if at < t {
			delete(c.written, at) // a time some stream skipped: never complete
		}
	}
	if slices.Contains(c.m.CheckpointsNs, t) {
		return // rewritten while replaying after a restart
	}
	c.m.CheckpointsNs = append(c.m.CheckpointsNs, t)
	slices.Sort(c.m.CheckpointsNs)
	if n := len(c.m.CheckpointsNs); n > retainedCheckpoints {
		c.m.CheckpointsNs = append([]int64(nil), c.m.CheckpointsNs[n-retainedCheckpoints:]...)
	}
	c.pruneLocked()
	if err := c.writeMetaLocked(); err != nil {
		go c.fail(err)
		return
	}
	// Only once the metadata no longer names them, and only what no
	// retained checkpoint's chain needs.
	for _, s := range c.streams {
		name := s.node().CheckpointName()
		keepFrom := c.chain(s, c.m.CheckpointsNs[0])[0]
		for p := range s.numPartitions() {
			dir := c.stateDir(name, p)
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				at, err := strconv.ParseInt(e.Name(), 10, 64)
				if err == nil && at < keepFrom {
					os.Remove(filepath.Join(dir, e.Name()))
				}
			}
		}
	}
}

// pruneLocked drops input records that no recovery can need: those before
// the oldest kept state checkpoint (or the last completed batch, without
// stateful streams), less how far back inputs are remembered.
func (c *checkpointer) pruneLocked() {
	base := c.m.ZeroTimeNs
	switch {
	case len(c.streams) == 0:
		base = c.m.LastCompletedNs
	case len(c.m.CheckpointsNs) > 0:
		base = c.m.CheckpointsNs[0]
	}
	for _, in := range c.inputs {
		n := in.inputNode()
		n.mu.Lock()
		cutoff := base - int64(n.remember)
		n.mu.Unlock()
		r := c.m.Inputs[n.CheckpointName()]
		for k := range r.Batches {
			if t, _ := strconv.ParseInt(k, 10, 64); t <= cutoff {
				delete(r.Batches, k)
			}
		}
		in.forget(time.Unix(0, cutoff))
	}
}

// writeMetaLocked writes the metadata checkpoint.
func (c *checkpointer) writeMetaLocked() error {
	b, err := json.Marshal(&c.m)
	if err != nil {
		return fmt.Errorf("dstream: encoding the metadata checkpoint: %w", err)
	}
	c.seq++
	if err := c.metaDir.Write("metadata", c.seq, "meta", b); err != nil {
		return fmt.Errorf("dstream: writing the metadata checkpoint: %w", err)
	}
	return nil
}

// begin writes the first metadata checkpoint of a run, numbered after
// every metadata file already there.
func (c *checkpointer) begin() error {
	seqs, err := c.metaDir.List("metadata")
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(seqs) > 0 {
		c.seq = slices.Max(seqs)
	}
	c.m.ZeroTimeNs = c.ssc.zeroTime.UnixNano()
	return c.writeMetaLocked()
}

// batchGenerated records batch t's input before its jobs run, so that a
// restart replays exactly that input.
func (c *checkpointer) batchGenerated(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed != nil {
		return c.failed
	}
	for _, in := range c.inputs {
		recs, err := in.takeRecords()
		if err != nil {
			return err
		}
		prog, err := in.progress()
		if err != nil {
			return err
		}
		r := c.m.Inputs[in.inputNode().CheckpointName()]
		for at, rec := range recs {
			r.Batches[strconv.FormatInt(at, 10)] = rec
		}
		r.Progress = prog
	}
	c.m.PendingNs = append(c.m.PendingNs, t.UnixNano())
	c.m.LastGeneratedNs = max(c.m.LastGeneratedNs, t.UnixNano())
	return c.writeMetaLocked()
}

// batchCompleted records that batch t's jobs all completed.
func (c *checkpointer) batchCompleted(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed != nil {
		return c.failed
	}
	tn := t.UnixNano()
	if i := slices.Index(c.m.PendingNs, tn); i >= 0 {
		c.m.PendingNs = slices.Delete(c.m.PendingNs, i, i+1)
	}
	c.m.LastCompletedNs = max(c.m.LastCompletedNs, tn)
	c.pruneLocked()
	return c.writeMetaLocked()
}
