package dataframe

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/streaming"
)

// ErrNoSuchTable is wrapped by the error of Session.Table for a name that
// no temporary view has.
var ErrNoSuchTable = errors.New("dataframe: no such table")

// Option configures a Session made by [NewSession].
type Option func(*config)

type config struct {
	alloc       memory.Allocator
	clock       clock.Clock
	exec        exec.Config
	rules       []plan.Rule
	parallelism int
	maxIter     int
	// maxPartitionBytes is the size of the file ranges read as partitions.
	maxPartitionBytes int64
}

// WithAllocator sets the allocator of every Arrow buffer queries make
// while they run. Default: memory.DefaultAllocator (Go's garbage
// collected heap).
func WithAllocator(a memory.Allocator) Option { return func(c *config) { c.alloc = a } }

// WithClock sets the clock current_timestamp() reads, once per query.
// Default: the engine context's clock.
func WithClock(cl clock.Clock) Option { return func(c *config) { c.clock = cl } }

// ShufflePartitions sets the number of partitions after a shuffle
// (aggregations, shuffle joins, deduplication); Spark's
// spark.sql.shuffle.partitions. It must be at least 1. Default: the
// engine's slot count.
func ShufflePartitions(n int) Option { return func(c *config) { c.exec.ShufflePartitions = n } }

// BroadcastRowThreshold sets the largest known row count of a join's
// right side for a broadcast hash join; 0 disables broadcasting.
// Default: 100000.
func BroadcastRowThreshold(rows int64) Option {
	return func(c *config) { c.exec.BroadcastRowThreshold = rows }
}

// BatchRows sets the largest record batch operators emit and
// CreateDataFrame builds. It must be at least 1. Default: 65536.
func BatchRows(n int) Option { return func(c *config) { c.exec.BatchRows = n } }

// DefaultParallelism sets how many partitions CreateDataFrame splits Go
// values into. It must be at least 1. Default: the engine's slot count.
func DefaultParallelism(n int) Option { return func(c *config) { c.parallelism = n } }

// MaxPartitionBytes sets how many bytes of a file one partition reads:
// larger files (that the format can split) are read as several byte
// ranges in parallel. 0 reads every file whole. Default: 128 MiB.
func MaxPartitionBytes(n int64) Option { return func(c *config) { c.maxPartitionBytes = n } }

// OptimizerRules replaces the optimizer's rules (plan.DefaultRules()
// by default); with no rules the optimizer does nothing.
func OptimizerRules(rules ...plan.Rule) Option {
	return func(c *config) { c.rules = append([]plan.Rule{}, rules...) }
}

// Session is the entry point of the DataFrame API: it builds DataFrames
// (from Go values, RDDs, files and temporary views) and runs their
// queries on an engine context. It is safe for concurrent use.
type Session struct {
	ec  *engine.Context
	cfg config
	opt *plan.Optimizer

	mu      sync.Mutex
	views   map[string]plan.Node
	streams *streaming.Manager // created by Streams
	loaded  []*loadedSource    // by ReadStream; Close closes the instances no query took
	closed  bool
}

// Close stops the session's active streaming queries (each closes the
// source instances it read: a socket source's connection, a Kafka
// source's client) and closes the instances ReadStream opened that no
// query took. Each query of a streaming DataFrame from ReadStream reads
// its own instance of the source (the first query the one Load opened),
// so a DataFrame can start query after query, also several at once, until
// Close. Sources given to StreamFrom (a MemoryStream) stay open: they are
// the caller's, and every query reads them. After Close, ReadStream and
// starting a query on its DataFrames fail; batch DataFrames keep working.
// A second Close does nothing.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	loaded, streams := s.loaded, s.streams
	s.loaded = nil
	s.mu.Unlock()
	var errs []error
	if streams != nil {
		for _, q := range streams.Active() {
			if err := q.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("dataframe: Session.Close: stopping query %s: %w", q.ID(), err))
			}
		}
	}
	for _, l := range loaded {
		if err := l.close(); err != nil {
			errs = append(errs, fmt.Errorf("dataframe: Session.Close: closing source %s: %w", l.name, err))
		}
	}
	return errors.Join(errs...)
}

// NewSession returns a session running on ec.
func NewSession(ec *engine.Context, opts ...Option) (*Session, error) {
	if ec == nil {
		return nil, errors.New("dataframe: NewSession needs an engine context")
	}
	cfg := config{alloc: memory.DefaultAllocator, clock: ec.Clock(), rules: plan.DefaultRules(), parallelism: ec.Slots(), maxIter: 10, maxPartitionBytes: 128 << 20}
	cfg.exec.BroadcastRowThreshold = exec.DefaultBroadcastRowThreshold
	cfg.exec.ShufflePartitions = ec.Slots()
	cfg.exec.BatchRows = 65536
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.alloc == nil:
		return nil, errors.New("dataframe: WithAllocator needs a non-nil allocator")
	case cfg.clock == nil:
		return nil, errors.New("dataframe: WithClock needs a non-nil clock")
	case cfg.exec.ShufflePartitions < 1:
		return nil, fmt.Errorf("dataframe: ShufflePartitions must be at least 1, got %d", cfg.exec.ShufflePartitions)
	case cfg.exec.BatchRows < 1:
		return nil, fmt.Errorf("dataframe: BatchRows must be at least 1, got %d", cfg.exec.BatchRows)
	case cfg.exec.BroadcastRowThreshold < 0:
		return nil, fmt.Errorf("dataframe: BroadcastRowThreshold must be at least 0, got %d", cfg.exec.BroadcastRowThreshold)
	case cfg.maxPartitionBytes < 0:
		return nil, fmt.Errorf("dataframe: MaxPartitionBytes must be at least 0, got %d", cfg.maxPartitionBytes)
	case cfg.parallelism < 1:
		return nil, fmt.Errorf("dataframe: DefaultParallelism must be at least 1, got %d", cfg.parallelism)
	}
	return &Session{ec: ec, cfg: cfg, opt: &plan.Optimizer{Rules: cfg.rules, MaxIterations: cfg.maxIter}, views: map[string]plan.Node{}}, nil
}

// Engine returns the engine context the session runs on.
func (s *Session) Engine() *engine.Context { return s.ec }

// Table returns the DataFrame registered under name by
// CreateOrReplaceTempView.
func (s *Session) Table(name string) *DataFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.views[strings.ToLower(name)]
	if !ok {
		names := make([]string, 0, len(s.views))
		for n := range s.views {
			names = append(names, n)
		}
		sort.Strings(names)
		return s.failed(fmt.Errorf("%w: %q; temporary views: %s", ErrNoSuchTable, name, strings.Join(names, ", ")))
	}
	return &DataFrame{s: s, plan: p}
}

// DropTempView removes a temporary view; it reports whether one existed.
// Dropping the table of a memory sink (a streaming query's output) also
// frees its rows.
func (s *Session) DropTempView(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.views[strings.ToLower(name)]
	delete(s.views, strings.ToLower(name))
	if scan, isScan := p.(*plan.Scan); isScan {
		if m, isMem := scan.Source.(*memoryTable); isMem {
			m.sink.Clear()
		}
	}
	return ok
}

func (s *Session) failed(err error) *DataFrame { return &DataFrame{s: s, err: err} }
