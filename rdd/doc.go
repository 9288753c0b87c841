// Package rdd provides typed resilient distributed datasets on spate's
// execution core ([engine]): partitioned, immutable, lazily computed
// collections of Go values with Spark's RDD operations.
//
// # Model
//
// An [RDD] is defined by its parents, its number of partitions and a
// function that computes one partition. Transformations ([Map],
// [RDD.Filter], [ReduceByKey], ...) build new RDDs and run nothing;
// actions ([RDD.Collect], [RDD.Count], [RDD.SaveAsTextFile], ...) take a
// [context.Context] and run a job on the engine. The engine cuts the
// lineage into stages at shuffles; within a stage, chains of narrow
// operations run pipelined in one task per partition, passing chunks of
// up to 1024 records from operator to operator, so no operator
// materialises a partition and the per-record cost is a function call.
//
// Go methods cannot have type parameters, so transformations that change
// the element type are package functions (rdd.Map(r, f)) and those that
// keep it are methods (r.Filter(f)). Key-value operations work on
// RDD[Pair[K, V]]; build pairs with [KV].
//
//	ec, _ := engine.New()
//	defer ec.Close()
//	lines := rdd.Parallelize(ec, []string{"a b", "b c"}, 2)
//	words := rdd.FlatMap(lines, strings.Fields)
//	counts := rdd.ReduceByKey(rdd.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) }),
//		func(a, b int) int { return a + b })
//	pairs, err := counts.Collect(ctx)
//
// # Partitioning and shuffles
//
// By-key operations take [PartitionOption]s: [NumPartitions] or
// [WithPartitioner]. Without one they reuse a parent's partitioner or hash
// into as many partitions as the largest parent has. Keys are hashed with
// hash/maphash and the engine context's fixed seed ([HashPartitioner]), so
// a key lands in the same partition throughout a run. An RDD that is
// already partitioned the way an operation needs (after [PartitionBy] or a
// by-key operation with the same partitioner) is not shuffled again.
// [ReduceByKey], [AggregateByKey], [FoldByKey] and [CombineByKey] combine
// values on the map side before the shuffle; [GroupByKey] does not.
//
// # Errors
//
// Building an RDD never panics. A bad argument (a nil function, a
// partition count below 1, a missing input path) is recorded in the RDD,
// inherited by every RDD derived from it, and returned by [RDD.Err] and by
// every action, with a message naming the operation and the argument.
// Actions on a closed engine context return an error wrapping
// [engine.ErrClosed]. A user function that panics fails its job with an
// [engine.TaskPanicError] carrying the panic value and stack. Cancelling an
// action's context stops its tasks promptly; the action returns an error
// wrapping [context.Canceled].
//
// # Concurrency
//
// Functions passed to transformations and to [RDD.Foreach] run on worker
// goroutines, concurrently for different partitions; they must be safe
// for concurrent use and should not keep the chunks or sequences they are
// given beyond the call. RDDs themselves are safe for concurrent use, and
// several actions may run at once.
//
// # Persistence
//
// [RDD.Persist] (or [RDD.Cache]) keeps computed partitions in the engine's
// block cache until [RDD.Unpersist], until the RDD is garbage collected or
// until the engine context is closed. Shuffle outputs are likewise kept
// while the RDD that reads them is reachable, so a second action on the
// same RDD skips the map stages.
package rdd
