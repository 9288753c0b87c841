package dstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/rdd"
)

// ErrReceiverStopped is returned by [ReceiverHandle.Store] once the
// receiver has been stopped; the records were not stored.
var ErrReceiverStopped = errors.New("dstream: receiver stopped")

// Receiver brings data from outside into a stream ([ReceiverStream]).
// Its lifecycle, driven by the streaming context:
//
//   - OnStart is called when the context starts (and again after a
//     restart). It must not block: it starts the goroutines that receive
//     data and hand it to h.Store / h.StoreMany, and returns. An error
//     from OnStart is reported and the receiver is restarted after the
//     restart delay.
//   - OnStop is called when the context stops, or before a restart. It
//     must make the receiving goroutines return and wait for them; data
//     stored before OnStop returns is kept. h.Done() is closed just
//     before OnStop is called, for goroutines that select on it.
//
// A receiver reports problems with h.ReportError (not fatal), asks to be
// restarted with h.Restart (for example after losing a connection), or
// stops for good with h.Stop.
type Receiver[T any] interface {
	OnStart(h *ReceiverHandle[T]) error
	OnStop()
}

// ReceiverHandle is a receiver's link to its stream, valid from OnStart
// to the end of the matching OnStop. Its methods are safe for concurrent
// use.
type ReceiverHandle[T any] struct {
	sup  *supervisor[T]
	done chan struct{}
}

// Store adds one record to the stream. The record goes into the block
// being built; every block interval the block is closed, and each batch
// takes the blocks closed since the previous batch.
//
// Store waits while the receiver is over its rate limit or holds as many
// records as allowed (see [ReceiverMaxRate], [Backpressure],
// [ReceiverMaxPending]); a receiver reading from a network source so stops
// reading and holds its sender back. It returns [ErrReceiverStopped],
// without storing, once the receiver is stopped.
func (h *ReceiverHandle[T]) Store(v T) error {
	return h.sup.blocks.add([]T{v}, h.done)
}

// StoreMany adds records to the stream, in order. Under a rate limit the
// records pass in pieces as their time comes; when the receiver stops
// meanwhile, the pieces stored so far stay stored and ErrReceiverStopped
// is returned.
func (h *ReceiverHandle[T]) StoreMany(vs []T) error {
	return h.sup.blocks.add(vs, h.done)
}

// ReportError reports a problem on the listener bus (a
// metrics.ReceiverError event) and in the log. The receiver goes on.
func (h *ReceiverHandle[T]) ReportError(msg string, err error) { h.sup.reportError(msg, err) }

// Restart reports the reason, stops the receiver (OnStop) and starts it
// again (OnStart) after the restart delay. It returns at once.
func (h *ReceiverHandle[T]) Restart(msg string, err error) { h.sup.request(h, supRestart, msg, err) }

// Stop stops the receiver for good; the stream receives nothing more. It
// returns at once.
func (h *ReceiverHandle[T]) Stop(msg string, err error) { h.sup.request(h, supStop, msg, err) }

// Done is closed when the receiver is being stopped or restarted.
func (h *ReceiverHandle[T]) Done() <-chan struct{} { return h.done }

// StreamID returns the ID of the receiver's stream.
func (h *ReceiverHandle[T]) StreamID() int { return h.sup.streamID }

// blockGenerator collects stored records and cuts them into blocks, one
// per block interval of the clock in which records were stored. The
// block a record goes to depends only on the clock's time when it is
// stored, not on when some goroutine gets to cut blocks.
//
// It also applies flow control: a rate limit (static or from
// backpressure) and a bound on the records held for the receiver (stored
// but not yet in a completed batch). Store waits for either, so a
// receiver that reads from a socket stops reading, and the sender is held
// back, instead of memory growing without bound.
type blockGenerator[T any] struct {
	clk        clock.Clock
	interval   time.Duration
	limiter    *rateLimiter
	maxPending int // records; 0 = no bound

	mu       sync.Mutex
	buf      []T
	bufEnd   time.Time // end of the block interval buf belongs to
	blocks   [][]T     // cut, not yet allocated to a batch
	stopped  bool
	inFlight int           // records stored and not yet in a completed batch
	space    chan struct{} // closed (and replaced) when inFlight drops
	delayed  int64         // records held back by flow control since the last allocation
}

// add stores records, waiting for the rate limit and for room under the
// pending bound; done aborts the wait (records stored until then stay
// stored). Under a rate limit a large slice passes in pieces, each when
// its time comes, so that it spreads over the batches as its records
// would have arrived one by one.
func (g *blockGenerator[T]) add(vs []T, done <-chan struct{}) error {
	for len(vs) > 0 {
		n, at := g.limiter.take(len(vs))
		if err := g.addPiece(vs[:n], at, done); err != nil {
			return err
		}
		vs = vs[n:]
	}
	return nil
}

// addPiece stores vs once the clock reaches at (now when zero) and the
// pending bound has room.
func (g *blockGenerator[T]) addPiece(vs []T, at time.Time, done <-chan struct{}) error {
	n := len(vs)
	waited := false
	if !at.IsZero() {
		waited = true
		timer := g.clk.NewTimerAt(at)
		select {
		case <-timer.C():
		case <-done:
			timer.Stop()
			return ErrReceiverStopped
		}
	}
	g.mu.Lock()
	for g.maxPending > 0 && g.inFlight > 0 && g.inFlight+n > g.maxPending && !g.stopped {
		waited = true
		if g.space == nil {
			g.space = make(chan struct{})
		}
		space := g.space
		g.mu.Unlock()
		select {
		case <-space:
		case <-done:
			return ErrReceiverStopped
		}
		g.mu.Lock()
	}
	defer g.mu.Unlock()
	if g.stopped {
		return ErrReceiverStopped
	}
	now := g.clk.Now()
	if len(g.buf) > 0 && !now.Before(g.bufEnd) {
		g.blocks = append(g.blocks, g.buf)
		g.buf = nil
	}
	if len(g.buf) == 0 {
		g.bufEnd = truncateUnix(now, g.interval).Add(g.interval)
	}
	g.buf = append(g.buf, vs...)
	g.inFlight += n
	if waited {
		g.delayed += int64(n)
	}
	return nil
}

// release frees room for n records whose batch completed.
func (g *blockGenerator[T]) release(n int) {
	if n == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight -= n
	if g.space != nil {
		close(g.space)
		g.space = nil
	}
}

// cut closes the current block, if it holds anything.
func (g *blockGenerator[T]) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.buf) > 0 {
		g.blocks = append(g.blocks, g.buf)
		g.buf = nil
	}
}

// takeBlocks closes the current block and returns every closed block and
// how many records flow control delayed since the last call.
func (g *blockGenerator[T]) takeBlocks() ([][]T, int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.buf) > 0 {
		g.blocks = append(g.blocks, g.buf)
		g.buf = nil
	}
	b, d := g.blocks, g.delayed
	g.blocks, g.delayed = nil, 0
	return b, d
}

func (g *blockGenerator[T]) pending() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.buf) > 0 || len(g.blocks) > 0
}

func (g *blockGenerator[T]) setStopped(stopped bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = stopped
}

type supCommand int

const (
	supRestart supCommand = iota
	supStop
)

type supRequest struct {
	from any // the *ReceiverHandle that asked; requests of earlier incarnations are ignored
	cmd  supCommand
	msg  string
	err  error
}

// receiverRunner is what the tracker needs of a supervised receiver.
type receiverRunner interface {
	run(ctx context.Context)
	stop()
	pending() bool
	allocate(t time.Time)
	clearOld(t time.Time)
	batchCompleted(info metrics.BatchInfo)
}

// supervisor runs one receiver: it starts it, restarts it on request and
// stops it. Its run goroutine owns the receiver's lifecycle.
type supervisor[T any] struct {
	ssc      *StreamingContext
	streamID int
	name     string
	receiver Receiver[T]
	blocks   blockGenerator[T]
	stopCh   chan struct{} // closed by stop()
	stopOnce sync.Once
	exited   chan struct{} // closed when run returns

	reqMu    sync.Mutex
	reqs     []supRequest  // restart and stop requests not yet taken by run
	reqReady chan struct{} // (capacity 1) signalled when reqs grows

	rates *rateController // nil without backpressure

	mu        sync.Mutex
	allocated map[int64]allocation[T] // by batch time
}

// allocation is what a receiver contributed to one batch.
type allocation[T any] struct {
	blocks  [][]T
	records int
	delayed int64
}

// request passes a restart or stop request to run. It never blocks, so
// that a receiver may call it from anywhere, OnStart included. Once h's
// incarnation is stopping, the request is moot.
func (s *supervisor[T]) request(h *ReceiverHandle[T], cmd supCommand, msg string, err error) {
	select {
	case <-h.done:
		return
	default:
	}
	s.reqMu.Lock()
	s.reqs = append(s.reqs, supRequest{h, cmd, msg, err})
	s.reqMu.Unlock()
	select {
	case s.reqReady <- struct{}{}:
	default:
	}
}

// takeRequest returns the first pending request of h's incarnation and
// drops the requests of earlier incarnations.
func (s *supervisor[T]) takeRequest(h *ReceiverHandle[T]) (supRequest, bool) {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	for len(s.reqs) > 0 {
		r := s.reqs[0]
		s.reqs = s.reqs[1:]
		if r.from == h {
			return r, true
		}
	}
	return supRequest{}, false
}

func (s *supervisor[T]) reportError(msg string, err error) {
	s.ssc.log.Warn("dstream: receiver error", "receiver", s.name, "msg", msg, "err", err)
	s.ssc.bus.Post(metrics.ReceiverError{StreamID: s.streamID, Name: s.name, Message: msg, Err: err, Time: s.ssc.clock.Now()})
}

// stop asks run to stop the receiver for good and waits until it has.
func (s *supervisor[T]) stop() {
	s.stopOnce.Do(func() { close(s.stopCh) })
	<-s.exited
}

func (s *supervisor[T]) run(ctx context.Context) {
	defer close(s.exited)
	clk := s.ssc.clock
	for {
		h := &ReceiverHandle[T]{sup: s, done: make(chan struct{})}
		s.blocks.setStopped(false)
		err := catchPanic("receiver "+s.name+" OnStart", func() error { return s.receiver.OnStart(h) })
		var req supRequest
		if err != nil {
			req = supRequest{cmd: supRestart, msg: "OnStart failed", err: err}
			close(h.done)
		} else {
			s.ssc.bus.Post(metrics.ReceiverStarted{StreamID: s.streamID, Name: s.name, Time: clk.Now()})
		receiving:
			for {
				select {
				case <-s.reqReady:
					var ok bool
					if req, ok = s.takeRequest(h); !ok {
						continue
					}
					break receiving
				case <-s.stopCh:
					req = supRequest{cmd: supStop, msg: "streaming context stopped"}
					break receiving
				case <-ctx.Done():
					req = supRequest{cmd: supStop, msg: "streaming context stopped"}
					break receiving
				}
			}
			close(h.done)
			_ = catchPanic("receiver "+s.name+" OnStop", func() error { s.receiver.OnStop(); return nil })
		}
		s.blocks.setStopped(true)
		s.blocks.cut()
		restarting := req.cmd == supRestart
		if req.err != nil {
			s.reportError(req.msg, req.err)
		}
		s.ssc.bus.Post(metrics.ReceiverStopped{StreamID: s.streamID, Name: s.name, Restarting: restarting, Time: clk.Now()})
		if !restarting {
			return
		}
		// Wait for the restart delay, unless the receiver is stopped
		// meanwhile (a graceful Stop must not wait for the delay).
		delay := clk.NewTimer(s.ssc.cfg.restartDelay)
		select {
		case <-delay.C():
		case <-s.stopCh:
			delay.Stop()
			return
		case <-ctx.Done():
			delay.Stop()
			return
		}
		select {
		case <-s.stopCh:
			return
		default:
		}
	}
}

func (s *supervisor[T]) pending() bool { return s.blocks.pending() }

func (s *supervisor[T]) allocate(t time.Time) {
	blocks, delayed := s.blocks.takeBlocks()
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	s.mu.Lock()
	s.allocated[t.UnixNano()] = allocation[T]{blocks: blocks, records: n, delayed: delayed}
	s.mu.Unlock()
}

func (s *supervisor[T]) allocationOf(t time.Time) allocation[T] {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allocated[t.UnixNano()]
}

func (s *supervisor[T]) batchCompleted(info metrics.BatchInfo) {
	if s.rates != nil {
		s.rates.batchCompleted(info, s.streamID)
	}
}

func (s *supervisor[T]) clearOld(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A batch's blocks are needed until the batch completed and, for
	// windows, as long as the stream remembers its RDDs; the stream's RDD
	// holds them, so the tracker only keeps them for completed batches.
	released := 0
	for at, a := range s.allocated {
		if at <= t.UnixNano() {
			released += a.records
			delete(s.allocated, at)
		}
	}
	s.blocks.release(released)
}

// receiverTracker supervises all receivers of a context and assigns
// their blocks to batches.
type receiverTracker struct {
	ssc     *StreamingContext
	runners []receiverRunner
	wg      sync.WaitGroup
}

func newReceiverTracker(ssc *StreamingContext) *receiverTracker {
	t := &receiverTracker{ssc: ssc}
	for _, in := range ssc.inputs {
		if r, ok := in.(interface{ runner() receiverRunner }); ok {
			t.runners = append(t.runners, r.runner())
		}
	}
	return t
}

func (t *receiverTracker) start(ctx context.Context) {
	for _, r := range t.runners {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			r.run(ctx)
		}()
	}
}

// stopReceivers stops every receiver and waits until each has stopped, so
// that everything they stored is in closed blocks.
func (t *receiverTracker) stopReceivers() {
	for _, r := range t.runners {
		r.stop()
	}
}

func (t *receiverTracker) wait() { t.wg.Wait() }

// hasPendingData reports whether a receiver holds data not yet assigned
// to a batch.
func (t *receiverTracker) hasPendingData() bool {
	for _, r := range t.runners {
		if r.pending() {
			return true
		}
	}
	return false
}

// batchCompleted passes a completed batch's report to the receivers' rate
// controllers.
func (t *receiverTracker) batchCompleted(info metrics.BatchInfo) {
	for _, r := range t.runners {
		r.batchCompleted(info)
	}
}

// allocateBlocks assigns everything received so far to batch t.
func (t *receiverTracker) allocateBlocks(at time.Time) {
	for _, r := range t.runners {
		r.allocate(at)
	}
}

// receiverStream is the input stream of a receiver: the RDD of a batch has
// one partition per block assigned to the batch.
type receiverStream[T any] struct {
	*DStream[T]
	sup *supervisor[T]
}

func (s *receiverStream[T]) runner() receiverRunner { return s.sup }

func (s *receiverStream[T]) inputInfo(t time.Time) (metrics.InputInfo, bool) {
	a := s.sup.allocationOf(t)
	return metrics.InputInfo{StreamID: s.id, Name: s.sup.name, Records: int64(a.records),
		RateLimit: s.sup.blocks.limiter.currentRate(), DelayedRecords: a.delayed,
		Metadata: map[string]string{"blocks": strconv.Itoa(len(a.blocks))}}, true
}

func (s *receiverStream[T]) clearOld(t time.Time) { s.sup.clearOld(t) }

// ReceiverStream returns a stream fed by a custom receiver. The receiver
// runs in its own goroutines, supervised by the context (see [Receiver]).
// A batch at time t holds the records stored since the previous batch,
// one RDD partition per block.
func ReceiverStream[T any](ssc *StreamingContext, r Receiver[T]) *DStream[T] {
	return receiverStreamNamed(ssc, "ReceiverStream", r)
}

func receiverStreamNamed[T any](ssc *StreamingContext, op string, r Receiver[T]) *DStream[T] {
	var bad error
	if r == nil {
		bad = errNil("receiver")
	}
	rs := &receiverStream[T]{}
	rs.DStream = newStream(ssc, op, intervalOf(ssc), nil, func(t time.Time) (*rdd.RDD[T], error) {
		return rdd.FromPartitions(ssc.ec, rs.sup.allocationOf(t).blocks), nil
	}, bad)
	if rs.err != nil {
		return rs.DStream
	}
	rs.sup = &supervisor[T]{
		ssc: ssc, streamID: rs.id, name: fmt.Sprintf("%s-%d", op, rs.id), receiver: r,
		blocks: blockGenerator[T]{clk: ssc.clock, interval: ssc.cfg.blockInterval, maxPending: ssc.cfg.maxPending,
			limiter: &rateLimiter{clk: ssc.clock, burst: ssc.cfg.blockInterval, rate: ssc.cfg.initialRate()}},
		stopCh: make(chan struct{}), exited: make(chan struct{}), reqReady: make(chan struct{}, 1),
		allocated: map[int64]allocation[T]{},
	}
	if ssc.cfg.backpressure {
		rs.sup.rates = &rateController{estimator: newPIDEstimator(ssc.cfg.pid, ssc.interval), limiter: rs.sup.blocks.limiter, maxRate: ssc.cfg.maxRate}
	}
	ssc.addInput(rs)
	return rs.DStream
}
