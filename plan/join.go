package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
)

// JoinType is the kind of a join.
type JoinType int

// The join types.
const (
	InnerJoin JoinType = iota
	LeftOuterJoin
	RightOuterJoin
	FullOuterJoin
	LeftSemiJoin
	LeftAntiJoin
)

var joinNames = map[string]JoinType{
	"inner": InnerJoin, "cross": InnerJoin,
	"left": LeftOuterJoin, "leftouter": LeftOuterJoin, "left_outer": LeftOuterJoin,
	"right": RightOuterJoin, "rightouter": RightOuterJoin, "right_outer": RightOuterJoin,
	"full": FullOuterJoin, "outer": FullOuterJoin, "fullouter": FullOuterJoin, "full_outer": FullOuterJoin,
	"left_semi": LeftSemiJoin, "leftsemi": LeftSemiJoin, "semi": LeftSemiJoin,
	"left_anti": LeftAntiJoin, "leftanti": LeftAntiJoin, "anti": LeftAntiJoin,
}

// ParseJoinType maps Spark's join type names ("inner", "left",
// "left_outer", "right", "full", "outer", "left_semi", "left_anti", ...)
// to a JoinType.
func ParseJoinType(s string) (JoinType, error) {
	if t, ok := joinNames[strings.ToLower(s)]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("%w: unknown join type %q; use inner, left, right, full, left_semi or left_anti", ErrPlan, s)
}

// String implements Node.
func (t JoinType) String() string {
	switch t {
	case InnerJoin:
		return "Inner"
	case LeftOuterJoin:
		return "LeftOuter"
	case RightOuterJoin:
		return "RightOuter"
	case FullOuterJoin:
		return "FullOuter"
	case LeftSemiJoin:
		return "LeftSemi"
	case LeftAntiJoin:
		return "LeftAnti"
	}
	return fmt.Sprintf("JoinType(%d)", int(t))
}

// Join combines rows of Left and Right whose keys are equal
// (LeftKeys[i] = RightKeys[i] for all i) and for which the residual
// Condition, when set, is true. The output has Left's columns then
// Right's (only Left's for semi and anti joins).
type Join struct {
	Left, Right         Node
	Type                JoinType
	LeftKeys, RightKeys []expr.Expr
	Condition           expr.Expr
	schema              *arrow.Schema
}

// NewJoin returns a join of left and right on cond. The conjuncts of cond
// that equate an expression over left columns with one over right columns
// become the join keys; the rest is the residual condition. Without such
// an equality the join compares every pair of rows (a nested loop join);
// a nil cond is a cross join.
func NewJoin(left, right Node, jt JoinType, cond expr.Expr) (*Join, error) {
	if left == nil || right == nil {
		return nil, wrap("Join", errors.New("nil input"))
	}
	if cond == nil {
		return NewEquiJoin(left, right, jt, nil, nil, nil) // a cross join
	}
	ls, rs := left.Schema(), right.Schema()
	side := func(e expr.Expr) int { // 1 left, 2 right, 0 neither/both
		cols := expr.Columns(e)
		if len(cols) == 0 {
			return 0
		}
		inL, inR := true, true
		for _, c := range cols {
			inL = inL && expr.Resolves(c, ls)
			inR = inR && expr.Resolves(c, rs)
		}
		switch {
		case inL && !inR:
			return 1
		case inR && !inL:
			return 2
		}
		return 0
	}
	var lk, rk, rest []expr.Expr
	for _, c := range expr.Conjuncts(cond) {
		if b, ok := c.(*expr.Binary); ok && b.Op == expr.OpEq {
			switch ls, rs := side(b.Left), side(b.Right); {
			case ls == 1 && rs == 2:
				lk, rk = append(lk, b.Left), append(rk, b.Right)
				continue
			case ls == 2 && rs == 1:
				lk, rk = append(lk, b.Right), append(rk, b.Left)
				continue
			}
		}
		rest = append(rest, c)
	}
	return NewEquiJoin(left, right, jt, lk, rk, expr.AndAll(rest...))
}

// NewEquiJoin returns a join on explicit key lists and an optional
// residual condition.
func NewEquiJoin(left, right Node, jt JoinType, leftKeys, rightKeys []expr.Expr, residual expr.Expr) (*Join, error) {
	if left == nil || right == nil {
		return nil, wrap("Join", errors.New("nil input"))
	}
	if len(leftKeys) != len(rightKeys) {
		return nil, wrap("Join", fmt.Errorf("%d left keys but %d right keys", len(leftKeys), len(rightKeys)))
	}
	ls, rs := left.Schema(), right.Schema()
	for i := range leftKeys {
		lt, err := leftKeys[i].Resolve(ls)
		if err != nil {
			return nil, wrap("Join", fmt.Errorf("left key: %w", err))
		}
		rt, err := rightKeys[i].Resolve(rs)
		if err != nil {
			return nil, wrap("Join", fmt.Errorf("right key: %w", err))
		}
		if _, ok := expr.CompareType(lt.DataType, rt.DataType); !ok {
			return nil, wrap("Join", fmt.Errorf("%w: cannot join %s (%s) with %s (%s)", expr.ErrType, leftKeys[i], lt.DataType, rightKeys[i], rt.DataType))
		}
	}
	j := &Join{Left: left, Right: right, Type: jt, LeftKeys: leftKeys, RightKeys: rightKeys, Condition: residual}
	j.schema = j.outputSchema()
	if residual != nil {
		t, err := residual.Resolve(j.combinedSchema())
		if err != nil {
			return nil, wrap("Join", err)
		}
		if t.DataType.ID() != arrow.BOOL {
			return nil, wrap("Join", fmt.Errorf("%w: join condition %s is %s, not boolean", expr.ErrType, residual, t.DataType))
		}
	}
	return j, nil
}

func nullable(fs []arrow.Field, on bool) []arrow.Field {
	out := slices.Clone(fs)
	if on {
		for i := range out {
			out[i].Nullable = true
		}
	}
	return out
}

// combinedSchema is left's columns then right's, as the residual
// condition sees them.
func (j *Join) combinedSchema() *arrow.Schema {
	return arrow.NewSchema(append(slices.Clone(j.Left.Schema().Fields()), j.Right.Schema().Fields()...), nil)
}

func (j *Join) outputSchema() *arrow.Schema {
	lf, rf := j.Left.Schema().Fields(), j.Right.Schema().Fields()
	switch j.Type {
	case LeftSemiJoin, LeftAntiJoin:
		return arrow.NewSchema(slices.Clone(lf), nil)
	}
	l := nullable(lf, j.Type == RightOuterJoin || j.Type == FullOuterJoin)
	r := nullable(rf, j.Type == LeftOuterJoin || j.Type == FullOuterJoin)
	return arrow.NewSchema(append(l, r...), nil)
}

// CombinedSchema is the schema the residual condition is evaluated over:
// all left columns, then all right columns.
func (j *Join) CombinedSchema() *arrow.Schema { return j.combinedSchema() }

// Schema implements Node.
func (j *Join) Schema() *arrow.Schema { return j.schema }

// Children implements Node.
func (j *Join) Children() []Node { return []Node{j.Left, j.Right} }

// WithChildren implements Node.
func (j *Join) WithChildren(c []Node) (Node, error) {
	if len(c) != 2 {
		return nil, wrap("Join", errors.New("needs two children"))
	}
	return NewEquiJoin(c[0], c[1], j.Type, j.LeftKeys, j.RightKeys, j.Condition)
}

// String implements Node.
func (j *Join) String() string {
	keys := make([]string, len(j.LeftKeys))
	for i := range keys {
		keys[i] = fmt.Sprintf("%s = %s", j.LeftKeys[i], j.RightKeys[i])
	}
	out := fmt.Sprintf("Join %s, [%s]", j.Type, strings.Join(keys, ", "))
	if len(keys) == 0 {
		out = fmt.Sprintf("Join %s", j.Type)
		if j.Condition == nil {
			out = "Join Cross"
		}
	}
	if j.Condition != nil {
		out += ", " + j.Condition.String()
	}
	return out
}
