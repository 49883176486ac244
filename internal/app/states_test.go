package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler/ecs"
)

// TestStateReaderLogsChanges: the start-up read logs every service; later
// reads log only what changed, and tell the engine what they found.
func TestStateReaderLogsChanges(t *testing.T) {
	mem := scaler.NewMemory()
	web, api := scaler.ServiceID{Cluster: "shop", Name: "web"}, scaler.ServiceID{Cluster: "shop", Name: "api"}
	mem.Put(web, scaler.State{Desired: 2})
	var services []configsrc.ServiceConfig
	var engineServices []autoscaler.Service
	for _, id := range []scaler.ServiceID{web, api} {
		services = append(services, configsrc.ServiceConfig{EcsClusterName: id.Cluster, EcsServiceName: id.Name})
		engineServices = append(engineServices, autoscaler.Service{Cluster: id.Cluster, Name: id.Name, Policy: autoscaler.DefaultPolicy(),
			Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) { return autoscaler.Reading{}, nil })})
	}
	eng, err := autoscaler.New(engineServices, autoscaler.Options{Scaler: mem})
	require.NoError(t, err)
	logs := &syncbuf.Buffer{}
	r := &stateReader{sc: mem, eng: eng, log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	count := func(msg string) int { return strings.Count(logs.String(), `"msg":"`+msg+`"`) }

	r.read(t.Context(), services, nil) // start-up
	assert.Equal(t, 1, count("service state"))
	assert.Equal(t, 1, count("service not readable: scale-outs will fail until this is fixed"))
	assert.Contains(t, logs.String(), `"level":"INFO","msg":"service states read","services":2,"unreadable":1`)

	r.read(t.Context(), services, map[scaler.ServiceID]bool{}) // a reload that changed nothing
	assert.Equal(t, 1, count("service state"))
	assert.Equal(t, 1, count("service not readable: scale-outs will fail until this is fixed"), "the same failure is not logged again")
	assert.Contains(t, logs.String(), `"level":"DEBUG","msg":"service states read"`)

	mem.Put(api, scaler.State{Desired: 3})
	mem.Put(web, scaler.State{Desired: 2, Paused: true})
	r.read(t.Context(), services, map[scaler.ServiceID]bool{})
	assert.Equal(t, 2, count("service state"), "api readable again")
	assert.Equal(t, []scaler.ServiceID{web}, eng.Paused(), "the engine is told")
}

// countingScaler counts State calls and when they came (fake time in a
// synctest bubble).
type countingScaler struct {
	scaler.Scaler
	mu    sync.Mutex
	times []time.Time
}

func (c *countingScaler) State(ctx context.Context, svc scaler.ServiceID) (scaler.State, error) {
	c.mu.Lock()
	c.times = append(c.times, time.Now())
	c.mu.Unlock()
	return c.Scaler.State(ctx, svc)
}

// TestStateReaderPaces: a read of many services goes a chunk a second, so
// it never spends more than a small share of the account's ECS budget.
func TestStateReaderPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := scaler.NewMemory()
		const n = 2*stateChunk + 50
		ids := make([]scaler.ServiceID, n)
		for i := range ids {
			ids[i] = scaler.ServiceID{Cluster: "shop", Name: fmt.Sprintf("svc-%d", i)}
			mem.Put(ids[i], scaler.State{Desired: 2})
		}
		sc := &countingScaler{Scaler: mem}
		start := time.Now()
		states, errs := readPaced(t.Context(), sc, ids)
		assert.Equal(t, 2*stateEvery, time.Since(start), "three chunks: at once, after one and after two pauses")
		perSecond := map[time.Duration]int{}
		for _, at := range sc.times {
			perSecond[at.Sub(start).Truncate(time.Second)]++
		}
		assert.Equal(t, map[time.Duration]int{0: stateChunk, time.Second: stateChunk, 2 * time.Second: 50}, perSecond)
		for i := range ids {
			require.NoError(t, errs[i])
			assert.Equal(t, 2, states[i].Desired)
		}

		ctx, cancel := context.WithCancel(t.Context())
		sc.times = nil
		go func() { time.Sleep(stateEvery / 2); cancel() }()
		_, _ = readPaced(ctx, sc, ids)
		assert.Len(t, sc.times, stateChunk, "stopping ends the read before the next chunk")
	})
}

func TestChunksKeepBatchesWhole(t *testing.T) {
	var ids []scaler.ServiceID
	for i := range 255 { // 4 clusters of 63 or 64, interleaved
		ids = append(ids, scaler.ServiceID{Cluster: fmt.Sprintf("c%d", i%4), Name: fmt.Sprintf("svc-%d", i)})
	}
	seen := map[int]bool{}
	batches := 0
	for _, chunk := range chunks(ids) {
		assert.LessOrEqual(t, len(chunk), stateChunk)
		perCluster := map[string]int{}
		for _, at := range chunk {
			assert.False(t, seen[at], "index %d twice", at)
			seen[at] = true
			perCluster[ids[at].Cluster]++
		}
		for _, n := range perCluster {
			batches += (n + ecs.BatchSize - 1) / ecs.BatchSize
		}
	}
	assert.Len(t, seen, len(ids), "every service once")
	assert.Equal(t, 4*7, batches, "as many calls as one read of all (7 a cluster of 63 or 64)")
}
