package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/internal/simulate"
)

const simulateHelp = `Usage: fast-autoscaler simulate -config FILE -trace FILE [flags]

Replays a traffic trace through each configured service (or the one named by
-service) in virtual time: once with fast-autoscaler (the same watcher step and
policy "run" uses) and a model of managed target tracking beside it, once with
the target-tracking model alone. Prints each run's scale events and a summary
table; -out also writes a plot (PNG and SVG).

-reading per-task models TaskStatusUrl: every running task reports its own
load (a task not yet serving none) and the reading carries their total;
-reading balancer models StatusUrl, one serving task's share sampled through
the load balancer. By default a service with TaskStatusUrl is read per task,
any other through the balancer.

The trace is CSV with a header: seconds from the start (or RFC 3339 times),
total concurrent connections at the load balancer; a value holds until the
next row. Exit status 0 when done, 2 for bad flags or input (the config, the
trace, -service), 1 when the plot cannot be written.

Flags:`

// cmdSimulate runs "fast-autoscaler simulate" and returns the exit status.
func cmdSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("simulate", simulateHelp, stderr)
	var (
		configPath = fs.String("config", "", "config document `file` (JSON, as for run); required")
		tracePath  = fs.String("trace", "", "traffic trace CSV `file`; required")
		service    = fs.String("service", "", "simulate only this `service` (EcsServiceName, or cluster/service); default every one")
		initial    = fs.Int("initial", 0, "`tasks` running at the start; default the service's MinDesiredCount")
		startup    = fs.Duration("startup", simulate.DefaultStartup, "time from a task's request to it running (PENDING to RUNNING)")
		register   = fs.Duration("register-delay", 20*time.Second, "time from a task running to it serving traffic (registered and healthy in the target group)")
		resolution = fs.Duration("tt-resolution", simulate.StandardResolution, "target tracking's datapoint: 1m (standard) or 20s (high-resolution CPU/memory)")
		capacity   = fs.Float64("task-capacity", 0, "per-task `connections` beyond which the status URL answers 503; 0: no limit")
		target     = fs.Float64("target", 0, "target tracking's target, `connections` per task; default the service's ScaleoutThreshold")
		out        = fs.String("out", "", "write the plot to `PATH`.png and PATH.svg (PATH-<service>.png/.svg for several services)")
		asJSON     = fs.Bool("json", false, "print the summaries and scale events as JSON instead")
		readingArg = fs.String("reading", "", "how the load is read: `per-task` (every running task) or balancer (one serving task's share); default per-task for a service with TaskStatusUrl, else balancer")
	)
	code := parseFlags(fs, args, stderr, func() error {
		switch {
		case *configPath == "" || *tracePath == "":
			return errors.New("-config and -trace are required (see -h)")
		case *initial < 0:
			return fmt.Errorf("-initial must be >= 1 (0, the default, means the MinDesiredCount), got %d", *initial)
		case *startup <= 0:
			return fmt.Errorf("-startup must be > 0, got %v", *startup)
		case *register < 0:
			return fmt.Errorf("-register-delay must be >= 0, got %v", *register)
		case *resolution != simulate.StandardResolution && *resolution != simulate.HighResolution:
			return fmt.Errorf("-tt-resolution must be 1m or 20s, got %v", *resolution)
		case !(*capacity >= 0) || math.IsInf(*capacity, 0):
			return fmt.Errorf("-task-capacity must be a number >= 0, got %v", *capacity)
		case !(*target >= 0) || math.IsInf(*target, 0):
			return fmt.Errorf("-target must be a number > 0 (0, the default, means the ScaleoutThreshold), got %v", *target)
		case *readingArg != "" && *readingArg != string(simulate.PerTask) && *readingArg != string(simulate.Balancer):
			return fmt.Errorf("-reading must be %s or %s, got %q", simulate.PerTask, simulate.Balancer, *readingArg)
		}
		return nil
	})
	if code >= 0 {
		return code
	}
	usageErr := func(err error) int {
		fmt.Fprintln(stderr, "fast-autoscaler simulate:", err)
		return exitUsage
	}

	cfg, err := configsrc.Load(ctx, configsrc.File{Path: *configPath})
	if err != nil {
		return usageErr(err)
	}
	services, err := pickServices(cfg.Services, *service, *configPath)
	if err != nil {
		return usageErr(err)
	}
	tr, err := simulate.LoadTrace(*tracePath)
	if err != nil {
		return usageErr(err)
	}

	results := make([]*simulate.Result, 0, len(services))
	for _, s := range services {
		reading := simulate.ReadingMode(*readingArg)
		if reading == "" && s.TaskStatusURL != "" {
			reading = simulate.PerTask
		}
		res, err := simulate.Simulate(ctx, tr, simulate.Options{
			Cluster: s.EcsClusterName, Name: s.EcsServiceName, Policy: s.Policy,
			Initial: *initial, Startup: *startup, RegisterDelay: *register, TaskCapacity: *capacity, Target: *target,
			TTResolution: *resolution, Reading: reading, TaskAggregate: s.TaskAggregate,
		})
		if err != nil {
			return usageErr(err)
		}
		results = append(results, res)
	}

	var written []string
	if *out != "" {
		if written, err = writePlots(*out, results); err != nil {
			fmt.Fprintln(stderr, "fast-autoscaler simulate:", err)
			return exitFailure
		}
	}
	if *asJSON {
		err = simulate.WriteJSON(stdout, results)
	} else {
		for i, res := range results {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			if err = simulate.WriteText(stdout, res); err != nil {
				break
			}
		}
		if err == nil && len(written) > 0 {
			_, err = fmt.Fprintf(stdout, "\nplot: %s\n", strings.Join(written, ", "))
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler simulate: write output:", err)
		return exitFailure
	}
	return exitOK
}

// pickServices returns every service, or the one named by name (its
// EcsServiceName, or "cluster/service").
func pickServices(all []configsrc.ServiceConfig, name, configPath string) ([]configsrc.ServiceConfig, error) {
	if name == "" {
		return all, nil
	}
	var found []configsrc.ServiceConfig
	names := make([]string, 0, len(all))
	for _, s := range all {
		names = append(names, s.Name())
		if s.Name() == name || s.EcsServiceName == name {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("-service %q: no such service in %s (it has %s)", name, configPath, strings.Join(names, ", "))
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("-service %q: several clusters have a service of that name in %s; use cluster/service", name, configPath)
}

// writePlots writes each result's plot next to base (see the -out flag),
// through temporary files renamed into place only once every plot is drawn,
// so a failure leaves no partial plot behind. It returns the files written.
func writePlots(base string, results []*simulate.Result) (written []string, err error) {
	if ext := filepath.Ext(base); ext == ".png" || ext == ".svg" {
		base = strings.TrimSuffix(base, ext)
	}
	dir := filepath.Dir(base)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	var temps, finals []string
	defer func() {
		for _, t := range temps {
			os.Remove(t) // gone already when renamed
		}
	}()
	temp := func() (*os.File, error) {
		f, err := os.CreateTemp(dir, ".simulate-*.tmp")
		if err == nil {
			temps = append(temps, f.Name())
		}
		return f, err
	}
	for _, res := range results {
		path := base
		if len(results) > 1 {
			path += "-" + fileSafe(res.Options.Cluster+"-"+res.Options.Name)
			if res.Options.Cluster == res.Options.Name {
				path = base + "-" + fileSafe(res.Options.Name)
			}
		}
		png, err := temp()
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		svg, err := temp()
		if err != nil {
			png.Close()
			return nil, fmt.Errorf("plot: %w", err)
		}
		err = simulate.WritePlot(res, png, svg)
		err = errors.Join(err, png.Close(), svg.Close())
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", path, err)
		}
		finals = append(finals, path+".png", path+".svg")
	}
	for i, t := range temps {
		if err := os.Chmod(t, 0o644); err != nil {
			return written, fmt.Errorf("plot: %w", err)
		}
		if err := os.Rename(t, finals[i]); err != nil {
			return written, fmt.Errorf("plot: %w", err)
		}
		written = append(written, finals[i])
	}
	return written, nil
}

// fileSafe replaces what does not belong in a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}
