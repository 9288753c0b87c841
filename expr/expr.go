package expr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	cexec "github.com/apache/arrow-go/v18/arrow/compute/exec"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrType is wrapped by errors of expressions whose arguments have types
// the expression cannot take (for example "a" + 1 with a string column).
var ErrType = errors.New("expr: type mismatch")

// ErrAggregate is wrapped by errors of aggregate functions used outside an
// aggregation (in a Select or Filter) and of an aggregation given an
// expression that is not an aggregate.
var ErrAggregate = errors.New("expr: misplaced aggregate")

// ErrInvalid is wrapped by errors of malformed expressions (a nil child, a
// bad regular expression, a wrong number of arguments).
var ErrInvalid = errors.New("expr: invalid expression")

// ColumnNotFoundError is the error of a column reference that names no
// column of the input. Available lists the input's columns.
type ColumnNotFoundError struct {
	Name      string
	Available []string
}

// Error implements error.
func (e *ColumnNotFoundError) Error() string {
	msg := fmt.Sprintf("expr: column %q not found; available columns: %s", e.Name, strings.Join(e.Available, ", "))
	if s := e.Suggestion(); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// Suggestion returns the available column closest to Name (by edit
// distance, ignoring case) when it is close enough to be a typo, or "".
func (e *ColumnNotFoundError) Suggestion() string {
	best, bestD := "", 3
	for _, a := range e.Available {
		if d := editDistance(strings.ToLower(e.Name), strings.ToLower(a)); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// AmbiguousColumnError is the error of a column reference that matches
// more than one column of the input (after a join, say).
type AmbiguousColumnError struct {
	Name  string
	Count int
}

// Error implements error.
func (e *AmbiguousColumnError) Error() string {
	return fmt.Sprintf("expr: column %q is ambiguous: %d input columns have that name; rename one side first (WithColumnRenamed)", e.Name, e.Count)
}

// Type is the resolved type of an expression: its Arrow data type and
// whether it may be null.
type Type struct {
	DataType arrow.DataType
	Nullable bool
}

// EvalContext carries what evaluation needs besides the batch. It is
// shared by the evaluations of one task and not safe for concurrent use.
type EvalContext struct {
	// Alloc allocates the arrays that evaluation returns.
	Alloc memory.Allocator
	// Now is the value of current_timestamp(): one instant per query, taken
	// from the session's clock, never from time.Now.
	Now time.Time
	// Ctx is the task's context; Arrow compute kernels run under it.
	Ctx context.Context

	cctx context.Context
}

// NewEvalContext returns an evaluation context. A nil alloc means
// memory.DefaultAllocator; a nil ctx means context.Background().
func NewEvalContext(ctx context.Context, alloc memory.Allocator, now time.Time) *EvalContext {
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return &EvalContext{Alloc: alloc, Now: now, Ctx: ctx}
}

// computeCtx is the context handed to arrow compute kernels: it carries
// the allocator.
func (ec *EvalContext) computeCtx() context.Context {
	if ec.cctx == nil {
		ctx := ec.Ctx
		if ctx == nil {
			ctx = context.Background()
		}
		ec.cctx = cexec.WithAllocator(ctx, ec.Alloc)
	}
	return ec.cctx
}

// Expr is an expression over the columns of a record batch.
//
// Resolve checks the expression against an input schema and returns its
// type; it is what the analyzer calls, and Eval may assume it succeeded
// against the batch's schema. Eval computes one value per row of the batch
// and returns an array of batch.NumRows() values that the caller must
// Release. Children and WithChildren let optimizer rules rewrite trees:
// WithChildren returns a copy with the children replaced (same count).
// Expressions are immutable values, safe to share between goroutines.
type Expr interface {
	Resolve(s *arrow.Schema) (Type, error)
	Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error)
	String() string
	Children() []Expr
	WithChildren(children []Expr) (Expr, error)
}

// Nondeterministic is implemented by expressions whose value is not a
// function of their inputs alone (current_timestamp); constant folding
// leaves them alone.
type Nondeterministic interface {
	Nondeterministic() bool
}

// Name returns the output column name of an expression used in a
// projection: the alias, the column name, or the expression's text.
func Name(e Expr) string {
	switch e := e.(type) {
	case *Alias:
		return e.Name
	case *Column:
		return e.Name
	}
	return e.String()
}

// Field returns the output field of e over schema s.
// A bare column reference keeps the input field, with its name (without
// a qualifier) and metadata, so qualifiers pass through projections.
func Field(e Expr, s *arrow.Schema) (arrow.Field, error) {
	if c, ok := e.(*Column); ok {
		i, err := FieldIndex(s, c.Name)
		if err != nil {
			return arrow.Field{}, err
		}
		return s.Field(i), nil
	}
	t, err := e.Resolve(s)
	if err != nil {
		return arrow.Field{}, err
	}
	return arrow.Field{Name: Name(e), Type: t.DataType, Nullable: t.Nullable}, nil
}

// QualifierKey is the field metadata key holding the name of the
// DataFrame (alias) a column comes from.
const QualifierKey = "spate.qualifier"

// Qualifier returns the alias recorded in f's metadata ("" for none).
func Qualifier(f arrow.Field) string {
	if i := f.Metadata.FindKey(QualifierKey); i >= 0 {
		return f.Metadata.Values()[i]
	}
	return ""
}

// WithQualifier returns f recorded as coming from alias q.
func WithQualifier(f arrow.Field, q string) arrow.Field {
	keys, vals := []string{QualifierKey}, []string{q}
	for i, k := range f.Metadata.Keys() {
		if k != QualifierKey {
			keys, vals = append(keys, k), append(vals, f.Metadata.Values()[i])
		}
	}
	f.Metadata = arrow.NewMetadata(keys, vals)
	return f
}

// Refers reports whether the column reference ref names field f: by its
// name, or as "q.name" with f's qualifier q.
func Refers(ref string, f arrow.Field) bool {
	if ref == f.Name {
		return true
	}
	q, col, ok := strings.Cut(ref, ".")
	return ok && col == f.Name && Qualifier(f) == q
}

// Resolves reports whether ref names at least one field of s.
func Resolves(ref string, s *arrow.Schema) bool {
	for _, f := range s.Fields() {
		if Refers(ref, f) {
			return true
		}
	}
	return false
}

// Walk calls f for e and every expression below it, parents first, until
// f returns false.
func Walk(e Expr, f func(Expr) bool) bool {
	if !f(e) {
		return false
	}
	for _, c := range e.Children() {
		if !Walk(c, f) {
			return false
		}
	}
	return true
}

// Columns returns the names of the columns e refers to, in first-use
// order without repeats.
func Columns(e Expr) []string {
	var out []string
	Walk(e, func(x Expr) bool {
		if c, ok := x.(*Column); ok && !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
		return true
	})
	return out
}

// Transform rewrites e bottom-up: f is called for each node after its
// children were rewritten and returns the replacement (or the node itself).
func Transform(e Expr, f func(Expr) (Expr, error)) (Expr, error) {
	kids := e.Children()
	if len(kids) > 0 {
		nk := make([]Expr, len(kids))
		changed := false
		for i, k := range kids {
			n, err := Transform(k, f)
			if err != nil {
				return nil, err
			}
			nk[i] = n
			changed = changed || n != k
		}
		if changed {
			var err error
			if e, err = e.WithChildren(nk); err != nil {
				return nil, err
			}
		}
	}
	return f(e)
}

// IsAggregate reports whether e contains an aggregate function call.
func IsAggregate(e Expr) bool {
	found := false
	Walk(e, func(x Expr) bool {
		if _, ok := x.(*AggExpr); ok {
			found = true
		}
		return !found
	})
	return found
}

// IsDeterministic reports whether e and all its children are
// deterministic.
func IsDeterministic(e Expr) bool {
	det := true
	Walk(e, func(x Expr) bool {
		if n, ok := x.(Nondeterministic); ok && n.Nondeterministic() {
			det = false
		}
		return det
	})
	return det
}

func columnNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}

// FieldIndex returns the index of the column called name in s, or an error
// naming the column and listing the available ones.
//
// A name "q.col" that no column has as it is refers to column col of the
// input called q (see [QualifierKey]): after df.Alias("a"), Col("a.id")
// is a's column id, which tells apart the two id columns of a self-join.
func FieldIndex(s *arrow.Schema, name string) (int, error) {
	idx := s.FieldIndices(name)
	if len(idx) == 0 {
		if q, col, ok := strings.Cut(name, "."); ok {
			for i, f := range s.Fields() {
				if f.Name == col && Qualifier(f) == q {
					idx = append(idx, i)
				}
			}
		}
	}
	switch len(idx) {
	case 1:
		return idx[0], nil
	case 0:
		return -1, &ColumnNotFoundError{Name: name, Available: columnNames(s)}
	}
	return -1, &AmbiguousColumnError{Name: name, Count: len(idx)}
}

// Column is a reference to an input column by name.
type Column struct {
	Name string
}

// Col returns a reference to the column called name.
func Col(name string) *Column { return &Column{Name: name} }

// Resolve implements Expr.
func (c *Column) Resolve(s *arrow.Schema) (Type, error) {
	i, err := FieldIndex(s, c.Name)
	if err != nil {
		return Type{}, err
	}
	f := s.Field(i)
	return Type{f.Type, f.Nullable}, nil
}

// Eval implements Expr.
func (c *Column) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	i, err := FieldIndex(b.Schema(), c.Name)
	if err != nil {
		return nil, err
	}
	a := b.Column(i)
	a.Retain()
	return a, nil
}

// String implements Expr.
func (c *Column) String() string { return c.Name }

// Children implements Expr.
func (c *Column) Children() []Expr { return nil }

// WithChildren implements Expr.
func (c *Column) WithChildren([]Expr) (Expr, error) { return c, nil }

// Alias names the result of an expression.
type Alias struct {
	Child Expr
	Name  string
}

// As returns e named name.
func As(e Expr, name string) *Alias { return &Alias{Child: e, Name: name} }

// Resolve implements Expr.
func (a *Alias) Resolve(s *arrow.Schema) (Type, error) { return resolveChild(a.Child, s) }

// Eval implements Expr.
func (a *Alias) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	return a.Child.Eval(ec, b)
}

// String implements Expr.
func (a *Alias) String() string { return fmt.Sprintf("%s AS %s", a.Child, a.Name) }

// Children implements Expr.
func (a *Alias) Children() []Expr { return []Expr{a.Child} }

// WithChildren implements Expr.
func (a *Alias) WithChildren(c []Expr) (Expr, error) {
	if err := wantChildren("alias", c, 1); err != nil {
		return nil, err
	}
	return &Alias{Child: c[0], Name: a.Name}, nil
}

// Unalias returns e without a top-level alias.
func Unalias(e Expr) Expr {
	for {
		a, ok := e.(*Alias)
		if !ok {
			return e
		}
		e = a.Child
	}
}

func resolveChild(e Expr, s *arrow.Schema) (Type, error) {
	if e == nil {
		return Type{}, fmt.Errorf("%w: nil expression", ErrInvalid)
	}
	return e.Resolve(s)
}

func wantChildren(name string, c []Expr, n int) error {
	if len(c) != n {
		return fmt.Errorf("%w: %s takes %d children, got %d", ErrInvalid, name, n, len(c))
	}
	return nil
}
