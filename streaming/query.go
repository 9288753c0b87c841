package streaming

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spate-io/spate/checkpoint"
	"github.com/spate-io/spate/clock"
	"github.com/spate-io/spate/connector"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/exec"
	"github.com/spate-io/spate/expr"
	"github.com/spate-io/spate/metrics"
	"github.com/spate-io/spate/plan"
	"github.com/spate-io/spate/state"
)

// OutputMode says what a query writes after each batch.
type OutputMode int

const (
	// Append writes only new rows (the default).
	Append OutputMode = iota
	// Update writes the rows that changed in the batch.
	Update
	// Complete writes the whole result after every batch.
	Complete
)

func (m OutputMode) String() string {
	switch m {
	case Append:
		return "append"
	case Update:
		return "update"
	case Complete:
		return "complete"
	}
	return fmt.Sprintf("OutputMode(%d)", int(m))
}

// ParseOutputMode parses "append", "update" or "complete".
func ParseOutputMode(s string) (OutputMode, error) {
	for _, m := range []OutputMode{Append, Update, Complete} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("streaming: unknown output mode %q; use append, update or complete", s)
}

// Trigger decides when micro-batches run.
type Trigger struct {
	kind     triggerKind
	interval time.Duration
}

type triggerKind int

const (
	triggerProcessingTime triggerKind = iota
	triggerOnce
	triggerAvailableNow
)

// ProcessingTime runs a batch every d (aligned to multiples of d; a
// batch that overruns makes the next start at once). 0 runs the next
// batch as soon as the previous one ends.
func ProcessingTime(d time.Duration) Trigger { return Trigger{triggerProcessingTime, d} }

// Once runs one batch with everything available, then stops.
func Once() Trigger { return Trigger{kind: triggerOnce} }

// AvailableNow processes what the sources have, in as many batches as
// their rate limits need, and stops at the first trigger that finds no
// new data (so data arriving meanwhile is processed too; with a source
// that never runs dry, such as rate, it does not stop).
func AvailableNow() Trigger { return Trigger{kind: triggerAvailableNow} }

func (t Trigger) String() string {
	switch t.kind {
	case triggerOnce:
		return "Once"
	case triggerAvailableNow:
		return "AvailableNow"
	}
	return fmt.Sprintf("ProcessingTime(%v)", t.interval)
}

// Option configures a query.
type Option func(*config)

type config struct {
	name       string
	checkpoint string
	trigger    Trigger
	mode       OutputMode
	clock      clock.Clock
	alloc      memory.Allocator
	exec       exec.Config
	optimizer  *plan.Optimizer
	logger     *slog.Logger
	manager    *Manager
	poll       time.Duration
	state      stateConfig // NumStatePartitions, StateSnapshotInterval (statefile.go)

	watermarkPolicy WatermarkPolicy
}

// QueryName names the query; names are unique among a manager's active
// queries. Default: none.
func QueryName(n string) Option { return func(c *config) { c.name = n } }

// CheckpointLocation sets the query's checkpoint directory: its offset
// log, commit log and metadata. A restarted query with the same directory
// resumes exactly after the last committed batch. Default: a temporary
// directory, removed when the query stops (no recovery).
func CheckpointLocation(dir string) Option { return func(c *config) { c.checkpoint = dir } }

// WithTrigger sets the trigger. Default: ProcessingTime(0).
func WithTrigger(t Trigger) Option { return func(c *config) { c.trigger = t } }

// WithOutputMode sets the output mode. Default: Append.
func WithOutputMode(m OutputMode) Option { return func(c *config) { c.mode = m } }

// WithClock sets the clock of triggers and progress. Default: the engine
// context's clock.
func WithClock(cl clock.Clock) Option { return func(c *config) { c.clock = cl } }

// WithAllocator sets the allocator of the batches' Arrow memory. Default:
// memory.DefaultAllocator.
func WithAllocator(a memory.Allocator) Option { return func(c *config) { c.alloc = a } }

// WithExecConfig sets the physical execution's configuration (shuffle
// partitions, broadcast threshold, batch size).
func WithExecConfig(cfg exec.Config) Option { return func(c *config) { c.exec = cfg } }

// WithOptimizer sets the optimizer of the query's plan. Default:
// plan.NewOptimizer().
func WithOptimizer(o *plan.Optimizer) Option { return func(c *config) { c.optimizer = o } }

// WithLogger sets the logger. Default: the engine context's logger.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithManager registers the query with m (see [Manager]).
func WithManager(m *Manager) Option { return func(c *config) { c.manager = m } }

// ErrUnsupported is matched by the error Start returns for a plan or
// output mode a streaming query cannot run.
var ErrUnsupported = errors.New("streaming: unsupported operation on a streaming query")

// checkSupported rejects what cannot run incrementally, saying what to
// change.
func checkSupported(p plan.Node, mode OutputMode) error {
	var bad error
	hasAgg := false
	var walk func(n plan.Node)
	walk = func(n plan.Node) {
		if bad != nil || !IsStreaming(n) {
			return // a batch subtree (the static side of a join) is free
		}
		switch x := n.(type) {
		case *plan.Aggregate:
			hasAgg = true // newStreamingAgg checks the rest
		case *plan.Deduplicate:
			// streamingDedup checks the rest
		case *plan.Sort:
			// Complete mode writes the whole result table every batch,
			// which can be sorted; any other sort would order one batch.
			if mode != Complete || !hasAggregate(x.Child) {
				bad = fmt.Errorf("%w: sorting a streaming DataFrame is supported only over an aggregation in complete output mode (as in Spark); sort inside a foreachBatch sink instead", ErrUnsupported)
			}
		case *plan.Limit:
			bad = fmt.Errorf("%w: Limit on a streaming DataFrame is not supported; limit inside a foreachBatch sink instead", ErrUnsupported)
		case *plan.SetOp:
			bad = fmt.Errorf("%w: %s of a stream is not supported (as in Spark); run it inside a foreachBatch sink instead", ErrUnsupported, strings.ToUpper(x.Kind.String()))
		case *plan.Join:
			l, r := IsStreaming(x.Left), IsStreaming(x.Right)
			switch {
			case l && r:
				// newStreamingJoin checks the rest
			case r && x.Type != plan.InnerJoin:
				bad = fmt.Errorf("%w: a %s join with the stream on the right is not supported (as in Spark); put the stream on the left or use an inner join", ErrUnsupported, x.Type)
			case l && x.Type != plan.InnerJoin && x.Type != plan.LeftOuterJoin && x.Type != plan.LeftSemiJoin && x.Type != plan.LeftAntiJoin:
				bad = fmt.Errorf("%w: a %s join of a stream with a static DataFrame is not supported (as in Spark); use inner or left outer with the stream on the left", ErrUnsupported, x.Type)
			}
		}
		for _, c := range n.Children() {
			walk(c)
		}
	}
	walk(p)
	if bad != nil {
		return bad
	}
	if mode == Complete && !hasAgg {
		return fmt.Errorf("%w: complete output mode needs an aggregation (it rewrites the whole result every batch); use append or update", ErrUnsupported)
	}
	return nil
}

// hasAggregate reports whether the streaming part of p aggregates.
func hasAggregate(p plan.Node) bool {
	if !IsStreaming(p) {
		return false
	}
	if _, ok := p.(*plan.Aggregate); ok {
		return true
	}
	return slices.ContainsFunc(p.Children(), hasAggregate)
}

// Query is a running streaming query (Spark's StreamingQuery).
type Query struct {
	id, runID, name string
	cfg             config
	ec              *engine.Context
	plan            plan.Node // optimized, with streaming leaves
	sources         []*SourceNode
	owned           []Source // the instances Start opened for the query (SourceNode.Instance), closed when it ends
	sink            Sink
	ops             []statefulOp // the stateful operators (aggregations, deduplications, joins), those below first
	wm              *watermarks
	dir             *checkpoint.Dir
	state           *state.Provider // the stateful operator's state store, or nil
	tempDir         string          // removed at stop when the checkpoint is temporary

	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	mu        sync.Mutex
	active    bool
	err       error
	status    string
	dataAvail bool
	recent    []metrics.QueryProgress
	committed map[*SourceNode]connector.Offsets // ends of the last committed batch
	nextBatch int64
	watermark time.Time       // for the next batch; zero: none yet
	avail     []chan struct{} // ProcessAllAvailable waiters, woken after each trigger
}

// recentProgressKept is how many progress reports RecentProgress keeps.
const recentProgressKept = 100

// queryMetadata is the checkpoint's metadata file.
type queryMetadata struct {
	ID      string            `json:"id"`
	Sources []json.RawMessage `json:"sources"` // StatefulSource states, by source index
	// Operators names the stateful operators (kind-index), those below
	// first: a restart with other ones would find no state for them.
	Operators []string `json:"operators,omitempty"`
}

// operatorIDs names the query's stateful operators as the metadata does.
func (q *Query) operatorIDs() []string {
	var out []string
	for i, op := range q.ops {
		out = append(out, op.kind()+"-"+strconv.Itoa(i))
	}
	return out
}

// commitEntry is one batch in the commit log, with the watermark after
// it (for the next batch).
type commitEntry struct {
	BatchID         int64 `json:"batchId"`
	WatermarkMicros int64 `json:"watermarkMicros,omitempty"`
	// EventTimeMicros is the latest event time seen by each watermark of
	// the query (in plan order), from which the next batch's watermark
	// is computed.
	EventTimeMicros []int64 `json:"eventTimeMicros,omitempty"`
}

func microsOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// offsetEntry is one batch in the offset log.
type offsetEntry struct {
	BatchID     int64 `json:"batchId"`
	TimestampMs int64 `json:"timestampMs"`
	// WatermarkMicros is the batch's watermark (0: none yet).
	WatermarkMicros int64               `json:"watermarkMicros,omitempty"`
	Start           []connector.Offsets `json:"start"`
	End             []connector.Offsets `json:"end"`
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Start starts a streaming query that runs p (a plan over streaming
// sources, see [NewSourceNode]) micro-batch by micro-batch on ec and
// writes each batch to sink. It returns once the query runs.
//
// Each batch: ask every source for its latest offsets and cut the ranges
// (within the sources' limits); write them to the offset log
// ("offsets-<batch>") before running; run the plan over exactly those
// ranges; give the result to the sink with the batch id; write the commit
// log ("commits-<batch>"). On a restart from the same checkpoint the last
// batch with offsets but no commit runs again with exactly the same
// offsets, so a sink that is idempotent by batch id sees every row once.
func Start(ctx context.Context, ec *engine.Context, p plan.Node, sink Sink, opts ...Option) (_ *Query, err error) {
	cfg := config{trigger: ProcessingTime(0), poll: 10 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case ec == nil:
		return nil, errors.New("streaming.Start: nil engine context")
	case p == nil:
		return nil, errors.New("streaming.Start: nil plan")
	case sink == nil:
		return nil, errors.New("streaming.Start: nil sink")
	case !IsStreaming(p):
		return nil, errors.New("streaming.Start: the plan reads no streaming source; run it as a batch query")
	case cfg.trigger.kind == triggerProcessingTime && cfg.trigger.interval < 0:
		return nil, fmt.Errorf("streaming.Start: ProcessingTime interval must not be negative, got %v", cfg.trigger.interval)
	}
	if err := checkSupported(p, cfg.mode); err != nil {
		return nil, err
	}
	p, owned, err := instantiate(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("streaming.Start: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, closeSources(owned))
		}
	}()
	if cfg.clock == nil {
		cfg.clock = ec.Clock()
	}
	if cfg.alloc == nil {
		cfg.alloc = memory.DefaultAllocator
	}
	if cfg.optimizer == nil {
		cfg.optimizer = plan.NewOptimizer()
	}
	if cfg.logger == nil {
		cfg.logger = ec.Logger()
	}
	// Stateful operations are split off: the plan above each and its
	// inputs are optimized apart, so that the inputs keep the columns the
	// incremental operators need (the event time).
	top, specs, err := splitStateful(p)
	if err != nil {
		return nil, err
	}
	opt, err := cfg.optimizer.Optimize(top)
	if err != nil {
		return nil, fmt.Errorf("streaming.Start: %w", err)
	}
	var sources []*SourceNode
	addSources := func(p plan.Node) {
		for _, s := range sourcesOf(p) {
			if !slices.Contains(sources, s) {
				sources = append(sources, s)
			}
		}
	}
	ops := make([]statefulOp, 0, len(specs))
	plans := make([]plan.Node, 0, len(specs)+1)
	for i, sp := range specs {
		mode := cfg.mode
		if i < len(specs)-1 {
			mode = Append // an operator read by another appends its rows
		}
		op, err := newStatefulOp(sp, mode, cfg.optimizer)
		if err != nil {
			if _, agg := sp.node.(*plan.Aggregate); agg && i < len(specs)-1 {
				return nil, fmt.Errorf("%w (this aggregation feeds another stateful operator, so it writes each group once, when the watermark passes it, as in append mode)", err)
			}
			return nil, err
		}
		// How far behind the watermark this operator's input may be: the
		// largest delay of the operators whose output it reads.
		var lag time.Duration
		bounded := true
		for _, below := range ops {
			if !containsNode(op.inputPlan(), below.placeholder()) {
				continue
			}
			d, ok := below.outputDelay()
			bounded = bounded && ok
			lag = max(lag, d)
		}
		if err := op.setLag(lag, bounded); err != nil {
			return nil, err
		}
		ops = append(ops, op)
		plans = append(plans, op.inputPlan())
		addSources(op.inputPlan())
	}
	addSources(opt)
	plans = append(plans, opt)
	q := &Query{cfg: cfg, ec: ec, plan: opt, sources: sources, owned: owned, sink: sink, ops: ops, wm: newWatermarks(cfg.watermarkPolicy, plans...), name: cfg.name, runID: newID(),
		done: make(chan struct{}), wake: make(chan struct{}, 1), committed: map[*SourceNode]connector.Offsets{}}
	if err := q.open(ctx); err != nil {
		if q.tempDir != "" {
			os.RemoveAll(q.tempDir)
		}
		return nil, fmt.Errorf("streaming.Start: %w", err)
	}
	if cfg.manager != nil {
		if err := cfg.manager.add(q); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	q.active = true
	q.status = "Initializing"
	q.post(metrics.QueryStarted{ID: q.id, RunID: q.runID, Name: q.name, Time: cfg.clock.Now()})
	go q.run(runCtx)
	return q, nil
}

// open reads or creates the checkpoint: the query id, the sources' saved
// state, and where the offset and commit logs stand.
func (q *Query) open(ctx context.Context) error {
	dir := q.cfg.checkpoint
	if dir == "" {
		tmp, err := os.MkdirTemp("", "spate-query-")
		if err != nil {
			return err
		}
		q.tempDir, dir = tmp, tmp
	}
	d, err := checkpoint.Open(dir, checkpoint.Retain(100))
	if err != nil {
		return err
	}
	q.dir = d
	for i, s := range q.sources {
		if ms, ok := s.Src.(MetadataSource); ok {
			if err := ms.SetMetadataDir(filepath.Join(dir, "sources", strconv.Itoa(i))); err != nil {
				return fmt.Errorf("source %s: %w", s.Src.Name(), err)
			}
		}
	}
	if err := q.openState(dir); err != nil {
		return err
	}
	var meta queryMetadata
	_, payload, err := d.Latest("metadata", "meta")
	switch {
	case errors.Is(err, checkpoint.ErrNoCheckpoint):
		meta.ID = newID()
		meta.Operators = q.operatorIDs()
		for _, s := range q.sources {
			var state json.RawMessage
			if ss, ok := s.Src.(StatefulSource); ok {
				if _, err := s.Src.InitialOffsets(ctx); err != nil {
					return fmt.Errorf("source %s: %w", s.Src.Name(), err)
				}
				if state, err = ss.Save(); err != nil {
					return fmt.Errorf("source %s: %w", s.Src.Name(), err)
				}
			}
			meta.Sources = append(meta.Sources, state)
		}
		b, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		if err := d.Write("metadata", 0, "meta", b); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(payload, &meta); err != nil {
			return fmt.Errorf("checkpoint %s: metadata: %w", dir, err)
		}
		if len(meta.Sources) != len(q.sources) {
			return fmt.Errorf("checkpoint %s belongs to a query with %d sources; this one has %d: use another checkpoint location", dir, len(meta.Sources), len(q.sources))
		}
		if ops := q.operatorIDs(); !slices.Equal(meta.Operators, ops) {
			return fmt.Errorf("checkpoint %s belongs to a query with the stateful operators %v; this one has %v: their state would not carry over, so use another checkpoint location (or keep the stateful operations as they were)", dir, meta.Operators, ops)
		}
		for i, s := range q.sources {
			if ss, ok := s.Src.(StatefulSource); ok && meta.Sources[i] != nil {
				if err := ss.Restore(meta.Sources[i]); err != nil {
					return err
				}
			}
		}
	}
	q.id = meta.ID
	return nil
}

// ID returns the query's id, stable across restarts from the same
// checkpoint.
func (q *Query) ID() string { return q.id }

// RunID returns the id of this run of the query.
func (q *Query) RunID() string { return q.runID }

// Name returns the query's name, or "".
func (q *Query) Name() string { return q.name }

// IsActive reports whether the query runs.
func (q *Query) IsActive() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active
}

// Exception returns the error that stopped the query, or nil.
func (q *Query) Exception() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

// QueryStatus is what a query is doing now (Spark's StreamingQueryStatus).
type QueryStatus struct {
	Message         string `json:"message"`
	IsDataAvailable bool   `json:"isDataAvailable"`
	IsTriggerActive bool   `json:"isTriggerActive"`
}

// Status returns what the query is doing now.
func (q *Query) Status() QueryStatus {
	q.mu.Lock()
	defer q.mu.Unlock()
	return QueryStatus{Message: q.status, IsDataAvailable: q.dataAvail, IsTriggerActive: q.status == "Processing new data"}
}

// LastProgress returns the progress of the last batch, or nil.
func (q *Query) LastProgress() *metrics.QueryProgress {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.recent) == 0 {
		return nil
	}
	p := q.recent[len(q.recent)-1]
	return &p
}

// RecentProgress returns the progress of the last batches, oldest first.
func (q *Query) RecentProgress() []metrics.QueryProgress {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]metrics.QueryProgress(nil), q.recent...)
}

// Explain returns the query's optimized logical plan (and the plan of
// each stateful operator's input).
func (q *Query) Explain() string {
	out := plan.Explain(q.plan)
	for i, op := range q.ops {
		out += fmt.Sprintf("\n%s-%d input:\n%s", op.kind(), i, plan.Explain(op.inputPlan()))
	}
	return out
}

// Stop stops the query: the batch running is cancelled (it runs again
// after a restart). It waits until the query stopped or ctx ends.
func (q *Query) Stop(ctx context.Context) error {
	q.cancel()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AwaitTermination waits until the query stops and returns the error
// that stopped it (nil after Stop or the end of a Once/AvailableNow
// trigger), or ctx.Err().
func (q *Query) AwaitTermination(ctx context.Context) error {
	select {
	case <-q.done:
		return q.Exception()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ProcessAllAvailable waits until everything the sources had when it was
// called is processed and committed (or the query stopped: then it returns
// the query's error). It wakes a waiting trigger, so tests on a manual
// clock can use it.
func (q *Query) ProcessAllAvailable(ctx context.Context) error {
	target := map[*SourceNode]connector.Offsets{}
	for _, s := range q.sources {
		latest, err := s.Src.LatestOffsets(ctx)
		if err != nil {
			return err
		}
		target[s] = latest
	}
	for {
		q.mu.Lock()
		reached := true
		for s, latest := range target {
			c := q.committed[s]
			for p, off := range latest {
				if c[p] < off {
					reached = false
				}
			}
		}
		ch := make(chan struct{})
		if !reached && q.active {
			q.avail = append(q.avail, ch)
		}
		active := q.active
		q.mu.Unlock()
		if reached {
			return nil
		}
		if !active {
			if err := q.Exception(); err != nil {
				return err
			}
			return errors.New("streaming: the query stopped before processing all available data")
		}
		select {
		case q.wake <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-q.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run is the query's loop: one goroutine owns the batches.
func (q *Query) run(ctx context.Context) {
	err := q.loop(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil // stopped
	}
	q.closeState()
	if cerr := q.sink.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("streaming: closing the sink: %w", cerr)
	}
	if cerr := closeSources(q.owned); cerr != nil && err == nil {
		err = fmt.Errorf("streaming: %w", cerr)
	}
	q.mu.Lock()
	q.active = false
	q.err = err
	q.status = "Stopped"
	avail := q.avail
	q.avail = nil
	q.mu.Unlock()
	for _, ch := range avail {
		close(ch)
	}
	if q.tempDir != "" {
		os.RemoveAll(q.tempDir)
	}
	if err != nil {
		q.cfg.logger.Error("streaming: query failed", "id", q.id, "name", q.name, "err", err)
	}
	q.post(metrics.QueryTerminated{ID: q.id, RunID: q.runID, Name: q.name, Time: q.cfg.clock.Now(), Err: err})
	if q.cfg.manager != nil {
		q.cfg.manager.queryTerminated(q)
	}
	close(q.done)
}

// loop runs triggers until the query stops.
func (q *Query) loop(ctx context.Context) error {
	next, pending, err := q.recover(ctx)
	if err != nil {
		return err
	}
	if pending != nil {
		if _, err := q.runBatch(ctx, pending, nil, nil); err != nil {
			return err
		}
	}
	q.mu.Lock()
	q.nextBatch = next
	q.mu.Unlock()
	clk := q.cfg.clock
	started := clk.Now()
	for {
		ran, err := q.trigger(ctx)
		if err != nil {
			return err
		}
		q.notifyAvail()
		switch q.cfg.trigger.kind {
		case triggerOnce:
			return nil
		case triggerAvailableNow:
			if !ran {
				return nil
			}
			continue
		}
		// ProcessingTime: the next multiple of the interval, or a short
		// poll when there was no data and the interval is 0.
		wait := q.cfg.trigger.interval
		if wait > 0 {
			elapsed := clk.Since(started)
			wait = wait - elapsed%wait
		} else if !ran {
			wait = q.cfg.poll
		}
		if wait == 0 {
			continue
		}
		t := clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-q.wake:
			t.Stop()
		case <-t.C():
		}
	}
}

func (q *Query) notifyAvail() {
	q.mu.Lock()
	avail := q.avail
	q.avail = nil
	q.mu.Unlock()
	for _, ch := range avail {
		close(ch)
	}
}

// recover reads the logs: the id of the next batch, and the last logged
// batch when it has no commit (to run again first).
func (q *Query) recover(ctx context.Context) (int64, *offsetEntry, error) {
	offs, err := q.dir.List("offsets")
	if err != nil {
		return 0, nil, err
	}
	if len(offs) == 0 {
		for _, s := range q.sources {
			start, err := s.Src.InitialOffsets(ctx)
			if err != nil {
				return 0, nil, fmt.Errorf("source %s: initial offsets: %w", s.Src.Name(), err)
			}
			q.mu.Lock()
			q.committed[s] = start
			q.mu.Unlock()
		}
		for _, op := range q.ops {
			if err := op.load(ctx, -1, q.cfg.alloc); err != nil {
				return 0, nil, err
			}
		}
		return 0, nil, nil
	}
	last := offs[len(offs)-1]
	payload, err := q.dir.Read("offsets", last, "offsets")
	if err != nil {
		return 0, nil, fmt.Errorf("offset log: %w", err)
	}
	var e offsetEntry
	if err := json.Unmarshal(payload, &e); err != nil {
		return 0, nil, fmt.Errorf("offset log %s: %w", checkpoint.FileName("offsets", last), err)
	}
	if len(e.End) != len(q.sources) || len(e.Start) != len(q.sources) {
		return 0, nil, fmt.Errorf("offset log %s has offsets of %d sources; this query has %d: use another checkpoint location", checkpoint.FileName("offsets", last), len(e.End), len(q.sources))
	}
	commits, err := q.dir.List("commits")
	if err != nil {
		return 0, nil, err
	}
	committed := len(commits) > 0 && commits[len(commits)-1] >= last
	if committed {
		cp, err := q.dir.Read("commits", last, "commit")
		if err != nil {
			return 0, nil, fmt.Errorf("commit log: %w", err)
		}
		var ce commitEntry
		if err := json.Unmarshal(cp, &ce); err != nil {
			return 0, nil, fmt.Errorf("commit log %s: %w", checkpoint.FileName("commits", last), err)
		}
		if ce.WatermarkMicros != 0 {
			q.mu.Lock()
			q.watermark = time.UnixMicro(ce.WatermarkMicros)
			q.mu.Unlock()
		}
		q.wm.restore(q.watermark, ce.EventTimeMicros)
	} else if last > 0 {
		// The batch to re-run starts from the event times of the one
		// before it.
		if cp, err := q.dir.Read("commits", last-1, "commit"); err == nil {
			var ce commitEntry
			if json.Unmarshal(cp, &ce) == nil {
				q.wm.restore(time.Time{}, ce.EventTimeMicros)
			}
		}
	}
	q.mu.Lock()
	for i, s := range q.sources {
		if committed {
			q.committed[s] = e.End[i]
		} else {
			q.committed[s] = e.Start[i]
		}
	}
	q.mu.Unlock()
	// Tell sources that track what was processed (the file source's
	// admission throttle, cleanSource) where the last committed batch
	// ended.
	if committed {
		for i, s := range q.sources {
			if c, ok := s.Src.(connector.Committer); ok {
				if err := c.Commit(ctx, e.End[i]); err != nil {
					q.cfg.logger.Warn("streaming: a source could not record the committed offsets", "source", s.Src.Name(), "err", err)
				}
			}
		}
	} else if last > 0 {
		for i, s := range q.sources {
			if c, ok := s.Src.(connector.Committer); ok {
				if err := c.Commit(ctx, e.Start[i]); err != nil {
					q.cfg.logger.Warn("streaming: a source could not record the committed offsets", "source", s.Src.Name(), "err", err)
				}
			}
		}
	}
	stateOf := last
	if !committed {
		stateOf = last - 1
	}
	for _, op := range q.ops {
		if err := op.load(ctx, stateOf, q.cfg.alloc); err != nil {
			return 0, nil, err
		}
	}
	if committed {
		return last + 1, nil, nil
	}
	q.cfg.logger.Info("streaming: re-running the last batch, logged but not committed", "id", q.id, "batch", last)
	return last + 1, &e, nil
}

// trigger plans and runs one batch if there is new data. It reports
// whether a batch ran.
func (q *Query) trigger(ctx context.Context) (bool, error) {
	clk := q.cfg.clock
	t0 := clk.Now()
	q.setStatus("Getting offsets from sources", false)
	e := &offsetEntry{TimestampMs: t0.UnixMilli()}
	q.mu.Lock()
	if !q.watermark.IsZero() {
		e.WatermarkMicros = q.watermark.UnixMicro()
	}
	q.mu.Unlock()
	var latests []connector.Offsets
	var rows int64
	for _, s := range q.sources {
		q.mu.Lock()
		start := q.committed[s].Clone()
		q.mu.Unlock()
		lim := connector.Limits{}
		if l, ok := s.Src.(interface{ Limits() connector.Limits }); ok {
			lim = l.Limits()
		}
		ranges, end, latest, err := connector.PlanBatch(ctx, s.Src, start, lim)
		if err != nil {
			return false, fmt.Errorf("source %s: %w", s.Src.Name(), err)
		}
		if start == nil {
			start = connector.Offsets{}
		}
		for _, r := range ranges { // new partitions start where the plan says
			if _, ok := start[r.Partition]; !ok {
				start[r.Partition] = r.From
			}
		}
		for p := range start {
			if _, ok := end[p]; !ok {
				end[p] = start[p]
			}
		}
		rows += start.Total(end)
		e.Start = append(e.Start, start)
		e.End = append(e.End, end)
		latests = append(latests, latest)
	}
	if rows == 0 {
		q.setStatus("Waiting for data to arrive", false)
		q.post(metrics.QueryIdle{ID: q.id, RunID: q.runID, Name: q.name, Time: clk.Now()})
		return false, nil
	}
	q.mu.Lock()
	e.BatchID = q.nextBatch
	q.nextBatch++
	q.mu.Unlock()
	getOffset := clk.Since(t0)
	b, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	// The offset log is written while the batch computes: the batch
	// waits for it before its sink sees any row (runBatch).
	var walCommit time.Duration
	logged := make(chan error, 1)
	go func() {
		t1 := clk.Now()
		err := q.dir.Write("offsets", e.BatchID, "offsets", b)
		walCommit = clk.Since(t1)
		if err != nil {
			err = fmt.Errorf("writing the offset log: %w", err)
		}
		logged <- err
	}()
	prog, err := q.runBatch(ctx, e, latests, logged)
	if err != nil {
		return false, err
	}
	prog.DurationMs["getOffset"] = getOffset.Milliseconds()
	prog.DurationMs["walCommit"] = walCommit.Milliseconds()
	prog.DurationMs["triggerExecution"] = clk.Since(t0).Milliseconds()
	q.record(*prog)
	return true, nil
}

func (q *Query) setStatus(msg string, data bool) {
	q.mu.Lock()
	q.status, q.dataAvail = msg, data
	q.mu.Unlock()
}

// runBatch runs a logged batch and commits it. logged, when not nil,
// gives the result of the batch's offset log write, still under way: the
// batch waits for it before its sink (and before it returns).
func (q *Query) runBatch(ctx context.Context, e *offsetEntry, latests []connector.Offsets, logged <-chan error) (_ *metrics.QueryProgress, err error) {
	defer func() {
		if logged != nil { // failed before the sink: the log write ends first
			if lerr := <-logged; err == nil {
				err = lerr
			}
		}
	}()
	clk := q.cfg.clock
	q.setStatus("Processing new data", true)
	t0 := clk.Now()
	ranges := map[*SourceNode][]connector.OffsetRange{}
	prog := &metrics.QueryProgress{ID: q.id, RunID: q.runID, Name: q.name, Timestamp: time.UnixMilli(e.TimestampMs), BatchID: e.BatchID,
		DurationMs: map[string]int64{}, StateOperators: []metrics.StateOperatorInfo{}}
	for i, s := range q.sources {
		rs, _, err := connector.PlanRanges(e.Start[i], e.End[i], connector.Limits{})
		if err != nil {
			return nil, fmt.Errorf("batch %d, source %s: %w", e.BatchID, s.Src.Name(), err)
		}
		ranges[s] = rs
		n := e.Start[i].Total(e.End[i])
		prog.NumInputRows += n
		sp := metrics.QuerySourceProgress{Description: s.Src.Name(), StartOffset: e.Start[i].String(), EndOffset: e.End[i].String(), NumInputRows: n}
		if latests != nil {
			sp.LatestOffset = latests[i].String()
			sp.Lag = e.End[i].Total(latests[i])
			for _, pp := range connector.Progress(e.Start[i], e.End[i], latests[i]) {
				sp.Partitions = append(sp.Partitions, metrics.PartitionOffsets{Partition: pp.Partition.String(), Start: pp.Start, End: pp.End, Latest: pp.Latest, Lag: pp.Lag})
			}
		}
		prog.Sources = append(prog.Sources, sp)
	}
	xc, err := exec.NewContext(q.ec, q.cfg.alloc, clk.Now(), q.cfg.exec)
	if err != nil {
		return nil, err
	}
	defer xc.Close()
	b := &binding{ranges: ranges, rows: map[*SourceNode]*atomic.Int64{}, wm: q.wm, minPartitions: q.ec.Slots()}
	for _, s := range q.sources {
		b.rows[s] = new(atomic.Int64)
	}
	plans, placeholders := []plan.Node{q.plan}, map[plan.Node]bool{}
	for _, op := range q.ops {
		plans = append(plans, op.inputPlan())
		placeholders[op.placeholder()] = true
	}
	b.shared = shareScans(placeholders, plans...)
	defer func() {
		for _, ss := range b.shared {
			ss.release()
		}
	}()
	var watermark time.Time
	if e.WatermarkMicros != 0 {
		watermark = time.UnixMicro(e.WatermarkMicros)
	}
	q.wm.current = watermark
	q.wm.stats.reset()
	b.replace = map[plan.Node]plan.Node{}
	for i, op := range q.ops {
		late := new(atomic.Int64)
		b.dropBefore, b.late = watermark, late
		input, err := b.bind(op.inputPlan())
		b.dropBefore, b.late = time.Time{}, nil
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", e.BatchID, err)
		}
		rel, rows, updated, err := op.run(ctx, xc, input, e.BatchID, q.wm.after)
		if err != nil {
			return nil, fmt.Errorf("batch %d: streaming %s: %w", e.BatchID, kindName(op), err)
		}
		defer releaseAll(rows)
		b.replace[op.placeholder()] = rel
		prog.StateOperators = append(prog.StateOperators, metrics.StateOperatorInfo{OperatorName: fmt.Sprintf("%s-%d", op.kind(), i), NumRowsTotal: op.numRows(), NumRowsUpdated: updated,
			NumRowsDroppedByWatermark: late.Load()}) // MemoryUsedBytes once the state is written
	}
	bound, err := b.bind(q.plan)
	if err != nil {
		return nil, fmt.Errorf("batch %d: %w", e.BatchID, err)
	}
	op, err := exec.Plan(xc, bound)
	if err != nil {
		return nil, fmt.Errorf("batch %d: %w", e.BatchID, err)
	}
	planning := clk.Since(t0)
	t1 := clk.Now()
	desc := fmt.Sprintf("streaming query %s batch %d", q.displayName(), e.BatchID)
	bs, err := xc.Collect(ctx, op, desc)
	if err != nil {
		return nil, fmt.Errorf("batch %d: %w", e.BatchID, err)
	}
	var out int64
	for _, rb := range bs {
		out += rb.NumRows()
	}
	// Rows read, not offsets (a file source's offset is a whole file).
	prog.NumInputRows = 0
	for i, s := range q.sources {
		n := b.rows[s].Load()
		prog.Sources[i].NumInputRows = n
		prog.Sources[i].NumDroppedMalformedRows = b.droppedMalformed(s)
		prog.NumInputRows += n
	}
	after := q.wm.after()
	if !watermark.IsZero() || !after.IsZero() {
		prog.EventTime = map[string]string{"watermark": after.UTC().Format(time.RFC3339Nano)}
	}
	if len(q.wm.nodes) > 0 {
		if prog.EventTime == nil {
			prog.EventTime = map[string]string{}
		}
		q.wm.stats.fill(prog.EventTime)
		if len(prog.EventTime) == 0 {
			prog.EventTime = nil
		}
	}
	if logged != nil {
		// The batch's offsets must be in the log before the sink sees
		// its rows (the state written meanwhile is safe: a version with
		// no logged batch is dropped when its batch runs again).
		err = <-logged
		logged = nil
		if err != nil {
			releaseAll(bs)
			return nil, err
		}
	}
	err = q.sink.AddBatch(ctx, e.BatchID, bs)
	releaseAll(bs)
	if err != nil {
		return nil, fmt.Errorf("batch %d: sink: %w", e.BatchID, err)
	}
	addBatch := clk.Since(t1)
	t2 := clk.Now()
	// The stateful operators write their state in the background; it
	// must be complete before the batch commits.
	for i, op := range q.ops {
		for _, t := range op.stateTables() {
			if err := t.ts.wait(); err != nil {
				return nil, fmt.Errorf("batch %d: streaming %s: %w", e.BatchID, kindName(op), err)
			}
		}
		prog.StateOperators[i].MemoryUsedBytes = stateMemory(op)
	}
	cb, err := json.Marshal(commitEntry{BatchID: e.BatchID, WatermarkMicros: microsOf(after), EventTimeMicros: q.wm.save()})
	if err != nil {
		return nil, err
	}
	if err := q.dir.Write("commits", e.BatchID, "commit", cb); err != nil {
		return nil, fmt.Errorf("writing the commit log: %w", err)
	}
	for i, s := range q.sources {
		if c, ok := s.Src.(connector.Committer); ok {
			if err := c.Commit(ctx, e.End[i]); err != nil {
				q.cfg.logger.Warn("streaming: a source could not record the committed offsets", "source", s.Src.Name(), "err", err)
			}
		}
	}
	q.mu.Lock()
	for i, s := range q.sources {
		q.committed[s] = e.End[i]
	}
	q.watermark = after
	q.mu.Unlock()
	prog.DurationMs["queryPlanning"] = planning.Milliseconds()
	prog.DurationMs["addBatch"] = addBatch.Milliseconds()
	prog.DurationMs["commitOffsets"] = clk.Since(t2).Milliseconds()
	total := clk.Since(t0).Seconds()
	if total > 0 {
		prog.ProcessedRowsPerSecond = float64(prog.NumInputRows) / total
	}
	prog.Sink = metrics.QuerySinkProgress{Description: fmt.Sprintf("%T", q.sink), NumOutputRows: out}
	if latests == nil { // a re-run after a restart: record it too
		q.record(*prog)
	}
	return prog, nil
}

func (q *Query) displayName() string {
	if q.name != "" {
		return q.name
	}
	return q.id[:8]
}

// record keeps a batch's progress and posts it.
func (q *Query) record(p metrics.QueryProgress) {
	q.mu.Lock()
	if n := len(q.recent); n > 0 {
		prev := q.recent[n-1].Timestamp
		if secs := p.Timestamp.Sub(prev).Seconds(); secs > 0 {
			p.InputRowsPerSecond = float64(p.NumInputRows) / secs
		}
	}
	q.recent = append(q.recent, p)
	if len(q.recent) > recentProgressKept {
		q.recent = q.recent[len(q.recent)-recentProgressKept:]
	}
	q.mu.Unlock()
	q.post(metrics.QueryProgressed{Progress: p})
}

// newStatefulOp makes the incremental operator of a stateful operation,
// its inputs optimized.
func newStatefulOp(sp statefulNode, mode OutputMode, o *plan.Optimizer) (statefulOp, error) {
	optimized := func(n plan.Node) (plan.Node, error) {
		p, err := o.Optimize(n)
		if err != nil {
			return nil, fmt.Errorf("streaming.Start: %w", err)
		}
		return p, nil
	}
	switch x := sp.node.(type) {
	case *plan.Aggregate:
		child, err := neededColumns(x)
		if err != nil {
			return nil, err
		}
		input, err := optimized(child)
		if err != nil {
			return nil, err
		}
		return newStreamingAgg(x, sp.ph, input, mode, "")
	case *plan.Deduplicate:
		input, err := optimized(x.Child)
		if err != nil {
			return nil, err
		}
		return newStreamingDedup(x, sp.ph, input)
	case *plan.Join:
		l, err := optimized(x.Left)
		if err != nil {
			return nil, err
		}
		r, err := optimized(x.Right)
		if err != nil {
			return nil, err
		}
		j, err := plan.NewEquiJoin(l, r, x.Type, x.LeftKeys, x.RightKeys, x.Condition)
		if err != nil {
			return nil, fmt.Errorf("streaming.Start: %w", err)
		}
		return newStreamingJoin(j, sp.ph, mode)
	}
	return nil, fmt.Errorf("streaming.Start: no incremental form of %s", sp.node)
}

// neededColumns returns the aggregation's input projected on the columns
// its groups and aggregates read. The input is optimized apart from the
// aggregation (see Start), so without the projection nothing tells the
// optimizer which columns the sources need not build. A session merge
// stays the input itself (newStreamingAgg looks for it there).
func neededColumns(a *plan.Aggregate) (plan.Node, error) {
	if _, ok := a.Child.(*plan.MergeSessions); ok {
		return a.Child, nil
	}
	var names []string
	for _, e := range slices.Concat(a.Groups, a.Aggs) {
		for _, c := range expr.Columns(e) {
			if !slices.Contains(names, c) {
				names = append(names, c)
			}
		}
	}
	if len(names) == 0 || len(names) == a.Child.Schema().NumFields() {
		return a.Child, nil
	}
	cols := make([]expr.Expr, len(names))
	for i, n := range names {
		cols[i] = expr.Col(n)
	}
	p, err := plan.NewProject(a.Child, cols)
	if err != nil {
		return nil, fmt.Errorf("streaming.Start: %w", err)
	}
	return p, nil
}

// containsNode reports whether n is p or under it.
func containsNode(p, n plan.Node) bool {
	if p == n {
		return true
	}
	for _, c := range p.Children() {
		if containsNode(c, n) {
			return true
		}
	}
	return false
}

// kindName names an operator for messages.
func kindName(op statefulOp) string {
	switch op.kind() {
	case "aggregate":
		return "aggregation"
	case "dedup":
		return "deduplication"
	}
	return op.kind()
}
