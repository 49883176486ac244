package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

// slackCollector reports fast_autoscaler_notifications_total from the
// tracked notifiers' Stats at scrape time, plus the final counts of those no
// longer tracked.
type slackCollector struct {
	desc    *prometheus.Desc
	mu      sync.Mutex
	tracked map[*notify.Slack]struct{}
	carried notify.SlackStats
}

func newSlackCollector() *slackCollector {
	return &slackCollector{
		desc: prometheus.NewDesc(namespace+"_notifications_total",
			"Notification events by result: sent (Slack accepted them), dropped (queue full), failed (given up on).",
			[]string{"result"}, nil),
		tracked: make(map[*notify.Slack]struct{}),
	}
}

// Describe implements prometheus.Collector.
func (c *slackCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *slackCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	total := c.carried
	for s := range c.tracked {
		add(&total, s.Stats())
	}
	c.mu.Unlock()
	for _, v := range []struct {
		result string
		n      int64
	}{{"sent", total.Sent}, {"dropped", total.Dropped}, {"failed", total.Failed}} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(v.n), v.result)
	}
}

func add(total *notify.SlackStats, s notify.SlackStats) {
	total.Sent += s.Sent
	total.Messages += s.Messages
	total.Dropped += s.Dropped
	total.Failed += s.Failed
}

// TrackSlack counts s's events (its Stats, read at each scrape) in
// fast_autoscaler_notifications_total. Tracking s twice counts it once.
func (m *Metrics) TrackSlack(s *notify.Slack) {
	if s == nil {
		return
	}
	m.slack.mu.Lock()
	defer m.slack.mu.Unlock()
	m.slack.tracked[s] = struct{}{}
}

// UntrackSlack stops reading s and keeps its counts so far in the totals, so
// the counters never go down. Call it after s.Close, when its counts are
// final; do not track s again afterwards (its counts would be added twice).
// Untracking a notifier that is not tracked does nothing.
func (m *Metrics) UntrackSlack(s *notify.Slack) {
	m.slack.mu.Lock()
	defer m.slack.mu.Unlock()
	if _, ok := m.slack.tracked[s]; !ok {
		return
	}
	delete(m.slack.tracked, s)
	add(&m.slack.carried, s.Stats())
}
