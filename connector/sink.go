package connector

import "context"

// BatchSink writes the output of micro-batches, exactly once per batch id.
// B is the batch data type: a slice of Go values for typed streams, Arrow
// record batches for DataFrames (defined by that layer).
//
// Lifecycle and contract:
//   - The engine calls AddBatch once per batch, in increasing batch-id order,
//     from one goroutine per sink instance (a sink partition); ctx covers that
//     one call.
//   - After a failure or restart, the engine may call AddBatch again with a
//     batch id it called before, with the same data. The sink must make the
//     repeat have no visible effect: it records the batch id together with
//     the output (in the same transaction, file commit or metadata log) and
//     skips ids it has already committed.
//   - AddBatch returns nil only when the batch is durable; the engine then
//     writes its commit log entry. Any error fails the batch, which is
//     re-run with the same id.
//   - Close is called once, after the last AddBatch; it does not commit
//     anything that AddBatch did not.
//
// Sinks that cannot detect repeats (at-least-once sinks) say so in their
// documentation and implement AtLeastOnce.
type BatchSink[B any] interface {
	AddBatch(ctx context.Context, batchID int64, data B) error
	Close() error
}

// AtLeastOnce is implemented by sinks that may write a repeated batch twice.
// Engines use it to warn, or to reject an exactly-once configuration.
type AtLeastOnce interface {
	// AtLeastOnce reports whether the sink, as configured, may duplicate
	// output of a re-executed batch.
	AtLeastOnce() bool
}

// LastBatcher is implemented by sinks that can report the last batch id they
// committed, so that an engine can verify its commit log against the sink.
// ok is false if no batch was committed yet.
type LastBatcher interface {
	LastBatchID(ctx context.Context) (id int64, ok bool, err error)
}
