package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/connector"
)

// ArrowSink is a [Sink] that takes Arrow record batches: the Structured
// Streaming sink "kafka". Each row becomes one record, from the columns
//
//	value      binary or string (also large_*); required; null: a tombstone
//	key        binary or string; optional; null: no key
//	topic      string; optional; null or "": the sink's Topic
//	partition  any integer type; optional; needs ExplicitPartitions(true)
//	           (otherwise the column is an error, not silently ignored)
//	headers    list<struct<key: string, value: binary or string>>; optional
//	timestamp  timestamp of any unit; optional; used when of timestamp type
//
// Other columns (offset, timestampType of rows read from Kafka, ...) are
// ignored. Delivery is the wrapped Sink's: at-least-once by default,
// exactly-once per sink partition with Transactional, where a repeated
// batch id has no effect. Values are passed to the producer without
// copying; the caller keeps ownership of the batches. AddBatch calls must
// not overlap.
type ArrowSink struct {
	sink *Sink
	recs []Record
}

var (
	_ connector.BatchSink[[]arrow.RecordBatch] = (*ArrowSink)(nil)
	_ connector.AtLeastOnce                    = (*ArrowSink)(nil)
	_ connector.LastBatcher                    = (*ArrowSink)(nil)
)

// NewArrowSink builds a Sink with NewSink (same options, validation,
// connection check and, in transactional mode, fencing) and wraps it.
func NewArrowSink(ctx context.Context, opts ...Option) (*ArrowSink, error) {
	s, err := NewSink(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return &ArrowSink{sink: s}, nil
}

// Sink returns the wrapped record sink.
func (a *ArrowSink) Sink() *Sink { return a.sink }

// AddBatch implements connector.BatchSink: it converts the rows of batches
// to records (an error naming the column if a column has an unsupported
// type) and writes them with the wrapped Sink's AddBatch.
func (a *ArrowSink) AddBatch(ctx context.Context, batchID int64, batches []arrow.RecordBatch) error {
	a.recs = a.recs[:0]
	for _, b := range batches {
		var err error
		if a.recs, err = appendRecords(a.recs, b, a.sink.cfg.explicitPartitions); err != nil {
			return err
		}
	}
	err := a.sink.AddBatch(ctx, batchID, a.recs)
	clear(a.recs) // drop references to the caller's buffers
	return err
}

// AtLeastOnce implements connector.AtLeastOnce: true unless transactional.
func (a *ArrowSink) AtLeastOnce() bool { return a.sink.AtLeastOnce() }

// LastBatchID implements connector.LastBatcher (see Sink.LastBatchID).
func (a *ArrowSink) LastBatchID(ctx context.Context) (int64, bool, error) {
	return a.sink.LastBatchID(ctx)
}

// Close closes the wrapped Sink.
func (a *ArrowSink) Close() error { return a.sink.Close() }

// OpenArrowSink builds the ArrowSink of one sink partition from
// Spark-style options (SinkOptions, then NewArrowSink); extra options are
// applied after them.
func (Provider) OpenArrowSink(ctx context.Context, opts map[string]string, queryID string, sinkPartition int, extra ...Option) (*ArrowSink, error) {
	o, err := SinkOptions(opts, queryID, sinkPartition)
	if err != nil {
		return nil, err
	}
	return NewArrowSink(ctx, append(o, extra...)...)
}

// bytesCol returns a getter of the bytes of a binary or string column
// (nil for nulls, never nil for valid values), without copying.
func bytesCol(name string, a arrow.Array) (func(int) []byte, error) {
	nonNil := func(b []byte) []byte {
		if b == nil {
			return []byte{}
		}
		return b
	}
	switch c := a.(type) {
	case *array.Binary:
		return func(i int) []byte {
			if c.IsNull(i) {
				return nil
			}
			return nonNil(c.Value(i))
		}, nil
	case *array.LargeBinary:
		return func(i int) []byte {
			if c.IsNull(i) {
				return nil
			}
			return nonNil(c.Value(i))
		}, nil
	case *array.String:
		data, offs := c.ValueBytes(), c.ValueOffsets()
		return func(i int) []byte {
			if c.IsNull(i) {
				return nil
			}
			return nonNil(data[offs[i]:offs[i+1]])
		}, nil
	case *array.LargeString:
		data, offs := c.ValueBytes(), c.ValueOffsets()
		return func(i int) []byte {
			if c.IsNull(i) {
				return nil
			}
			return nonNil(data[offs[i]:offs[i+1]])
		}, nil
	}
	return nil, fmt.Errorf("kafka: sink: column %q has type %s; want binary or string (cast it)", name, a.DataType())
}

// intCol returns a getter of an integer column.
func intCol(name string, a arrow.Array) (func(int) (int64, bool), error) {
	get := func(f func(int) int64) func(int) (int64, bool) {
		return func(i int) (int64, bool) {
			if a.IsNull(i) {
				return 0, false
			}
			return f(i), true
		}
	}
	switch c := a.(type) {
	case *array.Int8:
		return get(func(i int) int64 { return int64(c.Value(i)) }), nil
	case *array.Int16:
		return get(func(i int) int64 { return int64(c.Value(i)) }), nil
	case *array.Int32:
		return get(func(i int) int64 { return int64(c.Value(i)) }), nil
	case *array.Int64:
		return get(func(i int) int64 { return c.Value(i) }), nil
	case *array.Uint8:
		return get(func(i int) int64 { return int64(c.Value(i)) }), nil
	case *array.Uint16:
		return get(func(i int) int64 { return int64(c.Value(i)) }), nil
	case *array.Uint32:
		return get(func(i int) int64 { return int64(c.Value(i)) }), nil
	}
	return nil, fmt.Errorf("kafka: sink: column %q has type %s; want an integer type", name, a.DataType())
}

func column(b arrow.RecordBatch, name string) arrow.Array {
	if idx := b.Schema().FieldIndices(name); len(idx) > 0 {
		return b.Column(idx[0])
	}
	return nil
}

// appendRecords appends the rows of b as records to dst.
func appendRecords(dst []Record, b arrow.RecordBatch, explicit bool) ([]Record, error) {
	va := column(b, ColValue)
	if va == nil {
		return dst, fmt.Errorf("kafka: sink: the data has no %q column (columns: %s); select or alias one", ColValue, b.Schema())
	}
	value, err := bytesCol(ColValue, va)
	if err != nil {
		return dst, err
	}
	var key func(int) []byte
	if ka := column(b, ColKey); ka != nil {
		if key, err = bytesCol(ColKey, ka); err != nil {
			return dst, err
		}
	}
	var topic *array.String
	if ta := column(b, ColTopic); ta != nil {
		t, ok := ta.(*array.String)
		if !ok {
			return dst, fmt.Errorf("kafka: sink: column %q has type %s; want string", ColTopic, ta.DataType())
		}
		topic = t
	}
	var part func(int) (int64, bool)
	if pa := column(b, ColPartition); pa != nil {
		if !explicit {
			return dst, fmt.Errorf("kafka: sink: the data has a %q column but the sink hashes keys to partitions; drop the column, or use ExplicitPartitions(true)", ColPartition)
		}
		if part, err = intCol(ColPartition, pa); err != nil {
			return dst, err
		}
	}
	var ts func(int) (time.Time, bool)
	if tsa := column(b, ColTimestamp); tsa != nil {
		if c, ok := tsa.(*array.Timestamp); ok {
			toTime, err := c.DataType().(*arrow.TimestampType).GetToTimeFunc()
			if err != nil {
				return dst, fmt.Errorf("kafka: sink: column %q: %w", ColTimestamp, err)
			}
			ts = func(i int) (time.Time, bool) {
				if c.IsNull(i) {
					return time.Time{}, false
				}
				return toTime(c.Value(i)), true
			}
		}
	}
	var headers func(int) ([]Header, error)
	if ha := column(b, ColHeaders); ha != nil {
		if headers, err = headersCol(ha); err != nil {
			return dst, err
		}
	}
	for i := range int(b.NumRows()) {
		r := Record{Value: value(i)}
		if key != nil {
			r.Key = key(i)
		}
		if topic != nil && topic.IsValid(i) {
			r.Topic = topic.Value(i)
		}
		if part != nil {
			p, ok := part(i)
			if !ok || p < 0 || p > 1<<31-1 {
				return dst, fmt.Errorf("kafka: sink: row %d: partition %d is null or out of range; with ExplicitPartitions every row needs a partition", i, p)
			}
			r.Partition = int32(p)
		}
		if ts != nil {
			if t, ok := ts(i); ok {
				r.Timestamp = t
			}
		}
		if headers != nil {
			h, err := headers(i)
			if err != nil {
				return dst, err
			}
			r.Headers = h
		}
		dst = append(dst, r)
	}
	return dst, nil
}

// headersCol returns a getter of a list<struct<key, value>> headers column.
func headersCol(a arrow.Array) (func(int) ([]Header, error), error) {
	bad := fmt.Errorf("kafka: sink: column %q has type %s; want list<struct<key: string, value: binary or string>>", ColHeaders, a.DataType())
	l, ok := a.(*array.List)
	if !ok {
		return nil, bad
	}
	st, ok := l.ListValues().(*array.Struct)
	if !ok {
		return nil, bad
	}
	stt := st.DataType().(*arrow.StructType)
	ki, kok := stt.FieldIdx("key")
	vi, vok := stt.FieldIdx("value")
	if !kok || !vok {
		return nil, bad
	}
	keys, err := bytesCol("headers.key", st.Field(ki))
	if err != nil {
		return nil, err
	}
	vals, err := bytesCol("headers.value", st.Field(vi))
	if err != nil {
		return nil, err
	}
	return func(i int) ([]Header, error) {
		if l.IsNull(i) {
			return nil, nil
		}
		from, to := l.ValueOffsets(i)
		if from == to {
			return nil, nil
		}
		hs := make([]Header, 0, to-from)
		for j := int(from); j < int(to); j++ {
			if st.IsNull(j) {
				continue
			}
			k := keys(j)
			if k == nil {
				return nil, fmt.Errorf("kafka: sink: row %d: a header has a null key", i)
			}
			hs = append(hs, Header{Key: string(k), Value: vals(j)})
		}
		return hs, nil
	}, nil
}
