package dataframe

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/connector/kafka"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/plan"
)

// loadKafka is a batch read of Kafka (Read().Format("kafka")): the
// offsets from startingOffsets (default earliest) to endingOffsets
// (default latest), resolved now, one partition per Kafka partition
// range. Options are Spark's (kafka.bootstrap.servers, subscribe, ...;
// see connector/kafka); the columns are key, value, topic, partition,
// offset, timestamp, timestampType (and headers with includeHeaders).
func (r *DataFrameReader) loadKafka() *DataFrame {
	s := r.s
	opts := map[string]string{"startingOffsets": "earliest"}
	for k, v := range r.opts {
		opts[k] = v
	}
	ctx := context.Background()
	src, err := kafka.Provider{}.OpenArrowSource(ctx, opts, kafka.Allocator(s.cfg.alloc))
	if err != nil {
		return s.failed(fmt.Errorf("dataframe.Load: %w", err))
	}
	start, err := src.InitialOffsets(ctx)
	if err == nil {
		var end connector.Offsets
		if end, err = src.EndingOffsets(ctx); err == nil {
			var ranges []connector.OffsetRange
			if ranges, _, err = connector.PlanRanges(start, end, connector.Limits{}); err == nil {
				scan, err := plan.NewScan(&kafkaBatch{src: src, ranges: ranges}, nil, nil)
				if err != nil {
					src.Close()
					return s.failed(err)
				}
				return &DataFrame{s: s, plan: scan}
			}
		}
	}
	src.Close()
	return s.failed(fmt.Errorf("dataframe.Load: kafka: %w", err))
}

// kafkaBatch is a fixed set of Kafka offset ranges read as a table.
type kafkaBatch struct {
	src    *kafka.ArrowSource
	ranges []connector.OffsetRange
}

func (k *kafkaBatch) Schema() *arrow.Schema { return k.src.Schema() }
func (k *kafkaBatch) String() string        { return fmt.Sprintf("%s %v", k.src.Name(), k.ranges) }
func (k *kafkaBatch) NumPartitions() int    { return max(1, len(k.ranges)) }

func (k *kafkaBatch) Read(ctx context.Context, _ memory.Allocator, part int, columns []string, _ []expr.Expr, emit func(arrow.RecordBatch) error) error {
	if part >= len(k.ranges) {
		return nil
	}
	idx, projected, err := projection(k.src.Schema(), columns)
	if err != nil {
		return err
	}
	return k.src.Read(ctx, k.ranges[part], func(bs []arrow.RecordBatch) error {
		for i, b := range bs {
			out := project(b, idx, projected)
			err := emit(out)
			out.Release()
			if out != b {
				b.Release()
			}
			if err != nil {
				for _, rest := range bs[i+1:] {
					rest.Release()
				}
				return err
			}
		}
		return nil
	})
}

// projection returns the indexes and schema of columns in s (nil, nil for
// all columns).
func projection(s *arrow.Schema, columns []string) ([]int, *arrow.Schema, error) {
	if columns == nil {
		return nil, nil, nil
	}
	idx := make([]int, 0, len(columns))
	fields := make([]arrow.Field, 0, len(columns))
	for _, c := range columns {
		i, err := expr.FieldIndex(s, c)
		if err != nil {
			return nil, nil, err
		}
		idx = append(idx, i)
		fields = append(fields, s.Field(i))
	}
	return idx, arrow.NewSchema(fields, nil), nil
}

// project returns b's columns idx as a new batch of schema projected, or
// b itself when idx is nil.
func project(b arrow.RecordBatch, idx []int, projected *arrow.Schema) arrow.RecordBatch {
	if idx == nil {
		return b
	}
	cols := make([]arrow.Array, len(idx))
	for j, k := range idx {
		cols[j] = b.Column(k)
	}
	return array.NewRecordBatch(projected, cols, b.NumRows())
}
