package ui

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/spate-io/spate/metrics"
)

// delayBuckets are the histogram buckets of the delays, in seconds: from
// 1ms to a minute.
var delayBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// promMetrics are the Prometheus metrics of one server, in its own
// registry (never the global default one). They are updated from the bus
// events as they arrive, so they count every batch, not only the retained
// ones. A nil *promMetrics ignores everything.
type promMetrics struct {
	reg *prometheus.Registry

	batchesCompleted, batchesFailed   prometheus.Counter
	recordsReceived, recordsProcessed prometheus.Counter
	schedulingDelay                   prometheus.Histogram
	processingTime                    prometheus.Histogram
	totalDelay                        prometheus.Histogram
	batchInterval                     prometheus.Gauge

	receiverLastBatch *prometheus.GaugeVec
	receiverRateLimit *prometheus.GaugeVec
	receiverRecords   *prometheus.CounterVec
	receiverActive    *prometheus.GaugeVec
	receiverErrors    *prometheus.CounterVec

	jobsStarted, jobsSucceeded, jobsFailed       prometheus.Counter
	stagesCompleted, stagesFailed, stagesSkipped prometheus.Counter
	tasksCompleted, tasksFailed                  prometheus.Counter
}

func newPromMetrics() *promMetrics {
	reg := prometheus.NewRegistry()
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: delayBuckets})
		reg.MustRegister(h)
		return h
	}
	receiverLabels := []string{"stream_id", "receiver"}
	m := &promMetrics{
		reg:              reg,
		batchesCompleted: counter("spate_streaming_batches_completed_total", "Batches whose output operations all ended, successfully or not."),
		batchesFailed:    counter("spate_streaming_batches_failed_total", "Completed batches with a failed output operation."),
		recordsReceived:  counter("spate_streaming_records_received_total", "Records of all inputs in the submitted batches."),
		recordsProcessed: counter("spate_streaming_records_processed_total", "Records of all inputs in the completed batches."),
		schedulingDelay:  histogram("spate_streaming_scheduling_delay_seconds", "Time completed batches waited between submission and the start of processing."),
		processingTime:   histogram("spate_streaming_processing_time_seconds", "Time completed batches took to run their output operations."),
		totalDelay:       histogram("spate_streaming_total_delay_seconds", "Time from a completed batch's batch time to the end of its processing."),
		batchInterval: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spate_streaming_batch_interval_seconds", Help: "The streaming context's batch interval.",
		}),
		receiverLastBatch: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spate_streaming_receiver_last_batch_records", Help: "Records the receiver contributed to the latest submitted batch.",
		}, receiverLabels),
		receiverRateLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spate_streaming_receiver_rate_limit_records_per_second",
			Help: "The receiver's rate limit when the latest batch was generated (static or from backpressure); 0 when unlimited.",
		}, receiverLabels),
		receiverRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spate_streaming_receiver_records_total", Help: "Records the receiver contributed to the submitted batches.",
		}, receiverLabels),
		receiverActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spate_streaming_receiver_active", Help: "1 while the receiver runs, 0 once it stopped or while it restarts.",
		}, receiverLabels),
		receiverErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spate_streaming_receiver_errors_total", Help: "Errors the receiver reported.",
		}, receiverLabels),
		jobsStarted:     counter("spate_engine_jobs_started_total", "Engine jobs started (streaming or not)."),
		jobsSucceeded:   counter("spate_engine_jobs_succeeded_total", "Engine jobs that ended successfully."),
		jobsFailed:      counter("spate_engine_jobs_failed_total", "Engine jobs that failed."),
		stagesCompleted: counter("spate_engine_stages_completed_total", "Engine stages that completed successfully."),
		stagesFailed:    counter("spate_engine_stages_failed_total", "Engine stages that failed."),
		stagesSkipped:   counter("spate_engine_stages_skipped_total", "Engine stages skipped because their output was available."),
		tasksCompleted:  counter("spate_engine_tasks_completed_total", "Engine tasks that ended successfully."),
		tasksFailed:     counter("spate_engine_tasks_failed_total", "Engine tasks that failed."),
	}
	reg.MustRegister(m.batchInterval, m.receiverLastBatch, m.receiverRateLimit, m.receiverRecords, m.receiverActive, m.receiverErrors)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watchBus adds the bus's count of dropped events.
func (m *promMetrics) watchBus(bus *metrics.Bus) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "spate_metrics_bus_dropped_events_total",
		Help: "Events the listener bus dropped because its queue was full; the UI misses them.",
	}, func() float64 { return float64(bus.Dropped()) }))
}

func receiverLabelValues(streamID int, name string) []string {
	return []string{strconv.Itoa(streamID), name}
}

// receiverBatch records a receiver's part of a submitted batch.
func (m *promMetrics) receiverBatch(streamID int, name string, in metrics.InputInfo) {
	if m == nil {
		return
	}
	l := receiverLabelValues(streamID, name)
	m.receiverLastBatch.WithLabelValues(l...).Set(float64(max(in.Records, 0)))
	m.receiverRateLimit.WithLabelValues(l...).Set(in.RateLimit)
	m.receiverRecords.WithLabelValues(l...).Add(float64(max(in.Records, 0)))
}

// observe updates the metrics from one event.
func (m *promMetrics) observe(e metrics.Event) {
	if m == nil {
		return
	}
	switch e := e.(type) {
	case metrics.StreamingStarted:
		m.batchInterval.Set(e.BatchInterval.Seconds())
	case metrics.BatchSubmitted:
		m.recordsReceived.Add(float64(e.Info.NumRecords()))
	case metrics.BatchCompleted:
		m.batchesCompleted.Inc()
		if e.Info.Err() != nil {
			m.batchesFailed.Inc()
		}
		m.recordsProcessed.Add(float64(e.Info.NumRecords()))
		m.schedulingDelay.Observe(e.Info.SchedulingDelay().Seconds())
		m.processingTime.Observe(e.Info.ProcessingDelay().Seconds())
		m.totalDelay.Observe(e.Info.TotalDelay().Seconds())
	case metrics.ReceiverStarted:
		m.receiverActive.WithLabelValues(receiverLabelValues(e.StreamID, e.Name)...).Set(1)
	case metrics.ReceiverStopped:
		m.receiverActive.WithLabelValues(receiverLabelValues(e.StreamID, e.Name)...).Set(0)
	case metrics.ReceiverError:
		m.receiverErrors.WithLabelValues(receiverLabelValues(e.StreamID, e.Name)...).Inc()
	case metrics.JobStarted:
		m.jobsStarted.Inc()
	case metrics.JobEnded:
		if e.Err != nil {
			m.jobsFailed.Inc()
		} else {
			m.jobsSucceeded.Inc()
		}
	case metrics.StageCompleted:
		if e.Err != nil {
			m.stagesFailed.Inc()
		} else {
			m.stagesCompleted.Inc()
		}
	case metrics.StageSkipped:
		m.stagesSkipped.Inc()
	case metrics.TaskEnded:
		if e.Err != nil {
			m.tasksFailed.Inc()
		} else {
			m.tasksCompleted.Inc()
		}
	}
}
