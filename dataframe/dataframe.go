package dataframe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/streaming"
)

// DataFrame is a query: a logical plan plus the session that runs it.
// Transformations return new DataFrames and run nothing; actions
// (Collect, Count, Show, Write().Save, ...) optimize the plan, plan it
// physically and run it on the engine. A transformation given a bad
// argument (an unknown column, mismatched types) returns a DataFrame that
// carries the error, names the column and lists the available ones; Err
// returns it and so does every action. DataFrames are immutable and safe
// for concurrent use.
type DataFrame struct {
	s    *Session
	plan plan.Node
	err  error
}

// Err returns the error made while building the DataFrame, if any.
func (df *DataFrame) Err() error {
	if df == nil {
		return errors.New("dataframe: nil DataFrame")
	}
	return df.err
}

// Plan returns the DataFrame's logical plan (nil when Err is not nil).
func (df *DataFrame) Plan() plan.Node { return df.plan }

// Session returns the session the DataFrame belongs to.
func (df *DataFrame) Session() *Session { return df.s }

// Schema returns the DataFrame's schema (nil when Err is not nil).
func (df *DataFrame) Schema() *arrow.Schema {
	if df.Err() != nil {
		return nil
	}
	return df.plan.Schema()
}

// Columns returns the column names.
func (df *DataFrame) Columns() []string {
	s := df.Schema()
	if s == nil {
		return nil
	}
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

func (df *DataFrame) derive(op string, f func(p plan.Node) (plan.Node, error)) *DataFrame {
	if df == nil {
		return &DataFrame{err: fmt.Errorf("dataframe.%s: nil DataFrame", op)}
	}
	if df.err != nil {
		return df
	}
	n, err := f(df.plan)
	if err != nil {
		return &DataFrame{s: df.s, err: fmt.Errorf("dataframe.%s: %w", op, err)}
	}
	return &DataFrame{s: df.s, plan: n}
}

// Select returns the given columns (expressions) of df.
func (df *DataFrame) Select(cols ...Column) *DataFrame {
	return df.derive("Select", func(p plan.Node) (plan.Node, error) {
		if err := firstErr(cols...); err != nil {
			return nil, err
		}
		return plan.NewProject(p, exprsOf(cols))
	})
}

// Where keeps the rows for which cond is true.
func (df *DataFrame) Where(cond Column) *DataFrame {
	return df.derive("Where", func(p plan.Node) (plan.Node, error) {
		if err := cond.Err(); err != nil {
			return nil, err
		}
		return plan.NewFilter(p, cond.e)
	})
}

// Filter is Where.
func (df *DataFrame) Filter(cond Column) *DataFrame { return df.Where(cond) }

// allColumns returns references to every column, qualified where a
// name alone would be ambiguous.
func (df *DataFrame) allColumns() []expr.Expr {
	s := df.plan.Schema()
	var out []expr.Expr
	for _, f := range s.Fields() {
		name := f.Name
		if q := expr.Qualifier(f); q != "" && len(s.FieldIndices(name)) > 1 {
			name = q + "." + name
		}
		out = append(out, expr.Col(name))
	}
	return out
}

// Alias names df, so that its columns can be referred to as
// Col("name.column"), as in a self-join:
//
//	a, b := people.Alias("a"), people.Alias("b")
//	a.Join(b, Col("a.manager").EqualTo(Col("b.id")), "inner").Select(Col("a.name"), Col("b.name").As("manager"))
func (df *DataFrame) Alias(name string) *DataFrame {
	return df.derive("Alias", func(p plan.Node) (plan.Node, error) { return plan.NewSubqueryAlias(p, name) })
}

// WithColumn adds a column called name, or replaces the column of that
// name.
func (df *DataFrame) WithColumn(name string, c Column) *DataFrame {
	return df.derive("WithColumn", func(p plan.Node) (plan.Node, error) {
		if err := c.Err(); err != nil {
			return nil, err
		}
		exprs := df.allColumns()
		replaced := false
		for i := range exprs {
			if p.Schema().Field(i).Name == name {
				exprs[i] = expr.As(c.e, name)
				replaced = true
			}
		}
		if !replaced {
			exprs = append(exprs, expr.As(c.e, name))
		}
		return plan.NewProject(p, exprs)
	})
}

// WithColumnRenamed renames column existing to name; without such a
// column it returns df unchanged (as Spark).
func (df *DataFrame) WithColumnRenamed(existing, name string) *DataFrame {
	return df.derive("WithColumnRenamed", func(p plan.Node) (plan.Node, error) {
		if len(p.Schema().FieldIndices(existing)) == 0 {
			return p, nil
		}
		exprs := df.allColumns()
		for i, e := range exprs {
			if p.Schema().Field(i).Name == existing {
				exprs[i] = expr.As(e, name)
			}
		}
		return plan.NewProject(p, exprs)
	})
}

// Drop removes the named columns; names of no column are ignored.
func (df *DataFrame) Drop(names ...string) *DataFrame {
	return df.derive("Drop", func(p plan.Node) (plan.Node, error) {
		var exprs []expr.Expr
		for i, e := range df.allColumns() {
			f := p.Schema().Field(i)
			drop := false
			for _, n := range names {
				drop = drop || expr.Refers(n, f)
			}
			if !drop {
				exprs = append(exprs, e)
			}
		}
		if len(exprs) == len(df.allColumns()) {
			return p, nil
		}
		return plan.NewProject(p, exprs)
	})
}

// OrderBy sorts by the given columns (ascending, unless a column is made
// with Desc or DescNullsFirst).
func (df *DataFrame) OrderBy(cols ...Column) *DataFrame {
	return df.derive("OrderBy", func(p plan.Node) (plan.Node, error) {
		if err := firstErr(cols...); err != nil {
			return nil, err
		}
		orders := make([]plan.SortOrder, len(cols))
		for i, c := range cols {
			o := plan.SortOrder{Expr: c.e, NullsFirst: true}
			if c.order != nil {
				o.Desc, o.NullsFirst = c.order.desc, c.order.nullsFirst
			}
			orders[i] = o
		}
		return plan.NewSort(p, orders)
	})
}

// Sort is OrderBy.
func (df *DataFrame) Sort(cols ...Column) *DataFrame { return df.OrderBy(cols...) }

// Limit keeps the first n rows.
func (df *DataFrame) Limit(n int) *DataFrame {
	return df.derive("Limit", func(p plan.Node) (plan.Node, error) { return plan.NewLimit(p, int64(n)) })
}

// Union appends other's rows (by column position, as Spark's union: no
// deduplication).
func (df *DataFrame) Union(other *DataFrame) *DataFrame {
	return df.derive("Union", func(p plan.Node) (plan.Node, error) {
		if err := other.Err(); err != nil {
			return nil, err
		}
		return plan.NewUnion(p, other.plan)
	})
}

// Intersect returns the distinct rows that are in both df and other
// (SQL's INTERSECT; columns matched by position, as Union, with the
// names of df). Unlike a join key, a null equals a null here: a row
// (1, null) in both is in the result.
func (df *DataFrame) Intersect(other *DataFrame) *DataFrame {
	return df.setOp("Intersect", other, plan.SetIntersect, false)
}

// IntersectAll is Intersect keeping duplicates: a row n times in df and m
// times in other appears min(n, m) times (SQL's INTERSECT ALL).
func (df *DataFrame) IntersectAll(other *DataFrame) *DataFrame {
	return df.setOp("IntersectAll", other, plan.SetIntersect, true)
}

// Except returns the distinct rows of df that are not in other (SQL's
// EXCEPT, Spark's except and subtract; columns matched by position, nulls
// equal to nulls, as for Intersect).
func (df *DataFrame) Except(other *DataFrame) *DataFrame {
	return df.setOp("Except", other, plan.SetExcept, false)
}

// ExceptAll is Except keeping duplicates: a row n times in df and m times
// in other appears max(0, n-m) times (SQL's EXCEPT ALL).
func (df *DataFrame) ExceptAll(other *DataFrame) *DataFrame {
	return df.setOp("ExceptAll", other, plan.SetExcept, true)
}

func (df *DataFrame) setOp(name string, other *DataFrame, kind plan.SetOpKind, all bool) *DataFrame {
	return df.derive(name, func(p plan.Node) (plan.Node, error) {
		if err := other.Err(); err != nil {
			return nil, err
		}
		return plan.NewSetOp(p, other.plan, kind, all)
	})
}

// Distinct removes duplicate rows.
func (df *DataFrame) Distinct() *DataFrame {
	return df.derive("Distinct", func(p plan.Node) (plan.Node, error) { return plan.NewDeduplicate(p, nil) })
}

// DropDuplicates keeps one row per distinct value of cols (per distinct
// row when none are given).
func (df *DataFrame) DropDuplicates(cols ...string) *DataFrame {
	return df.derive("DropDuplicates", func(p plan.Node) (plan.Node, error) { return plan.NewDeduplicate(p, cols) })
}

// DropDuplicatesWithinWatermark keeps one row per distinct value of cols
// (per distinct row when none are given) on a stream with a watermark
// (Spark's dropDuplicatesWithinWatermark): a key is remembered until the
// watermark passes its first row's event time plus the watermark's
// delay, so duplicates arriving within that delay are dropped even when
// their event times differ (the event time need not be a key, unlike
// DropDuplicates' eviction). A streaming query without WithWatermark
// below it fails at Start. On a batch DataFrame it is DropDuplicates.
func (df *DataFrame) DropDuplicatesWithinWatermark(cols ...string) *DataFrame {
	return df.derive("DropDuplicatesWithinWatermark", func(p plan.Node) (plan.Node, error) {
		return plan.NewDeduplicateWithinWatermark(p, cols)
	})
}

// Join joins df with right on a condition: the equalities between a
// column of df and a column of right are the join keys (a hash join), the
// rest of the condition (ANDed) is checked on matching pairs. A condition
// without such an equality compares every pair of rows (a nested loop
// join, broadcast when the right side is small). how is inner, left,
// right, full (outer), left_semi or left_anti. Columns of the same name on
// both sides are ambiguous in the condition: name the sides with Alias
// and refer to Col("alias.column"), rename one side, or use JoinUsing.
func (df *DataFrame) Join(right *DataFrame, on Column, how string) *DataFrame {
	return df.derive("Join", func(p plan.Node) (plan.Node, error) {
		if err := right.Err(); err != nil {
			return nil, err
		}
		if err := on.Err(); err != nil {
			return nil, err
		}
		jt, err := plan.ParseJoinType(how)
		if err != nil {
			return nil, err
		}
		return plan.NewJoin(p, right.plan, jt, on.e)
	})
}

// CrossJoin pairs every row of df with every row of right.
func (df *DataFrame) CrossJoin(right *DataFrame) *DataFrame {
	return df.derive("CrossJoin", func(p plan.Node) (plan.Node, error) {
		if err := right.Err(); err != nil {
			return nil, err
		}
		return plan.NewJoin(p, right.plan, plan.InnerJoin, nil)
	})
}

// JoinUsing joins on equal values of the named columns, which both sides
// have; the output has each of them once (first), then df's other
// columns, then right's.
func (df *DataFrame) JoinUsing(right *DataFrame, cols []string, how string) *DataFrame {
	return df.derive("JoinUsing", func(p plan.Node) (plan.Node, error) {
		if err := right.Err(); err != nil {
			return nil, err
		}
		jt, err := plan.ParseJoinType(how)
		if err != nil {
			return nil, err
		}
		if len(cols) == 0 {
			return nil, errors.New("JoinUsing needs at least one column")
		}
		rs := right.plan.Schema()
		var rexprs []expr.Expr
		hidden := func(c string) string { return "__right_" + c }
		for _, f := range rs.Fields() {
			if slices.Contains(cols, f.Name) {
				rexprs = append(rexprs, expr.As(expr.Col(f.Name), hidden(f.Name)))
			} else {
				rexprs = append(rexprs, expr.Col(f.Name))
			}
		}
		for _, c := range cols {
			if _, err := expr.FieldIndex(p.Schema(), c); err != nil {
				return nil, fmt.Errorf("left side: %w", err)
			}
			if _, err := expr.FieldIndex(rs, c); err != nil {
				return nil, fmt.Errorf("right side: %w", err)
			}
		}
		rp, err := plan.NewProject(right.plan, rexprs)
		if err != nil {
			return nil, err
		}
		var lk, rk []expr.Expr
		for _, c := range cols {
			lk, rk = append(lk, expr.Col(c)), append(rk, expr.Col(hidden(c)))
		}
		j, err := plan.NewEquiJoin(p, rp, jt, lk, rk, nil)
		if err != nil {
			return nil, err
		}
		var out []expr.Expr
		for _, c := range cols {
			switch jt {
			case plan.RightOuterJoin:
				out = append(out, expr.As(expr.Col(hidden(c)), c))
			case plan.FullOuterJoin:
				out = append(out, expr.As(expr.NewCoalesce(expr.Col(c), expr.Col(hidden(c))), c))
			default:
				out = append(out, expr.Col(c))
			}
		}
		for _, f := range p.Schema().Fields() {
			if !slices.Contains(cols, f.Name) {
				out = append(out, expr.Col(f.Name))
			}
		}
		if jt != plan.LeftSemiJoin && jt != plan.LeftAntiJoin {
			for _, f := range rs.Fields() {
				if !slices.Contains(cols, f.Name) {
					out = append(out, expr.Col(f.Name))
				}
			}
		}
		return plan.NewProject(j, out)
	})
}

// GroupedData is a DataFrame grouped by key columns, waiting for its
// aggregates.
type GroupedData struct {
	df     *DataFrame
	groups []Column
}

// GroupBy groups df by the given columns (expressions).
func (df *DataFrame) GroupBy(cols ...Column) *GroupedData { return &GroupedData{df: df, groups: cols} }

// Agg computes the aggregates per group: the output has the grouping
// columns, then one column per aggregate (Sum, Count, Avg, ...).
func (g *GroupedData) Agg(aggs ...Column) *DataFrame {
	return g.df.derive("Agg", func(p plan.Node) (plan.Node, error) {
		if err := firstErr(g.groups...); err != nil {
			return nil, err
		}
		if err := firstErr(aggs...); err != nil {
			return nil, err
		}
		if len(aggs) == 0 {
			return nil, errors.New("Agg needs at least one aggregate (Count, Sum, Avg, ...)")
		}
		in, groups, err := windowInput(p, g.groups)
		if err != nil {
			return nil, err
		}
		return plan.NewAggregate(in, groups, exprsOf(aggs))
	})
}

// Count counts the rows of each group, in a column called count.
func (g *GroupedData) Count() *DataFrame { return g.Agg(CountAll().As("count")) }

func (g *GroupedData) each(f func(Column) Column, cols []string) *DataFrame {
	aggs := make([]Column, len(cols))
	for i, c := range cols {
		aggs[i] = f(Col(c))
	}
	return g.Agg(aggs...)
}

// Sum sums the named columns per group.
func (g *GroupedData) Sum(cols ...string) *DataFrame { return g.each(Sum, cols) }

// Avg averages the named columns per group.
func (g *GroupedData) Avg(cols ...string) *DataFrame { return g.each(Avg, cols) }

// Min takes the smallest value of the named columns per group.
func (g *GroupedData) Min(cols ...string) *DataFrame { return g.each(Min, cols) }

// Max takes the largest value of the named columns per group.
func (g *GroupedData) Max(cols ...string) *DataFrame { return g.each(Max, cols) }

// Agg aggregates the whole DataFrame (one group).
func (df *DataFrame) Agg(aggs ...Column) *DataFrame { return df.GroupBy().Agg(aggs...) }

// CreateOrReplaceTempView registers df in its session under name
// (case-insensitive), for Session.Table.
func (df *DataFrame) CreateOrReplaceTempView(name string) error {
	if err := df.Err(); err != nil {
		return err
	}
	if name == "" {
		return errors.New("dataframe: CreateOrReplaceTempView needs a name")
	}
	df.s.mu.Lock()
	defer df.s.mu.Unlock()
	df.s.views[strings.ToLower(name)] = df.plan
	return nil
}

// ---- execution ----

// optimized returns the optimized plan, RDD sources materialised when
// run is set.
func (df *DataFrame) optimized(ctx context.Context, run bool) (plan.Node, error) {
	if err := df.Err(); err != nil {
		return nil, err
	}
	p := df.plan
	if run {
		var err error
		if p, err = materialize(ctx, df.s, p); err != nil {
			return nil, err
		}
	}
	return df.s.opt.Optimize(p)
}

// collectBatches runs the DataFrame and returns its batches; the caller
// releases them.
func (df *DataFrame) collectBatches(ctx context.Context, action string) ([]arrow.RecordBatch, error) {
	p, err := df.optimized(ctx, true)
	if err != nil {
		return nil, err
	}
	c, err := exec.NewContext(df.s.ec, df.s.cfg.alloc, df.s.cfg.clock.Now(), df.s.cfg.exec)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	op, err := exec.Plan(c, p)
	if err != nil {
		return nil, err
	}
	bs, err := c.Collect(ctx, op, action)
	if err != nil {
		return nil, fmt.Errorf("dataframe.%s: %w", action, err)
	}
	return bs, nil
}

// Count returns the number of rows.
func (df *DataFrame) Count(ctx context.Context) (int64, error) {
	agg := df.Agg(CountAll().As("count"))
	bs, err := agg.collectBatches(ctx, "Count")
	if err != nil {
		return 0, err
	}
	defer releaseAll(bs)
	var n int64
	for _, b := range bs {
		for i := range int(b.NumRows()) {
			n += expr.Values[int64](b.Column(0))[i]
		}
	}
	return n, nil
}

func releaseAll(bs []arrow.RecordBatch) {
	for _, b := range bs {
		b.Release()
	}
}

// Explain returns the logical plan, the optimized plan and the physical
// plan as text. It runs nothing (RDD sources show as scans).
func (df *DataFrame) Explain() (string, error) {
	if err := df.Err(); err != nil {
		return "", err
	}
	opt, err := df.optimized(context.Background(), false)
	if err != nil {
		return "", err
	}
	c, err := exec.NewContext(df.s.ec, df.s.cfg.alloc, df.s.cfg.clock.Now(), df.s.cfg.exec)
	if err != nil {
		return "", err
	}
	defer c.Close()
	phys := opt
	if streaming.IsStreaming(opt) {
		if phys, err = streaming.WithoutWatermarks(opt); err != nil {
			return "", err
		}
	}
	op, err := exec.Plan(c, phys)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString("== Analyzed Logical Plan ==\n")
	sb.WriteString(plan.Explain(df.plan))
	sb.WriteString("\n== Optimized Logical Plan ==\n")
	sb.WriteString(plan.Explain(opt))
	sb.WriteString("\n== Physical Plan ==\n")
	sb.WriteString(exec.Explain(op))
	return sb.String(), nil
}

// PrintSchema prints the schema as a tree to standard output.
func (df *DataFrame) PrintSchema() error { return df.PrintSchemaTo(os.Stdout) }

// PrintSchemaTo writes the schema as a tree (Spark's printSchema format).
func (df *DataFrame) PrintSchemaTo(w io.Writer) error {
	if err := df.Err(); err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("root\n")
	for _, f := range df.plan.Schema().Fields() {
		writeField(&sb, " |", f.Name, f.Type, f.Nullable, "nullable")
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func writeField(sb *strings.Builder, prefix, name string, dt arrow.DataType, nullable bool, word string) {
	fmt.Fprintf(sb, "%s-- %s: %s (%s = %t)\n", prefix, name, TypeName(dt), word, nullable)
	switch t := dt.(type) {
	case *arrow.ListType:
		writeField(sb, prefix+"    |", "element", t.Elem(), t.ElemField().Nullable, "containsNull")
	case *arrow.StructType:
		for _, f := range t.Fields() {
			writeField(sb, prefix+"    |", f.Name, f.Type, f.Nullable, "nullable")
		}
	}
}

// TypeName returns Spark's name of an Arrow type (long, integer, double,
// string, boolean, timestamp, date, array, struct, ...).
func TypeName(dt arrow.DataType) string {
	switch dt.ID() {
	case arrow.INT64, arrow.UINT64, arrow.UINT32:
		return "long"
	case arrow.INT32, arrow.UINT16:
		return "integer"
	case arrow.INT16, arrow.UINT8:
		return "short"
	case arrow.INT8:
		return "byte"
	case arrow.FLOAT64:
		return "double"
	case arrow.FLOAT32:
		return "float"
	case arrow.STRING, arrow.LARGE_STRING:
		return "string"
	case arrow.BOOL:
		return "boolean"
	case arrow.TIMESTAMP:
		return "timestamp"
	case arrow.DATE32, arrow.DATE64:
		return "date"
	case arrow.BINARY, arrow.LARGE_BINARY:
		return "binary"
	case arrow.LIST:
		return "array"
	case arrow.STRUCT:
		return "struct"
	case arrow.NULL:
		return "void"
	}
	return dt.String()
}

// ForeachBatch runs the query and calls f with each output record batch,
// from the task computing its partition (so concurrently for different
// partitions). The batch is valid during the call only; copy what you
// keep. It is the cheapest action: nothing is converted to rows.
func (df *DataFrame) ForeachBatch(ctx context.Context, f func(ctx context.Context, part int, b arrow.RecordBatch) error) error {
	if f == nil {
		return errors.New("dataframe.ForeachBatch: nil function")
	}
	p, err := df.optimized(ctx, true)
	if err != nil {
		return err
	}
	c, err := exec.NewContext(df.s.ec, df.s.cfg.alloc, df.s.cfg.clock.Now(), df.s.cfg.exec)
	if err != nil {
		return err
	}
	defer c.Close()
	op, err := exec.Plan(c, p)
	if err != nil {
		return err
	}
	if err := c.Run(ctx, op, "ForeachBatch", f); err != nil {
		return fmt.Errorf("dataframe.ForeachBatch: %w", err)
	}
	return nil
}

// Broadcast marks df as small enough to copy to every task: a Join with
// df as its right side is a broadcast join (no shuffle of the left side)
// whatever the size estimates say. Spark's broadcast() hint.
func Broadcast(df *DataFrame) *DataFrame {
	return df.derive("Broadcast", func(p plan.Node) (plan.Node, error) { return plan.NewBroadcastHint(p) })
}
