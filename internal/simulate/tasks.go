package simulate

import "time"

// tasks models a service's tasks. A requested task is PENDING until it
// runs (startup after its request), then RUNNING but not yet serving until
// the load balancer sends it traffic (the register delay later), then
// serving (ready). desired is ready plus the tasks on their way; running
// counts the RUNNING tasks, serving or not, as ECS reports them.
type tasks struct {
	desired int
	running int
	ready   int
	pending []batch // requested tasks not yet serving, oldest first
}

// batch is n tasks requested together: RUNNING at run, serving at serve.
type batch struct {
	run, serve time.Duration
	n          int
	running    bool // counted in tasks.running
}

// resize sets the desired count to n at time now. New tasks run startup
// later and serve delay after that. Removed tasks are the newest requested
// ones first, then serving ones, which stop at once (no connection draining
// is modelled).
func (t *tasks) resize(now, startup, delay time.Duration, n int) {
	if n > t.desired {
		t.pending = append(t.pending, batch{run: now + startup, serve: now + startup + delay, n: n - t.desired})
	}
	for cut := t.desired - n; cut > 0; {
		if len(t.pending) == 0 {
			t.ready -= cut
			t.running -= cut
			break
		}
		last := &t.pending[len(t.pending)-1]
		k := min(cut, last.n)
		last.n -= k
		cut -= k
		if last.running {
			t.running -= k
		}
		if last.n == 0 {
			t.pending = t.pending[:len(t.pending)-1]
		}
	}
	t.desired = n
}

// advance runs every task due to run by now and makes every task due to
// serve by now ready.
func (t *tasks) advance(now time.Duration) {
	for i := range t.pending {
		if b := &t.pending[i]; !b.running && b.run <= now {
			b.running = true
			t.running += b.n
		}
	}
	for len(t.pending) > 0 && t.pending[0].running && t.pending[0].serve <= now {
		t.ready += t.pending[0].n
		t.pending = t.pending[1:]
	}
}

// next returns when the next requested task runs or serves, or never.
func (t *tasks) next(never time.Duration) time.Duration {
	at := never
	for _, b := range t.pending {
		if b.running {
			at = min(at, b.serve)
		} else {
			at = min(at, b.run)
		}
	}
	return at
}
