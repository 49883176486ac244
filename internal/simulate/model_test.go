package simulate

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

func TestReading(t *testing.T) {
	tests := []struct {
		name     string
		conns    float64
		ready    int
		capacity float64
		want     autoscaler.Reading
	}{
		{"spread evenly", 300, 4, 0, autoscaler.Reading{Value: 75}},
		{"no task ready: the next one takes it all", 30, 0, 0, autoscaler.Reading{Value: 30}},
		{"at capacity is still an answer", 400, 4, 100, autoscaler.Reading{Value: 100}},
		{"beyond capacity is a 503", 401, 4, 100, autoscaler.Reading{Overload: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, reading(tc.conns, tc.ready, tc.capacity))
		})
	}
}

func TestTargetTracking(t *testing.T) {
	tests := []struct {
		name           string
		tt             targetTracking
		avgs           []float64 // one a minute
		ready, desired int
		want           []int // desired count after each datapoint
	}{
		{
			name: "scale-out on the third datapoint above, from the ready count",
			tt:   targetTracking{target: 100, min: 2, scaleInPoints: 15},
			avgs: []float64{150, 150, 250}, ready: 4, desired: 4,
			want: []int{4, 4, 10},
		},
		{
			name: "a datapoint at the target breaks the run",
			tt:   targetTracking{target: 100, min: 2, scaleInPoints: 15},
			avgs: []float64{150, 150, 100, 150, 150}, ready: 4, desired: 4,
			want: []int{4, 4, 4, 4, 4},
		},
		{
			name: "no scale-out below the desired count already set",
			tt:   targetTracking{target: 100, min: 2, scaleInPoints: 15},
			avgs: []float64{150, 150, 150}, ready: 4, desired: 8,
			want: []int{8, 8, 8},
		},
		{
			name: "scale-out capped at max",
			tt:   targetTracking{target: 100, min: 2, max: 6, scaleInPoints: 15},
			avgs: []float64{500, 500, 500}, ready: 4, desired: 4,
			want: []int{4, 4, 6},
		},
		{
			name: "scale-in on the fifteenth datapoint below, not under min",
			tt:   targetTracking{target: 100, min: 3, scaleInPoints: 15},
			avgs: []float64{10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}, ready: 8, desired: 8,
			want: []int{8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 3},
		},
		{
			name: "scale-in pulls a desired count above max down to it",
			tt:   targetTracking{target: 100, min: 2, max: 10, scaleInPoints: 15, below: 14},
			avgs: []float64{99}, ready: 20, desired: 20,
			want: []int{10},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt, desired := tc.tt, tc.desired
			var got []int
			for _, avg := range tc.avgs {
				desired = tt.observe(avg, math.Inf(1), tc.ready, desired)
				got = append(got, desired)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestTasks(t *testing.T) {
	const startup = time.Minute
	var ts tasks
	ts.resize(0, startup, 0, 4)
	ts.advance(0)
	assert.Equal(t, tasks{desired: 4, pending: []batch{{run: startup, serve: startup, n: 4}}}, ts, "the initial tasks start up too")

	ts = tasks{desired: 4, running: 4, ready: 4}
	ts.resize(10*time.Second, startup, 0, 8)
	ts.resize(20*time.Second, startup, 0, 10)
	assert.Equal(t, 4, ts.ready)
	assert.Equal(t, 70*time.Second, ts.next(time.Hour))
	ts.advance(69 * time.Second)
	assert.Equal(t, 4, ts.ready, "not ready before startup has passed")
	ts.advance(70 * time.Second)
	assert.Equal(t, 8, ts.ready)
	assert.Equal(t, 8, ts.running)
	assert.Equal(t, 80*time.Second, ts.next(time.Hour))

	ts.resize(75*time.Second, startup, 0, 5) // drops the 2 pending, then 3 ready
	assert.Equal(t, tasks{desired: 5, running: 5, ready: 5, pending: []batch{}}, ts)
	assert.Equal(t, time.Hour, ts.next(time.Hour), "nothing pending")
}

// TestTasksRegisterDelay: a task is PENDING for startup, then RUNNING but
// not serving for the register delay, then serving.
func TestTasksRegisterDelay(t *testing.T) {
	const startup, delay = time.Minute, 20 * time.Second
	ts := tasks{desired: 5, running: 5, ready: 5}
	ts.resize(0, startup, delay, 10)
	ts.resize(30*time.Second, startup, delay, 12)
	assert.Equal(t, startup, ts.next(time.Hour), "the first batch runs first")

	ts.advance(startup)
	assert.Equal(t, [3]int{12, 10, 5}, [3]int{ts.desired, ts.running, ts.ready}, "running, not serving")
	assert.Equal(t, startup+delay, ts.next(time.Hour), "then it serves")

	ts.advance(startup + delay)
	assert.Equal(t, [3]int{12, 10, 10}, [3]int{ts.desired, ts.running, ts.ready})
	assert.Equal(t, 90*time.Second, ts.next(time.Hour), "the second batch runs")
	ts.advance(90 * time.Second)
	assert.Equal(t, [3]int{12, 12, 10}, [3]int{ts.desired, ts.running, ts.ready})

	ts.resize(95*time.Second, startup, delay, 9) // the 2 running but not serving go, then 1 serving
	assert.Equal(t, tasks{desired: 9, running: 9, ready: 9, pending: []batch{}}, ts)
}
