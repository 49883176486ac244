package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/notify/slack"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// The secret part of every webhook URL in these tests. No log line, error or
// String may contain it.
const (
	secret   = "SeCrEtToKeN0123456789abcd"
	hookPath = "/services/T0SECRET/B0SECRET/" + secret
)

const seedText = "scaleout example-app service\n```\nActiveConnections: 161\nDesiredCount(cur): 2\nDesiredCount(new): 10\n```"

func seedEvent() notify.Event {
	return notify.Event{Kind: notify.ScaledOut, Cluster: "example-app", Service: "example-app",
		Value: 161, DesiredCur: 2, DesiredNew: 10}
}

func scaleOut(service string) notify.Event {
	return notify.Event{Kind: notify.ScaledOut, Cluster: "c", Service: service, Value: 200, DesiredCur: 5, DesiredNew: 10}
}

// newLogger returns a debug-level logger into a buffer, and checks when the
// test ends that nothing logged carries the webhook's path.
func newLogger(t *testing.T) (*slog.Logger, *syncbuf.Buffer) {
	t.Helper()
	buf := &syncbuf.Buffer{}
	t.Cleanup(func() {
		out := buf.String()
		assert.NotContains(t, out, secret, "webhook secret in the logs")
		assert.NotContains(t, out, "T0SECRET", "webhook path in the logs")
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// instantClock is the real clock, except that its timers fire at once and
// it records every wait asked of it.
type instantClock struct {
	clock.Clock
	mu    sync.Mutex
	waits []time.Duration
}

func newInstantClock() *instantClock { return &instantClock{Clock: clock.New()} }

func (c *instantClock) Timer(d time.Duration) *clock.Timer {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return c.Clock.Timer(0)
}

func (c *instantClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// reply is one scripted answer of the fake Slack.
type reply struct {
	status     int
	body       string
	retryAfter string
	hang       bool          // never answer; return when the client gives up
	gate       chan struct{} // answer only once gate is closed
}

var ok = reply{status: http.StatusOK, body: "ok"}

// fakeSlack is an httptest server playing a Slack incoming webhook: it
// records each request's body and answers from a script (then "ok").
type fakeSlack struct {
	srv     *httptest.Server
	arrived chan int // 1-based request numbers, as requests arrive
	mu      sync.Mutex
	script  []reply
	bodies  [][]byte
	types   []string
}

func newFakeSlack(t *testing.T, script ...reply) *fakeSlack {
	f := &fakeSlack{arrived: make(chan int, 100), script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) URL() string { return f.srv.URL + hookPath }

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.types = append(f.types, r.Header.Get("Content-Type"))
	n := len(f.bodies)
	rep := ok
	if r.Method != http.MethodPost || r.URL.Path != hookPath {
		rep = reply{status: http.StatusNotFound, body: "wrong_request"}
	} else if n <= len(f.script) {
		rep = f.script[n-1]
	}
	f.mu.Unlock()
	f.arrived <- n
	if rep.gate != nil {
		select {
		case <-rep.gate:
		case <-r.Context().Done():
			return
		}
	}
	if rep.hang {
		<-r.Context().Done()
		return
	}
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeSlack) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

// texts decodes every request body, which must be exactly {"text": "..."}.
func (f *fakeSlack) texts(t *testing.T) []string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var texts []string
	for i, body := range f.bodies {
		require.True(t, json.Valid(body), "request %d: invalid JSON %q", i+1, body)
		assert.Equal(t, "application/json", f.types[i])
		var msg struct {
			Text string `json:"text"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&msg), "request %d", i+1)
		texts = append(texts, msg.Text)
	}
	return texts
}

func newSlack(t *testing.T, url string, opts slack.Options) *slack.Notifier {
	t.Helper()
	s, err := slack.New(url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func TestFormatSlack(t *testing.T) {
	tests := []struct {
		name string
		ev   notify.Event
		want string
	}{
		{"seed scale-out", seedEvent(), seedText},
		{"fractional reading",
			notify.Event{Kind: notify.ScaledOut, Service: "web", Value: 150.5, DesiredCur: 5, DesiredNew: 10},
			"scaleout web service\n```\nActiveConnections: 150.5\nDesiredCount(cur): 5\nDesiredCount(new): 10\n```"},
		{"overload",
			notify.Event{Kind: notify.ScaledOut, Service: "web", Overload: true, DesiredCur: 3, DesiredNew: 10},
			"scaleout web service\n```\nActiveConnections: overloaded (status URL answered 503)\nDesiredCount(cur): 3\nDesiredCount(new): 10\n```"},
		{"capped",
			notify.Event{Kind: notify.ScaledOut, Service: "web", Value: 400, DesiredCur: 8, DesiredNew: 12, MaxDesired: 12},
			"scaleout web service\n```\nActiveConnections: 400\nDesiredCount(cur): 8\nDesiredCount(new): 12\ncapped at MaxDesiredCount: 12\n```"},
		{"not capped (MaxDesired is set only when the cap applied)",
			notify.Event{Kind: notify.ScaledOut, Service: "web", Value: 400, DesiredCur: 5, DesiredNew: 10},
			"scaleout web service\n```\nActiveConnections: 400\nDesiredCount(cur): 5\nDesiredCount(new): 10\n```"},
		{"held at max",
			notify.Event{Kind: notify.HeldAtMax, Cluster: "prod", Service: "web", Value: 300, DesiredCur: 12, DesiredNew: 12, MaxDesired: 12},
			"scaleout web service (cluster prod) held: DesiredCount already at MaxDesiredCount\n```\nActiveConnections: 300\nDesiredCount(cur): 12\nMaxDesiredCount: 12\n```"},
		{"scale-out failed",
			notify.Event{Kind: notify.ScaleFailed, Cluster: "prod", Service: "web", Value: 300, DesiredCur: 4, DesiredNew: 10,
				Err: errors.New("set desired count 10: AccessDeniedException: not allowed")},
			"scaleout web service (cluster prod) FAILED\n```\nActiveConnections: 300\nDesiredCount(cur): 4\nDesiredCount(new): 10\nError: set desired count 10: AccessDeniedException: not allowed\n```"},
		{"dry run",
			notify.Event{Kind: notify.DryRun, Cluster: "prod", Service: "web", Value: 161, DesiredCur: 3, DesiredNew: 10},
			"dry run: scaleout web service (cluster prod) decided, not made\n```\nActiveConnections: 161\nDesiredCount(cur): 3\nDesiredCount(would be): 10\n```"},
		{"scale-out failed reading state",
			notify.Event{Kind: notify.ScaleFailed, Cluster: "prod", Service: "web", Overload: true, Err: errors.New("read service state: boom")},
			"scaleout web service (cluster prod) FAILED\n```\nActiveConnections: overloaded (status URL answered 503)\nError: read service state: boom\n```"},
		{"outcome unknown, landed",
			notify.Event{Kind: notify.ScaleUnknown, Cluster: "prod", Service: "web", Value: 300, DesiredCur: 3, DesiredNew: 10, DesiredAfter: 10, Landed: true,
				Err: errors.New("set desired count 10: context deadline exceeded")},
			"scaleout web service (cluster prod): outcome unknown, but the update landed\n```\nActiveConnections: 300\nDesiredCount(cur): 3\nDesiredCount(new): 10\nDesiredCount(now): 10\nError: set desired count 10: context deadline exceeded\n```"},
		{"outcome unknown, not landed",
			notify.Event{Kind: notify.ScaleUnknown, Cluster: "prod", Service: "web", Value: 300, DesiredCur: 3, DesiredNew: 10, DesiredAfter: 3,
				Err: errors.New("connection reset")},
			"scaleout web service (cluster prod): outcome unknown, and the update did not land (retrying)\n```\nActiveConnections: 300\nDesiredCount(cur): 3\nDesiredCount(new): 10\nDesiredCount(now): 3\nError: connection reset\n```"},
		{"outcome unknown, unreadable",
			notify.Event{Kind: notify.ScaleUnknown, Cluster: "prod", Service: "web", Value: 300, DesiredCur: 3, DesiredNew: 10, DesiredAfter: -1,
				Err: errors.New("connection reset")},
			"scaleout web service (cluster prod): outcome unknown, and the service could not be read to tell\n```\nActiveConnections: 300\nDesiredCount(cur): 3\nDesiredCount(new): 10\nError: connection reset\n```"},
		{"metric failing",
			notify.Event{Kind: notify.MetricFailing, Cluster: "prod", Service: "web", Failures: 5, Err: errors.New("GET status: 502")},
			"metric source of web service (cluster prod) failing for 5 checks in a row\n```\nLast error: GET status: 502\n```"},
		{"metric failing without error",
			notify.Event{Kind: notify.MetricFailing, Cluster: "prod", Service: "web", Failures: 5},
			"metric source of web service (cluster prod) failing for 5 checks in a row\n```\nLast error: unknown error\n```"},
		{"metric recovered",
			notify.Event{Kind: notify.MetricRecovered, Cluster: "prod", Service: "web", Failures: 7},
			"metric source of web service (cluster prod) recovered after 7 failed checks"},
		{"capped by the scalable target",
			notify.Event{Kind: notify.ScaledOut, Service: "web", Value: 400, DesiredCur: 5, DesiredNew: 8, MaxDesired: 8, MaxBy: "MaxCapacity"},
			"scaleout web service\n```\nActiveConnections: 400\nDesiredCount(cur): 5\nDesiredCount(new): 8\ncapped at the scalable target's MaxCapacity: 8\n```"},
		{"held at the scalable target's MaxCapacity",
			notify.Event{Kind: notify.HeldAtMax, Cluster: "prod", Service: "web", Value: 300, DesiredCur: 8, DesiredNew: 8, MaxDesired: 8, MaxBy: "MaxCapacity"},
			"scaleout web service (cluster prod) held: DesiredCount already at the scalable target's MaxCapacity\n```\nActiveConnections: 300\nDesiredCount(cur): 8\nMaxCapacity: 8\n```"},
		{"escalation",
			notify.Event{Kind: notify.ScaledOut, Service: "web", Value: 600, DesiredCur: 9, DesiredNew: 17, Escalation: true},
			"scaleout web service\n```\nActiveConnections: 600\nDesiredCount(cur): 9\nDesiredCount(new): 17\nraised again: the load needs more than the count asked for while tasks start\n```"},
		{"landed after a failed call",
			notify.Event{Kind: notify.ScaledOut, Service: "web", Value: 600, DesiredCur: 3, DesiredNew: 10, Landed: true},
			"scaleout web service\n```\nActiveConnections: 600\nDesiredCount(cur): 3\nDesiredCount(new): 10\nthe update's call had failed, but the update is in force: not made again\n```"},
		{"tasks not starting",
			notify.Event{Kind: notify.TasksNotStarting, Cluster: "prod", Service: "web", DesiredCur: 10, DesiredNew: 10, Running: 2, Pending: 8,
				Waited: 5*time.Minute + 300*time.Millisecond, Message: "(service web) was unable to place a task <because> no container instance met all of its requirements."},
			"tasks of web service (cluster prod) not starting: no further scaleout until they do\n```\nDesiredCount: 10 (asked for 10, 5m0s ago)\nRunning: 2\nPending: 8\nLatest ECS event: (service web) was unable to place a task &lt;because&gt; no container instance met all of its requirements.\n```"},
		{"tasks not starting, no ECS event",
			notify.Event{Kind: notify.TasksNotStarting, Cluster: "prod", Service: "web", DesiredCur: 10, DesiredNew: 10, Running: 2, Waited: time.Minute},
			"tasks of web service (cluster prod) not starting: no further scaleout until they do\n```\nDesiredCount: 10 (asked for 10, 1m0s ago)\nRunning: 2\nPending: 0\n```"},
		{"scale-out suspended",
			notify.Event{Kind: notify.ScaleOutSuspended, Cluster: "prod", Service: "web", Value: 300, DesiredCur: 5, DesiredNew: 10},
			"scaleout web service (cluster prod) held: scale-out is suspended on its scalable target\n```\nActiveConnections: 300\nDesiredCount(cur): 5\nDesiredCount(wanted): 10\n```"},
		{"config rejected",
			notify.Event{Kind: notify.ConfigRejected, Err: errors.New("Services[0] (web): ScaleoutThreshold: must be > 0")},
			"config reload rejected; the last good config keeps running\n```\nServices[0] (web): ScaleoutThreshold: must be &gt; 0\n```"},
		{"unknown kind",
			notify.Event{Kind: notify.Kind(99), Cluster: "prod", Service: "web"},
			"unknown event for web service (cluster prod)"},
		{"markup escaped",
			notify.Event{Kind: notify.MetricFailing, Cluster: "a&b", Service: "<!channel>", Failures: 1, Err: errors.New("<http://evil|click>")},
			"metric source of &lt;!channel&gt; service (cluster a&amp;b) failing for 1 checks in a row\n```\nLast error: &lt;http://evil|click&gt;\n```"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, slack.Format(tt.ev))
		})
	}
}

func TestFormatSlackBoundsLongErrors(t *testing.T) {
	ev := notify.Event{Kind: notify.ScaleFailed, Service: "web", Err: errors.New(strings.Repeat("é", 5000))}
	text := slack.Format(ev)
	assert.Less(t, len(text), 1200)
	assert.True(t, strings.HasSuffix(text, "…\n```"), "cut marked and code block closed: %q", text[len(text)-20:])
}

func ExampleFormat() {
	fmt.Println(slack.Format(notify.Event{
		Kind: notify.ScaledOut, Cluster: "example-app", Service: "example-app",
		Value: 161, DesiredCur: 2, DesiredNew: 10,
	}))
	// Output:
	// scaleout example-app service
	// ```
	// ActiveConnections: 161
	// DesiredCount(cur): 2
	// DesiredCount(new): 10
	// ```
}

func TestSlackDeliversSeedText(t *testing.T) {
	f := newFakeSlack(t)
	logger, _ := newLogger(t)
	s := newSlack(t, f.URL(), slack.Options{Clock: newInstantClock(), Logger: logger})

	require.NoError(t, s.Notify(t.Context(), seedEvent()))
	require.NoError(t, s.Close(t.Context()))

	assert.Equal(t, []string{seedText}, f.texts(t))
	assert.Equal(t, slack.Stats{Sent: 1, Messages: 1}, s.Stats())
}

func TestSlackHostileNamesMakeValidJSON(t *testing.T) {
	tests := []struct{ name, want string }{
		{`say "hi"`, `say "hi"`},
		{`back\slash\`, `back\slash\`},
		{"new\nline\r\n", "new\nline\r\n"},
		{"back`tick```", "back`tick```"},
		{"<!channel>", "&lt;!channel&gt;"},
		{"a&b", "a&amp;b"},
		{"tab\tnul\x00ctl\x1b", "tab\tnul\x00ctl\x1b"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"日本語サービス", "日本語サービス"},
		{"</script>\u2028", "&lt;/script&gt;\u2028"},
	}
	f := newFakeSlack(t)
	logger, _ := newLogger(t)
	s := newSlack(t, f.URL(), slack.Options{Clock: newInstantClock(), Logger: logger})
	for _, tt := range tests {
		ev := scaleOut(tt.name)
		ev.Cluster = tt.name
		require.NoError(t, s.Notify(t.Context(), ev))
		require.NoError(t, s.Notify(t.Context(), notify.Event{Kind: notify.ScaleFailed, Service: tt.name, Err: errors.New(tt.name)}))
	}
	require.NoError(t, s.Close(t.Context()))

	all := strings.Join(f.texts(t), "\n")
	for _, tt := range tests {
		assert.Contains(t, all, "scaleout "+tt.want+" service\n", "name %q", tt.name)
		assert.Contains(t, all, "Error: "+tt.want+"\n", "error %q", tt.name)
	}
	assert.NotContains(t, all, "<!channel>")
	assert.Equal(t, int64(2*len(tests)), s.Stats().Sent)
}

func TestSlackRetryAfter(t *testing.T) {
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		{"missing", "", time.Second},
		{"unreadable", "soon", time.Second},
		{"HTTP date", "Wed, 21 Oct 2015 07:28:00 GMT", time.Second},
		{"negative", "-3", time.Second},
		{"capped", "3600", 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSlack(t, reply{status: http.StatusTooManyRequests, body: "rate_limited", retryAfter: tt.header})
			logger, _ := newLogger(t)
			clk := newInstantClock()
			s := newSlack(t, f.URL(), slack.Options{Clock: clk, Logger: logger})

			require.NoError(t, s.Notify(t.Context(), seedEvent()))
			require.NoError(t, s.Close(t.Context()))

			assert.Equal(t, []string{seedText, seedText}, f.texts(t), "same message retried once")
			assert.Equal(t, []time.Duration{tt.want}, clk.Waits())
			assert.Equal(t, slack.Stats{Sent: 1, Messages: 1}, s.Stats())
		})
	}
}

func TestSlackRetriesServerErrorsWithBackoff(t *testing.T) {
	f := newFakeSlack(t,
		reply{status: http.StatusInternalServerError, body: "rollup_error"},
		reply{status: http.StatusServiceUnavailable, body: "unavailable"})
	logger, logs := newLogger(t)
	clk := newInstantClock()
	s := newSlack(t, f.URL(), slack.Options{Clock: clk, Logger: logger})

	require.NoError(t, s.Notify(t.Context(), seedEvent()))
	require.NoError(t, s.Close(t.Context()))

	assert.Equal(t, []string{seedText, seedText, seedText}, f.texts(t))
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, clk.Waits(), "exponential backoff from MinInterval")
	assert.Equal(t, slack.Stats{Sent: 1, Messages: 1}, s.Stats())
	assert.NotContains(t, logs.String(), "level=ERROR")
}

func TestSlackGivesUpAfterMaxAttempts(t *testing.T) {
	fail := reply{status: http.StatusInternalServerError, body: "rollup_error"}
	f := newFakeSlack(t, fail, fail, fail, fail)
	logger, logs := newLogger(t)
	clk := newInstantClock()
	s := newSlack(t, f.URL(), slack.Options{Clock: clk, Logger: logger, MaxAttempts: 3, MaxRetryAfter: 1500 * time.Millisecond})

	require.NoError(t, s.Notify(t.Context(), seedEvent()))
	require.NoError(t, s.Close(t.Context()))

	assert.Equal(t, 3, f.requests())
	assert.Equal(t, []time.Duration{time.Second, 1500 * time.Millisecond}, clk.Waits(), "backoff capped at MaxRetryAfter")
	assert.Equal(t, slack.Stats{Failed: 1}, s.Stats())
	assert.Equal(t, 1, strings.Count(logs.String(), "message not delivered"))
	assert.Contains(t, logs.String(), "rollup_error")
}

func TestSlackPermanentErrorsAreNotRetried(t *testing.T) {
	tests := []struct {
		status int
		body   string
	}{
		{http.StatusNotFound, "no_service"},
		{http.StatusNotFound, "channel_not_found"},
		{http.StatusBadRequest, "invalid_payload"},
		{http.StatusForbidden, "invalid_token"},
		{http.StatusGone, "channel_is_archived"},
		{http.StatusFound, "moved"},
		{http.StatusOK, "invalid_payload"}, // Slack has answered errors with 200
		{http.StatusOK, "no_text"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			f := newFakeSlack(t, reply{status: tt.status, body: tt.body + "\n"})
			logger, logs := newLogger(t)
			clk := newInstantClock()
			s := newSlack(t, f.URL(), slack.Options{Clock: clk, Logger: logger})

			require.NoError(t, s.Notify(t.Context(), seedEvent()))
			require.NoError(t, s.Close(t.Context()))

			assert.Equal(t, 1, f.requests(), "exactly one request")
			assert.Empty(t, clk.Waits(), "no retry wait")
			assert.Equal(t, slack.Stats{Failed: 1}, s.Stats())
			out := logs.String()
			assert.Equal(t, 1, strings.Count(out, tt.body), "logged once, with Slack's answer: %s", out)
			assert.Contains(t, out, fmt.Sprintf("answered %d", tt.status))
		})
	}
}

func TestSlackRequestTimesOut(t *testing.T) {
	f := newFakeSlack(t, reply{hang: true}, reply{hang: true})
	logger, logs := newLogger(t)
	s := newSlack(t, f.URL(), slack.Options{Clock: newInstantClock(), Logger: logger,
		Timeout: 20 * time.Millisecond, MaxAttempts: 2})

	require.NoError(t, s.Notify(t.Context(), seedEvent())) // returns although the server hangs
	require.NoError(t, s.Close(t.Context()))

	assert.Equal(t, 2, f.requests())
	assert.Equal(t, slack.Stats{Failed: 1}, s.Stats())
	assert.Contains(t, logs.String(), "no answer within 20ms: context deadline exceeded")
}

// hangingTransport is a webhook that never answers: each request blocks
// until its context ends. It lives in process, so it works inside a
// synctest bubble, where network I/O would not count as blocked.
type hangingTransport struct {
	started chan struct{}
	ended   chan error
}

func (h *hangingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	h.started <- struct{}{}
	<-r.Context().Done()
	h.ended <- r.Context().Err()
	return nil, r.Context().Err()
}

// TestSlackHangingNeverDelaysTheEngine runs the real engine on a mock clock
// with a Slack notifier whose webhook never answers, and shows the
// watcher's checks keep to their schedule while requests hang and time out.
func TestSlackHangingNeverDelaysTheEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, logs := newLogger(t)
		mock := clock.NewMock()
		start := mock.Now()
		hang := &hangingTransport{started: make(chan struct{}, 10), ended: make(chan error, 10)}
		s, err := slack.New("https://hooks.slack.com"+hookPath, slack.Options{
			Clock: mock, HTTPClient: &http.Client{Transport: hang}, Logger: logger, MaxAttempts: 1})
		require.NoError(t, err)

		var mu sync.Mutex
		var checks []time.Duration // when each check read the metric, since start
		src := autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
			mu.Lock()
			defer mu.Unlock()
			checks = append(checks, mock.Now().Sub(start))
			return autoscaler.Reading{Value: 500}, nil
		})
		checked := func() []time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return append([]time.Duration(nil), checks...)
		}
		mem := &scaler.Memory{StartAtOnce: true} // tasks start at once: every check may scale out again
		svc := scaler.ServiceID{Cluster: "prod", Name: "web"}
		mem.Put(svc, scaler.State{Desired: 2, Running: 2})
		policy := autoscaler.DefaultPolicy()
		policy.GracePeriod = 10 * time.Second
		eng, err := autoscaler.New([]autoscaler.Service{{Cluster: svc.Cluster, Name: svc.Name, Source: src, Policy: policy, Notifier: s}},
			autoscaler.Options{Scaler: mem, Clock: mock, Logger: logger})
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error)
		go func() { ran <- eng.Run(ctx) }()
		synctest.Wait()
		require.Equal(t, []time.Duration{0}, checked(), "first check at once")
		require.Len(t, hang.started, 1, "its scale-out message is on the wire, hanging")

		want := []time.Duration{0}
		for i := 1; i <= 3; i++ {
			mock.Add(policy.GracePeriod)
			synctest.Wait()
			want = append(want, time.Duration(i)*policy.GracePeriod)
			require.Equal(t, want, checked(), "checks keep their schedule while Slack hangs")
		}
		assert.Len(t, mem.Updates(), 4, "every check scaled out")
		assert.Empty(t, hang.ended, "the request is still hanging")

		// Block until the request gives up: the bubble's clock runs on to its timeout.
		require.ErrorIs(t, <-hang.ended, context.DeadlineExceeded)
		synctest.Wait()
		assert.Equal(t, slack.Stats{Failed: 1}, s.Stats())
		assert.Contains(t, logs.String(), "no answer within 5s")
		assert.Len(t, hang.started, 1, "the next message waits for MinInterval on the clock")

		// Paced, the three queued events go out as one message, which hangs too;
		// the engine still keeps its schedule.
		mock.Add(policy.GracePeriod)
		synctest.Wait()
		assert.Len(t, hang.started, 2)
		assert.Equal(t, append(want, 4*policy.GracePeriod), checked())

		cancel()
		require.NoError(t, <-ran)
		closeCtx, stop := context.WithTimeout(t.Context(), time.Second)
		defer stop()
		err = s.Close(closeCtx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "4 events not delivered", "3 in flight, 1 queued")
		assert.NotContains(t, err.Error(), secret)
		assert.Equal(t, slack.Stats{Failed: 5}, s.Stats())
		assert.Contains(t, logs.String(), "events not delivered\" events=4")
		assert.ErrorIs(t, s.Notify(t.Context(), scaleOut("web")), slack.ErrClosed)
	})
}

func TestSlackCoalescesBursts(t *testing.T) {
	gate := make(chan struct{})
	f := newFakeSlack(t, reply{status: http.StatusOK, body: "ok", gate: gate})
	logger, _ := newLogger(t)
	s := newSlack(t, f.URL(), slack.Options{Clock: newInstantClock(), Logger: logger})

	require.NoError(t, s.Notify(t.Context(), scaleOut("svc-00")))
	<-f.arrived // the first message is on the wire, held
	for i := 1; i < 50; i++ {
		require.NoError(t, s.Notify(t.Context(), scaleOut(fmt.Sprintf("svc-%02d", i))))
	}
	close(gate)
	require.NoError(t, s.Close(t.Context()))

	texts := f.texts(t)
	require.Len(t, texts, 2, "50 events in 2 messages")
	assert.Equal(t, slack.Format(scaleOut("svc-00")), texts[0])
	second := texts[1]
	assert.True(t, strings.HasPrefix(second, slack.Format(scaleOut("svc-01"))+"\n\n"+slack.Format(scaleOut("svc-02"))+"\n\n"),
		"events joined by a blank line: %q", second[:200])
	assert.Regexp(t, `\n\n\.\.\. and \d+ more events \(services: svc-\d\d(, svc-\d\d)*\)$`, second)
	assert.Less(t, len(second), 4000)
	for i := range 50 {
		assert.Contains(t, strings.Join(texts, "\n"), fmt.Sprintf("svc-%02d", i))
	}
	assert.Equal(t, slack.Stats{Sent: 50, Messages: 2}, s.Stats())
}

func TestSlackQueueOverflowDropsOldest(t *testing.T) {
	gate := make(chan struct{})
	f := newFakeSlack(t, reply{status: http.StatusOK, body: "ok", gate: gate})
	logger, logs := newLogger(t)
	s := newSlack(t, f.URL(), slack.Options{Clock: newInstantClock(), Logger: logger, QueueSize: 3})

	require.NoError(t, s.Notify(t.Context(), scaleOut("svc-00")))
	<-f.arrived
	for i := 1; i <= 10; i++ {
		require.NoError(t, s.Notify(t.Context(), scaleOut(fmt.Sprintf("svc-%02d", i))))
	}
	assert.Equal(t, int64(7), s.Stats().Dropped, "counted as they are dropped")
	close(gate)
	require.NoError(t, s.Close(t.Context()))

	texts := f.texts(t)
	require.Len(t, texts, 2)
	for i := 1; i <= 10; i++ {
		name := fmt.Sprintf("svc-%02d", i)
		if i <= 7 {
			assert.NotContains(t, texts[1], name)
		} else {
			assert.Contains(t, texts[1], name)
		}
	}
	assert.Equal(t, slack.Stats{Sent: 4, Messages: 2, Dropped: 7}, s.Stats())
	assert.Contains(t, logs.String(), "level=WARN msg=\"slack: queue full, dropped oldest events\" dropped=7 queue_size=3")
}

func TestSlackCloseFlushesQueue(t *testing.T) {
	gate := make(chan struct{})
	f := newFakeSlack(t, reply{status: http.StatusOK, body: "ok", gate: gate})
	logger, _ := newLogger(t)
	clk := newInstantClock()
	s := newSlack(t, f.URL(), slack.Options{Clock: clk, Logger: logger})

	require.NoError(t, s.Notify(t.Context(), scaleOut("first")))
	<-f.arrived
	require.NoError(t, s.Notify(t.Context(), scaleOut("second")))
	require.NoError(t, s.Notify(t.Context(), scaleOut("third")))
	closed := make(chan error)
	go func() { closed <- s.Close(t.Context()) }()
	close(gate)
	require.NoError(t, <-closed)

	assert.Equal(t, []string{
		slack.Format(scaleOut("first")),
		slack.Format(scaleOut("second")) + "\n\n" + slack.Format(scaleOut("third")),
	}, f.texts(t))
	assert.Equal(t, slack.Stats{Sent: 3, Messages: 2}, s.Stats())
	waits := clk.Waits()
	require.Len(t, waits, 1, "one pacing wait between the two messages")
	assert.Greater(t, waits[0], time.Duration(0))
	assert.LessOrEqual(t, waits[0], time.Second)
	assert.ErrorIs(t, s.Notify(t.Context(), scaleOut("late")), slack.ErrClosed)
	assert.NoError(t, s.Close(t.Context()), "idempotent")
}

func TestSlackCloseGivesUpAtDeadline(t *testing.T) {
	f := newFakeSlack(t, reply{hang: true})
	logger, logs := newLogger(t)
	s := newSlack(t, f.URL(), slack.Options{Clock: newInstantClock(), Logger: logger, Timeout: time.Hour})

	require.NoError(t, s.Notify(t.Context(), scaleOut("a")))
	<-f.arrived
	require.NoError(t, s.Notify(t.Context(), scaleOut("b")))
	require.NoError(t, s.Notify(t.Context(), scaleOut("c")))

	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no time left at all
	err := s.Close(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "3 events not delivered")
	assert.EqualError(t, s.Close(t.Context()), err.Error(), "idempotent")
	assert.Equal(t, slack.Stats{Failed: 3}, s.Stats())
	assert.Equal(t, 1, strings.Count(logs.String(), "events not delivered\" events=3"))
}

func TestSlackCloseWithNothingQueued(t *testing.T) {
	f := newFakeSlack(t)
	s := newSlack(t, f.URL(), slack.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.NoError(t, s.Close(ctx))
	assert.Zero(t, f.requests())
}

func TestNewSlackValidatesURL(t *testing.T) {
	tests := []struct {
		name, url string
		wantErr   string
	}{
		{"https", "https://hooks.slack.com" + hookPath, ""},
		{"http loopback v4", "http://127.0.0.1:8080" + hookPath, ""},
		{"http localhost", "http://localhost" + hookPath, ""},
		{"http loopback v6", "http://[::1]:9" + hookPath, ""},
		{"empty", "", "empty"},
		{"no scheme", "hooks.slack.com" + hookPath, "absolute"},
		{"path only", hookPath, "absolute"},
		{"http elsewhere", "http://hooks.slack.com" + hookPath, "https"},
		{"other scheme", "ftp://hooks.slack.com" + hookPath, "https"},
		{"control character", "https://hooks.slack.com" + hookPath + "\x7f", "is not a valid URL"},
		{"bad escape", "https://hooks.slack.com" + hookPath + "%zz", "is not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := slack.New(tt.url, slack.Options{})
			if tt.wantErr == "" {
				require.NoError(t, err)
				defer func() { assert.NoError(t, s.Close(t.Context())) }()
				assert.NotContains(t, s.String(), secret)
				assert.NotContains(t, fmt.Sprint(s), "T0SECRET")
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

func TestSlackString(t *testing.T) {
	s := newSlack(t, "https://user:pw@hooks.slack.com"+hookPath+"?q=1", slack.Options{})
	assert.Equal(t, "slack webhook https://hooks.slack.com/[redacted]", s.String())
}

// TestSlackNetworkErrorsHideURL checks that a failed connection's error,
// which net/http words with the whole URL, reaches the log without it.
func TestSlackNetworkErrorsHideURL(t *testing.T) {
	f := newFakeSlack(t)
	url := f.URL()
	f.srv.Close() // nothing listens any more
	logger, logs := newLogger(t)
	clk := newInstantClock()
	s := newSlack(t, url, slack.Options{Clock: clk, Logger: logger, MaxAttempts: 2})

	require.NoError(t, s.Notify(t.Context(), seedEvent()))
	require.NoError(t, s.Close(t.Context()))

	assert.Equal(t, slack.Stats{Failed: 1}, s.Stats())
	assert.Equal(t, []time.Duration{time.Second}, clk.Waits())
	assert.Contains(t, logs.String(), "/[redacted]: dial tcp")
}
