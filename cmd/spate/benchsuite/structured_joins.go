package benchsuite

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/dataframe"
)

// The joins q3 and q8 on Structured Streaming: stream–stream joins whose
// two sides are two scans of the one Nexmark stream (event_type picks
// persons or auctions); the engine reads each batch's ranges once for
// both (streaming's shared scans).

// nexmarkQ3Structured is q3 as Flink's: an inner join of the auctions of
// category 10 with the persons of OR, ID and CA on seller = id, without
// time bounds (no watermark), so both sides' buffered rows stay in the
// join's state for the whole run; every match is written once, in the
// batch that brought the later of its two rows.
func nexmarkQ3Structured() *structuredSpec {
	col := dataframe.Col
	return nexmarkAppend(
		func(in *dataframe.DataFrame) *dataframe.DataFrame {
			persons := in.Where(col("event_type").EqualTo(int32(PersonEvent)).And(col("person_state").IsIn("OR", "ID", "CA"))).
				Select(col("person_id").As("id"), col("person_name").As("name"), col("person_city").As("city"), col("person_state").As("state"))
			auctions := in.Where(col("event_type").EqualTo(int32(AuctionEvent)).And(col("auction_category").EqualTo(int64(10)))).
				Select(col("auction_id").As("auction"), col("auction_seller").As("seller"))
			return auctions.Join(persons, col("seller").EqualTo(col("id")), "inner").
				Select(col("name"), col("city"), col("state"), col("auction"))
		},
		// The filters in the join's inputs: streaming.Start optimizes a
		// stream-stream join's inputs apart from the plan above it, so a
		// WHERE over the join is not pushed into its sides, and the join
		// would buffer every event of both.
		`SELECT P.name, P.city, P.state, A.auction
FROM (SELECT auction_id AS auction, auction_seller AS seller FROM events
      WHERE event_type = 1 AND auction_category = 10) A
JOIN (SELECT person_id AS id, person_name AS name, person_city AS city, person_state AS state FROM events
      WHERE event_type = 0 AND person_state IN ('OR', 'ID', 'CA')) P
ON A.seller = P.id`,
		func(r arrow.RecordBatch) (func(i int) uint64, error) {
			name, err := strs(r, "name")
			if err != nil {
				return nil, err
			}
			city, err := strs(r, "city")
			if err != nil {
				return nil, err
			}
			state, err := strs(r, "state")
			if err != nil {
				return nil, err
			}
			auction, err := int64s(r, "auction")
			if err != nil {
				return nil, err
			}
			return func(i int) uint64 {
				return hashQ3(Q3Row{Name: name(i), City: city(i), State: state(i), Auction: auction(i)})
			}, nil
		})
}

// q8Start returns the start of the 10 s tumbling window of the timestamp
// (ms) column ts: ts − ts mod 10 s, as a timestamp in µs. (Not in ms: the
// stream-stream join compares a timestamp column's raw values with the
// watermark in µs, so it would evict rows in ms at once.)
func q8Start(ts string) dataframe.Column {
	ms := dataframe.Col(ts).Cast(arrow.PrimitiveTypes.Int64)
	return ms.Minus(ms.Mod(int64(q8Size))).Multiply(int64(1000)).Cast(arrow.FixedWidthTypes.Timestamp_us)
}

// nexmarkQ8Structured is q8: the persons joined with the sellers of the
// auctions on (id, window start), each side's window start computed per
// row by a projection. A seller may open several auctions in a window and
// q8 writes a person once per window, so the auction side is deduplicated
// on (seller, window start) before the join (a deduplication feeding a
// join; Flink's q8 groups the auctions by seller and window instead, but
// an aggregation must be the engine's last stateful operator). In the
// DataFrame variant both sides' window starts carry a watermark (10 s:
// events are ordered, so a window's rows are complete once a row of the
// next window was seen) and the join's equality of the two event-time
// columns bounds them, so the deduplication's keys and the join's rows
// are evicted once their window is over; SQL has no watermark syntax, so
// its state keeps every window.
func nexmarkQ8Structured() *structuredSpec {
	col := dataframe.Col
	return nexmarkAppend(
		func(in *dataframe.DataFrame) *dataframe.DataFrame {
			persons := in.Where(col("event_type").EqualTo(int32(PersonEvent))).
				Select(col("person_id").As("id"), col("person_name").As("name"), q8Start("person_date_time").As("p_start")).
				WithWatermark("p_start", q8Size*time.Millisecond)
			sellers := in.Where(col("event_type").EqualTo(int32(AuctionEvent))).
				Select(col("auction_seller").As("seller"), q8Start("auction_date_time").As("a_start")).
				WithWatermark("a_start", q8Size*time.Millisecond).
				DropDuplicates("seller", "a_start")
			return persons.Join(sellers, col("id").EqualTo(col("seller")).And(col("p_start").EqualTo(col("a_start"))), "inner").
				Select(col("id"), col("name"), col("p_start").As("start"))
		},
		// The window starts in ms, as BIGINT (unix_millis: SQL's CAST of
		// a timestamp to BIGINT is whole seconds, as Spark's).
		`SELECT P.id, P.name, P.start
FROM (SELECT person_id AS id, person_name AS name,
             unix_millis(person_date_time) - unix_millis(person_date_time) % 10000 AS start
      FROM events WHERE event_type = 0) P
JOIN (SELECT DISTINCT auction_seller AS seller,
             unix_millis(auction_date_time) - unix_millis(auction_date_time) % 10000 AS start
      FROM events WHERE event_type = 1) A
ON P.id = A.seller AND P.start = A.start`,
		func(r arrow.RecordBatch) (func(i int) uint64, error) {
			id, err := int64s(r, "id")
			if err != nil {
				return nil, err
			}
			name, err := strs(r, "name")
			if err != nil {
				return nil, err
			}
			start, err := int64s(r, "start")
			if err != nil {
				return nil, err
			}
			return func(i int) uint64 { return hashQ8(Q8Row{ID: id(i), Start: start(i), Name: name(i)}) }, nil
		})
}
