package file

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// SaveMode says what a write does when the target already holds data.
type SaveMode int

const (
	// SaveError fails with [ErrPathExists] when the target holds data
	// (Spark's "error"/"errorifexists"). The default.
	SaveError SaveMode = iota
	// SaveOverwrite replaces the target's contents, at commit time.
	SaveOverwrite
	// SaveAppend adds new files next to the existing ones.
	SaveAppend
	// SaveIgnore writes nothing when the target holds data.
	SaveIgnore
)

// String returns the mode's Spark name.
func (m SaveMode) String() string {
	switch m {
	case SaveError:
		return "errorifexists"
	case SaveOverwrite:
		return "overwrite"
	case SaveAppend:
		return "append"
	case SaveIgnore:
		return "ignore"
	}
	return "SaveMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseSaveMode parses Spark's save mode names ("error", "errorifexists",
// "overwrite", "append", "ignore"), case-insensitively; "" is [SaveError].
func ParseSaveMode(s string) (SaveMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "error", "errorifexists", "default":
		return SaveError, nil
	case "overwrite":
		return SaveOverwrite, nil
	case "append":
		return SaveAppend, nil
	case "ignore":
		return SaveIgnore, nil
	}
	return 0, fmt.Errorf("file: save mode %q: want error, errorifexists, overwrite, append or ignore", s)
}

// WriteOptions configures a [WriteJob].
type WriteOptions struct {
	// Options are the format's write options (see the package
	// documentation); names are case-insensitive. Default: none.
	Options map[string]string
	// PartitionBy names columns whose values become col=value directories;
	// the columns are removed from the files' data. Default: none.
	PartitionBy []string
	// Alloc allocates the writers' buffers. Default: memory.DefaultAllocator.
	Alloc memory.Allocator
	// JobID names the job's temporary directory and is part of every file
	// name. It must be a valid file name part. A job that reuses the id of
	// an earlier job on the same target (a re-executed streaming batch)
	// writes the same file names, so its Commit replaces that job's files
	// instead of adding copies. Default: 16 random hex digits.
	JobID string
}

type jobState int

const (
	jobOpen jobState = iota
	jobCommitted
	jobAborted
)

// WriteJob writes a dataset as files under one target directory. Tasks
// call WritePartition, possibly concurrently, each writing its files into
// the job's temporary directory (target/_temporary/<job id>/); Commit then
// moves them into place and writes the _SUCCESS marker, or Abort removes
// them. Readers using [ListFiles] never see uncommitted files.
type WriteJob struct {
	path     string
	mode     SaveMode
	format   string
	opts     WriteOptions
	wc       writeConfig
	id       string
	tmp      string
	ignored  bool
	created  bool // the target directory did not exist before the job
	mu       sync.Mutex
	state    jobState
	files    map[int][]string // partition → files written, relative to tmp
	inflight map[int]bool
}

// NewWriteJob starts a job writing format files to path with save mode
// mode. It checks the format and options, applies SaveError (an error
// wrapping [ErrPathExists] when path holds data) and SaveIgnore (the job
// then writes nothing; see [WriteJob.Ignored]), and creates the temporary
// directory. SaveOverwrite removes the old contents only at Commit.
func NewWriteJob(path string, mode SaveMode, format string, opts WriteOptions) (*WriteJob, error) {
	f, err := checkFormat(format)
	if err != nil {
		return nil, err
	}
	if mode < SaveError || mode > SaveIgnore {
		return nil, fmt.Errorf("file: save mode %d is not valid", mode)
	}
	if path == "" {
		return nil, errors.New("file: write path is empty")
	}
	wc, err := parseWriteConfig(f, newOptions(opts.Options))
	if err != nil {
		return nil, err
	}
	if opts.Alloc == nil {
		opts.Alloc = memory.DefaultAllocator
	}
	for i, c := range opts.PartitionBy {
		if c == "" || slices.Contains(opts.PartitionBy[:i], c) {
			return nil, fmt.Errorf("file: partitionBy column %q is empty or repeated", c)
		}
	}
	if opts.JobID == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("file: job id: %w", err)
		}
		opts.JobID = hex.EncodeToString(b[:])
	} else if strings.ContainsAny(opts.JobID, `/\`) || hidden(opts.JobID) || opts.JobID == ".." {
		return nil, fmt.Errorf("file: job id %q is not a valid file name part", opts.JobID)
	}
	j := &WriteJob{path: path, mode: mode, format: f, opts: opts, wc: wc, id: opts.JobID,
		files: map[int][]string{}, inflight: map[int]bool{}}
	j.tmp = filepath.Join(path, tempDirName, j.id)

	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		j.created = true
	case err != nil:
		return nil, fmt.Errorf("file: write %s: %w", path, err)
	case !st.IsDir():
		if mode == SaveIgnore {
			j.ignored = true
			return j, nil
		}
		if mode == SaveError {
			return nil, fmt.Errorf("%w: %s (save mode %s; use overwrite, append or ignore)", ErrPathExists, path, mode)
		}
		return nil, fmt.Errorf("file: write %s: the path is a file, not a directory; remove it first", path)
	default:
		has, err := hasData(path)
		if err != nil {
			return nil, err
		}
		if has && mode == SaveError {
			return nil, fmt.Errorf("%w: %s (save mode %s; use overwrite, append or ignore)", ErrPathExists, path, mode)
		}
		if has && mode == SaveIgnore {
			j.ignored = true
			return j, nil
		}
	}
	if err := os.MkdirAll(j.tmp, 0o755); err != nil {
		return nil, fmt.Errorf("file: write %s: %w", path, err)
	}
	return j, nil
}

// hasData reports whether dir holds anything but hidden entries.
func hasData(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("file: write %s: %w", dir, err)
	}
	for _, e := range ents {
		if !hidden(e.Name()) {
			return true, nil
		}
	}
	return false, nil
}

// ID returns the job id, which appears in every file name of the job.
func (j *WriteJob) ID() string { return j.id }

// Ignored reports whether the job writes nothing because the mode is
// SaveIgnore and the target already held data.
func (j *WriteJob) Ignored() bool { return j.ignored }

// fileName returns the name of partition p's file.
func (j *WriteJob) fileName(p int) string {
	return fmt.Sprintf("part-%05d-%s%s", p, j.id, j.wc.ext())
}

// WritePartition writes the batches of one partition (all with schema
// schema) into the job's temporary directory: one file, or with
// PartitionBy one file per distinct partition key. It does not take
// ownership of the batches. A partition with no rows still gets a file
// (holding the schema or header) unless the job partitions by columns.
// Calling it again for the same partition replaces that partition's files
// (a retried task). It is safe for concurrent use with different
// partitions; the same partition must not be written concurrently.
func (j *WriteJob) WritePartition(ctx context.Context, partition int, schema *arrow.Schema, batches []arrow.RecordBatch) (err error) {
	if j.ignored {
		return nil
	}
	if partition < 0 {
		return fmt.Errorf("file: partition %d is negative", partition)
	}
	if schema == nil {
		return errors.New("file: WritePartition needs a schema")
	}
	for i, b := range batches {
		if !b.Schema().Equal(schema) {
			return fmt.Errorf("file: partition %d batch %d: schema %s differs from %s", partition, i, b.Schema(), schema)
		}
	}
	j.mu.Lock()
	if j.state != jobOpen {
		j.mu.Unlock()
		return fmt.Errorf("file: write job %s is already %s", j.id, j.stateName())
	}
	if j.inflight[partition] {
		j.mu.Unlock()
		return fmt.Errorf("file: partition %d is being written by another call", partition)
	}
	j.inflight[partition] = true
	old := j.files[partition]
	delete(j.files, partition)
	j.mu.Unlock()
	var written []string
	defer func() {
		j.mu.Lock()
		delete(j.inflight, partition)
		if err == nil {
			j.files[partition] = written
		}
		j.mu.Unlock()
		if err != nil {
			for _, f := range written {
				os.Remove(filepath.Join(j.tmp, f))
			}
		}
	}()
	for _, f := range old {
		if err := os.Remove(filepath.Join(j.tmp, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("file: remove earlier attempt %s: %w", f, err)
		}
	}
	if len(j.opts.PartitionBy) == 0 {
		rel := j.fileName(partition)
		written = append(written, rel)
		return j.writeFile(ctx, rel, schema, batches)
	}
	return j.writePartitioned(ctx, partition, schema, batches, &written)
}

func (j *WriteJob) stateName() string {
	return map[jobState]string{jobOpen: "open", jobCommitted: "committed", jobAborted: "aborted"}[j.state]
}

// fileOut is one open output file.
type fileOut struct {
	f   *os.File
	bw  *bufio.Writer
	z   *gzip.Writer
	rw  recordWriter
	rel string
}

func (j *WriteJob) open(rel string, schema *arrow.Schema) (*fileOut, error) {
	full := filepath.Join(j.tmp, rel)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	f, err := os.Create(full)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	out := &fileOut{f: f, rel: rel, bw: bufio.NewWriterSize(f, 1<<20)}
	// the writers see a plain io.Writer: pqarrow closes sinks that are
	// io.Closers, and the file must stay open until the buffer is flushed
	var w io.Writer = struct{ io.Writer }{out.bw}
	if j.wc.compression == "gzip" && j.format != FormatParquet {
		out.z = gzip.NewWriter(out.bw)
		w = struct{ io.Writer }{out.z}
	}
	out.rw, err = newRecordWriter(j.wc, w, schema, j.opts.Alloc)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file: %s: %w", full, err)
	}
	return out, nil
}

func (o *fileOut) close() error {
	err := o.rw.close()
	if o.z != nil {
		err = errors.Join(err, o.z.Close())
	}
	err = errors.Join(err, o.bw.Flush())
	return errors.Join(err, o.f.Close())
}

func (j *WriteJob) writeFile(ctx context.Context, rel string, schema *arrow.Schema, batches []arrow.RecordBatch) error {
	out, err := j.open(rel, schema)
	if err != nil {
		return err
	}
	for _, b := range batches {
		if err := ctx.Err(); err != nil {
			out.close()
			return err
		}
		if err := out.rw.write(b); err != nil {
			out.close()
			return fmt.Errorf("file: write %s: %w", filepath.Join(j.tmp, rel), err)
		}
	}
	if err := out.close(); err != nil {
		return fmt.Errorf("file: write %s: %w", filepath.Join(j.tmp, rel), err)
	}
	return nil
}

// writePartitioned splits each batch by the PartitionBy columns' values and
// writes each group, without those columns, to col=value/... files.
func (j *WriteJob) writePartitioned(ctx context.Context, partition int, schema *arrow.Schema, batches []arrow.RecordBatch, written *[]string) (err error) {
	keyIdx := make([]int, len(j.opts.PartitionBy))
	for i, c := range j.opts.PartitionBy {
		idx := schema.FieldIndices(c)
		if len(idx) == 0 {
			return fmt.Errorf("file: partitionBy column %q is not in the schema (columns: %s)", c, strings.Join(fieldNames(schema), ", "))
		}
		if _, nested := schema.Field(idx[0]).Type.(arrow.NestedType); nested {
			return fmt.Errorf("file: partitionBy column %q has nested type %s", c, schema.Field(idx[0]).Type)
		}
		keyIdx[i] = idx[0]
	}
	var dataIdx []int
	var dataFields []arrow.Field
	for i, f := range schema.Fields() {
		if !slices.Contains(keyIdx, i) {
			dataIdx = append(dataIdx, i)
			dataFields = append(dataFields, f)
		}
	}
	if len(dataFields) == 0 {
		return errors.New("file: partitionBy uses every column; no data columns are left to write")
	}
	md := schema.Metadata()
	dataSchema := arrow.NewSchema(dataFields, &md)
	outs := map[string]*fileOut{}
	defer func() {
		for _, o := range outs {
			if cerr := o.close(); cerr != nil && err == nil {
				err = fmt.Errorf("file: write %s: %w", filepath.Join(j.tmp, o.rel), cerr)
			}
		}
	}()
	tctx := compute.WithAllocator(ctx, j.opts.Alloc)
	var key []byte
	for _, b := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		groups := map[string][]int64{}
		var order []string
		for r := range int(b.NumRows()) {
			key = key[:0]
			for i, k := range keyIdx {
				if i > 0 {
					key = append(key, '/')
				}
				key = appendPartitionDir(key, j.opts.PartitionBy[i], b.Column(k), r)
			}
			g, ok := groups[string(key)]
			if !ok {
				order = append(order, string(key))
			}
			groups[string(key)] = append(g, int64(r))
		}
		cols := make([]arrow.Array, len(dataIdx))
		for i, c := range dataIdx {
			cols[i] = b.Column(c)
		}
		data := array.NewRecordBatch(dataSchema, cols, b.NumRows())
		for _, k := range order {
			o := outs[k]
			if o == nil {
				rel := filepath.Join(filepath.FromSlash(k), j.fileName(partition))
				*written = append(*written, rel)
				if o, err = j.open(rel, dataSchema); err != nil {
					data.Release()
					return err
				}
				outs[k] = o
			}
			if err := j.writeRows(tctx, o, data, groups[k]); err != nil {
				data.Release()
				return err
			}
		}
		data.Release()
	}
	return nil
}

// writeRows writes the rows idx of data (the whole batch when idx covers
// it) to o.
func (j *WriteJob) writeRows(ctx context.Context, o *fileOut, data arrow.RecordBatch, idx []int64) error {
	if int64(len(idx)) == data.NumRows() {
		if err := o.rw.write(data); err != nil {
			return fmt.Errorf("file: write %s: %w", filepath.Join(j.tmp, o.rel), err)
		}
		return nil
	}
	ib := array.NewInt64Builder(j.opts.Alloc)
	ib.AppendValues(idx, nil)
	ia := ib.NewArray()
	ib.Release()
	defer ia.Release()
	res, err := compute.Take(ctx, *compute.DefaultTakeOptions(), compute.NewDatumWithoutOwning(data), compute.NewDatumWithoutOwning(ia))
	if err != nil {
		return fmt.Errorf("file: split rows for %s: %w", o.rel, err)
	}
	defer res.Release()
	rec := res.(*compute.RecordDatum).Value
	if err := o.rw.write(rec); err != nil {
		return fmt.Errorf("file: write %s: %w", filepath.Join(j.tmp, o.rel), err)
	}
	return nil
}

// appendPartitionDir appends "col=value" for row r of a, escaped; null and
// empty values use [DefaultPartitionValue].
func appendPartitionDir(dst []byte, col string, a arrow.Array, r int) []byte {
	dst = append(dst, escapePathName(col)...)
	dst = append(dst, '=')
	if a.IsNull(r) {
		return append(dst, DefaultPartitionValue...)
	}
	v := appendPlain(nil, a, r, "2006-01-02 15:04:05.999999999", "2006-01-02")
	if len(v) == 0 {
		return append(dst, DefaultPartitionValue...)
	}
	return append(dst, escapePathName(string(v))...)
}

// Commit publishes the job's files: in SaveOverwrite mode it first removes
// the target's old contents, then it moves every file from the temporary
// directory into place (one rename each, so no reader sees a partial
// file), writes the _SUCCESS marker and removes the temporary directory.
// Commit after Abort, or a second Commit, is an error.
func (j *WriteJob) Commit(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != jobOpen {
		return fmt.Errorf("file: write job %s is already %s", j.id, j.stateName())
	}
	if len(j.inflight) > 0 {
		return fmt.Errorf("file: write job %s: commit while %d partitions are being written", j.id, len(j.inflight))
	}
	if j.ignored {
		j.state = jobCommitted
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if j.mode == SaveOverwrite {
		ents, err := os.ReadDir(j.path)
		if err != nil {
			return fmt.Errorf("file: commit %s: %w", j.path, err)
		}
		for _, e := range ents {
			if e.Name() == tempDirName {
				continue
			}
			if err := os.RemoveAll(filepath.Join(j.path, e.Name())); err != nil {
				return fmt.Errorf("file: commit %s: overwrite: %w", j.path, err)
			}
		}
	}
	parts := make([]int, 0, len(j.files))
	for p := range j.files {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		for _, rel := range j.files[p] {
			if err := ctx.Err(); err != nil {
				return err
			}
			dst := filepath.Join(j.path, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return fmt.Errorf("file: commit %s: %w", j.path, err)
			}
			if err := os.Rename(filepath.Join(j.tmp, rel), dst); err != nil {
				return fmt.Errorf("file: commit %s: %w", j.path, err)
			}
		}
	}
	marker := filepath.Join(j.path, "_SUCCESS")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return fmt.Errorf("file: commit %s: %w", j.path, err)
	}
	j.state = jobCommitted
	j.removeTemp()
	return nil
}

// Abort removes the job's temporary files (and the target directory if the
// job created it and it is empty). Aborting an aborted job does nothing;
// aborting a committed job is an error.
func (j *WriteJob) Abort() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch j.state {
	case jobAborted:
		return nil
	case jobCommitted:
		return fmt.Errorf("file: write job %s is already committed", j.id)
	}
	j.state = jobAborted
	if j.ignored {
		return nil
	}
	if err := os.RemoveAll(j.tmp); err != nil {
		return fmt.Errorf("file: abort %s: %w", j.path, err)
	}
	j.removeTemp()
	if j.created {
		os.Remove(j.path) // only if empty
	}
	return nil
}

func (j *WriteJob) removeTemp() {
	os.RemoveAll(j.tmp)
	os.Remove(filepath.Join(j.path, tempDirName)) // only if no other job uses it
}
