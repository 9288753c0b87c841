package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/spate-io/spate/metrics"
)

// stopFlushTimeout bounds how long Stop waits for the events posted before
// it to be delivered.
const stopFlushTimeout = time.Second

// Server is the monitoring web UI of one streaming context. Create it with
// [New], start it with [Server.Start] (a streaming context does so when the
// server is given with dstream.WithService) and stop it with [Server.Stop].
// A server is started at most once.
type Server struct {
	cfg     config
	prom    *promMetrics
	store   *store
	pages   *pages
	handler http.Handler
	csrf    *http.CrossOriginProtection
	kill    sync.Once

	mu          sync.Mutex
	started     bool
	stopped     bool
	srv         *http.Server
	url         string
	unsubscribe func()
	bus         *metrics.Bus
	served      chan struct{} // closed when Serve returned
}

// New returns a server configured by opts; it does not listen yet. Its
// errors name the option at fault.
func New(opts ...Option) (*Server, error) {
	cfg := config{addr: DefaultAddr, maxBatches: DefaultMaxBatches, logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if _, _, err := splitAddr(cfg.addr); err != nil {
		return nil, err
	}
	switch {
	case cfg.maxBatches < 1:
		return nil, fmt.Errorf("ui.New: MaxBatches must be at least 1, got %d", cfg.maxBatches)
	case cfg.killEnabled && cfg.killFunc == nil:
		return nil, errors.New("ui.New: KillEnabled(true) needs a KillFunc to call")
	case cfg.logger == nil:
		return nil, errors.New("ui.New: Logger needs a non-nil logger")
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, prom: newPromMetrics(), pages: p, csrf: http.NewCrossOriginProtection()}
	s.store = newStore(cfg.maxBatches, s.prom)
	s.handler = s.routes()
	return s, nil
}

// splitAddr checks a host:port address and returns its parts.
func splitAddr(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("ui.New: Addr must be host:port, got %q: %v", addr, err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("ui.New: Addr's port must be a number in 0..65535, got %q", p)
	}
	return host, port, nil
}

// Handler returns the server's HTTP handler: the pages, the API and
// /metrics, showing what the server learned from the bus given to Start.
// Start serves it; use it directly to mount the UI in another server or in
// tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Start subscribes the server to bus, listens on the configured address
// (or one of the 16 ports after it when that port is taken) and serves in
// a goroutine. It returns once the server listens; [Server.URL] then
// tells where. It implements dstream.Service.
func (s *Server) Start(bus *metrics.Bus) error {
	if bus == nil {
		return errors.New("ui: Start needs a non-nil bus")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return errors.New("ui: the server was stopped; create a new one")
	case s.started:
		return errors.New("ui: the server is already started")
	}
	ln, err := listen(s.cfg.addr)
	if err != nil {
		return err
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.url = "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
	if !addr.IP.IsLoopback() {
		s.cfg.logger.Warn("ui: listening beyond the loopback interface; anyone who can reach it sees the UI", "addr", addr.String())
	}
	s.prom.watchBus(bus)
	s.bus, s.unsubscribe = bus, bus.Subscribe(s.store)
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.logger.Handler(), slog.LevelWarn),
	}
	s.served = make(chan struct{})
	s.started = true
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.logger.Error("ui: serving failed", "err", err)
		}
	}()
	s.cfg.logger.Info("ui: serving the monitoring UI", "url", s.url)
	return nil
}

// listen listens on addr; when its port (not 0) is taken, it tries the
// next ones, as Spark's UI does.
func listen(addr string) (net.Listener, error) {
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	if port == 0 {
		return lc.Listen(context.Background(), "tcp", addr)
	}
	last := min(port+portAttempts-1, 65535)
	for p := port; p <= last; p++ {
		ln, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("ui: listening on %s: %w", net.JoinHostPort(host, strconv.Itoa(p)), err)
		}
	}
	return nil, fmt.Errorf("ui: ports %d to %d on %q are all in use; pass another port with Addr (0 picks a free one)", port, last, host)
}

// URL returns the address of the running server, such as
// "http://127.0.0.1:4040", or "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Stop waits (briefly) for the events posted before it to be delivered,
// unsubscribes the server from the bus and shuts the HTTP server down:
// it stops listening and waits for the requests in flight, until ctx is
// done (then it closes their connections and returns ctx's error). Stop
// before Start, or a second time, does nothing. It implements
// dstream.Service.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	srv, served, unsubscribe, bus := s.srv, s.served, s.unsubscribe, s.bus
	s.mu.Unlock()

	// Take in what was posted before Stop (the last batches, the
	// context's StreamingStopped) before leaving the bus, but do not wait
	// long: the bus may not be running any more.
	flushCtx, cancel := context.WithTimeout(ctx, stopFlushTimeout)
	bus.Flush(flushCtx)
	cancel()
	unsubscribe()
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	<-served
	return err
}
