package notify

import (
	"context"
	"log/slog"
)

// Log is a Notifier that writes each event as one structured log line.
type Log struct {
	log *slog.Logger
}

// NewLog returns a Notifier logging to logger (discarded when nil).
func NewLog(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{log: logger}
}

// Notify logs ev at info level, or warn for failures, tasks not starting
// and a suspended scale-out. It never fails.
func (l *Log) Notify(ctx context.Context, ev Event) error {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("event", ev.Kind.String()),
		slog.String("cluster", ev.Cluster),
		slog.String("service", ev.Service),
	}
	switch ev.Kind {
	case ScaledOut, HeldAtMax, ScaleFailed, DryRun, ScaleOutSuspended, ScaleUnknown:
		attrs = append(attrs, slog.Float64("active", ev.Value), slog.Bool("overload", ev.Overload),
			slog.Int("desired_cur", ev.DesiredCur), slog.Int("desired_new", ev.DesiredNew))
		if ev.MaxDesired > 0 || ev.MaxBy != "" {
			attrs = append(attrs, slog.Int("desired_max", ev.MaxDesired))
		}
		if ev.MaxBy != "" {
			attrs = append(attrs, slog.String("bound", ev.MaxBy))
		}
		if ev.Escalation {
			attrs = append(attrs, slog.Bool("escalation", true))
		}
		if ev.Kind == ScaleUnknown {
			attrs = append(attrs, slog.Int("desired_after", ev.DesiredAfter), slog.Bool("landed", ev.Landed))
		} else if ev.Landed {
			attrs = append(attrs, slog.Bool("landed", true))
		}
		if ev.Kind == ScaleOutSuspended {
			level = slog.LevelWarn
		}
	case TasksNotStarting:
		level = slog.LevelWarn
		attrs = append(attrs, slog.Int("desired_cur", ev.DesiredCur), slog.Int("desired_new", ev.DesiredNew),
			slog.Int("running", ev.Running), slog.Int("pending", ev.Pending),
			slog.String("waited", ev.Waited.String()), slog.String("ecs_event", ev.Message))
	case MetricFailing, MetricRecovered:
		attrs = append(attrs, slog.Int("failures", ev.Failures))
	}
	if ev.Err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", ev.Err.Error()))
	}
	l.log.LogAttrs(ctx, level, "notify", attrs...)
	return nil
}
