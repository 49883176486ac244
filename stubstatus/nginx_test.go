package stubstatus

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nginxConf is the generated configuration: one single-process nginx in the
// foreground, everything it writes inside the test's directory (%[1]s),
// listening on 127.0.0.1:%[2]d.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:%[2]d;
        location = /nginx-status { stub_status; }
        location = /auth-status {
            if ($http_status_auth_key != "let-me-in") { return 403; }
            stub_status;
        }
        location = /overloaded { return 503; }
        location / { return 200 "ok\n"; }
    }
}
`

// findNginx returns the nginx binary, or skips the test (fails it when
// FAST_AUTOSCALER_REQUIRE_NGINX=1).
func findNginx(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("nginx"); err == nil {
		return path
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("FAST_AUTOSCALER_REQUIRE_NGINX") == "1" {
		t.Fatal("nginx not found in PATH nor at /usr/sbin/nginx, and FAST_AUTOSCALER_REQUIRE_NGINX=1")
	}
	t.Skip("nginx not found in PATH nor at /usr/sbin/nginx (apt-get install nginx-light); skipping the real-nginx test")
	return ""
}

// startNginx runs nginx on a free loopback port until the test ends and
// returns its address.
func startNginx(t *testing.T) string {
	t.Helper()
	bin := findNginx(t)
	dir := t.TempDir()
	var lastErr error
	for range 5 { // another process may take the free port before nginx binds it
		addr, err := startNginxOn(t, bin, dir)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	t.Fatalf("nginx did not start: %v", lastErr)
	return ""
}

func startNginxOn(t *testing.T, bin, dir string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	conf := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, port), 0o600))
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", conf)
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return "", fmt.Errorf("nginx exited: %v: %s%s", err, stderr.Bytes(), log)
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			return "", errors.New("nginx did not listen within 10s")
		case <-tick.C:
			c, err := net.Dial("tcp", addr)
			if err != nil {
				continue
			}
			_ = c.Close()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return addr, nil
		}
	}
}

// openIdle opens n keep-alive connections to addr, makes one request on each
// and leaves them open until the test ends.
func openIdle(t *testing.T, addr string, n int) {
	t.Helper()
	for range n {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "ok\n", string(body))
		require.False(t, resp.Close, "nginx keeps the connection open")
	}
}

func TestRealNginx(t *testing.T) {
	addr := startNginx(t)
	base := "http://" + addr

	const idle = 20
	openIdle(t, addr, idle)

	src := newSource(t, Options{URL: base + "/nginx-status"})
	st, err := src.Status(t.Context())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, st.Active, uint64(idle+1), "the idle connections and the status request itself")
	assert.GreaterOrEqual(t, st.Waiting, uint64(idle))
	assert.GreaterOrEqual(t, st.Writing, uint64(1), "the status request itself")
	assert.GreaterOrEqual(t, st.Requests, uint64(idle+1))
	assert.GreaterOrEqual(t, st.Accepts, st.Active)

	r, err := src.Read(t.Context())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, r.Value, float64(idle+1))
	assert.False(t, r.Overload)

	busy, err := newSource(t, Options{URL: base + "/nginx-status", Metric: MetricBusy}).Read(t.Context())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, busy.Value, 1.0)
	assert.Less(t, busy.Value, float64(idle), "busy leaves out the idle keep-alive connections")

	over, err := newSource(t, Options{URL: base + "/overloaded"}).Read(t.Context())
	require.NoError(t, err)
	assert.True(t, over.Overload)

	t.Run("auth header", func(t *testing.T) {
		_, err := newSource(t, Options{URL: base + "/auth-status", AuthHeader: "Status-Auth-Key", AuthValue: "let-me-in"}).Read(t.Context())
		require.NoError(t, err)

		_, err = newSource(t, Options{URL: base + "/auth-status", AuthHeader: "Status-Auth-Key", AuthValue: "wrong-s3cret"}).Read(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "403")
		assert.NotContains(t, err.Error(), "wrong-s3cret")

		_, err = newSource(t, Options{URL: base + "/auth-status"}).Read(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "403")
	})
}
