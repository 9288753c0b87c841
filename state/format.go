package state

import (
	"encoding/binary"
	"fmt"
)

// Kinds of the checkpoint files this package writes.
const (
	kindDelta    = "state-delta"
	kindSnapshot = "state-snapshot"
	kindMeta     = "state-metadata"
)

// Series names of the files in a partition directory.
const (
	seriesDelta    = "delta"
	seriesSnapshot = "snapshot"
	seriesMeta     = "metadata"
)

// payloadVersion is the version of the delta and snapshot payload encoding
// this build writes and the only one it reads.
const payloadVersion = 1

// Record operations in a delta payload.
const (
	opPut    = 1
	opDelete = 2
)

// formatError describes a payload that passed the checkpoint checksum but
// does not decode; it is reported as a checkpoint.CorruptError.
type formatError string

func (e formatError) Error() string { return string(e) }

func badf(format string, args ...any) error { return formatError(fmt.Sprintf(format, args...)) }

// encodeDelta encodes the changes of one version: puts (non-nil values) and
// deletes (nil values).
func encodeDelta(version int64, changes map[string][]byte) []byte {
	size := 1 + 2*binary.MaxVarintLen64
	for k, v := range changes {
		size += 1 + 2*binary.MaxVarintLen32 + len(k) + len(v)
	}
	b := make([]byte, 0, size)
	b = append(b, payloadVersion)
	b = binary.AppendUvarint(b, uint64(version))
	b = binary.AppendUvarint(b, uint64(len(changes)))
	for k, v := range changes {
		if v == nil {
			b = append(b, opDelete)
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			continue
		}
		b = append(b, opPut)
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// encodeSnapshot encodes a whole state.
func encodeSnapshot(version int64, m map[string][]byte) []byte {
	size := 1 + 2*binary.MaxVarintLen64
	for k, v := range m {
		size += 2*binary.MaxVarintLen32 + len(k) + len(v)
	}
	b := make([]byte, 0, size)
	b = append(b, payloadVersion)
	b = binary.AppendUvarint(b, uint64(version))
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// decoder reads a payload; every method reports a formatError on short
// input.
type decoder struct {
	b   []byte
	off int
}

func (d *decoder) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		return 0, badf("payload offset %d: bad or truncated %s", d.off, what)
	}
	d.off += n
	return v, nil
}

func (d *decoder) bytes(what string) ([]byte, error) {
	n, k := binary.Uvarint(d.b[d.off:])
	if k <= 0 {
		return nil, badf("payload offset %d: bad or truncated %s length", d.off, what)
	}
	d.off += k
	if n > uint64(len(d.b)-d.off) {
		return nil, badf("payload offset %d: %s of %d bytes runs past the end (%d bytes left)", d.off, what, n, len(d.b)-d.off)
	}
	s := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return s, nil
}

// header decodes the common prefix and checks the version against the
// one named by the file; it returns the record count.
func (d *decoder) header(version int64) (uint64, error) {
	if len(d.b) == 0 {
		return 0, badf("empty payload")
	}
	if d.b[0] != payloadVersion {
		return 0, badf("payload format version %d, this build reads %d", d.b[0], payloadVersion)
	}
	d.off = 1
	v, err := d.uvarint("version")
	if err != nil {
		return 0, err
	}
	if int64(v) != version {
		return 0, badf("payload holds version %d, file name says %d", v, version)
	}
	n, err := d.uvarint("record count")
	if err != nil {
		return 0, err
	}
	// Every record takes at least 2 bytes: a bound that keeps a corrupt
	// count from looking plausible.
	if n > uint64(len(d.b)-d.off)/2 {
		return 0, badf("record count %d does not fit in %d bytes", n, len(d.b)-d.off)
	}
	return n, nil
}

// decodeDelta calls apply for each record of a delta payload; a nil value
// is a delete. The slices alias payload.
func decodeDelta(payload []byte, version int64, apply func(key, value []byte)) error {
	d := decoder{b: payload}
	n, err := d.header(version)
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		if d.off >= len(d.b) {
			return badf("record %d of %d: truncated", i, n)
		}
		op := d.b[d.off]
		d.off++
		key, err := d.bytes("key")
		if err != nil {
			return err
		}
		switch op {
		case opPut:
			val, err := d.bytes("value")
			if err != nil {
				return err
			}
			if val == nil {
				val = []byte{}
			}
			apply(key, val)
		case opDelete:
			apply(key, nil)
		default:
			return badf("record %d: unknown operation %d", i, op)
		}
	}
	if d.off != len(d.b) {
		return badf("%d bytes after the last record", len(d.b)-d.off)
	}
	return nil
}

// decodeSnapshot calls add for each entry of a snapshot payload, after
// reporting the entry count with size. The slices alias payload.
func decodeSnapshot(payload []byte, version int64, size func(n int), add func(key, value []byte)) error {
	d := decoder{b: payload}
	n, err := d.header(version)
	if err != nil {
		return err
	}
	size(int(n))
	for i := uint64(0); i < n; i++ {
		key, err := d.bytes("key")
		if err != nil {
			return err
		}
		val, err := d.bytes("value")
		if err != nil {
			return err
		}
		add(key, val)
	}
	if d.off != len(d.b) {
		return badf("%d bytes after the last entry", len(d.b)-d.off)
	}
	return nil
}
