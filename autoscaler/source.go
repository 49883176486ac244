package autoscaler

import (
	"context"
	"time"
)

// Reading is one measurement of one service's load.
type Reading struct {
	// Value is the load figure compared with the threshold: nginx Active
	// connections (or Active − Waiting) for the built-in source.
	Value float64
	// Overload reports that the source itself says the service is overloaded
	// (the nginx status URL answered 503). It calls for a scale-out whatever
	// Value is.
	Overload bool
	// Tasks is how many tasks answered when the source read every task of the
	// service itself (per-task reading). Value is then the per-task figure
	// compared with the threshold (their average or maximum) and Total is the
	// exact sum over those tasks. 0 means the reading is one sample through a
	// load balancer: one task's load, with no total. A task that answered
	// "overloaded" (an nginx 503) counts here and sets Overload, but has no
	// figure: it adds nothing to Total or Value.
	Tasks int
	// Total is the sum of the per-task values when Tasks > 0; 0 otherwise.
	Total float64
	// Unanswered is how many tasks known to be serving did not answer this
	// read (per-task reading only).
	Unanswered int
	// Starting is how many tasks the service wants running that are still
	// starting, so were not read (per-task reading only).
	Starting int
}

// MetricSource reads a service's current load. A read that returns an error is
// logged and skipped: it never causes a scale-out. Read is called from one
// watcher goroutine at a time; it should honour ctx and return within the
// service's CheckInterval.
type MetricSource interface {
	Read(ctx context.Context) (Reading, error)
}

// MetricSourceFunc adapts an ordinary function to a MetricSource.
type MetricSourceFunc func(ctx context.Context) (Reading, error)

// Read calls f(ctx).
func (f MetricSourceFunc) Read(ctx context.Context) (Reading, error) { return f(ctx) }

// ScaleOutListener is implemented by a MetricSource that wants to know when
// its service was scaled out, for instance to list the service's tasks
// again (stubstatus.TaskSource does). The watcher calls ScaledOut, on its
// own goroutine, after each scale-out that raised the desired count (a
// ScaledOut, or a ScaleUnknown whose update landed); it must return quickly.
type ScaleOutListener interface {
	ScaledOut(now time.Time)
}
