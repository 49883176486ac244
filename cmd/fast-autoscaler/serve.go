package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// defaultHealthURL is what `health` queries: the default -listen address.
const defaultHealthURL = "http://127.0.0.1:9100/healthz"

// probes answers /healthz and /readyz. Until the engine runs, stuck is nil:
// the process is starting, alive but not ready.
type probes struct {
	stuck atomic.Pointer[func() []scaler.Service]
}

// healthz answers 200 while every watcher's loop is alive, 503 naming the
// stuck ones otherwise.
func (p *probes) healthz(w http.ResponseWriter, _ *http.Request) {
	if f := p.stuck.Load(); f != nil {
		if stuck := (*f)(); len(stuck) > 0 {
			names := make([]string, len(stuck))
			for i, s := range stuck {
				names[i] = s.String()
			}
			http.Error(w, "stuck: "+strings.Join(names, ", "), http.StatusServiceUnavailable)
			return
		}
	}
	io.WriteString(w, "ok\n")
}

// readyz answers 200 once a valid config is loaded and the engine runs.
func (p *probes) readyz(w http.ResponseWriter, _ *http.Request) {
	if p.stuck.Load() == nil {
		http.Error(w, "not ready: config not loaded yet", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

// serve listens on addr and serves /metrics, /healthz and /readyz. It
// returns once listening, with the address it listens on and a function that
// shuts the server down and waits for it.
func serve(addr string, reg *prometheus.Registry, p *probes, log *slog.Logger) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("-listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", p.healthz)
	mux.HandleFunc("GET /readyz", p.readyz)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics and health server failed", "error", err.Error())
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
	return ln.Addr(), stop, nil
}

// cmdHealth queries a running fast-autoscaler's /healthz: exit 0 when it
// answers 200, 1 otherwise. It is the container's health check, so the image
// needs no curl.
func cmdHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		url     string
		timeout time.Duration
	)
	fs := newFlags("health", "Usage: fast-autoscaler health [-url URL] [-timeout D]\n\n"+
		"Queries a running fast-autoscaler's health endpoint: exit 0 when it answers 200, 1 otherwise.", stderr)
	fs.StringVar(&url, "url", defaultHealthURL, "health endpoint `URL`")
	fs.DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	if code := parseFlags(fs, args, stderr, func() error {
		if timeout <= 0 {
			return fmt.Errorf("-timeout must be > 0, got %v", timeout)
		}
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			return fmt.Errorf("-url must be an http or https URL, got %q", url)
		}
		return nil
	}); code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler health:", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler health: unhealthy:", err)
		return exitFailure
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "fast-autoscaler health: unhealthy: %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return exitFailure
	}
	fmt.Fprintf(stdout, "healthy: %s\n", strings.TrimSpace(string(body)))
	return exitOK
}
