package benchsuite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector"
)

// Generator makes events by number: event g is a pure function of the
// generator's seed and g.
type Generator[E any] interface {
	// Generate appends n events, numbers g0, g0+step, g0+2·step, ..., to
	// dst and returns it. The events stay valid after the call (it never
	// reuses memory it handed out).
	Generate(dst []E, g0, step int64, n int) []E
}

// readChunk is how many events a source emits at once.
const readChunk = 1024

// GenSource is a generator as a replayable connector.Source of
// Partitions partitions: offset o of partition p is event o·Partitions+p.
// Unpaced (Rate 0), all Events events are available from the start;
// paced, event g becomes available at the start time + g/Rate.
type GenSource[E any] struct {
	gen    Generator[E]
	stream string
	parts  int
	events int64   // events in all, over all partitions
	rate   float64 // events per second when paced; 0: unpaced
	clk    clock.Clock

	mu    sync.Mutex
	start time.Time // when event 0 is created (paced); zero until Start
}

var _ connector.Source[int] = (*GenSource[int])(nil)

// NewGenSource returns a source of events events of gen over parts
// partitions named stream, paced at rate events per second on clk (rate
// 0: unpaced, clk may be nil).
func NewGenSource[E any](gen Generator[E], stream string, parts int, events int64, rate float64, clk clock.Clock) (*GenSource[E], error) {
	switch {
	case gen == nil:
		return nil, fmt.Errorf("benchsuite: the generator must not be nil")
	case parts < 1:
		return nil, fmt.Errorf("benchsuite: partitions must be at least 1, got %d", parts)
	case events < 0:
		return nil, fmt.Errorf("benchsuite: events must not be negative, got %d", events)
	case rate < 0:
		return nil, fmt.Errorf("benchsuite: rate must not be negative, got %v", rate)
	case rate > 0 && clk == nil:
		return nil, fmt.Errorf("benchsuite: a paced source needs a clock")
	}
	return &GenSource[E]{gen: gen, stream: stream, parts: parts, events: events, rate: rate, clk: clk}, nil
}

// Start sets the creation time of event 0 of a paced source (by default
// the time of the first LatestOffsets call).
func (s *GenSource[E]) Start(t time.Time) {
	s.mu.Lock()
	s.start = t
	s.mu.Unlock()
}

// StartTime returns the creation time of event 0 (zero before the start).
func (s *GenSource[E]) StartTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.start
}

// Created returns the creation time of event g in a paced source.
func (s *GenSource[E]) Created(start time.Time, g int64) time.Time {
	return start.Add(time.Duration(float64(g) / s.rate * 1e9))
}

// Partitions returns the number of partitions.
func (s *GenSource[E]) Partitions() int { return s.parts }

// Event returns the event number of offset off of partition p.
func (s *GenSource[E]) Event(p int32, off int64) int64 { return off*int64(s.parts) + int64(p) }

func (s *GenSource[E]) partition(i int) connector.Partition {
	return connector.Partition{Stream: s.stream, Index: int32(i)}
}

// InitialOffsets starts every partition at 0.
func (s *GenSource[E]) InitialOffsets(ctx context.Context) (connector.Offsets, error) {
	return s.EarliestOffsets(ctx, nil)
}

// EarliestOffsets returns 0 for every partition.
func (s *GenSource[E]) EarliestOffsets(context.Context, []connector.Partition) (connector.Offsets, error) {
	o := make(connector.Offsets, s.parts)
	for i := range s.parts {
		o[s.partition(i)] = 0
	}
	return o, nil
}

// LatestOffsets returns, per partition, how many of its events exist now.
func (s *GenSource[E]) LatestOffsets(context.Context) (connector.Offsets, error) {
	avail := s.events
	if s.rate > 0 {
		s.mu.Lock()
		now := s.clk.Now()
		if s.start.IsZero() {
			s.start = now
		}
		elapsed := now.Sub(s.start)
		s.mu.Unlock()
		if elapsed < 0 {
			avail = 0
		} else {
			avail = min(avail, int64(elapsed.Seconds()*s.rate)+1)
		}
	}
	o := make(connector.Offsets, s.parts)
	P := int64(s.parts)
	for i := range s.parts {
		o[s.partition(i)] = (avail - int64(i) + P - 1) / P
	}
	return o, nil
}

// Read generates the events of r.
func (s *GenSource[E]) Read(ctx context.Context, r connector.OffsetRange, emit func([]E) error) error {
	if r.Partition.Stream != s.stream || r.Partition.Index < 0 || int(r.Partition.Index) >= s.parts {
		return fmt.Errorf("benchsuite: no partition %s in source %q", r.Partition, s.stream)
	}
	buf := make([]E, 0, readChunk)
	for from := r.From; from < r.Until; from += readChunk {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("benchsuite: reading %s: %w", r, err)
		}
		n := int(min(readChunk, r.Until-from))
		buf = s.gen.Generate(buf[:0], s.Event(r.Partition.Index, from), int64(s.parts), n)
		if err := emit(buf); err != nil {
			return err
		}
	}
	return nil
}

// Close does nothing.
func (s *GenSource[E]) Close() error { return nil }
