package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Counted is a notifier whose delivery counts Metrics reads at each scrape.
// The counts are totals since the notifier started and never go down.
// slack.Notifier is one.
type Counted interface {
	// DeliveryCounts returns the events delivered, dropped (a full queue)
	// and given up on, so far.
	DeliveryCounts() (sent, dropped, failed int64)
}

// counts is one reading of a Counted.
type counts struct{ sent, dropped, failed int64 }

func (c *counts) add(n Counted) {
	s, d, f := n.DeliveryCounts()
	c.sent, c.dropped, c.failed = c.sent+s, c.dropped+d, c.failed+f
}

// notifierCollector reports fast_autoscaler_notifications_total from the
// tracked notifiers' counts at scrape time, plus the final counts of those
// no longer tracked.
type notifierCollector struct {
	desc    *prometheus.Desc
	mu      sync.Mutex
	tracked map[Counted]struct{}
	carried counts
}

func newNotifierCollector() *notifierCollector {
	return &notifierCollector{
		desc: prometheus.NewDesc(namespace+"_notifications_total",
			"Notification events by result: sent (the receiver accepted them), dropped (queue full), failed (given up on).",
			[]string{"result"}, nil),
		tracked: make(map[Counted]struct{}),
	}
}

// Describe implements prometheus.Collector.
func (c *notifierCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *notifierCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	total := c.carried
	for n := range c.tracked {
		total.add(n)
	}
	c.mu.Unlock()
	for _, v := range []struct {
		result string
		n      int64
	}{{"sent", total.sent}, {"dropped", total.dropped}, {"failed", total.failed}} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(v.n), v.result)
	}
}

// TrackNotifier counts n's deliveries (read at each scrape) in
// fast_autoscaler_notifications_total. Tracking n twice counts it once; a
// nil n is ignored.
func (m *Metrics) TrackNotifier(n Counted) {
	if n == nil {
		return
	}
	m.notifiers.mu.Lock()
	defer m.notifiers.mu.Unlock()
	m.notifiers.tracked[n] = struct{}{}
}

// UntrackNotifier stops reading n and keeps its counts so far in the
// totals, so the counters never go down. Call it once n is closed and its
// counts are final; do not track n again afterwards (its counts would be
// added twice). Untracking a notifier that is not tracked does nothing.
func (m *Metrics) UntrackNotifier(n Counted) {
	m.notifiers.mu.Lock()
	defer m.notifiers.mu.Unlock()
	if _, ok := m.notifiers.tracked[n]; !ok {
		return
	}
	delete(m.notifiers.tracked, n)
	m.notifiers.carried.add(n)
}
