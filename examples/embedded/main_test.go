package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out))

	got := out.String()
	assert.Contains(t, got, "service listening on http://127.0.0.1:")
	assert.Contains(t, got, `msg="autoscaler event" event=scaled_out service=prod/web from=3 to=10`)
	assert.Contains(t, got, `GET /metrics: fast_autoscaler_scaleouts_total{cluster="prod",result="scaled_out",service="web"} 1`+"\n")
	assert.Contains(t, got, "GET /healthz: 200 ok\n")
	assert.Contains(t, got, "shut down\n")
}

func TestMux(t *testing.T) {
	mem := scaler.NewMemory()
	eng, err := autoscaler.New([]autoscaler.Service{{
		Cluster: "prod", Name: "web", Policy: autoscaler.DefaultPolicy(),
		Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) { return autoscaler.Reading{}, nil }),
	}}, autoscaler.Options{Scaler: mem})
	require.NoError(t, err)
	mux := newMux(prometheus.NewRegistry(), eng)

	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/", http.StatusOK, "hello from the shop\n"},
		// An engine that is not running checks nothing: every loop is stuck.
		{"/healthz", http.StatusServiceUnavailable, "stuck: [prod/web]\n"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		assert.Equal(t, tt.status, rec.Code, tt.path)
		assert.Equal(t, tt.body, rec.Body.String(), tt.path)
	}
}
