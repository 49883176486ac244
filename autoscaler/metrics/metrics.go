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
// A Metrics is an autoscaler.Observer (and an autoscaler.ServiceObserver): set it
// as autoscaler.Options.Observer.
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
	services           *serviceCollector // the per-service metrics
	awsDuration        *prometheus.HistogramVec
	awsErrors, reloads *prometheus.CounterVec
	notifiers          *notifierCollector
}

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
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		services: newServiceCollector(),
		awsDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "aws_request_duration_seconds", Help: "AWS API operation latency in seconds, retries included.",
			Buckets: buckets(),
		}, []string{"aws_service", "operation"}),
		awsErrors: counter("aws_errors_total", "AWS API operations that failed, by error code (timeout: no answer within the AWS timeout; network: no response; unknown when none).",
			[]string{"aws_service", "operation", "code"}),
		reloads:   counter("config_reloads_total", "Config reloads by result: ok, invalid, error.", []string{"result"}),
		notifiers: newNotifierCollector(),
	}
	for _, r := range []string{ReloadOK, ReloadInvalid, ReloadError} {
		m.reloads.WithLabelValues(r)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info", Help: "Always 1; labelled with the version and the Go version that built it.",
		ConstLabels: prometheus.Labels{"version": label(opts.Version), "go_version": runtime.Version()},
	})
	build.Set(1)

	all := []prometheus.Collector{m.services, m.awsDuration, m.awsErrors, m.reloads, m.notifiers, build}
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
// autoscaler.Observer. It does not allocate once svc has been seen.
func (m *Metrics) Observe(svc scaler.ServiceID, c autoscaler.Check, took time.Duration) {
	m.services.observe(m.services.series(svc), &c, took)
}

// ForService returns what records svc's checks as Observe does, its
// figures found at the first check (as Observe makes them: a service shows
// in the metrics once checked) and kept rather than looked up at every
// check. Its calls must not overlap; the engine makes one a check, checks
// of a service one after another. It implements
// autoscaler.ServiceObserver.
func (m *Metrics) ForService(svc scaler.ServiceID) func(c *autoscaler.Check, took time.Duration) {
	var s *series
	return func(c *autoscaler.Check, took time.Duration) {
		if s == nil {
			s = m.services.series(svc)
		}
		m.services.observe(s, c, took)
	}
}

// Forget drops every series of svc, for a service removed by a config
// reload. Call it once the service's loop has stopped: a check still in
// flight would create the series again when it is observed.
func (m *Metrics) Forget(svc scaler.ServiceID) { m.services.forget(svc) }

// ConfigReload counts one config reload with its result: ReloadOK,
// ReloadInvalid or ReloadError.
func (m *Metrics) ConfigReload(result string) {
	m.reloads.WithLabelValues(label(result)).Inc()
}

// label makes s a valid label value (client_golang panics on invalid UTF-8).
func label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
