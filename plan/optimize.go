package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/expr"
)

// Rule is one rewrite of a logical plan. Apply returns an equivalent plan
// (n itself when nothing applies). Rules are values: an Optimizer runs a
// list of them, and callers may add, drop or reorder rules.
type Rule interface {
	Name() string
	Apply(n Node) (Node, error)
}

type ruleFunc struct {
	name string
	f    func(Node) (Node, error)
}

func (r ruleFunc) Name() string               { return r.name }
func (r ruleFunc) Apply(n Node) (Node, error) { return r.f(n) }

// NewRule makes a Rule from a function.
func NewRule(name string, f func(Node) (Node, error)) Rule { return ruleFunc{name, f} }

// The built-in rules.
var (
	// ConstantFolding replaces expressions without column references by
	// their value and simplifies AND/OR with constant sides.
	ConstantFolding = NewRule("ConstantFolding", foldConstants)
	// CombineFilters merges adjacent filters into one.
	CombineFilters = NewRule("CombineFilters", combineFilters)
	// PushDownPredicates moves filters below projections, sorts, unions,
	// joins and aggregations where the result stays the same, and hands
	// predicates to scans whose source can use them.
	PushDownPredicates = NewRule("PushDownPredicates", pushDown)
	// CollapseProject merges a projection into the projection below it.
	CollapseProject = NewRule("CollapseProject", collapseProjects)
	// PushDownJoinConditions moves the parts of a join's residual
	// condition that refer to one side only into a filter on that side,
	// where the join type allows.
	PushDownJoinConditions = NewRule("PushDownJoinConditions", pushDownJoinConditions)
	// PruneColumns makes scans read only the columns the query uses and
	// drops unused projected columns.
	PruneColumns = NewRule("PruneColumns", func(n Node) (Node, error) { return prune(n, nil) })
)

// DefaultRules returns the rules an Optimizer runs by default, in order.
func DefaultRules() []Rule {
	return []Rule{ConstantFolding, CombineFilters, PushDownPredicates, PushDownJoinConditions, CollapseProject, PruneColumns}
}

// Optimizer rewrites logical plans with its Rules, repeating the list
// until the plan stops changing (at most MaxIterations times).
type Optimizer struct {
	Rules         []Rule
	MaxIterations int
}

// NewOptimizer returns an optimizer with the default rules.
func NewOptimizer() *Optimizer { return &Optimizer{Rules: DefaultRules(), MaxIterations: 10} }

// Optimize returns the optimized plan.
func (o *Optimizer) Optimize(n Node) (Node, error) {
	iters := o.MaxIterations
	if iters < 1 {
		iters = 1
	}
	prev := Explain(n)
	for range iters {
		for _, r := range o.Rules {
			out, err := r.Apply(n)
			if err != nil {
				return nil, fmt.Errorf("plan: optimizer rule %s: %w", r.Name(), err)
			}
			n = out
		}
		cur := Explain(n)
		if cur == prev {
			break
		}
		prev = cur
	}
	return n, nil
}

// TransformUp rewrites n bottom-up: f sees each node after its children
// were rewritten.
func TransformUp(n Node, f func(Node) (Node, error)) (Node, error) {
	kids := n.Children()
	if len(kids) > 0 {
		nk := make([]Node, len(kids))
		changed := false
		for i, k := range kids {
			c, err := TransformUp(k, f)
			if err != nil {
				return nil, err
			}
			nk[i] = c
			changed = changed || c != k
		}
		if changed {
			var err error
			if n, err = n.WithChildren(nk); err != nil {
				return nil, err
			}
		}
	}
	return f(n)
}

// mapExprs rewrites the expressions of one node.
func mapExprs(n Node, f func(expr.Expr) (expr.Expr, error)) (Node, error) {
	all := func(es []expr.Expr) ([]expr.Expr, error) {
		out := make([]expr.Expr, len(es))
		for i, e := range es {
			x, err := f(e)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	switch n := n.(type) {
	case *Project:
		es, err := all(n.Exprs)
		if err != nil {
			return nil, err
		}
		return NewProject(n.Child, es)
	case *Filter:
		c, err := f(n.Cond)
		if err != nil {
			return nil, err
		}
		return NewFilter(n.Child, c)
	case *Aggregate:
		gs, err := all(n.Groups)
		if err != nil {
			return nil, err
		}
		as, err := all(n.Aggs)
		if err != nil {
			return nil, err
		}
		return NewAggregate(n.Child, gs, as)
	case *Join:
		if n.Condition == nil {
			return n, nil
		}
		c, err := f(n.Condition)
		if err != nil {
			return nil, err
		}
		return NewEquiJoin(n.Left, n.Right, n.Type, n.LeftKeys, n.RightKeys, c)
	}
	return n, nil
}

func foldExpr(e expr.Expr) (expr.Expr, error) {
	return expr.Transform(e, func(x expr.Expr) (expr.Expr, error) {
		switch x.(type) {
		case *expr.Literal, *expr.Column, *expr.Alias, *expr.AggExpr:
			return x, nil
		}
		if l, ok := x.(*expr.Logical); ok {
			if s, ok := simplifyLogical(l); ok {
				return s, nil
			}
		}
		lit, ok, err := expr.FoldConstant(x)
		if err != nil || !ok {
			return x, nil // errors surface when the query runs
		}
		return lit, nil
	})
}

func boolLit(e expr.Expr) (v, ok bool) {
	l, isLit := e.(*expr.Literal)
	if !isLit {
		return false, false
	}
	b, isBool := l.Value.(bool)
	return b, isBool
}

// simplifyLogical applies true AND x = x, false AND x = false, true OR x
// = true, false OR x = x.
func simplifyLogical(l *expr.Logical) (expr.Expr, bool) {
	for _, pair := range [][2]expr.Expr{{l.Left, l.Right}, {l.Right, l.Left}} {
		v, ok := boolLit(pair[0])
		if !ok {
			continue
		}
		switch {
		case !l.Or && v, l.Or && !v:
			return pair[1], true
		case !l.Or && !v:
			return expr.Lit(false), true
		default:
			return expr.Lit(true), true
		}
	}
	return nil, false
}

func foldConstants(n Node) (Node, error) {
	return TransformUp(n, func(n Node) (Node, error) {
		out, err := mapExprs(n, foldExpr)
		if err != nil {
			return nil, err
		}
		if f, ok := out.(*Filter); ok {
			if v, ok := boolLit(f.Cond); ok && v {
				return f.Child, nil
			}
		}
		return out, nil
	})
}

func combineFilters(n Node) (Node, error) {
	return TransformUp(n, func(n Node) (Node, error) {
		f, ok := n.(*Filter)
		if !ok {
			return n, nil
		}
		inner, ok := f.Child.(*Filter)
		if !ok {
			return n, nil
		}
		return NewFilter(inner.Child, expr.And(inner.Cond, f.Cond))
	})
}

// subsetOf reports whether every column reference of cols names a
// column of s.
func subsetOf(cols []string, s *arrow.Schema) bool {
	for _, c := range cols {
		if !expr.Resolves(c, s) {
			return false
		}
	}
	return true
}

// definitions maps the output columns of a projection to the expressions
// computing them.
type definitions struct {
	fields []arrow.Field
	exprs  []expr.Expr
}

func defsOf(p *Project) (definitions, bool) {
	d := definitions{fields: p.Schema().Fields()}
	for _, e := range p.Exprs {
		if !expr.IsDeterministic(e) {
			return d, false
		}
		d.exprs = append(d.exprs, expr.Unalias(e))
	}
	return d, true
}

// substitute replaces the column references of e by their definitions.
func (d definitions) substitute(e expr.Expr) (expr.Expr, error) {
	return expr.Transform(e, func(x expr.Expr) (expr.Expr, error) {
		if col, ok := x.(*expr.Column); ok {
			for i, f := range d.fields {
				if expr.Refers(col.Name, f) {
					return d.exprs[i], nil
				}
			}
		}
		return x, nil
	})
}

func hasQualifiers(s *arrow.Schema) bool {
	for _, f := range s.Fields() {
		if expr.Qualifier(f) != "" {
			return true
		}
	}
	return false
}

// byPosition rewrites the column references of cond, made over first's
// columns (the output of a union or set operation), into references to
// the columns of in at the same positions.
func byPosition(cond expr.Expr, first, in Node) (expr.Expr, error) {
	firstNames, inNames := names(first.Schema()), names(in.Schema())
	return expr.Transform(cond, func(x expr.Expr) (expr.Expr, error) {
		if col, ok := x.(*expr.Column); ok {
			if j := slices.Index(firstNames, col.Name); j >= 0 {
				return expr.Col(inNames[j]), nil
			}
		}
		return x, nil
	})
}

// filterOver puts the conjuncts preds (if any) as a filter over n.
func filterOver(n Node, preds []expr.Expr) (Node, error) {
	if len(preds) == 0 {
		return n, nil
	}
	return NewFilter(n, expr.AndAll(preds...))
}

func pushDown(n Node) (Node, error) {
	return TransformUp(n, func(n Node) (Node, error) {
		f, ok := n.(*Filter)
		if !ok || !expr.IsDeterministic(f.Cond) {
			return n, nil
		}
		switch c := f.Child.(type) {
		case *Project:
			// Substitute the projection's definitions into the condition.
			defs, ok := defsOf(c)
			if !ok {
				return n, nil
			}
			cond, err := defs.substitute(f.Cond)
			if err != nil {
				return nil, err
			}
			below, err := NewFilter(c.Child, cond)
			if err != nil {
				return n, nil // not expressible below: leave it
			}
			return NewProject(below, c.Exprs)
		case *SubqueryAlias:
			cond, err := expr.Transform(f.Cond, func(x expr.Expr) (expr.Expr, error) {
				if col, ok := x.(*expr.Column); ok {
					return expr.Col(c.unqualify(col.Name)), nil
				}
				return x, nil
			})
			if err != nil {
				return nil, err
			}
			below, err := NewFilter(c.Child, cond)
			if err != nil {
				return n, nil
			}
			return NewSubqueryAlias(below, c.Name)
		case *BroadcastHint:
			below, err := NewFilter(c.Child, f.Cond)
			if err != nil {
				return n, nil
			}
			return NewBroadcastHint(below)
		case *Sort:
			below, err := NewFilter(c.Child, f.Cond)
			if err != nil {
				return n, nil
			}
			return NewSort(below, c.Orders)
		case *Union:
			ins := make([]Node, len(c.Inputs))
			for i, in := range c.Inputs {
				cond, err := byPosition(f.Cond, c.Inputs[0], in)
				if err != nil {
					return nil, err
				}
				if ins[i], err = NewFilter(in, cond); err != nil {
					return n, nil
				}
			}
			return NewUnion(ins...)
		case *SetOp:
			// A row passes the filter on both sides or on neither, so
			// filtering both inputs keeps the counts the operation
			// compares for every row that passes.
			ins := make([]Node, 2)
			for i, in := range c.Children() {
				cond, err := byPosition(f.Cond, c.Left, in)
				if err != nil {
					return nil, err
				}
				if ins[i], err = NewFilter(in, cond); err != nil {
					return n, nil
				}
			}
			return NewSetOp(ins[0], ins[1], c.Kind, c.All)
		case *Join:
			var left, right, keep []expr.Expr
			ls, rs := c.Left.Schema(), c.Right.Schema()
			for _, p := range expr.Conjuncts(f.Cond) {
				cols := expr.Columns(p)
				inL, inR := subsetOf(cols, ls) && len(cols) > 0, subsetOf(cols, rs) && len(cols) > 0
				switch {
				case inL && !inR && c.Type != RightOuterJoin && c.Type != FullOuterJoin:
					left = append(left, p)
				case inR && !inL && (c.Type == InnerJoin || c.Type == RightOuterJoin):
					right = append(right, p)
				default:
					keep = append(keep, p)
				}
			}
			if len(left) == 0 && len(right) == 0 {
				return n, nil
			}
			l, err := filterOver(c.Left, left)
			if err != nil {
				return nil, err
			}
			r, err := filterOver(c.Right, right)
			if err != nil {
				return nil, err
			}
			j, err := NewEquiJoin(l, r, c.Type, c.LeftKeys, c.RightKeys, c.Condition)
			if err != nil {
				return nil, err
			}
			return filterOver(j, keep)
		case *Aggregate:
			var groupCols []arrow.Field
			for i, g := range c.Groups {
				if _, ok := g.(*expr.Column); ok {
					groupCols = append(groupCols, c.Schema().Field(i))
				}
			}
			var below, keep []expr.Expr
			for _, p := range expr.Conjuncts(f.Cond) {
				if cols := expr.Columns(p); len(cols) > 0 && subsetOf(cols, arrow.NewSchema(groupCols, nil)) {
					below = append(below, p)
				} else {
					keep = append(keep, p)
				}
			}
			if len(below) == 0 {
				return n, nil
			}
			in, err := filterOver(c.Child, below)
			if err != nil {
				return nil, err
			}
			a, err := NewAggregate(in, c.Groups, c.Aggs)
			if err != nil {
				return nil, err
			}
			return filterOver(a, keep)
		case *Deduplicate:
			if len(c.Keys) > 0 {
				return n, nil
			}
			in, err := NewFilter(c.Child, f.Cond)
			if err != nil {
				return n, nil
			}
			return c.WithChildren([]Node{in})
		case *Scan:
			fs, ok := c.Source.(FilterSupport)
			if !ok {
				return n, nil
			}
			pushed := slices.Clone(c.Filters)
			have := map[string]bool{}
			for _, p := range pushed {
				have[p.String()] = true
			}
			added := false
			for _, p := range expr.Conjuncts(f.Cond) {
				if !have[p.String()] && fs.SupportsFilter(p) {
					pushed = append(pushed, p)
					have[p.String()] = true
					added = true
				}
			}
			if !added {
				return n, nil
			}
			s, err := NewScan(c.Source, c.Columns, pushed)
			if err != nil {
				return nil, err
			}
			return NewFilter(s, f.Cond)
		}
		return n, nil
	})
}

// union adds the names of b missing from a; nil stands for "all" and
// absorbs.
func union(a []string, b ...string) []string {
	if a == nil {
		return nil
	}
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func exprCols(es ...expr.Expr) []string {
	out := []string{}
	for _, e := range es {
		if e != nil {
			out = union(out, expr.Columns(e)...)
		}
	}
	return out
}

// only returns the references of cols that name a column of s.
func only(cols []string, s *arrow.Schema) []string {
	out := []string{}
	for _, c := range cols {
		if expr.Resolves(c, s) {
			out = append(out, c)
		}
	}
	return out
}

// wanted reports whether a reference of req names f.
func wanted(req []string, f arrow.Field) bool {
	for _, r := range req {
		if expr.Refers(r, f) {
			return true
		}
	}
	return false
}

// prune rewrites n so that it produces at least the columns req (all
// when req is nil) while reading as few as possible.
func prune(n Node, req []string) (Node, error) {
	switch n := n.(type) {
	case *Scan:
		if req == nil {
			return n, nil
		}
		var cols []string
		for _, f := range n.Schema().Fields() {
			if wanted(req, f) {
				cols = append(cols, f.Name)
			}
		}
		if len(cols) == 0 {
			cols = names(n.Schema())[:min(1, n.Schema().NumFields())]
		}
		if len(cols) == n.Schema().NumFields() {
			return n, nil
		}
		return NewScan(n.Source, cols, n.Filters)
	case *Project:
		exprs := n.Exprs
		if req != nil {
			var kept []expr.Expr
			for i, e := range exprs {
				if wanted(req, n.Schema().Field(i)) {
					kept = append(kept, e)
				}
			}
			if len(kept) > 0 {
				exprs = kept
			}
		}
		child, err := prune(n.Child, exprCols(exprs...))
		if err != nil {
			return nil, err
		}
		// A projection that returns its input as it is goes away.
		if sameColumns(exprs, child) {
			return child, nil
		}
		return NewProject(child, exprs)
	case *Filter:
		child, err := prune(n.Child, union(req, expr.Columns(n.Cond)...))
		if err != nil {
			return nil, err
		}
		return NewFilter(child, n.Cond)
	case *Sort:
		es := make([]expr.Expr, len(n.Orders))
		for i, o := range n.Orders {
			es[i] = o.Expr
		}
		child, err := prune(n.Child, union(req, exprCols(es...)...))
		if err != nil {
			return nil, err
		}
		return NewSort(child, n.Orders)
	case *Limit:
		child, err := prune(n.Child, req)
		if err != nil {
			return nil, err
		}
		return NewLimit(child, n.N)
	case *Aggregate:
		child, err := prune(n.Child, exprCols(append(slices.Clone(n.Groups), n.Aggs...)...))
		if err != nil {
			return nil, err
		}
		return NewAggregate(child, n.Groups, n.Aggs)
	case *Join:
		if req == nil {
			l, err := prune(n.Left, nil)
			if err != nil {
				return nil, err
			}
			r, err := prune(n.Right, nil)
			if err != nil {
				return nil, err
			}
			return NewEquiJoin(l, r, n.Type, n.LeftKeys, n.RightKeys, n.Condition)
		}
		ls, rs := n.Left.Schema(), n.Right.Schema()
		need := union(req, exprCols(n.Condition)...)
		lreq := union(only(need, ls), exprCols(n.LeftKeys...)...)
		rreq := union(only(need, rs), exprCols(n.RightKeys...)...)
		if n.Type == LeftSemiJoin || n.Type == LeftAntiJoin {
			rreq = union(only(exprCols(n.Condition), rs), exprCols(n.RightKeys...)...)
		}
		l, err := prune(n.Left, lreq)
		if err != nil {
			return nil, err
		}
		r, err := prune(n.Right, rreq)
		if err != nil {
			return nil, err
		}
		return NewEquiJoin(l, r, n.Type, n.LeftKeys, n.RightKeys, n.Condition)
	case *BroadcastHint:
		child, err := prune(n.Child, req)
		if err != nil {
			return nil, err
		}
		return NewBroadcastHint(child)
	case *SubqueryAlias:
		var creq []string
		if req != nil {
			creq = []string{}
			for _, r := range req {
				creq = union(creq, n.unqualify(r))
			}
		}
		child, err := prune(n.Child, creq)
		if err != nil {
			return nil, err
		}
		return NewSubqueryAlias(child, n.Name)
	case *Deduplicate:
		var creq []string
		if len(n.Keys) > 0 && req != nil {
			creq = union(req, n.Keys...)
		}
		child, err := prune(n.Child, creq)
		if err != nil {
			return nil, err
		}
		return n.WithChildren([]Node{child})
	case *MergeSessions:
		var creq []string
		if req != nil {
			creq = union(union(req, n.Keys...), n.Start, n.End)
		}
		child, err := prune(n.Child, creq)
		if err != nil {
			return nil, err
		}
		return NewMergeSessions(child, n.Keys, n.Start, n.End)
	}
	kids := n.Children()
	if len(kids) == 0 {
		return n, nil
	}
	nk := make([]Node, len(kids))
	for i, k := range kids {
		c, err := prune(k, nil)
		if err != nil {
			return nil, err
		}
		nk[i] = c
	}
	return n.WithChildren(nk)
}

// sameColumns reports whether exprs are exactly child's columns, in order.
func sameColumns(exprs []expr.Expr, child Node) bool {
	s := child.Schema()
	if len(exprs) != s.NumFields() {
		return false
	}
	for i, e := range exprs {
		c, ok := e.(*expr.Column)
		if !ok || c.Name != s.Field(i).Name {
			return false
		}
	}
	return true
}

// Explain renders a plan as an indented tree, one node per line.
func Explain(n Node) string {
	var sb strings.Builder
	explainTo(&sb, n, "", "")
	return sb.String()
}

func explainTo(sb *strings.Builder, n Node, lead, cont string) {
	sb.WriteString(lead)
	sb.WriteString(n.String())
	sb.WriteByte('\n')
	kids := n.Children()
	for i, k := range kids {
		if i == len(kids)-1 {
			explainTo(sb, k, cont+"+- ", cont+"   ")
		} else {
			explainTo(sb, k, cont+":- ", cont+":  ")
		}
	}
}

// Analyze checks a whole plan again (every node was analysed when made;
// this catches trees assembled by hand through WithChildren of foreign
// nodes) and returns the first error.
func Analyze(n Node) error {
	_, err := TransformUp(n, func(n Node) (Node, error) {
		if len(n.Children()) == 0 {
			return n, nil
		}
		return n.WithChildren(n.Children())
	})
	return err
}

func collapseProjects(n Node) (Node, error) {
	return TransformUp(n, func(n Node) (Node, error) {
		outer, ok := n.(*Project)
		if !ok {
			return n, nil
		}
		inner, ok := outer.Child.(*Project)
		if !ok {
			return n, nil
		}
		if hasQualifiers(inner.Schema()) || hasQualifiers(outer.Schema()) {
			return n, nil // merging would lose which alias a column came from
		}
		defs, ok := defsOf(inner)
		if !ok {
			return n, nil
		}
		exprs := make([]expr.Expr, len(outer.Exprs))
		for i, e := range outer.Exprs {
			name := outer.Schema().Field(i).Name
			x, err := defs.substitute(e)
			if err != nil {
				return nil, err
			}
			if expr.Name(x) != name {
				x = expr.As(expr.Unalias(x), name)
			}
			exprs[i] = x
		}
		out, err := NewProject(inner.Child, exprs)
		if err != nil {
			return n, nil
		}
		return out, nil
	})
}

func pushDownJoinConditions(n Node) (Node, error) {
	return TransformUp(n, func(n Node) (Node, error) {
		j, ok := n.(*Join)
		if !ok || j.Condition == nil || !expr.IsDeterministic(j.Condition) {
			return n, nil
		}
		ls, rs := j.Left.Schema(), j.Right.Schema()
		toLeft := j.Type == InnerJoin || j.Type == RightOuterJoin
		toRight := j.Type == InnerJoin || j.Type == LeftOuterJoin || j.Type == LeftSemiJoin || j.Type == LeftAntiJoin
		var left, right, keep []expr.Expr
		for _, p := range expr.Conjuncts(j.Condition) {
			cols := expr.Columns(p)
			inL := len(cols) > 0 && subsetOf(cols, ls) && !anyIn(cols, rs)
			inR := len(cols) > 0 && subsetOf(cols, rs) && !anyIn(cols, ls)
			switch {
			case inL && toLeft:
				left = append(left, p)
			case inR && toRight:
				right = append(right, p)
			default:
				keep = append(keep, p)
			}
		}
		if len(left) == 0 && len(right) == 0 {
			return n, nil
		}
		l, err := filterOver(j.Left, left)
		if err != nil {
			return nil, err
		}
		r, err := filterOver(j.Right, right)
		if err != nil {
			return nil, err
		}
		return NewEquiJoin(l, r, j.Type, j.LeftKeys, j.RightKeys, expr.AndAll(keep...))
	})
}

// anyIn reports whether a reference of cols names a column of s.
func anyIn(cols []string, s *arrow.Schema) bool {
	for _, c := range cols {
		if expr.Resolves(c, s) {
			return true
		}
	}
	return false
}
