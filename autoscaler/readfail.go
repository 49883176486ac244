package autoscaler

import (
	"context"
	"log/slog"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

// FailureSummaryEvery is how often, at most, a run of failed reads of one
// service is summarised in the log while it lasts: the first failure is
// logged at warn level, then "metric read still failing" at most this often,
// then "metric source recovered" once reads succeed again. Every failure is
// logged at debug level.
const FailureSummaryEvery = time.Minute

// readFailures is the watcher's memory of the current run of failed reads,
// for the log.
type readFailures struct {
	since  time.Time // the run's first failure
	logged time.Time // the run's last warn-level line
}

// readFailed records a failed read at now: counts it, logs it quietly (see
// FailureSummaryEvery) and raises MetricFailing at AlertAfterFailures.
func (w *Watcher) readFailed(ctx context.Context, now time.Time, err error) {
	w.failures++
	rf := &w.readFails
	switch {
	case w.failures == 1:
		rf.since, rf.logged = now, now
		w.log.LogAttrs(ctx, slog.LevelWarn, "metric read failed",
			slog.Int("failures", w.failures), slog.String("error", err.Error()))
	case now.Sub(rf.logged) >= FailureSummaryEvery:
		rf.logged = now
		w.log.LogAttrs(ctx, slog.LevelWarn, "metric read still failing",
			slog.Int("failures", w.failures), slog.Time("since", rf.since), slog.String("error", err.Error()))
	case w.log.Enabled(ctx, slog.LevelDebug):
		w.log.LogAttrs(ctx, slog.LevelDebug, "metric read failed",
			slog.Int("failures", w.failures), slog.String("error", err.Error()))
	}
	if w.failures == w.svc.Policy.AlertAfterFailures {
		w.notify(ctx, notify.Event{Kind: notify.MetricFailing, Time: now, Failures: w.failures, Err: err})
	}
}

// readRecovered ends a run of failed reads with a good one at now: it logs
// the recovery (every run's, since its first failure was logged) and tells
// the notifier when the run had raised MetricFailing.
func (w *Watcher) readRecovered(ctx context.Context, now time.Time) {
	since := w.readFails.since
	w.log.LogAttrs(ctx, slog.LevelInfo, "metric source recovered", slog.Int("failures", w.failures),
		slog.Time("since", since), slog.String("blind_for", now.Sub(since).String()))
	if w.failures >= w.svc.Policy.AlertAfterFailures {
		w.notify(ctx, notify.Event{Kind: notify.MetricRecovered, Time: now, Failures: w.failures})
	}
	w.failures = 0
	w.readFails = readFailures{}
}
