package main

// The fault matrix: the binary run against broken status pages, a broken
// ECS, a broken Slack, bad reloads, signals at awkward moments and hostile
// documents. Each case checks what an operator would: the process stays up
// (it still answers SIGTERM with exit 0), the right log line, no secret
// anywhere in the output, the other service still checked on schedule
// (counted at its status server, not timed), and no lost and no extra
// scale-out. The cases run in parallel: each has its own servers.

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
)

// The secrets every matrix config holds; none may appear in any output.
const (
	authSecret  = "auth-S3CRET-value"
	hookSecret  = "hook-S3CRET-path"
	urlPassword = "url-PA55word"
)

var allSecrets = []string{authSecret, hookSecret, urlPassword}

// proc is the binary running in the background. Unlike process, it keeps
// every stdout line (a case with many broken services logs a lot) and lets
// a test wait for a line matching any condition.
type proc struct {
	cmd     *exec.Cmd
	stderr  syncbuf.Buffer
	mu      sync.Mutex
	lines   []map[string]any
	raw     strings.Builder
	changed chan struct{} // signalled (never blocking) on each line
	done    chan struct{} // closed when stdout ends
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{changed: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				line = map[string]any{"msg": "NOT JSON", "text": sc.Text()}
			}
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.raw.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.changed <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	return p
}

// msgIs matches log lines with message msg and, when given, these
// attribute values (compared as printed).
func msgIs(msg string, kv ...string) func(map[string]any) bool {
	return func(l map[string]any) bool {
		if l["msg"] != msg {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if fmt.Sprint(l[kv[i]]) != kv[i+1] {
				return false
			}
		}
		return true
	}
}

// count returns how many lines so far match.
func (p *proc) count(match func(map[string]any) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if match(l) {
			n++
		}
	}
	return n
}

// wait returns the n-th line (1-based) that matches, waiting up to 30 s
// for it; the test fails if the process ends first.
func (p *proc) wait(t *testing.T, what string, match func(map[string]any) bool, n ...int) map[string]any {
	t.Helper()
	want := 1
	if len(n) > 0 {
		want = n[0]
	}
	bound := time.NewTimer(30 * time.Second)
	defer bound.Stop()
	for {
		p.mu.Lock()
		seen := 0
		for _, l := range p.lines {
			if l["msg"] == "NOT JSON" {
				p.mu.Unlock()
				t.Fatalf("stdout line is not JSON: %v", l["text"])
			}
			if match(l) {
				if seen++; seen == want {
					p.mu.Unlock()
					return l
				}
			}
		}
		p.mu.Unlock()
		select {
		case <-p.changed:
		case <-p.done:
			t.Fatalf("process ended before logging %s; stderr: %s", what, p.stderr.String())
		case <-bound.C:
			t.Fatalf("no %s logged within 30s; log:\n%s", what, tail(p.output(), 4000))
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// stop sends SIGTERM: the process must still be running, and must exit 0
// within bound. It returns how long exiting took.
func (p *proc) stop(t *testing.T, bound time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	p.signal(t, syscall.SIGTERM)
	p.exits(t, bound)
	return time.Since(begin)
}

// signal sends sig to the process, which must still be running.
func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("the process had already ended; stderr: %s", p.stderr.String())
	default:
	}
	require.NoError(t, p.cmd.Process.Signal(sig), "the process stays up until told to stop")
}

// exits waits up to bound for the process to exit, with status 0.
func (p *proc) exits(t *testing.T, bound time.Duration) {
	t.Helper()
	exited := make(chan error, 1)
	go func() { <-p.done; exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		require.NoError(t, err, "exit status after SIGTERM; stderr: %s", p.stderr.String())
	case <-time.After(bound):
		t.Fatalf("the process did not exit within %v of SIGTERM; log:\n%s", bound, tail(p.output(), 4000))
	}
}

// noSecrets fails the test if any secret appears in outputs.
func noSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, s := range allSecrets {
			assert.NotContains(t, out, s, "a secret in the output")
		}
	}
}

// matrix is one case's world: a fake AWS with the services web (the one
// under test) and ok (its healthy neighbour), ok's status page, and Slack.
type matrix struct {
	aws   *awstest.Server
	ok    *stubStatus // ok's status page: Active 5, counts requests
	slack *slackServer
	file  string // the config file
	p     *proc
	hold  *awstest.Hold // a case's held AWS calls, if any
	hook  string        // the webhook's base URL: m.slack.URL unless a case plays Slack itself
}

func newMatrix(t *testing.T) *matrix {
	t.Helper()
	m := &matrix{aws: awstest.New(t), ok: newStubStatus(t, authSecret), slack: newSlack(t)}
	m.ok.active.Store(5)
	m.aws.PutService("shop", "web", awstest.Service{Desired: 3, Running: 3})
	m.aws.PutService("shop", "ok", awstest.Service{Desired: 3, Running: 3})
	return m
}

// svc is one service of a matrix config: checked every 100 ms, a threshold
// of 100, a grace period long enough that a second scale-out is an error.
func svc(name, statusURL, extra string) string {
	if !strings.Contains(extra, `"StatusTimeout"`) {
		extra += `, "StatusTimeout": 0.1`
	}
	return fmt.Sprintf(`{"StatusUrl": %q, "StatusAuthName": "Status-Auth-Key", "StatusAuthValue": %q,
	  "ScaleoutThreshold": 100, "CheckInterval": 0.1, "GracePeriod": 3600,
	  "EcsClusterName": "shop", "EcsServiceName": %q%s}`, statusURL, authSecret, name, extra)
}

// doc is a document of web (configured by webExtra) at webURL and ok,
// both telling Slack.
func (m *matrix) doc(webURL, webExtra string) string {
	base := m.slack.URL
	if m.hook != "" {
		base = m.hook
	}
	hook := fmt.Sprintf(`, "SlackWebhookUrl": %q`, base+"/services/T0/B0/"+hookSecret)
	return `{"Services":[` + svc("web", webURL, webExtra+hook) + `,` + svc("ok", m.ok.URL+"/nginx-status", hook) + `]}`
}

// start writes the document and runs the binary on it; env adds to
// AWS_MAX_ATTEMPTS=1 (no SDK retry, whose backoff is real time).
func (m *matrix) start(t *testing.T, doc string, env []string, args ...string) *proc {
	t.Helper()
	m.file = writeFile(t, doc)
	env = append(append(m.aws.Env(), "AWS_MAX_ATTEMPTS=1"), env...)
	m.p = startProc(t, env, append([]string{"run", "-config", m.file, "-listen", "", "-reload-interval", "0"}, args...)...)
	m.p.wait(t, "ready", msgIs("ready"))
	return m.p
}

// onSchedule waits until ok's status page has been read 5 more times: the
// healthy neighbour is still checked.
func (m *matrix) onSchedule(t *testing.T) {
	t.Helper()
	n := m.ok.requests.Load()
	eventually(t, "the healthy service checked 5 more times", func() bool { return m.ok.requests.Load() >= n+5 })
}

// finish stops the process (exit 0 within bound), checks that no secret
// was printed and that web was scaled to wantDesired by wantUpdates
// successful UpdateService calls, and that ok was never scaled.
func (m *matrix) finish(t *testing.T, wantDesired int32, wantUpdates int) {
	t.Helper()
	m.p.stop(t, 10*time.Second)
	noSecrets(t, m.p.output(), m.p.stderr.String())
	m.slack.mu.Lock()
	noSecrets(t, m.slack.texts...)
	m.slack.mu.Unlock()
	if web, found := m.aws.Service("shop", "web"); found {
		assert.Equal(t, wantDesired, web.Desired, "web's desired count: no lost and no extra scale-out")
	}
	ok, _ := m.aws.Service("shop", "ok")
	assert.Equal(t, int32(3), ok.Desired, "the healthy service was never scaled")
	n := 0
	for _, c := range m.aws.Calls("UpdateService") {
		if c.Applied {
			n++
		}
	}
	assert.Equal(t, wantUpdates, n, "UpdateService calls ECS applied")
}

// slackTexts waits until Slack has received a message containing want and
// returns every message so far.
func (m *matrix) slackText(t *testing.T, want string) string {
	t.Helper()
	bound := time.After(30 * time.Second)
	for {
		m.slack.mu.Lock()
		for _, text := range m.slack.texts {
			if strings.Contains(text, want) {
				m.slack.mu.Unlock()
				return text
			}
		}
		texts := append([]string(nil), m.slack.texts...)
		m.slack.mu.Unlock()
		select {
		case <-m.slack.got:
		case <-bound:
			t.Fatalf("no Slack message containing %q within 30s; got %q", want, texts)
		}
	}
}

// server starts an httptest server for h; a handler that waits on
// released returns when the test ends.
func server(t *testing.T, h http.HandlerFunc) (srv *httptest.Server, released <-chan struct{}) {
	t.Helper()
	rel := make(chan struct{})
	srv = httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(rel) }) // runs first: hung handlers return
	return srv, rel
}

func hang(released <-chan struct{}) http.HandlerFunc {
	return func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-released:
		case <-r.Context().Done():
		}
	}
}

const page = "Active connections: %s \nserver accepts handled requests\n 10 10 20 \nReading: 0 Writing: 1 Waiting: 0 \n"

// TestFaultsStatusPage: a broken status page is a failed read, logged with
// what was wrong and never a scale-out; the neighbour keeps its schedule.
func TestFaultsStatusPage(t *testing.T) {
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()

	tests := []struct {
		name    string
		handler func(released <-chan struct{}) http.HandlerFunc
		url     func(base string) string // default base + "/nginx-status"
		extra   string
		want    string // in the error of "metric read failed"
	}{
		{"hang", hang, nil, "", "no answer within 100ms"},
		{"500", func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "<html>500 "+r.Header.Get("Status-Auth-Key")+"</html>", http.StatusInternalServerError)
			}
		}, nil, "", "unexpected HTTP status 500"},
		{"garbage echoing the auth header", func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "\x00\xff%s\x1b[2J%s", r.Header.Get("Status-Auth-Key"), r.Header.Get("Status-Auth-Key"))
			}
		}, nil, "", "stub_status body line 1"},
		{"auth header echoed where the number goes", func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, page, r.Header.Get("Status-Auth-Key")) }
		}, nil, "", "Active connections: want a number, got 17 bytes of other text"},
		{"malformed header echoing the auth header", func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\n0: \x7f%s\r\n\r\n", r.Header.Get("Status-Auth-Key"))
				_ = buf.Flush()
			}
		}, nil, "", "malformed answer: a header value holds control characters"},
		{"HTML", func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "<html><body>Welcome %s</body></html>", r.Header.Get("Status-Auth-Key"))
			}
		}, nil, "", "looks like an HTML page"},
		{"empty", func(<-chan struct{}) http.HandlerFunc { return func(http.ResponseWriter, *http.Request) {} }, nil, "", "empty body"},
		{"huge", func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(make([]byte, 4<<20)) }
		}, nil, "", "body larger than 65536 bytes"},
		{"drip", func(released <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "Active connections: ")
				for {
					w.(http.Flusher).Flush()
					select {
					case <-released:
						return
					case <-r.Context().Done():
						return
					case <-time.After(10 * time.Millisecond): // a slow trickle is the fault itself
						fmt.Fprint(w, "1")
					}
				}
			}
		}, nil, "", "context deadline exceeded"},
		{"refused", nil, func(string) string { return refusedURL + "/nginx-status" }, "", "connection refused"},
		{"redirect", func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
			}
		}, nil, "", "unexpected HTTP status 302"},
		{"gauge of 2^31", func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, page, "2147483648") }
		}, nil, "", "implausibly large (above 2147483647)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMatrix(t)
			url := ""
			if tt.url != nil {
				url = tt.url("")
			} else {
				var srv *httptest.Server
				var released <-chan struct{}
				srv, released = server(t, nil)
				srv.Config.Handler = tt.handler(released)
				url = srv.URL + "/nginx-status"
			}
			p := m.start(t, m.doc(url, tt.extra), nil, "-log-level", "debug") // later failures of a run log at debug
			failed := p.wait(t, "metric read failed for web", msgIs("metric read failed", "service", "web"))
			assert.Equal(t, "WARN", failed["level"], "the first failure of a run is a warning")
			assert.Contains(t, failed["error"], tt.want)
			p.wait(t, "a second failed read of web", msgIs("metric read failed", "service", "web"), 2)
			m.onSchedule(t)
			assert.Zero(t, p.count(msgIs("metric read failed", "service", "ok")), "the healthy service never failed")
			m.finish(t, 3, 0) // a failed read is never a scale-out
		})
	}
}

// TestFaultsStatusTLS: a certificate that does not verify, with
// StatusTLSVerify, is a failed read; without it (the seed's default) the
// page is read.
func TestFaultsStatusTLS(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, page, "7")
	}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	p := m.start(t, m.doc(tlsSrv.URL+"/nginx-status", `, "StatusTLSVerify": true`), nil, "-log-level", "debug")
	failed := p.wait(t, "metric read failed for web", msgIs("metric read failed", "service", "web"))
	assert.Contains(t, failed["error"], "certificate")
	m.onSchedule(t)
	m.finish(t, 3, 0)
}

// TestFaultsURLPassword: user info in StatusUrl is sent but never printed,
// neither in the watching log nor by validate.
func TestFaultsURLPassword(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	var gotUser atomic.Value
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth()
		gotUser.Store(user)
		fmt.Fprintf(w, page, "7")
	})
	url := strings.Replace(srv.URL, "http://", "http://alice:"+urlPassword+"@", 1) + "/nginx-status"
	doc := m.doc(url, "")
	p := m.start(t, doc, nil, "-log-level", "debug")
	watching := p.wait(t, "watching web", msgIs("watching", "service", "web"))
	assert.Equal(t, "http://[redacted]@"+strings.TrimPrefix(srv.URL, "http://")+"/nginx-status",
		watching["settings"].(map[string]any)["StatusUrl"])
	p.wait(t, "a check of web", msgIs("check", "service", "web"))
	assert.Equal(t, "alice", gotUser.Load(), "the user info is used")
	m.finish(t, 3, 0)
	assert.NotContains(t, p.output(), "alice")

	r := runBinary(t, nil, "validate", "-config", m.file)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "http://[redacted]@")
	noSecrets(t, r.stdout, r.stderr)
	assert.NotContains(t, r.stdout, "alice")
}

// TestFaultsECS: ECS failing in each way AWS fails. A scale-out that fails
// is logged and retried, never doubled twice; a call that hangs gives up
// after -aws-timeout; an update whose answer is lost is "outcome unknown"
// and the service is read to say whether it landed.
func TestFaultsECS(t *testing.T) {
	tests := []struct {
		name  string
		setup func(m *matrix)
		env   []string
		args  []string
		// msg is the log line to wait for (on web), with want in its error.
		msg, want string
		// then, when set, lets the case go on and checks more.
		then        func(t *testing.T, m *matrix)
		wantDesired int32
		wantUpdates int
	}{
		{name: "throttled, then retried by the SDK",
			setup: func(m *matrix) { m.aws.Throttle("UpdateService", 1) },
			env:   []string{"AWS_MAX_ATTEMPTS=2"},
			msg:   "scaled out", wantDesired: 10, wantUpdates: 1},
		{name: "500, then retried at the next check",
			// A 5xx may come after ECS committed the change: the outcome is
			// unknown, and the read right after says it did not land.
			setup: func(m *matrix) { m.aws.FailNext("UpdateService", 1, "ServerException") },
			msg:   "scale-out outcome unknown", want: "ServerException",
			then: func(t *testing.T, m *matrix) {
				line := m.p.wait(t, "outcome unknown", msgIs("scale-out outcome unknown", "service", "web"))
				assert.Equal(t, false, line["landed"])
				assert.EqualValues(t, 3, line["desired_after"])
				m.p.wait(t, "scaled out", msgIs("scaled out", "service", "web"))
				assert.Contains(t, m.slackText(t, "outcome unknown"), "did not land")
				assert.Zero(t, m.p.count(msgIs("scale-out failed")), "never reported as failed")
			},
			wantDesired: 10, wantUpdates: 1},
		{name: "access denied",
			setup: func(m *matrix) { m.aws.Deny("UpdateService") },
			msg:   "scale-out failed", want: "grant the IAM action ecs:UpdateService on service shop/web",
			then: func(t *testing.T, m *matrix) {
				m.p.wait(t, "a retry", msgIs("scale-out failed", "service", "web"), 2)
				assert.Contains(t, m.slackText(t, "FAILED"), "AccessDeniedException")
			},
			wantDesired: 3},
		{name: "service missing",
			setup: func(m *matrix) { m.aws.RemoveService("shop", "web") },
			msg:   "scale-out failed", want: `service "web" not found in cluster "shop"`},
		{name: "service inactive",
			setup: func(m *matrix) { m.aws.PutService("shop", "web", awstest.Service{Desired: 3, Status: "INACTIVE"}) },
			msg:   "scale-out failed", want: "is INACTIVE", wantDesired: 3},
		{name: "malformed answer",
			setup: func(m *matrix) {
				m.aws.RespondNext("DescribeServices", 1000, http.StatusOK, []byte(`{"services": [{"desiredCount": "ten"`))
			},
			msg: "scale-out failed", want: "DescribeServices", wantDesired: 3},
		{name: "DescribeServices hangs",
			setup: func(m *matrix) { m.aws.Hold("DescribeServices") },
			args:  []string{"-aws-timeout", "500ms", "-listen", "127.0.0.1:0"},
			msg:   "scale-out failed", want: "no answer within the AWS timeout of 500ms",
			then: func(t *testing.T, m *matrix) {
				addr := m.p.wait(t, "listening", msgIs("listening"))["addr"].(string)
				code, body := get(t, "http://"+addr+"/healthz")
				assert.Equal(t, http.StatusOK, code, "no loop is stuck on AWS: %s", body)
				second := m.p.wait(t, "a retry", msgIs("scale-out failed", "service", "web"), 2)
				at, err := time.Parse(time.RFC3339Nano, second["time"].(string))
				require.NoError(t, err)
				retry, err := time.Parse(time.RFC3339Nano, second["retry_at"].(string))
				require.NoError(t, err)
				assert.False(t, retry.Before(at), "retry_at %v is not before the line's time %v", retry, at)
			},
			wantDesired: 3},
		{name: "UpdateService hangs, then recovers",
			setup: func(m *matrix) { m.hold = m.aws.Hold("UpdateService") },
			args:  []string{"-aws-timeout", "500ms"},
			msg:   "scale-out outcome unknown", want: "no answer within the AWS timeout of 500ms",
			then: func(t *testing.T, m *matrix) {
				line := m.p.wait(t, "outcome unknown", msgIs("scale-out outcome unknown", "service", "web"))
				assert.Equal(t, false, line["landed"])
				assert.EqualValues(t, 3, line["desired_after"])
				assert.Contains(t, m.slackText(t, "outcome unknown"), "did not land")
				m.hold.Release() // the next attempt goes through
				m.p.wait(t, "scaled out", msgIs("scaled out", "service", "web"))
			},
			wantDesired: 10, wantUpdates: 1},
		{name: "UpdateService answer lost after it landed",
			setup: func(m *matrix) { m.aws.HoldAnswer("UpdateService") },
			args:  []string{"-aws-timeout", "500ms"},
			msg:   "scale-out outcome unknown", want: "context deadline exceeded",
			then: func(t *testing.T, m *matrix) {
				line := m.p.wait(t, "outcome unknown", msgIs("scale-out outcome unknown", "service", "web"))
				assert.Equal(t, true, line["landed"])
				assert.EqualValues(t, 10, line["desired_after"])
				assert.Contains(t, m.slackText(t, "outcome unknown"), "but the update landed")
				m.onSchedule(t)
				assert.Equal(t, 1, m.p.count(msgIs("scale-out outcome unknown")), "the grace period runs: no second attempt")
			},
			wantDesired: 10, wantUpdates: 1},
		{name: "connection reset after the update landed",
			setup: func(m *matrix) { m.aws.DropAnswer("UpdateService", 1) },
			msg:   "scale-out outcome unknown", want: "",
			then: func(t *testing.T, m *matrix) {
				line := m.p.wait(t, "outcome unknown", msgIs("scale-out outcome unknown", "service", "web"))
				assert.Equal(t, true, line["landed"])
				m.onSchedule(t)
				assert.Len(t, m.aws.Calls("UpdateService"), 1, "no second UpdateService")
			},
			wantDesired: 10, wantUpdates: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMatrix(t)
			hot := newStubStatus(t, authSecret)
			hot.active.Store(500)
			tt.setup(m)
			p := m.start(t, m.doc(hot.URL+"/nginx-status", ""), tt.env, tt.args...)
			line := p.wait(t, tt.msg+" (web)", msgIs(tt.msg, "service", "web"))
			if tt.want != "" {
				assert.Contains(t, line["error"], tt.want)
			}
			if tt.then != nil {
				tt.then(t, m)
			}
			m.onSchedule(t)
			if tt.wantDesired == 0 {
				tt.wantDesired = 3
			}
			m.finish(t, tt.wantDesired, tt.wantUpdates)
		})
	}
}

// TestFaultsSlack: Slack failing never delays or undoes a scale-out, and
// never shows the webhook URL; only a 200 "ok" counts as delivered.
func TestFaultsSlack(t *testing.T) {
	tests := []struct {
		name    string
		handler func(released <-chan struct{}) http.HandlerFunc
		// requests is how many requests Slack must have seen before the case
		// checks the log; msg, when set, is a log line to wait for, with
		// want in its error.
		requests  int64
		msg, want string
	}{
		{name: "429", handler: func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "rate_limited", http.StatusTooManyRequests)
			}
		}, requests: 2},
		{name: "500", handler: func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "rollup_error", http.StatusInternalServerError)
			}
		}, requests: 2},
		{name: "hang", handler: hang, requests: 1},
		{name: "200 with invalid_payload", handler: func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "invalid_payload") }
		}, requests: 1, msg: "slack: message not delivered", want: `answered 200 "invalid_payload"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMatrix(t)
			var requests atomic.Int64
			srv, released := server(t, nil)
			h := tt.handler(released)
			srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1); h(w, r) })
			m.hook = srv.URL
			hot := newStubStatus(t, authSecret)
			hot.active.Store(500)
			p := m.start(t, m.doc(hot.URL+"/nginx-status", ""), nil)
			p.wait(t, "scaled out", msgIs("scaled out", "service", "web"))
			eventually(t, "Slack asked", func() bool { return requests.Load() >= tt.requests })
			if tt.msg != "" {
				line := p.wait(t, tt.msg, msgIs(tt.msg))
				assert.Contains(t, line["error"], tt.want)
			}
			m.onSchedule(t)
			took := p.stop(t, 10*time.Second)
			assert.Less(t, took, 5*time.Second, "a failing Slack gets the flush budget, no more")
			noSecrets(t, p.output(), p.stderr.String())
			web, _ := m.aws.Service("shop", "web")
			assert.Equal(t, int32(10), web.Desired, "scaled out once, whatever Slack did")
		})
	}
}

// TestFaultsReload: a reload that cannot be read, or reads an invalid
// document, leaves the last good config running; none blocks a later
// SIGTERM.
func TestFaultsReload(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path, doc string)
		msg    string // the log line the reload ends with ("" when it never ends)
		want   string // in its error
	}{
		{"truncated", func(t *testing.T, path, doc string) {
			require.NoError(t, os.WriteFile(path, []byte(doc[:len(doc)/2]), 0o600))
		}, "config reload rejected; the last good config keeps running", "invalid JSON"},
		{"deleted", func(t *testing.T, path, _ string) {
			require.NoError(t, os.Remove(path))
		}, "config reload failed; the last good config keeps running", "no such file"},
		{"a FIFO nobody writes", func(t *testing.T, path, _ string) {
			require.NoError(t, os.Remove(path))
			require.NoError(t, syscall.Mkfifo(path, 0o600))
		}, "config reload rejected; the last good config keeps running", "the document is empty"},
		{"a FIFO whose writer never writes", func(t *testing.T, path, _ string) {
			require.NoError(t, os.Remove(path))
			require.NoError(t, syscall.Mkfifo(path, 0o600))
			w, err := os.OpenFile(path, os.O_RDWR, 0) // a writer that stays silent
			require.NoError(t, err)
			t.Cleanup(func() { w.Close() })
		}, "", ""},
		{"1 MiB of empty services", func(t *testing.T, path, _ string) {
			require.NoError(t, os.WriteFile(path, []byte(hugeBadDoc()), 0o600))
		}, "config reload rejected; the last good config keeps running", "more problems"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMatrix(t)
			doc := m.doc(m.ok.URL+"/nginx-status", "")
			p := m.start(t, doc, nil)
			before := peakRSS(t, p)
			tt.change(t, m.file, doc)
			p.signal(t, syscall.SIGHUP)
			if tt.msg != "" {
				line := p.wait(t, tt.msg, msgIs(tt.msg))
				assert.Contains(t, line["error"], tt.want)
				assert.Less(t, len(fmt.Sprint(line["error"])), 16<<10, "a bounded log line")
			}
			m.onSchedule(t)
			if after := peakRSS(t, p); before > 0 {
				t.Logf("peak RSS %d MiB before the reload, %d MiB after", before>>20, after>>20)
				assert.Less(t, after, before+64<<20, "a bad document costs little memory")
			}
			took := p.stop(t, 10*time.Second)
			assert.Less(t, took, 5*time.Second, "a reload in progress does not hold up SIGTERM")
			assert.Empty(t, m.aws.Calls("UpdateService"))
			noSecrets(t, p.output(), p.stderr.String())
		})
	}
}

// hugeBadDoc is a document of 1 MiB of empty services: a million problems.
func hugeBadDoc() string {
	return `{"Services":[` + strings.Repeat("{},", 349000) + `{}]}`
}

// peakRSS returns the process's peak resident memory (VmHWM), or 0 where
// /proc does not tell.
func peakRSS(t *testing.T, p *proc) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			require.NoError(t, err, line)
			return kb << 10
		}
	}
	return 0
}

// TestFaultsSIGTERMMidUpdate: SIGTERM while an UpdateService is in flight.
// The update is waited for and reported as it ended: done, or "outcome
// unknown" and then read, never FAILED.
func TestFaultsSIGTERMMidUpdate(t *testing.T) {
	t.Run("the update completes", func(t *testing.T) {
		t.Parallel()
		m := newMatrix(t)
		hot := newStubStatus(t, authSecret)
		hot.active.Store(500)
		held := m.aws.Hold("UpdateService")
		p := m.start(t, m.doc(hot.URL+"/nginx-status", ""), nil)
		<-held.Arrived()
		p.signal(t, syscall.SIGTERM)
		p.wait(t, "stopping", msgIs("stopping: no new checks; a scale-out in flight may finish"))
		held.Release() // ECS answers after the SIGTERM
		scaled := p.wait(t, "scaled out", msgIs("scaled out", "service", "web"))
		assert.EqualValues(t, 10, scaled["desired_new"])
		p.exits(t, 10*time.Second)
		text := m.slackText(t, "scaleout web service")
		assert.NotContains(t, text, "FAILED")
		assert.NotContains(t, text, "unknown")
		web, _ := m.aws.Service("shop", "web")
		assert.Equal(t, int32(10), web.Desired)
		noSecrets(t, p.output(), p.stderr.String())
	})
	t.Run("the answer is lost", func(t *testing.T) {
		t.Parallel()
		m := newMatrix(t)
		hot := newStubStatus(t, authSecret)
		hot.active.Store(500)
		held := m.aws.HoldAnswer("UpdateService") // applied, then never answered
		p := m.start(t, m.doc(hot.URL+"/nginx-status", ""), nil, "-aws-timeout", "1s")
		<-held.Arrived()
		p.signal(t, syscall.SIGTERM)
		line := p.wait(t, "outcome unknown", msgIs("scale-out outcome unknown", "service", "web"))
		assert.Equal(t, true, line["landed"], "read once after: the update landed")
		assert.EqualValues(t, 10, line["desired_after"])
		p.exits(t, 10*time.Second)
		text := m.slackText(t, "outcome unknown")
		assert.Contains(t, text, "but the update landed")
		assert.NotContains(t, text, "FAILED")
		assert.Zero(t, p.count(msgIs("scale-out failed")))
		noSecrets(t, p.output(), p.stderr.String())
	})
}

// TestFaultsOneHostHalfBroken: 150 services whose status page hangs and 50
// healthy ones, all on one host:port (many services behind one load
// balancer). Every healthy service is read on schedule and none of its
// reads fails.
func TestFaultsOneHostHalfBroken(t *testing.T) {
	t.Parallel()
	const hung, healthy = 150, 50
	var mu sync.Mutex
	reads := map[string]int{}
	srv, released := server(t, nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/hung/") {
			hang(released)(w, r)
			return
		}
		mu.Lock()
		reads[r.URL.Path]++
		mu.Unlock()
		fmt.Fprintf(w, page, "5")
	})
	srv2 := awstest.New(t)
	var services []string
	for i := range hung {
		services = append(services, fmt.Sprintf(`{"StatusUrl": "%s/hung/%d", "CheckInterval": 1, "EcsClusterName": "shop", "EcsServiceName": "hung-%d"}`, srv.URL, i, i))
	}
	for i := range healthy {
		services = append(services, fmt.Sprintf(`{"StatusUrl": "%s/ok/%d", "CheckInterval": 1, "EcsClusterName": "shop", "EcsServiceName": "ok-%d"}`, srv.URL, i, i))
	}
	file := writeFile(t, `{"Services":[`+strings.Join(services, ",")+`]}`)
	p := startProc(t, append(srv2.Env(), "AWS_MAX_ATTEMPTS=1"), "run", "-config", file, "-listen", "")
	p.wait(t, "ready", msgIs("ready"))
	p.wait(t, "the hung reads failing", msgIs("metric read failed"), hung)
	eventually(t, "every healthy service read 3 times", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range healthy {
			if reads[fmt.Sprintf("/ok/%d", i)] < 3 {
				return false
			}
		}
		return true
	})
	okFailed := p.count(func(l map[string]any) bool {
		return l["msg"] == "metric read failed" && strings.HasPrefix(fmt.Sprint(l["service"]), "ok-")
	})
	assert.Zero(t, okFailed, "no healthy read failed while the others hung")
	took := p.stop(t, 10*time.Second)
	assert.Less(t, took, 5*time.Second, "hung reads are cancelled at SIGTERM")
}

// TestFaultsHostileDocuments: validate on documents built to hurt: each is
// reported briefly and exactly, never echoing a secret or forging a line.
func TestFaultsHostileDocuments(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "config.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	good := func(extra string) string {
		return fmt.Sprintf(`{"StatusUrl": "http://127.0.0.1:1/s", "StatusAuthName": "K", "StatusAuthValue": %q,
		  "EcsClusterName": "shop", "EcsServiceName": "web"%s}`, authSecret, extra)
	}
	tests := []struct {
		name   string
		path   string // a file to validate instead of doc
		doc    string
		code   int
		want   []string // in stderr (code 2) or stdout (code 0)
		forged string   // no output line may start with it
	}{
		{name: "1 MiB of empty services", doc: hugeBadDoc(), code: exitUsage,
			want: []string{"Services[0]: StatusUrl: required", "more problems"}},
		{name: "/dev/zero", path: "/dev/zero", code: exitUsage, want: []string{fmt.Sprintf("more than the limit of %d bytes", configsrc.MaxDocumentSize)}},
		{name: "a FIFO nobody writes", path: fifo, code: exitUsage, want: []string{"the document is empty"}},
		{name: "a name with a line break", code: exitOK,
			doc:    `{"Services":[` + strings.Replace(good(""), `"web"`, `"web\nServices[9] (evil)\n  StatusAuthValue     leaked"`, 1) + `]}`,
			want:   []string{`Services[0] ("shop/web\nServices[9] (evil)\n  StatusAuthValue     leaked")`},
			forged: "Services[9]"},
		{name: "an invalid name with a line break", code: exitUsage,
			doc:    `{"Services":[` + strings.Replace(good(`, "MinDesiredCount": 0`), `"web"`, `"web\nServices[9] (evil): forged"`, 1) + `]}`,
			want:   []string{`Services[0] ("web\nServices[9] (evil): forged"): MinDesiredCount: must be >= 1`},
			forged: "Services[9]"},
		{name: "invalid UTF-8", code: exitUsage,
			doc:  "{\"Services\":[\n" + strings.Replace(good(""), `"shop"`, "\"sh\xffop\"", 1) + "]}",
			want: []string{"invalid UTF-8 at line 3, column"}},
		{name: "absurd values", code: exitUsage,
			doc: `{"Services":[` + good(`, "CheckInterval": "2562047h", "MinDesiredCount": 2147483647`) + `,` +
				strings.Replace(good(`, "CheckInterval": 9223372036.854775807, "GracePeriod": 1e300`), `"web"`, `"api"`, 1) + `]}`,
			want: []string{
				"Services[0] (web): MinDesiredCount: must be at most 5000 (ECS's limit of tasks per service), got 2147483647",
				"Services[0] (web): CheckInterval: must be at most 1h0m0s, got 2562047h0m0s",
				"Services[1] (api): CheckInterval: 9223372036.854775807 seconds is too long",
				"Services[1] (api): GracePeriod: 1e300 seconds is too long",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.path
			if path == "" {
				path = writeFile(t, tt.doc)
			}
			r := runBinary(t, nil, "validate", "-config", path)
			require.Equal(t, tt.code, r.code, "stdout: %s\nstderr: %s", tail(r.stdout, 2000), tail(r.stderr, 2000))
			out := r.stdout
			if tt.code != exitOK {
				out = r.stderr
			}
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
			assert.Less(t, len(r.stdout)+len(r.stderr), 16<<10, "a bounded report")
			if tt.forged != "" {
				for _, line := range strings.Split(out, "\n") {
					assert.False(t, strings.HasPrefix(line, tt.forged), "forged line %q in:\n%s", line, out)
				}
			}
			noSecrets(t, r.stdout, r.stderr)
		})
	}
}
