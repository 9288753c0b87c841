package ui

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/spate-io/spate/metrics"
)

// queryHistory is how many progress reports the UI keeps per query.
const queryHistory = 100

// queryState is what the events said about one Structured Streaming
// query (by id; a restart is a new run of the same query).
type queryState struct {
	id, runID, name string
	active          bool
	started         time.Time
	stopped         time.Time
	errMsg          string
	progress        []metrics.QueryProgress // oldest first
}

// onQueryEvent records a Structured Streaming query event; s.mu is held.
func (s *store) onQueryEvent(e metrics.Event) {
	if s.queries == nil {
		s.queries = map[string]*queryState{}
	}
	get := func(id string) *queryState {
		q := s.queries[id]
		if q == nil {
			q = &queryState{id: id}
			s.queries[id] = q
			s.queryOrder = append(s.queryOrder, id)
		}
		return q
	}
	switch e := e.(type) {
	case metrics.QueryStarted:
		q := get(e.ID)
		q.runID, q.name, q.active, q.started, q.errMsg = e.RunID, e.Name, true, e.Time, ""
	case metrics.QueryProgressed:
		q := get(e.Progress.ID)
		q.progress = append(q.progress, e.Progress)
		if len(q.progress) > queryHistory {
			q.progress = slices.Delete(q.progress, 0, len(q.progress)-queryHistory)
		}
	case metrics.QueryTerminated:
		q := get(e.ID)
		q.active, q.stopped, q.errMsg = false, e.Time, errText(e.Err)
	}
}

// apiQuery is a query in /api/v1/queries.
type apiQuery struct {
	ID           string                 `json:"id"`
	RunID        string                 `json:"runId"`
	Name         string                 `json:"name"`
	IsActive     bool                   `json:"isActive"`
	Started      *string                `json:"startTimestamp"`
	Exception    *string                `json:"exception"`
	LastProgress *metrics.QueryProgress `json:"lastProgress"`
}

func (s *store) apiQueries() []apiQuery {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]apiQuery, 0, len(s.queryOrder))
	for _, id := range s.queryOrder {
		out = append(out, s.apiQueryLocked(s.queries[id]))
	}
	return out
}

func (s *store) apiQueryLocked(q *queryState) apiQuery {
	a := apiQuery{ID: q.id, RunID: q.runID, Name: q.name, IsActive: q.active, Started: apiTime(q.started)}
	if q.errMsg != "" {
		a.Exception = strPtr(q.errMsg)
	}
	if n := len(q.progress); n > 0 {
		p := q.progress[n-1]
		a.LastProgress = &p
	}
	return a
}

// handleAPIQueries lists the Structured Streaming queries seen, with
// their last progress.
func (s *Server) handleAPIQueries(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, s.store.apiQueries())
}

// handleAPIQuery describes one query (/api/v1/queries/{id}), or lists its
// recent progress (/api/v1/queries/{id}/progress).
func (s *Server) handleAPIQuery(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.store.mu.RLock()
	q := s.store.queries[id]
	var body any
	if q != nil {
		if r.URL.Path == "/api/v1/queries/"+id+"/progress" {
			body = slices.Clone(q.progress)
		} else {
			body = s.store.apiQueryLocked(q)
		}
	}
	s.store.mu.RUnlock()
	if q == nil {
		s.apiError(w, http.StatusNotFound, "no query "+strconv.Quote(id))
		return
	}
	s.writeJSON(w, http.StatusOK, body)
}
