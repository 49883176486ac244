package autoscaler_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// counter is a MetricSource that records when (on the mock clock) it was read
// and returns whatever reading the test sets.
type counter struct {
	clock   clock.Clock
	mu      sync.Mutex
	reading autoscaler.Reading
	err     error
	at      []time.Duration // read times since start
	start   time.Time
}

func newCounter(c clock.Clock, r autoscaler.Reading) *counter {
	return &counter{clock: c, reading: r, start: c.Now()}
}

func (c *counter) Read(context.Context) (autoscaler.Reading, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = append(c.at, c.clock.Now().Sub(c.start))
	return c.reading, c.err
}

func (c *counter) set(r autoscaler.Reading) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reading = r
}

func (c *counter) times() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.at...)
}

// startEngine runs an engine for services in the background; stop cancels it
// and waits for Run to return.
func startEngine(t *testing.T, mock *clock.Mock, sc scaler.Scaler, services ...autoscaler.Service) (stop func()) {
	t.Helper()
	eng, err := autoscaler.New(services, autoscaler.Options{Scaler: sc, Clock: mock})
	require.NoError(t, err)
	return runEngine(t, eng)
}

// runEngine runs eng in the background until the returned stop is called.
func runEngine(t *testing.T, eng *autoscaler.Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	synctest.Wait() // every watcher has made its first check and armed its timer
	return func() {
		cancel()
		require.NoError(t, <-done)
	}
}

// advance moves the mock clock forward in steps, letting the watchers run
// between steps.
func advance(mock *clock.Mock, d time.Duration) {
	mock.Add(d)
	synctest.Wait()
}

func secs(s ...float64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out
}

func TestEngineChecksAtTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		src := newCounter(mock, autoscaler.Reading{Value: 1})
		stop := startEngine(t, mock, memWith(3, "a"), newService("a", src, nil))
		defer stop()

		assert.Equal(t, secs(0), src.times(), "first check at once")
		advance(mock, 2999*time.Millisecond)
		assert.Len(t, src.times(), 1, "not before the interval")
		advance(mock, time.Millisecond)
		advance(mock, 3*time.Second)
		advance(mock, 3*time.Second)
		assert.Equal(t, secs(0, 3, 6, 9), src.times())
	})
}

func TestEngineGracePeriodPausesOnlyThatService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		hot := newCounter(mock, autoscaler.Reading{Value: 500})
		calm := newCounter(mock, autoscaler.Reading{Value: 1})
		mem := memWith(3, "hot", "calm")
		stop := startEngine(t, mock, mem, newService("hot", hot, nil), newService("calm", calm, nil))
		defer stop()

		// The hot service scaled out on its first check.
		require.Equal(t, []scaler.Update{{Service: scaler.ServiceID{Cluster: "c", Name: "hot"}, From: 3, To: 10}}, mem.Updates())
		hot.set(autoscaler.Reading{Value: 1}) // the spike has passed

		for range 60 { // 180 s in 3 s steps
			advance(mock, 3*time.Second)
		}
		assert.Equal(t, secs(0, 180), hot.times(), "no checks during the grace period, then resumed")
		assert.Len(t, calm.times(), 61, "the other service kept its schedule")
		advance(mock, 3*time.Second)
		assert.Equal(t, secs(0, 180, 183), hot.times(), "back on the check interval")
		assert.Len(t, mem.Updates(), 1)
	})
}

func TestEngineScalesOutOncePerGracePeriodUnderSustainedLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		src := newCounter(mock, autoscaler.Reading{Value: 500})
		mem := memWith(3, "a")
		stop := startEngine(t, mock, mem, newService("a", src, nil))
		defer stop()

		advance(mock, 179*time.Second)
		assert.Len(t, mem.Updates(), 1)
		advance(mock, time.Second)
		assert.Equal(t, []int{10, 20}, desiredHistory(mem.Updates()))
	})
}

func TestEngineSlowServiceDoesNotDelayAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		stuck := autoscaler.MetricSourceFunc(func(ctx context.Context) (autoscaler.Reading, error) {
			<-ctx.Done() // hangs until shutdown
			return autoscaler.Reading{}, ctx.Err()
		})
		broken := newCounter(mock, autoscaler.Reading{})
		broken.err = errors.New("connection refused")
		fine := newCounter(mock, autoscaler.Reading{Value: 1})
		stop := startEngine(t, mock, memWith(3, "stuck", "broken", "fine"),
			newService("stuck", stuck, nil), newService("broken", broken, nil), newService("fine", fine, nil))

		for range 10 {
			advance(mock, 3*time.Second)
		}
		assert.Len(t, fine.times(), 11)
		assert.Len(t, broken.times(), 11, "a failing source is retried on schedule")

		// Shutdown cancels the hung read at once: only a scale-out in flight
		// is waited for.
		stop()
	})
}

func TestEngineShutdownLetsInFlightUpdateFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		mem := memWith(3, "a")
		entered, release := make(chan struct{}), make(chan struct{})
		var updateCtxErr error
		sc := slowScaler{Memory: mem, entered: entered, release: release, ctxErr: &updateCtxErr}
		src := newCounter(mock, autoscaler.Reading{Value: 500})

		eng, err := autoscaler.New([]autoscaler.Service{newService("a", src, nil)}, autoscaler.Options{Scaler: sc, Clock: mock})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- eng.Run(ctx) }()
		<-entered // UpdateService is in flight
		cancel()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Run returned with an update in flight")
		default:
		}
		close(release)
		require.NoError(t, <-done)
		assert.NoError(t, updateCtxErr, "the update's context was not cancelled by shutdown")
		assert.Equal(t, []int{10}, desiredHistory(mem.Updates()))
	})
}

func TestEngineShutdownIdleReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		stop := startEngine(t, mock, memWith(3, "a", "b"),
			newService("a", newCounter(mock, autoscaler.Reading{}), nil),
			newService("b", newCounter(mock, autoscaler.Reading{}), nil))
		stop() // returns without the clock moving: no check was in flight
		// synctest.Test itself fails if any goroutine is left behind.
	})
}

func TestEngineRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		eng, err := autoscaler.New([]autoscaler.Service{newService("a", newCounter(mock, autoscaler.Reading{}), nil)},
			autoscaler.Options{Scaler: memWith(1, "a"), Clock: mock})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.NoError(t, eng.Run(ctx))
		assert.ErrorContains(t, eng.Run(ctx), "more than once")
	})
}

func TestNewEngineValidation(t *testing.T) {
	src := fixed(autoscaler.Reading{})
	_, err := autoscaler.New([]autoscaler.Service{newService("a", src, nil)}, autoscaler.Options{})
	assert.ErrorContains(t, err, "Scaler is required")

	_, err = autoscaler.New(nil, autoscaler.Options{Scaler: scaler.NewMemory()})
	assert.ErrorContains(t, err, "no services")

	bad := newService("b", src, nil)
	bad.Policy.ScaleoutThreshold = -1
	_, err = autoscaler.New([]autoscaler.Service{newService("a", src, nil), bad, newService("a", src, nil)},
		autoscaler.Options{Scaler: scaler.NewMemory()})
	require.Error(t, err)
	assert.ErrorContains(t, err, "services[1]: service c/b: ScaleoutThreshold: must be a finite number > 0, got -1")
	assert.ErrorContains(t, err, "services[2] (c/a): same cluster and service as services[0]")
}

func desiredHistory(us []scaler.Update) []int {
	var out []int
	for _, u := range us {
		out = append(out, u.To)
	}
	return out
}

// slowScaler blocks SetDesired until released, recording its context's state.
type slowScaler struct {
	*scaler.Memory
	entered, release chan struct{}
	ctxErr           *error
}

func (s slowScaler) SetDesired(ctx context.Context, svc scaler.ServiceID, n int) error {
	close(s.entered)
	<-s.release
	*s.ctxErr = ctx.Err()
	return s.Memory.SetDesired(ctx, svc, n)
}

func TestEngineStartsNoScaleOutOnceStopping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		reading, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		src := autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
			once.Do(func() { close(reading) })
			<-release // in flight when the engine is told to stop
			return autoscaler.Reading{Value: 999}, nil
		})
		mem := memWith(3, "a")
		eng, err := autoscaler.New([]autoscaler.Service{newService("a", src, nil)}, autoscaler.Options{Scaler: mem, Clock: mock})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- eng.Run(ctx) }()
		<-reading
		cancel()
		synctest.Wait()
		close(release)
		require.NoError(t, <-done)
		assert.Empty(t, mem.Updates(), "a reading that arrives after shutdown began starts no scale-out")
	})
}

func TestEngineStaggerSpreadsChecksOverTheInterval(t *testing.T) {
	const n = 20
	firstChecks := func(t *testing.T) []time.Duration {
		var firsts []time.Duration
		synctest.Test(t, func(t *testing.T) {
			mock := clock.NewMock()
			names := make([]string, n)
			srcs := make([]*counter, n)
			services := make([]autoscaler.Service, n)
			for i := range n {
				names[i] = fmt.Sprintf("svc-%d", i)
				srcs[i] = newCounter(mock, autoscaler.Reading{Value: 1})
				services[i] = newService(names[i], srcs[i], nil)
			}
			eng, err := autoscaler.New(services, autoscaler.Options{Scaler: memWith(3, names...), Clock: mock, Stagger: true})
			require.NoError(t, err)
			stop := runEngine(t, eng)
			defer stop()
			for i, src := range srcs {
				assert.Empty(t, src.times(), "%s: no check at once", names[i])
			}
			for range 90 { // 9 s in 100 ms steps: three intervals
				advance(mock, 100*time.Millisecond)
			}
			slots := map[time.Duration]bool{}
			for i, src := range srcs {
				at := src.times()
				require.Len(t, at, 3, "%s: one check per interval", names[i])
				assert.Less(t, at[0], 3*time.Second, "%s: first check within the first interval", names[i])
				assert.Equal(t, []time.Duration{at[0], at[0] + 3*time.Second, at[0] + 6*time.Second}, at,
					"%s: later checks keep the phase", names[i])
				firsts = append(firsts, at[0])
				slots[at[0]] = true
			}
			assert.Greater(t, len(slots), n/2, "the first checks are spread, not at one time: %v", firsts)
			assert.Empty(t, eng.Stuck(mock.Now()))
		})
		return firsts
	}
	a := firstChecks(t)
	assert.Equal(t, a, firstChecks(t), "a service keeps its phase from one start to the next")
}

func TestEngineWaitingServicesHoldNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		const n = 200
		names := make([]string, n)
		services := make([]autoscaler.Service, n)
		for i := range n {
			names[i] = fmt.Sprintf("svc-%d", i)
			services[i] = newService(names[i], newCounter(mock, autoscaler.Reading{Value: 1}), nil)
		}
		before := runtime.NumGoroutine()
		eng, err := autoscaler.New(services, autoscaler.Options{Scaler: memWith(3, names...), Clock: mock})
		require.NoError(t, err)
		stop := runEngine(t, eng) // every service has made its first check and waits for the next
		defer stop()
		assert.Less(t, runtime.NumGoroutine()-before, 10, "services waiting for their next check")
		advance(mock, 3*time.Second)
		assert.Less(t, runtime.NumGoroutine()-before, 10, "after the second round of checks")
	})
}

// countedServices returns n services svc-0, svc-1, ... checked every
// interval, each read from a counter of its own.
func countedServices(mock *clock.Mock, n int, interval time.Duration) (names []string, srcs []*counter, services []autoscaler.Service) {
	for i := range n {
		names = append(names, fmt.Sprintf("svc-%d", i))
		srcs = append(srcs, newCounter(mock, autoscaler.Reading{Value: 1}))
		services = append(services, newService(names[i], srcs[i], nil))
		services[i].Policy.CheckInterval = interval
	}
	return names, srcs, services
}

func TestEngineCoalescePutsChecksOnAGrid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		const n = 30
		names, srcs, services := countedServices(mock, n, 3*time.Second)
		fast := newCounter(mock, autoscaler.Reading{Value: 1}) // a 100 ms interval: ten 10 ms steps
		fastSvc := newService("fast", fast, nil)
		fastSvc.Policy.CheckInterval = 100 * time.Millisecond
		eng, err := autoscaler.New(append(services, fastSvc), autoscaler.Options{
			Scaler: memWith(3, append(names, "fast")...), Clock: mock, Stagger: true, Coalesce: 25 * time.Millisecond})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		defer stop()
		for range 900 { // 9 s in 10 ms steps
			advance(mock, 10*time.Millisecond)
		}
		slots := map[time.Duration]int{}
		for i, src := range srcs {
			at := src.times()
			require.Len(t, at, 3, names[i])
			for _, a := range at {
				assert.Zero(t, a%(25*time.Millisecond), "%s: checked at %v, off the 25 ms grid", names[i], a)
			}
			assert.Equal(t, []time.Duration{at[0], at[0] + 3*time.Second, at[0] + 6*time.Second}, at, "%s: every 3 s", names[i])
			slots[at[0]]++
		}
		assert.Greater(t, len(slots), n/3, "still spread over the interval: %v", slots)
		at := fast.times()
		require.NotEmpty(t, at)
		for i, a := range at {
			assert.Zero(t, a%(10*time.Millisecond), "fast service checked at %v, off its 10 ms grid", a)
			if i > 0 {
				assert.InDelta(t, 100*time.Millisecond, a-at[i-1], float64(10*time.Millisecond),
					"fast service: periods stay near its interval (the mock moves in 10 ms steps)")
			}
		}
	})
}

func TestEngineCoalesceKeepsPeriodsExact(t *testing.T) {
	for _, tc := range []struct {
		interval, step time.Duration
	}{
		{time.Second, 100 * time.Millisecond},
		{1050 * time.Millisecond, 87500 * time.Microsecond}, // 11 steps of 95.45... ms would not divide it
		{250 * time.Millisecond, 25 * time.Millisecond},     // at least ten steps
		{3 * time.Second, 100 * time.Millisecond},
	} {
		t.Run(tc.interval.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mock := clock.NewMock()
				names, srcs, services := countedServices(mock, 12, tc.interval)
				eng, err := autoscaler.New(services, autoscaler.Options{
					Scaler: memWith(3, names...), Clock: mock, Stagger: true, Coalesce: 100 * time.Millisecond})
				require.NoError(t, err)
				stop := runEngine(t, eng)
				defer stop()
				start := mock.Now()
				for range 2800 { // 7 s in 2.5 ms steps, which divide every step above
					advance(mock, 2500*time.Microsecond)
				}
				for i, src := range srcs {
					at := src.times()
					require.GreaterOrEqual(t, len(at), 2, names[i])
					for k, a := range at {
						when := start.Add(a) // the grid counts from the zero time, not from the start
						assert.True(t, when.Truncate(tc.step).Equal(when), "%s: checked at %v, off the %v grid", names[i], a, tc.step)
						if k > 0 {
							assert.Equal(t, tc.interval, a-at[k-1], "%s: period %d", names[i], k)
						}
					}
				}
			})
		})
	}
}

func TestEngineCoalesceNeverChecksBeforeTheGracePeriodEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		src := newCounter(mock, autoscaler.Reading{Value: 500}) // scales out at once
		svc := newService("hot", src, nil)
		svc.Policy.CheckInterval = time.Second
		svc.Policy.GracePeriod = 10*time.Second + 10*time.Millisecond // off the 25 ms grid
		mem := memWith(3, "hot")
		eng, err := autoscaler.New([]autoscaler.Service{svc}, autoscaler.Options{Scaler: mem, Clock: mock, Coalesce: 25 * time.Millisecond})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		defer stop()
		require.Len(t, mem.Updates(), 1, "scaled out at the first check")
		st := eng.Status()
		require.Len(t, st, 1)
		assert.Equal(t, mock.Now().Add(10*time.Second+25*time.Millisecond), st[0].NextCheck, "the status shows when the check will run")
		src.set(autoscaler.Reading{Value: 1})
		for range 1200 { // 12 s in 10 ms steps
			advance(mock, 10*time.Millisecond)
		}
		at := src.times()
		require.GreaterOrEqual(t, len(at), 3)
		assert.Equal(t, 10*time.Second+25*time.Millisecond, at[1], "the grace period's end rounded up to the grid, never down")
		assert.Equal(t, at[1]+time.Second, at[2], "then every interval")
	})
}

// hangingScaler's SetDesired waits for its context (and never applies),
// or, when release is set, for release and then fails with err. Its State,
// like a real scaler's, fails on a context that has ended.
type hangingScaler struct {
	*scaler.Memory
	entered chan struct{}
	release chan struct{}
	err     error
}

func (h hangingScaler) State(ctx context.Context, svc scaler.ServiceID) (scaler.State, error) {
	if err := ctx.Err(); err != nil {
		return scaler.State{}, err
	}
	return h.Memory.State(ctx, svc)
}

func (h hangingScaler) SetDesired(ctx context.Context, _ scaler.ServiceID, _ int) error {
	close(h.entered)
	if h.release == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	<-h.release
	return h.err
}

func TestEngineShutdownGraceCutsAnUpdateOffAsUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		rec := &recorder{}
		sc := hangingScaler{Memory: memWith(3, "a"), entered: make(chan struct{})}
		eng, err := autoscaler.New([]autoscaler.Service{newService("a", newCounter(mock, autoscaler.Reading{Value: 500}), rec)},
			autoscaler.Options{Scaler: sc, Clock: mock})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- eng.Run(ctx) }()
		<-sc.entered
		cancel()
		synctest.Wait()
		advance(mock, autoscaler.DefaultShutdownGrace-time.Millisecond)
		select {
		case <-done:
			t.Fatal("Run returned before the shutdown grace, with an update in flight")
		default:
		}
		advance(mock, time.Millisecond)
		require.NoError(t, <-done)
		require.Equal(t, []notify.Kind{notify.ScaleUnknown}, rec.kinds(), "cut off, so unknown: never reported as failed")
		assert.Equal(t, 3, rec.events[0].DesiredAfter, "the service was read once, on a context of its own: the update did not land")
		assert.ErrorIs(t, rec.events[0].Err, context.Canceled)
	})
}

func TestEngineRetryCountsFromTheFailureNotTheCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		sc := hangingScaler{Memory: memWith(3, "a"), entered: make(chan struct{}), release: make(chan struct{}),
			err: errors.New("AccessDeniedException")}
		var next []time.Time
		var mu sync.Mutex
		obs := autoscaler.ObserverFunc(func(_ scaler.ServiceID, c autoscaler.Check, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			next = append(next, c.Next)
		})
		start := mock.Now()
		eng, err := autoscaler.New([]autoscaler.Service{newService("a", newCounter(mock, autoscaler.Reading{Value: 500}), nil)},
			autoscaler.Options{Scaler: sc, Clock: mock, Observer: obs})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- eng.Run(ctx) }()
		<-sc.entered
		advance(mock, 10*time.Second) // the update takes 10 s to fail
		close(sc.release)
		synctest.Wait()
		mu.Lock()
		require.Len(t, next, 1)
		assert.Equal(t, start.Add(13*time.Second), next[0], "retried CheckInterval after the failure, not in the past")
		mu.Unlock()
		cancel()
		require.NoError(t, <-done)
	})
}
