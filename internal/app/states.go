package app

import (
	"context"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler/ecs"
)

// stateReadTimeout bounds the read of one chunk of services.
const stateReadTimeout = 30 * time.Second

// A read of many services goes a chunk at a time, a chunk a second at most:
// 100 services, 10 DescribeServices calls with ECS's batches of 10, so a
// read never spends more than 10 calls a second of the account's ECS
// budget (shared with every other tool, and with this process's own
// scale-outs). Up to 100 services read at once; 10,000 take 100 s.
const (
	stateChunk = 100
	stateEvery = time.Second
)

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
	start := time.Now()
	ids := make([]scaler.ServiceID, len(services))
	for i, s := range services {
		ids[i] = s.ID()
	}
	states, errs := readPaced(ctx, r.sc, ids)
	if ctx.Err() != nil {
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
	// What the start-up or the reload left behind (the document and its
	// parse, the SDK's answers, the old services' sources) is garbage now.
	// Checks allocate next to nothing, so no collection would come for
	// minutes: collect it now and give the memory back to the system.
	debug.FreeOSMemory()
}

// readPaced reads the states of ids a chunk at a time, starting a chunk
// every stateEvery at most, each chunk bounded by stateReadTimeout. A chunk
// holds whole batches of one cluster's services (ECS reads up to
// ecs.BatchSize services of one cluster a call), so pacing adds no call to
// what one read of every service would make. It returns early when ctx is
// done.
func readPaced(ctx context.Context, sc scaler.Scaler, ids []scaler.ServiceID) ([]scaler.State, []error) {
	states, errs := make([]scaler.State, len(ids)), make([]error, len(ids))
	var pace *time.Ticker
	for _, chunk := range chunks(ids) {
		if pace == nil {
			pace = time.NewTicker(stateEvery)
			defer pace.Stop()
		} else {
			select {
			case <-ctx.Done():
				return states, errs
			case <-pace.C:
			}
		}
		sub := make([]scaler.ServiceID, len(chunk))
		for i, at := range chunk {
			sub[i] = ids[at]
		}
		chunkCtx, cancel := context.WithTimeout(ctx, stateReadTimeout)
		st, e := scaler.ReadStates(chunkCtx, sc, sub, 0)
		cancel()
		for i, at := range chunk {
			states[at], errs[at] = st[i], e[i]
		}
	}
	return states, errs
}

// chunks splits ids, by index, into chunks of at most stateChunk services,
// each made of whole batches: up to ecs.BatchSize services of one cluster.
func chunks(ids []scaler.ServiceID) [][]int {
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(ids[a].Cluster, ids[b].Cluster) })
	var out [][]int
	var cur []int
	for lo := 0; lo < len(order); {
		hi := lo + 1 // a batch: the same cluster, ecs.BatchSize at most
		for hi < len(order) && hi-lo < ecs.BatchSize && ids[order[hi]].Cluster == ids[order[lo]].Cluster {
			hi++
		}
		if len(cur)+hi-lo > stateChunk {
			out, cur = append(out, cur), nil
		}
		cur = append(cur, order[lo:hi]...)
		lo = hi
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
