package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

// Spike mode's settings: a threshold the spike crosses, and a grace period
// short enough to run several rounds.
const (
	spikeThreshold = 100
	spikeLow       = 10
	spikeHigh      = 1000
	spikeRounds    = 3
	spikeGrace     = 2 * time.Second
)

// runSpike measures the time from a jump in Active connections to the
// UpdateService that answers it, for every service, in spikeRounds rounds.
func runSpike(ctx context.Context, o options, stdout io.Writer) error {
	dir, bin, cleanup, err := workdir(o, stdout)
	if err != nil {
		return err
	}
	defer cleanup()

	var active atomic.Int64
	active.Store(spikeLow)
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "Active connections: %d \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n", active.Load())
	}))
	defer status.Close()

	aws := awstest.Start()
	defer aws.Close()
	aws.AddCluster(cluster)
	for i := range o.services {
		aws.PutService(cluster, serviceName(i), awstest.Service{Desired: 2, Running: 2})
	}
	cfgPath := filepath.Join(dir, "config.json")
	if err := writeSpikeConfig(cfgPath, o, status.URL); err != nil {
		return err
	}
	bc, blog, closeLog, err := startBinary(o, bin, dir, cfgPath, aws, false)
	if err != nil {
		return err
	}
	defer func() { _ = bc.stop(10 * time.Second); closeLog() }()
	if err := waitReady(bc, blog, 2*time.Minute); err != nil {
		return err
	}
	for seen := blog.snapshot(); !seen.statesRead && seen.preflight < o.services; seen = blog.snapshot() {
		if err := sleepAlive(ctx, 50*time.Millisecond, bc); err != nil {
			return err
		}
	}

	var all []float64
	for round := range spikeRounds {
		// Every service must be past its grace period and checked at the
		// low value since.
		if err := sleepAlive(ctx, spikeGrace+3*o.interval, bc); err != nil {
			return err
		}
		active.Store(spikeHigh)
		at := time.Now()
		updates, err := waitUpdates(ctx, aws, bc, at, o.services, 10*time.Second+spikeGrace)
		active.Store(spikeLow)
		if err != nil {
			return fmt.Errorf("round %d: %w", round+1, err)
		}
		lat := make([]float64, len(updates))
		for i, c := range updates {
			lat[i] = c.Time.Sub(at).Seconds()
		}
		// The tasks asked for start: the engine raises a service again only
		// once the ones it asked for last time run.
		for i := range o.services {
			if svc, ok := aws.Service(cluster, serviceName(i)); ok {
				svc.Running = svc.Desired
				aws.PutService(cluster, serviceName(i), svc)
			}
		}
		slices.Sort(lat)
		fmt.Fprintf(stdout, "round %d: %d services, spike to UpdateService p50 %.3f s, p99 %.3f s, max %.3f s\n",
			round+1, len(lat), quantile(lat, 0.5), quantile(lat, 0.99), lat[len(lat)-1])
		all = append(all, lat...)
	}
	if err := bc.stop(10 * time.Second); err != nil {
		return err
	}
	slices.Sort(all)
	limit := o.interval + 100*time.Millisecond
	over := len(all) - sortedCountAtMost(all, limit.Seconds())
	fmt.Fprintf(stdout, "\n%d services, CheckInterval %v, %d rounds: spike to UpdateService p50 %.3f s, p99 %.3f s, max %.3f s; %d of %d above CheckInterval + 100 ms (%.3f s)\n",
		o.services, o.interval, spikeRounds, quantile(all, 0.5), quantile(all, 0.99), all[len(all)-1], over, len(all), limit.Seconds())
	return nil
}

func writeSpikeConfig(path string, o options, base string) error {
	return writeConfigWith(path, o.services, func(i int) string {
		return fmt.Sprintf(`{"StatusUrl": %q, "ScaleoutThreshold": %d, "CheckInterval": %q, "GracePeriod": %q, "EcsClusterName": %q, "EcsServiceName": %q}`,
			base+"/s/"+strconv.Itoa(i), spikeThreshold, o.interval.String(), spikeGrace.String(), cluster, serviceName(i))
	})
}

// waitUpdates waits until want services have had an UpdateService received
// after at, and returns the first such call of each.
func waitUpdates(ctx context.Context, aws *awstest.Server, bc *child, at time.Time, want int, d time.Duration) ([]awstest.Call, error) {
	deadline := time.Now().Add(d)
	for {
		var first []awstest.Call
		seen := map[string]bool{}
		for _, c := range aws.Calls("UpdateService") {
			svc, _ := c.Params["service"].(string)
			if c.Time.After(at) && !seen[svc] {
				seen[svc] = true
				first = append(first, c)
			}
		}
		if len(first) >= want {
			return first, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d services were scaled out within %v of the spike", len(first), want, d)
		}
		if err := sleepAlive(ctx, 20*time.Millisecond, bc); err != nil {
			return nil, err
		}
	}
}

// sortedCountAtMost counts the values of sorted xs that are <= limit.
func sortedCountAtMost(xs []float64, limit float64) int {
	n, _ := slices.BinarySearch(xs, limit+1e-12)
	return n
}
