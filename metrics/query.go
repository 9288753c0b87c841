package metrics

import "time"

// QueryProgress describes one micro-batch of a Structured Streaming query,
// with the fields of Spark's StreamingQueryProgress (and its JSON names).
type QueryProgress struct {
	ID        string    `json:"id"`
	RunID     string    `json:"runId"`
	Name      string    `json:"name"`
	Timestamp time.Time `json:"timestamp"`
	BatchID   int64     `json:"batchId"`
	// NumInputRows is the rows read by the batch.
	NumInputRows int64 `json:"numInputRows"`
	// InputRowsPerSecond is NumInputRows over the time since the previous
	// batch started; ProcessedRowsPerSecond over this batch's duration.
	InputRowsPerSecond     float64 `json:"inputRowsPerSecond"`
	ProcessedRowsPerSecond float64 `json:"processedRowsPerSecond"`
	// DurationMs holds the time of each phase: getOffset, walCommit,
	// queryPlanning, addBatch, commitOffsets, triggerExecution.
	DurationMs map[string]int64 `json:"durationMs"`
	// EventTime holds min, max, avg and watermark (RFC 3339) when the
	// query has event time.
	EventTime      map[string]string     `json:"eventTime,omitempty"`
	StateOperators []StateOperatorInfo   `json:"stateOperators"`
	Sources        []QuerySourceProgress `json:"sources"`
	Sink           QuerySinkProgress     `json:"sink"`
}

// StateOperatorInfo describes a stateful operator's state after a batch.
type StateOperatorInfo struct {
	OperatorName              string `json:"operatorName"`
	NumRowsTotal              int64  `json:"numRowsTotal"`
	NumRowsUpdated            int64  `json:"numRowsUpdated"`
	NumRowsDroppedByWatermark int64  `json:"numRowsDroppedByWatermark"`
	MemoryUsedBytes           int64  `json:"memoryUsedBytes"`
}

// QuerySourceProgress describes what a batch read from one source: the
// offsets as JSON (per partition), and the lag per partition.
type QuerySourceProgress struct {
	Description  string `json:"description"`
	StartOffset  string `json:"startOffset"`
	EndOffset    string `json:"endOffset"`
	LatestOffset string `json:"latestOffset"`
	NumInputRows int64  `json:"numInputRows"`
	// NumDroppedMalformedRows is the records the batch's reads dropped as
	// malformed (a file source in DROPMALFORMED mode); 0 for sources that
	// do not parse records.
	NumDroppedMalformedRows int64 `json:"numDroppedMalformedRows"`
	// Lag is the offsets available but not read yet, summed over the
	// source's partitions (latest - end).
	Lag int64 `json:"lag"`
	// Partitions has the same per partition (a Kafka consumer lag view).
	Partitions []PartitionOffsets `json:"partitions,omitempty"`
}

// PartitionOffsets is one source partition's position in a batch.
type PartitionOffsets struct {
	Partition string `json:"partition"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Latest    int64  `json:"latest"`
	Lag       int64  `json:"lag"`
}

// QuerySinkProgress describes what a batch wrote.
type QuerySinkProgress struct {
	Description   string `json:"description"`
	NumOutputRows int64  `json:"numOutputRows"`
}

// QueryStarted is posted when a streaming query starts (or restarts:
// same ID, new RunID).
type QueryStarted struct {
	ID, RunID, Name string
	Time            time.Time
}

// QueryProgressed is posted after each micro-batch of a streaming query.
type QueryProgressed struct{ Progress QueryProgress }

// QueryIdle is posted when a trigger found no new data.
type QueryIdle struct {
	ID, RunID, Name string
	Time            time.Time
}

// QueryTerminated is posted when a streaming query stops; Err is the
// failure that stopped it, nil after Stop.
type QueryTerminated struct {
	ID, RunID, Name string
	Time            time.Time
	Err             error
}

// EventTime implements Event.
func (e QueryStarted) EventTime() time.Time { return e.Time }

// EventTime implements Event.
func (e QueryProgressed) EventTime() time.Time { return e.Progress.Timestamp }

// EventTime implements Event.
func (e QueryIdle) EventTime() time.Time { return e.Time }

// EventTime implements Event.
func (e QueryTerminated) EventTime() time.Time { return e.Time }
