package sql

import (
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// slidingWindow is window(ts, size, slide) (or HOP(ts, slide, size)): the
// start of each of the sliding windows holding ts. A row belongs to
// several windows, so it is only valid as a GROUP BY key, where the
// aggregation's input is expanded into one row per window (see
// expandWindows); as an expression it stands for the latest window.
type slidingWindow struct {
	ts          expr.Expr
	size, slide time.Duration
}

var _ expr.Expr = (*slidingWindow)(nil)

func (w *slidingWindow) start(back int) expr.Expr {
	return expr.WindowBound(w.ts, w.slide, 0, back, 0)
}

func (w *slidingWindow) Resolve(s *arrow.Schema) (expr.Type, error) { return w.start(0).Resolve(s) }

func (w *slidingWindow) Eval(*expr.EvalContext, arrow.RecordBatch) (arrow.Array, error) {
	return nil, errors.New("sql: a sliding window(ts, size, slide) is only valid as a GROUP BY key")
}

func (w *slidingWindow) String() string {
	return fmt.Sprintf("window(%s, %v, %v)", w.ts, w.size, w.slide)
}

func (w *slidingWindow) Children() []expr.Expr { return []expr.Expr{w.ts} }

func (w *slidingWindow) WithChildren(c []expr.Expr) (expr.Expr, error) {
	if len(c) != 1 {
		return nil, fmt.Errorf("window takes 1 child, got %d", len(c))
	}
	return &slidingWindow{ts: c[0], size: w.size, slide: w.slide}, nil
}

// windowStartColumn is the column expandWindows adds.
const windowStartColumn = "__window_start"

// expandWindows returns in with every row once per sliding window of w it
// belongs to, with the window's start in a __window_start column.
func expandWindows(in plan.Node, w *slidingWindow) (plan.Node, error) {
	cols := make([]expr.Expr, 0, in.Schema().NumFields()+1)
	for _, f := range in.Schema().Fields() {
		cols = append(cols, expr.Col(f.Name))
	}
	n := int((w.size + w.slide - 1) / w.slide)
	inputs := make([]plan.Node, 0, n)
	for back := range n {
		proj, err := plan.NewProject(in, append(cols[:len(cols):len(cols)], expr.As(w.start(back), windowStartColumn)))
		if err != nil {
			return nil, err
		}
		var node plan.Node = proj
		if back > 0 { // the earlier windows that still contain the row
			end := expr.WindowBound(w.ts, w.slide, 0, back, w.size)
			if node, err = plan.NewFilter(proj, expr.Lt(w.ts, end)); err != nil {
				return nil, err
			}
		}
		inputs = append(inputs, node)
	}
	if len(inputs) == 1 {
		return inputs[0], nil
	}
	return plan.NewUnion(inputs...)
}

// hasSlidingWindow reports whether e contains a sliding window.
func hasSlidingWindow(e expr.Expr) bool {
	if _, ok := e.(*slidingWindow); ok {
		return true
	}
	for _, c := range e.Children() {
		if hasSlidingWindow(c) {
			return true
		}
	}
	return false
}
