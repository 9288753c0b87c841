package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector"
)

// SinkMetadataDir is the directory, below a file sink's output path, of the
// sink metadata log: the list of committed batches and their files.
const SinkMetadataDir = "_spate_metadata"

// DefaultCompactInterval is the default of option compactInterval: the
// sink metadata log is compacted into one file every this many batches.
const DefaultCompactInterval = 10

const (
	sinkLogKind    = "filesink-log"
	sinkLogVersion = 1
)

// ErrOtherQuery is wrapped by the error [NewStreamSink] returns when the
// output directory's metadata log was written by another query.
var ErrOtherQuery = errors.New("file: the sink directory belongs to another query")

// StreamSinkOptions configures [NewStreamSink].
type StreamSinkOptions struct {
	// Options are the format's write options (see the package
	// documentation) and the sink options compactInterval and retention
	// (see "Streaming sink"); names are case-insensitive. Default: none.
	Options map[string]string
	// PartitionBy names columns whose values become col=value directories.
	// Default: none.
	PartitionBy []string
	// QueryID is recorded in the metadata log; a log written with another
	// query id makes NewStreamSink fail with [ErrOtherQuery] (a new query
	// would otherwise find batch ids it never wrote and skip them).
	// Default: "" (no check).
	QueryID string
	// Alloc allocates the writers' buffers. Default: memory.DefaultAllocator.
	Alloc memory.Allocator
	// Clock stamps log entries (for retention). Default: the system clock.
	Clock clock.Clock
}

// sinkFile is one committed file, relative to the sink's path.
type sinkFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// sinkBatch is the log entry of one committed batch.
type sinkBatch struct {
	BatchID int64      `json:"batchId"`
	Time    int64      `json:"time"` // commit time, Unix milliseconds
	Files   []sinkFile `json:"files"`
}

type sinkDelta struct {
	Version int    `json:"v"`
	QueryID string `json:"queryId,omitempty"`
	sinkBatch
}

type sinkCompact struct {
	Version     int         `json:"v"`
	QueryID     string      `json:"queryId,omitempty"`
	LastBatchID int64       `json:"lastBatchId"`
	Batches     []sinkBatch `json:"batches"`
}

// StreamSink is the streaming file sink: each batch becomes one set of
// part files (written by a [WriteJob] whose id derives from the batch id),
// then one entry in the sink metadata log (path/_spate_metadata). A batch
// id already in the log is skipped, so a re-executed batch never duplicates
// output; a batch that failed between its files and its log entry is
// rewritten under the same file names. Readers that go through the log
// ([CommittedFiles], and [ListFiles] on the output directory) see only
// committed batches. It implements connector.BatchSink[[]arrow.RecordBatch]
// and connector.LastBatcher. AddBatch calls must not overlap.
type StreamSink struct {
	path, format string
	wopts        WriteOptions
	queryID      string
	interval     int
	retention    time.Duration
	clk          clock.Clock
	log          metaLog

	mu           sync.Mutex
	batches      []sinkBatch
	last         int64
	sinceCompact int
	// hook, if set (tests only), runs at each step of AddBatch: "written"
	// (files in the job's temporary directory), "committed" (files in
	// place, log entry not written); an error stops the batch there, as a
	// crash would.
	hook func(step string, batchID int64) error
}

var (
	_ connector.BatchSink[[]arrow.RecordBatch] = (*StreamSink)(nil)
	_ connector.LastBatcher                    = (*StreamSink)(nil)
)

// NewStreamSink opens a streaming sink writing format files under path
// (created if missing). It validates the format and options and loads the
// metadata log, so that batch ids committed by an earlier run are skipped.
func NewStreamSink(path, format string, o StreamSinkOptions) (*StreamSink, error) {
	f, err := checkFormat(format)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New("file: stream sink: the output path is empty")
	}
	opts := newOptions(o.Options)
	if _, err := parseWriteConfig(f, opts); err != nil {
		return nil, err
	}
	n, err := opts.integer("compactInterval", DefaultCompactInterval, 1)
	if err != nil {
		return nil, err
	}
	s := &StreamSink{path: path, format: f, queryID: o.QueryID, interval: int(n), clk: o.Clock, last: -1,
		wopts: WriteOptions{Options: o.Options, PartitionBy: o.PartitionBy, Alloc: o.Alloc},
		log:   metaLog{dir: filepath.Join(path, SinkMetadataDir), kind: sinkLogKind}}
	if s.clk == nil {
		s.clk = clock.System()
	}
	if v := opts.str("retention", ""); v != "" {
		if s.retention, err = parseAge(v); err != nil {
			return nil, fmt.Errorf("file: option retention = %q: want a positive duration such as 7d or 12h", v)
		}
	}
	for i, c := range o.PartitionBy {
		if c == "" || slices.Contains(o.PartitionBy[:i], c) {
			return nil, fmt.Errorf("file: partitionBy column %q is empty or repeated", c)
		}
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("file: stream sink %s: the path is a file, not a directory", path)
	}
	if err := os.MkdirAll(s.log.dir, 0o755); err != nil {
		return nil, fmt.Errorf("file: stream sink %s: %w", path, err)
	}
	l, err := loadSinkLog(s.log)
	if err != nil {
		return nil, err
	}
	if l.queryID != "" && s.queryID != "" && l.queryID != s.queryID {
		return nil, fmt.Errorf("%w: %s was written by query %s, not %s; write to a new directory, or delete it (including %s) to start over",
			ErrOtherQuery, path, l.queryID, s.queryID, SinkMetadataDir)
	}
	if s.queryID == "" {
		s.queryID = l.queryID
	}
	s.batches, s.last, s.sinceCompact = l.batches, l.last, l.deltas
	return s, nil
}

// sinkLog is a loaded sink metadata log.
type sinkLog struct {
	queryID string
	batches []sinkBatch
	last    int64
	deltas  int // deltas after the compaction
}

func loadSinkLog(ml metaLog) (sinkLog, error) {
	l := sinkLog{last: -1}
	compact, deltas, err := ml.load(func(c int64) int64 { return c + 1 })
	if err != nil {
		return l, err
	}
	if compact != nil {
		var c sinkCompact
		if err := json.Unmarshal(compact.payload, &c); err != nil {
			return l, fmt.Errorf("%w: file: sink metadata log %s: compaction %d: %w", checkpoint.ErrCorrupt, ml.dir, compact.seq, err)
		}
		if c.Version != sinkLogVersion {
			return l, fmt.Errorf("file: sink metadata log %s: version %d is not supported (want %d)", ml.dir, c.Version, sinkLogVersion)
		}
		l.queryID, l.batches, l.last = c.QueryID, c.Batches, c.LastBatchID
	}
	for _, d := range deltas {
		var e sinkDelta
		if err := json.Unmarshal(d.payload, &e); err != nil {
			return l, fmt.Errorf("%w: file: sink metadata log %s: batch %d: %w", checkpoint.ErrCorrupt, ml.dir, d.seq, err)
		}
		if e.Version != sinkLogVersion {
			return l, fmt.Errorf("file: sink metadata log %s: version %d is not supported (want %d)", ml.dir, e.Version, sinkLogVersion)
		}
		if e.BatchID != d.seq {
			return l, fmt.Errorf("%w: file: sink metadata log %s: file %d holds batch %d", checkpoint.ErrCorrupt, ml.dir, d.seq, e.BatchID)
		}
		if l.queryID == "" {
			l.queryID = e.QueryID
		}
		l.batches = append(l.batches, e.sinkBatch)
		l.last = max(l.last, e.BatchID)
	}
	l.deltas = len(deltas)
	return l, nil
}

// jobID is the write job id of a batch: a re-executed batch writes the
// same file names and so replaces the files of a failed attempt.
func jobID(batchID int64) string { return "batch" + strconv.FormatInt(batchID, 10) }

// AddBatch implements connector.BatchSink. A batch id at or below the last
// one in the metadata log returns nil without writing. Otherwise the
// batches (all of one schema; the caller keeps ownership) are written as
// one part file — one per partition value with PartitionBy — moved into
// place, and recorded in the log; only then does AddBatch return nil. A
// batch without rows writes no file but is recorded. On error nothing is
// recorded, and the batch can be retried with the same id.
func (s *StreamSink) AddBatch(ctx context.Context, batchID int64, batches []arrow.RecordBatch) error {
	if batchID < 0 {
		return fmt.Errorf("file: stream sink: negative batch id %d", batchID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if batchID <= s.last {
		return nil
	}
	var rows int64
	for _, b := range batches {
		rows += b.NumRows()
	}
	var files []sinkFile
	if rows > 0 {
		var err error
		if files, err = s.write(ctx, batchID, batches); err != nil {
			return err
		}
	}
	if err := s.step("committed", batchID); err != nil {
		return err
	}
	e := sinkBatch{BatchID: batchID, Time: s.clk.Now().UnixMilli(), Files: files}
	p, err := json.Marshal(sinkDelta{Version: sinkLogVersion, QueryID: s.queryID, sinkBatch: e})
	if err != nil {
		return err
	}
	if err := s.log.writeDelta(batchID, p); err != nil {
		return fmt.Errorf("file: stream sink %s: batch %d: write metadata log: %w", s.path, batchID, err)
	}
	s.batches = append(s.batches, e)
	s.last = batchID
	s.sinceCompact++
	if s.sinceCompact >= s.interval {
		s.compact(batchID)
	}
	return nil
}

func (s *StreamSink) step(name string, batchID int64) error {
	if s.hook != nil {
		return s.hook(name, batchID)
	}
	return nil
}

// write writes and commits the batch's files and returns them.
func (s *StreamSink) write(ctx context.Context, batchID int64, batches []arrow.RecordBatch) ([]sinkFile, error) {
	o := s.wopts
	o.JobID = jobID(batchID)
	job, err := NewWriteJob(s.path, SaveAppend, s.format, o)
	if err != nil {
		return nil, fmt.Errorf("file: stream sink: batch %d: %w", batchID, err)
	}
	committed := false
	defer func() {
		if !committed {
			job.Abort()
		}
	}()
	schema := batches[0].Schema()
	var nonEmpty []arrow.RecordBatch
	for _, b := range batches {
		if b.NumRows() > 0 {
			nonEmpty = append(nonEmpty, b)
		}
	}
	if err := job.WritePartition(ctx, 0, schema, nonEmpty); err != nil {
		return nil, fmt.Errorf("file: stream sink: batch %d: %w", batchID, err)
	}
	if err := s.step("written", batchID); err != nil {
		return nil, err
	}
	job.mu.Lock()
	rels := slices.Clone(job.files[0])
	job.mu.Unlock()
	if err := job.Commit(ctx); err != nil {
		return nil, fmt.Errorf("file: stream sink: batch %d: %w", batchID, err)
	}
	committed = true
	slices.Sort(rels)
	files := make([]sinkFile, 0, len(rels))
	for _, rel := range rels {
		st, err := os.Stat(filepath.Join(s.path, rel))
		if err != nil {
			return nil, fmt.Errorf("file: stream sink: batch %d: %w", batchID, err)
		}
		files = append(files, sinkFile{Path: filepath.ToSlash(rel), Size: st.Size()})
	}
	return files, nil
}

// compact writes every batch so far into "<batchID>.compact", dropping
// batches older than the retention, and removes the files it covers. A
// failure leaves the deltas in place; the next batch tries again.
func (s *StreamSink) compact(batchID int64) {
	keep := s.batches
	if s.retention > 0 {
		cut := s.clk.Now().Add(-s.retention).UnixMilli()
		keep = slices.DeleteFunc(slices.Clone(keep), func(b sinkBatch) bool { return b.Time < cut })
	}
	p, err := json.Marshal(sinkCompact{Version: sinkLogVersion, QueryID: s.queryID, LastBatchID: s.last, Batches: keep})
	if err != nil {
		return
	}
	if err := s.log.writeCompact(batchID, p); err != nil {
		return
	}
	s.batches = keep
	s.sinceCompact = 0
	_ = s.log.prune(batchID, batchID+1)
}

// LastBatchID implements connector.LastBatcher: the last batch id in the
// metadata log.
func (s *StreamSink) LastBatchID(context.Context) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.last >= 0, nil
}

// Path returns the output directory.
func (s *StreamSink) Path() string { return s.path }

// Close implements connector.BatchSink; every AddBatch that returned nil
// is already durable.
func (s *StreamSink) Close() error { return nil }

// CommittedFiles returns the files of the batches recorded in the sink
// metadata log under path (the output directory of a [StreamSink]), joined
// to path and sorted: what a reader of the directory should read. Files of
// batches that failed before their log entry are not listed. A directory
// without a log gives an error wrapping fs.ErrNotExist.
func CommittedFiles(path string) ([]string, error) {
	infos, ok, err := committedFileInfos(path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("file: %s has no sink metadata log (%s): %w", path, SinkMetadataDir, fs.ErrNotExist)
	}
	out := make([]string, len(infos))
	for i, fi := range infos {
		out[i] = fi.Path
	}
	return out, nil
}

// committedFileInfos lists the committed files of the sink whose output
// directory is dir; ok is false when dir has no sink metadata log. A
// committed file that no longer exists is an error naming it.
func committedFileInfos(dir string) (infos []FileInfo, ok bool, err error) {
	ml := metaLog{dir: filepath.Join(dir, SinkMetadataDir), kind: sinkLogKind}
	if st, err := os.Stat(ml.dir); err != nil || !st.IsDir() {
		return nil, false, nil
	}
	l, err := loadSinkLog(ml)
	if err != nil {
		return nil, true, err
	}
	for _, b := range l.batches {
		for _, f := range b.Files {
			p := filepath.Join(dir, filepath.FromSlash(f.Path))
			st, err := os.Stat(p)
			if err != nil {
				return nil, true, fmt.Errorf("file: %s: committed file of batch %d: %w", dir, b.BatchID, err)
			}
			infos = append(infos, FileInfo{Path: p, Size: st.Size(), ModTime: st.ModTime()})
		}
	}
	slices.SortFunc(infos, func(a, b FileInfo) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return infos, true, nil
}
