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
// plan.ExpandWindows); as an expression it stands for the latest window.
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

// windowStartColumn and windowEndColumn are the columns plan.ExpandWindows
// adds. The planner groups by both: the end is implied by the start, but a
// streaming aggregation in append mode needs a group column holding the
// window's end to know when the watermark has passed it.
const (
	windowStartColumn = "__window_start"
	windowEndColumn   = "__window_end"
)

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

// sessionWindow is session_window(ts, gap) (SESSION(ts, gap)), the start
// of the session window holding ts, or with end set session_end(ts, gap),
// its end. A session depends on the other rows of its group, so it is
// only valid as a GROUP BY key (session_end: in the SELECT list of such a
// grouping), where the aggregation's input gets a session merge (see
// sessionInput).
type sessionWindow struct {
	ts  expr.Expr
	gap time.Duration
	end bool
}

var _ expr.Expr = (*sessionWindow)(nil)

func (w *sessionWindow) Resolve(s *arrow.Schema) (expr.Type, error) {
	return expr.TimestampAdd(w.ts, w.gap).Resolve(s)
}

func (w *sessionWindow) Eval(*expr.EvalContext, arrow.RecordBatch) (arrow.Array, error) {
	return nil, errors.New("sql: session_window(ts, gap) is only valid as a GROUP BY key, and session_end(ts, gap) in the SELECT list of such a grouping")
}

func (w *sessionWindow) String() string {
	if w.end {
		return fmt.Sprintf("session_end(%s, %v)", w.ts, w.gap)
	}
	return fmt.Sprintf("session_window(%s, %v)", w.ts, w.gap)
}

func (w *sessionWindow) Children() []expr.Expr { return []expr.Expr{w.ts} }

func (w *sessionWindow) WithChildren(c []expr.Expr) (expr.Expr, error) {
	if len(c) != 1 {
		return nil, fmt.Errorf("session_window takes 1 child, got %d", len(c))
	}
	return &sessionWindow{ts: c[0], gap: w.gap, end: w.end}, nil
}

// Columns sessionInput adds to an aggregation's input.
const (
	sessionStartColumn = "__session_start"
	sessionEndColumn   = "__session_end"
)

// sessionInput returns in with every row's session bounds (session
// window w per value of the other groups) in __session_start and
// __session_end, and the groups rewritten over it: the session becomes
// its start column, the other groups columns (an expression is computed
// into a column of its output name first).
func sessionInput(in plan.Node, w *sessionWindow, groups []expr.Expr) (plan.Node, []expr.Expr, error) {
	s := in.Schema()
	cols := make([]expr.Expr, 0, s.NumFields()+len(groups)+2)
	for _, f := range s.Fields() {
		cols = append(cols, expr.Col(f.Name))
	}
	var keys []string
	out := make([]expr.Expr, len(groups))
	for i, g := range groups {
		switch x := expr.Unalias(g).(type) {
		case *sessionWindow:
			out[i] = expr.As(expr.Col(sessionStartColumn), expr.Name(g))
		case *expr.Column:
			keys = append(keys, x.Name)
			out[i] = g
		default:
			col := fmt.Sprintf("__group_%d", i)
			cols = append(cols, expr.As(x, col))
			keys = append(keys, col)
			out[i] = expr.As(expr.Col(col), expr.Name(g))
		}
	}
	cols = append(cols,
		expr.As(expr.TimestampAdd(w.ts, 0), sessionStartColumn),
		expr.As(expr.TimestampAdd(w.ts, w.gap), sessionEndColumn))
	proj, err := plan.NewProject(in, cols)
	if err != nil {
		return nil, nil, err
	}
	ms, err := plan.NewMergeSessions(proj, keys, sessionStartColumn, sessionEndColumn)
	return ms, out, err
}

// hasSessionWindow reports whether e contains a session window.
func hasSessionWindow(e expr.Expr) bool {
	if _, ok := e.(*sessionWindow); ok {
		return true
	}
	for _, c := range e.Children() {
		if hasSessionWindow(c) {
			return true
		}
	}
	return false
}
