package streaming

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/expr"
)

// RateSchema is the schema of the rate source: the time each row became
// due and its sequence number.
var RateSchema = arrow.NewSchema([]arrow.Field{
	{Name: "timestamp", Type: expr.TimestampType},
	{Name: "value", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// RateOptions configures the rate source.
type RateOptions struct {
	// RowsPerSecond is how many rows become due per second. Default: 1.
	RowsPerSecond float64
	// NumPartitions spreads the rows over partitions (value v goes to
	// partition v mod NumPartitions). Default: 1.
	NumPartitions int
	// Clock decides when rows are due. Default: the system clock.
	Clock clock.Clock
	// Alloc holds the batches' memory. Default: memory.DefaultAllocator.
	Alloc memory.Allocator
}

// RateSource is Spark's "rate" source: rows (timestamp, value) with
// values 0, 1, 2, ... becoming due at RowsPerSecond from the query's first
// start. It is replayable: a row's value and timestamp depend only on its
// position and the start time, which the query keeps in its checkpoint.
type RateSource struct {
	opts RateOptions

	mu    sync.Mutex
	start time.Time // zero until the first InitialOffsets or Restore
}

var (
	_ Source         = (*RateSource)(nil)
	_ StatefulSource = (*RateSource)(nil)
)

// NewRateSource returns a rate source.
func NewRateSource(o RateOptions) (*RateSource, error) {
	if o.RowsPerSecond == 0 {
		o.RowsPerSecond = 1
	}
	if o.NumPartitions == 0 {
		o.NumPartitions = 1
	}
	if o.Clock == nil {
		o.Clock = clock.System()
	}
	if o.Alloc == nil {
		o.Alloc = memory.DefaultAllocator
	}
	switch {
	case o.RowsPerSecond < 0:
		return nil, fmt.Errorf("streaming: rate source: rowsPerSecond must be positive, got %v", o.RowsPerSecond)
	case o.NumPartitions < 0:
		return nil, fmt.Errorf("streaming: rate source: numPartitions must be at least 1, got %d", o.NumPartitions)
	}
	return &RateSource{opts: o}, nil
}

// Schema implements Source.
func (r *RateSource) Schema() *arrow.Schema { return RateSchema }

// Name implements Source.
func (r *RateSource) Name() string {
	return fmt.Sprintf("RateSource[rowsPerSecond=%v, numPartitions=%d]", r.opts.RowsPerSecond, r.opts.NumPartitions)
}

func (r *RateSource) partition(i int) connector.Partition {
	return connector.Partition{Stream: "rate", Index: int32(i)}
}

// InitialOffsets implements connector.OffsetSource: the start is now.
func (r *RateSource) InitialOffsets(context.Context) (connector.Offsets, error) {
	r.mu.Lock()
	if r.start.IsZero() {
		r.start = r.opts.Clock.Now()
	}
	r.mu.Unlock()
	o := connector.Offsets{}
	for i := range r.opts.NumPartitions {
		o[r.partition(i)] = 0
	}
	return o, nil
}

// LatestOffsets implements connector.OffsetSource: per partition, the
// rows due by now.
func (r *RateSource) LatestOffsets(ctx context.Context) (connector.Offsets, error) {
	r.mu.Lock()
	start := r.start
	r.mu.Unlock()
	if start.IsZero() {
		return r.InitialOffsets(ctx)
	}
	due := int64(r.opts.Clock.Since(start).Seconds() * r.opts.RowsPerSecond)
	p := int64(r.opts.NumPartitions)
	o := connector.Offsets{}
	for i := range p {
		n := int64(0)
		if due > i {
			n = (due - i + p - 1) / p
		}
		o[r.partition(int(i))] = n
	}
	return o, nil
}

// EarliestOffsets implements connector.OffsetSource.
func (r *RateSource) EarliestOffsets(_ context.Context, parts []connector.Partition) (connector.Offsets, error) {
	o := connector.Offsets{}
	for _, p := range parts {
		o[p] = 0
	}
	return o, nil
}

// Read implements connector.Source: rows from..until-1 of a partition.
func (r *RateSource) Read(ctx context.Context, rg connector.OffsetRange, emit func([]arrow.RecordBatch) error) error {
	r.mu.Lock()
	start := r.start
	r.mu.Unlock()
	p, i := int64(r.opts.NumPartitions), int64(rg.Partition.Index)
	const chunk = 8192
	for from := rg.From; from < rg.Until; from += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		until := min(rg.Until, from+chunk)
		ts := array.NewTimestampBuilder(r.opts.Alloc, expr.TimestampType)
		vs := array.NewInt64Builder(r.opts.Alloc)
		ts.Reserve(int(until - from))
		vs.Reserve(int(until - from))
		startMicros := start.UnixMicro()
		for k := from; k < until; k++ {
			v := k*p + i
			// The time v became due, in whole milliseconds after the start.
			ms := int64(float64(v) / r.opts.RowsPerSecond * 1000)
			ts.UnsafeAppend(arrow.Timestamp(startMicros + ms*1000))
			vs.UnsafeAppend(v)
		}
		tsa, vsa := ts.NewArray(), vs.NewArray()
		ts.Release()
		vs.Release()
		b := array.NewRecordBatch(RateSchema, []arrow.Array{tsa, vsa}, until-from)
		tsa.Release()
		vsa.Release()
		if err := emit([]arrow.RecordBatch{b}); err != nil {
			return err
		}
	}
	return nil
}

// Close implements connector.OffsetSource.
func (r *RateSource) Close() error { return nil }

type rateState struct {
	StartUnixMicro int64 `json:"startUnixMicro"`
}

// Save implements StatefulSource: the start time.
func (r *RateSource) Save() (json.RawMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.Marshal(rateState{r.start.UnixMicro()})
}

// Restore implements StatefulSource.
func (r *RateSource) Restore(b json.RawMessage) error {
	var s rateState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("streaming: rate source state: %w", err)
	}
	r.mu.Lock()
	r.start = time.UnixMicro(s.StartUnixMicro)
	r.mu.Unlock()
	return nil
}
