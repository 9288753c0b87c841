package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	cexec "github.com/apache/arrow-go/v18/arrow/compute/exec"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

func computeCtx(c *Context) context.Context {
	return cexec.WithAllocator(context.Background(), c.Alloc)
}

func names(s *arrow.Schema) string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return strings.Join(out, ", ")
}

func exprList(es []expr.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

// LocalScanExec emits in-memory batches, one partition per input
// partition.
type LocalScanExec struct {
	base
	parts [][]arrow.RecordBatch
}

func newLocalScan(c *Context, l *plan.LocalRelation) *LocalScanExec {
	return &LocalScanExec{base: newBase(c, "LocalTableScan", len(l.Partitions), l.Schema()), parts: l.Partitions}
}

func (s *LocalScanExec) Describe() []string {
	return []string{fmt.Sprintf("LocalTableScan [%s], %d partitions", names(s.schema), len(s.parts))}
}

func (s *LocalScanExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	for _, b := range s.parts[part] {
		if err := ctx.Err(); err != nil {
			return err
		}
		tc.AddRecordsRead(int(b.NumRows()))
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

// ScanExec reads a plan.Source.
type ScanExec struct {
	base
	c       *Context
	src     plan.Source
	columns []string
	filters []expr.Expr
}

func newScan(c *Context, s *plan.Scan) *ScanExec {
	return &ScanExec{base: newBase(c, "Scan "+s.Source.String(), s.Source.NumPartitions(), s.Schema()), c: c, src: s.Source, columns: s.Columns, filters: s.Filters}
}

func (s *ScanExec) Describe() []string {
	d := fmt.Sprintf("Scan %s [%s]", s.src, names(s.schema))
	if len(s.filters) > 0 {
		d += ", PushedFilters: [" + exprList(s.filters) + "]"
	}
	return []string{d}
}

func (s *ScanExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	return s.src.Read(ctx, s.c.Alloc, part, s.columns, s.filters, func(b arrow.RecordBatch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		tc.AddRecordsRead(int(b.NumRows()))
		return emit(b)
	})
}

// FilterProjectExec applies a filter and then a projection to each batch
// of its input, in the input's task: the vectorized, pipelined part of a
// stage. Cond nil means no filter; Exprs nil means no projection.
type FilterProjectExec struct {
	base
	c     *Context
	cond  expr.Expr
	exprs []expr.Expr
}

func newFilterProject(c *Context, child Operator, cond expr.Expr, exprs []expr.Expr, schema *arrow.Schema) *FilterProjectExec {
	name := "Filter"
	if exprs != nil {
		name = "Project"
	}
	return &FilterProjectExec{base: newBase(c, name, child.NumPartitions(), schema, child), c: c, cond: cond, exprs: exprs}
}

func (f *FilterProjectExec) Describe() []string {
	var out []string
	if f.exprs != nil {
		out = append(out, "Project ["+exprList(f.exprs)+"]")
	}
	if f.cond != nil {
		out = append(out, "Filter "+f.cond.String())
	}
	return out
}

func (f *FilterProjectExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	ec := f.c.evalContext(ctx)
	return f.inputs[0].Execute(ctx, tc, part, func(b arrow.RecordBatch) error {
		out, err := f.apply(ec, b)
		if err != nil {
			return err
		}
		if out == nil {
			return nil
		}
		defer out.Release()
		if out.NumRows() == 0 {
			return nil
		}
		return emit(out)
	})
}

// apply filters and projects one batch; nil when no row is left.
func (f *FilterProjectExec) apply(ec *expr.EvalContext, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	b.Retain()
	if f.cond != nil {
		fb, err := filterBatch(f.c, ec, b, f.cond)
		b.Release()
		if err != nil {
			return nil, err
		}
		b = fb
		if b.NumRows() == 0 {
			b.Release()
			return nil, nil
		}
	}
	if f.exprs == nil {
		return b, nil
	}
	defer b.Release()
	return project(ec, b, f.exprs, f.schema)
}

// filterBatch returns the rows of b for which cond is true.
func filterBatch(c *Context, ec *expr.EvalContext, b arrow.RecordBatch, cond expr.Expr) (arrow.RecordBatch, error) {
	m, err := cond.Eval(ec, b)
	if err != nil {
		return nil, err
	}
	defer m.Release()
	mask, ok := m.(*array.Boolean)
	if !ok {
		if m.DataType().ID() == arrow.NULL {
			return emptyBatch(c, b.Schema()), nil
		}
		return nil, fmt.Errorf("exec: filter %s gave %s, not boolean", cond, m.DataType())
	}
	n := int(b.NumRows())
	set := mask.NullN() == 0 && countTrue(mask) == n
	if set {
		b.Retain()
		return b, nil
	}
	out, err := compute.FilterRecordBatch(computeCtx(c), b, mask, compute.DefaultFilterOptions())
	if err != nil {
		return nil, fmt.Errorf("exec: filter: %w", err)
	}
	return out, nil
}

func countTrue(m *array.Boolean) int {
	d := m.Data()
	return bitutil.CountSetBits(d.Buffers()[1].Bytes(), d.Offset(), d.Len())
}

// emptyBatch returns a batch of schema s without rows.
func emptyBatch(c *Context, s *arrow.Schema) arrow.RecordBatch {
	cols := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		cols[i] = array.MakeArrayOfNull(c.Alloc, f.Type, 0)
	}
	defer releaseArrays(cols)
	return array.NewRecordBatch(s, cols, 0)
}

// project evaluates exprs over b into a batch of schema s.
func project(ec *expr.EvalContext, b arrow.RecordBatch, exprs []expr.Expr, s *arrow.Schema) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, len(exprs))
	defer releaseArrays(cols)
	for i, e := range exprs {
		a, err := e.Eval(ec, b)
		if err != nil {
			return nil, err
		}
		if !arrow.TypeEqual(a.DataType(), s.Field(i).Type) {
			c, err := expr.CastArray(ec, a, s.Field(i).Type)
			a.Release()
			if err != nil {
				return nil, err
			}
			a = c
		}
		cols[i] = a
	}
	return array.NewRecordBatch(s, cols, b.NumRows()), nil
}

// UnionExec concatenates the partitions of its inputs.
type UnionExec struct {
	base
}

func newUnion(c *Context, inputs []Operator, s *arrow.Schema) *UnionExec {
	parts := 0
	for _, in := range inputs {
		parts += in.NumPartitions()
	}
	return &UnionExec{base: newBase(c, "Union", parts, s, inputs...)}
}

func (u *UnionExec) Describe() []string { return []string{"Union"} }

func (u *UnionExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	for _, in := range u.inputs {
		if part < in.NumPartitions() {
			return in.Execute(ctx, tc, part, func(b arrow.RecordBatch) error {
				if b.Schema().Equal(u.schema) {
					return emit(b)
				}
				nb := array.NewRecordBatch(u.schema, b.Columns(), b.NumRows())
				defer nb.Release()
				return emit(nb)
			})
		}
		part -= in.NumPartitions()
	}
	return fmt.Errorf("exec: union has no partition %d", part)
}
