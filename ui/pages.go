package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// completedPageSize is how many completed batches a page of the streaming
// page's table lists.
const completedPageSize = 100

// pages holds the parsed templates, one set per page (each page defines
// its own "main").
type pages struct {
	streaming, batch, errorPage *template.Template
}

var funcs = template.FuncMap{
	"dur":   formatDuration,
	"ts":    formatTime,
	"rate":  formatRate,
	"lower": strings.ToLower,
	"count": func(n any) string {
		switch n := n.(type) {
		case int:
			return formatCount(int64(n))
		case int64:
			return formatCount(n)
		}
		return fmt.Sprint(n)
	},
	// pct is part/whole in percent, for the progress bars.
	"pct": func(part, whole int) float64 {
		if whole <= 0 {
			return 0
		}
		return round1(100 * float64(part) / float64(whole))
	},
	"add": func(a, b float64) float64 { return round1(a + b) },
	"sub": func(a, b float64) float64 { return round1(a - b) },
	"div": func(a, b float64) float64 { return round1(a / b) },
}

func parsePages() (*pages, error) {
	base, err := template.New("ui").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/charts.html")
	if err != nil {
		return nil, fmt.Errorf("ui: parsing templates: %w", err)
	}
	page := func(file string) (*template.Template, error) {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if file == "" {
			return t.Parse(`{{define "main"}}{{template "error" .}}{{end}}`)
		}
		return t.ParseFS(templateFS, "templates/"+file)
	}
	var p pages
	for _, x := range []struct {
		dst  **template.Template
		file string
	}{{&p.streaming, "streaming.html"}, {&p.batch, "batch.html"}, {&p.errorPage, ""}} {
		if *x.dst, err = page(x.file); err != nil {
			return nil, fmt.Errorf("ui: parsing templates: %w", err)
		}
	}
	return &p, nil
}

// render writes a page, or only its main container's content when the
// request asks for ?fragment=1 (the live refresh).
func (s *Server) render(w http.ResponseWriter, r *http.Request, t *template.Template, status int, data any) {
	name := "layout"
	if r.URL.Query().Get("fragment") == "1" {
		name = "main"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		s.cfg.logger.Error("ui: rendering a page failed", "path", r.URL.Path, "err", err)
		http.Error(w, "500 internal server error: rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorPage struct {
	Title, Message string
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	s.render(w, r, s.pages.errorPage, status, errorPage{Title: title, Message: msg})
}

type pager struct {
	Page, Pages, Total int
	First, Last        int // 1-based positions of the page's first and last rows
	Prev, Next         int
	HasPrev, HasNext   bool
}

type streamingPage struct {
	Title       string
	Stats       statsView
	Charts      []chartRow
	Receivers   []receiverView
	Active      []batchView
	Completed   []batchView // the page's rows
	Pager       pager
	KillEnabled bool
}

func (s *Server) handleStreaming(w http.ResponseWriter, r *http.Request) {
	v := s.store.streamingView()
	total := len(v.Completed)
	pages := max(1, (total+completedPageSize-1)/completedPageSize)
	page := 1
	if q := r.URL.Query().Get("page"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 {
			s.renderError(w, r, http.StatusBadRequest, "Bad page number", fmt.Sprintf("page must be a number from 1 to %d, got %q.", pages, q))
			return
		}
		page = min(n, pages)
	}
	from := min((page-1)*completedPageSize, total)
	to := min(from+completedPageSize, total)
	data := streamingPage{
		Title: "Streaming", Stats: v.Stats, Charts: chartRows(v), Receivers: v.Receivers, Active: v.Active,
		Completed: v.Completed[from:to], KillEnabled: s.cfg.killEnabled,
		Pager: pager{Page: page, Pages: pages, Total: total, First: from + 1, Last: to,
			Prev: page - 1, Next: page + 1, HasPrev: page > 1, HasNext: page < pages},
	}
	if total == 0 {
		data.Pager.First = 0
	}
	s.render(w, r, s.pages.streaming, http.StatusOK, data)
}

type batchPage struct {
	Title string
	Batch batchView
}

func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, "Bad batch ID",
			"A batch is named by its batch time in Unix milliseconds, such as /batch/1700000000000.")
		return
	}
	b, ok := s.store.batch(id)
	if !ok {
		s.renderError(w, r, http.StatusNotFound, "Batch not found",
			fmt.Sprintf("No batch at %s is kept: it never ran, or it is older than the last %d completed batches.",
				formatTime(time.UnixMilli(id)), s.cfg.maxBatches))
		return
	}
	s.render(w, r, s.pages.batch, http.StatusOK, batchPage{Title: "Batch " + formatTime(b.BatchTime), Batch: b})
}

// staticHandler serves the embedded script and style sheet.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	files := http.FileServerFS(sub)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
}
