// Package connector is the plugin contract between spate's two streaming
// APIs (DStreams and Structured Streaming) and external systems. Connector
// implementations live in sub-packages (connector/kafka, connector/file, ...)
// and import only this package and lower layers.
//
// # Sources
//
// A replayable source ([Source]) is a set of partitions ([Partition]: a
// stream name and an index), each an append-only sequence addressed by int64
// offsets. The engine owns the positions: it keeps [Offsets] (per-partition
// next offsets) in its offset log and checkpoint, as JSON of the form
// {"topic":{"0":23,"1":-1}}, and asks the source only to report positions
// and to read ranges. One batch is one [OffsetRange] [From, Until) per
// partition; one range is one task (one RDD partition, one scan partition).
// A batch is therefore a pure function of its offset ranges: re-running it
// after a failure reads the same records.
//
// Lifecycle of a source in a streaming query:
//
//  1. The connector's constructor validates options (see [Spec]) and connects
//     (failing with a clear error if the system is unreachable).
//  2. First run: [OffsetSource.InitialOffsets] resolves the starting position.
//     Restart: the start is the end offsets of the last batch in the offset log.
//  3. Each trigger: [PlanBatch] calls [OffsetSource.LatestOffsets] (which
//     discovers new partitions), starts new partitions at
//     [OffsetSource.EarliestOffsets], and [PlanRanges] cuts the ranges to the
//     [Limits] (maxOffsetsPerTrigger split over partitions in proportion to
//     lag, a per-partition cap from a rate and the interval). [Limits.Ready]
//     tells whether to run the trigger at all (minOffsetsPerTrigger with
//     maxTriggerDelay). A partition whose latest offset fell below its start
//     (recreated) fails the plan with [ErrOffsetsRegressed], unless the
//     source tolerates data loss ([DataLossPolicy]). The engine logs the end
//     offsets, then
//  4. optionally splits large ranges for parallelism ([SplitRanges],
//     minPartitions), and runs one task per range, each calling
//     [Source.Read], which emits the records of exactly that range in
//     batches. Read may run concurrently for different ranges and may be
//     repeated.
//  5. After the sink committed the batch, [Committer.Commit] (optional)
//     reports the end offsets to the system for monitoring tools.
//  6. Close at stop.
//
// For a DStream (a direct stream), each batch interval is one such batch:
// Limits.MaxPerPartition = [RateCap](maxRatePerPartition or the
// backpressure rate, interval), one RDD partition per range, the ranges
// kept with the RDD so that output operations can store them with their
// results (Spark's HasOffsetRanges), and the end offsets in the checkpoint
// so that recovery re-reads the same ranges. For Structured Streaming the
// end offsets go to offsets/<batch> before the batch runs.
//
// Batch queries over a fixed range use [Bounded.EndingOffsets].
// [Progress] turns start, end and latest offsets into per-partition rows with
// lag, for progress reports.
//
// # Sinks
//
// A [BatchSink] receives each micro-batch's output with its batch id and
// must make a repeated batch id invisible (idempotent or transactional
// writes); see its documentation for the full contract. The batch data type
// is a type parameter, so that typed streams and Arrow-based DataFrames use
// the same contract.
//
// # Options and registry
//
// Connectors declare their string options as a [Spec] of [OptionSpec]
// (name, default, doc, required, validator). [Spec.Validate] resolves an
// Option(k, v) map, with errors ([*OptionError]) naming the key and, for
// unknown keys, listing the supported ones; [Spec.Markdown] renders the
// documentation table. A [Registry] maps format names to [Provider] values;
// programs fill it explicitly — nothing registers itself at init time.
//
// Push receivers (sources that are not replayable, such as sockets) are
// part of the dstream package's receiver API.
package connector
