package autoscaler

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// feed fills a history with one sample every 3 s from 0 to end (seconds):
// the total load and the tasks running and serving at each, as functions of
// time; the reading is the load over the serving tasks.
func feed(end float64, load func(s float64) float64, runningAt, servingAt func(s float64) int) *history {
	h := &history{}
	for s := 0.0; s <= end; s += 3 {
		h.add(sample{at: at(s), reading: load(s) / float64(servingAt(s)), running: runningAt(s)})
	}
	return h
}

func steps3(before, after int, from float64) func(float64) int {
	return func(s float64) int {
		if s >= from {
			return after
		}
		return before
	}
}

func flat(v float64) func(float64) float64 { return func(float64) float64 { return v } }

func TestFitDelay(t *testing.T) {
	// 5 tasks serve 1000; 5 more run at 60 s and serve at 81 s.
	h := feed(150, flat(1000), steps3(5, 10, 60), steps3(5, 10, 81))
	d, ok := h.fitDelay(3 * time.Second)
	require.True(t, ok)
	assert.Equal(t, 21*time.Second, d, "the delay that explains the fall")
	var serving [historyLen]int
	h.servings(d, &serving)
	assert.Equal(t, 10, serving[h.len()-1])
	assert.InDelta(t, 1000, h.at(h.len()-1).load(serving[h.len()-1]), 1e-9)

	// Before they serve, nothing explains counting them: the longest delay
	// fits, and they are not counted.
	early := feed(75, flat(1000), steps3(5, 10, 60), steps3(5, 10, 81))
	d, ok = early.fitDelay(3 * time.Second)
	require.True(t, ok)
	early.servings(d, &serving)
	assert.Equal(t, 5, serving[early.len()-1], "RUNNING but not serving: not counted")

	// A rising load through the transition: still found.
	rising := feed(150, func(s float64) float64 { return 1000 + 5*s }, steps3(5, 10, 60), steps3(5, 10, 81))
	d, _ = rising.fitDelay(3 * time.Second)
	assert.Equal(t, 21*time.Second, d)

	// Nothing rose: nothing to fit.
	_, ok = feed(150, flat(1000), steps3(5, 5, 0), steps3(5, 5, 0)).fitDelay(3 * time.Second)
	assert.False(t, ok)

	// Tasks that stop stop serving at once, whatever the delay.
	stopped := feed(150, flat(1000), steps3(10, 6, 90), steps3(10, 6, 90))
	stopped.servings(time.Minute, &serving)
	assert.Equal(t, 6, serving[stopped.len()-1])
}

func TestTrend(t *testing.T) {
	five := steps3(5, 5, 0)
	serving := func(h *history) *[historyLen]int {
		var s [historyLen]int
		h.servings(0, &s)
		return &s
	}
	ramp := feed(300, func(s float64) float64 { return 500 + 3*s }, five, five)
	assert.InDelta(t, 3, ramp.trend(at(300), serving(ramp)), 0.1, "a steady rise: about its rate (windows of whole samples)")

	jump := feed(300, func(s float64) float64 { return 500 + 3500*math.Min(math.Max((s-240)/30, 0), 1) }, five, five)
	assert.Zero(t, jump.trend(at(300), serving(jump)), "a 30-second jump is not a trend")

	flap := feed(300, func(s float64) float64 {
		if int(s/30)%2 == 0 {
			return 400
		}
		return 600
	}, five, five)
	assert.Zero(t, flap.trend(at(300), serving(flap)))

	short := feed(60, func(s float64) float64 { return 500 + 3*s }, five, five)
	assert.Zero(t, short.trend(at(60), serving(short)), "too little history")
}

func TestHistoryRing(t *testing.T) {
	h := &history{}
	for i := range historyLen + 10 {
		h.add(sample{at: at(float64(i)), reading: float64(i)})
	}
	assert.Equal(t, historyLen, h.len())
	assert.Equal(t, 10.0, h.at(0).reading, "the oldest were dropped")
	h.add(sample{at: at(float64(historyLen+9) + 0.5), reading: -1})
	assert.Equal(t, historyLen, h.len(), "within a second of the latest: replaces it")
	assert.Equal(t, -1.0, h.at(historyLen-1).reading)

	r := &history{}
	r.add(sample{at: at(0), running: -1})
	r.add(sample{at: at(3), running: -1})
	r.setRunning(4)
	assert.Equal(t, [2]int{4, 4}, [2]int{r.at(0).running, r.at(1).running}, "the first read fills in the samples before it")
	r.add(sample{at: at(6), running: 4})
	r.add(sample{at: at(9), running: 4})
	r.setRunning(7)
	assert.Equal(t, [4]int{4, 4, 4, 7}, [4]int{r.at(0).running, r.at(1).running, r.at(2).running, r.at(3).running},
		"a later read counts from itself on")
	assert.Equal(t, 4, r.runningAt(at(8)))
	assert.Equal(t, 7, r.runningAt(at(100)))
	assert.Equal(t, 4, r.runningAt(at(-5)), "before them all: the oldest")
}

func capacity90() Policy {
	p := seed100()
	p.ScaleoutMode = ModeCapacity
	return p
}

func TestDecideCapacity(t *testing.T) {
	t.Run("asks what the load needs at TargetPerTask", func(t *testing.T) {
		var m memory
		d, _ := check(capacity90(), &m, d0, Reading{Value: 150}, running(5, 5))
		assert.Equal(t, ScaledOut, d.outcome)
		assert.Equal(t, 9, d.to, "ceil(150 × 5 / 90)")
		assert.Equal(t, 750.0, d.load)
		assert.Equal(t, 5, d.serving)
	})
	t.Run("a reading that covers known tasks is exact", func(t *testing.T) {
		var m memory
		d, _ := check(capacity90(), &m, d0, Reading{Value: 150, Tasks: 3, Total: 450, Unanswered: 1}, running(10, 10))
		assert.Equal(t, 600.0, d.load)
		assert.Equal(t, 11, d.to, "needs 7, at least current + 1")
	})
	t.Run("the floor", func(t *testing.T) {
		var m memory
		d, _ := check(capacity90(), &m, d0, Reading{Value: 101}, running(2, 2))
		assert.Equal(t, 5, d.to)
	})
	t.Run("a 503 cannot be measured: it doubles", func(t *testing.T) {
		var m memory
		d, _ := check(capacity90(), &m, d0, Reading{Overload: true}, running(6, 6))
		assert.Equal(t, 12, d.to)
	})
	t.Run("the target's cap", func(t *testing.T) {
		var m memory
		d, _ := check(capacity90(), &m, d0, Reading{Value: 900}, withTarget(running(5, 5), servingTarget(8)))
		assert.Equal(t, ScaledOut, d.outcome)
		assert.Equal(t, 8, d.to)
	})
}

// TestDecideCapacityEscalates follows a spike: the load keeps rising while
// the first tasks start, and the grace period is checked.
func TestDecideCapacityEscalates(t *testing.T) {
	p := capacity90()
	var m memory
	step := func(s float64, r Reading, desired, run int) decision {
		t.Helper()
		d, read := check(p, &m, at(s), r, running(desired, run))
		require.True(t, read, "the grace period is checked, with the state, at %vs", s)
		if d.outcome == ScaledOut {
			p.record(at(s), d, &m, true)
			assert.Equal(t, at(s+3), p.afterScaleOut(at(s), &m))
		}
		return d
	}
	for s := -30.0; s < 0; s += 3 { // quiet before
		p.observe(Reading{Value: 60}, &m)
		p.remember(at(s), Reading{Value: 60}, &m)
	}
	d := step(0, Reading{Value: 150}, 5, 5)
	require.Equal(t, 9, d.to)
	d = step(3, Reading{Value: 300}, 9, 5)
	assert.Equal(t, ScaledOut, d.outcome, "the load rose while the tasks start")
	assert.True(t, d.escalation)
	assert.Equal(t, 17, d.to, "ceil(300 × 5 / 90): the 5 serving tasks, not the 9 asked for")
	d = step(6, Reading{Value: 300}, 17, 5)
	assert.Equal(t, Idle, d.outcome, "no more than the load needs: never re-doubling an ask still starting")
	// The first 4 new tasks run at 60 s but do not serve yet: the reading
	// stays, and they are not counted.
	d = step(60, Reading{Value: 300}, 17, 9)
	assert.Equal(t, Idle, d.outcome)
	assert.Equal(t, 5, d.serving)
	d = step(63, Reading{Value: 300}, 17, 17)
	assert.Equal(t, Idle, d.outcome, "all running, none serving: still not counted")
	assert.Equal(t, 5, d.serving)
	// They serve at 80 s: the reading falls, and the load is the same.
	d = step(81, Reading{Value: 1500.0 / 17}, 17, 17)
	assert.Equal(t, Idle, d.outcome)
	assert.True(t, m.graceUntil.Equal(at(81)), "every task asked for runs and the load is under the threshold: the grace period ends")

	// Overloaded during a grace period: no measure, no raise.
	var n memory
	d, _ = check(p, &n, d0, Reading{Value: 150}, running(5, 5))
	p.record(d0, d, &n, true)
	d, _ = check(p, &n, at(3), Reading{Overload: true}, running(9, 5))
	assert.Equal(t, Idle, d.outcome)
}

func servingTarget(max int) scaler.ScalableTarget {
	return scaler.ScalableTarget{Registered: true, Min: 1, Max: max}
}

// TestDecideCapacityTasksNotStarting: tasks that never start are never
// counted, so the load on the serving ones alone decides; no +1 raise while
// they have not started.
func TestDecideCapacityTasksNotStarting(t *testing.T) {
	p := capacity90()
	var m memory
	d, _ := check(p, &m, d0, Reading{Value: 150}, running(5, 5))
	p.record(d0, d, &m, true) // 9
	now := m.graceUntil
	d, _ = check(p, &m, now, Reading{Value: 150}, running(9, 5))
	assert.Equal(t, HeldStarting, d.outcome, "the same load: no more")
	d, _ = check(p, &m, d.next, Reading{Value: 300}, running(9, 5))
	assert.Equal(t, ScaledOut, d.outcome, "twice the load on the serving tasks: it needs more")
	assert.Equal(t, 17, d.to)
}

func TestDecideCapacityTasksOnTheirWay(t *testing.T) {
	// Target tracking scaled in to 6, fast-autoscaler asked for 7; the 7th
	// runs but does not serve. A reading just over the threshold asks for
	// nothing more: the task on its way covers it.
	p := capacity90()
	p.TargetPerTask = 100
	m := memory{last: ask{at: at(-63), from: 6, to: 7, since: at(-63), started: true}}
	for s := -60.0; s < 0; s += 3 {
		run := 6
		if s >= -3 {
			run = 7
		}
		p.observe(Reading{Value: 90}, &m)
		p.remember(at(s), Reading{Value: 90}, &m)
		m.hist.setRunning(run)
	}
	d, _ := check(p, &m, d0, Reading{Value: 102}, running(7, 7))
	assert.Equal(t, Idle, d.outcome)
	assert.Equal(t, 6, d.serving)
	assert.Contains(t, d.reason, "cover")
}

// BenchmarkEstimate is ModeCapacity's estimate with a full history in which
// tasks came up: the fit of the register delay it makes at each check of a
// grace period.
func BenchmarkEstimate(b *testing.B) {
	p := capacity90()
	var m memory
	for s := 0.0; s < float64(historyLen)*3; s += 3 {
		run := 5
		if s > 300 {
			run = 10
		}
		r := Reading{Value: 100}
		p.remember(at(s), r, &m)
		m.hist.setRunning(run)
	}
	now := at(float64(historyLen) * 3)
	b.ReportAllocs()
	for b.Loop() {
		var d decision
		p.estimate(now, &d, &m)
	}
}

// BenchmarkIdleCheck is what a check that calls for nothing costs the
// decision in ModeCapacity: it records the reading and reads no state.
func BenchmarkIdleCheck(b *testing.B) {
	p := capacity90()
	var m memory
	now := d0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(3 * time.Second)
		p.observe(Reading{Value: 50}, &m)
		p.remember(now, Reading{Value: 50}, &m)
		if p.needsState(now, Reading{Value: 50}, &m) {
			b.Fatal("an idle check reads the state")
		}
	}
}
