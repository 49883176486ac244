package autoscaler_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// logLines is a JSON slog sink whose lines a test reads back.
type logLines struct{ syncbuf.Buffer }

func (l *logLines) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: level}))
}

// take returns the lines logged since the last take, decoded.
func (l *logLines) take(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(l.Take()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	return out
}

func msgs(lines []map[string]any) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l["level"].(string)+" "+l["msg"].(string))
	}
	return out
}

// switchable is a MetricSource that fails while err is set.
type switchable struct {
	reading autoscaler.Reading
	err     error
}

func (s *switchable) Read(context.Context) (autoscaler.Reading, error) { return s.reading, s.err }

func TestStepLongReadFailureLogsQuietly(t *testing.T) {
	var logs logLines
	rec := &recorder{}
	src := &switchable{reading: autoscaler.Reading{Value: 1}, err: errors.New("connection refused")}
	w, err := autoscaler.NewWatcher(newService("a", src, rec), memWith(3, "a"), logs.logger(slog.LevelInfo))
	require.NoError(t, err)

	// 3 minutes and 3 s of failures, a check every 3 s: 62 failed reads.
	now := t0
	for range 62 {
		now = w.Step(t.Context(), now).Next
	}
	lines := logs.take(t)
	assert.Equal(t, []string{"WARN metric read failed", "WARN metric read still failing",
		"WARN metric read still failing", "WARN metric read still failing"}, msgs(lines),
		"the first failure, then a summary once a minute")
	assert.EqualValues(t, 1, lines[0]["failures"])
	assert.Equal(t, "connection refused", lines[0]["error"])
	for i, l := range lines[1:] {
		assert.EqualValues(t, 20*(i+1)+1, l["failures"], "summary %d counts every failure so far", i+1)
		assert.Equal(t, t0.Format(time.RFC3339), l["since"], "summary %d says since when", i+1)
		assert.Equal(t, "connection refused", l["error"], "summary %d carries the last error", i+1)
	}
	assert.Equal(t, []notify.Kind{notify.MetricFailing}, rec.kinds(), "notified once, at AlertAfterFailures")

	src.err = nil
	now = w.Step(t.Context(), now).Next
	lines = logs.take(t)
	require.Equal(t, []string{"INFO metric source recovered"}, msgs(lines))
	assert.EqualValues(t, 62, lines[0]["failures"])
	assert.Equal(t, "3m6s", lines[0]["blind_for"], "from the first failure to the good read")

	// A short run (below AlertAfterFailures) is also logged and closed, but
	// not notified; a new run starts its own count and summary clock.
	src.err = errors.New("timeout")
	w.Step(t.Context(), now)
	src.err = nil
	w.Step(t.Context(), now.Add(3*time.Second))
	lines = logs.take(t)
	assert.Equal(t, []string{"WARN metric read failed", "INFO metric source recovered"}, msgs(lines))
	assert.EqualValues(t, 1, lines[0]["failures"])
	assert.Equal(t, []notify.Kind{notify.MetricFailing, notify.MetricRecovered}, rec.kinds())
}

func TestStepReadFailuresAtDebugLogEach(t *testing.T) {
	var logs logLines
	src := &switchable{err: errors.New("refused")}
	w, err := autoscaler.NewWatcher(newService("a", src, nil), memWith(3, "a"), logs.logger(slog.LevelDebug))
	require.NoError(t, err)
	for i := range 4 {
		w.Step(t.Context(), t0.Add(time.Duration(i)*3*time.Second))
	}
	assert.Equal(t, []string{"WARN metric read failed", "DEBUG metric read failed", "DEBUG metric read failed",
		"DEBUG metric read failed"}, msgs(logs.take(t)))
}

func TestStepDryRunIsNotAScaleOut(t *testing.T) {
	var logs logLines
	mem, rec := memWith(3, "a"), &recorder{}
	logger := logs.logger(slog.LevelDebug)
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 161}), rec),
		scaler.NewDryRun(mem, logger), logger)
	require.NoError(t, err)

	c := w.Step(t.Context(), t0)
	assert.Equal(t, autoscaler.DryRun, c.Outcome)
	assert.Equal(t, "dry_run", c.Outcome.String())
	assert.NoError(t, c.Err, "a dry run is not a failure")
	assert.Equal(t, 3, c.DesiredCur)
	assert.Equal(t, 10, c.DesiredNew)
	assert.Equal(t, t0.Add(180*time.Second), c.Next, "waits out the grace period it would have")
	assert.Empty(t, mem.Updates())
	require.Equal(t, []notify.Kind{notify.DryRun}, rec.kinds())
	assert.Equal(t, "dry_run", rec.events[0].Kind.String())

	lines := logs.take(t)
	assert.Equal(t, []string{"DEBUG dry-run: desired count not changed", "INFO dry run: scale-out not made"}, msgs(lines),
		"in the order it happened, and never \"scaled out\"")
	assert.Equal(t, "dry_run", lines[1]["event"])
	assert.EqualValues(t, 10, lines[1]["desired_new"])
}

// TestStepDryRunLogsTheGracePeriodItWaits: in steps mode with a Cooldown,
// a dry run waits out the Cooldown (as the scale-out would have), and its
// log line says so, not GracePeriod.
func TestStepDryRunLogsTheGracePeriodItWaits(t *testing.T) {
	var logs logLines
	mem := memWith(3, "a")
	svc := newService("a", fixed(autoscaler.Reading{Value: 161}), nil)
	svc.Policy.ScaleoutMode = autoscaler.ModeSteps
	svc.Policy.Steps = &autoscaler.StepScaling{AdjustmentType: autoscaler.ChangeInCapacity,
		StepAdjustments: []autoscaler.StepAdjustment{{MetricIntervalLowerBound: new(0.0), ScalingAdjustment: 2}},
		Cooldown:        time.Minute}
	w, err := autoscaler.NewWatcher(svc, scaler.NewDryRun(mem, nil), logs.logger(slog.LevelInfo))
	require.NoError(t, err)

	c := w.Step(t.Context(), t0)
	require.Equal(t, autoscaler.DryRun, c.Outcome)
	assert.Equal(t, 5, c.DesiredNew)
	assert.Equal(t, t0.Add(time.Minute), c.Next, "waits out the Cooldown")
	lines := logs.take(t)
	require.Len(t, lines, 1)
	assert.Equal(t, "dry run: scale-out not made", lines[0]["msg"])
	assert.Equal(t, "1m0s", lines[0]["grace"], "the grace period it waits, the Cooldown")
}

func TestEngineStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		start := mock.Now()
		hot := &switchable{reading: autoscaler.Reading{Value: 500}}
		calm := &switchable{reading: autoscaler.Reading{Value: 7}}
		blind := &switchable{err: errors.New("connection refused")}
		capped := &switchable{reading: autoscaler.Reading{Value: 900}}
		mem := memWith(3, "hot", "calm", "blind")
		mem.Put(scaler.ServiceID{Cluster: "c", Name: "capped"}, scaler.State{Desired: 8, Running: 6, Pending: 2})
		cappedSvc := newService("capped", capped, nil)
		cappedSvc.Policy.MaxDesiredCount = 8
		eng, err := autoscaler.New([]autoscaler.Service{newService("hot", hot, nil), newService("calm", calm, nil),
			newService("blind", blind, nil), cappedSvc}, autoscaler.Options{Scaler: mem, Clock: mock})
		require.NoError(t, err)

		before := eng.Status()
		require.Len(t, before, 4)
		assert.Equal(t, autoscaler.StateWatching, before[0].State, "before the first check")
		assert.True(t, before[0].LastCheck.IsZero())
		assert.Equal(t, "double", before[0].Mode)

		stop := runEngine(t, eng)
		defer stop()
		advance(mock, 9*time.Second)

		st := map[string]autoscaler.ServiceStatus{}
		for _, s := range eng.Status() {
			st[s.Service.Name] = s
		}
		h := st["hot"]
		assert.Equal(t, autoscaler.StateGrace, h.State)
		assert.Equal(t, start, h.Since)
		assert.Equal(t, start.Add(180*time.Second), h.Until)
		assert.Equal(t, autoscaler.Reading{Value: 500}, h.Reading)
		assert.Equal(t, start, h.ReadingTime)
		assert.Equal(t, 10, h.Scale.Desired, "the count it set")
		assert.Equal(t, 3, h.Scale.Running)
		assert.Equal(t, start, h.ScaleTime)
		assert.Equal(t, autoscaler.ScaledOut, h.LastOutcome)
		assert.EqualValues(t, 150, h.Threshold)
		assert.Equal(t, 0, h.Cap)
		assert.Equal(t, autoscaler.CapNone, h.CapSource)

		c := st["calm"]
		assert.Equal(t, autoscaler.StateWatching, c.State)
		assert.Equal(t, start.Add(9*time.Second), c.LastCheck)
		assert.Equal(t, start.Add(12*time.Second), c.NextCheck)
		assert.Equal(t, start, c.Since, "watching since its first check")
		assert.True(t, c.ScaleTime.IsZero(), "never read from ECS: an idle check does not")

		b := st["blind"]
		assert.Equal(t, autoscaler.StateBlind, b.State)
		assert.Equal(t, start, b.Since)
		assert.Equal(t, 4, b.ReadFailures)
		assert.EqualError(t, b.Err, "connection refused")
		assert.True(t, b.ReadingTime.IsZero(), "no good reading yet")

		m := st["capped"]
		assert.Equal(t, autoscaler.StateHeldAtMax, m.State)
		assert.Equal(t, 8, m.Cap)
		assert.Equal(t, autoscaler.CapMaxDesiredCount, m.CapSource)
		assert.Equal(t, scaler.State{Desired: 8, Running: 6, Pending: 2}, m.Scale)

		// The blind service recovers: watching again, since that check.
		blind.err, blind.reading = nil, autoscaler.Reading{Value: 3}
		advance(mock, 3*time.Second)
		for _, s := range eng.Status() {
			if s.Service.Name == "blind" {
				assert.Equal(t, autoscaler.StateWatching, s.State)
				assert.Equal(t, start.Add(12*time.Second), s.Since)
				assert.Zero(t, s.ReadFailures)
				assert.NoError(t, s.Err)
				assert.Equal(t, start.Add(12*time.Second), s.ReadingTime)
			}
		}
	})
}

func TestEngineStatusScaleFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		start := mock.Now()
		fs := &flakyScaler{Memory: memWith(3, "a"), fail: true}
		eng, err := autoscaler.New([]autoscaler.Service{newService("a", fixed(autoscaler.Reading{Value: 999}), nil)},
			autoscaler.Options{Scaler: fs, Clock: mock})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		defer stop()
		advance(mock, 3*time.Second)
		s := eng.Status()[0]
		assert.Equal(t, autoscaler.StateScaleFailing, s.State)
		assert.Equal(t, start, s.Since)
		assert.Equal(t, 2, s.ScaleFailures)
		assert.Equal(t, s.NextCheck, s.Until, "the next try")
		assert.ErrorContains(t, s.Err, "AccessDeniedException")
	})
}

func TestEngineStatusAfterUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		eng, err := autoscaler.New([]autoscaler.Service{newService("a", fixed(autoscaler.Reading{Value: 1}), nil)},
			autoscaler.Options{Scaler: memWith(3, "a", "b"), Clock: mock})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		defer stop()
		changed := newService("a", fixed(autoscaler.Reading{Value: 1}), nil)
		changed.Policy.ScaleoutThreshold = 90
		require.NoError(t, eng.Update([]autoscaler.Service{changed, newService("b", fixed(autoscaler.Reading{Value: 2}), nil)}))
		synctest.Wait()
		st := eng.Status()
		require.Len(t, st, 2)
		assert.EqualValues(t, 150, st[0].Threshold, "a's new settings apply at its next check")
		assert.Equal(t, autoscaler.Reading{Value: 2}, st[1].Reading, "b, added, checked at once")
		advance(mock, 3*time.Second)
		assert.EqualValues(t, 90, eng.Status()[0].Threshold)
	})
}

func TestEngineStatusPausedAndNotedState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		paused := newService("a", fixed(autoscaler.Reading{Value: 999}), nil)
		paused.Paused = true
		mem := memWith(3, "a", "b")
		eng, err := autoscaler.New([]autoscaler.Service{paused, newService("b", fixed(autoscaler.Reading{Value: 1}), nil)},
			autoscaler.Options{Scaler: mem, Clock: mock})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		defer stop()

		st := eng.Status()
		assert.Equal(t, autoscaler.StatePaused, st[0].State)
		assert.Equal(t, autoscaler.Paused, st[0].LastOutcome)
		assert.Empty(t, mem.Updates(), "a paused service is read, never scaled")
		assert.Equal(t, autoscaler.StateWatching, st[1].State)
		assert.True(t, st[1].ScaleTime.IsZero())

		// A state read elsewhere (the application's batched reads) shows as
		// the counts last seen, and its pause at once.
		eng.NoteState(scaler.ServiceID{Cluster: "c", Name: "b"}, scaler.State{Desired: 4, Running: 3, Pending: 1, Paused: true}, mock.Now())
		st = eng.Status()
		assert.Equal(t, scaler.State{Desired: 4, Running: 3, Pending: 1, Paused: true}, st[1].Scale)
		assert.Equal(t, mock.Now(), st[1].ScaleTime)
		assert.Equal(t, autoscaler.StatePaused, st[1].State, "paused as soon as it is known")
		eng.NoteState(scaler.ServiceID{Cluster: "c", Name: "b"}, scaler.State{Desired: 4, Running: 4}, mock.Now())
		assert.Equal(t, autoscaler.StateWatching, eng.Status()[1].State, "resumed")

		// A slow read that began before the state the engine holds (one a
		// check read around a scale-out, say) never hides the newer counts.
		eng.NoteState(scaler.ServiceID{Cluster: "c", Name: "b"}, scaler.State{Desired: 2, Running: 2, Paused: true}, mock.Now().Add(-time.Second))
		st = eng.Status()
		assert.Equal(t, scaler.State{Desired: 4, Running: 4}, st[1].Scale, "the stale read is ignored")
		assert.Equal(t, autoscaler.StateWatching, st[1].State, "and so is its pause")
	})
}
