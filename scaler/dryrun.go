package scaler

import (
	"context"
	"fmt"
	"log/slog"
)

// DryRun wraps a Scaler: State (and States) read through to it, SetDesired
// changes nothing and returns an error wrapping ErrDryRun, so a caller (the
// engine) can tell a decision that was not carried out from a scale-out that
// was. It is not a Recorder: a dry run records no scale-out on the service.
type DryRun struct {
	next Scaler
	log  *slog.Logger
}

// NewDryRun returns a dry-run wrapper around next that logs each refused
// update at debug level to logger (discarded when nil).
func NewDryRun(next Scaler, logger *slog.Logger) *DryRun {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DryRun{next: next, log: logger}
}

// State returns the wrapped scaler's state.
func (d *DryRun) State(ctx context.Context, svc ServiceID) (State, error) {
	return d.next.State(ctx, svc)
}

// States reads through to the wrapped scaler, in batches when it is a
// BatchStater.
func (d *DryRun) States(ctx context.Context, svcs []ServiceID) ([]State, []error) {
	return ReadStates(ctx, d.next, svcs, 0)
}

// SetDesired changes nothing and returns an error wrapping ErrDryRun that
// names the service and the count it would have set.
func (d *DryRun) SetDesired(ctx context.Context, svc ServiceID, desired int) error {
	if d.log.Enabled(ctx, slog.LevelDebug) {
		d.log.LogAttrs(ctx, slog.LevelDebug, "dry-run: desired count not changed",
			slog.String("cluster", svc.Cluster), slog.String("service", svc.Name),
			slog.Int("desired_new", desired))
	}
	return fmt.Errorf("%s: desired count %d: %w", svc, desired, ErrDryRun)
}
