// Package app is the fast-autoscaler application: it builds the engine from
// a configuration document (the ECS scaler, nginx sources, Slack notifiers,
// Prometheus metrics), runs it, reloads the document on a timer and on
// demand, serves health, metrics and the services' status (/v1/services),
// writes CloudWatch EMF metric lines when asked, and shuts down within ECS's
// stop timeout. The binary in cmd/fast-autoscaler only parses flags and the
// environment into Options and maps Run's error to an exit status.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
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

// checkCoalesce is the longest step of the grid the services' checks are
// put on (see autoscaler.Options.Coalesce). Waking the process costs about
// as much as a check: the runtime's threads leave their sleep, and the
// checks of one step run as one burst, which amortises that cost over
// every check in it. At 1,000 services checked every second, 100 ms steps
// (a hundred checks a burst) cost 0.65-0.72 times the CPU a check of a plain
// net/http poller costs, against 0.95-1.03 times with 25 ms steps (measured
// with internal/loadtest). Periods stay exact (a step divides the
// interval); a check that a grace period or a back-off put off moves less
// than a step (at most a tenth of its interval) later. The checks of one
// step need a connection each at once: the status transport's idle pool is
// sized for that (stubstatus.MaxIdlePerHost).
const checkCoalesce = 100 * time.Millisecond

// Shutdown budget: ECS waits 30 s by default between SIGTERM and SIGKILL.
// Metric reads in flight are cancelled at once; a scale-out in flight (its
// AWS calls each bounded by Options.AWSTimeout) may finish within
// shutdownGrace, and is reported "outcome unknown" if it is cut off; then
// queued notifications get flushBudget. The process is out within about 23 s
// at worst, in well under a second when no scale-out is in flight.
const (
	shutdownGrace = autoscaler.DefaultShutdownGrace // 20 s
	flushBudget   = 2 * time.Second
)

// loadTimeout bounds one read of the configuration (a FIFO whose writer
// never writes, say); an SSM read is also bounded by Options.AWSTimeout.
const loadTimeout = 30 * time.Second

// The values of Options.MetricsFormat.
const (
	MetricsPrometheus = "prometheus" // /metrics on Listen only
	MetricsEMF        = "emf"        // also CloudWatch EMF lines on EMFOutput
)

// ErrInvalidConfig marks an error caused by the configuration document
// itself (the binary exits 2 on it); other errors are runtime failures.
var ErrInvalidConfig = errors.New("invalid configuration")

// Options configure Run and Validate. The zero value reads the seed's SSM
// parameter in the seed's region and serves nothing.
type Options struct {
	// ConfigFile, when set, is a local file to read the document from
	// instead of SSM Parameter Store (ParamKey and ParamPath are then not
	// read).
	ConfigFile string
	// ParamKey is the SSM parameter holding the document. Default
	// DefaultParamKey, but only when ParamPath is empty too.
	ParamKey string
	// ParamPath is an SSM path: every parameter under it, at any level, is a
	// document of its own, and their services are merged (with ParamKey's,
	// when both are set; a ParamKey under ParamPath is read once, as part of
	// the path).
	ParamPath string
	// Region is the AWS region of ECS and SSM. Default DefaultRegion.
	Region string
	// MaxAttempts is the attempts per AWS call, retries included; 0 keeps
	// the SDK's default (3, or $AWS_MAX_ATTEMPTS).
	MaxAttempts int
	// AWSTimeout bounds each AWS operation (ECS, SSM, Application Auto
	// Scaling), its retries and their backoff included, so a call that
	// hangs never leaves a service unchecked. Default (0)
	// DefaultAWSTimeout, 10 s. It also sets how long a check may run before
	// /healthz reports its loop stuck (5 × AWSTimeout + 10 s beyond the
	// service's CheckInterval).
	AWSTimeout time.Duration
	// AWS, when set, is the AWS configuration to use instead of loading the
	// standard chain (Region and MaxAttempts are then not applied). Tests and
	// embedders with their own credentials set it.
	AWS *aws.Config
	// DryRun reads real state from ECS but makes no update and tells Slack
	// nothing.
	DryRun bool
	// Listen is the address to serve /metrics, /healthz, /readyz and
	// /v1/services on; empty serves nothing.
	Listen string
	// Pprof also serves Go's runtime profiles (net/http/pprof) under
	// /debug/pprof/ on Listen, for `go tool pprof`. Default off: the
	// profiles show the process's internals, so turn it on only where
	// Listen is not reachable from outside.
	Pprof bool
	// MetricsFormat adds a way to publish the metrics besides /metrics:
	// MetricsPrometheus (or empty) adds none, MetricsEMF writes CloudWatch
	// Embedded Metric Format lines to EMFOutput every EMFInterval.
	MetricsFormat string
	// EMFInterval is how often EMF lines are written. Default
	// metrics.DefaultEMFInterval (1 minute).
	EMFInterval time.Duration
	// EMFOutput receives the EMF lines: the log stream (stdout) in the
	// binary. Required with MetricsEMF.
	EMFOutput io.Writer
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
	// Identity names this process in the scale-outs it records on services.
	// Default autoscaler.DefaultIdentity() (host name and process id).
	Identity string
}

func (o *Options) defaults() {
	if o.ParamKey == "" && o.ParamPath == "" {
		o.ParamKey = DefaultParamKey
	}
	if o.Identity == "" {
		o.Identity = autoscaler.DefaultIdentity()
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
	if o.AWSTimeout <= 0 {
		o.AWSTimeout = DefaultAWSTimeout
	}
}

// stuckAfter is how long a check may run beyond its service's CheckInterval
// (which bounds its metric read) before /healthz reports the loop stuck: a
// check makes a few AWS calls, each bounded by the AWS timeout.
func (o *Options) stuckAfter() time.Duration { return 5*o.AWSTimeout + 10*time.Second }

// awsConfig loads the standard AWS configuration chain in o.Region.
func (o *Options) awsConfig(ctx context.Context) (aws.Config, error) {
	if o.AWS != nil {
		cfg := o.AWS.Copy()
		cfg.APIOptions = append(cfg.APIOptions, awsDeadline(o.AWSTimeout))
		return cfg, nil
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(o.Region)}
	if o.MaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(o.MaxAttempts))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	cfg.APIOptions = append(cfg.APIOptions, awsDeadline(o.AWSTimeout))
	return cfg, nil
}

// source returns where the documents come from: the file, or the SSM
// parameter, the SSM path, or both. getAWS is called only when SSM is
// needed.
func (o *Options) source(getAWS func() (aws.Config, error)) (configsrc.MultiSource, error) {
	if o.ConfigFile != "" {
		return configsrc.One(configsrc.File{Path: o.ConfigFile}), nil
	}
	awsCfg, err := getAWS()
	if err != nil {
		return nil, err
	}
	client := awsssm.NewFromConfig(awsCfg)
	var srcs []configsrc.MultiSource
	if o.ParamKey != "" && (o.ParamPath == "" || !ssm.Under(o.ParamKey, o.ParamPath)) {
		srcs = append(srcs, configsrc.One(ssm.NewParameter(client, o.ParamKey, awsCfg.Region)))
	}
	if o.ParamPath != "" {
		srcs = append(srcs, ssm.NewPath(client, o.ParamPath, awsCfg.Region))
	}
	return configsrc.All(srcs...), nil
}

// configError marks err as caused by the document: it matches
// ErrInvalidConfig with errors.Is and reads exactly as err.
type configError struct{ err error }

func (e configError) Error() string        { return e.err.Error() }
func (e configError) Unwrap() error        { return e.err }
func (e configError) Is(target error) bool { return target == ErrInvalidConfig }

// load loads, validates and merges the documents, within loadTimeout; a
// validation failure matches ErrInvalidConfig.
func load(ctx context.Context, src configsrc.MultiSource) (*configsrc.Config, error) {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	cfg, err := configsrc.LoadAll(ctx, src)
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
	name := configsrc.DescribeAll(src)
	if len(cfg.Documents) == 1 && cfg.Documents[0].Name == "" {
		fmt.Fprintf(w, "%s: valid, %d service(s)\n", name, len(cfg.Services))
		if advice := ssm.SizeAdvice(cfg.Documents[0].Size); advice != "" {
			fmt.Fprintf(w, "note: %s\n", advice)
		}
	} else {
		fmt.Fprintf(w, "%s: valid, %d service(s) in %d document(s)\n", name, len(cfg.Services), len(cfg.Documents))
	}
	index := map[string]int{} // services seen so far, by document
	for _, s := range cfg.Services {
		i := index[s.Document]
		index[s.Document]++
		where := ""
		if s.Document != "" {
			where = s.Document + ": "
		}
		// Printable: a line break in a name cannot forge lines here.
		fmt.Fprintf(w, "\n%sServices[%d] (%s)\n", where, i, configsrc.Printable(s.Name()))
		for _, a := range s.LogValue().Group() {
			fmt.Fprintf(w, "  %-19s %s\n", a.Key, configsrc.Printable(a.Value.String()))
		}
		for _, warning := range s.Warnings() {
			fmt.Fprintf(w, "  warning: %s\n", warning)
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
		a, stopServer, err := serve(opts.Listen, reg, probes, opts.Pprof, log)
		if err != nil {
			fmt.Fprintln(opts.Stderr, "fast-autoscaler run:", err)
			return err
		}
		defer stopServer()
		addr = a.String()
		paths := "/metrics /healthz /readyz " + StatusPath
		if opts.Pprof {
			paths += " /debug/pprof/"
		}
		log.Info("listening", "addr", addr, "paths", paths)
	}
	finishEMF := func() {}
	defer func() { finishEMF() }()
	switch opts.MetricsFormat {
	case "", MetricsPrometheus:
	case MetricsEMF:
		emf, err := metrics.NewEMF(metrics.EMFOptions{Gatherer: reg, Writer: opts.EMFOutput})
		if err != nil {
			return err
		}
		emfCtx, stopEMF := context.WithCancel(context.WithoutCancel(ctx))
		emfDone := make(chan struct{})
		go func() {
			defer close(emfDone)
			emf.Run(emfCtx, opts.EMFInterval, func(err error) { log.Warn("EMF metrics not written", "error", err.Error()) })
		}()
		finishEMF = func() { stopEMF(); <-emfDone } // a last line with the final counts
		log.Info("writing CloudWatch EMF metrics", "namespace", metrics.DefaultEMFNamespace,
			"interval", cmp.Or(opts.EMFInterval, metrics.DefaultEMFInterval).String())
	default:
		return fmt.Errorf("metrics format %q: must be %q or %q", opts.MetricsFormat, MetricsPrometheus, MetricsEMF)
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
		log.Error("config not loaded", "source", configsrc.DescribeAll(src), "error", err.Error())
		return err
	}
	log.Info("config loaded", "source", configsrc.DescribeAll(src), "services", len(cfg.Services),
		"documents", len(cfg.Documents), "dry_run", opts.DryRun)

	ecsClient := awsecs.NewFromConfig(awsCfg)
	var sc scaler.Scaler = ecs.NewWithOptions(ecsClient, ecs.Options{
		ScalableTargets: applicationautoscaling.NewFromConfig(awsCfg), // the bounds managed scaling keeps
		Logger:          log,
	})
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
	eng, err := autoscaler.New(p.services, autoscaler.Options{Scaler: sc, Logger: log, Observer: m,
		ShutdownGrace: shutdownGrace, StuckAfter: opts.stuckAfter(), Identity: opts.Identity,
		Stagger: true, Coalesce: checkCoalesce})
	if err != nil {
		wr.discard(ctx, p)
		fmt.Fprintln(opts.Stderr, "fast-autoscaler run:", err)
		return configError{err}
	}
	wr.apply(ctx, p)
	for _, s := range cfg.Services {
		log.Info("watching", "service", s.EcsServiceName, "cluster", s.EcsClusterName, "settings", s)
	}
	warnAll(log, cfg.Services)
	states := &stateReader{sc: sc, eng: eng, log: log}
	preflight := make(chan struct{})
	go func() { defer close(preflight); states.read(ctx, cfg.Services, nil) }()
	defer func() { <-preflight }()

	r := &reloader{src: src, eng: eng, wr: wr, metrics: m, log: log, states: states}
	reloaded := make(chan struct{})
	go func() { defer close(reloaded); r.loop(ctx, opts.ReloadInterval, opts.Reload) }()
	stuck := func() []scaler.ServiceID { return eng.Stuck(time.Now()) }
	status := eng.Status
	probes.stuck.Store(&stuck)
	probes.status.Store(&status)
	log.Info("ready", "services", len(cfg.Services), "identity", opts.Identity)
	if opts.Ready != nil {
		opts.Ready(addr)
	}

	stopping := context.AfterFunc(ctx, func() {
		log.Info("stopping: no new checks; a scale-out in flight may finish", "limit", shutdownGrace.String())
	})
	defer stopping()
	if err := eng.Run(ctx); err != nil {
		log.Error("engine stopped", "error", err.Error())
		return err
	}
	<-reloaded
	log.Info("stopping: flushing notifications")
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushBudget)
	defer cancel()
	wr.close(flushCtx)
	finishEMF()
	finishEMF = func() {}
	log.Info("stopped")
	return nil
}

// warnAll logs, once, what is valid but unsafe in services' settings.
func warnAll(log *slog.Logger, services []configsrc.ServiceConfig) {
	for _, s := range services {
		warn(log, s)
	}
}

// warn logs what is valid but insecure in s's settings, a line a warning.
// (A service with no cap is named once its state is read: see stateReader.)
func warn(log *slog.Logger, s configsrc.ServiceConfig) {
	for _, w := range s.Insecure() {
		log.Warn("insecure setting", "service", s.EcsServiceName, "cluster", s.EcsClusterName, "warning", w)
	}
}
