package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
	"github.com/fast-autoscaler/fast-autoscaler/notify/slack"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// statusPage serves nginx stub_status with the given Active count.
func statusPage(t *testing.T, active *atomic.Int64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "Active connections: %d \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n", active.Load())
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeConfig(t *testing.T, doc string) string {
	p := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(p, []byte(doc), 0o600))
	return p
}

// TestRunScalesOutAndStops runs the whole application in process: a spike
// on the status page raises the service's desired count through the real
// ECS client, and cancelling the context stops it cleanly.
func TestRunScalesOutAndStops(t *testing.T) {
	aws := awstest.New(t)
	aws.PutService("shop", "web", awstest.Service{Desired: 3, Running: 3})
	var active atomic.Int64
	active.Store(500)
	file := writeConfig(t, `{"Services":[{"StatusUrl":"`+statusPage(t, &active)+`","StatusAuthName":"Status-Auth-Key",
		"StatusAuthValue":"s3cret-token","ScaleoutThreshold":100,"CheckInterval":0.1,
		"EcsClusterName":"shop","EcsServiceName":"web"}]}`)
	held := aws.Hold("UpdateService")
	cfg := aws.Config()
	logs := &syncbuf.Buffer{}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigFile: file, AWS: &cfg, Listen: "127.0.0.1:0",
			Logger: slog.New(slog.NewJSONHandler(logs, nil)), Ready: func(addr string) { ready <- addr }})
	}()
	addr := <-ready
	body, err := CheckHealth(t.Context(), "http://"+addr+"/healthz")
	require.NoError(t, err)
	assert.Equal(t, "ok", body)

	<-held.Arrived()
	held.Release()
	require.Eventually(t, func() bool { s, _ := aws.Service("shop", "web"); return s.Desired == 10 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	out := logs.String()
	assert.Contains(t, out, `"msg":"scaled out"`)
	assert.Contains(t, out, `"msg":"stopped"`)
	assert.NotContains(t, out, "s3cret-token")
}

func TestRunInvalidConfig(t *testing.T) {
	aws := awstest.New(t)
	cfg := aws.Config()
	var stderr, logs strings.Builder
	err := Run(t.Context(), Options{ConfigFile: writeConfig(t, `{"Services":[{"StatusUrl":"ftp://x"}]}`), AWS: &cfg,
		Stderr: &stderr, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, stderr.String(), "StatusUrl: must be an absolute http or https URL")
	assert.Contains(t, logs.String(), `"msg":"config not loaded"`)
	assert.Contains(t, logs.String(), `"error":`, "the log line says why, not only stderr")

	err = Run(t.Context(), Options{ConfigFile: filepath.Join(t.TempDir(), "missing.json"), AWS: &cfg})
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrInvalidConfig, "an unreadable file is a runtime failure")
}

func TestValidate(t *testing.T) {
	var out strings.Builder
	file := writeConfig(t, `{"Services":[{"StatusUrl":"https://user:pw@example.com/status","StatusAuthName":"K",
		"StatusAuthValue":"s3cret-token","EcsClusterName":"shop","EcsServiceName":"web"}]}`)
	require.NoError(t, Validate(t.Context(), Options{ConfigFile: file}, &out))
	assert.Contains(t, out.String(), "valid, 1 service(s)")
	assert.Contains(t, out.String(), "Services[0] (shop/web)")
	assert.NotContains(t, out.String(), "s3cret-token")
	assert.NotContains(t, out.String(), "pw@")
	assert.Regexp(t, `\n  MaxDesiredCount +none\n`, out.String(), "no cap reads as none, not 0")
	assert.Regexp(t, `\n  StatusTLSServerName +none\n`, out.String())
	assert.Contains(t, out.String(), "  warning: the status request's credentials", "an auth header over unverified TLS")
	assert.Equal(t, 1, strings.Count(out.String(), "warning: the status request's credentials"), "said once")
	assert.Contains(t, out.String(), "  warning: no MaxDesiredCount", "and no cap")

	out.Reset()
	file = writeConfig(t, `{"Services":[{"StatusUrl":"https://lb.elb.amazonaws.com/status","StatusAuthName":"K",
		"StatusAuthValue":"s3cret-token","StatusTLSServerName":"shop.example.com","MaxDesiredCount":40,
		"EcsClusterName":"shop","EcsServiceName":"web"}]}`)
	require.NoError(t, Validate(t.Context(), Options{ConfigFile: file}, &out))
	assert.Regexp(t, `\n  MaxDesiredCount +40\n`, out.String())
	assert.Regexp(t, `\n  StatusTLSVerify +true\n`, out.String())
	assert.Regexp(t, `\n  StatusTLSServerName +shop.example.com\n`, out.String())
	assert.NotContains(t, out.String(), "warning:", "verified against the server name")
}

// TestNoCapIsWarned: a service with no MaxDesiredCount is named by validate,
// and, once start-up finds it has no scalable target either, by run.
func TestNoCapIsWarned(t *testing.T) {
	var out strings.Builder
	file := writeConfig(t, `{"Services":[
		{"StatusUrl":"https://example.com/a","EcsClusterName":"shop","EcsServiceName":"capped","MaxDesiredCount":20},
		{"StatusUrl":"https://example.com/b","EcsClusterName":"shop","EcsServiceName":"bounded"},
		{"StatusUrl":"https://example.com/c","EcsClusterName":"shop","EcsServiceName":"open"}]}`)
	require.NoError(t, Validate(t.Context(), Options{ConfigFile: file}, &out))
	parts := strings.Split(out.String(), "Services[")
	require.Len(t, parts, 4)
	assert.NotContains(t, parts[1], "warning:")
	assert.Contains(t, parts[2], "warning: no MaxDesiredCount")
	assert.Contains(t, parts[3], "warning: no MaxDesiredCount")

	aws := awstest.New(t)
	for _, name := range []string{"capped", "bounded", "open"} {
		aws.PutService("shop", name, awstest.Service{Desired: 2, Running: 2})
	}
	aws.PutScalableTarget("shop", "bounded", awstest.ScalableTarget{Min: 2, Max: 30})
	cfg := aws.Config()
	logs := &syncbuf.Buffer{}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigFile: file, AWS: &cfg, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			Ready: func(addr string) { ready <- addr }})
	}()
	<-ready
	require.Eventually(t, func() bool {
		out := logs.String()
		return strings.Count(out, `"msg":"service state"`) == 3 && strings.Contains(out, `"msg":"no cap on scale-outs`)
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	var noCap []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"no cap on scale-outs`) {
			noCap = append(noCap, line)
		}
	}
	require.Len(t, noCap, 1, logs.String())
	assert.Contains(t, noCap[0], `"service":"open"`)
	assert.Contains(t, logs.String(), `"max_capacity":30`)
}

// closingSource is a status source that counts its Close calls.
type closingSource struct {
	autoscaler.MetricSource
	closed atomic.Int32
}

func (c *closingSource) Close() error { c.closed.Add(1); return nil }

// TestApplyClosesDroppedSources: applying a config closes the status
// source of a service it removes or reads anew (which lets go of the
// request context it keeps between reads), and keeps the one of a service
// it leaves alone.
func TestApplyClosesDroppedSources(t *testing.T) {
	wr := newWirer(slog.New(slog.DiscardHandler), nil, true)
	id := func(name string) scaler.ServiceID { return scaler.ServiceID{Cluster: "shop", Name: name} }
	web, api, batch, api2 := &closingSource{}, &closingSource{}, &closingSource{}, &closingSource{}
	wired := func(srcs map[string]*closingSource) *plan {
		p := &plan{wired: map[scaler.ServiceID]wiredSvc{}, slacks: map[string]*slack.Notifier{}}
		for name, src := range srcs {
			p.wired[id(name)] = wiredSvc{svc: autoscaler.Service{Cluster: "shop", Name: name, Source: src}}
		}
		return p
	}
	wr.apply(t.Context(), wired(map[string]*closingSource{"web": web, "api": api, "batch": batch}))
	wr.apply(t.Context(), wired(map[string]*closingSource{"web": web, "api": api2}))
	wr.retiring.Wait()
	assert.Zero(t, web.closed.Load(), "kept")
	assert.EqualValues(t, 1, api.closed.Load(), "read anew: the old source is closed")
	assert.EqualValues(t, 1, batch.closed.Load(), "removed: closed")
	assert.Zero(t, api2.closed.Load(), "the new source is in use")
}

// TestRunSpreadsChecks: the application staggers its services' checks over
// their interval, on the coalescing grid, rather than checking every
// service at once.
func TestRunSpreadsChecks(t *testing.T) {
	const n = 40
	aws := awstest.New(t)
	var mu sync.Mutex
	first := map[string]time.Time{}
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if _, ok := first[r.URL.Path]; !ok {
			first[r.URL.Path] = time.Now()
			if len(first) == n {
				close(all)
			}
		}
		mu.Unlock()
		fmt.Fprint(w, "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n")
	}))
	t.Cleanup(srv.Close)
	var svcs []string
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		aws.PutService("shop", name, awstest.Service{Desired: 2, Running: 2})
		svcs = append(svcs, fmt.Sprintf(`{"StatusUrl":%q,"CheckInterval":2,"EcsClusterName":"shop","EcsServiceName":%q}`, srv.URL+"/"+name, name))
	}
	file := writeConfig(t, `{"Services":[`+strings.Join(svcs, ",")+`]}`)
	cfg := aws.Config()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{ConfigFile: file, AWS: &cfg, DryRun: true}) }()
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		t.Fatal("not every service was checked within 30s")
	}
	cancel()
	require.NoError(t, <-done)
	mu.Lock()
	defer mu.Unlock()
	var lo, hi time.Time
	for _, at := range first {
		if lo.IsZero() || at.Before(lo) {
			lo = at
		}
		if at.After(hi) {
			hi = at
		}
	}
	assert.Greater(t, hi.Sub(lo), 500*time.Millisecond, "first checks spread over the 2 s interval, not all at once")
}
