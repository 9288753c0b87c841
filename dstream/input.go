package dstream

import (
	"fmt"
	"sync"
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// inputStream is a stream that brings data into the graph. The generator
// asks it for the batch report after computing a batch, and tells it when
// a batch's data may be dropped.
type inputStream interface {
	inputInfo(t time.Time) (metrics.InputInfo, bool)
	clearOld(t time.Time)
}

func (ssc *StreamingContext) addInput(in inputStream) {
	ssc.mu.Lock()
	defer ssc.mu.Unlock()
	ssc.inputs = append(ssc.inputs, in)
}

// Queue is a queue of RDDs feeding a [QueueStream]. It is safe for
// concurrent use: tests and programs may push while the stream runs.
type Queue[T any] struct {
	mu    sync.Mutex
	items []*rdd.RDD[T]
}

// NewQueue returns a queue holding rdds.
func NewQueue[T any](rdds ...*rdd.RDD[T]) *Queue[T] {
	return &Queue[T]{items: append([]*rdd.RDD[T](nil), rdds...)}
}

// Push appends rdds to the queue.
func (q *Queue[T]) Push(rdds ...*rdd.RDD[T]) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, rdds...)
}

// Len returns the number of RDDs waiting in the queue.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// take removes one RDD (oneAtATime) or all of them.
func (q *Queue[T]) take(oneAtATime bool) []*rdd.RDD[T] {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil
	}
	if oneAtATime {
		r := q.items[0]
		q.items = q.items[1:]
		return []*rdd.RDD[T]{r}
	}
	all := q.items
	q.items = nil
	return all
}

// QueueStream returns a stream fed from q, mainly for tests: each batch
// takes the next RDD of the queue (oneAtATime) or the union of all RDDs
// queued since the last batch. A batch that finds the queue empty gets
// defaultRDD, or an empty RDD when defaultRDD is nil. Queue streams are
// not replayable: their batches cannot be recovered after a failure.
func QueueStream[T any](ssc *StreamingContext, q *Queue[T], oneAtATime bool, defaultRDD *rdd.RDD[T]) *DStream[T] {
	var bad error
	if q == nil {
		bad = errNil("queue")
	}
	ec := engineOf(ssc)
	s := newStream(ssc, "QueueStream", intervalOf(ssc), nil, func(t time.Time) (*rdd.RDD[T], error) {
		rs := q.take(oneAtATime)
		switch {
		case len(rs) == 1:
			return rs[0], nil
		case len(rs) > 1:
			return rdd.Union(rs...), nil
		case defaultRDD != nil:
			return defaultRDD, nil
		}
		return rdd.Empty[T](ec), nil
	}, bad)
	return s
}

// ConstantInputStream returns a stream whose every batch is r.
func ConstantInputStream[T any](ssc *StreamingContext, r *rdd.RDD[T]) *DStream[T] {
	var bad error
	if r == nil {
		bad = errNil("rdd")
	}
	return newStream(ssc, "ConstantInputStream", intervalOf(ssc), nil, func(time.Time) (*rdd.RDD[T], error) {
		return r, nil
	}, bad)
}

func engineOf(ssc *StreamingContext) *engine.Context {
	if ssc == nil {
		return nil
	}
	return ssc.ec
}

func intervalOf(ssc *StreamingContext) time.Duration {
	if ssc == nil {
		return 0
	}
	return ssc.interval
}

func errNil(name string) error { return fmt.Errorf("%s must not be nil", name) }
