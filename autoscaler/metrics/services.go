package metrics

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// serviceCollector holds the per-service metrics (reading, desired_count,
// requested_desired_count, in_grace_period, checks_total, scaleouts_total,
// check_duration_seconds) as a few hundred bytes of plain numbers a service,
// and turns them into metrics at each scrape. The client library's own
// vectors keep a child object with its label pairs for each series, about
// 11 KB a service here, which at thousands of services outweighs the rest of
// the process.
type serviceCollector struct {
	reading, desired, requested, grace *prometheus.Desc
	checks, scaleouts, duration        *prometheus.Desc
	bounds                             []float64 // the duration buckets' upper bounds, seconds

	mu       sync.RWMutex
	services map[scaler.ServiceID]*series
}

// Results in the order series keeps their counts.
var (
	checkResults    = [3]string{"ok", "error", "overload"}
	scaleoutResults = [3]string{autoscaler.ScaledOut.String(), autoscaler.HeldAtMax.String(), autoscaler.ScaleFailed.String()}
)

// series is one service's figures. Gauges are float64 bits.
type series struct {
	cluster, name string // label values

	reading, grace     atomic.Uint64
	desired, requested atomic.Uint64
	// hasDesired and hasRequested: the counts are shown once a scale-out
	// attempt found or set them, so they never show a count not seen.
	hasDesired, hasRequested atomic.Bool
	checks                   [3]atomic.Uint64 // by checkResults
	scaleouts                [3]atomic.Uint64 // by scaleoutResults
	// buckets counts durations per bucket, not cumulated: buckets[i] holds
	// those in (bounds[i-1], bounds[i]], the last those above every bound.
	buckets []atomic.Uint64
	sum     atomic.Uint64 // seconds, float64 bits
}

func newServiceCollector() *serviceCollector {
	svc := []string{"cluster", "service"}
	svcResult := []string{"cluster", "service", "result"}
	desc := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
	}
	return &serviceCollector{
		reading:   desc("reading", "Value of the service's last successful metric reading (e.g. nginx active connections); 0 before the first.", svc),
		desired:   desc("desired_count", "Desired task count found or set by the service's last scale-out attempt.", svc),
		requested: desc("requested_desired_count", "Desired task count set by the service's last scale-out.", svc),
		grace:     desc("in_grace_period", "1 while the service is in the grace period after a scale-out (checks paused), else 0.", svc),
		checks:    desc("checks_total", "Checks by result: ok, error (the metric read failed), overload (the source reported overload).", svcResult),
		scaleouts: desc("scaleouts_total", "Scale-out attempts by result: scaled_out, held_at_max (already at the cap), scale_failed.", svcResult),
		duration:  desc("check_duration_seconds", "How long one check took (read, decide, act, notify), in seconds.", svc),
		bounds:    buckets(),
		services:  make(map[scaler.ServiceID]*series),
	}
}

// series returns svc's figures, creating them (every count at 0) the first
// time.
func (c *serviceCollector) series(svc scaler.ServiceID) *series {
	c.mu.RLock()
	s := c.services[svc]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s = c.services[svc]; s == nil {
		s = &series{cluster: label(svc.Cluster), name: label(svc.Name), buckets: make([]atomic.Uint64, len(c.bounds)+1)}
		c.services[svc] = s
	}
	return s
}

// forget drops svc's figures.
func (c *serviceCollector) forget(svc scaler.ServiceID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.services, svc)
}

// observeDuration counts one check that took seconds.
func (c *serviceCollector) observeDuration(s *series, seconds float64) {
	s.buckets[sort.SearchFloat64s(c.bounds, seconds)].Add(1) // the first bound >= seconds
	for {
		old := s.sum.Load()
		if s.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+seconds)) {
			return
		}
	}
}

func setFloat(u *atomic.Uint64, v float64) { u.Store(math.Float64bits(v)) }
func getFloat(u *atomic.Uint64) float64    { return math.Float64frombits(u.Load()) }

// Describe implements prometheus.Collector.
func (c *serviceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.reading, c.desired, c.requested, c.grace, c.checks, c.scaleouts, c.duration} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *serviceCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	all := make([]*series, 0, len(c.services))
	for _, s := range c.services {
		all = append(all, s)
	}
	c.mu.RUnlock()
	for _, s := range all {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, s.cluster, s.name)
		}
		gauge(c.reading, getFloat(&s.reading))
		gauge(c.grace, getFloat(&s.grace))
		if s.hasDesired.Load() {
			gauge(c.desired, getFloat(&s.desired))
		}
		if s.hasRequested.Load() {
			gauge(c.requested, getFloat(&s.requested))
		}
		for i, r := range checkResults {
			ch <- prometheus.MustNewConstMetric(c.checks, prometheus.CounterValue, float64(s.checks[i].Load()), s.cluster, s.name, r)
		}
		for i, r := range scaleoutResults {
			ch <- prometheus.MustNewConstMetric(c.scaleouts, prometheus.CounterValue, float64(s.scaleouts[i].Load()), s.cluster, s.name, r)
		}
		// The count is the buckets' total, so the two always agree.
		cumulative := make(map[float64]uint64, len(c.bounds))
		var n uint64
		for i, b := range c.bounds {
			n += s.buckets[i].Load()
			cumulative[b] = n
		}
		n += s.buckets[len(c.bounds)].Load()
		ch <- prometheus.MustNewConstHistogram(c.duration, n, getFloat(&s.sum), cumulative, s.cluster, s.name)
	}
}
