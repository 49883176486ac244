package simulate

import (
	"fmt"
	"math"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

// Managed target tracking, as modelled here (see the README for why these
// numbers): one datapoint a minute, the per-task load averaged over it; a
// scale-out after this many datapoints in a row above the target, a scale-in
// after this many below.
const (
	datapoint      = time.Minute
	scaleOutPoints = 3
	scaleInPoints  = 15
)

// settle is how long the load must stay at or under the threshold, after
// crossing it, for the service to count as having enough ready capacity.
const settle = time.Minute

// perTask returns each ready task's share of conns connections: the load
// balancer spreads them evenly. With no task ready the whole load falls on
// the next one to start, so it is conns.
func perTask(conns float64, ready int) float64 {
	return conns / float64(max(ready, 1))
}

// reading returns what the status URL, reached through the load balancer,
// reports: one task's share of the connections, or a 503 (Overload) when
// capacity is set and that share exceeds it.
func reading(conns float64, ready int, capacity float64) autoscaler.Reading {
	load := perTask(conns, ready)
	if capacity > 0 && load > capacity {
		return autoscaler.Reading{Overload: true}
	}
	return autoscaler.Reading{Value: load}
}

// perTaskReading returns what reading every ready task's status page
// reports: each its share of conns, their sum, and the tasks still starting;
// when capacity is set and the share exceeds it, every task answers 503
// (Overload, no figure). With no task ready there is nothing to read: an
// error, as TaskSource gives.
func perTaskReading(conns float64, ready, starting int, capacity float64) (autoscaler.Reading, error) {
	if ready < 1 {
		return autoscaler.Reading{}, fmt.Errorf("no task running to read (%d starting)", starting)
	}
	r := autoscaler.Reading{Tasks: ready, Starting: starting}
	if share := conns / float64(ready); capacity > 0 && share > capacity {
		r.Overload = true
	} else {
		r.Value, r.Total = share, conns
	}
	return r, nil
}

// targetTracking is the model of Application Auto Scaling target tracking on
// the per-task load. The zero value plus target and bounds is ready to use.
type targetTracking struct {
	target   float64 // per-task load it aims for
	min, max int     // capacity bounds; max 0: none
	above    int     // datapoints in a row above target
	below    int     // datapoints in a row below target
}

// observe takes one minute's average per-task load and the ready and desired
// counts, and returns the desired count target tracking sets, or desired
// unchanged. When the datapoints call for an action the count restarts,
// whether or not the desired count changes, as a fired alarm's cooldown would.
func (tt *targetTracking) observe(avg float64, ready, desired int) int {
	switch {
	case avg > tt.target:
		tt.above, tt.below = tt.above+1, 0
	case avg < tt.target:
		tt.above, tt.below = 0, tt.below+1
	default:
		tt.above, tt.below = 0, 0
	}
	want := int(min(math.Ceil(float64(ready)*avg/tt.target), math.MaxInt32))
	want = max(want, tt.min)
	if tt.max > 0 {
		want = min(want, tt.max)
	}
	switch {
	case tt.above >= scaleOutPoints:
		tt.above = 0
		if want > desired {
			return want
		}
	case tt.below >= scaleInPoints:
		tt.below = 0
		if want < desired {
			return want
		}
	}
	return desired
}
