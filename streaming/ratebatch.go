package streaming

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
)

// RatePerBatchOptions configures the rate-micro-batch source.
type RatePerBatchOptions struct {
	// RowsPerBatch is how many rows each batch gets; a multiple of
	// NumPartitions. Required.
	RowsPerBatch int64
	// NumPartitions spreads each batch's rows over partitions. Default: 1.
	NumPartitions int
	// StartTimestamp is the timestamp of the first batch's rows. Default:
	// the Unix epoch.
	StartTimestamp time.Time
	// AdvancePerBatch is how much later each batch's timestamp is than
	// the previous batch's. Default: 1s.
	AdvancePerBatch time.Duration
	// Alloc holds the batches' memory. Default: memory.DefaultAllocator.
	Alloc memory.Allocator
}

// RatePerBatchSource is Spark's "rate-micro-batch" source: every batch
// gets exactly RowsPerBatch rows (timestamp, value), values 0, 1, 2, ...,
// all rows of batch k stamped StartTimestamp + k × AdvancePerBatch. Unlike
// the rate source it does not depend on the clock, so a query over it
// gives the same batches in every run (for tests and benchmarks). It
// never runs dry: AvailableNow does not stop on it.
type RatePerBatchSource struct {
	o       RatePerBatchOptions
	perPart int64
}

var _ Source = (*RatePerBatchSource)(nil)

// NewRatePerBatchSource returns a rate-micro-batch source.
func NewRatePerBatchSource(o RatePerBatchOptions) (*RatePerBatchSource, error) {
	if o.NumPartitions == 0 {
		o.NumPartitions = 1
	}
	if o.AdvancePerBatch == 0 {
		o.AdvancePerBatch = time.Second
	}
	if o.Alloc == nil {
		o.Alloc = memory.DefaultAllocator
	}
	switch {
	case o.NumPartitions < 1:
		return nil, fmt.Errorf("streaming: rate-micro-batch: numPartitions must be at least 1, got %d", o.NumPartitions)
	case o.RowsPerBatch < 1 || o.RowsPerBatch%int64(o.NumPartitions) != 0:
		return nil, fmt.Errorf("streaming: rate-micro-batch: rowsPerBatch must be a positive multiple of numPartitions (%d), got %d", o.NumPartitions, o.RowsPerBatch)
	case o.AdvancePerBatch < 0:
		return nil, fmt.Errorf("streaming: rate-micro-batch: advanceMillisPerBatch must not be negative, got %v", o.AdvancePerBatch)
	}
	return &RatePerBatchSource{o: o, perPart: o.RowsPerBatch / int64(o.NumPartitions)}, nil
}

// Schema implements Source: the rate source's.
func (r *RatePerBatchSource) Schema() *arrow.Schema { return RateSchema }

// Name implements Source.
func (r *RatePerBatchSource) Name() string {
	return fmt.Sprintf("RatePerMicroBatchSource[rowsPerBatch=%d, numPartitions=%d]", r.o.RowsPerBatch, r.o.NumPartitions)
}

func (r *RatePerBatchSource) parts() connector.Offsets {
	o := connector.Offsets{}
	for i := range r.o.NumPartitions {
		o[connector.Partition{Stream: "rate", Index: int32(i)}] = 0
	}
	return o
}

// InitialOffsets implements connector.OffsetSource.
func (r *RatePerBatchSource) InitialOffsets(context.Context) (connector.Offsets, error) {
	return r.parts(), nil
}

// LatestOffsets implements connector.OffsetSource: unbounded; Limits
// cuts each batch to RowsPerBatch.
func (r *RatePerBatchSource) LatestOffsets(context.Context) (connector.Offsets, error) {
	o := r.parts()
	for p := range o {
		o[p] = math.MaxInt64 / 4
	}
	return o, nil
}

// EarliestOffsets implements connector.OffsetSource.
func (r *RatePerBatchSource) EarliestOffsets(_ context.Context, parts []connector.Partition) (connector.Offsets, error) {
	o := connector.Offsets{}
	for _, p := range parts {
		o[p] = 0
	}
	return o, nil
}

// Limits caps each partition to its share of a batch.
func (r *RatePerBatchSource) Limits() connector.Limits {
	return connector.Limits{MaxPerPartition: r.perPart}
}

// Read implements connector.Source.
func (r *RatePerBatchSource) Read(ctx context.Context, rg connector.OffsetRange, emit func([]arrow.RecordBatch) error) error {
	p, i := int64(r.o.NumPartitions), int64(rg.Partition.Index)
	if err := ctx.Err(); err != nil {
		return err
	}
	ts := array.NewTimestampBuilder(r.o.Alloc, RateSchema.Field(0).Type.(*arrow.TimestampType))
	vs := array.NewInt64Builder(r.o.Alloc)
	defer ts.Release()
	defer vs.Release()
	start := r.o.StartTimestamp.UnixMicro()
	for k := rg.From; k < rg.Until; k++ {
		batch := k / r.perPart
		ts.Append(arrow.Timestamp(start + batch*r.o.AdvancePerBatch.Microseconds()))
		vs.Append(batch*r.o.RowsPerBatch + (k%r.perPart)*p + i)
	}
	tsa, vsa := ts.NewArray(), vs.NewArray()
	b := array.NewRecordBatch(RateSchema, []arrow.Array{tsa, vsa}, rg.Until-rg.From)
	tsa.Release()
	vsa.Release()
	return emit([]arrow.RecordBatch{b})
}

// Close implements connector.OffsetSource.
func (r *RatePerBatchSource) Close() error { return nil }
