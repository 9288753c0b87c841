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
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/connector"
)

// base is a fixed modification time for test files, far enough in the
// past that "now" is never older.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// putFile writes content to dir/name with modification time mt.
func putFile(t testing.TB, dir, name, content string, mt time.Time) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	return p
}

var idSchema = schemaOf(fld("id", tInt64))

func newStream(t testing.TB, dir string, o StreamSourceOptions) *StreamSource {
	t.Helper()
	if o.Schema == nil && o.Options["inferSchema"] == "" {
		o.Schema = idSchema
	}
	if o.Alloc == nil {
		o.Alloc = checkedAlloc(t)
	}
	s, err := NewStreamSource(context.Background(), dir, "json", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func latest(t testing.TB, s *StreamSource) int64 {
	t.Helper()
	o, err := s.LatestOffsets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return o[StreamPartition]
}

func readRange(t testing.TB, s *StreamSource, from, until int64) ([]string, error) {
	t.Helper()
	var recs []arrow.RecordBatch
	err := s.Read(context.Background(), connector.OffsetRange{Partition: StreamPartition, From: from, Until: until},
		func(bs []arrow.RecordBatch) error {
			recs = append(recs, bs...)
			return nil
		})
	rows := rowsOf(recs)
	for _, r := range recs {
		r.Release()
	}
	return rows, err
}

func mustRead(t testing.TB, s *StreamSource, from, until int64) string {
	t.Helper()
	rows, err := readRange(t, s, from, until)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(rows, ",")
}

func TestStreamSourceNewFilesInOrder(t *testing.T) {
	dir := t.TempDir()
	// modification time decides the order, not the name
	putFile(t, dir, "b.json", `{"id":2}`+"\n", base.Add(2*time.Second))
	putFile(t, dir, "a.json", `{"id":1}`+"\n"+`{"id":11}`+"\n", base.Add(time.Second))
	putFile(t, dir, "_SUCCESS", "", base)
	putFile(t, dir, ".hidden.json", `{"id":99}`, base)
	s := newStream(t, dir, StreamSourceOptions{})
	if got, err := s.InitialOffsets(context.Background()); err != nil || got[StreamPartition] != 0 {
		t.Fatalf("InitialOffsets = %v, %v", got, err)
	}
	if n := latest(t, s); n != 2 {
		t.Fatalf("latest = %d, want 2", n)
	}
	if got := mustRead(t, s, 0, 2); got != "1,11,2" {
		t.Fatalf("rows = %s", got)
	}
	putFile(t, dir, "sub/c.json", `{"id":3}`+"\n", base.Add(3*time.Second))
	if n := latest(t, s); n != 3 {
		t.Fatalf("latest = %d, want 3", n)
	}
	if got := mustRead(t, s, 2, 3); got != "3" {
		t.Fatalf("rows = %s", got)
	}
	if n := latest(t, s); n != 3 {
		t.Fatalf("latest again = %d, want 3", n)
	}
	if got := s.Files(0, 3); len(got) != 3 || filepath.Base(got[2]) != "c.json" {
		t.Fatalf("Files = %v", got)
	}
	st := s.Stats()
	if st.Rows != 4 || st.FilesRead != 3 || st.FilesAdmitted != 3 {
		t.Fatalf("stats = %+v", st)
	}
	if _, err := readRange(t, s, 2, 5); err == nil {
		t.Fatal("reading beyond the log succeeded")
	}
	if err := s.Read(context.Background(), connector.OffsetRange{Partition: connector.Partition{Stream: "x"}, Until: 1}, nil); err == nil {
		t.Fatal("unknown partition accepted")
	}
}

func TestStreamSourceMaxFilesPerTrigger(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		putFile(t, dir, string(rune('a'+i))+".json", `{"id":`+string(rune('0'+i))+"}\n", base.Add(time.Duration(i)*time.Second))
	}
	s := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"maxFilesPerTrigger": "2"}})
	if l := s.Limits(); l.MaxOffsetsPerTrigger != 2 {
		t.Fatalf("Limits = %+v", l)
	}
	if n := latest(t, s); n != 2 {
		t.Fatalf("latest = %d, want 2", n)
	}
	if n := latest(t, s); n != 2 {
		t.Fatalf("latest without a read = %d, want 2 (files admitted but not read count)", n)
	}
	if got := mustRead(t, s, 0, 2); got != "0,1" {
		t.Fatalf("rows = %s", got)
	}
	if n := latest(t, s); n != 4 {
		t.Fatalf("latest = %d, want 4", n)
	}
	// the engine reports the commit instead of a read
	if err := s.Commit(context.Background(), connector.Offsets{StreamPartition: 4}); err != nil {
		t.Fatal(err)
	}
	if n := latest(t, s); n != 5 {
		t.Fatalf("latest = %d, want 5", n)
	}
	if got := mustRead(t, s, 2, 5); got != "2,3,4" {
		t.Fatalf("rows = %s", got)
	}
	if _, err := NewStreamSource(context.Background(), dir, "json", StreamSourceOptions{Schema: idSchema, Options: map[string]string{"maxFilesPerTrigger": "0"}}); err == nil {
		t.Fatal("maxFilesPerTrigger=0 accepted")
	}
}

func TestStreamSourceRestartReplaysSameFiles(t *testing.T) {
	dir, meta := t.TempDir(), t.TempDir()
	putFile(t, dir, "a.json", `{"id":1}`+"\n", base.Add(1*time.Second))
	putFile(t, dir, "b.json", `{"id":2}`+"\n", base.Add(2*time.Second))
	s1 := newStream(t, dir, StreamSourceOptions{MetadataDir: meta})
	if n := latest(t, s1); n != 2 {
		t.Fatalf("latest = %d", n)
	}
	// the query crashes after logging offsets [0,2); a new file arrives,
	// older than the others
	putFile(t, dir, "0.json", `{"id":0}`+"\n", base)
	s2 := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"metadataDir": meta}})
	if got := mustRead(t, s2, 0, 2); got != "1,2" {
		t.Fatalf("re-run rows = %s, want 1,2", got)
	}
	if n := latest(t, s2); n != 3 {
		t.Fatalf("latest after restart = %d, want 3", n)
	}
	if got := mustRead(t, s2, 2, 3); got != "0" {
		t.Fatalf("rows = %s", got)
	}
	// a third instance sees the same three files in the same order
	s3 := newStream(t, dir, StreamSourceOptions{MetadataDir: meta})
	if got := mustRead(t, s3, 0, 3); got != "1,2,0" {
		t.Fatalf("rows = %s", got)
	}
}

func TestStreamSourceLogCompaction(t *testing.T) {
	dir, meta := t.TempDir(), t.TempDir()
	s := newStream(t, dir, StreamSourceOptions{MetadataDir: meta})
	for i := range 25 {
		putFile(t, dir, "f"+string(rune('a'+i))+".json", `{"id":1}`+"\n", base.Add(time.Duration(i)*time.Second))
		if n := latest(t, s); n != int64(i+1) {
			t.Fatalf("latest = %d, want %d", n, i+1)
		}
	}
	ents, _ := os.ReadDir(meta)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "20.compact") || slices.Contains(names, "10.compact") || slices.Contains(names, "5") || len(names) != 6 {
		t.Fatalf("metadata files = %v, want 20.compact and deltas 20..24", names)
	}
	s2 := newStream(t, dir, StreamSourceOptions{MetadataDir: meta})
	if got := s2.Files(0, 100); !slices.Equal(got, s.Files(0, 100)) || len(got) != 25 {
		t.Fatalf("files after reload = %v", got)
	}
	if n := latest(t, s2); n != 25 {
		t.Fatalf("latest after reload = %d", n)
	}
}

func TestStreamSourceMaxFileAge(t *testing.T) {
	dir := t.TempDir()
	now := base.Add(30 * 24 * time.Hour)
	// the first listing admits every file, however old
	putFile(t, dir, "ancient.json", `{"id":0}`+"\n", base)
	putFile(t, dir, "now.json", `{"id":1}`+"\n", now)
	s := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"maxFileAge": "2d"}})
	if n := latest(t, s); n != 2 {
		t.Fatalf("latest = %d", n)
	}
	putFile(t, dir, "old.json", `{"id":2}`+"\n", now.Add(-3*24*time.Hour))
	putFile(t, dir, "recent.json", `{"id":3}`+"\n", now.Add(-time.Hour))
	if n := latest(t, s); n != 3 {
		t.Fatalf("latest = %d, want 3 (old.json is older than maxFileAge)", n)
	}
	if got := mustRead(t, s, 2, 3); got != "3" {
		t.Fatalf("rows = %s", got)
	}
	for _, bad := range []string{"soon", "-1d", "0s"} {
		if _, err := NewStreamSource(context.Background(), dir, "json", StreamSourceOptions{Schema: idSchema, Options: map[string]string{"maxFileAge": bad}}); err == nil {
			t.Errorf("maxFileAge=%s accepted", bad)
		}
	}
	if d, err := parseAge("1w"); err != nil || d != 7*24*time.Hour {
		t.Errorf("parseAge(1w) = %v, %v", d, err)
	}
	if d, err := parseAge("90m"); err != nil || d != 90*time.Minute {
		t.Errorf("parseAge(90m) = %v, %v", d, err)
	}
}

func TestStreamSourceLatestFirst(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		putFile(t, dir, string(rune('a'+i))+".json", `{"id":`+string(rune('0'+i))+"}\n", base.Add(time.Duration(i)*time.Hour))
	}
	s := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"latestFirst": "true", "maxFilesPerTrigger": "1", "maxFileAge": "1s"}})
	var got []string
	for i := range 4 {
		n := latest(t, s)
		if n != int64(i+1) {
			t.Fatalf("latest = %d, want %d", n, i+1)
		}
		got = append(got, mustRead(t, s, n-1, n))
		if i == 0 {
			// a newer file overtakes the older ones still waiting
			putFile(t, dir, "d.json", `{"id":3}`+"\n", base.Add(10*time.Hour))
		}
	}
	// maxFileAge is ignored with latestFirst and maxFilesPerTrigger, so
	// the old files are still read
	if strings.Join(got, " ") != "2 3 1 0" {
		t.Fatalf("order = %v, want 2 3 1 0", got)
	}
}

func TestStreamSourceCleanSource(t *testing.T) {
	for _, mode := range []string{"delete", "archive"} {
		t.Run(mode, func(t *testing.T) {
			dir, archive := t.TempDir(), t.TempDir()
			a := putFile(t, dir, "x=1/a.json", `{"id":1}`+"\n", base)
			b := putFile(t, dir, "b.json", `{"id":2}`+"\n", base.Add(time.Second))
			s := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"cleanSource": mode, "sourceArchiveDir": archive}})
			if n := latest(t, s); n != 2 {
				t.Fatal(n)
			}
			if got := mustRead(t, s, 0, 1); got != "1" {
				t.Fatal(got)
			}
			// nothing is cleaned before the commit
			if _, err := os.Stat(a); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(context.Background(), connector.Offsets{StreamPartition: 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a.json after commit: %v", err)
			}
			if _, err := os.Stat(b); err != nil {
				t.Fatalf("b.json (not committed) is gone: %v", err)
			}
			_, err := os.Stat(filepath.Join(archive, "x=1", "a.json"))
			if mode == "archive" && err != nil {
				t.Fatalf("archived file: %v", err)
			}
			if mode == "delete" && err == nil {
				t.Fatal("deleted file was archived")
			}
			// the cleaned file is not admitted again
			if n := latest(t, s); n != 2 {
				t.Fatalf("latest = %d", n)
			}
			if st := s.Stats(); st.FilesCleaned != 1 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
	dir := t.TempDir()
	for _, opts := range []map[string]string{
		{"cleanSource": "archive"},
		{"cleanSource": "archive", "sourceArchiveDir": filepath.Join(dir, "archive")},
		{"cleanSource": "move"},
	} {
		if _, err := NewStreamSource(context.Background(), dir, "json", StreamSourceOptions{Schema: idSchema, Options: opts}); err == nil {
			t.Errorf("options %v accepted", opts)
		}
	}
}

func TestStreamSourceMalformed(t *testing.T) {
	dir := t.TempDir()
	putFile(t, dir, "a.json", `{"id":1}`+"\n"+`{"id":"x"}`+"\n"+"not json\n"+`{"id":4}`+"\n", base)
	withCorrupt := schemaOf(fld("id", tInt64), fld("_corrupt_record", tString))
	for _, tc := range []struct {
		mode            string
		want            string
		malformed, drop int64
		fail            bool
	}{
		{mode: "PERMISSIVE", want: `1|(null),(null)|{"id":"x"},(null)|not json,4|(null)`, malformed: 2},
		{mode: "DROPMALFORMED", want: "1|(null),4|(null)", malformed: 2, drop: 2},
		{mode: "FAILFAST", fail: true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := newStream(t, dir, StreamSourceOptions{Schema: withCorrupt, Options: map[string]string{"mode": tc.mode}})
			latest(t, s)
			rows, err := readRange(t, s, 0, 1)
			if tc.fail {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rows, ","); got != tc.want {
				t.Fatalf("rows = %s, want %s", got, tc.want)
			}
			if st := s.Stats(); st.MalformedRows != tc.malformed || st.DroppedRows != tc.drop {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

// ReadColumns builds the named columns in their order; a record malformed
// only in a column it does not read is kept, as in a batch read with
// ReadOptions.Columns.
func TestStreamSourceReadColumns(t *testing.T) {
	dir := t.TempDir()
	putFile(t, dir, "a.json", `{"id":1,"name":"ann","n":7}`+"\n"+`{"id":2,"name":"bob","n":"x"}`+"\n"+"not json\n", base)
	s := newStream(t, dir, StreamSourceOptions{Schema: schemaOf(fld("id", tInt64), fld("name", tString), fld("n", tInt64)), Options: map[string]string{"mode": "DROPMALFORMED"}})
	latest(t, s)
	var recs []arrow.RecordBatch
	dropped, err := s.ReadColumns(context.Background(), connector.OffsetRange{Partition: StreamPartition, From: 0, Until: 1}, []string{"name", "id"},
		func(bs []arrow.RecordBatch) error {
			recs = append(recs, bs...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if got := r.Schema().String(); !strings.Contains(got, "name") || r.NumCols() != 2 || r.Schema().Field(0).Name != "name" {
			t.Fatalf("schema %s, want name, id", got)
		}
	}
	if got := strings.Join(rowsOf(recs), ","); got != "ann|1,bob|2" || dropped != 1 {
		t.Fatalf("rows %s, dropped %d; want ann|1,bob|2 and 1 (the line that is not JSON)", got, dropped)
	}
	for _, r := range recs {
		r.Release()
	}
}

func TestStreamSourceErrors(t *testing.T) {
	ctx := context.Background()
	_, err := NewStreamSource(ctx, filepath.Join(t.TempDir(), "missing"), "json", StreamSourceOptions{Schema: idSchema})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing dir: %v", err)
	}
	dir := t.TempDir()
	if _, err := NewStreamSource(ctx, dir, "json", StreamSourceOptions{}); err == nil || !strings.Contains(err.Error(), "inferSchema") {
		t.Fatalf("no schema: %v", err)
	}
	if _, err := NewStreamSource(ctx, dir, "avro", StreamSourceOptions{Schema: idSchema}); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("bad format: %v", err)
	}
	if _, err := NewStreamSource(ctx, dir, "json", StreamSourceOptions{Options: map[string]string{"inferSchema": "true"}}); err == nil {
		t.Fatal("inference over an empty directory succeeded")
	}
	p := putFile(t, dir, "a.json", `{"id":1}`+"\n", base)
	if _, err := NewStreamSource(ctx, p, "json", StreamSourceOptions{Schema: idSchema}); err == nil {
		t.Fatal("a file as the source directory accepted")
	}
	// a file removed after admission
	s := newStream(t, dir, StreamSourceOptions{})
	latest(t, s)
	os.Remove(p)
	if _, err := readRange(t, s, 0, 1); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	s2 := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"ignoreMissingFiles": "true"}})
	putFile(t, dir, "a.json", `{"id":1}`+"\n", base)
	latest(t, s2)
	os.Remove(p)
	if rows, err := readRange(t, s2, 0, 1); err != nil || len(rows) != 0 || s2.Stats().FilesMissing != 1 {
		t.Fatalf("ignoreMissingFiles: %v %v %+v", rows, err, s2.Stats())
	}
	// the source directory removed during the run
	os.RemoveAll(dir)
	if _, err := s2.LatestOffsets(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LatestOffsets on a removed dir: %v", err)
	}
}

func TestStreamSourceInferredSchemaIsKept(t *testing.T) {
	dir, meta := t.TempDir(), t.TempDir()
	putFile(t, dir, "a.json", `{"id":1,"name":"x"}`+"\n", base)
	s := newStream(t, dir, StreamSourceOptions{MetadataDir: meta, Options: map[string]string{"inferSchema": "true"}})
	want := s.Schema()
	if want.NumFields() != 2 {
		t.Fatalf("inferred %s", want)
	}
	// a restart after the files changed keeps the first run's schema
	putFile(t, dir, "b.json", `{"other":true}`+"\n", base)
	os.Remove(filepath.Join(dir, "a.json"))
	s2 := newStream(t, dir, StreamSourceOptions{MetadataDir: meta, Options: map[string]string{"inferSchema": "true"}})
	if !s2.Schema().Equal(want) {
		t.Fatalf("schema after restart %s, want %s", s2.Schema(), want)
	}
	// text needs no schema
	ts, err := NewStreamSource(context.Background(), dir, "text", StreamSourceOptions{})
	if err != nil || ts.Schema().Field(0).Name != "value" {
		t.Fatalf("text: %v", err)
	}
}

func TestStreamSourceConcurrentSplitReads(t *testing.T) {
	dir := t.TempDir()
	for i := range 8 {
		putFile(t, dir, string(rune('a'+i))+".json", `{"id":`+string(rune('0'+i))+"}\n", base.Add(time.Duration(i)*time.Second))
	}
	s := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"pathGlobFilter": "[a-f].json"}})
	n := latest(t, s)
	if n != 6 {
		t.Fatalf("latest = %d, want 6 (glob)", n)
	}
	ranges := connector.SplitRanges([]connector.OffsetRange{{Partition: StreamPartition, From: 0, Until: n}}, 3)
	out := make([]string, len(ranges))
	var wg sync.WaitGroup
	for i, r := range ranges {
		wg.Go(func() { out[i] = mustRead(t, s, r.From, r.Until) })
	}
	wg.Wait()
	if got := strings.Join(out, ","); got != "0,1,2,3,4,5" {
		t.Fatalf("rows = %s", got)
	}
}

func TestStreamSourcePartitionColumns(t *testing.T) {
	// "=" in a directory above the source must not count as a partition
	root := filepath.Join(t.TempDir(), "k=outer")
	putFile(t, root, "day=2/a.json", `{"id":1}`+"\n", base)
	s := newStream(t, root, StreamSourceOptions{Schema: schemaOf(fld("id", tInt64), fld("day", tInt64))})
	latest(t, s)
	if got := mustRead(t, s, 0, 1); got != "1|2" {
		t.Fatalf("rows = %s", got)
	}
}

func TestStreamSourceSetMetadataDir(t *testing.T) {
	dir, meta := t.TempDir(), t.TempDir()
	putFile(t, dir, "a.json", `{"id":1}`+"\n", base)
	s1 := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"inferSchema": "true"}})
	if err := s1.SetMetadataDir(meta); err != nil {
		t.Fatal(err)
	}
	if err := s1.SetMetadataDir(meta); err != nil {
		t.Fatalf("same directory again: %v", err)
	}
	if err := s1.SetMetadataDir(t.TempDir()); err == nil {
		t.Fatal("another directory accepted")
	}
	if n := latest(t, s1); n != 1 {
		t.Fatal(n)
	}
	putFile(t, dir, "b.json", `{"id":2}`+"\n", base.Add(-time.Hour)) // older, but admitted later
	s2 := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"inferSchema": "true"}})
	if err := s2.SetMetadataDir(meta); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, s2, 0, 1); got != "1" {
		t.Fatalf("rows = %s", got)
	}
	if n := latest(t, s2); n != 2 {
		t.Fatal(n)
	}
	// the files now infer another schema than the stored one
	putFile(t, dir, "c.json", `{"id":3,"extra":"x"}`+"\n", base)
	s3 := newStream(t, dir, StreamSourceOptions{Options: map[string]string{"inferSchema": "true"}})
	if err := s3.SetMetadataDir(meta); err == nil || !strings.Contains(err.Error(), "give the schema explicitly") {
		t.Fatalf("changed schema: %v", err)
	}
	// after admitting files it is too late
	s4 := newStream(t, dir, StreamSourceOptions{})
	latest(t, s4)
	if err := s4.SetMetadataDir(t.TempDir()); err == nil {
		t.Fatal("SetMetadataDir after admission accepted")
	}
}

func TestStreamSourceLogPurge(t *testing.T) {
	dir, meta := t.TempDir(), t.TempDir()
	opts := StreamSourceOptions{MetadataDir: meta, Options: map[string]string{"maxFileAge": "90m"}}
	s := newStream(t, dir, opts)
	ctx := context.Background()
	for i := range 25 {
		putFile(t, dir, fmt.Sprintf("f%02d.json", i), `{"id":1}`+"\n", base.Add(time.Duration(i)*time.Hour))
		n := latest(t, s)
		if n != int64(i+1) {
			t.Fatalf("latest = %d, want %d", n, i+1)
		}
		if i < 22 { // the last files stay uncommitted
			if err := s.Commit(ctx, connector.Offsets{StreamPartition: n}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// the compaction at 20 files purged the committed files older than
	// 90 minutes before the newest (file 19): files 0..17
	if s.base != 18 || len(s.files) != 7 {
		t.Fatalf("base %d, %d files in memory", s.base, len(s.files))
	}
	s2 := newStream(t, dir, opts)
	if s2.base != 18 || s2.length() != 25 {
		t.Fatalf("reloaded: base %d length %d", s2.base, s2.length())
	}
	// uncommitted ranges can still be re-read; purged ones cannot
	if got := mustRead(t, s2, 22, 25); got != "1,1,1" {
		t.Fatalf("rows = %s", got)
	}
	if _, err := readRange(t, s2, 10, 12); err == nil {
		t.Fatal("read of a purged range succeeded")
	}
	// purged files still in the directory are not admitted again
	if n := latest(t, s2); n != 25 {
		t.Fatalf("latest = %d", n)
	}
	if got := s2.Files(0, 20); len(got) != 2 {
		t.Fatalf("Files = %v", got)
	}
}

func TestArchiveAcrossFileSystems(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "spate-archive")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	defer os.RemoveAll(shm)
	src := putFile(t, t.TempDir(), "a.json", "data", base)
	dst := filepath.Join(shm, "sub", "a.json")
	if err := archive(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "data" {
		t.Fatalf("archived %q %v", b, err)
	}
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("source left: %v", err)
	}
}
