package streaming

import (
	"context"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// sharedScan lets the scans of one streaming source in a micro-batch —
// the two sides of a self-join, or a deduplication and a join over the
// same stream — read each of the batch's ranges from the source once.
// The first scan to reach a partition reads it with every column any of
// the scans needs and keeps the record batches; each scan of the
// partition, that one included, then gets them projected on its own
// columns, and the last releases them. The source's rows are counted
// once. The stateful operators' inputs run one after another, so the
// kept batches of a partition live from its first scan to its last;
// whatever a scan that never ran left is released with the batch
// (release).
type sharedScan struct {
	columns []string    // union of the scans' columns; nil: all
	filters []expr.Expr // one OR of the scans' pushed filters; nil when a scan has none
	readers int         // scans of the source in the batch's plans

	mu    sync.Mutex
	parts map[int]*sharedPart
}

// sharedPart is one partition of a sharedScan. done is closed once the
// first scan has read it (batches or err set).
type sharedPart struct {
	done    chan struct{}
	batches []arrow.RecordBatch
	err     error
	left    int // scans still to read it
}

// shareScans returns a sharedScan for each streaming source that plans
// scan more than once, not descending into skip (the stateful operators'
// placeholders, which the batch replaces by their results).
func shareScans(skip map[plan.Node]bool, plans ...plan.Node) map[*SourceNode]*sharedScan {
	type use struct {
		scans    int
		columns  []string
		all      bool
		filters  expr.Expr // OR of the scans' conjunctions
		unfilter bool      // a scan has no pushed filter
	}
	uses := map[*SourceNode]*use{}
	var walk func(p plan.Node)
	walk = func(p plan.Node) {
		if skip[p] {
			return
		}
		if s, ok := p.(*plan.Scan); ok {
			if n, ok := s.Source.(*SourceNode); ok {
				u := uses[n]
				if u == nil {
					u = &use{}
					uses[n] = u
				}
				u.scans++
				u.all = u.all || s.Columns == nil
				if f := expr.AndAll(s.Filters...); f == nil {
					u.unfilter = true
				} else if u.filters == nil {
					u.filters = f
				} else {
					u.filters = expr.Or(u.filters, f)
				}
				for _, c := range s.Columns {
					if !slices.Contains(u.columns, c) {
						u.columns = append(u.columns, c)
					}
				}
			}
			return
		}
		for _, c := range p.Children() {
			walk(c)
		}
	}
	for _, p := range plans {
		walk(p)
	}
	var out map[*SourceNode]*sharedScan
	for n, u := range uses {
		if u.scans < 2 {
			continue
		}
		if out == nil {
			out = map[*SourceNode]*sharedScan{}
		}
		ss := &sharedScan{readers: u.scans, parts: map[int]*sharedPart{}}
		if !u.all {
			ss.columns = u.columns
		}
		if !u.unfilter && u.filters != nil {
			ss.filters = []expr.Expr{u.filters}
		}
		out[n] = ss
	}
	return out
}

// read emits partition part of r with the given columns (and filters, for
// a scan beyond the counted ones): from the kept
// batches when another scan read it, else after reading it for all. A
// scan beyond the counted ones (none in the engine's plans) reads the
// source itself.
func (ss *sharedScan) read(ctx context.Context, r *rangeSource, alloc memory.Allocator, part int, columns []string, filters []expr.Expr, emit func(arrow.RecordBatch) error) error {
	ss.mu.Lock()
	p := ss.parts[part]
	first := p == nil
	if first {
		p = &sharedPart{done: make(chan struct{}), left: ss.readers}
		ss.parts[part] = p
	}
	if p.left == 0 {
		ss.mu.Unlock()
		return r.readSource(ctx, alloc, part, columns, filters, emit)
	}
	ss.mu.Unlock()
	if first {
		p.err = r.readSource(ctx, alloc, part, ss.columns, ss.filters, func(b arrow.RecordBatch) error {
			b.Retain()
			p.batches = append(p.batches, b)
			return nil
		})
		close(p.done)
	} else {
		select {
		case <-p.done:
		case <-ctx.Done():
			ss.done(p)
			return ctx.Err()
		}
	}
	defer ss.done(p)
	if p.err != nil {
		return p.err
	}
	if columns == nil || len(p.batches) == 0 {
		for _, b := range p.batches {
			if err := emit(b); err != nil {
				return err
			}
		}
		return nil
	}
	proj, err := newProjection(p.batches[0].Schema(), columns) // the kept batches share it
	if err != nil {
		return err
	}
	for _, b := range p.batches {
		pb := proj.apply(b)
		err := emit(pb)
		pb.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// done counts a scan of p as finished; the last releases the batches.
func (ss *sharedScan) done(p *sharedPart) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	p.left--
	if p.left == 0 {
		releaseAll(p.batches)
		p.batches = nil
	}
}

// release releases what scans that never ran left (at the batch's end).
func (ss *sharedScan) release() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, p := range ss.parts {
		select {
		case <-p.done:
		default:
			continue // still being read: only if the batch failed, and then its reader keeps it
		}
		releaseAll(p.batches)
		p.batches, p.left = nil, 0
	}
}
