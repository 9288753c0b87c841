package connector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// OffsetSource is the offset-tracking half of a replayable source; it does
// not depend on the record type, so engines plan batches through it alone.
//
// Lifecycle: the engine creates the source (by the connector's constructor),
// then, for a new query, calls InitialOffsets once; on a restart it takes the
// start from its offset log instead. Before each batch it calls
// LatestOffsets, plans ranges with PlanBatch/PlanRanges, logs the end offsets,
// reads the ranges (Source.Read, possibly concurrently, possibly more than
// once after a failure), and after the batch committed calls Commit if the
// source implements Committer. Close is called once when the query stops.
// Every method that takes a context returns promptly with ctx.Err() (wrapped)
// when it is cancelled; no context outlives the call.
type OffsetSource interface {
	// InitialOffsets resolves the configured starting position (earliest,
	// latest, explicit offsets, a timestamp) into concrete offsets for every
	// partition that exists now.
	InitialOffsets(ctx context.Context) (Offsets, error)

	// LatestOffsets returns, for every partition that exists now, including
	// partitions created since the previous call, the offset one past the last
	// readable record. A source that cannot reach its system returns an error
	// and the engine retries or fails the trigger; it never invents offsets.
	LatestOffsets(ctx context.Context) (Offsets, error)

	// EarliestOffsets returns the first available offset of each given
	// partition. The engine uses it for partitions that appear after the
	// first batch: they are read from their beginning.
	EarliestOffsets(ctx context.Context, parts []Partition) (Offsets, error)

	// Close releases connections. It is called once; no other method is
	// called after it.
	Close() error
}

// Source is a replayable, partitioned source of records of type R.
//
// Read reads exactly the records of r: offsets in [r.From, r.Until) of one
// partition, in offset order, calling emit with consecutive batches of
// records. The slice passed to emit is only valid during the call (sources
// reuse it); emit may retain the records' payloads. Reading the same range
// twice yields the same records (replayability), unless the system deleted
// them, in which case the source reports data loss as it documents (for Kafka
// a *kafka.DataLossError). An error from emit stops the read and is returned
// unchanged. Read may be called concurrently for different ranges.
type Source[R any] interface {
	OffsetSource
	Read(ctx context.Context, r OffsetRange, emit func([]R) error) error
}

// Committer is implemented by sources that can record processed offsets in
// their system for monitoring tools (a Kafka consumer group). The engine calls
// Commit after a batch's output committed, with that batch's end offsets.
// Commit is advisory: its failure is reported but never fails the query, and
// sources without it simply skip the step. Offsets recorded by Commit are
// never used to restart: the engine's offset log is the truth.
type Committer interface {
	Commit(ctx context.Context, end Offsets) error
}

// Bounded is implemented by sources that support batch reads of a fixed
// range. EndingOffsets resolves the configured end (typically "latest" by
// default); a batch query reads [InitialOffsets, EndingOffsets) and stops.
// For sources without it, a batch query reads up to LatestOffsets.
type Bounded interface {
	EndingOffsets(ctx context.Context) (Offsets, error)
}

// Limits bounds the size of one batch and decides whether a trigger runs.
// The zero value means no limits.
type Limits struct {
	// MaxOffsetsPerTrigger caps the total offsets of a batch; the cap is
	// split over partitions in proportion to their lag. 0: no cap.
	MaxOffsetsPerTrigger int64
	// MaxPerPartition caps the offsets of each partition in a batch (a rate
	// per partition times the batch interval, see RateCap). 0: no cap.
	MaxPerPartition int64
	// MinOffsetsPerTrigger makes Ready report false until at least this many
	// offsets are available, unless MaxTriggerDelay has passed. 0: no minimum.
	MinOffsetsPerTrigger int64
	// MaxTriggerDelay is how long a trigger may be deferred waiting for
	// MinOffsetsPerTrigger. 0 with a minimum set: wait indefinitely.
	MaxTriggerDelay time.Duration
}

// Ready reports whether a batch should run with available offsets, given the
// time since the previous batch ran.
func (l Limits) Ready(available int64, sinceLast time.Duration) bool {
	if available <= 0 {
		return false
	}
	if l.MinOffsetsPerTrigger <= 0 || available >= l.MinOffsetsPerTrigger {
		return true
	}
	return l.MaxTriggerDelay > 0 && sinceLast >= l.MaxTriggerDelay
}

// RateCap converts a per-partition rate (records per second) and a batch
// interval into a per-partition cap for Limits.MaxPerPartition. A rate <= 0
// means no cap (0). The cap is at least 1 so that a slow rate still moves.
func RateCap(recordsPerSecond float64, interval time.Duration) int64 {
	if recordsPerSecond <= 0 || interval <= 0 {
		return 0
	}
	v := recordsPerSecond * interval.Seconds()
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return max(1, int64(v))
}

// ErrOffsetsRegressed reports a partition whose latest offset is below the
// batch start: the system lost or recreated the partition.
var ErrOffsetsRegressed = errors.New("connector: latest offset is below the start offset")

// PlanRanges plans one batch: for each partition of latest, the range from
// start[p] towards latest[p], capped by lim. It returns the non-empty ranges
// in partition order and the end offsets of the batch (the next batch's
// start), which carry every partition of start and latest.
//
// Every partition of latest must be in start (resolve new partitions first,
// as PlanBatch does); partitions of start missing from latest keep their
// offset and get no range. Caps: each partition is first cut to
// MaxPerPartition; then, if the total exceeds MaxOffsetsPerTrigger, the cap
// is split in proportion to each partition's lag by the largest-remainder
// method, so the planned total is exactly the cap and ties go to the
// partitions that sort first. A partition with latest < start gives an error
// wrapping ErrOffsetsRegressed.
func PlanRanges(start, latest Offsets, lim Limits) ([]OffsetRange, Offsets, error) {
	parts := latest.Partitions()
	lags := make([]int64, len(parts))
	var total int64
	for i, p := range parts {
		from, ok := start[p]
		if !ok {
			return nil, nil, fmt.Errorf("connector: plan: partition %s has no start offset", p)
		}
		until := latest[p]
		if until < from {
			return nil, nil, fmt.Errorf("%w: %s start %d, latest %d", ErrOffsetsRegressed, p, from, until)
		}
		lag := until - from
		if lim.MaxPerPartition > 0 {
			lag = min(lag, lim.MaxPerPartition)
		}
		lags[i] = lag
		total += lag
	}
	if lim.MaxOffsetsPerTrigger > 0 && total > lim.MaxOffsetsPerTrigger {
		prorate(lags, total, lim.MaxOffsetsPerTrigger)
	}
	end := start.Clone()
	if end == nil {
		end = make(Offsets, len(parts))
	}
	var ranges []OffsetRange
	for i, p := range parts {
		from := start[p]
		end[p] = from + lags[i]
		if lags[i] > 0 {
			ranges = append(ranges, OffsetRange{Partition: p, From: from, Until: from + lags[i]})
		}
	}
	return ranges, end, nil
}

// prorate scales lags (summing to total > limit) down to sum exactly to
// limit: each gets floor(limit*lag/total), and the leftover goes one by one
// to the largest remainders (ties to the earlier partition).
func prorate(lags []int64, total, limit int64) {
	type rem struct {
		i int
		r uint64
	}
	rems := make([]rem, len(lags))
	var assigned int64
	for i, lag := range lags {
		hi, lo := bits.Mul64(uint64(limit), uint64(lag))
		q, r := bits.Div64(hi, lo, uint64(total)) // hi < total since limit < total
		rems[i] = rem{i, r}
		lags[i] = int64(q)
		assigned += int64(q)
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.r, a.r) })
	for k := 0; assigned < limit && k < len(rems); k++ {
		lags[rems[k].i]++
		assigned++
	}
}

// DataLossPolicy is implemented by sources that let the user tolerate lost
// data (Kafka's failOnDataLoss=false). When FailOnDataLoss returns false,
// PlanBatch restarts a partition whose latest offset fell below the batch
// start (the partition was recreated) at its earliest offset instead of
// failing with ErrOffsetsRegressed. Without it, regressions fail.
type DataLossPolicy interface {
	FailOnDataLoss() bool
}

// PlanBatch asks src for its latest offsets, starts partitions that are new
// since start at their earliest offset, and plans the batch with PlanRanges.
// A partition whose latest offset is below its start fails the plan with
// ErrOffsetsRegressed unless src tolerates data loss (DataLossPolicy).
// It returns the ranges, the end offsets and the latest offsets (for
// progress reporting: lag = latest - end).
func PlanBatch(ctx context.Context, src OffsetSource, start Offsets, lim Limits) (ranges []OffsetRange, end, latest Offsets, err error) {
	latest, err = src.LatestOffsets(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	var fresh []Partition
	tolerate := false
	if dp, ok := src.(DataLossPolicy); ok {
		tolerate = !dp.FailOnDataLoss()
	}
	for _, p := range latest.Partitions() {
		if off, ok := start[p]; !ok || (tolerate && latest[p] < off) {
			fresh = append(fresh, p)
		}
	}
	from := start
	if len(fresh) > 0 {
		earliest, err := src.EarliestOffsets(ctx, fresh)
		if err != nil {
			return nil, nil, nil, err
		}
		from = start.Clone()
		if from == nil {
			from = make(Offsets)
		}
		for _, p := range fresh {
			off, ok := earliest[p]
			if !ok {
				return nil, nil, nil, fmt.Errorf("connector: plan: no earliest offset for new partition %s", p)
			}
			from[p] = min(off, latest[p])
		}
	}
	ranges, end, err = PlanRanges(from, latest, lim)
	if err != nil {
		return nil, nil, nil, err
	}
	return ranges, end, latest, nil
}

// PartitionProgress describes one partition in a batch, for progress reports.
type PartitionProgress struct {
	Partition Partition `json:"partition"`
	Start     int64     `json:"startOffset"`
	End       int64     `json:"endOffset"`
	Latest    int64     `json:"latestOffset"`
	// Lag is Latest - End: offsets available but not yet planned.
	Lag int64 `json:"lag"`
}

// Progress combines a batch's start, end and latest offsets into one row per
// partition of end, sorted. A partition missing from start counts from its
// end (no records); missing from latest, lag 0.
func Progress(start, end, latest Offsets) []PartitionProgress {
	out := make([]PartitionProgress, 0, len(end))
	for _, p := range end.Partitions() {
		e := end[p]
		s, ok := start[p]
		if !ok {
			s = e
		}
		l, ok := latest[p]
		if !ok {
			l = e
		}
		out = append(out, PartitionProgress{Partition: p, Start: s, End: e, Latest: l, Lag: max(0, l-e)})
	}
	return out
}

// SplitRanges splits ranges so that there are at least minPartitions of
// them (Spark's minPartitions), for parallelism when a source has fewer
// partitions than workers. Each range is cut into ceil(size ×
// minPartitions ÷ total size) pieces of near-equal size (at least one, never
// an empty one), so there are at least minPartitions pieces unless the
// ranges hold fewer offsets; the pieces of one range
// are consecutive and cover it exactly, so reading all of them reads the
// range. With minPartitions <= len(ranges) the input is returned unchanged.
func SplitRanges(ranges []OffsetRange, minPartitions int) []OffsetRange {
	if minPartitions <= len(ranges) || len(ranges) == 0 {
		return ranges
	}
	var total int64
	for _, r := range ranges {
		total += r.Count()
	}
	if total == 0 {
		return ranges
	}
	out := make([]OffsetRange, 0, minPartitions+len(ranges))
	for _, r := range ranges {
		n := r.Count()
		if n == 0 {
			out = append(out, r)
			continue
		}
		hi, lo := bits.Mul64(uint64(n), uint64(minPartitions))
		q, rem := bits.Div64(hi, lo, uint64(total))
		if rem > 0 {
			q++ // round up, so that the pieces add up to at least minPartitions
		}
		pieces := max(1, min(int64(q), n))
		for i := range pieces {
			from := r.From + n*i/pieces
			until := r.From + n*(i+1)/pieces
			out = append(out, OffsetRange{Partition: r.Partition, From: from, Until: until})
		}
	}
	return out
}
