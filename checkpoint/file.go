package checkpoint

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tmpMarker separates a file's name from the random suffix of its
// temporary files: ".<name>.tmp-<random>".
const tmpMarker = ".tmp-"

// WriteFile atomically replaces dir/name with a checkpoint file of the given
// kind and payload, on the operating system's file system: see the package
// documentation, "Writing". dir must exist. kind must be 1 to [MaxKindLen]
// bytes long; name must be a plain file name.
func WriteFile(dir, name, kind string, payload []byte) error {
	return writeFile(OSFS{}, dir, name, kind, payload)
}

// ReadFile reads and verifies the checkpoint file at path and returns its
// payload, which must be of the given kind. See the package documentation,
// "Reading", for the errors.
func ReadFile(path, kind string) ([]byte, error) {
	return readFile(OSFS{}, path, kind)
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') ||
		strings.ContainsRune(name, filepath.Separator) {
		return fmt.Errorf("checkpoint: file name %q: want a plain name without path separators", name)
	}
	return nil
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

func writeFile(fsys FS, dir, name, kind string, payload []byte) (err error) {
	if err := checkName(name); err != nil {
		return err
	}
	if err := checkKind(kind); err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	var (
		tmp string
		f   File
	)
	for range 3 { // O_EXCL collisions of 64 random bits are not expected; retry anyway
		tmp = filepath.Join(dir, "."+name+tmpMarker+randomSuffix())
		f, err = fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checkpoint: write %s: directory %s does not exist: %w", path, dir, err)
		}
		return fmt.Errorf("checkpoint: write %s: create temporary file in %s: %w", path, dir, err)
	}
	renamed := false
	defer func() {
		if f != nil {
			f.Close()
		}
		if !renamed {
			fsys.Remove(tmp)
		}
	}()

	h := header(kind, len(payload))
	crc := crc32.Update(0, castagnoli, h)
	crc = crc32.Update(crc, castagnoli, payload)
	trailer := binary.BigEndian.AppendUint32(nil, crc)
	for _, b := range [][]byte{h, payload, trailer} {
		if _, err := f.Write(b); err != nil {
			return fmt.Errorf("checkpoint: write %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("checkpoint: write %s: fsync: %w", path, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return fmt.Errorf("checkpoint: write %s: close: %w", path, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("checkpoint: write %s: rename: %w", path, err)
	}
	renamed = true
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("checkpoint: write %s: fsync directory %s: %w", path, dir, err)
	}
	return nil
}

func readFile(fsys FS, path, kind string) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: read %s: %w", path, err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: read %s: %w", path, err)
	}
	got, payload, err := decode(path, data)
	if err != nil {
		return nil, err
	}
	if got != kind {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("kind mismatch: file holds %q, want %q", got, kind)}
	}
	return payload, nil
}
