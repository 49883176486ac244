package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/nginxtest"
)

// TestRunPerTaskRealNginx runs the binary against real nginx processes as
// a service's tasks, each on its own loopback address, listed by the
// in-repo ECS server: it reads the real total, idle keep-alive connections
// included, and follows a task that stops and another that starts without
// reporting the stopped one as a failure.
func TestRunPerTaskRealNginx(t *testing.T) {
	ns := nginxtest.StartGroup(t, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
	srv := awstest.New(t)
	srv.PutService("shop", "web", awstest.Service{Desired: 3, Running: 3})
	for _, n := range ns[:3] {
		srv.PutTask("shop", awstest.Task{ID: "task-" + n.IP, Service: "web", PrivateIP: n.IP})
	}
	nginxtest.OpenIdle(t, ns[0].Addr, 4)
	nginxtest.OpenIdle(t, ns[2].Addr, 6)
	cfgFile := writeFile(t, fmt.Sprintf(`{"Services":[{
	  "TaskStatusUrl": "http://{ip}:%d/nginx-status", "TaskAggregate": "max", "TaskRefreshInterval": 1,
	  "ScaleoutThreshold": 1000, "CheckInterval": 0.2, "EcsClusterName": "shop", "EcsServiceName": "web"}]}`, ns[0].Port))

	p := start(t, srv.Env(), "run", "-config", cfgFile, "-log-level", "debug", "-listen", "127.0.0.1:0")
	listening := p.waitLog(t, "listening")
	watching := p.waitLog(t, "watching")
	settings := watching["settings"].(map[string]any)
	assert.Equal(t, fmt.Sprintf("http://{ip}:%d/nginx-status", ns[0].Port), settings["TaskStatusUrl"])
	assert.Equal(t, "max", settings["TaskAggregate"])

	check := p.waitLog(t, "check")
	assert.EqualValues(t, 3, check["tasks"])
	assert.EqualValues(t, (4+1)+1+(6+1), check["total"], "each nginx counts its idle connections and the status request")
	assert.EqualValues(t, 7, check["active"], "TaskAggregate max: the busiest task")
	assert.EqualValues(t, 0, check["unanswered"])

	metrics := func() string {
		resp, err := http.Get("http://" + listening["addr"].(string) + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	eventually(t, "tasks metric", func() bool {
		return strings.Contains(metrics(), `fast_autoscaler_tasks{cluster="shop",service="web",state="answered"} 3`)
	})

	// One task stops (ECS no longer lists it, its nginx goes) and another
	// starts, with two idle connections of its own.
	srv.RemoveTask("shop", "task-"+ns[1].IP)
	ns[1].Stop()
	nginxtest.OpenIdle(t, ns[3].Addr, 2)
	srv.PutTask("shop", awstest.Task{ID: "task-" + ns[3].IP, Service: "web", PrivateIP: ns[3].IP})
	var between []map[string]any
	for {
		line, skipped := p.waitLogAfter(t, "check")
		between = append(between, skipped...)
		if line["total"] == float64((4+1)+(6+1)+(2+1)) {
			assert.EqualValues(t, 3, line["tasks"])
			break
		}
		between = append(between, line)
	}
	for _, line := range between {
		assert.NotEqual(t, "tasks did not answer", line["msg"], "a stopped task is no failure: %v", line)
		assert.NotEqual(t, "metric read failed", line["msg"], "%v", line)
	}

	code, _ := p.stop(t)
	assert.Equal(t, exitOK, code, p.stderr.String())
	assert.GreaterOrEqual(t, len(srv.Calls("ListTasks")), 2)
	assert.Empty(t, srv.Calls("UpdateService"))
}
