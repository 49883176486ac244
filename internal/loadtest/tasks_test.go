package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/nginxtest"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler/ecs"
)

func TestTaskAddr(t *testing.T) {
	assert.Equal(t, "127.1.0.1", taskAddr(0, 0).String())
	assert.Equal(t, "127.1.5.10", taskAddr(5, 9).String())
	assert.Equal(t, "127.2.0.254", taskAddr(256, maxTasks-1).String())
	assert.Equal(t, "127.126.255.1", taskAddr(maxTaskServices-1, 0).String())
	for _, c := range [][2]int{{0, 0}, {1, 3}, {255, 253}, {256, 0}, {1000, 7}, {maxTaskServices - 1, maxTasks - 1}} {
		svc, k, ok := taskOfAddr(taskAddr(c[0], c[1]))
		assert.True(t, ok, "%v", c)
		assert.Equal(t, c, [2]int{svc, k})
	}
	for _, a := range []string{"127.0.0.1", "127.1.0.0", "127.1.0.255", "127.127.0.1", "10.1.0.1", "::1"} {
		_, _, ok := taskOfAddr(netip.MustParseAddr(a))
		assert.False(t, ok, a)
	}
}

func TestLayout(t *testing.T) {
	plain := layout{services: 3}
	lo := netip.MustParseAddr("127.0.0.1")
	assert.Equal(t, 3, plain.pairs())
	assert.Equal(t, []netip.Addr{lo}, plain.addrs())
	assert.True(t, plain.valid(pair{2, lo}))
	assert.False(t, plain.valid(pair{3, lo}), "no service 3")
	assert.False(t, plain.valid(pair{0, taskAddr(0, 0)}))

	tasks := layout{services: 300, tasks: 2}
	assert.Equal(t, 600, tasks.pairs())
	addrs := tasks.addrs()
	require.Len(t, addrs, 600)
	assert.Equal(t, taskAddr(0, 0), addrs[0])
	assert.Equal(t, taskAddr(299, 1), addrs[599])
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		assert.False(t, seen[a], "%v twice", a)
		seen[a] = true
	}
	assert.True(t, tasks.valid(pair{257, taskAddr(257, 1)}))
	assert.False(t, tasks.valid(pair{257, taskAddr(256, 1)}), "another service's task")
	assert.False(t, tasks.valid(pair{257, taskAddr(257, 2)}), "no task 2")
	assert.False(t, tasks.valid(pair{300, taskAddr(300, 0)}), "no service 300")
	assert.False(t, tasks.valid(pair{0, lo}))
}

func TestListenLines(t *testing.T) {
	got := listenLines([]netip.Addr{taskAddr(0, 0), taskAddr(0, 1)}, 8080)
	assert.Equal(t, "        listen 127.1.0.1:8080 backlog=4096;\n        listen 127.1.0.2:8080 backlog=4096;\n", got)
	assert.NotContains(t, got, "0.0.0.0")
}

func TestPairFollower(t *testing.T) {
	f := newPairFollower(filepath.Join(t.TempDir(), "access.log"))
	require.NoError(t, f.poll(), "a log not written yet")
	lay := layout{services: 2, tasks: 2}

	// A line split across two writes is taken once complete.
	require.NoError(t, f.feed([]byte("1.000 1 127.1.0.1 /a/0 200\n1.001 2 127.1.0")))
	assert.Equal(t, 1, f.read(lay))
	require.NoError(t, f.feed([]byte(".2 /a/0 200\n1.002 3 127.1.0.2 /p/0 200\n1.003 4 127.1.0.1 /a/1 200\n")))
	assert.Equal(t, 2, f.read(lay), "the poller's request and a misrouted one do not count")
	assert.Error(t, f.feed([]byte("garbage\n")))

	// From a file growing between polls.
	path := filepath.Join(t.TempDir(), "access.log")
	f = newPairFollower(path)
	require.NoError(t, os.WriteFile(path, []byte("1.000 1 127.1.1.1 /a/1 200\n1.0"), 0o600))
	require.NoError(t, f.poll())
	assert.Equal(t, 1, f.read(lay))
	file, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = file.WriteString("01 1 127.1.1.2 /a/1 200\n")
	require.NoError(t, err)
	require.NoError(t, file.Close())
	require.NoError(t, f.poll())
	assert.Equal(t, 2, f.read(lay))
}

func TestParseChecks(t *testing.T) {
	body := `# HELP fast_autoscaler_checks_total Checks by result.
# TYPE fast_autoscaler_checks_total counter
fast_autoscaler_checks_total{cluster="load",result="error",service="svc-0"} 3
fast_autoscaler_checks_total{cluster="load",result="ok",service="svc-0"} 40
fast_autoscaler_checks_total{cluster="load",result="ok",service="svc-1"} 1.2e+02
fast_autoscaler_checks_totally_else 99
fast_autoscaler_tasks{cluster="load",service="svc-0",state="answered"} 4
`
	c, err := parseChecks(strings.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, checkCounts{all: 163, failed: 3}, c)

	_, err = parseChecks(strings.NewReader("go_goroutines 12\n"))
	assert.Error(t, err, "no checks_total")
	_, err = parseChecks(strings.NewReader(`fast_autoscaler_checks_total{result="ok"} many` + "\n"))
	assert.Error(t, err)
	_, err = parseChecks(strings.NewReader("# TYPE fast_autoscaler_checks_total gauge\nfast_autoscaler_checks_total 3\n"))
	assert.ErrorContains(t, err, "not a counter")
}

func TestPollerURLs(t *testing.T) {
	assert.Equal(t, []string{"http://127.0.0.1:81/p/0", "http://127.0.0.1:81/p/1"},
		pollerURLs(options{services: 2, target: "http://127.0.0.1:81/p/"}))
	assert.Equal(t, []string{"http://127.1.0.1:81/p/0", "http://127.1.0.2:81/p/0", "http://127.1.1.1:81/p/1", "http://127.1.1.2:81/p/1"},
		pollerURLs(options{services: 2, tasks: 2, target: "http://{ip}:81/p/"}))
}

// The generated per-task config is one the binary accepts: TaskStatusUrl,
// no StatusUrl (so no fallback), everything else as in the plain config.
func TestWriteTaskConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, writeConfig(path, 3, 2*time.Second, 1000, "TaskStatusUrl", func(i int) string {
		return "http://{ip}:8080/a/" + string(rune('0'+i))
	}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg, err := configsrc.Parse(b)
	require.NoError(t, err)
	require.Len(t, cfg.Services, 3)
	s := cfg.Services[2]
	assert.Equal(t, "http://{ip}:8080/a/2", s.TaskStatusURL)
	assert.Empty(t, s.StatusURL)
	assert.Equal(t, "svc-2", s.EcsServiceName)
	assert.Equal(t, cluster, s.EcsClusterName)
	assert.Equal(t, 2*time.Second, s.Policy.CheckInterval)
	assert.False(t, strings.Contains(string(b), "StatusUrl\": \"http://127"), "no fallback StatusUrl")
}

// The tasks put on the wire server are what the binary's lister reads:
// running, each at its own address; and listingSeen tells from the calls
// which services were listed.
func TestPutServicesListed(t *testing.T) {
	aws := awstest.New(t)
	lay := layout{services: 3, tasks: 4}
	taskService := putServices(aws, lay)
	assert.Len(t, taskService, 12)
	lister := ecs.NewTaskLister(awsecs.NewFromConfig(aws.Config()), ecs.TaskListerOptions{})

	start := time.Now()
	got, err := lister.Tasks(t.Context(), scaler.ServiceID{Cluster: cluster, Name: serviceName(1)})
	require.NoError(t, err)
	var addrs []netip.Addr
	for _, task := range got {
		assert.True(t, task.Running, task.ID)
		addrs = append(addrs, task.Addr)
	}
	assert.ElementsMatch(t, []netip.Addr{taskAddr(1, 0), taskAddr(1, 1), taskAddr(1, 2), taskAddr(1, 3)}, addrs)

	ts := listingSeen(tasksSeen{}, aws, taskService, lay.services, start, start, time.Now().Add(time.Minute))
	assert.Equal(t, 1, ts.listed)
	assert.Equal(t, time.Duration(-1), ts.listedBy, "services 0 and 2 not listed")
	assert.Equal(t, 2, ts.listCalls)
	assert.Equal(t, 2, ts.windowCalls)

	for _, i := range []int{0, 2} {
		_, err := lister.Tasks(t.Context(), scaler.ServiceID{Cluster: cluster, Name: serviceName(i)})
		require.NoError(t, err)
	}
	ts = listingSeen(tasksSeen{}, aws, taskService, lay.services, start, time.Now().Add(time.Minute), time.Now().Add(2*time.Minute))
	assert.Equal(t, 3, ts.listed)
	assert.GreaterOrEqual(t, ts.listedBy, time.Duration(0))
	assert.Equal(t, 6, ts.listCalls)
	assert.Zero(t, ts.windowCalls, "none in a window after them")
}

func TestOptionsCheckTasks(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-tasks", "-1"}, "-tasks must be between 0 and 254"},
		{[]string{"-tasks", "255"}, "-tasks must be between 0 and 254"},
		{[]string{"-tasks", "2", "-mode", "spike"}, "-tasks applies to -mode load only"},
		{[]string{"-tasks", "2", "-services", "40000"}, "-services must be at most 32256 with -tasks"},
		{[]string{"-tasks-wait", "-1s"}, "-tasks-wait must be >= 0"},
		{[]string{"-as-poller", "-tasks", "2", "-target", "http://127.0.0.1:80/p/"}, "needs a -target with {ip}"},
	} {
		var stderr strings.Builder
		assert.Equal(t, 2, run(t.Context(), c.args, &strings.Builder{}, &stderr), "%q", c.args)
		assert.Contains(t, stderr.String(), c.want, "%q", c.args)
	}
	o := options{mode: "load", services: 50, tasks: 10, interval: time.Second, duration: time.Second}
	require.NoError(t, o.check(flag.NewFlagSet("loadtest", flag.ContinueOnError)))
	assert.Equal(t, 160*time.Second, o.tasksWait, "1 min + 2 s a service")
}

// A real nginx listens on every task's address and logs the address each
// request came to, so each (service, task) pair is told apart and a request
// at another service's task is caught.
func TestNginxPerTaskAddresses(t *testing.T) {
	bin := nginxtest.Find(t)
	lay := layout{services: 2, tasks: 2}
	ng, err := startNginx(bin, t.TempDir(), 1024, lay.addrs())
	require.NoError(t, err)
	stopped := false
	defer func() {
		if !stopped {
			ng.stop()
		}
	}()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(svc, k int, client string) {
		resp, err := hc.Get(fmt.Sprintf("http://%s/%s/%d", netip.AddrPortFrom(taskAddr(svc, k), uint16(ng.port)), client, svc))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.GreaterOrEqual(t, activeConnections(body), 1)
	}
	for i := range lay.services {
		for k := range lay.tasks {
			get(i, k, "a")
			get(i, k, "p")
		}
	}
	// Service 1's request at service 0's task 1.
	resp, err := hc.Get(fmt.Sprintf("http://%s/a/1", netip.AddrPortFrom(taskAddr(0, 1), uint16(ng.port))))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	_, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ng.port))
	assert.Error(t, err, "nginx listens on the tasks' addresses only")

	ng.stop() // writes out the log
	stopped = true
	f, err := os.Open(ng.accessLog)
	require.NoError(t, err)
	defer f.Close()
	tr, err := readAccessLog(f, time.Unix(0, 0), time.Now().Add(time.Minute))
	require.NoError(t, err)
	for _, client := range []byte{'a', 'p'} {
		read, wrong, ex := pairsRead(tr[client], lay)
		assert.Equal(t, 4, read, "%c", client)
		if client == 'a' {
			assert.Equal(t, 1, wrong)
			assert.Equal(t, pair{1, taskAddr(0, 1)}, ex)
		} else {
			assert.Zero(t, wrong)
		}
	}
}
