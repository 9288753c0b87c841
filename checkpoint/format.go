package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Magic is the first 8 bytes of every checkpoint file.
const Magic = "SPATECKP"

// Version is the format version this build writes and the newest it reads.
const Version uint16 = 1

// MaxKindLen is the maximum length in bytes of a file's kind.
const MaxKindLen = 32

const (
	fixedHeaderLen = len(Magic) + 2 + 1 + 8 // magic, version, kind length, payload length
	trailerLen     = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is matched by every [*CorruptError].
var ErrCorrupt = errors.New("checkpoint: corrupt file")

// ErrUnsupportedVersion is matched by every [*VersionError].
var ErrUnsupportedVersion = errors.New("checkpoint: unsupported format version")

// ErrNoCheckpoint means a series holds no (valid) checkpoint file.
var ErrNoCheckpoint = errors.New("checkpoint: no checkpoint")

// CorruptError reports a checkpoint file that fails verification: bad magic,
// truncation, checksum mismatch, trailing bytes or the wrong kind.
type CorruptError struct {
	Path   string // the file
	Reason string // what is wrong, e.g. "checksum mismatch (stored 1a2b3c4d, computed 5e6f7081)"
}

func (e *CorruptError) Error() string {
	return "checkpoint: " + e.Path + ": corrupt: " + e.Reason
}

// Is reports whether target is [ErrCorrupt].
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// VersionError reports a file whose format version this build cannot read,
// typically one written by a newer build.
type VersionError struct {
	Path    string // the file
	Version uint16 // the version stored in the file
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("checkpoint: %s: unsupported format version %d (this build reads version %d)",
		e.Path, e.Version, Version)
}

// Is reports whether target is [ErrUnsupportedVersion].
func (e *VersionError) Is(target error) bool { return target == ErrUnsupportedVersion }

// checkKind validates a kind given by a caller.
func checkKind(kind string) error {
	if len(kind) < 1 || len(kind) > MaxKindLen {
		return fmt.Errorf("checkpoint: kind %q: length %d is outside 1..%d", kind, len(kind), MaxKindLen)
	}
	return nil
}

// header returns the encoded header for kind and a payload of n bytes; kind
// must have passed checkKind.
func header(kind string, n int) []byte {
	h := make([]byte, 0, fixedHeaderLen+len(kind))
	h = append(h, Magic...)
	h = binary.BigEndian.AppendUint16(h, Version)
	h = append(h, byte(len(kind)))
	h = append(h, kind...)
	h = binary.BigEndian.AppendUint64(h, uint64(n))
	return h
}

// encode returns the complete file for kind and payload.
func encode(kind string, payload []byte) []byte {
	b := header(kind, len(payload))
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decode verifies a complete file and returns its kind and payload (which
// aliases data). It checks everything but the expected kind. path only
// labels errors.
func decode(path string, data []byte) (kind string, payload []byte, err error) {
	corrupt := func(format string, args ...any) (string, []byte, error) {
		return "", nil, &CorruptError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	if len(data) < len(Magic) {
		if bytes.HasPrefix([]byte(Magic), data) {
			return corrupt("truncated: file has %d bytes, header needs at least %d", len(data), fixedHeaderLen+1)
		}
		return corrupt("bad magic %q, want %q", data, Magic)
	}
	if string(data[:len(Magic)]) != Magic {
		return corrupt("bad magic %q, want %q", data[:len(Magic)], Magic)
	}
	if len(data) < len(Magic)+2 {
		return corrupt("truncated: file has %d bytes, header needs at least %d", len(data), fixedHeaderLen+1)
	}
	switch v := binary.BigEndian.Uint16(data[len(Magic):]); {
	case v == 0:
		return corrupt("invalid format version 0")
	case v != Version:
		return "", nil, &VersionError{Path: path, Version: v}
	}
	if len(data) < len(Magic)+3 {
		return corrupt("truncated: file has %d bytes, header needs at least %d", len(data), fixedHeaderLen+1)
	}
	k := int(data[len(Magic)+2])
	if k < 1 || k > MaxKindLen {
		return corrupt("kind length %d is outside 1..%d", k, MaxKindLen)
	}
	hdr := fixedHeaderLen + k
	if len(data) < hdr {
		return corrupt("truncated: file has %d bytes, header needs %d", len(data), hdr)
	}
	n := binary.BigEndian.Uint64(data[hdr-8:])
	avail := uint64(len(data) - hdr)
	switch {
	case avail < n:
		return corrupt("truncated: header says %d payload bytes, file has %d", n, avail)
	case avail < n+trailerLen:
		return corrupt("truncated: checksum trailer has %d of %d bytes", avail-n, trailerLen)
	case avail > n+trailerLen:
		return corrupt("%d bytes of trailing data after the checksum", avail-n-trailerLen)
	}
	end := hdr + int(n)
	stored := binary.BigEndian.Uint32(data[end:])
	if computed := crc32.Checksum(data[:end], castagnoli); stored != computed {
		return corrupt("checksum mismatch (stored %08x, computed %08x)", stored, computed)
	}
	return string(data[len(Magic)+3 : hdr-8]), data[hdr:end], nil
}
