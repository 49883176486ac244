package autoscaler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// recorder is a Notifier that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []notify.Event
}

func (r *recorder) Notify(_ context.Context, ev notify.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) kinds() []notify.Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []notify.Kind
	for _, ev := range r.events {
		ks = append(ks, ev.Kind)
	}
	return ks
}

// fixed returns a source that always reads r.
func fixed(r autoscaler.Reading) autoscaler.MetricSource {
	return autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) { return r, nil })
}

func newService(name string, src autoscaler.MetricSource, n notify.Notifier) autoscaler.Service {
	return autoscaler.Service{Cluster: "c", Name: name, Source: src, Policy: autoscaler.DefaultPolicy(), Notifier: n}
}

// memWith returns a Memory scaler holding the named services at desired,
// all running; the tasks of a scale-out start at once.
func memWith(desired int, names ...string) *scaler.Memory {
	m := &scaler.Memory{StartAtOnce: true}
	for _, n := range names {
		m.Put(scaler.ServiceID{Cluster: "c", Name: n}, scaler.State{Desired: desired, Running: desired, Status: "ACTIVE"})
	}
	return m
}

func TestStepBelowThresholdDoesNothing(t *testing.T) {
	mem, rec := memWith(3, "a"), &recorder{}
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 150}), rec), mem, nil)
	require.NoError(t, err)

	c := w.Step(t.Context(), t0)
	assert.Equal(t, autoscaler.Idle, c.Outcome)
	assert.Equal(t, t0.Add(3*time.Second), c.Next)
	assert.Empty(t, mem.Updates())
	assert.Empty(t, rec.kinds())
}

func TestStepScalesOutLikeTheSeed(t *testing.T) {
	mem, rec := memWith(3, "a"), &recorder{}
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 161}), rec), mem, nil)
	require.NoError(t, err)

	c := w.Step(t.Context(), t0)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.Equal(t, 3, c.DesiredCur)
	assert.Equal(t, 10, c.DesiredNew)
	assert.Equal(t, t0.Add(180*time.Second), c.Next, "grace period")
	assert.Equal(t, []scaler.Update{{Service: scaler.ServiceID{Cluster: "c", Name: "a"}, From: 3, To: 10}}, mem.Updates())
	require.Len(t, rec.events, 1)
	ev := rec.events[0]
	assert.Equal(t, notify.Event{Kind: notify.ScaledOut, Time: t0, Cluster: "c", Service: "a", Value: 161, DesiredCur: 3, DesiredNew: 10, Running: 3}, ev)
}

func TestStepOverloadScalesOut(t *testing.T) {
	mem := memWith(8, "a")
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Overload: true}), nil), mem, nil)
	require.NoError(t, err)
	c := w.Step(t.Context(), t0)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.Equal(t, 16, c.DesiredNew)
}

func TestStepHeldAtMax(t *testing.T) {
	mem, rec := memWith(20, "a"), &recorder{}
	svc := newService("a", fixed(autoscaler.Reading{Value: 500}), rec)
	svc.Policy.MaxDesiredCount = 20
	w, err := autoscaler.NewWatcher(svc, mem, nil)
	require.NoError(t, err)

	c := w.Step(t.Context(), t0)
	assert.Equal(t, autoscaler.HeldAtMax, c.Outcome)
	assert.Equal(t, t0.Add(180*time.Second), c.Next, "held services wait out the grace period too")
	assert.Empty(t, mem.Updates(), "no update when already at max")
	assert.Equal(t, []notify.Kind{notify.HeldAtMax}, rec.kinds())
	assert.Equal(t, 20, rec.events[0].MaxDesired)
}

func TestStepCappedScaleOut(t *testing.T) {
	mem := memWith(8, "a")
	svc := newService("a", fixed(autoscaler.Reading{Value: 500}), nil)
	svc.Policy.MaxDesiredCount = 12
	w, err := autoscaler.NewWatcher(svc, mem, nil)
	require.NoError(t, err)
	c := w.Step(t.Context(), t0)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.Equal(t, 12, c.DesiredNew)
}

func TestStepReadFailureIsSkippedAndAlerted(t *testing.T) {
	mem, rec := memWith(3, "a"), &recorder{}
	readErr := errors.New("connection refused")
	var fail bool
	src := autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
		if fail {
			return autoscaler.Reading{}, readErr
		}
		return autoscaler.Reading{Value: 1}, nil
	})
	svc := newService("a", src, rec)
	svc.Policy.AlertAfterFailures = 3
	w, err := autoscaler.NewWatcher(svc, mem, nil)
	require.NoError(t, err)

	fail = true
	now := t0
	for i := 1; i <= 4; i++ {
		c := w.Step(t.Context(), now)
		assert.Equal(t, autoscaler.ReadFailed, c.Outcome)
		assert.ErrorIs(t, c.Err, readErr)
		assert.Equal(t, now.Add(3*time.Second), c.Next, "next check on schedule")
		now = c.Next
	}
	assert.Equal(t, []notify.Kind{notify.MetricFailing}, rec.kinds(), "alerted once, at the third failure")
	assert.Equal(t, 3, rec.events[0].Failures)

	fail = false
	assert.Equal(t, autoscaler.Idle, w.Step(t.Context(), now).Outcome)
	assert.Equal(t, []notify.Kind{notify.MetricFailing, notify.MetricRecovered}, rec.kinds())
	assert.Equal(t, 4, rec.events[1].Failures)
	assert.Empty(t, mem.Updates(), "a failed read never scales out")
}

func TestStepShortFailureRunIsNotAlerted(t *testing.T) {
	rec := &recorder{}
	var fail bool
	src := autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
		if fail {
			return autoscaler.Reading{}, errors.New("timeout")
		}
		return autoscaler.Reading{Value: 1}, nil
	})
	w, err := autoscaler.NewWatcher(newService("a", src, rec), memWith(3, "a"), nil)
	require.NoError(t, err)
	fail = true
	for range 4 { // default threshold is 5
		w.Step(t.Context(), t0)
	}
	fail = false
	w.Step(t.Context(), t0)
	assert.Empty(t, rec.kinds())
}

func TestStepScalerFailures(t *testing.T) {
	boom := errors.New("ThrottlingException")
	tests := []struct {
		name string
		sc   scaler.Scaler
	}{
		{"state fails", failingScaler{stateErr: boom}},
		{"update fails", failingScaler{setErr: boom}},
		{"service missing", scaler.NewMemory()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 999}), rec), tt.sc, nil)
			require.NoError(t, err)
			c := w.Step(t.Context(), t0)
			assert.Equal(t, autoscaler.ScaleFailed, c.Outcome)
			assert.Error(t, c.Err)
			assert.Equal(t, t0.Add(3*time.Second), c.Next, "retried at the next check, not after a grace period")
			assert.Equal(t, []notify.Kind{notify.ScaleFailed}, rec.kinds())
			assert.Equal(t, c.Err, rec.events[0].Err)
		})
	}
}

func TestStepNotifierFailureDoesNotUndoScaleOut(t *testing.T) {
	mem := memWith(3, "a")
	bad := notify.NotifierFunc(func(context.Context, notify.Event) error { return errors.New("slack down") })
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 999}), bad), mem, nil)
	require.NoError(t, err)
	c := w.Step(t.Context(), t0)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.Len(t, mem.Updates(), 1)
}

func TestNewWatcherRejectsInvalidService(t *testing.T) {
	_, err := autoscaler.NewWatcher(autoscaler.Service{Policy: autoscaler.Policy{}}, scaler.NewMemory(), nil)
	require.Error(t, err)
	for _, field := range []string{"Cluster", "Name", "Source", "ScaleoutThreshold", "CheckInterval"} {
		assert.Contains(t, err.Error(), field)
	}
	_, err = autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{}), nil), nil, nil)
	assert.ErrorContains(t, err, "nil scaler")
}

type failingScaler struct{ stateErr, setErr error }

func (f failingScaler) State(context.Context, scaler.ServiceID) (scaler.State, error) {
	return scaler.State{Desired: 2}, f.stateErr
}

func (f failingScaler) SetDesired(context.Context, scaler.ServiceID, int) error { return f.setErr }

func TestStepEventNamesTheCapOnlyWhenItApplied(t *testing.T) {
	for _, tt := range []struct {
		max, wantMax int
	}{{max: 16, wantMax: 0}, {max: 12, wantMax: 12}} {
		rec := &recorder{}
		svc := newService("a", fixed(autoscaler.Reading{Value: 500}), rec)
		svc.Policy.MaxDesiredCount = tt.max
		w, err := autoscaler.NewWatcher(svc, memWith(8, "a"), nil)
		require.NoError(t, err)
		w.Step(t.Context(), t0)
		require.Len(t, rec.events, 1)
		assert.Equal(t, tt.wantMax, rec.events[0].MaxDesired, "max %d", tt.max)
	}
}

func TestStepScaleFailuresBackOffAndAlertOnce(t *testing.T) {
	rec := &recorder{}
	fs := &flakyScaler{Memory: memWith(3, "a"), fail: true}
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 999}), rec), fs, nil)
	require.NoError(t, err)

	now := t0
	var gaps []time.Duration
	for range 8 {
		c := w.Step(t.Context(), now)
		require.Equal(t, autoscaler.ScaleFailed, c.Outcome)
		gaps = append(gaps, c.Next.Sub(now))
		now = c.Next
	}
	require.Equal(t, 3*time.Second, gaps[0], "the first retry is at the next check")
	for i, base := range secs(3, 6, 12, 24, 48, 96, 96, 96) {
		assert.LessOrEqual(t, gaps[i], base, "retry %d: doubling from CheckInterval, capped at 32x", i+1)
		assert.GreaterOrEqual(t, gaps[i], base*3/4, "retry %d: at most a quarter of jitter", i+1)
	}
	assert.NotEqual(t, secs(3, 6, 12, 24, 48, 96, 96, 96), gaps, "the backoff has jitter")
	assert.Equal(t, []notify.Kind{notify.ScaleFailed}, rec.kinds(), "one alert for the whole run")

	fs.fail = false
	c := w.Step(t.Context(), now)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
	fs.fail = true
	c = w.Step(t.Context(), c.Next)
	assert.Equal(t, 3*time.Second, c.Next.Sub(c.Time), "a new run of failures starts again from CheckInterval")
	assert.Equal(t, []notify.Kind{notify.ScaleFailed, notify.ScaledOut, notify.ScaleFailed}, rec.kinds())
}

func TestStepCalmCheckEndsARunOfScaleFailures(t *testing.T) {
	rec := &recorder{}
	load := autoscaler.Reading{Value: 999}
	src := autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) { return load, nil })
	w, err := autoscaler.NewWatcher(newService("a", src, rec), &flakyScaler{Memory: memWith(3, "a"), fail: true}, nil)
	require.NoError(t, err)
	for spike := range 3 { // separate spikes, each failing once, calm in between
		load.Value = 999
		c := w.Step(t.Context(), t0)
		assert.Equal(t, 3*time.Second, c.Next.Sub(c.Time), "spike %d retries at CheckInterval", spike)
		load.Value = 1
		w.Step(t.Context(), t0)
	}
	assert.Equal(t, []notify.Kind{notify.ScaleFailed, notify.ScaleFailed, notify.ScaleFailed}, rec.kinds(),
		"each spike's failure is told")
}

func TestRetryDelayJitter(t *testing.T) {
	p := autoscaler.DefaultPolicy()
	services := []scaler.ServiceID{{Cluster: "c", Name: "a"}, {Cluster: "c", Name: "b"}, {Cluster: "d", Name: "a"}}
	for n := 1; n <= 40; n++ {
		seen := map[time.Duration]bool{}
		for _, svc := range services {
			d := p.RetryDelay(svc, n)
			assert.Equal(t, d, p.RetryDelay(svc, n), "deterministic for %s at %d", svc, n)
			assert.Positive(t, d, "never a retry in the past")
			base := p.CheckInterval << min(n-1, 5)
			assert.LessOrEqual(t, d, base)
			assert.Equal(t, d, d.Truncate(time.Millisecond), "whole milliseconds")
			if n == 1 {
				assert.Equal(t, p.CheckInterval, d)
			} else {
				assert.GreaterOrEqual(t, d, base*3/4)
			}
			seen[d] = true
		}
		if n > 1 {
			assert.Len(t, seen, len(services), "services failing together retry apart (failure %d)", n)
		}
	}
	p.GracePeriod = 10 * time.Second
	assert.Equal(t, 10*time.Second, p.RetryDelay(services[0], 6), "never beyond GracePeriod")
	p.CheckInterval, p.GracePeriod = time.Nanosecond, time.Nanosecond
	assert.Positive(t, p.RetryDelay(services[0], 3), "a delay is always > 0")
}

func TestStepBackoffNeverExceedsGracePeriod(t *testing.T) {
	svc := newService("a", fixed(autoscaler.Reading{Value: 999}), nil)
	svc.Policy.GracePeriod = 10 * time.Second
	w, err := autoscaler.NewWatcher(svc, &flakyScaler{Memory: memWith(3, "a"), fail: true}, nil)
	require.NoError(t, err)
	var last time.Duration
	for range 6 {
		c := w.Step(t.Context(), t0)
		last = c.Next.Sub(t0)
	}
	assert.Equal(t, 10*time.Second, last)
}

// flakyScaler fails SetDesired while fail is set.
type flakyScaler struct {
	*scaler.Memory
	fail bool
}

func (f *flakyScaler) SetDesired(ctx context.Context, svc scaler.ServiceID, n int) error {
	if f.fail {
		return errors.New("AccessDeniedException")
	}
	return f.Memory.SetDesired(ctx, svc, n)
}

// lostAnswerScaler answers SetDesired with err, after applying the update
// when apply is set; State fails with stateErr after the first call.
type lostAnswerScaler struct {
	*scaler.Memory
	apply    bool
	err      error
	stateErr error
	reads    int
}

func (l *lostAnswerScaler) State(ctx context.Context, svc scaler.ServiceID) (scaler.State, error) {
	l.reads++
	if l.reads > 1 && l.stateErr != nil {
		return scaler.State{}, l.stateErr
	}
	return l.Memory.State(ctx, svc)
}

func (l *lostAnswerScaler) SetDesired(ctx context.Context, svc scaler.ServiceID, n int) error {
	if l.apply {
		_ = l.Memory.SetDesired(ctx, svc, n)
	}
	return l.err
}

func TestStepUnknownOutcome(t *testing.T) {
	lost := fmt.Errorf("%w: connection reset by peer", scaler.ErrOutcomeUnknown)
	tests := []struct {
		name      string
		sc        *lostAnswerScaler
		wantAfter int
		wantNext  time.Duration
	}{
		{"the update landed", &lostAnswerScaler{apply: true, err: lost}, 10, 180 * time.Second},
		{"no answer in time, not applied", &lostAnswerScaler{err: context.DeadlineExceeded}, 3, 3 * time.Second},
		{"cancelled by shutdown, not applied", &lostAnswerScaler{err: context.Canceled}, 3, 3 * time.Second},
		{"the service cannot be read after", &lostAnswerScaler{apply: true, err: lost, stateErr: errors.New("throttled")}, -1, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sc.Memory = memWith(3, "a")
			rec := &recorder{}
			w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 999}), rec), tt.sc, nil)
			require.NoError(t, err)
			c := w.Step(t.Context(), t0)
			assert.Equal(t, autoscaler.ScaleUnknown, c.Outcome)
			assert.Equal(t, "scale_unknown", c.Outcome.String())
			assert.Equal(t, 10, c.DesiredNew)
			assert.Equal(t, tt.wantAfter, c.DesiredAfter)
			assert.Equal(t, tt.wantNext, c.Next.Sub(t0))
			assert.Equal(t, 2, tt.sc.reads, "the service is read once more after the lost answer")
			require.Equal(t, []notify.Kind{notify.ScaleUnknown}, rec.kinds(), "reported as unknown, never as failed")
			assert.Equal(t, tt.wantAfter, rec.events[0].DesiredAfter)
			assert.ErrorIs(t, rec.events[0].Err, tt.sc.err)
		})
	}
}

func TestStepUnknownOutcomesThatDidNotLandAlertOnce(t *testing.T) {
	rec := &recorder{}
	sc := &lostAnswerScaler{Memory: memWith(3, "a"), err: context.DeadlineExceeded}
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 999}), rec), sc, nil)
	require.NoError(t, err)
	now := t0
	var gaps []time.Duration
	for range 3 {
		c := w.Step(t.Context(), now)
		gaps = append(gaps, c.Next.Sub(now))
		now = c.Next
	}
	p := autoscaler.DefaultPolicy()
	id := scaler.ServiceID{Cluster: "c", Name: "a"}
	assert.Equal(t, []time.Duration{p.RetryDelay(id, 1), p.RetryDelay(id, 2), p.RetryDelay(id, 3)}, gaps, "backs off as failures do")
	assert.Equal(t, []notify.Kind{notify.ScaleUnknown}, rec.kinds(), "one alert for the run")
	sc.apply, sc.err = true, nil
	c := w.Step(t.Context(), now)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
}

// TestStepCapacityEscalates: in ScaleoutMode capacity the grace period is
// checked, and a load that keeps rising while the first tasks start is
// answered with a second scale-out, flagged as an escalation.
func TestStepCapacityEscalates(t *testing.T) {
	mem := scaler.NewMemory() // tasks do not start: the readings stay the old tasks'
	mem.Put(scaler.ServiceID{Cluster: "c", Name: "a"}, scaler.State{Desired: 5, Running: 5, Status: "ACTIVE"})
	load := autoscaler.Reading{Value: 150}
	src := autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) { return load, nil })
	rec := &recorder{}
	svc := newService("a", src, rec)
	svc.Policy.ScaleoutThreshold, svc.Policy.ScaleoutMode = 100, autoscaler.ModeCapacity
	w, err := autoscaler.NewWatcher(svc, mem, nil)
	require.NoError(t, err)

	c := w.Step(t.Context(), t0)
	require.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.Equal(t, 9, c.DesiredNew, "ceil(150 × 5 / 90)")
	assert.Equal(t, t0.Add(3*time.Second), c.Next, "the grace period is checked")
	assert.True(t, c.Grace)

	load.Value = 300
	c = w.Step(t.Context(), c.Next)
	require.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.Equal(t, 17, c.DesiredNew)
	c = w.Step(t.Context(), c.Next)
	assert.Equal(t, autoscaler.Idle, c.Outcome, "the same load: nothing more")
	assert.True(t, c.Grace)

	require.Len(t, rec.events, 2)
	assert.False(t, rec.events[0].Escalation)
	assert.True(t, rec.events[1].Escalation)
	assert.Equal(t, []scaler.Update{{Service: scaler.ServiceID{Cluster: "c", Name: "a"}, From: 5, To: 9},
		{Service: scaler.ServiceID{Cluster: "c", Name: "a"}, From: 9, To: 17}}, mem.Updates())
}

// TestStepUnknownOutcomeSettledByTheRetry: an update whose outcome is
// unknown, and which the read right after cannot settle, is remembered:
// the retry reads the service first, finds the count asked for in force,
// and reports the scale-out done with no second update.
func TestStepUnknownOutcomeSettledByTheRetry(t *testing.T) {
	rec := &recorder{}
	sc := &lostAnswerScaler{Memory: memWith(3, "a"), apply: true,
		err: fmt.Errorf("%w: connection reset by peer", scaler.ErrOutcomeUnknown), stateErr: errors.New("throttled")}
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 999}), rec), sc, nil)
	require.NoError(t, err)
	c := w.Step(t.Context(), t0)
	require.Equal(t, autoscaler.ScaleUnknown, c.Outcome)
	assert.Equal(t, -1, c.DesiredAfter)
	assert.False(t, c.Landed)

	sc.stateErr = nil
	c = w.Step(t.Context(), c.Next)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.True(t, c.Landed, "found in force by the retry's read")
	assert.Equal(t, [2]int{3, 10}, [2]int{c.DesiredCur, c.DesiredNew})
	assert.Len(t, sc.Updates(), 1, "no second update")
	assert.Equal(t, []notify.Kind{notify.ScaleUnknown, notify.ScaledOut}, rec.kinds())
	assert.True(t, rec.events[1].Landed)
}
