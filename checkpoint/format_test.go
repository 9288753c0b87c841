package checkpoint

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name, kind string
		payload    []byte
	}{
		{"empty", "meta", nil},
		{"small", "state", []byte("hello")},
		{"binary", "offsets", []byte{0, 1, 2, 0xff, 0xfe}},
		{"max kind", strings.Repeat("k", MaxKindLen), []byte("x")},
		{"large", "commit", bytes.Repeat([]byte("0123456789"), 100_000)},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := WriteFile(dir, tc.name, tc.kind, tc.payload); err != nil {
				t.Fatal(err)
			}
			got, err := ReadFile(filepath.Join(dir, tc.name), tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.payload) {
				t.Fatalf("payload = %d bytes, want %d", len(got), len(tc.payload))
			}
			raw, err := os.ReadFile(filepath.Join(dir, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, encode(tc.kind, tc.payload)) {
				t.Fatal("file bytes differ from encode()")
			}
		})
	}
	// Overwrite replaces.
	if err := WriteFile(dir, "small", "state", []byte("again")); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(filepath.Join(dir, "small"), "state"); err != nil || string(got) != "again" {
		t.Fatalf("after overwrite: %q, %v", got, err)
	}
	assertNoTemps(t, dir)
}

func TestFormatLayout(t *testing.T) {
	got := encode("meta", []byte("ab"))
	want := []byte("SPATECKP\x00\x01\x04meta\x00\x00\x00\x00\x00\x00\x00\x02ab")
	if !bytes.Equal(got[:len(want)], want) || len(got) != len(want)+4 {
		t.Fatalf("encode = %q, want %q + 4-byte CRC", got, want)
	}
}

func TestWriteFileInvalidArgs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, dir, file, kind, wantSub string
	}{
		{"empty kind", dir, "f", "", "kind"},
		{"long kind", dir, "f", strings.Repeat("k", MaxKindLen+1), "1..32"},
		{"name with slash", dir, "a/b", "meta", "plain name"},
		{"empty name", dir, "", "meta", "plain name"},
		{"dotdot", dir, "..", "meta", "plain name"},
		{"missing dir", filepath.Join(dir, "nope"), "f", "meta", filepath.Join(dir, "nope")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteFile(tc.dir, tc.file, tc.kind, []byte("x"))
			if err == nil || !strings.Contains(err.Error(), tc.wantSub) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantSub)
			}
		})
	}
	if err := WriteFile(filepath.Join(dir, "nope"), "f", "meta", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing dir: err = %v, want fs.ErrNotExist", err)
	}
}

func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope"), "meta")
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want fs.ErrNotExist and not ErrCorrupt", err)
	}
}

// writeRaw writes data as dir/name and returns the path.
func writeRaw(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadFileTruncated(t *testing.T) {
	payload := []byte("0123456789")
	full := encode("meta", payload)
	hdr := fixedHeaderLen + len("meta")
	tests := []struct {
		name       string
		n          int // bytes kept
		wantReason string
	}{
		{"empty", 0, "truncated: file has 0 bytes"},
		{"inside magic", 3, "truncated: file has 3 bytes"},
		{"after magic", 8, "truncated: file has 8 bytes"},
		{"inside version", 9, "truncated: file has 9 bytes"},
		{"inside kind", 12, "truncated: file has 12 bytes, header needs 23"},
		{"inside length", hdr - 3, "truncated: file has 20 bytes, header needs 23"},
		{"end of header", hdr, "truncated: header says 10 payload bytes, file has 0"},
		{"inside payload", hdr + 4, "truncated: header says 10 payload bytes, file has 4"},
		{"end of payload", hdr + len(payload), "truncated: checksum trailer has 0 of 4 bytes"},
		{"inside trailer", len(full) - 1, "truncated: checksum trailer has 3 of 4 bytes"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeRaw(t, dir, "f", full[:tc.n])
			_, err := ReadFile(p, "meta")
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want *CorruptError", err)
			}
			if ce.Path != p || !strings.HasPrefix(ce.Reason, tc.wantReason) {
				t.Fatalf("err = %+v, want path %s and reason starting %q", ce, p, tc.wantReason)
			}
			if want := "checkpoint: " + p + ": corrupt: " + ce.Reason; err.Error() != want {
				t.Fatalf("message = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestReadFileCorrupt(t *testing.T) {
	good := encode("meta", []byte("payload"))
	with := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name       string
		data       []byte
		kind       string
		wantReason string
	}{
		{"bad magic", with(func(b []byte) []byte { b[0] = 'X'; return b }), "meta", `bad magic "XPATECKP"`},
		{"short garbage", []byte("hi"), "meta", `bad magic "hi"`},
		{"version 0", with(func(b []byte) []byte { b[9] = 0; return b }), "meta", "invalid format version 0"},
		{"kind length 0", with(func(b []byte) []byte { b[10] = 0; return b }), "meta", "kind length 0 is outside 1..32"},
		{"kind length 33", with(func(b []byte) []byte { b[10] = 33; return b }), "meta", "kind length 33"},
		{"trailing data", append(bytes.Clone(good), 0), "meta", "1 bytes of trailing data"},
		{"huge length", with(func(b []byte) []byte { b[15] = 0xff; return b }), "meta", "truncated: header says 18374686479671623687 payload bytes, file has 11"},
		{"checksum", with(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), "meta", "checksum mismatch (stored "},
		{"payload flip", with(func(b []byte) []byte { b[25] ^= 0x80; return b }), "meta", "checksum mismatch"},
		{"wrong kind", good, "state", `kind mismatch: file holds "meta", want "state"`},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeRaw(t, dir, "f", tc.data)
			got, err := ReadFile(p, tc.kind)
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadFile = %q, %v; want *CorruptError", got, err)
			}
			if !strings.HasPrefix(ce.Reason, tc.wantReason) {
				t.Fatalf("reason = %q, want prefix %q", ce.Reason, tc.wantReason)
			}
		})
	}
}

func TestReadFileUnknownVersion(t *testing.T) {
	data := encode("meta", []byte("x"))
	data[8], data[9] = 0, 7
	p := writeRaw(t, t.TempDir(), "f", data)
	_, err := ReadFile(p, "meta")
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Version != 7 || !errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want *VersionError{Version: 7}", err)
	}
	if !strings.Contains(err.Error(), "unsupported format version 7") {
		t.Fatalf("message %q does not name the version", err)
	}
}

// TestReadFileEveryByteFlipped flips each bit pattern at every position of
// a small file and checks that no read succeeds.
func TestReadFileEveryByteFlipped(t *testing.T) {
	good := encode("meta", []byte("state!"))
	dir := t.TempDir()
	for i := range good {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			data := bytes.Clone(good)
			data[i] ^= mask
			p := writeRaw(t, dir, "f", data)
			got, err := ReadFile(p, "meta")
			if err == nil {
				t.Fatalf("byte %d ^ %#x: read succeeded with %q", i, mask, got)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("byte %d ^ %#x: err = %v, want ErrCorrupt or ErrUnsupportedVersion", i, mask, err)
			}
		}
	}
}

func TestWriteFileFailureIsAtomic(t *testing.T) {
	payload := bytes.Repeat([]byte("new"), 100)
	tests := []struct {
		name   string
		fault  func(*faultFS)
		wantIs error
	}{
		{"disk full in header", func(f *faultFS) { f.writeErr, f.failAfter = errENOSPC, 5 }, errENOSPC},
		{"disk full in payload", func(f *faultFS) { f.writeErr, f.failAfter = errENOSPC, 40 }, errENOSPC},
		{"disk full in trailer", func(f *faultFS) { f.writeErr, f.failAfter = errENOSPC, len(encode("meta", payload))-2 }, errENOSPC},
		{"rename fails", func(f *faultFS) { f.renameErr = errEIO }, errEIO},
		{"create fails", func(f *faultFS) { f.createErr = errEACCES }, errEACCES},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := &faultFS{}
			if err := writeFile(fsys, dir, "cur", "meta", []byte("old")); err != nil {
				t.Fatal(err)
			}
			tc.fault(fsys)
			// Overwriting an existing file and creating a new one both fail cleanly.
			for _, name := range []string{"cur", "fresh"} {
				err := writeFile(fsys, dir, name, "meta", payload)
				if !errors.Is(err, tc.wantIs) {
					t.Fatalf("write %s: err = %v, want %v", name, err, tc.wantIs)
				}
			}
			if got, err := ReadFile(filepath.Join(dir, "cur"), "meta"); err != nil || string(got) != "old" {
				t.Fatalf("old file after failed write: %q, %v", got, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "fresh")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("fresh exists after failed write: %v", err)
			}
			assertNoTemps(t, dir)
		})
	}
}

// assertNoTemps fails if dir holds a temporary file.
func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), tmpMarker) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
