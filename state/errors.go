package state

import (
	"errors"
	"fmt"
)

// ErrStoreClosed is returned by the methods of a [Store] that was already
// committed or aborted.
var ErrStoreClosed = errors.New("state: store already committed or aborted")

// ErrStoreInUse is returned by [Partition.Load] while a [Store] loaded
// earlier from the same partition is neither committed nor aborted: one
// partition serves one task at a time.
var ErrStoreInUse = errors.New("state: partition has an open store (commit or abort it before loading again)")

// ErrClosed is returned by a [Provider] (and its partitions) after
// [Provider.Close].
var ErrClosed = errors.New("state: provider closed")

// ErrVersionNotFound is matched by every [*MissingVersionError].
var ErrVersionNotFound = errors.New("state: version not found")

// PartitionCountMismatchError reports that a state directory was created
// with another number of state partitions than the one requested. The
// number is fixed at a query's first run, because every key was routed to
// its partition by it.
type PartitionCountMismatchError struct {
	Path      string // the metadata file that records the number
	Recorded  int    // the number of partitions in the metadata file
	Requested int    // the number passed to [NewProvider]
}

func (e *PartitionCountMismatchError) Error() string {
	return fmt.Sprintf("state: %s records %d state partitions, but %d were requested: "+
		"the number of state partitions is fixed at a query's first run; set it back to %d, "+
		"or start the query from a new checkpoint location", e.Path, e.Recorded, e.Requested, e.Recorded)
}

// FileError reports a state file of one partition that could not be read,
// decoded or written. Err is the cause: a [*checkpoint.CorruptError] (so
// errors.Is(err, checkpoint.ErrCorrupt) holds) for a damaged or truncated
// file, a [*checkpoint.VersionError] for a file of a newer build, or an I/O
// error such as a full disk.
type FileError struct {
	Operator  string // the stateful operator's id
	Partition int    // the state partition
	Kind      string // "delta", "snapshot" or "metadata"
	Version   int64  // the state version the file holds
	Path      string // the file
	Op        string // "read" or "write"
	Err       error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("state: operator %q partition %d: %s %s file for version %d (%s): %v",
		e.Operator, e.Partition, e.Op, e.Kind, e.Version, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// MissingVersionError reports that a version cannot be loaded because a
// file of its chain (the latest snapshot at or below it, then one delta per
// version up to it) does not exist: the version was never committed, or it
// is older than the retained versions, or a file was removed by hand.
type MissingVersionError struct {
	Operator  string // the stateful operator's id
	Partition int    // the state partition
	Version   int64  // the version asked for
	Missing   int64  // the first version whose delta file is missing
	Path      string // the missing delta file
	Latest    int64  // the newest version with a delta or snapshot file on disk (0 if none)
}

func (e *MissingVersionError) Error() string {
	return fmt.Sprintf("state: operator %q partition %d: cannot load version %d: delta file for version %d is missing (%s); "+
		"the newest version on disk is %d", e.Operator, e.Partition, e.Version, e.Missing, e.Path, e.Latest)
}

// Is reports whether target is [ErrVersionNotFound].
func (e *MissingVersionError) Is(target error) bool { return target == ErrVersionNotFound }
