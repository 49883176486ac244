package autoscaler_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// tracingScaler is a Memory that logs the order of its calls and can fail
// RecordScaleOut.
type tracingScaler struct {
	*scaler.Memory
	mu        sync.Mutex
	calls     []string
	recordErr error
}

func (s *tracingScaler) log(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *tracingScaler) State(ctx context.Context, svc scaler.ServiceID) (scaler.State, error) {
	s.log("State")
	return s.Memory.State(ctx, svc)
}

func (s *tracingScaler) SetDesired(ctx context.Context, svc scaler.ServiceID, n int) error {
	s.log(fmt.Sprint("SetDesired ", n))
	return s.Memory.SetDesired(ctx, svc, n)
}

func (s *tracingScaler) RecordScaleOut(ctx context.Context, svc scaler.ServiceID, rec scaler.ScaleOut) error {
	s.log(fmt.Sprint("RecordScaleOut ", rec.Desired))
	if s.recordErr != nil {
		return s.recordErr
	}
	return s.Memory.RecordScaleOut(ctx, svc, rec)
}

var svcA = scaler.ServiceID{Cluster: "c", Name: "a"}

func TestStepRecordsTheScaleOutBeforeMakingIt(t *testing.T) {
	sc := &tracingScaler{Memory: memWith(3, "a")}
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 500}), nil), sc, nil)
	require.NoError(t, err)
	c := w.Step(context.Background(), t0)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.Equal(t, []string{"State", "RecordScaleOut 10", "SetDesired 10"}, sc.calls)
	st, _ := sc.State(context.Background(), svcA)
	assert.Equal(t, scaler.ScaleOut{Time: t0, Desired: 10, By: autoscaler.DefaultIdentity()}, st.LastScaleOut)
}

func TestStepRecordFailureNeverStopsTheScaleOut(t *testing.T) {
	for _, tt := range []struct {
		name     string
		err      error
		warnings int
	}{
		{"denied: warned once", fmt.Errorf("ecs TagResource c/a: %w: grant ecs:TagResource", scaler.ErrAccessDenied), 1},
		{"other failure: warned each time", fmt.Errorf("throttled"), 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := &tracingScaler{Memory: memWith(3, "a"), recordErr: tt.err}
			var logs bytes.Buffer
			w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 500}), nil), sc,
				slog.New(slog.NewJSONHandler(&logs, nil)))
			require.NoError(t, err)
			now := t0
			for range 3 {
				c := w.Step(context.Background(), now)
				require.Equal(t, autoscaler.ScaledOut, c.Outcome)
				now = c.Next
			}
			assert.Equal(t, []int{10, 20, 40}, desiredHistory(sc.Updates()))
			assert.Equal(t, tt.warnings, strings.Count(logs.String(), `"msg":"scale-out not recorded on the service`))
		})
	}
}

func TestStepHeldByARecordedScaleOut(t *testing.T) {
	mem := memWith(10, "a")
	require.NoError(t, mem.RecordScaleOut(context.Background(), svcA, scaler.ScaleOut{Time: t0.Add(-time.Minute), Desired: 10, By: "other/7"}))
	n := &recorder{}
	var logs bytes.Buffer
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 500}), n), mem, slog.New(slog.NewJSONHandler(&logs, nil)))
	require.NoError(t, err)

	c := w.Step(context.Background(), t0)
	assert.Equal(t, autoscaler.InGrace, c.Outcome)
	assert.Equal(t, "other/7", c.Recorded.By)
	assert.Equal(t, 10, c.DesiredCur)
	assert.Equal(t, t0.Add(2*time.Minute), c.Next, "until the recorded grace period ends")
	assert.Empty(t, mem.Updates())
	assert.Empty(t, n.kinds(), "the process that scaled told Slack")
	assert.Contains(t, logs.String(), `"msg":"scale-out held: a recorded scale-out is in its grace period"`)
	assert.Contains(t, logs.String(), `"recorded_by":"other/7","recorded_by_self":false`)

	c = w.Step(context.Background(), c.Next)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome, "then scale-outs resume")
	assert.Equal(t, []int{20}, desiredHistory(mem.Updates()))
}

func TestStepRecordNotInEffectHoldsNothing(t *testing.T) {
	mem := memWith(3, "a") // the recorded update to 10 never landed
	require.NoError(t, mem.RecordScaleOut(context.Background(), svcA, scaler.ScaleOut{Time: t0.Add(-time.Second), Desired: 10, By: "other/7"}))
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 500}), nil), mem, nil)
	require.NoError(t, err)
	c := w.Step(context.Background(), t0)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.Equal(t, []int{10}, desiredHistory(mem.Updates()), "the same count the other process asked for")
}

func TestStepPausedByScaler(t *testing.T) {
	mem := scaler.NewMemory()
	mem.Put(svcA, scaler.State{Desired: 3, Paused: true})
	n := &recorder{}
	w, err := autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 500}), n), mem, nil)
	require.NoError(t, err)
	for i := range 3 {
		c := w.Step(context.Background(), t0.Add(time.Duration(i)*3*time.Second))
		assert.Equal(t, autoscaler.Paused, c.Outcome)
		assert.True(t, c.Paused)
		assert.Equal(t, c.Time.Add(3*time.Second), c.Next, "readings go on at the check interval")
	}
	assert.Empty(t, mem.Updates())
	assert.Empty(t, n.kinds())

	mem.Put(svcA, scaler.State{Desired: 3})
	c := w.Step(context.Background(), t0.Add(time.Minute))
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
	assert.False(t, c.Paused)
}

func TestEngineNoteStateShowsPausedWithoutASpike(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		var mu sync.Mutex
		var checks []autoscaler.Check
		paused := newService("p", fixed(autoscaler.Reading{Value: 1}), nil)
		paused.Paused = true
		eng, err := autoscaler.New([]autoscaler.Service{newService("a", fixed(autoscaler.Reading{Value: 1}), nil), paused},
			autoscaler.Options{Scaler: memWith(3, "a", "p"), Clock: mock, Identity: "me/1",
				Observer: autoscaler.ObserverFunc(func(svc scaler.ServiceID, c autoscaler.Check, _ time.Duration) {
					mu.Lock()
					defer mu.Unlock()
					if svc == svcA {
						checks = append(checks, c)
					}
				})})
		require.NoError(t, err)
		assert.Equal(t, []scaler.ServiceID{{Cluster: "c", Name: "p"}}, eng.Paused(), "by config")
		stop := runEngine(t, eng)
		defer stop()

		eng.NoteState(svcA, scaler.State{Desired: 3, Paused: true}, mock.Now()) // read by a periodic batch
		eng.NoteState(scaler.ServiceID{Cluster: "c", Name: "unknown"}, scaler.State{Paused: true}, mock.Now())
		assert.Equal(t, []scaler.ServiceID{svcA, {Cluster: "c", Name: "p"}}, eng.Paused())
		advance(mock, 3*time.Second)
		mu.Lock()
		assert.Equal(t, []bool{false, true}, []bool{checks[0].Paused, checks[1].Paused}, "a calm check shows it too")
		mu.Unlock()

		eng.NoteState(svcA, scaler.State{Desired: 3}, mock.Now())
		assert.Equal(t, []scaler.ServiceID{{Cluster: "c", Name: "p"}}, eng.Paused())
	})
}

// A paused service at its cap, or with scale-out suspended, is paused: it
// tells no one that it would have been held.
func TestStepPausedAtMaxOrSuspendedTellsNoOne(t *testing.T) {
	for name, st := range map[string]scaler.State{
		"at max":    {Desired: 20, Running: 20, Paused: true},
		"suspended": {Desired: 3, Running: 3, Paused: true, Target: scaler.ScalableTarget{Registered: true, Min: 1, Max: 50, ScaleOutSuspended: true}},
	} {
		t.Run(name, func(t *testing.T) {
			mem := scaler.NewMemory()
			mem.Put(svcA, st)
			n := &recorder{}
			svc := newService("a", fixed(autoscaler.Reading{Value: 500}), n)
			svc.Policy.MaxDesiredCount = 20
			w, err := autoscaler.NewWatcher(svc, mem, nil)
			require.NoError(t, err)
			c := w.Step(context.Background(), t0)
			assert.Equal(t, autoscaler.Paused, c.Outcome)
			assert.Empty(t, n.kinds(), "paused: no held event")
			assert.Empty(t, mem.Updates())
		})
	}
}
