package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/internal/app"
)

// The environment variables: the seed's, and the parameter path.
const (
	envParamKey  = "AUTOSCALER_PARAMKEY"
	envParamPath = "AUTOSCALER_PARAMPATH"
	envRegion    = "AUTOSCALER_REGION"
)

// gcPercent is the garbage collector's GOGC while running, unless $GOGC
// says otherwise: the heap may grow half again over what is live between
// collections, rather than Go's default of double. What is live is mostly
// per-service state, and a check through stubstatus.Transport allocates
// nothing, so collections are rare; this bounds the heap's growth during
// start-up, reloads, scrapes of /metrics and per-task reads (whose listings
// allocate).
const gcPercent = 50

// defaultHealthURL is what `health` queries: the default -listen address.
const defaultHealthURL = "http://127.0.0.1:9100/healthz"

// environment reads the process environment (injected for tests).
type environment struct{ getenv func(string) string }

func (e environment) get(key string) string { return strings.TrimSpace(e.getenv(key)) }

// common registers the flags run and validate share, and fills o from them
// and the environment.
func common(fs *flag.FlagSet, o *app.Options, env environment) func() error {
	fs.StringVar(&o.ConfigFile, "config", "",
		"read the config from this local `file` instead of SSM Parameter Store ($"+envParamKey+" and $"+envParamPath+" in $"+envRegion+")")
	var path string
	fs.StringVar(&path, "config-path", "",
		"read every SSM parameter under this `path` (each one a config document; their services are merged); overrides $"+envParamPath)
	fs.IntVar(&o.MaxAttempts, "max-attempts", 0,
		"attempts per AWS call, retries included (0: the SDK default, 3, or $AWS_MAX_ATTEMPTS)")
	fs.DurationVar(&o.AWSTimeout, "aws-timeout", app.DefaultAWSTimeout,
		"give up on an AWS call (ECS, SSM, Application Auto Scaling) after this long, its retries included")
	o.ParamKey, o.ParamPath, o.Region = env.get(envParamKey), env.get(envParamPath), env.get(envRegion)
	return func() error {
		if o.MaxAttempts < 0 {
			return fmt.Errorf("-max-attempts must be >= 0, got %d", o.MaxAttempts)
		}
		if o.AWSTimeout <= 0 {
			return fmt.Errorf("-aws-timeout must be > 0, got %v", o.AWSTimeout)
		}
		if path != "" {
			if o.ConfigFile != "" {
				return errors.New("-config and -config-path cannot be used together: -config reads a local file instead of SSM")
			}
			o.ParamPath = path
		}
		if o.ConfigFile == "" && o.ParamPath != "" && !strings.HasPrefix(o.ParamPath, "/") {
			return fmt.Errorf("the SSM parameter path (-config-path or $%s) must start with /, got %q", envParamPath, o.ParamPath)
		}
		return nil
	}
}

// exitCode maps an app error to the exit status: 2 for a config error, 1
// for any other.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, app.ErrInvalidConfig):
		return exitUsage
	}
	return exitFailure
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer, env environment) int {
	var o app.Options
	fs := newFlags("validate", "Usage: fast-autoscaler validate [-config FILE | -config-path PATH] [-max-attempts N] [-aws-timeout D]\n\n"+
		"Checks the config document (or every document under a parameter path) and prints each service's effective settings (secrets redacted).\n"+
		"Exit status 0 when valid, 2 when invalid (every problem is listed), 1 when it cannot be read.", stderr)
	check := common(fs, &o, env)
	if code := parseFlags(fs, args, stderr, check); code >= 0 {
		return code
	}
	err := app.Validate(ctx, o, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler:", err)
	}
	return exitCode(err)
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer, env environment) int {
	var (
		o        app.Options
		logLevel slog.Level
	)
	fs := newFlags("run", "Usage: fast-autoscaler run [-config FILE | -config-path PATH] [-dry-run] [-listen ADDR] [-pprof] [-reload-interval D] [-log-level LEVEL] [-max-attempts N]\n"+
		"                           [-aws-timeout D] [-metrics-format prometheus|emf] [-emf-interval D]\n\n"+
		"Watches every configured service and scales it out when its load crosses the threshold.\n"+
		"Logs are JSON lines on stdout. SIGHUP reloads the config; SIGTERM or SIGINT stops it (exit 0).", stderr)
	check := common(fs, &o, env)
	fs.BoolVar(&o.DryRun, "dry-run", false, "read real state from ECS but make no update; log the update that would be made")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.StringVar(&o.Listen, "listen", ":9100", "serve /metrics, /healthz, /readyz and /v1/services on this `address`; empty turns it off")
	fs.BoolVar(&o.Pprof, "pprof", false, "also serve Go's runtime profiles under /debug/pprof/ on -listen (for go tool pprof; keep -listen private)")
	fs.DurationVar(&o.ReloadInterval, "reload-interval", time.Minute, "read the config again this often; 0 turns it off (SIGHUP still reloads)")
	fs.StringVar(&o.MetricsFormat, "metrics-format", app.MetricsPrometheus,
		"`format` of the metrics besides /metrics: prometheus (none besides), or emf (also CloudWatch Embedded Metric Format lines on stdout)")
	fs.DurationVar(&o.EMFInterval, "emf-interval", time.Minute, "with -metrics-format emf, write the EMF lines this often")
	if code := parseFlags(fs, args, stderr, check, func() error {
		if o.ReloadInterval < 0 {
			return fmt.Errorf("-reload-interval must be >= 0, got %v", o.ReloadInterval)
		}
		if o.MetricsFormat != app.MetricsPrometheus && o.MetricsFormat != app.MetricsEMF {
			return fmt.Errorf("-metrics-format must be %s or %s, got %q", app.MetricsPrometheus, app.MetricsEMF, o.MetricsFormat)
		}
		if o.EMFInterval < time.Second {
			return fmt.Errorf("-emf-interval must be at least 1s, got %v", o.EMFInterval)
		}
		return nil
	}); code >= 0 {
		return code
	}
	if env.get("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	o.Logger = slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: logLevel}))
	o.EMFOutput = stdout // the log stream: awslogs ships it, CloudWatch Logs extracts the metrics
	o.Stderr = stderr
	o.Version = buildVersion()

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan string)
	o.Reload = reload
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- "SIGHUP":
				case <-ctx.Done():
					return
				}
			}
		}
	}()

	return exitCode(app.Run(ctx, o))
}

// cmdHealth queries a running fast-autoscaler's /healthz: exit 0 when it
// answers 200, 1 otherwise. It is the container's health check, so the image
// needs no curl.
func cmdHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		target  string
		timeout time.Duration
	)
	fs := newFlags("health", "Usage: fast-autoscaler health [-url URL] [-timeout D]\n\n"+
		"Queries a running fast-autoscaler's health endpoint: exit 0 when it answers 200, 1 otherwise.", stderr)
	fs.StringVar(&target, "url", defaultHealthURL, "health endpoint `URL`")
	fs.DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	if code := parseFlags(fs, args, stderr, func() error {
		if timeout <= 0 {
			return fmt.Errorf("-timeout must be > 0, got %v", timeout)
		}
		return checkEndpointURL(target)
	}); code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := app.CheckHealth(ctx, target)
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler health: unhealthy:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "healthy: %s\n", body)
	return exitOK
}
