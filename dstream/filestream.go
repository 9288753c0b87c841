package dstream

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// FileStreamWindow is how far back before a batch time TextFileStream
// looks for new files (Spark's minimum remember duration): a file whose
// modification time is older than that when it appears is ignored.
const FileStreamWindow = time.Minute

// TextFileStream returns a stream of the lines of new files in dir (not
// recursing). The batch at time t reads the files whose modification time
// is at or before t and that no earlier batch read; files already there
// when the context starts are ignored, as are hidden files (".x"),
// files starting with "_", and files ending in ".tmp" or "._COPYING_".
//
// Writers must make files appear complete: write them elsewhere (or under
// a hidden or .tmp name) and rename them into dir, because a file is read
// once, by the first batch that sees it. A file is only picked up if it
// appears within FileStreamWindow of its modification time.
func TextFileStream(ssc *StreamingContext, dir string) *DStream[string] {
	var bad error
	if st, err := os.Stat(dir); err != nil {
		bad = fmt.Errorf("directory %q: %w", dir, err)
	} else if !st.IsDir() {
		bad = fmt.Errorf("%q is not a directory", dir)
	}
	fs := &fileStream{dir: dir, seen: map[string]time.Time{}, files: map[int64][]string{}}
	fs.DStream = newStream(ssc, "TextFileStream", intervalOf(ssc), nil, func(t time.Time) (*rdd.RDD[string], error) {
		files := fs.newFiles(t)
		rs := make([]*rdd.RDD[string], 0, len(files))
		for _, f := range files {
			rs = append(rs, rdd.TextFile(ssc.ec, f, 1))
		}
		if len(rs) == 0 {
			return rdd.Empty[string](ssc.ec), nil
		}
		return rdd.Union(rs...), nil
	}, bad)
	if fs.err == nil {
		ssc.addInput(fs)
	}
	return fs.DStream
}

type fileStream struct {
	*DStream[string]
	dir string

	mu    sync.Mutex
	seen  map[string]time.Time // files read, by path, with their modification time
	files map[int64][]string   // batch time -> files read, for the batch report
}

// newFiles lists dir and returns the files batch t must read.
func (fs *fileStream) newFiles(t time.Time) []string {
	entries, err := os.ReadDir(fs.dir)
	if err != nil {
		fs.ssc.log.Warn("dstream: listing the directory of a TextFileStream failed; this batch reads no files", "dir", fs.dir, "err", err)
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	oldest := t.Add(-FileStreamWindow)
	if zero := fs.ssc.zeroTime; oldest.Before(zero) {
		oldest = zero
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, "._COPYING_") {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		path := filepath.Join(fs.dir, name)
		mod := info.ModTime()
		if _, done := fs.seen[path]; done || !mod.After(oldest) || mod.After(t) {
			continue
		}
		fs.seen[path] = mod
		out = append(out, path)
	}
	for path, mod := range fs.seen {
		if !mod.After(oldest) {
			delete(fs.seen, path) // too old to be picked again anyway
		}
	}
	slices.Sort(out)
	fs.files[t.UnixNano()] = out
	return out
}

func (fs *fileStream) inputInfo(t time.Time) (metrics.InputInfo, bool) {
	fs.mu.Lock()
	files := fs.files[t.UnixNano()]
	fs.mu.Unlock()
	return metrics.InputInfo{StreamID: fs.id, Name: "TextFileStream " + fs.dir, Records: -1,
		Metadata: map[string]string{"files": strings.Join(files, ",")}}, true
}

func (fs *fileStream) clearOld(t time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for at := range fs.files {
		if at <= t.UnixNano() {
			delete(fs.files, at)
		}
	}
}
