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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// The environment variables of the seed, and their defaults.
const (
	envParamKey     = "AUTOSCALER_PARAMKEY"
	envRegion       = "AUTOSCALER_REGION"
	defaultParamKey = "/ecs/fast-autoscaler/config.json"
	defaultRegion   = "ap-northeast-1"
)

// Shutdown budget: ECS waits 30 s by default before SIGKILL; we aim to be out
// in well under 5 s.
const (
	shutdownGrace = 2 * time.Second // a check in flight may finish within this
	flushBudget   = 2 * time.Second // queued notifications may go out within this
)

// environment reads the process environment (injected for tests).
type environment struct{ getenv func(string) string }

func (e environment) get(key, def string) string {
	if v := strings.TrimSpace(e.getenv(key)); v != "" {
		return v
	}
	return def
}

// common holds the flags run and validate share.
type common struct {
	configFile  string
	maxAttempts int
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "",
		"read the config from this local `file` instead of SSM Parameter Store ($"+envParamKey+" in $"+envRegion+")")
	fs.IntVar(&c.maxAttempts, "max-attempts", 0,
		"attempts per AWS call, retries included (0: the SDK default, 3, or $AWS_MAX_ATTEMPTS)")
}

func (c *common) validate() error {
	if c.maxAttempts < 0 {
		return fmt.Errorf("-max-attempts must be >= 0, got %d", c.maxAttempts)
	}
	return nil
}

// awsConfig loads the standard AWS configuration chain in the region the seed
// names ($AUTOSCALER_REGION, default ap-northeast-1).
func (c *common) awsConfig(ctx context.Context, env environment) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(env.get(envRegion, defaultRegion))}
	if c.maxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(c.maxAttempts))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// source returns where the config comes from: the -config file, or the SSM
// parameter. getAWS is called only when SSM is needed.
func (c *common) source(env environment, getAWS func() (aws.Config, error)) (configsrc.Source, error) {
	if c.configFile != "" {
		return configsrc.File{Path: c.configFile}, nil
	}
	awsCfg, err := getAWS()
	if err != nil {
		return nil, err
	}
	return configsrc.NewSSM(ssm.NewFromConfig(awsCfg), env.get(envParamKey, defaultParamKey), awsCfg.Region), nil
}

// loadConfig loads and validates the config, printing what is wrong to stderr.
// The int is the exit status to end with when the error is not nil.
func loadConfig(ctx context.Context, src configsrc.Source, stderr io.Writer) (*configsrc.Config, int) {
	cfg, err := configsrc.Load(ctx, src)
	if err == nil {
		return cfg, exitOK
	}
	fmt.Fprintln(stderr, "fast-autoscaler:", err)
	if _, invalid := errors.AsType[*configsrc.ValidationError](err); invalid {
		return nil, exitUsage
	}
	return nil, exitFailure
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer, env environment) int {
	var c common
	fs := newFlags("validate", "Usage: fast-autoscaler validate [-config FILE] [-max-attempts N]\n\n"+
		"Checks the config document and prints each service's effective settings (secrets redacted).\n"+
		"Exit status 0 when valid, 2 when invalid (every problem is listed), 1 when it cannot be read.", stderr)
	c.register(fs)
	if code := parseFlags(fs, args, stderr, c.validate); code >= 0 {
		return code
	}
	src, err := c.source(env, func() (aws.Config, error) { return c.awsConfig(ctx, env) })
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler validate:", err)
		return exitFailure
	}
	cfg, code := loadConfig(ctx, src, stderr)
	if cfg == nil {
		return code
	}
	fmt.Fprintf(stdout, "%s: valid, %d service(s)\n", configsrc.Describe(src), len(cfg.Services))
	for i, s := range cfg.Services {
		fmt.Fprintf(stdout, "\nServices[%d] (%s)\n", i, s.Name())
		for _, a := range s.LogValue().Group() {
			fmt.Fprintf(stdout, "  %-19s %s\n", a.Key, a.Value)
		}
	}
	return exitOK
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer, env environment) int {
	var (
		c        common
		dryRun   bool
		logLevel slog.Level
		listen   string
		reload   time.Duration
	)
	fs := newFlags("run", "Usage: fast-autoscaler run [-config FILE] [-dry-run] [-listen ADDR] [-reload-interval D] [-log-level LEVEL] [-max-attempts N]\n\n"+
		"Watches every configured service and scales it out when its load crosses the threshold.\n"+
		"Logs are JSON lines on stdout. SIGHUP reloads the config; SIGTERM or SIGINT stops it (exit 0).", stderr)
	c.register(fs)
	fs.BoolVar(&dryRun, "dry-run", false, "read real state from ECS but make no update; log the update that would be made")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.StringVar(&listen, "listen", ":9100", "serve /metrics, /healthz and /readyz on this `address`; empty turns it off")
	fs.DurationVar(&reload, "reload-interval", time.Minute, "read the config again this often; 0 turns it off (SIGHUP still reloads)")
	if code := parseFlags(fs, args, stderr, c.validate, func() error {
		if reload < 0 {
			return fmt.Errorf("-reload-interval must be >= 0, got %v", reload)
		}
		return nil
	}); code >= 0 {
		return code
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: logLevel}))

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(metrics.Options{Registerer: reg, Version: buildVersion()})
	if err != nil {
		log.Error("start-up failed", "error", err.Error())
		return exitFailure
	}
	probes := &probes{}
	if listen != "" {
		addr, stopServer, err := serve(listen, reg, probes, log)
		if err != nil {
			fmt.Fprintln(stderr, "fast-autoscaler run:", err)
			return exitFailure
		}
		defer stopServer()
		log.Info("listening", "addr", addr.String(), "paths", "/metrics /healthz /readyz")
	}

	// AWS is needed for ECS always, and for the config unless -config is given.
	awsCfg, err := c.awsConfig(ctx, env)
	if err != nil {
		log.Error("start-up failed", "error", err.Error())
		return exitFailure
	}
	awsCfg.APIOptions = append(awsCfg.APIOptions, m.AWSMiddleware)
	src, err := c.source(env, func() (aws.Config, error) { return awsCfg, nil })
	if err != nil {
		log.Error("start-up failed", "error", err.Error())
		return exitFailure
	}
	cfg, code := loadConfig(ctx, src, stderr)
	if cfg == nil {
		if ctx.Err() != nil {
			log.Info("stopped before the config was loaded")
			return exitOK
		}
		log.Error("config not loaded", "source", configsrc.Describe(src))
		return code
	}
	log.Info("config loaded", "source", configsrc.Describe(src), "services", len(cfg.Services), "dry_run", dryRun)

	var sc scaler.Scaler = scaler.NewECS(ecs.NewFromConfig(awsCfg))
	if dryRun {
		sc = scaler.NewDryRun(sc, log)
	}
	if dryRun {
		log.Info("dry run: no desired count is changed and Slack is not told")
	}
	wr := newWirer(log, m, dryRun)
	p, err := wr.wire(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler run:", err)
		return exitUsage
	}
	eng, err := autoscaler.New(p.services, autoscaler.Options{Scaler: sc, Logger: log, Observer: m, ShutdownGrace: shutdownGrace})
	if err != nil {
		wr.discard(ctx, p)
		fmt.Fprintln(stderr, "fast-autoscaler run:", err)
		return exitUsage
	}
	wr.apply(ctx, p)
	for _, s := range cfg.Services {
		log.Info("watching", "service", s.EcsServiceName, "cluster", s.EcsClusterName, "settings", s)
	}
	defer preflight(ctx, log, sc, cfg.Services)()

	r := &reloader{src: src, eng: eng, wr: wr, metrics: m, log: log, sc: sc}
	reloaded := make(chan struct{})
	go func() { defer close(reloaded); r.loop(ctx, reload, hup) }()
	stuck := func() []scaler.Service { return eng.Stuck(time.Now()) }
	probes.stuck.Store(&stuck)
	log.Info("ready", "services", len(cfg.Services))

	if err := eng.Run(ctx); err != nil {
		log.Error("engine stopped", "error", err.Error())
		return exitFailure
	}
	<-reloaded
	log.Info("stopping: flushing notifications")
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushBudget)
	defer cancel()
	wr.close(flushCtx)
	log.Info("stopped")
	return exitOK
}

// reloader reads the config again on a timer and on SIGHUP, and applies it
// to the running engine.
type reloader struct {
	src     configsrc.Source
	eng     *autoscaler.Engine
	wr      *wirer
	metrics *metrics.Metrics
	log     *slog.Logger
	sc      scaler.Scaler
}

// loop reloads every interval (never when 0) and on each SIGHUP, until ctx
// is done.
func (r *reloader) loop(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			r.reload(ctx, "interval")
		case <-hup:
			r.reload(ctx, "SIGHUP")
		}
	}
}

// reload applies a valid new config service by service; an invalid one is
// logged and notified with every problem, and the last good one keeps
// running.
func (r *reloader) reload(ctx context.Context, reason string) {
	source := configsrc.Describe(r.src)
	cfg, err := configsrc.Load(ctx, r.src)
	var p *plan
	if err == nil {
		p, err = r.wr.wire(cfg)
	}
	if err == nil {
		if err = r.eng.Update(p.services); err != nil {
			r.wr.discard(ctx, p)
		}
	}
	if err != nil && ctx.Err() != nil {
		return // stopping: a reload cut short is no failure
	}
	if err != nil {
		if _, invalid := errors.AsType[*configsrc.ValidationError](err); !invalid && cfg == nil {
			r.metrics.ConfigReload("error")
			r.log.Error("config reload failed; the last good config keeps running", "source", source, "reason", reason, "error", err.Error())
			return
		}
		r.metrics.ConfigReload("invalid")
		r.log.Error("config reload rejected; the last good config keeps running", "source", source, "reason", reason, "error", err.Error())
		r.wr.notifyAll(ctx, notify.Event{Kind: notify.ConfigRejected, Time: time.Now(), Err: err})
		return
	}
	before := r.wr.current
	added, changed, removed := r.wr.apply(ctx, p)
	r.metrics.ConfigReload("ok")
	if added+changed+removed == 0 {
		r.log.Debug("config unchanged", "source", source, "reason", reason)
		return
	}
	r.log.Info("config reloaded", "source", source, "reason", reason, "services", len(cfg.Services),
		"added", added, "changed", changed, "removed", removed)
	var fresh []configsrc.ServiceConfig
	for _, s := range cfg.Services {
		if old, ok := before[scaler.Service{Cluster: s.EcsClusterName, Name: s.EcsServiceName}]; !ok || old.cfg != s {
			r.log.Info("watching", "service", s.EcsServiceName, "cluster", s.EcsClusterName, "settings", s)
			fresh = append(fresh, s)
		}
	}
	preflight(ctx, r.log, r.sc, fresh)()
}

// preflightTimeout bounds the start-up read of each service's state.
const preflightTimeout = 10 * time.Second

// preflight reads each service's state once, all at once and off the
// engine's path, so a wrong name or a missing permission shows in the first
// lines of the log rather than at the first spike. It only logs. The
// function it returns waits for the reads to end.
func preflight(ctx context.Context, log *slog.Logger, sc scaler.Scaler, services []configsrc.ServiceConfig) (wait func()) {
	ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Go(func() {
			st, err := sc.State(ctx, scaler.Service{Cluster: s.EcsClusterName, Name: s.EcsServiceName})
			if err != nil {
				log.Warn("service not readable: scale-outs will fail until this is fixed",
					"service", s.EcsServiceName, "cluster", s.EcsClusterName, "error", err.Error())
				return
			}
			log.Info("service state", "service", s.EcsServiceName, "cluster", s.EcsClusterName,
				"desired_cur", st.Desired, "running", st.Running, "pending", st.Pending, "status", st.Status)
		})
	}
	return func() { wg.Wait(); cancel() }
}
