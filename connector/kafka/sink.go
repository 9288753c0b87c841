package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/connector"
)

// Sink writes batches of records to Kafka. It implements
// connector.BatchSink[[]Record], connector.AtLeastOnce and
// connector.LastBatcher. One Sink serves one sink partition: AddBatch must
// not be called concurrently.
//
// Default mode: the idempotent producer (no duplicates from retries inside
// one AddBatch), at-least-once across re-run batches. Transactional mode
// (Transactional, kafka.transactional=true): exactly-once, see the package
// documentation.
type Sink struct {
	cfg   config
	cl    *kgo.Client
	adm   *kadm.Client
	txnID string
	last  int64 // last committed batch id; -1 if none (transactional mode)
	// uncertain is set when a transactional AddBatch failed after it began:
	// the commit may have happened (a timeout after the broker committed),
	// so the next AddBatch reads the last batch id back first.
	uncertain bool
	ids       map[string][16]byte
	recs      []*kgo.Record
	// hook, if set (tests only), is called at each step of a transactional
	// batch: "begun", "produced", "recorded", "committed".
	hook func(step string, batchID int64)
}

var (
	_ connector.BatchSink[[]Record] = (*Sink)(nil)
	_ connector.AtLeastOnce         = (*Sink)(nil)
	_ connector.LastBatcher         = (*Sink)(nil)
)

// TransactionalID returns the transactional id a sink with Transactional
// (queryID, sinkPartition) uses, and the consumer group it records batch ids
// in: "spate-<queryID>-<sinkPartition>".
func TransactionalID(queryID string, sinkPartition int) string {
	return "spate-" + queryID + "-" + strconv.Itoa(sinkPartition)
}

// NewSink validates the options, connects (failing with ErrUnavailable after
// the API timeout), and in transactional mode initialises the producer id —
// fencing any older instance with the same transactional id and aborting its
// open transaction — and reads the last committed batch id.
func NewSink(ctx context.Context, opts ...Option) (*Sink, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validateCommon(); err != nil {
		return nil, err
	}
	switch {
	case cfg.acks != -1 && cfg.acks != 0 && cfg.acks != 1:
		return nil, fmt.Errorf("%w: Acks must be -1, 0 or 1, got %d", ErrConfig, cfg.acks)
	case cfg.transactional && cfg.queryID == "":
		return nil, fmt.Errorf("%w: Transactional needs a non-empty query id", ErrConfig)
	case cfg.transactional && cfg.sinkPartition < 0:
		return nil, fmt.Errorf("%w: Transactional sink partition must be >= 0, got %d", ErrConfig, cfg.sinkPartition)
	case cfg.transactional && cfg.acks != -1:
		return nil, fmt.Errorf("%w: Transactional needs Acks(-1) (all)", ErrConfig)
	case cfg.txnTimeout <= 0:
		return nil, fmt.Errorf("%w: TransactionTimeout must be > 0", ErrConfig)
	}
	kopts := cfg.clientOpts()
	switch cfg.acks {
	case 0:
		kopts = append(kopts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case 1:
		kopts = append(kopts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		kopts = append(kopts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if cfg.explicitPartitions {
		kopts = append(kopts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	if cfg.linger > 0 {
		kopts = append(kopts, kgo.ProducerLinger(cfg.linger))
	}
	if len(cfg.compression) > 0 {
		kopts = append(kopts, kgo.ProducerBatchCompression(cfg.compression...))
	}
	s := &Sink{cfg: cfg, last: -1, ids: map[string][16]byte{}}
	if cfg.transactional {
		s.txnID = TransactionalID(cfg.queryID, cfg.sinkPartition)
		kopts = append(kopts, kgo.TransactionalID(s.txnID), kgo.TransactionTimeout(cfg.txnTimeout))
	}
	cl, err := kgo.NewClient(append(kopts, cfg.kgoExt...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s.cl, s.adm = cl, kadm.NewClient(cl)
	if err := cfg.ping(ctx, cl); err != nil {
		cl.Close()
		return nil, err
	}
	if cfg.transactional {
		if err := s.initTxn(ctx); err != nil {
			cl.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Sink) initTxn(ctx context.Context) error {
	tctx, cancel := s.cfg.withTimeout(ctx)
	defer cancel()
	// Initialising the producer id bumps the epoch of the transactional id:
	// older instances are fenced and their open transaction is aborted.
	if _, err := boundedV(tctx, func(ctx context.Context) (int64, error) {
		id, _, err := s.cl.ProducerID(ctx)
		return id, err
	}); err != nil {
		return s.cfg.wrapUnavailable(ctx, "init transactional producer "+s.txnID, err)
	}
	last, err := s.readLast(ctx)
	if err != nil {
		return err
	}
	s.last = last
	return nil
}

// readLast reads the last committed batch id from the sink's group.
func (s *Sink) readLast(ctx context.Context) (int64, error) {
	tctx, cancel := s.cfg.withTimeout(ctx)
	defer cancel()
	resp, err := boundedV(tctx, func(ctx context.Context) (kadm.OffsetResponses, error) {
		return s.adm.FetchOffsets(kadm.RequireStable(ctx), s.txnID)
	})
	if errors.Is(err, kerr.GroupIDNotFound) {
		return -1, nil // nothing committed yet
	}
	if err != nil {
		return 0, s.cfg.wrapUnavailable(ctx, "read committed batch id", err)
	}
	last := int64(-1)
	var ferr error
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			ferr = o.Err
			return
		}
		if strings.HasPrefix(o.Metadata, batchMetaPrefix) {
			last = max(last, o.At-1)
		}
	})
	if ferr != nil {
		return 0, fmt.Errorf("kafka: read committed batch id of %s: %w", s.txnID, ferr)
	}
	return last, nil
}

const batchMetaPrefix = "spate batch "

// AtLeastOnce implements connector.AtLeastOnce: true unless transactional.
func (s *Sink) AtLeastOnce() bool { return !s.cfg.transactional }

// LastBatchID implements connector.LastBatcher: the last batch id committed
// in transactional mode (ok false if none, or in at-least-once mode).
func (s *Sink) LastBatchID(ctx context.Context) (int64, bool, error) {
	if !s.cfg.transactional {
		return 0, false, nil
	}
	return s.last, s.last >= 0, nil
}

// Close flushes nothing: every AddBatch that returned nil is durable. It
// closes the client; an open transaction (only after a failed AddBatch) is
// aborted by the broker after its timeout or by the next instance.
func (s *Sink) Close() error {
	s.cl.Close()
	return nil
}

// AddBatch implements connector.BatchSink. Records take the sink's Topic
// when their Topic is empty; their Partition is used only with
// ExplicitPartitions. In transactional mode, batch ids at or below the last
// committed one return nil without writing, and the batch and its id are
// committed in one transaction; an error aborts the transaction (nothing
// of the batch is visible to read_committed consumers) and the batch may be
// retried with the same id. ErrFenced means a newer instance took over.
func (s *Sink) AddBatch(ctx context.Context, batchID int64, recs []Record) error {
	if batchID < 0 {
		return fmt.Errorf("kafka: sink: negative batch id %d", batchID)
	}
	if s.cfg.transactional && s.uncertain {
		last, err := s.readLast(ctx)
		if err != nil {
			return err
		}
		s.last, s.uncertain = max(s.last, last), false
	}
	if s.cfg.transactional && batchID <= s.last {
		return nil // committed before: a re-run
	}
	if err := s.convert(recs); err != nil {
		return err
	}
	if !s.cfg.transactional {
		return s.produce(ctx, batchID)
	}
	if len(s.recs) == 0 {
		// Nothing to write: a re-run of this batch writes nothing either,
		// so there is nothing to record.
		s.last = batchID
		return nil
	}
	if err := s.cl.BeginTransaction(); err != nil {
		return s.txnErr(batchID, "begin", err)
	}
	s.step("begun", batchID)
	commit := false
	defer func() {
		if !commit {
			s.uncertain = true
			actx, cancel := s.cfg.withTimeout(context.WithoutCancel(ctx))
			defer cancel()
			_ = s.cl.AbortBufferedRecords(actx)
			_ = s.cl.EndTransaction(actx, kgo.TryAbort)
		}
	}()
	if err := s.produce(ctx, batchID); err != nil {
		return err
	}
	s.step("produced", batchID)
	if err := s.recordBatch(ctx, batchID, s.recs[0].Topic); err != nil {
		return err
	}
	s.step("recorded", batchID)
	tctx, cancel := s.cfg.withTimeout(ctx)
	defer cancel()
	if err := s.cl.EndTransaction(tctx, kgo.TryCommit); err != nil {
		return s.txnErr(batchID, "commit", err)
	}
	commit = true
	s.last = batchID
	s.step("committed", batchID)
	return nil
}

func (s *Sink) step(name string, batchID int64) {
	if s.hook != nil {
		s.hook(name, batchID)
	}
}

func (s *Sink) convert(recs []Record) error {
	s.recs = s.recs[:0]
	for i := range recs {
		r := &recs[i]
		topic := r.Topic
		if topic == "" {
			topic = s.cfg.topic
		}
		if topic == "" {
			return fmt.Errorf("kafka: sink: record %d has no topic and the sink has no Topic (option topic)", i)
		}
		kr := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
		if s.cfg.explicitPartitions {
			kr.Partition = r.Partition
		}
		s.recs = append(s.recs, kr)
	}
	return nil
}

func (s *Sink) produce(ctx context.Context, batchID int64) error {
	if len(s.recs) == 0 {
		return nil
	}
	if err := s.cl.ProduceSync(ctx, s.recs...).FirstErr(); err != nil {
		if s.cfg.transactional {
			return s.txnErr(batchID, "produce", err)
		}
		return s.cfg.wrapUnavailable(ctx, fmt.Sprintf("sink: produce batch %d", batchID), err)
	}
	return nil
}

// recordBatch adds "batch id + 1" as the committed offset of the sink's
// group on partition 0 of topic to the open transaction.
func (s *Sink) recordBatch(ctx context.Context, batchID int64, topic string) error {
	tctx, cancel := s.cfg.withTimeout(ctx)
	defer cancel()
	pid, epoch, err := s.cl.ProducerID(tctx)
	if err != nil {
		return s.txnErr(batchID, "producer id", err)
	}
	id, err := s.topicID(tctx, topic)
	if err != nil {
		return s.txnErr(batchID, "topic id", err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = s.txnID, pid, epoch, s.txnID
	addResp, err := add.RequestWith(tctx, s.cl)
	if err == nil {
		err = kerr.ErrorForCode(addResp.ErrorCode)
	}
	if err != nil {
		return s.txnErr(batchID, "add offsets to transaction", err)
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = s.txnID, s.txnID, pid, epoch
	req.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition = 0
	rp.Offset = batchID + 1
	rp.LeaderEpoch = -1
	meta := batchMetaPrefix + strconv.FormatInt(batchID, 10)
	rp.Metadata = &meta
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(tctx, s.cl)
	if err == nil {
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && err == nil {
					err = e
				}
			}
		}
	}
	if err != nil {
		return s.txnErr(batchID, "record batch id", err)
	}
	return nil
}

func (s *Sink) topicID(ctx context.Context, topic string) ([16]byte, error) {
	if id, ok := s.ids[topic]; ok {
		return id, nil
	}
	md, err := s.adm.Metadata(ctx, topic)
	if err != nil {
		return [16]byte{}, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return [16]byte{}, fmt.Errorf("topic %q unavailable: %v", topic, td.Err)
	}
	s.ids[topic] = td.ID
	return td.ID, nil
}

func (s *Sink) txnErr(batchID int64, step string, err error) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("%w: %s, batch %d, %s: %w", ErrFenced, s.txnID, batchID, step, err)
	}
	return fmt.Errorf("kafka: sink %s: batch %d: %s: %w", s.txnID, batchID, step, err)
}
