package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spate-io/spate/checkpoint"
)

// metaLog is a directory of numbered metadata files written atomically
// through package checkpoint: deltas named "<n>" and compactions named
// "<n>.compact", each holding what the deltas up to some point held. The
// streaming file source (seen-files log) and the streaming file sink (sink
// metadata log) both keep one; each decides what n means and what a
// compaction covers.
type metaLog struct {
	dir  string
	kind string // checkpoint file kind, checked on read
}

const compactSuffix = ".compact"

// logFile is one file of a metaLog.
type logFile struct {
	seq     int64
	payload []byte
}

func (l metaLog) writeDelta(seq int64, payload []byte) error {
	return checkpoint.WriteFile(l.dir, strconv.FormatInt(seq, 10), l.kind, payload)
}

func (l metaLog) writeCompact(seq int64, payload []byte) error {
	return checkpoint.WriteFile(l.dir, strconv.FormatInt(seq, 10)+compactSuffix, l.kind, payload)
}

// names lists the log's deltas and compactions, ascending. A missing
// directory is an empty log.
func (l metaLog) names() (deltas, compacts []int64, err error) {
	ents, err := os.ReadDir(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("file: metadata log %s: %w", l.dir, err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		name, compact := strings.CutSuffix(e.Name(), compactSuffix)
		n, ok := parseSeqName(name)
		if !ok {
			continue // temporary files of atomic writes, foreign files
		}
		if compact {
			compacts = append(compacts, n)
		} else {
			deltas = append(deltas, n)
		}
	}
	slices.Sort(deltas)
	slices.Sort(compacts)
	return deltas, compacts, nil
}

func parseSeqName(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// load returns the newest compaction (nil if none) and every delta after
// afterCompact(compaction seq) — the first delta seq not covered by it —
// ascending. A file removed by a concurrent compaction between listing and
// reading makes load list again (a few times) so that readers in other
// processes see a consistent log.
func (l metaLog) load(firstUncovered func(compactSeq int64) int64) (compact *logFile, deltas []logFile, err error) {
	for attempt := 0; ; attempt++ {
		compact, deltas, err = l.loadOnce(firstUncovered)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt >= 4 {
			return compact, deltas, err
		}
	}
}

func (l metaLog) loadOnce(firstUncovered func(int64) int64) (*logFile, []logFile, error) {
	ds, cs, err := l.names()
	if err != nil {
		return nil, nil, err
	}
	var compact *logFile
	from := int64(0)
	if len(cs) > 0 {
		c := cs[len(cs)-1]
		p, err := checkpoint.ReadFile(filepath.Join(l.dir, strconv.FormatInt(c, 10)+compactSuffix), l.kind)
		if err != nil {
			return nil, nil, fmt.Errorf("file: metadata log %s: %w", l.dir, err)
		}
		compact = &logFile{seq: c, payload: p}
		from = firstUncovered(c)
	}
	var deltas []logFile
	for _, d := range ds {
		if d < from {
			continue
		}
		p, err := checkpoint.ReadFile(filepath.Join(l.dir, strconv.FormatInt(d, 10)), l.kind)
		if err != nil {
			return nil, nil, fmt.Errorf("file: metadata log %s: %w", l.dir, err)
		}
		deltas = append(deltas, logFile{seq: d, payload: p})
	}
	return compact, deltas, nil
}

// prune removes the deltas below keepFrom and the compactions older than
// compactSeq, after compaction compactSeq was written. Failures are
// harmless (load skips covered files) and reported only as an error value.
func (l metaLog) prune(compactSeq, keepFrom int64) error {
	ds, cs, err := l.names()
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range ds {
		if d < keepFrom {
			if err := os.Remove(filepath.Join(l.dir, strconv.FormatInt(d, 10))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	for _, c := range cs {
		if c < compactSeq {
			if err := os.Remove(filepath.Join(l.dir, strconv.FormatInt(c, 10)+compactSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
