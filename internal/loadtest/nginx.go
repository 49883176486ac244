package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// nginxConf is the generated configuration: one single-process nginx in the
// foreground, everything it writes inside dir (%[1]s), listening as %[2]s
// says (one listen directive an address: 127.0.0.1, or every task's) with
// room for %[3]d connections. stub_status answers /a/<i> (the binary's
// services) and /p/<i> (the poller's); each request is logged as "<msec>
// <connection> <server address> <uri> <status>", $msec being when the answer
// was sent, in seconds with millisecond resolution, $connection the serial
// number of the connection it came on and $server_addr the address it came
// to (which task, in per-task mode). Connections are kept open for as many
// requests as a run makes, so that any connection churn measured is the
// client's own.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile %[3]d;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections %[3]d; }
http {
    log_format probe '$msec $connection $server_addr $uri $status';
    access_log %[1]s/access.log probe buffer=256k flush=1s;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    server {
%[2]s        location ~ "^/[ap]/[0-9]+$" { stub_status; }
        location / { return 404; }
    }
}
`

// nginx is a running nginx.
type nginx struct {
	addr      string // host:port of the first address it listens on
	port      int    // the port it listens on, at every address
	accessLog string
	errorLog  string
	cmd       *exec.Cmd
	exited    chan error
}

// findNginx returns the nginx binary: path when given, else nginx in PATH,
// else /usr/sbin/nginx (Debian's nginx-light).
func findNginx(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("nginx not found in PATH nor at /usr/sbin/nginx (apt-get install nginx-light), or give -nginx")
}

// listenLines are the listen directives of nginxConf: one for each of
// addrs, at port.
func listenLines(addrs []netip.Addr, port int) string {
	var b strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&b, "        listen %s backlog=4096;\n", netip.AddrPortFrom(a, uint16(port)))
	}
	return b.String()
}

// startNginx runs nginx on a free port of addrs (loopback addresses), its
// files in dir.
func startNginx(bin, dir string, conns int, addrs []netip.Addr) (*nginx, error) {
	var lastErr error
	for range 5 { // another process may take the free port before nginx binds it
		n, err := startNginxOn(bin, dir, conns, addrs)
		if err == nil {
			return n, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("nginx did not start: %w", lastErr)
}

func startNginxOn(bin, dir string, conns int, addrs []netip.Addr) (*nginx, error) {
	l, err := net.Listen("tcp", netip.AddrPortFrom(addrs[0], 0).String())
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, listenLines(addrs, port), conns), 0o600); err != nil {
		return nil, err
	}
	n := &nginx{
		addr:      netip.AddrPortFrom(addrs[0], uint16(port)).String(),
		port:      port,
		accessLog: filepath.Join(dir, "access.log"),
		errorLog:  filepath.Join(dir, "error.log"),
		exited:    make(chan error, 1),
	}
	_ = os.Remove(n.accessLog)
	var stderr bytes.Buffer
	n.cmd = exec.Command(bin, "-p", dir, "-c", conf)
	n.cmd.Stderr = &stderr
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { n.exited <- n.cmd.Wait() }()

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-n.exited:
			log, _ := os.ReadFile(n.errorLog)
			return nil, fmt.Errorf("nginx exited: %v: %s%s", err, stderr.Bytes(), log)
		case <-deadline:
			_ = n.cmd.Process.Kill()
			<-n.exited
			return nil, errors.New("nginx did not listen within 10s")
		case <-tick.C:
			// nginx binds every address before it accepts on any: the
			// first and the last answering is enough.
			if !accepts(n.addr) || !accepts(netip.AddrPortFrom(addrs[len(addrs)-1], uint16(port)).String()) {
				continue
			}
			return n, nil
		}
	}
}

// accepts reports whether a TCP connection to addr opens.
func accepts(addr string) bool {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// stop shuts nginx down gracefully (SIGQUIT), so that it writes out its
// buffered access log, and waits for it (killing it after 10 s).
func (n *nginx) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

// nofile is the most files nginx may open here: the hard RLIMIT_NOFILE,
// less some for its own files.
func nofile() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Max > 1<<20 {
		return 1 << 16
	}
	return int(r.Max) - 64
}
