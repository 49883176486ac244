package imagetest

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

const (
	image   = "localhost/fast-autoscaler:imagetest"
	version = "v0.0.0-imagetest"
	// uid is the numeric user the Containerfile runs the binary as.
	uid = 65532

	// Secrets of the run's config, which must never reach the logs.
	authValue   = "auth-s3cret"
	webhookPath = "/services/T000/B000/hooks3cret"
)

// repoRoot is the repository root, relative to this package's directory
// (where go test runs it).
var repoRoot = func() string {
	p, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return p
}()

// TestImage builds the image and runs it as an operator would.
func TestImage(t *testing.T) {
	pm := setup(t)
	build(t, pm)

	t.Run("config", func(t *testing.T) { testConfig(t, pm) })
	t.Run("binary", testBinary)
	t.Run("version", func(t *testing.T) {
		r := pm.run(t, "run", "--rm", "--read-only", "--read-only-tmpfs=false", "--network", "none", image, "version")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "fast-autoscaler "+version+"\n", r.stdout)
	})
	t.Run("validate", func(t *testing.T) { testValidate(t, pm) })
	t.Run("run", func(t *testing.T) { testRun(t, pm) })
}

// podman runs buildah, podman and the build script with this test's
// settings and storage.
type podman struct {
	env    []string // added to os.Environ()
	global []string // podman's global flags
}

// result is a finished command's output.
type result struct {
	code           int
	stdout, stderr string
}

// setup skips the test (or fails it under FAST_AUTOSCALER_REQUIRE_PODMAN=1)
// when the tools are missing, and returns a podman on a fresh storage root.
func setup(t *testing.T) *podman {
	t.Helper()
	var missing []string
	for _, tool := range []string{"podman", "buildah"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" is not installed")
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "not root (the test runs rootful podman)")
	}
	if len(missing) > 0 {
		why := strings.Join(missing, "; ")
		if os.Getenv("FAST_AUTOSCALER_REQUIRE_PODMAN") == "1" {
			t.Fatalf("FAST_AUTOSCALER_REQUIRE_PODMAN=1 but %s (apt-get install podman buildah runc)", why)
		}
		t.Skipf("skipping the image test: %s (apt-get install podman buildah runc; set FAST_AUTOSCALER_REQUIRE_PODMAN=1 to fail instead)", why)
	}

	// A storage root of the test's own: nothing is left behind and a second
	// run starts clean. vfs needs no overlay mounts, so the directory is
	// removed like any other.
	dir := t.TempDir()
	storageConf := filepath.Join(dir, "storage.conf")
	require.NoError(t, os.WriteFile(storageConf, fmt.Appendf(nil,
		"[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "run")), 0o644))
	pm := &podman{
		env: []string{
			"CONTAINERS_CONF=" + filepath.Join(repoRoot, "scripts", "containers.conf"),
			"CONTAINERS_STORAGE_CONF=" + storageConf,
		},
		// podman's run-time state (exit codes, events) under dir too, not in
		// /run/libpod beside another podman's.
		global: []string{"--tmpdir", filepath.Join(dir, "libpod")},
	}
	t.Cleanup(func() {
		// Containers still running after a failure; images go with dir.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = pm.command(ctx, "podman", "rm", "--all", "--force", "--time", "0").CombinedOutput()
	})
	return pm
}

// command is an exec.Cmd of buildah, podman (with the global flags) or the
// build script, in this test's environment.
func (p *podman) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if name == "podman" {
		args = append(append([]string(nil), p.global...), args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// exec runs a command to completion within the bound, a hang failing the
// test. It works in a Cleanup too (where t.Context is done).
func (p *podman) exec(t *testing.T, bound time.Duration, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := p.command(ctx, name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s %q did not finish within %v; stderr: %s", name, args, bound, stderr.String())
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// run runs podman with args.
func (p *podman) run(t *testing.T, args ...string) result {
	t.Helper()
	return p.exec(t, time.Minute, "podman", args...)
}

// build builds the image with the project's script, as CI and the workflow do.
func build(t *testing.T, pm *podman) {
	t.Helper()
	begin := time.Now()
	r := pm.exec(t, 5*time.Minute, filepath.Join(repoRoot, "scripts", "build-image.sh"),
		"--builder", "buildah", "--version", version, "-t", image)
	require.Equal(t, 0, r.code, "scripts/build-image.sh failed:\n%s\n%s", r.stdout, r.stderr)
	t.Logf("built %s in %v", image, time.Since(begin).Round(100*time.Millisecond))
}

// testConfig checks the image's configuration: what the Containerfile sets.
func testConfig(t *testing.T, pm *podman) {
	r := pm.run(t, "image", "inspect", image)
	require.Equal(t, 0, r.code, r.stderr)
	var images []struct {
		Architecture string
		Size         int64
		Config       struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			ExposedPorts map[string]any
			Labels       map[string]string
		}
		RootFS struct{ Layers []string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &images))
	require.Len(t, images, 1)
	img := images[0]
	t.Logf("image size: %.1f MB (%d bytes)", float64(img.Size)/1e6, img.Size)

	assert.Equal(t, runtime.GOARCH, img.Architecture)
	assert.Equal(t, fmt.Sprintf("%d:%d", uid, uid), img.Config.User, "a numeric non-root user")
	assert.Equal(t, []string{"/fast-autoscaler"}, img.Config.Entrypoint)
	assert.Equal(t, []string{"run"}, img.Config.Cmd)
	assert.Contains(t, img.Config.ExposedPorts, "9100/tcp")
	assert.Len(t, img.RootFS.Layers, 1, "FROM scratch: the binary's layer only")
	labels := img.Config.Labels
	assert.Equal(t, "fast-autoscaler", labels["org.opencontainers.image.title"])
	assert.Equal(t, version, labels["org.opencontainers.image.version"])
	assert.Equal(t, "https://github.com/fast-autoscaler/fast-autoscaler", labels["org.opencontainers.image.source"])
	assert.NotEmpty(t, labels["org.opencontainers.image.description"])
}

// testBinary checks how the script built the binary the image copied.
func testBinary(t *testing.T) {
	bi, err := buildinfo.ReadFile(filepath.Join(repoRoot, "out", "linux_"+runtime.GOARCH, "fast-autoscaler"))
	require.NoError(t, err)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	assert.Equal(t, "0", settings["CGO_ENABLED"], "a static binary")
	assert.Equal(t, "true", settings["-trimpath"]) // which leaves -ldflags out: the version subtest checks it
	var roots bool
	for _, d := range bi.Deps {
		roots = roots || d.Path == "golang.org/x/crypto/x509roots/fallback"
	}
	assert.True(t, roots, "the binary carries its own trust roots (x509roots/fallback)")
}

// testValidate runs validate on mounted configs: exit 0 when good, 2 when
// invalid, and no secret printed either way.
func testValidate(t *testing.T, pm *podman) {
	good := filepath.Join(repoRoot, "examples", "config.json")
	r := pm.run(t, "run", "--rm", "--read-only", "--read-only-tmpfs=false", "--network", "none",
		"-v", good+":/config.json:ro", image, "validate", "-config", "/config.json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "file /config.json: valid, 2 service(s)")
	assert.NotContains(t, r.stdout, "change-me", "StatusAuthValue")
	assert.NotContains(t, r.stdout, "hooks.slack.com/services/XXXXXXXXX", "SlackWebhookUrl")

	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"Services":[{"StatusUrl":"https://x/nginx-status",
	  "StatusAuthName":"Status-Auth-Key","StatusAuthValue":"`+authValue+`","ScaleOutThreshold":100,
	  "EcsClusterName":"shop","EcsServiceName":"web"}]}`), 0o644)) // readable by the container's user
	r = pm.run(t, "run", "--rm", "--read-only", "--read-only-tmpfs=false", "--network", "none",
		"-v", bad+":/config.json:ro", image, "validate", "-config", "/config.json")
	assert.Equal(t, 2, r.code, "an invalid config exits 2; stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, `Services[0] (web): ScaleOutThreshold: unknown field; did you mean "ScaleoutThreshold"?`)
	assert.NotContains(t, r.stdout+r.stderr, authValue)
}

// testRun runs the autoscaler in the container against the wire server and a
// stub_status page, spikes the load, and stops it as ECS does.
func testRun(t *testing.T, pm *podman) {
	srv := awstest.New(t)
	srv.PutService("shop", "web", awstest.Service{Desired: 3, Running: 3})
	status := newStatusPage(t)
	slack := newSlack(t)
	srv.PutParameter(awstest.Parameter{Name: "/ecs/fast-autoscaler/config.json", Type: "SecureString", Value: fmt.Sprintf(
		`{"Services":[{"StatusUrl":%q,"StatusAuthName":"Status-Auth-Key","StatusAuthValue":%q,
		  "ScaleoutThreshold":100,"MinDesiredCount":5,"CheckInterval":0.2,"GracePeriod":60,
		  "EcsClusterName":"shop","EcsServiceName":"web","SlackWebhookUrl":%q}]}`,
		status.URL+"/nginx-status", authValue, slack.URL+webhookPath)})

	// The host network reaches the test's servers on 127.0.0.1; the metrics
	// server takes a free port rather than 9100, which may be in use here.
	port := freePort(t)
	healthURL := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	name := fmt.Sprintf("fast-autoscaler-imagetest-%d", os.Getpid())
	args := []string{"run", "--detach", "--name", name, "--network", "host",
		"--read-only", "--read-only-tmpfs=false", // not even a tmpfs to write to
		"-e", "AUTOSCALER_REGION=" + awstest.Region}
	for _, kv := range srv.Env() {
		args = append(args, "-e", kv)
	}
	args = append(args, image, "run", "-listen", fmt.Sprintf("127.0.0.1:%d", port))
	r := pm.run(t, args...)
	require.Equal(t, 0, r.code, r.stderr)
	t.Cleanup(func() {
		if t.Failed() {
			logs := pm.run(t, "logs", name)
			t.Logf("podman logs %s:\n%s%s", name, logs.stdout, logs.stderr)
		}
	})

	client := &http.Client{Timeout: 2 * time.Second}
	eventually(t, "/readyz answers 200", func() bool {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// The container health check, as the task definition runs it.
	r = pm.run(t, "exec", name, "/fast-autoscaler", "health", "-url", healthURL)
	assert.Equal(t, 0, r.code, "health: %s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "healthy")

	// The process: the numeric non-root user, on a read-only root.
	pid := strings.TrimSpace(pm.run(t, "inspect", "--format", "{{.State.Pid}}", name).stdout)
	ids := procStatus(t, pid)
	want := strconv.Itoa(uid)
	assert.Equal(t, []string{want, want, want, want}, ids["Uid"], "real, effective, saved, fs uid")
	assert.Equal(t, []string{want, want, want, want}, ids["Gid"])
	assert.Equal(t, "ro", rootMountMode(t, pid), "the root filesystem is read-only")

	// Below the threshold: checks, and no update.
	eventually(t, "three status checks", func() bool { return status.requests.Load() >= 3 })
	assert.Empty(t, srv.Calls("UpdateService"), "no update below the threshold")

	// The spike: doubled from the floor, 2 x max(3, 5).
	status.active.Store(500)
	eventually(t, "the desired count raised", func() bool {
		svc, _ := srv.Service("shop", "web")
		return svc.Desired != 3
	})
	svc, _ := srv.Service("shop", "web")
	assert.EqualValues(t, 10, svc.Desired)
	updates := srv.Calls("UpdateService")
	require.Len(t, updates, 1)
	assert.EqualValues(t, 10, updates[0].Params["desiredCount"])
	assert.True(t, status.authOK.Load(), "every status request carried the auth header")
	select {
	case text := <-slack.texts:
		assert.Equal(t, "scaleout web service\n```\nActiveConnections: 500\nDesiredCount(cur): 3\nDesiredCount(new): 10\n```", text)
	case <-time.After(30 * time.Second):
		t.Error("no Slack message within 30s of the scale-out")
	}

	// SIGTERM, as ECS stops a task: podman stop sends it and would SIGKILL
	// after 10 s; the binary exits 0 well within 5.
	begin := time.Now()
	r = pm.run(t, "stop", "--time", "10", name)
	took := time.Since(begin)
	require.Equal(t, 0, r.code, r.stderr)
	t.Logf("podman stop took %v", took.Round(time.Millisecond))
	assert.Less(t, took, 5*time.Second, "stopped within 5 s of SIGTERM")
	code := strings.TrimSpace(pm.run(t, "inspect", "--format", "{{.State.ExitCode}}", name).stdout)
	assert.Equal(t, "0", code, "exit status after SIGTERM")

	logs := pm.run(t, "logs", name)
	require.Equal(t, 0, logs.code, logs.stderr)
	sc := bufio.NewScanner(strings.NewReader(logs.stdout))
	for sc.Scan() {
		assert.True(t, json.Valid(sc.Bytes()), "a log line that is not JSON: %s", sc.Text())
	}
	for _, msg := range []string{`"msg":"config loaded"`, `"msg":"scaled out"`, `"msg":"stopped"`} {
		assert.Contains(t, logs.stdout, msg)
	}
	all := logs.stdout + logs.stderr
	for _, secret := range []string{authValue, webhookPath, "hooks3cret", "T000/B000", awstest.SecretAccessKey} {
		assert.NotContains(t, all, secret, "a secret in podman logs")
	}
}

// statusPage is an nginx stub_status page whose Active count the test sets.
type statusPage struct {
	*httptest.Server
	active   atomic.Int64
	requests atomic.Int64
	authOK   atomic.Bool // every request carried the right auth header
}

func newStatusPage(t *testing.T) *statusPage {
	s := &statusPage{}
	s.active.Store(5)
	s.authOK.Store(true)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Header.Get("Status-Auth-Key") != authValue {
			s.authOK.Store(false)
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "Active connections: %d \nserver accepts handled requests\n 10 10 20 \nReading: 0 Writing: 1 Waiting: 0 \n", s.active.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// slackServer is a Slack incoming webhook passing on each message's text.
type slackServer struct {
	*httptest.Server
	texts chan string
}

func newSlack(t *testing.T) *slackServer {
	s := &slackServer{texts: make(chan string, 10)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		if r.URL.Path != webhookPath || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		select {
		case s.texts <- body.Text:
		default:
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// procStatus returns the fields of /proc/<pid>/status (Uid, Gid, ...): the
// container's process as the host's kernel sees it.
func procStatus(t *testing.T, pid string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	require.NoError(t, err)
	fields := map[string][]string{}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.Fields(v)
		}
	}
	return fields
}

// rootMountMode returns "ro" or "rw": how "/" is mounted in the process's
// mount namespace.
func rootMountMode(t *testing.T, pid string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", pid, "mountinfo"))
	require.NoError(t, err)
	mode := ""
	for line := range strings.Lines(string(b)) {
		// ID parent major:minor root mountpoint options ...
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			mode, _, _ = strings.Cut(f[5], ",") // the last mount on "/" is the one seen
		}
	}
	return mode
}

// eventually polls cond until it holds, failing the test after 30 s: for
// state another process shows only when asked.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		<-tick.C
	}
}
