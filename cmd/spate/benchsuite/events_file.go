package benchsuite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// nexmarkJSON is one Nexmark event as a JSON line: the event type (0
// person, 1 auction, 2 bid, as Nexmark's datagen table numbers them) and
// the one entity it carries. Times are ms since the Unix epoch.
type nexmarkJSON struct {
	EventType EventType `json:"event_type"`
	Person    *Person   `json:"person,omitempty"`
	Auction   *Auction  `json:"auction,omitempty"`
	Bid       *Bid      `json:"bid,omitempty"`
}

// WriteEvents writes events 0..n-1 of benchmark's generator ("ysb" or
// "nexmark"), as configured by p (Seed, EventRate), to w as JSON lines:
// YSB events exactly as the query reads them, Nexmark events as
// {"event_type":N,"bid":{...}}. The event times start at
// 2026-01-01T00:00:00Z.
func WriteEvents(ctx context.Context, w io.Writer, benchmark string, p Params, n int64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	seed := p.Seed
	if seed == 0 {
		seed = 1
	}
	switch benchmark {
	case "ysb":
		g := NewYSBGenerator(YSBConfig{Seed: seed, EventRate: p.EventRate})
		buf := make([]byte, 0, ysbEventSize)
		for i := range n {
			if i%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			buf = append(g.AppendEvent(buf[:0], i), '\n')
			if _, err := bw.Write(buf); err != nil {
				return fmt.Errorf("benchsuite: writing events: %w", err)
			}
		}
	case "nexmark":
		g := NewNexmarkGenerator(NexmarkConfig{Seed: seed, EventRate: p.EventRate})
		enc := json.NewEncoder(bw)
		var err error
		for e := range handEvents(ctx, g, n, &err) {
			j := nexmarkJSON{EventType: e.Type, Person: e.Person, Auction: e.Auction}
			if e.Type == BidEvent {
				j.Bid = &e.Bid
			}
			if err := enc.Encode(j); err != nil {
				return fmt.Errorf("benchsuite: writing events: %w", err)
			}
		}
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown benchmark %q: want ysb or nexmark", benchmark)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("benchsuite: writing events: %w", err)
	}
	return nil
}
