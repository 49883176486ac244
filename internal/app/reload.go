package app

import (
	"context"
	"errors"
	"log/slog"
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
	src     configsrc.Source
	eng     *autoscaler.Engine
	wr      *wirer
	metrics *metrics.Metrics
	log     *slog.Logger
	sc      scaler.Scaler
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
// running.
func (r *reloader) reload(ctx context.Context, reason string) {
	source := configsrc.Describe(r.src)
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
		return // stopping: a reload cut short is no failure
	}
	if err != nil {
		if _, invalid := errors.AsType[*configsrc.ValidationError](err); !invalid && cfg == nil {
			r.metrics.ConfigReload("error")
			r.log.Error("config reload failed; the last good config keeps running", "source", source, "reason", reason, "error", err.Error())
			return
		}
		r.metrics.ConfigReload("invalid")
		r.log.Error("config reload rejected; the last good config keeps running", "source", source, "reason", reason, "error", err.Error())
		r.wr.notifyAll(ctx, notify.Event{Kind: notify.ConfigRejected, Time: time.Now(), Err: err})
		return
	}
	before := r.wr.current
	added, changed, removed := r.wr.apply(ctx, p)
	r.metrics.ConfigReload("ok")
	if added+changed+removed == 0 {
		r.log.Debug("config unchanged", "source", source, "reason", reason)
		return
	}
	r.log.Info("config reloaded", "source", source, "reason", reason, "services", len(cfg.Services),
		"added", added, "changed", changed, "removed", removed)
	var fresh []configsrc.ServiceConfig
	for _, s := range cfg.Services {
		if old, ok := before[s.ID()]; !ok || old.cfg != s {
			r.log.Info("watching", "service", s.EcsServiceName, "cluster", s.EcsClusterName, "settings", s)
			fresh = append(fresh, s)
		}
	}
	preflight(ctx, r.log, r.sc, fresh)()
}
