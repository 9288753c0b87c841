package dataframe

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
)

// Column is an expression over a DataFrame's columns, built with [Col],
// [Lit], the functions of this package and Column's methods. Methods that
// take another operand accept a Column or a Go value (which becomes a
// literal). A Column made from a bad argument carries the error; the
// DataFrame operation that uses it fails with it.
type Column struct {
	e      expr.Expr
	err    error
	order  *sortSpec
	window *windowSpec // a Window grouping column
}

type sortSpec struct{ desc, nullsFirst bool }

// Col refers to the column called name.
func Col(name string) Column { return Column{e: expr.Col(name)} }

// Lit is a constant: nil (NULL), an integer, a float, a string, a bool or
// a time.Time.
func Lit(v any) Column {
	if c, ok := v.(Column); ok {
		return c
	}
	l := expr.Lit(v)
	if l.Type == nil {
		return Column{err: fmt.Errorf("%w: Lit: unsupported Go type %T", expr.ErrType, v)}
	}
	return Column{e: l}
}

// ColumnOf wraps an expression of package expr.
func ColumnOf(e expr.Expr) Column {
	if e == nil {
		return Column{err: fmt.Errorf("%w: nil expression", expr.ErrInvalid)}
	}
	return Column{e: e}
}

// Expr returns the column's expression (nil when the column carries an
// error).
func (c Column) Expr() expr.Expr { return c.e }

// Err returns the error of a column built from bad arguments.
func (c Column) Err() error {
	if c.err == nil && c.e == nil {
		return fmt.Errorf("%w: empty Column (use Col or Lit)", expr.ErrInvalid)
	}
	return c.err
}

func (c Column) String() string {
	if c.e == nil {
		return "<invalid column>"
	}
	return c.e.String()
}

// operand turns a method argument into a Column.
func operand(v any) Column {
	if c, ok := v.(Column); ok {
		return c
	}
	return Lit(v)
}

func unary(c Column, f func(expr.Expr) expr.Expr) Column {
	if err := c.Err(); err != nil {
		return Column{err: err}
	}
	return Column{e: f(c.e)}
}

func binary(a Column, bv any, f func(l, r expr.Expr) expr.Expr) Column {
	b := operand(bv)
	if err := a.Err(); err != nil {
		return Column{err: err}
	}
	if err := b.Err(); err != nil {
		return Column{err: err}
	}
	return Column{e: f(a.e, b.e)}
}

// Plus returns c + v.
func (c Column) Plus(v any) Column { return binary(c, v, expr.Add) }

// Minus returns c - v.
func (c Column) Minus(v any) Column { return binary(c, v, expr.Sub) }

// Multiply returns c * v.
func (c Column) Multiply(v any) Column { return binary(c, v, expr.Mul) }

// Divide returns c / v as a float64 (null when v is zero).
func (c Column) Divide(v any) Column { return binary(c, v, expr.Div) }

// Mod returns c % v (null when v is zero).
func (c Column) Mod(v any) Column { return binary(c, v, expr.Mod) }

// EqualTo returns c = v.
func (c Column) EqualTo(v any) Column { return binary(c, v, expr.Eq) }

// NotEqual returns c != v.
func (c Column) NotEqual(v any) Column { return binary(c, v, expr.NotEq) }

// Gt returns c > v.
func (c Column) Gt(v any) Column { return binary(c, v, expr.Gt) }

// Geq returns c >= v.
func (c Column) Geq(v any) Column { return binary(c, v, expr.Ge) }

// Lt returns c < v.
func (c Column) Lt(v any) Column { return binary(c, v, expr.Lt) }

// Leq returns c <= v.
func (c Column) Leq(v any) Column { return binary(c, v, expr.Le) }

// And returns c AND v (three-valued).
func (c Column) And(v any) Column { return binary(c, v, expr.And) }

// Or returns c OR v (three-valued).
func (c Column) Or(v any) Column { return binary(c, v, expr.Or) }

// Not returns NOT c.
func Not(c Column) Column { return unary(c, expr.NewNot) }

// IsNull returns c IS NULL.
func (c Column) IsNull() Column { return unary(c, expr.IsNull) }

// IsNotNull returns c IS NOT NULL.
func (c Column) IsNotNull() Column { return unary(c, expr.IsNotNull) }

// Cast returns c converted to dt (strings that do not parse become null).
// It is Arrow's cast: a number cast to a timestamp type counts that
// type's unit (microseconds for expr.TimestampType), unlike SQL's CAST,
// which counts seconds as Spark does; use TimestampSeconds,
// TimestampMillis or UnixSeconds for Spark's conversions.
func (c Column) Cast(dt arrow.DataType) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.NewCast(e, dt) })
}

// Alias names c; As is the same.
func (c Column) Alias(name string) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.As(e, name) })
}

// As names c.
func (c Column) As(name string) Column { return c.Alias(name) }

// Between returns lo <= c AND c <= hi.
func (c Column) Between(lo, hi any) Column {
	l, h := operand(lo), operand(hi)
	if err := firstErr(c, l, h); err != nil {
		return Column{err: err}
	}
	return Column{e: expr.Between(c.e, l.e, h.e)}
}

// IsIn returns c IN (values...).
func (c Column) IsIn(values ...any) Column {
	cols := make([]Column, len(values))
	for i, v := range values {
		cols[i] = operand(v)
	}
	if err := firstErr(append([]Column{c}, cols...)...); err != nil {
		return Column{err: err}
	}
	return Column{e: expr.In(c.e, exprsOf(cols)...)}
}

// Like returns c LIKE pattern (% any sequence, _ one character).
func (c Column) Like(pattern string) Column {
	return unary(c, func(e expr.Expr) expr.Expr { return expr.Like(e, pattern) })
}

// When adds a branch to a CASE column made by the package function When.
func (c Column) When(cond Column, value any) Column {
	v := operand(value)
	if err := firstErr(c, cond, v); err != nil {
		return Column{err: err}
	}
	cw, ok := c.e.(*expr.CaseWhen)
	if !ok {
		return Column{err: fmt.Errorf("%w: When can only follow When(...), not %s", expr.ErrInvalid, c.e)}
	}
	return Column{e: cw.When(cond.e, v.e)}
}

// Otherwise sets the value of a CASE column when no branch matches.
func (c Column) Otherwise(value any) Column {
	v := operand(value)
	if err := firstErr(c, v); err != nil {
		return Column{err: err}
	}
	cw, ok := c.e.(*expr.CaseWhen)
	if !ok {
		return Column{err: fmt.Errorf("%w: Otherwise can only follow When(...), not %s", expr.ErrInvalid, c.e)}
	}
	return Column{e: cw.Otherwise(v.e)}
}

// Asc sorts by c ascending, nulls first (Spark's default).
func (c Column) Asc() Column { c.order = &sortSpec{desc: false, nullsFirst: true}; return c }

// AscNullsLast sorts by c ascending, nulls last.
func (c Column) AscNullsLast() Column { c.order = &sortSpec{desc: false, nullsFirst: false}; return c }

// Desc sorts by c descending, nulls last (Spark's default).
func (c Column) Desc() Column { c.order = &sortSpec{desc: true, nullsFirst: false}; return c }

// DescNullsFirst sorts by c descending, nulls first.
func (c Column) DescNullsFirst() Column { c.order = &sortSpec{desc: true, nullsFirst: true}; return c }

func firstErr(cs ...Column) error {
	for _, c := range cs {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

func exprsOf(cs []Column) []expr.Expr {
	out := make([]expr.Expr, len(cs))
	for i, c := range cs {
		out[i] = c.e
	}
	return out
}
