package metrics_test

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// Wiring the metrics into an engine: they are its Observer. Serve reg with
// promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) on /metrics; with AWS,
// also append m.AWSMiddleware to aws.Config.APIOptions.
func Example() {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Options{Registerer: reg, Version: "v1.0.0"})
	if err != nil {
		fmt.Println(err)
		return
	}

	web := scaler.ServiceID{Cluster: "prod", Name: "web"}
	mem := scaler.NewMemory()
	mem.Put(web, scaler.State{Desired: 3, Running: 3})
	ctx, cancel := context.WithCancel(context.Background())
	eng, err := autoscaler.New([]autoscaler.Service{{
		Cluster: web.Cluster,
		Name:    web.Name,
		Policy:  autoscaler.DefaultPolicy(),
		Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
			return autoscaler.Reading{Value: 420}, nil
		}),
	}}, autoscaler.Options{
		Scaler: mem,
		// m alone would do; this one also stops the example after the
		// first scale-out.
		Observer: autoscaler.ObserverFunc(func(svc scaler.ServiceID, c autoscaler.Check, took time.Duration) {
			m.Observe(svc, c, took)
			if c.Outcome == autoscaler.ScaledOut {
				cancel()
			}
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := eng.Run(ctx); err != nil {
		fmt.Println(err)
		return
	}

	families, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mf := range families {
		switch mf.GetName() {
		case "fast_autoscaler_reading", "fast_autoscaler_desired_count", "fast_autoscaler_in_grace_period":
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetGauge().GetValue())
		case "fast_autoscaler_scaleouts_total":
			for _, s := range mf.GetMetric() {
				fmt.Println(mf.GetName(), s.GetLabel()[1].GetValue(), s.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// fast_autoscaler_desired_count 10
	// fast_autoscaler_in_grace_period 1
	// fast_autoscaler_reading 420
	// fast_autoscaler_scaleouts_total dry_run 0
	// fast_autoscaler_scaleouts_total held_at_max 0
	// fast_autoscaler_scaleouts_total held_starting 0
	// fast_autoscaler_scaleouts_total held_suspended 0
	// fast_autoscaler_scaleouts_total in_grace 0
	// fast_autoscaler_scaleouts_total paused 0
	// fast_autoscaler_scaleouts_total scale_failed 0
	// fast_autoscaler_scaleouts_total scale_unknown 0
	// fast_autoscaler_scaleouts_total scaled_out 1
}
