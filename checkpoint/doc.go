// Package checkpoint stores checkpoint files in a local directory: the
// metadata and state checkpoints of DStreams now, the offset and commit logs
// of structured streaming later. It is the storage layer only; what a
// payload means is up to the caller.
//
// # File format
//
// Every file is a header, the payload and a trailer. All integers are
// big-endian.
//
//	offset  size  field
//	0       8     magic "SPATECKP"
//	8       2     format version, uint16 (currently 1, see [Version])
//	10      1     kind length k, 1..32 (see [MaxKindLen])
//	11      k     kind, free-form bytes such as "meta", "state", "offsets", "commit"
//	11+k    8     payload length n, uint64
//	19+k    n     payload
//	19+k+n  4     CRC-32C (Castagnoli) of every byte before it (header and payload)
//
// A file is exactly 23+k+n bytes long: missing bytes are a truncation,
// extra bytes after the trailer are corruption.
//
// # Reading
//
// [ReadFile] checks, in order: the magic, the version, the kind length, the
// length of the file against the payload length, the checksum, and last the
// kind against the kind the caller expects (so a damaged kind byte shows up
// as a checksum mismatch, and a mismatch means an intact file of another
// kind). Every failure is a [*CorruptError], matched by errors.Is(err,
// [ErrCorrupt]), except a version this build does not know, which is a
// [*VersionError] matched by [ErrUnsupportedVersion]: such a file may be
// perfectly good, written by a newer build. A missing file gives an error
// wrapping fs.ErrNotExist.
//
// # Writing
//
// [WriteFile] writes to a temporary file ".<name>.tmp-<random>" in the same
// directory, fsyncs it, renames it over name and fsyncs the directory. A
// reader therefore sees either the old file or the complete new one, never a
// partial name. If any step before the rename fails, the temporary file is
// removed and the old file is left as it was. A crash can leave a temporary
// file behind; readers and [Dir.List] ignore such names.
//
// # Numbered series
//
// A [Dir] keeps numbered series of files, named "<series>-<seq>" with seq
// zero-padded to 20 digits so that names sort in sequence order. After each
// [Dir.Write], the oldest files of the series beyond the retention count
// ([Retain], default 10) are removed. [Dir.Latest] returns the newest file
// of a series, or its error if it is corrupt: it never silently returns an
// older state. [Dir.LatestValid] instead falls back to older files past
// corrupt ones and reports what it skipped; it does not skip a
// [*VersionError], since falling back past a file of a newer build would
// hide the upgrade problem. [ErrNoCheckpoint] means the series has no file
// (or, for LatestValid, no valid file).
//
// # Invariants
//
//   - A successful read returns exactly the payload that was written with
//     the kind the caller asked for; any change to a file's bytes is reported
//     as an error, never returned as data.
//   - A failed write leaves the previous file of the same name intact and no
//     temporary file behind (unless the process dies mid-write).
//   - Retention removes only files of the written series, oldest first, and
//     never the file just written.
//   - A [Dir] is safe for concurrent use by the goroutines of one process.
//     Two processes must not write the same directory: there is no file lock.
//
// All file system access goes through the [FS] interface; [OSFS] is the
// default, and [WithFS] lets tests inject faults such as a full disk.
package checkpoint
