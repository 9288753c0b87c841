package benchsuite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/dataframe"
)

// The DataFrame and SQL variants. YSB reads its events as JSON lines
// through the engine's streaming JSON file source (so the engine parses
// the JSON); Nexmark reads NexmarkArrowSource, the generator as an Arrow
// source, through Session.StreamFrom.

// ysbSchema is the schema the YSB query reads its JSON lines with:
// every field is a string, as the generator writes them.
var ysbSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "page_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ad_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ad_type", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event_type", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event_time", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ip_address", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// writeYSBFiles writes events 0..n-1 of g as JSON lines for the streaming
// file source, into dir: per batch of batchEvents events, one file per
// partition p (<batch>-<p>.json) holding the batch's events g with
// g mod parts = p, in order. The files' modification times are set in
// (batch, partition) order, the order in which the source admits them,
// so that maxFilesPerTrigger = parts reads one batch per trigger; the
// engine splits a trigger's files over its slots
// (connector.SplitRanges).
func writeYSBFiles(ctx context.Context, g *YSBGenerator, dir string, parts int, n, batchEvents int64) error {
	staging := dir + ".staging"
	for _, d := range []string{dir, staging} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("benchsuite: writing YSB files: %w", err)
		}
	}
	defer os.RemoveAll(staging)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = writeYSBPartition(ctx, g, staging, p, parts, n, batchEvents)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Files must appear whole, in order: stamp, then rename into the
	// watched directory.
	t0 := time.Now().Add(-time.Hour)
	for batch, from := 0, int64(0); from < n; batch, from = batch+1, from+batchEvents {
		for p := range parts {
			name := ysbFileName(batch, p)
			mt := t0.Add(time.Duration(batch*parts+p) * time.Millisecond)
			err := os.Chtimes(filepath.Join(staging, name), mt, mt)
			if err == nil {
				err = os.Rename(filepath.Join(staging, name), filepath.Join(dir, name))
			}
			if err != nil {
				return fmt.Errorf("benchsuite: writing YSB files: %w", err)
			}
		}
	}
	return nil
}

func ysbFileName(batch, p int) string { return fmt.Sprintf("%08d-%04d.json", batch, p) }

// writeYSBPartition writes partition p's files into dir.
func writeYSBPartition(ctx context.Context, g *YSBGenerator, dir string, p, parts int, n, batchEvents int64) error {
	buf := make([]byte, 0, ysbEventSize)
	for batch, from := 0, int64(0); from < n; batch, from = batch+1, from+batchEvents {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(dir, ysbFileName(batch, p)))
		if err != nil {
			return fmt.Errorf("benchsuite: writing YSB files: %w", err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		first := from + (int64(p)-from%int64(parts)+int64(parts))%int64(parts)
		for ev := first; ev < min(from+batchEvents, n); ev += int64(parts) {
			buf = append(g.AppendEvent(buf[:0], ev), '\n')
			_, _ = w.Write(buf)
		}
		err = w.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("benchsuite: writing YSB files: %w", err)
		}
	}
	return nil
}

// ysbAd is a row of YSB's static table.
type ysbAd struct {
	AdID       string `spate:"ad_id"`
	CampaignID string `spate:"campaign_id"`
}

// ysbStructured is YSB's DataFrame and SQL variants: the JSON file
// source (one file per partition and batch, a batch's files per trigger) → filter
// event_type = 'view' → project → join ad_id → campaign_id with the
// static table → count per campaign and 10 s window (update mode; the
// DataFrame variant with a 10 s watermark, which drops no event of the
// ordered generator but lets the state forget old windows). The sink
// keeps the latest count of every (campaign, window).
func ysbStructured() *structuredSpec {
	return &structuredSpec{
		input: func(ctx context.Context, s *dataframe.Session, p Params, gc genConfig, n int64, dir string) (*dataframe.DataFrame, error) {
			g := NewYSBGenerator(YSBConfig{Seed: gc.Seed, BaseMs: gc.BaseMs, EventRate: gc.EventRate})
			in := filepath.Join(dir, "in")
			if err := writeYSBFiles(ctx, g, in, p.Partitions, n, p.BatchEvents); err != nil {
				return nil, err
			}
			df := s.ReadStream().Format("json").Schema(ysbSchema).
				Option("maxFilesPerTrigger", strconv.Itoa(p.Partitions)).Load(in)
			return df, df.Err()
		},
		static: func(s *dataframe.Session, gc genConfig) (map[string]*dataframe.DataFrame, error) {
			g := NewYSBGenerator(YSBConfig{Seed: gc.Seed, BaseMs: gc.BaseMs, EventRate: gc.EventRate})
			rows := make([]ysbAd, len(g.Ads()))
			for i, ad := range g.Ads() {
				rows[i] = ysbAd{AdID: ad, CampaignID: g.Campaigns()[i/ysbAdsPerCampaign]}
			}
			ads := dataframe.CreateDataFrame(s, rows)
			if err := ads.CreateOrReplaceTempView("ads"); err != nil {
				return nil, err
			}
			return map[string]*dataframe.DataFrame{"ads": ads}, nil
		},
		dataframe: func(in *dataframe.DataFrame, static map[string]*dataframe.DataFrame) *dataframe.DataFrame {
			col := dataframe.Col
			return in.Where(col("event_type").EqualTo("view")).
				Select(col("ad_id"), col("event_time").Cast(arrow.PrimitiveTypes.Int64).Cast(arrow.FixedWidthTypes.Timestamp_ms).As("event_time")).
				WithWatermark("event_time", 10*time.Second).
				JoinUsing(dataframe.Broadcast(static["ads"]), []string{"ad_id"}, "inner").
				GroupBy(dataframe.Window(col("event_time"), 10*time.Second), col("campaign_id")).
				Count()
		},
		// event_time is epoch milliseconds (a string in YSB's JSON):
		// timestamp_millis, as in Spark SQL (whose CAST(n AS TIMESTAMP)
		// counts seconds).
		sql: `SELECT a.campaign_id, window(timestamp_millis(CAST(e.event_time AS BIGINT)), '10 seconds') AS window_start, count(*) AS count
FROM events e JOIN ads a ON e.ad_id = a.ad_id
WHERE e.event_type = 'view'
GROUP BY 1, 2`,
		mode: "update",
		sink: func(gc genConfig) structuredSink {
			g := NewYSBGenerator(YSBConfig{Seed: gc.Seed, BaseMs: gc.BaseMs, EventRate: gc.EventRate})
			idx := map[string]int32{}
			for i, c := range g.Campaigns() {
				idx[c] = int32(i)
			}
			return &ysbSink{campaign: idx, counts: map[int64]int64{}}
		},
	}
}

// ysbSink is YSB's upsert table: the latest count per (campaign,
// window), keyed as the DStream variant's.
type ysbSink struct {
	campaign map[string]int32
	mu       sync.Mutex
	counts   map[int64]int64
}

func (s *ysbSink) add(r arrow.RecordBatch) error {
	camp, err := strs(r, "campaign_id")
	if err != nil {
		return err
	}
	cols, err := int64Cols(r, "window_start", "count")
	if err != nil {
		return err
	}
	win, cnt := cols[0], cols[1]
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range int(r.NumRows()) {
		c, ok := s.campaign[camp(i)]
		if !ok {
			return fmt.Errorf("benchsuite: ysb: unknown campaign %q in the output", camp(i))
		}
		k := ysbPack(ysbKey{Campaign: c, Window: win(i)})
		s.counts[k] = max(s.counts[k], cnt(i)) // counts only grow
	}
	return nil
}

func (s *ysbSink) result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a accumulator
	for k, c := range s.counts {
		a.add(ysbRowHash(k, c))
	}
	return a.result()
}

// nexmarkAppend is a Nexmark query's DataFrame and SQL variants over
// NexmarkArrowSource (which builds only the columns the query reads), in append mode, into a
// black hole that hashes every row as the DStream variant's does (q0–q2,
// and the joins q3 and q8).
func nexmarkAppend(build func(in *dataframe.DataFrame) *dataframe.DataFrame, sqlText string,
	hash func(r arrow.RecordBatch) (func(i int) uint64, error)) *structuredSpec {
	return &structuredSpec{
		input: func(_ context.Context, s *dataframe.Session, p Params, gc genConfig, n int64, _ string) (*dataframe.DataFrame, error) {
			g := NewNexmarkGenerator(NexmarkConfig{Seed: gc.Seed, BaseMs: gc.BaseMs, EventRate: gc.EventRate})
			src, err := NewNexmarkArrowSource(g, p.Partitions, n, p.BatchEvents, nil)
			if err != nil {
				return nil, err
			}
			in := s.StreamFrom(src)
			return in, in.Err()
		},
		dataframe: func(in *dataframe.DataFrame, _ map[string]*dataframe.DataFrame) *dataframe.DataFrame {
			return build(in)
		},
		sql:  sqlText,
		mode: "append",
		sink: func(genConfig) structuredSink { return &rowSink{hash: hash} },
	}
}

// hashQ0Rows hashes q0's and q1's output rows as hashQ0.
func hashQ0Rows(r arrow.RecordBatch) (func(i int) uint64, error) {
	cols, err := int64Cols(r, "auction", "bidder", "price", "date_time")
	if err != nil {
		return nil, err
	}
	auction, bidder, price, dt := cols[0], cols[1], cols[2], cols[3]
	extra, err := strs(r, "extra")
	if err != nil {
		return nil, err
	}
	return func(i int) uint64 {
		return hashQ0(Q0Row{Auction: auction(i), Bidder: bidder(i), Price: price(i), DateTime: dt(i), Extra: extra(i)})
	}, nil
}

func q0q1DataFrame(price dataframe.Column) func(in *dataframe.DataFrame) *dataframe.DataFrame {
	col := dataframe.Col
	return func(in *dataframe.DataFrame) *dataframe.DataFrame {
		return in.Where(col("event_type").EqualTo(int32(BidEvent))).
			Select(col("bid_auction").As("auction"), col("bid_bidder").As("bidder"), price.As("price"),
				col("bid_date_time").As("date_time"), col("bid_extra").As("extra"))
	}
}

func nexmarkQ0Structured() *structuredSpec {
	return nexmarkAppend(q0q1DataFrame(dataframe.Col("bid_price")),
		`SELECT bid_auction AS auction, bid_bidder AS bidder, bid_price AS price, bid_date_time AS date_time, bid_extra AS extra
FROM events WHERE event_type = 2`, hashQ0Rows)
}

// q1 as the DStream variant: price × 0.908 kept exact, in thousandths of
// a cent (price × 908).
func nexmarkQ1Structured() *structuredSpec {
	return nexmarkAppend(q0q1DataFrame(dataframe.Col("bid_price").Multiply(int64(908))),
		`SELECT bid_auction AS auction, bid_bidder AS bidder, bid_price * 908 AS price, bid_date_time AS date_time, bid_extra AS extra
FROM events WHERE event_type = 2`, hashQ0Rows)
}

func nexmarkQ2Structured() *structuredSpec {
	col := dataframe.Col
	return nexmarkAppend(
		func(in *dataframe.DataFrame) *dataframe.DataFrame {
			return in.Where(col("event_type").EqualTo(int32(BidEvent)).And(col("bid_auction").Mod(int64(123)).EqualTo(int64(0)))).
				Select(col("bid_auction").As("auction"), col("bid_price").As("price"))
		},
		`SELECT bid_auction AS auction, bid_price AS price FROM events WHERE event_type = 2 AND bid_auction % 123 = 0`,
		func(r arrow.RecordBatch) (func(i int) uint64, error) {
			cols, err := int64Cols(r, "auction", "price")
			if err != nil {
				return nil, err
			}
			auction, price := cols[0], cols[1]
			return func(i int) uint64 { return hashInts(auction(i), price(i)) }, nil
		})
}
