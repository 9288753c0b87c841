package ui

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// contentSecurityPolicy allows only the server's own script, style sheet
// and fetches: an injected tag could run nothing even if escaping failed.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Method-qualified patterns: other methods get 405, so nothing but
	// /kill accepts a request that could change state.
	mux.HandleFunc("GET /{$}", s.handleStreaming)
	mux.HandleFunc("GET /streaming/{$}", s.handleStreaming)
	mux.Handle("GET /streaming", http.RedirectHandler("/streaming/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /batch/{id}", s.handleBatch)

	mux.HandleFunc("GET /api/v1/streaming/statistics", s.handleAPIStatistics)
	mux.HandleFunc("GET /api/v1/streaming/batches", s.handleAPIBatches)
	mux.HandleFunc("GET /api/v1/streaming/batches/{id}", s.handleAPIBatch)
	mux.HandleFunc("GET /api/v1/streaming/receivers", s.handleAPIReceivers)
	mux.HandleFunc("GET /api/v1/queries", s.handleAPIQueries)
	mux.HandleFunc("GET /api/v1/queries/{id}", s.handleAPIQuery)
	mux.HandleFunc("GET /api/v1/queries/{id}/progress", s.handleAPIQuery)
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		s.apiError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path)
	})

	mux.Handle("GET /metrics", promhttp.HandlerFor(s.prom.reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("/kill", s.handleKill)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.renderError(w, r, http.StatusNotFound, "Page not found", "There is no page at "+r.URL.Path+".")
	})
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// handleKill serves /kill: 404 unless KillEnabled, 405 for anything but
// POST, 403 for a cross-origin browser request (a page elsewhere posting a
// form to the UI); otherwise it calls the kill function once, in its own
// goroutine, and answers 202 (or, for a browser form, redirects to the
// streaming page).
func (s *Server) handleKill(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.killEnabled {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "405 method not allowed: stop the streaming context with POST /kill", http.StatusMethodNotAllowed)
		return
	}
	if err := s.csrf.Check(r); err != nil {
		http.Error(w, "403 forbidden: cross-origin request to /kill refused", http.StatusForbidden)
		return
	}
	first := false
	s.kill.Do(func() {
		first = true
		s.cfg.logger.Warn("ui: stopping the streaming context on a request to /kill", "remote", r.RemoteAddr)
		go s.cfg.killFunc()
	})
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, "/streaming/", http.StatusSeeOther)
		return
	}
	msg := "stopping the streaming context"
	if !first {
		msg = "already stopping the streaming context"
	}
	s.writeJSON(w, http.StatusAccepted, map[string]string{"status": msg})
}
