package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// Service is one service to watch: where it runs, how to read its load, the
// rules to scale it by, and who to tell.
type Service struct {
	Cluster string       // ECS cluster name; required
	Name    string       // ECS service name; required
	Source  MetricSource // required
	Policy  Policy       // see DefaultPolicy
	// Notifier is told about this service's events; nil tells no one (the
	// engine still logs them).
	Notifier notify.Notifier
}

// ID returns the service's identity as the scaler knows it.
func (s Service) ID() scaler.ServiceID { return scaler.ServiceID{Cluster: s.Cluster, Name: s.Name} }

// Validate reports every problem with s at once (see Policy.Validate).
func (s Service) Validate() error {
	var errs []error
	if s.Cluster == "" {
		errs = append(errs, &FieldError{Field: "Cluster", Problem: "must not be empty"})
	}
	if s.Name == "" {
		errs = append(errs, &FieldError{Field: "Name", Problem: "must not be empty"})
	}
	if s.Source == nil {
		errs = append(errs, &FieldError{Field: "Source", Problem: "must not be nil"})
	}
	return errors.Join(append(errs, s.Policy.Validate())...)
}

// Outcome says what one check did.
type Outcome int

// The outcomes of a check.
const (
	// Idle: the reading did not call for a scale-out.
	Idle Outcome = iota
	// ReadFailed: the metric source failed; nothing else was done.
	ReadFailed
	// ScaledOut: the desired count was raised.
	ScaledOut
	// HeldAtMax: a scale-out was called for, but the desired count already
	// stood at MaxDesiredCount; no update was made.
	HeldAtMax
	// ScaleFailed: a scale-out was called for and the scaler failed.
	ScaleFailed
)

// String returns the outcome's stable name, as used in logs and metrics.
func (o Outcome) String() string {
	switch o {
	case Idle:
		return "idle"
	case ReadFailed:
		return "read_failed"
	case ScaledOut:
		return "scaled_out"
	case HeldAtMax:
		return "held_at_max"
	case ScaleFailed:
		return "scale_failed"
	}
	return "unknown"
}

// Check is the result of one Step.
type Check struct {
	Time       time.Time // when the check ran
	Outcome    Outcome
	Reading    Reading // zero when the read failed
	DesiredCur int     // desired count found (scale-out attempts only)
	DesiredNew int     // desired count set or asked for (scale-out attempts only)
	Err        error   // the read or scaler failure
	// Next is when the next check is due: Time + CheckInterval; Time +
	// GracePeriod after ScaledOut or HeldAtMax; later after ScaleFailed
	// runs (see the retry backoff on Step).
	Next time.Time
}

// Watcher runs the checks of one service. Step is not safe for concurrent
// use: one goroutine (the engine's, or a simulation's) drives each Watcher.
type Watcher struct {
	svc        Service
	id         scaler.ServiceID
	scaler     scaler.Scaler
	log        *slog.Logger    // carries the service and cluster attributes
	failures   int             // consecutive failed reads
	scaleFails int             // consecutive failed scale-outs
	stop       <-chan struct{} // closed when the engine stops: start no scale-out
}

// NewWatcher returns a Watcher for svc acting through sc and logging to
// logger (discarded when nil). It fails when svc is invalid.
func NewWatcher(svc Service, sc scaler.Scaler, logger *slog.Logger) (*Watcher, error) {
	if err := svc.Validate(); err != nil {
		return nil, fmt.Errorf("service %s/%s: %w", svc.Cluster, svc.Name, err)
	}
	if sc == nil {
		return nil, errors.New("autoscaler: nil scaler")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{
		svc:    svc,
		id:     svc.ID(),
		scaler: sc,
		log:    logger.With(slog.String("cluster", svc.Cluster), slog.String("service", svc.Name)),
	}, nil
}

// reconfigure gives the watcher new settings for its service (same cluster
// and name), keeping its state: failure counts and the schedule the caller
// keeps.
func (w *Watcher) reconfigure(svc Service) { w.svc = svc }

// stopOn makes the watcher start no scale-out once stop is closed (the
// engine is shutting down), even from a reading already in flight.
func (w *Watcher) stopOn(stop <-chan struct{}) { w.stop = stop }

// Step runs one check at time now: read the metric, decide, act, notify. It
// returns what happened and when the next check is due. A failed read is
// logged and skipped; a failed scale-out is logged, notified (the first of a
// run), and retried at the next check, backing off while it keeps failing.
func (w *Watcher) Step(ctx context.Context, now time.Time) Check {
	p := w.svc.Policy
	c := Check{Time: now, Next: now.Add(p.CheckInterval)}

	r, err := w.svc.Source.Read(ctx)
	if err != nil {
		w.failures++
		c.Outcome, c.Err = ReadFailed, err
		w.log.LogAttrs(ctx, slog.LevelWarn, "metric read failed",
			slog.Int("failures", w.failures), slog.String("error", err.Error()))
		if w.failures == p.AlertAfterFailures {
			w.notify(ctx, notify.Event{Kind: notify.MetricFailing, Time: now, Failures: w.failures, Err: err})
		}
		return c
	}
	if w.failures > 0 {
		if w.failures >= p.AlertAfterFailures {
			w.log.LogAttrs(ctx, slog.LevelInfo, "metric source recovered", slog.Int("failures", w.failures))
			w.notify(ctx, notify.Event{Kind: notify.MetricRecovered, Time: now, Failures: w.failures})
		}
		w.failures = 0
	}
	c.Reading = r

	if !p.Triggered(r) {
		w.scaleFails = 0 // the load fell back: a later spike's failures are a new run
		if w.log.Enabled(ctx, slog.LevelDebug) {
			attrs := []slog.Attr{slog.Float64("active", r.Value), slog.Bool("overload", r.Overload)}
			w.log.LogAttrs(ctx, slog.LevelDebug, "check", append(attrs, taskAttrs(r)...)...)
		}
		return c
	}
	select {
	case <-w.stop: // the read was in flight when the engine began to stop
		w.log.LogAttrs(ctx, slog.LevelInfo, "scale-out not started: shutting down", slog.Float64("active", r.Value))
		return c
	default:
	}
	c = w.scaleOut(ctx, c)
	if l, ok := w.svc.Source.(ScaleOutListener); ok && c.Outcome == ScaledOut {
		l.ScaledOut(c.Time)
	}
	return c
}

// taskAttrs describes a per-task reading for the log: tasks that answered,
// their total, and those that did not answer or are starting; nothing for a
// reading through a load balancer.
func taskAttrs(r Reading) []slog.Attr {
	if r.Tasks == 0 && r.Unanswered == 0 {
		return nil
	}
	return []slog.Attr{slog.Int("tasks", r.Tasks), slog.Float64("total", r.Total),
		slog.Int("unanswered", r.Unanswered), slog.Int("starting", r.Starting)}
}

// scaleOut reads the service's state and raises its desired count.
func (w *Watcher) scaleOut(ctx context.Context, c Check) Check {
	p := w.svc.Policy
	ev := notify.Event{Time: c.Time, Value: c.Reading.Value, Overload: c.Reading.Overload}
	attrs := []slog.Attr{slog.Float64("active", c.Reading.Value), slog.Bool("overload", c.Reading.Overload)}

	st, err := w.scaler.State(ctx, w.id)
	if err != nil {
		return w.failed(ctx, c, ev, attrs, fmt.Errorf("read service state: %w", err))
	}
	desired, capped := p.ScaleOutTo(st.Desired)
	c.DesiredCur, c.DesiredNew = st.Desired, desired
	ev.DesiredCur, ev.DesiredNew = st.Desired, desired
	if capped {
		ev.MaxDesired = p.MaxDesiredCount
	}
	attrs = append(attrs, slog.Int("desired_cur", st.Desired), slog.Int("desired_new", desired),
		slog.Int("running", st.Running), slog.Int("pending", st.Pending))

	if desired <= st.Desired {
		w.scaleFails = 0
		c.Outcome, c.Next = HeldAtMax, c.Time.Add(p.GracePeriod)
		ev.Kind = notify.HeldAtMax
		w.log.LogAttrs(ctx, slog.LevelWarn, "scale-out held: desired count at MaxDesiredCount",
			append(attrs, slog.Int("desired_max", p.MaxDesiredCount), slog.String("grace", p.GracePeriod.String()))...)
		w.notify(ctx, ev)
		return c
	}
	if err := w.scaler.SetDesired(ctx, w.id, desired); err != nil {
		return w.failed(ctx, c, ev, attrs, fmt.Errorf("set desired count %d: %w", desired, err))
	}
	w.scaleFails = 0
	c.Outcome, c.Next = ScaledOut, c.Time.Add(p.GracePeriod)
	ev.Kind = notify.ScaledOut
	if capped {
		attrs = append(attrs, slog.Int("desired_max", p.MaxDesiredCount))
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "scaled out", append(attrs, slog.String("grace", p.GracePeriod.String()))...)
	w.notify(ctx, ev)
	return c
}

// failed records a failed scale-out. It is retried at the next check, and
// after further failures in a row at doubling intervals (up to 32 ×
// CheckInterval, never beyond GracePeriod), so an outage or a missing
// permission does not hammer ECS. Only the first failure of a run is
// notified; the next ScaleOut event says it recovered.
func (w *Watcher) failed(ctx context.Context, c Check, ev notify.Event, attrs []slog.Attr, err error) Check {
	w.scaleFails++
	p := w.svc.Policy
	c.Outcome, c.Err = ScaleFailed, err
	c.Next = c.Time.Add(min(p.CheckInterval<<min(w.scaleFails-1, 5), p.GracePeriod))
	ev.Kind, ev.Err = notify.ScaleFailed, err
	w.log.LogAttrs(ctx, slog.LevelError, "scale-out failed", append(attrs,
		slog.Int("failures", w.scaleFails), slog.Time("retry_at", c.Next), slog.String("error", err.Error()))...)
	if w.scaleFails == 1 {
		w.notify(ctx, ev)
	}
	return c
}

func (w *Watcher) notify(ctx context.Context, ev notify.Event) {
	if w.svc.Notifier == nil {
		return
	}
	ev.Cluster, ev.Service = w.svc.Cluster, w.svc.Name
	if err := w.svc.Notifier.Notify(ctx, ev); err != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "notify failed",
			slog.String("event", ev.Kind.String()), slog.String("error", err.Error()))
	}
}
