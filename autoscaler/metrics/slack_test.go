package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

// slackServer plays Slack: each request reports on arrived, waits for
// release, then answers status with body.
func slackServer(t *testing.T, status int, body string) (url string, arrived, release chan struct{}) {
	arrived, release = make(chan struct{}, 10), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, arrived, release
}

func requireNotifications(t *testing.T, reg prometheus.Gatherer, sent, dropped, failed int) {
	t.Helper()
	want := `
# HELP fast_autoscaler_notifications_total Notification events by result: sent (Slack accepted them), dropped (queue full), failed (given up on).
# TYPE fast_autoscaler_notifications_total counter
fast_autoscaler_notifications_total{result="dropped"} ` + strconv.Itoa(dropped) + `
fast_autoscaler_notifications_total{result="failed"} ` + strconv.Itoa(failed) + `
fast_autoscaler_notifications_total{result="sent"} ` + strconv.Itoa(sent) + `
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "fast_autoscaler_notifications_total"))
}

func TestTrackSlack(t *testing.T) {
	ctx := context.Background()
	m, reg := newMetrics(t)
	ev := notify.Event{Kind: notify.ScaleOut, Cluster: "app", Service: "web", DesiredCur: 3, DesiredNew: 10}
	opts := notify.SlackOptions{QueueSize: 1, MinInterval: time.Nanosecond, MaxAttempts: 1}

	okURL, okArrived, okRelease := slackServer(t, http.StatusOK, "ok")
	good, err := notify.NewSlack(okURL, opts)
	require.NoError(t, err)
	badURL, _, badRelease := slackServer(t, http.StatusBadRequest, "invalid_payload")
	close(badRelease)
	bad, err := notify.NewSlack(badURL, opts)
	require.NoError(t, err)

	m.TrackSlack(good)
	m.TrackSlack(good) // twice counts once
	m.TrackSlack(nil)
	requireNotifications(t, reg, 0, 0, 0)

	require.NoError(t, good.Notify(ctx, ev))
	<-okArrived // the first message is in flight
	require.NoError(t, good.Notify(ctx, ev))
	require.NoError(t, good.Notify(ctx, ev)) // the queue holds one: the previous is dropped
	close(okRelease)
	require.NoError(t, good.Close(ctx))
	requireNotifications(t, reg, 2, 1, 0) // read at scrape time

	m.TrackSlack(bad)
	require.NoError(t, bad.Notify(ctx, ev))
	require.NoError(t, bad.Close(ctx))
	requireNotifications(t, reg, 2, 1, 1)

	m.UntrackSlack(good)
	requireNotifications(t, reg, 2, 1, 1) // carried over: still monotonic
	m.UntrackSlack(good)                  // not tracked any more: no effect
	m.UntrackSlack(bad)
	requireNotifications(t, reg, 2, 1, 1)
}
