// Package app is the fast-autoscaler application: it builds the engine from
// a configuration document (the ECS scaler, nginx sources, Slack notifiers,
// Prometheus metrics), runs it, reloads the document on a timer and on
// demand, serves health and metrics, and shuts down within ECS's stop
// timeout. The binary in cmd/fast-autoscaler only parses flags and the
// environment into Options and maps Run's error to an exit status.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc/ssm"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler/ecs"
)

// The seed's defaults for where the configuration lives.
const (
	DefaultParamKey = "/ecs/fast-autoscaler/config.json"
	DefaultRegion   = "ap-northeast-1"
)

// Shutdown budget: ECS waits 30 s by default before SIGKILL; the process aims
// to be out in well under 5 s.
const (
	shutdownGrace = 2 * time.Second // a check in flight may finish within this
	flushBudget   = 2 * time.Second // queued notifications may go out within this
)

// ErrInvalidConfig marks an error caused by the configuration document
// itself (the binary exits 2 on it); other errors are runtime failures.
var ErrInvalidConfig = errors.New("invalid configuration")

// Options configure Run and Validate. The zero value reads the seed's SSM
// parameter in the seed's region and serves nothing.
type Options struct {
	// ConfigFile, when set, is a local file to read the document from
	// instead of SSM Parameter Store.
	ConfigFile string
	// ParamKey is the SSM parameter holding the document. Default
	// DefaultParamKey.
	ParamKey string
	// Region is the AWS region of ECS and SSM. Default DefaultRegion.
	Region string
	// MaxAttempts is the attempts per AWS call, retries included; 0 keeps
	// the SDK's default (3, or $AWS_MAX_ATTEMPTS).
	MaxAttempts int
	// AWS, when set, is the AWS configuration to use instead of loading the
	// standard chain (Region and MaxAttempts are then not applied). Tests and
	// embedders with their own credentials set it.
	AWS *aws.Config
	// DryRun reads real state from ECS but makes no update and tells Slack
	// nothing.
	DryRun bool
	// Listen is the address to serve /metrics, /healthz and /readyz on;
	// empty serves nothing.
	Listen string
	// ReloadInterval is how often the document is read again; 0 never
	// (Reload still works).
	ReloadInterval time.Duration
	// Reload triggers a reload each time it receives; the value is the
	// reason logged ("SIGHUP" in the binary). May be nil.
	Reload <-chan string
	// Logger receives the application's structured logs. Default: discarded.
	Logger *slog.Logger
	// Stderr receives a configuration error in full, as a person reads it.
	// Default: discarded.
	Stderr io.Writer
	// Version is reported by fast_autoscaler_build_info. Default "devel".
	Version string
	// Ready, when set, is called once with the address the server listens
	// on (nil when Listen is empty) as soon as the engine runs. Tests use it.
	Ready func(addr string)
}

func (o *Options) defaults() {
	if o.ParamKey == "" {
		o.ParamKey = DefaultParamKey
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
}

// awsConfig loads the standard AWS configuration chain in o.Region.
func (o *Options) awsConfig(ctx context.Context) (aws.Config, error) {
	if o.AWS != nil {
		return o.AWS.Copy(), nil
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(o.Region)}
	if o.MaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(o.MaxAttempts))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// source returns where the document comes from: the file, or the SSM
// parameter. getAWS is called only when SSM is needed.
func (o *Options) source(getAWS func() (aws.Config, error)) (configsrc.Source, error) {
	if o.ConfigFile != "" {
		return configsrc.File{Path: o.ConfigFile}, nil
	}
	awsCfg, err := getAWS()
	if err != nil {
		return nil, err
	}
	return ssm.NewParameter(awsssm.NewFromConfig(awsCfg), o.ParamKey, awsCfg.Region), nil
}

// configError marks err as caused by the document: it matches
// ErrInvalidConfig with errors.Is and reads exactly as err.
type configError struct{ err error }

func (e configError) Error() string        { return e.err.Error() }
func (e configError) Unwrap() error        { return e.err }
func (e configError) Is(target error) bool { return target == ErrInvalidConfig }

// load loads and validates the document; a validation failure matches
// ErrInvalidConfig.
func load(ctx context.Context, src configsrc.Source) (*configsrc.Config, error) {
	cfg, err := configsrc.Load(ctx, src)
	if _, invalid := errors.AsType[*configsrc.ValidationError](err); invalid {
		return nil, configError{err}
	}
	return cfg, err
}

// Validate loads the document and writes each service's effective settings
// (secrets redacted) to w. Its error wraps ErrInvalidConfig when the
// document is invalid.
func Validate(ctx context.Context, opts Options, w io.Writer) error {
	opts.defaults()
	src, err := opts.source(func() (aws.Config, error) { return opts.awsConfig(ctx) })
	if err != nil {
		return err
	}
	cfg, err := load(ctx, src)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: valid, %d service(s)\n", configsrc.Describe(src), len(cfg.Services))
	for i, s := range cfg.Services {
		fmt.Fprintf(w, "\nServices[%d] (%s)\n", i, s.Name())
		for _, a := range s.LogValue().Group() {
			fmt.Fprintf(w, "  %-19s %s\n", a.Key, a.Value)
		}
	}
	return nil
}

// Run watches every configured service until ctx is cancelled, then stops
// within a few seconds and returns nil. Start-up failures are returned (an
// invalid document wraps ErrInvalidConfig, and its problems also go to
// opts.Stderr in full).
func Run(ctx context.Context, opts Options) error {
	opts.defaults()
	log := opts.Logger

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(metrics.Options{Registerer: reg, Version: opts.Version})
	if err != nil {
		return err
	}
	probes := &probes{}
	addr := ""
	if opts.Listen != "" {
		a, stopServer, err := serve(opts.Listen, reg, probes, log)
		if err != nil {
			fmt.Fprintln(opts.Stderr, "fast-autoscaler run:", err)
			return err
		}
		defer stopServer()
		addr = a.String()
		log.Info("listening", "addr", addr, "paths", "/metrics /healthz /readyz")
	}

	// AWS is needed for ECS always, and for the config unless a file is given.
	awsCfg, err := opts.awsConfig(ctx)
	if err != nil {
		log.Error("start-up failed", "error", err.Error())
		return err
	}
	awsCfg.APIOptions = append(awsCfg.APIOptions, apiMetrics(m))
	src, err := opts.source(func() (aws.Config, error) { return awsCfg, nil })
	if err != nil {
		log.Error("start-up failed", "error", err.Error())
		return err
	}
	cfg, err := load(ctx, src)
	if err != nil {
		if ctx.Err() != nil {
			log.Info("stopped before the config was loaded")
			return nil
		}
		fmt.Fprintln(opts.Stderr, "fast-autoscaler:", err)
		log.Error("config not loaded", "source", configsrc.Describe(src), "error", err.Error())
		return err
	}
	log.Info("config loaded", "source", configsrc.Describe(src), "services", len(cfg.Services), "dry_run", opts.DryRun)

	ecsClient := awsecs.NewFromConfig(awsCfg)
	var sc scaler.Scaler = ecs.New(ecsClient)
	if opts.DryRun {
		sc = scaler.NewDryRun(sc, log)
		log.Info("dry run: no desired count is changed and Slack is not told")
	}
	wr := newWirer(log, m, opts.DryRun)
	wr.tasks = ecs.NewTaskLister(ecsClient, ecs.TaskListerOptions{})
	p, err := wr.wire(cfg)
	if err != nil {
		fmt.Fprintln(opts.Stderr, "fast-autoscaler run:", err)
		return configError{err}
	}
	eng, err := autoscaler.New(p.services, autoscaler.Options{Scaler: sc, Logger: log, Observer: m, ShutdownGrace: shutdownGrace})
	if err != nil {
		wr.discard(ctx, p)
		fmt.Fprintln(opts.Stderr, "fast-autoscaler run:", err)
		return configError{err}
	}
	wr.apply(ctx, p)
	for _, s := range cfg.Services {
		log.Info("watching", "service", s.EcsServiceName, "cluster", s.EcsClusterName, "settings", s)
	}
	defer preflight(ctx, log, sc, cfg.Services)()

	r := &reloader{src: src, eng: eng, wr: wr, metrics: m, log: log, sc: sc}
	reloaded := make(chan struct{})
	go func() { defer close(reloaded); r.loop(ctx, opts.ReloadInterval, opts.Reload) }()
	stuck := func() []scaler.ServiceID { return eng.Stuck(time.Now()) }
	probes.stuck.Store(&stuck)
	log.Info("ready", "services", len(cfg.Services))
	if opts.Ready != nil {
		opts.Ready(addr)
	}

	if err := eng.Run(ctx); err != nil {
		log.Error("engine stopped", "error", err.Error())
		return err
	}
	<-reloaded
	log.Info("stopping: flushing notifications")
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushBudget)
	defer cancel()
	wr.close(flushCtx)
	log.Info("stopped")
	return nil
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
			st, err := sc.State(ctx, s.ID())
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
