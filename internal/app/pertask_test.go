package app

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
)

// A service read task by task whose tasks cannot be listed (no
// ecs:ListTasks) falls back to its StatusUrl, says so once, and still
// scales out on it.
func TestRunPerTaskFallsBackToStatusURL(t *testing.T) {
	aws := awstest.New(t)
	aws.PutService("shop", "web", awstest.Service{Desired: 3, Running: 3})
	aws.Deny("ListTasks")
	var active atomic.Int64
	active.Store(500)
	file := writeConfig(t, `{"Services":[{"StatusUrl":"`+statusPage(t, &active)+`",
		"TaskStatusUrl":"http://{ip}:8080/nginx-status","ScaleoutThreshold":100,"CheckInterval":0.1,"GracePeriod":0.5,
		"EcsClusterName":"shop","EcsServiceName":"web"}]}`)
	cfg := aws.Config()
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigFile: file, AWS: &cfg, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	}()
	require.Eventually(t, func() bool { s, _ := aws.Service("shop", "web"); return s.Desired == 10 }, 10*time.Second, 5*time.Millisecond,
		"a scale-out on the fallback reading")
	// The scale-out has the next check list the tasks again.
	require.Eventually(t, func() bool { return len(aws.Calls("ListTasks")) >= 2 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	var ops []string
	for _, c := range aws.Calls("ListTasks", "UpdateService") {
		ops = append(ops, c.Operation)
	}
	assert.Equal(t, []string{"ListTasks", "UpdateService", "ListTasks"}, ops[:3])
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, `"msg":"tasks not listed: reading the fallback status URL through the load balancer until they are"`), out)
	assert.Contains(t, out, "grant the IAM action ecs:ListTasks")
}
