// Package metrics exports the engine's work as Prometheus metrics, all named
// fast_autoscaler_*: per service (labels cluster and service) the last
// reading (absent while reads fail), the tasks a per-task reading read (by
// state), consecutive failed reads, the time of the last good reading,
// checks by result, check latency, scale-outs by result (dry runs apart), the
// desired count, the last requested desired count, the grace period and
// whether it is paused; and for the process AWS call latency and errors by
// operation, notifications by result, config reloads by result and build
// info. EMF writes the per-service metrics as CloudWatch Embedded Metric
// Format lines.
//
// A Metrics is an autoscaler.Observer: set it as autoscaler.Options.Observer.
// Call APICall for each AWS operation (the binary does it from an SDK
// middleware), TrackNotifier each notifier that counts its deliveries,
// and call ConfigReload after each reload. Serve the registry with
// promhttp.HandlerFor.
package metrics

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

const namespace = "fast_autoscaler"

// Config reload results, the values ConfigReload expects.
const (
	ReloadOK      = "ok"      // a new config was loaded and applied
	ReloadInvalid = "invalid" // the config was read but rejected by validation
	ReloadError   = "error"   // the config could not be read
)

// buckets are the latency histogram buckets, in seconds: 1 ms to 30 s.
func buckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
}

// Options configure New.
type Options struct {
	// Registerer receives every collector: a user's own registry, or
	// prometheus.NewRegistry(). Required.
	Registerer prometheus.Registerer
	// Version is reported in fast_autoscaler_build_info. Default "devel".
	Version string
}

// Metrics records the engine's metrics. Its methods are safe for concurrent
// use. Create it with New.
type Metrics struct {
	reading, desired, requested, grace *prometheus.GaugeVec
	readFailures, lastGood, paused     *prometheus.GaugeVec
	tasks                              *prometheus.GaugeVec
	checks, scaleouts                  *prometheus.CounterVec
	duration                           *prometheus.HistogramVec
	awsDuration                        *prometheus.HistogramVec
	awsErrors, reloads                 *prometheus.CounterVec
	notifiers                          *notifierCollector

	mu       sync.RWMutex
	services map[scaler.ServiceID]*series
}

// series holds one service's children, so a check looks them up once.
type series struct {
	cluster, name                      string           // label values
	reading                            prometheus.Gauge // nil while absent: before the first reading, or the last read failed
	grace, readFailures, paused        prometheus.Gauge
	lastGood                           prometheus.Gauge // nil before the first good read
	failures                           int              // consecutive failed reads
	checkOK, checkError, checkOverload prometheus.Counter
	duration                           prometheus.Observer
	scaledOut, heldAtMax, scaleFailed  prometheus.Counter
	skipPaused, inGrace, dryRun        prometheus.Counter
	heldStarting, heldSuspended        prometheus.Counter
	scaleUnknown                       prometheus.Counter
	// tasks are the per-task reading's task counts, created at the
	// service's first per-task reading (set only on its own goroutine).
	tasks *taskGauges
}

// taskGauges are fast_autoscaler_tasks by state.
type taskGauges struct{ answered, unanswered, starting prometheus.Gauge }

// New creates the metrics and registers them with opts.Registerer. It fails,
// registering nothing, when opts.Registerer is nil or a registration fails
// (for instance New was already called with the same registry).
func New(opts Options) (*Metrics, error) {
	if opts.Registerer == nil {
		return nil, errors.New("metrics: Options.Registerer is required")
	}
	if opts.Version == "" {
		opts.Version = "devel"
	}
	svc := []string{"cluster", "service"}
	svcResult := []string{"cluster", "service", "result"}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, svc)
	}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: name, Help: help, Buckets: buckets(),
		}, labels)
	}
	m := &Metrics{
		reading: gauge("reading", "Value of the service's last successful metric reading (e.g. nginx active connections); "+
			"absent before the first and while the last read failed."),
		readFailures: gauge("read_failures", "Failed metric reads in a row; 0 when the last read succeeded."),
		lastGood: gauge("last_good_reading_timestamp_seconds",
			"Unix time of the service's last successful metric read (a 503 overload answer included); absent before the first."),
		desired:   gauge("desired_count", "Desired task count found or set by the service's last scale-out attempt."),
		requested: gauge("requested_desired_count", "Desired task count set by the service's last scale-out (never by a dry run)."),
		grace:     gauge("in_grace_period", "1 while the service is in a grace period after a scale-out (or at its cap), else 0."),
		paused:    gauge("paused", "1 while the service is paused (by its config's Paused or the service's fast-autoscaler:paused tag): read, never scaled out; else 0."),
		tasks: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "tasks",
			Help: "Per-task reading only: tasks at the last check that answered, did not answer (unanswered), or were still starting (not read)."},
			[]string{"cluster", "service", "state"}),
		checks: counter("checks_total", "Checks by result: ok, error (the metric read failed), overload (the source reported overload).", svcResult),
		scaleouts: counter("scaleouts_total", "Scale-out attempts by result: scaled_out, held_at_max (already at the cap), scale_failed, "+
			"paused (the service is paused), in_grace (a scale-out recorded on the service, by another process or before a restart, is in its grace period), "+
			"dry_run (decided, not made), held_starting (the tasks asked for last have not started), "+
			"held_suspended (scale-out suspended on the scalable target), "+
			"scale_unknown (the update's outcome was unknown; the service was read at once to tell whether it landed).", svcResult),
		duration: histogram("check_duration_seconds", "How long one check took (read, decide, act, notify), in seconds.", svc),
		awsDuration: histogram("aws_request_duration_seconds",
			"AWS API operation latency in seconds, retries included.", []string{"aws_service", "operation"}),
		awsErrors: counter("aws_errors_total", "AWS API operations that failed, by error code (timeout: no answer within the AWS timeout; network: no response; unknown when none).",
			[]string{"aws_service", "operation", "code"}),
		reloads:   counter("config_reloads_total", "Config reloads by result: ok, invalid, error.", []string{"result"}),
		notifiers: newNotifierCollector(),
		services:  make(map[scaler.ServiceID]*series),
	}
	for _, r := range []string{ReloadOK, ReloadInvalid, ReloadError} {
		m.reloads.WithLabelValues(r)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info", Help: "Always 1; labelled with the version and the Go version that built it.",
		ConstLabels: prometheus.Labels{"version": label(opts.Version), "go_version": runtime.Version()},
	})
	build.Set(1)

	all := []prometheus.Collector{m.reading, m.readFailures, m.lastGood, m.desired, m.requested, m.grace, m.paused, m.tasks, m.checks, m.scaleouts,
		m.duration, m.awsDuration, m.awsErrors, m.reloads, m.notifiers, build}
	for i, c := range all {
		if err := opts.Registerer.Register(c); err != nil {
			for _, r := range all[:i] {
				opts.Registerer.Unregister(r)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

// Observe records one check of svc that took took; it implements
// autoscaler.Observer. It does not allocate once svc has been seen, except
// when a reading comes back after failed reads (its series is created
// again).
func (m *Metrics) Observe(svc scaler.ServiceID, c autoscaler.Check, took time.Duration) {
	s := m.series(svc)
	s.duration.Observe(took.Seconds())
	if c.Outcome == autoscaler.ReadFailed {
		s.checkError.Inc()
		s.failures++
		if s.reading != nil { // a failed read leaves no reading standing
			m.reading.DeleteLabelValues(s.cluster, s.name)
			s.reading = nil
		}
	} else {
		s.failures = 0
		if s.lastGood == nil {
			s.lastGood = m.lastGood.WithLabelValues(s.cluster, s.name)
		}
		if !c.Time.IsZero() {
			s.lastGood.Set(float64(c.Time.UnixNano()) / 1e9)
		}
		if c.Reading.Overload {
			s.checkOverload.Inc()
		} else {
			s.checkOK.Inc()
			if s.reading == nil {
				s.reading = m.reading.WithLabelValues(s.cluster, s.name)
			}
			s.reading.Set(c.Reading.Value)
		}
	}
	s.readFailures.Set(float64(s.failures))
	m.observeTasks(s, c)
	grace := 0.0
	if c.Grace {
		grace = 1
	}
	switch c.Outcome {
	case autoscaler.ScaledOut:
		s.scaledOut.Inc()
		m.desired.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredNew))
		m.requested.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredNew))
		grace = 1
	case autoscaler.DryRun: // nothing was requested: the desired count is as found
		s.dryRun.Inc()
		m.desired.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredCur))
		grace = 1
	case autoscaler.HeldAtMax:
		s.heldAtMax.Inc()
		m.desired.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredCur))
		grace = 1
	case autoscaler.HeldStarting:
		s.heldStarting.Inc()
		m.desired.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredCur))
	case autoscaler.HeldSuspended:
		s.heldSuspended.Inc()
		m.desired.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredCur))
	case autoscaler.ScaleFailed:
		s.scaleFailed.Inc()
		if c.DesiredNew > 0 { // the state was read: DesiredCur is known
			m.desired.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredCur))
		}
	case autoscaler.ScaleUnknown:
		s.scaleUnknown.Inc()
		if c.DesiredAfter >= 0 { // read after the lost answer
			m.desired.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredAfter))
		}
		if c.Landed { // the count asked for is in force: the grace period runs
			m.requested.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredNew))
			grace = 1
		}
	case autoscaler.Paused:
		s.skipPaused.Inc()
	case autoscaler.InGrace:
		s.inGrace.Inc()
		m.desired.WithLabelValues(s.cluster, s.name).Set(float64(c.DesiredCur))
		grace = 1
	}
	s.grace.Set(grace)
	paused := 0.0
	if c.Paused {
		paused = 1
	}
	s.paused.Set(paused)
}

// observeTasks sets the task counts of a per-task reading. Once a service
// has had one, a check with no per-task reading (it failed, or read a
// fallback through the load balancer) counts no task as answered.
func (m *Metrics) observeTasks(s *series, c autoscaler.Check) {
	r := c.Reading
	perTask := r.Tasks > 0 || r.Unanswered > 0
	if s.tasks == nil {
		if !perTask {
			return
		}
		s.tasks = &taskGauges{
			answered:   m.tasks.WithLabelValues(s.cluster, s.name, "answered"),
			unanswered: m.tasks.WithLabelValues(s.cluster, s.name, "unanswered"),
			starting:   m.tasks.WithLabelValues(s.cluster, s.name, "starting"),
		}
	}
	s.tasks.answered.Set(float64(r.Tasks))
	if perTask {
		s.tasks.unanswered.Set(float64(r.Unanswered))
		s.tasks.starting.Set(float64(r.Starting))
	}
}

// series returns svc's children, creating them (every result at 0) the
// first time. The desired counts are created at the first scale-out attempt,
// so they never show a count that was not seen.
func (m *Metrics) series(svc scaler.ServiceID) *series {
	m.mu.RLock()
	s := m.services[svc]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.services[svc]; s != nil {
		return s
	}
	c, n := label(svc.Cluster), label(svc.Name)
	s = &series{
		cluster: c, name: n,
		grace:         m.grace.WithLabelValues(c, n),
		readFailures:  m.readFailures.WithLabelValues(c, n),
		paused:        m.paused.WithLabelValues(c, n),
		checkOK:       m.checks.WithLabelValues(c, n, "ok"),
		checkError:    m.checks.WithLabelValues(c, n, "error"),
		checkOverload: m.checks.WithLabelValues(c, n, "overload"),
		duration:      m.duration.WithLabelValues(c, n),
		scaledOut:     m.scaleouts.WithLabelValues(c, n, autoscaler.ScaledOut.String()),
		heldAtMax:     m.scaleouts.WithLabelValues(c, n, autoscaler.HeldAtMax.String()),
		scaleFailed:   m.scaleouts.WithLabelValues(c, n, autoscaler.ScaleFailed.String()),
		skipPaused:    m.scaleouts.WithLabelValues(c, n, autoscaler.Paused.String()),
		inGrace:       m.scaleouts.WithLabelValues(c, n, autoscaler.InGrace.String()),
		dryRun:        m.scaleouts.WithLabelValues(c, n, autoscaler.DryRun.String()),
		heldStarting:  m.scaleouts.WithLabelValues(c, n, autoscaler.HeldStarting.String()),
		heldSuspended: m.scaleouts.WithLabelValues(c, n, autoscaler.HeldSuspended.String()),
		scaleUnknown:  m.scaleouts.WithLabelValues(c, n, autoscaler.ScaleUnknown.String()),
	}
	m.services[svc] = s
	return s
}

// Forget drops every series of svc, for a service removed by a config
// reload. Call it once the service's loop has stopped: a check still in
// flight would create the series again when it is observed.
func (m *Metrics) Forget(svc scaler.ServiceID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.services, svc)
	match := prometheus.Labels{"cluster": label(svc.Cluster), "service": label(svc.Name)}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.reading, m.readFailures, m.lastGood, m.desired, m.requested, m.grace, m.paused, m.tasks, m.checks, m.scaleouts, m.duration,
	} {
		v.DeletePartialMatch(match)
	}
}

// ConfigReload counts one config reload with its result: ReloadOK,
// ReloadInvalid or ReloadError.
func (m *Metrics) ConfigReload(result string) {
	m.reloads.WithLabelValues(label(result)).Inc()
}

// label makes s a valid label value (client_golang panics on invalid UTF-8).
func label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
