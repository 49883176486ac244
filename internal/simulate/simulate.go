// Package simulate replays a traffic trace through fast-autoscaler in virtual
// time: the very watcher step and policy the engine runs (autoscaler.Watcher,
// scaler.Memory), against a model of an ECS service behind a load balancer,
// with a model of managed target tracking beside it; and, for comparison,
// the same trace through that target-tracking model alone.
//
// The service model: it starts with Options.Initial ready tasks; a task
// requested by a scale-out becomes ready Options.Startup later; connections
// spread evenly over ready tasks; the status URL, reached through the load
// balancer, reports one task's share, or answers 503 when that share exceeds
// Options.TaskCapacity. With Options.Reading PerTask, every running task
// reports its own load instead (as TaskStatusUrl reads a real service): a
// serving task its share, a task the load balancer does not send traffic to
// yet none; the reading carries their sum and count, and tasks not running
// yet count as starting.
package simulate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

// DefaultStartup is how long a requested task takes to run unless
// Options.Startup says otherwise: 60 s, typical for Fargate.
const DefaultStartup = 60 * time.Second

// Target tracking's datapoint resolutions: CloudWatch's standard minute, and
// the 20-second high-resolution CPU and memory metrics ECS can publish.
const (
	StandardResolution = time.Minute
	HighResolution     = 20 * time.Second
)

// Options describe one simulated service. Policy is required; the rest have
// defaults.
type Options struct {
	// Cluster and Name name the service in the watcher, events and reports.
	// Default "sim".
	Cluster, Name string
	// Policy is the service's effective fast-autoscaler policy; it must be
	// valid (see autoscaler.Policy.Validate).
	Policy autoscaler.Policy
	// Initial is the number of tasks running at the start; it is also target
	// tracking's minimum capacity. Tasks; default Policy.MinDesiredCount.
	Initial int
	// Startup is how long a requested task takes to run (PENDING to
	// RUNNING in ECS). Default DefaultStartup.
	Startup time.Duration
	// RegisterDelay is how long a RUNNING task takes to serve traffic: to be
	// registered and healthy in the load balancer's target group. Default 0
	// (it serves as soon as it runs).
	RegisterDelay time.Duration
	// TaskCapacity is the per-task connection count beyond which the status
	// URL answers 503 (an overloaded task). Connections; 0 (default): none.
	TaskCapacity float64
	// Target is target tracking's target per-task load. Connections per task;
	// default Policy.ScaleoutThreshold. Its maximum capacity is
	// Policy.MaxDesiredCount (0: none).
	Target float64
	// TTResolution is target tracking's datapoint: StandardResolution (the
	// default) or HighResolution. It scales out after 3 datapoints above its
	// target and scales in after 15 minutes below it.
	TTResolution time.Duration
	// Reading is how fast-autoscaler reads the load: Balancer (the
	// default, one sample through the load balancer) or PerTask (every
	// running task).
	Reading ReadingMode
	// TaskAggregate is what a per-task reading compares with the
	// threshold: the running tasks' average (stubstatus.AggregateAvg, the
	// default) or the busiest task's load (AggregateMax).
	TaskAggregate stubstatus.Aggregate
}

// ReadingMode is how the simulated fast-autoscaler reads the service's load.
type ReadingMode string

// The reading modes.
const (
	// Balancer: the status URL through the load balancer reports one serving
	// task's share (StatusUrl). The default.
	Balancer ReadingMode = "balancer"
	// PerTask: every running task reports its own load, and the reading
	// carries their exact total (TaskStatusUrl).
	PerTask ReadingMode = "per-task"
)

// withDefaults fills in the defaults and checks every field.
func (o Options) withDefaults() (Options, error) {
	if o.Cluster == "" {
		o.Cluster = "sim"
	}
	if o.Name == "" {
		o.Name = "sim"
	}
	if o.Initial == 0 {
		o.Initial = o.Policy.MinDesiredCount
	}
	if o.Startup == 0 {
		o.Startup = DefaultStartup
	}
	if o.Target == 0 {
		o.Target = o.Policy.ScaleoutThreshold
	}
	if o.TTResolution == 0 {
		o.TTResolution = StandardResolution
	}
	if o.Reading == "" {
		o.Reading = Balancer
	}
	if o.TaskAggregate == "" {
		o.TaskAggregate = stubstatus.AggregateAvg
	}
	errs := []error{o.Policy.Validate()}
	if o.Initial < 1 {
		errs = append(errs, fmt.Errorf("initial task count must be >= 1, got %d", o.Initial))
	}
	if o.Startup < 0 {
		errs = append(errs, fmt.Errorf("task startup must not be negative, got %v", o.Startup))
	}
	if o.RegisterDelay < 0 {
		errs = append(errs, fmt.Errorf("register delay must not be negative, got %v", o.RegisterDelay))
	}
	if o.TTResolution != StandardResolution && o.TTResolution != HighResolution {
		errs = append(errs, fmt.Errorf("target tracking resolution must be %v or %v, got %v", HighResolution, StandardResolution, o.TTResolution))
	}
	if !(o.TaskCapacity >= 0) || math.IsInf(o.TaskCapacity, 0) {
		errs = append(errs, fmt.Errorf("task capacity must be a finite number >= 0, got %v", o.TaskCapacity))
	}
	if !(o.Target > 0) || math.IsInf(o.Target, 0) {
		errs = append(errs, fmt.Errorf("target must be a finite number > 0, got %v", o.Target))
	}
	if o.Reading != Balancer && o.Reading != PerTask {
		errs = append(errs, fmt.Errorf("reading must be %q or %q, got %q", Balancer, PerTask, o.Reading))
	}
	if _, err := stubstatus.ParseAggregate(string(o.TaskAggregate)); err != nil {
		errs = append(errs, fmt.Errorf("task aggregate %w", err))
	}
	return o, errors.Join(errs...)
}

// Actor says who changed (or declined to change) the desired count.
type Actor string

// The actors.
const (
	FastAutoscaler Actor = "fast-autoscaler"
	TargetTracking Actor = "target-tracking"
)

// action names a fast-autoscaler event in the words the simulation uses for
// both actors: "scale_out" and "at_max" (other kinds keep their own name,
// such as "held_suspended").
func action(k notify.Kind) string {
	switch k {
	case notify.ScaledOut:
		return "scale_out"
	case notify.HeldAtMax:
		return "at_max"
	}
	return k.String()
}

// Event is one scale decision.
type Event struct {
	At time.Duration // offset from the trace's Start
	By Actor
	// Action is "scale_out", "scale_in" or "at_max" (fast-autoscaler found
	// the desired count already at MaxDesiredCount).
	Action string
	// Reading is the load the decision saw, connections per task: the status
	// URL's reading for fast-autoscaler, the minute's average for target
	// tracking. Meaningless when Overload is set.
	Reading float64
	// Overload reports the status URL answered 503.
	Overload bool
	// Tasks and Total are, for a per-task reading (Options.Reading
	// PerTask), the tasks that answered and their summed connections; 0
	// otherwise.
	Tasks      int
	Total      float64
	DesiredCur int // desired count before
	DesiredNew int // desired count after
	Ready      int // tasks ready at the time
}

// Sample is the simulated state from At until the next sample.
type Sample struct {
	At      time.Duration // offset from the trace's Start
	Conns   float64       // total connections arriving
	PerTask float64       // connections per ready task
	Desired int           // desired count (ready + pending tasks)
	Ready   int           // tasks serving traffic
}

// Summary measures one run over the whole trace.
type Summary struct {
	// Crossed reports that the per-task load went above the threshold;
	// FirstCrossing is when it first did (offset from the trace's Start).
	Crossed       bool
	FirstCrossing time.Duration
	// Recovered reports that, after the first crossing, there came a time
	// from which the ready tasks carried the load at or below the threshold
	// for at least a minute (or to the trace's end); TimeToCapacity is how
	// long after the first crossing that time was.
	Recovered      bool
	TimeToCapacity time.Duration
	OverThreshold  time.Duration // total time the per-task load was above the threshold
	Overloaded     time.Duration // total time it was above TaskCapacity (0 when unset)
	PeakPerTask    float64       // connections per ready task
	TaskHours      float64       // desired (running or starting) tasks × hours
	PeakDesired    int           // tasks
	ScaleOuts      int           // desired-count increases, by anyone
	ScaleIns       int           // desired-count decreases
}

// Run is one simulated run over the trace.
type Run struct {
	Label   string // what scaled the service in this run
	Events  []Event
	Samples []Sample
	Summary Summary
}

// Result is one service simulated over one trace, both ways.
type Result struct {
	Trace   *Trace
	Options Options // effective, defaults filled in
	// Fast is fast-autoscaler with managed target tracking beside it (it
	// scales in, and out too when its datapoints call for it).
	Fast Run
	// Managed is the target-tracking model alone.
	Managed Run
}

// Simulate runs the trace through fast-autoscaler (with target tracking
// beside it) and through target tracking alone. It is deterministic: the same
// inputs give the same result.
func Simulate(ctx context.Context, tr *Trace, opts Options) (*Result, error) {
	if tr == nil || len(tr.Points) < 2 {
		return nil, errors.New("simulate: the trace needs at least two rows")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("simulate %s/%s: %w", opts.Cluster, opts.Name, err)
	}
	res := &Result{Trace: tr, Options: opts}
	res.Fast, err = simulate(ctx, tr, opts, "fast-autoscaler + target tracking", func(w *world) (controller, error) {
		return newFast(opts, tr.Start, w)
	})
	if err != nil {
		return nil, err
	}
	res.Managed, err = simulate(ctx, tr, opts, "target tracking alone (model)", nil)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// world is one run's simulated service.
type world struct {
	opts  Options
	conns float64 // connections arriving now
	tasks tasks
	now   time.Duration
	run   Run
}

// resize sets the desired count to n at time t.
func (w *world) resize(t time.Duration, n int) {
	w.tasks.resize(t, w.opts.Startup, w.opts.RegisterDelay, n)
}

// controller is what acts on the service beside target tracking in a run:
// fast-autoscaler's watcher, or a reference a test compares it with.
type controller interface {
	// step runs at t: it may resize the world's tasks and record events.
	// It returns when it runs next.
	step(ctx context.Context, t time.Duration, w *world) (time.Duration, error)
}

// fast is fast-autoscaler's watcher acting through scaler.Memory, which
// holds the modelled service's state at each check.
type fast struct {
	watcher *autoscaler.Watcher
	mem     *scaler.Memory
	id      scaler.ServiceID
	start   time.Time
	last    autoscaler.Reading // the per-task reading of the check running
}

// newFast returns fast-autoscaler's controller for w, recording its events
// into w's run.
func newFast(opts Options, start time.Time, w *world) (*fast, error) {
	f := &fast{mem: scaler.NewMemory(), id: scaler.ServiceID{Cluster: opts.Cluster, Name: opts.Name}, start: start}
	svc := autoscaler.Service{
		Cluster: opts.Cluster,
		Name:    opts.Name,
		Policy:  opts.Policy,
		Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
			if opts.Reading == PerTask {
				r, err := perTaskReading(w.conns, w.tasks.ready, w.tasks.running, w.tasks.desired, opts.TaskCapacity, opts.TaskAggregate)
				f.last = r
				return r, err
			}
			return reading(w.conns, w.tasks.ready, opts.TaskCapacity), nil
		}),
		Notifier: notify.NotifierFunc(func(_ context.Context, ev notify.Event) error {
			w.run.Events = append(w.run.Events, Event{
				At: ev.Time.Sub(start), By: FastAutoscaler, Action: action(ev.Kind),
				Reading: ev.Value, Overload: ev.Overload, Tasks: f.last.Tasks, Total: f.last.Total,
				DesiredCur: ev.DesiredCur, DesiredNew: ev.DesiredNew, Ready: w.tasks.ready,
			})
			return nil
		}),
	}
	var err error
	if f.watcher, err = autoscaler.NewWatcher(svc, f.mem, nil); err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	return f, nil
}

func (f *fast) step(ctx context.Context, t time.Duration, w *world) (time.Duration, error) {
	f.mem.Put(f.id, scaler.State{Desired: w.tasks.desired, Running: w.tasks.running,
		Pending: w.tasks.desired - w.tasks.running, Status: "ACTIVE"})
	c := f.watcher.Step(ctx, f.start.Add(t))
	if c.Outcome == autoscaler.ScaledOut {
		st, err := f.mem.State(ctx, f.id)
		if err != nil {
			return 0, fmt.Errorf("simulate: %w", err)
		}
		w.resize(t, st.Desired)
	}
	return c.Next.Sub(f.start), nil
}

// simulate runs the trace once, with ctl acting beside target tracking (none
// when nil). Events at the same instant apply in a fixed order: the trace
// row, tasks running or serving, target tracking's datapoint, the
// controller's check.
func simulate(ctx context.Context, tr *Trace, opts Options, label string, ctl func(*world) (controller, error)) (Run, error) {
	w := &world{opts: opts}
	w.run.Label = label
	w.tasks = tasks{desired: opts.Initial, running: opts.Initial, ready: opts.Initial} // serving from the start

	var c controller
	if ctl != nil {
		var err error
		if c, err = ctl(w); err != nil {
			return Run{}, err
		}
	}

	res := opts.TTResolution
	tt := targetTracking{target: opts.Target, min: opts.Initial, max: opts.Policy.MaxDesiredCount,
		scaleInPoints: int(scaleInAfter / res)}
	var (
		sum      float64 // ∫ load per running task dt over the current datapoint, in connection-seconds
		peak     float64 // the highest total load within the current datapoint
		s        = &w.run.Summary
		row      = 0
		start    = tr.Points[0].At
		end      = tr.Points[len(tr.Points)-1].At
		minute   = start + res // end of the current datapoint
		check    = start
		thr      = opts.Policy.ScaleoutThreshold
		taskSecs float64
		calm     time.Duration = -1 // since when the load has been back at or under thr; -1: it is not
	)
	s.PeakDesired = opts.Initial
	for w.now = start; ; {
		t := w.now
		for row+1 < len(tr.Points) && tr.Points[row+1].At <= t {
			row++
		}
		w.conns = tr.Points[row].Conns
		peak = max(peak, w.conns)
		w.tasks.advance(t)
		if t == minute {
			avg := sum / res.Seconds()
			if n := tt.observe(avg, peak, w.tasks.running, w.tasks.desired); n != w.tasks.desired {
				action := "scale_out"
				if n < w.tasks.desired {
					action = "scale_in"
				}
				w.run.Events = append(w.run.Events, Event{At: t, By: TargetTracking, Action: action,
					Reading: avg, DesiredCur: w.tasks.desired, DesiredNew: n, Ready: w.tasks.ready})
				w.resize(t, n)
			}
			sum, peak, minute = 0, w.conns, minute+res
		}
		if c != nil && t >= check {
			next, err := c.step(ctx, t, w)
			if err != nil {
				return Run{}, err
			}
			check = next
		}
		load := perTask(w.conns, w.tasks.ready)
		w.sample(load)
		if t >= end {
			break
		}
		if err := ctx.Err(); err != nil {
			return Run{}, fmt.Errorf("simulate: %w", err)
		}

		next := min(end, minute, w.tasks.next(end))
		if row+1 < len(tr.Points) {
			next = min(next, tr.Points[row+1].At)
		}
		if c != nil {
			next = min(next, check)
		}
		dt := (next - t).Seconds()
		sum += perTask(w.conns, w.tasks.running) * dt // the service's average: a task not serving yet carries nothing
		taskSecs += float64(w.tasks.desired) * dt
		s.PeakPerTask = max(s.PeakPerTask, load)
		s.PeakDesired = max(s.PeakDesired, w.tasks.desired)
		switch {
		case load > thr:
			s.OverThreshold += next - t
			if !s.Crossed {
				s.Crossed, s.FirstCrossing = true, t
			}
			calm = -1
		case s.Crossed && !s.Recovered && calm < 0:
			calm = t
		}
		if calm >= 0 && !s.Recovered && (next-calm >= settle || next >= end) {
			s.Recovered, s.TimeToCapacity = true, calm-s.FirstCrossing
		}
		if opts.TaskCapacity > 0 && load > opts.TaskCapacity {
			s.Overloaded += next - t
		}
		w.now = next
	}
	s.TaskHours = taskSecs / 3600
	for _, ev := range w.run.Events {
		switch {
		case ev.DesiredNew > ev.DesiredCur:
			s.ScaleOuts++
		case ev.DesiredNew < ev.DesiredCur:
			s.ScaleIns++
		}
	}
	return w.run, nil
}

// sample records the current state when it differs from the last sample.
func (w *world) sample(load float64) {
	smp := Sample{At: w.now, Conns: w.conns, PerTask: load, Desired: w.tasks.desired, Ready: w.tasks.ready}
	if n := len(w.run.Samples); n > 0 {
		last := w.run.Samples[n-1]
		if last.Conns == smp.Conns && last.Desired == smp.Desired && last.Ready == smp.Ready {
			return
		}
	}
	w.run.Samples = append(w.run.Samples, smp)
}
