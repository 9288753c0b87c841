// Package benchsuite is spate's streaming benchmark suite: the Yahoo
// Streaming Benchmark (YSB) and Nexmark, each query in the DStream API next
// to a hand-written single-threaded Go loop (the baseline) that does the
// same work on the same generated events. `spate bench` runs it; the
// BenchmarkSuite of package bench runs it under `go test -bench`.
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
// black-hole sink; q4 keeps a sum and a count per category.
//
// # Joins
//
// q3 (auction ⋈ person), q4 (auction ⋈ bid) and q8 (person ⋈ auction per
// 10 s window) are incremental inner joins: both sides keyed by the join
// key into one MapWithState, which keeps what it has seen of each key and
// emits every match once, whichever side comes first. q8's state times out
// with its window; q3's and q4's grow with the persons and auctions.
package benchsuite
