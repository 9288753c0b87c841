package dstream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The receiver write-ahead log keeps every block a receiver stored, in
// segment files "log-<first sequence number, 20 digits>" in
// <checkpoint>/receivedData/<stream name>/. A record is
//
//	4 bytes  length n of seq+payload, big-endian
//	4 bytes  CRC-32C of the next n bytes
//	8 bytes  block sequence number, big-endian
//	n-8      the block, encoded with the stream's codec
//
// Sequence numbers count from 1 without gaps across segments. A record is
// appended and fsynced before its block may go into a batch. A crash can
// tear the last record of the newest segment; that record was never
// acknowledged, so the reader drops it (and new records go to a new
// segment). A bad record anywhere else is corruption and an error.

const (
	walRecordHeader = 16
	walSegmentMax   = 64 << 20 // bytes before a new segment starts
	walMaxRecord    = 1 << 30
)

var walCRC = crc32.MakeTable(crc32.Castagnoli)

// walRef locates a block in the log.
type walRef struct {
	file   string
	offset int64 // of the payload
	length int
}

// writeAheadLog is one receiver stream's log.
type writeAheadLog struct {
	dir string

	mu       sync.Mutex
	f        *os.File
	w        *bufio.Writer
	size     int64
	next     uint64            // sequence number of the next block
	segments []walSegment      // oldest first; the last is being written
	index    map[uint64]walRef // blocks found on recovery, for replay
}

type walSegment struct {
	first uint64
	path  string
}

func walSegmentName(first uint64) string { return fmt.Sprintf("log-%020d", first) }

// openWAL scans dir for earlier segments (indexing their blocks) and
// prepares to append after the last block found.
func openWAL(dir string) (*writeAheadLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write-ahead log: %w", err)
	}
	l := &writeAheadLog{dir: dir, next: 1, index: map[uint64]walRef{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("write-ahead log: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "log-") {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimPrefix(name, "log-"), 10, 64)
		if err != nil {
			continue
		}
		l.segments = append(l.segments, walSegment{first, filepath.Join(dir, name)})
	}
	slices.SortFunc(l.segments, func(a, b walSegment) int { return cmpU64(a.first, b.first) })
	for i, s := range l.segments {
		last := i == len(l.segments)-1
		if err := l.scan(s, last); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scan indexes the blocks of one segment.
func (l *writeAheadLog) scan(s walSegment, newest bool) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var off int64
	var hdr [walRecordHeader]byte
	for {
		_, err := io.ReadFull(r, hdr[:])
		if err == io.EOF {
			return nil
		}
		torn := func(what string) error {
			if newest {
				// An unacknowledged record torn by a crash: cut it off,
				// so that the segment reads clean once it is no longer
				// the newest.
				if err := os.Truncate(s.path, off); err != nil {
					return fmt.Errorf("write-ahead log: cutting a torn record off %s: %w", s.path, err)
				}
				return nil
			}
			return fmt.Errorf("write-ahead log: %s at byte %d: %s: %w", s.path, off, what, errWALCorrupt)
		}
		if err != nil {
			return torn("truncated record header")
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		if n < 8 || n > walMaxRecord {
			return torn(fmt.Sprintf("bad record length %d", n))
		}
		body := make([]byte, n)
		copy(body, hdr[8:16])
		if _, err := io.ReadFull(r, body[8:]); err != nil {
			return torn("truncated record")
		}
		if crc32.Checksum(body, walCRC) != binary.BigEndian.Uint32(hdr[4:8]) {
			return torn("checksum mismatch")
		}
		seq := binary.BigEndian.Uint64(body[:8])
		l.index[seq] = walRef{file: s.path, offset: off + walRecordHeader, length: int(n) - 8}
		l.next = max(l.next, seq+1)
		off += walRecordHeader + int64(n) - 8
	}
}

// errWALCorrupt is wrapped by errors about damaged log records.
var errWALCorrupt = errors.New("dstream: corrupt write-ahead log")

// read returns the payload of block seq, found when the log was opened.
func (l *writeAheadLog) read(seq uint64) ([]byte, error) {
	l.mu.Lock()
	ref, ok := l.index[seq]
	l.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("write-ahead log %s: block %d is missing (was a segment file deleted?)", l.dir, seq)
	}
	f, err := os.Open(ref.file)
	if err != nil {
		return nil, fmt.Errorf("write-ahead log: block %d: %w", seq, err)
	}
	defer f.Close()
	b := make([]byte, ref.length)
	if _, err := f.ReadAt(b, ref.offset); err != nil {
		return nil, fmt.Errorf("write-ahead log: block %d in %s: %w", seq, ref.file, err)
	}
	return b, nil
}

// unallocated returns the sequence numbers of blocks found on recovery
// after through, in order.
func (l *writeAheadLog) unallocated(through uint64) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []uint64
	for seq := range l.index {
		if seq > through {
			out = append(out, seq)
		}
	}
	slices.Sort(out)
	return out
}

// append writes a block and makes it durable; it returns its sequence
// number.
func (l *writeAheadLog) append(payload []byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil || l.size >= walSegmentMax {
		if err := l.rollLocked(); err != nil {
			return 0, err
		}
	}
	seq := l.next
	var hdr [walRecordHeader]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(payload)+8))
	binary.BigEndian.PutUint64(hdr[8:16], seq)
	crc := crc32.Update(crc32.Checksum(hdr[8:16], walCRC), walCRC, payload)
	binary.BigEndian.PutUint32(hdr[4:8], crc)
	l.w.Write(hdr[:])
	l.w.Write(payload)
	if err := l.w.Flush(); err != nil {
		return 0, fmt.Errorf("write-ahead log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return 0, fmt.Errorf("write-ahead log: %w", err)
	}
	l.size += int64(len(hdr) + len(payload))
	l.next++
	return seq, nil
}

// rollLocked starts a new segment.
func (l *writeAheadLog) rollLocked() error {
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			return fmt.Errorf("write-ahead log: %w", err)
		}
	}
	path := filepath.Join(l.dir, walSegmentName(l.next))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	if d, err := os.Open(l.dir); err == nil {
		d.Sync()
		d.Close()
	}
	l.f, l.w, l.size = f, bufio.NewWriterSize(f, 1<<16), 0
	l.segments = append(l.segments, walSegment{l.next, path})
	return nil
}

// deleteThrough removes the segments whose blocks all have sequence
// numbers ≤ seq; the newest segment always stays.
func (l *writeAheadLog) deleteThrough(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	drop := 0
	for drop+1 < len(l.segments) && l.segments[drop+1].first <= seq+1 {
		path := l.segments[drop].path
		os.Remove(path)
		for s, ref := range l.index {
			if ref.file == path {
				delete(l.index, s)
			}
		}
		drop++
	}
	l.segments = l.segments[drop:]
}

// close closes the segment being written.
func (l *writeAheadLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
