package kafka

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
)

// DefaultArrowBatchRows is the most rows per batch an [ArrowSource] emits
// unless [ArrowBatchRows] says otherwise.
const DefaultArrowBatchRows = 8192

// Allocator sets the allocator of the Arrow batches an [ArrowSource]
// emits and of the builders an [ArrowSink] uses. Default:
// memory.DefaultAllocator.
func Allocator(mem memory.Allocator) Option { return func(c *config) { c.alloc = mem } }

// ArrowBatchRows sets the most rows per batch an [ArrowSource] emits.
// Default: 8192 ([DefaultArrowBatchRows]).
func ArrowBatchRows(n int) Option { return func(c *config) { c.batchRows = n } }

// ArrowSource is a [Source] whose Read emits Arrow record batches of
// [Schema] (key, value, topic, partition, offset, timestamp, timestampType,
// and headers with IncludeHeaders): the Structured Streaming and batch
// DataFrame source "kafka". Offsets, limits, data-loss handling and Commit
// are the wrapped Source's. It is safe for concurrent use.
type ArrowSource struct {
	src       *Source
	schema    *arrow.Schema
	alloc     memory.Allocator
	batchRows int
}

var (
	_ connector.Source[arrow.RecordBatch] = (*ArrowSource)(nil)
	_ connector.Committer                 = (*ArrowSource)(nil)
	_ connector.Bounded                   = (*ArrowSource)(nil)
	_ connector.DataLossPolicy            = (*ArrowSource)(nil)
)

// NewArrowSource builds a Source with NewSource (same options, same
// validation and connection check) and wraps it. [Allocator] and
// [ArrowBatchRows] configure the batches.
func NewArrowSource(ctx context.Context, opts ...Option) (*ArrowSource, error) {
	src, err := NewSource(ctx, opts...)
	if err != nil {
		return nil, err
	}
	a, err := WrapArrow(src)
	if err != nil {
		src.Close()
		return nil, err
	}
	return a, nil
}

// WrapArrow returns an ArrowSource reading through src; closing it closes
// src.
func WrapArrow(src *Source) (*ArrowSource, error) {
	a := &ArrowSource{src: src, schema: Schema(src.cfg.includeHeaders), alloc: src.cfg.alloc, batchRows: src.cfg.batchRows}
	if a.alloc == nil {
		a.alloc = memory.DefaultAllocator
	}
	if a.batchRows < 0 {
		return nil, fmt.Errorf("%w: ArrowBatchRows must be >= 0, got %d", ErrConfig, a.batchRows)
	}
	if a.batchRows == 0 {
		a.batchRows = DefaultArrowBatchRows
	}
	return a, nil
}

// Source returns the wrapped record source.
func (a *ArrowSource) Source() *Source { return a.src }

// Schema returns the schema of the emitted batches: Schema(includeHeaders).
func (a *ArrowSource) Schema() *arrow.Schema { return a.schema }

// Name describes the source in plans and progress reports:
// KafkaSource[subscribe=a,b], [subscribePattern=...] or [assign=...].
func (a *ArrowSource) Name() string {
	c := &a.src.cfg
	switch {
	case len(c.topics) > 0:
		return "KafkaSource[subscribe=" + strings.Join(c.topics, ",") + "]"
	case c.pattern != "":
		return "KafkaSource[subscribePattern=" + c.pattern + "]"
	}
	parts := make([]string, len(c.assign))
	for i, p := range c.assign {
		parts[i] = p.String()
	}
	return "KafkaSource[assign=" + strings.Join(parts, ",") + "]"
}

// Read implements connector.Source: the records of r as Arrow batches of
// at most ArrowBatchRows rows, each owned by emit (which must release it).
// Errors are the wrapped Source's (a *DataLossError, ErrUnavailable); an
// error from emit is returned unchanged.
func (a *ArrowSource) Read(ctx context.Context, r connector.OffsetRange, emit func([]arrow.RecordBatch) error) error {
	b := NewArrowBuilder(a.alloc, a.src.cfg.includeHeaders)
	defer b.Release()
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		full := b.Len() >= a.batchRows
		rec := b.NewRecordBatch()
		if full {
			b.reserveLike(rec, a.batchRows)
		}
		return emit([]arrow.RecordBatch{rec})
	}
	err := a.src.Read(ctx, r, func(recs []Record) error {
		for len(recs) > 0 {
			n := min(len(recs), a.batchRows-b.Len())
			b.Append(recs[:n])
			recs = recs[n:]
			if b.Len() >= a.batchRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// InitialOffsets implements connector.OffsetSource (see Source).
func (a *ArrowSource) InitialOffsets(ctx context.Context) (connector.Offsets, error) {
	return a.src.InitialOffsets(ctx)
}

// LatestOffsets implements connector.OffsetSource (see Source).
func (a *ArrowSource) LatestOffsets(ctx context.Context) (connector.Offsets, error) {
	return a.src.LatestOffsets(ctx)
}

// EarliestOffsets implements connector.OffsetSource (see Source).
func (a *ArrowSource) EarliestOffsets(ctx context.Context, parts []connector.Partition) (connector.Offsets, error) {
	return a.src.EarliestOffsets(ctx, parts)
}

// EndingOffsets implements connector.Bounded (see Source).
func (a *ArrowSource) EndingOffsets(ctx context.Context) (connector.Offsets, error) {
	return a.src.EndingOffsets(ctx)
}

// Commit implements connector.Committer (see Source).
func (a *ArrowSource) Commit(ctx context.Context, end connector.Offsets) error {
	return a.src.Commit(ctx, end)
}

// FailOnDataLoss implements connector.DataLossPolicy (see Source).
func (a *ArrowSource) FailOnDataLoss() bool { return a.src.FailOnDataLoss() }

// Limits returns the trigger limits (see Source.Limits).
func (a *ArrowSource) Limits() connector.Limits { return a.src.Limits() }

// LimitsFor returns the limits for a batch interval (see Source.LimitsFor).
func (a *ArrowSource) LimitsFor(interval time.Duration) connector.Limits {
	return a.src.LimitsFor(interval)
}

// MinPartitions returns the MinPartitions setting (see Source).
func (a *ArrowSource) MinPartitions() int { return a.src.MinPartitions() }

// Stats returns the wrapped Source's counters.
func (a *ArrowSource) Stats() Stats { return a.src.Stats() }

// Progress returns per-partition progress rows (see Source.Progress).
func (a *ArrowSource) Progress(start, end connector.Offsets) []connector.PartitionProgress {
	return a.src.Progress(start, end)
}

// Close closes the wrapped Source.
func (a *ArrowSource) Close() error { return a.src.Close() }

// OpenArrowSource builds an ArrowSource from Spark-style options
// (SourceOptions, then NewArrowSource); extra options (Allocator,
// ArrowBatchRows) are applied after them.
func (Provider) OpenArrowSource(ctx context.Context, opts map[string]string, extra ...Option) (*ArrowSource, error) {
	o, err := SourceOptions(opts)
	if err != nil {
		return nil, err
	}
	return NewArrowSource(ctx, append(o, extra...)...)
}

// reserveLike sizes the builder for a batch of rows rows shaped like prev,
// so that the key, value and topic buffers are not regrown by doubling in
// every batch.
func (b *ArrowBuilder) reserveLike(prev arrow.RecordBatch, rows int) {
	b.rb.Reserve(rows)
	b.key.ReserveData(binaryDataLen(prev.Column(0)))
	b.value.ReserveData(binaryDataLen(prev.Column(1)))
	b.topic.ReserveData(binaryDataLen(prev.Column(2)))
}

// binaryDataLen returns the value bytes of a binary or string array.
func binaryDataLen(a arrow.Array) int {
	if c, ok := a.(array.BinaryLike); ok {
		return len(c.ValueBytes())
	}
	return 0
}
