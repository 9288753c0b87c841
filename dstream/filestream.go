package dstream

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
//
// With [MaxRatePerPartition] or [Backpressure], each file is an input
// partition read by line ranges: a batch takes at most the allowed number
// of lines from each file in progress (rate × interval, or the
// backpressure rate shared among the files in progress), and the rest of
// a file goes to later batches, in order. The lines are then read when
// the batch is generated, and the batch report counts them exactly.
func TextFileStream(ssc *StreamingContext, dir string) *DStream[string] {
	var bad error
	if st, err := os.Stat(dir); err != nil {
		bad = fmt.Errorf("directory %q: %w", dir, err)
	} else if !st.IsDir() {
		bad = fmt.Errorf("%q is not a directory", dir)
	}
	fs := &fileStream{dir: dir, seen: map[string]time.Time{}, files: map[int64][]string{}, records: map[int64]int64{},
		unrecorded: map[int64]fileRecord{}, replayUntil: math.MinInt64}
	if ssc != nil && (ssc.cfg.maxRatePerPartition > 0 || ssc.cfg.backpressure) {
		fs.capped = true
		if ssc.cfg.backpressure {
			fs.limiter = &rateLimiter{clk: ssc.clock, rate: ssc.cfg.startRate}
			fs.rates = &rateController{estimator: newPIDEstimator(ssc.cfg.pid, ssc.interval), limiter: fs.limiter}
		}
	}
	fs.DStream = newStream(ssc, "TextFileStream", intervalOf(ssc), nil, func(t time.Time) (*rdd.RDD[string], error) {
		if rec, ok := fs.replayed(t); ok {
			return fs.replayBatch(t, rec)
		}
		files := fs.newFiles(t)
		if fs.capped {
			return rdd.FromPartitions(ssc.ec, fs.readRanges(t, files)), nil
		}
		fs.mu.Lock()
		fs.unrecorded[t.UnixNano()] = fileRecord{Files: files}
		fs.mu.Unlock()
		return wholeFiles(ssc, files), nil
	}, bad)
	if fs.err == nil {
		fs.input = fs
		ssc.addInput(fs)
	}
	return fs.DStream
}

// wholeFiles is the RDD of the lines of files.
func wholeFiles(ssc *StreamingContext, files []string) *rdd.RDD[string] {
	rs := make([]*rdd.RDD[string], 0, len(files))
	for _, f := range files {
		rs = append(rs, rdd.TextFile(ssc.ec, f, 1))
	}
	if len(rs) == 0 {
		return rdd.Empty[string](ssc.ec)
	}
	return rdd.Union(rs...)
}

// fileRecord is what one batch of a TextFileStream read: whole files, or
// line ranges when capped.
type fileRecord struct {
	Files  []string    `json:"files,omitempty"`
	Ranges []fileRange `json:"ranges,omitempty"`
}

// fileRange is lines [Line, Line+Lines) of a file, at bytes [From, To).
type fileRange struct {
	Path  string `json:"path"`
	From  int64  `json:"from"`
	To    int64  `json:"to"`
	Line  int    `json:"line"`
	Lines int    `json:"lines"`
}

// fileProgress is a TextFileStream's position across batches.
type fileProgress struct {
	Seen    map[string]int64 `json:"seen"` // path -> modification time, Unix ns
	Pending []fileRange      `json:"pending,omitempty"`
}

func (fs *fileStream) inputNode() *streamNode { return fs.streamNode }

func (fs *fileStream) takeRecords() (map[int64]json.RawMessage, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make(map[int64]json.RawMessage, len(fs.unrecorded))
	for t, r := range fs.unrecorded {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		out[t] = b
	}
	clear(fs.unrecorded)
	return out, nil
}

func (fs *fileStream) progress() (json.RawMessage, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p := fileProgress{Seen: make(map[string]int64, len(fs.seen))}
	for path, mod := range fs.seen {
		p.Seen[path] = mod.UnixNano()
	}
	for _, c := range fs.pending {
		p.Pending = append(p.Pending, fileRange{Path: c.path, From: c.offset, Line: c.line})
	}
	return json.Marshal(p)
}

func (fs *fileStream) restore(_ *checkpointer, progress json.RawMessage, records map[int64]json.RawMessage, until time.Time) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(progress) > 0 {
		var p fileProgress
		if err := json.Unmarshal(progress, &p); err != nil {
			return fmt.Errorf("progress: %w", err)
		}
		for path, mod := range p.Seen {
			fs.seen[path] = time.Unix(0, mod)
		}
		for _, c := range p.Pending {
			fs.pending = append(fs.pending, &fileCursor{path: c.Path, offset: c.From, line: c.Line})
		}
	}
	fs.replay = make(map[int64]fileRecord, len(records))
	for t, raw := range records {
		var r fileRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("batch %s: %w", formatBatchTime(time.Unix(0, t)), err)
		}
		fs.replay[t] = r
	}
	fs.replayUntil = until.UnixNano()
	return nil
}

func (fs *fileStream) forget(t time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for at := range fs.replay {
		if at <= t.UnixNano() {
			delete(fs.replay, at)
		}
	}
}

// replayed returns the record of batch t when t was generated before a
// recovery: such a batch reads what it read then, never new files.
func (fs *fileStream) replayed(t time.Time) (fileRecord, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if t.UnixNano() > fs.replayUntil {
		return fileRecord{}, false
	}
	return fs.replay[t.UnixNano()], true
}

// replayBatch re-reads what batch t read before the failure.
func (fs *fileStream) replayBatch(t time.Time, rec fileRecord) (*rdd.RDD[string], error) {
	tn := t.UnixNano()
	if len(rec.Ranges) == 0 {
		fs.mu.Lock()
		fs.files[tn] = rec.Files
		fs.mu.Unlock()
		return wholeFiles(fs.ssc, rec.Files), nil
	}
	parts := make([][]string, 0, len(rec.Ranges))
	names := make([]string, 0, len(rec.Ranges))
	var total int64
	for _, r := range rec.Ranges {
		c := &fileCursor{path: r.Path, offset: r.From, line: r.Line}
		lines, _, err := c.read(r.Lines)
		if err != nil || len(lines) != r.Lines {
			return nil, fmt.Errorf("re-reading %s[lines %d-%d] for a recovered batch: got %d lines: %v", r.Path, r.Line, r.Line+r.Lines-1, len(lines), err)
		}
		parts = append(parts, lines)
		names = append(names, fmt.Sprintf("%s[lines %d-%d]", r.Path, r.Line, r.Line+r.Lines-1))
		total += int64(len(lines))
	}
	fs.mu.Lock()
	fs.files[tn] = names
	fs.records[tn] = total
	fs.mu.Unlock()
	return rdd.FromPartitions(fs.ssc.ec, parts), nil
}

type fileStream struct {
	*DStream[string]
	dir string

	// capped: files are read by line ranges (MaxRatePerPartition or
	// Backpressure); limiter holds the backpressure rate (nil without).
	capped  bool
	limiter *rateLimiter
	rates   *rateController

	mu      sync.Mutex
	seen    map[string]time.Time // files read, by path, with their modification time
	files   map[int64][]string   // batch time -> files (or line ranges) read, for the batch report
	records map[int64]int64      // batch time -> lines read, when capped
	pending []*fileCursor        // files in progress, in arrival order, when capped

	unrecorded  map[int64]fileRecord // batches read and not yet in a metadata checkpoint
	replay      map[int64]fileRecord // after a recovery: what earlier batches read
	replayUntil int64                // after a recovery: the last batch generated before it
}

// fileCursor is how far a capped file stream has read a file.
type fileCursor struct {
	path   string
	offset int64 // byte offset of the next line
	line   int   // number of the next line, from 0
}

// linesPerFile is how many lines batch may take from each of active files
// in progress, or 0 for no limit.
func (fs *fileStream) linesPerFile(active int) int {
	limit := math.Inf(1)
	secs := fs.ssc.interval.Seconds()
	if r := fs.ssc.cfg.maxRatePerPartition; r > 0 {
		limit = r * secs
	}
	if fs.limiter != nil && active > 0 {
		if r := fs.limiter.currentRate(); r > 0 {
			limit = min(limit, r*secs/float64(active))
		}
	}
	if math.IsInf(limit, 1) {
		return 0
	}
	return max(1, int(limit))
}

// readRanges reads batch t's lines: up to the limit from each file in
// progress (the new files join them), one partition per file.
func (fs *fileStream) readRanges(t time.Time, newFiles []string) [][]string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range newFiles {
		fs.pending = append(fs.pending, &fileCursor{path: f})
	}
	limit := fs.linesPerFile(len(fs.pending))
	var parts [][]string
	var ranges []string
	var rec fileRecord
	var total int64
	kept := fs.pending[:0]
	for _, c := range fs.pending {
		first, from := c.line, c.offset
		lines, done, err := c.read(limit)
		if err != nil {
			fs.ssc.log.Warn("dstream: reading a file of a TextFileStream failed; skipping the rest of it", "file", c.path, "err", err)
			done = true
		}
		if len(lines) > 0 {
			parts = append(parts, lines)
			ranges = append(ranges, fmt.Sprintf("%s[lines %d-%d]", c.path, first, c.line-1))
			rec.Ranges = append(rec.Ranges, fileRange{Path: c.path, From: from, To: c.offset, Line: first, Lines: len(lines)})
			total += int64(len(lines))
		}
		if !done {
			kept = append(kept, c)
		}
	}
	clear(fs.pending[len(kept):])
	fs.pending = kept
	fs.files[t.UnixNano()] = ranges
	fs.records[t.UnixNano()] = total
	fs.unrecorded[t.UnixNano()] = rec
	return parts
}

// read returns up to limit lines (all when limit is 0) from the cursor's
// position and whether the file is finished.
func (c *fileCursor) read(limit int) ([]string, bool, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return nil, true, err
	}
	defer f.Close()
	if _, err := f.Seek(c.offset, io.SeekStart); err != nil {
		return nil, true, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var lines []string
	for limit == 0 || len(lines) < limit {
		line, err := r.ReadString('\n')
		if len(line) > 0 {
			c.offset += int64(len(line))
			c.line++
			line = strings.TrimSuffix(line, "\n")
			lines = append(lines, strings.TrimSuffix(line, "\r"))
		}
		if err == io.EOF {
			return lines, true, nil
		}
		if err != nil {
			return lines, true, err
		}
	}
	// Finished if nothing follows.
	_, err = r.Peek(1)
	return lines, err == io.EOF, nil
}

func (fs *fileStream) batchCompleted(info metrics.BatchInfo) {
	if fs.rates != nil {
		fs.rates.batchCompleted(info, fs.id)
	}
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
	records, counted := fs.records[t.UnixNano()]
	fs.mu.Unlock()
	info := metrics.InputInfo{StreamID: fs.id, Name: "TextFileStream " + fs.dir, Records: -1,
		Metadata: map[string]string{"files": strings.Join(files, ",")}}
	if counted {
		info.Records = records
		if fs.limiter != nil {
			info.RateLimit = fs.limiter.currentRate()
		}
		if r := fs.ssc.cfg.maxRatePerPartition; r > 0 && (info.RateLimit == 0 || r < info.RateLimit) {
			info.RateLimit = r
		}
	}
	return info, true
}

func (fs *fileStream) clearOld(t time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for at := range fs.files {
		if at <= t.UnixNano() {
			delete(fs.files, at)
			delete(fs.records, at)
		}
	}
}
