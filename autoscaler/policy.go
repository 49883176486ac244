package autoscaler

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Policy holds the scale-out rules for one service. Field names match the
// configuration document's. Start from DefaultPolicy and change what you need:
// the zero value is not valid, and Validate says why.
type Policy struct {
	// ScaleoutThreshold: a reading strictly greater than this triggers a
	// scale-out. Default 150 (the seed's).
	ScaleoutThreshold float64
	// MinDesiredCount is the floor a scale-out doubles from: the new desired
	// count is 2 × max(current, MinDesiredCount). Tasks; default 5; at most
	// MaxTaskCount.
	MinDesiredCount int
	// MaxDesiredCount caps the new desired count; 0 means no cap (the seed's
	// behaviour). Tasks; default 0; at most MaxTaskCount.
	MaxDesiredCount int
	// CheckInterval is the time between checks. Default 3 s; at least 100 ms
	// (MinCheckInterval), at most 1 h (MaxCheckInterval).
	CheckInterval time.Duration
	// GracePeriod is how long a service is left alone after a scale-out (or
	// after finding it held at MaxDesiredCount) while new tasks start.
	// Default 180 s (the seed's); at most 24 h (MaxGracePeriod).
	GracePeriod time.Duration
	// AlertAfterFailures is how many consecutive failed reads raise a
	// MetricFailing event. Default 5.
	AlertAfterFailures int
}

// Defaults, the seed's where the seed had the knob.
const (
	DefaultScaleoutThreshold  = 150
	DefaultMinDesiredCount    = 5
	DefaultCheckInterval      = 3 * time.Second
	DefaultGracePeriod        = 180 * time.Second
	DefaultAlertAfterFailures = 5

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
)

// DefaultPolicy returns the seed's policy: threshold 150, floor 5, no cap,
// a check every 3 s, 180 s of grace after a scale-out, an alert after 5
// failed reads in a row.
func DefaultPolicy() Policy {
	return Policy{
		ScaleoutThreshold:  DefaultScaleoutThreshold,
		MinDesiredCount:    DefaultMinDesiredCount,
		CheckInterval:      DefaultCheckInterval,
		GracePeriod:        DefaultGracePeriod,
		AlertAfterFailures: DefaultAlertAfterFailures,
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
	if math.IsNaN(p.ScaleoutThreshold) || math.IsInf(p.ScaleoutThreshold, 0) || p.ScaleoutThreshold <= 0 {
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
	return errors.Join(errs...)
}

// Triggered reports whether r calls for a scale-out: the source reports
// overload, or the value is strictly greater than the threshold.
func (p Policy) Triggered(r Reading) bool {
	return r.Overload || r.Value > p.ScaleoutThreshold
}

// ScaleOutTo returns the desired count a scale-out from current should set:
// 2 × max(current, MinDesiredCount), capped at MaxDesiredCount when set.
// capped reports that the cap applied. A result not above current means no
// update must be made (a scale-out never lowers the desired count).
func (p Policy) ScaleOutTo(current int) (desired int, capped bool) {
	base := max(current, p.MinDesiredCount)
	if base > math.MaxInt/2 {
		desired = math.MaxInt
	} else {
		desired = 2 * base
	}
	if p.MaxDesiredCount > 0 && desired > p.MaxDesiredCount {
		desired, capped = p.MaxDesiredCount, true
	}
	return desired, capped
}
