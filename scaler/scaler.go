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
	// ErrOutcomeUnknown marks a SetDesired error after which the update may
	// nonetheless have been applied: the request may have reached the
	// orchestrator and its answer was lost (no answer before the deadline,
	// the connection broke after the request was sent). The engine then
	// reads the service to learn what happened. A context error from
	// SetDesired is read the same way.
	ErrOutcomeUnknown = errors.New("outcome unknown: the update may or may not have been applied")
)
