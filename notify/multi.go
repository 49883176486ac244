package notify

import (
	"context"
	"errors"
)

// Multi fans each event out to every notifier in it, in order. A failing
// notifier does not stop the others; their errors are joined.
type Multi []Notifier

// Notify calls Notify on each notifier and joins their errors.
func (m Multi) Notify(ctx context.Context, ev Event) error {
	var errs []error
	for _, n := range m {
		if err := n.Notify(ctx, ev); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
