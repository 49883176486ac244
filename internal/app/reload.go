package app

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// reloader reads the config again on a timer and on demand, and applies it
// to the running engine.
type reloader struct {
	src     configsrc.MultiSource
	eng     *autoscaler.Engine
	wr      *wirer
	metrics *metrics.Metrics
	log     *slog.Logger
	states  *stateReader
}

// loop reloads every interval (never when 0) and each time reload receives, until ctx
// is done.
func (r *reloader) loop(ctx context.Context, interval time.Duration, reload <-chan string) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			r.reload(ctx, "interval")
		case why := <-reload:
			r.reload(ctx, why)
		}
	}
}

// reload applies a valid new config service by service; an invalid one is
// logged and notified with every problem, and the last good one keeps
// running. Then it reads the state of every service in force again (in
// batches), so a paused mark set on a service shows without a spike.
func (r *reloader) reload(ctx context.Context, reason string) {
	fresh := r.apply(ctx, reason)
	if ctx.Err() != nil {
		return
	}
	services := make([]configsrc.ServiceConfig, 0, len(r.wr.current))
	for _, ws := range r.wr.current {
		services = append(services, ws.cfg)
	}
	slices.SortFunc(services, func(a, b configsrc.ServiceConfig) int { return strings.Compare(a.Name(), b.Name()) })
	r.states.read(ctx, services, fresh)
}

// apply loads the config and applies it; it returns the services added or
// changed.
func (r *reloader) apply(ctx context.Context, reason string) map[scaler.ServiceID]bool {
	source := configsrc.DescribeAll(r.src)
	cfg, err := load(ctx, r.src)
	var p *plan
	if err == nil {
		p, err = r.wr.wire(cfg)
	}
	if err == nil {
		if err = r.eng.Update(p.services); err != nil {
			r.wr.discard(ctx, p)
		}
	}
	if err != nil && ctx.Err() != nil {
		return nil // stopping: a reload cut short is no failure
	}
	if err != nil {
		if _, invalid := errors.AsType[*configsrc.ValidationError](err); !invalid && cfg == nil {
			r.metrics.ConfigReload("error")
			r.log.Error("config reload failed; the last good config keeps running", "source", source, "reason", reason, "error", err.Error())
			return nil
		}
		r.metrics.ConfigReload("invalid")
		r.log.Error("config reload rejected; the last good config keeps running", "source", source, "reason", reason, "error", err.Error())
		r.wr.notifyAll(ctx, notify.Event{Kind: notify.ConfigRejected, Time: time.Now(), Err: err})
		return nil
	}
	before := r.wr.current
	added, changed, removed := r.wr.apply(ctx, p)
	r.metrics.ConfigReload("ok")
	if added+changed+removed == 0 {
		r.log.Debug("config unchanged", "source", source, "reason", reason)
		return nil
	}
	r.log.Info("config reloaded", "source", source, "reason", reason, "services", len(cfg.Services),
		"added", added, "changed", changed, "removed", removed)
	fresh := map[scaler.ServiceID]bool{}
	for _, s := range cfg.Services {
		if old, ok := before[s.ID()]; !ok || !old.cfg.Equal(s) {
			r.log.Info("watching", "service", s.EcsServiceName, "cluster", s.EcsClusterName, "settings", s)
			warn(r.log, s)
			fresh[s.ID()] = true
		}
	}
	return fresh
}
