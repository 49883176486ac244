package simulate

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

type oracle struct {
	every time.Duration
	thr   float64
}

func (o oracle) step(_ context.Context, t time.Duration, w *world) (time.Duration, error) {
	need := int(math.Ceil(w.conns/o.thr - 1e-9))
	if need > w.tasks.desired {
		w.run.Events = append(w.run.Events, Event{At: t, By: "oracle", Action: "scale_out", DesiredCur: w.tasks.desired, DesiredNew: need})
		w.resize(t, need)
	}
	return t + o.every, nil
}

func TestExplore(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	reg, _ := time.ParseDuration(os.Getenv("REG"))
	st, _ := time.ParseDuration(os.Getenv("STARTUP"))
	res, _ := time.ParseDuration(os.Getenv("RES"))
	for _, name := range []string{"spike-10x", "surge-50x", "staircase", "ramp-20m", "blip-3s", "flapping"} {
		tr, err := LoadTrace(filepath.Join("..", "..", "examples", "traces", name+".csv"))
		require.NoError(t, err)
		base := autoscaler.DefaultPolicy()
		base.ScaleoutThreshold, base.MinDesiredCount = 100, 5
		opts := Options{Policy: base, RegisterDelay: reg, Startup: st, TTResolution: res}
		o, err := opts.withDefaults()
		require.NoError(t, err)
		or, err := simulate(t.Context(), tr, o, "oracle", func(*world) (controller, error) { return oracle{3 * time.Second, 100}, nil })
		require.NoError(t, err)
		rs, err := Simulate(t.Context(), tr, opts)
		require.NoError(t, err)
		fmt.Printf("%-10s oracle over %6.0fs th %6.2f | TT over %6.0fs th %6.2f | double over %6.0fs th %6.2f outs %d\n", name,
			or.Summary.OverThreshold.Seconds(), or.Summary.TaskHours, rs.Managed.Summary.OverThreshold.Seconds(), rs.Managed.Summary.TaskHours,
			rs.Fast.Summary.OverThreshold.Seconds(), rs.Fast.Summary.TaskHours, fastOuts(rs.Fast))
		for _, tgt := range []float64{95, 90, 85, 80} {
			p := base
			p.ScaleoutMode, p.TargetPerTask = autoscaler.ModeCapacity, tgt
			opts.Policy = p
			res, err := Simulate(t.Context(), tr, opts)
			require.NoError(t, err)
			fmt.Printf("    capacity T=%3.0f over %6.0fs (%.2fx oracle) th %6.2f (%.2fx TT) outs %d peak %d\n", tgt,
				res.Fast.Summary.OverThreshold.Seconds(), res.Fast.Summary.OverThreshold.Seconds()/or.Summary.OverThreshold.Seconds(),
				res.Fast.Summary.TaskHours, res.Fast.Summary.TaskHours/res.Managed.Summary.TaskHours, fastOuts(res.Fast), res.Fast.Summary.PeakDesired)
		}
	}
}

func fastOuts(r Run) int {
	n := 0
	for _, e := range r.Events {
		if e.By == FastAutoscaler && e.DesiredNew > e.DesiredCur {
			n++
		}
	}
	return n
}
