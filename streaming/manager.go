package streaming

import (
	"context"
	"fmt"
	"sync"

	"github.com/spate-io/spate/metrics"
)

// QueryListener is told about the queries of a Manager, as Spark's
// StreamingQueryListener: when one starts, after each of its batches,
// when a trigger found no new data, and when it terminates. The calls
// come from one goroutine of the manager, in the order of the events,
// after they happened: a slow listener delays later calls, never a
// query.
type QueryListener interface {
	OnQueryStarted(metrics.QueryStarted)
	OnQueryProgress(metrics.QueryProgressed)
	OnQueryIdle(metrics.QueryIdle)
	OnQueryTerminated(metrics.QueryTerminated)
}

// Manager keeps track of the streaming queries started with it
// (WithManager), as Spark's StreamingQueryManager: a name is unique among
// its active queries, and AwaitAnyTermination waits for the first to stop.
type Manager struct {
	mu         sync.Mutex
	active     map[string]*Query // by id
	terminated []*Query
	changed    chan struct{} // closed and replaced when a query terminates

	listeners  []QueryListener
	events     []metrics.Event // waiting for delivery
	delivering bool            // a goroutine is delivering events
}

// AddListener adds l; it hears of the events that happen from now on.
func (m *Manager) AddListener(l QueryListener) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listeners = append(m.listeners, l)
}

// RemoveListener removes l (events already queued may still reach it).
func (m *Manager) RemoveListener(l QueryListener) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.listeners {
		if x == l {
			m.listeners = append(m.listeners[:i:i], m.listeners[i+1:]...)
			return
		}
	}
}

// post queues ev for the listeners; a goroutine delivers the queue in
// order and ends when it is empty.
func (m *Manager) post(ev metrics.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.listeners) == 0 {
		return
	}
	m.events = append(m.events, ev)
	if !m.delivering {
		m.delivering = true
		go m.deliver()
	}
}

func (m *Manager) deliver() {
	for {
		m.mu.Lock()
		if len(m.events) == 0 {
			m.delivering = false
			m.mu.Unlock()
			return
		}
		ev := m.events[0]
		m.events = m.events[1:]
		ls := append([]QueryListener(nil), m.listeners...)
		m.mu.Unlock()
		for _, l := range ls {
			switch e := ev.(type) {
			case metrics.QueryStarted:
				l.OnQueryStarted(e)
			case metrics.QueryProgressed:
				l.OnQueryProgress(e)
			case metrics.QueryIdle:
				l.OnQueryIdle(e)
			case metrics.QueryTerminated:
				l.OnQueryTerminated(e)
			}
		}
	}
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

// post sends a query event to the engine's bus and to the listeners of
// the query's manager.
func (q *Query) post(ev metrics.Event) {
	q.ec.Bus().Post(ev)
	if q.cfg.manager != nil {
		q.cfg.manager.post(ev)
	}
}
