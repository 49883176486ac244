package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/app"
	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/promtest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/tlstest"
)

// flakyStatus is a stub_status page that answers 500 while broken is set.
type flakyStatus struct {
	*httptest.Server
	active atomic.Int64
	broken atomic.Bool
}

func newFlakyStatus(t *testing.T, active int64) *flakyStatus {
	s := &flakyStatus{}
	s.active.Store(active)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.broken.Load() {
			http.Error(w, "upstream gone", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "Active connections: %d \nserver accepts handled requests\n 10 10 20 \nReading: 0 Writing: 1 Waiting: 0 \n", s.active.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// statusOf asks the process for its services' status, by service name.
func statusOf(t *testing.T, base string) map[string]app.ServiceStatus {
	t.Helper()
	code, body := get(t, base+app.StatusPath)
	require.Equal(t, http.StatusOK, code, body)
	var resp app.StatusResponse
	require.NoError(t, json.Unmarshal([]byte(body), &resp))
	out := map[string]app.ServiceStatus{}
	for _, s := range resp.Services {
		out[s.Service] = s
	}
	return out
}

// scrape parses the process's /metrics with the Prometheus text parser.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	code, body := get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			k := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				out[k] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[k] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func series(metric, service string, result ...string) string {
	if len(result) > 0 {
		return fmt.Sprintf(`fast_autoscaler_%s{cluster="shop",result=%q,service=%q}`, metric, result[0], service)
	}
	return fmt.Sprintf(`fast_autoscaler_%s{cluster="shop",service=%q}`, metric, service)
}

// logsWithMsg returns the process's JSON log lines with message msg (and
// service svc, when not empty) so far.
func logsWithMsg(t *testing.T, p *process, msg, svc string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(p.output()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m["msg"] == msg && (svc == "" || m["service"] == svc) {
			out = append(out, m)
		}
	}
	return out
}

// TestStatusBlindnessAndQuietLogs runs the binary with one service that
// scales out and one whose status page fails, and looks at it as an operator
// would: the status command, /v1/services, /readyz, /metrics and the log.
func TestStatusBlindnessAndQuietLogs(t *testing.T) {
	srv := awstest.New(t)
	srv.AddCluster("shop")
	srv.PutService("shop", "web", awstest.Service{Desired: 2, Running: 2})
	srv.PutService("shop", "api", awstest.Service{Desired: 2, Running: 2})
	hot, broken := newFlakyStatus(t, 500), newFlakyStatus(t, 5)
	broken.broken.Store(true)
	cfgFile := writeFile(t, `{"Services":[`+serviceJSON("web", hot.URL, 100, `, "MaxDesiredCount": 40`)+`,`+
		serviceJSON("api", broken.URL, 100, "")+`]}`)

	p := start(t, srv.Env(), "run", "-config", cfgFile, "-listen", "127.0.0.1:0", "-reload-interval", "0")
	base := "http://" + p.waitLog(t, "listening")["addr"].(string)
	p.waitLog(t, "ready")

	var st map[string]app.ServiceStatus
	eventually(t, "web in grace, api blind for 10 reads", func() bool {
		st = statusOf(t, base)
		return st["web"].State == "grace" && st["api"].State == "blind" && st["api"].ReadFailures >= 10
	})
	web, api := st["web"], st["api"]
	assert.EqualValues(t, 500, web.Reading.Value)
	require.NotNil(t, web.Seen)
	assert.Equal(t, 10, web.Seen.Desired, "the count it set")
	assert.Equal(t, 2, web.Seen.Running)
	require.NotNil(t, web.Cap)
	assert.Equal(t, 40, *web.Cap)
	assert.Equal(t, "MaxDesiredCount", web.CapSource)
	assert.Equal(t, "double", web.Mode)
	assert.Equal(t, "scaled_out", web.LastOutcome)
	assert.WithinDuration(t, web.Since.Add(time.Hour), *web.Until, time.Millisecond, "the grace period's end")
	assert.Nil(t, api.Reading, "never read")
	assert.Nil(t, api.Cap)
	assert.Equal(t, "none", api.CapSource)
	assert.Contains(t, api.LastError, "500 Internal Server Error")
	assert.EqualValues(t, 100, api.Threshold)

	// The status command: a table, and the same JSON with -o json.
	r := runBinary(t, nil, "status", "-url", base+app.StatusPath)
	require.Equal(t, exitOK, r.code, r.stderr)
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, rows, 3, r.stdout)
	assert.Regexp(t, `^SERVICE +STATE +READING +THRESHOLD +DESIRED +RUNNING +CAP +MODE +SINCE +NOTE$`, rows[0])
	assert.Regexp(t, `^shop/api +blind +<none> +100 +2 +2 +none +double +\d+s +\d+ failed reads; never read; .*500 Internal Server Error`, rows[1],
		"the counts from the state read at start-up")
	assert.Regexp(t, `^shop/web +grace +500 +100 +10 +2 +40 +double +\d+s +until \d\d:\d\d:\d\d \(in (59m\d+s|1h0m0s)\)$`, rows[2])
	r = runBinary(t, nil, "status", "-url", base+app.StatusPath, "-o", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var resp app.StatusResponse
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &resp))
	require.Len(t, resp.Services, 2)
	assert.Equal(t, "blind", resp.Services[0].State)

	// /readyz names the blind service and stays 200: web is still watched.
	code, body := get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Regexp(t, `^ok\nblind: shop/api since \S+ \(\S+, \d+ failed reads\)\n$`, body)
	code, _ = get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code, "blindness is not a dead process: no restart for it")

	// /metrics: the failures, no reading left standing, the last good read.
	m := scrape(t, base)
	assert.GreaterOrEqual(t, m[series("read_failures", "api")], 10.0)
	assert.NotContains(t, m, series("reading", "api"), "a blind service shows no reading")
	assert.NotContains(t, m, series("last_good_reading_timestamp_seconds", "api"), "never read")
	assert.Equal(t, 0.0, m[series("read_failures", "web")])
	assert.Equal(t, 500.0, m[series("reading", "web")])
	assert.InDelta(t, float64(web.Reading.Time.UnixNano())/1e9, m[series("last_good_reading_timestamp_seconds", "web")], 1e-3)

	// Each README alert selects series this process exposes.
	checkREADMEAlerts(t, base)

	// Quiet: one warning for the whole run of failures so far.
	failed := logsWithMsg(t, p, "metric read failed", "api")
	require.Len(t, failed, 1, "one line for %v failures", m[series("read_failures", "api")])
	assert.Equal(t, "WARN", failed[0]["level"])
	assert.Empty(t, logsWithMsg(t, p, "metric read still failing", "api"), "the summary comes after a minute")

	// Recovery: a line, the reading back, the state back to watching.
	broken.broken.Store(false)
	recovered := p.waitLog(t, "metric source recovered")
	assert.Equal(t, "api", recovered["service"])
	eventually(t, "api watching again", func() bool { return statusOf(t, base)["api"].State == "watching" })
	eventually(t, "api's reading back in /metrics", func() bool {
		m = scrape(t, base)
		return m[series("reading", "api")] == 5 && m[series("read_failures", "api")] == 0
	})
	code, body = get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)

	exit, _ := p.stop(t)
	assert.Equal(t, exitOK, exit)
	r = runBinary(t, nil, "status", "-url", base+app.StatusPath, "-timeout", "1s")
	assert.Equal(t, exitFailure, r.code, "nothing answers any more")
	assert.Contains(t, r.stderr, "fast-autoscaler status:")
}

func TestStatusUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "-o", "yaml"}, "-o must be table or json"},
		{[]string{"status", "-url", "ftp://x"}, "-url must be an http or https URL"},
		{[]string{"health", "-url", "ftp://x"}, "-url must be an http or https URL"},
		{[]string{"status", "-timeout", "0s"}, "-timeout must be > 0"},
		{[]string{"run", "-metrics-format", "statsd", "-config", "x.json"}, "-metrics-format must be prometheus or emf"},
		{[]string{"run", "-emf-interval", "10ms", "-config", "x.json"}, "-emf-interval must be at least 1s"},
	} {
		r := runBinary(t, nil, tt.args...)
		assert.Equal(t, exitUsage, r.code, "%q", tt.args)
		assert.Contains(t, r.stderr, tt.want, "%q", tt.args)
	}
	for _, cmd := range []string{"status", "health"} {
		for _, u := range []string{"ftp://ops:s3cret-pw@host/", "://ops:s3cret-pw@host/"} {
			r := runBinary(t, nil, cmd, "-url", u)
			assert.Equal(t, exitUsage, r.code, "%s -url %s", cmd, u)
			assert.Contains(t, r.stderr, "-url must be an http or https URL", "%s -url %s", cmd, u)
			assert.NotContains(t, r.stderr+r.stdout, "s3cret-pw", "%s: a password in -url is never echoed", cmd)
		}
	}
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready: config not loaded yet", http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	r := runBinary(t, nil, "status", "-url", unhealthy.URL+app.StatusPath)
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "503 Service Unavailable: not ready: config not loaded yet")
}

// TestEMFLinesMatchMetrics runs the binary with -metrics-format emf and
// checks its EMF lines against the spec and against /metrics.
func TestEMFLinesMatchMetrics(t *testing.T) {
	srv := awstest.New(t)
	srv.AddCluster("shop")
	srv.PutService("shop", "web", awstest.Service{Desired: 2, Running: 2})
	hot := newFlakyStatus(t, 500)
	cfgFile := writeFile(t, `{"Services":[`+serviceJSON("web", hot.URL, 100, "")+`]}`)

	p := start(t, srv.Env(), "run", "-config", cfgFile, "-listen", "127.0.0.1:0", "-metrics-format", "emf", "-emf-interval", "1s")
	base := "http://" + p.waitLog(t, "listening")["addr"].(string)
	emfStart := p.waitLog(t, "writing CloudWatch EMF metrics")
	assert.Equal(t, "FastAutoscaler", emfStart["namespace"])
	p.waitLog(t, "scaled out")

	// web is in its grace period (an hour): nothing changes while we look.
	var line map[string]any
	bound := time.After(30 * time.Second)
	for line == nil {
		select {
		case l := <-p.lines:
			if _, ok := l["_aws"]; ok && l["ScaledOut"] != nil {
				raw, err := json.Marshal(l)
				require.NoError(t, err)
				line = promtest.CheckEMF(t, raw)
			}
		case <-bound:
			t.Fatal("no EMF line with the scale-out within 30s")
		}
	}
	m := scrape(t, base)
	assert.Equal(t, "shop", line["Cluster"])
	assert.Equal(t, "web", line["Service"])
	assert.Equal(t, m[series("reading", "web")], line["Reading"])
	assert.Equal(t, m[series("desired_count", "web")], line["DesiredCount"])
	assert.Equal(t, m[series("requested_desired_count", "web")], line["RequestedDesiredCount"])
	assert.Equal(t, m[series("in_grace_period", "web")], line["InGracePeriod"])
	assert.Equal(t, m[series("read_failures", "web")], line["ReadFailures"])
	assert.Equal(t, m[series("scaleouts_total", "web", "scaled_out")], line["ScaledOut"], "the first line counts from the start")
	assert.Equal(t, m[series("checks_total", "web", "ok")], line["Checks"])
	assert.EqualValues(t, 10, line["DesiredCount"])
	dir := line["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	assert.Equal(t, "FastAutoscaler", dir["Namespace"])
	assert.Equal(t, []any{[]any{"Cluster", "Service"}}, dir["Dimensions"])

	// Every EMF line so far is valid; the next ones count no new scale-out.
	exit, _ := p.stop(t)
	assert.Equal(t, exitOK, exit)
	var emf []map[string]any
	for l := range strings.Lines(p.output()) {
		if strings.Contains(l, `"_aws"`) {
			emf = append(emf, promtest.CheckEMF(t, []byte(l)))
		}
	}
	require.GreaterOrEqual(t, len(emf), 2, "a line a second, and one at the end")
	total := 0.0
	for _, l := range emf {
		total += l["ScaledOut"].(float64)
	}
	assert.Equal(t, 1.0, total, "the increases add up to the counter")
}

// TestTLSServerNameEndToEnd: the status URL names 127.0.0.1, the
// certificate only status.example.test (trusted through SSL_CERT_FILE).
func TestTLSServerNameEndToEnd(t *testing.T) {
	var authOK atomic.Bool
	tlsSrv := tlstest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authOK.Store(r.Header.Get("Status-Auth-Key") == "auth-s3cret" && r.TLS.ServerName == "status.example.test")
		fmt.Fprint(w, "Active connections: 500 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n")
	}), "status.example.test")
	srv := awstest.New(t)
	srv.AddCluster("shop")
	srv.PutService("shop", "web", awstest.Service{Desired: 2, Running: 2})
	env := append(srv.Env(), "SSL_CERT_FILE="+tlsSrv.CertFile)
	auth := `, "StatusAuthName": "Status-Auth-Key", "StatusAuthValue": "auth-s3cret"`

	// Verified against the server name: the read works and the header goes.
	cfgFile := writeFile(t, `{"Services":[`+serviceJSON("web", tlsSrv.URL, 100, auth+`, "StatusTLSServerName": "status.example.test"`)+`]}`)
	r := runBinary(t, env, "validate", "-config", cfgFile)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `StatusTLSServerName +status.example.test\n`, r.stdout)
	assert.Regexp(t, `StatusTLSVerify +true\n`, r.stdout)
	assert.NotContains(t, r.stdout, "warning: the status request's credentials")
	p := start(t, env, "run", "-config", cfgFile, "-listen", "")
	p.waitLog(t, "scaled out")
	p.stop(t)
	assert.True(t, authOK.Load(), "the header went, with the server name as SNI")
	assert.Empty(t, logsWithMsg(t, p, "insecure setting", ""))

	// Verified against the URL's host: the certificate does not name it.
	cfgFile = writeFile(t, `{"Services":[`+serviceJSON("web", tlsSrv.URL, 100, auth+`, "StatusTLSVerify": true`)+`]}`)
	p = start(t, env, "run", "-config", cfgFile, "-listen", "")
	failed := p.waitLog(t, "metric read failed")
	assert.Contains(t, failed["error"], "failed to verify certificate")
	assert.Contains(t, failed["error"], "cannot validate certificate for 127.0.0.1")
	p.stop(t)

	// Not verified (the seed's default): it works, and says so once. (The
	// service is put anew: the first run recorded its scale-out on it, which
	// would hold this one.)
	srv.PutService("shop", "web", awstest.Service{Desired: 2, Running: 2})
	cfgFile = writeFile(t, `{"Services":[`+serviceJSON("web", tlsSrv.URL, 100, auth)+`]}`)
	r = runBinary(t, env, "validate", "-config", cfgFile)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, 1, strings.Count(r.stdout, "warning: the status request's credentials"), r.stdout)
	p = start(t, env, "run", "-config", cfgFile, "-listen", "")
	p.waitLog(t, "scaled out")
	p.stop(t)
	warned := logsWithMsg(t, p, "insecure setting", "web")
	require.Len(t, warned, 1, "said once at start-up")
	assert.Equal(t, "WARN", warned[0]["level"])
	assert.Contains(t, warned[0]["warning"], "StatusTLSServerName")
	assert.NotContains(t, p.output(), "auth-s3cret")
}

// TestConfigNotLoadedLogsWhy: the JSON log line of a rejected config
// carries the reason, not only stderr.
func TestConfigNotLoadedLogsWhy(t *testing.T) {
	srv := awstest.New(t)
	r := runBinary(t, srv.Env(), "run", "-config", writeFile(t, `{"Services":[{"StatusUrl":"ftp://x"}]}`), "-listen", "")
	assert.Equal(t, exitUsage, r.code)
	var line map[string]any
	for l := range strings.Lines(r.stdout) {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "config not loaded" {
			line = m
		}
	}
	require.NotNil(t, line, r.stdout)
	assert.Contains(t, line["error"], "StatusUrl: must be an absolute http or https URL")
}

// TestDocsNameRealFlags: every flag the docs pass to a subcommand exists.
func TestDocsNameRealFlags(t *testing.T) {
	flagsOf := map[string]map[string]bool{}
	known := func(cmd string) map[string]bool {
		if f, ok := flagsOf[cmd]; ok {
			return f
		}
		r := runBinary(t, nil, cmd, "-h")
		require.Equal(t, exitOK, r.code, "%s -h: %s", cmd, r.stderr)
		f := map[string]bool{"h": true}
		for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(r.stderr, -1) {
			f[m[1]] = true
		}
		flagsOf[cmd] = f
		return f
	}
	cmds := `(run|validate|health|status|simulate|version)`
	// "fast-autoscaler health -url X -timeout 1s" in code and prose, and
	// "pass the matching `-url` to `health`" in prose.
	invocation := regexp.MustCompile("fast-autoscaler " + cmds + `((?: +(?:-[a-z-]+|\[-[a-z-]+[^\]]*\]|[^\s` + "`" + `-][^\s` + "`" + `]*))*)`)
	passTo := regexp.MustCompile("`-([a-z-]+)[^`]*` to `(?:fast-autoscaler )?" + cmds + "`")
	flag := regexp.MustCompile(`(?:^|\s|\[)-([a-z][a-z-]*)`)
	checked := 0
	for _, doc := range []string{"../../README.md", "../../examples/deploy/README.md"} {
		text := readFile(t, doc)
		for _, m := range invocation.FindAllStringSubmatch(text, -1) {
			for _, f := range flag.FindAllStringSubmatch(m[2], -1) {
				assert.True(t, known(m[1])[f[1]], "%s: %q names -%s, which %s does not have", doc, m[0], f[1], m[1])
				checked++
			}
		}
		for _, m := range passTo.FindAllStringSubmatch(text, -1) {
			assert.True(t, known(m[2])[m[1]], "%s: %q names -%s, which %s does not have", doc, m[0], m[1], m[2])
			checked++
		}
	}
	assert.Greater(t, checked, 10, "the docs' flags were found")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}
