package autoscaler

import (
	"math"
	"slices"
	"time"
)

// This file holds ModeCapacity's estimate of a service's total load, which
// must not count tasks that do not serve yet.
//
// Through a load balancer the reading is one serving task's load, so the
// total is the reading times the tasks serving. ECS reports the tasks
// RUNNING; a RUNNING task serves only once the load balancer has registered
// it and found it healthy, some register delay later. The watcher keeps a
// short history of its readings and of the running counts it read, and
// fits that delay: the delay under which the total load (reading × tasks
// RUNNING a delay earlier) changes least from check to check. New tasks
// that serve make the reading fall while the total stays, so the right
// delay explains the fall; until they serve, no fall has been seen and
// the longest delay fits best, which counts none of them. The same history
// gives the load's trend: when it has risen through each of the last
// trendWindows windows, the growth expected while new tasks start is added
// to the estimate.

// Sizes of the history and the fits.
const (
	historyLen     = 256              // samples kept
	historySpacing = time.Second      // at most one sample a second
	maxDelay       = 5 * time.Minute  // the longest register delay fitted
	trendWindow    = 20 * time.Second // the width of each trend window
	trendWindows   = 4                // rises in a row that make a trend
	// priorStartup and priorDelay stand for a service's start-up (request
	// to RUNNING) and register delay until they are measured: Fargate's
	// usual minute, and a target group health check of 2 × 10 s.
	priorStartup = time.Minute
	priorDelay   = 20 * time.Second
)

// sample is one check's reading and the running count known then.
type sample struct {
	at       time.Time
	reading  float64 // the per-task reading; meaningless when overload
	tasks    int     // Reading.Tasks: tasks read one by one; 0 for one sample through a load balancer
	total    float64 // Reading.Total, plus the mean for each task that did not answer
	overload bool
	running  int // tasks RUNNING, as last read by then; -1 before any read
}

// sampleOf makes the sample of reading r at now.
func sampleOf(now time.Time, r Reading, running int) sample {
	s := sample{at: now, reading: r.Value, tasks: r.Tasks, overload: r.Overload, running: running}
	if r.Tasks > 0 {
		s.total = r.Total + r.Total/float64(r.Tasks)*float64(max(r.Unanswered, 0))
	}
	return s
}

// load is the total load at the sample when serving tasks served: exact
// when every task was read, else the one task's reading times them.
func (s sample) load(serving int) float64 {
	if s.tasks > 0 {
		return s.total
	}
	return s.reading * float64(max(serving, 1))
}

// history is a ring of the latest samples, oldest first.
type history struct {
	s    [historyLen]sample
	n    int // samples held
	head int // where the next one goes
}

func (h *history) len() int { return h.n }

// at returns the i-th sample, 0 the oldest.
func (h *history) at(i int) *sample {
	return &h.s[(h.head-h.n+i+historyLen)%historyLen]
}

// add appends x; a sample within historySpacing of the latest replaces it.
func (h *history) add(x sample) {
	if h.n > 0 {
		if last := h.at(h.n - 1); x.at.Sub(last.at) < historySpacing {
			*last = x
			return
		}
	}
	h.s[h.head] = x
	h.head = (h.head + 1) % historyLen
	h.n = min(h.n+1, historyLen)
}

// setRunning records that running tasks were RUNNING at the latest sample,
// and at the samples before it that have no count yet (those of a watcher
// that never read one). Samples since the previous read keep that read's
// count: tasks found RUNNING now may have started since, and are not
// taken to serve before the readings show it.
func (h *history) setRunning(running int) {
	for i := h.n - 1; i >= 0; i-- {
		s := h.at(i)
		if i < h.n-1 && s.running >= 0 {
			break
		}
		s.running = running
	}
}

// runningAt returns the running count at time t: the latest sample's at or
// before t, or the oldest sample's when t is before them all.
func (h *history) runningAt(t time.Time) int {
	if h.n == 0 {
		return 0
	}
	lo, hi := 0, h.n // the first sample after t is in [lo, hi]
	for lo < hi {
		mid := (lo + hi) / 2
		if h.at(mid).at.After(t) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return h.at(max(lo-1, 0)).running
}

// servings sets out[i] to how many tasks served at sample i, given the
// register delay: those RUNNING throughout the delay before it (the least
// running count from the sample at or before at-delay to sample i).
func (h *history) servings(delay time.Duration, out *[historyLen]int) {
	var q [historyLen]int // indices of a window's samples with rising running counts
	head, tail, k := 0, 0, 0
	for i := 0; i < h.n; i++ {
		r := h.at(i).running
		for tail > head && h.at(q[tail-1]).running >= r {
			tail--
		}
		q[tail] = i
		tail++
		from := h.at(i).at.Add(-delay)
		for k+1 <= i && !h.at(k+1).at.After(from) {
			k++ // the latest sample at or before from
		}
		for q[head] < k {
			head++
		}
		out[i] = h.at(q[head]).running
	}
}

// grew reports whether the running count rose within the history.
func (h *history) grew() bool {
	for i := 1; i < h.n; i++ {
		if h.at(i).running > h.at(i-1).running {
			return true
		}
	}
	return false
}

// lastRise returns when the running count last rose within the history;
// zero when it did not.
func (h *history) lastRise() time.Time {
	for i := h.n - 1; i > 0; i-- {
		if h.at(i).running > h.at(i-1).running {
			return h.at(i).at
		}
	}
	return time.Time{}
}

// fitDelay returns the register delay, in steps of step up to maxDelay and
// the history's span, under which the total load varies least from sample
// to sample; of equally good ones, the longest. ok is false when the
// running count did not rise within the history, so nothing can be fitted.
func (h *history) fitDelay(step time.Duration) (delay time.Duration, ok bool) {
	if h.n < 2 || !h.grew() {
		return 0, false
	}
	step = max(step, historySpacing)
	span := min(h.at(h.n-1).at.Sub(h.at(0).at), maxDelay)
	best := math.Inf(1)
	var serving [historyLen]int
	for d := time.Duration(0); d <= span+step; d += step {
		h.servings(d, &serving)
		cost, prev := 0.0, 0.0
		for i := 0; i < h.n; i++ {
			s := h.at(i)
			if s.overload || s.tasks > 0 {
				continue
			}
			l := math.Log(max(s.load(serving[i]), 1e-9))
			if prev != 0 {
				cost += math.Abs(l - prev)
			}
			prev = l
		}
		if cost <= best*(1+1e-9) {
			best, delay = cost, d
		}
	}
	return delay, true
}

// trend returns how fast the total load has been rising, in load per
// second, given the tasks serving at each sample. It compares the load's
// mean over the last trendWindows+1 windows of trendWindow before now: 0
// unless it rose from each window to the next, else the least of those
// rises, so that a jump within one or two windows (a spike, not a trend)
// does not count.
func (h *history) trend(now time.Time, serving *[historyLen]int) float64 {
	var sum [trendWindows + 1]float64
	var cnt [trendWindows + 1]int
	start := now.Add(-trendWindow * (trendWindows + 1))
	for i := 0; i < h.n; i++ {
		s := h.at(i)
		if s.overload || !s.at.After(start) || s.at.After(now) {
			continue
		}
		w := min(int(s.at.Sub(start)/trendWindow), trendWindows)
		sum[w] += s.load(serving[i])
		cnt[w]++
	}
	var rises [trendWindows]float64
	for w := 1; w <= trendWindows; w++ {
		if cnt[w-1] == 0 || cnt[w] == 0 {
			return 0
		}
		rises[w-1] = sum[w]/float64(cnt[w]) - sum[w-1]/float64(cnt[w-1])
		if rises[w-1] <= 0 {
			return 0 // not rising throughout: a jump or noise, not a trend
		}
	}
	return slices.Min(rises[:]) / trendWindow.Seconds()
}
