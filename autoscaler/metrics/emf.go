package metrics

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Defaults for EMFOptions.
const (
	// DefaultEMFNamespace is the CloudWatch namespace of EMF's metrics.
	DefaultEMFNamespace = "FastAutoscaler"
	// DefaultEMFInterval is how often EMF.Run writes: once a minute, the
	// resolution of a standard CloudWatch metric.
	DefaultEMFInterval = time.Minute
)

// emfMaxMetrics is the most metrics one EMF directive may name.
const emfMaxMetrics = 100

// EMFMetric is one CloudWatch metric EMF writes per service, and the
// Prometheus series it comes from.
type EMFMetric struct {
	Name string // CloudWatch metric name
	Unit string // CloudWatch unit: "None", "Count" or "Seconds"
	// From is the Prometheus metric (and Result its result label, when it
	// has one) the value is taken from.
	From, Result string
	// Kind is how the value is taken: "gauge" (as it is), "delta" (a
	// counter's increase since the previous line) or "age" (the line's time
	// minus a Unix timestamp, in seconds).
	Kind string
}

// EMFMetrics lists what EMF writes for each service, in order. A metric
// whose series is absent (Reading while reads fail, LastGoodReadingAge
// before the first good read, the desired counts before the first scale-out
// attempt) is left out of that line.
func EMFMetrics() []EMFMetric {
	const gauge, delta, age = "gauge", "delta", "age"
	ns := func(s string) string { return namespace + "_" + s }
	return []EMFMetric{
		{"Reading", "None", ns("reading"), "", gauge},
		{"ReadFailures", "Count", ns("read_failures"), "", gauge},
		{"LastGoodReadingAge", "Seconds", ns("last_good_reading_timestamp_seconds"), "", age},
		{"InGracePeriod", "None", ns("in_grace_period"), "", gauge},
		{"DesiredCount", "Count", ns("desired_count"), "", gauge},
		{"RequestedDesiredCount", "Count", ns("requested_desired_count"), "", gauge},
		{"Checks", "Count", ns("checks_total"), "ok", delta},
		{"CheckErrors", "Count", ns("checks_total"), "error", delta},
		{"CheckOverloads", "Count", ns("checks_total"), "overload", delta},
		{"ScaledOut", "Count", ns("scaleouts_total"), "scaled_out", delta},
		{"HeldAtMax", "Count", ns("scaleouts_total"), "held_at_max", delta},
		{"ScaleFailed", "Count", ns("scaleouts_total"), "scale_failed", delta},
		{"DryRun", "Count", ns("scaleouts_total"), "dry_run", delta},
		{"HeldStarting", "Count", ns("scaleouts_total"), "held_starting", delta},
		{"HeldSuspended", "Count", ns("scaleouts_total"), "held_suspended", delta},
		{"ScaleUnknown", "Count", ns("scaleouts_total"), "scale_unknown", delta},
	}
}

// EMFOptions configure NewEMF. Gatherer and Writer are required.
type EMFOptions struct {
	// Gatherer is the registry the Metrics were registered with.
	Gatherer prometheus.Gatherer
	// Writer receives the lines, each in one Write call: the process's
	// stdout on ECS, which the awslogs log driver ships to CloudWatch Logs.
	Writer io.Writer
	// Namespace is the CloudWatch namespace. Default DefaultEMFNamespace.
	Namespace string
	// Clock paces Run. Default clock.New().
	Clock clock.Clock
}

// EMF writes the per-service metrics as CloudWatch Embedded Metric Format
// log lines: one JSON object per service and interval, with the dimensions
// Cluster and Service, the metrics EMFMetrics lists as top-level members,
// and the "_aws" metadata that tells CloudWatch Logs to extract them. No
// CloudWatch API is called. Counters are written as their increase since the
// previous line (the first line counts from the start), gauges as they are.
type EMF struct {
	opts    EMFOptions
	metrics []EMFMetric
	last    map[emfKey]float64 // counters at the previous line
}

type emfKey struct{ cluster, service, metric string }

// NewEMF returns an EMF writer, or an error when a required option is
// missing.
func NewEMF(opts EMFOptions) (*EMF, error) {
	if opts.Gatherer == nil || opts.Writer == nil {
		return nil, errors.New("metrics: EMFOptions.Gatherer and Writer are required")
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultEMFNamespace
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	return &EMF{opts: opts, metrics: EMFMetrics(), last: map[emfKey]float64{}}, nil
}

// Run writes a line per service every interval (DefaultEMFInterval when
// <= 0) until ctx is done, then once more, so the counts of the last
// partial interval are not lost. A failed write is passed to onError (when
// not nil) and does not stop Run.
func (e *EMF) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	if interval <= 0 {
		interval = DefaultEMFInterval
	}
	tick := e.opts.Clock.Ticker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := e.Write(e.opts.Clock.Now()); err != nil && onError != nil {
				onError(err)
			}
			return
		case now := <-tick.C:
			if err := e.Write(now); err != nil && onError != nil {
				onError(err)
			}
		}
	}
}

// Write gathers the metrics and writes one line per service, stamped now.
// Services are written in the order of their labels (cluster, service).
func (e *EMF) Write(now time.Time) error {
	mfs, err := e.opts.Gatherer.Gather()
	if err != nil {
		return fmt.Errorf("emf: gather metrics: %w", err)
	}
	byName := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	type svcKey struct{ cluster, service string }
	values := map[svcKey]map[string]float64{}
	for _, m := range e.metrics {
		mf := byName[m.From]
		if mf == nil {
			continue
		}
		for _, s := range mf.GetMetric() {
			cluster, service, result := labelsOf(s)
			if service == "" || result != m.Result {
				continue
			}
			v, ok := e.value(m, s, now, emfKey{cluster, service, m.Name})
			if !ok {
				continue
			}
			k := svcKey{cluster, service}
			if values[k] == nil {
				values[k] = map[string]float64{}
			}
			values[k][m.Name] = v
		}
	}
	keys := make([]svcKey, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b svcKey) int {
		return cmp.Or(cmp.Compare(a.cluster, b.cluster), cmp.Compare(a.service, b.service))
	})
	var errs []error
	for _, k := range keys {
		line, err := e.line(now, k.cluster, k.service, values[k])
		if err == nil {
			_, err = e.opts.Writer.Write(line)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("emf: %s/%s: %w", k.cluster, k.service, err))
		}
	}
	return errors.Join(errs...)
}

// value is m's value from series s, or false when it has none.
func (e *EMF) value(m EMFMetric, s *dto.Metric, now time.Time, k emfKey) (float64, bool) {
	var v float64
	switch {
	case s.GetGauge() != nil:
		v = s.GetGauge().GetValue()
	case s.GetCounter() != nil:
		v = s.GetCounter().GetValue()
	default:
		return 0, false
	}
	switch m.Kind {
	case "delta":
		prev, seen := e.last[k]
		e.last[k] = v
		if seen && v >= prev { // a counter that went down was created again
			v -= prev
		}
	case "age": // to the millisecond
		v = max(math.Round((float64(now.UnixMilli())/1e3-v)*1e3)/1e3, 0)
	}
	return v, !math.IsNaN(v) && !math.IsInf(v, 0)
}

func labelsOf(s *dto.Metric) (cluster, service, result string) {
	for _, l := range s.GetLabel() {
		switch l.GetName() {
		case "cluster":
			cluster = l.GetValue()
		case "service":
			service = l.GetValue()
		case "result":
			result = l.GetValue()
		}
	}
	return cluster, service, result
}

// line encodes one service's EMF object, newline-terminated.
func (e *EMF) line(now time.Time, cluster, service string, values map[string]float64) ([]byte, error) {
	type metricDef struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type directive struct {
		Namespace  string      `json:"Namespace"`
		Dimensions [][]string  `json:"Dimensions"`
		Metrics    []metricDef `json:"Metrics"`
	}
	var defs []metricDef
	obj := map[string]any{"Cluster": cluster, "Service": service}
	for _, m := range e.metrics {
		if v, ok := values[m.Name]; ok {
			defs = append(defs, metricDef{m.Name, m.Unit})
			obj[m.Name] = v
		}
	}
	var directives []directive
	for chunk := range slices.Chunk(defs, emfMaxMetrics) {
		directives = append(directives, directive{e.opts.Namespace, [][]string{{"Cluster", "Service"}}, chunk})
	}
	obj["_aws"] = map[string]any{"Timestamp": now.UnixMilli(), "CloudWatchMetrics": directives}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
