package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
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

// Describe implements Operator.
func (s *LocalScanExec) Describe() []string {
	return []string{fmt.Sprintf("LocalTableScan [%s], %d partitions", names(s.schema), len(s.parts))}
}

// Execute implements Operator.
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

// Describe implements Operator.
func (s *ScanExec) Describe() []string {
	d := fmt.Sprintf("Scan %s [%s]", s.src, names(s.schema))
	if len(s.filters) > 0 {
		d += ", PushedFilters: [" + exprList(s.filters) + "]"
	}
	return []string{d}
}

// Execute implements Operator.
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
	keep  []int // input columns the projection reads (nil: all)
	// projectFirst evaluates the projection over all rows, then filters
	// its output.
	projectFirst bool
}

func newFilterProject(c *Context, child Operator, cond expr.Expr, exprs []expr.Expr, schema *arrow.Schema) *FilterProjectExec {
	name := "Filter"
	if exprs != nil {
		name = "Project"
	}
	f := &FilterProjectExec{base: newBase(c, name, child.NumPartitions(), schema, child), c: c, cond: cond, exprs: exprs}
	if cond != nil && exprs != nil {
		// After the mask is computed, only the columns the projection
		// reads need filtering.
		var need []string
		cheap := true
		for _, e := range exprs {
			need = append(need, expr.Columns(e)...)
			cheap = cheap && cheapExpr(e)
		}
		in := child.Schema()
		for i, fl := range in.Fields() {
			for _, ref := range need {
				if expr.Refers(ref, fl) {
					f.keep = append(f.keep, i)
					break
				}
			}
		}
		read := len(f.keep)
		switch {
		case read == in.NumFields():
			f.keep = nil
		case f.keep == nil:
			f.keep = []int{} // the projection reads no column
		}
		// Cheap vectorized arithmetic over every row then filtering its
		// outputs moves less memory than filtering more inputs.
		f.projectFirst = cheap && len(exprs) < read
	}
	return f
}

// cheapExpr reports whether e is arithmetic or comparison over columns
// and literals, which cannot fail and costs about a memory pass.
func cheapExpr(e expr.Expr) bool {
	ok := true
	expr.Walk(e, func(x expr.Expr) bool {
		switch x.(type) {
		case *expr.Binary, *expr.Column, *expr.Literal, *expr.Alias:
		default:
			ok = false
		}
		return ok
	})
	return ok
}

func exprColumnsContain(e expr.Expr, name string) bool {
	for _, c := range expr.Columns(e) {
		if c == name {
			return true
		}
	}
	return false
}

// Describe implements Operator.
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

// Execute implements Operator.
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
	if f.cond == nil {
		return project(ec, b, f.exprs, f.schema)
	}
	mask, err := evalMask(ec, b, f.cond)
	if err != nil {
		return nil, err
	}
	if mask == nil {
		return nil, nil // NULL condition
	}
	defer mask.Release()
	if f.exprs == nil {
		return filterWithMask(f.c, b, mask)
	}
	if f.projectFirst {
		p, err := project(ec, b, f.exprs, f.schema)
		if err != nil {
			return nil, err
		}
		defer p.Release()
		return filterWithMask(f.c, p, mask)
	}
	in := b
	if f.keep != nil {
		fields := make([]arrow.Field, len(f.keep))
		cols := make([]arrow.Array, len(f.keep))
		for i, k := range f.keep {
			fields[i], cols[i] = b.Schema().Field(k), b.Column(k)
		}
		in = array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, b.NumRows())
		defer in.Release()
	}
	fb, err := filterWithMask(f.c, in, mask)
	if err != nil {
		return nil, err
	}
	defer fb.Release()
	if fb.NumRows() == 0 {
		return nil, nil
	}
	return project(ec, fb, f.exprs, f.schema)
}

// evalMask evaluates a filter condition; nil for a NULL-typed one.
func evalMask(ec *expr.EvalContext, b arrow.RecordBatch, cond expr.Expr) (*array.Boolean, error) {
	m, err := cond.Eval(ec, b)
	if err != nil {
		return nil, err
	}
	mask, ok := m.(*array.Boolean)
	if !ok {
		m.Release()
		if m.DataType().ID() == arrow.NULL {
			return nil, nil
		}
		return nil, fmt.Errorf("exec: filter %s gave %s, not boolean", cond, m.DataType())
	}
	return mask, nil
}

// filterBatch returns the rows of b for which cond is true.
func filterBatch(c *Context, ec *expr.EvalContext, b arrow.RecordBatch, cond expr.Expr) (arrow.RecordBatch, error) {
	mask, err := evalMask(ec, b, cond)
	if err != nil {
		return nil, err
	}
	if mask == nil {
		return emptyBatch(c, b.Schema()), nil
	}
	defer mask.Release()
	return filterWithMask(c, b, mask)
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

// Describe implements Operator.
func (u *UnionExec) Describe() []string { return []string{"Union"} }

// Execute implements Operator.
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

// AliasExec passes its input on under the schema of a SubqueryAlias (the
// same columns, recording their qualifier).
type AliasExec struct {
	base
	alias string
}

func newAlias(c *Context, child Operator, a *plan.SubqueryAlias) *AliasExec {
	return &AliasExec{base: newBase(c, "SubqueryAlias", child.NumPartitions(), a.Schema(), child), alias: a.Name}
}

// Describe implements Operator.
func (a *AliasExec) Describe() []string { return []string{"SubqueryAlias " + a.alias} }

// Execute implements Operator.
func (a *AliasExec) Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error {
	return a.inputs[0].Execute(ctx, tc, part, func(b arrow.RecordBatch) error {
		nb := array.NewRecordBatch(a.schema, b.Columns(), b.NumRows())
		defer nb.Release()
		return emit(nb)
	})
}
