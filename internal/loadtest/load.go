package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

// cluster is the ECS cluster of every generated service; service i is
// svc-<i>.
const cluster = "load"

func serviceName(i int) string { return "svc-" + strconv.Itoa(i) }

// writeConfig writes a config document of n services, service i reading
// statusURL(i) every interval, with the given threshold.
func writeConfig(path string, n int, interval time.Duration, threshold int, statusURL func(int) string) error {
	return writeConfigWith(path, n, func(i int) string {
		return fmt.Sprintf(`{"StatusUrl": %q, "ScaleoutThreshold": %d, "CheckInterval": %q, "EcsClusterName": %q, "EcsServiceName": %q}`,
			statusURL(i), threshold, interval.String(), cluster, serviceName(i))
	})
}

// writeConfigWith writes a config document of n services, service i's
// object being entry(i).
func writeConfigWith(path string, n int, entry func(i int) string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, `{"Services": [`)
	for i := range n {
		sep := ","
		if i == n-1 {
			sep = ""
		}
		fmt.Fprintf(w, "  %s%s\n", entry(i), sep)
	}
	fmt.Fprintln(w, "]}")
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// workdir makes the run's scratch directory and finds the binary to run:
// o.binary, or one built into the directory. cleanup removes the directory
// (or, with o.keep, names it).
func workdir(o options, stdout io.Writer) (dir, bin string, cleanup func(), err error) {
	if dir, err = os.MkdirTemp("", "fast-autoscaler-loadtest"); err != nil {
		return "", "", nil, err
	}
	cleanup = func() {
		if o.keep {
			fmt.Fprintln(stdout, "kept:", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}
	if bin = o.binary; bin == "" {
		if bin, err = buildBinary(dir); err != nil {
			cleanup()
			return "", "", nil, err
		}
	}
	return dir, bin, cleanup, nil
}

// startBinary runs the binary's run command on cfgPath against aws and
// follows its log.
func startBinary(o options, bin, dir, cfgPath string, aws *awstest.Server, dryRun bool) (*child, *binaryLog, func(), error) {
	args := []string{"run", "-config", cfgPath, "-listen", "127.0.0.1:0", "-reload-interval", "0"}
	if dryRun {
		args = append(args, "-dry-run")
	}
	if o.pprof {
		args = append(args, "-pprof")
	}
	args = append(args, strings.Fields(o.extraArgs)...)
	logFile, err := os.Create(filepath.Join(dir, "binary.log"))
	if err != nil {
		return nil, nil, nil, err
	}
	var tee io.Writer
	if o.keep {
		tee = logFile
	}
	c, err := startChild("fast-autoscaler", bin, args, append(aws.Env(), strings.Fields(o.extraEnv)...))
	if err != nil {
		_ = logFile.Close()
		return nil, nil, nil, err
	}
	log := newBinaryLog(tee)
	followed := make(chan struct{})
	go func() { log.follow(c.stdout); close(followed) }()
	go func() { <-followed; c.wait() }()
	return c, log, func() { <-c.exited; _ = logFile.Close() }, nil
}

// waitReady waits until the binary logs "ready", fails or d passes.
func waitReady(c *child, log *binaryLog, d time.Duration) error {
	select {
	case <-log.ready:
		return nil
	case <-c.exited:
		return c.alive()
	case <-time.After(d):
		return fmt.Errorf("the binary did not log \"ready\" within %v", d)
	}
}

// sleepAlive sleeps d, failing as soon as one of the children exits.
func sleepAlive(ctx context.Context, d time.Duration, children ...*child) error {
	t := time.NewTimer(d)
	defer t.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-tick.C:
			for _, c := range children {
				if err := c.alive(); err != nil {
					return err
				}
			}
		}
	}
}

// side is what was measured of one client over the window.
type side struct {
	cpu          time.Duration
	mem          memory // at the end of the window
	peakRSS      int64  // highest VmRSS sampled during the window
	tr           *traffic
	failedReads  int
	checkedFirst time.Duration // from the process start to its last service's first check
}

func (s side) perCheck() time.Duration {
	if s.tr.requests == 0 {
		return 0
	}
	return s.cpu / time.Duration(s.tr.requests)
}

func runLoad(ctx context.Context, o options, stdout io.Writer) error {
	nginxBin, err := findNginx(o.nginx)
	if err != nil {
		return err
	}
	dir, bin, cleanup, err := workdir(o, stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	ng, err := startNginx(nginxBin, dir, min(4*o.services+1024, nofile()))
	if err != nil {
		return err
	}
	nginxStopped := false
	defer func() {
		if !nginxStopped {
			ng.stop()
		}
	}()

	aws := awstest.Start()
	defer aws.Close()
	aws.AddCluster(cluster)
	for i := range o.services {
		aws.PutService(cluster, serviceName(i), awstest.Service{Desired: 2, Running: 2})
	}
	cfgPath := filepath.Join(dir, "config.json")
	if err := writeConfig(cfgPath, o.services, o.interval, 1_000_000_000, func(i int) string {
		return "http://" + ng.addr + "/a/" + strconv.Itoa(i)
	}); err != nil {
		return err
	}
	if st, err := os.Stat(cfgPath); err == nil {
		fmt.Fprintf(stdout, "config: %d services, %d bytes; nginx on %s\n", o.services, st.Size(), ng.addr)
	}

	bc, blog, closeLog, err := startBinary(o, bin, dir, cfgPath, aws, true)
	if err != nil {
		return err
	}
	defer func() { _ = bc.stop(10 * time.Second); closeLog() }()

	var pc *child
	pollerOut := make(chan []byte, 1)
	if o.poller {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		args := []string{"-as-poller", "-services", strconv.Itoa(o.services),
			"-interval", o.interval.String(), "-target", "http://" + ng.addr + "/p/"}
		if o.pollerProfile != "" {
			args = append(args, "-poller-profile", o.pollerProfile)
		}
		pc, err = startChild("poller", self, args, nil)
		if err != nil {
			return err
		}
		go func() { b, _ := io.ReadAll(pc.stdout); pollerOut <- b; pc.wait() }()
		defer func() { _ = pc.stop(10 * time.Second) }()
	}

	if err := waitReady(bc, blog, 2*time.Minute); err != nil {
		return err
	}
	snap := blog.snapshot()
	fmt.Fprintf(stdout, "binary ready after %.2f s", snap.readyAt.Sub(bc.started).Seconds())
	if o.pprof {
		fmt.Fprintf(stdout, "; profiles: go tool pprof http://%s/debug/pprof/profile?seconds=20 (heap: .../debug/pprof/heap)", snap.addr)
	}
	fmt.Fprintln(stdout)
	// The binary reads every service's state once at start-up; wait for it
	// so that its work falls outside the window.
	// It goes 100 services a second.
	limit := 2*time.Minute + time.Duration(o.services/100)*time.Second
	deadline := time.Now().Add(limit)
	for seen := blog.snapshot(); !seen.statesRead && seen.preflight < o.services; seen = blog.snapshot() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the start-up state read did not end within %v (%d of %d services logged)", limit, blog.snapshot().preflight, o.services)
		}
		if err := sleepAlive(ctx, 50*time.Millisecond, bc); err != nil {
			return err
		}
	}
	if err := sleepAlive(ctx, o.warmup, bc); err != nil {
		return err
	}

	procs := []*child{bc}
	if pc != nil {
		procs = append(procs, pc)
	}
	from := time.Now()
	cpu0 := make([]time.Duration, len(procs))
	for i, c := range procs {
		if cpu0[i], err = cpuTime(c.cmd.Process.Pid); err != nil {
			return err
		}
	}
	peak := make([]int64, len(procs))
	fmt.Fprintf(stdout, "measuring for %v ...\n", o.duration)
	end := time.Now().Add(o.duration)
	for time.Now().Before(end) {
		for i, c := range procs {
			if m, err := memoryOf(c.cmd.Process.Pid); err == nil {
				peak[i] = max(peak[i], m.RSS)
			}
		}
		if err := sleepAlive(ctx, min(time.Second, time.Until(end)), procs...); err != nil {
			return err
		}
	}
	to := time.Now()
	sides := make([]side, len(procs))
	for i, c := range procs {
		cpu1, err := cpuTime(c.cmd.Process.Pid)
		if err != nil {
			return err
		}
		m, err := memoryOf(c.cmd.Process.Pid)
		if err != nil {
			return err
		}
		sides[i] = side{cpu: cpu1 - cpu0[i], mem: m, peakRSS: max(peak[i], m.RSS)}
	}
	if o.hold > 0 {
		fmt.Fprintf(stdout, "holding for %v\n", o.hold)
		if err := sleepAlive(ctx, o.hold, procs...); err != nil {
			return err
		}
	}

	// Stop the clients, then nginx, which writes out its log.
	var pr pollerResult
	if pc != nil {
		if err := pc.stop(10 * time.Second); err != nil {
			return err
		}
		if err := json.Unmarshal(lastLine(<-pollerOut), &pr); err != nil {
			return fmt.Errorf("poller's result: %w", err)
		}
	}
	binErr := bc.stop(10 * time.Second)
	closeLog()
	ng.stop()
	nginxStopped = true
	if binErr != nil {
		return binErr
	}

	f, err := os.Open(ng.accessLog)
	if err != nil {
		return err
	}
	tr, err := readAccessLog(f, from, to)
	_ = f.Close()
	if err != nil {
		return err
	}
	snap = blog.snapshot()
	sides[0].tr, sides[0].failedReads = tr['a'], snap.readFailed
	sides[0].checkedFirst = lastFirst(tr['a'], o.services, bc.started)
	if pc != nil {
		sides[1].tr, sides[1].failedReads = tr['p'], int(pr.Failures)
		sides[1].checkedFirst = lastFirst(tr['p'], o.services, pc.started)
	}
	report(stdout, o, to.Sub(from), bc, snap, aws, sides)
	return loadErrors(o, snap, sides, pr)
}

// lastFirst is how long after start the last of n services was first
// checked; -1 when some never was.
func lastFirst(t *traffic, n int, start time.Time) time.Duration {
	if len(t.first) < n {
		return -1
	}
	var last int64
	for _, ms := range t.first {
		last = max(last, ms)
	}
	return time.UnixMilli(last).Sub(start)
}

func lastLine(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

// loadErrors is the run's failure, if any: never a timing.
func loadErrors(o options, snap logSeen, sides []side, pr pollerResult) error {
	var errs []error
	b := sides[0]
	if b.tr.requests == 0 {
		errs = append(errs, errors.New("the binary made no check in the window"))
	}
	if b.failedReads > 0 {
		errs = append(errs, fmt.Errorf("the binary logged %d failed reads, e.g. %s", b.failedReads, strings.Join(snap.failLines, "\n")))
	}
	if b.tr.errors > 0 {
		errs = append(errs, fmt.Errorf("nginx answered %d of the binary's requests with a status other than 200", b.tr.errors))
	}
	if len(b.tr.first) < o.services {
		errs = append(errs, fmt.Errorf("only %d of %d services were ever checked", len(b.tr.first), o.services))
	}
	if snap.unreadable > 0 {
		errs = append(errs, fmt.Errorf("the preflight found %d services not readable", snap.unreadable))
	}
	if len(snap.errors) > 0 {
		errs = append(errs, fmt.Errorf("the binary logged errors: %s", strings.Join(snap.errors, "\n")))
	}
	if len(sides) > 1 {
		p := sides[1]
		if p.tr.requests == 0 {
			errs = append(errs, errors.New("the poller made no check in the window"))
		}
		if pr.Failures > 0 {
			errs = append(errs, fmt.Errorf("the poller failed %d reads, e.g. %s", pr.Failures, pr.FirstError))
		}
	}
	return errors.Join(errs...)
}

func report(w io.Writer, o options, window time.Duration, bc *child, snap logSeen, aws *awstest.Server, sides []side) {
	fmt.Fprintf(w, "\n%d services, CheckInterval %v, window %.1f s\n", o.services, o.interval, window.Seconds())
	row := func(name string, f func(s side) string, ratio func(b, p side) string) {
		fmt.Fprintf(w, "  %-28s", name)
		for _, s := range sides {
			fmt.Fprintf(w, " %-22s", f(s))
		}
		if ratio != nil && len(sides) > 1 {
			fmt.Fprintf(w, " %s", ratio(sides[0], sides[1]))
		}
		fmt.Fprintln(w)
	}
	heads := []string{"fast-autoscaler", "plain poller"}
	fmt.Fprintf(w, "  %-28s", "")
	for i := range sides {
		fmt.Fprintf(w, " %-22s", heads[i])
	}
	if len(sides) > 1 {
		fmt.Fprint(w, " binary/poller")
	}
	fmt.Fprintln(w)
	mb := func(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
	row("checks in window", func(s side) string { return strconv.Itoa(s.tr.requests) }, nil)
	row("connections used / opened", func(s side) string { return fmt.Sprintf("%d / %d", s.tr.conns, s.tr.newConns) }, nil)
	row("CPU in window", func(s side) string { return fmt.Sprintf("%.2f s", s.cpu.Seconds()) }, nil)
	row("CPU per check", func(s side) string { return fmt.Sprintf("%.1f µs", float64(s.perCheck().Nanoseconds())/1e3) },
		func(b, p side) string {
			if p.perCheck() == 0 {
				return ""
			}
			return fmt.Sprintf("%.2f", float64(b.perCheck())/float64(p.perCheck()))
		})
	row("RSS end / peak / HWM (MB)", func(s side) string {
		return fmt.Sprintf("%s / %s / %s", mb(s.mem.RSS), mb(s.peakRSS), mb(s.mem.HWM))
	}, func(b, p side) string { return fmt.Sprintf("%.2f (RSS end)", float64(b.mem.RSS)/float64(p.mem.RSS)) })
	row("period p50 / p99 / max (s)", func(s side) string {
		st := summarise(s.tr.periods, o.interval)
		return fmt.Sprintf("%.3f / %.3f / %.3f", st.p50, st.p99, st.max)
	}, nil)
	row("periods > 110% interval", func(s side) string {
		st := summarise(s.tr.periods, o.interval)
		return fmt.Sprintf("%d of %d", st.late, st.n)
	}, nil)
	row("failed reads (whole run)", func(s side) string { return strconv.Itoa(s.failedReads) }, nil)
	row("all checked once after", func(s side) string {
		if s.checkedFirst < 0 {
			return "never"
		}
		return fmt.Sprintf("%.2f s", s.checkedFirst.Seconds())
	}, nil)

	calls := aws.Calls("DescribeServices")
	slices.SortFunc(calls, func(a, b awstest.Call) int { return a.Time.Compare(b.Time) })
	peak, _ := peakPerSecond(calls)
	fmt.Fprintf(w, "  start: ready %.2f s after exec; state of %d services read (%d not readable) by %.2f s, in %d DescribeServices calls (peak %d in one second)\n",
		snap.readyAt.Sub(bc.started).Seconds(), snap.preflight, snap.unreadable, snap.preflightT.Sub(bc.started).Seconds(), len(calls), peak)
}

// peakPerSecond returns the most calls received within any one second
// (a sliding window), and when that second began.
func peakPerSecond(calls []awstest.Call) (int, time.Time) {
	best, at := 0, time.Time{}
	j := 0
	for i := range calls {
		for calls[i].Time.Sub(calls[j].Time) >= time.Second {
			j++
		}
		if n := i - j + 1; n > best {
			best, at = n, calls[j].Time
		}
	}
	return best, at
}
