package plan

import (
	"errors"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
)

// SetOpKind is the kind of a [SetOp].
type SetOpKind int

// The set operations.
const (
	// SetIntersect keeps the left rows that are also right rows.
	SetIntersect SetOpKind = iota
	// SetExcept keeps the left rows that are not right rows.
	SetExcept
)

// String implements fmt.Stringer.
func (k SetOpKind) String() string {
	switch k {
	case SetIntersect:
		return "Intersect"
	case SetExcept:
		return "Except"
	}
	return fmt.Sprintf("SetOpKind(%d)", int(k))
}

// SetOp is INTERSECT or EXCEPT of two inputs with the same column types,
// matched by position (names come from Left, as for [Union]). Rows are
// compared whole, and a null equals a null here (unlike join keys), as in
// Spark and SQL's DISTINCT. Without All the output is distinct rows: those
// of Left also in Right (Intersect) or not in Right (Except). With All
// duplicates count: a row n times in Left and m times in Right appears
// min(n, m) times (Intersect All) or max(0, n-m) times (Except All).
type SetOp struct {
	Left, Right Node
	Kind        SetOpKind
	All         bool
	schema      *arrow.Schema
}

// NewSetOp returns the set operation kind of left and right.
func NewSetOp(left, right Node, kind SetOpKind, all bool) (*SetOp, error) {
	op := kind.String()
	if kind != SetIntersect && kind != SetExcept {
		return nil, wrap(op, errors.New("unknown set operation"))
	}
	if left == nil || right == nil {
		return nil, wrap(op, errors.New("nil input"))
	}
	ls, rs := left.Schema(), right.Schema()
	if err := matchColumns(ls, rs, "the right input", "the left"); err != nil {
		return nil, wrap(op, err)
	}
	fields := slices.Clone(ls.Fields())
	if kind == SetIntersect {
		// A row of the output is in both inputs: it has a null only
		// where both may.
		for j, f := range rs.Fields() {
			fields[j].Nullable = fields[j].Nullable && f.Nullable
		}
	}
	return &SetOp{Left: left, Right: right, Kind: kind, All: all, schema: arrow.NewSchema(fields, nil)}, nil
}

// matchColumns checks that s has first's column count and types (by
// position), naming the input s is (in) and the one first is (firstIn)
// in its error.
func matchColumns(first, s *arrow.Schema, in, firstIn string) error {
	if s.NumFields() != first.NumFields() {
		return fmt.Errorf("%s has %d columns, %s has %d", in, s.NumFields(), firstIn, first.NumFields())
	}
	for j, f := range s.Fields() {
		ff := first.Field(j)
		if arrow.TypeEqual(f.Type, ff.Type) {
			continue
		}
		name := ff.Name
		if f.Name != ff.Name {
			name = ff.Name + "; " + f.Name + " in " + in
		}
		return fmt.Errorf("%w: column %d (%s) is %s in %s but %s in %s; cast one of them", expr.ErrType, j+1, name, f.Type, in, ff.Type, firstIn)
	}
	return nil
}

// Schema implements Node.
func (s *SetOp) Schema() *arrow.Schema { return s.schema }

// Children implements Node.
func (s *SetOp) Children() []Node { return []Node{s.Left, s.Right} }

// WithChildren implements Node.
func (s *SetOp) WithChildren(c []Node) (Node, error) {
	if len(c) != 2 {
		return nil, wrap(s.Kind.String(), errors.New("needs two children"))
	}
	return NewSetOp(c[0], c[1], s.Kind, s.All)
}

// String implements Node: "Intersect", "Intersect All", "Except" or
// "Except All".
func (s *SetOp) String() string {
	if s.All {
		return s.Kind.String() + " All"
	}
	return s.Kind.String()
}
