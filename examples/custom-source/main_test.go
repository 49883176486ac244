package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out))

	assert.Contains(t, out.String(), "read queue_depth 420 from http://127.0.0.1:")
	assert.Contains(t, out.String(), "scaled_out prod/worker: queue_depth 420 > 100, desired count 3 -> 10\n")
	assert.Contains(t, out.String(), "scaler updates: [{Service:prod/worker From:3 To:10}]")
}

func TestQueueDepthRead(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    autoscaler.Reading
		wantErr string
	}{
		{"depth", 200, `{"queue_depth": 42}`, autoscaler.Reading{Value: 42}, ""},
		{"zero and extra fields", 200, `{"queue_depth": 0, "consumers": 3}`, autoscaler.Reading{}, ""},
		{"503 is overload", 503, `busy`, autoscaler.Reading{Overload: true}, ""},
		{"other status", 500, `{"queue_depth": 42}`, autoscaler.Reading{}, "HTTP 500 Internal Server Error"},
		{"missing field", 200, `{"depth": 42}`, autoscaler.Reading{}, "body has no queue_depth field"},
		{"null field", 200, `{"queue_depth": null}`, autoscaler.Reading{}, "body has no queue_depth field"},
		{"negative", 200, `{"queue_depth": -1}`, autoscaler.Reading{}, "queue_depth must be a finite number >= 0, got -1"},
		{"string", 200, `{"queue_depth": "42"}`, autoscaler.Reading{}, "not a JSON object with a numeric queue_depth"},
		{"html error page", 200, `<html>oops</html>`, autoscaler.Reading{}, "not a JSON object with a numeric queue_depth"},
		{"empty", 200, ``, autoscaler.Reading{}, "not a JSON object with a numeric queue_depth"},
		{"too long", 200, `{"queue_depth": 1, "pad": "` + strings.Repeat("x", maxBody) + `"}`, autoscaler.Reading{}, "body longer than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			src, err := NewQueueDepth(srv.URL+"/stats?token=s3cret", nil)
			require.NoError(t, err)

			got, err := src.Read(t.Context())
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), "queue depth "+srv.URL+"/stats: ", "names the URL")
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}

func TestQueueDepthUnreachableHidesQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	src, err := NewQueueDepth(srv.URL+"/stats?token=s3cret", nil)
	require.NoError(t, err)

	_, err = src.Read(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), srv.URL+"/stats")
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestNewQueueDepthRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "queue.internal/stats", "file:///etc/passwd", "http://"} {
		_, err := NewQueueDepth(u, nil)
		assert.Error(t, err, u)
	}
}
