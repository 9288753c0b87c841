package file

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/connector"
)

// StreamPartition is the one partition of a [StreamSource]: offset n is the
// n-th file admitted (0-based), in the order of the seen-files log.
var StreamPartition = connector.Partition{Stream: "files", Index: 0}

// DefaultMaxFileAge is the default of option maxFileAge.
const DefaultMaxFileAge = 7 * 24 * time.Hour

// seenCompactInterval is how many deltas the seen-files log accumulates
// before they are compacted into one file.
const seenCompactInterval = 10

// Kinds of the checkpoint files the stream source writes.
const (
	seenLogKind = "filesrc-seen"
	schemaKind  = "filesrc-schema"
	schemaName  = "schema"
)

// CleanSource says what a [StreamSource] does with a file once the batch
// that read it has committed (option cleanSource).
type CleanSource int

const (
	// CleanOff leaves files in place. The default.
	CleanOff CleanSource = iota
	// CleanDelete removes them.
	CleanDelete
	// CleanArchive moves them below sourceArchiveDir, keeping their path
	// relative to the source directory.
	CleanArchive
)

// String returns the option value: off, delete or archive.
func (c CleanSource) String() string {
	switch c {
	case CleanDelete:
		return "delete"
	case CleanArchive:
		return "archive"
	}
	return "off"
}

// StreamSourceOptions configures [NewStreamSource].
type StreamSourceOptions struct {
	// Schema is the schema of the rows. Required unless the format is text
	// (always one string column "value"), option inferSchema is true, or
	// MetadataDir holds the schema inferred at the query's first run.
	Schema *arrow.Schema
	// Options are the source options (see the package documentation,
	// "Streaming source") and the format's read options, in one map, names
	// case-insensitive; the format options are passed to [ReadFile].
	// Default: none.
	Options map[string]string
	// MetadataDir is the directory of the seen-files log, inside the
	// query's checkpoint (<checkpoint>/sources/<i>). It is created if
	// missing. Option metadataDir is the same setting; this field wins.
	// Default: none — the log is kept in memory only and a restarted query
	// cannot re-read the same files.
	MetadataDir string
	// Alloc allocates the emitted batches. Default: memory.DefaultAllocator.
	Alloc memory.Allocator
	// BatchRows is the most rows per emitted batch. Default: 8192.
	BatchRows int
}

// seenFile is one entry of the seen-files log.
type seenFile struct {
	// Path is relative to the source directory, with forward slashes.
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime"` // Unix nanoseconds
}

type seenDelta struct {
	Start int64      `json:"start"`
	Files []seenFile `json:"files"`
}

type seenCompact struct {
	// Base is the number of entries purged before Files (committed files
	// older than maxFileAge, which the age filter keeps out anyway).
	Base  int64      `json:"base,omitempty"`
	Files []seenFile `json:"files"`
}

// StreamSourceStats counts what a [StreamSource] did since it was created.
type StreamSourceStats struct {
	// ReadStats sums the stats of every file read (rows, malformed and
	// dropped records, bytes).
	ReadStats
	// FilesAdmitted is the length of the seen-files log.
	FilesAdmitted int64
	// FilesRead counts files read by Read (re-reads included).
	FilesRead int64
	// FilesMissing counts admitted files that were gone when read, with
	// ignoreMissingFiles.
	FilesMissing int64
	// FilesCleaned counts files deleted or archived by cleanSource.
	FilesCleaned int64
}

// StreamSource is the streaming file source: it watches a directory and
// admits new files in a stable order, recorded in a seen-files log, so that
// each batch — and its re-execution after a restart — reads exactly the same
// files. It implements connector.Source[arrow.RecordBatch] with one
// partition ([StreamPartition]) whose offsets count admitted files, and
// connector.Committer (for cleanSource). It is safe for concurrent use.
type StreamSource struct {
	dir, format string
	schema      *arrow.Schema
	fopts       map[string]string
	alloc       memory.Allocator
	batchRows   int

	maxFiles       int64
	latestFirst    bool
	maxAge         time.Duration
	clean          CleanSource
	archiveDir     string
	glob           string
	ignoreMissing  bool
	log            *metaLog // nil: in memory only
	inferred       bool     // the schema was inferred (and is stored with the log)
	sinceCompacted int

	mu        sync.Mutex
	base      int64      // log positions purged from the front of files
	files     []seenFile // log positions base, base+1, ...
	seen      map[string]bool
	newest    int64 // newest ModTime admitted
	consumed  int64 // highest offset read or committed: files before it are no longer pending
	committed int64 // highest offset committed (Commit): never read again
	cleaned   int64 // files before it were cleaned (this process)
	stats     StreamSourceStats
}

var (
	_ connector.Source[arrow.RecordBatch] = (*StreamSource)(nil)
	_ connector.Committer                 = (*StreamSource)(nil)
)

// NewStreamSource returns a streaming source over the files of format in
// directory dir, which must exist. It validates the options, loads the
// seen-files log from the metadata directory if there is one (a restart),
// and resolves the schema (inferring it from the files present now when
// inferSchema is true, and storing it in the metadata directory so that a
// restart uses the same schema).
func NewStreamSource(ctx context.Context, dir, format string, o StreamSourceOptions) (*StreamSource, error) {
	f, err := checkFormat(format)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, errors.New("file: stream source: the directory path is empty")
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("file: stream source %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("file: stream source %s: not a directory (a streaming source watches a directory for new files)", dir)
	}
	opts := newOptions(o.Options)
	s := &StreamSource{dir: dir, format: f, fopts: o.Options, alloc: o.Alloc, batchRows: o.BatchRows, seen: map[string]bool{}}
	if s.alloc == nil {
		s.alloc = memory.DefaultAllocator
	}
	if err := s.parseOptions(opts); err != nil {
		return nil, err
	}
	mdir := o.MetadataDir
	if mdir == "" {
		mdir = opts.str("metadataDir", "")
	}
	if mdir != "" {
		if err := os.MkdirAll(mdir, 0o755); err != nil {
			return nil, fmt.Errorf("file: stream source: metadataDir: %w", err)
		}
		s.log = &metaLog{dir: mdir, kind: seenLogKind}
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	if err := s.resolveSchema(ctx, o.Schema, opts); err != nil {
		return nil, err
	}
	return s, nil
}

// SetMetadataDir gives the source its metadata directory after
// construction, for engines that create sources before they know the
// query's checkpoint (<checkpoint>/sources/<i>). It must be called before
// any offset or read call. It loads the seen-files log found there (a
// restart); with an inferred schema, it stores the schema on the first run
// and on a restart checks that the files still infer to the stored one
// (otherwise the error says to give the schema explicitly). Setting the
// directory the source already uses does nothing.
func (s *StreamSource) SetMetadataDir(dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dir == "" {
		return errors.New("file: stream source: SetMetadataDir: empty directory")
	}
	if s.log != nil {
		if filepath.Clean(s.log.dir) == filepath.Clean(dir) {
			return nil
		}
		return fmt.Errorf("file: stream source: metadata directory already set to %s", s.log.dir)
	}
	if s.length() > 0 {
		return errors.New("file: stream source: SetMetadataDir after files were admitted; call it before the query starts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("file: stream source: metadataDir: %w", err)
	}
	s.log = &metaLog{dir: dir, kind: seenLogKind}
	if err := s.load(); err != nil {
		s.log, s.base, s.files, s.seen, s.newest = nil, 0, nil, map[string]bool{}, 0
		return err
	}
	if !s.inferred {
		return nil
	}
	stored, err := s.storedSchema()
	switch {
	case err != nil:
		return err
	case stored == nil:
		return s.storeSchema(s.schema)
	case !stored.Equal(s.schema):
		return fmt.Errorf("file: stream source %s: the files now infer schema %s, but the query started with %s; give the schema explicitly", s.dir, s.schema, stored)
	}
	return nil
}

func (s *StreamSource) parseOptions(o options) error {
	n, err := o.integer("maxFilesPerTrigger", 0, 1)
	if err != nil {
		return err
	}
	s.maxFiles = n
	if s.latestFirst, err = o.boolean("latestFirst", false); err != nil {
		return err
	}
	if s.ignoreMissing, err = o.boolean("ignoreMissingFiles", false); err != nil {
		return err
	}
	s.maxAge = DefaultMaxFileAge
	if v := o.str("maxFileAge", ""); v != "" {
		d, err := parseAge(v)
		if err != nil {
			return fmt.Errorf("file: option maxFileAge = %q: want a positive duration such as 7d, 12h or 30m", v)
		}
		s.maxAge = d
	}
	switch strings.ToLower(strings.TrimSpace(o.str("cleanSource", "off"))) {
	case "", "off":
		s.clean = CleanOff
	case "delete":
		s.clean = CleanDelete
	case "archive":
		s.clean = CleanArchive
	default:
		return fmt.Errorf("file: option cleanSource = %q: want off, delete or archive", o.str("cleanSource", ""))
	}
	s.archiveDir = o.str("sourceArchiveDir", "")
	if s.clean == CleanArchive {
		if s.archiveDir == "" {
			return errors.New("file: option cleanSource = archive needs option sourceArchiveDir")
		}
		a, err1 := filepath.Abs(s.archiveDir)
		d, err2 := filepath.Abs(s.dir)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("file: option sourceArchiveDir: %w", err)
		}
		if rel, err := filepath.Rel(d, a); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			return fmt.Errorf("file: option sourceArchiveDir = %q is inside the source directory %s; archived files would be read again — choose a directory outside it", s.archiveDir, s.dir)
		}
	}
	s.glob = o.str("pathGlobFilter", "")
	if s.glob != "" {
		if _, err := filepath.Match(s.glob, ""); err != nil {
			return fmt.Errorf("file: option pathGlobFilter = %q: %w", s.glob, err)
		}
	}
	return nil
}

// parseAge parses a duration as Go does, plus the units d (days) and w
// (weeks): "7d", "1w", "36h", "1d12h" is not accepted (use 36h).
func parseAge(v string) (time.Duration, error) {
	v = strings.TrimSpace(strings.ToLower(v))
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if num, ok := strings.CutSuffix(v, suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f <= 0 {
				return 0, errors.New("bad duration")
			}
			return time.Duration(f * float64(unit)), nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}

// resolveSchema sets s.schema from the given schema, the schema stored in
// the metadata directory, or inference.
func (s *StreamSource) resolveSchema(ctx context.Context, given *arrow.Schema, o options) error {
	if given != nil {
		s.schema = given
		return nil
	}
	if s.format == FormatText {
		s.schema = arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
		return nil
	}
	if s.log != nil {
		stored, err := s.storedSchema()
		if err != nil {
			return err
		}
		if stored != nil {
			s.schema, s.inferred = stored, true
			return nil
		}
	}
	infer, err := o.boolean("inferSchema", false)
	if err != nil {
		return err
	}
	if !infer {
		return fmt.Errorf("file: stream source %s: a %s stream needs a schema; give one, or set option inferSchema=true to infer it from the files present at the start", s.dir, s.format)
	}
	infos, err := ListFileInfos(s.dir)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(infos))
	for _, fi := range infos {
		if s.globOK(fi.Path) {
			paths = append(paths, fi.Path)
		}
	}
	if len(paths) == 0 {
		return fmt.Errorf("file: stream source %s: inferSchema: the directory has no %s files yet; give a schema", s.dir, s.format)
	}
	schema, err := InferSchema(ctx, s.format, paths, s.fopts)
	if err != nil {
		return err
	}
	s.schema, s.inferred = schema, true
	if s.log != nil {
		return s.storeSchema(schema)
	}
	return nil
}

// storedSchema returns the schema stored in the metadata directory, or nil.
func (s *StreamSource) storedSchema() (*arrow.Schema, error) {
	p, err := checkpoint.ReadFile(filepath.Join(s.log.dir, schemaName), schemaKind)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file: stream source: %w", err)
	}
	r, err := ipc.NewReader(bytes.NewReader(p))
	if err != nil {
		return nil, fmt.Errorf("file: stream source: schema stored in %s: %w", s.log.dir, err)
	}
	defer r.Release()
	return r.Schema(), nil
}

func (s *StreamSource) storeSchema(schema *arrow.Schema) error {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	if err := w.Close(); err != nil {
		return fmt.Errorf("file: stream source: encode schema: %w", err)
	}
	if err := checkpoint.WriteFile(s.log.dir, schemaName, schemaKind, buf.Bytes()); err != nil {
		return fmt.Errorf("file: stream source: store inferred schema: %w", err)
	}
	return nil
}

func (s *StreamSource) globOK(path string) bool {
	if s.glob == "" {
		return true
	}
	ok, _ := filepath.Match(s.glob, filepath.Base(path))
	return ok
}

// load reads the seen-files log.
func (s *StreamSource) load() error {
	compact, deltas, err := s.log.load(func(c int64) int64 { return c })
	if err != nil {
		return err
	}
	if compact != nil {
		var c seenCompact
		if err := json.Unmarshal(compact.payload, &c); err != nil {
			return fmt.Errorf("%w: file: seen-files log %s: compaction %d: %w", checkpoint.ErrCorrupt, s.log.dir, compact.seq, err)
		}
		if c.Base < 0 || c.Base+int64(len(c.Files)) != compact.seq {
			return fmt.Errorf("%w: file: seen-files log %s: compaction %d holds files %d..%d", checkpoint.ErrCorrupt, s.log.dir, compact.seq, c.Base, c.Base+int64(len(c.Files)))
		}
		s.base = c.Base
		s.admit(c.Files)
	}
	for _, d := range deltas {
		var e seenDelta
		if err := json.Unmarshal(d.payload, &e); err != nil {
			return fmt.Errorf("%w: file: seen-files log %s: entry %d: %w", checkpoint.ErrCorrupt, s.log.dir, d.seq, err)
		}
		if e.Start != d.seq || e.Start != s.length() {
			return fmt.Errorf("%w: file: seen-files log %s: entry %d starts at file %d, want %d (missing entries)", checkpoint.ErrCorrupt, s.log.dir, d.seq, e.Start, s.length())
		}
		s.admit(e.Files)
	}
	s.sinceCompacted = len(deltas)
	return nil
}

func (s *StreamSource) admit(fs []seenFile) {
	for _, f := range fs {
		s.files = append(s.files, f)
		s.seen[f.Path] = true
		s.newest = max(s.newest, f.ModTime)
	}
	s.stats.FilesAdmitted = s.length()
}

// length is the number of files admitted: the next log position.
func (s *StreamSource) length() int64 { return s.base + int64(len(s.files)) }

// ageFilter reports whether maxFileAge applies to new files.
func (s *StreamSource) ageFilter() bool {
	return s.length() > 0 && !(s.latestFirst && s.maxFiles > 0)
}

// Schema returns the schema of the rows.
func (s *StreamSource) Schema() *arrow.Schema { return s.schema }

// Name describes the source in plans and progress reports.
func (s *StreamSource) Name() string {
	return fmt.Sprintf("FileStreamSource[%s %s]", s.format, s.dir)
}

// Dir returns the watched directory.
func (s *StreamSource) Dir() string { return s.dir }

// Limits returns the trigger limits: maxFilesPerTrigger as
// MaxOffsetsPerTrigger (one offset is one file).
func (s *StreamSource) Limits() connector.Limits {
	return connector.Limits{MaxOffsetsPerTrigger: s.maxFiles}
}

// InitialOffsets implements connector.OffsetSource: a new query starts
// before the first file.
func (s *StreamSource) InitialOffsets(context.Context) (connector.Offsets, error) {
	return connector.Offsets{StreamPartition: 0}, nil
}

// EarliestOffsets implements connector.OffsetSource: 0.
func (s *StreamSource) EarliestOffsets(_ context.Context, parts []connector.Partition) (connector.Offsets, error) {
	o := connector.Offsets{}
	for _, p := range parts {
		o[p] = 0
	}
	return o, nil
}

// LatestOffsets implements connector.OffsetSource. It lists the directory,
// admits new files into the seen-files log — oldest first (newest first
// with latestFirst), by modification time then path; with
// maxFilesPerTrigger only as many as keep at most that many files
// admitted but not yet read — writes the log atomically, and only then
// returns the number of admitted files.
func (s *StreamSource) LatestOffsets(ctx context.Context) (connector.Offsets, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	infos, err := ListFileInfos(s.dir)
	if err != nil {
		return nil, fmt.Errorf("file: stream source: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	useAge := s.ageFilter()
	var cands []seenFile
	for _, fi := range infos {
		rel, err := filepath.Rel(s.dir, fi.Path)
		if err != nil {
			return nil, fmt.Errorf("file: stream source: %w", err)
		}
		rel = filepath.ToSlash(rel)
		if s.seen[rel] || !s.globOK(rel) {
			continue
		}
		mt := fi.ModTime.UnixNano()
		if useAge && mt < s.newest-int64(s.maxAge) {
			continue
		}
		cands = append(cands, seenFile{Path: rel, Size: fi.Size, ModTime: mt})
	}
	slices.SortFunc(cands, func(a, b seenFile) int {
		c := cmp.Compare(a.ModTime, b.ModTime)
		if s.latestFirst {
			c = -c
		}
		if c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
	if s.maxFiles > 0 {
		room := s.maxFiles - (s.length() - s.consumed)
		cands = cands[:max(0, min(int64(len(cands)), room))]
	}
	if len(cands) > 0 {
		if err := s.persist(cands); err != nil {
			return nil, err
		}
		s.admit(cands)
	}
	return connector.Offsets{StreamPartition: s.length()}, nil
}

// persist writes the files about to be admitted as one delta of the log,
// and compacts the log every seenCompactInterval deltas.
func (s *StreamSource) persist(add []seenFile) error {
	if s.log == nil {
		return nil
	}
	start := s.length()
	p, err := json.Marshal(seenDelta{Start: start, Files: add})
	if err != nil {
		return err
	}
	if err := s.log.writeDelta(start, p); err != nil {
		return fmt.Errorf("file: stream source: write seen-files log: %w", err)
	}
	s.sinceCompacted++
	if s.sinceCompacted < seenCompactInterval {
		return nil
	}
	// Purge the front of the log: committed files (never read again) that
	// are older than maxFileAge (the age filter keeps them out if they are
	// listed again), so the log does not grow with the query's age.
	k := 0
	if s.ageFilter() {
		newest := s.newest
		for _, f := range add {
			newest = max(newest, f.ModTime)
		}
		for k < len(s.files) && s.base+int64(k) < s.committed && s.files[k].ModTime < newest-int64(s.maxAge) {
			k++
		}
	}
	all := append(slices.Clone(s.files[k:]), add...)
	p, err = json.Marshal(seenCompact{Base: s.base + int64(k), Files: all})
	if err != nil {
		return err
	}
	end := s.base + int64(k) + int64(len(all))
	if err := s.log.writeCompact(end, p); err != nil {
		return nil // the deltas are intact; compact next time
	}
	for _, f := range s.files[:k] {
		delete(s.seen, f.Path)
	}
	s.base += int64(k)
	s.files = slices.Clone(s.files[k:])
	s.sinceCompacted = 0
	_ = s.log.prune(end, end) // leftovers are skipped on load
	return nil
}

// Read implements connector.Source: it reads the files at log positions
// [r.From, r.Until), in order, emitting their batches (emit owns each
// batch). A file that disappeared fails the read with an error wrapping
// fs.ErrNotExist, unless ignoreMissingFiles is set. Reads of different
// ranges may run concurrently; connector.SplitRanges cuts a range into
// pieces that read disjoint files, for parallelism.
func (s *StreamSource) Read(ctx context.Context, r connector.OffsetRange, emit func([]arrow.RecordBatch) error) error {
	_, err := s.read(ctx, r, nil, emit)
	return err
}

// ReadColumns is ReadCountingMalformed that builds only the named columns
// of the schema, in that order (package streaming calls it with the
// columns a query's plan reads, streaming.ColumnReadingSource). As in a
// batch read with ReadOptions.Columns, the values of the other columns are
// only skipped: a record is malformed when it is not valid JSON or CSV, or
// when a column read from it does not parse (Spark's column pruning of
// JSON and CSV behaves alike).
func (s *StreamSource) ReadColumns(ctx context.Context, r connector.OffsetRange, columns []string, emit func([]arrow.RecordBatch) error) (int64, error) {
	st, err := s.read(ctx, r, columns, emit)
	return st.DroppedRows, err
}

// ReadCountingMalformed is Read that also returns how many malformed
// records the read dropped (mode DROPMALFORMED; 0 in the other modes).
// The streaming engine (package streaming, MalformedCountingSource) calls
// it instead of Read and reports the count of each batch in the query's
// progress (numDroppedMalformedRows). With mode FAILFAST the read fails
// at the first malformed record with an error wrapping [ErrMalformed]
// that names the file and line.
func (s *StreamSource) ReadCountingMalformed(ctx context.Context, r connector.OffsetRange, emit func([]arrow.RecordBatch) error) (int64, error) {
	st, err := s.read(ctx, r, nil, emit)
	return st.DroppedRows, err
}

// read is Read, returning the stats of the files it read; columns (nil:
// all) are the columns to build.
func (s *StreamSource) read(ctx context.Context, r connector.OffsetRange, columns []string, emit func([]arrow.RecordBatch) error) (ReadStats, error) {
	var total ReadStats
	if r.Partition != StreamPartition {
		return total, fmt.Errorf("file: stream source: unknown partition %s (the source has only %s)", r.Partition, StreamPartition)
	}
	s.mu.Lock()
	if r.From < s.base || r.Until > s.length() {
		base, n := s.base, s.length()
		s.mu.Unlock()
		return total, fmt.Errorf("file: stream source: range %s is outside the seen-files log (files %d..%d); the log in the metadata directory does not belong to this query's offsets", r, base, n)
	}
	todo := slices.Clone(s.files[r.From-s.base : max(r.From, r.Until)-s.base])
	s.consumed = max(s.consumed, r.Until)
	s.mu.Unlock()
	for _, f := range todo {
		path := filepath.Join(s.dir, filepath.FromSlash(f.Path))
		if s.ignoreMissing {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				s.mu.Lock()
				s.stats.FilesMissing++
				s.mu.Unlock()
				continue
			}
		}
		ro := ReadOptions{Schema: s.schema, Options: s.fopts, Alloc: s.alloc, BatchRows: s.batchRows, Columns: columns}
		if vals, null := PartitionValues(f.Path); len(null) == 0 {
			ro.PartitionValues = vals // relative: directories above the source do not count
		}
		st, err := ReadFile(ctx, s.format, path, ro, func(rec arrow.RecordBatch) error {
			return emit([]arrow.RecordBatch{rec})
		})
		total = total.Add(st)
		s.mu.Lock()
		s.stats.ReadStats = s.stats.ReadStats.Add(st)
		if err == nil {
			s.stats.FilesRead++
		}
		s.mu.Unlock()
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Commit implements connector.Committer. The engine calls it after the
// batch ending at end committed. With cleanSource, it deletes or archives
// the files before end["files-0"] that this process has not cleaned yet
// (after a restart it retries from the start of the log; files already
// gone are skipped). Errors are advisory: a file that could not be cleaned
// is reported and left in place.
func (s *StreamSource) Commit(ctx context.Context, end connector.Offsets) error {
	n, ok := end[StreamPartition]
	if !ok {
		return nil
	}
	s.mu.Lock()
	n = min(n, s.length())
	s.consumed = max(s.consumed, n)
	s.committed = max(s.committed, n)
	s.cleaned = max(s.cleaned, s.base)
	if s.clean == CleanOff || n <= s.cleaned {
		s.mu.Unlock()
		return nil
	}
	todo := slices.Clone(s.files[s.cleaned-s.base : n-s.base])
	s.cleaned = n
	s.mu.Unlock()
	var errs []error
	done := int64(0)
	for _, f := range todo {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		src := filepath.Join(s.dir, filepath.FromSlash(f.Path))
		var err error
		switch s.clean {
		case CleanDelete:
			err = os.Remove(src)
		case CleanArchive:
			dst := filepath.Join(s.archiveDir, filepath.FromSlash(f.Path))
			err = archive(src, dst)
		}
		switch {
		case err == nil:
			done++
		case errors.Is(err, fs.ErrNotExist):
			// cleaned before a restart, or removed by someone else
		default:
			errs = append(errs, fmt.Errorf("file: stream source: cleanSource %s %s: %w", s.clean, src, err))
		}
	}
	s.mu.Lock()
	s.stats.FilesCleaned += done
	s.mu.Unlock()
	return errors.Join(errs...)
}

// Stats returns what the source did since it was created.
func (s *StreamSource) Stats() StreamSourceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Files returns the paths of the admitted files at log positions [from,
// until), joined to the source directory, for progress reports and tools.
// Positions purged from the log (see the package documentation) are left
// out.
func (s *StreamSource) Files(from, until int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, until = max(s.base, from), min(until, s.length())
	var out []string
	for i := from; i < until; i++ {
		out = append(out, filepath.Join(s.dir, filepath.FromSlash(s.files[i-s.base].Path)))
	}
	return out
}

// Close implements connector.OffsetSource; the source holds no resources.
func (s *StreamSource) Close() error { return nil }

// archive moves src to dst, creating dst's directory; across file systems
// (where rename fails) it copies, syncs and then removes src.
func archive(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	err := os.Rename(src, dst)
	var le *os.LinkError
	if err == nil || !errors.As(err, &le) || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".archiving"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	err = errors.Join(err, out.Sync(), out.Close())
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Remove(src)
}
