package simulate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

func TestPerTaskReading(t *testing.T) {
	r, err := perTaskReading(600, 4, 2, 0)
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 150, Total: 600, Tasks: 4, Starting: 2}, r)

	r, err = perTaskReading(600, 4, 0, 100)
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Overload: true, Tasks: 4}, r, "every task answers 503: no figure")

	_, err = perTaskReading(600, 0, 3, 0)
	require.Error(t, err, "nothing to read, unlike the balancer's sample")
	assert.Contains(t, err.Error(), "no task running to read (3 starting)")
	assert.Equal(t, autoscaler.Reading{Value: 600}, reading(600, 0, 0), "the balancer puts it all on one task")
}

// Every task reporting an even share, the average per-task reading is the
// balancer's sample: the same decisions, now with the exact total.
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
	assert.Contains(t, text.String(), "reading: per task")
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
	assert.EqualValues(t, 560, doc.Services[0].FastAutoscaler.Events[0]["total"])

	text.Reset()
	require.NoError(t, WriteText(&text, lb))
	assert.NotContains(t, text.String(), "reading: per task")
	assert.NotContains(t, text.String(), "in all")

	_, err = Simulate(t.Context(), flashSale(t), Options{Policy: exampleApp(t), Reading: "sampled"})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), `reading must be "balancer" or "per-task", got "sampled"`), err.Error())
}
