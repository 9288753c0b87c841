package exec

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/expr"
)

// Config tunes physical planning and execution.
type Config struct {
	// ShufflePartitions is the number of partitions after a shuffle
	// (aggregation, shuffle join, deduplication). Default: the engine's
	// slot count.
	ShufflePartitions int
	// BroadcastRowThreshold is the largest number of rows the right side
	// of a join may have (when known before running: in-memory data) to
	// be broadcast to every partition of the left side instead of
	// shuffling both sides. 0 disables broadcast joins. Default: 100000.
	BroadcastRowThreshold int64
	// BatchRows is the largest batch operators emit. Default: 65536.
	BatchRows int
}

// Context is one execution of a physical plan: the engine that runs it,
// the allocator for every Arrow buffer it makes, the query's current
// time, and the shuffles and blocks to release when it ends. Make one
// per action with [NewContext]; Close it when the action is done.
type Context struct {
	Engine *engine.Context
	Alloc  memory.Allocator
	// Now is current_timestamp() for the whole query.
	Now time.Time
	Config

	mu       sync.Mutex
	batches  []arrow.RecordBatch // retained by shuffle blocks and build tables
	shuffles []int
	closed   bool
}

// NewContext returns an execution context. alloc nil means
// memory.DefaultAllocator. With Go's allocator (a *memory.GoAllocator, as
// the default is) the context allocates from Go's heap itself, keeping the
// buffers of batch sizes that the execution frees for its next
// allocations (see recycler).
func NewContext(ec *engine.Context, alloc memory.Allocator, now time.Time, cfg Config) (*Context, error) {
	if ec == nil {
		return nil, errors.New("exec: nil engine context")
	}
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	if _, ok := alloc.(*memory.GoAllocator); ok {
		alloc = &recycler{}
	}
	if cfg.ShufflePartitions == 0 {
		cfg.ShufflePartitions = ec.Slots()
	}
	if cfg.ShufflePartitions < 1 {
		return nil, fmt.Errorf("exec: ShufflePartitions must be at least 1, got %d", cfg.ShufflePartitions)
	}
	if cfg.BatchRows == 0 {
		cfg.BatchRows = 65536
	}
	if cfg.BatchRows < 1 {
		return nil, fmt.Errorf("exec: BatchRows must be at least 1, got %d", cfg.BatchRows)
	}
	if cfg.BroadcastRowThreshold < 0 {
		return nil, fmt.Errorf("exec: BroadcastRowThreshold must be at least 0, got %d", cfg.BroadcastRowThreshold)
	}
	return &Context{Engine: ec, Alloc: alloc, Now: now, Config: cfg}, nil
}

// DefaultBroadcastRowThreshold is the default of
// Config.BroadcastRowThreshold.
const DefaultBroadcastRowThreshold = 100000

// evalContext returns an expression evaluation context for a task.
func (c *Context) evalContext(ctx context.Context) *expr.EvalContext {
	return expr.NewEvalContext(ctx, c.Alloc, c.Now)
}

// keep retains b until Close.
func (c *Context) keep(bs ...arrow.RecordBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range bs {
		if b != nil {
			b.Retain()
			c.batches = append(c.batches, b)
		}
	}
}

// newShuffle makes a shuffle dependency whose blocks ([]arrow.RecordBatch
// per bucket) are released, and whose outputs are removed, on Close.
func (c *Context) newShuffle(parent engine.Node, buckets int, write func(ctx context.Context, tc *engine.TaskContext) ([][]arrow.RecordBatch, error)) (*engine.ShuffleDependency, error) {
	dep, err := c.Engine.NewShuffleDependency(parent, buckets, func(ctx context.Context, tc *engine.TaskContext) ([]engine.Block, error) {
		out, err := write(ctx, tc)
		if err != nil {
			for _, bs := range out {
				releaseBatches(bs)
			}
			return nil, err
		}
		blocks := make([]engine.Block, len(out))
		c.mu.Lock()
		for i, bs := range out {
			// The context takes over the references: blocks are released
			// on Close, however often reduce tasks read them.
			c.batches = append(c.batches, bs...)
			n := 0
			for _, b := range bs {
				n += int(b.NumRows())
			}
			tc.AddRecordsWritten(n)
			if len(bs) > 0 {
				blocks[i] = bs
			}
		}
		c.mu.Unlock()
		return blocks, nil
	})
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	c.mu.Lock()
	c.shuffles = append(c.shuffles, dep.ID())
	c.mu.Unlock()
	return dep, nil
}

// readShuffle returns the batches of a bucket from every map task.
func readShuffle(tc *engine.TaskContext, dep *engine.ShuffleDependency, bucket int) ([]arrow.RecordBatch, error) {
	blocks, err := tc.ReadShuffle(dep, bucket)
	if err != nil {
		return nil, err
	}
	var out []arrow.RecordBatch
	for _, b := range blocks {
		if b == nil {
			continue
		}
		bs := b.([]arrow.RecordBatch)
		for _, x := range bs {
			tc.AddRecordsRead(int(x.NumRows()))
		}
		out = append(out, bs...)
	}
	return out, nil
}

// Close removes the execution's shuffles and releases every block it
// kept. Batches handed out by Collect stay valid.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if r, ok := c.Alloc.(*recycler); ok {
		r.close()
	}
	for _, id := range c.shuffles {
		c.Engine.RemoveShuffle(id)
	}
	releaseBatches(c.batches)
	c.batches, c.shuffles = nil, nil
	return nil
}

func releaseBatches(bs []arrow.RecordBatch) {
	for _, b := range bs {
		if b != nil {
			b.Release()
		}
	}
}

// Collect runs op and returns its output batches in partition order. The
// caller releases them.
func (c *Context) Collect(ctx context.Context, op Operator, description string) ([]arrow.RecordBatch, error) {
	parts := make([][]arrow.RecordBatch, op.NumPartitions())
	err := c.Engine.RunJob(ctx, op, nil, description, func(ctx context.Context, tc *engine.TaskContext) error {
		p := tc.Partition()
		err := op.Execute(ctx, tc, p, func(b arrow.RecordBatch) error {
			if b.NumRows() == 0 {
				return nil
			}
			b.Retain()
			parts[p] = append(parts[p], b)
			tc.AddRecordsWritten(int(b.NumRows()))
			return nil
		})
		return err
	})
	var out []arrow.RecordBatch
	for _, p := range parts {
		out = append(out, p...)
	}
	if err != nil {
		releaseBatches(out)
		return nil, err
	}
	return out, nil
}

// Run runs op and calls fn with every output batch of every partition
// (from the task computing it, so possibly concurrently for different
// partitions). The batch is valid during the call only.
func (c *Context) Run(ctx context.Context, op Operator, description string, fn func(ctx context.Context, part int, b arrow.RecordBatch) error) error {
	return c.Engine.RunJob(ctx, op, nil, description, func(ctx context.Context, tc *engine.TaskContext) error {
		p := tc.Partition()
		return op.Execute(ctx, tc, p, func(b arrow.RecordBatch) error {
			tc.AddRecordsWritten(int(b.NumRows()))
			return fn(ctx, p, b)
		})
	})
}

// RunPartitions runs op and calls fn once per partition, from the task
// that computed it, with all of the partition's batches (valid during the
// call only).
func (c *Context) RunPartitions(ctx context.Context, op Operator, description string, fn func(ctx context.Context, part int, batches []arrow.RecordBatch) error) error {
	return c.Engine.RunJob(ctx, op, nil, description, func(ctx context.Context, tc *engine.TaskContext) error {
		p := tc.Partition()
		var bs []arrow.RecordBatch
		defer func() { releaseBatches(bs) }()
		if err := op.Execute(ctx, tc, p, func(b arrow.RecordBatch) error {
			if b.NumRows() > 0 {
				b.Retain()
				bs = append(bs, b)
				tc.AddRecordsWritten(int(b.NumRows()))
			}
			return nil
		}); err != nil {
			return err
		}
		return fn(ctx, p, bs)
	})
}
