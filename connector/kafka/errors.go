package kafka

import (
	"errors"
	"fmt"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrUnavailable: the brokers did not answer within the API timeout
	// (kafka.default.api.timeout.ms), at start or during a run.
	ErrUnavailable = errors.New("kafka: brokers unavailable")
	// ErrDataLoss is wrapped by every *DataLossError.
	ErrDataLoss = errors.New("kafka: data loss")
	// ErrConfig reports an invalid combination of options.
	ErrConfig = errors.New("kafka: invalid configuration")
	// ErrFenced: another sink instance with the same transactional id took
	// over; this instance must stop.
	ErrFenced = errors.New("kafka: transactional producer fenced by a newer instance")
)

// DataLossError reports offsets of a partition that can no longer be read:
// Kafka deleted them (retention, DeleteRecords) or the partition was
// recreated. Lost is the range [LostFrom, LostUntil) of requested offsets
// that are gone; the partition currently holds [AvailableFrom,
// AvailableUntil). It is returned by Source.Read when failOnDataLoss is true
// (the default); with false the loss is counted in Stats and reading
// continues at the earliest available offset.
type DataLossError struct {
	Topic     string
	Partition int32
	// From and Until are the requested range.
	From, Until int64
	// LostFrom and LostUntil bound the offsets that no longer exist.
	LostFrom, LostUntil int64
	// AvailableFrom and AvailableUntil are the partition's log start and end
	// offsets when the loss was detected.
	AvailableFrom, AvailableUntil int64
}

// Error names the partition and the lost range and says how to proceed.
func (e *DataLossError) Error() string {
	return fmt.Sprintf("kafka: data loss in %s-%d: offsets [%d, %d) of the requested range [%d, %d) no longer exist (the partition holds [%d, %d)); "+
		"records were deleted by retention or the topic was recreated; set failOnDataLoss=false to skip them and continue",
		e.Topic, e.Partition, e.LostFrom, e.LostUntil, e.From, e.Until, e.AvailableFrom, e.AvailableUntil)
}

// Unwrap returns ErrDataLoss.
func (e *DataLossError) Unwrap() error { return ErrDataLoss }

// Lost returns the number of lost offsets.
func (e *DataLossError) Lost() int64 { return max(0, e.LostUntil-e.LostFrom) }
