package autoscaler_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

// listening is a source that records ScaledOut calls.
type listening struct {
	r      autoscaler.Reading
	scaled []time.Time
}

func (l *listening) Read(context.Context) (autoscaler.Reading, error) { return l.r, nil }
func (l *listening) ScaledOut(now time.Time)                          { l.scaled = append(l.scaled, now) }

func TestStepTellsTheSourceAboutScaleOuts(t *testing.T) {
	src := &listening{r: autoscaler.Reading{Value: 10}}
	svc := newService("a", src, nil)
	svc.Policy.MaxDesiredCount = 10
	mem := memWith(3, "a")
	w, err := autoscaler.NewWatcher(svc, mem, nil)
	require.NoError(t, err)

	w.Step(t.Context(), t0)
	assert.Empty(t, src.scaled, "no scale-out")
	src.r = autoscaler.Reading{Value: 500}
	w.Step(t.Context(), t0.Add(time.Minute))
	assert.Equal(t, []time.Time{t0.Add(time.Minute)}, src.scaled, "scaled out 3 -> 10")
	c := w.Step(t.Context(), t0.Add(time.Hour))
	assert.Equal(t, autoscaler.HeldAtMax, c.Outcome)
	assert.Len(t, src.scaled, 1, "held at max: no new task to see")
}

func TestStepLogsPerTaskReadings(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := autoscaler.Reading{Value: 30, Total: 90, Tasks: 3, Unanswered: 1, Starting: 2}
	w, err := autoscaler.NewWatcher(newService("a", fixed(r), nil), memWith(3, "a"), logger)
	require.NoError(t, err)
	w.Step(t.Context(), t0)
	assert.Contains(t, out.String(), `"msg":"check","cluster":"c","service":"a","active":30,"overload":false,"tasks":3,"total":90,"unanswered":1,"starting":2`)

	out.Reset()
	w, err = autoscaler.NewWatcher(newService("a", fixed(autoscaler.Reading{Value: 30}), nil), memWith(3, "a"), logger)
	require.NoError(t, err)
	w.Step(t.Context(), t0)
	assert.NotContains(t, out.String(), `"tasks"`, "a reading through a balancer logs as before")
}

func TestStepTellsTheSourceAboutAnUpdateThatLanded(t *testing.T) {
	for _, apply := range []bool{true, false} {
		src := &listening{r: autoscaler.Reading{Value: 500}}
		sc := &lostAnswerScaler{Memory: memWith(3, "a"), apply: apply, err: context.DeadlineExceeded}
		w, err := autoscaler.NewWatcher(newService("a", src, nil), sc, nil)
		require.NoError(t, err)
		c := w.Step(t.Context(), t0)
		require.Equal(t, autoscaler.ScaleUnknown, c.Outcome)
		require.Equal(t, apply, c.Landed)
		if apply {
			assert.Equal(t, []time.Time{t0}, src.scaled, "the update landed: new tasks to see")
		} else {
			assert.Empty(t, src.scaled, "not landed: nothing changed")
		}
	}
}
