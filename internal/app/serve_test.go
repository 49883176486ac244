package app

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

func TestProbes(t *testing.T) {
	var p probes
	for _, tt := range []struct {
		name       string
		stuck      []scaler.ServiceID
		set        bool
		health     int
		ready      int
		healthBody string
	}{
		{name: "starting", health: http.StatusOK, ready: http.StatusServiceUnavailable, healthBody: "ok"},
		{name: "running", set: true, health: http.StatusOK, ready: http.StatusOK, healthBody: "ok"},
		{name: "a loop stuck", set: true, stuck: []scaler.ServiceID{{Cluster: "shop", Name: "web"}},
			health: http.StatusServiceUnavailable, ready: http.StatusOK, healthBody: "stuck: shop/web"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.set {
				f := func() []scaler.ServiceID { return tt.stuck }
				p.stuck.Store(&f)
			}
			rec := httptest.NewRecorder()
			p.healthz(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			assert.Equal(t, tt.health, rec.Code)
			assert.Contains(t, rec.Body.String(), tt.healthBody)
			rec = httptest.NewRecorder()
			p.readyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			assert.Equal(t, tt.ready, rec.Code)
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
