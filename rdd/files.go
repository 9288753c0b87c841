package rdd

import (
	"bufio"
	"os"
)

// lineWriter writes one value per line and keeps the first error.
type lineWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func (w *lineWriter) writeLine(v any) {
	if w.err != nil {
		return
	}
	w.buf = append(formatLine(w.buf[:0], v), '\n')
	_, w.err = w.w.Write(w.buf)
}

// writePartFile creates path, lets fill write lines into it and makes the
// file durable (flush, fsync, close).
func writePartFile(path string, fill func(*lineWriter) error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w := &lineWriter{w: bufio.NewWriterSize(f, 64<<10)}
	err = fill(w)
	err = firstNonNil(err, w.err, w.w.Flush(), f.Sync())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a directory so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
