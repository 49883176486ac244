// Package scaler names the role that reads and raises a service's desired task
// count, and provides an in-memory implementation and a dry-run wrapper.
//
// The ECS implementation lives in scaler/ecs; the engine depends only on the
// Scaler interface, so a library user can stand in any orchestrator.
package scaler

import (
	"context"
	"errors"
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

// Scaler reads a service's state and sets its desired task count. The engine
// calls State, decides, then calls SetDesired at most once per scale-out.
// Implementations must be safe for concurrent use by many watchers.
type Scaler interface {
	// State returns the service's current scale.
	State(ctx context.Context, svc ServiceID) (State, error)
	// SetDesired sets the service's desired task count to desired.
	SetDesired(ctx context.Context, svc ServiceID, desired int) error
}

// Errors a caller may branch on; implementations wrap them with the service
// and the orchestrator's own words.
var (
	// ErrServiceNotFound means the service (or its cluster) does not exist.
	ErrServiceNotFound = errors.New("service not found")
	// ErrServiceNotActive means the service exists but is draining or inactive.
	ErrServiceNotActive = errors.New("service not active")
)
