package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DefaultRetain is the number of files of a series a [Dir] keeps unless
// [Retain] says otherwise.
const DefaultRetain = 10

// seqDigits is the zero-padded width of sequence numbers in file names.
const seqDigits = 20

// Option configures [Open].
type Option func(*options)

type options struct {
	retain int
	fs     FS
}

// Retain sets how many of the newest files of each series [Dir.Write]
// keeps; older ones are removed. n must be at least 1. Default: 10.
func Retain(n int) Option { return func(o *options) { o.retain = n } }

// WithFS makes the [Dir] use fsys instead of the operating system's file
// system, for instance to inject faults in tests. Default: [OSFS].
func WithFS(fsys FS) Option { return func(o *options) { o.fs = fsys } }

// Dir is a checkpoint directory holding numbered series of checkpoint
// files. It is safe for concurrent use by the goroutines of one process.
type Dir struct {
	path   string
	retain int
	fs     FS
	mu     sync.Mutex // serializes Write, so that pruning sees a stable series
}

// Open opens the checkpoint directory at path, creating it (and its parents)
// if missing, and checks that it is writable by creating and removing a
// probe file.
func Open(path string, opts ...Option) (*Dir, error) {
	o := options{retain: DefaultRetain, fs: OSFS{}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.retain < 1 {
		return nil, fmt.Errorf("checkpoint: Retain(%d): must be at least 1", o.retain)
	}
	if o.fs == nil {
		return nil, errors.New("checkpoint: WithFS(nil): file system must not be nil")
	}
	if path == "" {
		return nil, errors.New("checkpoint: open: empty directory path")
	}
	if err := o.fs.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: create directory: %w", path, err)
	}
	probe := filepath.Join(path, ".probe"+tmpMarker+randomSuffix())
	f, err := o.fs.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: directory is not writable: %w", path, err)
	}
	cerr := f.Close()
	rerr := o.fs.Remove(probe)
	if err := errors.Join(cerr, rerr); err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: directory is not writable: %w", path, err)
	}
	return &Dir{path: path, retain: o.retain, fs: o.fs}, nil
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

func checkSeries(series string) error {
	if err := checkName(series); err != nil {
		return fmt.Errorf("checkpoint: series %q: want a plain name without path separators", series)
	}
	if strings.HasPrefix(series, ".") {
		return fmt.Errorf("checkpoint: series %q: must not start with a dot (reserved for temporary files)", series)
	}
	return nil
}

// FileName returns the name of file seq of series: "<series>-<seq>" with seq
// zero-padded to 20 digits.
func FileName(series string, seq int64) string {
	return fmt.Sprintf("%s-%0*d", series, seqDigits, seq)
}

// parseSeq returns the sequence number of name if it is a file of series.
func parseSeq(series, name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, series+"-")
	if !ok || len(rest) != seqDigits {
		return 0, false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	seq, err := strconv.ParseInt(rest, 10, 64)
	return seq, err == nil
}

// Write atomically writes file seq of series (see [WriteFile]) and then
// removes the oldest files of the series beyond the retention count. seq
// must not be negative. If the write fails, the series is unchanged. If
// only the clean-up fails, the new file is in place and the error says so.
func (d *Dir) Write(series string, seq int64, kind string, payload []byte) error {
	if err := checkSeries(series); err != nil {
		return err
	}
	if seq < 0 {
		return fmt.Errorf("checkpoint: write %s: sequence number %d is negative", series, seq)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := writeFile(d.fs, d.path, FileName(series, seq), kind, payload); err != nil {
		return err
	}
	seqs, err := d.List(series)
	if err != nil {
		return fmt.Errorf("checkpoint: wrote %s but could not prune old files: %w", FileName(series, seq), err)
	}
	var errs []error
	for _, old := range seqs[:max(0, len(seqs)-d.retain)] {
		if old == seq {
			continue // never remove the file just written (when seq is older than the rest)
		}
		if err := d.fs.Remove(filepath.Join(d.path, FileName(series, old))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("checkpoint: wrote %s but could not prune old files: %w", FileName(series, seq), err)
	}
	return nil
}

// List returns the sequence numbers of the files of series, ascending. It
// ignores temporary files and names of other series.
func (d *Dir) List(series string) ([]int64, error) {
	if err := checkSeries(series); err != nil {
		return nil, err
	}
	entries, err := d.fs.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: list %s in %s: %w", series, d.path, err)
	}
	var seqs []int64
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if seq, ok := parseSeq(series, e.Name()); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// Read reads file seq of series, which must be of the given kind.
func (d *Dir) Read(series string, seq int64, kind string) ([]byte, error) {
	if err := checkSeries(series); err != nil {
		return nil, err
	}
	return readFile(d.fs, filepath.Join(d.path, FileName(series, seq)), kind)
}

// Latest returns the newest file of series and its sequence number. If that
// file is damaged, Latest returns its error (a [*CorruptError] or
// [*VersionError]) rather than an older state; see [Dir.LatestValid] for
// falling back. A series without files gives [ErrNoCheckpoint].
func (d *Dir) Latest(series, kind string) (seq int64, payload []byte, err error) {
	seqs, err := d.List(series)
	if err != nil {
		return 0, nil, err
	}
	if len(seqs) == 0 {
		return 0, nil, fmt.Errorf("%w: series %q in %s", ErrNoCheckpoint, series, d.path)
	}
	seq = seqs[len(seqs)-1]
	payload, err = d.Read(series, seq, kind)
	if err != nil {
		return 0, nil, err
	}
	return seq, payload, nil
}

// LatestValid returns the newest intact file of series, falling back past
// corrupt files (those whose error matches [ErrCorrupt]); skipped holds
// their errors, newest first. Any other error, such as a [*VersionError],
// stops the search and is returned. If no intact file remains, err matches
// [ErrNoCheckpoint] and skipped still reports the corrupt files.
func (d *Dir) LatestValid(series, kind string) (seq int64, payload []byte, skipped []error, err error) {
	seqs, err := d.List(series)
	if err != nil {
		return 0, nil, nil, err
	}
	for _, s := range slices.Backward(seqs) {
		payload, err := d.Read(series, s, kind)
		switch {
		case err == nil:
			return s, payload, skipped, nil
		case errors.Is(err, ErrCorrupt):
			skipped = append(skipped, err)
		case errors.Is(err, fs.ErrNotExist):
			// removed by retention since List: an older file, skip it
		default:
			return 0, nil, skipped, err
		}
	}
	return 0, nil, skipped, fmt.Errorf("%w: series %q in %s has no valid file (%d corrupt)",
		ErrNoCheckpoint, series, d.path, len(skipped))
}
