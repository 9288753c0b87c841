package dstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// DirectDStream is the stream of a replayable source read without
// receivers (see [DirectStream]).
type DirectDStream[R any] struct {
	*DStream[R]
	in *directInput[R]
}

// DirectStream returns a stream that reads a replayable, partitioned
// source (a connector.Source, such as kafka.Source) the way Spark's direct
// Kafka stream does: no receivers; each batch covers, per partition of the
// source, the offsets from where the previous batch ended to the latest
// offset when the batch is generated, and its RDD has one partition per
// source partition, which reads exactly that range when a job runs.
//
// The first batch starts at the source's initial offsets (its starting
// position option); partitions that appear later (new Kafka partitions or,
// with a pattern subscription, new topics) are read from their earliest
// offset. The ranges are capped by the source's own limits (Kafka's
// maxOffsetsPerTrigger), by [MaxRatePerPartition] × the batch interval per
// partition, and with [Backpressure] by the estimated rate shared among
// the partitions.
//
// The ranges of each batch are part of the checkpoint: after a restart
// with [GetOrCreate] the unfinished batches read the same ranges again,
// and the next batch continues where the last one generated ended, so
// nothing is read twice into different batches or skipped. Outputs that
// are idempotent by batch time, or that store [DirectDStream.OffsetRanges]
// with their data in one transaction, are then exactly once. An error
// from the source (an unreachable broker, data loss with failOnDataLoss)
// fails the batch and stops the context; a restart retries the same
// ranges. The stream does not close the source.
func DirectStream[R any](ssc *StreamingContext, src connector.Source[R]) *DirectDStream[R] {
	var bad error
	if src == nil {
		bad = errNil("source")
	}
	in := &directInput[R]{src: src, ranges: map[int64][]connector.OffsetRange{}, unrecorded: map[int64]directRecord{}, replayUntil: math.MinInt64}
	if l, ok := src.(interface{ Limits() connector.Limits }); ok {
		in.limits = l.Limits()
	}
	if ssc != nil && ssc.cfg.backpressure {
		in.limiter = &rateLimiter{clk: ssc.clock, rate: ssc.cfg.startRate}
		in.rates = &rateController{estimator: newPIDEstimator(ssc.cfg.pid, ssc.interval), limiter: in.limiter}
	}
	in.DStream = newStream(ssc, "DirectStream", intervalOf(ssc), nil, in.compute, bad)
	if in.err == nil {
		in.input = in
		ssc.addInput(in)
	}
	return &DirectDStream[R]{DStream: in.DStream, in: in}
}

// OffsetRanges returns the offset ranges batch t reads, one per source
// partition (Spark's HasOffsetRanges), for output operations that store
// them with their results. It returns nil for a batch the stream no
// longer remembers.
func (s *DirectDStream[R]) OffsetRanges(t time.Time) []connector.OffsetRange {
	if s == nil || s.in == nil {
		return nil
	}
	s.in.mu.Lock()
	defer s.in.mu.Unlock()
	return slices.Clone(s.in.ranges[t.UnixNano()])
}

// CommitOffsets reports ranges as processed to the source's system, for
// monitoring tools (for Kafka, the consumer group's committed offsets;
// Spark's commitAsync). Call it from an output operation after the batch's
// results are safely stored. It is advisory: spate restarts from its
// checkpoint, never from these offsets. Sources that cannot commit return
// an error.
func (s *DirectDStream[R]) CommitOffsets(ctx context.Context, ranges []connector.OffsetRange) error {
	if s == nil || s.in == nil || s.in.src == nil {
		return errors.New("dstream.CommitOffsets: the stream has no source")
	}
	c, ok := s.in.src.(connector.Committer)
	if !ok {
		return fmt.Errorf("dstream.CommitOffsets: the source %T cannot commit offsets", s.in.src)
	}
	end := connector.Offsets{}
	for _, r := range ranges {
		end[r.Partition] = max(end[r.Partition], r.Until)
	}
	return c.Commit(ctx, end)
}

// directInput is the input side of a DirectDStream.
type directInput[R any] struct {
	*DStream[R]
	src     connector.Source[R]
	limits  connector.Limits
	limiter *rateLimiter    // the backpressure rate; nil without
	rates   *rateController // nil without backpressure

	mu          sync.Mutex
	next        connector.Offsets                 // where the next batch starts; nil until the first
	ranges      map[int64][]connector.OffsetRange // by batch time, until forgotten
	unrecorded  map[int64]directRecord            // batches not yet in a metadata checkpoint
	replay      map[int64]directRecord            // after a recovery
	replayUntil int64
}

// directRecord is what one batch of a direct stream read.
type directRecord struct {
	Ranges []directRange `json:"ranges"`
}

type directRange struct {
	Stream string `json:"stream"`
	Index  int32  `json:"index"`
	From   int64  `json:"from"`
	Until  int64  `json:"until"`
}

// directProgress is where a direct stream's next batch starts.
type directProgress struct {
	Next connector.Offsets `json:"next"`
}

func (d *directInput[R]) compute(t time.Time) (*rdd.RDD[R], error) {
	tn := t.UnixNano()
	d.mu.Lock()
	rec, replayed := d.replay[tn]
	replayed = replayed || tn <= d.replayUntil
	d.mu.Unlock()
	var ranges []connector.OffsetRange
	if replayed {
		for _, r := range rec.Ranges {
			ranges = append(ranges, connector.OffsetRange{Partition: connector.Partition{Stream: r.Stream, Index: r.Index}, From: r.From, Until: r.Until})
		}
	} else {
		var err error
		if ranges, err = d.plan(); err != nil {
			return nil, err
		}
		rec := directRecord{}
		for _, r := range ranges {
			rec.Ranges = append(rec.Ranges, directRange{r.Partition.Stream, r.Partition.Index, r.From, r.Until})
		}
		d.mu.Lock()
		d.unrecorded[tn] = rec
		d.mu.Unlock()
	}
	d.mu.Lock()
	d.ranges[tn] = ranges
	d.mu.Unlock()
	src := d.src
	return rdd.FromFunc(d.ssc.ec, "DirectStream", len(ranges), func(ctx context.Context, part int, emit func([]R) error) error {
		return src.Read(ctx, ranges[part], emit)
	}), nil
}

// plan cuts the next batch's ranges and moves the start past them.
func (d *directInput[R]) plan() ([]connector.OffsetRange, error) {
	ctx := context.Background() // the source bounds its calls with its own timeouts
	d.mu.Lock()
	next := d.next
	d.mu.Unlock()
	if next == nil {
		var err error
		if next, err = d.src.InitialOffsets(ctx); err != nil {
			return nil, fmt.Errorf("resolving the starting offsets: %w", err)
		}
	}
	lim := d.limits
	capPer := connector.RateCap(d.ssc.cfg.maxRatePerPartition, d.ssc.interval)
	if d.limiter != nil && len(next) > 0 {
		if r := d.limiter.currentRate(); r > 0 {
			bp := connector.RateCap(r/float64(len(next)), d.ssc.interval)
			if capPer == 0 || bp < capPer {
				capPer = bp
			}
		}
	}
	if capPer > 0 && (lim.MaxPerPartition == 0 || capPer < lim.MaxPerPartition) {
		lim.MaxPerPartition = capPer
	}
	ranges, end, _, err := connector.PlanBatch(ctx, d.src, next, lim)
	if err != nil {
		return nil, fmt.Errorf("planning the batch's offset ranges: %w", err)
	}
	// One RDD partition per source partition, empty ones included, as
	// Spark's KafkaRDD.
	has := map[connector.Partition]bool{}
	for _, r := range ranges {
		has[r.Partition] = true
	}
	for _, p := range end.Partitions() {
		if !has[p] {
			ranges = append(ranges, connector.OffsetRange{Partition: p, From: end[p], Until: end[p]})
		}
	}
	slices.SortFunc(ranges, func(a, b connector.OffsetRange) int { return a.Partition.Compare(b.Partition) })
	d.mu.Lock()
	d.next = end
	d.mu.Unlock()
	return ranges, nil
}

func (d *directInput[R]) inputInfo(t time.Time) (metrics.InputInfo, bool) {
	d.mu.Lock()
	ranges := d.ranges[t.UnixNano()]
	d.mu.Unlock()
	var n int64
	desc := make([]string, 0, len(ranges))
	for _, r := range ranges {
		n += r.Count()
		desc = append(desc, r.String())
	}
	info := metrics.InputInfo{StreamID: d.id, Name: "DirectStream " + d.CheckpointName(), Records: n,
		Metadata: map[string]string{"offsets": strings.Join(desc, ",")}}
	if d.limiter != nil {
		info.RateLimit = d.limiter.currentRate()
	}
	if r := d.ssc.cfg.maxRatePerPartition; r > 0 && (info.RateLimit == 0 || r < info.RateLimit) {
		info.RateLimit = r
	}
	return info, true
}

func (d *directInput[R]) clearOld(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cutoff := t.Add(-d.remember).UnixNano()
	for at := range d.ranges {
		if at <= cutoff {
			delete(d.ranges, at)
		}
	}
}

func (d *directInput[R]) batchCompleted(info metrics.BatchInfo) {
	if d.rates != nil {
		d.rates.batchCompleted(info, d.id)
	}
}

func (d *directInput[R]) inputNode() *streamNode { return d.streamNode }

func (d *directInput[R]) takeRecords() (map[int64]json.RawMessage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[int64]json.RawMessage, len(d.unrecorded))
	for t, r := range d.unrecorded {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		out[t] = b
	}
	clear(d.unrecorded)
	return out, nil
}

func (d *directInput[R]) progress() (json.RawMessage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return json.Marshal(directProgress{Next: d.next})
}

func (d *directInput[R]) restore(_ *checkpointer, progress json.RawMessage, records map[int64]json.RawMessage, until time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(progress) > 0 {
		var p directProgress
		if err := json.Unmarshal(progress, &p); err != nil {
			return fmt.Errorf("progress: %w", err)
		}
		d.next = p.Next
	}
	d.replay = make(map[int64]directRecord, len(records))
	for t, raw := range records {
		var r directRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("batch %s: %w", formatBatchTime(time.Unix(0, t)), err)
		}
		d.replay[t] = r
	}
	d.replayUntil = until.UnixNano()
	return nil
}

func (d *directInput[R]) forget(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for at := range d.replay {
		if at <= t.UnixNano() {
			delete(d.replay, at)
		}
	}
}
