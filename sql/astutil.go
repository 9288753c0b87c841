package sql

import (
	"math"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// walkLocations calls f with every "location" field of m's tree.
func walkLocations(m proto.Message, f func(int32)) {
	if m == nil {
		return
	}
	var visit func(protoreflect.Message)
	visit = func(r protoreflect.Message) {
		r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					visit(l.Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				visit(v.Message())
			case fd.Name() == "location" && fd.Kind() == protoreflect.Int32Kind:
				if loc := int32(v.Int()); loc >= 0 {
					f(loc)
				}
			}
			return true
		})
	}
	visit(m.ProtoReflect())
}

// minMaxLocation returns the smallest and largest location in m's tree
// (-1, -1 when none).
func minMaxLocation(m proto.Message) (int32, int32) {
	lo, hi := int32(math.MaxInt32), int32(-1)
	walkLocations(m, func(l int32) {
		lo, hi = min(lo, l), max(hi, l)
	})
	if hi < 0 {
		return -1, -1
	}
	return lo, hi
}

// firstLocation returns the first location in a statement (-1 if none).
func firstLocation(s *pg.SelectStmt) int32 {
	if s == nil {
		return -1
	}
	lo, _ := minMaxLocation(s)
	return lo
}

// firstLocationOf returns the first location in a node's tree.
func firstLocationOf(n *pgNode) int32 {
	if n == nil {
		return -1
	}
	lo, _ := minMaxLocation(n)
	return lo
}

// location returns the place of an expression node: its own location
// field when it has one, else the first one below it.
func location(n *pgNode) int32 {
	if n == nil {
		return -1
	}
	switch x := n.GetNode().(type) {
	case *pg.Node_ColumnRef:
		return x.ColumnRef.Location
	case *pg.Node_AConst:
		return x.AConst.Location
	case *pg.Node_FuncCall:
		return x.FuncCall.Location
	case *pg.Node_TypeCast:
		if l := firstLocationOf(x.TypeCast.Arg); l >= 0 && l < x.TypeCast.Location {
			return l
		}
		return x.TypeCast.Location
	case *pg.Node_AExpr:
		if l := firstLocationOf(n); l >= 0 {
			return l
		}
		return x.AExpr.Location
	}
	return firstLocationOf(n)
}

// conjunctNodes splits a WHERE clause into its AND-ed parts.
func conjunctNodes(n *pgNode) []*pgNode {
	if n == nil {
		return nil
	}
	if b := n.GetBoolExpr(); b != nil && b.Boolop == pg.BoolExprType_AND_EXPR {
		var out []*pgNode
		for _, a := range b.Args {
			out = append(out, conjunctNodes(a)...)
		}
		return out
	}
	return []*pgNode{n}
}

// containsSubLink reports whether n's tree holds a subquery.
func containsSubLink(n *pgNode) bool {
	found := false
	var visit func(protoreflect.Message)
	visit = func(r protoreflect.Message) {
		if found {
			return
		}
		if _, ok := r.Interface().(*pg.SubLink); ok {
			found = true
			return
		}
		r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					visit(l.Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				visit(v.Message())
			}
			return !found
		})
	}
	if n != nil {
		visit(n.ProtoReflect())
	}
	return found
}

// subqueryPredicate is a WHERE conjunct [NOT] EXISTS (...) or
// x [NOT] IN (SELECT ...).
type subqueryPredicate struct {
	link *pg.SubLink
	not  bool
}

func asSubqueryPredicate(n *pgNode) (subqueryPredicate, bool) {
	not := false
	if b := n.GetBoolExpr(); b != nil && b.Boolop == pg.BoolExprType_NOT_EXPR && len(b.Args) == 1 {
		n, not = b.Args[0], true
	}
	sl := n.GetSubLink()
	if sl == nil {
		return subqueryPredicate{}, false
	}
	switch sl.SubLinkType {
	case pg.SubLinkType_EXISTS_SUBLINK:
		return subqueryPredicate{link: sl, not: not}, true
	case pg.SubLinkType_ANY_SUBLINK:
		op := "="
		if len(sl.OperName) > 0 {
			op = sl.OperName[0].GetString_().GetSval()
		}
		if op == "=" {
			return subqueryPredicate{link: sl, not: not}, true
		}
	}
	return subqueryPredicate{}, false
}

// intConst returns the value of an integer constant node.
func intConst(n *pgNode) (int64, bool) {
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return 0, false
	}
	switch v := c.Val.(type) {
	case *pg.A_Const_Ival:
		return int64(v.Ival.Ival), true
	case *pg.A_Const_Fval:
		i, err := strconv.ParseInt(v.Fval.Fval, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func isStar(cr *pg.ColumnRef) bool {
	return len(cr.Fields) > 0 && cr.Fields[len(cr.Fields)-1].GetAStar() != nil
}

// funcName returns a call's function name in lower case, without
// PostgreSQL's pg_catalog prefix (which its grammar adds for SQL-syntax
// functions such as SUBSTRING and TRIM).
func funcName(fc *pg.FuncCall) string {
	var parts []string
	for _, n := range fc.Funcname {
		parts = append(parts, n.GetString_().GetSval())
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		parts = parts[1:]
	}
	name := strings.Join(parts, ".")
	if name == windowPlaceholder[1:len(windowPlaceholder)-1] {
		return "window"
	}
	return strings.ToLower(name)
}
