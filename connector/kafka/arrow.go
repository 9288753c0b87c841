package kafka

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Column names of Kafka rows, as Spark's kafka source names them.
const (
	ColKey           = "key"
	ColValue         = "value"
	ColTopic         = "topic"
	ColPartition     = "partition"
	ColOffset        = "offset"
	ColTimestamp     = "timestamp"
	ColTimestampType = "timestampType"
	ColHeaders       = "headers"
)

// headerType is list<struct<key: utf8, value: binary>>.
var headerType = arrow.ListOf(arrow.StructOf(
	arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
	arrow.Field{Name: "value", Type: arrow.BinaryTypes.Binary, Nullable: true},
))

// Schema returns the Arrow schema of Kafka rows for the DataFrame API:
// key and value (binary, nullable), topic (utf8), partition (int32), offset
// (int64), timestamp (timestamp[us, UTC]), timestampType (int32: 0
// CreateTime, 1 LogAppendTime), and with includeHeaders a headers column
// (list<struct<key: utf8, value: binary>>).
func Schema(includeHeaders bool) *arrow.Schema {
	fs := []arrow.Field{
		{Name: ColKey, Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: ColValue, Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: ColTopic, Type: arrow.BinaryTypes.String},
		{Name: ColPartition, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColOffset, Type: arrow.PrimitiveTypes.Int64},
		{Name: ColTimestamp, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: ColTimestampType, Type: arrow.PrimitiveTypes.Int32},
	}
	if includeHeaders {
		fs = append(fs, arrow.Field{Name: ColHeaders, Type: headerType, Nullable: true})
	}
	return arrow.NewSchema(fs, nil)
}

// ArrowBuilder appends Records to Arrow record batches of Schema. It is
// not safe for concurrent use; Release it when done.
type ArrowBuilder struct {
	rb      *array.RecordBuilder
	headers bool
	key     *array.BinaryBuilder
	value   *array.BinaryBuilder
	topic   *array.StringBuilder
	part    *array.Int32Builder
	off     *array.Int64Builder
	ts      *array.TimestampBuilder
	tsType  *array.Int32Builder
	hdr     *array.ListBuilder
	hdrS    *array.StructBuilder
	hdrK    *array.StringBuilder
	hdrV    *array.BinaryBuilder
}

// NewArrowBuilder returns a builder allocating from mem.
func NewArrowBuilder(mem memory.Allocator, includeHeaders bool) *ArrowBuilder {
	rb := array.NewRecordBuilder(mem, Schema(includeHeaders))
	b := &ArrowBuilder{
		rb:      rb,
		headers: includeHeaders,
		key:     rb.Field(0).(*array.BinaryBuilder),
		value:   rb.Field(1).(*array.BinaryBuilder),
		topic:   rb.Field(2).(*array.StringBuilder),
		part:    rb.Field(3).(*array.Int32Builder),
		off:     rb.Field(4).(*array.Int64Builder),
		ts:      rb.Field(5).(*array.TimestampBuilder),
		tsType:  rb.Field(6).(*array.Int32Builder),
	}
	if includeHeaders {
		b.hdr = rb.Field(7).(*array.ListBuilder)
		b.hdrS = b.hdr.ValueBuilder().(*array.StructBuilder)
		b.hdrK = b.hdrS.FieldBuilder(0).(*array.StringBuilder)
		b.hdrV = b.hdrS.FieldBuilder(1).(*array.BinaryBuilder)
	}
	return b
}

// Append adds recs as rows. A nil Key or Value becomes null; the payloads
// are copied into Arrow buffers.
func (b *ArrowBuilder) Append(recs []Record) {
	b.rb.Reserve(len(recs))
	for i := range recs {
		r := &recs[i]
		if r.Key == nil {
			b.key.AppendNull()
		} else {
			b.key.Append(r.Key)
		}
		if r.Value == nil {
			b.value.AppendNull()
		} else {
			b.value.Append(r.Value)
		}
		b.topic.Append(r.Topic)
		b.part.Append(r.Partition)
		b.off.Append(r.Offset)
		b.ts.Append(arrow.Timestamp(r.Timestamp.UnixMicro()))
		b.tsType.Append(int32(r.TimestampType))
		if b.headers {
			b.hdr.Append(true)
			for _, h := range r.Headers {
				b.hdrS.Append(true)
				b.hdrK.Append(h.Key)
				if h.Value == nil {
					b.hdrV.AppendNull()
				} else {
					b.hdrV.Append(h.Value)
				}
			}
		}
	}
}

// Len returns the rows appended since the last NewRecordBatch.
func (b *ArrowBuilder) Len() int { return b.off.Len() }

// NewRecordBatch returns the rows appended so far as one record batch (the
// caller releases it) and resets the builder.
func (b *ArrowBuilder) NewRecordBatch() arrow.RecordBatch { return b.rb.NewRecordBatch() }

// Release frees the builder's buffers.
func (b *ArrowBuilder) Release() { b.rb.Release() }
