package metrics_test

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// counted is a notifier's delivery counts, set by the test.
type counted struct{ sent, dropped, failed atomic.Int64 }

func (c *counted) DeliveryCounts() (int64, int64, int64) {
	return c.sent.Load(), c.dropped.Load(), c.failed.Load()
}

func requireNotifications(t *testing.T, reg prometheus.Gatherer, sent, dropped, failed int) {
	t.Helper()
	want := `
# HELP fast_autoscaler_notifications_total Notification events by result: sent (the receiver accepted them), dropped (queue full), failed (given up on).
# TYPE fast_autoscaler_notifications_total counter
fast_autoscaler_notifications_total{result="dropped"} ` + strconv.Itoa(dropped) + `
fast_autoscaler_notifications_total{result="failed"} ` + strconv.Itoa(failed) + `
fast_autoscaler_notifications_total{result="sent"} ` + strconv.Itoa(sent) + `
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "fast_autoscaler_notifications_total"))
}

func TestTrackNotifier(t *testing.T) {
	m, reg := newMetrics(t)
	good, bad := &counted{}, &counted{}

	m.TrackNotifier(good)
	m.TrackNotifier(good) // twice counts once
	m.TrackNotifier(nil)
	requireNotifications(t, reg, 0, 0, 0)

	good.sent.Store(2)
	good.dropped.Store(1)
	requireNotifications(t, reg, 2, 1, 0) // read at scrape time

	m.TrackNotifier(bad)
	bad.failed.Store(1)
	requireNotifications(t, reg, 2, 1, 1)

	m.UntrackNotifier(good)
	requireNotifications(t, reg, 2, 1, 1) // carried over: still monotonic
	good.sent.Store(100)                  // no longer read
	m.UntrackNotifier(good)               // not tracked any more: no effect
	m.UntrackNotifier(bad)
	requireNotifications(t, reg, 2, 1, 1)
}

func TestAPICall(t *testing.T) {
	m, reg := newMetrics(t)
	m.APICall("ECS", "DescribeServices", "", 0)
	m.APICall("ECS", "DescribeServices", "AccessDeniedException", 0)
	m.APICall("ECS", "UpdateService", "", 0)
	got := snapshot(t, reg)
	require.Equal(t, 2.0, got[`fast_autoscaler_aws_request_duration_seconds_count{aws_service="ECS",operation="DescribeServices"}`])
	require.Equal(t, 1.0, got[`fast_autoscaler_aws_errors_total{aws_service="ECS",code="AccessDeniedException",operation="DescribeServices"}`])
	for k := range got {
		require.NotContains(t, k, `operation="UpdateService",code`, "a call that succeeded is no error")
	}
}
