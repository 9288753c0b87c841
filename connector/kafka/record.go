package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TimestampType says what a record's timestamp means.
type TimestampType int8

// Timestamp types, with Kafka's numbering.
const (
	// CreateTime: the producer set the timestamp.
	CreateTime TimestampType = 0
	// LogAppendTime: the broker set the timestamp when it appended the record.
	LogAppendTime TimestampType = 1
)

// String returns "CreateTime" or "LogAppendTime".
func (t TimestampType) String() string {
	if t == LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// Header is one record header (kgo's type, so reading headers copies no
// header slice).
type Header = kgo.RecordHeader

// Record is one Kafka record as read by Source.Read, and the unit written by
// Sink.AddBatch (which uses Topic, Partition (see ExplicitPartitions), Key,
// Value, Headers and Timestamp, and ignores Offset and TimestampType).
type Record struct {
	Topic         string
	Partition     int32
	Offset        int64
	Timestamp     time.Time
	TimestampType TimestampType
	Key           []byte
	Value         []byte
	// Headers is nil unless the source was built with IncludeHeaders.
	Headers []Header
}

// fromKgo fills r from a fetched record without copying payloads.
func (r *Record) fromKgo(k *kgo.Record, headers bool) {
	r.Topic = k.Topic
	r.Partition = k.Partition
	r.Offset = k.Offset
	r.Timestamp = k.Timestamp
	r.TimestampType = TimestampType(k.Attrs.TimestampType())
	r.Key = k.Key
	r.Value = k.Value
	if headers {
		r.Headers = k.Headers
	} else {
		r.Headers = nil
	}
}
