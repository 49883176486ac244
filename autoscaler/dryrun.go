package autoscaler

import (
	"context"
	"log/slog"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

// dryRun records a scale-out that was decided but not made because the
// scaler is a dry run: it is logged and notified as DryRun (never as
// ScaledOut), and the service waits out its grace period (Policy.grace: the
// Cooldown in steps mode) as it would have. The caller has remembered the
// count as asked for.
func (w *Watcher) dryRun(ctx context.Context, c Check, ev notify.Event, attrs []slog.Attr) Check {
	p := w.svc.Policy
	w.scaleFails = 0
	c.Outcome, c.Grace = DryRun, true
	c.Next = p.afterScaleOut(c.Time, &w.mem)
	ev.Kind = notify.DryRun
	w.log.LogAttrs(ctx, slog.LevelInfo, "dry run: scale-out not made",
		append(attrs, slog.String("event", DryRun.String()), slog.String("grace", p.grace().String()))...)
	w.notify(ctx, ev)
	return c
}
