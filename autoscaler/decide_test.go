package autoscaler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// The decision's rules, one table each. The policy is the seed's at
// threshold 100 unless a case says otherwise; times are offsets from t0.

var d0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return d0.Add(time.Duration(s * float64(time.Second))) }

func seed100() Policy {
	p := DefaultPolicy()
	p.ScaleoutThreshold = 100
	return p
}

func running(desired, running int) scaler.State {
	return scaler.State{Desired: desired, Running: running, Pending: desired - running, Status: "ACTIVE"}
}

func withTarget(st scaler.State, t scaler.ScalableTarget) scaler.State {
	t.Known = true
	st.Target = t
	return st
}

// check runs one check through the pure functions the watcher calls, as
// Step does: observe, remember, then decide when state is needed.
func check(p Policy, m *memory, now time.Time, r Reading, st scaler.State) (decision, bool) {
	p.observe(r, m)
	p.remember(now, r, m)
	if !p.needsState(now, r, m) {
		return p.skip(now, m), false
	}
	return p.decide(now, r, st, m), true
}

func TestScaleoutAfterChecks(t *testing.T) {
	tests := []struct {
		name     string
		after    int
		readings []Reading
		want     []bool // acts after each reading
	}{
		{"the seed acts on the first reading over", 1, []Reading{{Value: 101}}, []bool{true}},
		{"equal to the threshold is not over", 1, []Reading{{Value: 100}}, []bool{false}},
		{"two in a row", 2, []Reading{{Value: 150}, {Value: 150}}, []bool{false, true}},
		{"a calm reading starts the count again", 2, []Reading{{Value: 150}, {Value: 50}, {Value: 150}, {Value: 150}}, []bool{false, false, false, true}},
		{"a 503 acts at once", 3, []Reading{{Overload: true}}, []bool{true}},
		{"a 503 counts as over", 2, []Reading{{Value: 150}, {Overload: true}, {Value: 150}}, []bool{false, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := seed100()
			p.ScaleoutAfterChecks = tt.after
			var m memory
			var got []bool
			for _, r := range tt.readings {
				p.observe(r, &m)
				got = append(got, p.acts(r, &m))
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDecideDouble(t *testing.T) {
	over := Reading{Value: 150}
	tests := []struct {
		name    string
		policy  func(*Policy)
		state   scaler.State
		want    Outcome
		to      int
		maxBy   string
		reading Reading
	}{
		{name: "the seed: current 3, floor 5 -> 10", state: running(3, 3), want: ScaledOut, to: 10},
		{name: "current 8 -> 16", state: running(8, 8), want: ScaledOut, to: 16},
		{name: "a 503 doubles", state: running(8, 8), reading: Reading{Overload: true}, want: ScaledOut, to: 16},
		{name: "MaxDesiredCount caps", policy: func(p *Policy) { p.MaxDesiredCount = 12 }, state: running(8, 8), want: ScaledOut, to: 12, maxBy: "MaxDesiredCount"},
		{name: "MaxCapacity caps", state: withTarget(running(5, 5), scaler.ScalableTarget{Registered: true, Min: 1, Max: 8}), want: ScaledOut, to: 8, maxBy: "MaxCapacity"},
		{name: "the lower of MaxCapacity and MaxDesiredCount wins", policy: func(p *Policy) { p.MaxDesiredCount = 7 },
			state: withTarget(running(5, 5), scaler.ScalableTarget{Registered: true, Max: 8}), want: ScaledOut, to: 7, maxBy: "MaxDesiredCount"},
		{name: "MaxCapacity below MaxDesiredCount wins", policy: func(p *Policy) { p.MaxDesiredCount = 20 },
			state: withTarget(running(5, 5), scaler.ScalableTarget{Registered: true, Max: 8}), want: ScaledOut, to: 8, maxBy: "MaxCapacity"},
		{name: "at MaxCapacity: held", state: withTarget(running(8, 8), scaler.ScalableTarget{Registered: true, Max: 8}), want: HeldAtMax, to: 8, maxBy: "MaxCapacity"},
		{name: "above MaxDesiredCount (set by hand): held, never lowered", policy: func(p *Policy) { p.MaxDesiredCount = 20 }, state: running(30, 30), want: HeldAtMax, to: 20, maxBy: "MaxDesiredCount"},
		{name: "MaxCapacity 0 holds", state: withTarget(running(0, 0), scaler.ScalableTarget{Registered: true}), want: HeldAtMax, to: 0, maxBy: "MaxCapacity"},
		{name: "MinCapacity is a floor", state: withTarget(running(3, 3), scaler.ScalableTarget{Registered: true, Min: 8, Max: 100}), want: ScaledOut, to: 16},
		{name: "no scalable target: MaxDesiredCount alone", policy: func(p *Policy) { p.MaxDesiredCount = 12 },
			state: withTarget(running(8, 8), scaler.ScalableTarget{}), want: ScaledOut, to: 12, maxBy: "MaxDesiredCount"},
		{name: "suspended: held", state: withTarget(running(5, 5), scaler.ScalableTarget{Registered: true, Max: 50, ScaleOutSuspended: true}), want: HeldSuspended, to: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := seed100()
			if tt.policy != nil {
				tt.policy(&p)
			}
			r := tt.reading
			if r == (Reading{}) {
				r = over
			}
			var m memory
			d, read := check(p, &m, d0, r, tt.state)
			require.True(t, read, "a reading over the threshold reads the state")
			assert.Equal(t, tt.want, d.outcome)
			assert.Equal(t, tt.to, d.to)
			assert.Equal(t, tt.maxBy, d.maxBy)
			switch tt.want {
			case ScaledOut:
				p.record(d0, d, &m, true)
				assert.Equal(t, d0.Add(p.GracePeriod), p.afterScaleOut(d0, &m), "not checked during the grace period")
			case HeldAtMax:
				assert.Equal(t, d0.Add(p.GracePeriod), d.next, "not checked during the grace period")
			}
		})
	}
}

func TestDecideSuspendedIsToldOncePerSuspension(t *testing.T) {
	p := seed100()
	suspended := withTarget(running(5, 5), scaler.ScalableTarget{Registered: true, Max: 50, ScaleOutSuspended: true})
	resumed := withTarget(running(5, 5), scaler.ScalableTarget{Registered: true, Max: 50})
	var m memory
	var told []bool
	var gaps []time.Duration
	now := d0
	for range 4 {
		d, _ := check(p, &m, now, Reading{Value: 150}, suspended)
		require.Equal(t, HeldSuspended, d.outcome)
		told = append(told, d.suspended)
		gaps = append(gaps, d.next.Sub(now))
		now = d.next
	}
	assert.Equal(t, []bool{true, false, false, false}, told)
	assert.Equal(t, secs(3, 6, 12, 24), gaps, "backing off while it lasts")
	d, _ := check(p, &m, now, Reading{Value: 50}, resumed) // a calm check while it is lifted reads nothing
	assert.Equal(t, Idle, d.outcome)
	d, _ = check(p, &m, now, Reading{Value: 150}, resumed)
	assert.Equal(t, ScaledOut, d.outcome, "lifted: scales out")
	p.record(now, d, &m, true)
	now = m.graceUntil
	d, _ = check(p, &m, now, Reading{Value: 150}, withTarget(running(10, 10), suspended.Target))
	assert.True(t, d.suspended, "a new suspension is told again")
}

func secs(ss ...int) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = time.Duration(s) * time.Second
	}
	return out
}

// TestDecideTasksNotStarting: after a scale-out whose tasks do not start, a
// later reading over the threshold is held, backing off, and one
// TasksNotStarting is due once StartupTimeout has passed; when they start,
// scale-outs resume.
func TestDecideTasksNotStarting(t *testing.T) {
	p := seed100()
	var m memory
	d, _ := check(p, &m, d0, Reading{Value: 150}, running(5, 5))
	require.Equal(t, ScaledOut, d.outcome)
	p.record(d0, d, &m, true)
	require.Equal(t, 10, m.last.to)

	now := p.afterScaleOut(d0, &m) // the end of the grace period
	var outcomes []Outcome
	var gaps []time.Duration
	told := 0
	for now.Before(d0.Add(10 * time.Minute)) {
		d, _ = check(p, &m, now, Reading{Value: 150}, running(10, 5))
		outcomes = append(outcomes, d.outcome)
		gaps = append(gaps, d.next.Sub(now))
		if d.notStarting {
			told++
			assert.GreaterOrEqual(t, now.Sub(d0), p.EffectiveStartupTimeout())
		}
		now = d.next
	}
	for _, o := range outcomes {
		assert.Equal(t, HeldStarting, o, "never doubled again while the tasks have not started")
	}
	assert.Equal(t, 1, told, "TasksNotStarting once")
	assert.Equal(t, secs(3, 6, 12, 24, 48, 96), gaps[:6], "backing off")

	d, _ = check(p, &m, now, Reading{Value: 150}, running(10, 10))
	assert.True(t, d.started)
	assert.Equal(t, ScaledOut, d.outcome, "started: the next scale-out goes ahead")
	assert.Equal(t, 20, d.to)
}

func TestDecideStartedRules(t *testing.T) {
	tests := []struct {
		name    string
		state   scaler.State
		started bool
	}{
		{"running reached the count asked for", running(10, 10), true},
		{"running short of it", running(10, 9), false},
		{"target tracking lowered the desired count: running reached that", running(7, 7), true},
		{"target tracking raised it: running reached what was asked for", running(15, 10), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := seed100()
			m := memory{last: ask{at: d0, from: 5, to: 10, since: d0}, graceUntil: d0.Add(p.GracePeriod)}
			d, read := check(p, &m, d0.Add(p.GracePeriod), Reading{Value: 50}, tt.state)
			require.True(t, read, "the first check after the grace period follows the tasks up")
			assert.Equal(t, tt.started, m.last.started)
			assert.Equal(t, tt.started, d.started)
			_, read = check(p, &m, d.next, Reading{Value: 50}, tt.state)
			assert.Equal(t, !tt.started, read, "follow-ups stop once they started")
		})
	}
}

// TestDecideUnknownOutcome: issue 15's runaway. An update whose call failed
// but which landed is found in force by the retry, which makes no second
// update, in every mode; one that did not land is made again.
func TestDecideUnknownOutcome(t *testing.T) {
	for _, mode := range []ScaleoutMode{ModeDouble, ModeCapacity, ModeSteps} {
		t.Run(string(mode), func(t *testing.T) {
			p := seed100()
			p.ScaleoutMode = mode
			if mode == ModeSteps {
				p.Steps = &StepScaling{AdjustmentType: PercentChangeInCapacity, StepAdjustments: []StepAdjustment{{MetricIntervalLowerBound: ptr(0.0), ScalingAdjustment: 100}}}
			}
			var m memory
			d, _ := check(p, &m, d0, Reading{Value: 300}, running(5, 5))
			require.Equal(t, ScaledOut, d.outcome)
			asked := d.to
			p.record(d0, d, &m, false) // the call failed: did it land?

			d, read := check(p, &m, at(3), Reading{Value: 300}, running(asked, 5))
			require.True(t, read)
			assert.Equal(t, ScaledOut, d.outcome)
			assert.True(t, d.landed, "found in force: done, no second update")
			assert.Equal(t, [2]int{5, asked}, [2]int{d.from, d.to})
			assert.Equal(t, asked, m.last.to)
			assert.Zero(t, m.unsure.to)

			// Had it not landed, the retry makes it.
			var n memory
			d, _ = check(p, &n, d0, Reading{Value: 300}, running(5, 5))
			p.record(d0, d, &n, false)
			d, _ = check(p, &n, at(3), Reading{Value: 300}, running(5, 5))
			assert.Equal(t, ScaledOut, d.outcome)
			assert.False(t, d.landed)
			assert.Equal(t, asked, d.to)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestDecideEscalateWhenReady(t *testing.T) {
	p := seed100()
	p.EscalateWhenReady = true
	var m memory
	d, _ := check(p, &m, d0, Reading{Value: 300}, running(5, 5))
	p.record(d0, d, &m, true)
	assert.Equal(t, at(3), p.afterScaleOut(d0, &m), "checked during the grace period")

	d, read := check(p, &m, at(3), Reading{Value: 50}, running(10, 5))
	assert.False(t, read, "a calm reading reads nothing")
	assert.Equal(t, Idle, d.outcome)
	d, _ = check(p, &m, at(6), Reading{Value: 300}, running(10, 5))
	assert.Equal(t, Idle, d.outcome, "not every task asked for runs yet: wait")
	assert.Equal(t, at(9), d.next)
	d, _ = check(p, &m, at(63), Reading{Value: 300}, running(10, 10))
	assert.Equal(t, ScaledOut, d.outcome, "all running and still over: the grace period ends early")
	assert.True(t, d.escalation)
	assert.Equal(t, 20, d.to)

	plain := seed100()
	var n memory
	d, _ = check(plain, &n, d0, Reading{Value: 300}, running(5, 5))
	plain.record(d0, d, &n, true)
	d, read = check(plain, &n, at(63), Reading{Value: 300}, running(10, 10))
	assert.False(t, read, "the seed's grace period is blind")
	assert.Equal(t, d0.Add(plain.GracePeriod), d.next)
}

func TestDecideSteps(t *testing.T) {
	memo := &StepScaling{AdjustmentType: PercentChangeInCapacity, // the memo in the seeds
		StepAdjustments: []StepAdjustment{{MetricIntervalLowerBound: ptr(0.0), ScalingAdjustment: 200}}}
	tiers := &StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{
		{MetricIntervalLowerBound: ptr(0.0), MetricIntervalUpperBound: ptr(50.0), ScalingAdjustment: 1},
		{MetricIntervalLowerBound: ptr(50.0), MetricIntervalUpperBound: ptr(200.0), ScalingAdjustment: 3},
		{MetricIntervalLowerBound: ptr(200.0), ScalingAdjustment: 10},
	}}
	tests := []struct {
		name    string
		steps   *StepScaling
		reading Reading
		current int
		want    Outcome
		to      int
	}{
		{"memo: +200% of 5 is 15", memo, Reading{Value: 101}, 5, ScaledOut, 15},
		{"first tier: lower bound inclusive", tiers, Reading{Value: 100.5}, 6, ScaledOut, 7},
		{"second tier at exactly threshold + 50", tiers, Reading{Value: 150}, 6, ScaledOut, 9},
		{"third tier", tiers, Reading{Value: 400}, 6, ScaledOut, 16},
		{"a 503 takes the highest step", tiers, Reading{Overload: true}, 6, ScaledOut, 16},
		{"the floor still applies", tiers, Reading{Value: 101}, 2, ScaledOut, 5},
		{"exact capacity below the current: nothing to do", &StepScaling{AdjustmentType: ExactCapacity,
			StepAdjustments: []StepAdjustment{{MetricIntervalLowerBound: ptr(0.0), ScalingAdjustment: 8}}}, Reading{Value: 150}, 12, Idle, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := seed100()
			p.ScaleoutMode, p.Steps = ModeSteps, tt.steps
			require.NoError(t, p.Validate())
			var m memory
			d, _ := check(p, &m, d0, tt.reading, running(tt.current, tt.current))
			assert.Equal(t, tt.want, d.outcome)
			assert.Equal(t, tt.to, d.to)
		})
	}
	t.Run("Cooldown is the grace period", func(t *testing.T) {
		p := seed100()
		p.ScaleoutMode, p.Steps = ModeSteps, &StepScaling{AdjustmentType: ChangeInCapacity, Cooldown: time.Minute,
			StepAdjustments: []StepAdjustment{{MetricIntervalLowerBound: ptr(0.0), ScalingAdjustment: 2}}}
		var m memory
		d, _ := check(p, &m, d0, Reading{Value: 150}, running(5, 5))
		p.record(d0, d, &m, true)
		assert.Equal(t, at(60), p.afterScaleOut(d0, &m))
	})
}

func TestStepsApplyRounding(t *testing.T) {
	tests := []struct {
		name      string
		adj, mag  int
		current   int
		wantAdded int
	}{
		{"30% of 11 is 3.3: rounded down", 30, 0, 11, 3},
		{"25% of 4 is 1", 25, 0, 4, 1},
		{"25% of 2 is 0.5: at least 1", 25, 0, 2, 1},
		{"25% of 4 with MinAdjustmentMagnitude 2 adds 2", 25, 2, 4, 2},
		{"200% of 5 adds 10", 200, 0, 5, 10},
		{"of 0 adds MinAdjustmentMagnitude", 50, 3, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &StepScaling{AdjustmentType: PercentChangeInCapacity, MinAdjustmentMagnitude: tt.mag,
				StepAdjustments: []StepAdjustment{{MetricIntervalLowerBound: ptr(0.0), ScalingAdjustment: tt.adj}}}
			assert.Equal(t, tt.current+tt.wantAdded, s.apply(tt.current, 10, false))
		})
	}
}

func TestStepsValidate(t *testing.T) {
	lo, hi := func(v float64) *float64 { return &v }, func(v float64) *float64 { return &v }
	step := func(l, h *float64, adj int) StepAdjustment {
		return StepAdjustment{MetricIntervalLowerBound: l, MetricIntervalUpperBound: h, ScalingAdjustment: adj}
	}
	const f = StepsField
	tests := []struct {
		name   string
		steps  StepScaling
		fields []string // nil: valid
	}{
		{"memo", StepScaling{AdjustmentType: PercentChangeInCapacity, StepAdjustments: []StepAdjustment{step(lo(0), nil, 200)}}, nil},
		{"tiers in any order", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{
			step(lo(50), nil, 4), step(lo(0), hi(50), 2)}}, nil},
		{"unbounded below, covering the threshold", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{
			step(nil, hi(20), 1), step(lo(20), nil, 2)}}, nil},
		{"no type", StepScaling{StepAdjustments: []StepAdjustment{step(lo(0), nil, 1)}}, []string{f + ".AdjustmentType"}},
		{"unknown type", StepScaling{AdjustmentType: "Double", StepAdjustments: []StepAdjustment{step(lo(0), nil, 1)}}, []string{f + ".AdjustmentType"}},
		{"no steps", StepScaling{AdjustmentType: ChangeInCapacity}, []string{f + ".StepAdjustments"}},
		{"a gap", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{
			step(lo(0), hi(10), 1), step(lo(20), nil, 2)}}, []string{f + ".StepAdjustments[1]"}},
		{"an overlap", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{
			step(lo(0), hi(30), 1), step(lo(20), nil, 2)}}, []string{f + ".StepAdjustments[1]"}},
		{"two unbounded above", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{
			step(lo(0), nil, 1), step(lo(20), nil, 2)}}, []string{f + ".StepAdjustments[1]"}},
		{"two unbounded below", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{
			step(nil, hi(10), 1), step(nil, hi(20), 2), step(lo(20), nil, 3)}}, []string{f + ".StepAdjustments[1]"}},
		{"unbounded both ways", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{step(nil, nil, 1)}}, []string{f + ".StepAdjustments[0]"}},
		{"lower not below upper", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{step(lo(10), hi(10), 1)}}, []string{f + ".StepAdjustments[0]"}},
		{"a scale-in step", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{
			step(nil, hi(0), -1), step(lo(0), nil, 2)}}, []string{f + ".StepAdjustments[0]", f + ".StepAdjustments[0].ScalingAdjustment"}},
		{"starts above the threshold", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{step(lo(10), nil, 1)}},
			[]string{f + ".StepAdjustments[0].MetricIntervalLowerBound"}},
		{"ends", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{step(lo(0), hi(100), 1)}},
			[]string{f + ".StepAdjustments[0].MetricIntervalUpperBound"}},
		{"zero adjustment", StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{step(lo(0), nil, 0)}},
			[]string{f + ".StepAdjustments[0].ScalingAdjustment"}},
		{"magnitude on ChangeInCapacity", StepScaling{AdjustmentType: ChangeInCapacity, MinAdjustmentMagnitude: 2,
			StepAdjustments: []StepAdjustment{step(lo(0), nil, 1)}}, []string{f + ".MinAdjustmentMagnitude"}},
		{"magnitude beyond ECS's quota", StepScaling{AdjustmentType: PercentChangeInCapacity, MinAdjustmentMagnitude: MaxTaskCount + 1,
			StepAdjustments: []StepAdjustment{step(lo(0), nil, 100)}}, []string{f + ".MinAdjustmentMagnitude"}},
		{"exact count beyond ECS's quota", StepScaling{AdjustmentType: ExactCapacity,
			StepAdjustments: []StepAdjustment{step(lo(0), nil, MaxTaskCount+1)}}, []string{f + ".StepAdjustments[0].ScalingAdjustment"}},
		{"cooldown of more than a day", StepScaling{AdjustmentType: ChangeInCapacity, Cooldown: MaxGracePeriod + time.Second,
			StepAdjustments: []StepAdjustment{step(lo(0), nil, 1)}}, []string{f + ".Cooldown"}},
		{"cooldown of a day", StepScaling{AdjustmentType: ChangeInCapacity, Cooldown: MaxGracePeriod,
			StepAdjustments: []StepAdjustment{step(lo(0), nil, 1)}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := seed100()
			p.ScaleoutMode, p.Steps = ModeSteps, &tt.steps
			err := p.Validate()
			if tt.fields == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			var fields []string
			for _, e := range flatten(err) {
				fields = append(fields, e.Field)
			}
			assert.Equal(t, tt.fields, fields, err.Error())
		})
	}
}

// flatten returns the FieldErrors in a tree of joined errors, in order.
func flatten(err error) []*FieldError {
	if fe, ok := err.(*FieldError); ok {
		return []*FieldError{fe}
	}
	var out []*FieldError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
	}
	return out
}

func TestPolicyValidateNewFields(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Policy)
		fields []string
	}{
		{"unknown mode", func(p *Policy) { p.ScaleoutMode = "triple" }, []string{"ScaleoutMode"}},
		{"target outside capacity mode", func(p *Policy) { p.TargetPerTask = 80 }, []string{"TargetPerTask"}},
		{"target above the threshold", func(p *Policy) { p.ScaleoutMode, p.TargetPerTask = ModeCapacity, 120 }, []string{"TargetPerTask"}},
		{"negative target", func(p *Policy) { p.ScaleoutMode, p.TargetPerTask = ModeCapacity, -1 }, []string{"TargetPerTask"}},
		{"steps without their configuration", func(p *Policy) { p.ScaleoutMode = ModeSteps }, []string{StepsField}},
		{"steps configured in another mode", func(p *Policy) {
			p.Steps = &StepScaling{AdjustmentType: ChangeInCapacity, StepAdjustments: []StepAdjustment{{MetricIntervalLowerBound: ptr(0.0), ScalingAdjustment: 1}}}
		}, []string{StepsField}},
		{"escalation in capacity mode", func(p *Policy) { p.ScaleoutMode, p.EscalateWhenReady = ModeCapacity, true }, []string{"EscalateWhenReady"}},
		{"negative after-checks", func(p *Policy) { p.ScaleoutAfterChecks = -1 }, []string{"ScaleoutAfterChecks"}},
		{"too many after-checks", func(p *Policy) { p.ScaleoutAfterChecks = 101 }, []string{"ScaleoutAfterChecks"}},
		{"negative startup timeout", func(p *Policy) { p.StartupTimeout = -time.Second }, []string{"StartupTimeout"}},
		{"startup timeout of more than a day", func(p *Policy) { p.StartupTimeout = MaxStartupTimeout + time.Second }, []string{"StartupTimeout"}},
		{"startup timeout of a day", func(p *Policy) { p.StartupTimeout = MaxStartupTimeout }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := seed100()
			tt.mutate(&p)
			var fields []string
			for _, e := range flatten(p.Validate()) {
				fields = append(fields, e.Field)
			}
			assert.Equal(t, tt.fields, fields)
		})
	}
	t.Run("zero values are the defaults", func(t *testing.T) {
		p := Policy{ScaleoutThreshold: 100, MinDesiredCount: 5, CheckInterval: time.Second, GracePeriod: time.Minute, AlertAfterFailures: 1}
		require.NoError(t, p.Validate())
		assert.Equal(t, ModeDouble, p.EffectiveMode())
		assert.Equal(t, 1, p.afterChecks())
		assert.Equal(t, DefaultStartupTimeout, p.EffectiveStartupTimeout())
		p.ScaleoutMode = ModeCapacity
		assert.Equal(t, 90.0, p.EffectiveTargetPerTask())
	})
}
