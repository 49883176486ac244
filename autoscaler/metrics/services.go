package metrics

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// serviceCollector holds the per-service metrics (reading, read_failures,
// last_good_reading_timestamp_seconds, desired_count,
// requested_desired_count, in_grace_period, paused, tasks, checks_total,
// scaleouts_total, check_duration_seconds) as a few hundred bytes of plain
// numbers a service, and turns them into metrics at each scrape. The client
// library's own vectors keep a child object with its label pairs for each
// series, about 10 KB a service here, which at thousands of services
// outweighs the rest of the process.
type serviceCollector struct {
	reading, readFailures, lastGood, desired, requested, grace, paused *prometheus.Desc
	tasks, checks, scaleouts, duration                                 *prometheus.Desc
	bounds                                                             []float64 // the duration buckets' upper bounds, seconds

	mu       sync.RWMutex
	services map[scaler.ServiceID]*series
}

// The results of checks_total, in the order series counts them.
const (
	checkOK = iota
	checkError
	checkOverload
	checkResults
)

var checkResultNames = [checkResults]string{"ok", "error", "overload"}

// The results of scaleouts_total, in the order series counts them.
var scaleoutOutcomes = [...]autoscaler.Outcome{autoscaler.ScaledOut, autoscaler.HeldAtMax, autoscaler.ScaleFailed,
	autoscaler.Paused, autoscaler.InGrace, autoscaler.DryRun, autoscaler.HeldStarting, autoscaler.HeldSuspended, autoscaler.ScaleUnknown}

// series is one service's figures, each read by scrapes while the
// service's checks write it. Gauges are float64 bits.
type series struct {
	cluster, name string // label values

	reading, readFailures, lastGood, desired, requested, grace, paused atomic.Uint64
	// Absent series: reading before the first reading and while the last
	// read failed; lastGood before the first good read; desired and
	// requested until a scale-out attempt found or set them, so they never
	// show a count not seen.
	hasReading, hasLastGood, hasDesired, hasRequested atomic.Bool
	failures                                          atomic.Int64 // consecutive failed reads
	// Per-task readings' task counts, shown from the service's first
	// per-task reading on.
	hasTasks                       atomic.Bool
	answered, unanswered, starting atomic.Int64
	checks                         [checkResults]atomic.Uint64
	scaleouts                      [len(scaleoutOutcomes)]atomic.Uint64
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
		reading: desc("reading", "Value of the service's last successful metric reading (e.g. nginx active connections); "+
			"absent before the first and while the last read failed.", svc),
		readFailures: desc("read_failures", "Failed metric reads in a row; 0 when the last read succeeded.", svc),
		lastGood: desc("last_good_reading_timestamp_seconds",
			"Unix time of the service's last successful metric read (a 503 overload answer included); absent before the first.", svc),
		desired:   desc("desired_count", "Desired task count found or set by the service's last scale-out attempt.", svc),
		requested: desc("requested_desired_count", "Desired task count set by the service's last scale-out (never by a dry run).", svc),
		grace:     desc("in_grace_period", "1 while the service is in a grace period after a scale-out (or at its cap), else 0.", svc),
		paused:    desc("paused", "1 while the service is paused (by its config's Paused or the service's fast-autoscaler:paused tag): read, never scaled out; else 0.", svc),
		tasks: desc("tasks", "Per-task reading only: tasks at the last check that answered, did not answer (unanswered), or were still starting (not read).",
			[]string{"cluster", "service", "state"}),
		checks: desc("checks_total", "Checks by result: ok, error (the metric read failed), overload (the source reported overload).", svcResult),
		scaleouts: desc("scaleouts_total", "Scale-out attempts by result: scaled_out, held_at_max (already at the cap), scale_failed, "+
			"paused (the service is paused), in_grace (a scale-out recorded on the service, by another process or before a restart, is in its grace period), "+
			"dry_run (decided, not made), held_starting (the tasks asked for last have not started), "+
			"held_suspended (scale-out suspended on the scalable target), "+
			"scale_unknown (the update's outcome was unknown; the service was read at once to tell whether it landed).", svcResult),
		duration: desc("check_duration_seconds", "How long one check took (read, decide, act, notify), in seconds.", svc),
		bounds:   buckets(),
		services: make(map[scaler.ServiceID]*series),
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

// observe records one check of s that took took.
func (c *serviceCollector) observe(s *series, ck *autoscaler.Check, took time.Duration) {
	c.observeDuration(s, took.Seconds())
	if ck.Outcome == autoscaler.ReadFailed {
		s.checks[checkError].Add(1)
		s.hasReading.Store(false) // a failed read leaves no reading standing
		setFloat(&s.readFailures, float64(s.failures.Add(1)))
	} else {
		s.failures.Store(0)
		setFloat(&s.readFailures, 0)
		if !ck.Time.IsZero() {
			setFloat(&s.lastGood, float64(ck.Time.UnixNano())/1e9)
		}
		s.hasLastGood.Store(true)
		if ck.Reading.Overload {
			s.checks[checkOverload].Add(1)
		} else {
			s.checks[checkOK].Add(1)
			setFloat(&s.reading, ck.Reading.Value)
			s.hasReading.Store(true)
		}
	}
	c.observeTasks(s, ck.Reading)
	for i, o := range scaleoutOutcomes {
		if ck.Outcome == o {
			s.scaleouts[i].Add(1)
		}
	}
	grace := 0.0
	if ck.Grace {
		grace = 1
	}
	switch ck.Outcome {
	case autoscaler.ScaledOut:
		setFloat(&s.desired, float64(ck.DesiredNew))
		setFloat(&s.requested, float64(ck.DesiredNew))
		s.hasDesired.Store(true)
		s.hasRequested.Store(true)
		grace = 1
	case autoscaler.DryRun, autoscaler.HeldAtMax, autoscaler.InGrace:
		// A dry run requested nothing: the desired count is as found.
		setFloat(&s.desired, float64(ck.DesiredCur))
		s.hasDesired.Store(true)
		grace = 1
	case autoscaler.HeldStarting, autoscaler.HeldSuspended:
		setFloat(&s.desired, float64(ck.DesiredCur))
		s.hasDesired.Store(true)
	case autoscaler.ScaleUnknown:
		if ck.DesiredAfter >= 0 { // read after the lost answer
			setFloat(&s.desired, float64(ck.DesiredAfter))
			s.hasDesired.Store(true)
		}
		if ck.Landed { // the count asked for is in force: the grace period runs
			setFloat(&s.requested, float64(ck.DesiredNew))
			s.hasRequested.Store(true)
			grace = 1
		}
	case autoscaler.ScaleFailed:
		if ck.DesiredNew > 0 { // the state was read: DesiredCur is known
			setFloat(&s.desired, float64(ck.DesiredCur))
			s.hasDesired.Store(true)
		}
	}
	setFloat(&s.grace, grace)
	paused := 0.0
	if ck.Paused {
		paused = 1
	}
	setFloat(&s.paused, paused)
}

// observeTasks sets the task counts of a per-task reading. Once a service
// has had one, a check with no per-task reading (it failed, or read a
// fallback through the load balancer) counts no task as answered.
func (c *serviceCollector) observeTasks(s *series, r autoscaler.Reading) {
	perTask := r.Tasks > 0 || r.Unanswered > 0
	if !perTask && !s.hasTasks.Load() {
		return
	}
	s.answered.Store(int64(r.Tasks))
	if perTask {
		s.unanswered.Store(int64(r.Unanswered))
		s.starting.Store(int64(r.Starting))
	}
	s.hasTasks.Store(true)
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
	for _, d := range []*prometheus.Desc{c.reading, c.readFailures, c.lastGood, c.desired, c.requested, c.grace, c.paused,
		c.tasks, c.checks, c.scaleouts, c.duration} {
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
		gauge := func(d *prometheus.Desc, v *atomic.Uint64, present bool) {
			if present {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, getFloat(v), s.cluster, s.name)
			}
		}
		gauge(c.reading, &s.reading, s.hasReading.Load())
		gauge(c.readFailures, &s.readFailures, true)
		gauge(c.lastGood, &s.lastGood, s.hasLastGood.Load())
		gauge(c.desired, &s.desired, s.hasDesired.Load())
		gauge(c.requested, &s.requested, s.hasRequested.Load())
		gauge(c.grace, &s.grace, true)
		gauge(c.paused, &s.paused, true)
		if s.hasTasks.Load() {
			for _, t := range []struct {
				state string
				n     int64
			}{{"answered", s.answered.Load()}, {"unanswered", s.unanswered.Load()}, {"starting", s.starting.Load()}} {
				ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(t.n), s.cluster, s.name, t.state)
			}
		}
		for i, r := range checkResultNames {
			ch <- prometheus.MustNewConstMetric(c.checks, prometheus.CounterValue, float64(s.checks[i].Load()), s.cluster, s.name, r)
		}
		for i, o := range scaleoutOutcomes {
			ch <- prometheus.MustNewConstMetric(c.scaleouts, prometheus.CounterValue, float64(s.scaleouts[i].Load()), s.cluster, s.name, o.String())
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
