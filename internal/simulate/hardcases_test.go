package simulate

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

// oracle is the reference the issue measures "capacity" against: a
// controller that knows the true total load at every check and asks for
// exactly what it needs at the threshold.
type oracle struct {
	every time.Duration
	thr   float64
}

func (o oracle) step(_ context.Context, t time.Duration, w *world) (time.Duration, error) {
	if need := int(math.Ceil(w.conns/o.thr - 1e-9)); need > w.tasks.desired {
		w.run.Events = append(w.run.Events, Event{At: t, By: "oracle", Action: "scale_out", DesiredCur: w.tasks.desired, DesiredNew: need})
		w.resize(t, need)
	}
	return t + o.every, nil
}

// hardCase is one trace's runs: the oracle, target tracking alone, the
// default policy (doubling) and ScaleoutMode capacity at its defaults.
type hardCase struct {
	oracle, managed, double, capacity Summary
	doubleOuts, capacityOuts          int
}

// outs counts fast-autoscaler's scale-outs in a run.
func outs(r Run) int {
	n := 0
	for _, e := range r.Events {
		if e.By == FastAutoscaler && e.DesiredNew > e.DesiredCur {
			n++
		}
	}
	return n
}

// runHardCase simulates the trace for both services of
// examples/hard-cases.json (threshold 100, floor 5, 3 s checks) with 60 s
// start-up and 20 s register delay, target tracking at res.
func runHardCase(t *testing.T, trace string, res time.Duration, mutate func(*autoscaler.Policy)) hardCase {
	t.Helper()
	cfg, err := configsrc.Load(t.Context(), configsrc.File{Path: filepath.Join("..", "..", "examples", "hard-cases.json")})
	require.NoError(t, err)
	tr, err := LoadTrace(filepath.Join("..", "..", "examples", "traces", trace+".csv"))
	require.NoError(t, err)
	var hc hardCase
	for _, s := range cfg.Services {
		p := s.Policy
		if mutate != nil {
			mutate(&p)
		}
		opts := Options{Policy: p, Startup: time.Minute, RegisterDelay: 20 * time.Second, TTResolution: res}
		r, err := Simulate(t.Context(), tr, opts)
		require.NoError(t, err)
		hc.managed = r.Managed.Summary
		switch p.EffectiveMode() {
		case autoscaler.ModeDouble:
			hc.double, hc.doubleOuts = r.Fast.Summary, outs(r.Fast)
		case autoscaler.ModeCapacity:
			hc.capacity, hc.capacityOuts = r.Fast.Summary, outs(r.Fast)
			o, err := r.Options.withDefaults()
			require.NoError(t, err)
			or, err := simulate(t.Context(), tr, o, "oracle", func(*world) (controller, error) {
				return oracle{every: p.CheckInterval, thr: p.ScaleoutThreshold}, nil
			})
			require.NoError(t, err)
			hc.oracle = or.Summary
		}
	}
	return hc
}

// TestHardCases pins what the issue asks of ScaleoutMode capacity at its
// default TargetPerTask, on the bundled shapes, with target tracking at 1
// minute and at 20 seconds: within 1.3× of the oracle's time above the
// threshold and 1.25× of target tracking's task-hours on the spikes; no
// longer above the threshold than the default policy on the staircase and
// the ramp; one scale-out at most for a 3-second blip (none with
// ScaleoutAfterChecks 2), two at most for a load flapping around the
// threshold. Run with -v for the figures.
func TestHardCases(t *testing.T) {
	for _, res := range []time.Duration{StandardResolution, HighResolution} {
		t.Run(Duration(res), func(t *testing.T) {
			var table strings.Builder
			fmt.Fprintf(&table, "%-10s %28s %22s %28s %36s\n", "trace", "oracle above / task-hours", "TT alone", "double", "capacity")
			row := func(name string, hc hardCase) {
				fmt.Fprintf(&table, "%-10s %15s / %6.2f %13s / %6.2f %11s / %6.2f (%d outs) %11s / %6.2f (%d outs)\n", name,
					Duration(hc.oracle.OverThreshold), hc.oracle.TaskHours, Duration(hc.managed.OverThreshold), hc.managed.TaskHours,
					Duration(hc.double.OverThreshold), hc.double.TaskHours, hc.doubleOuts,
					Duration(hc.capacity.OverThreshold), hc.capacity.TaskHours, hc.capacityOuts)
			}
			for _, trace := range []string{"spike-10x", "surge-50x"} {
				hc := runHardCase(t, trace, res, nil)
				row(trace, hc)
				assert.LessOrEqual(t, hc.capacity.OverThreshold.Seconds(), 1.3*hc.oracle.OverThreshold.Seconds(),
					"%s: time above the threshold within 1.3× of the oracle's", trace)
				assert.LessOrEqual(t, hc.capacity.TaskHours, 1.25*hc.managed.TaskHours, "%s: task-hours within 1.25× of target tracking's", trace)
				assert.Less(t, hc.capacity.OverThreshold, hc.double.OverThreshold, trace)
			}
			for _, trace := range []string{"staircase", "ramp-20m"} {
				hc := runHardCase(t, trace, res, nil)
				row(trace, hc)
				assert.LessOrEqual(t, hc.capacity.OverThreshold, hc.double.OverThreshold, "%s: no longer above the threshold than doubling", trace)
			}
			hc := runHardCase(t, "blip-3s", res, nil)
			row("blip-3s", hc)
			assert.LessOrEqual(t, hc.capacityOuts, 1, "a 3-second blip: one scale-out at most")
			twice := runHardCase(t, "blip-3s", res, func(p *autoscaler.Policy) { p.ScaleoutAfterChecks = 2 })
			assert.Zero(t, twice.capacityOuts, "none with ScaleoutAfterChecks 2")
			assert.Zero(t, twice.doubleOuts, "none with ScaleoutAfterChecks 2, whatever the mode")
			hc = runHardCase(t, "flapping", res, nil)
			row("flapping", hc)
			assert.LessOrEqual(t, hc.capacityOuts, 2, "flapping around the threshold: two scale-outs at most")
			t.Logf("target tracking at %s datapoints; threshold 100, floor 5, 3 s checks, 60 s start-up, 20 s register delay\n%s",
				Duration(res), table.String())
		})
	}
}
