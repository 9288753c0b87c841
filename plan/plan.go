package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/expr"
)

// ErrPlan is wrapped by every error of building or analysing a plan.
var ErrPlan = errors.New("plan: invalid plan")

// Node is a logical plan operator. Nodes are immutable; their output
// schema is computed (and the node analysed) when they are made, so a node
// that exists is valid. WithChildren returns a copy over new children,
// analysed again.
type Node interface {
	Schema() *arrow.Schema
	Children() []Node
	WithChildren(children []Node) (Node, error)
	// String describes the node alone, on one line.
	String() string
}

// Source is a table a Scan reads: files, an in-memory relation, a
// connector. Read produces partition part, projected to columns (all
// when nil) and in the order given. filters are predicates the source may
// use to skip data (Parquet row-group statistics); the rows it returns may
// still fail them, because a Filter above the scan applies them again.
type Source interface {
	Schema() *arrow.Schema
	String() string
	NumPartitions() int
	Read(ctx context.Context, alloc memory.Allocator, part int, columns []string, filters []expr.Expr, emit func(arrow.RecordBatch) error) error
}

// FilterSupport is implemented by sources that can use some predicates
// to skip data. Without it no predicate is pushed into the source.
type FilterSupport interface {
	SupportsFilter(e expr.Expr) bool
}

func wrap(op string, err error) error {
	if errors.Is(err, ErrPlan) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrPlan, op, err)
}

func names(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

func exprList(es []expr.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

// Scan reads a Source. Columns is the projection pushed into the scan
// (nil: all), Filters the predicates pushed into it.
type Scan struct {
	Source  Source
	Columns []string
	Filters []expr.Expr
	schema  *arrow.Schema
}

// NewScan returns a scan of src reading columns (nil for all).
func NewScan(src Source, columns []string, filters []expr.Expr) (*Scan, error) {
	if src == nil {
		return nil, wrap("Scan", errors.New("nil source"))
	}
	s := src.Schema()
	if columns != nil {
		fields := make([]arrow.Field, 0, len(columns))
		for _, c := range columns {
			i, err := expr.FieldIndex(s, c)
			if err != nil {
				return nil, wrap("Scan", err)
			}
			fields = append(fields, s.Field(i))
		}
		s = arrow.NewSchema(fields, nil)
	}
	return &Scan{Source: src, Columns: columns, Filters: filters, schema: s}, nil
}

// Schema implements Node.
func (s *Scan) Schema() *arrow.Schema { return s.schema }

// Children implements Node.
func (s *Scan) Children() []Node { return nil }

// WithChildren implements Node.
func (s *Scan) WithChildren([]Node) (Node, error) {
	return s, nil
}

// String implements Node.
func (s *Scan) String() string {
	out := fmt.Sprintf("Scan %s [%s]", s.Source, strings.Join(names(s.schema), ", "))
	if len(s.Filters) > 0 {
		out += ", PushedFilters: [" + exprList(s.Filters) + "]"
	}
	return out
}

// LocalRelation is data held in memory, as partitions of record batches.
type LocalRelation struct {
	Partitions [][]arrow.RecordBatch
	schema     *arrow.Schema
}

// NewLocalRelation returns a relation of the given partitions, every batch
// of which must have schema s.
func NewLocalRelation(s *arrow.Schema, parts [][]arrow.RecordBatch) (*LocalRelation, error) {
	if s == nil {
		return nil, wrap("LocalRelation", errors.New("nil schema"))
	}
	for p, part := range parts {
		for _, b := range part {
			if !b.Schema().Equal(s) {
				return nil, wrap("LocalRelation", fmt.Errorf("partition %d has a batch with schema %s, want %s", p, b.Schema(), s))
			}
		}
	}
	if len(parts) == 0 {
		parts = [][]arrow.RecordBatch{nil}
	}
	return &LocalRelation{Partitions: parts, schema: s}, nil
}

// Schema implements Node.
func (l *LocalRelation) Schema() *arrow.Schema { return l.schema }

// Children implements Node.
func (l *LocalRelation) Children() []Node { return nil }

// WithChildren implements Node.
func (l *LocalRelation) WithChildren([]Node) (Node, error) {
	return l, nil
}

// String implements Node.
func (l *LocalRelation) String() string {
	return fmt.Sprintf("LocalRelation [%s], %d partitions", strings.Join(names(l.schema), ", "), len(l.Partitions))
}

// NumRows returns the number of rows held.
func (l *LocalRelation) NumRows() int64 {
	var n int64
	for _, p := range l.Partitions {
		for _, b := range p {
			n += b.NumRows()
		}
	}
	return n
}

// Project computes one output column per expression.
type Project struct {
	Exprs  []expr.Expr
	Child  Node
	schema *arrow.Schema
}

// NewProject returns a projection of child.
func NewProject(child Node, exprs []expr.Expr) (*Project, error) {
	if child == nil {
		return nil, wrap("Project", errors.New("nil child"))
	}
	if len(exprs) == 0 {
		return nil, wrap("Project", errors.New("no columns selected"))
	}
	in := child.Schema()
	fields := make([]arrow.Field, len(exprs))
	for i, e := range exprs {
		if e == nil {
			return nil, wrap("Project", errors.New("nil expression"))
		}
		if expr.IsAggregate(e) {
			return nil, wrap("Project", fmt.Errorf("%w: %s: use GroupBy(...).Agg for aggregates", expr.ErrAggregate, e))
		}
		f, err := expr.Field(e, in)
		if err != nil {
			return nil, wrap("Project", err)
		}
		fields[i] = f
	}
	return &Project{Exprs: exprs, Child: child, schema: arrow.NewSchema(fields, nil)}, nil
}

// Schema implements Node.
func (p *Project) Schema() *arrow.Schema { return p.schema }

// Children implements Node.
func (p *Project) Children() []Node { return []Node{p.Child} }

// WithChildren implements Node.
func (p *Project) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("Project", errors.New("needs one child"))
	}
	return NewProject(c[0], p.Exprs)
}

// String implements Node.
func (p *Project) String() string { return "Project [" + exprList(p.Exprs) + "]" }

// Filter keeps the rows for which Cond is true (not false, not null).
type Filter struct {
	Cond  expr.Expr
	Child Node
}

// NewFilter returns child filtered by cond, which must be boolean.
func NewFilter(child Node, cond expr.Expr) (*Filter, error) {
	if child == nil || cond == nil {
		return nil, wrap("Filter", errors.New("nil child or condition"))
	}
	if expr.IsAggregate(cond) {
		return nil, wrap("Filter", fmt.Errorf("%w: %s in a filter: aggregate first, then filter its output", expr.ErrAggregate, cond))
	}
	t, err := cond.Resolve(child.Schema())
	if err != nil {
		return nil, wrap("Filter", err)
	}
	if t.DataType.ID() != arrow.BOOL && t.DataType.ID() != arrow.NULL {
		return nil, wrap("Filter", fmt.Errorf("%w: condition %s is %s, not boolean", expr.ErrType, cond, t.DataType))
	}
	return &Filter{Cond: cond, Child: child}, nil
}

// Schema implements Node.
func (f *Filter) Schema() *arrow.Schema { return f.Child.Schema() }

// Children implements Node.
func (f *Filter) Children() []Node { return []Node{f.Child} }

// WithChildren implements Node.
func (f *Filter) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("Filter", errors.New("needs one child"))
	}
	return NewFilter(c[0], f.Cond)
}

// String implements Node.
func (f *Filter) String() string { return "Filter " + f.Cond.String() }

// Aggregate groups its input by Groups and computes Aggs per group. Each
// of Aggs is an aggregate function call, optionally aliased. The output
// has the grouping columns, then the aggregates.
type Aggregate struct {
	Groups []expr.Expr
	Aggs   []expr.Expr
	Child  Node
	schema *arrow.Schema
}

// NewAggregate returns an aggregation of child.
func NewAggregate(child Node, groups, aggs []expr.Expr) (*Aggregate, error) {
	if child == nil {
		return nil, wrap("Aggregate", errors.New("nil child"))
	}
	in := child.Schema()
	var fields []arrow.Field
	for _, g := range groups {
		if g == nil {
			return nil, wrap("Aggregate", errors.New("nil grouping expression"))
		}
		if expr.IsAggregate(g) {
			return nil, wrap("Aggregate", fmt.Errorf("%w: cannot group by aggregate %s", expr.ErrAggregate, g))
		}
		f, err := expr.Field(g, in)
		if err != nil {
			return nil, wrap("Aggregate", err)
		}
		fields = append(fields, f)
	}
	for _, a := range aggs {
		if a == nil {
			return nil, wrap("Aggregate", errors.New("nil aggregate expression"))
		}
		if _, ok := expr.Unalias(a).(*expr.AggExpr); !ok {
			return nil, wrap("Aggregate", fmt.Errorf("%w: %s is not an aggregate function (count, sum, avg, min, max, ...)", expr.ErrAggregate, a))
		}
		f, err := expr.Field(a, in)
		if err != nil {
			return nil, wrap("Aggregate", err)
		}
		fields = append(fields, f)
	}
	return &Aggregate{Groups: groups, Aggs: aggs, Child: child, schema: arrow.NewSchema(fields, nil)}, nil
}

// Schema implements Node.
func (a *Aggregate) Schema() *arrow.Schema { return a.schema }

// Children implements Node.
func (a *Aggregate) Children() []Node { return []Node{a.Child} }

// WithChildren implements Node.
func (a *Aggregate) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("Aggregate", errors.New("needs one child"))
	}
	return NewAggregate(c[0], a.Groups, a.Aggs)
}

// String implements Node.
func (a *Aggregate) String() string {
	return fmt.Sprintf("Aggregate [%s], [%s]", exprList(a.Groups), exprList(a.Aggs))
}

// SortOrder is one sort key.
type SortOrder struct {
	Expr expr.Expr
	Desc bool
	// NullsFirst puts nulls first. Spark's default: first when ascending,
	// last when descending.
	NullsFirst bool
}

// String implements Node.
func (o SortOrder) String() string {
	dir, nulls := "ASC", "NULLS LAST"
	if o.Desc {
		dir = "DESC"
	}
	if o.NullsFirst {
		nulls = "NULLS FIRST"
	}
	return fmt.Sprintf("%s %s %s", o.Expr, dir, nulls)
}

// Sort orders its input (a total sort across partitions).
type Sort struct {
	Orders []SortOrder
	Child  Node
}

// NewSort returns child sorted by orders.
func NewSort(child Node, orders []SortOrder) (*Sort, error) {
	if child == nil || len(orders) == 0 {
		return nil, wrap("Sort", errors.New("needs a child and at least one order"))
	}
	for _, o := range orders {
		if o.Expr == nil {
			return nil, wrap("Sort", errors.New("nil sort expression"))
		}
		t, err := o.Expr.Resolve(child.Schema())
		if err != nil {
			return nil, wrap("Sort", err)
		}
		switch t.DataType.(type) {
		case *arrow.ListType, *arrow.StructType, *arrow.MapType:
			return nil, wrap("Sort", fmt.Errorf("%w: cannot sort by %s of type %s", expr.ErrType, o.Expr, t.DataType))
		}
	}
	return &Sort{Orders: orders, Child: child}, nil
}

// Schema implements Node.
func (s *Sort) Schema() *arrow.Schema { return s.Child.Schema() }

// Children implements Node.
func (s *Sort) Children() []Node { return []Node{s.Child} }

// WithChildren implements Node.
func (s *Sort) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("Sort", errors.New("needs one child"))
	}
	return NewSort(c[0], s.Orders)
}

// String implements Node.
func (s *Sort) String() string {
	parts := make([]string, len(s.Orders))
	for i, o := range s.Orders {
		parts[i] = o.String()
	}
	return "Sort [" + strings.Join(parts, ", ") + "]"
}

// Limit keeps the first N rows.
type Limit struct {
	N     int64
	Child Node
}

// NewLimit returns the first n rows of child.
func NewLimit(child Node, n int64) (*Limit, error) {
	if child == nil {
		return nil, wrap("Limit", errors.New("nil child"))
	}
	if n < 0 {
		return nil, wrap("Limit", fmt.Errorf("limit must be at least 0, got %d", n))
	}
	return &Limit{N: n, Child: child}, nil
}

// Schema implements Node.
func (l *Limit) Schema() *arrow.Schema { return l.Child.Schema() }

// Children implements Node.
func (l *Limit) Children() []Node { return []Node{l.Child} }

// WithChildren implements Node.
func (l *Limit) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("Limit", errors.New("needs one child"))
	}
	return NewLimit(c[0], l.N)
}

// String implements Node.
func (l *Limit) String() string { return fmt.Sprintf("Limit %d", l.N) }

// Union concatenates inputs with the same column types (by position, as
// Spark's union; names come from the first input).
type Union struct {
	Inputs []Node
	schema *arrow.Schema // made by NewUnion: a union of many inputs is asked often
}

// NewUnion returns the union of inputs.
func NewUnion(inputs ...Node) (*Union, error) {
	if len(inputs) < 2 {
		return nil, wrap("Union", errors.New("needs at least two inputs"))
	}
	first := inputs[0].Schema()
	for i, in := range inputs[1:] {
		if err := matchColumns(first, in.Schema(), fmt.Sprintf("input %d", i+2), "the first"); err != nil {
			return nil, wrap("Union", err)
		}
	}
	return &Union{Inputs: inputs, schema: unionSchema(inputs)}, nil
}

// Schema implements Node: the first input's columns, nullable where any
// input's is.
func (u *Union) Schema() *arrow.Schema {
	if u.schema == nil { // a Union made without NewUnion
		return unionSchema(u.Inputs)
	}
	return u.schema
}

func unionSchema(inputs []Node) *arrow.Schema {
	fields := slices.Clone(inputs[0].Schema().Fields())
	for _, in := range inputs[1:] {
		for j, f := range in.Schema().Fields() {
			fields[j].Nullable = fields[j].Nullable || f.Nullable
		}
	}
	return arrow.NewSchema(fields, nil)
}

// Children implements Node.
func (u *Union) Children() []Node { return u.Inputs }

// WithChildren implements Node.
func (u *Union) WithChildren(c []Node) (Node, error) {
	return NewUnion(c...)
}

// String implements Node.
func (u *Union) String() string { return "Union" }

// Deduplicate keeps one row (the first seen) per distinct value of Keys,
// or per distinct row when Keys is empty (Distinct). WithinWatermark
// (Spark's dropDuplicatesWithinWatermark) changes only streaming
// execution: a key is remembered until the watermark passes the event
// time of its first row plus the watermark's delay, so that the event
// time need not be a key; on a batch it is plain deduplication.
type Deduplicate struct {
	Keys            []string
	Child           Node
	WithinWatermark bool
}

// NewDeduplicateWithinWatermark returns child without duplicates on keys
// (all columns when keys is empty) within the watermark's delay.
func NewDeduplicateWithinWatermark(child Node, keys []string) (*Deduplicate, error) {
	d, err := NewDeduplicate(child, keys)
	if err != nil {
		return nil, err
	}
	d.WithinWatermark = true
	return d, nil
}

// NewDeduplicate returns child without duplicates on keys (all columns
// when keys is empty).
func NewDeduplicate(child Node, keys []string) (*Deduplicate, error) {
	if child == nil {
		return nil, wrap("Deduplicate", errors.New("nil child"))
	}
	for _, k := range keys {
		if _, err := expr.FieldIndex(child.Schema(), k); err != nil {
			return nil, wrap("Deduplicate", err)
		}
	}
	return &Deduplicate{Keys: keys, Child: child}, nil
}

// Schema implements Node.
func (d *Deduplicate) Schema() *arrow.Schema { return d.Child.Schema() }

// Children implements Node.
func (d *Deduplicate) Children() []Node { return []Node{d.Child} }

// WithChildren implements Node.
func (d *Deduplicate) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("Deduplicate", errors.New("needs one child"))
	}
	if d.WithinWatermark {
		return NewDeduplicateWithinWatermark(c[0], d.Keys)
	}
	return NewDeduplicate(c[0], d.Keys)
}

// String implements Node.
func (d *Deduplicate) String() string {
	name := "Deduplicate"
	if d.WithinWatermark {
		name = "DeduplicateWithinWatermark"
	}
	if len(d.Keys) == 0 {
		if d.WithinWatermark {
			return name
		}
		return "Distinct"
	}
	return name + " [" + strings.Join(d.Keys, ", ") + "]"
}

// KeyNames returns the deduplication keys: Keys, or every column.
func (d *Deduplicate) KeyNames() []string {
	if len(d.Keys) > 0 {
		return d.Keys
	}
	return names(d.Child.Schema())
}

// SubqueryAlias names its input: its columns can be referred to as
// "name.column" above it (df.Alias), which tells apart the columns of the
// two sides of a self-join.
type SubqueryAlias struct {
	Name   string
	Child  Node
	schema *arrow.Schema
}

// NewSubqueryAlias returns child under the alias name.
func NewSubqueryAlias(child Node, name string) (*SubqueryAlias, error) {
	if child == nil {
		return nil, wrap("SubqueryAlias", errors.New("nil child"))
	}
	if name == "" || strings.Contains(name, ".") {
		return nil, wrap("SubqueryAlias", fmt.Errorf("alias %q must be non-empty and without dots", name))
	}
	fields := make([]arrow.Field, child.Schema().NumFields())
	for i, f := range child.Schema().Fields() {
		fields[i] = expr.WithQualifier(f, name)
	}
	return &SubqueryAlias{Name: name, Child: child, schema: arrow.NewSchema(fields, nil)}, nil
}

// Schema implements Node.
func (a *SubqueryAlias) Schema() *arrow.Schema { return a.schema }

// Children implements Node.
func (a *SubqueryAlias) Children() []Node { return []Node{a.Child} }

// WithChildren implements Node.
func (a *SubqueryAlias) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("SubqueryAlias", errors.New("needs one child"))
	}
	return NewSubqueryAlias(c[0], a.Name)
}

// String implements Node.
func (a *SubqueryAlias) String() string { return "SubqueryAlias " + a.Name }

// unqualify rewrites references "name.col" to this alias's columns as
// plain "col", for use below the alias.
func (a *SubqueryAlias) unqualify(ref string) string {
	if q, col, ok := strings.Cut(ref, "."); ok && q == a.Name && len(a.Child.Schema().FieldIndices(ref)) == 0 {
		return col
	}
	return ref
}

// BroadcastHint marks its input as small enough to broadcast: a join
// whose right side carries it is planned as a broadcast join whatever
// the size estimates say (for the join types a broadcast join supports).
type BroadcastHint struct {
	Child Node
}

// NewBroadcastHint returns child marked for broadcasting.
func NewBroadcastHint(child Node) (*BroadcastHint, error) {
	if child == nil {
		return nil, wrap("BroadcastHint", errors.New("nil child"))
	}
	return &BroadcastHint{Child: child}, nil
}

// Schema implements Node.
func (h *BroadcastHint) Schema() *arrow.Schema { return h.Child.Schema() }

// Children implements Node.
func (h *BroadcastHint) Children() []Node { return []Node{h.Child} }

// WithChildren implements Node.
func (h *BroadcastHint) WithChildren(c []Node) (Node, error) {
	if len(c) != 1 {
		return nil, wrap("BroadcastHint", errors.New("needs one child"))
	}
	return NewBroadcastHint(c[0])
}

// String implements Node.
func (h *BroadcastHint) String() string { return "ResolvedHint broadcast" }
