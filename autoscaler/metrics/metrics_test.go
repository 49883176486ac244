package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
	"github.com/fast-autoscaler/fast-autoscaler/internal/promtest"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

var (
	web = scaler.ServiceID{Cluster: "app", Name: "web"}
	api = scaler.ServiceID{Cluster: "app", Name: "api"}
)

func newMetrics(t testing.TB) (*metrics.Metrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Options{Registerer: reg, Version: "v1.2.3"})
	require.NoError(t, err)
	return m, reg
}

func snapshot(t testing.TB, reg prometheus.Gatherer) map[string]float64 {
	return promtest.Snapshot(t, reg)
}

// key names web's series of metric (with an optional result label).
func key(svc scaler.ServiceID, metric, result string) string {
	k := fmt.Sprintf("fast_autoscaler_%s{cluster=%q", metric, svc.Cluster)
	if result != "" {
		k += fmt.Sprintf(",result=%q", result)
	}
	return k + fmt.Sprintf(",service=%q}", svc.Name)
}

func TestObserveScriptedSequence(t *testing.T) {
	m, reg := newMetrics(t)
	steps := []struct {
		name  string
		check autoscaler.Check
		// want holds web's values after the step; a nil entry must be absent.
		want map[string]*float64
	}{
		{"ok", autoscaler.Check{Time: at(0), Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 42}},
			map[string]*float64{"reading": f(42), "in_grace_period": f(0), "desired_count": nil, "requested_desired_count": nil,
				"read_failures": f(0), "last_good_reading_timestamp_seconds": f(ts(0))}},
		{"read failed drops the reading", autoscaler.Check{Time: at(3), Outcome: autoscaler.ReadFailed, Err: errors.New("refused")},
			map[string]*float64{"reading": nil, "in_grace_period": f(0), "read_failures": f(1),
				"last_good_reading_timestamp_seconds": f(ts(0))}},
		{"read failed again", autoscaler.Check{Time: at(6), Outcome: autoscaler.ReadFailed, Err: errors.New("refused")},
			map[string]*float64{"reading": nil, "read_failures": f(2), "last_good_reading_timestamp_seconds": f(ts(0))}},
		{"overload scales out: a good read, with no value", autoscaler.Check{Time: at(9), Outcome: autoscaler.ScaledOut,
			Reading: autoscaler.Reading{Overload: true}, DesiredCur: 3, DesiredNew: 10},
			map[string]*float64{"reading": nil, "in_grace_period": f(1), "desired_count": f(10), "requested_desired_count": f(10),
				"read_failures": f(0), "last_good_reading_timestamp_seconds": f(ts(9))}},
		{"capped", autoscaler.Check{Time: at(200), Outcome: autoscaler.HeldAtMax, Reading: autoscaler.Reading{Value: 300},
			DesiredCur: 11, DesiredNew: 11},
			map[string]*float64{"reading": f(300), "in_grace_period": f(1), "desired_count": f(11), "requested_desired_count": f(10)}},
		{"dry run: nothing requested", autoscaler.Check{Time: at(400), Outcome: autoscaler.DryRun, Reading: autoscaler.Reading{Value: 320},
			DesiredCur: 12, DesiredNew: 24},
			map[string]*float64{"reading": f(320), "in_grace_period": f(1), "desired_count": f(12), "requested_desired_count": f(10)}},
		{"update failed", autoscaler.Check{Time: at(600), Outcome: autoscaler.ScaleFailed, Reading: autoscaler.Reading{Value: 250},
			DesiredCur: 12, DesiredNew: 24, Err: errors.New("denied")},
			map[string]*float64{"reading": f(250), "in_grace_period": f(0), "desired_count": f(12), "requested_desired_count": f(10)}},
		{"state read failed: desired unknown", autoscaler.Check{Time: at(603), Outcome: autoscaler.ScaleFailed,
			Reading: autoscaler.Reading{Value: 280}, Err: errors.New("throttled")},
			map[string]*float64{"reading": f(280), "in_grace_period": f(0), "desired_count": f(12)}},
		{"held by a recorded scale-out", autoscaler.Check{Time: at(609), Outcome: autoscaler.InGrace, Reading: autoscaler.Reading{Value: 260},
			DesiredCur: 24},
			map[string]*float64{"reading": f(260), "in_grace_period": f(1), "desired_count": f(24), "requested_desired_count": f(10), "paused": f(0)}},
		{"paused: read, not scaled", autoscaler.Check{Time: at(612), Outcome: autoscaler.Paused, Reading: autoscaler.Reading{Value: 270}, Paused: true},
			map[string]*float64{"reading": f(270), "in_grace_period": f(0), "desired_count": f(24), "paused": f(1)}},
		{"paused and calm", autoscaler.Check{Time: at(615), Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 12}, Paused: true},
			map[string]*float64{"reading": f(12), "paused": f(1)}},
		{"held: tasks not started", autoscaler.Check{Time: at(621), Outcome: autoscaler.HeldStarting, Reading: autoscaler.Reading{Value: 260},
			DesiredCur: 24, DesiredNew: 48},
			map[string]*float64{"reading": f(260), "in_grace_period": f(0), "desired_count": f(24), "requested_desired_count": f(10)}},
		{"checked in a grace period", autoscaler.Check{Time: at(624), Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 90}, Grace: true},
			map[string]*float64{"reading": f(90), "in_grace_period": f(1)}},
		{"ok again", autoscaler.Check{Time: at(627), Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 5}},
			map[string]*float64{"reading": f(5), "in_grace_period": f(0), "desired_count": f(24), "requested_desired_count": f(10),
				"paused": f(0), "read_failures": f(0), "last_good_reading_timestamp_seconds": f(ts(627))}},
		{"update unknown, not landed", autoscaler.Check{Time: at(630), Outcome: autoscaler.ScaleUnknown, Reading: autoscaler.Reading{Value: 260},
			DesiredCur: 12, DesiredNew: 24, DesiredAfter: 12, Err: context.DeadlineExceeded},
			map[string]*float64{"reading": f(260), "in_grace_period": f(0), "desired_count": f(12), "requested_desired_count": f(10)}},
		{"update unknown, service unreadable", autoscaler.Check{Time: at(631), Outcome: autoscaler.ScaleUnknown, Reading: autoscaler.Reading{Value: 260},
			DesiredCur: 12, DesiredNew: 24, DesiredAfter: -1, Err: context.DeadlineExceeded},
			map[string]*float64{"reading": f(260), "in_grace_period": f(0), "desired_count": f(12), "requested_desired_count": f(10)}},
		{"update unknown, landed", autoscaler.Check{Time: at(632), Outcome: autoscaler.ScaleUnknown, Reading: autoscaler.Reading{Value: 260},
			DesiredCur: 12, DesiredNew: 24, DesiredAfter: 24, Landed: true, Grace: true, Err: context.DeadlineExceeded},
			map[string]*float64{"reading": f(260), "in_grace_period": f(1), "desired_count": f(24), "requested_desired_count": f(24)}},
	}
	for _, s := range steps {
		m.Observe(web, s.check, 20*time.Millisecond)
		got := snapshot(t, reg)
		for metric, want := range s.want {
			v, ok := got[key(web, metric, "")]
			if want == nil {
				assert.False(t, ok, "%s: %s should be absent", s.name, metric)
				continue
			}
			if assert.True(t, ok, "%s: %s missing", s.name, metric) {
				assert.Equal(t, *want, v, "%s: %s", s.name, metric)
			}
		}
	}
	m.Observe(api, autoscaler.Check{Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 7}}, 3*time.Second)

	const want = `
# HELP fast_autoscaler_checks_total Checks by result: ok, error (the metric read failed), overload (the source reported overload).
# TYPE fast_autoscaler_checks_total counter
fast_autoscaler_checks_total{cluster="app",result="error",service="api"} 0
fast_autoscaler_checks_total{cluster="app",result="error",service="web"} 2
fast_autoscaler_checks_total{cluster="app",result="ok",service="api"} 1
fast_autoscaler_checks_total{cluster="app",result="ok",service="web"} 14
fast_autoscaler_checks_total{cluster="app",result="overload",service="api"} 0
fast_autoscaler_checks_total{cluster="app",result="overload",service="web"} 1
# HELP fast_autoscaler_scaleouts_total Scale-out attempts by result: scaled_out, held_at_max (already at the cap), scale_failed, paused (the service is paused), in_grace (a scale-out recorded on the service, by another process or before a restart, is in its grace period), dry_run (decided, not made), held_starting (the tasks asked for last have not started), held_suspended (scale-out suspended on the scalable target), scale_unknown (the update's outcome was unknown; the service was read at once to tell whether it landed).
# TYPE fast_autoscaler_scaleouts_total counter
fast_autoscaler_scaleouts_total{cluster="app",result="dry_run",service="api"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="dry_run",service="web"} 1
fast_autoscaler_scaleouts_total{cluster="app",result="held_at_max",service="api"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="held_at_max",service="web"} 1
fast_autoscaler_scaleouts_total{cluster="app",result="held_starting",service="api"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="held_starting",service="web"} 1
fast_autoscaler_scaleouts_total{cluster="app",result="held_suspended",service="api"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="held_suspended",service="web"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="in_grace",service="api"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="in_grace",service="web"} 1
fast_autoscaler_scaleouts_total{cluster="app",result="paused",service="api"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="paused",service="web"} 1
fast_autoscaler_scaleouts_total{cluster="app",result="scale_failed",service="api"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="scale_failed",service="web"} 2
fast_autoscaler_scaleouts_total{cluster="app",result="scale_unknown",service="api"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="scale_unknown",service="web"} 3
fast_autoscaler_scaleouts_total{cluster="app",result="scaled_out",service="api"} 0
fast_autoscaler_scaleouts_total{cluster="app",result="scaled_out",service="web"} 1
# HELP fast_autoscaler_reading Value of the service's last successful metric reading (e.g. nginx active connections); absent before the first and while the last read failed.
# TYPE fast_autoscaler_reading gauge
fast_autoscaler_reading{cluster="app",service="api"} 7
fast_autoscaler_reading{cluster="app",service="web"} 260
# HELP fast_autoscaler_desired_count Desired task count found or set by the service's last scale-out attempt.
# TYPE fast_autoscaler_desired_count gauge
fast_autoscaler_desired_count{cluster="app",service="web"} 24
# HELP fast_autoscaler_requested_desired_count Desired task count set by the service's last scale-out (never by a dry run).
# TYPE fast_autoscaler_requested_desired_count gauge
fast_autoscaler_requested_desired_count{cluster="app",service="web"} 24
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"fast_autoscaler_checks_total", "fast_autoscaler_scaleouts_total", "fast_autoscaler_reading",
		"fast_autoscaler_desired_count", "fast_autoscaler_requested_desired_count"))

	got := snapshot(t, reg)
	assert.Equal(t, 17.0, got[key(web, "check_duration_seconds_count", "")])
	assert.Equal(t, 1.0, got[key(api, "check_duration_seconds_count", "")])
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "fast_autoscaler_check_duration_seconds" {
			continue
		}
		for _, mm := range mf.GetMetric() {
			h := mm.GetHistogram()
			bounds := h.GetBucket()
			if mm.GetLabel()[1].GetValue() == "web" {
				assert.InDelta(t, 17*0.020, h.GetSampleSum(), 1e-9, "took, in seconds")
				for _, bk := range bounds { // every check took 20 ms
					want := uint64(0)
					if bk.GetUpperBound() >= 0.020 {
						want = 17
					}
					assert.Equal(t, want, bk.GetCumulativeCount(), "bucket le=%v", bk.GetUpperBound())
				}
			}
			assert.Equal(t, 0.001, bounds[0].GetUpperBound(), "buckets start at 1 ms")
			assert.Equal(t, 30.0, bounds[len(bounds)-1].GetUpperBound(), "buckets end at 30 s")
		}
	}
}

func f(v float64) *float64 { return &v }

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// at is t0 plus secs seconds; ts is the same as a Unix timestamp.
func at(secs int) time.Time { return t0.Add(time.Duration(secs) * time.Second) }
func ts(secs int) float64   { return float64(at(secs).Unix()) }

func TestForget(t *testing.T) {
	m, reg := newMetrics(t)
	scaled := autoscaler.Check{Outcome: autoscaler.ScaledOut, Reading: autoscaler.Reading{Value: 500}, DesiredCur: 2, DesiredNew: 10}
	m.Observe(web, scaled, time.Millisecond)
	m.Observe(api, scaled, time.Millisecond)

	m.Forget(web)
	m.Forget(scaler.ServiceID{Cluster: "nowhere", Name: "never"}) // unknown: no effect

	var left []string
	for k := range snapshot(t, reg) {
		assert.NotContains(t, k, `service="web"`)
		if strings.Contains(k, `service="api"`) {
			left = append(left, k)
		}
	}
	sort.Strings(left)
	assert.Len(t, left, 20, "api keeps all its series: %v", left)

	m.Observe(web, autoscaler.Check{Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 1}}, time.Millisecond)
	got := snapshot(t, reg)
	assert.Equal(t, 1.0, got[key(web, "checks_total", "ok")], "a service seen again starts from zero")
	assert.Equal(t, 0.0, got[key(web, "scaleouts_total", "scaled_out")])
	assert.NotContains(t, got, key(web, "desired_count", ""))
}

func TestObserveDoesNotAllocate(t *testing.T) {
	m, _ := newMetrics(t)
	idle := autoscaler.Check{Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 12}}
	failed := autoscaler.Check{Outcome: autoscaler.ReadFailed, Err: errors.New("refused")}
	m.Observe(web, idle, time.Millisecond) // first sight creates the series
	assert.Zero(t, testing.AllocsPerRun(100, func() { m.Observe(web, idle, time.Millisecond) }), "idle check")
	assert.Zero(t, testing.AllocsPerRun(100, func() { m.Observe(web, failed, time.Millisecond) }), "failed read")
}

func TestConfigReloadAndBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Options{Registerer: reg})
	require.NoError(t, err)
	m.ConfigReload(metrics.ReloadOK)
	m.ConfigReload(metrics.ReloadOK)
	m.ConfigReload(metrics.ReloadInvalid)
	m.ConfigReload("bad\xffutf8") // no panic on an odd value

	want := fmt.Sprintf(`
# HELP fast_autoscaler_build_info Always 1; labelled with the version and the Go version that built it.
# TYPE fast_autoscaler_build_info gauge
fast_autoscaler_build_info{go_version=%q,version="devel"} 1
# HELP fast_autoscaler_config_reloads_total Config reloads by result: ok, invalid, error.
# TYPE fast_autoscaler_config_reloads_total counter
fast_autoscaler_config_reloads_total{result="bad%sutf8"} 1
fast_autoscaler_config_reloads_total{result="error"} 0
fast_autoscaler_config_reloads_total{result="invalid"} 1
fast_autoscaler_config_reloads_total{result="ok"} 2
`, runtime.Version(), "\ufffd")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"fast_autoscaler_build_info", "fast_autoscaler_config_reloads_total"))
}

func TestInvalidUTF8ServiceDoesNotPanic(t *testing.T) {
	m, reg := newMetrics(t)
	odd := scaler.ServiceID{Cluster: "app", Name: "w\xffb"}
	m.Observe(odd, autoscaler.Check{Outcome: autoscaler.ScaledOut, Reading: autoscaler.Reading{Value: 200}, DesiredNew: 10}, 0)
	assert.Equal(t, 1.0, snapshot(t, reg)[key(scaler.ServiceID{Cluster: "app", Name: "w\ufffdb"}, "scaleouts_total", "scaled_out")])
	m.Forget(odd)
	assert.NotContains(t, snapshot(t, reg), key(scaler.ServiceID{Cluster: "app", Name: "w\ufffdb"}, "reading", ""))
}

func TestNewErrors(t *testing.T) {
	_, err := metrics.New(metrics.Options{})
	require.ErrorContains(t, err, "Registerer is required")

	reg := prometheus.NewRegistry()
	_, err = metrics.New(metrics.Options{Registerer: reg})
	require.NoError(t, err)
	_, err = metrics.New(metrics.Options{Registerer: reg})
	var dup prometheus.AlreadyRegisteredError
	require.ErrorAs(t, err, &dup, "registering twice is an error, not a panic")

	// A clash part-way through registers nothing: the registry stays usable.
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "fast_autoscaler_build_info", Help: "someone else's"}))
	_, err = metrics.New(metrics.Options{Registerer: clash})
	require.Error(t, err)
	mfs, err := clash.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 1, "only the clashing collector is left")
}

func BenchmarkObserveIdle(b *testing.B) {
	m, _ := newMetrics(b)
	idle := autoscaler.Check{Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 12}}
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(web, idle, time.Millisecond)
	}
}

// BenchmarkObserveNewService reports what the first check of a service
// costs, its series included: B/op is the memory each watched service adds.
func BenchmarkObserveNewService(b *testing.B) {
	m, _ := newMetrics(b)
	idle := autoscaler.Check{Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 12}}
	ids := make([]scaler.ServiceID, b.N)
	for i := range ids {
		ids[i] = scaler.ServiceID{Cluster: "app", Name: fmt.Sprintf("svc-%d", i)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Observe(ids[i], idle, time.Millisecond)
	}
}

// BenchmarkScrapeThousandServices reports what one scrape of /metrics costs
// with 1,000 services watched, through the handler the binary serves (the
// answer discarded): B/op is the garbage a scrape leaves.
func BenchmarkScrapeThousandServices(b *testing.B) {
	m, reg := newMetrics(b)
	idle := autoscaler.Check{Outcome: autoscaler.Idle, Reading: autoscaler.Reading{Value: 12}}
	for i := range 1000 {
		m.Observe(scaler.ServiceID{Cluster: "app", Name: fmt.Sprintf("svc-%d", i)}, idle, time.Millisecond)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.code, w.n = 0, 0
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK || w.n < 1000*1000 {
			b.Fatalf("scrape: HTTP %d, %d bytes", w.code, w.n)
		}
	}
}

// discardWriter is an http.ResponseWriter that keeps only the status and
// the body's length.
type discardWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *discardWriter) Header() http.Header  { return w.header }
func (w *discardWriter) WriteHeader(code int) { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
