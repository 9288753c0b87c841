// Package streaming is spate's Structured Streaming engine: it runs a
// DataFrame query over streaming sources incrementally, one micro-batch
// per trigger, with end-to-end exactly-once output from replayable
// sources to idempotent sinks. Package dataframe puts it behind
// Session.ReadStream / StreamFrom and DataFrame.WriteStream; this package
// can also be used directly with plans built with package plan.
//
// # Model
//
// A streaming query is a logical plan whose leaves include streaming
// sources ([NewSourceNode] over a [Source]: the connector contract's
// replayable, partitioned source of Arrow record batches). [Start]
// optimizes the plan once and runs a loop; each trigger:
//
//  1. asks every source for its latest offsets and cuts the batch's
//     ranges (connector.PlanBatch, within the source's limits);
//  2. writes the batch's start and end offsets to the offset log
//     ("offsets-<batch id>" in the checkpoint directory), while the batch
//     runs: the write is complete before the sink sees any row;
//  3. replaces each streaming leaf with a scan of exactly those ranges,
//     plans it physically (package exec) and runs it on the engine;
//  4. gives the result to the sink with the batch id ([Sink]: exactly
//     once per id), then, once the stateful operators' state is written
//     (in the background, from the moment it is known), writes the commit
//     log ("commits-<batch id>").
//
// A trigger that finds no new data runs no batch (Status says "Waiting
// for data to arrive"). On a restart with the same checkpoint location
// the query keeps its id (new run id), sources with state (the rate
// source's start time, [StatefulSource]) get it back, and a batch with
// offsets but no commit runs again with exactly the same offsets, so a
// sink that skips or replaces repeated batch ids writes every row once.
//
// # Triggers and output modes
//
// [ProcessingTime] (default, 0: the next batch as soon as the previous
// ends), [Once] and [AvailableNow] (until a trigger finds no new data).
// [Append] (default) and [Update] write the rows of each batch;
// [Complete] needs an aggregation. Progress counts the rows read.
//
// # What runs incrementally (so far)
//
// Stateless queries: projections, filters, unions, and joins of a stream
// with a static DataFrame (inner, or left outer/semi/anti with the stream
// on the left). Stateful operators, each keeping its state in the
// checkpoint's state store (see "State" below), written before the batch
// commits, so that a re-run batch starts from the previous batch's state:
//
//   - An aggregation with count, sum, min, max and avg over the partial
//     aggregates of every group. Update mode writes the groups a batch
//     touched, complete mode all of them. With a [Watermark]
//     (WithWatermark) below it and a grouping by a window's end
//     (dataframe.Window) or by the event-time column, the groups that
//     ended at or before the watermark after the batch are evicted from
//     the state, and append mode writes each group once, in the batch
//     that finished it (Spark writes it in the next batch). Over session
//     windows (a plan.MergeSessions below the aggregation, from
//     dataframe.SessionWindow or SQL session_window) the state holds each
//     open session's partial aggregates and bounds; a batch merges its
//     events with them (a new event may extend or join sessions), and a
//     session is finished once the watermark passes its end.
//   - Deduplication (Distinct, DropDuplicates): each key written once;
//     with a watermark on a key column, keys older than the watermark
//     are evicted. DropDuplicatesWithinWatermark (plan.Deduplicate with
//     WithinWatermark) keeps a key until the watermark passes its first
//     row's event time plus the delay, whatever the other rows' times.
//   - Joins of two streams (inner, left, right and full outer; append
//     mode): each side's rows are buffered; a batch joins its new rows
//     with the other side's buffered and new rows, so each pair is
//     written once. A side's rows are evicted when the condition bounds
//     the other side's event time from above (equal event times, or a
//     range such as r.ts <= l.ts + an interval, written with
//     expr.TimestampAdd / SQL INTERVAL) and the watermark passed that
//     bound; outer joins then write the rows that never matched, with
//     nulls, and need both watermarks and such a bound.
//
// Several stateful operators may form a chain: a deduplication, join or
// aggregation feeding any of them. An operator reading a join allows for
// the join's bound before evicting (its input may be that far behind the
// watermark). An aggregation read by another operator runs as in append
// mode whatever the query's mode (it needs a watermark and an event-time
// window, and writes each group once, when final), so the next operator
// gets final rows, in the batch whose watermark passed their window's
// end. A join over aggregations (Nexmark's q5: counts per item and
// window joined with the largest count per window) bounds their rows by
// the windows' bounds: a row with window end e comes once the watermark
// passes e, so an equality of two windows' ends (or starts), or a range
// between them, evicts the rows no future row can match. Rows older than
// the watermark are dropped (and counted in the progress's
// numRowsDroppedByWatermark) where they enter a stateful operator.
//
// The watermark is the latest event time seen at each [Watermark] node
// (observed as rows pass it, kept in the commit log) less its delay;
// with several, they combine by [MultipleWatermarkPolicy] (the minimum
// by default); it never goes back. A WithWatermark read by several
// operators (a DataFrame used twice) is one input of it. Start rejects,
// with [ErrUnsupported] and a message saying what to change, what is not
// built yet: other aggregate functions, sorts (except of an aggregation
// in complete mode), limits, INTERSECT and EXCEPT (as in Spark), complete
// mode without an aggregation,
// append mode with an aggregation but no watermark, and outer joins of
// streams without time bounds.
//
// # State
//
// A stateful operator (an aggregation, a deduplication, each side of a
// join) works on its state as an Arrow table in memory and keeps it in the query's state
// store (package state) under the checkpoint location:
//
//	<checkpoint>/state/metadata-0…0                  the number of state partitions
//	<checkpoint>/state/<operator>/schema             the state's columns and key columns
//	<checkpoint>/state/<operator>/<p>/delta-<v>      the keys put and deleted by version v
//	<checkpoint>/state/<operator>/<p>/snapshot-<v>   partition p's whole state at version v
//
// <operator> is the operator's id, its kind and its index among the
// query's stateful operators, those below first ("aggregate-0",
// "dedup-0", "join-1-left" and "join-1-right" for the two sides of a
// join). A row's key is its key columns (an
// aggregation's groups, every column of a deduplication), its value the
// other columns, both encoded with a canonical row format (integers,
// floats, bool, strings, binary, timestamps, dates, times, durations and
// nulls; Start rejects other column types with [ErrUnsupported]). The key
// picks the state partition: FNV-1a of the key's bytes with a fixed
// finaliser, modulo the number of partitions, the same in every process.
// State version v holds the state after batch v-1: version 0 is the empty
// state, so batch N loads version N and commits version N+1, whatever an
// earlier attempt of batch N left. Each batch writes, for every partition
// in parallel, only the rows that changed since the previous batch and the
// keys that left (evicted by the watermark); every
// [StateSnapshotInterval] versions (default 10) a partition writes a
// snapshot in the background, and files no longer needed for the last 100
// versions are removed. A restart loads the last committed version (the
// newest snapshot plus the deltas after it) and rebuilds the table,
// partition after partition in key order. A damaged state file stops the
// query with an error naming the file (a [*state.FileError]); a state
// written by a query with other state columns is refused at Start.
//
// The number of state partitions ([NumStatePartitions], default 4;
// dataframe's writer option numStatePartitions) is recorded at a query's
// first run: every key was routed by it, so a restart with another number
// fails at Start with an error that wraps [*state.PartitionCountMismatchError]
// and says to set the old number back or use a new checkpoint location.
// Progress reports each operator's rows and the state store's memory
// estimate (StateOperators' numRowsTotal and memoryUsedBytes).
//
// # Sources and sinks here
//
// [RateSource] (Spark's "rate": rows (timestamp, value) at a fixed rate,
// reached linearly over an optional ramp-up of whole seconds
// ([RateOptions].RampUpTime, option rampUpTime: second k of an s-second
// ramp has k/(s+1) of the rate), replayable across restarts), [RatePerBatchSource] ("rate-micro-batch":
// a fixed number of rows per batch, stamped per batch, the same in every
// run), [MemoryStream] (fed by the program, for
// tests), [SocketSource] (lines of a TCP server; not fault tolerant),
// [MemorySink] (rows kept in memory, a repeated batch replaces its rows),
// [FuncSink] (foreachBatch; at-least-once unless the function is
// idempotent by batch id). Connectors (connector/file, connector/kafka)
// provide others through the same interfaces; a source that keeps logs
// of its own ([MetadataSource]) gets <checkpoint>/sources/<i>, and a
// connector.Committer source is told the committed offsets after each
// batch and on restart.
//
// What a query reads is cut down before the source builds it: a
// [ColumnReadingSource] (the file source) builds only the columns the
// plan reads; an [AllocatingSource] (the rate source; a user's generator
// or decoder) also builds them with the batch's allocator, and gets the
// predicates of filters over it that it supports (plan.FilterSupport) to
// skip rows early (the query filters again; skipped rows count as
// input). When a batch's plans scan one source several times (a
// self-join's two sides, a union of a stream with itself), the scans
// share one read per range with the union of their columns and the OR of
// their predicates, and the rows are counted once.
//
// # Monitoring
//
// Each batch's progress ([metrics.QueryProgress], Spark's
// StreamingQueryProgress fields) is kept by the query (LastProgress,
// RecentProgress) and posted on the engine's bus with
// metrics.QueryStarted, QueryProgressed, QueryIdle and QueryTerminated.
// A source's progress counts the rows read and, for a source that parses
// records ([MalformedCountingSource]: the file source), the records the
// batch dropped as malformed (numDroppedMalformedRows; mode DROPMALFORMED
// of the json and csv formats — PERMISSIVE keeps them as rows of nulls,
// FAILFAST stops the query with an error naming the file and line).
// [Manager] tracks a session's queries: unique names among active ones,
// AwaitAnyTermination, ResetTerminated.
package streaming
