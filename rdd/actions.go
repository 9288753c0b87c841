package rdd

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spate-io/spate/engine"
)

// runJob runs task over the given partitions of r (all when nil) as one
// engine job named after the action and its call site.
func (r *RDD[T]) runJob(ctx context.Context, action string, partitions []int, task func(ctx context.Context, tc *engine.TaskContext, part int) error) error {
	return r.runJobAt(ctx, action, callSite(), partitions, task)
}

// runJobAt is runJob for a job started on behalf of user code at site.
func (r *RDD[T]) runJobAt(ctx context.Context, action, site string, partitions []int, task func(ctx context.Context, tc *engine.TaskContext, part int) error) error {
	if r.err != nil {
		return r.err
	}
	if ctx == nil {
		return fmt.Errorf("rdd.%s: nil context.Context", action)
	}
	err := r.ec.RunJob(ctx, r.node, partitions, action+" at "+site, func(ctx context.Context, tc *engine.TaskContext) error {
		return task(ctx, tc, tc.Partition())
	})
	if err != nil {
		return fmt.Errorf("rdd.%s: %w", action, err)
	}
	return nil
}

// Collect returns all elements of r, partition by partition.
func (r *RDD[T]) Collect(ctx context.Context) ([]T, error) {
	if r == nil {
		return nil, errNilRDD("Collect")
	}
	parts := make([][]T, r.parts)
	err := r.runJob(ctx, "Collect", nil, func(ctx context.Context, tc *engine.TaskContext, part int) error {
		var out []T
		err := r.iterate(ctx, tc, part, func(c []T) bool {
			out = append(out, c...)
			return true
		})
		tc.AddRecordsWritten(len(out))
		parts[part] = out
		return err
	})
	if err != nil {
		return nil, err
	}
	return concat(parts), nil
}

func concat[T any](parts [][]T) []T {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	all := make([]T, 0, n)
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// Count returns the number of elements of r.
func (r *RDD[T]) Count(ctx context.Context) (int, error) {
	if r == nil {
		return 0, errNilRDD("Count")
	}
	counts := make([]int, r.parts)
	err := r.runJob(ctx, "Count", nil, func(ctx context.Context, tc *engine.TaskContext, part int) error {
		return r.iterate(ctx, tc, part, func(c []T) bool {
			counts[part] += len(c)
			return true
		})
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	return total, nil
}

// Reduce merges all elements of r with f, which must be associative and
// commutative. It returns [ErrEmpty] for an RDD without elements.
func (r *RDD[T]) Reduce(ctx context.Context, f func(T, T) T) (T, error) {
	if r == nil {
		var zero T
		return zero, errNilRDD("Reduce")
	}
	var zero T
	if f == nil {
		return zero, errors.New("rdd.Reduce: f must not be nil")
	}
	type partial struct {
		v  T
		ok bool
	}
	parts := make([]partial, r.parts)
	err := r.runJob(ctx, "Reduce", nil, func(ctx context.Context, tc *engine.TaskContext, part int) error {
		p := &parts[part]
		return r.iterate(ctx, tc, part, func(c []T) bool {
			for _, v := range c {
				if p.ok {
					p.v = f(p.v, v)
				} else {
					p.v, p.ok = v, true
				}
			}
			return true
		})
	})
	if err != nil {
		return zero, err
	}
	var acc partial
	for _, p := range parts {
		switch {
		case !p.ok:
		case acc.ok:
			acc.v = f(acc.v, p.v)
		default:
			acc = p
		}
	}
	if !acc.ok {
		return zero, fmt.Errorf("rdd.Reduce: %w", ErrEmpty)
	}
	return acc.v, nil
}

// Fold merges the elements of each partition into zero with f, then the
// partition results into zero with f. zero must be f's identity.
func (r *RDD[T]) Fold(ctx context.Context, zero T, f func(T, T) T) (T, error) {
	if r == nil {
		return zero, errNilRDD("Fold")
	}
	if f == nil {
		return zero, errors.New("rdd.Fold: f must not be nil")
	}
	return aggregate(ctx, "Fold", r, zero, f, f)
}

// Aggregate folds the elements of each partition into zero with seqOp and
// merges the partition results, starting again from zero, with combOp.
// zero is copied by value for each partition: a zero holding a slice or
// map shares its backing storage, so prefer value types or start from nil.
func Aggregate[T, U any](ctx context.Context, r *RDD[T], zero U, seqOp func(U, T) U, combOp func(U, U) U) (U, error) {
	if r == nil {
		return zero, errNilRDD("Aggregate")
	}
	if err := firstNonNil(nilFunc("seqOp", seqOp), nilFunc("combOp", combOp)); err != nil {
		return zero, fmt.Errorf("rdd.Aggregate: %w", err)
	}
	return aggregate(ctx, "Aggregate", r, zero, seqOp, combOp)
}

func aggregate[T, U any](ctx context.Context, action string, r *RDD[T], zero U, seqOp func(U, T) U, combOp func(U, U) U) (U, error) {
	parts := make([]U, r.parts)
	err := r.runJob(ctx, action, nil, func(ctx context.Context, tc *engine.TaskContext, part int) error {
		acc := zero
		err := r.iterate(ctx, tc, part, func(c []T) bool {
			for _, v := range c {
				acc = seqOp(acc, v)
			}
			return true
		})
		parts[part] = acc
		return err
	})
	if err != nil {
		return zero, err
	}
	acc := zero
	for _, p := range parts {
		acc = combOp(acc, p)
	}
	return acc, nil
}

// Take returns the first n elements of r in partition order. It scans one
// partition first and then four times as many per round until it has n,
// so a Take on a large RDD computes only what it needs.
func (r *RDD[T]) Take(ctx context.Context, n int) ([]T, error) {
	if r == nil {
		return nil, errNilRDD("Take")
	}
	if n < 0 {
		return nil, fmt.Errorf("rdd.Take: n must not be negative, got %d", n)
	}
	if r.err != nil {
		return nil, r.err
	}
	if ctx == nil {
		return nil, errors.New("rdd.Take: nil context.Context")
	}
	var out []T
	scanned, try := 0, 1
	for len(out) < n && scanned < r.parts {
		end := min(scanned+try, r.parts)
		ids := make([]int, 0, end-scanned)
		for p := scanned; p < end; p++ {
			ids = append(ids, p)
		}
		got := make([][]T, r.parts)
		want := n - len(out)
		err := r.runJob(ctx, "Take", ids, func(ctx context.Context, tc *engine.TaskContext, part int) error {
			var buf []T
			err := r.iterate(ctx, tc, part, func(c []T) bool {
				buf = append(buf, c[:min(len(c), want-len(buf))]...)
				return len(buf) < want
			})
			got[part] = buf
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, g := range got[scanned:end] {
			out = append(out, g[:min(len(g), n-len(out))]...)
		}
		scanned, try = end, try*4
	}
	return out, nil
}

// First returns the first element of r, or [ErrEmpty].
func (r *RDD[T]) First(ctx context.Context) (T, error) {
	if r == nil {
		var zero T
		return zero, errNilRDD("First")
	}
	var zero T
	xs, err := r.Take(ctx, 1)
	if err != nil {
		return zero, err
	}
	if len(xs) == 0 {
		return zero, fmt.Errorf("rdd.First: %w", ErrEmpty)
	}
	return xs[0], nil
}

// Foreach calls f for every element of r, on the worker goroutines: f may
// run concurrently for different partitions and must be safe for that.
func (r *RDD[T]) Foreach(ctx context.Context, f func(T)) error {
	if r == nil {
		return errNilRDD("Foreach")
	}
	if f == nil {
		return errors.New("rdd.Foreach: f must not be nil")
	}
	return r.runJob(ctx, "Foreach", nil, func(ctx context.Context, tc *engine.TaskContext, part int) error {
		return r.iterate(ctx, tc, part, func(c []T) bool {
			for _, v := range c {
				f(v)
			}
			return true
		})
	})
}

// ForeachPartition calls f once per partition with the partition's
// elements, on the worker goroutines; an error from f fails the job. It
// suits output with a per-partition cost, such as one connection or
// transaction per partition.
func (r *RDD[T]) ForeachPartition(ctx context.Context, f func(ctx context.Context, elems iter.Seq[T]) error) error {
	if r == nil {
		return errNilRDD("ForeachPartition")
	}
	if f == nil {
		return errors.New("rdd.ForeachPartition: f must not be nil")
	}
	return r.runJob(ctx, "ForeachPartition", nil, func(ctx context.Context, tc *engine.TaskContext, part int) error {
		var inErr error
		elems := func(yield func(T) bool) {
			inErr = r.iterate(ctx, tc, part, func(c []T) bool {
				for _, v := range c {
					if !yield(v) {
						return false
					}
				}
				return true
			})
		}
		if err := f(ctx, elems); err != nil {
			return err
		}
		return inErr
	})
}

// CountByKey returns the number of pairs for each key. The counts are
// merged in the caller, so the number of distinct keys must fit in memory.
func CountByKey[K comparable, V any](ctx context.Context, r *RDD[Pair[K, V]]) (map[K]int, error) {
	if r == nil {
		return nil, errNilRDD("CountByKey")
	}
	return countBy(ctx, "CountByKey", r, func(p Pair[K, V]) K { return p.Key })
}

// CountByValue returns the number of occurrences of each distinct element.
// The counts are merged in the caller, so the number of distinct elements
// must fit in memory.
func CountByValue[T comparable](ctx context.Context, r *RDD[T]) (map[T]int, error) {
	if r == nil {
		return nil, errNilRDD("CountByValue")
	}
	return countBy(ctx, "CountByValue", r, func(v T) T { return v })
}

func countBy[T any, K comparable](ctx context.Context, action string, r *RDD[T], key func(T) K) (map[K]int, error) {
	parts := make([]map[K]int, r.parts)
	err := r.runJob(ctx, action, nil, func(ctx context.Context, tc *engine.TaskContext, part int) error {
		m := map[K]int{}
		parts[part] = m
		return r.iterate(ctx, tc, part, func(c []T) bool {
			for _, v := range c {
				m[key(v)]++
			}
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	total := map[K]int{}
	for _, m := range parts {
		for k, n := range m {
			total[k] += n
		}
	}
	return total, nil
}

// SaveAsTextFile writes r as a directory of text files, one per partition
// (part-00000, part-00001, ...), one element per line, formatted as
// fmt.Print formats it, plus an empty _SUCCESS file. The files are written
// into a hidden temporary directory beside path that is renamed to path
// when every task succeeded, so a failed job leaves no partial output.
// path must not exist yet.
func (r *RDD[T]) SaveAsTextFile(ctx context.Context, path string) error {
	if r == nil {
		return errNilRDD("SaveAsTextFile")
	}
	if r.err != nil {
		return r.err
	}
	if path == "" {
		return errors.New("rdd.SaveAsTextFile: path must not be empty")
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("rdd.SaveAsTextFile: %s already exists; choose a new path or remove it", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rdd.SaveAsTextFile: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("rdd.SaveAsTextFile: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(tmp)
		}
	}()
	err = r.runJob(ctx, "SaveAsTextFile", nil, func(ctx context.Context, tc *engine.TaskContext, part int) error {
		return writePartFile(filepath.Join(tmp, fmt.Sprintf("part-%05d", part)), func(w *lineWriter) error {
			return r.iterate(ctx, tc, part, func(c []T) bool {
				for _, v := range c {
					w.writeLine(v)
				}
				tc.AddRecordsWritten(len(c))
				return w.err == nil
			})
		})
	})
	if err != nil {
		return err
	}
	if err := writePartFile(filepath.Join(tmp, "_SUCCESS"), func(*lineWriter) error { return nil }); err != nil {
		return fmt.Errorf("rdd.SaveAsTextFile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rdd.SaveAsTextFile: committing output: %w", err)
	}
	committed = true
	return syncDir(filepath.Dir(path))
}

// formatLine appends v's text form: strings as they are, other values as
// fmt.Print formats them.
func formatLine(buf []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(buf, x...)
	case []byte:
		return append(buf, x...)
	case int:
		return strconv.AppendInt(buf, int64(x), 10)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case fmt.Stringer:
		return append(buf, x.String()...)
	default:
		return fmt.Append(buf, v)
	}
}
