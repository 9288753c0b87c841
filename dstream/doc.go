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
// [Receiver]. Receivers store records through a [ReceiverHandle]; a block
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
// checkpoint directory ([StreamingContext.Checkpoint]).
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
