package streaming

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// aggregatePartitions runs input and aggregates each of its partitions in
// the task that computes it (exec.Aggregator): groups and aggs over
// input's rows, the results of schema out, one batch per partition that
// had rows. A group may be in several partitions' results; the merge with
// the state (exec.MergeAggregates) combines them. A task runs once (a
// failure fails the batch), so no partition is aggregated twice.
func aggregatePartitions(ctx context.Context, xc *exec.Context, input plan.Node, groups, aggs []expr.Expr, out *arrow.Schema) ([]arrow.RecordBatch, error) {
	op, err := exec.Plan(xc, input)
	if err != nil {
		return nil, err
	}
	parts := make([]*exec.Aggregator, op.NumPartitions())
	defer func() {
		for _, a := range parts {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i := range parts {
		if parts[i], err = exec.NewAggregator(ctx, xc, op.Schema(), groups, aggs, out); err != nil {
			return nil, err
		}
	}
	err = xc.Run(ctx, op, "streaming aggregation: partial", func(_ context.Context, part int, b arrow.RecordBatch) error {
		return parts[part].Add(b)
	})
	if err != nil {
		return nil, err
	}
	var res []arrow.RecordBatch
	for _, a := range parts {
		b, err := a.Result()
		if err != nil {
			releaseAll(res)
			return nil, err
		}
		if b != nil {
			res = append(res, b)
		}
	}
	return res, nil
}
