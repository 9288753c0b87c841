package dstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spate-io/spate/rdd"
)

// outputOp is a registered output operation: for every batch time at
// which its stream has an RDD, it makes one job.
type outputOp struct {
	id       int
	name     string
	callSite string
	stream   *streamNode
	// internal marks the operations spate adds to advance state; after a
	// recovery, batches that had completed re-run only these.
	internal bool
	// generateJob builds the batch's job, or returns nil when the stream
	// has no RDD at t.
	generateJob func(t time.Time) (func(ctx context.Context) error, error)
}

func (o *outputOp) description() string { return o.name + " at " + o.callSite }

// register adds an output operation on s. It fails when s could not be
// built or the context is no longer being set up. An output operation on
// a stream that could not be built is still recorded, while the context
// is being set up, so that Start reports the stream's error even when the
// caller ignored it here.
func register[T any](s *DStream[T], name string, run func(ctx context.Context, r *rdd.RDD[T], t time.Time) error) error {
	if s == nil {
		return fmt.Errorf("dstream.%s: %w", name, errNil("stream"))
	}
	ssc := s.ssc
	if ssc == nil {
		return s.err // a stream without a context always has an error
	}
	ssc.mu.Lock()
	defer ssc.mu.Unlock()
	if err := ssc.checkInitializedLocked(); err != nil {
		if s.err != nil {
			return s.err
		}
		return fmt.Errorf("dstream.%s: %w", name, err)
	}
	op := &outputOp{id: len(ssc.outputs), name: name, callSite: callSite(), stream: s.streamNode}
	op.generateJob = func(t time.Time) (func(ctx context.Context) error, error) {
		var r *rdd.RDD[T]
		err := catchPanic("computing "+s.String(), func() error {
			var err error
			r, err = s.getOrCompute(t)
			return err
		})
		if err != nil || r == nil {
			return nil, err
		}
		return func(ctx context.Context) error { return run(ctx, r, t) }, nil
	}
	ssc.outputs = append(ssc.outputs, op)
	return s.err
}

// registerInternal registers an output operation that advances state
// (see outputOp.internal).
func registerInternal[T any](s *DStream[T], name string, run func(ctx context.Context, r *rdd.RDD[T], t time.Time) error) error {
	err := register(s, name, run)
	if s != nil && s.ssc != nil {
		s.ssc.mu.Lock()
		if n := len(s.ssc.outputs); n > 0 && s.ssc.outputs[n-1].stream == s.streamNode {
			s.ssc.outputs[n-1].internal = true
		}
		s.ssc.mu.Unlock()
	}
	return err
}

// ForeachRDD registers an output operation that calls f with the stream's
// RDD and batch time for every batch, from the job scheduler (not from a
// worker task), so f may run actions on the RDD. An error or panic from f
// fails the batch and stops the context.
//
// To write each batch's output exactly once to an external system, make
// the write idempotent by batch time: for example write to a location
// named after t, or record t with the data in one transaction and skip
// batches already recorded. After a restart a batch may be run again.
func (s *DStream[T]) ForeachRDD(f func(ctx context.Context, r *rdd.RDD[T], t time.Time) error) error {
	if f == nil {
		return errors.New("dstream.ForeachRDD: f must not be nil")
	}
	return register(s, "ForeachRDD", f)
}

// Print registers an output operation that prints the first n elements of
// every batch to standard output in Spark's format: a header line with the
// batch time in milliseconds, the elements, and "..." when there are more.
func (s *DStream[T]) Print(n int) error { return s.Fprint(os.Stdout, n) }

// Fprint is [DStream.Print] writing to w.
func (s *DStream[T]) Fprint(w io.Writer, n int) error {
	if n < 1 {
		return fmt.Errorf("dstream.Print: n must be at least 1, got %d", n)
	}
	if w == nil {
		return errors.New("dstream.Print: nil writer")
	}
	return register(s, "Print", func(ctx context.Context, r *rdd.RDD[T], t time.Time) error {
		first, err := r.Take(ctx, n+1)
		if err != nil {
			return err
		}
		out := fmt.Appendf(nil, "-------------------------------------------\nTime: %d ms\n-------------------------------------------\n", t.UnixMilli())
		for i, v := range first {
			if i == n {
				out = append(out, "...\n"...)
				break
			}
			out = fmt.Appendln(out, v)
		}
		out = append(out, '\n')
		_, err = w.Write(out)
		return err
	})
}

// SaveAsTextFiles registers an output operation that saves every batch
// with [rdd.RDD.SaveAsTextFile] into a directory named
// "prefix-TIME_IN_MS.suffix" (".suffix" left out when suffix is empty).
// Each directory appears atomically, when its batch succeeded. A batch
// whose directory already exists (a batch run again after a restart) is
// skipped, which makes the output exactly once per batch time.
func (s *DStream[T]) SaveAsTextFiles(prefix, suffix string) error {
	if prefix == "" {
		return errors.New("dstream.SaveAsTextFiles: prefix must not be empty")
	}
	return register(s, "SaveAsTextFiles", func(ctx context.Context, r *rdd.RDD[T], t time.Time) error {
		dir := BatchDirName(prefix, suffix, t)
		if _, err := os.Stat(dir); err == nil {
			return nil // written by an earlier run of this batch
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		return r.SaveAsTextFile(ctx, dir)
	})
}

// BatchDirName returns the directory name SaveAsTextFiles uses for the
// batch at t.
func BatchDirName(prefix, suffix string, t time.Time) string {
	name := fmt.Sprintf("%s-%d", prefix, t.UnixMilli())
	if suffix != "" {
		name += "." + suffix
	}
	return name
}
