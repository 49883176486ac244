// Command loadtest measures fast-autoscaler at scale, on this machine, beside
// a plain net/http poller in the same run, so that its figures are ratios
// rather than noisy absolutes.
//
// Load mode (the default) starts a real nginx on loopback (stub_status on
// /a/<i> for the binary and /p/<i> for the poller, every request in an
// access log with its time), the in-repo AWS wire server (internal/awstest)
// holding N ECS services, the binary in dry run on a generated config of N
// services, and the plain poller (this command again, with the hidden
// -poller flag). After a warm-up it measures over -duration, for each of the
// two: CPU per check (utime+stime from /proc over the window, divided by the
// checks nginx logged in it), RSS (VmRSS at the end, VmHWM), the period
// between consecutive checks of one service (p50, p99, max) and failed
// reads. It also reports how long the binary took to start.
//
//	go run ./internal/loadtest -services 1000 -interval 1s -duration 30s
//
// Spike mode starts a stub_status server whose Active count jumps at a known
// time, runs the binary (no dry run) against the wire server, and reports
// the time from the jump to each service's UpdateService:
//
//	go run ./internal/loadtest -mode spike -services 50 -interval 250ms
//
// The exit status is 1 when something failed (the binary or nginx did not
// start or exited early, a read failed, a check went unanswered, a spike
// was not acted on), never because of a timing: timings are only reported.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	mode      string
	services  int
	tasks     int
	tasksWait time.Duration
	interval  time.Duration
	duration  time.Duration
	warmup    time.Duration
	binary    string
	nginx     string
	poller    bool
	pprof     bool
	hold      time.Duration
	keep      bool
	extraArgs string
	extraEnv  string

	// The hidden poller mode.
	asPoller      bool
	target        string
	pollerProfile string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mode, "mode", "load", "load: CPU, memory and schedule beside a plain poller; spike: time from a jump in Active connections to UpdateService")
	fs.IntVar(&o.services, "services", 1000, "number of services (load), or of services spiking at once (spike)")
	fs.IntVar(&o.tasks, "tasks", 0, fmt.Sprintf("per-task mode (load): every service has this many running tasks (at most %d), each on a loopback address of its own, read through TaskStatusUrl; 0 reads StatusUrl", maxTasks))
	fs.DurationVar(&o.tasksWait, "tasks-wait", 0, "per-task mode: wait at most this long after the start-up state read for every (service, task) pair to be read once, before the warm-up (default: 1 min + 2 s a service, as listing is paced at 2 ECS calls a second)")
	fs.DurationVar(&o.interval, "interval", time.Second, "CheckInterval of every service (spike mode: 250ms is a good choice)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "measurement window (load mode)")
	fs.DurationVar(&o.warmup, "warmup", 0, "wait this long after the start-up state read before measuring (default: 3 intervals, at least 10 s: start-up garbage collected, memory returned)")
	fs.StringVar(&o.binary, "binary", "", "the fast-autoscaler binary to measure (default: go build ./cmd/fast-autoscaler into a temporary directory)")
	fs.StringVar(&o.nginx, "nginx", "", "the nginx binary (default: nginx in PATH, else /usr/sbin/nginx)")
	fs.BoolVar(&o.poller, "poller", true, "run the plain net/http poller beside the binary (load mode)")
	fs.BoolVar(&o.pprof, "pprof", false, "run the binary with -pprof and print where to point go tool pprof")
	fs.DurationVar(&o.hold, "hold", 0, "keep everything running this long after the window (time to run go tool pprof by hand)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (config, nginx access log, the binary's log) and print its path")
	fs.StringVar(&o.extraArgs, "binary-args", "", "extra arguments for the binary's run command, space separated (e.g. -log-level=warn)")
	fs.StringVar(&o.extraEnv, "binary-env", "", "extra environment for the binary, space separated KEY=value (e.g. GOGC=50)")
	fs.BoolVar(&o.asPoller, "as-poller", false, "internal: be the plain poller")
	fs.StringVar(&o.target, "target", "", "internal: the poller's base URL; service i is <target><i>, with {ip} replaced by each task's address under -tasks")
	fs.StringVar(&o.pollerProfile, "poller-profile", "", "write the plain poller's CPU profile (go tool pprof) to this `file`, to compare it with the binary's")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := o.check(fs); err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 2
	}
	var err error
	switch {
	case o.asPoller:
		err = runPoller(ctx, o, stdout)
	case o.mode == "load":
		err = runLoad(ctx, o, stdout)
	case o.mode == "spike":
		err = runSpike(ctx, o, stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 1
	}
	return 0
}

func (o *options) check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.mode != "load" && o.mode != "spike":
		return fmt.Errorf(`-mode must be "load" or "spike", got %q`, o.mode)
	case o.services < 1:
		return fmt.Errorf("-services must be >= 1, got %d", o.services)
	case o.tasks < 0 || o.tasks > maxTasks:
		return fmt.Errorf("-tasks must be between 0 and %d, got %d", maxTasks, o.tasks)
	case o.tasks > 0 && o.mode != "load":
		return fmt.Errorf("-tasks applies to -mode load only, not %q", o.mode)
	case o.tasks > 0 && o.services > maxTaskServices:
		return fmt.Errorf("-services must be at most %d with -tasks (each service's tasks take a /24 of 127.0.0.0/8), got %d", maxTaskServices, o.services)
	case o.tasksWait < 0:
		return fmt.Errorf("-tasks-wait must be >= 0, got %v", o.tasksWait)
	case o.asPoller && o.tasks > 0 && strings.Count(o.target, "{ip}") != 1:
		return fmt.Errorf("-as-poller -tasks needs a -target with {ip} once, got %q", o.target)
	case o.interval < 100*time.Millisecond:
		return fmt.Errorf("-interval must be >= 100ms (the engine's minimum CheckInterval), got %v", o.interval)
	case o.duration <= 0:
		return fmt.Errorf("-duration must be > 0, got %v", o.duration)
	case o.warmup < 0:
		return fmt.Errorf("-warmup must be >= 0, got %v", o.warmup)
	case o.asPoller && o.target == "":
		return errors.New("-as-poller needs -target")
	}
	if o.warmup == 0 {
		o.warmup = max(3*o.interval, 10*time.Second)
	}
	if o.tasksWait == 0 {
		o.tasksWait = time.Minute + time.Duration(o.services)*2*time.Second
	}
	return nil
}
