package checkpoint

import (
	"io/fs"
	"strings"
	"sync"
	"syscall"
)

// faultFS is the operating system's file system with injectable failures.
type faultFS struct {
	OSFS
	mu sync.Mutex
	// writeErr, if set, fails writes to temporary files once failAfter
	// bytes have been written to the file (a full disk).
	writeErr  error
	failAfter int
	// createErr, if set, fails every OpenFile that creates a file.
	createErr error
	// renameErr, if set, fails every Rename.
	renameErr error
	// removed records every path passed to Remove.
	removed []string
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f.mu.Lock()
	createErr, writeErr, failAfter := f.createErr, f.writeErr, f.failAfter
	f.mu.Unlock()
	if flag&syscall.O_CREAT != 0 && createErr != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: createErr}
	}
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil || writeErr == nil || !strings.Contains(name, tmpMarker) {
		return file, err
	}
	return &faultFile{File: file, name: name, err: writeErr, left: failAfter}, nil
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	err := f.renameErr
	f.mu.Unlock()
	if err != nil {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: err}
	}
	return f.OSFS.Rename(oldpath, newpath)
}

func (f *faultFS) Remove(name string) error {
	f.mu.Lock()
	f.removed = append(f.removed, name)
	f.mu.Unlock()
	return f.OSFS.Remove(name)
}

// faultFile writes up to left bytes, then fails with err (a short write).
type faultFile struct {
	File
	name string
	err  error
	left int
}

func (f *faultFile) Write(p []byte) (int, error) {
	if len(p) <= f.left {
		f.left -= len(p)
		return f.File.Write(p)
	}
	n, _ := f.File.Write(p[:f.left])
	f.left = 0
	return n, &fs.PathError{Op: "write", Path: f.name, Err: f.err}
}

var _ FS = (*faultFS)(nil)

var (
	errENOSPC error = syscall.ENOSPC
	errEIO    error = syscall.EIO
	errEACCES error = syscall.EACCES
)
