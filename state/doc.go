// Package state is the versioned key-value state store of spate's stateful
// streaming operators (aggregations, deduplication, session windows, later
// joins and DStream state). Each (operator, state partition) pair has its
// own store; each micro-batch loads the version left by the previous batch,
// changes it and commits the next one. The version is the batch id, and
// version 0 is the empty state, so a re-run batch N always starts from
// version N-1, whatever happened to the previous attempt.
//
// Keys and values are byte slices; operators encode their rows. The
// contract in one batch:
//
//	pt, _ := provider.Partition("agg-1", partition) // once; keeps its cache
//	st, err := pt.Load(ctx, batchID-1)
//	...
//	defer st.Abort()          // does nothing after a successful Commit
//	v, ok := st.Get(key)
//	st.Put(key, value)        // or st.Delete(key)
//	_, err = st.Commit(ctx)   // writes version batchID
//
// # Files
//
// A [Provider] serves the state directory of one query's checkpoint
// location root:
//
//	<root>/state/metadata-00000000000000000000         number of state partitions (JSON)
//	<root>/state/<operator>/<partition>/delta-<v>      the keys put and deleted by version v
//	<root>/state/<operator>/<partition>/snapshot-<v>   every key and value of version v
//
// with v zero-padded to 20 digits. Every file is a [checkpoint] file (magic,
// format version, kind, length, CRC-32C, written to a temporary name,
// fsynced and renamed, see that package), of kind "state-metadata",
// "state-delta" or "state-snapshot". Inside it, the payload starts with its
// own format byte (currently 1) and the version it holds, which must match
// the file name; then a record count and the records. A delta record is an
// operation byte (1 put, 2 delete), a uvarint key length and the key, and
// for a put a uvarint value length and the value. A snapshot record is the
// key and the value, each with its uvarint length. Records are in no
// particular order; a key appears at most once per file.
//
// The first [NewProvider] on a root records the number of state partitions;
// a later one with another number fails with a
// [*PartitionCountMismatchError], since every key was routed to its
// partition by that number.
//
// # Versions, cache and snapshots
//
// Committing version v writes only delta-v. Loading version v reads the
// newest snapshot at or below v and replays the deltas after it, one per
// version up to v. A [Partition] keeps the version it last loaded or
// committed in memory, so that the usual sequence (load v, commit v+1,
// load v+1, ...) reads no file at all. It also keeps the way back one
// version (the previous values of the keys the last commit changed), so
// that re-running the last batch (load v-1 while v is cached) reads no
// file either. Loading any other version rebuilds it from files and
// replaces the cache.
//
// Once [SnapshotInterval] versions (default 10) were committed since the
// last snapshot, Commit starts a snapshot of the new version in a
// background goroutine and returns without waiting for it. The snapshot
// goroutine only reads the in-memory base map of that version. While it
// runs, later commits do not change that map: each keeps its changes as a
// frozen layer above it (a read looks at this batch's changes, then the
// layers, newest first, then the base), and the first commit after the
// snapshot has finished merges the layers into the base. So a commit never
// waits for a snapshot. A Load that reads files waits for a running
// snapshot (it may need the snapshot's file, and the clean-up that follows
// a snapshot removes files), and so does a step back that undoes a commit
// in the base; a step back that drops a layer does not.
//
// After each snapshot, files that no retained version needs are removed:
// the last [Retain] versions (default 100; one more is kept) stay
// loadable, which needs the newest snapshot at or below the oldest of them
// and every delta after it.
// A failed snapshot or clean-up loses nothing (the deltas are still there);
// it is reported in [Metrics].SnapshotErr and retried after the next commit.
//
// When a version older than the newest on disk is loaded and then
// committed (a batch re-run after a failure), the commit first removes the
// snapshots and deltas of the abandoned later versions, so that a stale
// file is never combined with the new history.
//
// # Errors
//
// A damaged or truncated file is a [*FileError] naming the file, its kind
// and version, wrapping a [*checkpoint.CorruptError] (errors.Is(err,
// checkpoint.ErrCorrupt)); a missing delta in the chain is a
// [*MissingVersionError] (errors.Is(err, [ErrVersionNotFound])) naming the
// missing version. A load never returns a state it could not fully verify,
// and it does not fall back to older snapshots. A commit that fails (full
// disk, cancelled context) aborts the store and leaves the partition, in
// memory and on disk, at the version it was loaded at.
//
// # Concurrency
//
// A Provider is safe for concurrent use, and different partitions may be
// used concurrently from different goroutines. One partition serves one
// task at a time: between Load and Commit or Abort, a second Load fails
// with [ErrStoreInUse], and the [Store] itself is not safe for concurrent
// use. Store reads and writes take no lock. [Partition.Metrics] and
// [Partition.WaitSnapshot] may be called from any goroutine.
// [Provider.Close] waits for the background snapshots; [Provider.Unload]
// drops one partition's memory (when the partition moves elsewhere).
//
// # Invariants
//
//   - Loading version v returns exactly the state committed as v: the
//     changes of every version 1..v applied in order. Any file that does
//     not verify is an error, never data.
//   - A failed commit leaves the previous version loadable and the cache at
//     it.
//   - Clean-up never removes a file needed to load one of the last Retain
//     committed versions.
//   - Two processes must not use the same state directory at once: there
//     is no file lock (the query's checkpoint location is owned by one run).
package state
