// Package engine is spate's execution core: it runs jobs of stages of
// tasks over partitions on a bounded pool of worker goroutines, with hash
// shuffles between stages and a cache for persisted partitions.
//
// The engine is not generic and knows nothing of RDDs, DStreams or
// DataFrames. A higher layer describes its data as a graph of [Node]s
// linked by [Dependency] values and hands the engine closures that compute
// a partition; the engine decides what runs where and when.
//
// # Jobs, stages and tasks
//
// [Context.RunJob] takes the node whose partitions an action needs. The
// DAG scheduler cuts the graph at every [ShuffleDependency]: the nodes
// reachable through [NarrowDependency] edges form one stage, whose tasks
// compute them pipelined, one task per partition. Each shuffle's parent
// side becomes a shuffle map stage. Parent stages run before their
// children (independent parents concurrently); the tasks of a stage run in
// parallel on the worker slots, which all jobs of a Context share.
//
// A stage is skipped when its output already exists: a shuffle map stage
// whose every map output is written (by an earlier job, for example), or
// the stages behind a persisted node whose partitions are all cached.
//
// # Shuffles and blocks
//
// A shuffle map task returns one opaque [Block] per reduce bucket; a
// reduce task reads its bucket from every map task with
// [TaskContext.ReadShuffle]. Blocks are whole partitions (for example a
// typed slice), never one interface value per record, so the engine adds
// no per-record cost. Shuffle outputs stay in memory until
// [Context.RemoveShuffle] or [Context.Close].
//
// # Failure and cancellation
//
// A task that returns an error fails its stage and job; the other tasks of
// the job are cancelled. A task that panics is recovered and fails the job
// with a [*TaskPanicError] holding the panic value and the stack; the
// process and other jobs keep running. Cancelling the context given to
// RunJob stops the job's tasks at their next check of the context and
// makes RunJob return the context's error ([context.Canceled]). Tasks are
// not retried: in one process a failure is almost always deterministic.
//
// # Events
//
// Every job, stage and task start and end is posted on the Context's
// [metrics.Bus] ([Context.Bus]) with durations and record counts.
package engine
