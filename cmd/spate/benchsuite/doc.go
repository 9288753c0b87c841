// Package benchsuite is spate's streaming benchmark suite: the Yahoo
// Streaming Benchmark (YSB) and Nexmark, each query in the DStream API
// and, where the engine can express it, in the DataFrame API (Structured
// Streaming) and SQL, next to a hand-written single-threaded Go loop (the
// baseline) that does the same work on the same generated events. `spate
// bench` runs it; the BenchmarkSuite of package bench runs it under `go
// test -bench`.
//
// # Generators
//
// Events come from deterministic generators ([YSBGenerator],
// [NexmarkGenerator]): event number g (0, 1, 2, ...) is a pure function of
// the seed and g, so any range can be generated again, in any order, on
// any goroutine. [GenSource] exposes a generator as a replayable
// connector.Source with P partitions: offset o of partition p is event
// g = o·P + p, so all partitions move through event time together. Read of
// [from, until) regenerates exactly those events. Unpaced, every event is
// available at once (a throughput run reads them in batches capped by
// dstream.MaxRatePerPartition); paced, event g becomes available at
// start + g/rate, the time that is also its creation time for latency.
//
// # Event time
//
// Every event carries an event time computed from g: start + g/rate (YSB:
// event_time in ms; Nexmark: dateTime). In a paced run that is the wall
// clock time it became available; in a throughput run it advances at a
// nominal rate (Params.EventRate) whatever the processing speed, as
// Nexmark's generator does. The windowed queries (YSB, q5, q7) key their
// state by window start (q5's first stage by auction), aggregate each
// batch locally per input partition, and merge the partial aggregates
// into MapWithState state;
// every batch emits the updated windows, and the sink (an upsert table,
// as YSB's Redis) keeps the latest value of each window, so the sink is at
// any time the result over all events processed so far. There is no
// watermark: the generators produce events in event-time order, and a
// window's state is dropped by MapWithState's timeout once it has had no
// data for longer than the window (converted to batches, plus two), which
// with ordered input happens only after the window has ended.
//
// # Correctness
//
// Each query's result is a canonical set of rows (sorted), summarised as a
// row count and an order-independent 64-bit checksum; the DStream run and
// the baseline must agree exactly. The stateless Nexmark queries (q0–q2)
// and the joins q3 and q8 sum a hash of every output record in a
// black-hole sink; q4 keeps a sum and a count per category; q5 and q7
// hash each window's row.
//
// # DataFrame and SQL variants
//
// The variants are "dstream", "dataframe", "sql" and "handloop" (the
// baseline, which runs whenever an engine variant does, so every result
// is checked). The DataFrame and SQL variants of a query share their
// input and their sink, and run unpaced only (a paced run reports them
// "skipped"): the query reads all the events with an AvailableNow trigger,
// in micro-batches of Params.BatchEvents events, into a foreachBatch sink.
//
//   - YSB reads JSON lines through the engine's streaming JSON file source,
//     so that the engine parses the JSON: the events are written
//     beforehand (not timed) to one directory, one file per batch and
//     partition, stamped in (batch, partition) order, and the source
//     admits one batch's files per trigger (maxFilesPerTrigger =
//     partitions); the engine splits a trigger's files over its slots
//     (connector.SplitRanges), so the files are parsed in parallel. Then:
//     filter event_type = 'view', project, join ad_id → campaign_id with a
//     static (broadcast) DataFrame, count per campaign and
//     Window(event_time, 10 s), in update mode (the DataFrame variant with
//     a 10 s watermark; SQL has no watermark syntax, so its state keeps
//     every window). The sink keeps the latest count per (campaign,
//     window).
//   - Nexmark reads [NexmarkArrowSource] (Session.StreamFrom): the
//     generator's GenSource offsets, each event a row of [NexmarkSchema]
//     (Nexmark's datagen table, flattened); as a
//     streaming.AllocatingSource it builds only the columns the query
//     reads and skips encoding the event types the query's event_type
//     filters rule out (every event is still generated). q0, q1
//     (price × 908: 0.908 exactly, in thousandths) and q2 run in append
//     mode into a black hole hashing every row.
//   - q3 and q8 are stream–stream joins (append mode, the same black
//     hole) whose two sides are two scans of the one source (event_type
//     picks persons or auctions); the two scans share one read per range.
//     q3 is Flink's: the auctions of category 10 ⋈ the persons of OR, ID
//     and CA on seller = id, without time bounds, so the join's state
//     keeps both filtered sides for the whole run. q8 joins the persons
//     with the auctions' sellers on (id, window start), the 10 s window
//     start computed per row by a projection; the sellers are
//     deduplicated per window first (a seller opens several auctions in a
//     window, q8 writes a person once), a deduplication feeding the join.
//     In the DataFrame variant both window starts carry a watermark and
//     the join's equality of them bounds the event times, so the
//     deduplication and the join evict the windows that ended; the SQL
//     variant (no watermark syntax) keeps them all. The SQL texts filter
//     inside the join's inputs: a WHERE over the join stays above it
//     (streaming.Start optimizes a stateful operator's inputs apart from
//     the plan above it), and the join would buffer every event.
//   - q5 and q7 are joins over windowed aggregations (append mode): q5
//     counts the bids per auction and sliding window (10 s, sliding by
//     2 s), takes the highest count per window (an aggregation over the
//     counts) and joins the counts with it on the window end and count >=
//     max; q7 takes the highest price per 10 s window and joins it back to
//     the bids, whose window end is computed per row (the Window bound,
//     expr.WindowBound), on the window end and price = max. The
//     aggregations write each window once, in the batch whose watermark
//     (1 s behind the bids' time) passed its end, and the join matches and
//     evicts it then; the sinks build the DStream variants' Q5Row and
//     Q7State per window. AvailableNow runs no batch without data, so the
//     input ends with two end-of-input marks (endMarkedSource: bids an
//     hour after the last event, released one per batch after the events
//     were committed) that move the watermark past every window, as a
//     bounded source's final watermark in Flink. SQL has no watermark
//     syntax: the SQL variants' view "events" is the input with the
//     watermark applied (structuredSpec.viewWatermark). q5's SQL variant
//     groups the highest count per window by the sliding window's start
//     (SQL's window(ts, size, slide) gives only the start).
//   - q4 is reported "unsupported", with the reason: it averages maxima
//     per auction, which have no window and so never become final (an
//     aggregation feeding another must write each group once).
//   - SQL needs cgo (the PostgreSQL parser); without it the SQL variants
//     are reported "skipped" with sql.ErrNoCgo's message.
//
// # Joins
//
// In the DStream API, q3 (auction ⋈ person), q4 (auction ⋈ bid) and q8
// (person ⋈ auction per 10 s window) are incremental inner joins: both
// sides keyed by the join key into one MapWithState, which keeps what it
// has seen of each key and emits every match once, whichever side comes
// first. q8's state times out with its window; q3's and q4's grow with the
// persons and auctions. The Structured Streaming variants of q3, q5, q7
// and q8 use the engine's stream–stream join (see above).
package benchsuite
