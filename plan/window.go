package plan

import (
	"errors"
	"fmt"
	"time"

	"github.com/spate-io/spate/expr"
)

// ExpandWindows returns in with each row once per event-time window of
// length size, sliding by slide, that contains the timestamp ts, and the
// window's bounds in two columns named start and end: the input a grouping
// by sliding windows aggregates (package dataframe's Window, package sql's
// window(ts, size, slide) and HOP). Windows start at multiples of slide
// from the epoch, so a row is in ceil(size/slide) windows at most: the
// result is a union of that many projections, the one of the window that
// starts last at or before ts, and of each earlier one a filter keeping
// the rows still before its end. With slide >= size (tumbling windows)
// it is a single projection.
func ExpandWindows(in Node, ts expr.Expr, size, slide time.Duration, start, end string) (Node, error) {
	switch {
	case in == nil:
		return nil, wrap("ExpandWindows", errors.New("nil input"))
	case size <= 0 || slide <= 0:
		return nil, wrap("ExpandWindows", fmt.Errorf("window length and slide must be positive, got %v and %v", size, slide))
	}
	cols := make([]expr.Expr, 0, in.Schema().NumFields()+2)
	for _, f := range in.Schema().Fields() {
		cols = append(cols, expr.Col(f.Name))
	}
	n := int((size + slide - 1) / slide) // the windows a row can be in
	inputs := make([]Node, 0, n)
	for back := range n {
		endOf := expr.WindowBound(ts, slide, 0, back, size)
		proj, err := NewProject(in, append(cols[:len(cols):len(cols)],
			expr.As(expr.WindowBound(ts, slide, 0, back, 0), start), expr.As(endOf, end)))
		if err != nil {
			return nil, err
		}
		var node Node = proj
		if back > 0 { // the earlier windows that still contain the row
			if node, err = NewFilter(proj, expr.Lt(ts, endOf)); err != nil {
				return nil, err
			}
		}
		inputs = append(inputs, node)
	}
	if len(inputs) == 1 {
		return inputs[0], nil
	}
	return NewUnion(inputs...)
}
