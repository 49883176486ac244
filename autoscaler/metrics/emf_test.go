package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
	"github.com/fast-autoscaler/fast-autoscaler/internal/promtest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
)

func TestEMFLinesMatchTheRegistry(t *testing.T) {
	m, reg := newMetrics(t)
	m.Observe(web, autoscaler.Check{Time: at(0), Outcome: autoscaler.ScaledOut, Reading: autoscaler.Reading{Value: 500},
		DesiredCur: 3, DesiredNew: 10}, time.Millisecond)
	m.Observe(api, autoscaler.Check{Time: at(0), Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 7}}, time.Millisecond)
	m.Observe(api, autoscaler.Check{Time: at(3), Outcome: autoscaler.ReadFailed, Err: errors.New("refused")}, time.Millisecond)

	var out bytes.Buffer
	emf, err := metrics.NewEMF(metrics.EMFOptions{Gatherer: reg, Writer: &out})
	require.NoError(t, err)
	require.NoError(t, emf.Write(at(60)))
	lines := promtest.DecodeEMF(t, out.String())
	require.Len(t, lines, 2, "one line per service")

	got := snapshot(t, reg)
	a, w := lines[0], lines[1]
	assert.Equal(t, "api", a["Service"], "sorted by cluster and service")
	assert.Equal(t, "app", a["Cluster"])
	assert.Equal(t, "FastAutoscaler", a["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Namespace"])
	assert.EqualValues(t, at(60).UnixMilli(), a["_aws"].(map[string]any)["Timestamp"])

	assert.NotContains(t, a, "Reading", "a blind service has no reading")
	assert.Equal(t, got[key(api, "read_failures", "")], a["ReadFailures"])
	assert.EqualValues(t, 1, a["ReadFailures"])
	assert.EqualValues(t, 60, a["LastGoodReadingAge"], "seconds since the last good read")
	assert.Equal(t, got[key(api, "checks_total", "error")], a["CheckErrors"])
	assert.Equal(t, got[key(api, "checks_total", "ok")], a["Checks"])
	assert.NotContains(t, a, "DesiredCount", "never scaled: no desired count")

	assert.Equal(t, got[key(web, "reading", "")], w["Reading"])
	assert.Equal(t, got[key(web, "desired_count", "")], w["DesiredCount"])
	assert.Equal(t, got[key(web, "requested_desired_count", "")], w["RequestedDesiredCount"])
	assert.Equal(t, got[key(web, "in_grace_period", "")], w["InGracePeriod"])
	assert.Equal(t, got[key(web, "scaleouts_total", "scaled_out")], w["ScaledOut"])
	assert.EqualValues(t, 0, w["DryRun"])
	assert.EqualValues(t, 0, w["ReadFailures"])

	// Counters are written as their increase since the previous line.
	m.Observe(api, autoscaler.Check{Time: at(63), Outcome: autoscaler.ReadFailed, Err: errors.New("refused")}, time.Millisecond)
	m.Observe(api, autoscaler.Check{Time: at(66), Outcome: autoscaler.ReadFailed, Err: errors.New("refused")}, time.Millisecond)
	out.Reset()
	require.NoError(t, emf.Write(at(120)))
	lines = promtest.DecodeEMF(t, out.String())
	assert.EqualValues(t, 2, lines[0]["CheckErrors"], "two more failed checks since the last line")
	assert.EqualValues(t, 3, lines[0]["ReadFailures"], "a gauge as it is")
	assert.EqualValues(t, 0, lines[1]["ScaledOut"], "no scale-out since the last line")
	assert.Equal(t, snapshot(t, reg)[key(api, "checks_total", "error")], 3.0)
}

func TestEMFMetricsFitOneDirective(t *testing.T) {
	ms := metrics.EMFMetrics()
	assert.LessOrEqual(t, len(ms), 100)
	seen := map[string]bool{}
	for _, m := range ms {
		assert.False(t, seen[m.Name], "%s listed twice", m.Name)
		seen[m.Name] = true
		assert.Contains(t, []string{"gauge", "delta", "age"}, m.Kind, m.Name)
	}
}

func TestEMFRunWritesOnTheIntervalAndAtTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, reg := newMetrics(t)
		m.Observe(web, autoscaler.Check{Time: at(0), Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 5}}, 0)
		mock := clock.NewMock()
		mock.Set(at(0))
		var out syncbuf.Buffer
		emf, err := metrics.NewEMF(metrics.EMFOptions{Gatherer: reg, Writer: &out, Clock: mock, Namespace: "Test"})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); emf.Run(ctx, 10*time.Second, nil) }()
		synctest.Wait()
		assert.Empty(t, out.String(), "nothing before the first interval")
		mock.Add(10 * time.Second)
		synctest.Wait()
		assert.Len(t, promtest.DecodeEMF(t, out.String()), 1)
		m.Observe(web, autoscaler.Check{Time: at(11), Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 6}}, 0)
		cancel()
		<-done
		lines := promtest.DecodeEMF(t, out.String())
		require.Len(t, lines, 2, "a last line at the end")
		assert.EqualValues(t, 1, lines[1]["Checks"], "the last partial interval's check")
	})
}

func TestNewEMFRequiresItsOptions(t *testing.T) {
	_, err := metrics.NewEMF(metrics.EMFOptions{})
	assert.ErrorContains(t, err, "Gatherer and Writer are required")
}
