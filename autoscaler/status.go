package autoscaler

import (
	"slices"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// State is one word for what the engine is doing with a service, as
// ServiceStatus reports it.
type State string

// The states of a service.
const (
	// StateWatching: checks run on schedule and the last one found nothing
	// to do (or none has run yet).
	StateWatching State = "watching"
	// StateGrace: the service was scaled out (or a dry run decided to, or a
	// scale-out recorded on the service holds this one) and is left alone
	// until ServiceStatus.Until.
	StateGrace State = "grace"
	// StateBlind: the last read of the service's metric failed, as have
	// ServiceStatus.ReadFailures reads in a row since ServiceStatus.Since. A
	// spike would go unseen.
	StateBlind State = "blind"
	// StatePaused: scale-outs of the service are paused, by its config
	// (Service.Paused) or as its state last read said (scaler.State.Paused);
	// its readings go on.
	StatePaused State = "paused"
	// StateHeldAtMax: a scale-out was called for but the desired count stood
	// at its cap; the service is left alone until ServiceStatus.Until.
	StateHeldAtMax State = "held-at-max"
	// StateScaleFailing: scale-outs are called for and failing (ScaleFailed,
	// or ScaleUnknown that did not land), ServiceStatus.ScaleFailures in a
	// row; the next try is at ServiceStatus.Until.
	StateScaleFailing State = "scale-failing"
	// StateStarting: a scale-out was called for but the tasks asked for by
	// the last one have not all started; none is made until they have. The
	// next look is at ServiceStatus.Until.
	StateStarting State = "starting"
	// StateSuspended: a scale-out was called for but scale-out is suspended
	// on the service's scalable target. The next look is at
	// ServiceStatus.Until.
	StateSuspended State = "suspended"
)

// Cap sources, the values of ServiceStatus.CapSource.
const (
	CapNone            = "none"            // no cap: Cap is 0
	CapMaxDesiredCount = "MaxDesiredCount" // Policy.MaxDesiredCount
	CapMaxCapacity     = "MaxCapacity"     // the scalable target's, lower than MaxDesiredCount or the only cap
)

// ServiceStatus is what the engine last knew of one service: the outcome of
// its last check and what that check saw. Times are by the engine's clock;
// a zero time means "never".
type ServiceStatus struct {
	Service scaler.ServiceID
	// State says what the engine is doing with the service.
	State State
	// Since is when State began: the check that entered it (the first
	// failed read of a blind run, the scale-out of a grace period). Zero
	// before the first check.
	Since time.Time
	// Until is when State ends by itself: the end of the grace period
	// (StateGrace, StateHeldAtMax) or the next try (StateScaleFailing);
	// zero otherwise.
	Until time.Time

	// Reading is the last successful reading, taken at ReadingTime (zero
	// before the first). It stays while reads fail: see ReadFailures.
	Reading     Reading
	ReadingTime time.Time
	// ReadFailures is the number of failed reads in a row, 0 when the last
	// read succeeded.
	ReadFailures int
	// Threshold is the policy's ScaleoutThreshold.
	Threshold float64
	// Mode names how a scale-out sets the new desired count: the policy's
	// ScaleoutMode ("double", the seed's rule, "capacity" or "steps").
	Mode string
	// Cap is the most a scale-out may set, 0 for none; CapSource says where
	// it comes from (CapMaxDesiredCount, CapMaxCapacity as the scalable
	// target last read said, or CapNone).
	Cap       int
	CapSource string

	// Scale is the service's state as last read from the scaler, as of
	// ScaleTime (zero: never read): by a check that called for a scale-out
	// (ScaleTime is when that check ended), or told by Engine.NoteState
	// (when that read began). After a scale-out Scale.Desired is the count
	// set.
	Scale     scaler.State
	ScaleTime time.Time
	// ScaleFailures is the number of failed scale-outs in a row.
	ScaleFailures int

	// LastCheck is when the last check ran, LastOutcome what it did, and
	// NextCheck when the next will run (its due time rounded up to the
	// Coalesce grid). Err is the last check's error (a
	// failed read or scale-out), nil when it succeeded.
	LastCheck   time.Time
	LastOutcome Outcome
	NextCheck   time.Time
	Err         error
}

// statusTrack is what a watcher keeps for its ServiceStatus between checks.
type statusTrack struct {
	state    State
	since    time.Time
	scale    scaler.State
	scaleNew bool // scale was read by the check in progress
}

// saw records the scaler state read by the check in progress.
func (t *statusTrack) saw(st scaler.State) { t.scale, t.scaleNew = st, true }

// stateOf is the state word for check c.
func stateOf(c Check) State {
	switch o := c.Outcome; {
	case c.Paused:
		return StatePaused
	case o == ReadFailed:
		return StateBlind
	case o == ScaledOut || o == DryRun || o == InGrace || o == Idle && c.Grace:
		return StateGrace
	case o == ScaleUnknown && c.Landed:
		return StateGrace
	case o == HeldAtMax:
		return StateHeldAtMax
	case o == ScaleFailed || o == ScaleUnknown:
		return StateScaleFailing
	case o == HeldStarting:
		return StateStarting
	case o == HeldSuspended:
		return StateSuspended
	}
	return StateWatching
}

// modeOf names how p sets the new desired count.
func modeOf(p Policy) string { return string(p.EffectiveMode()) }

// capOf returns the cap on the desired count and where it comes from: the
// lower of p's MaxDesiredCount and the scalable target's MaxCapacity in
// st, the service's state last read.
func capOf(p Policy, st scaler.State) (int, string) {
	limit, by, ok := p.cap(st)
	switch {
	case !ok:
		return 0, CapNone
	case by == boundMaxCapacity:
		return limit, CapMaxCapacity
	}
	return limit, CapMaxDesiredCount
}

// observe updates s, the service's status, with check c just made (on the
// watcher's goroutine). It does not allocate.
func (w *Watcher) observe(s *ServiceStatus, c Check) {
	t := &w.status
	if t.scaleNew {
		// As of the end of the check, not its start: a state read elsewhere
		// that began during the check may predate its update, and
		// Engine.NoteState ignores one that began before ScaleTime.
		s.Scale, s.ScaleTime, t.scaleNew = t.scale, w.clock(c.Time), false
		if c.Outcome == ScaledOut {
			s.Scale.Desired = c.DesiredNew
		}
	}
	state := stateOf(c)
	if state != t.state || t.since.IsZero() {
		t.state, t.since = state, c.Time
	}
	w.describe(s)
	s.State, s.Since = t.state, t.since
	switch state {
	case StateGrace:
		s.Until = c.Next
		if w.mem.graceUntil.After(s.Until) { // checked during it: it ends later than the next check
			s.Until = w.mem.graceUntil
		}
	case StateHeldAtMax, StateScaleFailing, StateStarting, StateSuspended:
		s.Until = c.Next
	default:
		s.Until = time.Time{}
	}
	if c.Outcome != ReadFailed {
		s.Reading, s.ReadingTime = c.Reading, c.Time
	}
	s.ReadFailures, s.ScaleFailures = w.failures, w.scaleFails
	s.LastCheck, s.LastOutcome, s.NextCheck, s.Err = c.Time, c.Outcome, c.Next, c.Err
}

// describe fills in s the parts of the status that come from the
// watcher's settings and memory, not from a check.
func (w *Watcher) describe(s *ServiceStatus) {
	p := w.svc.Policy
	s.Service = w.id
	if s.State == "" {
		s.State = StateWatching
	}
	s.Threshold, s.Mode = p.ScaleoutThreshold, modeOf(p)
	s.Cap, s.CapSource = capOf(p, s.Scale)
}

// Status returns what the engine last knew of each service, sorted by
// cluster and name: the state of each as of its last check, except that a
// service paused (or resumed) since is reported so at once. It is safe to
// call at any time, from any goroutine.
func (e *Engine) Status() []ServiceStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ServiceStatus, 0, len(e.loops))
	for _, l := range e.loops {
		l.statusMu.Lock()
		s := l.status
		l.statusMu.Unlock()
		switch paused := l.w.paused(); {
		case paused && s.State != StatePaused:
			s.State, s.Since, s.Until = StatePaused, time.Time{}, time.Time{}
		case !paused && s.State == StatePaused:
			s.State, s.Since = StateWatching, time.Time{}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b ServiceStatus) int { return compareService(a.Service, b.Service) })
	return out
}
