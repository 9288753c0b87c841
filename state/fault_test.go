package state

import (
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/spate-io/spate/checkpoint"
)

// faultFS is the operating system's file system with injectable failures.
type faultFS struct {
	checkpoint.OSFS
	mu sync.Mutex
	// writeErr, if set, fails every write to a file whose base name
	// contains writeMatch (a full disk).
	writeErr   error
	writeMatch string
	// block, if set, makes the creation of a file whose base name contains
	// blockMatch signal blocked and then wait until block is closed.
	block      chan struct{}
	blocked    chan struct{}
	blockMatch string
}

var _ checkpoint.FS = (*faultFS)(nil)

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (checkpoint.File, error) {
	f.mu.Lock()
	writeErr, writeMatch := f.writeErr, f.writeMatch
	block, blocked, blockMatch := f.block, f.blocked, f.blockMatch
	f.mu.Unlock()
	base := filepath.Base(name)
	if flag&syscall.O_CREAT != 0 && block != nil && strings.Contains(base, blockMatch) {
		if blocked != nil {
			select {
			case blocked <- struct{}{}:
			default:
			}
		}
		<-block
	}
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil || writeErr == nil || flag&syscall.O_CREAT == 0 || !strings.Contains(base, writeMatch) {
		return file, err
	}
	return &faultFile{File: file, name: name, err: writeErr}, nil
}

func (f *faultFS) setWriteErr(err error, match string) {
	f.mu.Lock()
	f.writeErr, f.writeMatch = err, match
	f.mu.Unlock()
}

// faultFile fails every write with err, having written half of it.
type faultFile struct {
	checkpoint.File
	name string
	err  error
}

func (f *faultFile) Write(p []byte) (int, error) {
	n, _ := f.File.Write(p[:len(p)/2])
	return n, &fs.PathError{Op: "write", Path: f.name, Err: f.err}
}
