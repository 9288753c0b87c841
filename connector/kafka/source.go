package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/connector"
)

// Source reads Kafka partitions by offset ranges. It implements
// connector.Source[Record], connector.Committer and connector.Bounded. It is
// safe for concurrent use: several Reads (of different or equal ranges) may
// run at once. Positions are never stored in Kafka: the engine passes them in.
type Source struct {
	cfg     config
	pattern *regexp.Regexp
	cl      *kgo.Client
	adm     *kadm.Client
	decomp  kgo.Decompressor

	mu     sync.Mutex
	meta   map[string]topicMeta
	latest connector.Offsets
	lost   map[connector.Partition]int64

	recordsRead atomic.Int64
	lostTotal   atomic.Int64
}

type topicMeta struct {
	id      [16]byte
	leaders map[int32]int32
}

var (
	_ connector.Source[Record] = (*Source)(nil)
	_ connector.Committer      = (*Source)(nil)
	_ connector.Bounded        = (*Source)(nil)
	_ connector.DataLossPolicy = (*Source)(nil)
)

// NewSource validates the options, connects, and checks within the API
// timeout (APITimeout, kafka.default.api.timeout.ms; default 30s) that the
// cluster answers; if not, it returns an error wrapping ErrUnavailable. One
// of Subscribe, SubscribePattern and Assign is required, and Brokers.
func NewSource(ctx context.Context, opts ...Option) (*Source, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	s := &Source{cfg: cfg, meta: map[string]topicMeta{}, lost: map[connector.Partition]int64{}}
	if err := s.validate(); err != nil {
		return nil, err
	}
	kopts := append(cfg.clientOpts(), cfg.kgoExt...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s.cl = cl
	s.adm = kadm.NewClient(cl)
	s.decomp = kgo.DefaultDecompressor()
	if err := cfg.ping(ctx, s.cl); err != nil {
		cl.Close()
		return nil, err
	}
	return s, nil
}

func (s *Source) validate() error {
	c := &s.cfg
	if err := c.validateCommon(); err != nil {
		return err
	}
	n := 0
	if len(c.topics) > 0 {
		n++
	}
	if c.pattern != "" {
		n++
		re, err := regexp.Compile("^(?:" + c.pattern + ")$")
		if err != nil {
			return fmt.Errorf("%w: SubscribePattern %q: %w", ErrConfig, c.pattern, err)
		}
		s.pattern = re
	}
	if len(c.assign) > 0 {
		n++
	}
	if n != 1 {
		return fmt.Errorf("%w: set exactly one of Subscribe, SubscribePattern and Assign (subscribe, subscribePattern, assign); got %d", ErrConfig, n)
	}
	switch {
	case c.ending.kind == kindEarliest || c.ending.kind == kindTime:
		return fmt.Errorf("%w: EndingOffsets must be Latest or Specific, got %s", ErrConfig, c.ending)
	case c.limits.MaxOffsetsPerTrigger < 0 || c.limits.MinOffsetsPerTrigger < 0 || c.limits.MaxTriggerDelay < 0:
		return fmt.Errorf("%w: trigger limits must be >= 0, got %+v", ErrConfig, c.limits)
	case c.maxRatePerPartition < 0 || c.minPartitions < 0:
		return fmt.Errorf("%w: MaxRatePerPartition and MinPartitions must be >= 0", ErrConfig)
	case c.fetchMaxWait < 0 || c.fetchMaxBytes <= 0 || c.fetchMaxPartitionBytes <= 0:
		return fmt.Errorf("%w: fetch settings must be positive", ErrConfig)
	}
	if c.limits.MinOffsetsPerTrigger > 0 && c.limits.MaxTriggerDelay == 0 {
		c.limits.MaxTriggerDelay = 15 * time.Minute
	}
	return nil
}

// Limits returns the trigger limits configured by MaxOffsetsPerTrigger,
// MinOffsetsPerTrigger and MaxTriggerDelay, for connector.PlanBatch and
// Limits.Ready. A DStream adds its own per-partition rate cap
// (connector.RateCap) to MaxPerPartition.
func (s *Source) Limits() connector.Limits { return s.cfg.limits }

// LimitsFor returns Limits with MaxPerPartition set from
// MaxRatePerPartition and the batch interval (connector.RateCap); a DStream
// with backpressure lowers it further with its estimated rate.
func (s *Source) LimitsFor(interval time.Duration) connector.Limits {
	l := s.cfg.limits
	l.MaxPerPartition = connector.RateCap(s.cfg.maxRatePerPartition, interval)
	return l
}

// MinPartitions returns the MinPartitions setting (0: none); engines pass
// it to connector.SplitRanges after planning.
func (s *Source) MinPartitions() int { return s.cfg.minPartitions }

// FailOnDataLoss implements connector.DataLossPolicy: the FailOnDataLoss
// setting (failOnDataLoss). With false, connector.PlanBatch restarts a
// recreated partition (latest offset below the batch start) at its earliest
// offset.
func (s *Source) FailOnDataLoss() bool { return s.cfg.failOnDataLoss }

// Close closes the client. Reads in progress fail.
func (s *Source) Close() error {
	s.cl.Close()
	return nil
}

// Client returns the underlying franz-go client (for tools; do not close it).
func (s *Source) Client() *kgo.Client { return s.cl }

// Partitions refreshes metadata (uncached) and returns the partitions the
// source reads now, sorted: all partitions of the subscribed topics that
// exist, of the topics matching the pattern, or the assigned ones (an
// assigned partition that does not exist is an error).
func (s *Source) Partitions(ctx context.Context) ([]connector.Partition, error) {
	return s.partitions(ctx)
}

// partitions refreshes metadata and returns the partitions the source reads,
// sorted.
func (s *Source) partitions(ctx context.Context) ([]connector.Partition, error) {
	tctx, cancel := s.cfg.withTimeout(ctx)
	defer cancel()
	var topics []string
	switch {
	case len(s.cfg.topics) > 0:
		topics = s.cfg.topics
	case len(s.cfg.assign) > 0:
		for _, p := range s.cfg.assign {
			if !slices.Contains(topics, p.Stream) {
				topics = append(topics, p.Stream)
			}
		}
	}
	md, err := s.metadata(tctx, topics)
	if err != nil {
		return nil, s.cfg.wrapUnavailable(ctx, "metadata", err)
	}
	var parts []connector.Partition
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, td := range md.Topics {
		if td.Topic == nil {
			continue
		}
		name := *td.Topic
		if s.pattern != nil && (td.IsInternal || !s.pattern.MatchString(name)) {
			continue
		}
		if td.ErrorCode != 0 {
			err := kerr.ErrorForCode(td.ErrorCode)
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				continue // not created yet: no partitions
			}
			return nil, fmt.Errorf("kafka: metadata of topic %q: %w", name, err)
		}
		tm := topicMeta{id: td.TopicID, leaders: make(map[int32]int32, len(td.Partitions))}
		for _, pd := range td.Partitions {
			tm.leaders[pd.Partition] = pd.Leader
			if len(s.cfg.assign) == 0 {
				parts = append(parts, connector.Partition{Stream: name, Index: pd.Partition})
			}
		}
		s.meta[name] = tm
	}
	if len(s.cfg.assign) > 0 {
		for _, p := range s.cfg.assign {
			if _, ok := s.meta[p.Stream].leaders[p.Index]; !ok {
				return nil, fmt.Errorf("kafka: assigned partition %s does not exist", p)
			}
		}
		parts = slices.Clone(s.cfg.assign)
	}
	slices.SortFunc(parts, connector.Partition.Compare)
	return parts, nil
}

// metadata issues an uncached metadata request for topics (nil: all).
func (s *Source) metadata(ctx context.Context, topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	return boundedV(ctx, func(ctx context.Context) (*kmsg.MetadataResponse, error) { return req.RequestWith(ctx, s.cl) })
}

func streams(parts []connector.Partition) []string {
	var out []string
	for _, p := range parts {
		if len(out) == 0 || out[len(out)-1] != p.Stream {
			out = append(out, p.Stream)
		}
	}
	return slices.Compact(out)
}

type listKind int

const (
	listStart listKind = iota
	listEnd
)

// list returns the start or end offsets of parts (end: the last stable
// offset under read_committed).
func (s *Source) list(ctx context.Context, kind listKind, parts []connector.Partition) (connector.Offsets, error) {
	return s.listSkipping(ctx, kind, parts, false)
}

// listSkipping is list; with skip, partitions that fail with a retriable
// error (a new partition without a leader yet) are left out instead of
// failing the call.
func (s *Source) listSkipping(ctx context.Context, kind listKind, parts []connector.Partition, skip bool) (connector.Offsets, error) {
	out := make(connector.Offsets, len(parts))
	if len(parts) == 0 {
		return out, nil
	}
	tctx, cancel := s.cfg.withTimeout(ctx)
	defer cancel()
	var (
		lo  kadm.ListedOffsets
		err error
	)
	topics := streams(parts)
	lo, err = boundedV(tctx, func(ctx context.Context) (kadm.ListedOffsets, error) {
		switch {
		case kind == listStart:
			return s.adm.ListStartOffsets(ctx, topics...)
		case s.cfg.readCommitted:
			return s.adm.ListCommittedOffsets(ctx, topics...)
		}
		return s.adm.ListEndOffsets(ctx, topics...)
	})
	if err != nil {
		return nil, s.cfg.wrapUnavailable(ctx, "list offsets", err)
	}
	for _, p := range parts {
		l, ok := lo.Lookup(p.Stream, p.Index)
		if !ok {
			return nil, fmt.Errorf("kafka: list offsets: no answer for %s", p)
		}
		if l.Err != nil && skip && retriable(l.Err) {
			continue
		}
		if l.Err != nil {
			return nil, fmt.Errorf("kafka: list offsets of %s: %w", p, l.Err)
		}
		out[p] = l.Offset
	}
	return out, nil
}

// LatestOffsets implements connector.OffsetSource: the end offset (last
// stable offset with ReadCommitted) of every partition the source reads now,
// including new partitions and, with SubscribePattern, new topics. A
// partition that is momentarily unavailable (no leader during an election or
// right after creation) is left out of this answer: it gets no range in this
// batch and keeps its offset.
func (s *Source) LatestOffsets(ctx context.Context) (connector.Offsets, error) {
	parts, err := s.partitions(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.listSkipping(ctx, listEnd, parts, true)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.latest = o.Clone()
	s.mu.Unlock()
	return o, nil
}

// EarliestOffsets implements connector.OffsetSource: the log start offsets
// of parts.
func (s *Source) EarliestOffsets(ctx context.Context, parts []connector.Partition) (connector.Offsets, error) {
	return s.list(ctx, listStart, parts)
}

// InitialOffsets implements connector.OffsetSource: it resolves
// StartingOffsets (default latest) for every current partition. With
// Specific offsets every partition must be listed, and -2/-1 resolve to the
// partition's earliest/latest offset; with AtTime, a partition without a
// record at or after the time starts at its end.
func (s *Source) InitialOffsets(ctx context.Context) (connector.Offsets, error) {
	return s.resolve(ctx, s.cfg.starting, "startingOffsets")
}

// EndingOffsets implements connector.Bounded for batch reads: it resolves
// EndingOffsets (default latest). Streaming queries do not call it.
func (s *Source) EndingOffsets(ctx context.Context) (connector.Offsets, error) {
	return s.resolve(ctx, s.cfg.ending, "endingOffsets")
}

func (s *Source) resolve(ctx context.Context, spec OffsetSpec, what string) (connector.Offsets, error) {
	parts, err := s.partitions(ctx)
	if err != nil {
		return nil, err
	}
	switch spec.kind {
	case kindEarliest:
		return s.list(ctx, listStart, parts)
	case kindDefault, kindLatest:
		return s.list(ctx, listEnd, parts)
	case kindTime:
		return s.atTime(ctx, spec.at, parts)
	}
	var missing, extra []string
	for _, p := range parts {
		if _, ok := spec.offsets[p]; !ok {
			missing = append(missing, p.String())
		}
	}
	for _, p := range spec.offsets.Partitions() {
		if !slices.Contains(parts, p) {
			extra = append(extra, p.String())
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		return nil, fmt.Errorf("%w: %s must list exactly the source's partitions: missing %v, unknown %v", ErrConfig, what, missing, extra)
	}
	var early, late []connector.Partition
	for p, off := range spec.offsets {
		switch off {
		case connector.OffsetEarliest:
			early = append(early, p)
		case connector.OffsetLatest:
			late = append(late, p)
		}
	}
	out := spec.offsets.Clone()
	for _, set := range []struct {
		parts []connector.Partition
		kind  listKind
	}{{early, listStart}, {late, listEnd}} {
		if len(set.parts) == 0 {
			continue
		}
		slices.SortFunc(set.parts, connector.Partition.Compare)
		o, err := s.list(ctx, set.kind, set.parts)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, o)
	}
	return out, nil
}

func (s *Source) atTime(ctx context.Context, t time.Time, parts []connector.Partition) (connector.Offsets, error) {
	end, err := s.list(ctx, listEnd, parts)
	if err != nil {
		return nil, err
	}
	tctx, cancel := s.cfg.withTimeout(ctx)
	defer cancel()
	lo, err := boundedV(tctx, func(ctx context.Context) (kadm.ListedOffsets, error) {
		return s.adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), streams(parts)...)
	})
	if err != nil {
		return nil, s.cfg.wrapUnavailable(ctx, "list offsets by time", err)
	}
	out := make(connector.Offsets, len(parts))
	for _, p := range parts {
		l, ok := lo.Lookup(p.Stream, p.Index)
		switch {
		case !ok:
			return nil, fmt.Errorf("kafka: list offsets by time: no answer for %s", p)
		case l.Err != nil:
			return nil, fmt.Errorf("kafka: list offsets by time of %s: %w", p, l.Err)
		case l.Offset < 0 || l.Offset > end[p]:
			out[p] = end[p]
		default:
			out[p] = l.Offset
		}
	}
	return out, nil
}

// Commit implements connector.Committer: it records end in the consumer
// group set by GroupID (kafka.group.id), for monitoring tools such as
// kafka-consumer-groups; without a group it does nothing. The engine never
// restarts from these offsets.
func (s *Source) Commit(ctx context.Context, end connector.Offsets) error {
	if s.cfg.groupID == "" || len(end) == 0 {
		return nil
	}
	var os kadm.Offsets
	for p, off := range end {
		os.AddOffset(p.Stream, p.Index, off, -1)
	}
	tctx, cancel := s.cfg.withTimeout(ctx)
	defer cancel()
	resp, err := boundedV(tctx, func(ctx context.Context) (kadm.OffsetResponses, error) {
		return s.adm.CommitOffsets(ctx, s.cfg.groupID, os)
	})
	if err != nil {
		return s.cfg.wrapUnavailable(ctx, "commit offsets", err)
	}
	if err := resp.Error(); err != nil {
		return fmt.Errorf("kafka: commit offsets to group %q: %w", s.cfg.groupID, err)
	}
	return nil
}

// Stats is a snapshot of a source's counters.
type Stats struct {
	// RecordsRead counts records emitted by Read since the source was built.
	RecordsRead int64
	// LostRecords counts offsets skipped because Kafka had deleted them
	// (only with FailOnDataLoss(false)).
	LostRecords int64
	// LostByPartition splits LostRecords by partition.
	LostByPartition connector.Offsets
	// Latest is the result of the last LatestOffsets call.
	Latest connector.Offsets
}

// Stats returns the source's counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		RecordsRead:     s.recordsRead.Load(),
		LostRecords:     s.lostTotal.Load(),
		LostByPartition: maps.Clone(connector.Offsets(s.lost)),
		Latest:          s.latest.Clone(),
	}
}

// Progress returns per-partition start, end, latest offsets and lag of a
// batch, latest being the last LatestOffsets result.
func (s *Source) Progress(start, end connector.Offsets) []connector.PartitionProgress {
	s.mu.Lock()
	latest := s.latest
	s.mu.Unlock()
	return connector.Progress(start, end, latest)
}

func (s *Source) countLost(p connector.Partition, n int64) {
	s.mu.Lock()
	s.lost[p] += n
	s.mu.Unlock()
	s.lostTotal.Add(n)
}

// leader returns the leader and topic id of a partition, refreshing
// metadata if unknown or if refresh is set.
func (s *Source) leader(ctx context.Context, p connector.Partition, refresh bool) (int32, [16]byte, error) {
	if !refresh {
		s.mu.Lock()
		tm, ok := s.meta[p.Stream]
		l, lok := tm.leaders[p.Index]
		s.mu.Unlock()
		if ok && lok && l >= 0 {
			return l, tm.id, nil
		}
	}
	tctx, cancel := s.cfg.withTimeout(ctx)
	defer cancel()
	md, err := s.metadata(tctx, []string{p.Stream})
	if err != nil {
		return 0, [16]byte{}, s.cfg.wrapUnavailable(ctx, "metadata", err)
	}
	if len(md.Topics) != 1 {
		return 0, [16]byte{}, fmt.Errorf("kafka: metadata of %s: %d topics in the answer", p, len(md.Topics))
	}
	if code := md.Topics[0].ErrorCode; code != 0 {
		return 0, [16]byte{}, fmt.Errorf("kafka: metadata of %s: %w", p, kerr.ErrorForCode(code))
	}
	tm := topicMeta{id: md.Topics[0].TopicID, leaders: map[int32]int32{}}
	for _, pd := range md.Topics[0].Partitions {
		tm.leaders[pd.Partition] = pd.Leader
	}
	s.mu.Lock()
	s.meta[p.Stream] = tm
	s.mu.Unlock()
	l, ok := tm.leaders[p.Index]
	if !ok || l < 0 {
		return 0, [16]byte{}, fmt.Errorf("kafka: %s has no leader: %w", p, kerr.LeaderNotAvailable)
	}
	return l, tm.id, nil
}
