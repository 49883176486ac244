package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
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
	)
	fs := newFlags("run", "Usage: fast-autoscaler run [-config FILE] [-dry-run] [-log-level LEVEL] [-max-attempts N]\n\n"+
		"Watches every configured service and scales it out when its load crosses the threshold.\n"+
		"Logs are JSON lines on stdout. SIGTERM or SIGINT stops it (exit 0).", stderr)
	c.register(fs)
	fs.BoolVar(&dryRun, "dry-run", false, "read real state from ECS but make no update; log the update that would be made")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	if code := parseFlags(fs, args, stderr, c.validate); code >= 0 {
		return code
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: logLevel}))

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// AWS is needed for ECS always, and for the config unless -config is given.
	awsCfg, err := c.awsConfig(ctx, env)
	if err != nil {
		log.Error("start-up failed", "error", err.Error())
		return exitFailure
	}
	src, err := c.source(env, func() (aws.Config, error) { return awsCfg, nil })
	if err != nil {
		log.Error("start-up failed", "error", err.Error())
		return exitFailure
	}
	cfg, code := loadConfig(ctx, src, stderr)
	if cfg == nil {
		log.Error("config not loaded", "source", configsrc.Describe(src))
		return code
	}
	log.Info("config loaded", "source", configsrc.Describe(src), "services", len(cfg.Services), "dry_run", dryRun)

	var sc scaler.Scaler = scaler.NewECS(ecs.NewFromConfig(awsCfg))
	if dryRun {
		sc = scaler.NewDryRun(sc, log)
	}
	w, err := wire(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler run:", err)
		return exitUsage
	}
	for _, s := range cfg.Services {
		log.Info("watching", "service", s.EcsServiceName, "cluster", s.EcsClusterName, "settings", s)
		preflight(ctx, log, sc, s)
	}
	eng, err := autoscaler.New(w.services, autoscaler.Options{Scaler: sc, Logger: log, ShutdownGrace: shutdownGrace})
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler run:", err)
		return exitUsage
	}
	if err := eng.Run(ctx); err != nil {
		log.Error("engine stopped", "error", err.Error())
		return exitFailure
	}
	log.Info("stopping: flushing notifications")
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushBudget)
	defer cancel()
	w.close(flushCtx, log)
	log.Info("stopped")
	return exitOK
}

// preflight reads a service's state once at start-up so a wrong name or a
// missing permission shows in the first lines of the log, not at the first
// spike. It only logs.
func preflight(ctx context.Context, log *slog.Logger, sc scaler.Scaler, s configsrc.ServiceConfig) {
	st, err := sc.State(ctx, scaler.Service{Cluster: s.EcsClusterName, Name: s.EcsServiceName})
	if err != nil {
		log.Warn("service not readable: scale-outs will fail until this is fixed",
			"service", s.EcsServiceName, "cluster", s.EcsClusterName, "error", err.Error())
		return
	}
	log.Info("service state", "service", s.EcsServiceName, "cluster", s.EcsClusterName,
		"desired_cur", st.Desired, "running", st.Running, "pending", st.Pending, "status", st.Status)
}

// wiring is the engine's services plus what must be closed at shutdown.
type wiring struct {
	services []autoscaler.Service
	slacks   []*notify.Slack
}

// wire turns the config into engine services: one stub_status source each,
// sharing one HTTP transport per TLS mode, and one Slack notifier per
// distinct webhook URL.
func wire(cfg *configsrc.Config, log *slog.Logger) (*wiring, error) {
	clients := map[bool]*http.Client{} // by StatusTLSVerify
	slacks := map[string]*notify.Slack{}
	w := &wiring{}
	for i, s := range cfg.Services {
		client, ok := clients[s.StatusTLSVerify]
		if !ok {
			client = &http.Client{Transport: stubstatus.NewTransport(s.StatusTLSVerify)}
			clients[s.StatusTLSVerify] = client
		}
		src, err := stubstatus.New(stubstatus.Options{
			URL:        s.StatusURL,
			AuthHeader: s.StatusAuthName,
			AuthValue:  s.StatusAuthValue.Reveal(),
			Metric:     stubstatus.Metric(s.StatusMetric),
			Timeout:    s.StatusTimeout,
			Client:     client,
		})
		if err != nil {
			return nil, fmt.Errorf("Services[%d] (%s): %w", i, s.Name(), err)
		}
		svc := autoscaler.Service{Cluster: s.EcsClusterName, Name: s.EcsServiceName, Source: src, Policy: s.Policy}
		if url := s.SlackWebhookURL.Reveal(); url != "" {
			sl, ok := slacks[url]
			if !ok {
				sl, err = notify.NewSlack(url, notify.SlackOptions{Logger: log})
				if err != nil {
					return nil, fmt.Errorf("Services[%d] (%s): SlackWebhookUrl: %w", i, s.Name(), err)
				}
				slacks[url] = sl
				w.slacks = append(w.slacks, sl)
			}
			svc.Notifier = sl
		}
		w.services = append(w.services, svc)
	}
	return w, nil
}

// close flushes and stops every notifier within ctx's deadline.
func (w *wiring) close(ctx context.Context, log *slog.Logger) {
	for _, sl := range w.slacks {
		if err := sl.Close(ctx); err != nil {
			log.Warn("notifications not all delivered", "notifier", sl.String(), "error", err.Error())
		}
	}
}
