// Package ui is spate's monitoring web UI: HTML pages with server-side SVG
// charts, a JSON API and a Prometheus /metrics endpoint for a streaming
// context, in the manner of Spark's Streaming tab.
//
// The UI learns everything from the events of a [metrics.Bus]: it imports
// no engine, RDD or DStream types. A [Server] is a dstream.Service: give it
// to a streaming context with dstream.WithService(server) and the context
// starts it (before the first batch) and stops it (when the context stops):
//
//	server, err := ui.New(ui.Addr("127.0.0.1:4040"))
//	...
//	ssc, err := dstream.NewStreamingContext(ec, time.Second, dstream.WithService(server))
//	...
//	ssc.Start()
//	fmt.Println("UI:", server.URL())
//
// # Pages and endpoints
//
//	/, /streaming/                        the streaming page: statistics, charts, batches, receivers
//	/batch/{batchTimeMs}                  one batch: inputs, output operations, jobs and stages
//	/api/v1/streaming/statistics          JSON: the context's statistics
//	/api/v1/streaming/batches             JSON: retained batches, newest first (?status=completed|active)
//	/api/v1/streaming/batches/{batchTimeMs}  JSON: one batch with its output operations, jobs and stages
//	/api/v1/streaming/receivers           JSON: the receivers
//	/api/v1/queries                       JSON: Structured Streaming queries (id, run id, name, active, exception, last progress)
//	/api/v1/queries/{id}                  JSON: one query
//	/api/v1/queries/{id}/progress         JSON: a query's last 100 progress reports (Spark's StreamingQueryProgress fields)
//	/metrics                              Prometheus text format
//	POST /kill                            stops the streaming context, only with KillEnabled(true)
//
// Pages refresh themselves every second: a small script (served from
// /static/ui.js, no third-party code) fetches the page with ?fragment=1,
// which returns only the inner HTML of the main container, and swaps it in.
// Without JavaScript the pages are complete, static snapshots.
//
// # What is kept
//
// The server keeps the last [MaxBatches] completed batches (default 1000)
// and every batch that was submitted but has not completed (the active
// batches), with their output operations and the engine jobs and stages
// they ran. Totals (completed batches, records) count every batch seen.
// Jobs are linked to a batch by the order of events on the bus: a
// metrics.JobStarted delivered between a batch's
// metrics.OutputOperationStarted and metrics.OutputOperationCompleted
// belongs to that output operation. With dstream.ConcurrentJobs(1), the
// default, only one output operation runs at a time and the link is exact;
// with more, a job is given to the output operation that started last
// among those running, which may be wrong. Jobs that start while no output
// operation runs (jobs outside streaming) are counted in /metrics only.
//
// # Security
//
// The server binds to the loopback interface by default. Every string that
// comes from events (names, descriptions, errors, file names, metadata) is
// escaped by html/template; the JSON encoder escapes <, > and &. Pages
// send a Content-Security-Policy that allows only the server's own script
// and style sheet. No endpoint changes state, except POST /kill when
// [KillEnabled] is true; it rejects cross-origin browser requests (see
// [net/http.CrossOriginProtection]). GET /kill answers 405; without
// KillEnabled, /kill answers 404.
package ui
