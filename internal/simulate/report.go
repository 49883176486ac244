package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

// WriteText writes a report of res for a person: the settings, each run's
// timeline of scale events, and a table comparing the two runs.
func WriteText(w io.Writer, res *Result) error {
	o, p := res.Options, res.Options.Policy
	thr := conns(p.ScaleoutThreshold)
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s on %s (%s)\n", o.Cluster, o.Name, res.Trace.Name, Duration(res.Trace.Duration()))
	fmt.Fprintf(&b, "  fast-autoscaler: threshold %s/task, check every %s, grace %s, floor %d, cap %s, %s\n",
		thr, Duration(p.CheckInterval), Duration(p.GracePeriod), p.MinDesiredCount, orNone(p.MaxDesiredCount), mode(p))
	serving := "serving as soon as it runs"
	if o.RegisterDelay > 0 {
		serving = "serving " + Duration(o.RegisterDelay) + " later"
	}
	fmt.Fprintf(&b, "  service model: %d tasks at start, a new task running %s after it is requested and %s, task capacity %s\n",
		o.Initial, Duration(o.Startup), serving, capacity(o.TaskCapacity))
	points := "1-minute"
	if o.TTResolution != time.Minute {
		points = Duration(o.TTResolution)
	}
	fmt.Fprintf(&b, "  target tracking (model): target %s/task, min %d, max %s, %s datapoints\n", conns(o.Target), o.Initial,
		orNone(p.MaxDesiredCount), points)
	if o.Reading == PerTask {
		fmt.Fprintf(&b, "  reading: per task (every running task's status page, their %s compared and their total known)\n",
			map[stubstatus.Aggregate]string{stubstatus.AggregateAvg: "average", stubstatus.AggregateMax: "maximum"}[o.TaskAggregate])
	}

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, run := range []*Run{&res.Fast, &res.Managed} {
		fmt.Fprintf(tw, "\n%s:\n", run.Label)
		if len(run.Events) == 0 {
			fmt.Fprintln(tw, "  no scale events")
			continue
		}
		fmt.Fprintln(tw, "  time\tby\taction\treading\tdesired\tready")
		for _, ev := range run.Events {
			r := perTaskLoad(ev.Reading) + "/task"
			if ev.Tasks > 0 && !ev.Overload {
				r += fmt.Sprintf(" (%s in all)", conns(ev.Total))
			}
			if ev.Overload {
				r = "503 (overloaded)"
			} else if ev.By == TargetTracking {
				r += " (1m avg)"
			}
			fmt.Fprintf(tw, "  +%s\t%s\t%s\t%s\t%d -> %d\t%d\n", Duration(ev.At), ev.By,
				strings.ReplaceAll(ev.Action, "_", " "), r, ev.DesiredCur, ev.DesiredNew, ev.Ready)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	tw = tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	f, m := &res.Fast.Summary, &res.Managed.Summary
	fmt.Fprintf(tw, "\nsummary\tfast-autoscaler\ttarget tracking\n")
	fmt.Fprintf(tw, "\t+ target tracking\talone (model)\n")
	row := func(name string, v func(s *Summary) string) { fmt.Fprintf(tw, "%s\t%s\t%s\n", name, v(f), v(m)) }
	row("first crossing of "+thr+"/task", func(s *Summary) string {
		if !s.Crossed {
			return "none"
		}
		return "+" + Duration(s.FirstCrossing)
	})
	row("time to enough ready capacity", func(s *Summary) string {
		switch {
		case !s.Crossed:
			return "-"
		case !s.Recovered:
			return "never"
		}
		return Duration(s.TimeToCapacity)
	})
	row("time above "+thr+"/task", func(s *Summary) string { return Duration(s.OverThreshold) })
	if o.TaskCapacity > 0 {
		row("time overloaded (503)", func(s *Summary) string { return Duration(s.Overloaded) })
	}
	row("peak load per task", func(s *Summary) string { return perTaskLoad(s.PeakPerTask) })
	row("peak desired count", func(s *Summary) string { return fmt.Sprint(s.PeakDesired) })
	row("scale-outs / scale-ins", func(s *Summary) string { return fmt.Sprintf("%d / %d", s.ScaleOuts, s.ScaleIns) })
	row("task-hours", func(s *Summary) string { return fmt.Sprintf("%.2f", s.TaskHours) })
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Duration formats d for people: "1h02m03s", "5m03s", "45s", "2.5s".
// Sub-second parts are rounded to a tenth of a second.
func Duration(d time.Duration) string {
	d = d.Round(100 * time.Millisecond)
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	h, m := d/time.Hour, d%time.Hour/time.Minute
	s := (d % time.Minute).Seconds()
	sec := fmt.Sprintf("%.1f", s)
	if d%time.Second == 0 {
		sec = fmt.Sprintf("%.0f", s)
	}
	if h > 0 || m > 0 {
		if s < 10 {
			sec = "0" + sec
		}
		if h > 0 {
			return fmt.Sprintf("%s%dh%02dm%ss", sign, h, m, sec)
		}
		return fmt.Sprintf("%s%dm%ss", sign, m, sec)
	}
	return sign + sec + "s"
}

// conns formats a connection count: whole numbers bare, others to 1 decimal.
func conns(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// perTaskLoad formats a load to a tenth of a connection, or to 4 significant
// digits when it is huge.
func perTaskLoad(v float64) string {
	if math.Abs(v) < 1e6 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

// mode describes how the policy sizes a scale-out.
func mode(p autoscaler.Policy) string {
	var b strings.Builder
	switch p.EffectiveMode() {
	case autoscaler.ModeCapacity:
		fmt.Fprintf(&b, "capacity mode (target %s/task)", conns(p.EffectiveTargetPerTask()))
	case autoscaler.ModeSteps:
		b.WriteString("steps mode")
	default:
		b.WriteString("doubling")
	}
	if p.EscalateWhenReady {
		b.WriteString(", escalating when ready")
	}
	if n := p.ScaleoutAfterChecks; n > 1 {
		fmt.Fprintf(&b, ", after %d checks over", n)
	}
	return b.String()
}

func capacity(v float64) string {
	if v == 0 {
		return "unlimited"
	}
	return conns(v) + "/task"
}

func orNone(n int) string {
	if n == 0 {
		return "none"
	}
	return fmt.Sprint(n)
}

// JSON document shapes, for scripts: times in seconds from the trace's
// start, durations in seconds, loads in connections per task.
type (
	jsonReport struct {
		Services []jsonService `json:"services"`
	}
	jsonService struct {
		Cluster        string       `json:"cluster"`
		Service        string       `json:"service"`
		Trace          string       `json:"trace"`
		DurationS      float64      `json:"duration_s"`
		Settings       jsonSettings `json:"settings"`
		FastAutoscaler jsonRun      `json:"fast_autoscaler"`
		TargetTracking jsonRun      `json:"target_tracking"`
	}
	jsonSettings struct {
		ScaleoutThreshold float64 `json:"scaleout_threshold"`
		CheckIntervalS    float64 `json:"check_interval_s"`
		GracePeriodS      float64 `json:"grace_period_s"`
		MinDesiredCount   int     `json:"min_desired_count"`
		MaxDesiredCount   int     `json:"max_desired_count"`
		Initial           int     `json:"initial"`
		StartupS          float64 `json:"startup_s"`
		TaskCapacity      float64 `json:"task_capacity"`
		Target            float64 `json:"target"`
		// Added with the capacity-aware scale-outs.
		ScaleoutMode        string  `json:"scaleout_mode"`
		TargetPerTask       float64 `json:"target_per_task,omitempty"` // capacity mode only
		ScaleoutAfterChecks int     `json:"scaleout_after_checks"`
		EscalateWhenReady   bool    `json:"escalate_when_ready"`
		RegisterDelayS      float64 `json:"register_delay_s"`
		TTResolutionS       float64 `json:"tt_resolution_s"`
		// Added with per-task reading: "per-task"; left out for the balancer.
		Reading       string `json:"reading,omitempty"`
		TaskAggregate string `json:"task_aggregate,omitempty"`
	}
	jsonRun struct {
		Label   string      `json:"label"`
		Summary jsonSummary `json:"summary"`
		Events  []jsonEvent `json:"events"`
	}
	jsonSummary struct {
		FirstCrossingS  *float64 `json:"first_crossing_s"`
		TimeToCapacityS *float64 `json:"time_to_capacity_s"`
		OverThresholdS  float64  `json:"over_threshold_s"`
		OverloadedS     float64  `json:"overloaded_s"`
		PeakPerTask     float64  `json:"peak_per_task"`
		PeakDesired     int      `json:"peak_desired"`
		ScaleOuts       int      `json:"scale_outs"`
		ScaleIns        int      `json:"scale_ins"`
		TaskHours       float64  `json:"task_hours"`
	}
	jsonEvent struct {
		AtS        float64 `json:"at_s"`
		By         Actor   `json:"by"`
		Action     string  `json:"action"`
		Reading    float64 `json:"reading"`
		Overload   bool    `json:"overload"`
		DesiredCur int     `json:"desired_cur"`
		DesiredNew int     `json:"desired_new"`
		Ready      int     `json:"ready"`
		Tasks      int     `json:"tasks,omitempty"` // per-task reading: tasks that answered
		Total      float64 `json:"total,omitempty"` // and their summed connections
	}
)

// WriteJSON writes the results' summaries and scale events as one indented
// JSON document: {"services": [...]}. The same results give the same bytes.
func WriteJSON(w io.Writer, results []*Result) error {
	doc := jsonReport{Services: make([]jsonService, 0, len(results))}
	for _, res := range results {
		o, p := res.Options, res.Options.Policy
		target := 0.0
		if p.EffectiveMode() == autoscaler.ModeCapacity {
			target = p.EffectiveTargetPerTask()
		}
		settingsReading, settingsAgg := "", ""
		if o.Reading == PerTask {
			settingsReading, settingsAgg = string(PerTask), string(o.TaskAggregate)
		}
		doc.Services = append(doc.Services, jsonService{
			Cluster: o.Cluster, Service: o.Name, Trace: res.Trace.Name,
			DurationS: res.Trace.Duration().Seconds(),
			Settings: jsonSettings{
				ScaleoutThreshold: p.ScaleoutThreshold, CheckIntervalS: p.CheckInterval.Seconds(),
				GracePeriodS: p.GracePeriod.Seconds(), MinDesiredCount: p.MinDesiredCount,
				MaxDesiredCount: p.MaxDesiredCount, Initial: o.Initial, StartupS: o.Startup.Seconds(),
				TaskCapacity: o.TaskCapacity, Target: o.Target,
				ScaleoutMode: string(p.EffectiveMode()), ScaleoutAfterChecks: max(p.ScaleoutAfterChecks, 1),
				TargetPerTask: target, EscalateWhenReady: p.EscalateWhenReady, RegisterDelayS: o.RegisterDelay.Seconds(),
				TTResolutionS: o.TTResolution.Seconds(), Reading: settingsReading, TaskAggregate: settingsAgg,
			},
			FastAutoscaler: jsonRunOf(&res.Fast),
			TargetTracking: jsonRunOf(&res.Managed),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func jsonRunOf(r *Run) jsonRun {
	s := r.Summary
	out := jsonRun{Label: r.Label, Events: make([]jsonEvent, 0, len(r.Events)), Summary: jsonSummary{
		OverThresholdS: s.OverThreshold.Seconds(), OverloadedS: s.Overloaded.Seconds(),
		PeakPerTask: s.PeakPerTask, PeakDesired: s.PeakDesired,
		ScaleOuts: s.ScaleOuts, ScaleIns: s.ScaleIns, TaskHours: s.TaskHours,
	}}
	if s.Crossed {
		v := s.FirstCrossing.Seconds()
		out.Summary.FirstCrossingS = &v
	}
	if s.Recovered {
		v := s.TimeToCapacity.Seconds()
		out.Summary.TimeToCapacityS = &v
	}
	for _, ev := range r.Events {
		out.Events = append(out.Events, jsonEvent{AtS: ev.At.Seconds(), By: ev.By, Action: ev.Action,
			Reading: ev.Reading, Overload: ev.Overload, DesiredCur: ev.DesiredCur, DesiredNew: ev.DesiredNew, Ready: ev.Ready,
			Tasks: ev.Tasks, Total: ev.Total})
	}
	return out
}
