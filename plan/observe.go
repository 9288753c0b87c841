package plan

import (
	"errors"

	"github.com/apache/arrow-go/v18/arrow"
)

// Observe passes its child's rows through unchanged and calls Fn with
// every batch on the way (from several tasks at once: Fn must be safe
// for concurrent use, and must not keep the batch). A streaming query
// uses it to see the event times of a batch's rows, for its watermark.
// A plan that runs a subtree twice calls Fn twice for its rows.
type Observe struct {
	Label string // shown in plans
	Fn    func(arrow.RecordBatch)
	Child Node
}

// NewObserve returns child observed by fn.
func NewObserve(child Node, label string, fn func(arrow.RecordBatch)) (*Observe, error) {
	if child == nil || fn == nil {
		return nil, wrap("Observe", errors.New("nil child or function"))
	}
	return &Observe{Label: label, Fn: fn, Child: child}, nil
}

// Schema implements Node.
func (o *Observe) Schema() *arrow.Schema { return o.Child.Schema() }

// Children implements Node.
func (o *Observe) Children() []Node { return []Node{o.Child} }

// WithChildren implements Node.
func (o *Observe) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("Observe", errors.New("needs one child"))
	}
	return NewObserve(c[0], o.Label, o.Fn)
}

// String implements Node.
func (o *Observe) String() string { return "Observe " + o.Label }
