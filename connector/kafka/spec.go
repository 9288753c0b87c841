package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/spate-io/spate/connector"
)

func common() []connector.OptionSpec {
	return []connector.OptionSpec{
		{Name: "kafka.bootstrap.servers", Required: true, Doc: "comma-separated seed brokers, host:port"},
		{Name: "kafka.client.id", Default: DefaultClientID, Doc: "client id sent to brokers"},
		{Name: "kafka.default.api.timeout.ms", Default: "30000", Doc: "bound on the connection check at start and on each metadata, offset and fetch round trip; past it the call fails with ErrUnavailable", Validate: connector.IntRange(1, 1<<31)},
		{Name: "kafka.request.timeout.ms", Doc: "extra time allowed for a request on top of its own timeout (franz-go RequestTimeoutOverhead)", Validate: connector.IntRange(1, 1<<31)},
		{Name: "kafka.socket.connection.setup.timeout.ms", Doc: "dial timeout per broker connection", Validate: connector.IntRange(1, 1<<31)},
		{Name: "kafka.metadata.max.age.ms", Doc: "how often the client refreshes metadata on its own", Validate: connector.IntRange(1, 1<<40)},
		{Name: "kafka.security.protocol", Default: "PLAINTEXT", Doc: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", Validate: connector.OneOf("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")},
		{Name: "kafka.sasl.mechanism", Default: "PLAIN", Doc: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL_ protocol)", Validate: connector.OneOf("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")},
		{Name: "kafka.sasl.username", Doc: "SASL user name (instead of Java's sasl.jaas.config)"},
		{Name: "kafka.sasl.password", Doc: "SASL password"},
		{Name: "kafka.ssl.ca.location", Doc: "PEM file of CA certificates to trust (default: the system pool)"},
		{Name: "kafka.ssl.certificate.location", Doc: "PEM client certificate for mutual TLS"},
		{Name: "kafka.ssl.key.location", Doc: "PEM private key of the client certificate"},
		{Name: "kafka.ssl.endpoint.identification.algorithm", Default: "https", Doc: "`https` verifies the broker host name; empty disables the check", Validate: connector.OneOf("https", "")},
	}
}

// SourceSpec returns the options of the kafka source (see the package
// documentation for the table).
func SourceSpec() *connector.Spec {
	opts := []connector.OptionSpec{
		{Name: "subscribe", Doc: "comma-separated topics to read (one of subscribe, subscribePattern, assign)"},
		{Name: "subscribePattern", Doc: "Go regular expression matching whole topic names; new topics and partitions are picked up each trigger", Validate: connector.IsRegexp},
		{Name: "assign", Doc: `explicit partitions as JSON, {"topicA":[0,1],"topicB":[2]}`, Validate: validAssign},
		{Name: "startingOffsets", Default: "latest", Doc: `where a new query starts: earliest, latest, or JSON {"topic":{"0":23,"1":-2}} (-2 earliest, -1 latest)`, Validate: validOffsets(true)},
		{Name: "startingTimestamp", Doc: "milliseconds since the epoch: start each partition at its first record at or after it (overrides startingOffsets)", Validate: connector.IntRange(0, 1<<62)},
		{Name: "endingOffsets", Doc: "makes the source bounded (batch reads): latest or JSON (-1 latest)", Validate: validOffsets(false)},
		{Name: "maxOffsetsPerTrigger", Doc: "cap on offsets per batch over all partitions, split in proportion to lag", Validate: connector.IntRange(1, 1<<62)},
		{Name: "minOffsetsPerTrigger", Doc: "defer a trigger until this many offsets are available (or maxTriggerDelay passed)", Validate: connector.IntRange(1, 1<<62)},
		{Name: "maxTriggerDelay", Default: "15m", Doc: "longest deferral by minOffsetsPerTrigger", Validate: connector.IsDuration},
		{Name: "maxRatePerPartition", Doc: "records per second per partition; a batch takes at most rate × batch interval from each partition (DStreams)", Validate: connector.FloatMin(0)},
		{Name: "minPartitions", Doc: "split large partition ranges so that a batch has at least this many tasks", Validate: connector.IntRange(1, 1<<31)},
		{Name: "failOnDataLoss", Default: "true", Doc: "true: fail with *DataLossError when requested offsets were deleted; false: skip and count them", Validate: connector.IsBool},
		{Name: "includeHeaders", Default: "false", Doc: "fill record headers", Validate: connector.IsBool},
		{Name: "kafka.group.id", Doc: "consumer group that Commit records processed offsets in (monitoring only; never used to restart)"},
		{Name: "kafka.isolation.level", Default: "read_uncommitted", Doc: "read_committed reads only committed transactional records", Validate: connector.OneOf("read_uncommitted", "read_committed")},
		{Name: "kafka.fetch.max.wait.ms", Default: "500", Doc: "how long the broker may hold a fetch waiting for data", Validate: connector.IntRange(0, 1<<31)},
		{Name: "kafka.fetch.max.bytes", Default: strconv.Itoa(DefaultFetchMaxBytes), Doc: "cap on one fetch response", Validate: connector.IntRange(1, 1<<31-1)},
		{Name: "kafka.max.partition.fetch.bytes", Default: strconv.Itoa(DefaultFetchMaxPartitionBytes), Doc: "cap on one partition's data in a fetch", Validate: connector.IntRange(1, 1<<31-1)},
	}
	return &connector.Spec{Connector: "kafka source", Options: append(common(), opts...)}
}

// SinkSpec returns the options of the kafka sink.
func SinkSpec() *connector.Spec {
	opts := []connector.OptionSpec{
		{Name: "topic", Doc: "topic for records that carry none"},
		{Name: "kafka.transactional", Default: "false", Doc: "exactly-once: one transaction per batch and sink partition, repeated batch ids skipped", Validate: connector.IsBool},
		{Name: "kafka.transaction.timeout.ms", Default: "60000", Doc: "broker-side timeout of one transaction", Validate: connector.IntRange(1, 1<<31)},
		{Name: "kafka.acks", Default: "all", Doc: "all (-1), 1 or 0 (0 disables idempotence)", Validate: connector.OneOf("all", "-1", "1", "0")},
		{Name: "kafka.linger.ms", Default: "0", Doc: "producer linger", Validate: connector.IntRange(0, 1<<31)},
		{Name: "kafka.compression.type", Default: "none", Doc: "none, gzip, snappy, lz4 or zstd", Validate: connector.OneOf("none", "gzip", "snappy", "lz4", "zstd")},
	}
	return &connector.Spec{Connector: "kafka sink", Options: append(common(), opts...)}
}

func validAssign(s string) error {
	_, err := parseAssign(s)
	return err
}

func parseAssign(s string) ([]connector.Partition, error) {
	var m map[string][]int32
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf(`want JSON such as {"topicA":[0,1]}: %w`, err)
	}
	var out []connector.Partition
	for t, ps := range m {
		for _, p := range ps {
			if p < 0 {
				return nil, fmt.Errorf("negative partition %d of %q", p, t)
			}
			out = append(out, connector.Partition{Stream: t, Index: p})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no partitions in %s", s)
	}
	slices.SortFunc(out, connector.Partition.Compare)
	return out, nil
}

func validOffsets(starting bool) func(string) error {
	return func(s string) error {
		_, err := parseOffsetSpec(s, starting)
		return err
	}
}

func parseOffsetSpec(s string, starting bool) (OffsetSpec, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "latest":
		return Latest(), nil
	case "earliest":
		if !starting {
			return OffsetSpec{}, fmt.Errorf("earliest is not a valid end; use latest or JSON offsets")
		}
		return Earliest(), nil
	}
	o, err := connector.ParseOffsets(s)
	if err != nil {
		return OffsetSpec{}, fmt.Errorf("want earliest, latest or JSON offsets: %w", err)
	}
	if !starting {
		for p, off := range o {
			if off == connector.OffsetEarliest {
				return OffsetSpec{}, fmt.Errorf("ending offset -2 (earliest) for %s is not allowed", p)
			}
		}
	}
	return Specific(o), nil
}

// SourceOptions validates Spark-style options for a source and converts
// them to Options. Errors are *connector.OptionError values naming the key;
// unknown kafka.* keys list the supported ones.
func SourceOptions(opts map[string]string) ([]Option, error) {
	spec := SourceSpec()
	v, err := spec.Validate(opts)
	if err != nil {
		return nil, err
	}
	out, err := commonOptions(spec, v)
	if err != nil {
		return nil, err
	}
	n := 0
	if t := v.String("subscribe"); t != "" {
		n++
		var topics []string
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				topics = append(topics, s)
			}
		}
		out = append(out, Subscribe(topics...))
	}
	if p := v.String("subscribePattern"); p != "" {
		n++
		out = append(out, SubscribePattern(p))
	}
	if a := v.String("assign"); a != "" {
		n++
		parts, _ := parseAssign(a)
		out = append(out, Assign(parts...))
	}
	if n != 1 {
		return nil, &connector.OptionError{Connector: spec.Connector, Key: "subscribe", Kind: connector.ErrInvalidOption,
			Err: fmt.Errorf("set exactly one of subscribe, subscribePattern, assign (got %d)", n)}
	}
	start, _ := parseOffsetSpec(v.String("startingOffsets"), true)
	if v.Has("startingTimestamp") {
		start = AtTime(time.UnixMilli(v.Int64("startingTimestamp")))
	}
	out = append(out, StartingOffsets(start))
	if e := v.String("endingOffsets"); e != "" {
		end, _ := parseOffsetSpec(e, false)
		out = append(out, EndingOffsets(end))
	}
	out = append(out,
		MaxOffsetsPerTrigger(v.Int64("maxOffsetsPerTrigger")),
		MinOffsetsPerTrigger(v.Int64("minOffsetsPerTrigger")),
		MaxTriggerDelay(v.Duration("maxTriggerDelay")),
		MaxRatePerPartition(v.Float("maxRatePerPartition")),
		MinPartitions(int(v.Int64("minPartitions"))),
		FailOnDataLoss(v.Bool("failOnDataLoss")),
		IncludeHeaders(v.Bool("includeHeaders")),
		GroupID(v.String("kafka.group.id")),
		ReadCommitted(v.String("kafka.isolation.level") == "read_committed"),
		FetchMaxWait(v.Millis("kafka.fetch.max.wait.ms")),
		FetchMaxBytes(int32(v.Int64("kafka.fetch.max.bytes"))),
		FetchMaxPartitionBytes(int32(v.Int64("kafka.max.partition.fetch.bytes"))),
	)
	return out, nil
}

// SinkOptions validates Spark-style options for a sink and converts them to
// Options. queryID and sinkPartition identify the writer for
// kafka.transactional=true (see Transactional).
func SinkOptions(opts map[string]string, queryID string, sinkPartition int) ([]Option, error) {
	spec := SinkSpec()
	v, err := spec.Validate(opts)
	if err != nil {
		return nil, err
	}
	out, err := commonOptions(spec, v)
	if err != nil {
		return nil, err
	}
	out = append(out, Topic(v.String("topic")), TransactionTimeout(v.Millis("kafka.transaction.timeout.ms")), Linger(v.Millis("kafka.linger.ms")))
	if v.Bool("kafka.transactional") {
		out = append(out, Transactional(queryID, sinkPartition))
	}
	switch v.String("kafka.acks") {
	case "1":
		out = append(out, Acks(1))
	case "0":
		out = append(out, Acks(0))
	}
	switch strings.ToLower(v.String("kafka.compression.type")) {
	case "gzip":
		out = append(out, Compression(kgo.GzipCompression()))
	case "snappy":
		out = append(out, Compression(kgo.SnappyCompression()))
	case "lz4":
		out = append(out, Compression(kgo.Lz4Compression()))
	case "zstd":
		out = append(out, Compression(kgo.ZstdCompression()))
	}
	return out, nil
}

func commonOptions(spec *connector.Spec, v connector.Values) ([]Option, error) {
	var brokers []string
	for _, b := range strings.Split(v.String("kafka.bootstrap.servers"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	out := []Option{Brokers(brokers...), ClientID(v.String("kafka.client.id")), APITimeout(v.Millis("kafka.default.api.timeout.ms"))}
	var raw []kgo.Opt
	if v.Has("kafka.request.timeout.ms") {
		raw = append(raw, kgo.RequestTimeoutOverhead(v.Millis("kafka.request.timeout.ms")))
	}
	if v.Has("kafka.socket.connection.setup.timeout.ms") {
		raw = append(raw, kgo.DialTimeout(v.Millis("kafka.socket.connection.setup.timeout.ms")))
	}
	if v.Has("kafka.metadata.max.age.ms") {
		raw = append(raw, kgo.MetadataMaxAge(v.Millis("kafka.metadata.max.age.ms")))
	}
	if len(raw) > 0 {
		out = append(out, KgoOptions(raw...))
	}
	bad := func(key string, err error) error {
		return &connector.OptionError{Connector: spec.Connector, Key: key, Value: v.String(key), Kind: connector.ErrInvalidOption, Err: err}
	}
	proto := strings.ToUpper(v.String("kafka.security.protocol"))
	if proto == "SSL" || proto == "SASL_SSL" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca := v.String("kafka.ssl.ca.location"); ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, bad("kafka.ssl.ca.location", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, bad("kafka.ssl.ca.location", fmt.Errorf("no PEM certificates in %s", ca))
			}
			cfg.RootCAs = pool
		}
		cert, key := v.String("kafka.ssl.certificate.location"), v.String("kafka.ssl.key.location")
		if (cert == "") != (key == "") {
			return nil, bad("kafka.ssl.key.location", fmt.Errorf("set both kafka.ssl.certificate.location and kafka.ssl.key.location"))
		}
		if cert != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, bad("kafka.ssl.certificate.location", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		if v.String("kafka.ssl.endpoint.identification.algorithm") == "" {
			cfg.InsecureSkipVerify = true // the user turned host name verification off explicitly
		}
		out = append(out, TLS(cfg))
	} else if v.String("kafka.ssl.ca.location") != "" || v.String("kafka.ssl.certificate.location") != "" {
		return nil, bad("kafka.security.protocol", fmt.Errorf("kafka.ssl.* options need SSL or SASL_SSL"))
	}
	if strings.HasPrefix(proto, "SASL_") {
		user, pass := v.String("kafka.sasl.username"), v.String("kafka.sasl.password")
		if user == "" {
			return nil, bad("kafka.sasl.username", fmt.Errorf("required with %s", proto))
		}
		switch strings.ToUpper(v.String("kafka.sasl.mechanism")) {
		case "PLAIN":
			out = append(out, SASL(plain.Plain(func(context.Context) (plain.Auth, error) {
				return plain.Auth{User: user, Pass: pass}, nil
			})))
		case "SCRAM-SHA-256":
			out = append(out, SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			out = append(out, SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		}
	} else if v.String("kafka.sasl.username") != "" {
		return nil, bad("kafka.security.protocol", fmt.Errorf("kafka.sasl.* options need SASL_PLAINTEXT or SASL_SSL"))
	}
	return out, nil
}

// Provider is the kafka connector's registry entry (connector.Provider).
type Provider struct{}

var _ connector.Provider = Provider{}

// Name returns "kafka".
func (Provider) Name() string { return "kafka" }

// Spec returns SourceSpec(); SinkSpec documents the sink.
func (Provider) Spec() *connector.Spec { return SourceSpec() }

// SinkSpec returns the sink options.
func (Provider) SinkSpec() *connector.Spec { return SinkSpec() }

// OpenSource builds a Source from Spark-style options (SourceOptions, then
// NewSource).
func (Provider) OpenSource(ctx context.Context, opts map[string]string) (*Source, error) {
	o, err := SourceOptions(opts)
	if err != nil {
		return nil, err
	}
	return NewSource(ctx, o...)
}

// OpenSink builds the Sink of one sink partition from Spark-style options
// (SinkOptions, then NewSink).
func (Provider) OpenSink(ctx context.Context, opts map[string]string, queryID string, sinkPartition int) (*Sink, error) {
	o, err := SinkOptions(opts, queryID, sinkPartition)
	if err != nil {
		return nil, err
	}
	return NewSink(ctx, o...)
}
