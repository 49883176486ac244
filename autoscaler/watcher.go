package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
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
	// Paused keeps the service from being scaled out: it is read as usual
	// (readings, logs and metrics go on) and a reading that calls for a
	// scale-out is skipped (Outcome Paused). The scaler can pause a service
	// too (scaler.State.Paused). Default false.
	Paused bool
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

// DefaultIdentity names this process in the scale-outs it records on
// services: "<host name>/<process id>", stable for the life of the process
// and different for two processes, even on one host.
func DefaultIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return host + "/" + strconv.Itoa(os.Getpid())
}

// Outcome says what one check did.
type Outcome int

// The outcomes of a check.
const (
	// Idle: the reading did not call for a scale-out, or nothing needed
	// raising.
	Idle Outcome = iota
	// ReadFailed: the metric source failed; nothing else was done.
	ReadFailed
	// ScaledOut: the desired count was raised (or an update whose call
	// failed was found in force: Check.Landed).
	ScaledOut
	// HeldAtMax: a scale-out was called for, but the desired count already
	// stood at its cap (MaxDesiredCount, or the scalable target's
	// MaxCapacity); no update was made.
	HeldAtMax
	// ScaleFailed: a scale-out was called for and the scaler failed.
	ScaleFailed
	// Paused: a scale-out was called for, but the service is paused (by
	// Service.Paused or the scaler's State.Paused); no update was made.
	Paused
	// InGrace: a scale-out was called for, but one recorded on the service
	// (scaler.State.LastScaleOut: by another process, or by this one before
	// a restart) is still within GracePeriod; no update was made, and the
	// next check is due when that grace period ends.
	InGrace
	// DryRun: a scale-out was called for and decided, but the scaler is a
	// dry run (its SetDesired returned scaler.ErrDryRun): nothing was
	// changed. The service then waits out its grace period, as it would
	// have after the scale-out.
	DryRun
	// HeldStarting: a scale-out was called for, but the tasks asked for by
	// the last one have not all started; no update was made.
	HeldStarting
	// HeldSuspended: a scale-out was called for, but scale-out is suspended
	// on the service's scalable target; no update was made.
	HeldSuspended
	// ScaleUnknown: a scale-out was called for and its update failed in a
	// way that leaves open whether it was applied (scaler.ErrOutcomeUnknown,
	// or its context ended). The service was then read at once:
	// Check.DesiredAfter says what was found, and Check.Landed that the
	// count asked for is in force, so the scale-out is done (its grace
	// period starts, no second update is made). Otherwise it is retried as
	// a ScaleFailed is.
	ScaleUnknown
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
	case Paused:
		return "paused"
	case InGrace:
		return "in_grace"
	case DryRun:
		return "dry_run"
	case HeldStarting:
		return "held_starting"
	case HeldSuspended:
		return "held_suspended"
	case ScaleUnknown:
		return "scale_unknown"
	}
	return "unknown"
}

// Check is the result of one Step.
type Check struct {
	Time       time.Time // when the check ran
	Outcome    Outcome
	Reading    Reading // zero when the read failed
	DesiredCur int     // desired count found (scale-out attempts only)
	DesiredNew int     // desired count set, asked for, or the cap held at (scale-out attempts only)
	// DesiredAfter is the desired count read right after a ScaleUnknown, -1
	// when that read failed; 0 otherwise.
	DesiredAfter int
	Err          error // the read or scaler failure
	// Paused reports that the service was paused at this check, by its
	// config or as its state last read said.
	Paused bool
	// Recorded is the scale-out recorded on the service that held this one
	// (InGrace only).
	Recorded scaler.ScaleOut
	// Landed reports that the count asked for by an update whose call
	// failed was found in force, so no second update is made: on a
	// ScaleUnknown, by the read right after the call (the grace period
	// starts); on a ScaledOut that made no update, by a later check's read.
	Landed bool
	// Grace reports that the service is in a grace period after this check.
	Grace bool
	// Next is when the next check is due: Time + CheckInterval; Time +
	// GracePeriod after ScaledOut, DryRun, HeldAtMax or a ScaleUnknown that
	// landed (unless the grace period is checked: ScaleoutMode capacity,
	// EscalateWhenReady); the end of the recorded scale-out's grace period
	// after InGrace; later after ScaleFailed, ScaleUnknown (not landed),
	// HeldStarting and HeldSuspended runs (see the backoff on Step).
	Next time.Time
}

// Watcher runs the checks of one service. Step is not safe for concurrent
// use: one goroutine (the engine's, or a simulation's) drives each Watcher.
type Watcher struct {
	svc        Service
	id         scaler.ServiceID
	scaler     scaler.Scaler
	recorder   scaler.Recorder // the scaler, when it records scale-outs; else nil
	by         string          // this process, in recorded scale-outs
	log        *slog.Logger    // carries the service and cluster attributes
	failures   int             // consecutive failed reads
	scaleFails int             // consecutive failed scale-outs
	mem        memory          // what the decisions remember
	actCtx     context.Context // set by the engine: scale-outs run on it, past the check's own context
	now        func() time.Time

	readFails readFailures // the run of failed reads, for the log
	status    statusTrack  // what Status reports, kept up to date by each check
	// cfgPaused mirrors svc.Paused and tagPaused the scaler's last
	// State.Paused, for readers on other goroutines (Engine.Paused,
	// Engine.NoteState).
	cfgPaused, tagPaused atomic.Bool
	wasPaused            bool // paused at the last check: a change is logged
	recordDenied         bool // the scaler refused to record: warned once
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
	w := &Watcher{
		svc:    svc,
		id:     svc.ID(),
		scaler: sc,
		by:     DefaultIdentity(),
		log:    logger.With(slog.String("cluster", svc.Cluster), slog.String("service", svc.Name)),
	}
	w.recorder, _ = sc.(scaler.Recorder)
	w.cfgPaused.Store(svc.Paused)
	return w, nil
}

// reconfigure gives the watcher new settings for its service (same cluster
// and name), keeping its state: failure counts, what it asked for last, and
// the schedule the caller keeps.
func (w *Watcher) reconfigure(svc Service) {
	w.svc = svc
	w.cfgPaused.Store(svc.Paused)
}

// paused reports whether the service is paused, by its config or as its
// state last read said. Safe from any goroutine.
func (w *Watcher) paused() bool { return w.cfgPaused.Load() || w.tagPaused.Load() }

// notePaused logs a change of the paused state since the last check.
func (w *Watcher) notePaused(ctx context.Context) bool {
	paused := w.paused()
	if paused == w.wasPaused {
		return paused
	}
	w.wasPaused = paused
	if !paused {
		w.log.LogAttrs(ctx, slog.LevelInfo, "service resumed: scale-outs allowed again")
		return false
	}
	by := "scaler"
	if w.cfgPaused.Load() {
		by = "config"
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "service paused: readings go on, scale-outs are skipped", slog.String("paused_by", by))
	return true
}

// runOn makes the watcher act (scale out, notify) on act rather than on the
// check's context, so a scale-out in flight when the engine stops (and the
// check's context is cancelled) can finish, and take the time from now
// when it must know how long acting took.
func (w *Watcher) runOn(act context.Context, now func() time.Time) { w.actCtx, w.now = act, now }

// clock returns the current time: now, or later when the engine's clock
// says so (acting may take a while).
func (w *Watcher) clock(now time.Time) time.Time {
	if w.now != nil {
		if t := w.now(); t.After(now) {
			return t
		}
	}
	return now
}

// Step runs one check at time now: read the metric, decide, act, notify. It
// returns what happened and when the next check is due.
//
// A failed read is skipped: the first of a run is logged at warn level,
// then a summary at most once a minute while the run lasts, and a line when
// reads recover. A reading above the threshold (ScaleoutAfterChecks of them
// in a row; an overload at once) reads the service's state and raises the
// desired count by the policy's ScaleoutMode, within the bounds: never
// above MaxDesiredCount or the scalable target's MaxCapacity, never while
// the scalable target's scale-out is suspended or the service is paused,
// never within the grace period of a scale-out recorded on the service by
// another process, and never again while the tasks asked for by the last
// scale-out have not all started (in ModeCapacity, only as far as the load
// on the tasks already serving needs). A failed scale-out is logged,
// notified (the first of a run), and retried at the next check, backing off
// (with jitter) while it keeps failing. Every failed update is remembered:
// the retry first reads the state, and if the failed update is in force
// after all, it is done and reported as ScaledOut (Landed), with no second
// update. An update whose outcome is unknown (no answer, a broken
// connection, a server error, shutdown: see ScaleUnknown) is reported as
// ScaleUnknown, and the service is read at once to settle it the same way.
// After a scale-out whose tasks have not started within StartupTimeout, one
// TasksNotStarting event is sent.
//
// Once ctx is done (the engine is stopping, or the service was removed), a
// read cut short is not counted as a failure and no scale-out starts.
func (w *Watcher) Step(ctx context.Context, now time.Time) Check {
	p := w.svc.Policy
	c := Check{Time: now, Next: now.Add(p.CheckInterval), Paused: w.notePaused(ctx)}

	r, err := w.svc.Source.Read(ctx)
	if err != nil && ctx.Err() != nil {
		c.Outcome, c.Err = ReadFailed, err
		w.log.LogAttrs(ctx, slog.LevelDebug, "metric read cut short: stopping", slog.String("error", err.Error()))
		return c
	}
	if err != nil {
		c.Outcome, c.Err = ReadFailed, err
		c.Grace = now.Before(w.mem.graceUntil)
		w.readFailed(ctx, now, err)
		return c
	}
	if w.failures > 0 {
		w.readRecovered(ctx, now)
	}
	c.Reading = r

	p.observe(r, &w.mem)
	p.remember(now, r, &w.mem)
	if !p.Triggered(r) {
		w.scaleFails = 0 // the load fell back: a later spike's failures are a new run
	}
	if !p.needsState(now, r, &w.mem) {
		d := p.skip(now, &w.mem)
		c.Next, c.Grace = d.next, now.Before(w.mem.graceUntil)
		if w.log.Enabled(ctx, slog.LevelDebug) {
			attrs := []slog.Attr{slog.Float64("active", r.Value), slog.Bool("overload", r.Overload)}
			w.log.LogAttrs(ctx, slog.LevelDebug, "check", append(attrs, taskAttrs(r)...)...)
		}
		return c
	}
	if ctx.Err() != nil { // the read was in flight when the engine began to stop
		w.log.LogAttrs(ctx, slog.LevelInfo, "scale-out not started: stopping", slog.Float64("active", r.Value))
		return c
	}
	if w.actCtx != nil {
		ctx = w.actCtx
	}
	if w.svc.Paused && p.acts(r, &w.mem) && w.mem.unsure.to == 0 { // no need to ask the scaler
		return w.held(ctx, c, scaler.State{}, Paused, c.Next)
	}
	c = w.act(ctx, c)
	if l, ok := w.svc.Source.(ScaleOutListener); ok && (c.Outcome == ScaledOut || c.Outcome == ScaleUnknown && c.Landed) {
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

// hold says whether a scale-out called for at now must wait, and until
// when: Paused when the scaler reports the service paused; InGrace until
// the end of the grace period of a scale-out recorded on the service when
// now falls within it and the scale-out is in effect (the desired count is
// at least the one recorded: a record whose update failed, or has not
// landed yet, holds nothing). A record dated after now, from a process
// whose clock runs ahead, holds for at most grace from now. Idle means go
// ahead.
func hold(now time.Time, grace time.Duration, st scaler.State) (Outcome, time.Time) {
	if st.Paused {
		return Paused, time.Time{}
	}
	rec := st.LastScaleOut
	if rec.IsZero() || st.Desired < rec.Desired {
		return Idle, time.Time{}
	}
	if end := rec.Time.Add(grace); now.Before(end) {
		if limit := now.Add(grace); end.After(limit) {
			end = limit
		}
		return InGrace, end
	}
	return Idle, time.Time{}
}

// ownRecord reports whether rec is one of this watcher's own scale-outs,
// which its memory already accounts for (its grace period included).
func (w *Watcher) ownRecord(rec scaler.ScaleOut) bool {
	return rec.By == w.by && (rec.Time.Equal(w.mem.last.at) || rec.Time.Equal(w.mem.unsure.at))
}

// held ends a check whose scale-out must wait (Paused or InGrace until
// until): no update, no notification (for InGrace, the process that scaled
// told whoever it tells).
func (w *Watcher) held(ctx context.Context, c Check, st scaler.State, out Outcome, until time.Time) Check {
	w.scaleFails = 0 // the spike is answered, or deliberately not: a later failure starts a new run
	c.Outcome, c.DesiredCur = out, st.Desired
	if out == Paused {
		if w.log.Enabled(ctx, slog.LevelDebug) {
			w.log.LogAttrs(ctx, slog.LevelDebug, "scale-out skipped: service paused",
				slog.Float64("active", c.Reading.Value), slog.Bool("overload", c.Reading.Overload))
		}
		return c
	}
	rec := st.LastScaleOut
	c.Recorded, c.Next = rec, until
	w.log.LogAttrs(ctx, slog.LevelInfo, "scale-out held: a recorded scale-out is in its grace period",
		slog.Float64("active", c.Reading.Value), slog.Bool("overload", c.Reading.Overload),
		slog.Int("desired_cur", st.Desired), slog.Time("recorded_at", rec.Time),
		slog.Int("recorded_desired", rec.Desired), slog.String("recorded_by", rec.By),
		slog.Bool("recorded_by_self", rec.By == w.by), slog.Time("grace_until", until))
	return c
}

// act reads the service's state, decides, and carries the decision out.
func (w *Watcher) act(ctx context.Context, c Check) Check {
	p := w.svc.Policy
	ev := notify.Event{Time: c.Time, Value: c.Reading.Value, Overload: c.Reading.Overload}
	attrs := []slog.Attr{slog.Float64("active", c.Reading.Value), slog.Bool("overload", c.Reading.Overload)}
	acting := p.acts(c.Reading, &w.mem) || w.mem.unsure.to > 0

	st, err := w.scaler.State(ctx, w.id)
	if err != nil {
		err = fmt.Errorf("read service state: %w", err)
		if acting {
			return w.failed(ctx, c, ev, attrs, err)
		}
		// Only following the last scale-out: try again at the next check.
		c.Grace = c.Time.Before(w.mem.graceUntil)
		w.log.LogAttrs(ctx, slog.LevelWarn, "service state not read", append(attrs, slog.String("error", err.Error()))...)
		return c
	}
	w.status.saw(st)
	w.tagPaused.Store(st.Paused)
	c.Paused = w.notePaused(ctx)
	d := p.decide(c.Time, c.Reading, st, &w.mem)
	c.DesiredCur, c.Next = d.from, d.next
	// A raise, or a hold that would be told, waits while the service is
	// paused or another process's scale-out is in its grace period.
	if d.outcome == ScaledOut && !d.landed || d.outcome == HeldAtMax || d.outcome == HeldSuspended {
		rec := st.LastScaleOut
		if w.ownRecord(rec) {
			st.LastScaleOut = scaler.ScaleOut{}
		}
		if w.svc.Paused {
			st.Paused = true
		}
		if out, until := hold(c.Time, p.grace(), st); out != Idle {
			st.LastScaleOut = rec
			return w.held(ctx, c, st, out, until)
		}
	}
	attrs = append(attrs, slog.Int("desired_cur", d.from), slog.Int("running", st.Running), slog.Int("pending", st.Pending))
	if d.load > 0 {
		attrs = append(attrs, slog.Float64("load_total", d.load), slog.Int("serving", d.serving))
		if d.headroom > 0 {
			attrs = append(attrs, slog.Float64("load_headroom", d.headroom))
		}
	}
	ev.DesiredCur, ev.Running, ev.Pending = d.from, st.Running, st.Pending
	if d.maxBy != "" {
		ev.MaxDesired, ev.MaxBy = d.maxBound, d.maxBy
	}
	w.tellStartup(ctx, c, d, st, ev)

	switch d.outcome {
	case Idle:
		c.Grace = c.Time.Before(w.mem.graceUntil)
		if w.log.Enabled(ctx, slog.LevelDebug) {
			if d.reason != "" {
				attrs = append(attrs, slog.String("reason", d.reason))
			}
			w.log.LogAttrs(ctx, slog.LevelDebug, "check", attrs...)
		}
		return c
	case HeldStarting, HeldSuspended:
		w.scaleFails = 0
		c.Outcome, c.DesiredNew = d.outcome, d.to
		c.Grace = c.Time.Before(w.mem.graceUntil)
		msg := "scale-out held: tasks asked for have not started"
		if d.outcome == HeldSuspended {
			msg = "scale-out held: suspended on the scalable target"
		}
		w.log.LogAttrs(ctx, slog.LevelWarn, msg, append(attrs, slog.Int("desired_new", d.to),
			slog.String("reason", d.reason), slog.Time("retry_at", c.Next))...)
		if d.suspended {
			ev.Kind, ev.DesiredNew = notify.ScaleOutSuspended, d.to
			w.notify(ctx, ev)
		}
		return c
	case HeldAtMax:
		w.scaleFails = 0
		c.Outcome, c.DesiredNew, c.Grace = HeldAtMax, d.to, true
		ev.Kind, ev.DesiredNew = notify.HeldAtMax, d.to
		w.log.LogAttrs(ctx, slog.LevelWarn, "scale-out held: desired count at "+d.maxBy,
			append(attrs, slog.Int("desired_max", d.maxBound), slog.String("bound", d.maxBy),
				slog.String("grace", p.grace().String()))...)
		w.notify(ctx, ev)
		return c
	}

	// ScaledOut.
	c.DesiredNew, ev.DesiredNew, ev.Escalation = d.to, d.to, d.escalation
	attrs = append(attrs, slog.Int("desired_new", d.to))
	if d.maxBy != "" {
		attrs = append(attrs, slog.Int("desired_max", d.maxBound), slog.String("bound", d.maxBy))
	}
	if d.landed {
		c.Landed, ev.Landed = true, true
		w.log.LogAttrs(ctx, slog.LevelInfo, "scaled out: the update whose call failed is in force, so it is not made again",
			append(attrs, slog.String("grace", p.grace().String()))...)
	} else {
		w.record(ctx, scaler.ScaleOut{Time: c.Time, Desired: d.to, By: w.by})
		if err := w.scaler.SetDesired(ctx, w.id, d.to); err != nil {
			if errors.Is(err, scaler.ErrDryRun) { // remembered as asked for: the count is not asked for again
				p.record(c.Time, d, &w.mem, true)
				return w.dryRun(ctx, c, ev, attrs)
			}
			p.record(c.Time, d, &w.mem, false) // unsure: the retry reads first
			err = fmt.Errorf("set desired count %d: %w", d.to, err)
			if outcomeUnknown(err) {
				return w.unknown(ctx, c, ev, attrs, err)
			}
			return w.failed(ctx, c, ev, attrs, err)
		}
		p.record(c.Time, d, &w.mem, true)
		c.Next = p.afterScaleOut(c.Time, &w.mem)
		msg := "scaled out"
		if d.escalation {
			msg = "scaled out again: the load needs more than the desired count asked for"
		}
		w.log.LogAttrs(ctx, slog.LevelInfo, msg, append(attrs, slog.String("grace", p.grace().String()))...)
	}
	w.scaleFails = 0
	c.Outcome, c.Grace = ScaledOut, true
	ev.Kind = notify.ScaledOut
	w.notify(ctx, ev)
	return c
}

// tellStartup logs and notifies what the decision learnt about the tasks
// asked for by the last scale-out.
func (w *Watcher) tellStartup(ctx context.Context, c Check, d decision, st scaler.State, ev notify.Event) {
	last := w.mem.last
	switch {
	case d.notStarting:
		waited := c.Time.Sub(last.since)
		w.log.LogAttrs(ctx, slog.LevelWarn, "tasks not starting: the running count has not reached the desired count asked for",
			slog.Int("desired_cur", st.Desired), slog.Int("desired_asked", last.to), slog.Int("running", st.Running),
			slog.Int("pending", st.Pending), slog.String("waited", waited.String()), slog.String("ecs_event", st.LastEvent))
		ev.Kind, ev.DesiredNew, ev.Waited, ev.Message = notify.TasksNotStarting, last.to, waited, st.LastEvent
		w.notify(ctx, ev)
	case d.started && last.told:
		w.log.LogAttrs(ctx, slog.LevelInfo, "tasks started at last", slog.Int("desired_cur", st.Desired),
			slog.Int("running", st.Running), slog.String("waited", c.Time.Sub(last.since).String()))
	}
}

// record records the scale-out on the service before it is made, when the
// scaler can: a process that reads the new desired count then finds the
// record too. A failure never stops the scale-out; a refusal is warned
// about once per service (until a record succeeds again).
func (w *Watcher) record(ctx context.Context, rec scaler.ScaleOut) {
	if w.recorder == nil {
		return
	}
	err := w.recorder.RecordScaleOut(ctx, w.id, rec)
	switch {
	case err == nil:
		w.recordDenied = false
	case errors.Is(err, scaler.ErrAccessDenied):
		if !w.recordDenied {
			w.recordDenied = true
			w.log.LogAttrs(ctx, slog.LevelWarn, "scale-out not recorded on the service: permission denied; "+
				"scaling out anyway, but a restart or a second process will not know of it (warned once per service)",
				slog.String("error", err.Error()))
		}
	default:
		w.log.LogAttrs(ctx, slog.LevelWarn, "scale-out not recorded on the service; scaling out anyway",
			slog.String("error", err.Error()))
	}
}

// failed records a failed scale-out. It is retried at the next check, and
// after further failures in a row at doubling intervals with jitter (see
// RetryDelay: up to 32 × CheckInterval, never beyond GracePeriod), so an
// outage or a missing permission does not hammer ECS. Only the first failure
// of a run is notified; the next ScaleOut event says it recovered.
func (w *Watcher) failed(ctx context.Context, c Check, ev notify.Event, attrs []slog.Attr, err error) Check {
	w.scaleFails++
	c.Outcome, c.Err = ScaleFailed, err
	c.Next = w.retryAt(c.Time)
	ev.Kind, ev.Err = notify.ScaleFailed, err
	w.log.LogAttrs(ctx, slog.LevelError, "scale-out failed", append(attrs,
		slog.Int("failures", w.scaleFails), slog.Time("retry_at", c.Next), slog.String("error", err.Error()))...)
	if w.scaleFails == 1 {
		w.notify(ctx, ev)
	}
	return c
}

// retryAt returns when a failed scale-out is tried again: after the
// backoff of the current run of failures (Policy.RetryDelay), counted from
// now (the check that failed may have started long before: an AWS call can
// take seconds), so a logged retry_at never lies in the past.
func (w *Watcher) retryAt(checked time.Time) time.Time {
	return w.clock(checked).Add(w.svc.Policy.RetryDelay(w.id, w.scaleFails))
}

// outcomeUnknown reports whether err, from SetDesired, leaves open whether
// the update was applied: the scaler says so (scaler.ErrOutcomeUnknown: no
// answer, a broken connection, a server error after which the change may
// have been committed), or the call's context ended (no answer in time, or
// shutdown cut it off).
func outcomeUnknown(err error) bool {
	return errors.Is(err, scaler.ErrOutcomeUnknown) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// SettleReadTimeout bounds the read that settles an update cut off by
// shutdown (its own context has ended, so the read gets a new one): 3 s,
// which keeps a shutdown with a scale-out in flight inside ECS's default
// 30 s stop timeout (DefaultShutdownGrace + this).
const SettleReadTimeout = 3 * time.Second

// unknown ends a scale-out whose update failed with an unknown outcome (see
// outcomeUnknown); the caller has remembered it as unsure, as any failed
// update is. The service is read at once and the unsure update settled as a
// retry settles it (Policy.settle): the count asked for in force is a done
// scale-out (Landed: its grace period starts, no second update is made);
// otherwise, or when the read fails, it is retried as a failure is, and the
// retry reads the service first again. Every unknown outcome is logged; it
// is notified when it landed and otherwise only as the first failure of a
// run.
func (w *Watcher) unknown(ctx context.Context, c Check, ev notify.Event, attrs []slog.Attr, err error) Check {
	p := w.svc.Policy
	c.Outcome, c.Err = ScaleUnknown, err
	ev.Kind, ev.Err = notify.ScaleUnknown, err
	landed := false
	readCtx := ctx
	if ctx.Err() != nil { // shutdown cut the update off: still say what happened
		var cancel context.CancelFunc
		readCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), SettleReadTimeout)
		defer cancel()
	}
	st, readErr := w.scaler.State(readCtx, w.id)
	if readErr != nil {
		c.DesiredAfter = -1
		attrs = append(attrs, slog.String("read_error", readErr.Error()))
	} else {
		w.status.saw(st)
		_, landed = p.settle(st, &w.mem)
		c.DesiredAfter = st.Desired
		attrs = append(attrs, slog.Int("desired_after", st.Desired), slog.Bool("landed", landed))
	}
	c.Landed, ev.Landed, ev.DesiredAfter = landed, landed, c.DesiredAfter
	if landed {
		w.scaleFails = 0
		c.Next, c.Grace = p.afterScaleOut(c.Time, &w.mem), true
		attrs = append(attrs, slog.String("grace", p.grace().String()))
	} else {
		w.scaleFails++
		c.Next, c.Grace = w.retryAt(c.Time), c.Time.Before(w.mem.graceUntil)
		attrs = append(attrs, slog.Int("failures", w.scaleFails), slog.Time("retry_at", c.Next))
	}
	w.log.LogAttrs(ctx, slog.LevelWarn, "scale-out outcome unknown", append(attrs, slog.String("error", err.Error()))...)
	if landed || w.scaleFails == 1 {
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
