package autoscaler

import "context"

// Reading is one measurement of one service's load.
type Reading struct {
	// Value is the load figure compared with the threshold: nginx Active
	// connections (or Active − Waiting) for the built-in source.
	Value float64
	// Overload reports that the source itself says the service is overloaded
	// (the nginx status URL answered 503). It calls for a scale-out whatever
	// Value is.
	Overload bool
	// Tasks is how many tasks Value stands for. 0 (the built-in nginx source
	// through a load balancer) means Value is one task's load, so a capacity
	// scale-out estimates the total from the tasks it counts as serving.
	// N > 0 means Value is the mean load of N tasks that were all read, so
	// the total is exactly Value × N. Value is compared with the threshold
	// either way.
	Tasks int
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
