package simulate

import (
	"fmt"
	"math"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

// Managed target tracking, as modelled here (see the README for why these
// numbers): one datapoint each Options.TTResolution, the per-task load
// averaged over it; a scale-out after this many datapoints in a row above
// the target, a scale-in after this long below it.
const (
	scaleOutPoints = 3
	scaleInAfter   = 15 * time.Minute
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

// perTaskReading returns what reading every running task's status page
// reports: a serving task its share of conns (or a 503 when capacity is set
// and the share exceeds it), a running task the load balancer does not send
// traffic to yet none; their sum, their average or maximum as agg says, and
// the tasks asked for that do not run yet, as starting. With no task
// running there is nothing to read: an error, as TaskSource gives.
func perTaskReading(conns float64, ready, running, desired int, capacity float64, agg stubstatus.Aggregate) (autoscaler.Reading, error) {
	starting := max(desired-running, 0)
	if running < 1 {
		return autoscaler.Reading{}, fmt.Errorf("no task running to read (%d starting)", starting)
	}
	r := autoscaler.Reading{Tasks: running, Starting: starting}
	if ready < 1 {
		return r, nil // nothing serves: every running task reports no load
	}
	share := conns / float64(ready)
	if capacity > 0 && share > capacity {
		r.Overload = true // the serving tasks answer 503: no figure
		return r, nil
	}
	r.Total = conns
	r.Value = conns / float64(running)
	if agg == stubstatus.AggregateMax {
		r.Value = share
	}
	return r, nil
}

// targetTracking is the model of Application Auto Scaling target tracking on
// the per-task load. The zero value plus target and bounds is ready to use.
type targetTracking struct {
	target        float64 // per-task load it aims for
	min, max      int     // capacity bounds; max 0: none
	scaleInPoints int     // datapoints below target before a scale-in
	above         int     // datapoints in a row above target
	below         int     // datapoints in a row below target
}

// observe takes one datapoint's average load per running task (the
// service's average, as ECS's CPU metric averages over its running tasks)
// and the running and desired counts, and returns the desired count target
// tracking sets, or desired unchanged. peak is the datapoint's highest
// total load: the count asked for never exceeds what it needs at the
// target, which an average taken over fewer tasks than now run would
// otherwise multiply. When the datapoints call for an action the count
// restarts, whether or not the desired count changes, as a fired alarm's
// cooldown would.
func (tt *targetTracking) observe(avg, peak float64, running, desired int) int {
	switch {
	case avg > tt.target:
		tt.above, tt.below = tt.above+1, 0
	case avg < tt.target:
		tt.above, tt.below = 0, tt.below+1
	default:
		tt.above, tt.below = 0, 0
	}
	want := int(min(math.Ceil(float64(running)*avg/tt.target), math.Ceil(peak/tt.target), math.MaxInt32))
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
	case tt.below >= tt.scaleInPoints:
		tt.below = 0
		if want < desired {
			return want
		}
	}
	return desired
}
