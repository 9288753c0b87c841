package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// callCompute runs an Arrow compute function over arrays.
func callCompute(ec *EvalContext, name string, opts compute.FunctionOptions, args ...arrow.Array) (arrow.Array, error) {
	ds := make([]compute.Datum, len(args))
	for i, a := range args {
		ds[i] = compute.NewDatumWithoutOwning(a)
	}
	out, err := compute.CallFunction(ec.computeCtx(), name, opts, ds...)
	if err != nil {
		return nil, fmt.Errorf("expr: %s: %w", name, err)
	}
	defer out.Release()
	ad, ok := out.(*compute.ArrayDatum)
	if !ok {
		return nil, fmt.Errorf("expr: %s returned %s, not an array", name, out.Kind())
	}
	return ad.MakeArray(), nil
}

// evalAs evaluates e and casts the result to dt.
func evalAs(ec *EvalContext, e Expr, dt arrow.DataType, b arrow.RecordBatch) (arrow.Array, error) {
	a, err := e.Eval(ec, b)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return castTo(ec, a, dt)
}

// Logical is AND or OR with SQL's three-valued logic: false AND null is
// false, true OR null is true, otherwise null in, null out.
type Logical struct {
	Or          bool
	Left, Right Expr
}

// And returns l AND r.
func And(l, r Expr) Expr { return &Logical{false, l, r} }

// Or returns l OR r.
func Or(l, r Expr) Expr { return &Logical{true, l, r} }

// AndAll joins the predicates with AND (nil for none).
func AndAll(es ...Expr) Expr {
	var out Expr
	for _, e := range es {
		if out == nil {
			out = e
		} else {
			out = And(out, e)
		}
	}
	return out
}

// Conjuncts splits e into the predicates ANDed together in it.
func Conjuncts(e Expr) []Expr {
	if l, ok := e.(*Logical); ok && !l.Or {
		return append(Conjuncts(l.Left), Conjuncts(l.Right)...)
	}
	return []Expr{e}
}

func (l *Logical) op() string {
	if l.Or {
		return "OR"
	}
	return "AND"
}

// String implements Expr.
func (l *Logical) String() string { return fmt.Sprintf("(%s %s %s)", l.Left, l.op(), l.Right) }

// Children implements Expr.
func (l *Logical) Children() []Expr { return []Expr{l.Left, l.Right} }

// WithChildren implements Expr.
func (l *Logical) WithChildren(c []Expr) (Expr, error) {
	if err := wantChildren(l.op(), c, 2); err != nil {
		return nil, err
	}
	return &Logical{l.Or, c[0], c[1]}, nil
}

// Resolve implements Expr.
func (l *Logical) Resolve(s *arrow.Schema) (Type, error) {
	lt, err := resolveBool(l.Left, s, l.op())
	if err != nil {
		return Type{}, err
	}
	rt, err := resolveBool(l.Right, s, l.op())
	if err != nil {
		return Type{}, err
	}
	return Type{boolType, lt.Nullable || rt.Nullable}, nil
}

func resolveBool(e Expr, s *arrow.Schema, what string) (Type, error) {
	t, err := resolveChild(e, s)
	if err != nil {
		return Type{}, err
	}
	if t.DataType.ID() != arrow.BOOL && !isNull(t.DataType) {
		return Type{}, fmt.Errorf("%w: %s needs boolean operands, got %s (%s)", ErrType, what, e, t.DataType)
	}
	return t, nil
}

// Eval implements Expr.
func (l *Logical) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	if _, err := l.Resolve(b.Schema()); err != nil {
		return nil, err
	}
	la, err := evalAs(ec, l.Left, boolType, b)
	if err != nil {
		return nil, err
	}
	defer la.Release()
	ra, err := evalAs(ec, l.Right, boolType, b)
	if err != nil {
		return nil, err
	}
	defer ra.Release()
	if la.NullN() == 0 && ra.NullN() == 0 {
		name := "and"
		if l.Or {
			name = "or"
		}
		return callCompute(ec, name, nil, la, ra)
	}
	name := "and_kleene"
	if l.Or {
		name = "or_kleene"
	}
	return callCompute(ec, name, nil, la, ra)
}

// Not is logical negation (NOT null is null).
type Not struct{ Child Expr }

// NewNot returns NOT e.
func NewNot(e Expr) Expr { return &Not{e} }

// String implements Expr.
func (n *Not) String() string { return fmt.Sprintf("(NOT %s)", n.Child) }

// Children implements Expr.
func (n *Not) Children() []Expr { return []Expr{n.Child} }

// WithChildren implements Expr.
func (n *Not) WithChildren(c []Expr) (Expr, error) {
	if err := wantChildren("NOT", c, 1); err != nil {
		return nil, err
	}
	return &Not{c[0]}, nil
}

// Resolve implements Expr.
func (n *Not) Resolve(s *arrow.Schema) (Type, error) {
	t, err := resolveBool(n.Child, s, "NOT")
	return Type{boolType, t.Nullable}, err
}

// Eval implements Expr.
func (n *Not) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	if _, err := n.Resolve(b.Schema()); err != nil {
		return nil, err
	}
	a, err := evalAs(ec, n.Child, boolType, b)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return callCompute(ec, "not", nil, a)
}

// NullCheck is IS NULL (or IS NOT NULL when Not is set); never null.
type NullCheck struct {
	Child Expr
	Not   bool
}

// IsNull returns e IS NULL.
func IsNull(e Expr) Expr { return &NullCheck{e, false} }

// IsNotNull returns e IS NOT NULL.
func IsNotNull(e Expr) Expr { return &NullCheck{e, true} }

// String implements Expr.
func (n *NullCheck) String() string {
	if n.Not {
		return fmt.Sprintf("(%s IS NOT NULL)", n.Child)
	}
	return fmt.Sprintf("(%s IS NULL)", n.Child)
}

// Children implements Expr.
func (n *NullCheck) Children() []Expr { return []Expr{n.Child} }

// WithChildren implements Expr.
func (n *NullCheck) WithChildren(c []Expr) (Expr, error) {
	if err := wantChildren("IS NULL", c, 1); err != nil {
		return nil, err
	}
	return &NullCheck{c[0], n.Not}, nil
}

// Resolve implements Expr.
func (n *NullCheck) Resolve(s *arrow.Schema) (Type, error) {
	_, err := resolveChild(n.Child, s)
	return Type{boolType, false}, err
}

// Eval implements Expr.
func (n *NullCheck) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	a, err := n.Child.Eval(ec, b)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	nr := a.Len()
	out := memory.NewResizableBuffer(ec.Alloc)
	out.Resize(int(bitmapBytes(nr)))
	bits := out.Bytes()
	switch {
	case isNull(a.DataType()):
		if n.Not {
			clear(bits)
		} else {
			setAllBits(bits, nr)
		}
	case a.NullN() == 0:
		if n.Not {
			setAllBits(bits, nr)
		} else {
			clear(bits)
		}
	default:
		v, _ := validityOf(ec.Alloc, nr, a)
		copy(bits, v.Bytes())
		v.Release()
		if !n.Not {
			for i := range bits {
				bits[i] = ^bits[i]
			}
		}
	}
	return makeArray(boolType, nr, nil, out, 0), nil
}

// Cast converts its child to To. Strings that do not parse become null;
// other impossible casts are errors.
type Cast struct {
	Child Expr
	To    arrow.DataType
}

// NewCast returns CAST(e AS to).
func NewCast(e Expr, to arrow.DataType) Expr { return &Cast{e, to} }

// String implements Expr.
func (c *Cast) String() string { return fmt.Sprintf("CAST(%s AS %s)", c.Child, c.To) }

// Children implements Expr.
func (c *Cast) Children() []Expr { return []Expr{c.Child} }

// WithChildren implements Expr.
func (c *Cast) WithChildren(k []Expr) (Expr, error) {
	if err := wantChildren("CAST", k, 1); err != nil {
		return nil, err
	}
	return &Cast{k[0], c.To}, nil
}

// Resolve implements Expr.
func (c *Cast) Resolve(s *arrow.Schema) (Type, error) {
	t, err := resolveChild(c.Child, s)
	if err != nil {
		return Type{}, err
	}
	if c.To == nil {
		return Type{}, fmt.Errorf("%w: CAST needs a target type", ErrInvalid)
	}
	from := t.DataType
	ok := arrow.TypeEqual(from, c.To) || isNull(from) || isString(from) && (IsNumeric(c.To) || isTemporal(c.To) || c.To.ID() == arrow.BOOL) ||
		compute.CanCast(from, c.To)
	if !ok {
		return Type{}, fmt.Errorf("%w: cannot cast %s (%s) to %s", ErrType, c.Child, from, c.To)
	}
	nullable := t.Nullable || isString(from) && !isString(c.To)
	return Type{c.To, nullable}, nil
}

// Eval implements Expr.
func (c *Cast) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	if _, err := c.Resolve(b.Schema()); err != nil {
		return nil, err
	}
	return evalAs(ec, c.Child, c.To, b)
}

// CaseWhen is CASE WHEN c1 THEN v1 ... ELSE e END: the value of the first
// branch whose condition is true (null conditions count as false), else
// Else (null when Else is nil).
type CaseWhen struct {
	Conds, Values []Expr
	Else          Expr
}

// When starts a CASE expression with one branch.
func When(cond, value Expr) *CaseWhen { return &CaseWhen{Conds: []Expr{cond}, Values: []Expr{value}} }

// When adds a branch.
func (c *CaseWhen) When(cond, value Expr) *CaseWhen {
	return &CaseWhen{Conds: append(c.Conds[:len(c.Conds):len(c.Conds)], cond), Values: append(c.Values[:len(c.Values):len(c.Values)], value), Else: c.Else}
}

// Otherwise sets the value when no branch matches.
func (c *CaseWhen) Otherwise(e Expr) *CaseWhen {
	return &CaseWhen{Conds: c.Conds, Values: c.Values, Else: e}
}

// String implements Expr.
func (c *CaseWhen) String() string {
	var sb strings.Builder
	sb.WriteString("CASE")
	for i := range c.Conds {
		fmt.Fprintf(&sb, " WHEN %s THEN %s", c.Conds[i], c.Values[i])
	}
	if c.Else != nil {
		fmt.Fprintf(&sb, " ELSE %s", c.Else)
	}
	sb.WriteString(" END")
	return sb.String()
}

// Children implements Expr.
func (c *CaseWhen) Children() []Expr {
	out := append(append([]Expr{}, c.Conds...), c.Values...)
	if c.Else != nil {
		out = append(out, c.Else)
	}
	return out
}

// WithChildren implements Expr.
func (c *CaseWhen) WithChildren(k []Expr) (Expr, error) {
	n := len(c.Conds)
	want := 2 * n
	if c.Else != nil {
		want++
	}
	if err := wantChildren("CASE", k, want); err != nil {
		return nil, err
	}
	out := &CaseWhen{Conds: append([]Expr{}, k[:n]...), Values: append([]Expr{}, k[n:2*n]...)}
	if c.Else != nil {
		out.Else = k[2*n]
	}
	return out, nil
}

func (c *CaseWhen) values() []Expr {
	if c.Else != nil {
		return append(append([]Expr{}, c.Values...), c.Else)
	}
	return c.Values
}

// Resolve implements Expr.
func (c *CaseWhen) Resolve(s *arrow.Schema) (Type, error) {
	if len(c.Conds) == 0 || len(c.Conds) != len(c.Values) {
		return Type{}, fmt.Errorf("%w: CASE needs as many conditions as values, and at least one", ErrInvalid)
	}
	for _, e := range c.Conds {
		if _, err := resolveBool(e, s, "WHEN"); err != nil {
			return Type{}, err
		}
	}
	t, err := resolveCommon(c.values(), s, "CASE")
	if err != nil {
		return Type{}, err
	}
	if c.Else == nil {
		t.Nullable = true
	}
	return t, nil
}

// resolveCommon resolves es and returns their common type.
func resolveCommon(es []Expr, s *arrow.Schema, what string) (Type, error) {
	types := make([]arrow.DataType, len(es))
	nullable := false
	for i, e := range es {
		t, err := resolveChild(e, s)
		if err != nil {
			return Type{}, err
		}
		types[i] = t.DataType
		nullable = nullable || t.Nullable
	}
	ct, ok := commonType(types)
	if !ok {
		names := make([]string, len(types))
		for i, t := range types {
			names[i] = t.String()
		}
		return Type{}, fmt.Errorf("%w: %s branches have incompatible types %s", ErrType, what, strings.Join(names, ", "))
	}
	return Type{ct, nullable}, nil
}

// Eval implements Expr.
func (c *CaseWhen) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	t, err := c.Resolve(b.Schema())
	if err != nil {
		return nil, err
	}
	n := int(b.NumRows())
	pick := make([]int32, n) // branch per row; -1 for none
	for i := range pick {
		pick[i] = -1
	}
	left := n
	for k, cond := range c.Conds {
		if left == 0 {
			break
		}
		ca, err := evalAs(ec, cond, boolType, b)
		if err != nil {
			return nil, err
		}
		cb := ca.(*array.Boolean)
		for i := range pick {
			if pick[i] < 0 && cb.IsValid(i) && cb.Value(i) {
				pick[i] = int32(k)
				left--
			}
		}
		ca.Release()
	}
	if c.Else != nil {
		for i := range pick {
			if pick[i] < 0 {
				pick[i] = int32(len(c.Values))
			}
		}
	}
	return gather(ec, c.values(), t.DataType, pick, b)
}

// gather builds the output whose row i is row i of source pick[i] (null
// for -1), evaluating each source once.
func gather(ec *EvalContext, sources []Expr, dt arrow.DataType, pick []int32, b arrow.RecordBatch) (arrow.Array, error) {
	n := len(pick)
	arrs := make([]arrow.Array, len(sources))
	defer releaseAll(arrs)
	for k, e := range sources {
		a, err := evalAs(ec, e, dt, b)
		if err != nil {
			return nil, err
		}
		arrs[k] = a
	}
	all, err := array.Concatenate(arrs, ec.Alloc)
	if err != nil {
		return nil, fmt.Errorf("expr: %w", err)
	}
	defer all.Release()
	ib := array.NewInt64Builder(ec.Alloc)
	defer ib.Release()
	ib.Reserve(n)
	for i, p := range pick {
		if p < 0 {
			ib.AppendNull()
		} else {
			ib.Append(int64(p)*int64(n) + int64(i))
		}
	}
	idx := ib.NewArray()
	defer idx.Release()
	out, err := compute.TakeArray(ec.computeCtx(), all, idx)
	if err != nil {
		return nil, fmt.Errorf("expr: %w", err)
	}
	return out, nil
}

// Coalesce is the first non-null of its arguments.
type Coalesce struct{ Args []Expr }

// NewCoalesce returns coalesce(args...).
func NewCoalesce(args ...Expr) Expr { return &Coalesce{args} }

// String implements Expr.
func (c *Coalesce) String() string { return "coalesce(" + joinExprs(c.Args) + ")" }

// Children implements Expr.
func (c *Coalesce) Children() []Expr { return c.Args }

// WithChildren implements Expr.
func (c *Coalesce) WithChildren(k []Expr) (Expr, error) { return &Coalesce{k}, nil }

// Resolve implements Expr.
func (c *Coalesce) Resolve(s *arrow.Schema) (Type, error) {
	if len(c.Args) == 0 {
		return Type{}, fmt.Errorf("%w: coalesce needs at least one argument", ErrInvalid)
	}
	t, err := resolveCommon(c.Args, s, "coalesce")
	if err != nil {
		return Type{}, err
	}
	t.Nullable = true
	for _, a := range c.Args {
		if at, _ := a.Resolve(s); !at.Nullable {
			t.Nullable = false
		}
	}
	return t, nil
}

// Eval implements Expr.
func (c *Coalesce) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	t, err := c.Resolve(b.Schema())
	if err != nil {
		return nil, err
	}
	n := int(b.NumRows())
	pick := make([]int32, n)
	for i := range pick {
		pick[i] = -1
	}
	for k, e := range c.Args {
		a, err := e.Eval(ec, b)
		if err != nil {
			return nil, err
		}
		for i := range pick {
			if pick[i] < 0 && !isNull(a.DataType()) && isValid(a, i) {
				pick[i] = int32(k)
			}
		}
		a.Release()
	}
	return gather(ec, c.Args, t.DataType, pick, b)
}

func joinExprs(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

// InList is e IN (values...): true when e equals one of the values; null
// when e is null, or when no value matches and one of them is null.
type InList struct {
	Child  Expr
	Values []Expr
}

// In returns e IN (values...).
func In(e Expr, values ...Expr) Expr { return &InList{e, values} }

// String implements Expr.
func (in *InList) String() string {
	return fmt.Sprintf("(%s IN (%s))", in.Child, joinExprs(in.Values))
}

// Children implements Expr.
func (in *InList) Children() []Expr { return append([]Expr{in.Child}, in.Values...) }

// WithChildren implements Expr.
func (in *InList) WithChildren(k []Expr) (Expr, error) {
	if len(k) < 1 {
		return nil, fmt.Errorf("%w: IN needs a child", ErrInvalid)
	}
	return &InList{k[0], append([]Expr{}, k[1:]...)}, nil
}

// Resolve implements Expr.
func (in *InList) Resolve(s *arrow.Schema) (Type, error) {
	if len(in.Values) == 0 {
		return Type{}, fmt.Errorf("%w: IN needs at least one value", ErrInvalid)
	}
	t, err := resolveCommon(in.Children(), s, "IN")
	if err != nil {
		return Type{}, err
	}
	return Type{boolType, t.Nullable}, nil
}

// Eval implements Expr.
func (in *InList) Eval(ec *EvalContext, b arrow.RecordBatch) (arrow.Array, error) {
	// e = v1 OR e = v2 ...: three-valued logic gives exactly IN's nulls.
	var or Expr
	for _, v := range in.Values {
		eq := Eq(in.Child, v)
		if or == nil {
			or = eq
		} else {
			or = Or(or, eq)
		}
	}
	return or.Eval(ec, b)
}
