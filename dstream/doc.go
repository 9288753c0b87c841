// Package dstream is spate's discretized streams: Spark Streaming's model
// in Go. A live stream is cut into batches of a fixed interval; each batch
// is an [rdd.RDD], and every interval a few small deterministic batch jobs
// run on the engine.
//
// # Model
//
// A [DStream] is defined by its parent streams, its slide interval and a
// function that computes the RDD for a batch time. Generated RDDs are
// cached by time and forgotten once they are older than the stream's
// remember duration (its slide, or longer where a window or
// [StreamingContext.Remember] needs it). Transformations ([Map],
// [DStream.Filter], [ReduceByKey], [Transform], ...) build the graph;
// output operations ([DStream.ForeachRDD], [DStream.Print],
// [DStream.SaveAsTextFiles]) register what runs for every batch. The graph
// is validated by [StreamingContext.Start] (slide intervals must be
// multiples of the batch interval, at least one output operation must
// exist) and cannot change afterwards.
//
// Type-changing transformations are package functions (dstream.Map(s, f))
// and same-type ones are methods (s.Filter(f)), as in package rdd.
//
// # Running
//
// A job generator fires on the context's clock every batch interval: the
// batch at time t (the k-th batch runs at k intervals after the start
// time, aligned to the interval) takes the data received since the
// previous batch, builds one job per output operation and queues them. A
// job scheduler runs queued batches in time order, ConcurrentJobs jobs at
// a time (default 1): a slow batch delays the next (scheduling delay)
// rather than overlapping it. A batch with no input still runs its output
// operations, on empty RDDs.
//
// A failing output operation (an error or a panic) stops the context, as
// Spark does; [StreamingContext.AwaitTermination] returns that error. A
// function passed to [Transform] runs while the batch is generated; a
// panic there stops the context too, with a [*PanicError].
//
// # Inputs
//
// [QueueStream] and [ConstantInputStream] feed prepared RDDs (for tests).
// [SocketTextStream] reads lines from a TCP server; [TextFileStream]
// reads new files of a directory; [ReceiverStream] runs a custom
// [Receiver]; [DirectStream] reads a replayable partitioned source (a
// connector.Source such as Kafka's) without receivers, one offset range
// and one RDD partition per source partition and batch. Receivers store records through a [ReceiverHandle]; a block
// generator cuts them into blocks every block interval (default 200ms)
// and each batch gets the blocks stored since the previous batch, one RDD
// partition per block. Receivers run in goroutines supervised by the
// context, which restarts them on request.
//
// # Windows and state
//
// [DStream.Window] and the windowed reductions ([DStream.CountByWindow],
// [DStream.ReduceByWindow], [ReduceByWindowInv], [ReduceByKeyAndWindow],
// [ReduceByKeyAndWindowInv], [CountByValueAndWindow],
// [GroupByKeyAndWindow]) cover the batches in (t − window, t] at every
// multiple t of their slide. The inverse forms compute each window from
// the previous one (which they reuse as cached data, so lineage does not
// grow), at a cost that depends on the slide, not on the window length.
// [UpdateStateByKey] and [MapWithState] keep a state per key in a fixed
// number of partitions, versioned by batch time. Stateful streams need a
// checkpoint directory ([StreamingContext.Checkpoint]), see Fault
// tolerance.
//
// # Fault tolerance
//
// With a checkpoint directory ([StreamingContext.Checkpoint]) the context
// writes, through package checkpoint (atomic writes, a CRC-32C per file,
// a versioned header):
//
//   - a metadata checkpoint after every batch is generated (before its
//     jobs run) and after it completes: the batch interval, the time
//     batches are counted from, the last completed batch, the batches
//     generated and not completed, the complete state checkpoints, and
//     per input what each recent batch read (the files and line ranges of
//     a TextFileStream, the write-ahead log blocks of a receiver) and its
//     position (files seen, files in progress);
//   - the state of stateful streams (UpdateStateByKey, MapWithState, and
//     the windows of ReduceByKeyAndWindowInv, each built from the
//     previous one) per partition, every checkpoint interval
//     ([DStream.Checkpoint]; default the smallest multiple of the slide
//     ≥ 10 s), in state/<name>/<partition>/. The batch encodes its
//     partition and goes on; writing happens in the background.
//     MapWithState writes incremental checkpoints: every 20th holds the
//     whole state (encoded over the batches of the interval before it),
//     the others only the keys changed (or removed) since the previous
//     one, unless those since the last full one outnumber twice the keys
//     or the context has just been restored. The last 3 complete
//     checkpoints, and what they need, are kept.
//
// [GetOrCreate] resumes a program from the directory: create builds the
// graph again (Go cannot serialise functions), stateful streams and
// inputs are matched to the checkpoint by name ([DStream.Name], or
// "Op#k" derived from the order of creation), the state of the newest
// complete checkpoint is restored, and the batches after it are re-run
// with the input they had: the ones that had completed only as far as
// their state goes, the others fully. A graph that does not match is an
// error listing the differences ([ErrGraphMismatch]); a damaged file is
// an error naming it, or, with [RecoverFromOlderCheckpoint], a fall back
// to an older checkpoint. The state codecs ([Codec], StateSpec.KeyCodec
// and StateCodec, [StateCodecs]) are checked at Start.
//
// With [WriteAheadLog], receivers' blocks are written to a log in the
// checkpoint directory and fsynced before a batch takes them;
// [ReceiverHandle.StoreReliably] returns once its records are durable,
// so a receiver may acknowledge its source. On recovery the blocks of
// re-run batches are read back from the log and blocks no batch took go
// to the next batch. Segments no recovery can need are deleted.
//
// Exactly-once output: a batch re-run after a failure gets the same batch
// time and the same input, so an output that is idempotent by batch time
// is written exactly once. [DStream.SaveAsTextFiles] writes each batch's
// directory atomically and skips a batch whose directory exists. For
// [DStream.ForeachRDD], key the write by the batch time (a file or row
// per batch time, or the time stored in the same transaction as the data
// and checked first). [QueueStream] cannot be recovered (its RDDs are
// not replayable); receivers without the log lose the records of the
// batches that had not completed, and say so in the log.
//
// A test in this package runs a program over files and a reliable socket
// source in a subprocess, kills it with SIGKILL at random moments 20
// times (go test -run TestCrashRecovery -crash.kills=N -crash.seed=S for
// more), restarts it with GetOrCreate each time and checks every batch's
// output.
//
// # Rate control
//
// Receivers apply flow control in [ReceiverHandle.Store]: a static rate
// limit ([ReceiverMaxRate]), a bound on the records they hold
// ([ReceiverMaxPending]) and, with [Backpressure], a rate set after every
// batch by a PID estimator ([PIDConfig]). Store waits rather than drops,
// so a receiver reading a socket holds its sender back.
//
// # Events
//
// The context posts metrics.StreamingStarted, BatchSubmitted,
// BatchStarted, BatchCompleted, OutputOperationStarted,
// OutputOperationCompleted, ReceiverStarted, ReceiverError,
// ReceiverStopped and StreamingStopped on the engine's bus
// ([StreamingContext.AddListener]). metrics.BatchInfo carries each batch's
// records per input, scheduling delay, processing delay, total delay and
// per-output-operation durations and errors.
//
// # Testing
//
// Package dstreamtest runs a pipeline on a manual clock, batch by batch,
// and returns its output per batch.
package dstream
