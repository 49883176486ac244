package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/notify/slack"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

// wirer turns configs into engine services, across reloads: it keeps one
// HTTP transport per TLS mode (verification and server name), one Slack
// notifier per webhook URL, and the services of the config in force, so a
// reload reuses what did not change.
type wirer struct {
	log        *slog.Logger
	dryRun     bool                                         // no Slack: its messages would announce changes never made
	metrics    *metrics.Metrics                             // nil when metrics are off
	transports map[stubstatus.TLSMode]*stubstatus.Transport // by StatusTLSVerify and StatusTLSServerName
	slacks     map[string]*slack.Notifier                   // by webhook URL, in use now
	current    map[scaler.ServiceID]wiredSvc                // the config in force
	// tasks lists the tasks of services read task by task (TaskStatusUrl);
	// one for every service, so they share its ECS call budget.
	tasks stubstatus.TaskLister
	// retiring counts notifiers a reload dropped that are still flushing,
	// and status sources it dropped that are still letting go.
	retiring sync.WaitGroup
}

// wiredSvc is one service's settings and what was built from them.
type wiredSvc struct {
	cfg configsrc.ServiceConfig
	svc autoscaler.Service
}

// plan is a config wired but not yet in force: Apply it once the engine
// took its services, or Discard it.
type plan struct {
	services []autoscaler.Service
	wired    map[scaler.ServiceID]wiredSvc
	slacks   map[string]*slack.Notifier
	added    []*slack.Notifier // created for this plan
}

func newWirer(log *slog.Logger, m *metrics.Metrics, dryRun bool) *wirer {
	return &wirer{log: log, dryRun: dryRun, metrics: m, transports: map[stubstatus.TLSMode]*stubstatus.Transport{},
		slacks: map[string]*slack.Notifier{}}
}

// wire builds the engine services for cfg. A service whose settings are
// unchanged keeps the source and notifier it had; a Slack notifier is shared
// by every service with its webhook URL.
func (w *wirer) wire(cfg *configsrc.Config) (*plan, error) {
	p := &plan{wired: map[scaler.ServiceID]wiredSvc{}, slacks: map[string]*slack.Notifier{}}
	for i, s := range cfg.Services {
		id := scaler.ServiceID{Cluster: s.EcsClusterName, Name: s.EcsServiceName}
		if old, ok := w.current[id]; ok && old.cfg.Equal(s) {
			p.keep(id, old, w.slacks[s.SlackWebhookURL.Reveal()])
			continue
		}
		svc, err := w.service(s, p)
		if err != nil {
			w.discard(context.Background(), p)
			return nil, fmt.Errorf("Services[%d] (%s): %w", i, s.Name(), err)
		}
		p.keep(id, wiredSvc{cfg: s, svc: svc}, nil)
	}
	return p, nil
}

func (p *plan) keep(id scaler.ServiceID, ws wiredSvc, sl *slack.Notifier) {
	p.wired[id] = ws
	p.services = append(p.services, ws.svc)
	if sl != nil {
		p.slacks[ws.cfg.SlackWebhookURL.Reveal()] = sl
	}
}

// service builds one service's source and notifier.
func (w *wirer) service(s configsrc.ServiceConfig, p *plan) (autoscaler.Service, error) {
	mode := s.TLS()
	tr, ok := w.transports[mode]
	if !ok {
		tr = stubstatus.NewTransportTLS(mode)
		w.transports[mode] = tr
	}
	src, err := w.source(s, tr, mode)
	if err != nil {
		return autoscaler.Service{}, err
	}
	svc := autoscaler.Service{Cluster: s.EcsClusterName, Name: s.EcsServiceName, Source: src, Policy: s.Policy, Paused: s.Paused}
	url := s.SlackWebhookURL.Reveal()
	if url == "" || w.dryRun {
		return svc, nil
	}
	sl := p.slacks[url]
	if sl == nil {
		sl = w.slacks[url]
	}
	if sl == nil {
		if sl, err = slack.New(url, slack.Options{Logger: w.log}); err != nil {
			return autoscaler.Service{}, fmt.Errorf("SlackWebhookUrl: %w", err)
		}
		p.added = append(p.added, sl)
		if w.metrics != nil {
			w.metrics.TrackNotifier(sl)
		}
	}
	p.slacks[url] = sl
	svc.Notifier = sl
	return svc, nil
}

// source builds a service's metric source: its StatusUrl, or with
// TaskStatusUrl every task, with StatusUrl (when given) as the fallback.
func (w *wirer) source(s configsrc.ServiceConfig, tr *stubstatus.Transport, mode stubstatus.TLSMode) (autoscaler.MetricSource, error) {
	var lb *stubstatus.Source
	if s.StatusURL != "" {
		var err error
		lb, err = stubstatus.New(stubstatus.Options{
			URL:        s.StatusURL,
			AuthHeader: s.StatusAuthName,
			AuthValue:  s.StatusAuthValue.Reveal(),
			Metric:     s.StatusMetric,
			Timeout:    s.StatusTimeout,
			Transport:  tr,
			TLS:        mode,
		})
		if err != nil {
			return nil, err
		}
	}
	if s.TaskStatusURL == "" {
		return lb, nil
	}
	if w.tasks == nil {
		return nil, errors.New("TaskStatusUrl: no task lister to find the tasks with")
	}
	opts := stubstatus.TaskOptions{
		Service:    s.ID(),
		Lister:     w.tasks,
		URL:        s.TaskStatusURL,
		AuthHeader: s.StatusAuthName,
		AuthValue:  s.StatusAuthValue.Reveal(),
		Metric:     s.StatusMetric,
		Aggregate:  s.TaskAggregate,
		Timeout:    s.StatusTimeout,
		Transport:  tr,
		TLS:        mode,
		Refresh:    s.TaskRefreshInterval,
		Logger:     w.log.With("service", s.EcsServiceName, "cluster", s.EcsClusterName),
	}
	if lb != nil {
		opts.Fallback = lb
	}
	return stubstatus.NewTaskSource(opts)
}

// apply puts p in force: notifiers and series of services no longer
// configured are closed and forgotten. It returns how many services were
// added, changed and removed.
func (w *wirer) apply(ctx context.Context, p *plan) (added, changed, removed int) {
	for id, ws := range p.wired {
		old, ok := w.current[id]
		switch {
		case !ok:
			added++
		case !old.cfg.Equal(ws.cfg):
			changed++
		}
	}
	for id, old := range w.current {
		now, ok := p.wired[id]
		if !ok {
			removed++
			if w.metrics != nil {
				w.metrics.Forget(id)
			}
		}
		if c, closes := old.svc.Source.(io.Closer); closes && (!ok || now.svc.Source != old.svc.Source) {
			// A source no longer used lets go of what it keeps between
			// reads; in the background, as a read in flight finishes first.
			w.retiring.Go(func() { _ = c.Close() })
		}
	}
	for url, sl := range w.slacks {
		if p.slacks[url] == nil {
			// In the background and bounded: a throttled webhook must not
			// stall the reloads, and what it has queued still goes out.
			w.retiring.Go(func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushBudget)
				defer cancel()
				w.closeSlack(ctx, sl)
			})
		}
	}
	w.current, w.slacks = p.wired, p.slacks
	return added, changed, removed
}

// discard closes what p created.
func (w *wirer) discard(ctx context.Context, p *plan) {
	for _, sl := range p.added {
		w.closeSlack(ctx, sl)
	}
}

// notifyAll tells every Slack webhook in force about ev.
func (w *wirer) notifyAll(ctx context.Context, ev notify.Event) {
	for _, sl := range w.slacks {
		if err := sl.Notify(ctx, ev); err != nil {
			w.log.Warn("notify failed", "event", ev.Kind.String(), "error", err.Error())
		}
	}
}

// close flushes and stops every notifier within ctx's deadline, and waits
// for those retired by reloads.
func (w *wirer) close(ctx context.Context) {
	for _, sl := range w.slacks {
		w.closeSlack(ctx, sl)
	}
	w.slacks = nil
	w.retiring.Wait()
}

func (w *wirer) closeSlack(ctx context.Context, sl *slack.Notifier) {
	if err := sl.Close(ctx); err != nil {
		w.log.Warn("notifications not all delivered", "notifier", sl.String(), "error", err.Error())
	}
	if w.metrics != nil {
		w.metrics.UntrackNotifier(sl)
	}
}
