package simulate

import "time"

// tasks models a service's tasks: how many are ready (serving traffic) and
// which requested ones become ready when. desired is always ready plus the
// pending ones.
type tasks struct {
	desired int
	ready   int
	pending []batch // by ready time, oldest first
}

// batch is n tasks requested together, ready at at.
type batch struct {
	at time.Duration
	n  int
}

// resize sets the desired count to n at time now. New tasks become ready
// startup later. Removed tasks are the newest pending ones first, then ready
// ones, which stop at once (no connection draining is modelled).
func (t *tasks) resize(now, startup time.Duration, n int) {
	if n > t.desired {
		t.pending = append(t.pending, batch{at: now + startup, n: n - t.desired})
	}
	for cut := t.desired - n; cut > 0; {
		if len(t.pending) == 0 {
			t.ready -= cut
			break
		}
		last := &t.pending[len(t.pending)-1]
		k := min(cut, last.n)
		last.n -= k
		cut -= k
		if last.n == 0 {
			t.pending = t.pending[:len(t.pending)-1]
		}
	}
	t.desired = n
}

// advance makes every task due by now ready.
func (t *tasks) advance(now time.Duration) {
	for len(t.pending) > 0 && t.pending[0].at <= now {
		t.ready += t.pending[0].n
		t.pending = t.pending[1:]
	}
}

// next returns when the next pending task becomes ready, or never.
func (t *tasks) next(never time.Duration) time.Duration {
	if len(t.pending) == 0 {
		return never
	}
	return t.pending[0].at
}
