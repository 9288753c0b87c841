package benchsuite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/sql"
)

// TestStructuredMatchBaselines runs the DataFrame and SQL variants of
// every query that has them on a few batches, and checks each result
// against the baseline (SQL is skipped, with sql.ErrNoCgo's message, in
// a build without cgo). The joins' state is checked too: q3's SQL
// buffers only the filtered rows, as its DataFrame variant (its filters
// are inside the join's inputs); q8's DataFrame variant, with
// watermarks, evicts the windows that ended (its SQL variant cannot);
// q5's and q7's evict every window written.
func TestStructuredMatchBaselines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, q := range Queries() {
		t.Run(q.Name, func(t *testing.T) {
			p := testParams()
			p.CheckpointDir = t.TempDir()
			p.Variants = []string{VariantDataFrame, VariantSQL}
			ms, err := Run(ctx, []Query{q}, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 3 {
				t.Fatalf("got %d measurements, want 3 (dataframe, sql, handloop): %+v", len(ms), ms)
			}
			hand := ms[2]
			if hand.Variant != VariantHandloop || hand.Status != "ok" {
				t.Fatalf("baseline: %+v", hand)
			}
			for _, m := range ms[:2] {
				switch {
				case !q.Implemented(m.Variant):
					if m.Status != StatusUnsupported || m.Error == "" || m.Error != q.Unsupported() {
						t.Errorf("%s: status %q (%s), want unsupported with the reason", m.Variant, m.Status, m.Error)
					}
				case m.Variant == VariantSQL && m.Status == StatusSkipped:
					if m.Error != sql.ErrNoCgo.Error() {
						t.Errorf("sql skipped: %s", m.Error)
					}
				default:
					if m.Status != "ok" || m.Events != p.Events || m.MatchesHand == nil || !*m.MatchesHand || m.Result.Rows == 0 {
						t.Errorf("%s: status %q (%s), %d events, result %v; baseline %v", m.Variant, m.Status, m.Error, m.Events, m.Result, hand.Result)
					}
					if m.API != m.Variant || m.BatchP50Ms <= 0 {
						t.Errorf("%s: api %q, batch p50 %v ms", m.Variant, m.API, m.BatchP50Ms)
					}
				}
			}
			df, sq := ms[0], ms[1]
			// q5 and q7 evict every window the watermark passed: what
			// remains is the end-of-input marks' window.
			if (q.Name == "q5" || q.Name == "q7") && df.Status == "ok" && (df.StateRows == 0 || df.StateRows > 20) {
				t.Errorf("state: %d rows (dataframe), want the windows evicted", df.StateRows)
			}
			if df.Status != "ok" || sq.Status != "ok" {
				return
			}
			switch q.Name {
			case "q3":
				if df.StateRows == 0 || sq.StateRows != df.StateRows {
					t.Errorf("join state: %d rows (sql), %d (dataframe), want the same, not 0", sq.StateRows, df.StateRows)
				}
			case "q7":
				if sq.StateRows == 0 || sq.StateRows > 20 {
					t.Errorf("state: %d rows (sql), want the windows evicted", sq.StateRows)
				}
			case "q8": // 30 s of event time, 3 windows: the DataFrame state keeps the last (1182 rows against 2590)
				if df.StateRows == 0 || df.StateRows*3 > sq.StateRows*2 {
					t.Errorf("state: %d rows (dataframe), %d (sql without watermarks): want the windows evicted", df.StateRows, sq.StateRows)
				}
			}
		})
	}
}

// TestStructuredPacedSkipped: a paced run has no DataFrame or SQL
// variant yet; they are reported skipped, and the DStream run is checked.
func TestStructuredPacedSkipped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	qs, err := Select("nexmark", []string{"q2"})
	if err != nil {
		t.Fatal(err)
	}
	p := Params{Rate: 40_000, Duration: 200 * time.Millisecond, Interval: 20 * time.Millisecond, Partitions: 2, Variants: []string{VariantAll}}
	ms, err := Run(ctx, qs, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dstream ok", "dataframe skipped", "sql skipped", "handloop ok"}
	if len(ms) != len(want) {
		t.Fatalf("got %d measurements, want %d: %+v", len(ms), len(want), ms)
	}
	for i, m := range ms {
		if got := m.Variant + " " + m.Status; got != want[i] {
			t.Errorf("measurement %d: %s (%s), want %s", i, got, m.Error, want[i])
		}
	}
}

// TestNexmarkArrowSource: the Arrow source's rows are the generator's
// events at the source's offsets (bids and the others in separate
// batches, each in order), with just the columns asked for, built with
// the allocator given (all released), and batches are capped.
func TestNexmarkArrowSource(t *testing.T) {
	g := NewNexmarkGenerator(NexmarkConfig{Seed: 3})
	src, err := NewNexmarkArrowSource(g, 2, 1000, 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lim := src.Limits(); lim.MaxPerPartition != 150 {
		t.Errorf("MaxPerPartition %d, want 150", lim.MaxPerPartition)
	}
	part := connector.Partition{Stream: "nexmark", Index: 1}
	var want [2][]Event // bids, others
	for off := int64(10); off < 80; off++ {
		e := g.Generate(nil, src.gen.Event(1, off), 1, 1)[0]
		if e.Type == BidEvent {
			want[0] = append(want[0], e)
		} else {
			want[1] = append(want[1], e)
		}
	}
	if len(want[1]) == 0 {
		t.Fatal("the range has no person or auction")
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	var seen [2]int
	columns := []string{"person_name", "event_type", "bid_price"}
	_, err = src.ReadAlloc(context.Background(), alloc, connector.OffsetRange{Partition: part, From: 10, Until: 80}, columns, nil, func(bs []arrow.RecordBatch) error {
		for _, b := range bs {
			if alloc.CurrentAlloc() == 0 {
				t.Error("the batch was not built with the allocator given")
			}
			if b.NumCols() != 3 || b.ColumnName(0) != "person_name" || b.ColumnName(2) != "bid_price" {
				t.Fatalf("columns %v, want %v", b.Schema(), columns)
			}
			name, et, price := b.Column(0).(*array.String), b.Column(1).(*array.Int32), b.Column(2).(*array.Int64)
			grp := 1
			if EventType(et.Value(0)) == BidEvent {
				grp = 0
			}
			for i := range int(b.NumRows()) {
				if seen[grp] >= len(want[grp]) {
					t.Fatalf("group %d: more rows than events", grp)
				}
				w := want[grp][seen[grp]]
				seen[grp]++
				if EventType(et.Value(i)) != w.Type {
					t.Fatalf("group %d row %d: type %d, want %d (a batch mixes bids and others?)", grp, seen[grp], et.Value(i), w.Type)
				}
				switch w.Type {
				case BidEvent:
					if price.IsNull(i) || price.Value(i) != w.Bid.Price || !name.IsNull(i) {
						t.Errorf("bid %d: price %v, want %d", seen[grp], price.Value(i), w.Bid.Price)
					}
				case PersonEvent:
					if name.Value(i) != w.Person.Name || !price.IsNull(i) {
						t.Errorf("person %d: name %q, want %q", seen[grp], name.Value(i), w.Person.Name)
					}
				}
			}
			b.Release()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen[0] != len(want[0]) || seen[1] != len(want[1]) {
		t.Errorf("read %v rows, want %d and %d", seen, len(want[0]), len(want[1]))
	}
	// Read builds every column.
	err = src.Read(context.Background(), connector.OffsetRange{Partition: part, From: 10, Until: 20}, func(bs []arrow.RecordBatch) error {
		for _, b := range bs {
			if !b.Schema().Equal(NexmarkSchema) {
				t.Errorf("Read's schema %v, want NexmarkSchema", b.Schema())
			}
			b.Release()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.ReadAlloc(context.Background(), alloc, connector.OffsetRange{Partition: part, From: 10, Until: 20}, []string{"nope"}, nil,
		func([]arrow.RecordBatch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Errorf("an unknown column: err %v, want one naming it", err)
	}
	// A pushed filter on event_type: only the bids are built, the others
	// counted as skipped.
	bids := 0
	skipped, err := src.ReadAlloc(context.Background(), alloc, connector.OffsetRange{Partition: part, From: 10, Until: 80}, []string{"event_type"},
		[]expr.Expr{expr.Eq(expr.Col("event_type"), expr.Lit(int32(BidEvent)))}, func(bs []arrow.RecordBatch) error {
			for _, b := range bs {
				et := b.Column(0).(*array.Int32)
				for i := range et.Len() {
					if EventType(et.Value(i)) != BidEvent {
						t.Errorf("a filtered read built an event of type %d", et.Value(i))
					}
				}
				bids += et.Len()
				b.Release()
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if bids != len(want[0]) || skipped != int64(len(want[1])) {
		t.Errorf("filtered read: %d bids and %d skipped, want %d and %d", bids, skipped, len(want[0]), len(want[1]))
	}
}

// TestNexmarkEventTypeFilters: which predicates the Nexmark source
// supports, and the event types each lets through (person, auction, bid).
func TestNexmarkEventTypeFilters(t *testing.T) {
	et, lit := expr.Col("event_type"), expr.Lit
	for _, tc := range []struct {
		e    expr.Expr
		ok   bool
		want [3]bool
	}{
		{expr.Eq(et, lit(int32(2))), true, [3]bool{false, false, true}},
		{expr.Eq(lit(int64(0)), expr.NewCast(et, arrow.PrimitiveTypes.Int64)), true, [3]bool{true, false, false}},
		{expr.In(et, lit(int32(0)), lit(int32(1))), true, [3]bool{true, true, false}},
		{expr.Or(expr.Eq(et, lit(int32(0))), expr.Eq(et, lit(int32(1)))), true, [3]bool{true, true, false}},
		{expr.And(expr.In(et, lit(int32(0)), lit(int32(1))), expr.Eq(et, lit(int32(1)))), true, [3]bool{false, true, false}},
		{expr.Eq(et, lit(int32(7))), true, [3]bool{}},
		{expr.Eq(expr.Col("bid_price"), lit(int64(1))), false, [3]bool{}},
		{expr.Or(expr.Eq(et, lit(int32(0))), expr.Eq(expr.Col("bid_price"), lit(int64(1)))), false, [3]bool{}},
		{expr.Gt(et, lit(int32(0))), false, [3]bool{}},
		{expr.Eq(et, expr.Col("person_id")), false, [3]bool{}},
	} {
		got, ok := eventTypesOf(tc.e)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%v: %v %v, want %v %v", tc.e, got, ok, tc.want, tc.ok)
		}
	}
}

// A run that would need more memory than is available is skipped with
// the numbers and how many events would fit.
func TestStructuredMemoryCheck(t *testing.T) {
	avail := memAvailable()
	if avail == 0 {
		t.Skip("no /proc/meminfo here: the check is off")
	}
	s := &structuredSpec{bytesPerEvent: 1000}
	if why := s.memoryCheck(avail / 2000); why != "" {
		t.Errorf("a run needing half the memory: %s", why)
	}
	why := s.memoryCheck(avail / 100)
	if !strings.Contains(why, "GiB available") || !strings.Contains(why, "--events") {
		t.Errorf("a run needing 10× the memory: %q, want the numbers and the --events that fit", why)
	}
	if why := (&structuredSpec{}).memoryCheck(1 << 40); why != "" {
		t.Errorf("a query without an estimate: %s", why)
	}
}
