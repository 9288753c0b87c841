package streaming

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
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
	// RampUpTime is how long the rate takes to reach RowsPerSecond, in
	// whole seconds (Spark's rampUpTime). During it the rate grows by
	// RowsPerSecond/(s+1) rows per second each second, s being RampUpTime
	// in seconds: second k (k = 1..s) of the query has k*RowsPerSecond/(s+1)
	// rows, and every later second RowsPerSecond. So s*RowsPerSecond/2
	// rows are due at the end of the ramp, and RowsPerSecond more each
	// second after it. Within a second rows become due evenly. Default: 0
	// (the full rate from the start).
	RampUpTime time.Duration
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
// start (after an optional linear ramp-up, RampUpTime). A row's timestamp
// is the time it became due, in whole milliseconds. It is replayable: a
// row's value and timestamp depend only on its position, the options and
// the start time, which the query keeps in its checkpoint.
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
	case o.RowsPerSecond < 0 || math.IsNaN(o.RowsPerSecond) || math.IsInf(o.RowsPerSecond, 0):
		return nil, fmt.Errorf("streaming: rate source: rowsPerSecond must be a positive number, got %v", o.RowsPerSecond)
	case o.NumPartitions < 0:
		return nil, fmt.Errorf("streaming: rate source: numPartitions must be at least 1, got %d", o.NumPartitions)
	case o.RampUpTime < 0:
		return nil, fmt.Errorf("streaming: rate source: rampUpTime must not be negative, got %v", o.RampUpTime)
	case o.RampUpTime%time.Second != 0:
		return nil, fmt.Errorf("streaming: rate source: rampUpTime must be whole seconds (the rate steps up once a second), got %v", o.RampUpTime)
	}
	return &RateSource{opts: o}, nil
}

// ParseRampUpTime parses the rate source's rampUpTime option as Spark
// does: a whole number of seconds ("5"), or a duration in whole seconds
// ("5s", "2m", "1m30s"). Errors name the option and the value.
func ParseRampUpTime(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("rampUpTime must be a non-negative number of seconds, got %q", v)
		}
		d = time.Duration(n) * time.Second
	} else {
		d, err = time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("rampUpTime must be whole seconds such as 10 or 10s (or 2m), got %q", v)
		}
	}
	switch {
	case d < 0:
		return 0, fmt.Errorf("rampUpTime must not be negative, got %q", v)
	case d%time.Second != 0:
		return 0, fmt.Errorf("rampUpTime must be whole seconds (the rate steps up once a second), got %q", v)
	}
	return d, nil
}

// rampSeconds is RampUpTime in seconds.
func (r *RateSource) rampSeconds() float64 { return float64(r.opts.RampUpTime / time.Second) }

// due returns the number of rows due after elapsed time e since the
// start. With a ramp-up of s seconds and rate R, the rows due by second
// k <= s are R*k*(k+1)/(2(s+1)) (Spark's valueAtSecond, without its
// rounding of R/(s+1) to an integer), rows become due evenly within each
// second, and after the ramp R*(t - s/2) rows are due at time t.
// Computed in this order, whole-second counts are exact for an integral
// rate.
func (r *RateSource) due(e time.Duration) int64 {
	if e <= 0 {
		return 0
	}
	rps, s, t := r.opts.RowsPerSecond, r.rampSeconds(), e.Seconds()
	if t >= s {
		if s == 0 {
			return int64(t * rps) // as before ramp-ups existed
		}
		return int64(rps * (2*t - s) / 2)
	}
	k := math.Floor(t) // whole seconds elapsed: second k+1 is under way
	f := t - k
	// k(k+1)/2 seconds' worth of increments, plus f of second k+1's k+1.
	return int64(rps * (k*(k+1) + 2*(k+1)*f) / (2 * (s + 1)))
}

// dueMillis returns when row v became due, in whole milliseconds after
// the start: the inverse of due.
func (r *RateSource) dueMillis(v int64) int64 {
	rps, s := r.opts.RowsPerSecond, r.rampSeconds()
	if s == 0 {
		return int64(float64(v) / rps * 1000) // as before ramp-ups existed
	}
	if float64(v) >= rps*s/2 {
		return int64((float64(v)/rps + s/2) * 1000)
	}
	// In units of the per-second increment: second k (1-based) ends at
	// u = k(k+1) and row v sits at u = 2(s+1)v/rps.
	u := 2 * (s + 1) * float64(v) / rps
	k := math.Floor((math.Sqrt(1+4*u) - 1) / 2) // seconds completed
	for k > 0 && k*(k+1) > u {
		k--
	}
	for (k+1)*(k+2) <= u {
		k++
	}
	return int64((k + (u-k*(k+1))/(2*(k+1))) * 1000)
}

// Schema implements Source.
func (r *RateSource) Schema() *arrow.Schema { return RateSchema }

// Name implements Source.
func (r *RateSource) Name() string {
	if r.opts.RampUpTime > 0 {
		return fmt.Sprintf("RateSource[rowsPerSecond=%v, rampUpTime=%v, numPartitions=%d]", r.opts.RowsPerSecond, r.opts.RampUpTime, r.opts.NumPartitions)
	}
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
	due := r.due(r.opts.Clock.Since(start))
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
	return r.read(ctx, r.opts.Alloc, rg, nil, emit)
}

// ReadAlloc implements AllocatingSource. The batch's allocator is used
// unless the source was given an allocator other than Go's.
// It skips no rows.
func (r *RateSource) ReadAlloc(ctx context.Context, alloc memory.Allocator, rg connector.OffsetRange, columns []string, _ []expr.Expr, emit func([]arrow.RecordBatch) error) (int64, error) {
	if _, ok := r.opts.Alloc.(*memory.GoAllocator); !ok || alloc == nil {
		alloc = r.opts.Alloc
	}
	return 0, r.read(ctx, alloc, rg, columns, emit)
}

// read emits rows from..until-1 of rg's partition with the given columns
// of RateSchema (all when nil).
func (r *RateSource) read(ctx context.Context, alloc memory.Allocator, rg connector.OffsetRange, columns []string, emit func([]arrow.RecordBatch) error) error {
	schema, wantTS, wantValue := RateSchema, true, true
	if columns != nil {
		fields := make([]arrow.Field, len(columns))
		wantTS, wantValue = false, false
		for k, c := range columns {
			i, err := expr.FieldIndex(RateSchema, c)
			if err != nil {
				return err
			}
			fields[k] = RateSchema.Field(i)
			wantTS = wantTS || i == 0
			wantValue = wantValue || i == 1
		}
		schema = arrow.NewSchema(fields, nil)
	}
	r.mu.Lock()
	start := r.start
	r.mu.Unlock()
	p, i := int64(r.opts.NumPartitions), int64(rg.Partition.Index)
	startMicros := start.UnixMicro()
	const chunk = 8192
	for from := rg.From; from < rg.Until; from += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		until := min(rg.Until, from+chunk)
		n := int(until - from)
		// The columns' buffers are filled directly: no validity bitmaps
		// (no nulls), and exactly n values (a builder reserving n rounds
		// up to the next power of two).
		var tsa, vsa arrow.Array
		if wantTS {
			buf, tsv := int64Buffer(alloc, n)
			if r.rampSeconds() == 0 {
				// dueMillis without a ramp-up, inlined.
				rps := r.opts.RowsPerSecond
				for j := range n {
					v := (from+int64(j))*p + i
					tsv[j] = startMicros + int64(float64(v)/rps*1000)*1000
				}
			} else {
				for j := range n {
					tsv[j] = startMicros + r.dueMillis((from+int64(j))*p+i)*1000
				}
			}
			tsa = int64Array(expr.TimestampType, buf, n)
		}
		if wantValue {
			buf, vsv := int64Buffer(alloc, n)
			for j := range n {
				vsv[j] = (from+int64(j))*p + i
			}
			vsa = int64Array(arrow.PrimitiveTypes.Int64, buf, n)
		}
		cols := make([]arrow.Array, len(schema.Fields()))
		for k, f := range schema.Fields() {
			if f.Name == RateSchema.Field(0).Name {
				cols[k] = tsa
			} else {
				cols[k] = vsa
			}
		}
		b := array.NewRecordBatch(schema, cols, int64(n))
		for _, a := range []arrow.Array{tsa, vsa} {
			if a != nil {
				a.Release()
			}
		}
		if err := emit([]arrow.RecordBatch{b}); err != nil {
			return err
		}
	}
	return nil
}

// Close implements connector.OffsetSource.
func (r *RateSource) Close() error { return nil }

// int64Buffer returns a buffer of n 8-byte values from alloc, and its
// values.
func int64Buffer(alloc memory.Allocator, n int) (*memory.Buffer, []int64) {
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize(n * 8)
	return buf, arrow.Int64Traits.CastFromBytes(buf.Bytes())[:n]
}

// int64Array makes an array of type dt (8-byte values) without nulls from
// buf, taking over the caller's reference.
func int64Array(dt arrow.DataType, buf *memory.Buffer, n int) arrow.Array {
	data := array.NewData(dt, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	defer data.Release()
	return array.MakeFromData(data)
}

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
