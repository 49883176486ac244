package autoscaler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// Defaults for Options.
const (
	// DefaultShutdownGrace is how long a scale-out already under way when
	// Run's context is cancelled may go on, so that an update in flight can
	// finish and be reported. It leaves room for the notifications within
	// ECS's default 30 s stop timeout.
	DefaultShutdownGrace = 20 * time.Second
	// DefaultStuckAfter is how long a check may run beyond its service's
	// CheckInterval (which bounds its metric read), or a due check may fail
	// to start, before Stuck reports the service's loop as stuck.
	DefaultStuckAfter = 2 * time.Minute
)

// Observer is told about every check the engine runs, on the watcher's own
// goroutine right after the check: it must return quickly. A check that
// ends after its service was removed (by Update) or the engine stopped is
// not observed. took is how long
// the check ran, by the engine's clock. Metrics are its usual job.
type Observer interface {
	Observe(svc scaler.ServiceID, c Check, took time.Duration)
}

// ServiceObserver is an Observer that also hands out an observer bound to
// one service, which the engine calls at each check of that service
// instead of Observe: no lookup of the service at every check.
// autoscaler/metrics's Metrics is one.
type ServiceObserver interface {
	Observer
	// ForService returns what observes svc's checks, as Observe(svc, ...)
	// would. The engine asks once each time it starts svc's checks.
	ForService(svc scaler.ServiceID) func(c *Check, took time.Duration)
}

// ObserverFunc adapts an ordinary function to an Observer.
type ObserverFunc func(svc scaler.ServiceID, c Check, took time.Duration)

// Observe calls f(svc, c, took).
func (f ObserverFunc) Observe(svc scaler.ServiceID, c Check, took time.Duration) { f(svc, c, took) }

// Options configure an Engine. Scaler is required; the rest have defaults.
type Options struct {
	// Scaler reads and sets desired counts, shared by every watcher. Required.
	Scaler scaler.Scaler
	// Clock is the source of time. Default clock.New(); tests and
	// simulations pass a mock.
	Clock clock.Clock
	// Logger receives the engine's structured logs. Default: discarded.
	Logger *slog.Logger
	// Observer, when set, is told about every check.
	Observer Observer
	// ShutdownGrace bounds how long a scale-out in flight at shutdown (the
	// scaler's calls and the notification) may run on before its context is
	// cancelled; a metric read in flight is cancelled at once. Default
	// DefaultShutdownGrace (20 s).
	ShutdownGrace time.Duration
	// StuckAfter is how long a check may run beyond its service's
	// CheckInterval, or a due check may wait to start, before Stuck reports
	// the loop. Set it above the longest the scaler's calls of one check may
	// take. Default DefaultStuckAfter (2 min).
	StuckAfter time.Duration
	// Stagger spreads the services' checks over their CheckInterval instead
	// of making every service's first check at once: a service's first check
	// waits a fixed fraction of its CheckInterval (from a hash of its cluster
	// and name, so the same on every start), and its later checks keep that
	// phase. Many services behind one load balancer then send a steady
	// trickle of requests rather than one burst per interval, which a few
	// keep-alive connections carry without queueing. Each service is still
	// checked every CheckInterval; only its first check comes up to one
	// interval later. Default false: every first check at once.
	Stagger bool
	// Coalesce puts the services' due times on a grid whose step is at most
	// this long (on the engine's clock), so checks falling due within one
	// step start together and the process wakes once for them instead of
	// once each, which costs far less CPU per check when thousands of
	// services are spread over their interval. A service's step divides its
	// CheckInterval into a whole number of steps, at least ten, so the step
	// is also at most a tenth of the interval, and a regular check comes
	// exactly CheckInterval after the previous one (the schedule keeps its
	// phase, whatever the time a check takes to start). A due time is
	// rounded up to the grid, never down: no check comes before the time
	// its Step asked for (the end of a grace period, say), only less than a
	// step after it. Default 0: every check at its exact time.
	Coalesce time.Duration
	// Identity names this process in the scale-outs it records on services
	// (when the Scaler is a scaler.Recorder). Default DefaultIdentity().
	Identity string
}

// Engine runs one Watcher per service, each on its own schedule: a timer of
// the service's own starts each check on a goroutine of its own, so a slow
// or failing service never delays another, and a service waiting for its
// next check holds no goroutine. Update changes the set of services while it
// runs.
type Engine struct {
	opts Options

	mu       sync.Mutex
	loops    map[scaler.ServiceID]*loop
	started  bool            // Run was called
	stopping bool            // Run's context is done: start no loop
	runCtx   context.Context // set by Run: loops stop when it is done
	stepCtx  context.Context // set by Run: checks run on it
	wg       sync.WaitGroup  // loops started and not yet finished
}

// loop is one service's watcher, its schedule, and what the engine knows of
// its progress.
type loop struct {
	w       *Watcher
	pending atomic.Pointer[Service] // new settings, applied before the next check
	// busySince is when the running check started, due when the next check
	// is due; stamps by the engine's clock, 0 when not applicable.
	busySince, due atomic.Int64
	// interval is the service's CheckInterval, in nanoseconds, as of its
	// latest check.
	interval atomic.Int64

	statusMu sync.Mutex
	status   ServiceStatus // as of the last check; see Engine.Status

	// Set by start.
	ctx    context.Context    // done when this loop must stop
	cancel context.CancelFunc // stops this loop alone
	check  func()             // runs checks until the next is in the future: the timer's function
	// observe, when set, observes this service's checks (see
	// ServiceObserver); else Options.Observer does.
	observe func(c *Check, took time.Duration)

	mu    sync.Mutex
	state loopState
	timer *clock.Timer // the next check; created on first need
	// next is when the check about to run was due, before rounding to the
	// Coalesce grid of this step (see Engine.step); only the check
	// goroutine uses them.
	next time.Time
	step time.Duration
}

// newLoop returns a loop for w, its status filled from w's settings.
func newLoop(w *Watcher) *loop {
	l := &loop{w: w}
	w.describe(&l.status)
	return l
}

// loopState is where a started loop stands.
type loopState int

const (
	checking loopState = iota // a check runs, or its goroutine is about to start
	waiting                   // the timer is armed for the next check
	finished                  // stopped for good; counted out of the engine's WaitGroup
)

// New validates every service and returns an Engine for them. Its error
// names each invalid service (by index, cluster and name) and field, all at
// once. Two services with the same cluster and name are an error.
func New(services []Service, opts Options) (*Engine, error) {
	if opts.Scaler == nil {
		return nil, errors.New("autoscaler: Options.Scaler is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.StuckAfter <= 0 {
		opts.StuckAfter = DefaultStuckAfter
	}
	if opts.Identity == "" {
		opts.Identity = DefaultIdentity()
	}
	e := &Engine{opts: opts}
	watchers, err := e.watchers(services)
	if err != nil {
		return nil, err
	}
	e.loops = make(map[scaler.ServiceID]*loop, len(watchers))
	for _, w := range watchers {
		e.loops[w.id] = newLoop(w)
	}
	return e, nil
}

// watchers validates services and builds a Watcher for each.
func (e *Engine) watchers(services []Service) ([]*Watcher, error) {
	var errs []error
	if len(services) == 0 {
		errs = append(errs, errors.New("no services to watch"))
	}
	seen := make(map[scaler.ServiceID]int, len(services))
	out := make([]*Watcher, 0, len(services))
	for i, svc := range services {
		if j, dup := seen[svc.ID()]; dup {
			errs = append(errs, fmt.Errorf("services[%d] (%s): same cluster and service as services[%d]", i, svc.ID(), j))
			continue
		}
		seen[svc.ID()] = i
		w, err := NewWatcher(svc, e.opts.Scaler, e.opts.Logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("services[%d]: %w", i, err))
			continue
		}
		w.by = e.opts.Identity
		out = append(out, w)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("autoscaler: invalid services:\n%w", err)
	}
	return out, nil
}

// Update replaces the set of services, validating it as New does; on error
// nothing changes. Services are matched by cluster and name: a new one starts
// (its first check at once, or at its phase with Options.Stagger), a removed
// one stops (a check in flight finishes), and one that stays takes its new
// settings at its next check while keeping its state: its schedule, a grace
// period in progress, and its count of failed reads. Update may be called
// before, during or after Run.
func (e *Engine) Update(services []Service) error {
	watchers, err := e.watchers(services)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	keep := make(map[scaler.ServiceID]bool, len(watchers))
	for _, w := range watchers { // add first, so a running engine never has no loop
		keep[w.id] = true
		if l, ok := e.loops[w.id]; ok {
			svc := w.svc
			l.pending.Store(&svc)
			l.w.cfgPaused.Store(svc.Paused) // seen by Paused at once, not at the next check
			continue
		}
		l := newLoop(w)
		e.loops[w.id] = l
		if e.runCtx != nil {
			e.start(l)
		}
	}
	for id, l := range e.loops {
		if !keep[id] {
			if l.cancel != nil {
				l.cancel()
			}
			delete(e.loops, id)
		}
	}
	return nil
}

// Services returns the identities of the services being watched, sorted.
func (e *Engine) Services() []scaler.ServiceID {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]scaler.ServiceID, 0, len(e.loops))
	for id := range e.loops {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareService)
	return ids
}

// NoteState tells the engine a state of svc read elsewhere (a periodic read
// of every service, in batches), read at readAt by the engine's clock (when
// the read began): the service counts as paused, or not, as st.Paused says,
// until its watcher reads its state again, and Status reports st as the
// service's counts last seen. A state read before the one the engine already
// holds (a slow read that a check's own read overtook, say around a
// scale-out) is ignored, so it never hides a newer count. A service not
// being watched is ignored. Safe for concurrent use.
func (e *Engine) NoteState(svc scaler.ServiceID, st scaler.State, readAt time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.loops[svc]
	if !ok {
		return
	}
	l.statusMu.Lock()
	defer l.statusMu.Unlock()
	if readAt.Before(l.status.ScaleTime) {
		return
	}
	l.w.tagPaused.Store(st.Paused)
	l.status.Scale, l.status.ScaleTime = st, readAt
}

// Paused returns the services being watched that are paused, by their
// Service.Paused or as their state last read said (scaler.State.Paused),
// sorted. Their readings go on; their scale-outs are skipped.
func (e *Engine) Paused() []scaler.ServiceID {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []scaler.ServiceID
	for id, l := range e.loops {
		if l.w.paused() {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareService)
	return ids
}

// Stuck returns the services whose loop is stuck at time now (by the
// engine's clock): a check running for longer than StuckAfter plus the
// service's CheckInterval, or a check due that long ago and not started.
// Before Run and after it returns, every loop counts as stuck: nothing is
// being checked. The result is sorted.
func (e *Engine) Stuck(now time.Time) []scaler.ServiceID {
	e.mu.Lock()
	defer e.mu.Unlock()
	var stuck []scaler.ServiceID
	for id, l := range e.loops {
		limit := stamp(now.Add(-e.opts.StuckAfter - time.Duration(l.interval.Load())))
		busy, due := l.busySince.Load(), l.due.Load()
		if busy == 0 && due == 0 || busy != 0 && busy < limit || busy == 0 && due < limit {
			stuck = append(stuck, id)
		}
	}
	slices.SortFunc(stuck, compareService)
	return stuck
}

// stamp encodes t for loop's atomics: Unix nanoseconds, never 0 (which means
// "not set"; a mock clock starts at the Unix epoch).
func stamp(t time.Time) int64 { return max(t.UnixNano(), 1) }

func compareService(a, b scaler.ServiceID) int {
	return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Name, b.Name))
}

// Run checks every service until ctx is cancelled, then stops starting new
// checks, cancels the metric reads in flight, lets a scale-out in flight
// finish (for at most ShutdownGrace; then its context is cancelled, and the
// update's outcome is reported unknown), and returns nil once every watcher
// has stopped. Run may be called only once.
func (e *Engine) Run(ctx context.Context) error {
	// Scale-outs run on a context that outlives ctx by the shutdown grace,
	// so an UpdateService already sent is not abandoned half-way.
	stepCtx, cancelSteps := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSteps()

	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errors.New("autoscaler: Engine.Run called more than once")
	}
	e.started, e.runCtx, e.stepCtx = true, ctx, stepCtx
	for _, l := range e.loops {
		e.start(l)
	}
	e.mu.Unlock()

	<-ctx.Done()
	e.mu.Lock() // from here no loop starts, so Wait never races an Add
	e.stopping = true
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	grace := e.opts.Clock.Timer(e.opts.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		cancelSteps()
		<-done
	}
	return nil
}

// start starts l's checks; e.mu must be held and Run started. The first
// check runs at once, or at the service's phase with Options.Stagger.
func (e *Engine) start(l *loop) {
	if e.stopping {
		return
	}
	clk := e.opts.Clock
	l.ctx, l.cancel = context.WithCancel(e.runCtx)
	l.w.runOn(e.stepCtx, clk.Now)
	l.interval.Store(int64(l.w.svc.Policy.CheckInterval))
	l.check = func() { e.checks(l) }
	if so, ok := e.opts.Observer.(ServiceObserver); ok {
		l.observe = so.ForService(l.w.id)
	}
	now, interval := clk.Now(), l.w.svc.Policy.CheckInterval
	l.next, l.step = now, e.step(interval)
	first := time.Duration(0)
	if e.opts.Stagger {
		l.next = now.Add(phase(l.w.id, interval))
		first = max(roundUp(l.next, l.step).Sub(now), 0)
	}
	l.due.Store(stamp(now.Add(first))) // due: not stuck before its check starts
	e.wg.Add(1)
	l.mu.Lock()
	if first > 0 {
		l.state, l.timer = waiting, clk.AfterFunc(first, l.check)
	} else {
		l.state = checking
		go l.check()
	}
	l.mu.Unlock()
	context.AfterFunc(l.ctx, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		// A timer that already fired has started checks, which see the
		// context done and finish the loop themselves.
		if l.state == waiting && l.timer.Stop() {
			e.finish(l)
		}
	})
}

// checks runs l's checks, one after another, until the next is due in the
// future; it then arms l's timer, which calls it again. It finishes the
// loop once l.ctx is done.
func (e *Engine) checks(l *loop) {
	clk := e.opts.Clock
	for {
		l.mu.Lock()
		if l.ctx.Err() != nil {
			e.finish(l)
			l.mu.Unlock()
			return
		}
		l.state = checking
		l.mu.Unlock()

		if svc := l.pending.Swap(nil); svc != nil {
			l.w.reconfigure(*svc)
			l.interval.Store(int64(svc.Policy.CheckInterval))
			l.step = e.step(svc.Policy.CheckInterval)
		}
		start := clk.Now()
		l.busySince.Store(stamp(start))
		c := l.w.Step(l.ctx, start) // reads on l.ctx; a scale-out on e.stepCtx
		l.busySince.Store(0)
		l.next = schedule(c, start, l.next, l.w.svc.Policy.CheckInterval, l.step)
		at := roundUp(l.next, l.step)
		l.due.Store(stamp(at))
		l.statusMu.Lock()
		l.w.observe(&l.status, c)
		l.status.NextCheck = at // when the check will run: c.Next rounded to the grid
		l.statusMu.Unlock()
		switch { // a removed service stays forgotten
		case l.ctx.Err() != nil:
		case l.observe != nil:
			l.observe(&c, clk.Now().Sub(start))
		case e.opts.Observer != nil:
			e.opts.Observer.Observe(l.w.id, c, clk.Now().Sub(start))
		}
		wait := at.Sub(clk.Now())
		if wait <= 0 {
			continue
		}
		l.mu.Lock()
		if l.ctx.Err() != nil {
			e.finish(l)
		} else {
			l.state = waiting
			if l.timer == nil {
				l.timer = clk.AfterFunc(wait, l.check)
			} else {
				l.timer.Reset(wait)
			}
		}
		l.mu.Unlock()
		return
	}
}

// schedule returns when the check after c is due, before rounding to the
// Coalesce grid of the given step: c.Next, except that a regular check
// (c.Next one interval after the check started) that started within a step
// of its place on the grid counts from the time it was due instead, so that
// neither the rounding nor the time a check takes to start pushes the
// schedule later at every check; one that started later (the process was
// stopped, say) counts from its start, so checks never run back to back to
// catch up.
func schedule(c Check, start, due time.Time, interval, step time.Duration) time.Time {
	if step <= 0 {
		return c.Next
	}
	if late := start.Sub(roundUp(due, step)); c.Next.Equal(start.Add(interval)) && late >= 0 && late < step {
		return due.Add(interval)
	}
	return c.Next
}

// minSteps is the fewest steps a service's CheckInterval is divided into on
// the Coalesce grid: rounding to the grid moves a check less than a tenth
// of its interval.
const minSteps = 10

// step returns the Coalesce grid's step for a service checked every
// interval: the interval divided into the fewest whole steps, at least
// minSteps, no longer than Coalesce, preferring a step that divides the
// interval to the nanosecond (so that the rounding never lengthens a
// period); 0 without Coalesce. Services with the same interval share a grid.
func (e *Engine) step(interval time.Duration) time.Duration {
	if e.opts.Coalesce <= 0 || interval <= 0 {
		return 0
	}
	n := max((interval+e.opts.Coalesce-1)/e.opts.Coalesce, minSteps)
	for m := n; m < 2*n; m++ {
		if interval%m == 0 {
			return interval / m
		}
	}
	return interval / n
}

// roundUp returns the first multiple of step (since the zero time) at or
// after t; t itself when step <= 0.
func roundUp(t time.Time, step time.Duration) time.Time {
	if step <= 0 {
		return t
	}
	if g := t.Truncate(step); g.Before(t) {
		return g.Add(step)
	}
	return t
}

// finish marks l stopped for good; l.mu must be held.
func (e *Engine) finish(l *loop) {
	if l.state == finished {
		return
	}
	l.state = finished
	l.cancel()
	l.busySince.Store(0)
	l.due.Store(0) // a stopped loop is not alive
	e.wg.Done()
}

// phase returns a fixed offset in [0, interval) for svc: a hash of its
// cluster and name (FNV-1a, then a finaliser that mixes every input bit
// into the high bits, which FNV alone leaves nearly unchanged for names
// that differ in their last characters), scaled to the interval. It spreads
// services evenly, and gives one service the same phase on every start.
func phase(svc scaler.ServiceID, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(svc.Cluster))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(svc.Name))
	x := h.Sum64()
	x ^= x >> 33 // MurmurHash3's fmix64
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	frac := float64(x>>11) / (1 << 53) // uniform in [0, 1)
	return time.Duration(frac * float64(interval))
}
