package scaler

import (
	"context"
	"sync"
)

// DefaultParallel is how many State calls ReadStates runs at once for a
// scaler that is not a BatchStater.
const DefaultParallel = 16

// ReadStates reads the state of every service in svcs, in order: through
// States when sc is a BatchStater, else with State calls, at most parallel
// (DefaultParallel when < 1) at a time. errs[i] is set when svcs[i] could
// not be read.
func ReadStates(ctx context.Context, sc Scaler, svcs []ServiceID, parallel int) ([]State, []error) {
	if b, ok := sc.(BatchStater); ok {
		states, errs := b.States(ctx, svcs)
		if len(states) == len(svcs) && len(errs) == len(svcs) {
			return states, errs
		}
		// A BatchStater that broke its contract: read one by one rather
		// than index out of range.
	}
	if parallel < 1 {
		parallel = DefaultParallel
	}
	states, errs := make([]State, len(svcs)), make([]error, len(svcs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, svc := range svcs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			states[i], errs[i] = sc.State(ctx, svc)
		})
	}
	wg.Wait()
	return states, errs
}
