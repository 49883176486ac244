package autoscaler

import (
	"context"
	"log/slog"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

// dryRun records a scale-out that was decided but not made because the
// scaler is a dry run: it is logged and notified as DryRun (never as
// ScaledOut), and the service waits out its grace period as it would have.
func (w *Watcher) dryRun(ctx context.Context, c Check, ev notify.Event, attrs []slog.Attr, capped bool) Check {
	p := w.svc.Policy
	w.scaleFails = 0
	c.Outcome, c.Next = DryRun, c.Time.Add(p.GracePeriod)
	ev.Kind = notify.DryRun
	if capped {
		attrs = append(attrs, slog.Int("desired_max", p.MaxDesiredCount))
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "dry run: scale-out not made",
		append(attrs, slog.String("event", DryRun.String()), slog.String("grace", p.GracePeriod.String()))...)
	w.notify(ctx, ev)
	return c
}
