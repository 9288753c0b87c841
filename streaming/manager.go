package streaming

import (
	"context"
	"fmt"
	"sync"
)

// Manager keeps track of the streaming queries started with it
// (WithManager), as Spark's StreamingQueryManager: a name is unique among
// its active queries, and AwaitAnyTermination waits for the first to stop.
type Manager struct {
	mu         sync.Mutex
	active     map[string]*Query // by id
	terminated []*Query
	changed    chan struct{} // closed and replaced when a query terminates
}

// NewManager returns an empty manager.
func NewManager() *Manager {
	return &Manager{active: map[string]*Query{}, changed: make(chan struct{})}
}

func (m *Manager) add(q *Query) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.active {
		if o.id == q.id {
			return fmt.Errorf("streaming.Start: the query %s (checkpoint %s) is already active", q.id, q.cfg.checkpoint)
		}
		if q.name != "" && o.name == q.name {
			return fmt.Errorf("streaming.Start: a query named %q is already active; names must be unique", q.name)
		}
	}
	m.active[q.id] = q
	return nil
}

func (m *Manager) queryTerminated(q *Query) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.active, q.id)
	m.terminated = append(m.terminated, q)
	close(m.changed)
	m.changed = make(chan struct{})
}

// Active returns the active queries.
func (m *Manager) Active() []*Query {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Query, 0, len(m.active))
	for _, q := range m.active {
		out = append(out, q)
	}
	return out
}

// Get returns the active query with id, or nil.
func (m *Manager) Get(id string) *Query {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[id]
}

// AwaitAnyTermination waits until a query has terminated since the last
// ResetTerminated (at once if one has) and returns its error, or
// ctx.Err().
func (m *Manager) AwaitAnyTermination(ctx context.Context) error {
	for {
		m.mu.Lock()
		if len(m.terminated) > 0 {
			q := m.terminated[0]
			m.mu.Unlock()
			return q.Exception()
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ResetTerminated forgets the terminated queries, so that
// AwaitAnyTermination waits for a new one.
func (m *Manager) ResetTerminated() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.terminated = nil
}
