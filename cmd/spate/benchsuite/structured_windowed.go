package benchsuite

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/dataframe"
	"github.com/spate-io/spate/expr"
)

// The windowed Nexmark queries q5 and q7 on Structured Streaming: joins
// over windowed aggregations, which run in append mode and write each
// window once, in the batch whose watermark passed its end. The
// baselines count every window, the last ones too, so the input ends
// with end-of-input marks (endMarkedSource) that move the watermark past
// every window, as a bounded source's final watermark does in Flink.

// windowedDelay is the watermark delay of q5 and q7. The generator's
// events are in event-time order across partitions and batches, so no
// event is late; the delay only keeps a window open a little longer.
const windowedDelay = time.Second

// endMarks is how many end-of-input marks the windowed queries' input
// ends with: the first moves the watermark past every window (the
// watermark a batch computes holds from the next batch on), the second
// is that next batch, which writes the last windows. Each mark is a bid
// in a window that never becomes final, so it is never written.
const endMarks = 2

// endMarkPartition is the partition of the end-of-input marks.
var endMarkPartition = connector.Partition{Stream: "nexmark-end", Index: 0}

// endMarkedSource is a NexmarkArrowSource followed by end-of-input marks
// in a partition of their own (endMarkPartition): bids with auction,
// bidder and price -1 at time at, an hour of event time after the last
// event. A mark becomes available (LatestOffsets) only once the query
// committed every event and the marks before it (connector.Committer,
// which the engine calls after each batch's commit), so each is read in
// a batch of its own, after all events.
type endMarkedSource struct {
	*NexmarkArrowSource
	marks int64
	at    int64 // the marks' event time, ms
	ends  connector.Offsets

	mu       sync.Mutex
	released int64
}

var _ connector.Committer = (*endMarkedSource)(nil)

func newEndMarkedSource(src *NexmarkArrowSource, g *NexmarkGenerator, n, marks int64) (*endMarkedSource, error) {
	ends, err := src.LatestOffsets(context.Background())
	if err != nil {
		return nil, err
	}
	return &endMarkedSource{NexmarkArrowSource: src, marks: marks, at: g.Timestamp(n) + time.Hour.Milliseconds(), ends: ends}, nil
}

// InitialOffsets implements connector.OffsetSource.
func (s *endMarkedSource) InitialOffsets(ctx context.Context) (connector.Offsets, error) {
	o, err := s.NexmarkArrowSource.InitialOffsets(ctx)
	if err == nil {
		o[endMarkPartition] = 0
	}
	return o, err
}

// EarliestOffsets implements connector.OffsetSource.
func (s *endMarkedSource) EarliestOffsets(ctx context.Context, parts []connector.Partition) (connector.Offsets, error) {
	o, err := s.NexmarkArrowSource.EarliestOffsets(ctx, parts)
	if err == nil {
		o[endMarkPartition] = 0
	}
	return o, err
}

// LatestOffsets implements connector.OffsetSource: the events, and the
// marks released so far.
func (s *endMarkedSource) LatestOffsets(ctx context.Context) (connector.Offsets, error) {
	o, err := s.NexmarkArrowSource.LatestOffsets(ctx)
	if err == nil {
		s.mu.Lock()
		o[endMarkPartition] = s.released
		s.mu.Unlock()
	}
	return o, err
}

// Commit releases the next mark once end covers every event and every
// mark released so far.
func (s *endMarkedSource) Commit(_ context.Context, end connector.Offsets) error {
	for p, off := range s.ends {
		if end[p] < off {
			return nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if end[endMarkPartition] == s.released && s.released < s.marks {
		s.released++
	}
	return nil
}

// Read implements connector.Source.
func (s *endMarkedSource) Read(ctx context.Context, r connector.OffsetRange, emit func([]arrow.RecordBatch) error) error {
	_, err := s.ReadAlloc(ctx, s.alloc, r, nil, nil, emit)
	return err
}

// ReadAlloc implements streaming.AllocatingSource: the marks of r, or
// the events (NexmarkArrowSource.ReadAlloc).
func (s *endMarkedSource) ReadAlloc(ctx context.Context, alloc memory.Allocator, r connector.OffsetRange, columns []string, filters []expr.Expr, emit func([]arrow.RecordBatch) error) (int64, error) {
	if r.Partition != endMarkPartition {
		return s.NexmarkArrowSource.ReadAlloc(ctx, alloc, r, columns, filters, emit)
	}
	if r.From < 0 || r.Until > s.marks {
		return 0, fmt.Errorf("benchsuite: no marks %s (there are %d)", r, s.marks)
	}
	for _, f := range filters {
		if types, ok := eventTypesOf(f); ok && !types[BidEvent] {
			return r.Until - r.From, nil
		}
	}
	if alloc == nil {
		alloc = s.alloc
	}
	if columns == nil {
		for _, f := range NexmarkSchema.Fields() {
			columns = append(columns, f.Name)
		}
	}
	mark := Event{Type: BidEvent, Bid: Bid{Auction: -1, Bidder: -1, Price: -1, DateTime: s.at}}
	fields := make([]arrow.Field, len(columns))
	cols := make([]arrow.Array, len(columns))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for k, c := range columns {
		is := NexmarkSchema.FieldIndices(c)
		if len(is) == 0 {
			return 0, fmt.Errorf("benchsuite: the Nexmark schema has no column %q", c)
		}
		fields[k] = NexmarkSchema.Field(is[0])
		b := array.NewBuilder(alloc, fields[k].Type)
		for range r.Until - r.From {
			s.encoders[is[0]](b, &mark)
		}
		cols[k] = b.NewArray()
		b.Release()
	}
	if r.Until == r.From {
		return 0, nil
	}
	return 0, emit([]arrow.RecordBatch{array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, r.Until-r.From)})
}

// nexmarkWindowed is a windowed Nexmark query's DataFrame and SQL
// variants, in append mode, over NexmarkArrowSource followed by
// end-of-input marks. SQL has no watermark syntax: the SQL variant's
// view "events" is the input with a watermark on bid_date_time (as a
// Spark user writes df.withWatermark(...).createOrReplaceTempView(...));
// the DataFrame variant sets its own.
func nexmarkWindowed(build func(in *dataframe.DataFrame) *dataframe.DataFrame, sqlText string, sink func() structuredSink) *structuredSpec {
	return &structuredSpec{
		input: func(_ context.Context, s *dataframe.Session, p Params, gc genConfig, n int64, _ string) (*dataframe.DataFrame, error) {
			g := NewNexmarkGenerator(NexmarkConfig{Seed: gc.Seed, BaseMs: gc.BaseMs, EventRate: gc.EventRate})
			src, err := NewNexmarkArrowSource(g, p.Partitions, n, p.BatchEvents, nil)
			if err != nil {
				return nil, err
			}
			marked, err := newEndMarkedSource(src, g, n, endMarks)
			if err != nil {
				return nil, err
			}
			in := s.StreamFrom(marked)
			return in, in.Err()
		},
		endMarks:       endMarks,
		viewWatermark:  "bid_date_time",
		watermarkDelay: windowedDelay,
		dataframe: func(in *dataframe.DataFrame, _ map[string]*dataframe.DataFrame) *dataframe.DataFrame {
			return build(in)
		},
		sql:  sqlText,
		mode: "append",
		sink: func(genConfig) structuredSink { return sink() },
	}
}

// nexmarkQ5Structured is q5 (hot items): the bids per auction and
// sliding window (10 s, sliding by 2 s), the highest count per window (an
// aggregation over the counts), and the counts joined with it on the
// window end and count >= max, so the auctions with the most bids of
// each window. Both aggregations write each window once, when the
// watermark passes its end; the join matches the two in that batch.
//
// q5 has no SQL variant: SQL's sliding window(ts, size, slide) is the
// window's start alone (the end is a hidden group column), and the engine
// refuses an aggregation grouped by the start alone over a sliding-window
// aggregation (it accepts one over a tumbling window, and the DataFrame
// variant groups by window_start and window_end). The query would be
//
//	WITH counts AS (
//	  SELECT window(bid_date_time, '10 seconds', '2 seconds') AS window_start, bid_auction AS auction, count(*) AS n
//	  FROM events WHERE event_type = 2 GROUP BY 1, 2)
//	SELECT c.window_start, c.auction, c.n AS count
//	FROM counts c JOIN (SELECT window_start, max(n) AS maxn FROM counts GROUP BY window_start) m
//	ON c.window_start = m.window_start AND c.n >= m.maxn
func nexmarkQ5Structured() *structuredSpec {
	col := dataframe.Col
	spec := nexmarkWindowed(
		func(in *dataframe.DataFrame) *dataframe.DataFrame {
			counts := in.Where(col("event_type").EqualTo(int32(BidEvent))).
				Select(col("bid_auction").As("auction"), col("bid_date_time").As("ts")).
				WithWatermark("ts", windowedDelay).
				GroupBy(dataframe.Window(col("ts"), q5Size*time.Millisecond, q5Slide*time.Millisecond), col("auction")).Count()
			maxes := counts.GroupBy(col("window_start"), col("window_end")).Agg(dataframe.Max(col("count")).As("maxn")).
				Select(col("window_end").As("max_end"), col("maxn"))
			return counts.Join(maxes, col("window_end").EqualTo(col("max_end")).And(col("count").Geq(col("maxn"))), "inner").
				Select(col("window_start"), col("auction"), col("count"))
		},
		`WITH counts AS (
  SELECT window(bid_date_time, '10 seconds', '2 seconds') AS window_start, bid_auction AS auction, count(*) AS count
  FROM events WHERE event_type = 2 GROUP BY 1, 2)
SELECT c.window_start, c.auction, c.count FROM counts c
JOIN (SELECT window_start, max(count) AS maxn FROM counts GROUP BY window_start) m
ON c.window_start = m.window_start AND c.count >= m.maxn`,
		func() structuredSink { return &q5Sink{windows: map[int64]*Q5Row{}} })
	spec.bytesPerEvent = 500 // peak RSS 1.6–2.3 GiB at 5M events (afe6116)
	return spec
}

// q5Sink collects each window's top auctions and hashes the windows as
// the DStream variant's upsert table does.
type q5Sink struct {
	mu      sync.Mutex
	windows map[int64]*Q5Row // by window start, ms
}

func (s *q5Sink) add(r arrow.RecordBatch) error {
	cols, err := int64Cols(r, "window_start", "auction", "count")
	if err != nil {
		return err
	}
	ws, auction, count := cols[0], cols[1], cols[2]
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range int(r.NumRows()) {
		w := s.windows[ws(i)]
		if w == nil {
			w = &Q5Row{Num: count(i)}
			s.windows[ws(i)] = w
		}
		if w.Num != count(i) {
			return fmt.Errorf("benchsuite: q5: window %d: counts %d and %d both at the maximum", ws(i), w.Num, count(i))
		}
		w.Auctions = append(w.Auctions, auction(i))
	}
	return nil
}

func (s *q5Sink) result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a accumulator
	for ws, w := range s.windows {
		top := slices.Sorted(slices.Values(w.Auctions))
		a.add(hashQ5(ws, Q5Row{Num: w.Num, Auctions: top}))
	}
	return a.result()
}

// q7End is the end of the 10 s tumbling window holding the timestamp
// column ts, computed per row: the bound the aggregation's Window
// computes (expr.WindowBound), so that the join sees an event-time
// column of the watermarked ts and bounds the bids by it. (ts − ts mod
// 10 s + 10 s, through a cast to int64 and back, gives the same values,
// but the engine does not see it as a bound on ts, and the join keeps
// every bid.)
func q7End(ts string) dataframe.Column {
	d := q7Size * time.Millisecond
	return dataframe.ColumnOf(expr.WindowBound(expr.Col(ts), d, 0, 0, d))
}

// nexmarkQ7Structured is q7 (highest bid): the highest price per 10 s
// tumbling window (an aggregation), joined back to the bids on the window
// end and price = max. The bids side computes its window end per row; its
// equality with the aggregation's window end bounds both sides of the
// join by the watermark.
func nexmarkQ7Structured() *structuredSpec {
	col := dataframe.Col
	spec := nexmarkWindowed(
		func(in *dataframe.DataFrame) *dataframe.DataFrame {
			bids := in.Where(col("event_type").EqualTo(int32(BidEvent))).
				Select(col("bid_auction").As("auction"), col("bid_price").As("price"), col("bid_bidder").As("bidder"),
					col("bid_date_time").As("date_time"), col("bid_extra").As("extra")).
				WithWatermark("date_time", windowedDelay)
			maxes := bids.GroupBy(dataframe.Window(col("date_time"), q7Size*time.Millisecond)).
				Agg(dataframe.Max(col("price")).As("maxp")).
				Select(col("window_start"), col("window_end").As("max_end"), col("maxp"))
			return bids.Select(col("auction"), col("price"), col("bidder"), col("date_time"), col("extra"), q7End("date_time").As("bid_end")).
				Join(maxes, col("bid_end").EqualTo(col("max_end")).And(col("price").EqualTo(col("maxp"))), "inner").
				Select(col("window_start"), col("auction"), col("price"), col("bidder"), col("date_time"), col("extra"))
		},
		`SELECT m.window_start, b.auction, b.price, b.bidder, b.date_time, b.extra
FROM (SELECT bid_auction AS auction, bid_price AS price, bid_bidder AS bidder, bid_date_time AS date_time, bid_extra AS extra,
             window(bid_date_time, '10 seconds') AS bid_start
      FROM events WHERE event_type = 2) b
JOIN (SELECT window(bid_date_time, '10 seconds') AS window_start, max(bid_price) AS maxp
      FROM events WHERE event_type = 2 GROUP BY 1) m
ON b.bid_start = m.window_start AND b.price = m.maxp`,
		func() structuredSink { return &q7Sink{windows: map[int64]*Q7State{}} })
	// The join buffers every bid of an open window (Flink's q7 too):
	// peak RSS 3.2–3.6 GiB at 5M events (afe6116).
	spec.bytesPerEvent = 800
	return spec
}

// q7Sink collects each window's highest bids and hashes the windows as
// the DStream variant's upsert table does.
type q7Sink struct {
	mu      sync.Mutex
	windows map[int64]*Q7State // by window start, ms
}

func (s *q7Sink) add(r arrow.RecordBatch) error {
	ws, err := int64s(r, "window_start")
	if err != nil {
		return err
	}
	h, err := q7Getters(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range int(r.NumRows()) {
		b := h(i)
		w := s.windows[ws(i)]
		if w == nil {
			w = &Q7State{Max: b.Price}
			s.windows[ws(i)] = w
		}
		if w.Max != b.Price {
			return fmt.Errorf("benchsuite: q7: window %d: prices %d and %d both at the maximum", ws(i), w.Max, b.Price)
		}
		w.Bids = append(w.Bids, b)
	}
	return nil
}

// q7Getters returns a getter of the bids of q7's output rows.
func q7Getters(r arrow.RecordBatch) (func(i int) Q7Bid, error) {
	cols, err := int64Cols(r, "auction", "price", "bidder", "date_time")
	if err != nil {
		return nil, err
	}
	auction, price, bidder, dt := cols[0], cols[1], cols[2], cols[3]
	extra, err := strs(r, "extra")
	if err != nil {
		return nil, err
	}
	return func(i int) Q7Bid {
		return Q7Bid{Auction: auction(i), Price: price(i), Bidder: bidder(i), DateTime: dt(i), Extra: extra(i)}
	}, nil
}

func (s *q7Sink) result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a accumulator
	for ws, w := range s.windows {
		a.add(hashQ7(ws, *w))
	}
	return a.result()
}
