package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

// serviceJSON is one service entry for a test config.
func serviceJSON(name, statusURL string, threshold int, extra string) string {
	return fmt.Sprintf(`{"StatusUrl": %q, "ScaleoutThreshold": %d, "CheckInterval": 0.1, "GracePeriod": 3600,
	  "EcsClusterName": "shop", "EcsServiceName": %q%s}`, statusURL+"/nginx-status", threshold, name, extra)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestRunReloadMetricsAndHealth(t *testing.T) {
	srv := awstest.New(t)
	srv.AddCluster("shop")
	for _, n := range []string{"web", "api", "batch"} {
		srv.PutService("shop", n, awstest.Service{Desired: 2, Running: 2})
	}
	status, slack := newStubStatus(t, ""), newSlack(t)
	status.active.Store(50)
	slackExtra := fmt.Sprintf(`, "SlackWebhookUrl": %q`, slack.URL+"/services/T1/B1/s3cret")
	cfgFile := writeFile(t, `{"Services":[`+serviceJSON("web", status.URL, 100, slackExtra)+`,`+serviceJSON("api", status.URL, 100, "")+`]}`)

	p := start(t, srv.Env(), "run", "-config", cfgFile, "-listen", "127.0.0.1:0", "-reload-interval", "0")
	addr := p.waitLog(t, "listening")["addr"].(string)
	base := "http://" + addr
	p.waitLog(t, "ready")

	code, body := get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code, body)
	r := runBinary(t, nil, "health", "-url", base+"/healthz")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "healthy")

	// A scale-out, then the metrics show it with the right labels.
	status.active.Store(500)
	p.waitLog(t, "scaled out")
	p.waitLog(t, "scaled out") // both services
	// A check is observed just after it logs: ask until both are counted.
	eventually(t, "both scale-outs in /metrics", func() bool {
		_, body = get(t, base+"/metrics")
		return strings.Count(body, `result="scaled_out"`) == 2 && strings.Contains(body, `result="scaled_out",service="api"} 1`) &&
			strings.Contains(body, `result="scaled_out",service="web"} 1`)
	})
	for _, want := range []string{
		`fast_autoscaler_scaleouts_total{cluster="shop",result="scaled_out",service="web"} 1`,
		`fast_autoscaler_scaleouts_total{cluster="shop",result="scaled_out",service="api"} 1`,
		`fast_autoscaler_in_grace_period{cluster="shop",service="web"} 1`,
		`fast_autoscaler_reading{cluster="shop",service="web"} 500`,
		`fast_autoscaler_build_info{`,
		`fast_autoscaler_aws_request_duration_seconds_count{aws_service="ECS",operation="UpdateService"} 2`,
	} {
		assert.Contains(t, body, want)
	}

	// Reload: drop api, add batch, change web's threshold. web and api are in
	// their grace period; web keeps it (no new scale-out of web), batch starts.
	require.NoError(t, os.WriteFile(cfgFile, []byte(`{"Services":[`+
		serviceJSON("web", status.URL, 120, slackExtra)+`,`+serviceJSON("batch", status.URL, 100, "")+`]}`), 0o600))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	// The added service's first check may log before the reload does.
	logs := p.waitLogs(t, "config reloaded", "scaled out")
	reloaded := logs["config reloaded"]
	assert.EqualValues(t, 1, reloaded["added"])
	assert.EqualValues(t, 1, reloaded["changed"])
	assert.EqualValues(t, 1, reloaded["removed"])
	assert.Equal(t, "SIGHUP", reloaded["reason"])
	assert.Equal(t, "batch", logs["scaled out"]["service"], "the added service starts; web stays in its grace period")
	updates := srv.Calls("UpdateService")
	require.Len(t, updates, 3)
	assert.Equal(t, "batch", updates[2].Params["service"])

	// An invalid reload is rejected, logged and notified; the old config runs on.
	require.NoError(t, os.WriteFile(cfgFile, []byte(`{"Services":[{"StatusUrl":"nope","EcsClusterName":"shop","EcsServiceName":"web","ScaleoutThreshold":-1}]}`), 0o600))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	rejected := p.waitLog(t, "config reload rejected; the last good config keeps running")
	assert.Contains(t, rejected["error"], "Services[0] (web): StatusUrl")
	assert.Contains(t, rejected["error"], "Services[0] (web): ScaleoutThreshold")
	var texts []string
	bound := time.After(30 * time.Second)
	for !strings.Contains(strings.Join(texts, "\n"), "config reload rejected") {
		select {
		case <-slack.got:
		case <-bound:
			t.Fatalf("no config-rejected message on Slack within 30s; got %q", texts)
		}
		slack.mu.Lock()
		texts = append(texts[:0], slack.texts...)
		slack.mu.Unlock()
	}
	eventually(t, "batch's scale-out in /metrics", func() bool {
		_, body = get(t, base+"/metrics")
		return strings.Contains(body, `result="scaled_out",service="batch"} 1`)
	})
	assert.Contains(t, body, `fast_autoscaler_config_reloads_total{result="ok"} 1`)
	assert.Contains(t, body, `fast_autoscaler_config_reloads_total{result="invalid"} 1`)
	assert.NotContains(t, body, `service="api"`, "a removed service's series are gone")
	code, _ = get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code, "still healthy on the last good config")

	exit, _ := p.stop(t)
	assert.Equal(t, exitOK, exit)
	assert.NotContains(t, p.output(), "s3cret")

	r = runBinary(t, nil, "health", "-url", base+"/healthz", "-timeout", "1s")
	assert.Equal(t, exitFailure, r.code, "nothing listens any more")
	assert.Contains(t, r.stderr, "unhealthy")
}

func TestHealthAgainstStuckServer(t *testing.T) {
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "stuck: shop/web", http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	r := runBinary(t, nil, "health", "-url", unhealthy.URL+"/healthz")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "503 Service Unavailable: stuck: shop/web")

	r = runBinary(t, nil, "health", "-url", "ftp://x")
	assert.Equal(t, exitUsage, r.code)
}
