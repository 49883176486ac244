package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

// binary is the fast-autoscaler built once for every test in this file.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fast-autoscaler-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fast-autoscaler")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binary:", err)
		os.Exit(1)
	}
	// The tests here mostly wait on the processes they start, not on the
	// CPU: run more of them at once than -parallel's default (GOMAXPROCS),
	// unless told otherwise.
	if !slices.ContainsFunc(os.Args, func(a string) bool { return strings.HasPrefix(strings.TrimLeft(a, "-"), "test.parallel") }) {
		_ = flag.Set("test.parallel", "8")
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is a finished process's output.
type result struct {
	code           int
	stdout, stderr string
}

// runBinary runs the binary to completion with extra environment variables.
func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang fails, not stalls
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%q did not exit within a minute", args)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, exitUsage, "", "Commands:"},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"-h"}, exitOK, "Commands:", ""},
		{[]string{"version"}, exitOK, "fast-autoscaler ", ""},
		{[]string{"version", "extra"}, exitUsage, "", `version: unexpected arguments ["extra"]`},
		{[]string{"version", "-h"}, exitOK, "", "Usage: fast-autoscaler version"},
		{[]string{"health", "-h"}, exitOK, "", "Usage: fast-autoscaler health"},
		{[]string{"run", "-h"}, exitOK, "", "Usage: fast-autoscaler run"},
		{[]string{"validate", "-h"}, exitOK, "", "Usage: fast-autoscaler validate"},
		{[]string{"simulate", "-h"}, exitOK, "", "simulate"},
		{[]string{"run", "-bogus"}, exitUsage, "", "flag provided but not defined: -bogus"},
		{[]string{"run", "-log-level", "loud"}, exitUsage, "", "-log-level"},
		{[]string{"run", "-max-attempts", "-1", "-config", "x.json"}, exitUsage, "", "-max-attempts must be >= 0"},
		{[]string{"validate", "-config", "x.json", "stray"}, exitUsage, "", `unexpected arguments ["stray"]`},
		{[]string{"validate", "-config", "x.json", "-config-path", "/fleet"}, exitUsage, "", "-config and -config-path cannot be used together"},
		{[]string{"run", "-config-path", "fleet"}, exitUsage, "", `must start with /, got "fleet"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runBinary(t, nil, tt.args...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, tt.inStdout)
			assert.Contains(t, r.stderr, tt.inStderr)
		})
	}
}

func TestValidateGoodFile(t *testing.T) {
	r := runBinary(t, nil, "validate", "-config", "../../examples/config.json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "file ../../examples/config.json: valid, 2 service(s)")
	assert.Contains(t, r.stdout, "Services[0] (example-app/example-app)")
	assert.Regexp(t, `ScaleoutThreshold +100\n`, r.stdout)
	assert.Regexp(t, `CheckInterval +10s\n`, r.stdout, "service b's interval")
	assert.Regexp(t, `StatusAuthValue +\[redacted\]\n`, r.stdout)
	assert.NotContains(t, r.stdout, "change-me", "auth value")
	assert.NotContains(t, r.stdout, "XXXXXXXXX", "webhook URL")
}

func TestValidateBadFile(t *testing.T) {
	p := writeFile(t, `{"Services":[
  {"StatusUrl":"ftp://x","ScaleOutThreshold":100,"EcsClusterName":"a","EcsServiceName":"a","StatusAuthValue":"s3cret"},
  {"StatusUrl":"https://b/nginx-status","EcsClusterName":"a","EcsServiceName":"a","MinDesiredCount":0}]}`)
	r := runBinary(t, nil, "validate", "-config", p)
	assert.Equal(t, exitUsage, r.code)
	for _, want := range []string{
		`Services[0] (a): ScaleOutThreshold: unknown field; did you mean "ScaleoutThreshold"?`,
		"Services[0] (a): StatusUrl: must be an absolute http or https URL",
		"Services[0] (a): StatusAuthName: required when StatusAuthValue is given",
		"Services[1] (a): MinDesiredCount: must be >= 1",
		"Services[1] (a): EcsServiceName: a/a is also configured at Services[0]",
	} {
		assert.Contains(t, r.stderr, want)
	}
	assert.NotContains(t, r.stderr, "s3cret")
	assert.Empty(t, r.stdout)
}

func TestValidateUnreadableFile(t *testing.T) {
	r := runBinary(t, nil, "validate", "-config", filepath.Join(t.TempDir(), "missing.json"))
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "missing.json")
}

func TestValidateFromSSM(t *testing.T) {
	srv := awstest.New(t)
	cfg, err := os.ReadFile("../../examples/config.json")
	require.NoError(t, err)
	srv.PutParameter(awstest.Parameter{Name: "/team/autoscaler.json", Type: "SecureString", Value: string(cfg)})

	env := append(srv.Env(), "AUTOSCALER_PARAMKEY=/team/autoscaler.json")
	r := runBinary(t, env, "validate")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "SSM parameter /team/autoscaler.json in ap-northeast-1: valid, 2 service(s)")

	r = runBinary(t, srv.Env(), "validate") // the default key is not there
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "/ecs/fast-autoscaler/config.json")
	assert.Contains(t, r.stderr, "ap-northeast-1")
}

// stubStatus is an httptest nginx stub_status whose Active count the test sets.
type stubStatus struct {
	*httptest.Server
	active   atomic.Int64
	requests atomic.Int64
	authOK   atomic.Bool // every request carried the right auth header
}

func newStubStatus(t *testing.T, authValue string) *stubStatus {
	s := &stubStatus{}
	s.authOK.Store(true)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Header.Get("Status-Auth-Key") != authValue {
			s.authOK.Store(false)
		}
		fmt.Fprintf(w, "Active connections: %d \nserver accepts handled requests\n 10 10 20 \nReading: 0 Writing: 1 Waiting: 0 \n", s.active.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// slackServer is an httptest Slack incoming webhook recording message texts.
type slackServer struct {
	*httptest.Server
	mu    sync.Mutex
	texts []string
	got   chan struct{}
}

func newSlack(t *testing.T) *slackServer {
	s := &slackServer{got: make(chan struct{}, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.texts = append(s.texts, body.Text)
		s.mu.Unlock()
		s.got <- struct{}{}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// process is the binary running in the background, its stdout as JSON lines.
type process struct {
	cmd    *exec.Cmd
	lines  chan map[string]any
	stdout strings.Builder // everything printed, for secret checks
	stderr strings.Builder
	mu     sync.Mutex
	done   chan struct{}
}

func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{lines: make(chan map[string]any, 1000), done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				p.lines <- line
			} else {
				p.lines <- map[string]any{"msg": "NOT JSON: " + sc.Text()}
			}
		}
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// waitLog returns the next log line with message msg, failing the test if the
// process ends or nothing comes within a generous bound.
func (p *process) waitLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	line, _ := p.waitLogAfter(t, msg)
	return line
}

// waitLogAfter is waitLog that also returns the lines passed over on the way.
func (p *process) waitLogAfter(t *testing.T, msg string) (map[string]any, []map[string]any) {
	t.Helper()
	bound := time.NewTimer(30 * time.Second)
	defer bound.Stop()
	var skipped []map[string]any
	for {
		select {
		case line := <-p.lines:
			require.NotContains(t, line["msg"], "NOT JSON", "every stdout line is JSON")
			if line["msg"] == msg {
				return line, skipped
			}
			skipped = append(skipped, line)
		case <-p.done:
			t.Fatalf("process ended before logging %q; stderr: %s", msg, p.stderr.String())
		case <-bound.C:
			t.Fatalf("no %q log line within 30s", msg)
		}
	}
}

// waitLogs waits for one log line of each message, in any order, and returns
// them by message.
func (p *process) waitLogs(t *testing.T, msgs ...string) map[string]map[string]any {
	t.Helper()
	want := map[string]bool{}
	for _, m := range msgs {
		want[m] = true
	}
	got := map[string]map[string]any{}
	bound := time.NewTimer(30 * time.Second)
	defer bound.Stop()
	for len(got) < len(want) {
		select {
		case line := <-p.lines:
			if msg, _ := line["msg"].(string); want[msg] && got[msg] == nil {
				got[msg] = line
			}
		case <-p.done:
			t.Fatalf("process ended before logging %q; stderr: %s", msgs, p.stderr.String())
		case <-bound.C:
			t.Fatalf("not all of %q logged within 30s; got %v", msgs, got)
		}
	}
	return got
}

// eventually polls cond until it holds, failing the test after 10 s. It is
// for state another process exposes only by being asked (an HTTP endpoint).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		<-tick.C
	}
}

// stop sends SIGTERM and returns the exit code and how long exiting took.
func (p *process) stop(t *testing.T) (int, time.Duration) {
	t.Helper()
	begin := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	exited := make(chan error, 1)
	go func() { <-p.done; exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return code, time.Since(begin)
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not exit within 10s of SIGTERM")
		return -1, 0
	}
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// e2eConfig is a one-service config against the given stub_status and Slack.
func e2eConfig(statusURL, slackURL string) string {
	return fmt.Sprintf(`{"Services":[{
	  "StatusUrl": %q, "StatusAuthName": "Status-Auth-Key", "StatusAuthValue": "auth-s3cret",
	  "ScaleoutThreshold": 100, "CheckInterval": 0.1, "GracePeriod": 1,
	  "EcsClusterName": "shop", "EcsServiceName": "web", "SlackWebhookUrl": %q}]}`, statusURL+"/nginx-status", slackURL+"/services/T000/B000/hooks3cret")
}

func TestRunEndToEnd(t *testing.T) {
	srv := awstest.New(t)
	srv.AddCluster("shop")
	srv.PutService("shop", "web", awstest.Service{Desired: 2, Running: 2})
	status, slack := newStubStatus(t, "auth-s3cret"), newSlack(t)
	status.active.Store(5)
	srv.PutParameter(awstest.Parameter{Name: "/ecs/fast-autoscaler/config.json", Type: "SecureString", Value: e2eConfig(status.URL, slack.URL)})

	p := start(t, srv.Env(), "run", "-log-level", "debug", "-listen", "")
	loaded := p.waitLog(t, "config loaded")
	assert.Equal(t, "SSM parameter /ecs/fast-autoscaler/config.json in ap-northeast-1", loaded["source"])
	assert.EqualValues(t, 1, loaded["services"])
	watching := p.waitLog(t, "watching")
	assert.Equal(t, "web", watching["service"])
	assert.Equal(t, "[redacted]", watching["settings"].(map[string]any)["StatusAuthValue"])
	state := p.waitLog(t, "service state")
	assert.EqualValues(t, 2, state["desired_cur"])

	// Below the threshold: checks, but no update.
	for range 3 {
		check := p.waitLog(t, "check")
		assert.EqualValues(t, 5, check["active"])
	}
	assert.Empty(t, srv.Calls("UpdateService"), "no update below the threshold")

	// Above it: doubled from the floor, once per grace period.
	status.active.Store(500)
	first := p.waitLog(t, "scaled out")
	assert.EqualValues(t, 2, first["desired_cur"])
	assert.EqualValues(t, 10, first["desired_new"])
	srv.PutService("shop", "web", awstest.Service{Desired: 10, Running: 10}) // they start within the grace period (1 s)
	second, between := p.waitLogAfter(t, "scaled out")
	assert.EqualValues(t, 10, second["desired_cur"])
	assert.EqualValues(t, 20, second["desired_new"])
	for _, line := range between {
		assert.NotEqual(t, "check", line["msg"], "no check during the grace period: %v", line)
	}

	updates := srv.Calls("UpdateService")
	require.Len(t, updates, 2)
	assert.EqualValues(t, 10, updates[0].Params["desiredCount"])
	assert.EqualValues(t, 20, updates[1].Params["desiredCount"])
	svc, _ := srv.Service("shop", "web")
	assert.EqualValues(t, 20, svc.Desired)
	assert.True(t, status.authOK.Load(), "every status request carried the auth header")

	<-slack.got
	slack.mu.Lock()
	assert.Equal(t, "scaleout web service\n```\nActiveConnections: 500\nDesiredCount(cur): 2\nDesiredCount(new): 10\n```", slack.texts[0])
	slack.mu.Unlock()

	code, took := p.stop(t)
	assert.Equal(t, exitOK, code, p.stderr.String())
	assert.Less(t, took, 5*time.Second)
	out := p.output()
	assert.Contains(t, out, `"msg":"stopped"`)
	for _, secret := range []string{"auth-s3cret", "hooks3cret", "T000/B000"} {
		assert.NotContains(t, out, secret)
		assert.NotContains(t, p.stderr.String(), secret)
	}
}

func TestRunDryRunMakesNoUpdate(t *testing.T) {
	srv := awstest.New(t)
	srv.AddCluster("shop")
	srv.PutService("shop", "web", awstest.Service{Desired: 3, Running: 3})
	status := newStubStatus(t, "auth-s3cret")
	status.active.Store(161)
	slack := newSlack(t)
	cfgFile := writeFile(t, fmt.Sprintf(`{"Services":[{"StatusUrl": %q, "StatusAuthName": "Status-Auth-Key",
	  "StatusAuthValue": "auth-s3cret", "ScaleoutThreshold": 100, "EcsClusterName": "shop", "EcsServiceName": "web",
	  "SlackWebhookUrl": %q}]}`, status.URL+"/nginx-status", slack.URL+"/services/T/B/x"))

	p := start(t, srv.Env(), "run", "-dry-run", "-config", cfgFile, "-listen", "127.0.0.1:0")
	base := "http://" + p.waitLog(t, "listening")["addr"].(string)
	p.waitLog(t, "dry run: no desired count is changed and Slack is not told")
	would := p.waitLog(t, "dry run: scale-out not made")
	assert.EqualValues(t, 3, would["desired_cur"], "real state read from ECS")
	assert.EqualValues(t, 10, would["desired_new"])
	assert.EqualValues(t, 161, would["active"])
	assert.Equal(t, "dry_run", would["event"])

	// Counted as a dry run, never as a scale-out; nothing requested.
	var m map[string]float64
	eventually(t, "the dry run in /metrics", func() bool {
		m = scrape(t, base)
		return m[series("scaleouts_total", "web", "dry_run")] == 1
	})
	assert.Equal(t, 0.0, m[series("scaleouts_total", "web", "scaled_out")])
	assert.NotContains(t, m, series("requested_desired_count", "web"), "a dry run requests nothing")
	assert.Equal(t, 3.0, m[series("desired_count", "web")], "the count as found")
	st := statusOf(t, base)["web"]
	assert.Equal(t, "grace", st.State, "it waits as it would have")
	assert.Equal(t, "dry_run", st.LastOutcome)
	assert.Equal(t, 3, st.Seen.Desired, "unchanged")

	code, took := p.stop(t)
	assert.Equal(t, exitOK, code)
	assert.Less(t, took, 5*time.Second)
	assert.Empty(t, logsWithMsg(t, p, "scaled out", ""), "never logged as a scale-out")
	assert.Empty(t, srv.Calls("UpdateService"), "dry run sends no UpdateService")
	assert.NotEmpty(t, srv.Calls("DescribeServices"))
	assert.Empty(t, srv.Calls("GetParameter"), "-config reads the file, not SSM")
	slack.mu.Lock()
	defer slack.mu.Unlock()
	assert.Empty(t, slack.texts, "a dry run announces no scale-out on Slack")
}

func TestRunNeverFollowsStatusRedirects(t *testing.T) {
	srv := awstest.New(t)
	srv.AddCluster("shop")
	srv.PutService("shop", "web", awstest.Service{Desired: 3, Running: 3})
	var leaked atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Status-Auth-Key") != "" {
			leaked.Add(1)
		}
		fmt.Fprint(w, "Active connections: 999 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n")
	}))
	defer elsewhere.Close()
	redirect := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/status", http.StatusFound))
	defer redirect.Close()
	cfgFile := writeFile(t, fmt.Sprintf(`{"Services":[{"StatusUrl": %q, "StatusAuthName": "Status-Auth-Key",
	  "StatusAuthValue": "auth-s3cret", "EcsClusterName": "shop", "EcsServiceName": "web", "CheckInterval": 0.1}]}`,
		redirect.URL+"/nginx-status"))

	// At debug level every failed read is logged (at info only the first).
	p := start(t, srv.Env(), "run", "-config", cfgFile, "-listen", "", "-log-level", "debug")
	failed := p.waitLog(t, "metric read failed")
	assert.Contains(t, failed["error"], "302")
	assert.Equal(t, "WARN", failed["level"])
	again := p.waitLog(t, "metric read failed")
	assert.Equal(t, "DEBUG", again["level"])
	code, _ := p.stop(t)
	assert.Equal(t, exitOK, code)
	assert.Zero(t, leaked.Load(), "the auth header never went to the redirect's target")
	assert.Empty(t, srv.Calls("UpdateService"), "a redirect is a failed read, never a scale-out")
	assert.NotContains(t, p.output(), "auth-s3cret")
}

func TestMaxAttempts(t *testing.T) {
	srv := awstest.New(t)
	cfg, err := os.ReadFile("../../examples/config.json")
	require.NoError(t, err)
	srv.PutParameter(awstest.Parameter{Name: "/ecs/fast-autoscaler/config.json", Type: "String", Value: string(cfg)})

	srv.Throttle("GetParameter", 2)
	r := runBinary(t, srv.Env(), "validate", "-max-attempts", "3")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Len(t, srv.Calls("GetParameter"), 3, "two throttled attempts, then success")

	srv.ResetCalls()
	srv.Throttle("GetParameter", 1)
	r = runBinary(t, append(srv.Env(), "AWS_MAX_ATTEMPTS=1"), "validate")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "ThrottlingException")
	assert.Len(t, srv.Calls("GetParameter"), 1, "AWS_MAX_ATTEMPTS=1: no retry")
}

func TestRunInvalidConfigExits2(t *testing.T) {
	srv := awstest.New(t)
	p := writeFile(t, `{"Services":[{"StatusUrl":"https://x/s","EcsClusterName":"a"}]}`)
	for _, listen := range []string{"", "127.0.0.1:0"} { // with the server up, it still exits
		r := runBinary(t, srv.Env(), "run", "-config", p, "-listen", listen)
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "Services[0]: EcsServiceName: required")
	}
}
