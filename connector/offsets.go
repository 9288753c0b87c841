package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Special offset values accepted in starting offsets (never in a batch's
// resolved offsets, which are always concrete positions).
const (
	// OffsetLatest stands for "the end of the partition when resolved".
	OffsetLatest int64 = -1
	// OffsetEarliest stands for "the first available offset when resolved".
	OffsetEarliest int64 = -2
)

// Partition identifies one partition of a source: a stream name (a Kafka
// topic, a file set, "" for single-stream sources) and an index within it.
// It is comparable and used as a map key.
type Partition struct {
	// Stream is the named stream the partition belongs to (a Kafka topic).
	Stream string
	// Index is the partition number within the stream.
	Index int32
}

// String returns "stream-index", the form Kafka tools print.
func (p Partition) String() string {
	return p.Stream + "-" + strconv.FormatInt(int64(p.Index), 10)
}

// Compare orders partitions by stream, then index.
func (p Partition) Compare(q Partition) int {
	if p.Stream != q.Stream {
		if p.Stream < q.Stream {
			return -1
		}
		return 1
	}
	switch {
	case p.Index < q.Index:
		return -1
	case p.Index > q.Index:
		return 1
	}
	return 0
}

// Offsets maps each partition to a position: for a batch's start and end,
// the offset of the next record to read. Offsets are what the engine stores
// in its offset log and checkpoints; their JSON form groups partitions by
// stream: {"topic":{"0":23,"1":-1}}, streams and partitions in sorted order,
// so equal offsets always serialise to equal bytes.
type Offsets map[Partition]int64

// Partitions returns the partitions of o in sorted order.
func (o Offsets) Partitions() []Partition {
	ps := slices.Collect(maps.Keys(o))
	slices.SortFunc(ps, Partition.Compare)
	return ps
}

// Clone returns a copy of o (nil stays nil).
func (o Offsets) Clone() Offsets { return maps.Clone(o) }

// Total returns the sum over partitions of end[p]-o[p] for partitions in
// both, counting only positive differences: the number of offsets between
// two positions.
func (o Offsets) Total(end Offsets) int64 {
	var n int64
	for p, from := range o {
		if until, ok := end[p]; ok && until > from {
			n += until - from
		}
	}
	return n
}

// MarshalJSON encodes o as {"stream":{"index":offset,...},...} with streams
// and indexes sorted.
func (o Offsets) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	prev := ""
	first := true
	for _, p := range o.Partitions() {
		if first || p.Stream != prev {
			if !first {
				b.WriteString("},")
			}
			name, err := json.Marshal(p.Stream)
			if err != nil {
				return nil, err
			}
			b.Write(name)
			b.WriteString(":{")
			prev = p.Stream
		} else {
			b.WriteByte(',')
		}
		first = false
		b.WriteByte('"')
		b.WriteString(strconv.FormatInt(int64(p.Index), 10))
		b.WriteString(`":`)
		b.WriteString(strconv.FormatInt(o[p], 10))
	}
	if !first {
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// ErrBadOffsets reports offsets JSON that is not of the form
// {"stream":{"index":offset}}.
var ErrBadOffsets = errors.New("connector: malformed offsets")

// UnmarshalJSON decodes the form written by MarshalJSON. Partition indexes
// must be non-negative 32-bit integers; offsets must be >= OffsetEarliest.
func (o *Offsets) UnmarshalJSON(data []byte) error {
	var raw map[string]map[string]int64
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOffsets, err)
	}
	if raw == nil && !bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return fmt.Errorf("%w: want an object", ErrBadOffsets)
	}
	out := make(Offsets)
	for stream, parts := range raw {
		for idx, off := range parts {
			i, err := strconv.ParseInt(idx, 10, 32)
			if err != nil || i < 0 {
				return fmt.Errorf("%w: partition %q of %q is not a non-negative integer", ErrBadOffsets, idx, stream)
			}
			if off < OffsetEarliest {
				return fmt.Errorf("%w: offset %d for %s-%d is below %d", ErrBadOffsets, off, stream, i, OffsetEarliest)
			}
			out[Partition{Stream: stream, Index: int32(i)}] = off
		}
	}
	*o = out
	return nil
}

// ParseOffsets decodes offsets JSON (see Offsets.UnmarshalJSON).
func ParseOffsets(s string) (Offsets, error) {
	var o Offsets
	if err := o.UnmarshalJSON([]byte(s)); err != nil {
		return nil, err
	}
	return o, nil
}

// String returns the JSON form.
func (o Offsets) String() string {
	b, err := o.MarshalJSON()
	if err != nil {
		return fmt.Sprintf("connector.Offsets(%d partitions)", len(o))
	}
	return string(b)
}

// OffsetRange is the half-open range [From, Until) of one partition: the
// unit of work of one task (one RDD partition, one scan partition).
type OffsetRange struct {
	Partition Partition `json:"partition"`
	// From is the offset of the first record to read.
	From int64 `json:"from"`
	// Until is one past the last offset to read.
	Until int64 `json:"until"`
}

// Count returns the number of offsets in the range (0 if empty). Sources whose
// offsets have gaps (compaction, transaction markers) may yield fewer records.
func (r OffsetRange) Count() int64 {
	if r.Until <= r.From {
		return 0
	}
	return r.Until - r.From
}

// String formats the range as "stream-index[from,until)".
func (r OffsetRange) String() string {
	return fmt.Sprintf("%s[%d,%d)", r.Partition, r.From, r.Until)
}
