package streaming

import (
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

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
	return &Watermark{Child: child, Column: column, Delay: delay}, nil
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
	return NewWatermark(c[0], w.Column, w.Delay)
}

// String implements plan.Node.
func (w *Watermark) String() string {
	return fmt.Sprintf("EventTimeWatermark %s, %v", w.Column, w.Delay)
}

// findWatermark returns the watermark node under p, if any.
func findWatermark(p plan.Node) *Watermark {
	if w, ok := p.(*Watermark); ok {
		return w
	}
	for _, c := range p.Children() {
		if w := findWatermark(c); w != nil {
			return w
		}
	}
	return nil
}
