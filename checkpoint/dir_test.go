package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func openDir(t *testing.T, opts ...Option) *Dir {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "ckpt", "nested"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		wantErr string
	}{
		{"default", nil, ""},
		{"retain 1", []Option{Retain(1)}, ""},
		{"retain 0", []Option{Retain(0)}, "checkpoint: Retain(0): must be at least 1"},
		{"retain -3", []Option{Retain(-3)}, "checkpoint: Retain(-3): must be at least 1"},
		{"nil fs", []Option{WithFS(nil)}, "WithFS(nil)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(filepath.Join(t.TempDir(), "c"), tc.opts...)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Stat(d.Path()); err != nil || !fi.IsDir() {
					t.Fatalf("directory not created: %v", err)
				}
				assertNoTemps(t, d.Path())
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestOpenNotWritable(t *testing.T) {
	t.Run("chmod", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root bypasses permission checks; the injected-FS case covers this")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		_, err := Open(dir)
		if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("err = %v, want permission error naming %s", err, dir)
		}
	})
	t.Run("injected EACCES", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Open(dir, WithFS(&faultFS{createErr: errEACCES}))
		if !errors.Is(err, errEACCES) || !strings.Contains(err.Error(), dir) ||
			!strings.Contains(err.Error(), "not writable") {
			t.Fatalf("err = %v, want EACCES naming %s", err, dir)
		}
	})
}

func TestWriteListLatest(t *testing.T) {
	d := openDir(t)
	if _, _, err := d.Latest("meta", "meta"); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("empty Latest: err = %v, want ErrNoCheckpoint", err)
	}
	if _, _, skipped, err := d.LatestValid("meta", "meta"); !errors.Is(err, ErrNoCheckpoint) || len(skipped) != 0 {
		t.Fatalf("empty LatestValid: %v, %v; want ErrNoCheckpoint", skipped, err)
	}
	for _, seq := range []int64{3, 1, 12, 2} {
		if err := d.Write("meta", seq, "meta", []byte(fmt.Sprint("m", seq))); err != nil {
			t.Fatal(err)
		}
	}
	// Noise that List must ignore.
	for _, name := range []string{".meta-00000000000000000099.tmp-abc", "meta-5", "meta-0000000000000000009x",
		"metadata-00000000000000000050", "meta-00000000000000000000000", "other-00000000000000000040"} {
		writeRaw(t, d.Path(), name, encode("meta", nil))
	}
	if err := os.Mkdir(filepath.Join(d.Path(), FileName("meta", 77)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Write("other-series", 4, "state", []byte("s")); err != nil {
		t.Fatal(err)
	}
	got, err := d.List("meta")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 2, 3, 12}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	seq, payload, err := d.Latest("meta", "meta")
	if err != nil || seq != 12 || string(payload) != "m12" {
		t.Fatalf("Latest = %d, %q, %v; want 12, m12", seq, payload, err)
	}
	if seq, payload, err := d.Latest("other-series", "state"); err != nil || seq != 4 || string(payload) != "s" {
		t.Fatalf("Latest(other-series) = %d, %q, %v", seq, payload, err)
	}
	if _, _, err := d.Latest("meta", "state"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "kind mismatch") {
		t.Fatalf("Latest with wrong kind: err = %v", err)
	}
	if FileName("meta", 12) != "meta-00000000000000000012" {
		t.Fatalf("FileName = %s", FileName("meta", 12))
	}
}

func TestWriteInvalidArgs(t *testing.T) {
	d := openDir(t)
	tests := []struct {
		name, series string
		seq          int64
		kind         string
	}{
		{"negative seq", "s", -1, "meta"},
		{"slash series", "a/b", 1, "meta"},
		{"dot series", ".s", 1, "meta"},
		{"empty series", "", 1, "meta"},
		{"empty kind", "s", 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.Write(tc.series, tc.seq, tc.kind, nil); err == nil {
				t.Fatal("Write succeeded")
			}
		})
	}
}

func TestRetention(t *testing.T) {
	tests := []struct {
		retain int
		writes int64
		want   []int64
	}{
		{1, 5, []int64{5}},
		{3, 2, []int64{1, 2}},
		{3, 7, []int64{5, 6, 7}},
		{10, 15, []int64{6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("retain %d of %d", tc.retain, tc.writes), func(t *testing.T) {
			opts := []Option{Retain(tc.retain)}
			if tc.retain == DefaultRetain {
				opts = nil
			}
			d := openDir(t, opts...)
			for seq := int64(1); seq <= tc.writes; seq++ {
				if err := d.Write("s", seq, "state", []byte{byte(seq)}); err != nil {
					t.Fatal(err)
				}
				if err := d.Write("keep", seq, "state", nil); err != nil {
					t.Fatal(err)
				}
			}
			got, err := d.List("s")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("List = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("older seq than retained window is kept", func(t *testing.T) {
		d := openDir(t, Retain(2))
		for _, seq := range []int64{5, 6, 1} {
			if err := d.Write("s", seq, "state", nil); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := d.List("s"); !slices.Equal(got, []int64{1, 5, 6}) {
			t.Fatalf("List = %v, want [1 5 6]", got)
		}
	})
}

func TestLatestVersusLatestValid(t *testing.T) {
	d := openDir(t)
	for seq := int64(1); seq <= 4; seq++ {
		if err := d.Write("state", seq, "state", []byte(fmt.Sprint("v", seq))); err != nil {
			t.Fatal(err)
		}
	}
	// Corrupt the two newest files: flip a payload byte of 4, truncate 3.
	p4 := filepath.Join(d.Path(), FileName("state", 4))
	b, _ := os.ReadFile(p4)
	b[len(b)-5] ^= 0x01
	writeRaw(t, d.Path(), FileName("state", 4), b)
	p3 := filepath.Join(d.Path(), FileName("state", 3))
	b, _ = os.ReadFile(p3)
	writeRaw(t, d.Path(), FileName("state", 3), b[:len(b)-3])

	_, payload, err := d.Latest("state", "state")
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != p4 || !strings.HasPrefix(ce.Reason, "checksum mismatch") || payload != nil {
		t.Fatalf("Latest = %q, %v; want the checksum error of %s", payload, err, p4)
	}

	seq, payload, skipped, err := d.LatestValid("state", "state")
	if err != nil || seq != 2 || string(payload) != "v2" {
		t.Fatalf("LatestValid = %d, %q, %v; want 2, v2", seq, payload, err)
	}
	if len(skipped) != 2 || !strings.Contains(skipped[0].Error(), p4) || !strings.Contains(skipped[1].Error(), p3) ||
		!strings.Contains(skipped[1].Error(), "truncated") {
		t.Fatalf("skipped = %v, want the errors of %s and %s", skipped, p4, p3)
	}

	t.Run("all corrupt", func(t *testing.T) {
		for _, s := range []int64{1, 2} {
			writeRaw(t, d.Path(), FileName("state", s), []byte("garbage"))
		}
		_, _, skipped, err := d.LatestValid("state", "state")
		if !errors.Is(err, ErrNoCheckpoint) || len(skipped) != 4 {
			t.Fatalf("LatestValid = %v, %v; want ErrNoCheckpoint after 4 skips", skipped, err)
		}
	})

	t.Run("future version stops the fallback", func(t *testing.T) {
		d := openDir(t)
		for seq := int64(1); seq <= 2; seq++ {
			if err := d.Write("m", seq, "meta", nil); err != nil {
				t.Fatal(err)
			}
		}
		data := encode("meta", nil)
		data[9] = 2
		writeRaw(t, d.Path(), FileName("m", 2), data)
		_, _, skipped, err := d.LatestValid("m", "meta")
		if !errors.Is(err, ErrUnsupportedVersion) || len(skipped) != 0 {
			t.Fatalf("LatestValid = %v, %v; want ErrUnsupportedVersion", skipped, err)
		}
	})
}

func TestDirDiskFull(t *testing.T) {
	fsys := &faultFS{}
	d := openDir(t, WithFS(fsys), Retain(2))
	for seq := int64(1); seq <= 2; seq++ {
		if err := d.Write("s", seq, "state", []byte(fmt.Sprint("v", seq))); err != nil {
			t.Fatal(err)
		}
	}
	fsys.mu.Lock()
	fsys.writeErr, fsys.failAfter = errENOSPC, 10
	fsys.removed = nil
	fsys.mu.Unlock()

	err := d.Write("s", 3, "state", []byte("v3 is larger than the disk"))
	if !errors.Is(err, errENOSPC) {
		t.Fatalf("Write on a full disk: err = %v, want ENOSPC", err)
	}
	seq, payload, err := d.Latest("s", "state")
	if err != nil || seq != 2 || string(payload) != "v2" {
		t.Fatalf("Latest after failed write = %d, %q, %v; want 2, v2", seq, payload, err)
	}
	if got, _ := d.List("s"); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("List = %v: a failed write must not prune", got)
	}
	for _, p := range fsys.removed {
		if !strings.Contains(filepath.Base(p), tmpMarker) {
			t.Fatalf("failed write removed %s", p)
		}
	}
	assertNoTemps(t, d.Path())

	// Space comes back: writing resumes and retention applies.
	fsys.mu.Lock()
	fsys.writeErr = nil
	fsys.mu.Unlock()
	if err := d.Write("s", 3, "state", []byte("v3")); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.List("s"); !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("List = %v, want [2 3]", got)
	}
}

func TestConcurrentWrites(t *testing.T) {
	d := openDir(t, Retain(3))
	errs := make(chan error, 40)
	for g := range 4 {
		go func() {
			for i := range 10 {
				errs <- d.Write("s", int64(g*10+i), "state", []byte{byte(g)})
			}
		}()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.List("s")
	// The newest three survive; a goroutine's last write may be older than
	// them, and Write never removes the file it just wrote.
	if err != nil || len(got) < 3 || !slices.Equal(got[len(got)-3:], []int64{37, 38, 39}) {
		t.Fatalf("List = %v, %v; want it to end with [37 38 39]", got, err)
	}
	if _, _, err := d.Latest("s", "state"); err != nil {
		t.Fatal(err)
	}
	assertNoTemps(t, d.Path())
}
