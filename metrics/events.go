package metrics

import "time"

// Event is one report on the listener bus. The concrete types are the
// structs of this package; listeners switch on them.
type Event interface {
	// EventTime is when the reported thing happened, on the clock of
	// whatever posted it.
	EventTime() time.Time
}

// JobStarted reports that the scheduler accepted a job.
type JobStarted struct {
	JobID int
	// Description names the action that started the job, for example
	// "Collect at wordcount.go:31".
	Description string
	// StageIDs lists every stage of the job, parents before children,
	// including stages that will be skipped.
	StageIDs []int
	Time     time.Time
}

// JobEnded reports the end of a job. Err is nil on success.
type JobEnded struct {
	JobID    int
	Time     time.Time
	Duration time.Duration
	Err      error
}

// StageSubmitted reports that a stage's tasks are about to run.
type StageSubmitted struct {
	JobID    int
	StageID  int
	Name     string
	NumTasks int
	Time     time.Time
}

// StageCompleted reports that a stage finished (Err == nil) or failed.
// RecordsRead and RecordsWritten add up the stage's task counts.
type StageCompleted struct {
	JobID          int
	StageID        int
	Name           string
	NumTasks       int
	Time           time.Time
	Duration       time.Duration
	RecordsRead    int64
	RecordsWritten int64
	Err            error
}

// StageSkipped reports a stage of a job that did not run because its
// output was already available (shuffle written or partitions cached).
type StageSkipped struct {
	JobID   int
	StageID int
	Name    string
	Time    time.Time
}

// TaskStarted reports that a task got a worker slot and started.
type TaskStarted struct {
	JobID     int
	StageID   int
	Partition int
	Time      time.Time
}

// TaskEnded reports the end of a task. RecordsRead counts the records the
// task read from its input (a source or a shuffle); RecordsWritten counts
// what it produced (shuffle records or results).
type TaskEnded struct {
	JobID          int
	StageID        int
	Partition      int
	Time           time.Time
	Duration       time.Duration
	RecordsRead    int64
	RecordsWritten int64
	Err            error
}

func (e JobStarted) EventTime() time.Time     { return e.Time }
func (e JobEnded) EventTime() time.Time       { return e.Time }
func (e StageSubmitted) EventTime() time.Time { return e.Time }
func (e StageCompleted) EventTime() time.Time { return e.Time }
func (e StageSkipped) EventTime() time.Time   { return e.Time }
func (e TaskStarted) EventTime() time.Time    { return e.Time }
func (e TaskEnded) EventTime() time.Time      { return e.Time }
