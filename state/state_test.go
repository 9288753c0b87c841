package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spate-io/spate/checkpoint"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newProvider(t *testing.T, root string, n int, opts ...Option) *Provider {
	t.Helper()
	p, err := NewProvider(root, n, opts...)
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func partition(t *testing.T, p *Provider, op string, i int) *Partition {
	t.Helper()
	pt, err := p.Partition(op, i)
	if err != nil {
		t.Fatalf("Partition(%q, %d): %v", op, i, err)
	}
	return pt
}

// contents returns everything a store holds, through All.
func contents(s *Store) map[string]string {
	m := make(map[string]string)
	for k, v := range s.All() {
		if _, dup := m[string(k)]; dup {
			panic("All visited " + string(k) + " twice")
		}
		m[string(k)] = string(v)
	}
	return m
}

// checkStore compares a store with a model through All, Get and Len.
func checkStore(t *testing.T, s *Store, want map[string]string) {
	t.Helper()
	got := contents(s)
	if !maps.Equal(got, want) {
		t.Fatalf("version %d: All = %v, want %v", s.Version(), trim(got), trim(want))
	}
	for k, v := range want {
		g, ok := s.Get([]byte(k))
		if !ok || string(g) != v {
			t.Fatalf("version %d: Get(%q) = %q, %v; want %q", s.Version(), k, g, ok, v)
		}
	}
	if _, ok := s.Get([]byte("never-put")); ok {
		t.Fatalf("Get of a missing key found it")
	}
	if n := s.Len(); n != int64(len(want)) {
		t.Fatalf("version %d: Len = %d, want %d", s.Version(), n, len(want))
	}
}

func trim(m map[string]string) string {
	s := fmt.Sprint(m)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// op is one change in a table test: a put, or a delete when del is set.
type op struct {
	key, val string
	del      bool
}

func put(k, v string) op { return op{key: k, val: v} }
func del(k string) op    { return op{key: k, del: true} }

func apply(t *testing.T, s *Store, model map[string]string, ops []op) {
	t.Helper()
	for _, o := range ops {
		var err error
		if o.del {
			err = s.Delete([]byte(o.key))
			delete(model, o.key)
		} else {
			err = s.Put([]byte(o.key), []byte(o.val))
			model[o.key] = o.val
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestBatches(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]op
		updated []int64 // NumUpdated after each commit
		removed []int64
	}{
		{"empty batches", [][]op{{}, {}, {}}, []int64{0, 0, 0}, []int64{0, 0, 0}},
		{"puts", [][]op{{put("a", "1"), put("b", "2")}, {put("c", "3")}}, []int64{2, 1}, []int64{0, 0}},
		{"overwrite", [][]op{{put("a", "1")}, {put("a", "2"), put("a", "3")}}, []int64{1, 1}, []int64{0, 0}},
		{"delete", [][]op{{put("a", "1"), put("b", "2")}, {del("a")}, {del("b"), del("zz")}}, []int64{2, 0, 0}, []int64{0, 1, 1}},
		{"put then delete in one batch", [][]op{{put("a", "1"), del("a")}, {put("b", "2"), del("b"), put("b", "3")}}, []int64{0, 1}, []int64{0, 0}},
		{"delete then put", [][]op{{put("a", "1")}, {del("a"), put("a", "x")}}, []int64{1, 1}, []int64{0, 0}},
		{"empty key and value", [][]op{{put("", ""), put("k", "")}, {del("")}}, []int64{2, 0}, []int64{0, 1}},
		{"binary", [][]op{{put("\x00\xff", "\x00"), put("\xff", "\x01\x02")}}, []int64{2}, []int64{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			root := t.TempDir()
			p := newProvider(t, root, 1, SnapshotInterval(2))
			pt := partition(t, p, "op", 0)
			model := map[string]string{}
			var history []map[string]string
			history = append(history, maps.Clone(model))
			for i, ops := range tt.batches {
				s, err := pt.Load(ctx, int64(i))
				if err != nil {
					t.Fatal(err)
				}
				checkStore(t, s, model)
				apply(t, s, model, ops)
				checkStore(t, s, model)
				v, err := s.Commit(ctx)
				if err != nil || v != int64(i+1) {
					t.Fatalf("Commit = %d, %v; want %d", v, err, i+1)
				}
				m := pt.Metrics()
				if m.NumUpdated != tt.updated[i] || m.NumRemoved != tt.removed[i] || m.NumKeys != int64(len(model)) || m.Version != v {
					t.Fatalf("after version %d: metrics %+v; want updated %d removed %d keys %d",
						v, m, tt.updated[i], tt.removed[i], len(model))
				}
				history = append(history, maps.Clone(model))
			}
			// Every version, from files, through a new provider.
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			p2 := newProvider(t, root, 1, SnapshotInterval(2))
			pt2 := partition(t, p2, "op", 0)
			for v := len(history) - 1; v >= 0; v-- {
				s, err := pt2.Load(ctx, int64(v))
				if err != nil {
					t.Fatalf("Load(%d) after restart: %v", v, err)
				}
				checkStore(t, s, history[v])
				s.Abort()
			}
		})
	}
}

// randomHistory commits n versions of random changes to pt, starting from
// the version loaded, and returns the state of every version (index =
// version).
func randomHistory(t *testing.T, ctx context.Context, pt *Partition, rng *rand.Rand, n, keys int) []map[string]string {
	return randomHistoryWait(t, ctx, pt, rng, n, keys, false)
}

// randomHistoryWait is randomHistory, waiting for each snapshot if
// waitSnapshots is set.
func randomHistoryWait(t *testing.T, ctx context.Context, pt *Partition, rng *rand.Rand, n, keys int, waitSnapshots bool) []map[string]string {
	t.Helper()
	history := []map[string]string{{}}
	model := map[string]string{}
	for v := 0; v < n; v++ {
		s, err := pt.Load(ctx, int64(v))
		if err != nil {
			t.Fatalf("Load(%d): %v", v, err)
		}
		for range rng.IntN(2 * keys / 3) {
			k := fmt.Sprintf("k%03d", rng.IntN(keys))
			if rng.IntN(4) == 0 {
				delete(model, k)
				s.Delete([]byte(k))
			} else {
				val := fmt.Sprintf("v%d-%d", v+1, rng.IntN(1000))
				model[k] = val
				s.Put([]byte(k), []byte(val))
			}
		}
		if _, err := s.Commit(ctx); err != nil {
			t.Fatalf("Commit %d: %v", v+1, err)
		}
		if waitSnapshots {
			if err := pt.WaitSnapshot(ctx); err != nil {
				t.Fatal(err)
			}
		}
		history = append(history, maps.Clone(model))
	}
	return history
}

func TestRestartReplayEquivalence(t *testing.T) {
	for _, k := range []int{1, 3, 7, 100} {
		t.Run(fmt.Sprintf("snapshot every %d", k), func(t *testing.T) {
			ctx := testCtx(t)
			root := t.TempDir()
			p := newProvider(t, root, 2, SnapshotInterval(k), Retain(1000))
			pt := partition(t, p, "agg", 1)
			history := randomHistory(t, ctx, pt, rand.New(rand.NewPCG(1, uint64(k))), 30, 50)
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			snaps, _ := pt.dir.List(seriesSnapshot)
			if k <= 30 && len(snaps) == 0 {
				t.Fatalf("no snapshot written with interval %d", k)
			}

			// With snapshots, then with the snapshots removed (deltas only):
			// the same state.
			for _, withSnaps := range []bool{true, false} {
				if !withSnaps {
					for _, s := range snaps {
						os.Remove(filepath.Join(pt.Dir(), checkpoint.FileName(seriesSnapshot, s)))
					}
				}
				p2 := newProvider(t, root, 2, SnapshotInterval(k), Retain(1000))
				pt2 := partition(t, p2, "agg", 1)
				for _, v := range []int{30, 0, 1, 7, 10, 15, 29, 30} {
					s, err := pt2.Load(ctx, int64(v))
					if err != nil {
						t.Fatalf("snapshots %v: Load(%d): %v", withSnaps, v, err)
					}
					checkStore(t, s, history[v])
					s.Abort()
				}
			}
		})
	}
}

func TestCacheServesNextVersion(t *testing.T) {
	ctx := testCtx(t)
	p := newProvider(t, t.TempDir(), 1)
	pt := partition(t, p, "op", 0)
	for v := int64(0); v < 5; v++ {
		s, err := pt.Load(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		s.Put([]byte("k"), []byte{byte(v)})
		if _, err := s.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Abort keeps the cache at the loaded version.
	s, _ := pt.Load(ctx, 5)
	s.Put([]byte("k"), []byte("dropped"))
	s.Abort()
	s, err := pt.Load(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get([]byte("k")); !bytes.Equal(v, []byte{4}) {
		t.Fatalf("after Abort: Get = %q, want 04", v)
	}
	s.Abort()
	m := pt.Metrics()
	// Load(0) reads the (empty) directory; the rest are cache hits.
	if m.CacheMisses != 1 || m.CacheHits != 6 {
		t.Fatalf("cache hits %d misses %d, want 6 and 1", m.CacheHits, m.CacheMisses)
	}
}

func TestCleanupKeepsRetainedVersions(t *testing.T) {
	tests := []struct{ interval, retain, versions int }{
		{3, 5, 40}, {10, 100, 150}, {1, 1, 20}, {7, 3, 50}, {5, 20, 12},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("k%d-retain%d-%d", tt.interval, tt.retain, tt.versions), func(t *testing.T) {
			ctx := testCtx(t)
			root := t.TempDir()
			opts := []Option{SnapshotInterval(tt.interval), Retain(tt.retain)}
			p := newProvider(t, root, 1, opts...)
			pt := partition(t, p, "op", 0)
			// Waiting for each snapshot makes the clean-up deterministic;
			// without waiting, it lags by as many versions as were
			// committed while a snapshot ran.
			history := randomHistoryWait(t, ctx, pt, rand.New(rand.NewPCG(2, 3)), tt.versions, 40, true)
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := pt.Metrics().SnapshotErr; err != nil {
				t.Fatal(err)
			}
			snaps, _ := pt.dir.List(seriesSnapshot)
			deltas, _ := pt.dir.List(seriesDelta)
			// Bound: the deltas of the retained versions, plus up to one
			// snapshot interval before them and one after the last snapshot.
			if limit := tt.retain + 2*tt.interval; len(deltas) > limit {
				t.Errorf("%d delta files left (%v, snapshots %v, metrics %+v), want at most %d", len(deltas), deltas, snaps, pt.Metrics(), limit)
			}
			p2 := newProvider(t, root, 1, opts...)
			pt2 := partition(t, p2, "op", 0)
			for v := tt.versions; v > tt.versions-tt.retain && v >= 0; v-- {
				s, err := pt2.Load(ctx, int64(v))
				if err != nil {
					t.Fatalf("retained version %d not loadable (snapshots %v, deltas %v): %v", v, snaps, deltas, err)
				}
				checkStore(t, s, history[v])
				s.Abort()
			}
		})
	}
}

func TestMissingVersion(t *testing.T) {
	ctx := testCtx(t)
	root := t.TempDir()
	p := newProvider(t, root, 1, SnapshotInterval(100))
	pt := partition(t, p, "op", 0)
	randomHistory(t, ctx, pt, rand.New(rand.NewPCG(4, 5)), 6, 10)
	if err := os.Remove(filepath.Join(pt.Dir(), checkpoint.FileName(seriesDelta, 3))); err != nil {
		t.Fatal(err)
	}
	p2 := newProvider(t, root, 1)
	pt2 := partition(t, p2, "op", 0)
	for _, tc := range []struct{ load, missing int64 }{{5, 3}, {3, 3}, {9, 3}} {
		_, err := pt2.Load(ctx, tc.load)
		var me *MissingVersionError
		if !errors.As(err, &me) || !errors.Is(err, ErrVersionNotFound) || me.Missing != tc.missing || me.Version != tc.load || me.Latest != 6 {
			t.Fatalf("Load(%d) = %v; want a MissingVersionError for version %d", tc.load, err, tc.missing)
		}
		if !strings.Contains(err.Error(), "version 3 is missing") || !strings.Contains(err.Error(), me.Path) {
			t.Errorf("message %q does not name the missing version and file", err)
		}
	}
	// Versions before the gap still load; a version after the newest is
	// missing its own delta.
	s, err := pt2.Load(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	s.Abort()
	// Ask for 8 with a full chain up to 6 (restore 3 first by committing).
	_, err = pt2.Load(ctx, 1<<40)
	if !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("Load of a far version = %v", err)
	}
}

func TestCorruptFiles(t *testing.T) {
	tests := []struct {
		name    string
		series  string
		version int64
		damage  func(b []byte) []byte
		reason  string
	}{
		{"delta flipped payload byte", seriesDelta, 4, func(b []byte) []byte { b[len(b)-8] ^= 0x40; return b }, "checksum mismatch"},
		{"delta flipped header byte", seriesDelta, 5, func(b []byte) []byte { b[9] ^= 1; return b }, ""},
		{"delta truncated", seriesDelta, 5, func(b []byte) []byte { return b[:len(b)-3] }, "truncated"},
		{"delta empty", seriesDelta, 4, func(b []byte) []byte { return nil }, ""},
		{"delta extra bytes", seriesDelta, 4, func(b []byte) []byte { return append(b, 0) }, "trailing data"},
		{"snapshot flipped byte", seriesSnapshot, 3, func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }, "checksum mismatch"},
		{"snapshot truncated", seriesSnapshot, 3, func(b []byte) []byte { return b[:len(b)/2] }, "truncated"},
		{"delta of another version", seriesDelta, 4, nil, "payload holds version 5, file name says 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			root := t.TempDir()
			p := newProvider(t, root, 1, SnapshotInterval(3), Retain(100))
			pt := partition(t, p, "op", 0)
			randomHistory(t, ctx, pt, rand.New(rand.NewPCG(6, 7)), 5, 20)
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(pt.Dir(), checkpoint.FileName(tt.series, tt.version))
			var data []byte
			var err error
			if tt.damage == nil { // a valid file under the wrong name
				data, err = os.ReadFile(filepath.Join(pt.Dir(), checkpoint.FileName(seriesDelta, 5)))
			} else {
				data, err = os.ReadFile(path)
				data = tt.damage(data)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			p2 := newProvider(t, root, 1, SnapshotInterval(3))
			pt2 := partition(t, p2, "op", 0)
			_, err = pt2.Load(ctx, 5)
			var fe *FileError
			if !errors.As(err, &fe) || !errors.Is(err, checkpoint.ErrCorrupt) {
				t.Fatalf("Load(5) = %v; want a FileError wrapping a checkpoint.CorruptError", err)
			}
			if fe.Path != path || fe.Version != tt.version || fe.Op != "read" {
				t.Errorf("FileError %+v; want path %s version %d", fe, path, tt.version)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("version %d", tt.version)) ||
				!strings.Contains(msg, tt.reason) {
				t.Errorf("message %q does not name the file, the version and %q", msg, tt.reason)
			}
			// The partition is still usable for versions before the damage.
			if tt.series == seriesDelta && tt.version > 3 {
				s, err := pt2.Load(ctx, 3)
				if err != nil {
					t.Fatalf("Load(3) before the damaged file: %v", err)
				}
				s.Abort()
			}
		})
	}
}

func TestPartitionCountMismatch(t *testing.T) {
	root := t.TempDir()
	newProvider(t, root, 4)
	newProvider(t, root, 4) // same number: fine
	_, err := NewProvider(root, 8)
	var pe *PartitionCountMismatchError
	if !errors.As(err, &pe) || pe.Recorded != 4 || pe.Requested != 8 {
		t.Fatalf("NewProvider with 8 partitions = %v; want a PartitionCountMismatchError{4, 8}", err)
	}
	if !strings.Contains(err.Error(), "set it back to 4") {
		t.Errorf("message %q does not say what to change", err)
	}
	// A damaged metadata file is an error, not a new first run.
	path := filepath.Join(root, "state", checkpoint.FileName(seriesMeta, 0))
	data, _ := os.ReadFile(path)
	data[len(data)-6] ^= 0xff
	os.WriteFile(path, data, 0o644)
	_, err = NewProvider(root, 4)
	if !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("NewProvider with corrupt metadata = %v", err)
	}
}

func TestDiskFullDuringCommit(t *testing.T) {
	for _, match := range []string{"delta", ""} { // the delta file; every file
		t.Run("fail "+match, func(t *testing.T) {
			ctx := testCtx(t)
			root := t.TempDir()
			fsys := &faultFS{}
			p := newProvider(t, root, 1, WithFS(fsys), SnapshotInterval(2))
			pt := partition(t, p, "op", 0)
			history := randomHistory(t, ctx, pt, rand.New(rand.NewPCG(8, 9)), 4, 20)
			if err := pt.WaitSnapshot(ctx); err != nil {
				t.Fatal(err)
			}
			fsys.setWriteErr(syscall.ENOSPC, match)
			s, err := pt.Load(ctx, 4)
			if err != nil {
				t.Fatal(err)
			}
			s.Put([]byte("new"), []byte("value"))
			s.Delete([]byte("k001"))
			_, err = s.Commit(ctx)
			var fe *FileError
			if !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &fe) || fe.Op != "write" || fe.Version != 5 {
				t.Fatalf("Commit on a full disk = %v; want a write FileError for version 5 wrapping ENOSPC", err)
			}
			if err := s.Put([]byte("x"), nil); !errors.Is(err, ErrStoreClosed) {
				t.Fatalf("Put after a failed commit = %v, want ErrStoreClosed", err)
			}
			// The cache is still at version 4.
			s, err = pt.Load(ctx, 4)
			if err != nil {
				t.Fatal(err)
			}
			checkStore(t, s, history[4])
			s.Abort()
			if _, err := pt.Load(ctx, 5); !errors.Is(err, ErrVersionNotFound) {
				t.Fatalf("Load(5) after the failed commit = %v, want ErrVersionNotFound", err)
			}
			// And so are the files, and no temporary file is left.
			fsys.setWriteErr(nil, "")
			p2 := newProvider(t, root, 1)
			s, err = partition(t, p2, "op", 0).Load(ctx, 4)
			if err != nil {
				t.Fatal(err)
			}
			checkStore(t, s, history[4])
			entries, _ := os.ReadDir(pt.Dir())
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
			// The disk has room again: the next commit works.
			if v, err := s.Commit(ctx); err != nil || v != 5 {
				t.Fatalf("Commit after the disk has room = %d, %v", v, err)
			}
		})
	}
}

func TestSnapshotFailureIsReportedAndRetried(t *testing.T) {
	ctx := testCtx(t)
	fsys := &faultFS{}
	fsys.setWriteErr(syscall.ENOSPC, "snapshot")
	root := t.TempDir()
	p := newProvider(t, root, 1, WithFS(fsys), SnapshotInterval(2))
	pt := partition(t, p, "op", 0)
	history := randomHistory(t, ctx, pt, rand.New(rand.NewPCG(1, 1)), 2, 10)
	if err := pt.WaitSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pt.Metrics().SnapshotErr; !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("SnapshotErr = %v, want ENOSPC", err)
	}
	fsys.setWriteErr(nil, "")
	s, _ := pt.Load(ctx, 2)
	if _, err := s.Commit(ctx); err != nil { // retries the snapshot, at version 3
		t.Fatal(err)
	}
	if err := pt.WaitSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if m := pt.Metrics(); m.SnapshotErr != nil || m.SnapshotVersion != 3 {
		t.Fatalf("after the retry: SnapshotErr %v, SnapshotVersion %d; want nil, 3", m.SnapshotErr, m.SnapshotVersion)
	}
	s, err := partition(t, newProvider(t, root, 1), "op", 0).Load(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkStore(t, s, history[2])
}

// TestCommitsDuringSnapshot holds a snapshot write until several versions
// were committed on top of it (as layers), then lets it finish.
func TestCommitsDuringSnapshot(t *testing.T) {
	ctx := testCtx(t)
	fsys := &faultFS{block: make(chan struct{}), blocked: make(chan struct{}, 1), blockMatch: ".snapshot-"}
	root := t.TempDir()
	p := newProvider(t, root, 1, WithFS(fsys), SnapshotInterval(3), Retain(1000))
	pt := partition(t, p, "op", 0)
	rng := rand.New(rand.NewPCG(3, 3))
	history := randomHistory(t, ctx, pt, rng, 3, 30) // commit 3 starts the snapshot
	select {
	case <-fsys.blocked:
	case <-ctx.Done():
		t.Fatal("snapshot never started")
	}
	model := maps.Clone(history[3])
	for v := int64(3); v < 9; v++ {
		s, err := pt.Load(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		checkStore(t, s, model)
		for i := range 12 {
			k := fmt.Sprintf("k%03d", rng.IntN(30))
			if i%3 == 0 {
				s.Delete([]byte(k))
				delete(model, k)
			} else {
				s.Put([]byte(k), []byte(fmt.Sprint(v, i)))
				model[k] = fmt.Sprint(v, i)
			}
		}
		if _, err := s.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		history = append(history, maps.Clone(model))
	}
	pt.mu.Lock()
	layers := len(pt.layers)
	pt.mu.Unlock()
	if layers != 6 {
		t.Fatalf("%d layers while the snapshot is held, want 6", layers)
	}
	if m := pt.Metrics(); m.NumKeys != int64(len(model)) {
		t.Fatalf("NumKeys %d, want %d", m.NumKeys, len(model))
	}
	close(fsys.block)
	if err := pt.WaitSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := pt.Load(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	checkStore(t, s, model)
	if _, err := s.Commit(ctx); err != nil { // merges the layers
		t.Fatal(err)
	}
	history = append(history, maps.Clone(model))
	pt.mu.Lock()
	layers, baseLen := len(pt.layers), len(pt.base)
	pt.mu.Unlock()
	if layers != 0 || baseLen != len(model) {
		t.Fatalf("after the merge: %d layers, base of %d keys; want 0 and %d", layers, baseLen, len(model))
	}
	if err := pt.WaitSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	pt2 := partition(t, newProvider(t, root, 1), "op", 0)
	for v := range history {
		s, err := pt2.Load(ctx, int64(v))
		if err != nil {
			t.Fatalf("Load(%d): %v", v, err)
		}
		checkStore(t, s, history[v])
		s.Abort()
	}
}

// TestRerunAfterRestart re-runs versions after loading an older one: the
// abandoned later files must not leak into the new history.
func TestRerunAfterRestart(t *testing.T) {
	ctx := testCtx(t)
	root := t.TempDir()
	opts := []Option{SnapshotInterval(5), Retain(1000)}
	p := newProvider(t, root, 1, opts...)
	pt := partition(t, p, "op", 0)
	old := randomHistory(t, ctx, pt, rand.New(rand.NewPCG(5, 5)), 12, 20)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	pt2 := partition(t, newProvider(t, root, 1, opts...), "op", 0)
	s, err := pt2.Load(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	model := maps.Clone(old[7])
	apply(t, s, model, []op{put("rerun", "1"), del("k000")})
	if _, err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pt2.WaitSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	snaps, _ := pt2.dir.List(seriesSnapshot)
	deltas, _ := pt2.dir.List(seriesDelta)
	if fmt.Sprint(snaps) != "[5]" || deltas[len(deltas)-1] != 8 {
		t.Fatalf("after re-running version 8: snapshots %v, deltas %v; want [5] and up to 8", snaps, deltas)
	}
	for v := int64(8); v < 11; v++ { // through version 10: a new snapshot
		s, err := pt2.Load(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		apply(t, s, model, []op{put(fmt.Sprint("r", v), "x")})
		if _, err := s.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := pt2.WaitSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	s, err = partition(t, newProvider(t, root, 1, opts...), "op", 0).Load(ctx, 11)
	if err != nil {
		t.Fatal(err)
	}
	checkStore(t, s, model)
}

func TestUsageErrors(t *testing.T) {
	ctx := testCtx(t)
	root := t.TempDir()
	for _, tc := range []struct {
		name string
		n    int
		opts []Option
		want string
	}{
		{"zero partitions", 0, nil, "numPartitions 0"},
		{"bad interval", 1, []Option{SnapshotInterval(0)}, "SnapshotInterval(0)"},
		{"bad retain", 1, []Option{Retain(-1)}, "Retain(-1)"},
		{"nil fs", 1, []Option{WithFS(nil)}, "WithFS(nil)"},
		{"nil clock", 1, []Option{WithClock(nil)}, "WithClock(nil)"},
	} {
		if _, err := NewProvider(root, tc.n, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
	p := newProvider(t, root, 2)
	for _, id := range []string{"", ".", "..", ".x", "a/b", "metadata-1"} {
		if _, err := p.Partition(id, 0); err == nil {
			t.Errorf("Partition(%q) accepted", id)
		}
	}
	for _, i := range []int{-1, 2} {
		if _, err := p.Partition("op", i); err == nil || !strings.Contains(err.Error(), "outside 0..1") {
			t.Errorf("Partition(op, %d) = %v", i, err)
		}
	}
	pt := partition(t, p, "op", 1)
	if pt2 := partition(t, p, "op", 1); pt2 != pt {
		t.Error("Partition returned a new value for the same operator and partition")
	}
	if _, err := pt.Load(ctx, -1); err == nil {
		t.Error("Load(-1) accepted")
	}
	s, err := pt.Load(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pt.Load(ctx, 0); !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("second Load = %v, want ErrStoreInUse", err)
	}
	if _, err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx); !errors.Is(err, ErrStoreClosed) {
		t.Fatalf("second Commit = %v, want ErrStoreClosed", err)
	}
	if err := s.Delete([]byte("a")); !errors.Is(err, ErrStoreClosed) {
		t.Fatalf("Delete after Commit = %v", err)
	}
	s.Abort() // no effect
	cctx, cancel := context.WithCancel(ctx)
	s, _ = pt.Load(ctx, 1)
	s.Put([]byte("a"), []byte("b"))
	cancel()
	if _, err := s.Commit(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a cancelled context = %v", err)
	}
	if _, err := pt.Load(cctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context = %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pt.Load(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Load after Close = %v", err)
	}
	if _, err := p.Partition("op", 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Partition after Close = %v", err)
	}
}

func TestIterateWhileChanging(t *testing.T) {
	ctx := testCtx(t)
	pt := partition(t, newProvider(t, t.TempDir(), 1), "op", 0)
	s, _ := pt.Load(ctx, 0)
	for i := range 100 {
		s.Put(fmt.Appendf(nil, "k%d", i), []byte("1"))
	}
	s.Commit(ctx)
	s, _ = pt.Load(ctx, 1)
	for i := range 10 {
		s.Put(fmt.Appendf(nil, "k%d", i), []byte("2")) // in the batch's own changes
	}
	visits := map[string]int{}
	for k, v := range s.All() {
		visits[string(k)]++
		if v[0] == '1' {
			s.Put(k, []byte("3")) // update the current key
		} else {
			s.Delete(k)
		}
	}
	if len(visits) != 100 {
		t.Fatalf("visited %d keys, want 100", len(visits))
	}
	for k, n := range visits {
		if n != 1 {
			t.Fatalf("key %s visited %d times", k, n)
		}
	}
	if n := s.Len(); n != 90 {
		t.Fatalf("Len = %d, want 90", n)
	}
	changes := 0
	for range s.Changes() {
		changes++
	}
	if changes != 100 {
		t.Fatalf("%d changes, want 100", changes)
	}
}

func TestConcurrentPartitions(t *testing.T) {
	ctx := testCtx(t)
	root := t.TempDir()
	const parts, versions = 4, 25
	p := newProvider(t, root, parts, SnapshotInterval(2), Retain(5))
	var wg sync.WaitGroup
	histories := make([][]map[string]string, parts)
	errs := make(chan error, parts)
	stop := make(chan struct{})
	for i := range parts {
		wg.Go(func() {
			pt, err := p.Partition("agg", i)
			if err != nil {
				errs <- err
				return
			}
			// t.Fatal is not allowed off the test goroutine: collect.
			sub := &testing.T{}
			_ = sub
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			model := map[string]string{}
			h := []map[string]string{{}}
			for v := range versions {
				s, err := pt.Load(ctx, int64(v))
				if err != nil {
					errs <- err
					return
				}
				for range 50 {
					k := fmt.Sprintf("p%d-k%d", i, rng.IntN(80))
					if rng.IntN(5) == 0 {
						s.Delete([]byte(k))
						delete(model, k)
					} else {
						s.Put([]byte(k), []byte(k))
						model[k] = k
					}
				}
				if _, err := s.Commit(ctx); err != nil {
					errs <- err
					return
				}
				h = append(h, maps.Clone(model))
			}
			histories[i] = h
		})
	}
	// Metrics from another goroutine while the partitions work.
	metricsDone := make(chan struct{})
	go func() {
		defer close(metricsDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := range parts {
				if pt, err := p.Partition("agg", i); err == nil {
					_ = pt.Metrics()
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-metricsDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p2 := newProvider(t, root, parts)
	for i := range parts {
		pt := partition(t, p2, "agg", i)
		for v := versions; v > versions-5; v-- {
			s, err := pt.Load(ctx, int64(v))
			if err != nil {
				t.Fatalf("partition %d Load(%d): %v", i, v, err)
			}
			checkStore(t, s, histories[i][v])
			s.Abort()
		}
	}
}

func TestMemoryEstimate(t *testing.T) {
	ctx := testCtx(t)
	pt := partition(t, newProvider(t, t.TempDir(), 1), "op", 0)
	s, _ := pt.Load(ctx, 0)
	for i := range 1000 {
		s.Put(fmt.Appendf(nil, "key-%06d", i), make([]byte, 20)) // 10 + 20 bytes
	}
	s.Commit(ctx)
	want := int64(1000 * (30 + entryOverhead))
	if m := pt.Metrics(); m.MemoryBytes != want || m.NumKeys != 1000 || m.DeltaBytes == 0 {
		t.Fatalf("metrics %+v; want MemoryBytes %d", m, want)
	}
	s, _ = pt.Load(ctx, 1)
	for i := range 500 {
		s.Delete(fmt.Appendf(nil, "key-%06d", i))
	}
	s.Commit(ctx)
	if m := pt.Metrics(); m.MemoryBytes != want/2 || m.NumKeys != 500 || m.NumRemoved != 500 {
		t.Fatalf("metrics %+v; want MemoryBytes %d", m, want/2)
	}
}

// TestStepBack re-runs the last batch: loading the version before the
// cached one is served from memory (by the undo of the last commit, or by
// dropping the top layer), and the re-committed version replaces the
// abandoned one on disk too.
func TestStepBack(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval int
		hold     bool // hold the snapshot so that commits become layers
	}{
		{"undo without snapshots", 100, false},
		{"undo after a snapshot of the abandoned version", 1, false},
		{"undo after snapshots", 3, false},
		{"layer", 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			fsys := &faultFS{}
			if tc.hold {
				fsys.block, fsys.blocked, fsys.blockMatch = make(chan struct{}), make(chan struct{}, 1), ".snapshot-"
			}
			root := t.TempDir()
			opts := []Option{SnapshotInterval(tc.interval), Retain(1000)}
			p := newProvider(t, root, 1, append(opts, WithFS(fsys))...)
			pt := partition(t, p, "op", 0)
			history := randomHistory(t, ctx, pt, rand.New(rand.NewPCG(9, 9)), 5, 25)
			if tc.hold {
				<-fsys.blocked
				pt.mu.Lock()
				layers := len(pt.layers)
				pt.mu.Unlock()
				if layers != 2 {
					t.Fatalf("%d layers, want 2", layers)
				}
			}
			s, err := pt.Load(ctx, 4)
			if err != nil {
				t.Fatal(err)
			}
			if m := pt.Metrics(); m.StepBacks != 1 || m.CacheMisses != 1 || m.NumKeys != int64(len(history[4])) {
				t.Fatalf("metrics %+v: want one step back, one miss (version 0), %d keys", m, len(history[4]))
			}
			checkStore(t, s, history[4])
			model := maps.Clone(history[4])
			apply(t, s, model, []op{put("k001", "rerun"), put("new", "x"), del("k002"), del("k003")})
			if v, err := s.Commit(ctx); err != nil || v != 5 {
				t.Fatalf("re-commit 5 = %d, %v", v, err)
			}
			s, _ = pt.Load(ctx, 5)
			checkStore(t, s, model)
			s.Abort()
			if tc.hold {
				close(fsys.block) // a load from files waits for the snapshot
			}
			// A step of two reads files.
			s, err = pt.Load(ctx, 3)
			if err != nil {
				t.Fatal(err)
			}
			checkStore(t, s, history[3])
			s.Abort()
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			pt2 := partition(t, newProvider(t, root, 1, opts...), "op", 0)
			for v, want := range map[int64]map[string]string{5: model, 4: history[4], 2: history[2]} {
				s, err := pt2.Load(ctx, v)
				if err != nil {
					t.Fatalf("after restart, Load(%d): %v", v, err)
				}
				checkStore(t, s, want)
				s.Abort()
			}
		})
	}
}

func TestUnload(t *testing.T) {
	ctx := testCtx(t)
	root := t.TempDir()
	p := newProvider(t, root, 2, SnapshotInterval(2))
	pt := partition(t, p, "op", 1)
	history := randomHistory(t, ctx, pt, rand.New(rand.NewPCG(2, 2)), 5, 20)
	s, _ := pt.Load(ctx, 5)
	if err := p.Unload(ctx, "op", 1); !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("Unload with an open store = %v, want ErrStoreInUse", err)
	}
	s.Abort()
	if err := p.Unload(ctx, "op", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := pt.Load(ctx, 5); !errors.Is(err, ErrClosed) {
		t.Fatalf("Load on an unloaded partition = %v, want ErrClosed", err)
	}
	if err := p.Unload(ctx, "op", 0); err != nil { // never loaded
		t.Fatal(err)
	}
	pt2 := partition(t, p, "op", 1)
	if pt2 == pt {
		t.Fatal("Partition after Unload returned the unloaded value")
	}
	s, err := pt2.Load(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkStore(t, s, history[5])
	if m := pt2.Metrics(); m.CacheMisses != 1 {
		t.Fatalf("metrics %+v: want the load from files", m)
	}
}
