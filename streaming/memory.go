package streaming

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/connector"
)

// MemoryStream is a source fed by the program: each AddBatches call adds
// one offset (Spark's MemoryStream). It is replayable while the process
// lives, so tests and programs can drive a query batch by batch; it does
// not survive a restart of the process.
type MemoryStream struct {
	schema *arrow.Schema
	name   string

	mu      sync.Mutex
	entries [][]arrow.RecordBatch // one per offset, retained
}

var _ Source = (*MemoryStream)(nil)

var memoryPartition = connector.Partition{Stream: "memory"}

// NewMemoryStream returns an empty stream of rows of schema.
func NewMemoryStream(schema *arrow.Schema, name string) *MemoryStream {
	if name == "" {
		name = "MemoryStream"
	}
	return &MemoryStream{schema: schema, name: name}
}

// AddBatches appends batches as one offset and returns it. The stream
// retains them; the caller keeps its own references.
func (m *MemoryStream) AddBatches(bs ...arrow.RecordBatch) (int64, error) {
	for _, b := range bs {
		if !b.Schema().Equal(m.schema) {
			return 0, fmt.Errorf("streaming: MemoryStream %s: a batch has schema %s, want %s", m.name, b.Schema(), m.schema)
		}
	}
	for _, b := range bs {
		b.Retain()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, slices.Clone(bs))
	return int64(len(m.entries)), nil
}

// Schema implements Source.
func (m *MemoryStream) Schema() *arrow.Schema { return m.schema }

// Name implements Source.
func (m *MemoryStream) Name() string { return m.name }

// InitialOffsets implements connector.OffsetSource: the start.
func (m *MemoryStream) InitialOffsets(context.Context) (connector.Offsets, error) {
	return connector.Offsets{memoryPartition: 0}, nil
}

// LatestOffsets implements connector.OffsetSource.
func (m *MemoryStream) LatestOffsets(context.Context) (connector.Offsets, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return connector.Offsets{memoryPartition: int64(len(m.entries))}, nil
}

// EarliestOffsets implements connector.OffsetSource.
func (m *MemoryStream) EarliestOffsets(_ context.Context, parts []connector.Partition) (connector.Offsets, error) {
	o := connector.Offsets{}
	for _, p := range parts {
		o[p] = 0
	}
	return o, nil
}

// Read implements connector.Source.
func (m *MemoryStream) Read(ctx context.Context, r connector.OffsetRange, emit func([]arrow.RecordBatch) error) error {
	m.mu.Lock()
	if r.From < 0 || r.Until > int64(len(m.entries)) {
		m.mu.Unlock()
		return fmt.Errorf("streaming: MemoryStream %s: range %v beyond the %d offsets added", m.name, r, len(m.entries))
	}
	var out []arrow.RecordBatch
	for _, e := range m.entries[r.From:r.Until] {
		for _, b := range e {
			b.Retain()
			out = append(out, b)
		}
	}
	m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		releaseAll(out)
		return err
	}
	return emit(out)
}

// Close implements connector.OffsetSource: it releases the batches.
func (m *MemoryStream) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries {
		releaseAll(e)
	}
	m.entries = nil
	return nil
}

// Sink is what a streaming query writes each micro-batch to: the
// connector contract over Arrow record batches. AddBatch gets the batch's
// rows (owned by the query: retain what you keep) exactly once per batch
// id as far as the sink can tell: a repeated id (after a restart) must
// have no visible effect.
type Sink = connector.BatchSink[[]arrow.RecordBatch]

// MemorySink keeps every batch's rows in memory (Spark's memory sink), for
// tests and interactive queries. A repeated batch id replaces that batch's
// rows, so the sink stays exactly once. With Complete set (for complete
// output mode) each batch replaces everything: the sink holds the latest
// complete result.
type MemorySink struct {
	Complete bool

	mu      sync.Mutex
	batches map[int64][]arrow.RecordBatch
	order   []int64
}

var _ Sink = (*MemorySink)(nil)

// NewMemorySink returns an empty memory sink.
func NewMemorySink() *MemorySink { return &MemorySink{batches: map[int64][]arrow.RecordBatch{}} }

// AddBatch implements Sink.
func (s *MemorySink) AddBatch(_ context.Context, id int64, bs []arrow.RecordBatch) error {
	for _, b := range bs {
		b.Retain()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Complete {
		for _, old := range s.batches {
			releaseAll(old)
		}
		clear(s.batches)
		s.order = s.order[:0]
	}
	if old, ok := s.batches[id]; ok {
		releaseAll(old)
	} else {
		s.order = append(s.order, id)
	}
	s.batches[id] = slices.Clone(bs)
	return nil
}

// Rows returns the record batches written so far, in batch order,
// retained for the caller (release them).
func (s *MemorySink) Rows() []arrow.RecordBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []arrow.RecordBatch
	for _, id := range s.order {
		for _, b := range s.batches[id] {
			b.Retain()
			out = append(out, b)
		}
	}
	return out
}

// BatchIDs returns the ids of the batches written, in order.
func (s *MemorySink) BatchIDs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// Close implements Sink. The rows stay readable after the query stopped;
// Clear releases them.
func (s *MemorySink) Close() error { return nil }

// Clear releases the rows and forgets the batches.
func (s *MemorySink) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, bs := range s.batches {
		releaseAll(bs)
	}
	s.batches, s.order = map[int64][]arrow.RecordBatch{}, nil
}

// FuncSink calls f with every micro-batch (Spark's foreachBatch). It is
// at-least-once: after a restart f may see a batch id again, so make f
// idempotent by batch id (write to a location named after it, or record it
// with the data in one transaction).
type FuncSink func(ctx context.Context, batchID int64, batches []arrow.RecordBatch) error

// AddBatch implements Sink.
func (f FuncSink) AddBatch(ctx context.Context, id int64, bs []arrow.RecordBatch) error {
	return f(ctx, id, bs)
}

// Close implements Sink.
func (f FuncSink) Close() error { return nil }

// AtLeastOnce implements connector.AtLeastOnce.
func (f FuncSink) AtLeastOnce() bool { return true }
