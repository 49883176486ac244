package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
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
	logs := newSyncBuffer()
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
