package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// probes answers /healthz, /readyz and /v1/services. Until the engine runs,
// stuck and status are nil: the process is starting, alive but not ready.
type probes struct {
	stuck  atomic.Pointer[func() []scaler.ServiceID]
	status atomic.Pointer[func() []autoscaler.ServiceStatus]
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

// readyz answers 200 once a valid config is loaded and the engine runs,
// listing the blind services (whose last read failed) after "ok", and 503
// when every service is blind: the process then sees nothing it could act
// on. One blind service among others does not make it unready, since it
// still watches the rest (and a restart would not make a status URL answer).
func (p *probes) readyz(w http.ResponseWriter, _ *http.Request) {
	f := p.status.Load()
	if f == nil {
		http.Error(w, "not ready: config not loaded yet", http.StatusServiceUnavailable)
		return
	}
	lines, all := blindLines((*f)(), time.Now())
	if all {
		http.Error(w, "not ready: every service is blind\n"+strings.Join(lines, "\n"), http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
	for _, l := range lines {
		io.WriteString(w, l+"\n")
	}
}

// serve listens on addr and serves /metrics, /healthz, /readyz and
// /v1/services, and with withPprof net/http/pprof's profiles under
// /debug/pprof/. It returns once listening, with the address it listens on
// and a function that shuts the server down and waits for it.
func serve(addr string, reg *prometheus.Registry, p *probes, withPprof bool, log *slog.Logger) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("-listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", p.healthz)
	mux.HandleFunc("GET /readyz", p.readyz)
	mux.HandleFunc("GET "+StatusPath, p.services)
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index) // the named profiles: heap, goroutine, allocs, ...
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
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

// CheckHealth asks a running fast-autoscaler's health endpoint at url. It
// returns the body of a 200 answer, or an error saying why the process is
// not healthy (the status and body of another answer, or no answer).
func CheckHealth(ctx context.Context, target string) (string, error) {
	resp, _, err := get(ctx, "health", target)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}

// get sends a GET to target (what names the endpoint in errors) and returns
// the response and target as errors may show it: with any password in it
// replaced by "xxxxx", as it is in the errors get returns (net/http's quote
// the whole URL).
func get(ctx context.Context, what, target string) (*http.Response, string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, "", fmt.Errorf("%s URL does not parse as a URL", what)
	}
	shown := u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, shown, fmt.Errorf("%s URL %s: %w", what, shown, redactURLError(err, shown))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, shown, redactURLError(err, shown)
	}
	return resp, shown, nil
}

// redactURLError puts shown in place of the URL a *url.Error in err quotes.
func redactURLError(err error, shown string) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		ue.URL = shown
	}
	return err
}
