// Command embedded shows an existing Go HTTP service embedding the engine:
// the service keeps its own http.ServeMux and "/" handler, tells its own
// notifier (a notify.NotifierFunc logging with the service's logger) about
// scale-outs, registers the engine's metrics in its own Prometheus registry,
// and serves them on its own "/metrics", with a "/healthz" that answers 503
// when a watcher's loop is stuck.
//
// The demo listens on 127.0.0.1 (a free port), lets a scale-out happen
// against an in-memory scaler, fetches its own /metrics and /healthz, prints
// what it found, shuts down gracefully and exits:
//
//	go run ./examples/embedded
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// newMux is the service's own routing: its "/" handler, plus the engine's
// metrics and health.
func newMux(reg *prometheus.Registry, eng *autoscaler.Engine) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "hello from the shop")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		// The engine runs on the real clock here; with an injected clock,
		// ask with that clock's Now.
		if stuck := eng.Stuck(time.Now()); len(stuck) > 0 {
			http.Error(w, fmt.Sprintf("stuck: %v", stuck), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// run is the demo: the service starts, prod/web gets a spike, the service
// reads its own endpoints and stops.
func run(ctx context.Context, out io.Writer) error {
	// While the engine runs, only the notifier writes to out.
	logger := slog.New(slog.NewTextHandler(out, nil))

	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Options{Registerer: reg, Version: "example"})
	if err != nil {
		return err
	}
	// Wait for the check that scaled out to be observed (and so counted in
	// the metrics) before reading /metrics.
	scaled := make(chan struct{}, 1)
	observer := autoscaler.ObserverFunc(func(svc scaler.ServiceID, c autoscaler.Check, took time.Duration) {
		m.Observe(svc, c, took)
		if c.Outcome == autoscaler.ScaledOut {
			select {
			case scaled <- struct{}{}:
			default:
			}
		}
	})

	web := scaler.ServiceID{Cluster: "prod", Name: "web"}
	mem := scaler.NewMemory()
	mem.Put(web, scaler.State{Desired: 3, Running: 3})
	policy := autoscaler.DefaultPolicy()
	policy.CheckInterval = 100 * time.Millisecond
	eng, err := autoscaler.New([]autoscaler.Service{{
		Cluster: web.Cluster, Name: web.Name, Policy: policy,
		Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
			return autoscaler.Reading{Value: 420}, nil // a spike: over the threshold of 150
		}),
		Notifier: notify.NotifierFunc(func(ctx context.Context, ev notify.Event) error {
			logger.LogAttrs(ctx, slog.LevelInfo, "autoscaler event", slog.String("event", ev.Kind.String()),
				slog.String("service", ev.Cluster+"/"+ev.Service),
				slog.Int("from", ev.DesiredCur), slog.Int("to", ev.DesiredNew))
			return nil
		}),
	}}, autoscaler.Options{Scaler: mem, Observer: observer})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: newMux(reg, eng), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "service listening on %s\n", base)

	engCtx, stopEngine := context.WithCancel(ctx)
	defer stopEngine()
	ran := make(chan error, 1)
	go func() { ran <- eng.Run(engCtx) }()

	var report []string
	select {
	case <-scaled:
		report, err = fetchReport(ctx, base)
	case <-ctx.Done():
		err = fmt.Errorf("no scale-out happened: %w", ctx.Err())
	}

	// Graceful shutdown: stop serving, then stop the engine.
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(shutCtx))
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	stopEngine()
	err = errors.Join(err, <-ran)
	if err != nil {
		return err
	}
	for _, line := range report {
		fmt.Fprintln(out, line)
	}
	fmt.Fprintln(out, "shut down")
	return nil
}

// fetchReport reads the service's own /metrics (keeping the scale-out
// counters) and /healthz.
func fetchReport(ctx context.Context, base string) ([]string, error) {
	var lines []string
	body, status, err := get(ctx, base+"/metrics")
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "fast_autoscaler_scaleouts_total{") {
			lines = append(lines, "GET /metrics: "+sc.Text())
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("GET /metrics (HTTP %d): no fast_autoscaler_scaleouts_total series", status)
	}
	body, status, err = get(ctx, base+"/healthz")
	if err != nil {
		return nil, err
	}
	return append(lines, fmt.Sprintf("GET /healthz: %d %s", status, strings.TrimSpace(body))), nil
}

func get(ctx context.Context, url string) (body string, status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("GET %s: %w", url, err)
	}
	return string(b), resp.StatusCode, nil
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embedded:", err)
		os.Exit(1)
	}
}
