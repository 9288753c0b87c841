// Package metrics carries what spate reports about itself: listener events
// (jobs, stages and tasks of the execution core; batches, receivers and
// queries of the streaming layers) and the [Bus] that delivers them to
// listeners.
//
// The package sits at the bottom of spate's layers: it knows no engine,
// RDD, DStream or DataFrame types, so that every layer can publish into it
// and the UI can be built on it alone.
//
// # Delivery
//
// Events are posted without blocking the poster: [Bus.Post] puts the event
// on a bounded queue and one goroutine ([Bus.Run]) delivers queued events to
// every listener in posting order. When the queue is full the event is
// dropped and counted ([Bus.Dropped]), as Spark's listener bus does, so a
// slow listener can delay or lose reports but never stall a job. A listener
// that panics is logged and skipped for that event; the others still get it.
// [Bus.Flush] waits until everything posted before it has been delivered,
// which is what tests use instead of sleeping.
package metrics
