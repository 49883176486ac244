package autoscaler_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

func svcID(name string) scaler.ServiceID { return scaler.ServiceID{Cluster: "c", Name: name} }

func TestEngineUpdateAddsRemovesAndChangesServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		a, b, c := newCounter(mock, autoscaler.Reading{Value: 1}), newCounter(mock, autoscaler.Reading{Value: 1}), newCounter(mock, autoscaler.Reading{Value: 1})
		mem := memWith(3, "a", "b", "c")
		eng, err := autoscaler.New([]autoscaler.Service{newService("a", a, nil), newService("b", b, nil)},
			autoscaler.Options{Scaler: mem, Clock: mock})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		defer stop()
		advance(mock, 3*time.Second)

		// Remove b, add c, change a's interval to 10 s.
		changed := newService("a", a, nil)
		changed.Policy.CheckInterval = 10 * time.Second
		require.NoError(t, eng.Update([]autoscaler.Service{changed, newService("c", c, nil)}))
		synctest.Wait()
		assert.Equal(t, []scaler.ServiceID{svcID("a"), svcID("c")}, eng.Services())
		assert.Equal(t, secs(3), c.times(), "an added service is checked at once")

		for range 10 {
			advance(mock, 3*time.Second)
		}
		assert.Equal(t, secs(0, 3), b.times(), "a removed service is checked no more")
		// a was due at 6 s on its old schedule; from then on every 10 s.
		assert.Equal(t, secs(0, 3, 6, 16, 26), a.times())
		assert.Len(t, c.times(), 11)
	})
}

func TestEngineUpdateKeepsGracePeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		hot := newCounter(mock, autoscaler.Reading{Value: 500})
		mem := memWith(3, "hot")
		eng, err := autoscaler.New([]autoscaler.Service{newService("hot", hot, nil)}, autoscaler.Options{Scaler: mem, Clock: mock})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		defer stop()
		require.Len(t, mem.Updates(), 1, "scaled out on the first check")

		advance(mock, 60*time.Second)
		// The same service again (a reload with nothing changed), and again
		// with a new threshold: neither resets the grace period.
		require.NoError(t, eng.Update([]autoscaler.Service{newService("hot", hot, nil)}))
		changed := newService("hot", hot, nil)
		changed.Policy.ScaleoutThreshold = 1000
		require.NoError(t, eng.Update([]autoscaler.Service{changed}))
		advance(mock, 119*time.Second)
		assert.Equal(t, secs(0), hot.times(), "still in the grace period that began at 0 s")
		advance(mock, time.Second)
		assert.Equal(t, secs(0, 180), hot.times())
		assert.Len(t, mem.Updates(), 1, "the new threshold (1000) applied: 500 no longer scales out")
	})
}

func TestEngineUpdateRejectsInvalidSetAndKeepsTheOld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		a := newCounter(mock, autoscaler.Reading{Value: 1})
		eng, err := autoscaler.New([]autoscaler.Service{newService("a", a, nil)}, autoscaler.Options{Scaler: memWith(3, "a"), Clock: mock})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		defer stop()

		bad := newService("b", a, nil)
		bad.Policy.GracePeriod = 0
		err = eng.Update([]autoscaler.Service{bad})
		require.ErrorContains(t, err, "services[0]: service c/b: GracePeriod: must be > 0")
		assert.ErrorContains(t, eng.Update(nil), "no services")
		assert.Equal(t, []scaler.ServiceID{svcID("a")}, eng.Services())
		advance(mock, 3*time.Second)
		assert.Len(t, a.times(), 2, "the old service still runs")
	})
}

func TestEngineStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		release := make(chan struct{})
		hung := autoscaler.MetricSourceFunc(func(ctx context.Context) (autoscaler.Reading, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return autoscaler.Reading{Value: 1}, nil
		})
		fine := newCounter(mock, autoscaler.Reading{Value: 1})
		eng, err := autoscaler.New([]autoscaler.Service{newService("hung", hung, nil), newService("fine", fine, nil)},
			autoscaler.Options{Scaler: memWith(3, "hung", "fine"), Clock: mock, StuckAfter: time.Minute})
		require.NoError(t, err)
		assert.Equal(t, []scaler.ServiceID{svcID("fine"), svcID("hung")}, eng.Stuck(mock.Now()), "nothing runs before Run")

		stop := runEngine(t, eng)
		assert.Empty(t, eng.Stuck(mock.Now()))
		advance(mock, 63*time.Second)
		assert.Empty(t, eng.Stuck(mock.Now()), "StuckAfter beyond the check interval (3 s) is not yet stuck")
		advance(mock, time.Second)
		assert.Equal(t, []scaler.ServiceID{svcID("hung")}, eng.Stuck(mock.Now()))

		close(release)
		synctest.Wait()
		assert.Empty(t, eng.Stuck(mock.Now()), "back to its schedule")
		stop()
		assert.Len(t, eng.Stuck(mock.Now()), 2, "nothing runs after Run returns")
	})
}

func TestEngineObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		type seen struct {
			svc     scaler.ServiceID
			outcome autoscaler.Outcome
		}
		var mu sync.Mutex
		var got []seen
		obs := autoscaler.ObserverFunc(func(svc scaler.ServiceID, c autoscaler.Check, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, seen{svc, c.Outcome})
		})
		eng, err := autoscaler.New([]autoscaler.Service{newService("hot", newCounter(mock, autoscaler.Reading{Value: 500}), nil)},
			autoscaler.Options{Scaler: memWith(3, "hot"), Clock: mock, Observer: obs})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		advance(mock, 180*time.Second)
		stop()
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []seen{{svcID("hot"), autoscaler.ScaledOut}, {svcID("hot"), autoscaler.ScaledOut}}, got)
	})
}

// serviceObserver counts the observers it hands out and what each saw; its
// Observe must never be called.
type serviceObserver struct {
	mu      sync.Mutex
	handed  map[scaler.ServiceID]int
	seen    map[scaler.ServiceID][]autoscaler.Outcome
	general int
}

func (o *serviceObserver) Observe(scaler.ServiceID, autoscaler.Check, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.general++
}

func (o *serviceObserver) ForService(svc scaler.ServiceID) func(*autoscaler.Check, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handed[svc]++
	return func(c *autoscaler.Check, _ time.Duration) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.seen[svc] = append(o.seen[svc], c.Outcome)
	}
}

// An Observer that hands out one observer per service is asked once a
// service, and each service's checks go to its own.
func TestEngineServiceObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		obs := &serviceObserver{handed: map[scaler.ServiceID]int{}, seen: map[scaler.ServiceID][]autoscaler.Outcome{}}
		eng, err := autoscaler.New([]autoscaler.Service{
			newService("hot", newCounter(mock, autoscaler.Reading{Value: 500}), nil),
			newService("calm", newCounter(mock, autoscaler.Reading{Value: 1}), nil),
		}, autoscaler.Options{Scaler: memWith(3, "hot", "calm"), Clock: mock, Observer: obs})
		require.NoError(t, err)
		stop := runEngine(t, eng)
		advance(mock, 6*time.Second)
		stop()
		obs.mu.Lock()
		defer obs.mu.Unlock()
		assert.Equal(t, map[scaler.ServiceID]int{svcID("hot"): 1, svcID("calm"): 1}, obs.handed)
		assert.Equal(t, autoscaler.ScaledOut, obs.seen[svcID("hot")][0])
		assert.Len(t, obs.seen[svcID("calm")], 3, "checks at 0, 3 and 6 s")
		assert.Zero(t, obs.general, "Observe is not called when ForService is there")
	})
}
