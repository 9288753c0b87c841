package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/metrics"
)

// ErrClosed is returned by operations on a Context after Close.
var ErrClosed = errors.New("engine: context closed")

// Option configures a Context created by [New].
type Option func(*config)

type config struct {
	slots  int
	clock  clock.Clock
	logger *slog.Logger
	busCap int
}

// Slots sets how many tasks run at once across all jobs of the Context.
// It must be at least 1. Default: runtime.GOMAXPROCS(0).
func Slots(n int) Option { return func(c *config) { c.slots = n } }

// WithClock sets the clock used for event times and durations.
// Default: [clock.System].
func WithClock(c clock.Clock) Option { return func(cfg *config) { cfg.clock = c } }

// WithLogger sets the logger for engine diagnostics. Default: [slog.Default].
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// EventQueueCapacity sets how many undelivered events the Context's bus
// holds before dropping. It must be at least 1.
// Default: [metrics.DefaultQueueCapacity].
func EventQueueCapacity(n int) Option { return func(c *config) { c.busCap = n } }

// Context is one instance of the execution core: its worker slots, its
// shuffle outputs, its block cache and its event bus. It is safe for
// concurrent use; several jobs may run at once and share the slots.
type Context struct {
	cfg   config
	slots chan struct{}
	seed  maphash.Seed
	bus   *metrics.Bus
	cache *BlockCache

	nextID      atomic.Int64 // nodes and shuffles
	nextJobID   atomic.Int64
	nextStageID atomic.Int64
	root        context.Context // cancelled by Close; parent of every job
	cancel      context.CancelFunc
	jobs        sync.WaitGroup
	stopBus     context.CancelFunc
	busDone     chan struct{}
	closeOnce   sync.Once
	closed      atomic.Bool

	mu       sync.Mutex
	shuffles map[int]*shuffleOutput // by shuffle ID
	stages   map[int]*stage         // shuffle map stages by shuffle ID, reused across jobs
}

// New returns a running Context. Close it when done.
func New(opts ...Option) (*Context, error) {
	cfg := config{
		slots:  runtime.GOMAXPROCS(0),
		clock:  clock.System(),
		logger: slog.Default(),
		busCap: metrics.DefaultQueueCapacity,
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.slots < 1:
		return nil, fmt.Errorf("engine: Slots must be at least 1, got %d", cfg.slots)
	case cfg.busCap < 1:
		return nil, fmt.Errorf("engine: EventQueueCapacity must be at least 1, got %d", cfg.busCap)
	case cfg.clock == nil:
		return nil, fmt.Errorf("engine: WithClock needs a non-nil clock")
	case cfg.logger == nil:
		return nil, fmt.Errorf("engine: WithLogger needs a non-nil logger")
	}
	c := &Context{
		cfg:      cfg,
		slots:    make(chan struct{}, cfg.slots),
		seed:     maphash.MakeSeed(),
		bus:      metrics.NewBus(metrics.QueueCapacity(cfg.busCap), metrics.Logger(cfg.logger)),
		cache:    newBlockCache(),
		busDone:  make(chan struct{}),
		shuffles: map[int]*shuffleOutput{},
		stages:   map[int]*stage{},
	}
	c.root, c.cancel = context.WithCancel(context.Background())
	busCtx, stopBus := context.WithCancel(context.Background())
	c.stopBus = stopBus
	go func() {
		defer close(c.busDone)
		_ = c.bus.Run(busCtx)
	}()
	return c, nil
}

// Close cancels running jobs, waits for them to return, delivers the
// events still queued and releases shuffle outputs and cached blocks.
// Later calls return nil; later jobs fail with [ErrClosed].
func (c *Context) Close() error {
	c.closeOnce.Do(func() {
		// Under c.mu, so that beginJob either sees the context closed or
		// registers its job before Wait below starts.
		c.mu.Lock()
		c.closed.Store(true)
		c.mu.Unlock()
		c.cancel()
		c.jobs.Wait()
		c.stopBus()
		<-c.busDone
		c.mu.Lock()
		c.shuffles = map[int]*shuffleOutput{}
		c.stages = map[int]*stage{}
		c.mu.Unlock()
		c.cache.clear()
	})
	return nil
}

// Closed reports whether Close has been called.
func (c *Context) Closed() bool { return c.closed.Load() }

// Slots returns the number of worker slots.
func (c *Context) Slots() int { return c.cfg.slots }

// Clock returns the Context's clock.
func (c *Context) Clock() clock.Clock { return c.cfg.clock }

// Logger returns the Context's logger.
func (c *Context) Logger() *slog.Logger { return c.cfg.logger }

// Bus returns the bus on which the Context posts job, stage and task
// events. Upper layers post their own events on it too.
func (c *Context) Bus() *metrics.Bus { return c.bus }

// Cache returns the block cache for persisted partitions.
func (c *Context) Cache() *BlockCache { return c.cache }

// HashSeed returns the seed that upper layers use with hash/maphash to
// partition keys. It is fixed for the Context's lifetime, so a key always
// lands in the same partition within a run (not across runs).
func (c *Context) HashSeed() maphash.Seed { return c.seed }

// NewID returns a fresh positive ID, unique within the Context, for a
// node or a shuffle.
func (c *Context) NewID() int { return int(c.nextID.Add(1)) }
