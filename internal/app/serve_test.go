package app

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

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
