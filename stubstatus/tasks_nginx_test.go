package stubstatus_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/nginxtest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/syncbuf"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler/ecs"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

var shopWeb = scaler.ServiceID{Cluster: "shop", Name: "web"}

// tasksOn puts one awstest task per nginx, t<last octet> at its address.
func tasksOn(s *awstest.Server, ns ...*nginxtest.Nginx) {
	for _, n := range ns {
		s.PutTask(shopWeb.Cluster, awstest.Task{ID: taskID(n), Service: shopWeb.Name, PrivateIP: n.IP})
	}
}

func taskID(n *nginxtest.Nginx) string { return "t" + n.IP[strings.LastIndexByte(n.IP, '.')+1:] }

// newTaskSource reads shop/web's tasks through the real ECS client on s.
func newTaskSource(t *testing.T, s *awstest.Server, port int, logs *syncbuf.Buffer, timeout time.Duration) *stubstatus.TaskSource {
	t.Helper()
	src, err := stubstatus.NewTaskSource(stubstatus.TaskOptions{
		Service: shopWeb,
		Lister:  ecs.NewTaskLister(awsecs.NewFromConfig(s.Config()), ecs.TaskListerOptions{}),
		URL:     fmt.Sprintf("http://{ip}:%d/nginx-status", port),
		Timeout: timeout,
		Client:  stubstatus.NewClient(false),
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
	})
	require.NoError(t, err)
	return src
}

// Real nginx as tasks: each on its own loopback address, one port, listed
// by the in-repo ECS server. The reading is the real total, idle
// keep-alive connections included; when a task stops and another starts,
// the reading follows at once and the stopped one never counts as a
// failure.
func TestTaskSourceRealNginx(t *testing.T) {
	ns := nginxtest.StartGroup(t, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
	aws := awstest.New(t)
	aws.PutService(shopWeb.Cluster, shopWeb.Name, awstest.Service{Desired: 4, Running: 3, Pending: 1})
	tasksOn(aws, ns[:3]...)
	aws.PutTask(shopWeb.Cluster, awstest.Task{ID: "t9", Service: shopWeb.Name, LastStatus: "PROVISIONING", PrivateIP: "10.9.9.9"})
	nginxtest.OpenIdle(t, ns[0].Addr, 3)
	nginxtest.OpenIdle(t, ns[2].Addr, 5)
	logs := &syncbuf.Buffer{}
	src := newTaskSource(t, aws, ns[0].Port, logs, 3*time.Second)

	// Each nginx counts its idle connections and the status request itself.
	r, err := src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 11.0 / 3, Total: 3 + 1 + 1 + 5 + 1, Tasks: 3, Starting: 1}, r)
	r, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 11.0, r.Total, "the client's own keep-alive connection is the status request's")
	assert.Len(t, aws.Calls("ListTasks"), 1, "the list is cached")

	// t3 stops: ECS no longer lists it and its nginx goes; t5 starts.
	aws.RemoveTask(shopWeb.Cluster, taskID(ns[1]))
	ns[1].Stop()
	tasksOn(aws, ns[3])
	aws.PutTask(shopWeb.Cluster, awstest.Task{ID: "t9", Service: shopWeb.Name, LastStatus: "PENDING", PrivateIP: "10.9.9.9"})
	r, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, autoscaler.Reading{Value: 11.0 / 3, Total: 3 + 1 + 5 + 1 + 1, Tasks: 3, Starting: 1}, r,
		"the stopped task dropped, the new one read, in the same check")
	assert.Len(t, aws.Calls("ListTasks"), 2, "listed again when a task stopped answering")
	assert.NotContains(t, logs.String(), "tasks did not answer")
}

// A hung task (it accepts the connection and never answers) is counted as
// unanswered and named; the check still ends, with the others' total.
func TestTaskSourceRealNginxWithHungTask(t *testing.T) {
	ns := nginxtest.StartGroup(t, "127.0.0.2", "127.0.0.3")
	hung, err := net.Listen("tcp", fmt.Sprintf("127.0.0.9:%d", ns[0].Port))
	require.NoError(t, err)
	t.Cleanup(func() { hung.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	aws := awstest.New(t)
	aws.PutService(shopWeb.Cluster, shopWeb.Name, awstest.Service{Desired: 3, Running: 3})
	tasksOn(aws, ns...)
	aws.PutTask(shopWeb.Cluster, awstest.Task{ID: "hung", Service: shopWeb.Name, PrivateIP: "127.0.0.9"})
	logs := &syncbuf.Buffer{}
	src := newTaskSource(t, aws, ns[0].Port, logs, 300*time.Millisecond)

	for range 2 { // the second read's listing confirms the hung task runs
		r, err := src.Read(t.Context())
		require.NoError(t, err)
		assert.Equal(t, autoscaler.Reading{Value: 1, Total: 2, Tasks: 2, Unanswered: 1}, r)
	}
	out := logs.String()
	assert.Contains(t, out, `"msg":"tasks did not answer"`)
	assert.Contains(t, out, `"tasks":"hung"`)
	assert.Contains(t, out, "no answer within 300ms")
}

// Discovery that fails, or finds nothing to read, gives a clear log line
// and no scale-out on a reading that cannot be trusted, even with a
// threshold every reading would cross.
func TestTaskSourceDiscoveryFailuresNeverScaleOut(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(*awstest.Server)
		want  string
	}{
		{"throttled", func(s *awstest.Server) { s.Throttle("ListTasks", 100) }, "throttled by ECS even after the SDK's retries"},
		{"access denied", func(s *awstest.Server) { s.Deny("ListTasks") }, "access denied: grant the IAM action ecs:ListTasks"},
		{"no tasks", func(*awstest.Server) {}, "no task running to read (0 starting)"},
		{"tasks provisioning", func(s *awstest.Server) {
			s.PutTask("shop", awstest.Task{ID: "t1", Service: "web", LastStatus: "PROVISIONING", PrivateIP: "10.0.0.1"})
			s.PutTask("shop", awstest.Task{ID: "t2", Service: "web", LastStatus: "PROVISIONING", PrivateIP: "10.0.0.2"})
		}, "no task running to read (2 starting)"},
		{"bridge network mode", func(s *awstest.Server) {
			s.PutTask("shop", awstest.Task{ID: "t1", Service: "web", NetworkMode: "bridge"})
		}, "network mode is not awsvpc"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			aws := awstest.New(t)
			aws.PutService(shopWeb.Cluster, shopWeb.Name, awstest.Service{Desired: 2, Running: 2})
			tt.setup(aws)
			logs := &syncbuf.Buffer{}
			src := newTaskSource(t, aws, 8080, logs, time.Second)
			p := autoscaler.DefaultPolicy()
			p.ScaleoutThreshold = 0.5
			w, err := autoscaler.NewWatcher(autoscaler.Service{Cluster: "shop", Name: "web", Source: src, Policy: p},
				ecs.New(awsecs.NewFromConfig(aws.Config())), slog.New(slog.NewJSONHandler(logs, nil)))
			require.NoError(t, err)
			now := time.Now()
			for i := range 3 {
				c := w.Step(t.Context(), now.Add(time.Duration(i)*20*time.Second))
				assert.Equal(t, autoscaler.ReadFailed, c.Outcome)
				require.Error(t, c.Err)
				assert.Contains(t, c.Err.Error(), tt.want)
			}
			assert.Empty(t, aws.Calls("UpdateService", "DescribeServices"), "no scale-out attempted")
			assert.Contains(t, logs.String(), `"msg":"metric read failed"`)
			assert.Contains(t, logs.String(), tt.want)
		})
	}
}

// BenchmarkTaskSourceRead50 is one check of a service of 50 tasks, each a
// local stub_status server on its own loopback address.
func BenchmarkTaskSourceRead50(b *testing.B) {
	const n = 50
	var ips []string
	for i := range n {
		ips = append(ips, fmt.Sprintf("127.0.1.%d", i+1))
	}
	port, err := nginxtest.FreePort(ips...)
	require.NoError(b, err)
	body := []byte("Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n")
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	var tasks []scaler.Task
	for i, ip := range ips {
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
		require.NoError(b, err)
		srv := &http.Server{Handler: h}
		go srv.Serve(l)
		b.Cleanup(func() { srv.Close() })
		tasks = append(tasks, scaler.Task{ID: fmt.Sprint("t", i), Addr: mustAddr(ip), Status: "RUNNING", Running: true})
	}
	src, err := stubstatus.NewTaskSource(stubstatus.TaskOptions{
		Service: shopWeb,
		Lister: stubstatus.TaskListerFunc(func(context.Context, scaler.ServiceID) ([]scaler.Task, error) {
			return tasks, nil
		}),
		URL: fmt.Sprintf("http://{ip}:%d/nginx-status", port), AuthHeader: "Status-Auth-Key", AuthValue: "s3cret",
		Timeout: 5 * time.Second, Refresh: time.Hour, Client: stubstatus.NewClient(false),
	})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := src.Read(ctx)
		if err != nil || r.Tasks != n {
			b.Fatal(r, err)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
