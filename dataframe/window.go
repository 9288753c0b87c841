package dataframe

import (
	"errors"
	"fmt"
	"time"

	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/streaming"
)

// Names of the window bounds a windowed GroupBy outputs in place of the
// Window column.
const (
	WindowStartColumn = "window_start"
	WindowEndColumn   = "window_end"
)

// windowSpec is an event-time window grouping column: a time window of
// size and slide, or a session window of gap (size and slide zero).
type windowSpec struct {
	ts          expr.Expr
	size, slide time.Duration
	gap         time.Duration
}

// Window groups rows into event-time windows of the given length over the
// timestamp column (Spark's window): tumbling windows without a slide,
// sliding windows (each row in every window that contains it) with one.
// Windows start at multiples of the slide from the epoch. Use it in
// GroupBy; the output has the columns window_start and window_end
// (Spark's window struct's start and end) instead of it.
func Window(timeCol Column, size time.Duration, slide ...time.Duration) Column {
	s := size
	if len(slide) > 0 {
		s = slide[0]
	}
	c := Column{e: timeCol.e, err: timeCol.err}
	switch {
	case size <= 0:
		c.err = fmt.Errorf("Window: the length must be positive, got %v", size)
	case s <= 0 || s > size:
		c.err = fmt.Errorf("Window: the slide must be positive and at most the length %v, got %v", size, s)
	}
	c.window = &windowSpec{ts: timeCol.e, size: size, slide: s}
	return c
}

// SessionWindow groups rows into session windows over the timestamp
// column (Spark's session_window): per value of the other grouping
// columns, a session starts at an event and lasts while events follow
// each other less than gap apart; it ends gap after its last event. Each
// event alone spans [ts, ts + gap); events whose spans overlap are in one
// session. Use it in GroupBy; the output has the columns window_start and
// window_end (the session's first event, and its last event plus gap)
// instead of it. On a stream, a session is final once the watermark
// passes its end: append mode writes it then, once; update mode writes a
// session whenever a batch adds to it (a session that merged with another
// is written with its new bounds; the rows with the old bounds are not
// retracted).
func SessionWindow(timeCol Column, gap time.Duration) Column {
	c := Column{e: timeCol.e, err: timeCol.err}
	if gap <= 0 {
		c.err = fmt.Errorf("SessionWindow: the gap must be positive, got %v", gap)
	}
	c.window = &windowSpec{ts: timeCol.e, gap: gap}
	return c
}

// sessionInput rewrites a session-windowed aggregation's input: every
// row with window_start and window_end set to the bounds of its session,
// per value of the other groups (which are made columns first when they
// are expressions).
func sessionInput(p plan.Node, w *windowSpec, groups []Column) (plan.Node, []expr.Expr, error) {
	s := p.Schema()
	cols := make([]expr.Expr, 0, s.NumFields()+len(groups)+1)
	for _, f := range s.Fields() {
		cols = append(cols, expr.Col(f.Name))
	}
	var keys []string
	out := make([]expr.Expr, 0, len(groups)+1)
	for _, g := range groups {
		if g.window != nil {
			out = append(out, expr.Col(WindowStartColumn), expr.Col(WindowEndColumn))
			continue
		}
		if c, ok := g.e.(*expr.Column); ok {
			keys = append(keys, c.Name)
			out = append(out, g.e)
			continue
		}
		f, err := expr.Field(g.e, s)
		if err != nil {
			return nil, nil, err
		}
		cols = append(cols, expr.As(g.e, f.Name))
		keys = append(keys, f.Name)
		out = append(out, expr.Col(f.Name))
	}
	cols = append(cols,
		expr.As(expr.TimestampAdd(w.ts, 0), WindowStartColumn),
		expr.As(expr.TimestampAdd(w.ts, w.gap), WindowEndColumn))
	proj, err := plan.NewProject(p, cols)
	if err != nil {
		return nil, nil, err
	}
	ms, err := plan.NewMergeSessions(proj, keys, WindowStartColumn, WindowEndColumn)
	return ms, out, err
}

// windowInput rewrites a windowed aggregation's input: every row once per
// window it belongs to, with window_start and window_end columns, and the
// groups with the window replaced by those columns.
func windowInput(p plan.Node, groups []Column) (plan.Node, []expr.Expr, error) {
	var w *windowSpec
	out := make([]expr.Expr, 0, len(groups)+1)
	for _, g := range groups {
		if g.window == nil {
			out = append(out, g.e)
			continue
		}
		if w != nil {
			return nil, nil, errors.New("GroupBy takes at most one Window or SessionWindow")
		}
		w = g.window
		out = append(out, expr.Col(WindowStartColumn), expr.Col(WindowEndColumn))
	}
	if w == nil {
		return p, out, nil
	}
	if w.gap > 0 {
		return sessionInput(p, w, groups)
	}
	in, err := plan.ExpandWindows(p, w.ts, w.size, w.slide, WindowStartColumn, WindowEndColumn)
	return in, out, err
}

// WithWatermark declares column (a timestamp) the event time of a
// streaming DataFrame, and that rows may arrive up to delay late (Spark's
// withWatermark). After each batch the watermark becomes the latest event
// time seen minus delay (it never goes back). A streaming aggregation
// over a Window on the column (or grouping by the column) then drops
// rows older than the watermark, evicts the windows that ended at or
// before it from its state, and in append mode writes each window once,
// when the watermark passes its end. On a batch DataFrame it does
// nothing.
func (df *DataFrame) WithWatermark(column string, delay time.Duration) *DataFrame {
	return df.derive("WithWatermark", func(p plan.Node) (plan.Node, error) {
		if delay < 0 {
			return nil, fmt.Errorf("the delay must not be negative, got %v", delay)
		}
		if !streaming.IsStreaming(p) {
			return p, nil
		}
		return streaming.NewWatermark(p, column, delay)
	})
}
