package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/clock"
)

var daySchema = schemaOf(fld("id", tInt64), fld("day", tString))

// idBatch builds a batch of daySchema with the given ids, day "d<id%2>".
func idBatch(mem memory.Allocator, ids ...int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, daySchema)
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("d%d", id%2))
	}
	return b.NewRecordBatch()
}

func newSink(t testing.TB, path string, o StreamSinkOptions) *StreamSink {
	t.Helper()
	if o.Alloc == nil {
		o.Alloc = checkedAlloc(t)
	}
	s, err := NewStreamSink(path, "json", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func addBatch(t testing.TB, s *StreamSink, id int64, ids ...int64) {
	t.Helper()
	rec := idBatch(checkedAlloc(t), ids...)
	defer rec.Release()
	if err := s.AddBatch(context.Background(), id, []arrow.RecordBatch{rec}); err != nil {
		t.Fatal(err)
	}
}

// readSinkIDs reads every file ListFiles returns for dir and returns the ids,
// sorted.
func readSinkIDs(t testing.TB, dir string) []string {
	t.Helper()
	files, err := ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, f := range files {
		rows, _, _, err := readAll(t, "json", f, ReadOptions{Schema: schemaOf(fld("id", tInt64))})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
	}
	slices.Sort(all)
	return all
}

func TestStreamSinkExactlyOnce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s := newSink(t, out, StreamSinkOptions{QueryID: "q1"})
	if _, ok, _ := s.LastBatchID(context.Background()); ok {
		t.Fatal("new sink reports a last batch")
	}
	addBatch(t, s, 0, 1, 2)
	addBatch(t, s, 0, 1, 2) // repeated id: no effect
	addBatch(t, s, 1, 3)
	// a restarted query re-runs its last batch, then continues
	s2 := newSink(t, out, StreamSinkOptions{QueryID: "q1"})
	if last, ok, err := s2.LastBatchID(context.Background()); err != nil || !ok || last != 1 {
		t.Fatalf("LastBatchID = %d %v %v", last, ok, err)
	}
	addBatch(t, s2, 1, 3)
	addBatch(t, s2, 2, 4)
	if got := strings.Join(readSinkIDs(t, out), ","); got != "1,2,3,4" {
		t.Fatalf("rows = %s, want 1,2,3,4", got)
	}
	files, err := CommittedFiles(out)
	if err != nil || len(files) != 3 {
		t.Fatalf("CommittedFiles = %v, %v", files, err)
	}
	// an empty batch is recorded without a file
	if err := s2.AddBatch(context.Background(), 3, nil); err != nil {
		t.Fatal(err)
	}
	if last, _, _ := s2.LastBatchID(context.Background()); last != 3 {
		t.Fatalf("last = %d", last)
	}
	if files, _ := CommittedFiles(out); len(files) != 3 {
		t.Fatalf("files after an empty batch: %v", files)
	}
	// another query may not take over the directory
	if _, err := NewStreamSink(out, "json", StreamSinkOptions{QueryID: "q2"}); !errors.Is(err, ErrOtherQuery) {
		t.Fatalf("other query: %v", err)
	}
}

func TestStreamSinkCrashBetweenFilesAndLog(t *testing.T) {
	for _, step := range []string{"written", "committed"} {
		t.Run(step, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			s := newSink(t, out, StreamSinkOptions{})
			addBatch(t, s, 0, 1)
			crash := errors.New("crash")
			s.hook = func(st string, id int64) error {
				if st == step {
					return crash
				}
				return nil
			}
			rec := idBatch(checkedAlloc(t), 2, 3)
			defer rec.Release()
			if err := s.AddBatch(context.Background(), 1, []arrow.RecordBatch{rec}); !errors.Is(err, crash) {
				t.Fatalf("err = %v", err)
			}
			// readers see only batch 0, whatever is on disk
			if got := strings.Join(readSinkIDs(t, out), ","); got != "1" {
				t.Fatalf("rows after the crash = %s, want 1", got)
			}
			// the restarted query re-runs batch 1
			s2 := newSink(t, out, StreamSinkOptions{})
			if err := s2.AddBatch(context.Background(), 1, []arrow.RecordBatch{rec}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(readSinkIDs(t, out), ","); got != "1,2,3" {
				t.Fatalf("rows = %s, want 1,2,3", got)
			}
			// no duplicate file on disk either: the re-run replaced the
			// crashed attempt's file
			var parts []string
			filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "part-") {
					parts = append(parts, d.Name())
				}
				return nil
			})
			if len(parts) != 2 {
				t.Fatalf("part files on disk = %v, want 2", parts)
			}
			if _, err := os.Stat(filepath.Join(out, tempDirName)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("temporary directory left: %v", err)
			}
		})
	}
}

func TestStreamSinkCompaction(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s := newSink(t, out, StreamSinkOptions{Options: map[string]string{"compactInterval": "3"}})
	for i := range int64(7) {
		addBatch(t, s, i, i)
	}
	ents, err := os.ReadDir(filepath.Join(out, SinkMetadataDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"5.compact", "6"}) {
		t.Fatalf("log files = %v, want [5.compact 6]", names)
	}
	if got := strings.Join(readSinkIDs(t, out), ","); got != "0,1,2,3,4,5,6" {
		t.Fatalf("rows = %s", got)
	}
	s2 := newSink(t, out, StreamSinkOptions{Options: map[string]string{"compactInterval": "3"}})
	if last, _, _ := s2.LastBatchID(context.Background()); last != 6 {
		t.Fatalf("last after reload = %d", last)
	}
	addBatch(t, s2, 5, 5) // old id: skipped
	addBatch(t, s2, 7, 7)
	addBatch(t, s2, 8, 8)
	if got := strings.Join(readSinkIDs(t, out), ","); got != "0,1,2,3,4,5,6,7,8" {
		t.Fatalf("rows = %s", got)
	}
	if _, err := os.Stat(filepath.Join(out, SinkMetadataDir, "8.compact")); err != nil {
		t.Fatalf("second compaction: %v", err)
	}
}

func TestStreamSinkRetention(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	clk := clock.NewManual(base)
	s := newSink(t, out, StreamSinkOptions{Clock: clk, Options: map[string]string{"compactInterval": "2", "retention": "1h"}})
	addBatch(t, s, 0, 0)
	clk.Advance(2 * time.Hour)
	addBatch(t, s, 1, 1) // compaction drops batch 0, older than 1h
	if got := strings.Join(readSinkIDs(t, out), ","); got != "1" {
		t.Fatalf("rows = %s, want 1", got)
	}
	s2 := newSink(t, out, StreamSinkOptions{})
	if last, _, _ := s2.LastBatchID(context.Background()); last != 1 {
		t.Fatalf("last = %d", last)
	}
	addBatch(t, s2, 0, 0) // still skipped: the log remembers the last id
	if got := strings.Join(readSinkIDs(t, out), ","); got != "1" {
		t.Fatalf("rows = %s, want 1", got)
	}
}

func TestStreamSinkPartitionBy(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s := newSink(t, out, StreamSinkOptions{PartitionBy: []string{"day"}})
	addBatch(t, s, 0, 1, 2, 3)
	addBatch(t, s, 1, 4)
	files, err := CommittedFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, f := range files {
		r, _ := filepath.Rel(out, f)
		rel = append(rel, filepath.ToSlash(r))
	}
	want := []string{"day=d0/part-00000-batch0.json", "day=d0/part-00000-batch1.json", "day=d1/part-00000-batch0.json"}
	if !slices.Equal(rel, want) {
		t.Fatalf("files = %v, want %v", rel, want)
	}
	rows, _, _, err := readAll(t, "json", files[0], ReadOptions{Schema: daySchema})
	if err != nil || strings.Join(rows, ",") != "2|d0" {
		t.Fatalf("rows = %v, %v", rows, err)
	}
}

func TestStreamSinkErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		format string
		o      StreamSinkOptions
	}{
		{"avro", StreamSinkOptions{}},
		{"json", StreamSinkOptions{Options: map[string]string{"compactInterval": "0"}}},
		{"json", StreamSinkOptions{Options: map[string]string{"retention": "forever"}}},
		{"json", StreamSinkOptions{PartitionBy: []string{"a", "a"}}},
		{"csv", StreamSinkOptions{Options: map[string]string{"sep": "ab"}}},
	} {
		if _, err := NewStreamSink(filepath.Join(dir, "x"), tc.format, tc.o); err == nil {
			t.Errorf("%s %+v accepted", tc.format, tc.o)
		}
	}
	f := putFile(t, dir, "file", "", base)
	if _, err := NewStreamSink(f, "json", StreamSinkOptions{}); err == nil {
		t.Error("a file as the output path accepted")
	}
	if _, err := CommittedFiles(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CommittedFiles without a log: %v", err)
	}
	// a corrupt log entry is an error, never an empty log
	out := filepath.Join(dir, "out")
	s := newSink(t, out, StreamSinkOptions{})
	addBatch(t, s, 0, 1)
	os.WriteFile(filepath.Join(out, SinkMetadataDir, "0"), []byte("garbage"), 0o644)
	if _, err := NewStreamSink(out, "json", StreamSinkOptions{}); err == nil {
		t.Error("corrupt log accepted")
	}
	if _, err := ListFiles(out); err == nil {
		t.Error("ListFiles over a corrupt log succeeded")
	}
}

// The streaming file source reading a streaming file sink's output sees
// only committed batches.
func TestStreamSourceReadsSinkOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	sink := newSink(t, out, StreamSinkOptions{})
	addBatch(t, sink, 0, 1)
	sink.hook = func(st string, _ int64) error {
		if st == "committed" {
			return errors.New("crash")
		}
		return nil
	}
	rec := idBatch(checkedAlloc(t), 2)
	defer rec.Release()
	if err := sink.AddBatch(context.Background(), 1, []arrow.RecordBatch{rec}); err == nil {
		t.Fatal("no crash")
	}
	src := newStream(t, out, StreamSourceOptions{Schema: daySchema})
	if n := latest(t, src); n != 1 {
		t.Fatalf("latest = %d, want 1 (the uncommitted batch is invisible)", n)
	}
	sink.hook = nil
	if err := sink.AddBatch(context.Background(), 1, []arrow.RecordBatch{rec}); err != nil {
		t.Fatal(err)
	}
	if n := latest(t, src); n != 2 {
		t.Fatalf("latest = %d, want 2", n)
	}
	if got := mustRead(t, src, 0, 2); got != "1|d1,2|d0" {
		t.Fatalf("rows = %s", got)
	}
}

func TestStreamSinkParquetRoundTrip(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s, err := NewStreamSink(out, "parquet", StreamSinkOptions{Alloc: checkedAlloc(t), Options: map[string]string{"compression": "snappy"}})
	if err != nil {
		t.Fatal(err)
	}
	addBatch(t, s, 0, 1, 2)
	addBatch(t, s, 1, 3)
	files, err := ListFiles(out)
	if err != nil || len(files) != 2 || filepath.Ext(files[0]) != ".parquet" {
		t.Fatalf("files %v %v", files, err)
	}
	var all []string
	for _, f := range files {
		rows, _, _, err := readAll(t, "parquet", f, ReadOptions{Schema: daySchema})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
	}
	if got := strings.Join(all, ","); got != "1|d1,2|d0,3|d1" {
		t.Fatalf("rows = %s", got)
	}
}
