package autoscaler

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ScaleoutMode says how a scale-out sizes the new desired count.
type ScaleoutMode string

// The scale-out modes.
const (
	// ModeDouble sets 2 × max(current, floor): the seed's rule, and the
	// default. The floor is MinDesiredCount (or the scalable target's
	// MinCapacity when higher).
	ModeDouble ScaleoutMode = "double"
	// ModeCapacity sets what the measured load needs:
	// ceil(estimated total load / TargetPerTask), at least current + 1, and
	// keeps checking during the grace period to raise it again while the
	// load keeps rising.
	ModeCapacity ScaleoutMode = "capacity"
	// ModeSteps applies Application Auto Scaling step adjustments
	// (Policy.Steps) to the reading's excess over the threshold.
	ModeSteps ScaleoutMode = "steps"
)

// Policy holds the scale-out rules for one service. Field names match the
// configuration document's. Start from DefaultPolicy and change what you need:
// the zero value is not valid, and Validate says why. The fields added after
// the seed read their zero value as their default.
type Policy struct {
	// ScaleoutThreshold: a reading strictly greater than this triggers a
	// scale-out. Default 150 (the seed's).
	ScaleoutThreshold float64
	// MinDesiredCount is the floor a scale-out doubles from: the new desired
	// count is 2 × max(current, MinDesiredCount). In the other modes it is
	// the least a scale-out sets. Tasks; default 5; at most MaxTaskCount.
	MinDesiredCount int
	// MaxDesiredCount caps the new desired count; 0 means no cap of its own
	// (the seed's behaviour; the scalable target's MaxCapacity still applies
	// when the scaler reports one). Tasks; default 0; at most MaxTaskCount.
	MaxDesiredCount int
	// CheckInterval is the time between checks. Default 3 s; at least 100 ms
	// (MinCheckInterval), at most 1 h (MaxCheckInterval).
	CheckInterval time.Duration
	// GracePeriod is how long a service is left alone after a scale-out (or
	// after finding it held at its cap) while new tasks start. Default 180 s
	// (the seed's); at most 24 h (MaxGracePeriod). In ModeCapacity, and with
	// EscalateWhenReady, checks go on during it (see those).
	GracePeriod time.Duration
	// AlertAfterFailures is how many consecutive failed reads raise a
	// MetricFailing event. Default 5.
	AlertAfterFailures int

	// ScaleoutMode sizes a scale-out. "" means ModeDouble.
	ScaleoutMode ScaleoutMode
	// TargetPerTask is, in ModeCapacity, the load each task should carry
	// after a scale-out, in the reading's unit (connections per task). At
	// most ScaleoutThreshold. 0 means DefaultTargetFraction ×
	// ScaleoutThreshold. Only valid in ModeCapacity.
	TargetPerTask float64
	// Steps is, in ModeSteps, the step scaling configuration to apply;
	// required there and only valid there.
	Steps *StepScaling
	// EscalateWhenReady, in ModeDouble and ModeSteps, keeps checking at
	// CheckInterval during the grace period and ends it early, with a new
	// scale-out, once every task asked for is running and the reading still
	// calls for one. Default false (the seed's blind grace period). Not valid
	// in ModeCapacity, which escalates by itself.
	EscalateWhenReady bool
	// ScaleoutAfterChecks is how many readings in a row must be above the
	// threshold before a scale-out. An overload reading (a 503) acts at
	// once. 0 means 1 (the seed's).
	ScaleoutAfterChecks int
	// StartupTimeout is how long the tasks asked for by a scale-out may take
	// to start (the running count to reach the desired count asked for)
	// before a TasksNotStarting event is sent. 0 means
	// DefaultStartupTimeout; at most MaxStartupTimeout (24 h).
	StartupTimeout time.Duration
}

// Defaults, the seed's where the seed had the knob.
const (
	DefaultScaleoutThreshold  = 150
	DefaultMinDesiredCount    = 5
	DefaultCheckInterval      = 3 * time.Second
	DefaultGracePeriod        = 180 * time.Second
	DefaultAlertAfterFailures = 5
	// DefaultStartupTimeout is how long tasks may take to start before
	// TasksNotStarting is sent: 5 minutes, well beyond Fargate's usual
	// minute.
	DefaultStartupTimeout = 5 * time.Minute
	// DefaultTargetFraction is TargetPerTask's default as a fraction of
	// ScaleoutThreshold. See the README for the measurements behind it.
	DefaultTargetFraction = 0.9

	// MinCheckInterval is the shortest CheckInterval Validate accepts.
	MinCheckInterval = 100 * time.Millisecond
	// MaxCheckInterval is the longest CheckInterval Validate accepts: a
	// service checked less often than hourly is not watched for spikes,
	// which is the whole point, and a longer value is a slip of the unit.
	MaxCheckInterval = time.Hour
	// MaxGracePeriod is the longest GracePeriod Validate accepts: a service
	// left alone for more than a day after a scale-out is no longer watched.
	MaxGracePeriod = 24 * time.Hour
	// MaxTaskCount is the largest MinDesiredCount or MaxDesiredCount
	// Validate accepts: ECS's quota of 5,000 tasks per service. ECS refuses
	// an UpdateService beyond it, so a larger floor or cap could only make
	// every scale-out fail.
	MaxTaskCount = 5000
	// MaxStartupTimeout is the longest StartupTimeout Validate accepts:
	// tasks that have not started within a day are not going to, and a
	// longer value is a slip of the unit.
	MaxStartupTimeout = 24 * time.Hour
	// MaxScaleoutAfterChecks is the largest ScaleoutAfterChecks Validate
	// accepts.
	MaxScaleoutAfterChecks = 100
)

// DefaultPolicy returns the seed's policy: threshold 150, floor 5, no cap,
// a check every 3 s, 180 s of grace after a scale-out, an alert after 5
// failed reads in a row, doubling on the first reading over the threshold.
func DefaultPolicy() Policy {
	return Policy{
		ScaleoutThreshold:   DefaultScaleoutThreshold,
		MinDesiredCount:     DefaultMinDesiredCount,
		CheckInterval:       DefaultCheckInterval,
		GracePeriod:         DefaultGracePeriod,
		AlertAfterFailures:  DefaultAlertAfterFailures,
		ScaleoutMode:        ModeDouble,
		ScaleoutAfterChecks: 1,
		StartupTimeout:      DefaultStartupTimeout,
	}
}

// FieldError is one invalid field: its name as in the configuration document
// and what is wrong with it.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate reports every invalid field at once, as *FieldError values joined
// with errors.Join, or nil when the policy is usable.
func (p Policy) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	thresholdOK := finite(p.ScaleoutThreshold) && p.ScaleoutThreshold > 0
	if !thresholdOK {
		bad("ScaleoutThreshold", "must be a finite number > 0, got %v", p.ScaleoutThreshold)
	}
	switch {
	case p.MinDesiredCount < 1:
		bad("MinDesiredCount", "must be >= 1, got %d", p.MinDesiredCount)
	case p.MinDesiredCount > MaxTaskCount:
		bad("MinDesiredCount", "must be at most %d (ECS's limit of tasks per service), got %d", MaxTaskCount, p.MinDesiredCount)
	}
	switch {
	case p.MaxDesiredCount < 0:
		bad("MaxDesiredCount", "must be >= 1 (or absent for no cap), got %d", p.MaxDesiredCount)
	case p.MaxDesiredCount > MaxTaskCount:
		bad("MaxDesiredCount", "must be at most %d (ECS's limit of tasks per service), got %d", MaxTaskCount, p.MaxDesiredCount)
	case p.MaxDesiredCount > 0 && p.MaxDesiredCount < p.MinDesiredCount:
		bad("MaxDesiredCount", "must be >= MinDesiredCount (%d), got %d", p.MinDesiredCount, p.MaxDesiredCount)
	}
	switch {
	case p.CheckInterval < MinCheckInterval:
		bad("CheckInterval", "must be at least %v, got %v", MinCheckInterval, p.CheckInterval)
	case p.CheckInterval > MaxCheckInterval:
		bad("CheckInterval", "must be at most %v, got %v", MaxCheckInterval, p.CheckInterval)
	}
	switch {
	case p.GracePeriod <= 0:
		bad("GracePeriod", "must be > 0, got %v", p.GracePeriod)
	case p.GracePeriod > MaxGracePeriod:
		bad("GracePeriod", "must be at most %v, got %v", MaxGracePeriod, p.GracePeriod)
	}
	if p.AlertAfterFailures < 1 {
		bad("AlertAfterFailures", "must be >= 1, got %d", p.AlertAfterFailures)
	}

	mode := p.mode()
	switch mode {
	case ModeDouble, ModeCapacity, ModeSteps:
	default:
		bad("ScaleoutMode", "must be %q, %q or %q, got %q", ModeDouble, ModeCapacity, ModeSteps, p.ScaleoutMode)
	}
	switch {
	case p.TargetPerTask == 0:
	case mode != ModeCapacity:
		bad("TargetPerTask", "applies only with ScaleoutMode %q; remove it or set the mode", ModeCapacity)
	case !finite(p.TargetPerTask) || p.TargetPerTask < 0:
		bad("TargetPerTask", "must be a finite number > 0, got %v", p.TargetPerTask)
	case thresholdOK && p.TargetPerTask > p.ScaleoutThreshold:
		bad("TargetPerTask", "must not exceed ScaleoutThreshold (%v), or tasks would stand above the threshold after a scale-out, got %v",
			p.ScaleoutThreshold, p.TargetPerTask)
	}
	switch {
	case mode == ModeSteps && p.Steps == nil:
		bad(StepsField, "required with ScaleoutMode %q", ModeSteps)
	case mode != ModeSteps && p.Steps != nil:
		bad(StepsField, "applies only with ScaleoutMode %q; remove it or set the mode", ModeSteps)
	case p.Steps != nil:
		errs = append(errs, p.Steps.validate(StepsField))
	}
	if p.EscalateWhenReady && mode == ModeCapacity {
		bad("EscalateWhenReady", "has no effect with ScaleoutMode %q, which raises again by itself while the load rises; remove it", ModeCapacity)
	}
	if p.ScaleoutAfterChecks < 0 || p.ScaleoutAfterChecks > MaxScaleoutAfterChecks {
		bad("ScaleoutAfterChecks", "must be from 1 to %d, got %d", MaxScaleoutAfterChecks, p.ScaleoutAfterChecks)
	}
	switch {
	case p.StartupTimeout < 0:
		bad("StartupTimeout", "must be > 0, got %v", p.StartupTimeout)
	case p.StartupTimeout > MaxStartupTimeout:
		bad("StartupTimeout", "must be at most %v, got %v", MaxStartupTimeout, p.StartupTimeout)
	}
	return errors.Join(errs...)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// EffectiveMode is ScaleoutMode with its default: ModeDouble when empty.
func (p Policy) EffectiveMode() ScaleoutMode {
	if p.ScaleoutMode == "" {
		return ModeDouble
	}
	return p.ScaleoutMode
}

// mode is EffectiveMode.
func (p Policy) mode() ScaleoutMode { return p.EffectiveMode() }

// afterChecks is ScaleoutAfterChecks with its default.
func (p Policy) afterChecks() int { return max(p.ScaleoutAfterChecks, 1) }

// EffectiveStartupTimeout is StartupTimeout with its default.
func (p Policy) EffectiveStartupTimeout() time.Duration {
	if p.StartupTimeout <= 0 {
		return DefaultStartupTimeout
	}
	return p.StartupTimeout
}

// startupTimeout is EffectiveStartupTimeout.
func (p Policy) startupTimeout() time.Duration { return p.EffectiveStartupTimeout() }

// EffectiveTargetPerTask is TargetPerTask with its default: the load per
// task a capacity scale-out aims for.
func (p Policy) EffectiveTargetPerTask() float64 {
	if p.TargetPerTask > 0 {
		return p.TargetPerTask
	}
	return DefaultTargetFraction * p.ScaleoutThreshold
}

// grace is how long a scale-out is followed by a grace period: the step
// configuration's Cooldown in ModeSteps when set, else GracePeriod.
func (p Policy) grace() time.Duration {
	if p.mode() == ModeSteps && p.Steps != nil && p.Steps.Cooldown > 0 {
		return p.Steps.Cooldown
	}
	return p.GracePeriod
}

// checksInGrace reports whether the service is checked during its grace
// period (ModeCapacity, or EscalateWhenReady); otherwise it is left alone.
func (p Policy) checksInGrace() bool { return p.mode() == ModeCapacity || p.EscalateWhenReady }

// Triggered reports whether r calls for a scale-out: the source reports
// overload, or the value is strictly greater than the threshold.
func (p Policy) Triggered(r Reading) bool {
	return r.Overload || r.Value > p.ScaleoutThreshold
}

// ScaleOutTo returns the desired count the seed's rule (ModeDouble) sets from
// current: 2 × max(current, MinDesiredCount), capped at MaxDesiredCount when
// set. capped reports that the cap applied. A result not above current means
// no update must be made (a scale-out never lowers the desired count). The
// watcher also applies the scalable target's bounds and the other rules
// described on Watcher.Step.
func (p Policy) ScaleOutTo(current int) (desired int, capped bool) {
	desired = double(max(current, p.MinDesiredCount))
	if p.MaxDesiredCount > 0 && desired > p.MaxDesiredCount {
		desired, capped = p.MaxDesiredCount, true
	}
	return desired, capped
}

// double returns 2 × n without overflowing.
func double(n int) int {
	if n > math.MaxInt/2 {
		return math.MaxInt
	}
	return 2 * n
}
