package metrics_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

// taskKey names svc's fast_autoscaler_tasks series of a state.
func taskKey(state string) string {
	return fmt.Sprintf("fast_autoscaler_tasks{cluster=%q,service=%q,state=%q}", web.Cluster, web.Name, state)
}

func TestObserveTasks(t *testing.T) {
	m, reg := newMetrics(t)
	m.Observe(web, autoscaler.Check{Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 12}}, time.Millisecond)
	for k := range snapshot(t, reg) {
		assert.False(t, strings.HasPrefix(k, "fast_autoscaler_tasks{"), "no task series for a reading through a balancer: %s", k)
	}

	steps := []struct {
		name  string
		check autoscaler.Check
		want  [3]float64 // answered, unanswered, starting
	}{
		{"per-task", autoscaler.Check{Outcome: autoscaler.Idle,
			Reading: autoscaler.Reading{Value: 30, Total: 90, Tasks: 3, Unanswered: 1, Starting: 2}}, [3]float64{3, 1, 2}},
		{"read failed: none answered", autoscaler.Check{Outcome: autoscaler.ReadFailed, Err: errors.New("none answered")}, [3]float64{0, 1, 2}},
		{"fallback through the balancer", autoscaler.Check{Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 40}}, [3]float64{0, 1, 2}},
		{"per-task again", autoscaler.Check{Outcome: autoscaler.ScaledOut, DesiredCur: 4, DesiredNew: 10,
			Reading: autoscaler.Reading{Value: 300, Total: 1200, Tasks: 4}}, [3]float64{4, 0, 0}},
	}
	for _, s := range steps {
		m.Observe(web, s.check, time.Millisecond)
		got := snapshot(t, reg)
		for i, state := range []string{"answered", "unanswered", "starting"} {
			assert.Equal(t, s.want[i], got[taskKey(state)], "%s: %s", s.name, state)
		}
	}
	per := autoscaler.Check{Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 3, Total: 9, Tasks: 3}}
	assert.Zero(t, testing.AllocsPerRun(100, func() { m.Observe(web, per, time.Millisecond) }), "per-task check")

	m.Forget(web)
	assert.NotContains(t, snapshot(t, reg), taskKey("answered"))
}
