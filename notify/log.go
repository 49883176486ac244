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

// Notify logs ev at info level, or warn for failures. It never fails.
func (l *Log) Notify(ctx context.Context, ev Event) error {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("event", ev.Kind.String()),
		slog.String("cluster", ev.Cluster),
		slog.String("service", ev.Service),
	}
	switch ev.Kind {
	case ScaledOut, HeldAtMax, ScaleFailed, DryRun:
		attrs = append(attrs, slog.Float64("active", ev.Value), slog.Bool("overload", ev.Overload),
			slog.Int("desired_cur", ev.DesiredCur), slog.Int("desired_new", ev.DesiredNew))
		if ev.MaxDesired > 0 {
			attrs = append(attrs, slog.Int("desired_max", ev.MaxDesired))
		}
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
