package dstream_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/dstream"
	"github.com/spate-io/spate/metrics"
)

// rtPutFile writes content to a file outside dir, sets its modification
// time to mtime and renames it into dir under name, as a well-behaved
// writer does. It returns the file's path in dir.
func rtPutFile(t *testing.T, dir, name, content string, mtime time.Time) string {
	t.Helper()
	staging := t.TempDir()
	tmp := filepath.Join(staging, name)
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// rtFiles returns the files an input of a batch report lists.
func rtFiles(t *testing.T, info metrics.BatchInfo) []string {
	t.Helper()
	if len(info.Inputs) != 1 {
		t.Fatalf("batch %v: inputs = %+v, want one", info.BatchTime.Sub(rtEpoch), info.Inputs)
	}
	in := info.Inputs[0]
	if !strings.HasPrefix(in.Name, "TextFileStream") {
		t.Errorf("input name = %q, want TextFileStream ...", in.Name)
	}
	if in.Metadata["files"] == "" {
		return nil
	}
	return strings.Split(in.Metadata["files"], ",")
}

func TestTextFileStreamReadsNewFilesOnce(t *testing.T) {
	dir := t.TempDir()
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.TextFileStream(ssc, dir))

	// Files there before Start (modified at or before the start time) are
	// ignored, even though they are listed in every batch.
	rtPutFile(t, dir, "old.txt", "old\n", rtAt(-time.Second))
	rtPutFile(t, dir, "at-start.txt", "at start\n", rtEpoch)
	rtStart(t, ssc)

	m.Advance(time.Second)
	info := rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second))
	if files := rtFiles(t, info); len(files) != 0 {
		t.Errorf("batch 1s read %v, want no files", files)
	}

	a := rtPutFile(t, dir, "a.txt", "a1\na2\n", rtAt(1500*time.Millisecond))
	b := rtPutFile(t, dir, "b.txt", "b1\r\nb2", rtAt(2*time.Second)) // at the batch time: still this batch
	m.Advance(time.Second)
	info = rec.waitBatch(t, rtAt(2*time.Second))
	got, _ := out.get(rtAt(2 * time.Second))
	slices.Sort(got)
	if want := []string{"a1", "a2", "b1", "b2"}; !slices.Equal(got, want) {
		t.Fatalf("batch 2s = %q, want %q", got, want)
	}
	if files := rtFiles(t, info); !slices.Equal(files, []string{a, b}) {
		t.Errorf("batch 2s files = %v, want %v", files, []string{a, b})
	}
	if info.Inputs[0].Records != -1 {
		t.Errorf("input records = %d, want -1 (unknown before reading)", info.Inputs[0].Records)
	}

	m.Advance(time.Second)
	info = rec.waitBatch(t, rtAt(3*time.Second))
	rtWant(t, out, rtAt(3*time.Second))
	if files := rtFiles(t, info); len(files) != 0 {
		t.Errorf("batch 3s read %v again, want no files", files)
	}
}

func TestTextFileStreamIgnoresHiddenAndTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.TextFileStream(ssc, dir))
	rtStart(t, ssc)

	mtime := rtAt(500 * time.Millisecond)
	for _, name := range []string{".hidden", "_SUCCESS", "_partial.txt", "part.tmp", "part._COPYING_"} {
		rtPutFile(t, dir, name, "ignored "+name+"\n", mtime)
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, "subdir"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	good := rtPutFile(t, dir, "good.txt", "good\n", mtime)
	m.Advance(time.Second)
	info := rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second), "good")
	if files := rtFiles(t, info); !slices.Equal(files, []string{good}) {
		t.Errorf("files = %v, want only %s", files, good)
	}
}

func TestTextFileStreamFutureFileWaits(t *testing.T) {
	dir := t.TempDir()
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.TextFileStream(ssc, dir))
	rtStart(t, ssc)

	rtPutFile(t, dir, "later.txt", "later\n", rtAt(2500*time.Millisecond))
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second))
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(2*time.Second))
	rtWant(t, out, rtAt(2*time.Second))
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(3*time.Second))
	rtWant(t, out, rtAt(3*time.Second), "later")
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(4*time.Second))
	rtWant(t, out, rtAt(4*time.Second))
}

func TestTextFileStreamLateFiles(t *testing.T) {
	// A file whose modification time is before the last batch, but that
	// appears later (a slow rename), is read by the next batch, as long as
	// it appears within FileStreamWindow of its modification time.
	dir := t.TempDir()
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.TextFileStream(ssc, dir))
	rtStart(t, ssc)
	m.Advance(2 * time.Second)
	rec.waitBatch(t, rtAt(2*time.Second))

	rtPutFile(t, dir, "late.txt", "late\n", rtAt(1500*time.Millisecond))
	m.Advance(time.Second)
	rec.waitBatch(t, rtAt(3*time.Second))
	rtWant(t, out, rtAt(3*time.Second), "late")

	// Far too late: older than the window when it appears.
	m.Advance(dstream.FileStreamWindow)
	last := rtAt(3*time.Second + dstream.FileStreamWindow)
	rec.waitBatch(t, last)
	rtPutFile(t, dir, "stale.txt", "stale\n", rtAt(3500*time.Millisecond))
	m.Advance(time.Second)
	rec.waitBatch(t, last.Add(time.Second))
	rtWant(t, out, last.Add(time.Second))
	if got := out.all(); !slices.Equal(got, []string{"late"}) {
		t.Errorf("all lines = %q, want [late]", got)
	}
}

func TestTextFileStreamSeveralFilesAndLines(t *testing.T) {
	dir := t.TempDir()
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.TextFileStream(ssc, dir))
	rtStart(t, ssc)

	var want []string
	for i := range 5 {
		var lines []string
		for j := range 100 {
			lines = append(lines, strings.Repeat(string(rune('a'+i)), j+1))
		}
		want = append(want, lines...)
		rtPutFile(t, dir, string(rune('a'+i))+".log", strings.Join(lines, "\n")+"\n", rtAt(time.Duration(100*(i+1))*time.Millisecond))
	}
	rtPutFile(t, dir, "empty.log", "", rtAt(900*time.Millisecond))
	m.Advance(time.Second)
	info := rec.waitBatch(t, rtAt(time.Second))
	got, _ := out.get(rtAt(time.Second))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("batch 1s has %d lines, want %d", len(got), len(want))
	}
	if files := rtFiles(t, info); len(files) != 6 {
		t.Errorf("files = %v, want 6", files)
	}
}

func TestTextFileStreamBadDirectory(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir")
	file := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{missing, "no such file or directory"},
		{file, "is not a directory"},
	} {
		ssc, _ := rtNewContext(t, time.Second)
		s := dstream.TextFileStream(ssc, tc.path)
		err := s.Err()
		if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "TextFileStream") {
			t.Errorf("TextFileStream(%q).Err() = %v, want an error naming the path and saying %q", tc.path, err, tc.want)
		}
		if err := s.Print(1); err == nil || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("Print on TextFileStream(%q) = %v, want the path in the error", tc.path, err)
		}
		if err := ssc.Start(); err == nil {
			t.Errorf("Start with only a broken TextFileStream = nil, want an error")
		}
	}
}

func TestTextFileStreamDirectoryRemovedWhileRunning(t *testing.T) {
	// A directory that disappears is not fatal: batches read no files.
	dir := filepath.Join(t.TempDir(), "in")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ssc, m := rtNewContext(t, time.Second)
	rec := rtRecord(t, ssc)
	out := rtCollect(t, dstream.TextFileStream(ssc, dir))
	rtStart(t, ssc)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	m.Advance(time.Second)
	info := rec.waitBatch(t, rtAt(time.Second))
	rtWant(t, out, rtAt(time.Second))
	if info.Err() != nil || ssc.State() != dstream.Active {
		t.Errorf("batch error %v, state %v; want no error, active", info.Err(), ssc.State())
	}
}
