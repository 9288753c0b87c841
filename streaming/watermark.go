package streaming

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// Watermark is the plan node of withWatermark: Column (a timestamp) is
// the event time of the rows below it, which may arrive up to Delay late.
// It passes rows through; a streaming query uses it to compute its
// watermark (the latest event time seen minus Delay, never going back),
// and its stateful aggregation drops rows older than the watermark and
// evicts finished windows.
type Watermark struct {
	Child  plan.Node
	Column string
	Delay  time.Duration
	// origin is the node NewWatermark made for the user's WithWatermark;
	// the copies the optimizer makes (WithChildren) keep it, so that a
	// query tracks one watermark per WithWatermark however many copies
	// of it its stateful operators' inputs hold.
	origin *Watermark
}

var _ plan.Node = (*Watermark)(nil)

// NewWatermark returns the watermark node over child.
func NewWatermark(child plan.Node, column string, delay time.Duration) (*Watermark, error) {
	if child == nil {
		return nil, errors.New("streaming.NewWatermark: nil child")
	}
	i, err := expr.FieldIndex(child.Schema(), column)
	if err != nil {
		return nil, fmt.Errorf("WithWatermark: %w", err)
	}
	if child.Schema().Field(i).Type.ID() != arrow.TIMESTAMP {
		return nil, fmt.Errorf("WithWatermark: column %s is %s; the event time must be a timestamp (convert it with to_timestamp)", column, child.Schema().Field(i).Type)
	}
	if delay < 0 {
		return nil, fmt.Errorf("WithWatermark: the delay must not be negative, got %v", delay)
	}
	w := &Watermark{Child: child, Column: column, Delay: delay}
	w.origin = w
	return w, nil
}

// Schema implements plan.Node.
func (w *Watermark) Schema() *arrow.Schema { return w.Child.Schema() }

// Children implements plan.Node.
func (w *Watermark) Children() []plan.Node { return []plan.Node{w.Child} }

// WithChildren implements plan.Node.
func (w *Watermark) WithChildren(c []plan.Node) (plan.Node, error) {
	if len(c) != 1 {
		return nil, fmt.Errorf("Watermark takes 1 child, got %d", len(c))
	}
	n, err := NewWatermark(c[0], w.Column, w.Delay)
	if err != nil {
		return nil, err
	}
	n.origin = w.id()
	return n, nil
}

// id is the node a query tracks w's watermark by (see origin).
func (w *Watermark) id() *Watermark {
	if w.origin == nil { // made as a literal
		return w
	}
	return w.origin
}

// String implements plan.Node.
func (w *Watermark) String() string {
	return fmt.Sprintf("EventTimeWatermark %s, %v", w.Column, w.Delay)
}

// WithoutWatermarks returns p with every Watermark node replaced by its
// child: the plan one micro-batch runs when no row is late. Package exec
// has no operator for Watermark (a query's planning turns it into a
// filter of late rows), so DataFrame.Explain plans this to show a
// streaming DataFrame's physical plan.
func WithoutWatermarks(p plan.Node) (plan.Node, error) {
	return plan.TransformUp(p, func(n plan.Node) (plan.Node, error) {
		if w, ok := n.(*Watermark); ok {
			return w.Child, nil
		}
		return n, nil
	})
}

// findWatermark returns the watermark node under p, if any.
func findWatermark(p plan.Node) *Watermark {
	if w, ok := p.(*Watermark); ok {
		return w
	}
	if a, ok := p.(*aggOutput); ok { // a stateful operator's output
		return a.watermark
	}
	for _, c := range p.Children() {
		if w := findWatermark(c); w != nil {
			return w
		}
	}
	return nil
}

// WatermarkPolicy says how a query with several inputs that have a
// watermark (WithWatermark on each) combines them into its one watermark
// (Spark's spark.sql.streaming.multipleWatermarkPolicy).
type WatermarkPolicy int

const (
	// WatermarkMin (the default) follows the slowest input: no input's
	// rows are dropped as late or evicted early while it lags behind the
	// others. Until every input has seen a row, the watermark does not
	// move.
	WatermarkMin WatermarkPolicy = iota
	// WatermarkMax follows the fastest input: state is evicted sooner,
	// and rows of slower inputs may be dropped as late.
	WatermarkMax
)

// MultipleWatermarkPolicy sets how several inputs' watermarks combine.
// Default: WatermarkMin.
func MultipleWatermarkPolicy(p WatermarkPolicy) Option {
	return func(c *config) { c.watermarkPolicy = p }
}

// watermarks tracks a query's watermark: the latest event time seen by
// each Watermark node of its plan (observed as rows pass it, kept in the
// commit log), and the watermark, each input's latest event time less its
// delay, combined by the policy, never going back.
type watermarks struct {
	nodes  []*Watermark
	latest []atomic.Int64 // per node: the latest event time seen, µs; noEventTime: none
	policy WatermarkPolicy
	// current is the watermark the running batch started with (rows
	// before it are dropped); zero before the first one.
	current time.Time
	stats   eventTimeStats // of the running batch
}

// eventTimeStats are the smallest, largest and mean event time of the rows
// a batch's watermark nodes saw (Spark's progress eventTime min, max and
// avg).
type eventTimeStats struct {
	mu       sync.Mutex
	min, max int64 // µs
	sum      float64
	n        int64
}

func (s *eventTimeStats) add(low, high int64, sum float64, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 || low < s.min {
		s.min = low
	}
	if s.n == 0 || high > s.max {
		s.max = high
	}
	s.sum += sum
	s.n += n
}

// reset starts a batch's statistics.
func (s *eventTimeStats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.min, s.max, s.sum, s.n = 0, 0, 0, 0
}

// fill adds min, max and avg to a progress's eventTime map when the batch
// saw event times.
func (s *eventTimeStats) fill(m map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return
	}
	f := func(us int64) string { return time.UnixMicro(us).UTC().Format(time.RFC3339Nano) }
	m["min"], m["max"], m["avg"] = f(s.min), f(s.max), f(int64(s.sum/float64(s.n)))
}

const noEventTime = math.MinInt64

func newWatermarks(policy WatermarkPolicy, plans ...plan.Node) *watermarks {
	w := &watermarks{policy: policy}
	var walk func(plan.Node)
	walk = func(n plan.Node) {
		if x, ok := n.(*Watermark); ok && !slices.Contains(w.nodes, x.id()) {
			w.nodes = append(w.nodes, x.id())
		}
		for _, c := range n.Children() {
			walk(c)
		}
	}
	for _, p := range plans {
		walk(p)
	}
	w.latest = make([]atomic.Int64, len(w.nodes))
	for i := range w.latest {
		w.latest[i].Store(noEventTime)
	}
	return w
}

// index returns the position of node n, or -1 (also when w is nil).
func (w *watermarks) index(n *Watermark) int {
	if w == nil {
		return -1
	}
	return slices.Index(w.nodes, n.id())
}

// evictFunc returns the watermark a stateful operator evicts state with,
// once it has read its input (zero: none yet).
type evictFunc func() time.Time

// observer returns the function that takes note of node i's event times
// in a batch of rows passing it.
func (w *watermarks) observer(i int) func(arrow.RecordBatch) {
	col := w.nodes[i].Column
	return func(b arrow.RecordBatch) {
		j, err := expr.FieldIndex(b.Schema(), col)
		if err != nil {
			return
		}
		ts, ok := b.Column(j).(*array.Timestamp)
		if !ok {
			return
		}
		best, low, sum, n := int64(0), int64(0), 0.0, int64(0)
		for k := range ts.Len() {
			if !ts.IsValid(k) {
				continue
			}
			v := int64(ts.Value(k))
			if n == 0 || v > best {
				best = v
			}
			if n == 0 || v < low {
				low = v
			}
			sum += float64(v)
			n++
		}
		if n == 0 {
			return
		}
		unit := ts.DataType().(*arrow.TimestampType).Unit
		best, low = microsOfUnit(best, unit), microsOfUnit(low, unit)
		w.stats.add(low, best, float64(microsOfUnit(1, unit))*sum, n)
		for {
			old := w.latest[i].Load()
			if old >= best || w.latest[i].CompareAndSwap(old, best) {
				return
			}
		}
	}
}

func microsOfUnit(v int64, u arrow.TimeUnit) int64 {
	switch u {
	case arrow.Second:
		return v * 1e6
	case arrow.Millisecond:
		return v * 1e3
	case arrow.Nanosecond:
		return v / 1e3
	}
	return v
}

// after returns the watermark from the event times seen so far: at the
// end of a batch, the watermark of the next one.
func (w *watermarks) after() time.Time {
	var out int64
	have := false
	for i, n := range w.nodes {
		l := w.latest[i].Load()
		if l == noEventTime {
			if w.policy == WatermarkMin {
				return w.current // an input without rows holds it back
			}
			continue
		}
		c := l - n.Delay.Microseconds()
		switch {
		case !have:
			out, have = c, true
		case w.policy == WatermarkMin && c < out, w.policy == WatermarkMax && c > out:
			out = c
		}
	}
	if !have {
		return w.current
	}
	if t := time.UnixMicro(out).UTC(); t.After(w.current) {
		return t
	}
	return w.current
}

// save returns the latest event time of each node, for the commit log.
func (w *watermarks) save() []int64 {
	if len(w.nodes) == 0 {
		return nil
	}
	out := make([]int64, len(w.nodes))
	for i := range w.latest {
		out[i] = w.latest[i].Load()
	}
	return out
}

// restore sets the latest event times from the commit log (an entry of
// another shape is ignored: the watermark then restarts from current).
func (w *watermarks) restore(current time.Time, latest []int64) {
	w.current = current
	if len(latest) != len(w.nodes) {
		return
	}
	for i, l := range latest {
		w.latest[i].Store(l)
	}
}
