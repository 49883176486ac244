package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// gatedScaler answers State once the test opens the gate, counting the
// calls waiting at it.
type gatedScaler struct {
	gate    chan struct{}
	mu      sync.Mutex
	waiting int
}

func (g *gatedScaler) State(ctx context.Context, _ scaler.ServiceID) (scaler.State, error) {
	g.mu.Lock()
	g.waiting++
	g.mu.Unlock()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return scaler.State{}, ctx.Err()
	}
	g.mu.Lock()
	g.waiting--
	g.mu.Unlock()
	return scaler.State{Desired: 2, Running: 2, Status: "ACTIVE"}, nil
}

func (g *gatedScaler) SetDesired(context.Context, scaler.ServiceID, int) error { return nil }

func TestPreflightReadsAFewAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 50
		services := make([]configsrc.ServiceConfig, n)
		for i := range services {
			services[i] = configsrc.ServiceConfig{EcsClusterName: "shop", EcsServiceName: fmt.Sprintf("svc-%d", i)}
		}
		sc := &gatedScaler{gate: make(chan struct{})}
		logs := newSyncBuffer()
		wait := preflight(t.Context(), slog.New(slog.NewJSONHandler(logs, nil)), sc, services)
		synctest.Wait() // every worker waits at the gate
		sc.mu.Lock()
		assert.Equal(t, preflightWorkers, sc.waiting, "reads in flight at once")
		sc.mu.Unlock()
		close(sc.gate)
		wait()
		assert.Equal(t, n, strings.Count(logs.String(), `"msg":"service state"`), "every service read once")
	})
}
