package autoscaler

import (
	"cmp"
	"math"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// This file holds the decision: pure functions of the policy, the reading,
// the service's state, the time and what the watcher remembers. Watcher.Step
// feeds them and carries out what they decide.

// ask is one scale-out the watcher asked for.
type ask struct {
	at       time.Time // when it was asked
	from, to int       // desired count found, and asked for
	// since is when the oldest ask whose tasks have not all started was
	// made: at, or earlier when this ask raised one still starting.
	since   time.Time
	started bool // the running count reached min(to, desired) since
	told    bool // TasksNotStarting was sent for it
	running int  // tasks RUNNING when it was asked
	ran     bool // a task it asked for was seen RUNNING (start-up measured)
}

// memory is what a watcher carries from one check to the next for its
// decisions. The zero value is a watcher that never scaled out.
type memory struct {
	above      int       // readings in a row above the threshold
	last       ask       // the last scale-out known to have landed; to == 0 before the first
	unsure     ask       // a scale-out whose update failed and may have landed; to == 0 when none
	graceUntil time.Time // end of the grace period after last; zero before the first
	holds      int       // held or following-up checks in a row, for their backoff
	suspended  bool      // ScaleOutSuspended was told for the present suspension

	// ModeCapacity's estimate (see estimate.go).
	hist    *history      // recent readings and running counts; nil until first used (see history)
	delay   time.Duration // the register delay, once measured
	startup time.Duration // a task's start-up (request to RUNNING), once measured
}

// history returns m's history, made at its first use: only ModeCapacity
// keeps one (about 16 KB), so a service in another mode costs nothing for
// it, and 10,000 of them not 160 MB.
func (m *memory) history() *history {
	if m.hist == nil {
		m.hist = new(history)
	}
	return m.hist
}

// decision is what one check decided once the service's state was read.
type decision struct {
	outcome Outcome // Idle, ScaledOut, HeldAtMax, HeldStarting or HeldSuspended
	from    int     // the desired count found (or asked from, when landed)
	// to is the desired count to set (ScaledOut), asked for (HeldStarting,
	// HeldSuspended) or the cap (HeldAtMax).
	to int
	// maxBound is the cap that limited to, and maxBy names it
	// ("MaxDesiredCount" or "MaxCapacity"); 0 and "" when none did.
	maxBound int
	maxBy    string
	// landed: an update whose call failed is found in force; ScaledOut
	// reports it and no update is made.
	landed bool
	// escalation: a ScaledOut during the grace period of an earlier one.
	escalation bool
	// started: the tasks asked for by the last scale-out have all started,
	// as seen at this check.
	started bool
	// notStarting: they have not started within StartupTimeout; send
	// TasksNotStarting (once per scale-out).
	notStarting bool
	// suspended: the first check of a suspension; send ScaleOutSuspended.
	suspended bool
	// reason says, for Idle after a state read and for the held outcomes,
	// why no update is made.
	reason string
	// load, serving and headroom are ModeCapacity's estimate: the total
	// load, the tasks counted as serving, and the growth added for a load
	// that keeps rising; 0 when none was made.
	load     float64
	serving  int
	headroom float64
	running  int       // tasks RUNNING when the state was read
	next     time.Time // when the next check is due
}

// Names of the bounds a decision can be capped by.
const (
	boundMaxDesired  = "MaxDesiredCount"
	boundMaxCapacity = "MaxCapacity"
)

// observe counts r into m: how many readings in a row were above the
// threshold.
func (p Policy) observe(r Reading, m *memory) {
	if p.Triggered(r) {
		m.above = min(m.above+1, MaxScaleoutAfterChecks)
	} else {
		m.above = 0
	}
}

// acts reports whether the reading, after the ones before it, calls for a
// scale-out: an overload at once, else ScaleoutAfterChecks readings in a row
// above the threshold.
func (p Policy) acts(r Reading, m *memory) bool {
	return r.Overload || m.above >= p.afterChecks()
}

// needsState reports whether the check at now must read the service's state:
// to settle an update whose outcome is unknown, to follow a capacity
// scale-out through its grace period, to act on the reading, or to learn
// whether the tasks asked for have started. An idle check reads nothing.
func (p Policy) needsState(now time.Time, r Reading, m *memory) bool {
	if m.unsure.to > 0 {
		return true
	}
	if now.Before(m.graceUntil) {
		switch {
		case p.mode() == ModeCapacity:
			return true
		case p.EscalateWhenReady:
			return p.acts(r, m)
		}
		return false
	}
	return p.acts(r, m) || m.last.to > 0 && !m.last.started
}

// skip is the decision of a check that reads no state: nothing to do. In a
// grace period that is not checked, the next check is its end.
func (p Policy) skip(now time.Time, m *memory) decision {
	d := decision{outcome: Idle, next: now.Add(p.CheckInterval)}
	if now.Before(m.graceUntil) && !p.checksInGrace() {
		d.next = m.graceUntil
	}
	return d
}

// remember records the reading r of the check at now into m's history
// (ModeCapacity only: the other modes estimate nothing).
func (p Policy) remember(now time.Time, r Reading, m *memory) {
	if p.mode() != ModeCapacity {
		return
	}
	h, running := m.history(), -1
	if h.len() > 0 {
		running = h.at(h.len() - 1).running
	}
	h.add(sampleOf(now, r, running))
}

// decide is the decision of the check at now, given the reading r (counted
// into m by observe and remember) and the service's state st.
func (p Policy) decide(now time.Time, r Reading, st scaler.State, m *memory) decision {
	d := decision{outcome: Idle, from: st.Desired, running: st.Running, next: now.Add(p.CheckInterval)}

	// An update whose call failed may have landed: found in force, it is done.
	if u, ok := p.settle(st, m); ok {
		d.outcome, d.landed, d.from, d.to = ScaledOut, true, u.from, u.to
		d.next = p.afterScaleOut(now, m)
		return d
	}
	m.unsure = ask{} // not in force: this check decides afresh

	if p.mode() == ModeCapacity {
		m.history().setRunning(st.Running)
		if l := &m.last; l.to > 0 && !l.ran && st.Running > l.running {
			l.ran, m.startup = true, now.Sub(l.at) // a task it asked for runs: start-up measured
		}
	}

	// Have the tasks asked for last time started?
	started := true
	if l := &m.last; l.to > 0 && !l.started {
		if st.Running >= min(l.to, st.Desired) {
			l.started, d.started, m.holds = true, true, 0
		} else {
			started = false
			if !l.told && now.Sub(l.since) >= p.startupTimeout() {
				l.told, d.notStarting = true, true
			}
		}
	}
	if !st.Target.ScaleOutSuspended {
		m.suspended = false // a later suspension is told again
	}

	inGrace := now.Before(m.graceUntil)
	mode := p.mode()
	if inGrace && mode == ModeCapacity {
		switch {
		case started && !p.Triggered(r):
			// Every task asked for runs and the reading is under the
			// threshold: the grace period ends.
			m.graceUntil = now
			d.reason = "the tasks asked for run and the load is under the threshold"
			return d
		case r.Overload:
			d.reason = "overloaded while the tasks asked for start: the load cannot be measured"
			return d
		}
		need := p.estimate(now, &d, m)
		if need <= max(st.Desired, m.last.to) { // no more than already asked for (a dry run changes nothing)
			return d
		}
		d.escalation = true
		return p.raise(now, d, m, st, need)
	}
	act := p.acts(r, m)
	if inGrace && !(p.EscalateWhenReady && act && started) {
		if !p.checksInGrace() {
			d.next = m.graceUntil
		}
		return d
	}
	if !act {
		if !started {
			d.next = p.backoff(now, m)
		}
		return d
	}
	d.escalation = inGrace

	floor := p.floor(st)
	var want int
	justified := false // ModeCapacity: the load on the serving tasks needs more than the desired count
	switch mode {
	case ModeCapacity:
		if r.Overload {
			want = double(max(st.Desired, floor))
			break
		}
		need := p.estimate(now, &d, m)
		justified = need > st.Desired
		switch {
		case !started:
			want = need // no more than the load needs while tasks are starting
		case !justified && d.serving < st.Desired:
			d.reason = "the tasks asked for and not serving yet cover what the load needs"
			return d
		default:
			want = max(need, st.Desired+1, floor)
		}
	case ModeSteps:
		want = max(p.Steps.apply(st.Desired, r.Value-p.ScaleoutThreshold, r.Overload), floor)
	default:
		want = double(max(st.Desired, floor))
	}
	if !started && !justified {
		d.outcome, d.to = HeldStarting, want
		d.reason = "the tasks asked for by the last scale-out have not all started"
		d.next = p.backoff(now, m)
		return d
	}
	return p.raise(now, d, m, st, want)
}

// raise finishes a decision to raise the desired count to want: held while
// scale-out is suspended, capped, held at the cap, or a scale-out.
func (p Policy) raise(now time.Time, d decision, m *memory, st scaler.State, want int) decision {
	if st.Target.Registered && st.Target.ScaleOutSuspended {
		d.outcome, d.to, d.escalation = HeldSuspended, want, false
		d.reason = "scale-out is suspended on the scalable target (DynamicScalingOutSuspended)"
		d.suspended, m.suspended = !m.suspended, true
		d.next = p.backoff(now, m)
		return d
	}
	limit, by, capped := p.cap(st)
	if capped && want > limit {
		want, d.maxBound, d.maxBy = limit, limit, by
	}
	d.to = want
	switch {
	case want > st.Desired:
		d.outcome = ScaledOut
	case capped && st.Desired >= limit:
		d.outcome, d.escalation = HeldAtMax, false
		d.to, d.maxBound, d.maxBy = limit, limit, by
		d.reason = "the desired count already stands at " + by
		d.next = now.Add(p.grace())
		m.holds = 0
	default:
		d.outcome, d.escalation = Idle, false
		d.reason = "the desired count already covers it"
	}
	return d
}

// record updates m after the update of a ScaledOut decision d made at now:
// ok when it succeeded, else its outcome is unknown until the next state
// read settles it.
func (p Policy) record(now time.Time, d decision, m *memory, ok bool) {
	a := ask{at: now, from: d.from, to: d.to, since: now, running: d.running}
	if l := m.last; l.to > 0 && !l.started { // raising an ask still starting
		a.since, a.told = l.since, l.told
	}
	if !ok {
		m.unsure = a
		return
	}
	p.landed(a, m)
}

// settle looks for the unsure update in m (one whose call failed) in the
// service's state st: when the desired count it asked for is in force, it
// becomes the last scale-out, landed when it was asked (its grace period
// runs from then), and settle returns it and true. Otherwise m is left as
// it is. The retry of a failed update settles it first; so does the read
// made right after an update whose outcome is unknown.
func (p Policy) settle(st scaler.State, m *memory) (ask, bool) {
	u := m.unsure
	if u.to == 0 || st.Desired < u.to {
		return u, false
	}
	m.unsure = ask{}
	p.landed(u, m)
	return u, true
}

// landed makes a the last scale-out, landed at a.at.
func (p Policy) landed(a ask, m *memory) {
	m.last, m.graceUntil, m.holds = a, a.at.Add(p.grace()), 0
}

// afterScaleOut is when the check after a landed scale-out is due: at
// CheckInterval when the grace period is checked, else at its end.
func (p Policy) afterScaleOut(now time.Time, m *memory) time.Time {
	next := now.Add(p.CheckInterval)
	if !p.checksInGrace() && m.graceUntil.After(next) {
		next = m.graceUntil
	}
	return next
}

// backoff counts one more held (or following-up) check and returns when the
// next is due: CheckInterval, doubling with each one in a row up to 32 ×
// CheckInterval, never beyond the grace period.
func (p Policy) backoff(now time.Time, m *memory) time.Time {
	m.holds++
	return now.Add(min(p.CheckInterval<<min(m.holds-1, 5), p.grace()))
}

// estimate returns how many tasks the load needs at TargetPerTask each,
// from the reading just remembered into m's history: the total load (the
// reading times the tasks serving, or the sum over the tasks when the
// source read each one; see Reading.Total), plus, while it has kept rising, the growth
// expected before tasks asked for now would serve. It records the figures
// in d for the log.
func (p Policy) estimate(now time.Time, d *decision, m *memory) int {
	h := m.history()
	delay := m.delay
	if fit, ok := h.fitDelay(p.CheckInterval); ok {
		delay = fit
		if rose := h.lastRise(); rose.Add(fit).Before(now) { // the fit explains a fall seen since
			m.delay = fit
		}
	}
	var serving [historyLen]int
	h.servings(delay, &serving)
	d.serving = serving[h.len()-1]
	d.load = h.at(h.len() - 1).load(d.serving)
	lead := p.CheckInterval + cmp.Or(m.startup, priorStartup) + cmp.Or(m.delay, priorDelay)
	d.headroom = h.trend(now, &serving) * lead.Seconds()
	n := math.Ceil((d.load+d.headroom)/p.EffectiveTargetPerTask() - 1e-9) // 4000/100 is 40, not 41
	return int(min(max(n, 0), math.MaxInt32))
}

// floor is the least a scale-out sets: MinDesiredCount, or the scalable
// target's MinCapacity when higher.
func (p Policy) floor(st scaler.State) int {
	if st.Target.Registered {
		return max(p.MinDesiredCount, st.Target.Min)
	}
	return p.MinDesiredCount
}

// cap is the most a scale-out sets, and which bound it is: the lower of
// MaxDesiredCount and the scalable target's MaxCapacity. ok is false when
// neither applies.
func (p Policy) cap(st scaler.State) (limit int, by string, ok bool) {
	if p.MaxDesiredCount > 0 {
		limit, by, ok = p.MaxDesiredCount, boundMaxDesired, true
	}
	if t := st.Target; t.Registered && (!ok || t.Max < limit) {
		limit, by, ok = max(t.Max, 0), boundMaxCapacity, true
	}
	return limit, by, ok
}
