package app

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// stateReadTimeout bounds one read of every service's state.
const stateReadTimeout = 30 * time.Second

// stateReader reads the state of every watched service, in batches where
// the scaler allows (ECS: 10 services a DescribeServices call), at start-up
// and after each reload. It tells the engine what it found (a service
// paused on ECS shows as paused without waiting for a spike) and logs it,
// so a wrong name or a missing permission shows in the first lines of the
// log rather than at the first spike. Its reads are off the engine's path.
// Reads run one at a time.
type stateReader struct {
	sc  scaler.Scaler
	eng *autoscaler.Engine
	log *slog.Logger

	mu sync.Mutex // held for a whole read
	// unreadable holds the last error text of each service that could not be
	// read, so a failure is logged when it starts or changes, not each time.
	unreadable map[scaler.ServiceID]string
}

// read reads services' states. A service in verbose (every service, when
// verbose is nil) has its state logged; the others are logged only when
// they become unreadable or readable again.
func (r *stateReader) read(ctx context.Context, services []configsrc.ServiceConfig, verbose map[scaler.ServiceID]bool) {
	if len(services) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unreadable == nil {
		r.unreadable = map[scaler.ServiceID]string{}
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, stateReadTimeout)
	defer cancel()
	start := time.Now()
	ids := make([]scaler.ServiceID, len(services))
	for i, s := range services {
		ids[i] = s.ID()
	}
	states, errs := scaler.ReadStates(ctx, r.sc, ids, 0)
	if parent.Err() != nil {
		return // stopping: what was not read does not matter
	}
	unreadable, paused, logged := 0, 0, 0
	for i, s := range services {
		id, st, err := ids[i], states[i], errs[i]
		loud := verbose == nil || verbose[id]
		if err != nil {
			unreadable++
			if msg := err.Error(); loud || r.unreadable[id] != msg {
				r.unreadable[id] = msg
				logged++
				r.log.Warn("service not readable: scale-outs will fail until this is fixed",
					"service", s.EcsServiceName, "cluster", s.EcsClusterName, "error", msg)
			}
			continue
		}
		r.eng.NoteState(id, st, start)
		if st.Paused {
			paused++
		}
		_, was := r.unreadable[id]
		delete(r.unreadable, id)
		if !loud && !was {
			continue
		}
		attrs := []any{"service", s.EcsServiceName, "cluster", s.EcsClusterName,
			"desired_cur", st.Desired, "running", st.Running, "pending", st.Pending, "status", st.Status, "paused", st.Paused || s.Paused}
		if rec := st.LastScaleOut; !rec.IsZero() {
			attrs = append(attrs, "recorded_at", rec.Time, "recorded_desired", rec.Desired, "recorded_by", rec.By)
		}
		if t := st.Target; t.Registered {
			attrs = append(attrs, "min_capacity", t.Min, "max_capacity", t.Max, "scale_out_suspended", t.ScaleOutSuspended)
		}
		logged++
		r.log.Info("service state", attrs...)
		if s.Policy.MaxDesiredCount == 0 && st.Target.Known && !st.Target.Registered {
			r.log.Warn("no cap on scale-outs: no MaxDesiredCount and no scalable target; set MaxDesiredCount",
				"service", s.EcsServiceName, "cluster", s.EcsClusterName)
		}
	}
	for id := range r.unreadable { // forget services no longer watched
		if !slices.Contains(ids, id) {
			delete(r.unreadable, id)
		}
	}
	level := slog.LevelInfo // at start-up, and when something was worth a line
	if verbose != nil && logged == 0 {
		level = slog.LevelDebug // a periodic read that found nothing new
	}
	r.log.Log(ctx, level, "service states read", "services", len(services), "unreadable", unreadable,
		"paused_on_service", paused, "took", time.Since(start).Round(time.Millisecond).String())
}
