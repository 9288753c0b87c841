package streaming

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/checkpoint"
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
type streamingDedup struct {
	node      *aggOutput
	input     plan.Node
	dir       string
	keys      []string // the key columns (every column when deduplicating whole rows)
	watermark *Watermark
	evict     bool // the watermark column is a key: old keys can be evicted

	state       []arrow.RecordBatch // the keys seen, retained
	stateSchema *arrow.Schema
	stateRows   int64
}

func newStreamingDedup(d *plan.Deduplicate, ph *aggOutput, input plan.Node) (*streamingDedup, error) {
	sd := &streamingDedup{node: ph, input: input, keys: d.Keys, watermark: findWatermark(input)}
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
		if sd.watermark != nil && k == sd.watermark.Column {
			sd.evict = true
		}
	}
	sd.stateSchema = arrow.NewSchema(fields, nil)
	return sd, nil
}

func (sd *streamingDedup) kind() string            { return "dedup" }
func (sd *streamingDedup) placeholder() *aggOutput { return sd.node }
func (sd *streamingDedup) inputPlan() plan.Node    { return sd.input }
func (sd *streamingDedup) setDir(dir string)       { sd.dir = dir }
func (sd *streamingDedup) numRows() int64          { return sd.stateRows }

func (sd *streamingDedup) keyCols() []expr.Expr {
	cols := make([]expr.Expr, len(sd.keys))
	for i, k := range sd.keys {
		cols[i] = expr.Col(k)
	}
	return cols
}

func (sd *streamingDedup) run(ctx context.Context, xc *exec.Context, input plan.Node, id int64, watermark time.Time) (plan.Node, []arrow.RecordBatch, int64, time.Time, error) {
	fail := func(err error) (plan.Node, []arrow.RecordBatch, int64, time.Time, error) {
		return nil, nil, 0, watermark, err
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
	if sd.watermark != nil {
		if m, ok := maxTimestamp(batch, distinct.Schema(), sd.watermark.Column); ok {
			if w := m.Add(-sd.watermark.Delay); w.After(watermark) {
				watermark = w
			}
		}
	}
	batchRel, err := relation(distinct.Schema(), batch)
	if err != nil {
		return fail(err)
	}
	fresh := batch
	if len(sd.state) > 0 {
		stateRel, err := relation(sd.stateSchema, sd.state)
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
	newKeys, err := plan.NewProject(freshRel, sd.keyCols())
	if err != nil {
		return fail(err)
	}
	var all plan.Node = newKeys
	if len(sd.state) > 0 {
		stateRel, err := relation(sd.stateSchema, sd.state)
		if err != nil {
			return fail(err)
		}
		if all, err = plan.NewUnion(stateRel, newKeys); err != nil {
			return fail(err)
		}
	}
	if sd.evict && !watermark.IsZero() {
		if all, err = plan.NewFilter(all, expr.Ge(expr.Col(sd.watermark.Column), expr.Lit(watermark.UTC()))); err != nil {
			return fail(err)
		}
	}
	next, err := collect(all, "streaming deduplication: state")
	if err != nil {
		return fail(err)
	}
	if err := sd.write(id, next); err != nil {
		releaseAll(next)
		return fail(err)
	}
	releaseAll(sd.state)
	sd.state, sd.stateRows = next, 0
	if len(next) > 0 {
		sd.stateSchema = next[0].Schema()
	}
	for _, b := range next {
		sd.stateRows += b.NumRows()
	}
	// The output: the fresh rows, kept alive for the batch's plan.
	for _, b := range fresh {
		b.Retain()
	}
	out, err := relation(distinct.Schema(), fresh)
	if err != nil {
		releaseAll(fresh)
		return fail(err)
	}
	return out, fresh, added, watermark, nil
}

func (sd *streamingDedup) write(id int64, bs []arrow.RecordBatch) error {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(sd.stateSchemaOf(bs)))
	for _, b := range bs {
		if err := w.Write(b); err != nil {
			return fmt.Errorf("encoding the deduplication state: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("encoding the deduplication state: %w", err)
	}
	if err := os.MkdirAll(sd.dir, 0o755); err != nil {
		return err
	}
	if err := checkpoint.WriteFile(sd.dir, stateName(id), "dedupstate", buf.Bytes()); err != nil {
		return fmt.Errorf("writing the deduplication state: %w", err)
	}
	if old := id - stateFilesKept; old >= 0 {
		os.Remove(filepath.Join(sd.dir, stateName(old)))
	}
	return nil
}

func (sd *streamingDedup) stateSchemaOf(bs []arrow.RecordBatch) *arrow.Schema {
	if len(bs) > 0 {
		return bs[0].Schema()
	}
	return sd.stateSchema
}

func (sd *streamingDedup) load(id int64, alloc memory.Allocator) error {
	releaseAll(sd.state)
	sd.state, sd.stateRows = nil, 0
	if id < 0 {
		return nil
	}
	path := filepath.Join(sd.dir, stateName(id))
	b, err := checkpoint.ReadFile(path, "dedupstate")
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the deduplication state of committed batch %d is missing (%s); the checkpoint is damaged", id, path)
	}
	if err != nil {
		return err
	}
	r, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(alloc))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer r.Release()
	if !sameColumns(r.Schema(), sd.stateSchema) {
		return fmt.Errorf("%s holds deduplication keys %s, the query's are %s: the query changed; use a new checkpoint location", path, r.Schema(), sd.stateSchema)
	}
	sd.stateSchema = r.Schema()
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		sd.state = append(sd.state, rec)
		sd.stateRows += rec.NumRows()
	}
	return r.Err()
}

func (sd *streamingDedup) close() {
	releaseAll(sd.state)
	sd.state = nil
}
