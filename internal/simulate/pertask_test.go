package simulate

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

func TestPerTaskReading(t *testing.T) {
	// 4 serving, 2 more running but not serving yet, 1 more asked for.
	r, err := perTaskReading(600, 4, 6, 7, 0, stubstatus.AggregateAvg)
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 100, Total: 600, Tasks: 6, Starting: 1}, r,
		"the average over the running tasks, the exact total")
	r, err = perTaskReading(600, 4, 6, 7, 0, stubstatus.AggregateMax)
	require.NoError(t, err)
	assert.Equal(t, 150.0, r.Value, "max: a serving task's share, as the balancer samples")

	r, err = perTaskReading(600, 4, 4, 4, 100, stubstatus.AggregateAvg)
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Overload: true, Tasks: 4}, r, "every serving task answers 503: no figure")

	r, err = perTaskReading(600, 0, 2, 2, 0, stubstatus.AggregateAvg)
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Tasks: 2}, r, "running, none serving: no load on any")

	_, err = perTaskReading(600, 0, 0, 3, 0, stubstatus.AggregateAvg)
	require.Error(t, err, "nothing to read, unlike the balancer's sample")
	assert.Contains(t, err.Error(), "no task running to read (3 starting)")
	assert.Equal(t, autoscaler.Reading{Value: 600}, reading(600, 0, 0), "the balancer puts it all on one task")
}

// With every task serving as soon as it runs, the running tasks' average
// is the balancer's sample: the same decisions, now with the exact total.
func TestSimulatePerTask(t *testing.T) {
	lb, err := Simulate(t.Context(), flashSale(t), Options{Policy: exampleApp(t)})
	require.NoError(t, err)
	pt, err := Simulate(t.Context(), flashSale(t), Options{Policy: exampleApp(t), Reading: PerTask})
	require.NoError(t, err)
	require.Equal(t, len(lb.Fast.Events), len(pt.Fast.Events))
	assert.Equal(t, lb.Fast.Summary, pt.Fast.Summary)
	first := pt.Fast.Events[0]
	assert.Equal(t, FastAutoscaler, first.By)
	assert.Equal(t, 5, first.Tasks)
	assert.InDelta(t, first.Reading*5, first.Total, 1e-9)
	assert.Zero(t, lb.Fast.Events[0].Tasks)

	var text bytes.Buffer
	require.NoError(t, WriteText(&text, pt))
	assert.Contains(t, text.String(), "reading: per task (every running task's status page, their average compared")
	assert.Contains(t, text.String(), "112.0/task (560 in all)")
	var js bytes.Buffer
	require.NoError(t, WriteJSON(&js, []*Result{pt}))
	var doc struct {
		Services []struct {
			Settings       map[string]any
			FastAutoscaler struct{ Events []map[string]any } `json:"fast_autoscaler"`
		}
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	assert.Equal(t, "per-task", doc.Services[0].Settings["reading"])
	assert.Equal(t, "avg", doc.Services[0].Settings["task_aggregate"])
	assert.EqualValues(t, 560, doc.Services[0].FastAutoscaler.Events[0]["total"])

	text.Reset()
	require.NoError(t, WriteText(&text, lb))
	assert.NotContains(t, text.String(), "reading: per task")
	assert.NotContains(t, text.String(), "in all")

	_, err = Simulate(t.Context(), flashSale(t), Options{Policy: exampleApp(t), Reading: "sampled"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `reading must be "balancer" or "per-task", got "sampled"`)
}

// Where tasks run a while before the load balancer sends them traffic,
// capacity mode through the balancer must tell from the readings when new
// tasks serve, and a load flapping around the threshold fools that fit
// (see the README); reading every task, it knows the total: half the
// scale-outs and fewer task-hours.
func TestSimulatePerTaskCapacityOnAFlappingLoad(t *testing.T) {
	cfg, err := configsrc.Load(t.Context(), configsrc.File{Path: filepath.Join("..", "..", "examples", "hard-cases.json")})
	require.NoError(t, err)
	p := cfg.Services[1].Policy
	require.Equal(t, autoscaler.ModeCapacity, p.ScaleoutMode)
	tr, err := LoadTrace(filepath.Join("..", "..", "examples", "traces", "flapping.csv"))
	require.NoError(t, err)
	opts := Options{Policy: p, Startup: 90 * time.Second, RegisterDelay: 60 * time.Second}
	lb, err := Simulate(t.Context(), tr, opts)
	require.NoError(t, err)
	opts.Reading = PerTask
	pt, err := Simulate(t.Context(), tr, opts)
	require.NoError(t, err)
	assert.Equal(t, 4, lb.Fast.Summary.ScaleOuts, "through the balancer")
	assert.Equal(t, 2, pt.Fast.Summary.ScaleOuts, "per task")
	assert.Less(t, pt.Fast.Summary.TaskHours, lb.Fast.Summary.TaskHours)
	assert.Equal(t, lb.Fast.Summary.TimeToCapacity, pt.Fast.Summary.TimeToCapacity)
	for _, ev := range pt.Fast.Events {
		if ev.By == FastAutoscaler {
			assert.Positive(t, ev.Tasks, "each event of the per-task run carries its task count")
		}
	}
}
