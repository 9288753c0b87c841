package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/connector"
)

// emitBatch is the most records passed to one emit call.
const emitBatch = 1024

// maxRetries bounds consecutive retriable fetch errors (leader moves).
const maxRetries = 10

// Read implements connector.Source: it emits the records with offsets in
// [r.From, r.Until) of one partition, in offset order, in batches of up to
// 1024 records. The slice passed to emit is reused after emit returns;
// the records' Key, Value and Headers are not, and may be kept.
//
// Offsets without a record (compacted away, transaction markers, aborted
// records under ReadCommitted) are skipped silently. If offsets of the range
// were deleted (retention, DeleteRecords) Read returns a *DataLossError
// naming them, or with FailOnDataLoss(false) skips them and counts them in
// Stats. If the brokers stop answering, Read returns an error wrapping
// ErrUnavailable after the API timeout; it never skips offsets then: the
// engine retries or fails the batch, and a retry reads the same range.
func (s *Source) Read(ctx context.Context, r connector.OffsetRange, emit func([]Record) error) error {
	if r.Until <= r.From {
		return nil
	}
	if r.From < 0 {
		return fmt.Errorf("kafka: read %s: negative start offset", r)
	}
	// One goroutine fetches and decodes the next response while this one
	// emits the previous: the network and the decoder overlap the caller's
	// work. The fetcher stops before Read returns.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan []*kgo.Record, 1)
	var ferr error
	go func() {
		defer close(ch)
		ferr = s.fetchRange(ctx, r, ch)
	}()
	buf := make([]Record, 0, emitBatch)
	for recs := range ch {
		for len(recs) > 0 {
			n := min(len(recs), emitBatch)
			buf = buf[:n]
			for i, rec := range recs[:n] {
				buf[i].fromKgo(rec, s.cfg.includeHeaders)
			}
			recs = recs[n:]
			s.recordsRead.Add(int64(n))
			err := emit(buf)
			if err == nil && ctx.Err() != nil {
				err = fmt.Errorf("kafka: read %s: %w", r, ctx.Err())
			}
			if err != nil {
				cancel()
				for range ch { //nolint:revive // drain until the fetcher stops
				}
				return err
			}
		}
	}
	return ferr
}

// fetchRange fetches the records of r in order and sends them to out, in
// one slice per fetch response, until r.Until; it returns when done, on an
// error, or when ctx ends.
func (s *Source) fetchRange(ctx context.Context, r connector.OffsetRange, out chan<- []*kgo.Record) error {
	var (
		p       = r.Partition
		next    = r.From
		retries int
		empty   int
		refresh bool
		opts    = kgo.ProcessFetchPartitionOpts{Topic: p.Stream, Partition: p.Index, IsolationLevel: kgo.ReadUncommitted()}
	)
	if s.cfg.readCommitted {
		opts.IsolationLevel = kgo.ReadCommitted()
	}
	maxEmpty := 3
	if s.cfg.fetchMaxWait > 0 {
		maxEmpty = max(maxEmpty, int(s.cfg.apiTimeout/s.cfg.fetchMaxWait))
	}
	for next < r.Until {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("kafka: read %s: %w", r, err)
		}
		rp, err := s.fetch(ctx, p, next, refresh)
		refresh = false
		if err != nil {
			if retriable(err) && retries < maxRetries {
				// No leader (an election) or a stale topic: wait and
				// look the leader up again.
				retries++
				refresh = true
				if err := backoff(ctx, retries); err != nil {
					return fmt.Errorf("kafka: read %s: %w", r, err)
				}
				continue
			}
			return fmt.Errorf("kafka: read %s at offset %d: %w", r, next, err)
		}
		opts.Offset = next
		fp, after := kgo.ProcessFetchPartition(opts, rp, s.decomp, nil)
		if fp.Err != nil {
			switch {
			case errors.Is(fp.Err, kerr.OffsetOutOfRange):
				n, done, err := s.outOfRange(ctx, r, next)
				if err != nil {
					return err
				}
				if done {
					return nil
				}
				next = n
				continue
			case retriable(fp.Err) && retries < maxRetries:
				retries++
				refresh = true
				if err := backoff(ctx, retries); err != nil {
					return fmt.Errorf("kafka: read %s: %w", r, err)
				}
				continue
			case len(fp.Records) == 0:
				return fmt.Errorf("kafka: read %s at offset %d: %w", r, next, fp.Err)
			}
		}
		retries = 0
		if after <= next {
			// No progress: the data is not readable yet (the broker held
			// the fetch for FetchMaxWait) or it no longer exists.
			empty++
			if empty >= maxEmpty {
				n, done, err := s.outOfRange(ctx, r, next)
				if err != nil {
					return err
				}
				if done {
					return nil
				}
				if n == next {
					return fmt.Errorf("kafka: read %s: no data at offset %d after %d empty fetches, though the partition end is beyond it", r, next, empty)
				}
				next = n
				empty = 0
			}
			continue
		}
		empty = 0
		recs := fp.Records
		lo := 0
		for lo < len(recs) && recs[lo].Offset < next {
			lo++
		}
		hi := len(recs)
		for hi > lo && recs[hi-1].Offset >= r.Until {
			hi--
		}
		next = after
		if hi > lo {
			select {
			case out <- recs[lo:hi]:
			case <-ctx.Done():
				return fmt.Errorf("kafka: read %s: %w", r, ctx.Err())
			}
		}
	}
	return nil
}

// outOfRange handles a fetch at next that Kafka rejected or that made no
// progress: it compares next with the partition's current bounds. It returns
// the offset to continue at, or done when nothing of the range remains, or a
// *DataLossError when failOnDataLoss is set.
func (s *Source) outOfRange(ctx context.Context, r connector.OffsetRange, next int64) (int64, bool, error) {
	p := r.Partition
	parts := []connector.Partition{p}
	start, err := s.list(ctx, listStart, parts)
	if err != nil {
		return 0, false, fmt.Errorf("kafka: read %s: %w", r, err)
	}
	end, err := s.list(ctx, listEnd, parts)
	if err != nil {
		return 0, false, fmt.Errorf("kafka: read %s: %w", r, err)
	}
	lo, hi := start[p], end[p]
	loss := &DataLossError{Topic: p.Stream, Partition: p.Index, From: r.From, Until: r.Until, AvailableFrom: lo, AvailableUntil: hi}
	switch {
	case next < lo:
		loss.LostFrom, loss.LostUntil = next, min(lo, r.Until)
	case next >= hi && hi < r.Until:
		// The partition ends before the range: it was recreated or
		// truncated (the planned offsets no longer exist).
		loss.LostFrom, loss.LostUntil = next, r.Until
	default:
		return next, false, nil // readable now (a race with retention or a slow replica); retry
	}
	if s.cfg.failOnDataLoss {
		return 0, false, loss
	}
	s.countLost(p, loss.Lost())
	if loss.LostUntil >= r.Until {
		return 0, true, nil
	}
	return loss.LostUntil, false, nil
}

// fetch issues one fetch for p at offset to its leader and returns the
// partition's response. Request-level failures are retried by franz-go
// within the API timeout.
func (s *Source) fetch(ctx context.Context, p connector.Partition, offset int64, refresh bool) (*kmsg.FetchResponseTopicPartition, error) {
	leader, id, err := s.leader(ctx, p, refresh)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(s.cfg.fetchMaxWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = s.cfg.fetchMaxBytes
	if s.cfg.readCommitted {
		req.IsolationLevel = 1
	}
	req.SessionID = 0
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = p.Stream
	rt.TopicID = id
	rpp := kmsg.NewFetchRequestTopicPartition()
	rpp.Partition = p.Index
	rpp.FetchOffset = offset
	rpp.CurrentLeaderEpoch = -1
	rpp.LastFetchedEpoch = -1
	rpp.LogStartOffset = -1
	rpp.PartitionMaxBytes = s.cfg.fetchMaxPartitionBytes
	rt.Partitions = append(rt.Partitions, rpp)
	req.Topics = append(req.Topics, rt)

	tctx, cancel := context.WithTimeout(ctx, s.cfg.apiTimeout+s.cfg.fetchMaxWait)
	defer cancel()
	kresp, err := boundedV(tctx, func(ctx context.Context) (kmsg.Response, error) {
		return s.cl.Broker(int(leader)).RetriableRequest(ctx, req)
	})
	if err != nil {
		return nil, s.cfg.wrapUnavailable(ctx, "fetch", err)
	}
	resp := kresp.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("fetch: %w", kerr.ErrorForCode(resp.ErrorCode))
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("fetch: response has %d topics, want 1 with 1 partition", len(resp.Topics))
	}
	return &resp.Topics[0].Partitions[0], nil
}

func retriable(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable || errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID)
	}
	return false
}

func backoff(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(attempt) * 50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
