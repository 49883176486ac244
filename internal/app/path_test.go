package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
)

// fleetDoc is a config document for services of cluster shop, read from
// statusURL every second.
func fleetDoc(statusURL string, names ...string) string {
	var svcs []string
	for _, n := range names {
		svcs = append(svcs, fmt.Sprintf(`{"StatusUrl":%q,"EcsClusterName":"shop","EcsServiceName":%q,"CheckInterval":1}`, statusURL, n))
	}
	return `{"Services":[` + strings.Join(svcs, ",") + `]}`
}

// TestReloadPathKeepsLastGoodConfig runs the application on a path of three
// parameters; one turning invalid is rejected at reload, naming the
// parameter, the service and the field, and the merged config in force keeps
// running; fixed, the path is read again and applied.
func TestReloadPathKeepsLastGoodConfig(t *testing.T) {
	aws := awstest.New(t)
	var active atomic.Int64
	status := statusPage(t, &active)
	for _, n := range []string{"web", "api", "pay", "cart"} {
		aws.PutService("shop", n, awstest.Service{Desired: 2, Running: 2})
	}
	put := func(name, value string) {
		aws.PutParameter(awstest.Parameter{Name: name, Type: "SecureString", Value: value})
	}
	put("/fleet/a", fleetDoc(status, "web"))
	put("/fleet/b", fleetDoc(status, "api"))
	put("/fleet/team/c", fleetDoc(status, "pay", "cart"))

	cfg := aws.Config()
	logs := &syncbuf.Buffer{}
	reload := make(chan string)
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ParamPath: "/fleet", AWS: &cfg, Reload: reload, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			Identity: "test/1", Ready: func(addr string) { ready <- addr }})
	}()
	<-ready
	reloadNow := func() { reload <- "test"; reload <- "test" } // the second waits for the first to end
	assert.Contains(t, logs.String(), `"msg":"config loaded","source":"SSM parameters under /fleet in ap-northeast-1","services":4,"documents":3`)
	assert.Empty(t, aws.Calls("GetParameter"), "only the path: the default key is not read")

	put("/fleet/b", `{"Services":[{"StatusUrl":"`+status+`","EcsClusterName":"shop","EcsServiceName":"api","CheckInterval":0}]}`)
	reloadNow()
	out := logs.String()
	assert.Contains(t, out, `"msg":"config reload rejected; the last good config keeps running"`)
	assert.Contains(t, out, "SSM parameter /fleet/b: Services[0] (api): CheckInterval: must be at least 100ms, got 0s")
	assert.NotContains(t, out, `"msg":"config reloaded"`)

	put("/fleet/b", fleetDoc(status, "api", "web")) // valid alone, but web is in /fleet/a too
	reloadNow()
	assert.Contains(t, logs.String(), "SSM parameter /fleet/b: Services[1] (web): EcsServiceName: shop/web is also configured in SSM parameter /fleet/a at Services[0]")
	assert.NotContains(t, logs.String(), `"msg":"config reloaded"`)

	put("/fleet/b", fleetDoc(status, "api"))
	aws.RemoveParameter("/fleet/team/c")
	reloadNow()
	assert.Contains(t, logs.String(), `"msg":"config reloaded","source":"SSM parameters under /fleet in ap-northeast-1","reason":"test","services":2,"added":0,"changed":0,"removed":2`)
	cancel()
	require.NoError(t, <-done)
}

func TestValidatePathAndKey(t *testing.T) {
	aws := awstest.New(t)
	put := func(name, value string) {
		aws.PutParameter(awstest.Parameter{Name: name, Type: "String", Value: value})
	}
	put("/fleet/a", fleetDoc("https://a.example.com/s", "web", "api"))
	put("/fleet/b", fleetDoc("https://b.example.com/s", "pay"))
	put("/single", fleetDoc("https://c.example.com/s", "cart"))
	cfg := aws.Config()

	var out strings.Builder
	require.NoError(t, Validate(t.Context(), Options{ParamPath: "/fleet", ParamKey: "/single", AWS: &cfg}, &out))
	assert.Contains(t, out.String(), "SSM parameter /single in ap-northeast-1 and SSM parameters under /fleet in ap-northeast-1: valid, 4 service(s) in 3 document(s)\n")
	assert.Contains(t, out.String(), "\nSSM parameter /single in ap-northeast-1: Services[0] (shop/cart)\n")
	assert.Contains(t, out.String(), "\nSSM parameter /fleet/a: Services[1] (shop/api)\n")
	assert.Contains(t, out.String(), "\nSSM parameter /fleet/b: Services[0] (shop/pay)\n")
	assert.Regexp(t, `Paused +false\n`, out.String())

	aws.ResetCalls()
	out.Reset()
	require.NoError(t, Validate(t.Context(), Options{ParamPath: "/fleet", ParamKey: "/fleet/a", AWS: &cfg}, &out))
	assert.Contains(t, out.String(), "valid, 3 service(s) in 2 document(s)", "a key under the path is read once, as part of it")
	assert.Empty(t, aws.Calls("GetParameter"))

	put("/fleet/c", fleetDoc("https://c.example.com/s", "cart"))
	err := Validate(t.Context(), Options{ParamPath: "/fleet", ParamKey: "/single", AWS: &cfg}, &out)
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "SSM parameter /fleet/c: Services[0] (cart): EcsServiceName: shop/cart is also configured in SSM parameter /single in ap-northeast-1 at Services[0]")
}

func TestValidateSaysWhenADocumentIsTooBigForAParameter(t *testing.T) {
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("service-%02d", i))
	}
	doc := fleetDoc("https://example.com/nginx-status", names...)
	require.Greater(t, len(doc), 4096)
	var out strings.Builder
	require.NoError(t, Validate(t.Context(), Options{ConfigFile: writeConfig(t, doc)}, &out), "valid for a file")
	assert.Contains(t, out.String(), fmt.Sprintf("note: the document is %d bytes, more than a standard SSM parameter holds (4096 bytes)", len(doc)))
	assert.Contains(t, out.String(), "split its services across several parameters under one path (AUTOSCALER_PARAMPATH or -config-path)")

	out.Reset()
	require.NoError(t, Validate(t.Context(), Options{ConfigFile: writeConfig(t, fleetDoc("https://example.com/s", "web"))}, &out))
	assert.NotContains(t, out.String(), "note:")
}

// TestRunShowsPausedServices: one service paused by its ECS tag, one by its
// config, one not, all over the threshold: only the third is raised, and
// /metrics and the log say which are paused and why.
func TestRunShowsPausedServices(t *testing.T) {
	aws := awstest.New(t)
	var active atomic.Int64
	active.Store(500)
	status := statusPage(t, &active)
	aws.PutService("shop", "web", awstest.Service{Desired: 2, Running: 2, Tags: map[string]string{"fast-autoscaler:paused": "true"}})
	aws.PutService("shop", "api", awstest.Service{Desired: 2, Running: 2})
	aws.PutService("shop", "pay", awstest.Service{Desired: 2, Running: 2})
	file := writeConfig(t, `{"Services":[
		{"StatusUrl":"`+status+`","EcsClusterName":"shop","EcsServiceName":"web","CheckInterval":0.2},
		{"StatusUrl":"`+status+`","EcsClusterName":"shop","EcsServiceName":"api","CheckInterval":0.2,"Paused":true},
		{"StatusUrl":"`+status+`","EcsClusterName":"shop","EcsServiceName":"pay","CheckInterval":0.2}]}`)
	cfg := aws.Config()
	logs := &syncbuf.Buffer{}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigFile: file, AWS: &cfg, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			Ready: func(addr string) { ready <- addr }})
	}()
	addr := <-ready
	series := func(metric, svc string) string {
		return fmt.Sprintf(`%s{cluster="shop",service=%q} `, metric, svc)
	}
	require.Eventually(t, func() bool {
		body := getBody(t, "http://"+addr+"/metrics")
		return strings.Contains(body, series("fast_autoscaler_paused", "web")+"1") &&
			strings.Contains(body, series("fast_autoscaler_paused", "api")+"1") &&
			strings.Contains(body, series("fast_autoscaler_paused", "pay")+"0") &&
			strings.Contains(body, `fast_autoscaler_scaleouts_total{cluster="shop",result="paused",service="web"} `) &&
			!strings.Contains(body, `fast_autoscaler_scaleouts_total{cluster="shop",result="paused",service="web"} 0`)
	}, 10*time.Second, 20*time.Millisecond)
	for _, n := range []string{"web", "api"} {
		got, _ := aws.Service("shop", n)
		assert.EqualValues(t, 2, got.Desired, "%s is paused: never raised", n)
	}
	got, _ := aws.Service("shop", "pay")
	assert.EqualValues(t, 10, got.Desired)
	out := logs.String()
	assert.Contains(t, out, `"msg":"service paused: readings go on, scale-outs are skipped","cluster":"shop","service":"web","paused_by":"scaler"`)
	assert.Contains(t, out, `"msg":"service paused: readings go on, scale-outs are skipped","cluster":"shop","service":"api","paused_by":"config"`)
	assert.Contains(t, out, `"msg":"service state","service":"web","cluster":"shop","desired_cur":2,"running":2,"pending":0,"status":"ACTIVE","paused":true`)
	cancel()
	require.NoError(t, <-done)
}

func getBody(t *testing.T, url string) string {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
