// Package nginxtest starts real nginx processes for tests: each a single
// foreground process with a generated configuration, everything it writes
// inside the test's temporary directory, listening on one loopback address.
// Several can share a port on different loopback addresses (127.0.0.2,
// 127.0.0.3, ...), the way a service's tasks share a port on their own IPs.
//
// A test that needs nginx and cannot find it is skipped with a message,
// unless FAST_AUTOSCALER_REQUIRE_NGINX=1 is set: then it fails.
package nginxtest

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
	"strconv"
	"sync"
	"testing"
	"time"
)

// conf is the generated configuration: %[1]s is the directory, %[2]s the
// listen address (ip:port).
const conf = `daemon off;
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
        listen %[2]s;
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

// Nginx is one running nginx.
type Nginx struct {
	// Addr is where it listens, "ip:port"; IP and Port are its parts.
	Addr string
	IP   string
	Port int

	cmd    *exec.Cmd
	exited chan error
	once   sync.Once
}

// Find returns the nginx binary, or skips the test (fails it when
// FAST_AUTOSCALER_REQUIRE_NGINX=1).
func Find(t testing.TB) string {
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

// Start runs one nginx on a free port of 127.0.0.1 until the test ends.
func Start(t testing.TB) *Nginx {
	t.Helper()
	return StartGroup(t, "127.0.0.1")[0]
}

// StartGroup runs one nginx on each of the loopback addresses ips, all on
// one free port, until the test ends (or each one's Stop).
func StartGroup(t testing.TB, ips ...string) []*Nginx {
	t.Helper()
	bin := Find(t)
	var lastErr error
	for range 5 { // another process may take the free port before nginx binds it
		port, err := FreePort(ips...)
		if err != nil {
			t.Fatalf("no free port on %v: %v", ips, err)
		}
		group := make([]*Nginx, 0, len(ips))
		for _, ip := range ips {
			n, err := start(bin, t.TempDir(), net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				lastErr = err
				break
			}
			group = append(group, n)
		}
		if len(group) == len(ips) {
			for _, n := range group {
				t.Cleanup(n.Stop)
			}
			return group
		}
		for _, n := range group {
			n.Stop()
		}
	}
	t.Fatalf("nginx did not start: %v", lastErr)
	return nil
}

// FreePort returns a TCP port free on every one of ips at the time of the
// call.
func FreePort(ips ...string) (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		free := true
		for _, ip := range ips[1:] {
			o, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				free = false
				break
			}
			o.Close()
		}
		l.Close()
		if free {
			return port, nil
		}
	}
	return 0, errors.New("every port tried was taken on one of the addresses")
}

func start(bin, dir, addr string) (*Nginx, error) {
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, fmt.Appendf(nil, conf, dir, addr), 0o600); err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", path)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return nil, fmt.Errorf("nginx on %s exited: %v: %s%s", addr, err, stderr.Bytes(), log)
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("nginx did not listen on %s within 10s", addr)
		case <-tick.C:
			c, err := net.Dial("tcp", addr)
			if err != nil {
				continue
			}
			_ = c.Close()
			host, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			return &Nginx{Addr: addr, IP: host, Port: p, cmd: cmd, exited: exited}, nil
		}
	}
}

// Stop kills nginx and waits for it to exit: its address then refuses
// connections, as a stopped task's does. It is safe to call twice.
func (n *Nginx) Stop() {
	n.once.Do(func() {
		_ = n.cmd.Process.Kill()
		<-n.exited
	})
}

// OpenIdle opens n keep-alive connections to addr, makes one request on
// each and leaves them open, idle, until the test ends: nginx counts each
// in Active connections and Waiting.
func OpenIdle(t testing.TB, addr string, n int) {
	t.Helper()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		switch {
		case err != nil:
			t.Fatal(err)
		case resp.StatusCode != http.StatusOK || string(body) != "ok\n":
			t.Fatalf("GET / on %s: %d %q", addr, resp.StatusCode, body)
		case resp.Close:
			t.Fatalf("nginx on %s closed the keep-alive connection", addr)
		}
	}
}
