package checkpoint

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"testing"
)

// FuzzReadFile feeds arbitrary file contents to ReadFile's implementation
// (through an in-memory file system, so the fuzzer runs at full speed; file
// I/O made minimization crawl) and to decode, for any kind: they must never
// panic, and a successful read must return a payload whose re-encoding is
// exactly the input.
func FuzzReadFile(f *testing.F) {
	f.Add(encode("meta", []byte("hello")))
	f.Add(encode("meta", nil))
	f.Add(encode("state", []byte{0, 1, 2, 3}))
	f.Add(encode("meta", []byte("x"))[:12])
	f.Add([]byte(Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if payload, err := readFile(memFS{"/ckpt/f": data}, "/ckpt/f", "meta"); err == nil {
			if !bytes.Equal(encode("meta", payload), data) {
				t.Fatalf("ReadFile accepted %q, but re-encoding gives %q", data, encode("meta", payload))
			}
		}
		if kind, payload, err := decode("/ckpt/f", data); err == nil {
			if !bytes.Equal(encode(kind, payload), data) {
				t.Fatalf("decode accepted %q as kind %q, but re-encoding differs", data, kind)
			}
		}
	})
}

// memFS is a read-only in-memory FS: file name → contents.
type memFS map[string][]byte

type memFile struct{ *bytes.Reader }

func (memFile) Write([]byte) (int, error) { return 0, fs.ErrPermission }
func (memFile) Sync() error               { return nil }
func (memFile) Close() error              { return nil }

func (m memFS) OpenFile(name string, flag int, _ fs.FileMode) (File, error) {
	data, ok := m[name]
	switch {
	case flag != os.O_RDONLY:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	case !ok:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return memFile{bytes.NewReader(data)}, nil
}

func (memFS) Rename(string, string) error           { return fs.ErrPermission }
func (memFS) Remove(string) error                   { return fs.ErrPermission }
func (memFS) ReadDir(string) ([]fs.DirEntry, error) { return nil, fs.ErrPermission }
func (memFS) MkdirAll(string, fs.FileMode) error    { return fs.ErrPermission }
func (memFS) SyncDir(string) error                  { return nil }

var (
	_ FS        = memFS(nil)
	_ File      = memFile{}
	_ io.Reader = memFile{}
)
