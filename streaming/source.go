package streaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// Source is a replayable streaming source of Arrow record batches: the
// connector contract (offsets per partition, exact ranges) plus the
// schema of its rows. Read's emit takes ownership of each batch.
type Source interface {
	connector.Source[arrow.RecordBatch]
	Schema() *arrow.Schema
	// Name describes the source in plans and progress reports.
	Name() string
}

// StatefulSource is implemented by sources that keep something besides
// offsets that a restarted query must find again (the rate source's start
// time). The query stores Save's bytes in its checkpoint at the first run
// and hands them to Restore on every restart, before any other call.
type StatefulSource interface {
	Save() (json.RawMessage, error)
	Restore(json.RawMessage) error
}

// MetadataSource is implemented by sources that keep logs of their own
// (the file source's seen-files log): the query gives each its directory
// in the checkpoint, <checkpoint>/sources/<i>, when it starts, before any
// other call.
type MetadataSource interface {
	SetMetadataDir(dir string) error
}

// MalformedCountingSource is implemented by sources that parse records
// and may drop malformed ones (connector/file's stream source with mode
// DROPMALFORMED). The query then reads the source with
// ReadCountingMalformed instead of Read: the same read (same ranges,
// same rows, same errors, called concurrently for different ranges) that
// also returns how many malformed records it dropped. The counts of a
// batch's reads make its progress's NumDroppedMalformedRows for that
// source (a read that fails fails the batch, and its count is not
// reported). Without it, the source is read with Read and reports 0.
type MalformedCountingSource interface {
	ReadCountingMalformed(ctx context.Context, r connector.OffsetRange, emit func([]arrow.RecordBatch) error) (dropped int64, err error)
}

// ColumnReadingSource is implemented by sources that can build only some
// of their columns (connector/file's stream source). A query reads such
// a source with ReadColumns, naming the columns its plan reads, instead
// of Read or ReadCountingMalformed: the same read, whose batches have
// just those columns of the schema, in that order, and which returns the
// malformed records it dropped (as MalformedCountingSource).
type ColumnReadingSource interface {
	ReadColumns(ctx context.Context, r connector.OffsetRange, columns []string, emit func([]arrow.RecordBatch) error) (dropped int64, err error)
}

// AllocatingSource is implemented by sources that can build a micro-batch's
// rows with the allocator of the batch's execution and only the columns
// the query reads (the rate source; a generator or decoder of the
// user's). The batch's allocator reuses the buffers earlier batches freed,
// so the source's builders skip zeroing fresh memory, and it is the
// checked allocator in tests. A query reads such a source with ReadAlloc
// instead of Read (a ColumnReadingSource is read with ReadColumns first):
// the same read, whose batches are built with alloc and have just the
// named columns of the schema, in that order, or every column when
// columns is nil. The batches' buffers are released by the engine; a
// source must not keep them.
//
// filters are the predicates of the query's filters over the scan that
// the source said it supports (plan.FilterSupport): the source may skip
// rows for which one of them is false or null, to save building them,
// and may ignore any of them — the query filters the rows again. When
// several scans of the query share one read, filters is one OR of each
// scan's predicates. ReadAlloc returns how many rows it skipped: they
// count as read in the batch's progress (numInputRows).
type AllocatingSource interface {
	ReadAlloc(ctx context.Context, alloc memory.Allocator, r connector.OffsetRange, columns []string, filters []expr.Expr, emit func([]arrow.RecordBatch) error) (skipped int64, err error)
}

// ErrStreamingSource is returned when a plan with a streaming source is
// run as a batch query.
var ErrStreamingSource = errors.New("streaming: a streaming source can only be read by a streaming query; start one (streaming.Start, or WriteStream in package dataframe)")

// SourceNode is the plan.Source of a streaming source: the leaf of a
// streaming query's logical plan. Reading it as a batch fails with
// ErrStreamingSource; each micro-batch replaces it with a scan of that
// batch's offset ranges.
type SourceNode struct {
	Src Source
	// Instance, when set, gives each query that reads the node its own
	// instance of the source, as Spark opens a source per query: Start
	// calls it once per node, reads the instance instead of Src, and
	// closes it when the query stops (or fails to start). Src then only
	// describes the source (its schema and name), and two queries of one
	// streaming DataFrame keep apart what a source holds per query (a
	// file source's seen-files log in the checkpoint, a rate source's
	// start, a Kafka client). Without it every query reads Src, which
	// stays its owner's to close.
	Instance func(ctx context.Context) (Source, error)
}

// NewSourceNode returns the plan leaf for src, read by every query.
func NewSourceNode(src Source) *SourceNode { return &SourceNode{Src: src} }

// NewPerQuerySourceNode returns the plan leaf of a source of which each
// query gets its own instance from instance (see SourceNode.Instance);
// desc describes it.
func NewPerQuerySourceNode(desc Source, instance func(ctx context.Context) (Source, error)) *SourceNode {
	return &SourceNode{Src: desc, Instance: instance}
}

// instantiate returns p with every SourceNode that has an Instance
// replaced by a node over the query's own instance (one per node, so
// that scans of one source stay scans of one source), and the instances,
// which the query closes. An instance whose schema is not the node's
// fails the start.
func instantiate(ctx context.Context, p plan.Node) (plan.Node, []Source, error) {
	made := map[*SourceNode]*SourceNode{}
	var owned []Source
	out, err := plan.TransformUp(p, func(n plan.Node) (plan.Node, error) {
		s, ok := n.(*plan.Scan)
		if !ok {
			return n, nil
		}
		sn, ok := s.Source.(*SourceNode)
		if !ok || sn.Instance == nil {
			return n, nil
		}
		nn := made[sn]
		if nn == nil {
			inst, err := sn.Instance(ctx)
			if err != nil {
				return nil, fmt.Errorf("opening source %s: %w", sn.Src.Name(), err)
			}
			owned = append(owned, inst)
			if !inst.Schema().Equal(sn.Src.Schema()) {
				return nil, fmt.Errorf("source %s: its schema changed since the DataFrame was made: %v, was %v", sn.Src.Name(), inst.Schema(), sn.Src.Schema())
			}
			nn = NewSourceNode(inst)
			made[sn] = nn
		}
		return plan.NewScan(nn, s.Columns, s.Filters)
	})
	if err != nil {
		return nil, nil, errors.Join(err, closeSources(owned))
	}
	return out, owned, nil
}

// closeSources closes the sources a query opened.
func closeSources(srcs []Source) error {
	var errs []error
	for _, s := range srcs {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing source %s: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

var _ plan.Source = (*SourceNode)(nil)

// Schema implements plan.Source.
func (n *SourceNode) Schema() *arrow.Schema { return n.Src.Schema() }

// String implements plan.Source.
func (n *SourceNode) String() string { return "Stream " + n.Src.Name() }

// NumPartitions implements plan.Source.
func (n *SourceNode) NumPartitions() int { return 1 }

// SupportsFilter implements plan.FilterSupport: the predicates an
// AllocatingSource that implements plan.FilterSupport supports are pushed
// into the scans of it (ReadAlloc gets them).
func (n *SourceNode) SupportsFilter(e expr.Expr) bool {
	if _, ok := n.Src.(AllocatingSource); !ok {
		return false
	}
	fs, ok := n.Src.(plan.FilterSupport)
	return ok && fs.SupportsFilter(e)
}

// Read implements plan.Source: it always fails.
func (n *SourceNode) Read(context.Context, memory.Allocator, int, []string, []expr.Expr, func(arrow.RecordBatch) error) error {
	return ErrStreamingSource
}

// IsStreaming reports whether p reads a streaming source.
func IsStreaming(p plan.Node) bool {
	if s, ok := p.(*plan.Scan); ok {
		_, streaming := s.Source.(*SourceNode)
		return streaming
	}
	for _, c := range p.Children() {
		if IsStreaming(c) {
			return true
		}
	}
	return false
}

// rangeSource is the plan.Source of one micro-batch of a streaming
// source: one partition per offset range. rows, when set, counts the rows
// read; dropped, when set, the malformed records a MalformedCountingSource
// dropped. shared, when set, is the batch's sharedScan of the source,
// through which its scans read each range once.
type rangeSource struct {
	src     Source
	ranges  []connector.OffsetRange
	rows    *atomic.Int64
	dropped *atomic.Int64
	shared  *sharedScan
}

func (r *rangeSource) Schema() *arrow.Schema { return r.src.Schema() }
func (r *rangeSource) String() string {
	return fmt.Sprintf("%s %v", r.src.Name(), r.ranges)
}
func (r *rangeSource) NumPartitions() int { return max(1, len(r.ranges)) }

func (r *rangeSource) Read(ctx context.Context, alloc memory.Allocator, part int, columns []string, filters []expr.Expr, emit func(arrow.RecordBatch) error) error {
	if part >= len(r.ranges) {
		return nil
	}
	if r.shared != nil {
		return r.shared.read(ctx, r, alloc, part, columns, filters, emit)
	}
	return r.readSource(ctx, alloc, part, columns, filters, emit)
}

// readSource reads partition part's range from the source, with the
// given columns (all when nil) and, for an AllocatingSource, filters.
func (r *rangeSource) readSource(ctx context.Context, alloc memory.Allocator, part int, columns []string, filters []expr.Expr, emit func(arrow.RecordBatch) error) error {
	proj, err := newProjection(r.src.Schema(), columns)
	if err != nil {
		return err
	}
	project := columns != nil // a ColumnReadingSource builds just the columns
	each := func(bs []arrow.RecordBatch) error {
		for i, b := range bs {
			if project {
				p := proj.apply(b)
				b.Release()
				b = p
			}
			if r.rows != nil {
				r.rows.Add(b.NumRows())
			}
			err := emit(b) // valid during the call only (exec's contract)
			b.Release()
			if err != nil {
				releaseAll(bs[i+1:])
				return err
			}
		}
		return nil
	}
	if cr, ok := r.src.(ColumnReadingSource); ok && columns != nil {
		project = false
		n, err := cr.ReadColumns(ctx, r.ranges[part], columns, each)
		if err == nil && r.dropped != nil {
			r.dropped.Add(n)
		}
		return err
	}
	if as, ok := r.src.(AllocatingSource); ok {
		project = false
		skipped, err := as.ReadAlloc(ctx, alloc, r.ranges[part], columns, filters, each)
		if err == nil && r.rows != nil {
			r.rows.Add(skipped)
		}
		return err
	}
	if mc, ok := r.src.(MalformedCountingSource); ok && r.dropped != nil {
		n, err := mc.ReadCountingMalformed(ctx, r.ranges[part], each)
		if err == nil {
			r.dropped.Add(n)
		}
		return err
	}
	return r.src.Read(ctx, r.ranges[part], each)
}

// projection takes some columns, by name, of batches of one schema.
type projection struct {
	idx    []int
	schema *arrow.Schema
}

func newProjection(s *arrow.Schema, columns []string) (*projection, error) {
	p := &projection{idx: make([]int, len(columns))}
	fields := make([]arrow.Field, len(columns))
	for k, c := range columns {
		i, err := expr.FieldIndex(s, c)
		if err != nil {
			return nil, err
		}
		p.idx[k], fields[k] = i, s.Field(i)
	}
	p.schema = arrow.NewSchema(fields, nil)
	return p, nil
}

// apply returns b's columns of p (b keeps its reference; release both).
func (p *projection) apply(b arrow.RecordBatch) arrow.RecordBatch {
	cols := make([]arrow.Array, len(p.idx))
	for j, k := range p.idx {
		cols[j] = b.Column(k)
	}
	return array.NewRecordBatch(p.schema, cols, b.NumRows())
}

func releaseAll(bs []arrow.RecordBatch) {
	for _, b := range bs {
		b.Release()
	}
}

// binding is what a micro-batch binds a plan to: each streaming source's
// ranges (and a counter of the rows read from it), replacements of
// nodes, and for a stateful operator's input the time before which rows
// are late (zero: none).
type binding struct {
	ranges     map[*SourceNode][]connector.OffsetRange
	rows       map[*SourceNode]*atomic.Int64
	replace    map[plan.Node]plan.Node
	dropBefore time.Time
	// dropped counts the malformed records dropped per source (made by
	// bind, read with droppedMalformed).
	dropped map[*SourceNode]*atomic.Int64
	// wm, when set, observes the event times at each Watermark node;
	// late counts the rows dropBefore dropped.
	wm   *watermarks
	late *atomic.Int64
	// minPartitions splits each source's ranges into at least that many
	// (connector.SplitRanges), so that one source's batch is read by
	// several tasks.
	minPartitions int
	// shared holds, for each source the batch's plans scan more than
	// once, the sharedScan that reads its ranges once (see shareScans).
	shared map[*SourceNode]*sharedScan
}

// droppedMalformed returns the malformed records the batch's reads of n
// dropped (see MalformedCountingSource).
func (b *binding) droppedMalformed(n *SourceNode) int64 {
	if c := b.dropped[n]; c != nil {
		return c.Load()
	}
	return 0
}

// bind returns p with every streaming source replaced by a scan of the
// batch's ranges for that source, and the nodes of b.replace by their
// replacements. A Watermark node becomes its child; with b.dropBefore
// set, also a filter that drops rows whose event time is before it.
func (b *binding) bind(p plan.Node) (plan.Node, error) {
	if r, ok := b.replace[p]; ok {
		return r, nil
	}
	if w, ok := p.(*Watermark); ok {
		child, err := b.bind(w.Child)
		if err != nil {
			return nil, err
		}
		if i := b.wm.index(w); i >= 0 {
			if child, err = plan.NewObserve(child, "event time "+w.Column, b.wm.observer(i)); err != nil {
				return nil, err
			}
		}
		if b.dropBefore.IsZero() {
			return child, nil
		}
		if b.late != nil {
			col, before, late := w.Column, b.dropBefore.UnixMicro(), b.late
			if child, err = plan.NewObserve(child, "late rows", func(rb arrow.RecordBatch) { late.Add(countBefore(rb, col, before)) }); err != nil {
				return nil, err
			}
		}
		return plan.NewFilter(child, expr.Ge(expr.Col(w.Column), expr.Lit(b.dropBefore.UTC())))
	}
	if s, ok := p.(*plan.Scan); ok {
		if n, ok := s.Source.(*SourceNode); ok {
			if b.dropped == nil {
				b.dropped = map[*SourceNode]*atomic.Int64{}
			}
			if b.dropped[n] == nil {
				b.dropped[n] = new(atomic.Int64)
			}
			ranges := b.ranges[n]
			if b.minPartitions > 1 {
				ranges = connector.SplitRanges(ranges, b.minPartitions)
			}
			return plan.NewScan(&rangeSource{src: n.Src, ranges: ranges, rows: b.rows[n], dropped: b.dropped[n], shared: b.shared[n]}, s.Columns, s.Filters)
		}
		return p, nil
	}
	children := p.Children()
	if len(children) == 0 {
		return p, nil
	}
	bound := make([]plan.Node, len(children))
	changed := false
	for i, c := range children {
		nb, err := b.bind(c)
		if err != nil {
			return nil, err
		}
		bound[i] = nb
		changed = changed || nb != c
	}
	if !changed {
		return p, nil
	}
	return p.WithChildren(bound)
}

// sourcesOf returns the streaming sources of p, in plan order, once each.
func sourcesOf(p plan.Node) []*SourceNode {
	var out []*SourceNode
	var walk func(plan.Node)
	walk = func(n plan.Node) {
		if s, ok := n.(*plan.Scan); ok {
			if sn, ok := s.Source.(*SourceNode); ok {
				for _, o := range out {
					if o == sn {
						return
					}
				}
				out = append(out, sn)
			}
			return
		}
		for _, c := range n.Children() {
			walk(c)
		}
	}
	walk(p)
	return out
}

// countBefore counts the rows of b whose timestamp column col is before
// the time before (µs).
func countBefore(b arrow.RecordBatch, col string, before int64) int64 {
	j, err := expr.FieldIndex(b.Schema(), col)
	if err != nil {
		return 0
	}
	ts, ok := b.Column(j).(*array.Timestamp)
	if !ok {
		return 0
	}
	unit := ts.DataType().(*arrow.TimestampType).Unit
	var n int64
	for i := range ts.Len() {
		if ts.IsValid(i) && microsOfUnit(int64(ts.Value(i)), unit) < before {
			n++
		}
	}
	return n
}
