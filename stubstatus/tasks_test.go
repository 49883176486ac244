package stubstatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

var web = scaler.ServiceID{Cluster: "shop", Name: "web"}

// fakeLister is a TaskLister whose tasks and error the test sets.
type fakeLister struct {
	mu    sync.Mutex
	tasks []scaler.Task
	err   error
	calls int
}

func (f *fakeLister) Tasks(_ context.Context, svc scaler.ServiceID) ([]scaler.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if svc != web {
		return nil, fmt.Errorf("asked for %s", svc)
	}
	return slices.Clone(f.tasks), f.err
}

func (f *fakeLister) set(err error, tasks ...scaler.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tasks, f.err = tasks, err
}

func (f *fakeLister) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// farm plays a service's tasks: one local stub_status server per task IP
// (10.0.0.x), reached through a client that dials the task's server
// whatever address the request names.
type farm struct {
	t      *testing.T
	mu     sync.Mutex
	routes map[string]string // task IP -> server address
	srvs   map[string]*httptest.Server
	client *http.Client
	lister *fakeLister
	auth   atomic.Int64 // requests that carried the auth header
}

func newFarm(t *testing.T) *farm {
	f := &farm{t: t, routes: map[string]string{}, srvs: map[string]*httptest.Server{}, lister: &fakeLister{}}
	var d net.Dialer
	tr := NewTransport(false)
	tr.HTTP.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		f.mu.Lock()
		target, ok := f.routes[host]
		f.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("dial %s: connection refused", addr)
		}
		return d.DialContext(ctx, network, target)
	}
	f.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(tr.CloseIdleConnections)
	return f
}

// serve starts task ip's server with handler h and returns it.
func (f *farm) serve(ip string, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(testHeader) == testSecret {
			f.auth.Add(1)
		}
		h(w, r)
	}))
	f.t.Cleanup(srv.Close)
	f.mu.Lock()
	f.routes[ip] = srv.Listener.Addr().String()
	f.srvs[ip] = srv
	f.mu.Unlock()
	return srv
}

// active serves a stub_status page with Active n (Waiting 1).
func active(n int) http.HandlerFunc {
	return serveBody(fmt.Sprintf("Active connections: %d \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 1 \n", n))
}

// stop stops task ip's server, closing its connections: its address then
// refuses connections, as a stopped task's.
func (f *farm) stop(ip string) {
	f.mu.Lock()
	srv := f.srvs[ip]
	delete(f.routes, ip)
	f.mu.Unlock()
	srv.Close()
}

func running(id, ip string) scaler.Task {
	return scaler.Task{ID: id, Addr: netip.MustParseAddr(ip), Status: "RUNNING", Running: true}
}

func starting(id string) scaler.Task { return scaler.Task{ID: id, Status: "PROVISIONING"} }

// logLines is a JSON log the test reads back.
type logLines struct{ syncbuf.Buffer }

// with returns the lines whose message is msg.
func (l *logLines) with(msg string) []map[string]any {
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(l.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// taskSource builds a TaskSource on f with a mock clock; change opts with
// edit.
func (f *farm) source(clk clock.Clock, logs *logLines, edit func(*TaskOptions)) *TaskSource {
	f.t.Helper()
	opts := TaskOptions{Service: web, Lister: f.lister, URL: "http://{ip}:8080/nginx-status",
		AuthHeader: testHeader, AuthValue: testSecret, Timeout: 2 * time.Second, Client: f.client, Clock: clk,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if edit != nil {
		edit(&opts)
	}
	src, err := NewTaskSource(opts)
	require.NoError(f.t, err)
	return src
}

func TestTaskSourceReadsEveryTask(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", active(10))
	f.serve("10.0.0.2", active(20))
	f.serve("10.0.0.3", active(60))
	f.lister.set(nil, running("a", "10.0.0.1"), running("b", "10.0.0.2"), starting("c"), running("d", "10.0.0.3"))

	for _, tt := range []struct {
		agg    Aggregate
		metric Metric
		want   autoscaler.Reading
	}{
		{"", "", autoscaler.Reading{Value: 30, Total: 90, Tasks: 3, Starting: 1}},
		{AggregateAvg, MetricActive, autoscaler.Reading{Value: 30, Total: 90, Tasks: 3, Starting: 1}},
		{AggregateMax, MetricActive, autoscaler.Reading{Value: 60, Total: 90, Tasks: 3, Starting: 1}},
		{AggregateMax, MetricBusy, autoscaler.Reading{Value: 59, Total: 87, Tasks: 3, Starting: 1}},
	} {
		t.Run(fmt.Sprintf("%s %s", tt.agg, tt.metric), func(t *testing.T) {
			src := f.source(clock.NewMock(), &logLines{}, func(o *TaskOptions) { o.Aggregate, o.Metric = tt.agg, tt.metric })
			r, err := src.Read(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tt.want, r)
		})
	}
	assert.EqualValues(t, 12, f.auth.Load(), "every task's request carried the auth header")
}

func TestTaskSourceOverloadAndUnanswered(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", active(10))
	f.serve("10.0.0.2", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	f.serve("10.0.0.3", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) })
	f.lister.set(nil, running("a", "10.0.0.1"), running("b", "10.0.0.2"), running("c", "10.0.0.3"))
	logs := &logLines{}
	src := f.source(clock.NewMock(), logs, nil)

	clk := src.clock.(*clock.Mock)
	for i := range 2 {
		r, err := src.Read(t.Context())
		require.NoError(t, err, "one task answering is enough")
		assert.Equal(t, autoscaler.Reading{Value: 10, Total: 10, Tasks: 2, Unanswered: 1, Overload: true}, r,
			"the 503 answered and calls for a scale-out but has no figure; the 500 did not answer")
		if i == 0 {
			assert.Empty(t, logs.with("tasks did not answer"), "not named before a later listing confirms it still runs")
		}
		clk.Add(time.Second)
	}
	assert.Equal(t, 2, f.lister.count(), "a task that stopped answering has the tasks listed again at the next read")
	named := logs.with("tasks did not answer")
	require.Len(t, named, 1)
	assert.Equal(t, "c", named[0]["tasks"])
	assert.Contains(t, named[0]["error"], "unexpected HTTP status 500")
}

func TestTaskSourceFailsOnlyWhenNoTaskAnswers(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	f.lister.set(nil, running("a", "10.0.0.1"), running("b", "10.0.0.2")) // b: nothing listens
	src := f.source(clock.NewMock(), &logLines{}, nil)

	r, err := src.Read(t.Context())
	require.Error(t, err)
	assert.Equal(t, autoscaler.Reading{}, r)
	assert.Contains(t, err.Error(), "none of the 2 running tasks answered")
	assert.Contains(t, err.Error(), "task a (http://10.0.0.1:8080/nginx-status)")
	assert.Contains(t, err.Error(), "403")
	assert.Contains(t, err.Error(), "shop/web")
}

func TestTaskSourceRefreshes(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", active(10))
	f.serve("10.0.0.2", active(30))
	f.lister.set(nil, running("a", "10.0.0.1"), starting("b"))
	clk := clock.NewMock()
	src := f.source(clk, &logLines{}, func(o *TaskOptions) { o.Refresh = 10 * time.Second })

	r, err := src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 10, Total: 10, Tasks: 1, Starting: 1}, r)

	// b starts running; the list is not due again for 9 to 11 s.
	f.lister.set(nil, running("a", "10.0.0.1"), running("b", "10.0.0.2"))
	clk.Add(8999 * time.Millisecond)
	r, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, r.Tasks, "the cached list")
	assert.Equal(t, 1, f.lister.count())

	clk.Add(2001 * time.Millisecond)
	r, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 20, Total: 40, Tasks: 2}, r, "the reading follows within one refresh")
	assert.Equal(t, 2, f.lister.count())

	// A scale-out has the next read list the tasks again.
	f.lister.set(nil, running("a", "10.0.0.1"), running("b", "10.0.0.2"), starting("c"), starting("d"))
	src.ScaledOut(clk.Now())
	r, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, r.Starting)
	assert.Equal(t, 3, f.lister.count())
}

func TestTaskSourceJitterIsDeterministic(t *testing.T) {
	intervals := func(name string) []time.Duration {
		src, err := NewTaskSource(TaskOptions{Service: scaler.ServiceID{Cluster: "c", Name: name}, Lister: &fakeLister{},
			URL: "http://{ip}/s", Timeout: time.Second})
		require.NoError(t, err)
		var out []time.Duration
		for range 20 {
			src.listings++
			d := src.jittered()
			require.GreaterOrEqual(t, d, 13500*time.Millisecond)
			require.Less(t, d, 16500*time.Millisecond)
			out = append(out, d)
		}
		return out
	}
	assert.Equal(t, intervals("web"), intervals("web"), "the same service, the same intervals")
	assert.NotEqual(t, intervals("web"), intervals("api"), "services drift apart")
	assert.Greater(t, len(slices.Compact(intervals("web"))), 10, "the interval varies")
}

// A task that stops (its server goes, ECS no longer lists it) and a new one
// that appears: the read that finds the first gone lists the tasks again at
// once, drops it and reads the new one; the stopped task never counts as
// unanswered nor is named.
func TestTaskSourceTaskStopsAndAnotherStarts(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", active(10))
	f.serve("10.0.0.2", active(20))
	f.lister.set(nil, running("a", "10.0.0.1"), running("b", "10.0.0.2"))
	clk := clock.NewMock()
	logs := &logLines{}
	src := f.source(clk, logs, nil)
	r, err := src.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, 30.0, r.Total)

	f.stop("10.0.0.1")
	f.serve("10.0.0.3", active(40))
	f.lister.set(nil, running("b", "10.0.0.2"), running("c", "10.0.0.3"))
	clk.Add(time.Second) // well before the refresh is due
	r, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 30, Total: 60, Tasks: 2}, r)
	assert.Equal(t, 2, f.lister.count())

	clk.Add(time.Minute)
	r, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 30, Total: 60, Tasks: 2}, r)
	assert.Empty(t, logs.with("tasks did not answer"))
	assert.Len(t, logs.with("task no longer listed: it stopped"), 1)
}

// A task that hangs is counted unanswered; once a listing confirms it still
// runs it is named in the log, at most once a minute.
func TestTaskSourceNamesUnansweredTasksOnceAMinute(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", active(10))
	release := make(chan struct{})
	f.serve("10.0.0.2", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	f.lister.set(nil, running("a", "10.0.0.1"), running("hung", "10.0.0.2"))
	clk := clock.NewMock()
	logs := &logLines{}
	src := f.source(clk, logs, func(o *TaskOptions) { o.Timeout = 100 * time.Millisecond })

	for i := range 13 { // every 6 s for 72 s
		r, err := src.Read(t.Context())
		require.NoError(t, err)
		assert.Equal(t, autoscaler.Reading{Value: 10, Total: 10, Tasks: 1, Unanswered: 1}, r, "read %d", i)
		clk.Add(6 * time.Second)
	}
	named := logs.with("tasks did not answer")
	require.Len(t, named, 2, "at the confirming listing (the second read, at 6 s), then a minute later")
	assert.Equal(t, "hung", named[0]["tasks"])
	assert.Contains(t, named[0]["error"], "no answer within 100ms")
	assert.EqualValues(t, 1, named[0]["unanswered"])
	assert.EqualValues(t, 1, named[0]["answered"])
	// The first read listed, the second listed again for the task that
	// stopped answering; then only the refreshes every 13.5 to 16.5 s.
	assert.GreaterOrEqual(t, f.lister.count(), 2+3)
	assert.LessOrEqual(t, f.lister.count(), 2+5)
}

func TestTaskSourceCannotList(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", active(10))
	denied := errors.New("ecs ListTasks shop/web: access denied: grant the IAM action ecs:ListTasks")

	t.Run("no fallback: no reading", func(t *testing.T) {
		f.lister.set(denied)
		logs := &logLines{}
		clk := clock.NewMock()
		src := f.source(clk, logs, nil)
		for range 3 {
			_, err := src.Read(t.Context())
			require.Error(t, err)
			assert.ErrorIs(t, err, denied)
			assert.Contains(t, err.Error(), "tasks not listed, so no reading")
			clk.Add(20 * time.Second)
		}
		assert.Len(t, logs.with("tasks not listed: no reading until they are"), 1, "said once, not every check")
	})

	t.Run("fallback through the load balancer", func(t *testing.T) {
		lb := newStatusServer(t, serveBody(nginxBody))
		fallback := newSource(t, Options{URL: lb.URL})
		f.lister.set(denied)
		logs := &logLines{}
		clk := clock.NewMock()
		src := f.source(clk, logs, func(o *TaskOptions) { o.Fallback = fallback })
		for range 3 {
			r, err := src.Read(t.Context())
			require.NoError(t, err)
			assert.Equal(t, autoscaler.Reading{Value: 291}, r, "the balancer's one-task sample")
			clk.Add(20 * time.Second)
		}
		said := logs.with("tasks not listed: reading the fallback status URL through the load balancer until they are")
		require.Len(t, said, 1, "said once")
		assert.Contains(t, said[0]["error"], "access denied")

		f.lister.set(nil, running("a", "10.0.0.1"))
		r, err := src.Read(t.Context())
		require.NoError(t, err)
		assert.Equal(t, autoscaler.Reading{Value: 10, Total: 10, Tasks: 1}, r)
		assert.Len(t, logs.with("per-task reading resumed"), 1)
	})

	t.Run("a failing listing keeps the last list", func(t *testing.T) {
		f.lister.set(nil, running("a", "10.0.0.1"))
		logs := &logLines{}
		clk := clock.NewMock()
		src := f.source(clk, logs, nil)
		_, err := src.Read(t.Context())
		require.NoError(t, err)
		calls := f.lister.count()

		f.lister.set(errors.New("ThrottlingException: Rate exceeded"))
		for range 10 {
			clk.Add(16 * time.Second)
			r, err := src.Read(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 1, r.Tasks)
		}
		assert.Len(t, logs.with("tasks not listed: reading the tasks listed last until they are"), 1)
		assert.Equal(t, calls+10, f.lister.count(), "retried no more than once a read")

		f.lister.set(nil, running("a", "10.0.0.1"))
		clk.Add(16 * time.Second)
		_, err = src.Read(t.Context())
		require.NoError(t, err)
		assert.Len(t, logs.with("tasks listed again"), 1)
	})
}

func TestTaskSourceNoTaskRunning(t *testing.T) {
	f := newFarm(t)
	f.lister.set(nil, starting("a"), starting("b"))
	clk := clock.NewMock()
	src := f.source(clk, &logLines{}, nil)
	_, err := src.Read(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no task running to read (2 starting)")

	clk.Add(5 * time.Second) // looked for again soon, not after the full refresh
	f.serve("10.0.0.1", active(7))
	f.lister.set(nil, running("a", "10.0.0.1"), starting("b"))
	r, err := src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 7, Total: 7, Tasks: 1, Starting: 1}, r)
}

func TestNewTaskSourceValidates(t *testing.T) {
	_, err := NewTaskSource(TaskOptions{URL: "http://user:" + testSecret + "@example.com/s", AuthValue: testSecret,
		Aggregate: "median", Metric: "idle", MaxInFlight: -1, Refresh: time.Millisecond, MaxBody: -1})
	require.Error(t, err)
	for _, want := range []string{
		"Service: cluster and name are required", "Lister: required",
		"URL: must contain {ip} exactly once, as the host", "AuthValue: set without AuthHeader",
		`Aggregate: must be "avg" or "max", got "median"`, `Metric: must be "active" or "busy"`,
		"Timeout: must be > 0", "MaxBody: must be between 1 and", "Refresh: must be at least 1s, got 1ms",
		"MaxInFlight: must be > 0",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), testSecret)
}

func TestCheckTaskURL(t *testing.T) {
	for _, tt := range []struct{ url, err string }{
		{"http://{ip}:8080/nginx-status", ""},
		{"https://{ip}/nginx-status", ""},
		{"http://alice:" + testSecret + "@{ip}:8080/s", ""},
		{"", "required"},
		{"http://10.0.0.1:8080/nginx-status", "must contain {ip} exactly once, as the host"},
		{"http://{ip}:8080/{ip}", "found it 2 times"},
		{"http://x{ip}:8080/s", "must have {ip} as its whole host"},
		{"http://example.com/{ip}", "must have {ip} as its whole host"},
		{"ftp://{ip}/s", "must be an absolute http or https URL"},
		{"{ip}/nginx-status", "must be an absolute http or https URL"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckTaskURL(tt.url)
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
			assert.NotContains(t, err.Error(), testSecret)
		})
	}
	u, err := parseTaskURL("http://{ip}:8080/s")
	require.NoError(t, err)
	assert.Equal(t, "http://10.1.2.3:8080/s", u.expand(netip.MustParseAddr("10.1.2.3")))
	assert.Equal(t, "http://[2001:db8::7]:8080/s", u.expand(netip.MustParseAddr("2001:db8::7")))
}

func TestTaskSourceHidesSecrets(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	f.lister.set(nil, running("a", "10.0.0.1"), running("b", "10.0.0.9"))
	logs := &logLines{}
	clk := clock.NewMock()
	src := f.source(clk, logs, func(o *TaskOptions) { o.URL = "http://alice:" + testSecret + "@{ip}:8080/s" })
	assert.Equal(t, "stub_status of each task of shop/web at http://{ip}:8080/s", src.String())
	for range 3 {
		_, err := src.Read(t.Context())
		require.Error(t, err)
		assert.NotContains(t, err.Error(), testSecret)
		assert.NotContains(t, err.Error(), "alice")
		clk.Add(20 * time.Second)
	}
	assert.NotEmpty(t, logs.with("tasks did not answer"))
	assert.NotContains(t, logs.String(), testSecret)
	assert.NotContains(t, logs.String(), "alice")
}

// A task that stops answering but still runs: the tasks are listed again at
// once, the list is the same, and the task counts as unanswered.
func TestTaskSourceTaskStopsAnsweringButRuns(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", active(10))
	var broken atomic.Bool
	f.serve("10.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			http.Error(w, "oops", http.StatusInternalServerError)
			return
		}
		active(20)(w, r)
	})
	f.lister.set(nil, running("a", "10.0.0.1"), running("b", "10.0.0.2"))
	clk := clock.NewMock()
	logs := &logLines{}
	src := f.source(clk, logs, nil)
	r, err := src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 30.0, r.Total)

	broken.Store(true)
	clk.Add(time.Second)
	r, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 10, Total: 10, Tasks: 1, Unanswered: 1}, r)
	assert.Equal(t, 2, f.lister.count(), "listed again at once")
	named := logs.with("tasks did not answer")
	require.Len(t, named, 1, "the listing confirmed it still runs")
	assert.Equal(t, "b", named[0]["tasks"])

	clk.Add(time.Second)
	_, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, f.lister.count(), "a task still failing lists nothing more")
	assert.Len(t, logs.with("tasks did not answer"), 1, "named at most once a minute")
}

func TestNewTaskSourceTLSServerName(t *testing.T) {
	opts := TaskOptions{Service: web, Lister: &fakeLister{}, URL: "http://{ip}:8080/s", Timeout: time.Second,
		TLS: TLSMode{Verify: true, ServerName: "shop.example.com"}}
	_, err := NewTaskSource(opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TLS: ServerName: needs an https status URL")

	opts.URL = "https://{ip}:8443/s"
	src, err := NewTaskSource(opts)
	require.NoError(t, err)
	tr, ok := src.get.rt.(*Transport)
	require.True(t, ok)
	assert.Same(t, tr, src.get.fast)
	assert.False(t, tr.HTTP.TLSClientConfig.InsecureSkipVerify, "the default transport follows TLS")
}

// Capacity mode sizes a scale-out from the exact total a per-task reading
// carries (plus the average answering task for each that did not answer),
// not from the figure compared with the threshold times the tasks running.
func TestCapacityModeUsesTheExactTotal(t *testing.T) {
	f := newFarm(t)
	f.serve("10.0.0.1", active(900))
	f.serve("10.0.0.2", active(90))
	f.serve("10.0.0.3", active(90))
	f.serve("10.0.0.4", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) })
	f.lister.set(nil, running("a", "10.0.0.1"), running("b", "10.0.0.2"), running("c", "10.0.0.3"), running("d", "10.0.0.4"))
	src := f.source(clock.NewMock(), &logLines{}, func(o *TaskOptions) { o.Aggregate = AggregateMax })

	p := autoscaler.DefaultPolicy()
	p.ScaleoutMode, p.ScaleoutThreshold, p.TargetPerTask, p.MinDesiredCount = autoscaler.ModeCapacity, 100, 90, 1
	mem := scaler.NewMemory()
	mem.Put(web, scaler.State{Desired: 4, Running: 4, Status: "ACTIVE"})
	w, err := autoscaler.NewWatcher(autoscaler.Service{Cluster: web.Cluster, Name: web.Name, Source: src, Policy: p}, mem, nil)
	require.NoError(t, err)

	c := w.Step(t.Context(), time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	assert.Equal(t, autoscaler.Reading{Value: 900, Total: 1080, Tasks: 3, Unanswered: 1}, c.Reading,
		"the busiest task is compared; the total is the sum")
	require.Equal(t, autoscaler.ScaledOut, c.Outcome, c.Err)
	assert.Equal(t, 16, c.DesiredNew, "(1080 + 1080/3 for the task that did not answer) / 90; 900 × 4 running would ask for 40")
	st, err := mem.State(t.Context(), web)
	require.NoError(t, err)
	assert.Equal(t, 16, st.Desired)
}

// Userinfo in the URL template goes as basic auth to every task, whatever
// makes the requests: an http.Client, a Transport, or a plain net/http
// RoundTripper (a proxy setting routes task reads through one).
func TestTaskSourceSendsUserinfoAsBasicAuth(t *testing.T) {
	f := newFarm(t)
	got := make(chan string, 1)
	f.serve("10.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		got <- u + ":" + p
		active(5)(w, r)
	})
	f.lister.set(nil, running("a", "10.0.0.1"))
	tr := f.client.Transport.(*Transport)
	for name, edit := range map[string]func(*TaskOptions){
		"client":        func(*TaskOptions) {},
		"transport":     func(o *TaskOptions) { o.Client, o.Transport = nil, tr },
		"net/http only": func(o *TaskOptions) { o.Client, o.Transport = nil, tr.HTTP },
	} {
		t.Run(name, func(t *testing.T) {
			src := f.source(clock.NewMock(), &logLines{}, func(o *TaskOptions) {
				o.URL = "http://alice:" + testSecret + "@{ip}:8080/s"
				edit(o)
			})
			r, err := src.Read(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 5.0, r.Value)
			assert.Equal(t, "alice:"+testSecret, <-got)
		})
	}
}
