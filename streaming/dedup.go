package streaming

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// streamingDedup runs DropDuplicates (Distinct) over a stream: each batch
// writes the rows whose key no earlier batch had (one per key), and the
// state keeps the keys seen. With a watermark on a key column, keys older
// than the watermark are evicted from the state (rows that old are
// dropped as late anyway), so the state stays bounded; without one it
// grows with the number of distinct keys. Rows with a null key are never
// matched with earlier ones, as in a join.
//
// DropDuplicatesWithinWatermark (within set) keeps each key with an
// expiry, its first row's event time plus the watermark's delay, and
// evicts it once the watermark reaches that; the event time need not be
// a key.
type streamingDedup struct {
	node      *aggOutput
	input     plan.Node
	st        tableState // the keys seen (and, within, their expiry)
	keys      []string   // the key columns (every column when deduplicating whole rows)
	watermark *Watermark
	evict     bool // the watermark column is a key: old keys can be evicted
	within    bool // DropDuplicatesWithinWatermark
	// lagUnbounded: the input's event times may be any amount behind the
	// watermark (a join without time bounds below): nothing is evicted.
	lagUnbounded bool
}

// dedupExpiresColumn holds a key's expiry in DropDuplicatesWithinWatermark's
// state.
const dedupExpiresColumn = "__expires"

func newStreamingDedup(d *plan.Deduplicate, ph *aggOutput, input plan.Node) (*streamingDedup, error) {
	sd := &streamingDedup{node: ph, input: input, st: tableState{kind: "dedupstate", what: "deduplication state"}, keys: d.Keys, watermark: findWatermark(input), within: d.WithinWatermark}
	ph.ends = timeColumns(input) // its rows are its input's, passed on as they come
	if sd.within && sd.watermark == nil {
		return nil, fmt.Errorf("%w: DropDuplicatesWithinWatermark needs a watermark (WithWatermark) on the stream below it: keys are kept for the watermark's delay", ErrUnsupported)
	}
	if sd.within {
		if _, err := expr.FieldIndex(input.Schema(), sd.watermark.Column); err != nil {
			return nil, fmt.Errorf("%w: DropDuplicatesWithinWatermark needs the event-time column %s of the watermark in its input", ErrUnsupported, sd.watermark.Column)
		}
	}
	if len(sd.keys) == 0 {
		for _, f := range input.Schema().Fields() {
			sd.keys = append(sd.keys, f.Name)
		}
	}
	fields := make([]arrow.Field, 0, len(sd.keys))
	for _, k := range sd.keys {
		i, err := expr.FieldIndex(input.Schema(), k)
		if err != nil {
			return nil, fmt.Errorf("streaming deduplication: %w", err)
		}
		fields = append(fields, input.Schema().Field(i))
		if sd.watermark != nil && k == sd.watermark.Column && !sd.within {
			sd.evict = true
		}
	}
	if sd.within {
		fields = append(fields, arrow.Field{Name: dedupExpiresColumn, Type: expr.TimestampType, Nullable: true})
	}
	sd.st.schema = arrow.NewSchema(fields, nil)
	return sd, nil
}

func (sd *streamingDedup) outputDelay() (time.Duration, bool) { return 0, !sd.lagUnbounded }

func (sd *streamingDedup) setLag(_ time.Duration, bounded bool) error {
	// Rows come out as they come in: a lag only delays eviction, and
	// eviction here compares keys with the watermark as they are.
	sd.lagUnbounded = !bounded
	return nil
}

func (sd *streamingDedup) kind() string            { return "dedup" }
func (sd *streamingDedup) placeholder() *aggOutput { return sd.node }
func (sd *streamingDedup) inputPlan() plan.Node    { return sd.input }
func (sd *streamingDedup) numRows() int64          { return sd.st.rows }

func (sd *streamingDedup) keyCols() []expr.Expr {
	cols := make([]expr.Expr, len(sd.keys))
	for i, k := range sd.keys {
		cols[i] = expr.Col(k)
	}
	return cols
}

func (sd *streamingDedup) run(ctx context.Context, xc *exec.Context, input plan.Node, id int64, evict evictFunc) (plan.Node, []arrow.RecordBatch, int64, error) {
	fail := func(err error) (plan.Node, []arrow.RecordBatch, int64, error) {
		return nil, nil, 0, err
	}
	collect := func(p plan.Node, what string) ([]arrow.RecordBatch, error) {
		op, err := exec.Plan(xc, p)
		if err != nil {
			return nil, err
		}
		return xc.Collect(ctx, op, what)
	}
	distinct, err := plan.NewDeduplicate(input, sd.keys)
	if err != nil {
		return fail(err)
	}
	batch, err := collect(distinct, "streaming deduplication: the batch's keys")
	if err != nil {
		return fail(err)
	}
	defer releaseAll(batch)
	var watermark time.Time
	if sd.watermark != nil && !sd.lagUnbounded {
		watermark = evict()
	}
	batchRel, err := relation(distinct.Schema(), batch)
	if err != nil {
		return fail(err)
	}
	fresh := batch
	if len(sd.st.batches) > 0 {
		stateRel, err := relation(sd.st.schema, sd.st.batches)
		if err != nil {
			return fail(err)
		}
		renamed := make([]expr.Expr, len(sd.keys))
		var cond expr.Expr
		for i, k := range sd.keys {
			seen := "__seen_" + strconv.Itoa(i)
			renamed[i] = expr.As(expr.Col(k), seen)
			eq := expr.Eq(expr.Col(k), expr.Col(seen))
			if cond == nil {
				cond = eq
			} else {
				cond = expr.And(cond, eq)
			}
		}
		seen, err := plan.NewProject(stateRel, renamed)
		if err != nil {
			return fail(err)
		}
		anti, err := plan.NewJoin(batchRel, seen, plan.LeftAntiJoin, cond)
		if err != nil {
			return fail(err)
		}
		if fresh, err = collect(anti, "streaming deduplication: keys not seen before"); err != nil {
			return fail(err)
		}
		defer releaseAll(fresh)
	}
	var added int64
	for _, b := range fresh {
		added += b.NumRows()
	}
	// The new state: the keys seen, without those the watermark passed.
	freshRel, err := relation(distinct.Schema(), fresh)
	if err != nil {
		return fail(err)
	}
	cols := sd.keyCols()
	if sd.within {
		cols = append(cols, expr.As(expr.TimestampAdd(expr.Col(sd.watermark.Column), sd.watermark.Delay), dedupExpiresColumn))
	}
	newKeys, err := plan.NewProject(freshRel, cols)
	if err != nil {
		return fail(err)
	}
	var all plan.Node = newKeys
	if len(sd.st.batches) > 0 {
		stateRel, err := relation(sd.st.schema, sd.st.batches)
		if err != nil {
			return fail(err)
		}
		if all, err = plan.NewUnion(stateRel, newKeys); err != nil {
			return fail(err)
		}
	}
	switch {
	case watermark.IsZero():
	case sd.evict:
		if all, err = plan.NewFilter(all, expr.Ge(expr.Col(sd.watermark.Column), expr.Lit(watermark.UTC()))); err != nil {
			return fail(err)
		}
	case sd.within:
		if all, err = plan.NewFilter(all, expr.Gt(expr.Col(dedupExpiresColumn), expr.Lit(watermark.UTC()))); err != nil {
			return fail(err)
		}
	}
	next, err := collect(all, "streaming deduplication: state")
	if err != nil {
		return fail(err)
	}
	if err := sd.st.write(ctx, id, sd.st.schema, next, nil); err != nil {
		releaseAll(next)
		return fail(err)
	}
	sd.st.replace(sd.st.schema, next)
	// The output: the fresh rows, kept alive for the batch's plan.
	for _, b := range fresh {
		b.Retain()
	}
	out, err := relation(distinct.Schema(), fresh)
	if err != nil {
		releaseAll(fresh)
		return fail(err)
	}
	return out, fresh, added, nil
}

func (sd *streamingDedup) load(ctx context.Context, id int64, alloc memory.Allocator) error {
	return sd.st.load(ctx, id, alloc)
}
func (sd *streamingDedup) close() { sd.st.close() }
