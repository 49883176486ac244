// Package notify names the role that is told about notable events (a
// scale-out, a failed one, a metric source that keeps failing), and provides
// a logging notifier and a fan-out. The Slack webhook notifier lives in
// notify/slack.
//
// The engine calls Notify on the watcher's own goroutine, right after acting,
// so a Notifier must return quickly: one that talks to the network queues the
// event and delivers it elsewhere. A Notifier's error is logged and otherwise
// ignored; it never delays or undoes a scale-out.
package notify

import (
	"context"
	"time"
)

// Kind says what an Event reports.
type Kind int

// The kinds of event the engine emits.
const (
	// ScaledOut: the desired count was raised from DesiredCur to DesiredNew.
	ScaledOut Kind = iota + 1
	// HeldAtMax: a scale-out was called for but the desired count already stands
	// at (or above) MaxDesiredCount: DesiredNew == MaxDesired <= DesiredCur.
	// No update was made.
	HeldAtMax
	// ScaleFailed: a scale-out was called for and the scaler failed; Err
	// says why.
	ScaleFailed
	// MetricFailing: the metric source has failed Failures checks in a row;
	// Err is the latest failure.
	MetricFailing
	// MetricRecovered: the metric source answered again after Failures failed
	// checks in a row.
	MetricRecovered
	// ConfigRejected: a reloaded configuration was invalid and the last good
	// one keeps running; Err lists every problem. Cluster and Service are
	// empty: the event is about the whole process.
	ConfigRejected
	// DryRun: a scale-out from DesiredCur to DesiredNew was decided but not
	// made, because the scaler is a dry run. Nothing changed.
	DryRun
	// TasksNotStarting: the tasks asked for by a scale-out (DesiredNew) have
	// not started within the policy's StartupTimeout (Waited so far):
	// Running is still below it, Pending are starting, and Message is the
	// orchestrator's latest word on the service (on ECS, e.g. "unable to
	// place a task"). Sent once per scale-out; no further scale-out is made
	// until they start.
	TasksNotStarting
	// ScaleOutSuspended: a scale-out to DesiredNew was called for, but
	// scale-out is suspended on the service's scalable target
	// (DynamicScalingOutSuspended); no update was made. Sent once per
	// suspension.
	ScaleOutSuspended
	// ScaleUnknown: an update from DesiredCur to DesiredNew failed in a way
	// that leaves open whether it was applied (Err says why: no answer in
	// time, a broken connection, a server error, shutdown); the service was
	// then read once: DesiredAfter is the desired count found (-1: that
	// read failed too), and Landed reports that the count asked for is in
	// force, so the scale-out is done and no second update is made.
	ScaleUnknown
)

// String returns the kind's stable name, as used in logs and metrics.
func (k Kind) String() string {
	switch k {
	case ScaledOut:
		return "scaled_out"
	case HeldAtMax:
		return "held_at_max"
	case ScaleFailed:
		return "scale_failed"
	case MetricFailing:
		return "metric_failing"
	case MetricRecovered:
		return "metric_recovered"
	case ConfigRejected:
		return "config_rejected"
	case DryRun:
		return "dry_run"
	case TasksNotStarting:
		return "tasks_not_starting"
	case ScaleOutSuspended:
		return "held_suspended" // the outcome's name, as for the other scale-out attempts
	case ScaleUnknown:
		return "scale_unknown"
	}
	return "unknown"
}

// Event is one notable thing that happened to one service.
type Event struct {
	Kind    Kind
	Time    time.Time // when the check that produced it ran
	Cluster string    // ECS cluster name
	Service string    // ECS service name

	// Value is the metric reading that triggered the check (Active
	// connections by default). It is meaningless when Overload is set.
	Value float64
	// Overload reports that the source itself signalled overload (the status
	// URL answered 503) rather than giving a number.
	Overload bool

	DesiredCur int // desired count before the scale-out
	DesiredNew int // desired count after it (or that was asked for, on failure)
	// MaxDesired is the cap that limited DesiredNew, when one did, and MaxBy
	// names it: "MaxDesiredCount", or "MaxCapacity" (the scalable target's).
	// 0 and "" when DesiredNew was not capped.
	MaxDesired int
	MaxBy      string
	// Running and Pending are the service's task counts when the state was
	// read (scale-out attempts, TasksNotStarting).
	Running, Pending int
	// Escalation reports a ScaledOut during the grace period of an earlier
	// one: the load needs more than the desired count asked for.
	Escalation bool
	// Landed reports that the desired count asked for (DesiredNew) was
	// found in force after its update call failed: on a ScaleUnknown, by
	// the read right after the call; on a ScaledOut, by a later check. No
	// second update was made.
	Landed bool
	// DesiredAfter is the desired count read right after a ScaleUnknown, -1
	// when that read failed; 0 for other kinds.
	DesiredAfter int
	// Waited is how long the tasks have been starting (TasksNotStarting).
	Waited time.Duration
	// Message is the orchestrator's latest event message about the service
	// (TasksNotStarting); empty when it has none.
	Message string

	Failures int   // consecutive failed reads (MetricFailing, MetricRecovered)
	Err      error // the failure (ScaleFailed, ScaleUnknown, MetricFailing, ConfigRejected)
}

// Notifier is told about events. See the package doc for the contract.
type Notifier interface {
	Notify(ctx context.Context, ev Event) error
}

// NotifierFunc adapts an ordinary function to a Notifier.
type NotifierFunc func(ctx context.Context, ev Event) error

// Notify calls f(ctx, ev).
func (f NotifierFunc) Notify(ctx context.Context, ev Event) error { return f(ctx, ev) }
