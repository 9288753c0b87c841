// Package exec holds spate's physical operators for DataFrame queries and
// the planner that makes them from logical plans. Operators run as engine
// stages over partitions of Arrow record batches.
//
// # Operators
//
// Every [Operator] is an engine node. Operators linked by narrow
// dependencies run pipelined in one task, passing whole record batches
// (never rows) through [Emit] callbacks: [LocalScanExec], [ScanExec],
// [FilterProjectExec] (a vectorized filter then projection in one pass),
// [UnionExec] and the probe side of a broadcast join. Operators that need
// data from every partition cut a stage with an engine shuffle whose
// blocks are slices of record batches:
//
//   - [HashAggregateExec]: two-phase hash aggregation. Each map task
//     aggregates its partition into partial states per group, the states
//     are hash-partitioned by grouping key (Config.ShufflePartitions
//     buckets; one without keys), each reduce task merges them and
//     computes the final values. A single int64 or timestamp key uses a
//     map keyed by the value; other keys are encoded into bytes.
//   - [HashJoinExec]: a broadcast hash join when the right side's known
//     row count is at most Config.BroadcastRowThreshold and the join type
//     allows (inner, left, semi, anti): the right side is gathered once
//     (a one-bucket shuffle) and hashed once per execution, and the left
//     side streams through without a shuffle. Otherwise a shuffle hash
//     join: both sides are hash-partitioned by key. Null keys never match;
//     the residual condition is evaluated on candidate pairs. A join
//     without equality keys is a nested loop join (broadcast, or both
//     sides gathered into one partition), probed in slices of at most 1M
//     candidate pairs.
//   - [SortExec]: a range-partitioned sort. A sampling job (the engine
//     shuffle's Prepare hook) picks ShufflePartitions-1 bounds of the sort
//     keys; rows go to the partition of their range and each partition is
//     sorted, so the partitions in order are sorted. With a limit (top-k)
//     each map task keeps its top rows and one partition merges them.
//   - [SetOpExec]: INTERSECT and EXCEPT [ALL]. Both sides are
//     hash-partitioned by all their columns (for the DISTINCT forms after
//     dropping the rows each map task has already seen); each reduce task
//     counts its right rows per distinct row and streams its left rows
//     through the same key map, keeping a row's k-th copy by the counts.
//     Nulls compare equal here, unlike join keys.
//   - [LimitExec], [DedupExec].
//
// # Memory
//
// Every Arrow buffer an execution makes comes from [Context.Alloc]. An
// emitted batch is valid during the Emit call only; a consumer that keeps
// it retains it. Batches held by shuffle outputs and broadcast tables
// belong to the execution's [Context] and are released by
// [Context.Close], which also removes its shuffles. Tests run every
// operator under memory.NewCheckedAllocator and assert that nothing is
// left. Retain and Release stay inside this package and the connectors.
//
// # Invariants
//
// A physical plan is made per execution ([Plan] with a fresh [Context]),
// so shuffles are never shared between actions. Operators return errors
// (never panic) for bad data; the engine fails the job with the first
// task error.
package exec
