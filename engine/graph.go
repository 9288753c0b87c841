package engine

import (
	"context"
	"fmt"
)

// Block is an opaque partition-sized value moved by the engine: a shuffle
// bucket or a cached partition. Only the layer that made a block knows its
// type.
type Block = any

// Node is how the engine sees one dataset of a lineage graph. A node's
// partitions are computed by the task closures the upper layer passes to
// [Context.RunJob] and [ShuffleDependency.Write]; the engine only uses the
// graph to plan stages.
type Node interface {
	// ID is unique among the nodes of one Context (see [Context.NewID]).
	ID() int
	// NumPartitions is fixed for the lifetime of the node.
	NumPartitions() int
	// Dependencies lists the node's parents.
	Dependencies() []Dependency
	// Name describes the node in stage names and events, for example
	// "ReduceByKey at wordcount.go:31".
	Name() string
}

// Persistable is implemented by nodes whose partitions may be kept in the
// Context's [BlockCache] under the node's ID. When Persisted reports true
// and every partition is cached, the scheduler does not plan the stages
// behind the node. Nodes without it are never treated as cached.
type Persistable interface {
	Persisted() bool
}

// Dependency is an edge from a node to one of its parents: a
// [*NarrowDependency] or a [*ShuffleDependency].
type Dependency interface {
	parent() Node
}

// NarrowDependency says that each partition of the child is computed from
// a bounded set of the parent's partitions inside the same task (map,
// filter, union, coalesce), so no stage boundary is needed.
type NarrowDependency struct {
	Parent Node
}

func (d *NarrowDependency) parent() Node { return d.Parent }

// ShuffleDependency says that the child needs records from every partition
// of the parent, regrouped into NumBuckets buckets. The scheduler runs a
// shuffle map stage over Parent whose tasks call Write.
type ShuffleDependency struct {
	id int
	// Parent is the map side of the shuffle.
	Parent Node
	// NumBuckets is the number of reduce buckets, usually the child's
	// partition count.
	NumBuckets int
	// Write computes map partition tc.Partition of Parent and returns
	// exactly NumBuckets blocks; block b holds the records for bucket b
	// (nil for none).
	Write func(ctx context.Context, tc *TaskContext) ([]Block, error)
	// Prepare, when set, runs before the map stage runs (each time it
	// runs), outside any worker slot. It may run jobs of its own, for
	// example to sample keys for a range partitioner.
	Prepare func(ctx context.Context) error
}

func (d *ShuffleDependency) parent() Node { return d.Parent }

// ID identifies the shuffle within its Context.
func (d *ShuffleDependency) ID() int { return d.id }

// NewShuffleDependency returns a shuffle dependency with a fresh shuffle ID.
// The caller sets Prepare if it needs one.
func (c *Context) NewShuffleDependency(parent Node, numBuckets int, write func(ctx context.Context, tc *TaskContext) ([]Block, error)) (*ShuffleDependency, error) {
	switch {
	case parent == nil:
		return nil, fmt.Errorf("engine: shuffle dependency needs a parent node")
	case numBuckets < 1:
		return nil, fmt.Errorf("engine: shuffle dependency needs at least 1 bucket, got %d", numBuckets)
	case write == nil:
		return nil, fmt.Errorf("engine: shuffle dependency needs a write function")
	}
	return &ShuffleDependency{id: c.NewID(), Parent: parent, NumBuckets: numBuckets, Write: write}, nil
}
