package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// putServices puts lay's services on the wire server, in cluster: with
// two running tasks each (their count only), or with lay.tasks > 0 that many
// running tasks each, task k of service i at taskAddr(i, k). It returns the
// service of each task ID.
func putServices(aws *awstest.Server, lay layout) map[string]int {
	aws.AddCluster(cluster)
	n := int32(max(lay.tasks, 2))
	taskService := map[string]int{}
	for i := range lay.services {
		aws.PutService(cluster, serviceName(i), awstest.Service{Desired: n, Running: n})
		for k := range lay.tasks {
			aws.PutTask(cluster, awstest.Task{ID: taskID(i, k), Service: serviceName(i), PrivateIP: taskAddr(i, k).String()})
			taskService[taskID(i, k)] = i
		}
	}
	return taskService
}

// writeConfig writes a config document of n services, service i reading
// url(i) every interval, with the given threshold. urlField is "StatusUrl",
// or "TaskStatusUrl" with url(i) a template reading each of service i's
// tasks (and then no StatusUrl, so that no fallback hides a service whose
// tasks are not listed).
func writeConfig(path string, n int, interval time.Duration, threshold int, urlField string, url func(int) string) error {
	return writeConfigWith(path, n, func(i int) string {
		return fmt.Sprintf(`{%q: %q, "ScaleoutThreshold": %d, "CheckInterval": %q, "EcsClusterName": %q, "EcsServiceName": %q}`,
			urlField, url(i), threshold, interval.String(), cluster, serviceName(i))
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
	checkedFirst time.Duration // from the process start to its last pair's first request
	// checks is the binary's checks in the window, from its metrics (per-task
	// mode only; zero when not measured).
	checks checkCounts
}

// perCheck is the CPU per request (per check, with one request a check).
func (s side) perCheck() time.Duration {
	if s.tr.requests == 0 {
		return 0
	}
	return s.cpu / time.Duration(s.tr.requests)
}

// tasksSeen is what the wire server and the access log tell of per-task
// reading's start.
type tasksSeen struct {
	listedBy      time.Duration // from the binary's start to the last service's first DescribeTasks
	listed        int           // services whose tasks were described at least once
	listCalls     int           // ListTasks and DescribeTasks calls, the whole run
	windowCalls   int           // of which in the window
	peak          int           // the most in one second
	waited        time.Duration // how long the harness waited for every pair to be read
	readBeforeWin int           // pairs read before the warm-up began
}

func runLoad(ctx context.Context, o options, stdout io.Writer) error {
	nginxBin, err := findNginx(o.nginx)
	if err != nil {
		return err
	}
	lay := layout{services: o.services, tasks: o.tasks}
	if need := 3*lay.pairs() + 256; o.tasks > 0 && need > nofile() {
		return fmt.Errorf("-services %d -tasks %d needs about %d open files in nginx (a listening socket and two connections a task), more than the %d allowed here (ulimit -Hn)",
			o.services, o.tasks, need, nofile())
	}
	dir, bin, cleanup, err := workdir(o, stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	ng, err := startNginx(nginxBin, dir, min(4*lay.pairs()+1024, nofile()), lay.addrs())
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
	taskService := putServices(aws, lay)
	// The binary reads service i at <base>/a/<i>, the poller at
	// <base>/p/<i>: nginx's one address, or with -tasks each task's, {ip}
	// filled in by the binary (TaskStatusUrl) and by the poller.
	base, urlField := "http://"+ng.addr, "StatusUrl"
	if o.tasks > 0 {
		base, urlField = "http://{ip}:"+strconv.Itoa(ng.port), "TaskStatusUrl"
	}
	cfgPath := filepath.Join(dir, "config.json")
	if err := writeConfig(cfgPath, o.services, o.interval, 1_000_000_000, urlField, func(i int) string {
		return base + "/a/" + strconv.Itoa(i)
	}); err != nil {
		return err
	}
	if st, err := os.Stat(cfgPath); err == nil {
		if o.tasks == 0 {
			fmt.Fprintf(stdout, "config: %d services, %d bytes; nginx on %s\n", o.services, st.Size(), ng.addr)
		} else {
			fmt.Fprintf(stdout, "config: %d services of %d tasks each (TaskStatusUrl), %d bytes; nginx on port %d of %d loopback addresses, %s to %s\n",
				o.services, o.tasks, st.Size(), ng.port, lay.pairs(), taskAddr(0, 0), taskAddr(o.services-1, o.tasks-1))
		}
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
		args := []string{"-as-poller", "-services", strconv.Itoa(o.services), "-tasks", strconv.Itoa(o.tasks),
			"-interval", o.interval.String(), "-target", base + "/p/"}
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
	var ts tasksSeen
	if o.tasks > 0 {
		if ts.readBeforeWin, ts.waited, err = waitPairs(ctx, o, lay, ng.accessLog, bc, stdout); err != nil {
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
	// The binary's checks, from its metrics, outside the CPU window.
	var checks0 checkCounts
	if o.tasks > 0 {
		if checks0, err = scrapeChecks(ctx, snap.addr); err != nil {
			return err
		}
	}
	atFrom := blog.snapshot()
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
	atTo := blog.snapshot()
	if o.tasks > 0 {
		checks1, err := scrapeChecks(ctx, snap.addr)
		if err != nil {
			return err
		}
		sides[0].checks = checkCounts{all: checks1.all - checks0.all, failed: checks1.failed - checks0.failed}
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
	sides[0].checkedFirst = lastFirst(tr['a'], lay, bc.started)
	if pc != nil {
		sides[1].tr, sides[1].failedReads = tr['p'], int(pr.Failures)
		sides[1].checkedFirst = lastFirst(tr['p'], lay, pc.started)
	}
	if o.tasks > 0 {
		ts = listingSeen(ts, aws, taskService, o.services, bc.started, from, to)
	}
	report(stdout, o, to.Sub(from), bc, snap, aws, sides)
	if o.tasks > 0 {
		reportTasks(stdout, o, snap, atFrom, atTo, ts)
	}
	return loadErrors(o, lay, snap, atFrom, atTo, sides, pr)
}

// waitPairs waits, at most o.tasksWait, until the binary has read every
// (service, task) pair once, following the access log; it returns how many
// pairs were read and how long it waited, and says so.
func waitPairs(ctx context.Context, o options, lay layout, accessLog string, bc *child, stdout io.Writer) (int, time.Duration, error) {
	fol := newPairFollower(accessLog)
	start := time.Now()
	deadline := start.Add(o.tasksWait)
	next := start.Add(10 * time.Second)
	for {
		if err := fol.poll(); err != nil {
			return 0, 0, err
		}
		n := fol.read(lay)
		switch {
		case n >= lay.pairs():
			fmt.Fprintf(stdout, "every (service, task) pair read once, %.1f s after the start-up state read (%.1f s after exec)\n",
				time.Since(start).Seconds(), time.Since(bc.started).Seconds())
			return n, time.Since(start), nil
		case time.Now().After(deadline):
			fmt.Fprintf(stdout, "only %d of %d (service, task) pairs read within -tasks-wait %v: measuring anyway\n", n, lay.pairs(), o.tasksWait)
			return n, time.Since(start), nil
		case time.Now().After(next):
			next = next.Add(10 * time.Second)
			fmt.Fprintf(stdout, "  %d of %d (service, task) pairs read after %.0f s\n", n, lay.pairs(), time.Since(start).Seconds())
		}
		// nginx writes its log out every second.
		if err := sleepAlive(ctx, 250*time.Millisecond, bc); err != nil {
			return 0, 0, err
		}
	}
}

// scrapeChecks reads the binary's checks so far from its /metrics.
func scrapeChecks(ctx context.Context, addr string) (checkCounts, error) {
	if addr == "" {
		return checkCounts{}, errors.New("the binary logged no \"listening\" address to read its metrics from")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return checkCounts{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return checkCounts{}, fmt.Errorf("the binary's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return checkCounts{}, fmt.Errorf("the binary's metrics at %s: HTTP %d", req.URL, resp.StatusCode)
	}
	c, err := parseChecks(resp.Body)
	if err != nil {
		return checkCounts{}, fmt.Errorf("the binary's metrics at %s: %w", req.URL, err)
	}
	return c, nil
}

// listingSeen adds to ts what the wire server saw of the task listing:
// when each service's tasks were first described, and the calls made.
func listingSeen(ts tasksSeen, aws *awstest.Server, taskService map[string]int, services int, started, from, to time.Time) tasksSeen {
	calls := aws.Calls("ListTasks", "DescribeTasks")
	slices.SortFunc(calls, func(a, b awstest.Call) int { return a.Time.Compare(b.Time) })
	ts.listCalls = len(calls)
	ts.peak, _ = peakPerSecond(calls)
	first := map[int]time.Time{}
	for _, c := range calls {
		if !c.Time.Before(from) && !c.Time.After(to) {
			ts.windowCalls++
		}
		if c.Operation != "DescribeTasks" || c.Status != http.StatusOK {
			continue
		}
		ids, _ := c.Params["tasks"].([]any)
		for _, id := range ids {
			arn, _ := id.(string)
			svc, ok := taskService[arn[strings.LastIndexByte(arn, '/')+1:]]
			if _, seen := first[svc]; ok && !seen {
				first[svc] = c.Time
			}
		}
	}
	ts.listed = len(first)
	for _, t := range first {
		ts.listedBy = max(ts.listedBy, t.Sub(started))
	}
	if ts.listed < services {
		ts.listedBy = -1
	}
	return ts
}

// lastFirst is how long after start the last of lay's pairs was first
// read; -1 when some never was.
func lastFirst(t *traffic, lay layout, start time.Time) time.Duration {
	var last int64
	n := 0
	for p, ms := range t.first {
		if lay.valid(p) {
			n++
			last = max(last, ms)
		}
	}
	if n < lay.pairs() {
		return -1
	}
	return time.UnixMilli(last).Sub(start)
}

// pairsRead counts lay's pairs t read at least once, and those it read that
// lay does not make (a request at another service's task, or at the wrong
// address), with an example of the latter.
func pairsRead(t *traffic, lay layout) (read, wrong int, example pair) {
	for p := range t.first {
		if lay.valid(p) {
			read++
			continue
		}
		// The lowest, so that the example does not change from run to run.
		if wrong == 0 || p.service < example.service || p.service == example.service && p.addr.Less(example.addr) {
			example = p
		}
		wrong++
	}
	return read, wrong, example
}

func lastLine(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

// loadErrors is the run's failure, if any: never a timing.
// In per-task mode, reads that failed before the window while the tasks
// were first being listed (the listing budget lists a few services a
// second) are expected, as long as every one recovered and none failed in
// the window.
func loadErrors(o options, lay layout, snap, atFrom, atTo logSeen, sides []side, pr pollerResult) error {
	var errs []error
	b := sides[0]
	if b.tr.requests == 0 {
		errs = append(errs, errors.New("the binary made no check in the window"))
	}
	listing := o.tasks > 0 && snap.recovered == snap.readFailed && atTo.readFailed == atFrom.readFailed &&
		atTo.stillFailing == atFrom.stillFailing
	if b.failedReads > 0 && !listing {
		errs = append(errs, fmt.Errorf("the binary logged %d failed reads, e.g. %s", b.failedReads, strings.Join(snap.failLines, "\n")))
	}
	if snap.unanswered > 0 {
		errs = append(errs, fmt.Errorf("the binary logged \"tasks did not answer\" %d times, e.g. %s", snap.unanswered, strings.Join(snap.unansweredLines, "\n")))
	}
	if b.tr.errors > 0 {
		errs = append(errs, fmt.Errorf("nginx answered %d of the binary's requests with a status other than 200", b.tr.errors))
	}
	what := "services were ever checked"
	if o.tasks > 0 {
		what = "(service, task) pairs were ever read"
	}
	for i, s := range sides {
		name := []string{"the binary", "the poller"}[i]
		read, wrong, ex := pairsRead(s.tr, lay)
		if read < lay.pairs() {
			errs = append(errs, fmt.Errorf("%s: only %d of %d %s", name, read, lay.pairs(), what))
		}
		if wrong > 0 {
			errs = append(errs, fmt.Errorf("%s read %d (service, address) pairs the run does not make, e.g. service %d at %s", name, wrong, ex.service, ex.addr))
		}
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
			errs = append(errs, fmt.Errorf("the poller failed %d reads, from %s to %s, e.g. %s", pr.Failures,
				time.UnixMilli(pr.FirstFailure).UTC().Format("15:04:05.000"), time.UnixMilli(pr.LastFailure).UTC().Format("15:04:05.000"), pr.FirstError))
		}
	}
	return errors.Join(errs...)
}

func report(w io.Writer, o options, window time.Duration, bc *child, snap logSeen, aws *awstest.Server, sides []side) {
	if o.tasks == 0 {
		fmt.Fprintf(w, "\n%d services, CheckInterval %v, window %.1f s\n", o.services, o.interval, window.Seconds())
	} else {
		fmt.Fprintf(w, "\n%d services of %d tasks (%d pairs), CheckInterval %v, window %.1f s\n", o.services, o.tasks, o.services*o.tasks, o.interval, window.Seconds())
	}
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
	µs := func(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1e3) }
	perTask := o.tasks > 0
	if !perTask {
		row("checks in window", func(s side) string { return strconv.Itoa(s.tr.requests) }, nil)
	} else {
		row("requests in window", func(s side) string { return strconv.Itoa(s.tr.requests) }, nil)
		row("requests per good check", func(s side) string {
			if s.checks.all-s.checks.failed <= 0 {
				return "1"
			}
			return fmt.Sprintf("%.2f (T=%d)", float64(s.tr.requests)/float64(s.checks.all-s.checks.failed), o.tasks)
		}, nil)
	}
	row("connections used / opened", func(s side) string { return fmt.Sprintf("%d / %d", s.tr.conns, s.tr.newConns) }, nil)
	row("CPU in window", func(s side) string { return fmt.Sprintf("%.2f s", s.cpu.Seconds()) }, nil)
	name := "CPU per check"
	if perTask {
		name = "CPU per request"
	}
	row(name, func(s side) string { return µs(s.perCheck()) },
		func(b, p side) string {
			if p.perCheck() == 0 {
				return ""
			}
			return fmt.Sprintf("%.2f", float64(b.perCheck())/float64(p.perCheck()))
		})
	if perTask {
		row("CPU per check", func(s side) string {
			if s.checks.all <= 0 {
				return "-"
			}
			return µs(s.cpu / time.Duration(s.checks.all))
		}, nil)
	}
	row("RSS end / peak / HWM (MB)", func(s side) string {
		return fmt.Sprintf("%s / %s / %s", mb(s.mem.RSS), mb(s.peakRSS), mb(s.mem.HWM))
	}, func(b, p side) string { return fmt.Sprintf("%.2f (RSS end)", float64(b.mem.RSS)/float64(p.mem.RSS)) })
	name = "period p50 / p99 / max (s)"
	if perTask {
		name = "period of a pair p50/p99/max"
	}
	row(name, func(s side) string {
		st := summarise(s.tr.periods, o.interval)
		return fmt.Sprintf("%.3f / %.3f / %.3f", st.p50, st.p99, st.max)
	}, nil)
	row("periods > 110% interval", func(s side) string {
		st := summarise(s.tr.periods, o.interval)
		return fmt.Sprintf("%d of %d", st.late, st.n)
	}, nil)
	if perTask {
		row("longest silence in window", func(s side) string {
			return fmt.Sprintf("%.3f s at %s", float64(s.tr.silence)/1000, time.UnixMilli(s.tr.silenceAt).UTC().Format("15:04:05"))
		}, nil)
	}
	row("failed reads (whole run)", func(s side) string { return strconv.Itoa(s.failedReads) }, nil)
	if perTask {
		row("failed checks in window", func(s side) string {
			if s.checks.all <= 0 {
				return "-"
			}
			return strconv.FormatInt(s.checks.failed, 10)
		}, nil)
	}
	name = "all checked once after"
	if perTask {
		name = "all pairs read once after"
	}
	row(name, func(s side) string {
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

// reportTasks reports how per-task reading started and went: the listing,
// the wait for every pair, and the binary's per-task log lines (over the
// whole run, and in the window: from atFrom to atTo).
func reportTasks(w io.Writer, o options, snap, atFrom, atTo logSeen, ts tasksSeen) {
	listed := "never, for some"
	if ts.listedBy >= 0 {
		listed = fmt.Sprintf("by %.2f s after exec", ts.listedBy.Seconds())
	}
	fmt.Fprintf(w, "  tasks: every service's tasks listed %s (%d of %d services); %d ListTasks+DescribeTasks calls in all, %d in the window, peak %d in one second\n",
		listed, ts.listed, o.services, ts.listCalls, ts.windowCalls, ts.peak)
	fmt.Fprintf(w, "  tasks: waited %.1f s after the state read for every pair to be read (%d of %d were)\n",
		ts.waited.Seconds(), ts.readBeforeWin, o.services*o.tasks)
	fmt.Fprintf(w, "  log, whole run (window): metric read failed %d (%d), still failing %d (%d), recovered %d (%d), tasks did not answer %d (%d), tasks not listed %d (%d)\n",
		snap.readFailed, atTo.readFailed-atFrom.readFailed, snap.stillFailing, atTo.stillFailing-atFrom.stillFailing,
		snap.recovered, atTo.recovered-atFrom.recovered, snap.unanswered, atTo.unanswered-atFrom.unanswered,
		snap.notListed, atTo.notListed-atFrom.notListed)
	if len(snap.notListedLines) > 0 {
		fmt.Fprintf(w, "  e.g. %s\n", snap.notListedLines[0])
	}
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
