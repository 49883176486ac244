// Package scaler names the role that reads and raises a service's desired task
// count, and provides an in-memory implementation and a dry-run wrapper.
//
// The ECS implementation lives in scaler/ecs; the engine depends only on the
// Scaler interface, so a library user can stand in any orchestrator. Two
// optional interfaces add what not every orchestrator can do: Recorder keeps
// a record of each scale-out on the service itself (so every process
// watching it sees it), and BatchStater reads many services in few calls.
package scaler

import (
	"context"
	"errors"
	"time"
)

// ServiceID identifies one scalable service: an ECS cluster and a service in it.
type ServiceID struct {
	Cluster string // ECS cluster name (or ARN)
	Name    string // ECS service name (or ARN)
}

// String returns "cluster/name", the form used in logs and errors.
func (s ServiceID) String() string { return s.Cluster + "/" + s.Name }

// State is a service's scale as its orchestrator reports it. Counts are tasks.
type State struct {
	Desired int // the desired task count
	Running int // tasks running now
	Pending int // tasks requested but not yet running
	// Status is the orchestrator's word for the service ("ACTIVE" on ECS);
	// empty where the scaler has no such notion.
	Status string
	// Deploying reports a deployment in progress (more than one deployment,
	// or the primary one not yet completed).
	Deploying bool
	// LastEvent is the orchestrator's latest message about the service (on
	// ECS, the newest service event, such as "unable to place a task");
	// empty when there is none.
	LastEvent string
	// Target is the service's scalable target (Application Auto Scaling on
	// ECS), when the scaler reads one.
	Target ScalableTarget
	// LastScaleOut is the last scale-out recorded on the service (by this
	// process or any other, see Recorder); its Time is zero when none is
	// recorded or the scaler records none.
	LastScaleOut ScaleOut
	// Paused reports that the service is marked paused on the orchestrator
	// (on ECS, the tag fast-autoscaler:paused=true): it is read as usual and
	// never scaled out until the mark is removed.
	Paused bool
}

// ScalableTarget is what a managed autoscaler registered for a service: the
// bounds it keeps the desired count within and whether its scale-out is
// suspended. Counts are tasks.
type ScalableTarget struct {
	// Known reports that the scaler read it: false when the scaler reads no
	// scalable targets, or the read failed.
	Known bool
	// Registered reports that the service has a scalable target; Min, Max
	// and ScaleOutSuspended are its settings. False when Known and the
	// service has none.
	Registered bool
	Min, Max   int // MinCapacity, MaxCapacity
	// ScaleOutSuspended mirrors DynamicScalingOutSuspended: an operator has
	// suspended scale-out (during an incident or a migration, say).
	ScaleOutSuspended bool
}

// ScaleOut is one scale-out as recorded on the service.
type ScaleOut struct {
	// Time is when the scale-out was decided, by the clock of the process
	// that made it.
	Time time.Time
	// Desired is the desired task count it set.
	Desired int
	// By names the process that made it (host name and process id by
	// default; see autoscaler.Options.Identity).
	By string
}

// IsZero reports that no scale-out is recorded.
func (r ScaleOut) IsZero() bool { return r.Time.IsZero() }

// Scaler reads a service's state and sets its desired task count. The engine
// calls State, decides, then calls SetDesired at most once per scale-out.
// Implementations must be safe for concurrent use by many watchers.
type Scaler interface {
	// State returns the service's current scale.
	State(ctx context.Context, svc ServiceID) (State, error)
	// SetDesired sets the service's desired task count to desired.
	SetDesired(ctx context.Context, svc ServiceID, desired int) error
}

// Recorder is implemented by a Scaler that can record a scale-out on the
// service itself, where State reads it back (State.LastScaleOut) for every
// process watching the service. The engine calls RecordScaleOut just before
// SetDesired, so a process that reads the new desired count also finds the
// record; a process that finds a scale-out recorded within its grace period
// leaves the service alone until the period ends. That keeps a restart from
// forgetting a grace period and two processes from raising a service twice
// for one spike.
//
// It is a separate interface so that Scaler stays the two calls every
// orchestrator has: a scaler without it works as before, with each process
// knowing only its own scale-outs. A failed record never stops the
// scale-out that follows it.
type Recorder interface {
	// RecordScaleOut stores rec on the service. An error wrapping
	// ErrAccessDenied means the orchestrator does not allow it.
	RecordScaleOut(ctx context.Context, svc ServiceID, rec ScaleOut) error
}

// BatchStater is implemented by a Scaler that reads many services in few
// calls (ECS describes 10 services a call). Start-up and periodic reads of
// every service use it through ReadStates.
type BatchStater interface {
	// States returns the state of each service in svcs, in the same order,
	// with errs[i] set when svcs[i] could not be read (as State would fail).
	States(ctx context.Context, svcs []ServiceID) (states []State, errs []error)
}

// Errors a caller may branch on; implementations wrap them with the service
// and the orchestrator's own words.
var (
	// ErrServiceNotFound means the service (or its cluster) does not exist.
	ErrServiceNotFound = errors.New("service not found")
	// ErrServiceNotActive means the service exists but is draining or inactive.
	ErrServiceNotActive = errors.New("service not active")
	// ErrOutcomeUnknown marks a SetDesired error after which the update may
	// nonetheless have been applied: the request may have reached the
	// orchestrator and its answer was lost (no answer before the deadline,
	// the connection broke after the request was sent), or the orchestrator
	// answered with a server error that may follow a commit. The engine then
	// reads the service at once to learn what happened, and treats the count
	// asked for, found in force, as a done scale-out. A context error from
	// SetDesired is read the same way.
	ErrOutcomeUnknown = errors.New("outcome unknown: the update may or may not have been applied")
	// ErrDryRun is returned by a dry-run scaler's SetDesired (DryRun's): the
	// update was accepted as a decision but not made. The engine counts and
	// logs it as a dry run, never as a scale-out or a failure.
	ErrDryRun = errors.New("dry run: desired count not changed")
	// ErrAccessDenied means the orchestrator refused the call for lack of a
	// permission.
	ErrAccessDenied = errors.New("access denied")
)
