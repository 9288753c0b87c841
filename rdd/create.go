package rdd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spate-io/spate/engine"
)

// Parallelize distributes a copy of data over numSlices partitions of
// contiguous, equal-sized (±1) ranges. Later changes to data do not affect
// the RDD.
func Parallelize[T any](ec *engine.Context, data []T, numSlices int) *RDD[T] {
	var bad error
	if numSlices < 1 {
		bad = fmt.Errorf("rdd.Parallelize: numSlices must be at least 1, got %d", numSlices)
	}
	data = slices.Clone(data)
	return newRDD(ec, "Parallelize", numSlices, nil, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		lo, hi := sliceBounds(len(data), numSlices, part)
		tc.AddRecordsRead(hi - lo)
		return emit(ctx, data[lo:hi], yield)
	}, bad)
}

// sliceBounds returns the range of partition i when n items are split into
// parts contiguous ranges.
func sliceBounds(n, parts, i int) (lo, hi int) {
	return i * n / parts, (i + 1) * n / parts
}

// Range returns the integers start, start+step, ... up to but excluding
// end, over numSlices partitions. The numbers are generated inside the
// tasks, so a large range costs no memory. step must not be zero; a
// negative step counts down.
func Range(ec *engine.Context, start, end, step, numSlices int) *RDD[int] {
	var bad error
	switch {
	case step == 0:
		bad = errors.New("rdd.Range: step must not be zero")
	case numSlices < 1:
		bad = fmt.Errorf("rdd.Range: numSlices must be at least 1, got %d", numSlices)
	}
	count := 0
	if bad == nil {
		if step > 0 && end > start {
			count = (end - start + step - 1) / step
		} else if step < 0 && end < start {
			count = (start - end - step - 1) / -step
		}
	}
	return newRDD(ec, "Range", numSlices, nil, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]int) bool) error {
		lo, hi := sliceBounds(count, numSlices, part)
		tc.AddRecordsRead(hi - lo)
		var buf [chunkSize]int
		for i := lo; i < hi; {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(hi-i, chunkSize)
			v := start + i*step
			for j := range n {
				buf[j] = v
				v += step
			}
			if !yield(buf[:n]) {
				return nil
			}
			i += n
		}
		return nil
	}, bad)
}

// Empty returns an RDD with no partitions and no elements.
func Empty[T any](ec *engine.Context) *RDD[T] {
	return newRDD(ec, "Empty", 0, nil, func(context.Context, *engine.TaskContext, int, func([]T) bool) error { return nil }, nil)
}

// fileSplit is a byte range of one file. A split owns the lines that
// start inside (start, end], plus the first line when start is 0.
type fileSplit struct {
	path       string
	start, end int64
}

// TextFile reads lines of text (without their "\n" or "\r\n") from a file,
// from every file of a directory (not recursing; names starting with "."
// or "_" are skipped, as Hadoop does), or from the files matching a glob
// pattern. Files are split into byte ranges so that there are at least
// minPartitions partitions when the input is large enough; a line that
// crosses a split boundary belongs to the split where it starts.
//
// The file list is taken when TextFile is called; a missing path is an
// error then.
func TextFile(ec *engine.Context, path string, minPartitions int) *RDD[string] {
	splits, err := planTextSplits(path, minPartitions)
	if err != nil {
		err = fmt.Errorf("rdd.TextFile: %w", err)
	}
	return newRDD(ec, "TextFile", len(splits), nil, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]string) bool) error {
		return readSplit(ctx, tc, splits[part], yield)
	}, err)
}

func planTextSplits(path string, minPartitions int) ([]fileSplit, error) {
	if minPartitions < 1 {
		return nil, fmt.Errorf("minPartitions must be at least 1, got %d", minPartitions)
	}
	files, err := listInputFiles(path)
	if err != nil {
		return nil, err
	}
	type sized struct {
		path string
		size int64
	}
	var inputs []sized
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, sized{f, st.Size()})
		total += st.Size()
	}
	goal := max(total/int64(minPartitions), 1)
	var splits []fileSplit
	for _, in := range inputs {
		for start := int64(0); start < in.size; start += goal {
			end := min(start+goal, in.size)
			// Avoid a tiny tail split, as Hadoop does (10% slack).
			if in.size-end < goal/10 {
				end = in.size
			}
			splits = append(splits, fileSplit{in.path, start, end})
			start = end - goal
		}
	}
	return splits, nil
}

// listInputFiles returns the regular files named by path: the file itself,
// the visible files of a directory, or the matches of a glob.
func listInputFiles(path string) ([]string, error) {
	if path == "" {
		return nil, errors.New("path must not be empty")
	}
	var candidates []string
	if strings.ContainsAny(path, "*?[") {
		m, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("bad glob pattern %q: %w", path, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("no files match %q: %w", path, fs.ErrNotExist)
		}
		candidates = m
	} else {
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return []string{path}, nil
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			candidates = append(candidates, filepath.Join(path, e.Name()))
		}
	}
	var files []string
	for _, c := range candidates {
		name := filepath.Base(c)
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		st, err := os.Stat(c)
		if err != nil {
			return nil, err
		}
		if st.Mode().IsRegular() {
			files = append(files, c)
		}
	}
	slices.Sort(files)
	return files, nil
}

func readSplit(ctx context.Context, tc *engine.TaskContext, s fileSplit, yield func([]string) bool) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("rdd.TextFile: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(s.start, io.SeekStart); err != nil {
		return fmt.Errorf("rdd.TextFile: %w", err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	pos := s.start
	if s.start != 0 {
		// The line crossing our start belongs to the previous split.
		skipped, err := r.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			pos += int64(len(skipped))
			skipped, err = r.ReadSlice('\n')
		}
		pos += int64(len(skipped))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rdd.TextFile: %s: %w", s.path, err)
		}
	}
	buf := make([]string, 0, chunkSize)
	for pos <= s.end {
		line, err := r.ReadString('\n')
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("rdd.TextFile: %s: %w", s.path, err)
		}
		pos += int64(len(line))
		line = strings.TrimSuffix(line, "\n")
		line = strings.TrimSuffix(line, "\r")
		buf = append(buf, line)
		if len(buf) == chunkSize {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			tc.AddRecordsRead(len(buf))
			if !yield(buf) {
				return nil
			}
			buf = buf[:0]
		}
		if err == io.EOF {
			break
		}
	}
	tc.AddRecordsRead(len(buf))
	if len(buf) > 0 {
		yield(buf)
	}
	return nil
}
