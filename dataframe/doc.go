// Package dataframe is spate's DataFrame API: queries over Apache Arrow
// record batches, planned by package plan, run by package exec on the same
// engine as RDDs and DStreams.
//
// # Sessions and DataFrames
//
// A [Session] ([NewSession]) holds an engine context, the allocator for
// query memory, the clock for current_timestamp() and the optimizer rules,
// plus the temporary views of [DataFrame.CreateOrReplaceTempView] and
// [Session.Table]. DataFrames come from Go values ([CreateDataFrame] for a
// slice of structs, [CreateDataFrameFromRDD], [CreateDataFrameFromBatches]),
// from files ([Session.Read]) and from views. A DataFrame is a logical plan
// plus its session: transformations (Select, Where/Filter, WithColumn,
// WithColumnRenamed, Drop, GroupBy(...).Agg/Count, OrderBy, Limit, Join,
// JoinUsing, CrossJoin, Union, Intersect, IntersectAll, Except, ExceptAll,
// Distinct, DropDuplicates, Alias, Cache; the [Broadcast] hint) return new
// DataFrames and run
// nothing; actions (Collect, [CollectAs], Count, Show, ForeachBatch,
// Write().Save) optimize, plan and run the query. A transformation given a
// bad argument returns a DataFrame carrying the error (an unknown column
// names the available ones); [DataFrame.Err] and every action return it.
//
// Columns are expressions: [Col], [Lit], operators as methods
// (Col("a").Plus(1).Gt(Col("b"))), and the functions of this package:
//
//	conditional  When(...).When(...).Otherwise(...), Coalesce, IsIn, Between, Like, Cast,
//	             IsNull, IsNotNull, Not
//	string       Lower, Upper, Trim, LTrim, RTrim, Substring, Concat, Length, Split,
//	             RegexpExtract, RegexpReplace
//	time         ToTimestamp, FromUnixtime, UnixTimestamp, DateTrunc, Year, Month,
//	             DayOfMonth, Hour, Minute, CurrentTimestamp, TimestampSeconds,
//	             TimestampMillis, TimestampMicros, UnixSeconds, UnixMillis, UnixMicros
//	math         Abs, Round, Floor, Ceil, Sqrt, Pow
//	aggregate    Count, CountAll, CountDistinct, Sum, Avg, Min, Max, First, Last,
//	             CollectList
//
// Nulls follow SQL's three-valued logic; division by zero is null;
// integer overflow wraps (see package expr).
//
// # Go values
//
// [CreateDataFrame] maps exported struct fields to columns, named by a
// `spate:"name"` tag or the field name (`spate:"-"` skips one): integers
// to long/integer/short/byte, floats to double/float, string, bool,
// time.Time to a UTC microsecond timestamp, []byte to binary, other slices
// to arrays; pointer and slice fields are nullable. [CollectAs] converts
// rows back, matching columns to fields by name.
//
// # Files
//
// session.Read().Format(f).Option(k, v).Schema(s).Load(path) and
// df.Write().Format(f).Mode(m).Option(k, v).PartitionBy(cols...).Save(ctx,
// path) read and write csv, json (lines), parquet and text through package
// connector/file, whose documentation lists the options (CSV header,
// separator, PERMISSIVE/DROPMALFORMED/FAILFAST with a _corrupt_record
// column, ...). One partition per file, or per byte range of a large file
// (MaxPartitionBytes). Save modes: error (default),
// overwrite, append, ignore; output is committed atomically. Comparisons
// of a column with a literal are pushed into Parquet scans, which skip row
// groups by their statistics. An unknown format gives an error listing the
// supported ones.
//
// # Configuration
//
//	option                   meaning                                              default
//	WithAllocator            allocator of query memory                            memory.DefaultAllocator
//	WithClock                clock of current_timestamp()                         the engine's clock
//	ShufflePartitions        partitions after a shuffle                           engine slots
//	BroadcastRowThreshold    largest known row count of a broadcast join side     100000
//	BatchRows                largest record batch operators emit                  65536
//	DefaultParallelism       partitions of CreateDataFrame(FromBatches)           engine slots
//	MaxPartitionBytes        bytes of a file one read partition covers            128 MiB
//	OptimizerRules           the optimizer's rules                                plan.DefaultRules()
//
// # Explain and Show
//
// [DataFrame.Explain] returns the analyzed, optimized and physical plans;
// [DataFrame.Show] prints rows in Spark's table format, and
// [DataFrame.PrintSchema] the schema as a tree.
//
// # SQL
//
// [Session.SQL] plans a query over the temporary views
// ([DataFrame.CreateOrReplaceTempView]) with package sql (PostgreSQL's
// parser; errors carry line and column); [DataFrame.SelectExpr] and
// [DataFrame.WhereExpr] take SQL expressions. A view of a streaming
// DataFrame makes the query's result streaming.
//
// # Streaming
//
// [Session.ReadStream] (formats rate, rate-micro-batch, socket, json, csv,
// parquet, text, kafka) and [Session.StreamFrom] (any
// streaming.Source, such as a streaming.MemoryStream) return streaming
// DataFrames; the same operations build an incremental query, which
// [DataFrame.WriteStream] starts (package streaming runs it: offset and
// commit logs in the checkpoint location, exactly-once restart, triggers,
// progress). Sinks: Format("memory") (a table named after the query,
// read with Session.Table), Format("console"), the file formats and
// kafka, ForeachBatch, Foreach (a row writer), or any streaming.Sink. Stateless operations and aggregations with count, sum,
// min, max and avg run incrementally, in update and complete modes, and
// in append mode with event time: [DataFrame.WithWatermark] on a
// timestamp column and GroupBy([Window](col, length[, slide]), ...)
// (tumbling or sliding windows; the output has window_start and
// window_end columns) or GroupBy([SessionWindow](col, gap), ...) (per
// key, events less than gap apart form a session, from the first event
// to the last plus gap; sessions in the state merge with new events)
// drop rows older than the watermark, evict finished windows from the
// state and, in append mode, write each window once, when the watermark
// passes its end. DropDuplicates and Distinct write each
// key once (keys older than a watermark on a key column are evicted);
// [DataFrame.DropDuplicatesWithinWatermark] keeps a key for the
// watermark's delay after its first row. [DataFrame.Join] of two streams
// (inner, left/right/full outer, append mode) buffers both sides and
// evicts rows once the watermark passes the time bound of the condition
// (TimestampAdd for ranges: Col("cts").Leq(TimestampAdd(Col("its"),
// time.Hour))); an aggregation may read a join or a deduplication, and
// an aggregation, a deduplication or a stream–stream join may read a
// windowed aggregation with a watermark (which then writes each window
// once, when final, whatever the output mode: GroupBy(Window(...),
// ...).Count() then GroupBy(Col("window_start"),
// Col("window_end")).Agg(Max(...)), and the counts joined with those
// maxima on the window's end). Intersect and Except (and their ALL forms)
// with a streaming side are rejected at Start with
// streaming.ErrUnsupported, as in Spark. Each query of a streaming DataFrame from
// ReadStream reads its own instance of the source (as Spark), closed when
// the query stops, so one DataFrame can feed several queries at once.
// [Session.Streams] lists the active queries; [Session.Close] stops them
// and closes the instances ReadStream opened that no query took (a
// socket's connection, a Kafka client). Batch actions on a streaming
// DataFrame fail with streaming.ErrStreamingSource. Window and SessionWindow also work on
// batch DataFrames.
// Package dataframe/streamtest tests streaming queries step by step
// (AddData, CheckAnswer, CheckNewAnswer, StopStream, StartStream,
// AdvanceManualClock, ExpectFailure), as Spark's testStream.
//
// # Not yet
//
// A join over a streaming aggregation's result, and spilling to disk (every operator keeps its partition's state in
// memory).
package dataframe
