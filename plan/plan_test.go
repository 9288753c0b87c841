package plan

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/expr"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/")

// fakeSource is a table source that accepts comparisons with literals as
// pushed filters.
type fakeSource struct {
	name   string
	schema *arrow.Schema
}

func (f *fakeSource) Schema() *arrow.Schema { return f.schema }
func (f *fakeSource) String() string        { return f.name }
func (f *fakeSource) NumPartitions() int    { return 1 }
func (f *fakeSource) Read(context.Context, memory.Allocator, int, []string, []expr.Expr, func(arrow.RecordBatch) error) error {
	return nil
}
func (f *fakeSource) SupportsFilter(e expr.Expr) bool {
	b, ok := e.(*expr.Binary)
	if !ok || !b.Op.IsComparison() {
		return false
	}
	_, l := b.Left.(*expr.Column)
	_, r := b.Right.(*expr.Literal)
	return l && r
}

func field(name string, dt arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: dt, Nullable: true}
}

// mustFor returns a function that fails t on an error and returns the
// node.
func mustFor(t *testing.T) func(Node, error) Node {
	return func(n Node, err error) Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

func tables(t *testing.T) (users, events Node) {
	must := mustFor(t)
	u := &fakeSource{"users", arrow.NewSchema([]arrow.Field{
		field("id", arrow.PrimitiveTypes.Int64), field("name", arrow.BinaryTypes.String),
		field("country", arrow.BinaryTypes.String), field("age", arrow.PrimitiveTypes.Int64),
	}, nil)}
	e := &fakeSource{"events", arrow.NewSchema([]arrow.Field{
		field("user_id", arrow.PrimitiveTypes.Int64), field("kind", arrow.BinaryTypes.String),
		field("value", arrow.PrimitiveTypes.Float64), field("ts", expr.TimestampType),
	}, nil)}
	return must(NewScan(u, nil, nil)), must(NewScan(e, nil, nil))
}

func cases(t *testing.T) map[string]Node {
	must := mustFor(t)
	users, events := tables(t)
	c := expr.Col
	l := expr.Lit
	adults := must(NewFilter(users, expr.Ge(c("age"), expr.Add(l(10), l(8)))))
	twice := must(NewFilter(must(NewFilter(events, expr.Gt(c("value"), l(1.5)))), expr.Eq(c("kind"), l("click"))))
	proj := must(NewProject(users, []expr.Expr{c("id"), expr.As(expr.Upper(c("name")), "upper_name"), expr.As(expr.Mul(c("age"), l(2)), "age2")}))
	overProj := must(NewFilter(proj, expr.And(expr.Gt(c("age2"), l(40)), expr.Like(c("upper_name"), "A%"))))
	join := must(NewJoin(users, events, InnerJoin, expr.And(expr.Eq(c("id"), c("user_id")), expr.Gt(c("value"), l(0)))))
	overJoin := must(NewProject(must(NewFilter(join, expr.And(expr.Eq(c("country"), l("FR")), expr.Eq(c("kind"), l("buy"))))),
		[]expr.Expr{c("name"), c("value")}))
	left := must(NewJoin(users, events, LeftOuterJoin, expr.And(expr.Eq(c("id"), c("user_id")), expr.Eq(c("kind"), l("buy")))))
	overLeft := must(NewFilter(left, expr.And(expr.Eq(c("country"), l("FR")), expr.IsNull(c("kind")))))
	agg := must(NewAggregate(events, []expr.Expr{c("kind")}, []expr.Expr{expr.As(expr.Sum(c("value")), "total")}))
	overAgg := must(NewFilter(agg, expr.And(expr.NotEq(c("kind"), l("view")), expr.Gt(c("total"), l(100)))))
	union := must(NewUnion(must(NewProject(users, []expr.Expr{c("id")})), must(NewProject(events, []expr.Expr{c("user_id")}))))
	overUnion := must(NewFilter(union, expr.Gt(c("id"), l(5))))
	// Pruning keeps every column below a set operation (rows compare
	// whole); the filter goes into both sides, renamed by position.
	except := must(NewSetOp(must(NewProject(users, []expr.Expr{c("id"), c("name")})),
		must(NewProject(events, []expr.Expr{c("user_id"), c("kind")})), SetExcept, true))
	overExcept := must(NewProject(must(NewFilter(except, expr.Gt(c("id"), l(5)))), []expr.Expr{c("id")}))
	folded := must(NewProject(users, []expr.Expr{expr.As(expr.Concat(l("a"), l("b")), "ab"), expr.As(expr.And(l(true), expr.Gt(c("age"), l(1))), "x")}))
	sorted := must(NewLimit(must(NewSort(must(NewFilter(users, expr.Lt(c("age"), l(30)))), []SortOrder{{Expr: c("name")}})), 10))
	collapse := must(NewProject(proj, []expr.Expr{expr.As(expr.Add(c("age2"), l(1)), "age3")}))
	return map[string]Node{
		"constant_folding":     adults,
		"combine_filters":      twice,
		"pushdown_project":     overProj,
		"pushdown_join":        overJoin,
		"pushdown_left_join":   overLeft,
		"pushdown_aggregate":   overAgg,
		"pushdown_union":       overUnion,
		"pushdown_except_all":  overExcept,
		"fold_and_simplify":    folded,
		"sort_limit_prune":     sorted,
		"collapse_project":     collapse,
		"join_condition_split": join,
		"nested_loop_join":     must(NewJoin(users, events, LeftOuterJoin, expr.And(expr.Gt(c("id"), c("user_id")), expr.Eq(c("kind"), l("x"))))),
	}
}

func TestOptimizerGolden(t *testing.T) {
	cs := cases(t)
	path := filepath.Join("testdata", "optimize.txt")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	sc := bufio.NewScanner(f)
	var name string
	var want strings.Builder
	inOut := false
	check := func() {
		n, ok := cs[name]
		if !ok {
			t.Fatalf("unknown case %q", name)
		}
		opt, err := NewOptimizer().Optimize(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := Analyze(opt); err != nil {
			t.Errorf("%s: optimized plan does not analyse: %v", name, err)
		}
		got := Explain(n) + "=>\n" + Explain(opt)
		out.WriteString(name + "\n----\n" + got + "====\n\n")
		if !*rewrite && got != want.String() {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", name, got, want.String())
		}
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case name == "" && (line == "" || strings.HasPrefix(line, "#")):
		case name == "":
			name = line
		case !inOut:
			inOut = true
			want.Reset()
		case line == "====":
			check()
			name, inOut = "", false
		default:
			want.WriteString(line + "\n")
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAnalyzerErrors(t *testing.T) {
	must := mustFor(t)
	users, events := tables(t)
	c := expr.Col
	tests := []struct {
		name string
		make func() (Node, error)
		msg  string
	}{
		{"unknown column", func() (Node, error) { return NewFilter(users, expr.Gt(c("agee"), expr.Lit(1))) },
			`column "agee" not found; available columns: id, name, country, age`},
		{"filter not boolean", func() (Node, error) { return NewFilter(users, c("age")) }, "not boolean"},
		{"aggregate in project", func() (Node, error) { return NewProject(users, []expr.Expr{expr.Sum(c("age"))}) }, "use GroupBy"},
		{"non-aggregate in aggregate", func() (Node, error) {
			return NewAggregate(users, []expr.Expr{c("country")}, []expr.Expr{c("age")})
		}, "is not an aggregate function"},
		{"join condition not boolean", func() (Node, error) { return NewJoin(users, events, InnerJoin, expr.Add(c("id"), c("user_id"))) },
			"not boolean"},
		{"join key types", func() (Node, error) { return NewJoin(users, events, InnerJoin, expr.Eq(c("name"), c("value"))) }, "cannot join"},
		{"union arity", func() (Node, error) { return NewUnion(users, must(NewProject(events, []expr.Expr{c("kind")}))) }, "has 1 columns"},
		{"union types", func() (Node, error) { return NewUnion(users, events) }, "cast one of them"},
		{"intersect arity", func() (Node, error) {
			return NewSetOp(users, must(NewProject(events, []expr.Expr{c("kind")})), SetIntersect, false)
		}, "Intersect: the right input has 1 columns, the left has 4"},
		{"except types", func() (Node, error) { return NewSetOp(users, events, SetExcept, true) },
			"Except: expr: type mismatch: column 3 (country; value in the right input) is float64 in the right input but utf8 in the left; cast one of them"},
		{"dedup key", func() (Node, error) { return NewDeduplicate(users, []string{"nope"}) }, `column "nope" not found`},
		{"negative limit", func() (Node, error) { return NewLimit(users, -1) }, "at least 0"},
		{"bad join type", func() (Node, error) { _, err := ParseJoinType("sideways"); return nil, err }, "left_semi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.make()
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrPlan) {
				t.Errorf("%v does not wrap ErrPlan", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%q does not contain %q", err, tc.msg)
			}
		})
	}
}

func TestRulesAsValues(t *testing.T) {
	must := mustFor(t)
	users, _ := tables(t)
	n := must(NewFilter(must(NewFilter(users, expr.Gt(expr.Col("age"), expr.Lit(1)))), expr.Lt(expr.Col("age"), expr.Lit(9))))
	o := &Optimizer{Rules: []Rule{CombineFilters}}
	out, err := o.Optimize(n)
	if err != nil {
		t.Fatal(err)
	}
	if got := Explain(out); got != "Filter ((age > 1) AND (age < 9))\n+- Scan users [id, name, country, age]\n" {
		t.Errorf("got\n%s", got)
	}
	fail := NewRule("Fail", func(Node) (Node, error) { return nil, errors.New("boom") })
	if _, err := (&Optimizer{Rules: []Rule{fail}}).Optimize(n); err == nil || !strings.Contains(err.Error(), "Fail: boom") {
		t.Errorf("got %v", err)
	}
}
