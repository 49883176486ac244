package simulate

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// decision is what both the engine and the simulator report of one scale
// decision by fast-autoscaler.
type decision struct {
	At         time.Duration
	Action     string
	Value      float64
	Overload   bool
	Cur, New   int
	ScalerFrom int // -1 when no update was made
}

// TestSameDecisionsAsEngine drives the real autoscaler.Engine on a mock clock
// and the simulator's Watcher.Step loop with the same readings, and compares
// the scale decisions: the simulation shares the decision code with run.
func TestSameDecisionsAsEngine(t *testing.T) {
	const (
		initial  = 2
		capacity = 250.0
		length   = 14 * time.Minute // under 15 minutes: target tracking cannot scale in
	)
	policy := autoscaler.Policy{ScaleoutThreshold: 100, MinDesiredCount: 2, MaxDesiredCount: 40,
		CheckInterval: 2 * time.Second, GracePeriod: 30 * time.Second, AlertAfterFailures: 5}
	// perTask is the load on each task at d after the start: quiet, a
	// one-check blip, a plateau over the threshold, overload (503), then a
	// load flickering around the threshold.
	perTask := func(d time.Duration) float64 {
		s := int(d / time.Second)
		switch {
		case s < 60:
			return 50
		case s < 62:
			return 150
		case s < 200:
			return 80
		case s < 250:
			return 120
		case s < 300:
			return 300
		case s < 400:
			return 80
		case (s/7)%2 == 0:
			return 90
		}
		return 110
	}
	want := engineDecisions(t, policy, initial, capacity, length, perTask)

	tr := &Trace{Name: "readings", Start: time.Unix(0, 0).UTC()}
	for d := time.Duration(0); d <= length; d += time.Second {
		tr.Points = append(tr.Points, Point{At: d, Conns: initial * perTask(d)})
	}
	res, err := Simulate(t.Context(), tr, Options{Cluster: "c", Name: "s", Policy: policy, Initial: initial,
		// Tasks run at once (as in the engine's scaler) but never serve, so
		// the readings stay as scripted.
		Startup: time.Nanosecond, RegisterDelay: 100 * time.Hour,
		TaskCapacity: capacity, Target: math.MaxFloat64})
	require.NoError(t, err)
	var got []decision
	for _, ev := range res.Fast.Events {
		require.Equal(t, FastAutoscaler, ev.By, "target tracking must stay out of this comparison")
		from := -1
		if ev.Action == "scale_out" {
			from = ev.DesiredCur
		}
		got = append(got, decision{ev.At, ev.Action, ev.Reading, ev.Overload, ev.DesiredCur, ev.DesiredNew, from})
	}

	require.NotEmpty(t, want)
	assert.Equal(t, want, got)
	// The script reaches every path: the blip, a plain scale-out, the 503
	// rule, the cap, and holding at it.
	var kinds []string
	for _, d := range want {
		kinds = append(kinds, fmt.Sprintf("%s/%v/%d", d.Action, d.Overload, d.New))
	}
	assert.Subset(t, kinds, []string{"scale_out/false/4", "scale_out/false/8", "scale_out/true/32", "scale_out/true/40", "at_max/false/40"})
}

// engineDecisions runs the engine on a mock clock inside a synctest bubble
// for length, reading perTask, and returns its decisions.
func engineDecisions(t *testing.T, policy autoscaler.Policy, initial int, capacity float64, length time.Duration,
	perTask func(time.Duration) float64) []decision {
	t.Helper()
	var out []decision
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		start := mock.Now()
		id := scaler.ServiceID{Cluster: "c", Name: "s"}
		mem := &scaler.Memory{StartAtOnce: true}
		mem.Put(id, scaler.State{Desired: initial, Running: initial, Status: "ACTIVE"})
		var events []notify.Event
		svc := autoscaler.Service{Cluster: id.Cluster, Name: id.Name, Policy: policy,
			Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
				v := perTask(mock.Now().Sub(start))
				if v > capacity {
					return autoscaler.Reading{Overload: true}, nil
				}
				return autoscaler.Reading{Value: v}, nil
			}),
			Notifier: notify.NotifierFunc(func(_ context.Context, ev notify.Event) error {
				events = append(events, ev)
				return nil
			}),
		}
		eng, err := autoscaler.New([]autoscaler.Service{svc}, autoscaler.Options{Scaler: mem, Clock: mock})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- eng.Run(ctx) }()
		synctest.Wait()
		for mock.Now().Sub(start) < length {
			mock.Add(time.Second)
			synctest.Wait()
		}
		cancel()
		require.NoError(t, <-done)

		updates := mem.Updates()
		for _, ev := range events {
			from := -1
			if ev.Kind == notify.ScaledOut {
				require.NotEmpty(t, updates)
				from, updates = updates[0].From, updates[1:]
			}
			out = append(out, decision{ev.Time.Sub(start), action(ev.Kind), ev.Value, ev.Overload, ev.DesiredCur, ev.DesiredNew, from})
		}
		assert.Empty(t, updates, "every update was notified")
	})
	return out
}

// exampleApp returns the policy of the bundled config's first service.
func exampleApp(t *testing.T) autoscaler.Policy {
	t.Helper()
	cfg, err := configsrc.Load(t.Context(), configsrc.File{Path: filepath.Join("..", "..", "examples", "config.json")})
	require.NoError(t, err)
	return cfg.Services[0].Policy
}

func flashSale(t testing.TB) *Trace {
	tr, err := LoadTrace(filepath.Join("..", "..", "examples", "traces", "flash-sale.csv"))
	require.NoError(t, err)
	return tr
}

// TestFlashSale: with the bundled config and at default settings,
// fast-autoscaler scales out within one check interval of the first trace
// reading over the threshold, then not again until the grace period has
// passed.
func TestFlashSale(t *testing.T) {
	tr := flashSale(t)
	for name, policy := range map[string]autoscaler.Policy{
		"bundled config": exampleApp(t),
		"DefaultPolicy":  autoscaler.DefaultPolicy(),
	} {
		t.Run(name, func(t *testing.T) {
			res, err := Simulate(t.Context(), tr, Options{Policy: policy})
			require.NoError(t, err)
			initial := float64(policy.MinDesiredCount)
			conns := func(at time.Duration) float64 {
				i := sort.Search(len(tr.Points), func(i int) bool { return tr.Points[i].At > at })
				return tr.Points[i-1].Conns
			}

			var crossing, firstRead time.Duration = -1, -1
			for _, p := range tr.Points {
				if p.Conns/initial > policy.ScaleoutThreshold {
					crossing = p.At
					break
				}
			}
			for at := time.Duration(0); at <= tr.Duration(); at += policy.CheckInterval {
				if conns(at)/initial > policy.ScaleoutThreshold {
					firstRead = at
					break
				}
			}
			require.GreaterOrEqual(t, crossing, time.Duration(0), "the trace crosses the threshold")
			require.GreaterOrEqual(t, firstRead, time.Duration(0), "a check reads it")
			assert.Equal(t, crossing, res.Fast.Summary.FirstCrossing)

			var outs []time.Duration
			for _, ev := range res.Fast.Events {
				if ev.By == FastAutoscaler {
					outs = append(outs, ev.At)
				}
			}
			require.NotEmpty(t, outs)
			assert.Equal(t, firstRead, outs[0], "scale-out at the first check that reads a load over the threshold")
			assert.LessOrEqual(t, outs[0]-crossing, policy.CheckInterval, "within one check interval of the crossing")
			for _, at := range outs[1:] {
				assert.GreaterOrEqual(t, at-outs[0], policy.GracePeriod, "nothing more within the grace period")
			}
			assert.Equal(t, 2*int(initial), res.Fast.Events[0].DesiredNew)
		})
	}
}

// TestFlashSaleSummary pins the bundled example: fast-autoscaler has enough
// ready capacity a startup time after the crossing; target tracking alone
// takes three datapoints more.
func TestFlashSaleSummary(t *testing.T) {
	res, err := Simulate(t.Context(), flashSale(t), Options{Policy: exampleApp(t)})
	require.NoError(t, err)
	f, m := res.Fast.Summary, res.Managed.Summary
	require.True(t, f.Recovered)
	require.True(t, m.Recovered)
	assert.LessOrEqual(t, f.TimeToCapacity, DefaultStartup+exampleApp(t).CheckInterval)
	assert.Greater(t, m.TimeToCapacity, 3*time.Minute)
	assert.Equal(t, f.FirstCrossing, m.FirstCrossing, "both runs see the same traffic")
	assert.Less(t, f.OverThreshold, m.OverThreshold)
	assert.Equal(t, 10, f.PeakDesired)
	assert.InDelta(t, m.TaskHours, f.TaskHours, 0.5, "the early scale-out costs little")

	// Target tracking acts on minute boundaries, from the ready count.
	for _, ev := range res.Managed.Events {
		assert.Equal(t, TargetTracking, ev.By)
		assert.Zero(t, ev.At%time.Minute)
	}
}

func TestBlipCausesNoScaleOut(t *testing.T) {
	tr, err := LoadTrace(filepath.Join("..", "..", "examples", "traces", "blip.csv"))
	require.NoError(t, err)
	for _, policy := range []autoscaler.Policy{exampleApp(t), autoscaler.DefaultPolicy()} {
		res, err := Simulate(t.Context(), tr, Options{Policy: policy})
		require.NoError(t, err)
		assert.Empty(t, res.Fast.Events)
		assert.Empty(t, res.Managed.Events)
		assert.False(t, res.Fast.Summary.Crossed)
	}
}

func TestModelTimeline(t *testing.T) {
	// 4 tasks at 50 each, then 400 each from 10 s: fast-autoscaler (check
	// every 5 s) doubles to 8 at 10 s; they are ready at 40 s.
	tr := &Trace{Name: "step", Start: time.Unix(0, 0).UTC(), Points: []Point{{0, 200}, {10 * time.Second, 1600}, {5 * time.Minute, 1600}}}
	policy := autoscaler.DefaultPolicy()
	policy.ScaleoutThreshold, policy.MinDesiredCount, policy.CheckInterval = 100, 4, 5*time.Second
	res, err := Simulate(t.Context(), tr, Options{Policy: policy, Startup: 30 * time.Second, TaskCapacity: 300})
	require.NoError(t, err)

	ev := res.Fast.Events[0]
	assert.Equal(t, Event{At: 10 * time.Second, By: FastAutoscaler, Action: "scale_out", Overload: true,
		DesiredCur: 4, DesiredNew: 8, Ready: 4}, ev, "400 a task is beyond capacity: a 503")
	s := res.Fast.Summary
	assert.Equal(t, 10*time.Second, s.FirstCrossing)
	assert.Equal(t, 30*time.Second, s.Overloaded, "400 a task until 8 are ready; then 200")
	assert.Equal(t, 400.0, s.PeakPerTask)
	// Target tracking beside it: datapoints at 1m, 2m and 3m above 100, so
	// at 3m to ceil(8 × 200 / 100) = 16. After the grace period the load
	// (200 a task) still calls for more: fast-autoscaler doubles what is
	// desired now.
	assert.Equal(t, Event{At: 3 * time.Minute, By: TargetTracking, Action: "scale_out", Reading: 200,
		DesiredCur: 8, DesiredNew: 16, Ready: 8}, res.Fast.Events[1])
	assert.Equal(t, Event{At: 190 * time.Second, By: FastAutoscaler, Action: "scale_out", Reading: 200,
		DesiredCur: 16, DesiredNew: 32, Ready: 8}, res.Fast.Events[2])
	// Target tracking alone: datapoints at 1m (avg 350), 2m and 3m (400):
	// to ceil(4 × 400 / 100) = 16 at 3m, ready at 3m30s.
	require.Len(t, res.Managed.Events, 1)
	assert.Equal(t, Event{At: 3 * time.Minute, By: TargetTracking, Action: "scale_out", Reading: 400,
		DesiredCur: 4, DesiredNew: 16, Ready: 4}, res.Managed.Events[0])
	m := res.Managed.Summary
	require.True(t, m.Recovered)
	assert.Equal(t, 3*time.Minute+20*time.Second, m.TimeToCapacity)
	assert.InDelta(t, (4*180.0+16*120)/3600, m.TaskHours, 1e-9, "desired tasks are billed from their request")
	assert.Equal(t, Sample{At: 210 * time.Second, Conns: 1600, PerTask: 100, Desired: 16, Ready: 16},
		res.Managed.Samples[len(res.Managed.Samples)-1])
}

func TestOptionsErrors(t *testing.T) {
	tr := &Trace{Name: "t", Points: []Point{{0, 1}, {time.Second, 1}}}
	bad := autoscaler.DefaultPolicy()
	bad.ScaleoutThreshold = -1
	for name, opts := range map[string]Options{
		"invalid policy":    {Policy: bad},
		"negative initial":  {Policy: autoscaler.DefaultPolicy(), Initial: -1},
		"negative startup":  {Policy: autoscaler.DefaultPolicy(), Startup: -time.Second},
		"negative capacity": {Policy: autoscaler.DefaultPolicy(), TaskCapacity: -1},
		"NaN target":        {Policy: autoscaler.DefaultPolicy(), Target: math.NaN()},
		"negative delay":    {Policy: autoscaler.DefaultPolicy(), RegisterDelay: -time.Second},
		"30 s datapoints":   {Policy: autoscaler.DefaultPolicy(), TTResolution: 30 * time.Second},
	} {
		_, err := Simulate(t.Context(), tr, opts)
		assert.Error(t, err, name)
	}
	_, err := Simulate(t.Context(), &Trace{Name: "t", Points: []Point{{0, 1}}}, Options{Policy: autoscaler.DefaultPolicy()})
	assert.Error(t, err, "a one-row trace")
}

func TestDeterministicJSON(t *testing.T) {
	run := func() []byte {
		res, err := Simulate(t.Context(), flashSale(t), Options{Policy: exampleApp(t), TaskCapacity: 150})
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, WriteJSON(&b, []*Result{res, res}))
		return b.Bytes()
	}
	first := run()
	assert.Equal(t, first, run())
	assert.Contains(t, string(first), `"time_to_capacity_s": 62,`)
	assert.Contains(t, string(first), `"by": "fast-autoscaler"`)
}

func TestWriteText(t *testing.T) {
	res, err := Simulate(t.Context(), flashSale(t), Options{Cluster: "example-app", Name: "example-app", Policy: exampleApp(t)})
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, WriteText(&b, res))
	out := b.String()
	for _, want := range []string{
		"example-app/example-app on ",
		"fast-autoscaler + target tracking:",
		"+10m18s  fast-autoscaler  scale out  112.0/task",
		"5 -> 10",
		"target tracking alone (model):",
		"time to enough ready capacity   1m02s               3m44s",
		"task-hours",
	} {
		assert.Contains(t, out, want)
	}
}

// TestRegisterDelayModel: a task runs Startup after its request and serves
// RegisterDelay after that; the reading is a serving task's share, and the
// state the watcher reads counts it running from the first moment.
func TestRegisterDelayModel(t *testing.T) {
	tr := &Trace{Name: "step", Start: time.Unix(0, 0).UTC(), Points: []Point{{0, 200}, {10 * time.Second, 1600}, {5 * time.Minute, 1600}}}
	policy := autoscaler.DefaultPolicy()
	policy.ScaleoutThreshold, policy.MinDesiredCount, policy.CheckInterval = 100, 4, 5*time.Second
	res, err := Simulate(t.Context(), tr, Options{Policy: policy, Startup: 30 * time.Second, RegisterDelay: 20 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, Event{At: 10 * time.Second, By: FastAutoscaler, Action: "scale_out", Reading: 400,
		DesiredCur: 4, DesiredNew: 8, Ready: 4}, res.Fast.Events[0])
	var serving Sample
	for _, smp := range res.Fast.Samples {
		if smp.Ready == 8 {
			serving = smp
			break
		}
	}
	assert.Equal(t, Sample{At: 60 * time.Second, Conns: 1600, PerTask: 200, Desired: 8, Ready: 8}, serving,
		"requested at 10 s, running at 40 s, serving at 60 s: 400 a task until then")
}

// TestHighResolutionTargetTracking: with 20-second datapoints target
// tracking scales out after a minute above its target, on 20-second
// boundaries.
func TestHighResolutionTargetTracking(t *testing.T) {
	tr := &Trace{Name: "step", Start: time.Unix(0, 0).UTC(), Points: []Point{{0, 200}, {10 * time.Second, 1600}, {10 * time.Minute, 1600}}}
	policy := autoscaler.DefaultPolicy()
	policy.ScaleoutThreshold, policy.MinDesiredCount = 100, 4
	// The first 20-second datapoint (0 to 20 s) averages 225 a task: above.
	for res, at := range map[time.Duration]time.Duration{StandardResolution: 3 * time.Minute, HighResolution: time.Minute} {
		r, err := Simulate(t.Context(), tr, Options{Policy: policy, TTResolution: res})
		require.NoError(t, err)
		require.NotEmpty(t, r.Managed.Events)
		assert.Equal(t, at, r.Managed.Events[0].At, "%v datapoints", res)
		assert.Equal(t, 16, r.Managed.Events[0].DesiredNew)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                             "0s",
		45 * time.Second:              "45s",
		2500 * time.Millisecond:       "2.5s",
		5*time.Minute + 3*time.Second: "5m03s",
		63500 * time.Millisecond:      "1m03.5s",
		time.Hour + 2*time.Minute + 3*time.Second: "1h02m03s",
		24 * time.Hour:    "24h00m00s",
		-90 * time.Second: "-1m30s",
	} {
		assert.Equal(t, want, Duration(d), "%v", time.Duration(d))
	}
}

func TestWritePlot(t *testing.T) {
	res, err := Simulate(t.Context(), flashSale(t), Options{Policy: exampleApp(t), TaskCapacity: 150})
	require.NoError(t, err)
	var pngBuf, svgBuf bytes.Buffer
	require.NoError(t, WritePlot(res, &pngBuf, &svgBuf))
	img, err := png.Decode(&pngBuf)
	require.NoError(t, err)
	assert.Equal(t, 1210, img.Bounds().Dx())
	assert.Contains(t, svgBuf.String(), "<svg")
	assert.Contains(t, svgBuf.String(), "Load per ready task")
}

func TestStepXYsThinsKeepingPeaks(t *testing.T) {
	var samples []Sample
	for i := range 100_000 {
		samples = append(samples, Sample{At: time.Duration(i) * time.Second, Conns: float64(i % 7)})
	}
	samples[54_321].Conns = 1000
	xys := stepXYs(samples, 100_000*time.Second, func(d time.Duration) float64 { return d.Seconds() },
		func(s Sample) float64 { return s.Conns })
	assert.LessOrEqual(t, len(xys), maxLinePoints+2)
	peak := 0.0
	for _, p := range xys {
		peak = max(peak, p.Y)
	}
	assert.Equal(t, 1000.0, peak)
	assert.Equal(t, 100_000.0, xys[len(xys)-1].X)
}

// BenchmarkSimulateDay simulates 24 hours of a 1-second trace for one
// service, both runs.
func BenchmarkSimulateDay(b *testing.B) {
	tr := &Trace{Name: "day", Start: time.Unix(0, 0).UTC()}
	for s := range 24*3600 + 1 {
		h := float64(s) / 3600
		conns := 300 + 600*math.Max(0, math.Sin((h-6)/24*2*math.Pi)) + float64(s%13)
		tr.Points = append(tr.Points, Point{At: time.Duration(s) * time.Second, Conns: conns})
	}
	opts := Options{Policy: autoscaler.DefaultPolicy()}
	for b.Loop() {
		if _, err := Simulate(b.Context(), tr, opts); err != nil {
			b.Fatal(err)
		}
	}
}
