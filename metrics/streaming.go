package metrics

import "time"

// InputInfo is what one input stream contributed to a batch.
type InputInfo struct {
	StreamID int
	Name     string
	// Records is the number of records in the batch from this input, or
	// -1 when the input cannot tell without computing the batch.
	Records int64
	// RateLimit is the input's rate limit (records/s) when the batch was
	// generated, static or set by backpressure; 0 when unlimited.
	RateLimit float64
	// DelayedRecords counts the records of the batch whose storing had to
	// wait for the rate limit or for room in the receiver's buffer.
	DelayedRecords int64
	// Metadata describes the input's part of the batch for people, for
	// example the files read or the blocks received.
	Metadata map[string]string
}

// OutputOperationInfo describes one output operation of a batch.
type OutputOperationInfo struct {
	// ID numbers the output operations of a streaming context in the
	// order they were registered, from 0.
	ID          int
	Name        string // e.g. "ForeachRDD"
	Description string // e.g. "ForeachRDD at main.go:42"
	Start, End  time.Time
	// Err is the operation's failure, nil on success.
	Err error
}

// Duration is how long the operation ran, or 0 when it has not ended.
func (o OutputOperationInfo) Duration() time.Duration {
	if o.End.IsZero() {
		return 0
	}
	return o.End.Sub(o.Start)
}

// BatchInfo describes one batch of a streaming context. Times are on the
// streaming context's clock; a time not reached yet is the zero time.
type BatchInfo struct {
	// BatchTime is the time the batch stands for: it covers the data
	// received in (BatchTime - interval, BatchTime].
	BatchTime time.Time
	// Inputs lists what each input stream contributed, by stream ID.
	Inputs []InputInfo
	// SubmissionTime is when the batch's jobs were queued.
	SubmissionTime time.Time
	// ProcessingStart and ProcessingEnd bound the running of the batch's
	// output operations.
	ProcessingStart time.Time
	ProcessingEnd   time.Time
	// OutputOperations are the batch's output operations, by ID.
	OutputOperations []OutputOperationInfo
}

// NumRecords is the number of records of all inputs (unknown counts are
// left out).
func (b BatchInfo) NumRecords() int64 {
	var n int64
	for _, in := range b.Inputs {
		if in.Records > 0 {
			n += in.Records
		}
	}
	return n
}

// SchedulingDelay is how long the batch waited for earlier batches before
// it started processing, or 0 when it has not started.
func (b BatchInfo) SchedulingDelay() time.Duration {
	if b.ProcessingStart.IsZero() {
		return 0
	}
	return b.ProcessingStart.Sub(b.SubmissionTime)
}

// ProcessingDelay is how long the batch's output operations took, or 0
// when the batch has not completed.
func (b BatchInfo) ProcessingDelay() time.Duration {
	if b.ProcessingEnd.IsZero() {
		return 0
	}
	return b.ProcessingEnd.Sub(b.ProcessingStart)
}

// TotalDelay is the time from the batch time to the end of processing,
// or 0 when the batch has not completed.
func (b BatchInfo) TotalDelay() time.Duration {
	if b.ProcessingEnd.IsZero() {
		return 0
	}
	return b.ProcessingEnd.Sub(b.BatchTime)
}

// Err returns the first failed output operation's error, if any.
func (b BatchInfo) Err() error {
	for _, o := range b.OutputOperations {
		if o.Err != nil {
			return o.Err
		}
	}
	return nil
}

// StreamingStarted reports that a streaming context started.
type StreamingStarted struct {
	Time time.Time
	// BatchInterval is the context's batch interval.
	BatchInterval time.Duration
}

// StreamingStopped reports that a streaming context stopped; Err is what
// stopped it (nil for a requested stop).
type StreamingStopped struct {
	Time time.Time
	Err  error
}

// ReceiverStarted reports that a receiver started receiving.
type ReceiverStarted struct {
	StreamID int
	Name     string
	Time     time.Time
}

// ReceiverError reports an error a receiver ran into. It is not fatal: the
// receiver goes on or restarts.
type ReceiverError struct {
	StreamID int
	Name     string
	Message  string
	Err      error
	Time     time.Time
}

// ReceiverStopped reports that a receiver stopped, for good or before a
// restart (Restarting).
type ReceiverStopped struct {
	StreamID   int
	Name       string
	Restarting bool
	Time       time.Time
}

// BatchSubmitted reports that a batch's jobs were generated and queued.
type BatchSubmitted struct{ Info BatchInfo }

// BatchStarted reports that a batch's first output operation started.
type BatchStarted struct{ Info BatchInfo }

// BatchCompleted reports that all output operations of a batch ended
// (successfully or not: see Info.Err).
type BatchCompleted struct{ Info BatchInfo }

// OutputOperationStarted reports the start of a batch's output operation.
type OutputOperationStarted struct {
	BatchTime time.Time
	Info      OutputOperationInfo
}

// OutputOperationCompleted reports the end of a batch's output operation.
type OutputOperationCompleted struct {
	BatchTime time.Time
	Info      OutputOperationInfo
}

func (e StreamingStarted) EventTime() time.Time         { return e.Time }
func (e StreamingStopped) EventTime() time.Time         { return e.Time }
func (e ReceiverStarted) EventTime() time.Time          { return e.Time }
func (e ReceiverError) EventTime() time.Time            { return e.Time }
func (e ReceiverStopped) EventTime() time.Time          { return e.Time }
func (e BatchSubmitted) EventTime() time.Time           { return e.Info.SubmissionTime }
func (e BatchStarted) EventTime() time.Time             { return e.Info.ProcessingStart }
func (e BatchCompleted) EventTime() time.Time           { return e.Info.ProcessingEnd }
func (e OutputOperationStarted) EventTime() time.Time   { return e.Info.Start }
func (e OutputOperationCompleted) EventTime() time.Time { return e.Info.End }
