package dstream

import (
	"fmt"
	"github.com/spate-io/spate/internal/callsite"
	"runtime/debug"
	"sync"
	"time"

	"github.com/spate-io/spate/rdd"
)

// DStream is a discretized stream: a sequence of RDDs, one for every
// batch time that is a multiple of the stream's slide interval. A DStream
// is defined by its parent streams, its slide interval and a function that
// computes the RDD for a batch time from the parents' RDDs.
//
// Transformations build new DStreams and may only be applied before the
// StreamingContext starts. A mistake in building a stream (a nil function,
// a bad duration) is kept in the stream, inherited by streams derived from
// it, and returned by [DStream.Err], by output operations and by
// [StreamingContext.Start].
type DStream[T any] struct {
	*streamNode
	// compute returns the RDD for a valid batch time, or nil for none.
	compute func(t time.Time) (*rdd.RDD[T], error)
}

// streamNode is the untyped part of a DStream: its place in the graph
// and the cache of generated RDDs.
type streamNode struct {
	ssc      *StreamingContext
	id       int
	op       string // e.g. "Map"
	name     string // set with Name; "" for the derived "op#ordinal"
	ordinal  int    // 1 + the number of earlier streams with the same op
	callSite string // e.g. "main.go:12"
	slide    time.Duration
	parents  []*streamNode
	err      error

	// windowExtra is how much further back than its own remember
	// duration this stream needs its parents' RDDs (a window's length).
	windowExtra time.Duration
	persist     bool
	// needsCheckpoint marks streams that carry state from batch to batch
	// (inverse windows, UpdateStateByKey, MapWithState); Start requires a
	// checkpoint directory for them.
	needsCheckpoint bool
	// checkpointed is set on streams whose state is checkpointed, input
	// on inputs that can replay batches.
	checkpointed    checkpointedStream
	input           recoverableInput
	checkpointEvery time.Duration // 0 = the default
	// stateOf is the stream holding this stream's state, for streams
	// derived from a stateful one (UpdateStateByKey's output): Name and
	// Checkpoint apply to it.
	stateOf *streamNode

	mu        sync.Mutex
	remember  time.Duration           // how long generated RDDs are kept; set at Start
	generated map[int64]rddHandle     // by batch time in Unix nanoseconds
	computing map[int64]chan struct{} // batch times being computed; closed when done
}

// rddHandle is a generated RDD without its element type.
type rddHandle interface {
	Unpersist()
}

type typedRDD[T any] struct{ r *rdd.RDD[T] }

func (h typedRDD[T]) Unpersist() { h.r.Unpersist() }

// Err returns the error made while building this stream or one of its
// ancestors, if any.
func (n *streamNode) Err() error { return n.err }

// SlideInterval returns the interval at which the stream produces RDDs.
func (n *streamNode) SlideInterval() time.Duration { return n.slide }

// Context returns the streaming context the stream belongs to.
func (n *streamNode) Context() *StreamingContext { return n.ssc }

// String describes the stream as "Op at file.go:line".
func (n *streamNode) String() string { return n.op + " at " + n.callSite }

// CheckpointName returns the name under which the stream's state and
// input are checkpointed: the name set with [DStream.Name], or "Op#k" for
// the k-th stream of that operation created in the context (for example
// "UpdateStateByKey#1"). A derived name stays the same as long as the
// program creates the streams of that operation in the same order.
func (n *streamNode) CheckpointName() string {
	if n.name != "" {
		return n.name
	}
	return fmt.Sprintf("%s#%d", n.op, n.ordinal)
}

// Name sets the stream's checkpoint name (see
// [streamNode.CheckpointName]): recovery from a checkpoint matches
// stateful streams and inputs by name, so naming them lets the code
// around them change between runs. Names must be unique in a context and
// may hold letters, digits, '-', '_', '.' and '#'. It returns s.
func (s *DStream[T]) Name(name string) *DStream[T] {
	if s == nil || s.err != nil {
		return s
	}
	if err := checkStreamName(name); err != nil {
		s.err = fmt.Errorf("dstream.Name: %w", err)
		return s
	}
	s.ssc.mu.Lock()
	defer s.ssc.mu.Unlock()
	if err := s.ssc.checkInitializedLocked(); err != nil {
		s.err = fmt.Errorf("dstream.Name: %w", err)
		return s
	}
	for _, o := range s.ssc.streams {
		if o != s.streamNode && o != s.stateOf && o.CheckpointName() == name {
			s.err = fmt.Errorf("dstream.Name: %q is already the name of %s; names must be unique", name, o)
			return s
		}
	}
	s.name = name
	if s.stateOf != nil {
		s.stateOf.name = name
	}
	return s
}

func checkStreamName(name string) error {
	if name == "" || len(name) > 100 || name == "." || name == ".." {
		return fmt.Errorf("name %q must have 1 to 100 characters and not be . or ..", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '#') {
			return fmt.Errorf("name %q may hold only letters, digits, '-', '_', '.' and '#'", name)
		}
	}
	return nil
}

// newStream registers a stream with the context. bad, when not nil, is
// the operation's own construction error.
func newStream[T any](ssc *StreamingContext, op string, slide time.Duration, parents []*streamNode, compute func(time.Time) (*rdd.RDD[T], error), bad error) *DStream[T] {
	n := &streamNode{ssc: ssc, op: op, callSite: callSite(), slide: slide, parents: parents, generated: map[int64]rddHandle{}, computing: map[int64]chan struct{}{}}
	for _, p := range parents {
		if p.err != nil {
			n.err = p.err
			break
		}
		if p.ssc != ssc {
			n.err = fmt.Errorf("dstream.%s: streams of different streaming contexts cannot be combined", op)
		}
	}
	if n.err == nil {
		switch {
		case bad != nil:
			n.err = fmt.Errorf("dstream.%s: %w", op, bad)
		case ssc == nil:
			n.err = fmt.Errorf("dstream.%s: nil streaming context", op)
		default:
			n.err = ssc.addStream(n)
			if n.err != nil {
				n.err = fmt.Errorf("dstream.%s: %w", op, n.err)
			}
		}
	}
	return &DStream[T]{streamNode: n, compute: compute}
}

// derive makes a stream with the parent's slide whose RDD at each time is
// f of the parent's RDD at that time.
func derive[T, U any](op string, parent *DStream[T], f func(r *rdd.RDD[T], t time.Time) *rdd.RDD[U], bad error) *DStream[U] {
	if parent == nil {
		return nilStream[U](op)
	}
	return newStream(parent.ssc, op, parent.slide, []*streamNode{parent.streamNode}, func(t time.Time) (*rdd.RDD[U], error) {
		r, err := parent.getOrCompute(t)
		if err != nil || r == nil {
			return nil, err
		}
		return f(r, t), nil
	}, bad)
}

// nilStream is the stream an operation returns when given a nil stream:
// it carries an error naming the operation.
func nilStream[U any](op string) *DStream[U] {
	return newStream[U](nil, op, 0, nil, nil, errNil("stream"))
}

// isTimeValid reports whether the stream produces an RDD at t.
func (n *streamNode) isTimeValid(t time.Time) bool {
	zero := n.ssc.zeroTime
	return t.After(zero) && t.Sub(zero)%n.slide == 0
}

// getOrCompute returns the stream's RDD for batch time t, computing it
// once and caching it until it falls out of the remember duration. It
// returns nil, nil at times the stream produces nothing.
func (s *DStream[T]) getOrCompute(t time.Time) (*rdd.RDD[T], error) {
	if !s.isTimeValid(t) {
		return nil, nil
	}
	key := t.UnixNano()
	s.mu.Lock()
	for {
		if h, ok := s.generated[key]; ok {
			s.mu.Unlock()
			return h.(typedRDD[T]).r, nil
		}
		busy, ok := s.computing[key]
		if !ok {
			break
		}
		// Another goroutine computes this time (the generator while a
		// ForeachRDD calls Slice): wait for it rather than compute twice,
		// since computing an input stream consumes its input.
		s.mu.Unlock()
		<-busy
		s.mu.Lock()
	}
	done := make(chan struct{})
	s.computing[key] = done
	persist := s.persist
	s.mu.Unlock()

	// The lock is not held while computing: a stream's compute may ask the
	// same stream for another time (a window for the previous window).
	r, err := s.compute(t)
	if err == nil && r != nil && persist {
		r.Persist()
	}
	s.mu.Lock()
	delete(s.computing, key)
	if err == nil && r != nil {
		s.generated[key] = typedRDD[T]{r}
	}
	close(done)
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("dstream: computing %s for batch %s: %w", s.String(), formatBatchTime(t), err)
	}
	return r, nil
}

// clearOld forgets the RDDs generated at or before t - remember (and
// unpersists them when the stream persisted them), as Spark's
// clearMetadata does after each batch. RDDs the stream did not persist are
// left alone: they may be the user's own cached RDDs (ConstantInputStream,
// QueueStream, an RDD returned by a Transform function), still in use.
func (n *streamNode) clearOld(t time.Time) {
	n.mu.Lock()
	cutoff := t.Add(-n.remember).UnixNano()
	for at, h := range n.generated {
		if at <= cutoff {
			if n.persist {
				h.Unpersist()
			}
			delete(n.generated, at)
		}
	}
	n.mu.Unlock()
}

// setRemember raises the remember duration of n and what its parents need.
func (n *streamNode) setRemember(d time.Duration) {
	n.mu.Lock()
	if d <= n.remember {
		n.mu.Unlock()
		return
	}
	n.remember = d
	n.mu.Unlock()
	for _, p := range n.parents {
		p.setRemember(d + n.windowExtra)
	}
}

// ancestors returns n and every stream it depends on.
func (n *streamNode) ancestors() []*streamNode {
	var out []*streamNode
	seen := map[*streamNode]bool{}
	var visit func(x *streamNode)
	visit = func(x *streamNode) {
		if seen[x] {
			return
		}
		seen[x] = true
		out = append(out, x)
		for _, p := range x.parents {
			visit(p)
		}
	}
	visit(n)
	return out
}

// Checkpoint sets how often a stream that keeps state from batch to batch
// (UpdateStateByKey, MapWithState, ReduceByKeyAndWindowInv and the windows
// built on it) writes its state to the checkpoint directory: every
// interval, a positive multiple of the stream's slide interval. Shorter
// intervals cost more writing; longer ones mean more batches to re-run on
// recovery. Default: the smallest multiple of the slide that is at least
// 10 seconds. It returns s; on other streams it has no effect.
func (s *DStream[T]) Checkpoint(interval time.Duration) *DStream[T] {
	if s == nil || s.err != nil {
		return s
	}
	n := s.streamNode
	if s.stateOf != nil {
		n = s.stateOf
	}
	if interval <= 0 || interval%n.slide != 0 {
		s.err = fmt.Errorf("dstream.Checkpoint: interval %v of %s must be a positive multiple of its slide interval %v", interval, s, n.slide)
		return s
	}
	n.mu.Lock()
	n.checkpointEvery = interval
	n.mu.Unlock()
	return s
}

// Persist keeps every RDD the stream generates in the engine's block
// cache until it falls out of the remember duration, so several output
// operations or windows reuse it. It returns s.
func (s *DStream[T]) Persist() *DStream[T] {
	if s != nil && s.err == nil {
		s.mu.Lock()
		s.persist = true
		s.mu.Unlock()
	}
	return s
}

// Slice returns the RDDs the stream generated (or generates now) for the
// batch times in [from, to], in time order. Times are aligned to the
// stream's slide interval. It is for use while the context is active,
// within the remember duration (see [StreamingContext.Remember]).
func (s *DStream[T]) Slice(from, to time.Time) ([]*rdd.RDD[T], error) {
	if s == nil {
		return nil, fmt.Errorf("dstream.Slice: %w", errNil("stream"))
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.ssc.State() != Active {
		return nil, fmt.Errorf("dstream.Slice: the streaming context is %s; Slice needs it active", s.ssc.State())
	}
	if to.Before(from) {
		return nil, fmt.Errorf("dstream.Slice: to (%s) is before from (%s)", formatBatchTime(to), formatBatchTime(from))
	}
	return s.slice(from, to)
}

// slice returns the stream's RDDs for the valid batch times in [from, to].
func (s *DStream[T]) slice(from, to time.Time) ([]*rdd.RDD[T], error) {
	zero := s.ssc.zeroTime
	// First valid time at or after from.
	k := (from.Sub(zero) + s.slide - 1) / s.slide
	var out []*rdd.RDD[T]
	for t := zero.Add(max(k, 1) * s.slide); !t.After(to); t = t.Add(s.slide) {
		r, err := s.getOrCompute(t)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// PanicError is the error of a user function that panicked while a batch
// was generated (a Transform function) or run (a ForeachRDD function).
type PanicError struct {
	// Where names the operation whose function panicked.
	Where string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("dstream: %s panicked: %v\n\n%s", e.Where, e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// catchPanic runs f and turns a panic into a *PanicError.
func catchPanic(where string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Where: where, Value: r, Stack: debug.Stack()}
		}
	}()
	return f()
}

// formatBatchTime prints a batch time as Spark does: milliseconds since
// the Unix epoch.
func formatBatchTime(t time.Time) string { return fmt.Sprintf("%d ms", t.UnixMilli()) }

// callSite returns "file.go:line" of the user code calling into spate.
func callSite() string { return callsite.Outside() }
