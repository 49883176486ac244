package app

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

var (
	web = scaler.ServiceID{Cluster: "shop", Name: "web"}
	api = scaler.ServiceID{Cluster: "shop", Name: "api"}
)

func blindStatus(id scaler.ServiceID) autoscaler.ServiceStatus {
	return autoscaler.ServiceStatus{Service: id, State: autoscaler.StateBlind, Since: time.Now().Add(-time.Minute),
		ReadFailures: 20, Err: errors.New("connection refused")}
}

func TestProbes(t *testing.T) {
	for _, tt := range []struct {
		name       string
		stuck      []scaler.ServiceID
		status     []autoscaler.ServiceStatus
		set        bool
		health     int
		ready      int
		healthBody string
		readyBody  []string
	}{
		{name: "starting", health: http.StatusOK, ready: http.StatusServiceUnavailable, healthBody: "ok",
			readyBody: []string{"config not loaded yet"}},
		{name: "running", set: true, status: []autoscaler.ServiceStatus{{Service: web}},
			health: http.StatusOK, ready: http.StatusOK, healthBody: "ok", readyBody: []string{"ok\n"}},
		{name: "a loop stuck", set: true, stuck: []scaler.ServiceID{web}, status: []autoscaler.ServiceStatus{{Service: web}},
			health: http.StatusServiceUnavailable, ready: http.StatusOK, healthBody: "stuck: shop/web"},
		{name: "one service blind: still ready, and says so", set: true,
			status: []autoscaler.ServiceStatus{{Service: api}, blindStatus(web)},
			health: http.StatusOK, ready: http.StatusOK, healthBody: "ok",
			readyBody: []string{"ok\n", "blind: shop/web since ", "(1m0s, 20 failed reads)"}},
		{name: "every service blind: not ready, still alive", set: true,
			status: []autoscaler.ServiceStatus{blindStatus(api), blindStatus(web)},
			health: http.StatusOK, ready: http.StatusServiceUnavailable, healthBody: "ok",
			readyBody: []string{"not ready: every service is blind", "blind: shop/api", "blind: shop/web"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p probes
			if tt.set {
				f := func() []scaler.ServiceID { return tt.stuck }
				p.stuck.Store(&f)
				s := func() []autoscaler.ServiceStatus { return tt.status }
				p.status.Store(&s)
			}
			rec := httptest.NewRecorder()
			p.healthz(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			assert.Equal(t, tt.health, rec.Code)
			assert.Contains(t, rec.Body.String(), tt.healthBody)
			rec = httptest.NewRecorder()
			p.readyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			assert.Equal(t, tt.ready, rec.Code)
			for _, want := range tt.readyBody {
				assert.Contains(t, rec.Body.String(), want)
			}
		})
	}
}

func TestServePprofOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		addr, stop, err := serve("127.0.0.1:0", prometheus.NewRegistry(), &probes{}, on, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		t.Cleanup(stop)
		for path, wantOn := range map[string]int{
			"/debug/pprof/":                  http.StatusOK,
			"/debug/pprof/heap?debug=1":      http.StatusOK,
			"/debug/pprof/goroutine?debug=1": http.StatusOK,
		} {
			resp, err := http.Get("http://" + addr.String() + path)
			require.NoError(t, err)
			_ = resp.Body.Close()
			want := http.StatusNotFound
			if on {
				want = wantOn
			}
			assert.Equal(t, want, resp.StatusCode, "pprof %v: %s", on, path)
		}
		resp, err := http.Get("http://" + addr.String() + "/healthz")
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "pprof %v: /healthz", on)
	}
}

func TestServicesEndpoint(t *testing.T) {
	var p probes
	rec := httptest.NewRecorder()
	p.services(rec, httptest.NewRequest(http.MethodGet, StatusPath, nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "not before the engine runs")

	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s := func() []autoscaler.ServiceStatus {
		return []autoscaler.ServiceStatus{
			{Service: api, State: autoscaler.StateWatching, Mode: "double", CapSource: autoscaler.CapNone, Threshold: 150},
			{Service: web, State: autoscaler.StateGrace, Since: t0, Until: t0.Add(3 * time.Minute),
				Reading: autoscaler.Reading{Value: 500}, ReadingTime: t0, Threshold: 100, Mode: "double",
				Cap: 40, CapSource: autoscaler.CapMaxDesiredCount,
				Scale: scaler.State{Desired: 10, Running: 2, Pending: 0, Status: "ACTIVE"}, ScaleTime: t0,
				LastCheck: t0, LastOutcome: autoscaler.ScaledOut, NextCheck: t0.Add(3 * time.Minute)},
		}
	}
	p.status.Store(&s)
	rec = httptest.NewRecorder()
	p.services(rec, httptest.NewRequest(http.MethodGet, StatusPath, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var got struct {
		Time     time.Time
		Services []map[string]any
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.WithinDuration(t, time.Now(), got.Time, time.Minute)
	require.Len(t, got.Services, 2)
	a, w := got.Services[0], got.Services[1]
	assert.Nil(t, a["reading"], "never read: null")
	assert.Nil(t, a["cap"], "no cap: null")
	assert.Equal(t, "none", a["cap_source"])
	assert.Nil(t, a["seen"])
	assert.Nil(t, a["since"])
	assert.NotContains(t, a, "last_outcome", "no check yet")
	assert.Equal(t, map[string]any{
		"cluster": "shop", "service": "web", "state": "grace",
		"since": "2026-11-22T12:00:00Z", "until": "2026-11-22T12:03:00Z",
		"reading":       map[string]any{"value": 500.0, "overload": false, "time": "2026-11-22T12:00:00Z"},
		"read_failures": 0.0, "threshold": 100.0, "mode": "double", "cap": 40.0, "cap_source": "MaxDesiredCount",
		"seen": map[string]any{"desired": 10.0, "running": 2.0, "pending": 0.0, "status": "ACTIVE",
			"time": "2026-11-22T12:00:00Z"},
		"scale_failures": 0.0, "last_check": "2026-11-22T12:00:00Z", "last_outcome": "scaled_out",
		"next_check": "2026-11-22T12:03:00Z",
	}, w)
}

// TestClientsNeverShowAURLPassword: the health and status clients quote
// their URL in errors with any password in it masked, whether nothing
// answers (net/http's *url.Error quotes the whole URL) or the answer is not
// a 200.
func TestClientsNeverShowAURLPassword(t *testing.T) {
	refusing := httptest.NewServer(http.NotFoundHandler())
	refusing.Close() // nothing listens there any more
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	for _, base := range []string{refusing.URL, unhealthy.URL} {
		withPassword := strings.Replace(base, "://", "://ops:pa55word-x@", 1)
		_, err := CheckHealth(t.Context(), withPassword+"/healthz")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "pa55word-x", "health")
		_, _, err = FetchStatus(t.Context(), withPassword+StatusPath)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "pa55word-x", "status")
		assert.Contains(t, err.Error(), "ops:xxxxx@", "status names the URL, password masked")
	}
}
