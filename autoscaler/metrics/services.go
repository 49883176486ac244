package metrics

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

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
	// The label pairs of the results and task states, shared by every
	// service's samples.
	checkResults    [checkResults]*dto.LabelPair
	scaleoutResults [len(scaleoutOutcomes)]*dto.LabelPair
	taskStates      [3]*dto.LabelPair

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

	pairsOnce sync.Once
	pairs     [2]*dto.LabelPair // see labelPairs
}

func newServiceCollector() *serviceCollector {
	svc := []string{"cluster", "service"}
	svcResult := []string{"cluster", "service", "result"}
	desc := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
	}
	c := &serviceCollector{
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
	for i, r := range checkResultNames {
		c.checkResults[i] = labelPair("result", r)
	}
	for i, o := range scaleoutOutcomes {
		c.scaleoutResults[i] = labelPair("result", o.String())
	}
	for i, st := range [...]string{"answered", "unanswered", "starting"} {
		c.taskStates[i] = labelPair("state", st)
	}
	return c
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

// Collect implements prometheus.Collector. A scrape sees every service's
// figures as plain values wrapped in samples made for it (see sample):
// with 1,000 services, client_golang's const metrics cost a scrape 16.5 MB
// and 340,000 allocations (9.7 MB and 78,000 now: see
// BenchmarkScrapeThousandServices), which made the process's memory grow by
// half under a scrape a second.
func (c *serviceCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	all := make([]*series, 0, len(c.services))
	for _, s := range c.services {
		all = append(all, s)
	}
	c.mu.RUnlock()
	for _, s := range all {
		c.collect(ch, s)
	}
}

// The most samples collect makes for one service: 7 gauges, 3 task
// states, the checks' and the scale-outs' results.
const samplesPerService = 7 + 3 + checkResults + len(scaleoutOutcomes)

// collect sends s's samples to ch, in a handful of allocations.
func (c *serviceCollector) collect(ch chan<- prometheus.Metric, s *series) {
	base := s.labelPairs()
	samples := make([]sample, 0, samplesPerService)
	// Every label set with one label more than base, sorted by name
	// (cluster, result, service; cluster, service, state), shares one
	// backing array.
	withLabel := make([]*dto.LabelPair, 0, 3*(checkResults+len(scaleoutOutcomes)+len(c.taskStates)))
	with := func(pair *dto.LabelPair, last bool) []*dto.LabelPair {
		n := len(withLabel)
		if last {
			withLabel = append(withLabel, base[0], base[1], pair)
		} else {
			withLabel = append(withLabel, base[0], pair, base[1])
		}
		return withLabel[n:len(withLabel):len(withLabel)]
	}
	send := func(d *prometheus.Desc, labels []*dto.LabelPair, kind prometheus.ValueType, v float64) {
		samples = append(samples, sample{desc: d, labels: labels, kind: kind, value: v})
		ch <- &samples[len(samples)-1]
	}
	gauge := func(d *prometheus.Desc, v *atomic.Uint64, present bool) {
		if present {
			send(d, base, prometheus.GaugeValue, getFloat(v))
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
		for i, n := range [...]int64{s.answered.Load(), s.unanswered.Load(), s.starting.Load()} {
			send(c.tasks, with(c.taskStates[i], true), prometheus.GaugeValue, float64(n))
		}
	}
	for i := range s.checks {
		send(c.checks, with(c.checkResults[i], false), prometheus.CounterValue, float64(s.checks[i].Load()))
	}
	for i := range s.scaleouts {
		send(c.scaleouts, with(c.scaleoutResults[i], false), prometheus.CounterValue, float64(s.scaleouts[i].Load()))
	}
	// The count is the buckets' total, so the two always agree.
	h := &histogramSample{desc: c.duration, labels: base, bounds: c.bounds, cumulative: make([]uint64, len(c.bounds))}
	for i := range c.bounds {
		h.count += s.buckets[i].Load()
		h.cumulative[i] = h.count
	}
	h.count += s.buckets[len(c.bounds)].Load()
	h.sum = getFloat(&s.sum)
	ch <- h
}

// labelPairs returns s's cluster and service label pairs, sorted by name,
// made at the first scrape and kept: the registry reads them and never
// changes them, so every scrape shares them.
func (s *series) labelPairs() []*dto.LabelPair {
	s.pairsOnce.Do(func() {
		s.pairs = [2]*dto.LabelPair{labelPair("cluster", s.cluster), labelPair("service", s.name)}
	})
	return s.pairs[:]
}

func labelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

// sample is one gauge or counter of a scrape: a prometheus.Metric whose
// labels were made before (see series.labelPairs) rather than at every
// scrape, as client_golang's const metrics make them.
type sample struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair // sorted by name, as many as desc's labels
	kind   prometheus.ValueType
	value  float64
}

// Desc implements prometheus.Metric.
func (m *sample) Desc() *prometheus.Desc { return m.desc }

// Write implements prometheus.Metric.
func (m *sample) Write(out *dto.Metric) error {
	out.Label = m.labels
	if m.kind == prometheus.CounterValue {
		out.Counter = &dto.Counter{Value: &m.value}
	} else {
		out.Gauge = &dto.Gauge{Value: &m.value}
	}
	return nil
}

// histogramSample is check_duration_seconds of one service at a scrape.
type histogramSample struct {
	desc       *prometheus.Desc
	labels     []*dto.LabelPair
	bounds     []float64 // the buckets' upper bounds, shared by every service
	cumulative []uint64  // the count up to each bound
	count      uint64
	sum        float64
}

// Desc implements prometheus.Metric.
func (h *histogramSample) Desc() *prometheus.Desc { return h.desc }

// Write implements prometheus.Metric.
func (h *histogramSample) Write(out *dto.Metric) error {
	buckets := make([]dto.Bucket, len(h.bounds))
	ptrs := make([]*dto.Bucket, len(h.bounds))
	for i := range buckets {
		buckets[i].CumulativeCount, buckets[i].UpperBound = &h.cumulative[i], &h.bounds[i]
		ptrs[i] = &buckets[i]
	}
	out.Label = h.labels
	out.Histogram = &dto.Histogram{SampleCount: &h.count, SampleSum: &h.sum, Bucket: ptrs}
	return nil
}
