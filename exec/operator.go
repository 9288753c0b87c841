package exec

import (
	"context"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/engine"
)

// Emit receives an operator's output batch. The batch is valid during the
// call only: a consumer that keeps it must Retain it (and Release it
// later). Returning an error stops the producer, which returns it.
type Emit func(b arrow.RecordBatch) error

// Operator is a physical operator. It is an engine node: the scheduler
// cuts stages at its shuffle dependencies, and operators joined by narrow
// dependencies run pipelined in one task, passing record batches (never
// single rows) from one to the next.
type Operator interface {
	engine.Node
	Schema() *arrow.Schema
	// Execute computes partition part and passes its batches to emit.
	Execute(ctx context.Context, tc *engine.TaskContext, part int, emit Emit) error
	// Inputs are the operators this one reads.
	Inputs() []Operator
	// Describe returns the operator's explain lines, outermost first
	// (an aggregation shows its final step, the exchange and its partial
	// step).
	Describe() []string
}

// base holds what every operator shares.
type base struct {
	id     int
	parts  int
	deps   []engine.Dependency
	name   string
	schema *arrow.Schema
	inputs []Operator
}

func (b *base) ID() int                           { return b.id }
func (b *base) NumPartitions() int                { return b.parts }
func (b *base) Dependencies() []engine.Dependency { return b.deps }
func (b *base) Name() string                      { return b.name }
func (b *base) Schema() *arrow.Schema             { return b.schema }
func (b *base) Inputs() []Operator                { return b.inputs }

func newBase(c *Context, name string, parts int, schema *arrow.Schema, inputs ...Operator) base {
	b := base{id: c.Engine.NewID(), parts: parts, name: name, schema: schema, inputs: inputs}
	for _, in := range inputs {
		b.deps = append(b.deps, &engine.NarrowDependency{Parent: in})
	}
	return b
}

// Explain renders a physical plan as an indented tree.
func Explain(op Operator) string {
	var sb strings.Builder
	explainTo(&sb, op, "", "")
	return sb.String()
}

func explainTo(sb *strings.Builder, op Operator, lead, cont string) {
	lines := op.Describe()
	for i, l := range lines {
		if i == 0 {
			sb.WriteString(lead)
		} else {
			sb.WriteString(cont + "+- ")
			cont += "   "
		}
		sb.WriteString(l)
		sb.WriteByte('\n')
	}
	kids := op.Inputs()
	for i, k := range kids {
		if i == len(kids)-1 {
			explainTo(sb, k, cont+"+- ", cont+"   ")
		} else {
			explainTo(sb, k, cont+":- ", cont+":  ")
		}
	}
}

// emitChunks emits b in slices of at most rows rows.
func emitChunks(b arrow.RecordBatch, rows int, emit Emit) error {
	n := int(b.NumRows())
	if n <= rows {
		if n == 0 {
			return nil
		}
		return emit(b)
	}
	for lo := 0; lo < n; lo += rows {
		hi := min(lo+rows, n)
		s := b.NewSlice(int64(lo), int64(hi))
		err := emit(s)
		s.Release()
		if err != nil {
			return err
		}
	}
	return nil
}
