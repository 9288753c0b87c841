package checkpoint

import (
	"io"
	"io/fs"
	"os"
)

// FS is the file system a [Dir], [WriteFile] and [ReadFile] work on. Paths
// are OS paths as given by the caller. Errors should be *fs.PathError values
// wrapping the cause (fs.ErrNotExist, syscall.ENOSPC, ...), as package os
// returns them; the package wraps them further and never inspects them
// beyond errors.Is.
type FS interface {
	// OpenFile opens a file as os.OpenFile does. The package uses
	// os.O_RDONLY to read and os.O_WRONLY|os.O_CREATE|os.O_EXCL to create
	// temporary files.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Rename replaces newpath by oldpath atomically, as os.Rename does.
	Rename(oldpath, newpath string) error
	// Remove removes a file, as os.Remove does.
	Remove(name string) error
	// ReadDir lists a directory, as os.ReadDir does.
	ReadDir(name string) ([]fs.DirEntry, error)
	// MkdirAll creates a directory and its parents, as os.MkdirAll does.
	MkdirAll(path string, perm fs.FileMode) error
	// SyncDir makes the entries of a directory (such as a rename) durable.
	SyncDir(name string) error
}

// File is an open file of an [FS]. Sync makes its contents durable.
type File interface {
	io.Reader
	io.Writer
	io.Closer
	Sync() error
}

// OSFS is the [FS] of the operating system, through package os.
type OSFS struct{}

var (
	_ FS   = OSFS{}
	_ File = (*os.File)(nil)
)

// OpenFile calls os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a typed nil File
	}
	return f, nil
}

// Rename calls os.Rename.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Remove calls os.Remove.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// ReadDir calls os.ReadDir.
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// MkdirAll calls os.MkdirAll.
func (OSFS) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }

// SyncDir opens the directory and fsyncs it.
func (OSFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
