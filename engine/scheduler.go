package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/spate-io/spate/metrics"
)

// TaskFunc computes partition tc.Partition() of a job's final node and
// hands the result to the caller itself (for example by storing it at
// that partition's index of a slice). It must return promptly, with
// ctx.Err(), once ctx is done.
type TaskFunc func(ctx context.Context, tc *TaskContext) error

// stage is a set of tasks computing the partitions of one node, pipelined
// through its narrow dependencies. Shuffle map stages keep their ID across
// jobs (they are stored per shuffle in the Context).
type stage struct {
	id      int
	node    Node
	shuffle *ShuffleDependency // nil for a job's result stage
	// running serialises runs of a shuffle map stage across jobs; it is a
	// channel so that waiting for it honours cancellation.
	running chan struct{}
}

func (s *stage) name() string { return s.node.Name() }

// plannedStage is a stage as one job sees it, with the parents that the
// job must run first.
type plannedStage struct {
	*stage
	parents []*plannedStage
	once    sync.Once
	err     error
}

// job is the state of one RunJob call.
type job struct {
	c  *Context
	id int
}

// RunJob runs a job that computes the given partitions of final (all of
// them when partitions is nil) and calls task for each, in parallel on the
// worker slots, after running whatever shuffle map stages final needs.
// description names the job in events. RunJob returns the first task
// error, or ctx.Err() when ctx was cancelled, or [ErrClosed].
func (c *Context) RunJob(ctx context.Context, final Node, partitions []int, description string, task TaskFunc) error {
	switch {
	case final == nil:
		return errors.New("engine: RunJob needs a final node")
	case task == nil:
		return errors.New("engine: RunJob needs a task function")
	}
	n := final.NumPartitions()
	if partitions == nil {
		partitions = make([]int, n)
		for i := range partitions {
			partitions[i] = i
		}
	}
	for _, p := range partitions {
		if p < 0 || p >= n {
			return fmt.Errorf("engine: RunJob: partition %d out of range; %s has %d partitions", p, final.Name(), n)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.beginJob() {
		return ErrClosed
	}
	defer c.jobs.Done()

	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnClose := context.AfterFunc(c.root, cancel)
	defer stopOnClose()

	j := &job{c: c, id: int(c.nextJobID.Add(1))}
	memo := map[int]*plannedStage{}
	result := &plannedStage{stage: &stage{id: int(c.nextStageID.Add(1)), node: final}}
	result.parents = c.planParents(final, memo)
	stageIDs := topoStageIDs(result)

	clk := c.cfg.clock
	start := clk.Now()
	c.bus.Post(metrics.JobStarted{JobID: j.id, Description: description, StageIDs: stageIDs, Time: start})
	err := j.runParents(jobCtx, result.parents)
	if err == nil {
		err = j.runTasks(jobCtx, result.stage, partitions, task)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		err = ctx.Err()
	case c.closed.Load() && errors.Is(err, context.Canceled):
		err = ErrClosed
	}
	c.bus.Post(metrics.JobEnded{JobID: j.id, Time: clk.Now(), Duration: clk.Since(start), Err: err})
	return err
}

// topoStageIDs lists the IDs of a job's stages, parents before children.
func topoStageIDs(result *plannedStage) []int {
	var ids []int
	seen := map[int]bool{}
	var visit func(ps *plannedStage)
	visit = func(ps *plannedStage) {
		if seen[ps.id] {
			return
		}
		seen[ps.id] = true
		for _, p := range ps.parents {
			visit(p)
		}
		ids = append(ids, ps.id)
	}
	visit(result)
	return ids
}

// beginJob registers a running job unless the Context is closed.
func (c *Context) beginJob() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return false
	}
	c.jobs.Add(1)
	return true
}

// planParents returns the map stages that node's stage depends on: the
// shuffle dependencies reachable through narrow edges, not looking behind
// nodes whose partitions are all cached.
func (c *Context) planParents(node Node, memo map[int]*plannedStage) []*plannedStage {
	var parents []*plannedStage
	visited := map[int]bool{}
	var visit func(n Node)
	visit = func(n Node) {
		if visited[n.ID()] || c.fullyCached(n) {
			return
		}
		visited[n.ID()] = true
		for _, d := range n.Dependencies() {
			switch d := d.(type) {
			case *ShuffleDependency:
				parents = append(parents, c.planMapStage(d, memo))
			default:
				visit(d.parent())
			}
		}
	}
	visit(node)
	return parents
}

func (c *Context) planMapStage(dep *ShuffleDependency, memo map[int]*plannedStage) *plannedStage {
	c.mu.Lock()
	st := c.stages[dep.id]
	if st == nil {
		st = &stage{id: int(c.nextStageID.Add(1)), node: dep.Parent, shuffle: dep, running: make(chan struct{}, 1)}
		c.stages[dep.id] = st
	}
	c.mu.Unlock()
	if ps := memo[st.id]; ps != nil {
		return ps
	}
	ps := &plannedStage{stage: st}
	memo[st.id] = ps
	ps.parents = c.planParents(dep.Parent, memo)
	return ps
}

func (c *Context) fullyCached(n Node) bool {
	p, ok := n.(Persistable)
	return ok && p.Persisted() && c.cache.CachedPartitions(n.ID()) == n.NumPartitions()
}

// runParents runs map stages concurrently; each runs at most once per job.
func (j *job) runParents(ctx context.Context, parents []*plannedStage) error {
	if len(parents) == 1 {
		return j.runMapStage(ctx, parents[0])
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		first firstError
	)
	for _, ps := range parents {
		wg.Go(func() {
			if err := j.runMapStage(ctx, ps); err != nil {
				first.set(err)
				cancel()
			}
		})
	}
	wg.Wait()
	return first.get()
}

func (j *job) runMapStage(ctx context.Context, ps *plannedStage) error {
	ps.once.Do(func() { ps.err = j.computeMapStage(ctx, ps) })
	return ps.err
}

func (j *job) computeMapStage(ctx context.Context, ps *plannedStage) error {
	c := j.c
	select {
	case ps.running <- struct{}{}:
		defer func() { <-ps.running }()
	case <-ctx.Done():
		return ctx.Err()
	}
	dep := ps.shuffle
	out := c.shuffleOutputFor(dep)
	if out.complete() {
		c.bus.Post(metrics.StageSkipped{JobID: j.id, StageID: ps.id, Name: ps.name(), Time: c.cfg.clock.Now()})
		return nil
	}
	if err := j.runParents(ctx, ps.parents); err != nil {
		return err
	}
	if dep.Prepare != nil {
		if err := dep.Prepare(ctx); err != nil {
			return fmt.Errorf("engine: preparing shuffle %d (%s): %w", dep.id, ps.name(), err)
		}
	}
	return j.runTasks(ctx, ps.stage, out.missing(), func(ctx context.Context, tc *TaskContext) error {
		blocks, err := dep.Write(ctx, tc)
		if err != nil {
			return err
		}
		if len(blocks) != dep.NumBuckets {
			return fmt.Errorf("engine: shuffle %d write returned %d blocks, want %d", dep.id, len(blocks), dep.NumBuckets)
		}
		out.put(tc.partition, blocks)
		return nil
	})
}

// runTasks runs one task per partition on the worker slots and waits for
// all of them. The first failure cancels the others.
func (j *job) runTasks(ctx context.Context, st *stage, partitions []int, fn TaskFunc) error {
	c := j.c
	clk := c.cfg.clock
	start := clk.Now()
	c.bus.Post(metrics.StageSubmitted{JobID: j.id, StageID: st.id, Name: st.name(), NumTasks: len(partitions), Time: start})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg            sync.WaitGroup
		first         firstError
		read, written atomic.Int64
	)
	for _, p := range partitions {
		wg.Go(func() {
			select {
			case c.slots <- struct{}{}:
			case <-ctx.Done():
				first.set(ctx.Err())
				return
			}
			defer func() { <-c.slots }()
			if err := ctx.Err(); err != nil {
				first.set(err)
				return
			}
			tc := &TaskContext{ctx: c, jobID: j.id, stageID: st.id, partition: p}
			t0 := clk.Now()
			c.bus.Post(metrics.TaskStarted{JobID: j.id, StageID: st.id, Partition: p, Time: t0})
			err := runTaskFunc(tc, func() error { return fn(ctx, tc) })
			read.Add(tc.recordsRead)
			written.Add(tc.recordsWritten)
			c.bus.Post(metrics.TaskEnded{JobID: j.id, StageID: st.id, Partition: p, Time: clk.Now(), Duration: clk.Since(t0),
				RecordsRead: tc.recordsRead, RecordsWritten: tc.recordsWritten, Err: err})
			if err != nil {
				if _, isPanic := err.(*TaskPanicError); !isPanic && !errors.Is(err, context.Canceled) {
					err = fmt.Errorf("engine: stage %d (%s), partition %d: %w", st.id, st.name(), p, err)
				}
				first.set(err)
				cancel()
			}
		})
	}
	wg.Wait()
	err := first.get()
	c.bus.Post(metrics.StageCompleted{JobID: j.id, StageID: st.id, Name: st.name(), NumTasks: len(partitions), Time: clk.Now(),
		Duration: clk.Since(start), RecordsRead: read.Load(), RecordsWritten: written.Load(), Err: err})
	return err
}

// firstError keeps the first error set, preferring a real failure over the
// cancellations it causes in sibling tasks.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil || (errors.Is(f.err, context.Canceled) && !errors.Is(err, context.Canceled)) {
		f.err = err
	}
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
