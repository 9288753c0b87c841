// Package kafka connects spate to Apache Kafka (and Kafka-compatible
// systems such as Redpanda) through franz-go, for both streaming APIs.
//
// # Source
//
// [Source] implements connector.Source[[Record]]: the engine owns the
// offsets; the source lists partitions and offsets and reads exact offset
// ranges. No consumer group is involved in reading (a group, if configured,
// only receives processed offsets through [Source.Commit], for monitoring
// tools).
//
//	src, err := kafka.NewSource(ctx,
//		kafka.Brokers("localhost:9092"),
//		kafka.Subscribe("events"),          // or SubscribePattern(`events-.*`), Assign(...)
//		kafka.StartingOffsets(kafka.Earliest()),
//		kafka.MaxOffsetsPerTrigger(100_000),
//	)
//	start, err := src.InitialOffsets(ctx)           // first run; on restart: the offset log
//	ranges, end, latest, err := connector.PlanBatch(ctx, src, start, src.Limits()) // DStreams: src.LimitsFor(interval)
//	ranges = connector.SplitRanges(ranges, src.MinPartitions())
//	for _, r := range ranges {                      // one task per range
//		err := src.Read(ctx, r, func(recs []kafka.Record) error { ...; return nil })
//	}
//	_ = src.Commit(ctx, end)                        // optional, for monitoring
//
// Behaviour the engine relies on:
//   - LatestOffsets refreshes metadata on every call (uncached), so new
//     partitions and, with SubscribePattern, new topics appear in the next
//     batch; connector.PlanBatch starts them at their earliest offset.
//     Subscribed topics that do not exist yet have no partitions.
//   - Read fetches from the partition leader with raw fetch requests and
//     franz-go's batch decoder, so it knows its exact position: offsets
//     without records (compaction, transaction markers, aborted records
//     under read_committed) are skipped, and a range that ends on a
//     transaction marker completes.
//   - Data loss: if offsets of a range were deleted (retention,
//     DeleteRecords, a recreated topic), Read returns a [*DataLossError]
//     naming the topic, partition and lost range; with failOnDataLoss=false
//     it continues at the first available offset and counts the loss in
//     [Source.Stats].
//   - Unreachable brokers: NewSource fails with an error wrapping
//     [ErrUnavailable] when the cluster does not answer within the API
//     timeout (kafka.default.api.timeout.ms, default 30s). During a run,
//     LatestOffsets and Read return such errors; Read never skips offsets
//     because of them, so the engine can fail or retry the batch, and the
//     retry reads the same range.
//   - With ReadCommitted (kafka.isolation.level=read_committed) the latest
//     offsets are the last stable offsets and reads skip aborted records.
//
// Batch reads use [Source.EndingOffsets] (endingOffsets, default latest):
// read [InitialOffsets, EndingOffsets).
//
// # DataFrame rows
//
// [Schema] is the Arrow schema of Kafka rows for Structured Streaming and
// batch reads (key, value, topic, partition, offset, timestamp,
// timestampType, and headers with includeHeaders), and [ArrowBuilder]
// appends the records emitted by Read to Arrow record batches of it.
//
// [ArrowSource] ([NewArrowSource], or [Provider.OpenArrowSource] from
// string options) is the Structured Streaming and batch DataFrame source:
// a Source whose Read emits Arrow batches of Schema (at most
// [ArrowBatchRows] rows each, allocated from [Allocator]; emit owns them),
// with the Source's offsets, limits, data-loss policy and Commit.
//
// [ArrowSink] ([NewArrowSink], or [Provider.OpenArrowSink]) is the
// Structured Streaming sink: it turns each row of the batches into a record
// and writes them with a Sink, with the Sink's delivery (exactly-once with
// kafka.transactional=true). Columns:
//
//	column     type                                            meaning
//	value      binary or string (large variants too)           required; null: a tombstone
//	key        binary or string                                optional; null: no key
//	topic      string                                          optional; null or "": option topic
//	partition  integer                                         optional; needs ExplicitPartitions(true)
//	headers    list<struct<key: string, value: binary|string>> optional
//	timestamp  timestamp (any unit)                            optional; other types are ignored
//
// Other columns are ignored, so rows read from Kafka can be written back
// as they are (with ExplicitPartitions, or after dropping partition).
//
// # Sink
//
// [Sink] implements connector.BatchSink[[]Record]. By default it uses the
// idempotent producer: no duplicates from producer retries, but a re-run
// batch is written again (at-least-once). With [Transactional] (option
// kafka.transactional=true) it is exactly-once:
//   - each AddBatch is one Kafka transaction, with transactional id
//     "spate-<queryID>-<sinkPartition>", so each sink partition (task) has
//     its own id, stable across restarts;
//   - NewSink initialises the producer id, which fences any older instance
//     with the same id and aborts its open transaction (a killed run leaves
//     no visible records);
//   - the batch id is recorded inside the same transaction, as the
//     committed offset (batchID+1) of a consumer group named after the
//     transactional id, on partition 0 of the batch's first topic;
//     NewSink reads it back (with RequireStable, so no pending transaction is
//     missed), and AddBatch skips batch ids at or below it;
//   - consumers reading with read_committed see every record exactly once.
//
// Spark's Kafka sink is at-least-once only; this one is exactly-once per
// sink partition. A batch written by several sink partitions commits one
// transaction per partition; a re-run commits only the partitions that had
// not committed.
//
// # Options
//
// Go programs use the functional options ([Brokers], [Subscribe], ...).
// The DataFrame layer passes Spark-style string options through
// [SourceOptions] and [SinkOptions], which validate them against
// [SourceSpec] and [SinkSpec]; errors are *connector.OptionError values that
// name the key, and unknown kafka.* keys list the supported ones. Keys match
// case-insensitively.
//
// Source options:
//
// <source options>
//
//	| option | meaning | default |
//	|---|---|---|
//	| `kafka.bootstrap.servers` | comma-separated seed brokers, host:port | required |
//	| `kafka.client.id` | client id sent to brokers | `spate` |
//	| `kafka.default.api.timeout.ms` | bound on the connection check at start and on each metadata, offset and fetch round trip; past it the call fails with ErrUnavailable | `30000` |
//	| `kafka.request.timeout.ms` | extra time allowed for a request on top of its own timeout (franz-go RequestTimeoutOverhead) | none |
//	| `kafka.socket.connection.setup.timeout.ms` | dial timeout per broker connection | none |
//	| `kafka.metadata.max.age.ms` | how often the client refreshes metadata on its own | none |
//	| `kafka.security.protocol` | PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL | `PLAINTEXT` |
//	| `kafka.sasl.mechanism` | PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL_ protocol) | `PLAIN` |
//	| `kafka.sasl.username` | SASL user name (instead of Java's sasl.jaas.config) | none |
//	| `kafka.sasl.password` | SASL password | none |
//	| `kafka.ssl.ca.location` | PEM file of CA certificates to trust (default: the system pool) | none |
//	| `kafka.ssl.certificate.location` | PEM client certificate for mutual TLS | none |
//	| `kafka.ssl.key.location` | PEM private key of the client certificate | none |
//	| `kafka.ssl.endpoint.identification.algorithm` | `https` verifies the broker host name; empty disables the check | `https` |
//	| `subscribe` | comma-separated topics to read (one of subscribe, subscribePattern, assign) | none |
//	| `subscribePattern` | Go regular expression matching whole topic names; new topics and partitions are picked up each trigger | none |
//	| `assign` | explicit partitions as JSON, {"topicA":[0,1],"topicB":[2]} | none |
//	| `startingOffsets` | where a new query starts: earliest, latest, or JSON {"topic":{"0":23,"1":-2}} (-2 earliest, -1 latest) | `latest` |
//	| `startingTimestamp` | milliseconds since the epoch: start each partition at its first record at or after it (overrides startingOffsets) | none |
//	| `endingOffsets` | makes the source bounded (batch reads): latest or JSON (-1 latest) | none |
//	| `maxOffsetsPerTrigger` | cap on offsets per batch over all partitions, split in proportion to lag | none |
//	| `minOffsetsPerTrigger` | defer a trigger until this many offsets are available (or maxTriggerDelay passed) | none |
//	| `maxTriggerDelay` | longest deferral by minOffsetsPerTrigger | `15m` |
//	| `maxRatePerPartition` | records per second per partition; a batch takes at most rate × batch interval from each partition (DStreams) | none |
//	| `minPartitions` | split large partition ranges so that a batch has at least this many tasks | none |
//	| `failOnDataLoss` | true: fail with *DataLossError when requested offsets were deleted; false: skip and count them | `true` |
//	| `includeHeaders` | fill record headers | `false` |
//	| `kafka.group.id` | consumer group that Commit records processed offsets in (monitoring only; never used to restart) | none |
//	| `kafka.isolation.level` | read_committed reads only committed transactional records | `read_uncommitted` |
//	| `kafka.fetch.max.wait.ms` | how long the broker may hold a fetch waiting for data | `500` |
//	| `kafka.fetch.max.bytes` | cap on one fetch response | `52428800` |
//	| `kafka.max.partition.fetch.bytes` | cap on one partition's data in a fetch | `1048576` |
//
// </source options>
//
// Sink options:
//
// <sink options>
//
//	| option | meaning | default |
//	|---|---|---|
//	| `kafka.bootstrap.servers` | comma-separated seed brokers, host:port | required |
//	| `kafka.client.id` | client id sent to brokers | `spate` |
//	| `kafka.default.api.timeout.ms` | bound on the connection check at start and on each metadata, offset and fetch round trip; past it the call fails with ErrUnavailable | `30000` |
//	| `kafka.request.timeout.ms` | extra time allowed for a request on top of its own timeout (franz-go RequestTimeoutOverhead) | none |
//	| `kafka.socket.connection.setup.timeout.ms` | dial timeout per broker connection | none |
//	| `kafka.metadata.max.age.ms` | how often the client refreshes metadata on its own | none |
//	| `kafka.security.protocol` | PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL | `PLAINTEXT` |
//	| `kafka.sasl.mechanism` | PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL_ protocol) | `PLAIN` |
//	| `kafka.sasl.username` | SASL user name (instead of Java's sasl.jaas.config) | none |
//	| `kafka.sasl.password` | SASL password | none |
//	| `kafka.ssl.ca.location` | PEM file of CA certificates to trust (default: the system pool) | none |
//	| `kafka.ssl.certificate.location` | PEM client certificate for mutual TLS | none |
//	| `kafka.ssl.key.location` | PEM private key of the client certificate | none |
//	| `kafka.ssl.endpoint.identification.algorithm` | `https` verifies the broker host name; empty disables the check | `https` |
//	| `topic` | topic for records that carry none | none |
//	| `kafka.transactional` | exactly-once: one transaction per batch and sink partition, repeated batch ids skipped | `false` |
//	| `kafka.transaction.timeout.ms` | broker-side timeout of one transaction | `60000` |
//	| `kafka.acks` | all (-1), 1 or 0 (0 disables idempotence) | `all` |
//	| `kafka.linger.ms` | producer linger | `0` |
//	| `kafka.compression.type` | none, gzip, snappy, lz4 or zstd | `none` |
//
// </sink options>
//
// # Embedded cluster
//
// [NewEmbedded] starts an in-process cluster that speaks the Kafka protocol
// (github.com/twmb/franz-go/pkg/kfake), so the Kafka path runs on a machine
// without Kafka (spate demo --kafka); the tests and examples run against it
// too. Pointing Brokers at a real Kafka or Redpanda is the only change.
package kafka
