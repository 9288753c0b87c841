package dataframe

import (
	"context"
	"errors"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// cachedSource is a DataFrame's result kept in memory after the first
// action that needs it (Cache). Until then it is its query.
type cachedSource struct {
	df *DataFrame

	mu  sync.Mutex
	rel *plan.LocalRelation
}

func (c *cachedSource) Schema() *arrow.Schema { return c.df.plan.Schema() }
func (c *cachedSource) String() string        { return "InMemoryRelation" }
func (c *cachedSource) NumPartitions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rel != nil {
		return len(c.rel.Partitions)
	}
	return 1
}
func (c *cachedSource) Read(context.Context, memory.Allocator, int, []string, []expr.Expr, func(arrow.RecordBatch) error) error {
	return errors.New("dataframe: a cached DataFrame must be materialised before it is read")
}

// relation computes the cached data on first use.
func (c *cachedSource) relation(ctx context.Context) (*plan.LocalRelation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rel != nil {
		return c.rel, nil
	}
	df := c.df
	p, err := df.optimized(ctx, true)
	if err != nil {
		return nil, err
	}
	ec, err := exec.NewContext(df.s.ec, df.s.cfg.alloc, df.s.cfg.clock.Now(), df.s.cfg.exec)
	if err != nil {
		return nil, err
	}
	defer ec.Close()
	op, err := exec.Plan(ec, p)
	if err != nil {
		return nil, err
	}
	parts := make([][]arrow.RecordBatch, op.NumPartitions())
	err = ec.RunPartitions(ctx, op, "Cache", func(_ context.Context, part int, bs []arrow.RecordBatch) error {
		for _, b := range bs {
			b.Retain()
		}
		parts[part] = bs
		return nil
	})
	if err != nil {
		for _, bs := range parts {
			for _, b := range bs {
				b.Release()
			}
		}
		return nil, err
	}
	rel, err := plan.NewLocalRelation(op.Schema(), parts)
	if err != nil {
		return nil, err
	}
	c.rel = rel
	return rel, nil
}

// unpersist drops the cached data.
func (c *cachedSource) unpersist() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rel == nil {
		return
	}
	for _, p := range c.rel.Partitions {
		for _, b := range p {
			b.Release()
		}
	}
	c.rel = nil
}

// Cache returns a DataFrame with df's rows that keeps them in memory (in
// the session allocator's buffers) once an action has computed them, so
// later actions on it, and on DataFrames built from it, do not recompute
// df. With an allocator other than Go's heap, call Unpersist to give the
// memory back.
func (df *DataFrame) Cache() *DataFrame {
	return df.derive("Cache", func(p plan.Node) (plan.Node, error) {
		return plan.NewScan(&cachedSource{df: &DataFrame{s: df.s, plan: p}}, nil, nil)
	})
}

// Persist is Cache.
func (df *DataFrame) Persist() *DataFrame { return df.Cache() }

// Unpersist drops the data kept by a DataFrame made by Cache; the next
// action computes it again. On other DataFrames it does nothing.
func (df *DataFrame) Unpersist() *DataFrame {
	if df.Err() != nil {
		return df
	}
	if s, ok := df.plan.(*plan.Scan); ok {
		if c, ok := s.Source.(*cachedSource); ok {
			c.unpersist()
		}
	}
	return df
}
