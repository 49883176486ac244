package stubstatus

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// fakeTasks is an in-process transport playing every task's nginx, for
// tests on fake time (testing/synctest: no sockets). A task whose IP is in
// hang never answers; while gate is set, every other request waits for it.
type fakeTasks struct {
	hang     map[string]bool
	gate     chan struct{}
	inFlight atomic.Int32
	peak     atomic.Int32
}

func (f *fakeTasks) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.hang[req.URL.Hostname()] {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader(nginxBody)), Request: req}, nil
}

func listed(tasks ...scaler.Task) TaskLister {
	return TaskListerFunc(func(context.Context, scaler.ServiceID) ([]scaler.Task, error) { return tasks, nil })
}

func TestTaskSourceBoundsRequestsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeTasks{gate: make(chan struct{})}
		var tasks []scaler.Task
		for i := range 10 {
			tasks = append(tasks, running(fmt.Sprint("t", i), fmt.Sprint("10.0.0.", i+1)))
		}
		src, err := NewTaskSource(TaskOptions{Service: web, Lister: listed(tasks...), URL: "http://{ip}/s",
			Timeout: time.Second, MaxInFlight: 3, Client: &http.Client{Transport: ft}})
		require.NoError(t, err)

		done := make(chan autoscaler.Reading)
		go func() {
			r, err := src.Read(context.Background())
			assert.NoError(t, err)
			done <- r
		}()
		synctest.Wait()
		assert.EqualValues(t, 3, ft.inFlight.Load(), "three requests in flight, the rest waiting")
		close(ft.gate)
		r := <-done
		assert.Equal(t, autoscaler.Reading{Value: 291, Total: 2910, Tasks: 10}, r)
		assert.EqualValues(t, 3, ft.peak.Load())
	})
}

// One hung task costs its service's check exactly StatusTimeout, and
// another service's checks stay on their schedule, on fake time.
func TestHungTaskKeepsChecksOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeTasks{hang: map[string]bool{"10.0.0.2": true}}
		client := &http.Client{Transport: ft}
		const interval, timeout = time.Second, 800 * time.Millisecond
		source := func(name string, tasks ...scaler.Task) autoscaler.Service {
			id := scaler.ServiceID{Cluster: "shop", Name: name}
			src, err := NewTaskSource(TaskOptions{Service: id, Lister: listed(tasks...), URL: "http://{ip}/s",
				Timeout: timeout, Client: client})
			require.NoError(t, err)
			p := autoscaler.DefaultPolicy()
			p.CheckInterval, p.ScaleoutThreshold = interval, 1000
			return autoscaler.Service{Cluster: "shop", Name: name, Source: src, Policy: p}
		}
		hung := source("hung", running("a1", "10.0.0.1"), running("a2", "10.0.0.2"))
		calm := source("calm", running("b1", "10.0.0.3"))

		type check struct {
			at   time.Duration
			took time.Duration
			r    autoscaler.Reading
		}
		var mu sync.Mutex
		checks := map[string][]check{}
		start := time.Now()
		obs := autoscaler.ObserverFunc(func(svc scaler.ServiceID, c autoscaler.Check, took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			checks[svc.Name] = append(checks[svc.Name], check{c.Time.Sub(start), took, c.Reading})
		})
		eng, err := autoscaler.New([]autoscaler.Service{hung, calm}, autoscaler.Options{Scaler: scaler.NewMemory(), Observer: obs})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error)
		go func() { stopped <- eng.Run(ctx) }()
		time.Sleep(5*interval + 900*time.Millisecond) // the sixth hung check ends at 5.8 s
		cancel()
		require.NoError(t, <-stopped)

		mu.Lock()
		defer mu.Unlock()
		require.Len(t, checks["calm"], 6)
		require.Len(t, checks["hung"], 6)
		for i, c := range checks["calm"] {
			assert.Equal(t, time.Duration(i)*interval, c.at, "calm check %d on time", i)
			assert.Zero(t, c.took)
			assert.Equal(t, 1, c.r.Tasks)
		}
		for i, c := range checks["hung"] {
			assert.Equal(t, time.Duration(i)*interval, c.at, "hung check %d on time", i)
			assert.Equal(t, timeout, c.took, "the hung task costs exactly StatusTimeout")
			assert.Equal(t, autoscaler.Reading{Value: 291, Total: 291, Tasks: 1, Unanswered: 1}, c.r)
		}
	})
}
