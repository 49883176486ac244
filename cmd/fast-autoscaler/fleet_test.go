package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

// TestRunThousandServicesFromAPath: the binary reads 1,000 services from 100
// parameters under a path (10 GetParametersByPath pages) and reads their ECS
// state at start-up in DescribeServices calls of 10 services each, grouped
// by cluster: 100 calls, not 1,000.
func TestRunThousandServicesFromAPath(t *testing.T) {
	srv := awstest.New(t)
	status := newStubStatus(t, "")
	status.active.Store(1)
	for p := range 100 {
		var svcs []string
		for i := range 10 {
			n := p*10 + i
			cluster, name := fmt.Sprintf("cluster-%d", n%4), fmt.Sprintf("svc-%04d", n)
			srv.PutService(cluster, name, awstest.Service{Desired: 2, Running: 2})
			svcs = append(svcs, fmt.Sprintf(`{"StatusUrl":%q,"EcsClusterName":%q,"EcsServiceName":%q,"CheckInterval":60}`,
				status.URL+"/nginx-status", cluster, name))
		}
		srv.PutParameter(awstest.Parameter{Name: fmt.Sprintf("/fleet/group-%02d", p), Type: "SecureString",
			Value: `{"Services":[` + strings.Join(svcs, ",") + `]}`})
	}

	p := start(t, append(srv.Env(), "AUTOSCALER_PARAMPATH=/fleet"), "run", "-listen", "", "-reload-interval", "0")
	loaded := p.waitLog(t, "config loaded")
	assert.Equal(t, "SSM parameters under /fleet in ap-northeast-1", loaded["source"])
	assert.EqualValues(t, 1000, loaded["services"])
	assert.EqualValues(t, 100, loaded["documents"])
	read := p.waitLog(t, "service states read")
	assert.EqualValues(t, 1000, read["services"])
	assert.EqualValues(t, 0, read["unreadable"])
	t.Logf("start-up state read of 1,000 services took %v", read["took"])

	describes := awstest.FirstAttempts(srv.Calls("DescribeServices"))
	assert.LessOrEqual(t, len(describes), 100, "start-up reads 1,000 services in batches")
	assert.Len(t, describes, 100, "250 services in each of 4 clusters: 25 calls each")
	for _, c := range describes {
		assert.Len(t, c.Params["services"], 10)
	}
	assert.Len(t, awstest.FirstAttempts(srv.Calls("GetParametersByPath")), 10, "100 parameters, 10 a page")
	assert.Empty(t, srv.Calls("GetParameter"), "only the path is read: no default key")
	code, _ := p.stop(t)
	assert.Equal(t, exitOK, code)
}

// TestRunTwoBinariesOneSpike runs two processes with the same config and one
// ECS through a spike: whichever order their calls land in, the service is
// raised once (to 10, never 20) within the grace period.
func TestRunTwoBinariesOneSpike(t *testing.T) {
	srv := awstest.New(t)
	srv.PutService("shop", "web", awstest.Service{Desired: 2, Running: 2})
	status := newStubStatus(t, "auth-s3cret")
	status.active.Store(5)
	cfg := writeFile(t, fmt.Sprintf(`{"Services":[{"StatusUrl": %q, "StatusAuthName": "Status-Auth-Key", "StatusAuthValue": "auth-s3cret",
	  "ScaleoutThreshold": 100, "CheckInterval": 0.1, "GracePeriod": 600, "EcsClusterName": "shop", "EcsServiceName": "web"}]}`,
		status.URL+"/nginx-status"))

	a := start(t, srv.Env(), "run", "-config", cfg, "-listen", "")
	b := start(t, srv.Env(), "run", "-config", cfg, "-listen", "")
	a.waitLog(t, "service states read")
	b.waitLog(t, "service states read")
	status.active.Store(500)
	// Each process either scales out or finds the other's record.
	held := 0
	for _, p := range []*process{a, b} {
		line := p.waitAny(t, "scaled out", "scale-out held: a recorded scale-out is in its grace period")
		if line["msg"] != "scaled out" {
			held++
			assert.EqualValues(t, 10, line["recorded_desired"])
		}
	}
	t.Logf("%d of 2 processes found the other's record", held)
	for _, p := range []*process{a, b} {
		code, _ := p.stop(t)
		assert.Equal(t, exitOK, code)
	}
	got, _ := srv.Service("shop", "web")
	assert.EqualValues(t, 10, got.Desired, "raised once")
	updates := srv.Calls("UpdateService")
	require.NotEmpty(t, updates)
	assert.LessOrEqual(t, len(updates), 2)
	for _, u := range updates {
		assert.EqualValues(t, 10, u.Params["desiredCount"], "both read the same count, so both ask for the same")
	}
	assert.NotEmpty(t, got.Tags["fast-autoscaler:last-scaleout"])
}

// waitAny returns the next log line with any of the messages.
func (p *process) waitAny(t *testing.T, msgs ...string) map[string]any {
	t.Helper()
	bound := time.NewTimer(30 * time.Second)
	defer bound.Stop()
	for {
		select {
		case line := <-p.lines:
			if msg, _ := line["msg"].(string); slices.Contains(msgs, msg) {
				return line
			}
		case <-p.done:
			t.Fatalf("process ended before logging any of %q; stderr: %s", msgs, p.stderr.String())
		case <-bound.C:
			t.Fatalf("none of %q logged within 30s", msgs)
		}
	}
}

func TestValidateFromSSMPath(t *testing.T) {
	srv := awstest.New(t)
	doc := func(names ...string) string {
		var svcs []string
		for _, n := range names {
			svcs = append(svcs, fmt.Sprintf(`{"StatusUrl":"https://%s.example.com/s","EcsClusterName":"shop","EcsServiceName":%q}`, n, n))
		}
		return `{"Services":[` + strings.Join(svcs, ",") + `]}`
	}
	srv.PutParameter(awstest.Parameter{Name: "/fleet/a", Type: "SecureString", Value: doc("web", "api")})
	srv.PutParameter(awstest.Parameter{Name: "/fleet/b", Type: "String", Value: doc("pay")})
	srv.PutParameter(awstest.Parameter{Name: "/single", Type: "String", Value: doc("cart")})

	r := runBinary(t, append(srv.Env(), "AUTOSCALER_PARAMPATH=/fleet"), "validate")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "SSM parameters under /fleet in ap-northeast-1: valid, 3 service(s) in 2 document(s)")
	assert.Contains(t, r.stdout, "SSM parameter /fleet/b: Services[0] (shop/pay)")
	assert.Empty(t, srv.Calls("GetParameter"), "the default key is not read when a path is set")

	r = runBinary(t, append(srv.Env(), "AUTOSCALER_PARAMKEY=/single"), "validate", "-config-path", "/fleet")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "SSM parameter /single in ap-northeast-1 and SSM parameters under /fleet in ap-northeast-1: valid, 4 service(s) in 3 document(s)")

	srv.PutParameter(awstest.Parameter{Name: "/fleet/c", Type: "String", Value: doc("api")})
	r = runBinary(t, append(srv.Env(), "AUTOSCALER_PARAMPATH=/fleet"), "validate")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "SSM parameter /fleet/c: Services[0] (api): EcsServiceName: shop/api is also configured in SSM parameter /fleet/a at Services[1]")

	r = runBinary(t, append(srv.Env(), "AUTOSCALER_PARAMPATH=/nothing"), "validate")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "SSM parameters under /nothing in ap-northeast-1: no parameter found")
}

func TestValidateBigDocumentSaysAPathSplitsIt(t *testing.T) {
	var svcs []string
	for i := range 80 {
		svcs = append(svcs, fmt.Sprintf(`{"StatusUrl":"https://example-%02d.example.com/nginx-status","EcsClusterName":"shop","EcsServiceName":"service-%02d"}`, i, i))
	}
	doc := `{"Services":[` + strings.Join(svcs, ",") + `]}`
	r := runBinary(t, nil, "validate", "-config", writeFile(t, doc))
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Greater(t, len(doc), 8192)
	head := strings.SplitN(r.stdout, "\n", 3)
	require.Len(t, head, 3)
	assert.Equal(t, fmt.Sprintf("note: the document is %d bytes, more than any SSM parameter holds (4096 bytes standard, 8192 advanced): "+
		"split its services across several parameters under one path (AUTOSCALER_PARAMPATH or -config-path), each a document of the same shape", len(doc)), head[1])
}
