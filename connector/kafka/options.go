package kafka

import (
	"crypto/tls"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/spate-io/spate/connector"
)

// Defaults of the options.
const (
	// DefaultAPITimeout bounds each metadata/offset call and the connection
	// check at start (kafka.default.api.timeout.ms).
	DefaultAPITimeout = 30 * time.Second
	// DefaultFetchMaxWait is how long a fetch waits on the broker for data.
	DefaultFetchMaxWait = 500 * time.Millisecond
	// DefaultFetchMaxBytes caps one fetch response.
	DefaultFetchMaxBytes = 50 << 20
	// DefaultFetchMaxPartitionBytes caps the data of one partition in a fetch.
	DefaultFetchMaxPartitionBytes = 1 << 20
	// DefaultClientID is the client id sent to brokers.
	DefaultClientID = "spate"
	// DefaultTransactionTimeout is the broker-side timeout of one sink
	// transaction.
	DefaultTransactionTimeout = time.Minute
)

// OffsetSpec is a starting or ending position: earliest, latest, explicit
// per-partition offsets, or a timestamp. Build it with Earliest, Latest,
// Specific or AtTime; the zero value means "the default" (latest for
// starting, latest for ending).
type OffsetSpec struct {
	kind    offsetKind
	offsets connector.Offsets
	at      time.Time
}

type offsetKind int8

const (
	kindDefault offsetKind = iota
	kindEarliest
	kindLatest
	kindSpecific
	kindTime
)

// Earliest starts at (or, as an end, is invalid for) the first available
// offset of each partition.
func Earliest() OffsetSpec { return OffsetSpec{kind: kindEarliest} }

// Latest starts or ends at the end of each partition when resolved.
func Latest() OffsetSpec { return OffsetSpec{kind: kindLatest} }

// Specific uses explicit offsets; connector.OffsetEarliest (-2) and
// connector.OffsetLatest (-1) stand for the partition's first and end
// offsets. Every partition of the source must be listed.
func Specific(o connector.Offsets) OffsetSpec {
	return OffsetSpec{kind: kindSpecific, offsets: o.Clone()}
}

// AtTime starts each partition at its first record with a timestamp at or
// after t (the end of the partition if there is none).
func AtTime(t time.Time) OffsetSpec { return OffsetSpec{kind: kindTime, at: t} }

// String describes the spec as the option value would ("earliest", JSON...).
func (s OffsetSpec) String() string {
	switch s.kind {
	case kindEarliest:
		return "earliest"
	case kindSpecific:
		return s.offsets.String()
	case kindTime:
		return "timestamp " + s.at.UTC().Format(time.RFC3339Nano)
	}
	return "latest"
}

// config is shared by sources and sinks; each constructor validates the part
// that concerns it.
type config struct {
	brokers  []string
	clientID string

	topics  []string
	pattern string
	assign  []connector.Partition

	starting OffsetSpec
	ending   OffsetSpec
	limits   connector.Limits

	maxRatePerPartition float64
	minPartitions       int

	failOnDataLoss bool
	includeHeaders bool
	readCommitted  bool
	groupID        string

	apiTimeout             time.Duration
	fetchMaxWait           time.Duration
	fetchMaxBytes          int32
	fetchMaxPartitionBytes int32

	tls    *tls.Config
	sasl   sasl.Mechanism
	kgoExt []kgo.Opt

	// sink
	topic              string
	explicitPartitions bool
	transactional      bool
	queryID            string
	sinkPartition      int
	txnTimeout         time.Duration
	acks               int // -1 all, 0 none, 1 leader
	linger             time.Duration
	compression        []kgo.CompressionCodec

	// Arrow adapters (arrow_source.go)
	alloc     memory.Allocator
	batchRows int
}

func defaults() config {
	return config{
		clientID:               DefaultClientID,
		failOnDataLoss:         true,
		apiTimeout:             DefaultAPITimeout,
		fetchMaxWait:           DefaultFetchMaxWait,
		fetchMaxBytes:          DefaultFetchMaxBytes,
		fetchMaxPartitionBytes: DefaultFetchMaxPartitionBytes,
		txnTimeout:             DefaultTransactionTimeout,
		acks:                   -1,
	}
}

// Option configures a Source or a Sink. Options that concern only the other
// kind are ignored (SubscribePattern on a sink, Topic on a source).
type Option func(*config)

// Brokers sets the seed brokers ("host:port"); required.
func Brokers(addrs ...string) Option {
	return func(c *config) { c.brokers = append(c.brokers, addrs...) }
}

// ClientID sets the client id sent to brokers. Default: "spate".
func ClientID(id string) Option { return func(c *config) { c.clientID = id } }

// Subscribe reads all partitions of the given topics, including partitions
// added later. Exactly one of Subscribe, SubscribePattern and Assign is
// required for a source.
func Subscribe(topics ...string) Option {
	return func(c *config) { c.topics = append(c.topics, topics...) }
}

// SubscribePattern reads all partitions of every topic whose whole name
// matches the Go regular expression re, picking up new topics and partitions
// on each LatestOffsets.
func SubscribePattern(re string) Option { return func(c *config) { c.pattern = re } }

// Assign reads exactly the given partitions.
func Assign(parts ...connector.Partition) Option {
	return func(c *config) { c.assign = append(c.assign, parts...) }
}

// StartingOffsets sets where a new query starts. Default: Latest().
func StartingOffsets(s OffsetSpec) Option { return func(c *config) { c.starting = s } }

// EndingOffsets makes the source bounded: EndingOffsets resolves it (Latest
// or Specific). Default: unbounded.
func EndingOffsets(s OffsetSpec) Option { return func(c *config) { c.ending = s } }

// MaxOffsetsPerTrigger caps the offsets per batch over all partitions,
// split in proportion to lag. Default: no cap.
func MaxOffsetsPerTrigger(n int64) Option {
	return func(c *config) { c.limits.MaxOffsetsPerTrigger = n }
}

// MinOffsetsPerTrigger defers a trigger until n offsets are available or
// MaxTriggerDelay passed. Default: no minimum.
func MinOffsetsPerTrigger(n int64) Option {
	return func(c *config) { c.limits.MinOffsetsPerTrigger = n }
}

// MaxTriggerDelay bounds how long MinOffsetsPerTrigger defers a trigger.
// Default: 15 minutes when a minimum is set.
func MaxTriggerDelay(d time.Duration) Option {
	return func(c *config) { c.limits.MaxTriggerDelay = d }
}

// MaxRatePerPartition caps each partition at r records per second of batch
// interval (DStream's maxRatePerPartition): Source.LimitsFor(interval) turns
// it into Limits.MaxPerPartition. Default: no cap.
func MaxRatePerPartition(r float64) Option {
	return func(c *config) { c.maxRatePerPartition = r }
}

// MinPartitions asks for at least n ranges per batch, splitting large
// partition ranges (connector.SplitRanges); see Source.MinPartitions.
// Default: 0 (one range per Kafka partition).
func MinPartitions(n int) Option { return func(c *config) { c.minPartitions = n } }

// FailOnDataLoss chooses what Read does when requested offsets were deleted:
// true returns a *DataLossError, false skips them and counts them in Stats.
// Default: true.
func FailOnDataLoss(b bool) Option { return func(c *config) { c.failOnDataLoss = b } }

// IncludeHeaders makes Read fill Record.Headers. Default: false.
func IncludeHeaders(b bool) Option { return func(c *config) { c.includeHeaders = b } }

// ReadCommitted reads only committed transactional records and plans up to
// the last stable offset. Default: false (read_uncommitted, as Kafka).
func ReadCommitted(b bool) Option { return func(c *config) { c.readCommitted = b } }

// GroupID names the consumer group that Source.Commit records processed
// offsets in, for monitoring tools. Default: none (Commit does nothing).
func GroupID(g string) Option { return func(c *config) { c.groupID = g } }

// APITimeout bounds the connection check at construction and every
// metadata, offset-listing and fetch round trip; past it the call fails with
// ErrUnavailable. Default: 30s.
func APITimeout(d time.Duration) Option { return func(c *config) { c.apiTimeout = d } }

// FetchMaxWait is how long the broker may hold a fetch waiting for data.
// Default: 500ms.
func FetchMaxWait(d time.Duration) Option { return func(c *config) { c.fetchMaxWait = d } }

// FetchMaxBytes caps one fetch response. Default: 50 MiB.
func FetchMaxBytes(n int32) Option { return func(c *config) { c.fetchMaxBytes = n } }

// FetchMaxPartitionBytes caps one partition's data in a fetch. Default: 1 MiB.
func FetchMaxPartitionBytes(n int32) Option {
	return func(c *config) { c.fetchMaxPartitionBytes = n }
}

// TLS enables TLS with the given configuration.
func TLS(t *tls.Config) Option { return func(c *config) { c.tls = t } }

// SASL authenticates with a franz-go SASL mechanism (plain.Auth{...}.
// AsMechanism(), scram.Auth{...}.AsSha256Mechanism(), ...).
func SASL(m sasl.Mechanism) Option { return func(c *config) { c.sasl = m } }

// KgoOptions appends raw franz-go client options, applied last.
func KgoOptions(opts ...kgo.Opt) Option {
	return func(c *config) { c.kgoExt = append(c.kgoExt, opts...) }
}

// Topic sets the sink's topic for records whose Topic is empty.
func Topic(t string) Option { return func(c *config) { c.topic = t } }

// ExplicitPartitions makes the sink write each record to its Partition field
// instead of hashing its key. Default: false.
func ExplicitPartitions(b bool) Option { return func(c *config) { c.explicitPartitions = b } }

// Transactional makes the sink exactly-once: each AddBatch is one Kafka
// transaction with transactional id "spate-<queryID>-<sinkPartition>", and
// repeated batch ids are skipped. queryID must be stable across restarts of
// the query.
func Transactional(queryID string, sinkPartition int) Option {
	return func(c *config) {
		c.transactional = true
		c.queryID = queryID
		c.sinkPartition = sinkPartition
	}
}

// TransactionTimeout sets the broker-side timeout of a sink transaction; a
// sink that dies mid-batch has its transaction aborted after it, or at once
// when a new instance starts. Default: 1m.
func TransactionTimeout(d time.Duration) Option { return func(c *config) { c.txnTimeout = d } }

// Acks sets the producer acknowledgements: -1 (all in-sync replicas), 1
// (leader) or 0 (none; disables idempotence). Default: -1.
func Acks(n int) Option { return func(c *config) { c.acks = n } }

// Linger sets how long the producer waits to fill batches. Default: 0.
func Linger(d time.Duration) Option { return func(c *config) { c.linger = d } }

// Compression sets the producer's codec preference. Default: none.
func Compression(codecs ...kgo.CompressionCodec) Option {
	return func(c *config) { c.compression = codecs }
}
