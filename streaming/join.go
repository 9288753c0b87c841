package streaming

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// Columns a stream-stream join adds to the rows it buffers: a row id
// unique in the query (the state's key; two equal rows are both kept) and
// whether the row has matched a row of the other side (for outer joins).
const (
	joinRowColumn     = "__join_row"
	joinMatchedColumn = "__join_matched"
)

// streamingJoin joins two streams (Spark's stream-stream join). Each side
// buffers its rows in state; a batch joins its new left rows with every
// right row (buffered and new) and the buffered left rows with the new
// right rows, so each pair is output once, in the batch that brought the
// later of its two rows. A side's rows leave the state once no future row
// of the other side can match them: when the join condition bounds the
// other side's event time from above by this side's (an equality of the
// two event times, or a range such as l.ts <= r.ts + 1h written with
// TimestampAdd / INTERVAL) and the watermark passed that bound. An outer
// join then writes the rows that never matched, with nulls for the other
// side. The output is in append mode.
type streamingJoin struct {
	node        *aggOutput
	input       *plan.Join
	left, right joinSide
	lag         time.Duration // how far behind the watermark the inputs' event times may be
}

// joinSide is one input of a stream-stream join.
type joinSide struct {
	name   string // "left" or "right", for messages and the state's id
	st     tableState
	schema *arrow.Schema // the input's columns
	outer  bool          // its unmatched rows are written when evicted
	// With a watermark and a time bound: a row is evicted once evictCol's
	// value plus evictShift is at or before the watermark.
	evictCol   string
	evictShift time.Duration
}

func (s *joinSide) canEvict() bool { return s.evictCol != "" }

// newStreamingJoin prepares the incremental form of j, both of whose
// inputs are streams.
func newStreamingJoin(j *plan.Join, ph *aggOutput, mode OutputMode) (*streamingJoin, error) {
	if mode != Append {
		return nil, fmt.Errorf("%w: a join of two streams writes in append mode only (as in Spark); aggregate its output in a separate query to update results", ErrUnsupported)
	}
	sj := &streamingJoin{node: ph, input: j}
	// The join's rows carry both sides' event-time columns; how far behind
	// the watermark they come is its outputDelay, which an operator above
	// allows for.
	ph.ends = timeColumns(j.Left)
	maps.Copy(ph.ends, timeColumns(j.Right))
	sj.left = joinSide{name: "left", schema: j.Left.Schema()}
	sj.right = joinSide{name: "right", schema: j.Right.Schema()}
	switch j.Type {
	case plan.InnerJoin:
	case plan.LeftOuterJoin:
		sj.left.outer = true
	case plan.RightOuterJoin:
		sj.right.outer = true
	case plan.FullOuterJoin:
		sj.left.outer, sj.right.outer = true, true
	default:
		return nil, fmt.Errorf("%w: a %s join of two streams is not supported; inner, left outer, right outer and full outer joins are", ErrUnsupported, j.Type)
	}
	lt, rt := timeColumns(j.Left), timeColumns(j.Right)
	if len(lt) > 0 && len(rt) > 0 {
		sj.timeBounds(lt, rt)
	}
	for _, s := range []*joinSide{&sj.left, &sj.right} {
		if s.outer && !s.canEvict() {
			return nil, fmt.Errorf("%w: an outer join of two streams needs a watermark on both (WithWatermark) and a join condition that bounds the event times of the two sides against each other (such as l.ts >= r.ts AND l.ts <= r.ts + an interval, or equal event times), so that the %s side's rows without a match can be written once none can come", ErrUnsupported, s.name)
		}
		fields := append([]arrow.Field{
			{Name: joinRowColumn, Type: arrow.PrimitiveTypes.Int64},
			{Name: joinMatchedColumn, Type: arrow.FixedWidthTypes.Boolean},
		}, s.schema.Fields()...)
		s.st = tableState{kind: "joinstate", what: "join state (" + s.name + " side)", schema: arrow.NewSchema(fields, nil)}
	}
	return sj, nil
}

// timeColumns returns the event-time columns of a join side's output,
// each with its arrival shift: the side's future rows have a value above
// the watermark less the shift. A column the watermark is on has shift 0
// (rows before the watermark are dropped as late); so has a window's end
// or the eviction column of an aggregation below (which writes a window
// once the watermark passes its end); the start of a tumbling window has
// its slide (see groupEnd).
func timeColumns(side plan.Node) map[string]time.Duration {
	wm := findWatermark(side)
	if wm == nil {
		return nil
	}
	out := map[string]time.Duration{}
	for _, f := range side.Schema().Fields() {
		if d, ok := columnEnd(side, f.Name, wm.Column); ok {
			out[f.Name] = d
		}
	}
	return out
}

// timeBounds finds in the join's condition the bounds that let each
// side's rows be evicted, given each side's event-time columns and their
// arrival shifts (timeColumns): a conjunct a <= b (or <, >, >=) where a
// and b are event-time columns of the two sides, each possibly shifted by
// a constant (TimestampAdd), and an equality of two event-time columns.
// A right row r needs a left row l with l + da <= r + dz, and future left
// rows are after the watermark W less the left side's arrival shift al,
// so r is done once r + dz - da + al <= W; symmetrically for left rows.
// An equality ends a row once its value plus the other side's arrival
// shift is at or before W.
func (sj *streamingJoin) timeBounds(lt, rt map[string]time.Duration) {
	j := sj.input
	bound := func(s *joinSide, col string, k time.Duration) {
		if !s.canEvict() || k < s.evictShift {
			s.evictCol, s.evictShift = col, k
		}
	}
	for i := range j.LeftKeys {
		l, ok1 := j.LeftKeys[i].(*expr.Column)
		r, ok2 := j.RightKeys[i].(*expr.Column)
		if !ok1 || !ok2 {
			continue
		}
		al, okL := lt[l.Name]
		ar, okR := rt[r.Name]
		if okL && okR {
			bound(&sj.left, l.Name, ar)
			bound(&sj.right, r.Name, al)
		}
	}
	if j.Condition == nil {
		return
	}
	// shifted reads col or TimestampAdd(col, d).
	shifted := func(e expr.Expr) (string, time.Duration, bool) {
		if c, ok := e.(*expr.Column); ok {
			return c.Name, 0, true
		}
		if c, ok := e.(*expr.Call); ok && c.Name == "timestamp_add" && len(c.Args) == 1 && len(c.Params) == 1 {
			col, ok := c.Args[0].(*expr.Column)
			d, ok2 := c.Params[0].(time.Duration)
			if ok && ok2 {
				return col.Name, d, true
			}
		}
		return "", 0, false
	}
	for _, c := range expr.Conjuncts(j.Condition) {
		b, ok := c.(*expr.Binary)
		if !ok {
			continue
		}
		lo, hi := b.Left, b.Right // lo <= hi
		switch b.Op {
		case expr.OpLt, expr.OpLe:
		case expr.OpGt, expr.OpGe:
			lo, hi = hi, lo
		default:
			continue
		}
		a, da, ok1 := shifted(lo)
		z, dz, ok2 := shifted(hi)
		if !ok1 || !ok2 {
			continue
		}
		// a + da <= z + dz. (Names are unique across the two sides: the
		// join's schema is both sides' columns.)
		if al, okA := lt[a]; okA {
			if _, okZ := rt[z]; okZ { // l <= r + (dz - da): ends right rows
				bound(&sj.right, z, dz-da+al)
			}
		}
		if ar, okA := rt[a]; okA {
			if _, okZ := lt[z]; okZ { // r <= l + (dz - da): ends left rows
				bound(&sj.left, z, dz-da+ar)
			}
		}
	}
}

func (sj *streamingJoin) kind() string            { return "join" }
func (sj *streamingJoin) placeholder() *aggOutput { return sj.node }
func (sj *streamingJoin) inputPlan() plan.Node    { return sj.input }
func (sj *streamingJoin) numRows() int64          { return sj.left.st.rows + sj.right.st.rows }

// outputDelay: a pair's rows stay buffered until the watermark passes
// their event time plus the side's shift, so output event times are at
// most the largest shift (plus the input's lag) behind the watermark.
func (sj *streamingJoin) outputDelay() (time.Duration, bool) {
	if !sj.left.canEvict() || !sj.right.canEvict() {
		return 0, false
	}
	return sj.lag + max(0, sj.left.evictShift, sj.right.evictShift), true
}

func (sj *streamingJoin) setLag(d time.Duration, bounded bool) error {
	if !bounded {
		for _, s := range []*joinSide{&sj.left, &sj.right} {
			if s.outer {
				return fmt.Errorf("%w: an outer join of two streams over a join without time bounds: the %s side's rows could never be known to have no match", ErrUnsupported, s.name)
			}
			s.evictCol = ""
		}
	}
	sj.lag = d
	return nil
}

func (sj *streamingJoin) load(ctx context.Context, id int64, alloc memory.Allocator) error {
	if err := sj.left.st.load(ctx, id, alloc); err != nil {
		return err
	}
	return sj.right.st.load(ctx, id, alloc)
}

func (sj *streamingJoin) close() {
	sj.left.st.close()
	sj.right.st.close()
}

// run computes batch id's joined rows from the bound join (its two inputs
// read this batch's rows), updates both sides' state and evicts with the
// watermark after the batch.
func (sj *streamingJoin) run(ctx context.Context, xc *exec.Context, input plan.Node, id int64, evict evictFunc) (plan.Node, []arrow.RecordBatch, int64, error) {
	bound, ok := input.(*plan.Join)
	if !ok {
		return nil, nil, 0, fmt.Errorf("streaming join: the bound input is a %T", input)
	}
	collect := func(p plan.Node, what string) ([]arrow.RecordBatch, error) {
		op, err := exec.Plan(xc, p)
		if err != nil {
			return nil, err
		}
		return xc.Collect(ctx, op, what)
	}
	var keep []arrow.RecordBatch // released when run returns
	defer func() { releaseAll(keep) }()
	// The batch's new rows of each side, with row ids.
	var next int64
	newRows := func(s *joinSide, n plan.Node) ([]arrow.RecordBatch, error) {
		bs, err := collect(n, "streaming join: the "+s.name+" side's new rows")
		if err != nil {
			return nil, err
		}
		defer releaseAll(bs)
		out := make([]arrow.RecordBatch, 0, len(bs))
		for _, b := range bs {
			nb := withRowIDs(xc.Alloc, s.st.schema, b, id<<32|next)
			next += b.NumRows()
			out = append(out, nb)
		}
		keep = append(keep, out...)
		return out, nil
	}
	newL, err := newRows(&sj.left, bound.Left)
	if err != nil {
		return nil, nil, 0, err
	}
	newR, err := newRows(&sj.right, bound.Right)
	if err != nil {
		return nil, nil, 0, err
	}
	rel := func(s *joinSide, bs []arrow.RecordBatch, withID bool) (plan.Node, error) {
		r, err := relation(s.st.schema, bs)
		if err != nil {
			return nil, err
		}
		cols := make([]expr.Expr, 0, s.schema.NumFields()+1)
		if withID {
			cols = append(cols, expr.Col(joinRowColumn))
		}
		for _, f := range s.schema.Fields() {
			cols = append(cols, expr.Col(f.Name))
		}
		return plan.NewProject(r, cols)
	}
	join := func(jt plan.JoinType, l, r plan.Node) (plan.Node, error) {
		return plan.NewEquiJoin(l, r, jt, sj.input.LeftKeys, sj.input.RightKeys, sj.input.Condition)
	}
	// Pairs: new left rows with all right rows, buffered left rows with
	// new right rows.
	lNew, err := rel(&sj.left, newL, false)
	if err != nil {
		return nil, nil, 0, err
	}
	rNew, err := rel(&sj.right, newR, false)
	if err != nil {
		return nil, nil, 0, err
	}
	lOld, err := rel(&sj.left, sj.left.st.batches, false)
	if err != nil {
		return nil, nil, 0, err
	}
	rOld, err := rel(&sj.right, sj.right.st.batches, false)
	if err != nil {
		return nil, nil, 0, err
	}
	rAll, err := plan.NewUnion(rOld, rNew)
	if err != nil {
		return nil, nil, 0, err
	}
	p1, err := join(plan.InnerJoin, lNew, rAll)
	if err != nil {
		return nil, nil, 0, err
	}
	p2, err := join(plan.InnerJoin, lOld, rNew)
	if err != nil {
		return nil, nil, 0, err
	}
	pairs, err := plan.NewUnion(p1, p2)
	if err != nil {
		return nil, nil, 0, err
	}
	out, err := collect(pairs, "streaming join: pairs")
	if err != nil {
		return nil, nil, 0, err
	}
	outputs := out
	fail := func(err error) (plan.Node, []arrow.RecordBatch, int64, error) {
		releaseAll(outputs)
		return nil, nil, 0, err
	}
	var watermark time.Time
	if w := evict(); !w.IsZero() {
		watermark = w.Add(-sj.lag)
	}
	// Which buffered and new rows matched in this batch (outer sides).
	matched := func(s *joinSide, self, selfNew, other, otherNew []arrow.RecordBatch, leftSide bool) (map[int64]bool, error) {
		if !s.outer {
			return nil, nil
		}
		ids := map[int64]bool{}
		pairsOf := func(mine, theirs []arrow.RecordBatch, sideOf *joinSide, otherSide *joinSide) error {
			if len(mine) == 0 || len(theirs) == 0 {
				return nil
			}
			m, err := rel(sideOf, mine, true)
			if err != nil {
				return err
			}
			o, err := rel(otherSide, theirs, false)
			if err != nil {
				return err
			}
			var semi plan.Node
			if leftSide {
				semi, err = join(plan.LeftSemiJoin, m, o)
			} else {
				// A right semi join: the right rows that match a left row.
				semi, err = plan.NewEquiJoin(m, o, plan.LeftSemiJoin, sj.input.RightKeys, sj.input.LeftKeys, sj.input.Condition)
			}
			if err != nil {
				return err
			}
			bs, err := collect(semi, "streaming join: rows that matched")
			if err != nil {
				return err
			}
			defer releaseAll(bs)
			for _, b := range bs {
				col := b.Column(0).(*array.Int64)
				for i := range col.Len() {
					ids[col.Value(i)] = true
				}
			}
			return nil
		}
		otherSide := &sj.right
		if !leftSide {
			otherSide = &sj.left
		}
		if err := pairsOf(append(append([]arrow.RecordBatch(nil), self...), selfNew...), otherNew, s, otherSide); err != nil {
			return nil, err
		}
		if err := pairsOf(selfNew, other, s, otherSide); err != nil {
			return nil, err
		}
		return ids, nil
	}
	lm, err := matched(&sj.left, sj.left.st.batches, newL, sj.right.st.batches, newR, true)
	if err != nil {
		return fail(err)
	}
	rm, err := matched(&sj.right, sj.right.st.batches, newR, sj.left.st.batches, newL, false)
	if err != nil {
		return fail(err)
	}
	// The new states, and the evicted rows that never matched.
	var updated int64
	for _, side := range []struct {
		s       *joinSide
		newRows []arrow.RecordBatch
		matched map[int64]bool
		left    bool
	}{{&sj.left, newL, lm, true}, {&sj.right, newR, rm, false}} {
		nextState, unmatched, err := side.s.advance(xc.Alloc, side.newRows, side.matched, watermark)
		if err != nil {
			return fail(err)
		}
		for _, b := range side.newRows {
			updated += b.NumRows()
		}
		if err := side.s.st.write(ctx, id, side.s.st.schema, nextState, side.s.st.batches); err != nil {
			releaseAll(nextState)
			releaseAll(unmatched)
			return fail(err)
		}
		side.s.st.replace(side.s.st.schema, nextState)
		if len(unmatched) > 0 {
			padded, err := sj.nullPadded(ctx, xc, unmatched, side.left, collect)
			releaseAll(unmatched)
			if err != nil {
				return fail(err)
			}
			outputs = append(outputs, padded...)
		}
	}
	// Pairs and null-padded rows differ in nullability: give them all
	// the join's schema.
	schema := sj.input.Schema()
	for i, b := range outputs {
		if !b.Schema().Equal(schema) {
			outputs[i] = array.NewRecordBatch(schema, b.Columns(), b.NumRows())
			b.Release()
		}
	}
	r, err := plan.NewLocalRelation(schema, [][]arrow.RecordBatch{outputs})
	if err != nil {
		return fail(err)
	}
	return r, outputs, updated, nil
}

// advance returns the side's state after the batch: the buffered rows
// and newRows, with their matched flags set from matched, less the rows
// the watermark ended; and, for an outer side, the ended rows that never
// matched.
func (s *joinSide) advance(alloc memory.Allocator, newRows []arrow.RecordBatch, matched map[int64]bool, watermark time.Time) (next, unmatched []arrow.RecordBatch, err error) {
	evictAt := int64(0)
	evict := s.canEvict() && !watermark.IsZero()
	col := -1
	if evict {
		evictAt = watermark.Add(-s.evictShift).UnixMicro()
		for i, f := range s.st.schema.Fields() {
			if f.Name == s.evictCol {
				col = i
			}
		}
		// (The column's values are compared in µs, whatever its unit.)
		if col < 0 {
			return nil, nil, fmt.Errorf("streaming join: no event-time column %s on the %s side", s.evictCol, s.name)
		}
	}
	all := append(append([]arrow.RecordBatch(nil), s.st.batches...), newRows...)
	fail := func(err error) ([]arrow.RecordBatch, []arrow.RecordBatch, error) {
		releaseAll(next)
		releaseAll(unmatched)
		return nil, nil, err
	}
	for _, b := range all {
		ids := b.Column(0).(*array.Int64)
		flags := b.Column(1).(*array.Boolean)
		var ts *array.Timestamp
		var unit arrow.TimeUnit
		if evict {
			ts, _ = b.Column(col).(*array.Timestamp)
			if ts == nil {
				return fail(fmt.Errorf("streaming join: event-time column %s of the %s side is %s, not a timestamp", s.evictCol, s.name, b.Column(col).DataType()))
			}
			unit = ts.DataType().(*arrow.TimestampType).Unit
		}
		var keepIdx, goneIdx []int32
		newFlags := make([]bool, 0, b.NumRows())
		flagsChanged := false
		for i := range int(b.NumRows()) {
			m := flags.Value(i) || matched[ids.Value(i)]
			if evict && ts.IsValid(i) && microsOfUnit(int64(ts.Value(i)), unit) <= evictAt {
				if s.outer && !m {
					goneIdx = append(goneIdx, int32(i))
				}
				continue
			}
			keepIdx = append(keepIdx, int32(i))
			newFlags = append(newFlags, m)
			flagsChanged = flagsChanged || m != flags.Value(i)
		}
		if len(keepIdx) == int(b.NumRows()) && !flagsChanged {
			// Unchanged: kept as it is, which also spares writing its
			// rows to the state store again (tableState.write).
			b.Retain()
			next = append(next, b)
			continue
		}
		if len(keepIdx) > 0 {
			kb, err := takeRows(alloc, b, keepIdx)
			if err != nil {
				return fail(err)
			}
			fb := array.NewBooleanBuilder(alloc)
			fb.AppendValues(newFlags, nil)
			fa := fb.NewArray()
			fb.Release()
			cols := append([]arrow.Array(nil), kb.Columns()...)
			cols[1] = fa
			nb := array.NewRecordBatch(s.st.schema, cols, kb.NumRows())
			fa.Release()
			kb.Release()
			next = append(next, nb)
		}
		if len(goneIdx) > 0 {
			gb, err := takeRows(alloc, b, goneIdx)
			if err != nil {
				return fail(err)
			}
			unmatched = append(unmatched, gb)
		}
	}
	return next, unmatched, nil
}

// nullPadded returns the join's output rows for a side's rows that never
// matched (state columns included): their columns, and nulls for the
// other side's.
func (sj *streamingJoin) nullPadded(ctx context.Context, xc *exec.Context, rows []arrow.RecordBatch, left bool, collect func(plan.Node, string) ([]arrow.RecordBatch, error)) ([]arrow.RecordBatch, error) {
	s := &sj.left
	if !left {
		s = &sj.right
	}
	r, err := relation(s.st.schema, rows)
	if err != nil {
		return nil, err
	}
	out := sj.input.Schema()
	nl := sj.left.schema.NumFields()
	cols := make([]expr.Expr, out.NumFields())
	for i, f := range out.Fields() {
		mine := i < nl
		j := i
		if !left {
			mine, j = i >= nl, i-nl
		}
		if mine {
			cols[i] = expr.As(expr.Col(s.schema.Field(j).Name), f.Name)
		} else {
			cols[i] = expr.As(expr.NewCast(expr.Lit(nil), f.Type), f.Name)
		}
	}
	p, err := plan.NewProject(r, cols)
	if err != nil {
		return nil, err
	}
	return collect(p, "streaming join: rows without a match")
}

// withRowIDs returns b with a row id column (ids from first on) and a
// matched column (false) in front, as schema s.
func withRowIDs(alloc memory.Allocator, s *arrow.Schema, b arrow.RecordBatch, first int64) arrow.RecordBatch {
	n := int(b.NumRows())
	ib := array.NewInt64Builder(alloc)
	ib.Reserve(n)
	for i := range n {
		ib.UnsafeAppend(first + int64(i))
	}
	ids := ib.NewArray()
	ib.Release()
	fb := array.NewBooleanBuilder(alloc)
	fb.AppendValues(make([]bool, n), nil)
	flags := fb.NewArray()
	fb.Release()
	cols := append([]arrow.Array{ids, flags}, b.Columns()...)
	out := array.NewRecordBatch(s, cols, int64(n))
	ids.Release()
	flags.Release()
	return out
}

// takeRows returns the rows idx of b.
func takeRows(alloc memory.Allocator, b arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	ib := array.NewInt32Builder(alloc)
	ib.AppendValues(idx, nil)
	ia := ib.NewArray()
	ib.Release()
	defer ia.Release()
	ctx := compute.WithAllocator(context.Background(), alloc)
	cols := make([]arrow.Array, b.NumCols())
	for i, c := range b.Columns() {
		t, err := compute.TakeArray(ctx, c, ia)
		if err != nil {
			releaseArrays(cols)
			return nil, fmt.Errorf("streaming join: take: %w", err)
		}
		cols[i] = t
	}
	defer releaseArrays(cols)
	return array.NewRecordBatch(b.Schema(), cols, int64(len(idx))), nil
}

func releaseArrays(as []arrow.Array) {
	for _, a := range as {
		if a != nil {
			a.Release()
		}
	}
}
