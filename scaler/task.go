package scaler

import "net/netip"

// Task is one task of a service as its orchestrator lists it: a task the
// service wants running, which either runs or is still starting. A per-task
// metric source (stubstatus.TaskSource) reads each running one at its
// address; the ECS lister is in scaler/ecs.
type Task struct {
	// ID identifies the task within its cluster (on ECS, the last part of
	// its ARN).
	ID string
	// Addr is the task's private IP address; the zero Addr when it is not
	// known yet (a task still starting may have none).
	Addr netip.Addr
	// Status is the orchestrator's word for the task's state ("RUNNING",
	// "PROVISIONING", "PENDING", "ACTIVATING" on ECS).
	Status string
	// Running reports that the task runs (on ECS, lastStatus RUNNING): it
	// can be read. A task that does not run yet is starting.
	Running bool
}
