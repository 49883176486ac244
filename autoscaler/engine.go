package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// DefaultShutdownGrace is how long, by default, a check already running when
// Run's context is cancelled may go on (so an update in flight can finish).
// It stays well inside ECS's default 30 s stop timeout.
const DefaultShutdownGrace = 4 * time.Second

// Options configure an Engine. Scaler is required; the rest have defaults.
type Options struct {
	// Scaler reads and sets desired counts, shared by every watcher. Required.
	Scaler scaler.Scaler
	// Clock is the source of time. Default clock.New(); tests and
	// simulations pass a mock.
	Clock clock.Clock
	// Logger receives the engine's structured logs. Default: discarded.
	Logger *slog.Logger
	// ShutdownGrace bounds how long a check in flight at shutdown may run on
	// before its context is cancelled. Default DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

// Engine runs one Watcher per service, each on its own schedule in its own
// goroutine, so a slow or failing service never delays another.
type Engine struct {
	watchers []*Watcher
	clock    clock.Clock
	grace    time.Duration
	running  atomic.Bool
}

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
	e := &Engine{clock: opts.Clock, grace: opts.ShutdownGrace}
	var errs []error
	seen := make(map[scaler.Service]int, len(services))
	for i, svc := range services {
		if j, dup := seen[svc.ID()]; dup {
			errs = append(errs, fmt.Errorf("services[%d] (%s): same cluster and service as services[%d]", i, svc.ID(), j))
			continue
		}
		seen[svc.ID()] = i
		w, err := NewWatcher(svc, opts.Scaler, opts.Logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("services[%d]: %w", i, err))
			continue
		}
		e.watchers = append(e.watchers, w)
	}
	if len(services) == 0 {
		errs = append(errs, errors.New("no services to watch"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("autoscaler: invalid services:\n%w", err)
	}
	return e, nil
}

// Run checks every service until ctx is cancelled, then stops starting new
// checks, lets a check in flight finish (for at most ShutdownGrace; then its
// context is cancelled), and returns nil once every watcher has stopped. Run
// may be called only once.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("autoscaler: Engine.Run called more than once")
	}
	// Checks run on a context that outlives ctx by the shutdown grace, so an
	// UpdateService already sent is not abandoned half-way.
	stepCtx, cancelSteps := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSteps()

	var wg sync.WaitGroup
	for _, w := range e.watchers {
		wg.Go(func() { e.loop(ctx, stepCtx, w) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	grace := e.clock.Timer(e.grace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		cancelSteps()
		<-done
	}
	return nil
}

// loop waits on the clock and calls Step until ctx is cancelled. The first
// check runs at once.
func (e *Engine) loop(ctx, stepCtx context.Context, w *Watcher) {
	var timer *clock.Timer
	next := e.clock.Now()
	for {
		if wait := next.Sub(e.clock.Now()); wait > 0 {
			if timer == nil {
				timer = e.clock.Timer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		next = w.Step(stepCtx, e.clock.Now()).Next
	}
}
