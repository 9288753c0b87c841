package streaming_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
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
}

func (c *columnRecorder) ReadColumns(ctx context.Context, r connector.OffsetRange, columns []string, emit func([]arrow.RecordBatch) error) (int64, error) {
	c.mu.Lock()
	c.asked = append(c.asked, slices.Clone(columns))
	c.mu.Unlock()
	return 0, c.Read(ctx, r, func(bs []arrow.RecordBatch) error {
		out := make([]arrow.RecordBatch, len(bs))
		for i, b := range bs {
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
	sink := streaming.NewMemorySink()
	defer sink.Clear()
	q, err := streaming.Start(testCtx(t), ec, agg, sink, streaming.WithOutputMode(streaming.Complete), streaming.WithAllocator(alloc))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.ProcessAllAvailable(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := q.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range sink.Rows() {
		for i := range int(b.NumRows()) {
			got = append(got, b.Column(0).ValueStr(i)+"="+b.Column(1).ValueStr(i))
		}
		b.Release()
	}
	slices.Sort(got)
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
