package rdd

import (
	"context"

	"github.com/spate-io/spate/engine"
)

// FromPartitions returns an RDD whose partition i holds partitions[i]. The
// slices are used as they are, not copied, so the caller must not change
// them afterwards. It is how data received outside the engine (for
// example blocks of a streaming receiver) becomes an RDD.
func FromPartitions[T any](ec *engine.Context, partitions [][]T) *RDD[T] {
	return newRDD(ec, "FromPartitions", len(partitions), nil, func(ctx context.Context, tc *engine.TaskContext, part int, yield func([]T) bool) error {
		tc.AddRecordsRead(len(partitions[part]))
		return emit(ctx, partitions[part], yield)
	}, nil)
}
