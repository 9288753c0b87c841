package dstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/metrics"
)

// ContextState is the lifecycle state of a StreamingContext (Spark's
// StreamingContextState).
type ContextState int32

const (
	// Initialized: streams and output operations may be added.
	Initialized ContextState = iota
	// Active: Start was called; the graph is fixed and batches run.
	Active
	// Stopped: Stop was called or a failure stopped the context. It
	// cannot be restarted; create a new one.
	Stopped
)

func (s ContextState) String() string {
	switch s {
	case Initialized:
		return "initialized"
	case Active:
		return "active"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("ContextState(%d)", int32(s))
}

var (
	// ErrStarted is returned when the graph is changed, or Start called,
	// after the context started.
	ErrStarted = errors.New("dstream: the streaming context has already started; add streams and output operations before Start")
	// ErrStopped is returned by operations on a stopped context.
	ErrStopped = errors.New("dstream: the streaming context is stopped; create a new one")
)

// Option configures a StreamingContext.
type Option func(*config)

type config struct {
	clock               clock.Clock
	concurrentJobs      int
	blockInterval       time.Duration
	restartDelay        time.Duration
	logger              *slog.Logger
	services            []Service
	maxRate             float64 // records/s per receiver; 0 = none
	maxRatePerPartition float64 // records/s per partition of offset-based inputs; 0 = none
	maxPending          int
	backpressure        bool
	startRate           float64 // backpressure's rate before the first estimate; 0 = maxRate
	pid                 PIDConfig
	wal                 bool
}

// initialRate is the rate limit receivers start with.
func (c *config) initialRate() float64 {
	if c.backpressure && c.startRate > 0 {
		if c.maxRate > 0 {
			return min(c.startRate, c.maxRate)
		}
		return c.startRate
	}
	return c.maxRate
}

// ReceiverMaxRate limits every receiver to r records per second (Spark's
// spark.streaming.receiver.maxRate): Store waits when a receiver is
// ahead. With backpressure it caps the estimated rate. 0 means no limit.
// Default: 0.
func ReceiverMaxRate(r float64) Option { return func(c *config) { c.maxRate = r } }

// MaxRatePerPartition limits offset-based inputs (TextFileStream now) to
// r records per second per input partition (a file): each batch takes at
// most r × interval of them (at least 1) and leaves the rest to later
// batches (Spark's maxRatePerPartition). 0 means no limit. Default: 0.
func MaxRatePerPartition(r float64) Option { return func(c *config) { c.maxRatePerPartition = r } }

// ReceiverMaxPending bounds the records a receiver holds: stored but not
// yet in a completed batch. Store waits while the bound is reached, so
// memory stays bounded when processing falls behind; a single StoreMany
// larger than the bound passes when nothing else is pending. 0 means no
// bound. Default: 1,000,000.
func ReceiverMaxPending(n int) Option { return func(c *config) { c.maxPending = n } }

// Backpressure turns on rate control: after each batch a PID estimator
// (see [PIDConfig]) computes from the batch's records, processing delay
// and scheduling delay the rate at which the job keeps up, and each
// receiver is limited to it; offset-based inputs (TextFileStream) share
// it among their partitions in progress. Default: off, as in Spark.
func Backpressure(enabled bool) Option { return func(c *config) { c.backpressure = enabled } }

// BackpressureInitialRate sets the rate limit receivers start with under
// backpressure, before the first estimate (Spark's
// spark.streaming.backpressure.initialRate). Default: no limit (or
// ReceiverMaxRate).
func BackpressureInitialRate(r float64) Option { return func(c *config) { c.startRate = r } }

// RateEstimator sets the PID estimator's configuration. Default:
// [DefaultPIDConfig].
func RateEstimator(cfg PIDConfig) Option { return func(c *config) { c.pid = cfg } }

// Service is something that runs alongside a streaming context, such as
// the web UI (package ui): it is started by StreamingContext.Start,
// before the first batch, and stopped when the context stops. It learns
// about the context only from the events on the bus it is given.
type Service interface {
	// Start starts the service; an error makes StreamingContext.Start
	// fail. It must not block.
	Start(bus *metrics.Bus) error
	// Stop stops the service; ctx bounds how long it may take. Errors are
	// logged.
	Stop(ctx context.Context) error
}

// WriteAheadLog turns on the receivers' write-ahead log: every block a
// receiver stores is written to a log in the checkpoint directory
// ("receivedData/<stream name>/") and made durable before a batch counts
// it as received, so that after a crash the batches that were generated
// but not completed are re-run with exactly the data they had, and data
// received but not yet in a batch goes to the first new batch.
// [ReceiverHandle.StoreReliably] returns only once its records are
// durable, so a receiver may acknowledge them to its source afterwards.
// Log segments are deleted once no recovery can need them. It needs a
// checkpoint directory. Default: off (receiver data of unfinished batches
// is lost in a crash, as in Spark without the log).
func WriteAheadLog(enabled bool) Option { return func(c *config) { c.wal = enabled } }

// WithService runs s alongside the context (see [Service]).
func WithService(s Service) Option {
	return func(c *config) { c.services = append(c.services, s) }
}

// WithClock sets the clock that drives batches. Tests pass a
// [clock.Manual] and advance it by hand. Default: the engine context's
// clock.
func WithClock(c clock.Clock) Option { return func(cfg *config) { cfg.clock = c } }

// ConcurrentJobs sets how many output operations run at once. With 1,
// batches run one after another in time order and a slow batch delays the
// next; with more, jobs of later batches may run before earlier ones end.
// Default: 1.
func ConcurrentJobs(n int) Option { return func(c *config) { c.concurrentJobs = n } }

// BlockInterval sets how often receivers cut the data they stored into a
// block; each block becomes a partition of the batch. Default: 200ms.
func BlockInterval(d time.Duration) Option { return func(c *config) { c.blockInterval = d } }

// ReceiverRestartDelay sets how long a receiver that asked to restart
// waits before it starts again. Default: 2s.
func ReceiverRestartDelay(d time.Duration) Option { return func(c *config) { c.restartDelay = d } }

// WithLogger sets the logger. Default: the engine context's logger.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// StreamingContext runs a graph of DStreams: every batch interval it
// generates one job per output operation for that batch time and runs
// the jobs on the engine context. Create it with [NewStreamingContext],
// build streams and output operations, then call Start.
//
// A failing output operation (an error returned or a panic) stops the
// context, as in Spark: [StreamingContext.AwaitTermination] then returns
// that error. Keep output operations that may fail transiently from
// returning errors (retry inside them) if the stream should go on.
type StreamingContext struct {
	ec       *engine.Context
	interval time.Duration
	cfg      config
	clock    clock.Clock
	log      *slog.Logger
	bus      *metrics.Bus

	mu            sync.Mutex
	state         ContextState
	streams       []*streamNode
	inputs        []inputStream
	outputs       []*outputOp
	remember      time.Duration
	checkpointDir string
	zeroTime      time.Time // set by Start; batch k runs at zeroTime + k*interval
	recovered     *metadata // the checkpoint GetOrCreate found, if any
	recoveryCfg   recoveryConfig
	ckpt          *checkpointer // nil without a checkpoint directory

	runCancel context.CancelFunc // cancels the jobs' context on a hard stop
	generator *jobGenerator
	scheduler *jobScheduler
	tracker   *receiverTracker
	wg        sync.WaitGroup // the context's goroutines

	stopOnce sync.Once
	stopErr  error
	done     chan struct{} // closed once stopped
}

// NewStreamingContext returns a context that cuts streams into batches of
// batchInterval and runs them on ec.
func NewStreamingContext(ec *engine.Context, batchInterval time.Duration, opts ...Option) (*StreamingContext, error) {
	if ec == nil {
		return nil, errors.New("dstream.NewStreamingContext: nil engine context")
	}
	cfg := config{clock: ec.Clock(), concurrentJobs: 1, blockInterval: 200 * time.Millisecond, restartDelay: 2 * time.Second, logger: ec.Logger(),
		maxPending: 1_000_000, pid: DefaultPIDConfig}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case batchInterval <= 0:
		return nil, fmt.Errorf("dstream.NewStreamingContext: batch interval must be positive, got %v", batchInterval)
	case cfg.clock == nil:
		return nil, errors.New("dstream.NewStreamingContext: WithClock needs a non-nil clock")
	case cfg.concurrentJobs < 1:
		return nil, fmt.Errorf("dstream.NewStreamingContext: ConcurrentJobs must be at least 1, got %d", cfg.concurrentJobs)
	case cfg.blockInterval <= 0:
		return nil, fmt.Errorf("dstream.NewStreamingContext: BlockInterval must be positive, got %v", cfg.blockInterval)
	case cfg.restartDelay < 0:
		return nil, fmt.Errorf("dstream.NewStreamingContext: ReceiverRestartDelay must not be negative, got %v", cfg.restartDelay)
	case cfg.logger == nil:
		return nil, errors.New("dstream.NewStreamingContext: WithLogger needs a non-nil logger")
	case cfg.maxRate < 0 || math.IsNaN(cfg.maxRate) || math.IsInf(cfg.maxRate, 0):
		return nil, fmt.Errorf("dstream.NewStreamingContext: ReceiverMaxRate must be a finite rate ≥ 0 (0 = no limit), got %v", cfg.maxRate)
	case cfg.maxRatePerPartition < 0 || math.IsNaN(cfg.maxRatePerPartition) || math.IsInf(cfg.maxRatePerPartition, 0):
		return nil, fmt.Errorf("dstream.NewStreamingContext: MaxRatePerPartition must be a finite rate ≥ 0 (0 = no limit), got %v", cfg.maxRatePerPartition)
	case cfg.maxPending < 0:
		return nil, fmt.Errorf("dstream.NewStreamingContext: ReceiverMaxPending must be at least 0 (0 = no bound), got %d", cfg.maxPending)
	case cfg.startRate < 0 || math.IsNaN(cfg.startRate) || math.IsInf(cfg.startRate, 0):
		return nil, fmt.Errorf("dstream.NewStreamingContext: BackpressureInitialRate must be a finite rate ≥ 0, got %v", cfg.startRate)
	}
	if err := cfg.pid.validate(); err != nil {
		return nil, fmt.Errorf("dstream.NewStreamingContext: RateEstimator: %w", err)
	}
	for _, s := range cfg.services {
		if s == nil {
			return nil, errors.New("dstream.NewStreamingContext: WithService needs a non-nil service")
		}
	}
	return &StreamingContext{
		ec: ec, interval: batchInterval, cfg: cfg, clock: cfg.clock, log: cfg.logger, bus: ec.Bus(),
		done: make(chan struct{}),
	}, nil
}

// Engine returns the engine context the streaming context runs on.
func (ssc *StreamingContext) Engine() *engine.Context { return ssc.ec }

// BatchInterval returns the batch interval.
func (ssc *StreamingContext) BatchInterval() time.Duration { return ssc.interval }

// Clock returns the clock that drives batches.
func (ssc *StreamingContext) Clock() clock.Clock { return ssc.clock }

// State returns the lifecycle state.
func (ssc *StreamingContext) State() ContextState {
	ssc.mu.Lock()
	defer ssc.mu.Unlock()
	return ssc.state
}

// AddListener subscribes l to the engine context's bus, on which the
// streaming context posts its events (metrics.StreamingStarted,
// BatchSubmitted, BatchStarted, BatchCompleted, OutputOperationStarted,
// OutputOperationCompleted, ReceiverStarted, ReceiverError,
// ReceiverStopped, StreamingStopped) next to the engine's job events. It
// returns a function that removes the listener.
func (ssc *StreamingContext) AddListener(l metrics.Listener) (remove func()) {
	return ssc.bus.Subscribe(l)
}

// Remember makes every stream keep its generated RDDs for at least d, so
// that [DStream.Slice] and ad-hoc queries can reach back that far. It must
// be called before Start.
func (ssc *StreamingContext) Remember(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("dstream.Remember: duration must be positive, got %v", d)
	}
	ssc.mu.Lock()
	defer ssc.mu.Unlock()
	if err := ssc.checkInitializedLocked(); err != nil {
		return fmt.Errorf("dstream.Remember: %w", err)
	}
	ssc.remember = d
	return nil
}

// Checkpoint sets the directory where the context keeps what it needs to
// recover: the state of stateful streams (UpdateStateByKey, MapWithState,
// ReduceByKeyAndWindowInv and the windows built on it) needs one, and
// Start refuses such a graph without it. The directory is created if
// missing. It must be called before Start.
func (ssc *StreamingContext) Checkpoint(dir string) error {
	if dir == "" {
		return errors.New("dstream.Checkpoint: directory must not be empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dstream.Checkpoint: %w", err)
	}
	ssc.mu.Lock()
	defer ssc.mu.Unlock()
	if err := ssc.checkInitializedLocked(); err != nil {
		return fmt.Errorf("dstream.Checkpoint: %w", err)
	}
	ssc.checkpointDir = dir
	return nil
}

// CheckpointDir returns the directory set with Checkpoint, or "".
func (ssc *StreamingContext) CheckpointDir() string {
	ssc.mu.Lock()
	defer ssc.mu.Unlock()
	return ssc.checkpointDir
}

// prepareCheckpoints checks that the graph's state can be checkpointed
// and that the directory is fit for this run.
func (ssc *StreamingContext) prepareCheckpoints() (*checkpointer, error) {
	c, err := newCheckpointer(ssc)
	if err != nil {
		return nil, err
	}
	for _, s := range c.streams {
		if err := s.checkCodec(); err != nil {
			return nil, fmt.Errorf("the state of %s cannot be checkpointed: %w", s.node(), err)
		}
	}
	for _, in := range c.inputs {
		if cc, ok := in.(interface{ checkCodec() error }); ok {
			if err := cc.checkCodec(); err != nil {
				return nil, fmt.Errorf("the records of %s cannot be written to the write-ahead log: %w", in.inputNode(), err)
			}
		}
	}
	if ssc.recovered == nil {
		seqs, err := c.metaDir.List("metadata")
		if err != nil {
			return nil, err
		}
		if len(seqs) > 0 {
			return nil, fmt.Errorf("%w (%s); resume it with dstream.GetOrCreate, or use an empty directory", ErrCheckpointExists, ssc.checkpointDir)
		}
	}
	return c, nil
}

func (ssc *StreamingContext) checkInitializedLocked() error {
	switch ssc.state {
	case Active:
		return ErrStarted
	case Stopped:
		return ErrStopped
	}
	return nil
}

func (ssc *StreamingContext) addStream(n *streamNode) error {
	ssc.mu.Lock()
	defer ssc.mu.Unlock()
	if err := ssc.checkInitializedLocked(); err != nil {
		return err
	}
	n.id = len(ssc.streams)
	n.ordinal = 1
	for _, o := range ssc.streams {
		if o.op == n.op {
			n.ordinal++
		}
	}
	ssc.streams = append(ssc.streams, n)
	return nil
}

// validate checks the graph before Start, with messages that say how to
// fix it.
func (ssc *StreamingContext) validateLocked() error {
	if len(ssc.outputs) == 0 {
		return errors.New("dstream: no output operations registered, so nothing to run; add one (ForeachRDD, Print, SaveAsTextFiles) before Start")
	}
	if ssc.cfg.wal && ssc.checkpointDir == "" {
		return errors.New("dstream: WriteAheadLog needs a checkpoint directory; call StreamingContext.Checkpoint(dir) before Start")
	}
	for _, o := range ssc.outputs {
		for _, n := range o.stream.ancestors() {
			if n.err != nil {
				return n.err
			}
			if n.slide%ssc.interval != 0 {
				return fmt.Errorf("dstream: %s has slide interval %v, which is not a multiple of the batch interval %v; use a multiple", n.String(), n.slide, ssc.interval)
			}
			if ssc.recovered != nil && n.op == "QueueStream" {
				return fmt.Errorf("dstream: %s cannot be recovered from a checkpoint: a queue's RDDs are not replayable; use a replayable input (TextFileStream, a receiver with WriteAheadLog) or start from an empty checkpoint directory", n)
			}
			if n.needsCheckpoint && ssc.checkpointDir == "" {
				return fmt.Errorf("dstream: %s keeps state from batch to batch and needs a checkpoint directory; call StreamingContext.Checkpoint(dir) before Start", n.String())
			}
		}
	}
	return nil
}

// Start validates the graph and starts receiving and processing: the
// first batch runs at the first multiple of the batch interval after now
// (on the context's clock), the k-th at k intervals later. Start returns
// once the context is running; the graph cannot change afterwards.
func (ssc *StreamingContext) Start() error {
	ssc.mu.Lock()
	defer ssc.mu.Unlock()
	if err := ssc.checkInitializedLocked(); err != nil {
		return fmt.Errorf("dstream.Start: %w", err)
	}
	if ssc.ec.Closed() {
		return fmt.Errorf("dstream.Start: %w", engine.ErrClosed)
	}
	if err := ssc.validateLocked(); err != nil {
		return err
	}
	now := ssc.clock.Now()
	first := truncateUnix(now, ssc.interval).Add(ssc.interval)
	ssc.zeroTime = first.Add(-ssc.interval)
	if ssc.recovered != nil {
		ssc.zeroTime = time.Unix(0, ssc.recovered.ZeroTimeNs)
	}
	for _, o := range ssc.outputs {
		for _, n := range o.stream.ancestors() {
			n.setRemember(max(n.slide, ssc.remember))
		}
	}
	var replay []replayBatch
	if ssc.checkpointDir != "" {
		c, err := ssc.prepareCheckpoints()
		if err != nil {
			return fmt.Errorf("dstream.Start: %w", err)
		}
		if ssc.recovered != nil {
			var until time.Time
			replay, until, err = c.recover(ssc.recovered, ssc.recoveryCfg.fallback)
			if err != nil {
				return fmt.Errorf("dstream.Start: recovering from %s: %w", ssc.checkpointDir, err)
			}
			if next := until.Add(ssc.interval); first.Before(next) {
				first = next
			}
			ssc.log.Info("dstream: recovered from checkpoint", "dir", ssc.checkpointDir, "replayedBatches", len(replay), "next", formatBatchTime(first))
		}
		for _, in := range c.inputs {
			if l, ok := in.(interface{ openLog(*checkpointer) error }); ok {
				if err := l.openLog(c); err != nil {
					return fmt.Errorf("dstream.Start: %w", err)
				}
			}
		}
		if err := c.begin(); err != nil {
			return fmt.Errorf("dstream.Start: %w", err)
		}
		ssc.ckpt = c
		c.start()
	}

	for i, svc := range ssc.cfg.services {
		if err := svc.Start(ssc.bus); err != nil {
			for _, started := range ssc.cfg.services[:i] {
				ssc.stopService(started)
			}
			return fmt.Errorf("dstream.Start: starting %T: %w", svc, err)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithValue(context.Background(), jobContextKey{}, ssc))
	ssc.runCancel = cancel
	ssc.tracker = newReceiverTracker(ssc)
	ssc.scheduler = newJobScheduler(ssc)
	ssc.generator = newJobGenerator(ssc, first, replay)
	ssc.state = Active
	ssc.bus.Post(metrics.StreamingStarted{Time: now, BatchInterval: ssc.interval})
	ssc.tracker.start(runCtx)
	ssc.wg.Add(1 + ssc.cfg.concurrentJobs)
	go func() {
		defer ssc.wg.Done()
		ssc.generator.run(runCtx)
	}()
	for range ssc.cfg.concurrentJobs {
		go func() {
			defer ssc.wg.Done()
			ssc.scheduler.runWorker(runCtx)
		}()
	}
	return nil
}

// Stop stops the context. With graceful false it stops receiving and
// cancels running jobs at once. With graceful true it first stops the
// receivers, lets the next batch take everything they received, and waits
// until all generated batches have been processed; ctx bounds that wait
// (when it ends, Stop falls back to a hard stop and returns ctx.Err()).
// Stop on a context that never started just marks it stopped. Stopping
// twice is a no-op. Stop returns the error that stopped the context, if a
// failure did. Called from an output operation with the context that
// operation was given, Stop returns at once and the context stops in the
// background (waiting would wait for the caller itself).
func (ssc *StreamingContext) Stop(ctx context.Context, graceful bool) error {
	if ctx.Value(jobContextKey{}) == ssc {
		// Called from one of this context's output operations, which Stop
		// would wait for: stop in the background instead.
		go ssc.Stop(context.Background(), graceful)
		return nil
	}
	ssc.mu.Lock()
	state := ssc.state
	if state == Initialized {
		ssc.state = Stopped
		ssc.mu.Unlock()
		ssc.stopOnce.Do(func() { ssc.finish(nil) })
		return nil
	}
	ssc.mu.Unlock()
	var waitErr error
	if state == Active && graceful {
		waitErr = ssc.drain(ctx)
	}
	ssc.shutdown(nil)
	if waitErr != nil {
		return waitErr
	}
	return ssc.terminationErr()
}

// drain stops the receivers and waits until every received record is in
// a generated batch and every generated batch has been processed.
func (ssc *StreamingContext) drain(ctx context.Context) error {
	ssc.tracker.stopReceivers()
	stopped := ssc.generator.drain()
	select {
	case <-stopped:
	case <-ssc.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ssc.scheduler.idle():
		return nil
	case <-ssc.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown stops everything at once, recording err (the first one wins)
// as the reason. It is safe to call from any goroutine and more than once;
// every call returns once the context's goroutines have ended (except
// when called from one of them, which must use stopAsync).
func (ssc *StreamingContext) shutdown(err error) {
	ssc.stopOnce.Do(func() {
		ssc.mu.Lock()
		ssc.state = Stopped
		ssc.stopErr = err
		ssc.mu.Unlock()
		ssc.runCancel()
		ssc.tracker.stopReceivers()
		ssc.wg.Wait()
		ssc.tracker.wait()
		if ssc.ckpt != nil {
			ssc.ckpt.close()
		}
		ssc.finish(err)
	})
	<-ssc.done
}

// stopAsync stops the context because of err, from one of its own
// goroutines, without waiting for them.
func (ssc *StreamingContext) stopAsync(err error) {
	go ssc.shutdown(err)
}

func (ssc *StreamingContext) finish(err error) {
	ssc.bus.Post(metrics.StreamingStopped{Time: ssc.clock.Now(), Err: err})
	ssc.mu.Lock()
	started := ssc.runCancel != nil
	ssc.mu.Unlock()
	if started {
		for _, svc := range ssc.cfg.services {
			ssc.stopService(svc)
		}
	}
	close(ssc.done)
}

// serviceStopTimeout bounds how long a service may take to stop.
const serviceStopTimeout = 5 * time.Second

func (ssc *StreamingContext) stopService(svc Service) {
	ctx, cancel := context.WithTimeout(context.Background(), serviceStopTimeout)
	defer cancel()
	if err := svc.Stop(ctx); err != nil {
		ssc.log.Warn("dstream: stopping a service failed", "service", fmt.Sprintf("%T", svc), "err", err)
	}
}

func (ssc *StreamingContext) terminationErr() error {
	ssc.mu.Lock()
	defer ssc.mu.Unlock()
	return ssc.stopErr
}

// truncateUnix rounds t down to a multiple of d counted from the Unix
// epoch, as Spark aligns batch times. (time.Time.Truncate counts from Go's
// zero time, which puts batches of an interval that does not divide the
// time between the two off the epoch's grid.)
func truncateUnix(t time.Time, d time.Duration) time.Time {
	n, step := t.UnixNano(), int64(d)
	r := n % step
	if r < 0 {
		r += step
	}
	return time.Unix(0, n-r)
}

// jobContextKey marks the contexts given to output operations with the
// StreamingContext running them.
type jobContextKey struct{}

// AwaitTermination blocks until the context stops and returns the error
// that stopped it (nil after a requested Stop), or until ctx is done and
// returns ctx.Err().
func (ssc *StreamingContext) AwaitTermination(ctx context.Context) error {
	select {
	case <-ssc.done:
		return ssc.terminationErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}
