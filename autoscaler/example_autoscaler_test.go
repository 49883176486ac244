package autoscaler_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// The seed's rule: twice the larger of the current desired count and the
// floor, here capped by an optional MaxDesiredCount.
func ExamplePolicy_ScaleOutTo() {
	p := autoscaler.DefaultPolicy() // floor 5, no cap
	for _, cur := range []int{3, 8} {
		desired, _ := p.ScaleOutTo(cur)
		fmt.Printf("%d -> %d\n", cur, desired)
	}

	p.MaxDesiredCount = 12
	desired, capped := p.ScaleOutTo(8)
	fmt.Printf("8 -> %d (capped: %v)\n", desired, capped)
	// Output:
	// 3 -> 10
	// 8 -> 16
	// 8 -> 12 (capped: true)
}

// Step runs one check at an explicit time, so a test or a simulation drives
// the engine's own decision without waiting on a clock.
func ExampleWatcher_Step() {
	web := scaler.ServiceID{Cluster: "prod", Name: "web"}
	mem := scaler.NewMemory()
	mem.Put(web, scaler.State{Desired: 3, Running: 3})

	readings := []float64{120, 420} // the second crosses the threshold of 150
	src := autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
		r := autoscaler.Reading{Value: readings[0]}
		readings = readings[1:]
		return r, nil
	})
	w, err := autoscaler.NewWatcher(autoscaler.Service{
		Cluster: web.Cluster, Name: web.Name, Source: src, Policy: autoscaler.DefaultPolicy(),
	}, mem, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	now := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	for range 2 {
		c := w.Step(context.Background(), now)
		fmt.Printf("%s reading %v: %s, next check %s\n",
			c.Time.Format(time.TimeOnly), c.Reading.Value, c.Outcome, c.Next.Format(time.TimeOnly))
		now = c.Next
	}
	fmt.Printf("updates: %+v\n", mem.Updates())
	// Output:
	// 09:00:00 reading 120: idle, next check 09:00:03
	// 09:00:03 reading 420: scaled_out, next check 09:03:03
	// updates: [{Service:prod/web From:3 To:10}]
}

// An engine on the real clock: its first check runs at once, finds the load
// over the threshold and doubles the desired count from the floor of 5.
func ExampleNew() {
	web := scaler.ServiceID{Cluster: "prod", Name: "web"}
	mem := scaler.NewMemory()
	mem.Put(web, scaler.State{Desired: 3, Running: 3})

	events := make(chan notify.Event, 1)
	policy := autoscaler.DefaultPolicy()
	policy.CheckInterval = 100 * time.Millisecond
	eng, err := autoscaler.New([]autoscaler.Service{{
		Cluster: web.Cluster,
		Name:    web.Name,
		Policy:  policy,
		Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
			return autoscaler.Reading{Value: 420}, nil
		}),
		Notifier: notify.NotifierFunc(func(_ context.Context, ev notify.Event) error {
			select {
			case events <- ev:
			default: // never block the engine
			}
			return nil
		}),
	}}, autoscaler.Options{Scaler: mem})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	ev := <-events
	cancel()
	if err := <-done; err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s/%s at %v: %d -> %d\n", ev.Kind, ev.Cluster, ev.Service, ev.Value, ev.DesiredCur, ev.DesiredNew)
	// Output: scaled_out prod/web at 420: 3 -> 10
}
