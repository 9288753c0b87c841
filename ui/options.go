package ui

import (
	"log/slog"
)

// DefaultAddr is the address the server listens on by default: Spark's UI
// port, on the loopback interface.
const DefaultAddr = "127.0.0.1:4040"

// DefaultMaxBatches is how many completed batches the server keeps by
// default.
const DefaultMaxBatches = 1000

// portAttempts is how many ports the server tries, from the given one up,
// when the given one is taken (Spark's spark.port.maxRetries is 16: the
// port and the 16 after it).
const portAttempts = 17

// Option configures a [Server].
type Option func(*config)

type config struct {
	addr        string
	killEnabled bool
	killFunc    func()
	maxBatches  int
	logger      *slog.Logger
}

// Addr sets the host:port the server listens on. When the port is taken,
// the server tries the next ports, up to 16 more, as Spark does. Port 0
// picks any free port. A host other than a loopback address exposes the
// UI to the network: do so only behind something that authenticates.
// Default: [DefaultAddr] ("127.0.0.1:4040").
func Addr(addr string) Option { return func(c *config) { c.addr = addr } }

// KillEnabled turns on POST /kill, which calls the function given with
// [KillFunc] (typically one that stops the streaming context). Without it,
// /kill answers 404 and no endpoint changes anything. Default: false.
func KillEnabled(enabled bool) Option { return func(c *config) { c.killEnabled = enabled } }

// KillFunc sets the function POST /kill calls when [KillEnabled] is true.
// It runs in its own goroutine, so it may stop the streaming context (which
// stops this server) without waiting for the request that asked for it.
// It is called at most once. Default: none (KillEnabled(true) needs one).
func KillFunc(f func()) Option { return func(c *config) { c.killFunc = f } }

// MaxBatches sets how many completed batches the server keeps for its
// pages and API (the newest ones); at least 1. Totals still count every
// batch. Default: [DefaultMaxBatches] (1000).
func MaxBatches(n int) Option { return func(c *config) { c.maxBatches = n } }

// Logger sets where the server logs (the address it listens on, HTTP
// server errors). Default: [slog.Default].
func Logger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }
