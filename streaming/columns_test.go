package streaming_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/streaming"
)

// columnRecorder is a MemoryStream that builds only the columns it is
// asked for (a streaming.ColumnReadingSource) and records them.
type columnRecorder struct {
	*streaming.MemoryStream
	mu    sync.Mutex
	asked [][]string
	rows  *int64 // rows emitted, when set
}

func (c *columnRecorder) ReadColumns(ctx context.Context, r connector.OffsetRange, columns []string, emit func([]arrow.RecordBatch) error) (int64, error) {
	c.mu.Lock()
	c.asked = append(c.asked, slices.Clone(columns))
	c.mu.Unlock()
	return 0, readProjected(ctx, c.MemoryStream, r, columns, func(b arrow.RecordBatch) {
		c.mu.Lock()
		if c.rows != nil {
			*c.rows += b.NumRows()
		}
		c.mu.Unlock()
	}, emit)
}

// readProjected reads r from m, calls seen with each batch and emits it
// with just columns (all when nil).
func readProjected(ctx context.Context, m *streaming.MemoryStream, r connector.OffsetRange, columns []string, seen func(arrow.RecordBatch), emit func([]arrow.RecordBatch) error) error {
	return m.Read(ctx, r, func(bs []arrow.RecordBatch) error {
		out := make([]arrow.RecordBatch, len(bs))
		for i, b := range bs {
			seen(b)
			if columns == nil {
				out[i] = b
				continue
			}
			var fields []arrow.Field
			var cols []arrow.Array
			for _, name := range columns {
				j := b.Schema().FieldIndices(name)[0]
				fields = append(fields, b.Schema().Field(j))
				cols = append(cols, b.Column(j))
			}
			out[i] = array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, b.NumRows())
			b.Release()
		}
		return emit(out)
	})
}

// Read counts the rows it emits, when counting.
func (c *columnRecorder) Read(ctx context.Context, r connector.OffsetRange, emit func([]arrow.RecordBatch) error) error {
	return c.MemoryStream.Read(ctx, r, func(bs []arrow.RecordBatch) error {
		c.mu.Lock()
		for _, b := range bs {
			if c.rows != nil {
				*c.rows += b.NumRows()
			}
		}
		c.mu.Unlock()
		return emit(bs)
	})
}

// A streaming aggregation reads only the columns its groups and
// aggregates use, although nothing projects its input (SQL's GROUP BY
// over a table): the stateful operator's input is optimized apart from
// the aggregation, which therefore projects it first.
func TestAggregationReadsOnlyTheColumnsItUses(t *testing.T) {
	ec := newEngine(t, nil)
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	in := &columnRecorder{MemoryStream: streaming.NewMemoryStream(eventSchema, "events")}
	defer in.Close()
	rb := events(t, alloc, []string{"ann", "bob", "ann"}, []int64{1, 2, 3})
	_, err := in.AddBatches(rb)
	rb.Release()
	if err != nil {
		t.Fatal(err)
	}
	scan, err := plan.NewScan(streaming.NewSourceNode(in), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	agg, err := plan.NewAggregate(scan, []expr.Expr{expr.Col("user")}, []expr.Expr{expr.As(expr.Count(nil), "n")})
	if err != nil {
		t.Fatal(err)
	}
	_, got := runSteps(t, ec, agg, "=", []func(){func() {}}, streaming.WithOutputMode(streaming.Complete), streaming.WithAllocator(alloc))
	if !slices.Equal(got, []string{"ann=2", "bob=1"}) {
		t.Errorf("result %v, want ann=2 bob=1", got)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.asked) == 0 {
		t.Fatal("the source was never read with ReadColumns")
	}
	for _, cols := range in.asked {
		if !slices.Equal(cols, []string{"user"}) {
			t.Errorf("the source was asked for %v, want [user]", cols)
		}
	}
}

// countingRows makes the recorder count the rows it emits.
func (c *columnRecorder) countingRows() *int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows == nil {
		c.rows = new(int64)
	}
	return c.rows
}

// A source that a batch's plans scan twice — a self-join's two sides (a
// stateful operator's input) or a union of the stream with itself (the
// query's own plan, both scans in one job) — is read once per range, with
// the columns either scan needs, and its rows are counted once in the
// progress.
func TestScansOfOneSourceReadItOnce(t *testing.T) {
	col, lit := expr.Col, expr.Lit
	for _, tc := range []struct {
		name  string
		build func(t *testing.T, src *streaming.SourceNode) plan.Node
		want  []string // output rows, sorted
	}{
		{
			name: "self-join",
			// SELECT l.user, l.amount FROM (… WHERE amount <= 2) l JOIN (SELECT user …) r ON l.user = r.user
			build: func(t *testing.T, src *streaming.SourceNode) plan.Node {
				var b planBuilder
				left := b.project(b.filter(b.scan(src), expr.Le(col("amount"), lit(int64(2)))),
					expr.As(col("user"), "lu"), expr.As(col("amount"), "la"))
				right := b.project(b.scan(src), expr.As(col("user"), "ru"))
				j := b.check(plan.NewEquiJoin(left, right, plan.InnerJoin, []expr.Expr{col("lu")}, []expr.Expr{col("ru")}, nil))
				return b.done(t, b.project(j, col("lu"), col("la")))
			},
			// batch 1: ann 1 × (ann, ann), bob 2 × bob; batch 2: the buffered bob 2 × the new bob.
			want: []string{"ann:1", "ann:1", "bob:2", "bob:2"},
		},
		{
			name: "union",
			build: func(t *testing.T, src *streaming.SourceNode) plan.Node {
				var b planBuilder
				x := b.project(b.scan(src), col("user"), col("amount"))
				y := b.project(b.scan(src), col("user"), expr.As(expr.Mul(col("amount"), lit(int64(10))), "amount"))
				return b.done(t, b.check(plan.NewUnion(x, y)))
			},
			want: []string{"ann:1", "ann:10", "ann:3", "ann:30", "bob:2", "bob:20", "bob:5", "bob:50"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ec := newEngine(t, nil)
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			in := &columnRecorder{MemoryStream: streaming.NewMemoryStream(eventSchema, "events")}
			defer in.Close()
			read := in.countingRows()
			add := func(users []string, amounts []int64) {
				rb := events(t, alloc, users, amounts)
				defer rb.Release()
				if _, err := in.AddBatches(rb); err != nil {
					t.Fatal(err)
				}
			}
			q, got := runSteps(t, ec, tc.build(t, streaming.NewSourceNode(in)), ":", []func(){
				func() { add([]string{"ann", "bob", "ann"}, []int64{1, 2, 3}) },
				func() { add([]string{"bob"}, []int64{5}) },
			}, streaming.WithAllocator(alloc))
			if !slices.Equal(got, tc.want) {
				t.Errorf("result %v, want %v", got, tc.want)
			}
			in.mu.Lock()
			defer in.mu.Unlock()
			if *read != 4 {
				t.Errorf("the source emitted %d rows, want 4 (each row read once)", *read)
			}
			for _, cols := range in.asked {
				if s := slices.Sorted(slices.Values(cols)); !slices.Equal(s, []string{"amount", "user"}) {
					t.Errorf("the source was asked for %v, want amount and user (both scans' columns; or all, read with Read)", cols)
				}
			}
			var counted int64
			for _, p := range q.RecentProgress() {
				counted += p.NumInputRows
			}
			if counted != 4 {
				t.Errorf("the progress counts %d input rows, want 4", counted)
			}
		})
	}
}

// runSteps starts p into a memory sink, runs each step (which adds data)
// followed by every batch it made available, stops the query and returns
// it and the sink's rows (sinkPairs with sep).
func runSteps(t *testing.T, ec *engine.Context, p plan.Node, sep string, steps []func(), opts ...streaming.Option) (*streaming.Query, []string) {
	t.Helper()
	sink := streaming.NewMemorySink()
	defer sink.Clear()
	q, err := streaming.Start(testCtx(t), ec, p, sink, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range steps {
		step()
		if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return q, sinkPairs(sink, sep)
}

// sinkPairs returns the sink's rows as their first two columns joined by
// sep, sorted.
func sinkPairs(sink *streaming.MemorySink, sep string) []string {
	var got []string
	for _, b := range sink.Rows() {
		for i := range int(b.NumRows()) {
			got = append(got, b.Column(0).ValueStr(i)+sep+b.Column(1).ValueStr(i))
		}
		b.Release()
	}
	slices.Sort(got)
	return got
}

// planBuilder builds a plan, keeping the first error for done.
type planBuilder struct{ err error }

func (b *planBuilder) check(n plan.Node, err error) plan.Node {
	if b.err == nil {
		b.err = err
	}
	return n
}

func (b *planBuilder) scan(src *streaming.SourceNode) plan.Node {
	return b.check(plan.NewScan(src, nil, nil))
}

func (b *planBuilder) filter(n plan.Node, cond expr.Expr) plan.Node {
	if b.err != nil {
		return nil
	}
	return b.check(plan.NewFilter(n, cond))
}

func (b *planBuilder) project(n plan.Node, exprs ...expr.Expr) plan.Node {
	if b.err != nil {
		return nil
	}
	return b.check(plan.NewProject(n, exprs))
}

func (b *planBuilder) done(t *testing.T, n plan.Node) plan.Node {
	t.Helper()
	if b.err != nil {
		t.Fatal(b.err)
	}
	return n
}

// filterRecorder is a MemoryStream read through AllocatingSource that
// supports every predicate on amount and records the filters it gets
// (it skips no row: the query filters them anyway).
type filterRecorder struct {
	*streaming.MemoryStream
	mu      sync.Mutex
	filters []string
}

func (f *filterRecorder) SupportsFilter(e expr.Expr) bool {
	return strings.Contains(e.String(), "amount") && !strings.Contains(e.String(), "user")
}

func (f *filterRecorder) ReadAlloc(ctx context.Context, _ memory.Allocator, r connector.OffsetRange, columns []string, filters []expr.Expr, emit func([]arrow.RecordBatch) error) (int64, error) {
	f.mu.Lock()
	var s []string
	for _, e := range filters {
		s = append(s, e.String())
	}
	f.filters = append(f.filters, strings.Join(s, " ∧ "))
	f.mu.Unlock()
	return 0, readProjected(ctx, f.MemoryStream, r, columns, func(arrow.RecordBatch) {}, emit)
}

// The predicates of filters over the scans of an AllocatingSource that
// supports them reach ReadAlloc: one scan's own, or the OR of each scan's
// when two scans share a read; none when one of the sharing scans has
// none. The rows are right either way.
func TestFiltersPushedIntoAllocatingSource(t *testing.T) {
	col, lit := expr.Col, expr.Lit
	small := expr.Le(col("amount"), lit(int64(2)))
	large := expr.Ge(col("amount"), lit(int64(5)))
	for _, tc := range []struct {
		name    string
		build   func(b *planBuilder, src *streaming.SourceNode) plan.Node
		filters string // as ReadAlloc got them
		want    []string
	}{
		{
			name: "one scan",
			build: func(b *planBuilder, src *streaming.SourceNode) plan.Node {
				return b.filter(b.scan(src), expr.And(small, expr.NotEq(col("user"), lit("zed"))))
			},
			filters: small.String(),
			want:    []string{"ann:1", "bob:2"},
		},
		{
			name: "shared, both filtered",
			build: func(b *planBuilder, src *streaming.SourceNode) plan.Node {
				return b.check(plan.NewUnion(b.filter(b.scan(src), small), b.filter(b.scan(src), large)))
			},
			filters: expr.Or(small, large).String(),
			want:    []string{"ann:1", "bob:2", "bob:5"},
		},
		{
			name: "shared, one unfiltered",
			build: func(b *planBuilder, src *streaming.SourceNode) plan.Node {
				return b.check(plan.NewUnion(b.filter(b.scan(src), small), b.scan(src)))
			},
			filters: "",
			want:    []string{"ann:1", "ann:1", "ann:3", "bob:2", "bob:2", "bob:5"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ec := newEngine(t, nil)
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			in := &filterRecorder{MemoryStream: streaming.NewMemoryStream(eventSchema, "events")}
			defer in.Close()
			rb := events(t, alloc, []string{"ann", "bob", "ann", "bob"}, []int64{1, 2, 3, 5})
			_, err := in.AddBatches(rb)
			rb.Release()
			if err != nil {
				t.Fatal(err)
			}
			var b planBuilder
			p := b.done(t, tc.build(&b, streaming.NewSourceNode(in)))
			if _, got := runSteps(t, ec, p, ":", []func(){func() {}}, streaming.WithAllocator(alloc)); !slices.Equal(got, tc.want) {
				t.Errorf("result %v, want %v", got, tc.want)
			}
			in.mu.Lock()
			defer in.mu.Unlock()
			if len(in.filters) == 0 {
				t.Fatal("the source was never read with ReadAlloc")
			}
			for _, f := range in.filters {
				if f != tc.filters {
					t.Errorf("ReadAlloc got filters %q, want %q", f, tc.filters)
				}
			}
		})
	}
}
