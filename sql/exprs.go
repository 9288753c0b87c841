package sql

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/spate-io/spate/expr"
)

// exprCtx is where an expression is translated.
type exprCtx struct {
	scope *relation
	// allowAgg permits aggregate calls (SELECT list, HAVING, ORDER BY).
	allowAgg bool
	// inAgg is set inside an aggregate's arguments.
	inAgg bool
	// aliases are the SELECT list's output names, which HAVING and ORDER
	// BY may use (as Spark allows) where no input column has the name.
	aliases map[string]expr.Expr
}

// expr translates an expression node.
func (p *planner) expr(n *pgNode, c *exprCtx) (expr.Expr, error) {
	if n == nil {
		return nil, p.errAt(-1, ErrInvalid, "missing expression")
	}
	switch x := n.GetNode().(type) {
	case *pg.Node_ColumnRef:
		col, err := p.resolveRef(x.ColumnRef, c.scope)
		if err != nil {
			if f := x.ColumnRef.Fields; len(f) == 1 && f[0].GetString_() != nil && c.aliases != nil {
				if e, ok := c.aliases[strings.ToLower(f[0].GetString_().GetSval())]; ok && e != nil {
					return e, nil
				}
			}
			return nil, err
		}
		return expr.Col(col.internal), nil
	case *pg.Node_AConst:
		return p.constant(x.AConst)
	case *pg.Node_TypeCast:
		return p.cast(x.TypeCast, c)
	case *pg.Node_AExpr:
		return p.aexpr(x.AExpr, c)
	case *pg.Node_BoolExpr:
		args := make([]expr.Expr, len(x.BoolExpr.Args))
		for i, a := range x.BoolExpr.Args {
			e, err := p.expr(a, c)
			if err != nil {
				return nil, err
			}
			args[i] = e
		}
		switch x.BoolExpr.Boolop {
		case pg.BoolExprType_AND_EXPR:
			return expr.AndAll(args...), nil
		case pg.BoolExprType_OR_EXPR:
			e := args[0]
			for _, a := range args[1:] {
				e = expr.Or(e, a)
			}
			return e, nil
		default:
			return expr.NewNot(args[0]), nil
		}
	case *pg.Node_NullTest:
		e, err := p.expr(x.NullTest.Arg, c)
		if err != nil {
			return nil, err
		}
		if x.NullTest.Nulltesttype == pg.NullTestType_IS_NOT_NULL {
			return expr.IsNotNull(e), nil
		}
		return expr.IsNull(e), nil
	case *pg.Node_BooleanTest:
		e, err := p.expr(x.BooleanTest.Arg, c)
		if err != nil {
			return nil, err
		}
		isTrue := expr.NewCoalesce(e, expr.Lit(false))
		isFalse := expr.NewCoalesce(expr.NewNot(e), expr.Lit(false))
		switch x.BooleanTest.Booltesttype {
		case pg.BoolTestType_IS_TRUE:
			return isTrue, nil
		case pg.BoolTestType_IS_NOT_TRUE:
			return expr.NewNot(isTrue), nil
		case pg.BoolTestType_IS_FALSE:
			return isFalse, nil
		case pg.BoolTestType_IS_NOT_FALSE:
			return expr.NewNot(isFalse), nil
		case pg.BoolTestType_IS_UNKNOWN:
			return expr.IsNull(e), nil
		default:
			return expr.IsNotNull(e), nil
		}
	case *pg.Node_FuncCall:
		return p.call(x.FuncCall, c)
	case *pg.Node_CaseExpr:
		return p.caseExpr(x.CaseExpr, c)
	case *pg.Node_CoalesceExpr:
		args, err := p.exprs(x.CoalesceExpr.Args, c)
		if err != nil {
			return nil, err
		}
		return expr.NewCoalesce(args...), nil
	case *pg.Node_SqlvalueFunction:
		switch x.SqlvalueFunction.Op {
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:
			return expr.CurrentTimestamp(), nil
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
			return expr.NewCast(expr.CurrentTimestamp(), arrow.FixedWidthTypes.Date32), nil
		}
		return nil, p.errAt(x.SqlvalueFunction.Location, ErrUnsupported, "%s is not supported", sqlValueName(x.SqlvalueFunction.Op))
	case *pg.Node_SubLink:
		return nil, p.errAt(x.SubLink.Location, ErrUnsupported, "subqueries are supported only as WHERE conditions [NOT] EXISTS (...) and x IN (SELECT ...), joined to the query with AND")
	case *pg.Node_ParamRef:
		return nil, p.errAt(x.ParamRef.Location, ErrUnsupported, "query parameters ($%d) are not supported", x.ParamRef.Number)
	case *pg.Node_MinMaxExpr:
		return nil, p.errAt(x.MinMaxExpr.Location, ErrUnsupported, "GREATEST and LEAST are not supported")
	case *pg.Node_AArrayExpr:
		return nil, p.errAt(x.AArrayExpr.Location, ErrUnsupported, "ARRAY[...] constructors are not supported")
	case *pg.Node_RowExpr:
		return nil, p.errAt(x.RowExpr.Location, ErrUnsupported, "row constructors are not supported")
	case *pg.Node_AIndirection:
		return nil, p.errAt(location(n), ErrUnsupported, "subscripts and field selection are not supported")
	case *pg.Node_CollateClause:
		return nil, p.errAt(x.CollateClause.Location, ErrUnsupported, "COLLATE is not supported")
	}
	return nil, p.errAt(location(n), ErrUnsupported, "expression %s is not supported", stmtKind(n))
}

func (p *planner) exprs(ns []*pgNode, c *exprCtx) ([]expr.Expr, error) {
	out := make([]expr.Expr, len(ns))
	for i, n := range ns {
		e, err := p.expr(n, c)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func sqlValueName(op pg.SQLValueFunctionOp) string {
	return strings.ToUpper(strings.TrimPrefix(op.String(), "SVFOP_"))
}

// constant translates a literal: integers are int64 (as Spark's bigint
// when they do not fit an int), decimals float64, strings, booleans, NULL.
func (p *planner) constant(c *pg.A_Const) (expr.Expr, error) {
	if c.Isnull {
		return expr.Lit(nil), nil
	}
	switch v := c.Val.(type) {
	case *pg.A_Const_Ival:
		return expr.Lit(int64(v.Ival.Ival)), nil
	case *pg.A_Const_Fval:
		s := v.Fval.Fval
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return expr.Lit(i), nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, p.errAt(c.Location, ErrInvalid, "number %s is out of range", s)
		}
		return expr.Lit(f), nil
	case *pg.A_Const_Sval:
		return expr.Lit(v.Sval.Sval), nil
	case *pg.A_Const_Boolval:
		return expr.Lit(v.Boolval.Boolval), nil
	case *pg.A_Const_Bsval:
		return nil, p.errAt(c.Location, ErrUnsupported, "bit-string constants are not supported")
	}
	return nil, p.errAt(c.Location, ErrUnsupported, "this constant is not supported")
}

// typeOf maps a SQL type name to an Arrow type (Spark's names and
// PostgreSQL's).
func (p *planner) typeOf(t *pg.TypeName) (arrow.DataType, error) {
	var parts []string
	for _, n := range t.Names {
		parts = append(parts, n.GetString_().GetSval())
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		parts = parts[1:]
	}
	name := strings.ToLower(strings.Join(parts, "."))
	if len(t.ArrayBounds) > 0 {
		return nil, p.errAt(t.Location, ErrUnsupported, "array types are not supported in CAST")
	}
	switch name {
	case "int4", "int", "integer":
		return arrow.PrimitiveTypes.Int32, nil
	case "int8", "bigint", "long":
		return arrow.PrimitiveTypes.Int64, nil
	case "int2", "smallint", "short":
		return arrow.PrimitiveTypes.Int16, nil
	case "tinyint", "byte":
		return arrow.PrimitiveTypes.Int8, nil
	case "float8", "double":
		return arrow.PrimitiveTypes.Float64, nil
	case "float4", "real":
		return arrow.PrimitiveTypes.Float32, nil
	case "text", "varchar", "bpchar", "char", "string":
		return arrow.BinaryTypes.String, nil
	case "bool", "boolean":
		return arrow.FixedWidthTypes.Boolean, nil
	case "timestamp", "timestamptz":
		return expr.TimestampType, nil
	case "date":
		return arrow.FixedWidthTypes.Date32, nil
	case "bytea", "binary":
		return arrow.BinaryTypes.Binary, nil
	}
	return nil, p.errAt(t.Location, ErrUnsupported, "type %s is not supported (types: bigint, int, smallint, tinyint, double, real/float4, string/text/varchar, boolean, timestamp, date, binary)", name)
}

func isIntervalType(t *pg.TypeName) bool {
	n := len(t.Names)
	return n > 0 && strings.EqualFold(t.Names[n-1].GetString_().GetSval(), "interval")
}

func (p *planner) cast(tc *pg.TypeCast, c *exprCtx) (expr.Expr, error) {
	if isIntervalType(tc.TypeName) {
		d, err := p.intervalOf(tc)
		if err != nil {
			return nil, err
		}
		return &intervalLit{d: d}, nil
	}
	e, err := p.expr(tc.Arg, c)
	if err != nil {
		return nil, err
	}
	dt, err := p.typeOf(tc.TypeName)
	if err != nil {
		return nil, err
	}
	return sparkCast(e, dt, c), nil
}

// sparkCast is CAST(e AS dt) as Spark SQL means it (numbers to timestamps
// are seconds since the epoch, timestamps to numbers seconds; see
// expr.SparkCast). Where e's type is known now, the cast is the
// expression it stands for (timestamp_seconds(e), unix_seconds(e), ...),
// so that plans show it; otherwise it is chosen when the plan is
// resolved.
func sparkCast(e expr.Expr, dt arrow.DataType, c *exprCtx) expr.Expr {
	if c != nil && c.scope != nil {
		if s := c.scope.types(); s != nil {
			if t, err := e.Resolve(s); err == nil {
				return expr.SparkCastFrom(e, t.DataType, dt)
			}
		}
	}
	return expr.SparkCast(e, dt)
}

// binaryOps maps PostgreSQL operator names to spate's.
var binaryOps = map[string]func(l, r expr.Expr) expr.Expr{
	"=": expr.Eq, "<>": expr.NotEq, "!=": expr.NotEq, "<": expr.Lt, "<=": expr.Le, ">": expr.Gt, ">=": expr.Ge,
	"+": expr.Add, "-": expr.Sub, "*": expr.Mul, "/": expr.Div, "%": expr.Mod,
	"||": func(l, r expr.Expr) expr.Expr { return expr.Concat(l, r) },
}

func opName(names []*pgNode) string {
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1].GetString_().GetSval()
}

func (p *planner) aexpr(a *pg.A_Expr, c *exprCtx) (expr.Expr, error) {
	op := opName(a.Name)
	at := a.Location
	switch a.Kind {
	case pg.A_Expr_Kind_AEXPR_OP:
		if a.Lexpr == nil { // prefix operator
			r, err := p.expr(a.Rexpr, c)
			if err != nil {
				return nil, err
			}
			switch op {
			case "-":
				if l, ok := r.(*expr.Literal); ok {
					switch v := l.Value.(type) {
					case int64:
						return expr.Lit(-v), nil
					case float64:
						return expr.Lit(-v), nil
					}
				}
				return expr.Sub(expr.Lit(int64(0)), r), nil
			case "+":
				return r, nil
			}
			return nil, p.errAt(at, ErrUnsupported, "prefix operator %s is not supported", op)
		}
		f, ok := binaryOps[op]
		if !ok {
			return nil, p.errAt(at, ErrUnsupported, "operator %s is not supported", op)
		}
		l, err := p.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		r, err := p.expr(a.Rexpr, c)
		if err != nil {
			return nil, err
		}
		// A timestamp plus or minus an INTERVAL constant (a time bound of
		// a stream-stream join, say).
		if iv, ok := r.(*intervalLit); ok && (op == "+" || op == "-") {
			if _, ok := l.(*intervalLit); !ok {
				d := iv.d
				if op == "-" {
					d = -d
				}
				return expr.TimestampAdd(l, d), nil
			}
		}
		if iv, ok := l.(*intervalLit); ok && op == "+" {
			if _, ok := r.(*intervalLit); !ok {
				return expr.TimestampAdd(r, iv.d), nil
			}
		}
		for _, side := range []expr.Expr{l, r} {
			if iv, ok := side.(*intervalLit); ok {
				return nil, p.errAt(at, ErrUnsupported, "arithmetic with INTERVAL %s is not supported (spate has no interval type): a timestamp plus or minus an INTERVAL constant is, and window functions take intervals", iv.d)
			}
		}
		return f(l, r), nil
	case pg.A_Expr_Kind_AEXPR_IN:
		l, err := p.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		items := a.Rexpr.GetList().GetItems()
		vals, err := p.exprs(items, c)
		if err != nil {
			return nil, err
		}
		in := expr.In(l, vals...)
		if op == "<>" {
			return expr.NewNot(in), nil
		}
		return in, nil
	case pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE:
		l, err := p.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		if fc := a.Rexpr.GetFuncCall(); fc != nil && funcName(fc) == "like_escape" {
			return nil, p.errAt(at, ErrUnsupported, "LIKE ... ESCAPE is not supported (\\ escapes)")
		}
		r, err := p.expr(a.Rexpr, c)
		if err != nil {
			return nil, err
		}
		pat, ok := constValue[string](r)
		if !ok {
			return nil, p.errAt(location(a.Rexpr), ErrUnsupported, "the pattern of LIKE must be a constant string")
		}
		var e expr.Expr
		if a.Kind == pg.A_Expr_Kind_AEXPR_ILIKE {
			e = expr.Like(expr.Lower(l), strings.ToLower(pat))
		} else {
			e = expr.Like(l, pat)
		}
		if strings.HasPrefix(op, "!") {
			e = expr.NewNot(e)
		}
		return e, nil
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		l, err := p.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		bounds, err := p.exprs(a.Rexpr.GetList().GetItems(), c)
		if err != nil {
			return nil, err
		}
		if len(bounds) != 2 {
			return nil, p.errAt(at, ErrSyntax, "BETWEEN takes two bounds")
		}
		e := expr.Between(l, bounds[0], bounds[1])
		if a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN {
			e = expr.NewNot(e)
		}
		return e, nil
	case pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, err := p.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		r, err := p.expr(a.Rexpr, c)
		if err != nil {
			return nil, err
		}
		// a IS NOT DISTINCT FROM b: equal, or both null; never null.
		same := expr.When(expr.And(expr.IsNull(l), expr.IsNull(r)), expr.Lit(true)).
			When(expr.Or(expr.IsNull(l), expr.IsNull(r)), expr.Lit(false)).
			Otherwise(expr.Eq(l, r))
		if a.Kind == pg.A_Expr_Kind_AEXPR_DISTINCT {
			return expr.NewNot(same), nil
		}
		return same, nil
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		l, err := p.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		r, err := p.expr(a.Rexpr, c)
		if err != nil {
			return nil, err
		}
		return expr.When(expr.Eq(l, r), expr.Lit(nil)).Otherwise(l), nil
	case pg.A_Expr_Kind_AEXPR_SIMILAR:
		return nil, p.errAt(at, ErrUnsupported, "SIMILAR TO is not supported; use LIKE or regexp_extract")
	case pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL:
		return nil, p.errAt(at, ErrUnsupported, "ANY/ALL over arrays is not supported; use IN (...)")
	}
	return nil, p.errAt(at, ErrUnsupported, "operator %s is not supported", op)
}

func (p *planner) caseExpr(ce *pg.CaseExpr, c *exprCtx) (expr.Expr, error) {
	var subject expr.Expr
	if ce.Arg != nil {
		var err error
		if subject, err = p.expr(ce.Arg, c); err != nil {
			return nil, err
		}
	}
	var cw *expr.CaseWhen
	for _, w := range ce.Args {
		when := w.GetCaseWhen()
		cond, err := p.expr(when.Expr, c)
		if err != nil {
			return nil, err
		}
		if subject != nil {
			cond = expr.Eq(subject, cond)
		}
		val, err := p.expr(when.Result, c)
		if err != nil {
			return nil, err
		}
		if cw == nil {
			cw = expr.When(cond, val)
		} else {
			cw = cw.When(cond, val)
		}
	}
	if ce.Defresult != nil {
		d, err := p.expr(ce.Defresult, c)
		if err != nil {
			return nil, err
		}
		cw = cw.Otherwise(d)
	}
	return cw, nil
}

// constValue returns the value of a constant expression of Go type T
// (folding casts and arithmetic of constants).
func constValue[T any](e expr.Expr) (T, bool) {
	var zero T
	l, ok := e.(*expr.Literal)
	if !ok {
		var err error
		l, ok, err = expr.FoldConstant(e)
		if err != nil || !ok {
			return zero, false
		}
	}
	v, ok := l.Value.(T)
	return v, ok
}

// intervalLit is an INTERVAL constant. spate has no interval type yet, so
// it is only accepted where a duration is expected (window functions);
// anywhere else it fails to resolve with a message saying so.
type intervalLit struct {
	d time.Duration
}

func (i *intervalLit) Resolve(*arrow.Schema) (expr.Type, error) {
	return expr.Type{}, fmt.Errorf("%w: INTERVAL %s: interval values are supported only as arguments of window functions (no interval arithmetic yet)", ErrUnsupported, i.d)
}

func (i *intervalLit) Eval(*expr.EvalContext, arrow.RecordBatch) (arrow.Array, error) {
	return nil, fmt.Errorf("%w: INTERVAL %s cannot be evaluated", ErrUnsupported, i.d)
}

func (i *intervalLit) String() string                              { return "INTERVAL '" + i.d.String() + "'" }
func (i *intervalLit) Children() []expr.Expr                       { return nil }
func (i *intervalLit) WithChildren([]expr.Expr) (expr.Expr, error) { return i, nil }
