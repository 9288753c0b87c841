package engine

import (
	"fmt"
	"runtime/debug"
)

// TaskContext describes the task being run and collects its metrics. It
// is owned by the task's goroutine and must not be used after the task
// function returns.
type TaskContext struct {
	ctx       *Context
	jobID     int
	stageID   int
	partition int

	recordsRead    int64
	recordsWritten int64
}

// JobID returns the ID of the job the task belongs to.
func (tc *TaskContext) JobID() int { return tc.jobID }

// StageID returns the ID of the task's stage.
func (tc *TaskContext) StageID() int { return tc.stageID }

// Partition returns the partition the task computes: of the stage's final
// node for a result task, of the shuffle's parent for a map task.
func (tc *TaskContext) Partition() int { return tc.partition }

// Engine returns the Context running the task.
func (tc *TaskContext) Engine() *Context { return tc.ctx }

// AddRecordsRead counts n records read from a source or a shuffle.
func (tc *TaskContext) AddRecordsRead(n int) { tc.recordsRead += int64(n) }

// AddRecordsWritten counts n records produced into a shuffle or a result.
func (tc *TaskContext) AddRecordsWritten(n int) { tc.recordsWritten += int64(n) }

// ReadShuffle returns bucket b of every map output of dep, in map-partition
// order. The scheduler runs the map stage before any task that depends on
// it; an error here means the outputs were removed in between.
func (tc *TaskContext) ReadShuffle(dep *ShuffleDependency, bucket int) ([]Block, error) {
	if bucket < 0 || bucket >= dep.NumBuckets {
		return nil, fmt.Errorf("engine: shuffle %d has no bucket %d (it has %d)", dep.id, bucket, dep.NumBuckets)
	}
	tc.ctx.mu.Lock()
	out := tc.ctx.shuffles[dep.id]
	tc.ctx.mu.Unlock()
	if out == nil {
		return nil, fmt.Errorf("engine: shuffle %d (%s) has no output; was it removed while a job needed it?", dep.id, dep.Parent.Name())
	}
	blocks, err := out.bucket(bucket)
	if err != nil {
		return nil, fmt.Errorf("engine: shuffle %d (%s): %w", dep.id, dep.Parent.Name(), err)
	}
	return blocks, nil
}

// TaskPanicError is the error of a task whose function panicked. The job
// fails with it; the process and other jobs go on.
type TaskPanicError struct {
	JobID     int
	StageID   int
	Partition int
	// Value is what the function passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, as runtime/debug.Stack
	// prints it.
	Stack []byte
}

func (e *TaskPanicError) Error() string {
	return fmt.Sprintf("engine: task for partition %d of stage %d (job %d) panicked: %v\n\n%s",
		e.Partition, e.StageID, e.JobID, e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error, so errors.Is and
// errors.As see through the panic.
func (e *TaskPanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// runTaskFunc calls f, turning a panic into a *TaskPanicError.
func runTaskFunc(tc *TaskContext, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &TaskPanicError{JobID: tc.jobID, StageID: tc.stageID, Partition: tc.partition, Value: r, Stack: debug.Stack()}
		}
	}()
	return f()
}
