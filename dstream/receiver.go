package dstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
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

// StoreReliably adds records like StoreMany and, with [WriteAheadLog],
// returns only once they (and everything stored before them) are durable
// in the log, so the receiver may then acknowledge them to its source:
// after a crash they are replayed, not lost. Without the log it returns
// once they are stored in memory. The records form their own block.
func (h *ReceiverHandle[T]) StoreReliably(vs []T) error {
	if err := h.sup.blocks.add(vs, h.done); err != nil {
		return err
	}
	if err := h.sup.blocks.sync(); err != nil {
		h.sup.ssc.stopAsync(fmt.Errorf("dstream: receiver %s: %w", h.sup.name, err))
		return err
	}
	return nil
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

	// wal, when set, logs every block before it is allocated; codec
	// encodes blocks for it.
	wal   *writeAheadLog
	codec sliceCodec[T]

	mu       sync.Mutex
	buf      []T
	bufEnd   time.Time // end of the block interval buf belongs to
	blocks   [][]T     // cut, not yet allocated to a batch
	seqs     []uint64  // blocks' sequence numbers in the log; 0 = not logged yet
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
		g.closeBufLocked()
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

// closeBufLocked closes the current block, if it holds anything.
func (g *blockGenerator[T]) closeBufLocked() {
	if len(g.buf) > 0 {
		g.blocks = append(g.blocks, g.buf)
		g.seqs = append(g.seqs, 0)
		g.buf = nil
	}
}

// cut closes the current block, if it holds anything.
func (g *blockGenerator[T]) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closeBufLocked()
}

// logLocked writes the blocks not yet in the write-ahead log to it.
func (g *blockGenerator[T]) logLocked() error {
	if g.wal == nil {
		return nil
	}
	for i, b := range g.blocks {
		if g.seqs[i] != 0 {
			continue
		}
		payload, err := g.codec.encode(b)
		if err != nil {
			return fmt.Errorf("encoding a block for the write-ahead log: %w", err)
		}
		if g.seqs[i], err = g.wal.append(payload); err != nil {
			return err
		}
	}
	return nil
}

// takeBlocks closes the current block, logs the blocks, and returns every
// closed block, the range of their sequence numbers in the log (0, 0
// without one) and how many records flow control delayed since the last
// call.
func (g *blockGenerator[T]) takeBlocks() (blocks [][]T, from, to uint64, delayed int64, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closeBufLocked()
	if err := g.logLocked(); err != nil {
		return nil, 0, 0, 0, err
	}
	if len(g.seqs) > 0 {
		from, to = g.seqs[0], g.seqs[len(g.seqs)-1]
	}
	b, d := g.blocks, g.delayed
	g.blocks, g.seqs, g.delayed = nil, nil, 0
	return b, from, to, d, nil
}

// sync closes the current block and logs every block, so that what was
// stored so far is durable.
func (g *blockGenerator[T]) sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closeBufLocked()
	return g.logLocked()
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
	allocate(t time.Time) error
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

	// For checkpoints: what batches took, not yet recorded; the newest
	// block allocated; the newest block of each batch (to delete log
	// segments); after a recovery, what earlier batches took.
	unrecorded  map[int64]receiverRecord
	allocThru   uint64
	batchThru   map[int64]uint64
	replay      map[int64]receiverRecord
	replayUntil int64
}

// receiverRecord is what one batch of a receiver stream took: blocks
// [From, To] of the write-ahead log (none without it) and the number of
// records.
type receiverRecord struct {
	From    uint64 `json:"from,omitempty"`
	To      uint64 `json:"to,omitempty"`
	Records int    `json:"records"`
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

func (s *supervisor[T]) allocate(t time.Time) error {
	blocks, from, to, delayed, err := s.blocks.takeBlocks()
	if err != nil {
		return fmt.Errorf("receiver %s: %w", s.name, err)
	}
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	s.mu.Lock()
	s.allocated[t.UnixNano()] = allocation[T]{blocks: blocks, records: n, delayed: delayed}
	s.unrecorded[t.UnixNano()] = receiverRecord{From: from, To: to, Records: n}
	if to > 0 {
		s.allocThru = to
		s.batchThru[t.UnixNano()] = to
	}
	s.mu.Unlock()
	return nil
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
func (t *receiverTracker) allocateBlocks(at time.Time) error {
	for _, r := range t.runners {
		if err := r.allocate(at); err != nil {
			return err
		}
	}
	return nil
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
func ReceiverStream[T any](ssc *StreamingContext, r Receiver[T], opts ...ReceiverOption[T]) *DStream[T] {
	return receiverStreamNamed(ssc, "ReceiverStream", r, opts...)
}

// ReceiverOption configures a ReceiverStream.
type ReceiverOption[T any] func(*receiverConfig[T])

type receiverConfig[T any] struct {
	codec Codec[T]
}

// LogCodec sets the codec that writes the stream's records to the
// write-ahead log. Default: see [Codec].
func LogCodec[T any](c Codec[T]) ReceiverOption[T] {
	return func(rc *receiverConfig[T]) { rc.codec = c }
}

func receiverStreamNamed[T any](ssc *StreamingContext, op string, r Receiver[T], opts ...ReceiverOption[T]) *DStream[T] {
	var cfg receiverConfig[T]
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	var bad error
	if r == nil {
		bad = errNil("receiver")
	}
	rs := &receiverStream[T]{}
	rs.DStream = newStream(ssc, op, intervalOf(ssc), nil, func(t time.Time) (*rdd.RDD[T], error) {
		if rec, ok := rs.sup.replayed(t); ok {
			blocks, err := rs.sup.replayBlocks(t, rec)
			if err != nil {
				return nil, err
			}
			return rdd.FromPartitions(ssc.ec, blocks), nil
		}
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
		allocated: map[int64]allocation[T]{}, unrecorded: map[int64]receiverRecord{}, batchThru: map[int64]uint64{},
		replayUntil: math.MinInt64,
	}
	rs.sup.blocks.codec = codecFor(cfg.codec)
	rs.input = rs
	if ssc.cfg.backpressure {
		rs.sup.rates = &rateController{estimator: newPIDEstimator(ssc.cfg.pid, ssc.interval), limiter: rs.sup.blocks.limiter, maxRate: ssc.cfg.maxRate}
	}
	ssc.addInput(rs)
	return rs.DStream
}

func (s *receiverStream[T]) inputNode() *streamNode { return s.streamNode }

func (s *receiverStream[T]) checkCodec() error {
	if !s.ssc.cfg.wal {
		return nil
	}
	return s.sup.blocks.codec.check()
}

func (s *receiverStream[T]) takeRecords() (map[int64]json.RawMessage, error) {
	sup := s.sup
	sup.mu.Lock()
	defer sup.mu.Unlock()
	out := make(map[int64]json.RawMessage, len(sup.unrecorded))
	for t, r := range sup.unrecorded {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		out[t] = b
	}
	clear(sup.unrecorded)
	return out, nil
}

// receiverProgress is a receiver stream's position across batches.
type receiverProgress struct {
	AllocatedThrough uint64 `json:"allocatedThrough"`
}

func (s *receiverStream[T]) progress() (json.RawMessage, error) {
	s.sup.mu.Lock()
	defer s.sup.mu.Unlock()
	return json.Marshal(receiverProgress{s.sup.allocThru})
}

// openLog opens the stream's write-ahead log, when the context has one.
func (s *receiverStream[T]) openLog(c *checkpointer) error {
	if !s.ssc.cfg.wal || s.sup.blocks.wal != nil {
		return nil
	}
	l, err := openWAL(filepath.Join(c.dir, "receivedData", s.CheckpointName()))
	if err != nil {
		return err
	}
	s.sup.blocks.wal = l
	return nil
}

func (s *receiverStream[T]) closeLog() {
	if l := s.sup.blocks.wal; l != nil {
		if err := l.close(); err != nil {
			s.ssc.log.Warn("dstream: closing the write-ahead log failed", "receiver", s.sup.name, "err", err)
		}
	}
}

// restore re-queues the logged blocks no batch took and remembers what
// earlier batches took, to replay them.
func (s *receiverStream[T]) restore(c *checkpointer, progress json.RawMessage, records map[int64]json.RawMessage, until time.Time) error {
	sup := s.sup
	var p receiverProgress
	if len(progress) > 0 {
		if err := json.Unmarshal(progress, &p); err != nil {
			return fmt.Errorf("progress: %w", err)
		}
	}
	replay := make(map[int64]receiverRecord, len(records))
	for t, raw := range records {
		var r receiverRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("batch %s: %w", formatBatchTime(time.Unix(0, t)), err)
		}
		replay[t] = r
	}
	if err := s.openLog(c); err != nil {
		return err
	}
	g := &sup.blocks
	if g.wal != nil {
		for _, seq := range g.wal.unallocated(p.AllocatedThrough) {
			b, err := s.readBlock(seq)
			if err != nil {
				return err
			}
			g.mu.Lock()
			g.blocks = append(g.blocks, b)
			g.seqs = append(g.seqs, seq)
			g.inFlight += len(b)
			g.mu.Unlock()
		}
	}
	sup.mu.Lock()
	sup.allocThru = p.AllocatedThrough
	sup.replay = replay
	sup.replayUntil = until.UnixNano()
	for t, r := range replay {
		if r.To > 0 {
			sup.batchThru[t] = r.To
		}
	}
	sup.mu.Unlock()
	return nil
}

func (s *receiverStream[T]) readBlock(seq uint64) ([]T, error) {
	payload, err := s.sup.blocks.wal.read(seq)
	if err != nil {
		return nil, err
	}
	b, err := s.sup.blocks.codec.decode(payload)
	if err != nil {
		return nil, fmt.Errorf("write-ahead log of %s: decoding block %d: %w", s.sup.name, seq, err)
	}
	return b, nil
}

// forget deletes the log segments that only batches at or before t need.
func (s *receiverStream[T]) forget(t time.Time) {
	sup := s.sup
	sup.mu.Lock()
	var thru uint64
	for at, to := range sup.batchThru {
		if at <= t.UnixNano() {
			thru = max(thru, to)
			delete(sup.batchThru, at)
		}
	}
	for at := range sup.replay {
		if at <= t.UnixNano() {
			delete(sup.replay, at)
		}
	}
	sup.mu.Unlock()
	if thru > 0 && sup.blocks.wal != nil {
		sup.blocks.wal.deleteThrough(thru)
	}
}

// replayed returns the record of batch t when t was generated before a
// recovery: such a batch takes what it took then, never new blocks.
func (s *supervisor[T]) replayed(t time.Time) (receiverRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.UnixNano() > s.replayUntil {
		return receiverRecord{}, false
	}
	return s.replay[t.UnixNano()], true
}

// replayBlocks reads batch t's blocks back from the write-ahead log.
// Without the log they are gone: the batch runs without them and the loss
// is logged.
func (s *supervisor[T]) replayBlocks(t time.Time, r receiverRecord) ([][]T, error) {
	var blocks [][]T
	n := 0
	switch {
	case r.To > 0 && s.blocks.wal != nil:
		for seq := r.From; seq <= r.To; seq++ {
			payload, err := s.blocks.wal.read(seq)
			if err != nil {
				return nil, fmt.Errorf("replaying batch %s of %s: %w", formatBatchTime(t), s.name, err)
			}
			b, err := s.blocks.codec.decode(payload)
			if err != nil {
				return nil, fmt.Errorf("replaying batch %s of %s: decoding block %d: %w", formatBatchTime(t), s.name, seq, err)
			}
			blocks = append(blocks, b)
			n += len(b)
		}
	case r.Records > 0:
		s.ssc.log.Warn("dstream: records received before the failure are lost; enable WriteAheadLog to keep them", "receiver", s.name, "batch", formatBatchTime(t), "records", r.Records)
	}
	s.blocks.mu.Lock()
	s.blocks.inFlight += n
	s.blocks.mu.Unlock()
	s.mu.Lock()
	s.allocated[t.UnixNano()] = allocation[T]{blocks: blocks, records: n}
	s.mu.Unlock()
	return blocks, nil
}
