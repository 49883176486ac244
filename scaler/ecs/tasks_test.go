package ecs_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler/ecs"
)

// newLister starts a fake AWS with the service web and returns it with a
// TaskLister on the real SDK client and a mock clock for its budget.
func newLister(t testing.TB, opts ecs.TaskListerOptions) (*awstest.Server, *ecs.TaskLister, *clock.Mock) {
	s := awstest.New(t)
	s.PutService(web.Cluster, web.Name, awstest.Service{Desired: 2, Running: 2})
	clk := clock.NewMock()
	opts.Clock = clk
	return s, ecs.NewTaskLister(awsecs.NewFromConfig(s.Config()), opts), clk
}

// putServiceWithTask adds service name to web's cluster with one running
// task, and returns its ID.
func putServiceWithTask(s *awstest.Server, name, taskID, ip string) scaler.ServiceID {
	s.PutService(web.Cluster, name, awstest.Service{})
	s.PutTask(web.Cluster, awstest.Task{ID: taskID, Service: name, PrivateIP: ip})
	return scaler.ServiceID{Cluster: web.Cluster, Name: name}
}

func TestTaskListerListsRunningAndStartingTasks(t *testing.T) {
	s, l, _ := newLister(t, ecs.TaskListerOptions{})
	for _, task := range []awstest.Task{
		{ID: "t1", Service: "web", PrivateIP: "10.0.0.1"},
		{ID: "t2", Service: "web", PrivateIP: "10.0.0.2", LastStatus: "PROVISIONING"},
		{ID: "t3", Service: "web", PrivateIP: "10.0.0.3", LastStatus: "PENDING"},
		{ID: "t4", Service: "web", DesiredStatus: "STOPPED", LastStatus: "DEACTIVATING", PrivateIP: "10.0.0.4"},
		{ID: "t5", Service: "web", PrivateIP: "10.0.0.5", LastStatus: "ACTIVATING"},
		{ID: "o1", Service: "other", PrivateIP: "10.0.1.1"},
	} {
		s.PutTask(web.Cluster, task)
	}
	s.PutService(web.Cluster, "other", awstest.Service{})

	tasks, err := l.Tasks(t.Context(), web)
	require.NoError(t, err)
	assert.Equal(t, []scaler.Task{
		{ID: "t1", Addr: netip.MustParseAddr("10.0.0.1"), Status: "RUNNING", Running: true},
		{ID: "t2", Status: "PROVISIONING"},
		{ID: "t3", Addr: netip.MustParseAddr("10.0.0.3"), Status: "PENDING"},
		{ID: "t5", Addr: netip.MustParseAddr("10.0.0.5"), Status: "ACTIVATING"},
	}, tasks, "the service's tasks ECS wants running; a stopping one left out")

	list := s.Calls("ListTasks")
	require.Len(t, list, 1)
	assert.JSONEq(t, `{"cluster":"app","serviceName":"web","desiredStatus":"RUNNING","maxResults":100}`, string(list[0].Body))
	require.Len(t, s.Calls("DescribeTasks"), 1)
}

func TestTaskListerPagesAndBatches(t *testing.T) {
	s, l, _ := newLister(t, ecs.TaskListerOptions{Burst: 100})
	for i := range 250 {
		s.PutTask(web.Cluster, awstest.Task{ID: fmt.Sprintf("t%03d", i), Service: "web", PrivateIP: fmt.Sprintf("10.0.%d.%d", i/200, i%200+1)})
	}
	tasks, err := l.Tasks(t.Context(), web)
	require.NoError(t, err)
	require.Len(t, tasks, 250)
	assert.Equal(t, "t249", tasks[249].ID)
	assert.Equal(t, netip.MustParseAddr("10.0.1.50"), tasks[249].Addr)
	assert.Len(t, awstest.FirstAttempts(s.Calls("ListTasks")), 3, "100 a page")
	describes := awstest.FirstAttempts(s.Calls("DescribeTasks"))
	require.Len(t, describes, 3, "at most 100 tasks a call")
	assert.Len(t, describes[0].Params["tasks"], 100)
	assert.Len(t, describes[2].Params["tasks"], 50)
}

func TestTaskListerNetworkModes(t *testing.T) {
	for _, mode := range []string{"bridge", "host"} {
		t.Run(mode, func(t *testing.T) {
			s, l, _ := newLister(t, ecs.TaskListerOptions{})
			s.PutTask(web.Cluster, awstest.Task{ID: "t1", Service: "web", NetworkMode: mode})
			_, err := l.Tasks(t.Context(), web)
			require.Error(t, err)
			for _, want := range []string{"app/web", "task t1", "network mode is not awsvpc", "bridge or host", "launch type EC2", "StatusUrl"} {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestTaskListerNoTasks(t *testing.T) {
	_, l, _ := newLister(t, ecs.TaskListerOptions{})
	tasks, err := l.Tasks(t.Context(), web)
	require.NoError(t, err)
	assert.Empty(t, tasks)
}

func TestTaskListerErrors(t *testing.T) {
	t.Run("access denied names the action", func(t *testing.T) {
		s, l, _ := newLister(t, ecs.TaskListerOptions{})
		s.PutTask(web.Cluster, awstest.Task{ID: "t1", Service: "web", PrivateIP: "10.0.0.1"})
		s.Deny("DescribeTasks")
		_, err := l.Tasks(t.Context(), web)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "access denied: grant the IAM action ecs:DescribeTasks")
		assert.Contains(t, err.Error(), "ecs:ListTasks and ecs:DescribeTasks on cluster app")
	})
	t.Run("throttled beyond the retries", func(t *testing.T) {
		s, l, _ := newLister(t, ecs.TaskListerOptions{})
		s.Throttle("ListTasks", awstest.MaxAttempts)
		_, err := l.Tasks(t.Context(), web)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "ecs ListTasks app/web: throttled by ECS even after the SDK's retries")
		assert.Contains(t, err.Error(), "ThrottlingException")
	})
	t.Run("missing service", func(t *testing.T) {
		_, l, _ := newLister(t, ecs.TaskListerOptions{})
		_, err := l.Tasks(t.Context(), scaler.ServiceID{Cluster: "app", Name: "gone"})
		require.ErrorIs(t, err, scaler.ErrServiceNotFound)
		assert.Contains(t, err.Error(), `service "gone" not found in cluster "app" in region ap-northeast-1`)
	})
	t.Run("a task gone between the calls", func(t *testing.T) {
		s, l, _ := newLister(t, ecs.TaskListerOptions{})
		s.PutTask(web.Cluster, awstest.Task{ID: "t1", Service: "web", PrivateIP: "10.0.0.1"})
		s.PutTask(web.Cluster, awstest.Task{ID: "t2", Service: "web", PrivateIP: "10.0.0.2"})
		s.RespondNext("DescribeTasks", 1, 200, []byte(`{"tasks":[{"taskArn":"arn:aws:ecs:ap-northeast-1:123456789012:task/app/t1",
			"lastStatus":"RUNNING","desiredStatus":"RUNNING","attachments":[{"type":"ElasticNetworkInterface",
			"details":[{"name":"privateIPv4Address","value":"10.0.0.1"}]}]}],
			"failures":[{"arn":"arn:aws:ecs:ap-northeast-1:123456789012:task/app/t2","reason":"MISSING"}]}`))
		tasks, err := l.Tasks(t.Context(), web)
		require.NoError(t, err)
		require.Len(t, tasks, 1)
		assert.Equal(t, "t1", tasks[0].ID)
	})
	t.Run("garbage address", func(t *testing.T) {
		s, l, _ := newLister(t, ecs.TaskListerOptions{})
		s.PutTask(web.Cluster, awstest.Task{ID: "t1", Service: "web", PrivateIP: "10.0.0.1"})
		s.RespondNext("DescribeTasks", 1, 200, []byte(`{"tasks":[{"taskArn":"arn:aws:ecs:ap-northeast-1:123456789012:task/app/t1",
			"lastStatus":"RUNNING","desiredStatus":"RUNNING","attachments":[{"type":"ElasticNetworkInterface",
			"details":[{"name":"privateIPv4Address","value":"not-an-ip"}]}]}]}`))
		_, err := l.Tasks(t.Context(), web)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `task t1: network interface address "not-an-ip" is not an IP address`)
	})
}

// Every service's listings share one budget: once it is spent, a listing
// fails at once, calling nothing, until the clock refills it. A listing
// takes its ListTasks and DescribeTasks tokens together or not at all.
func TestTaskListerSharesOneBudget(t *testing.T) {
	s, l, clk := newLister(t, ecs.TaskListerOptions{CallsPerSecond: 1, Burst: 4})
	s.PutTask(web.Cluster, awstest.Task{ID: "t1", Service: "web", PrivateIP: "10.0.0.1"})
	api := putServiceWithTask(s, "api", "a1", "10.0.0.2")

	_, err := l.Tasks(t.Context(), web) // 2 calls
	require.NoError(t, err)
	_, err = l.Tasks(t.Context(), api) // 2 calls: the budget is spent
	require.NoError(t, err)
	s.ResetCalls()
	_, err = l.Tasks(t.Context(), web)
	require.ErrorIs(t, err, ecs.ErrCallBudget)
	assert.Contains(t, err.Error(), "ecs ListTasks app/web: not called")
	assert.Contains(t, err.Error(), "the next in 2s")
	assert.Empty(t, s.Calls(), "nothing called")

	clk.Add(time.Second) // one token: not enough for ListTasks and DescribeTasks, so neither is called
	_, err = l.Tasks(t.Context(), api)
	require.ErrorIs(t, err, ecs.ErrCallBudget)
	assert.Empty(t, s.Calls(), "no ListTasks spent on a listing that could not finish")
	clk.Add(time.Second)
	_, err = l.Tasks(t.Context(), api)
	require.NoError(t, err)

	clk.Add(time.Hour) // the budget refills to Burst, no further
	for range 2 {
		_, err = l.Tasks(t.Context(), web)
		require.NoError(t, err)
	}
	_, err = l.Tasks(t.Context(), web)
	require.ErrorIs(t, err, ecs.ErrCallBudget)

	s.PutService(web.Cluster, "empty", awstest.Service{})
	clk.Add(time.Hour)
	for range 3 { // a service with no task makes one call and gives the other token back: 4 -> 3 -> 2 -> 1
		_, err = l.Tasks(t.Context(), scaler.ServiceID{Cluster: web.Cluster, Name: "empty"})
		require.NoError(t, err)
	}
	_, err = l.Tasks(t.Context(), scaler.ServiceID{Cluster: web.Cluster, Name: "empty"})
	require.ErrorIs(t, err, ecs.ErrCallBudget)
}

// A service never listed goes first: while one waits for its first
// listing, the services listed before are not listed again (they keep the
// tasks they have), so the budget serves the newcomer.
func TestTaskListerListsNewServicesFirst(t *testing.T) {
	s, l, clk := newLister(t, ecs.TaskListerOptions{CallsPerSecond: 1, Burst: 2})
	s.PutTask(web.Cluster, awstest.Task{ID: "t1", Service: "web", PrivateIP: "10.0.0.1"})
	newcomer := putServiceWithTask(s, "new", "n1", "10.0.0.2")

	_, err := l.Tasks(t.Context(), web)
	require.NoError(t, err)
	_, err = l.Tasks(t.Context(), newcomer) // the budget is spent: it waits
	require.ErrorIs(t, err, ecs.ErrCallBudget)

	clk.Add(2 * time.Second) // tokens for one listing
	_, err = l.Tasks(t.Context(), web)
	require.ErrorIs(t, err, ecs.ErrCallBudget, "a refresh waits while a service was never listed")
	assert.Contains(t, err.Error(), "1 services never listed go first")
	got, err := l.Tasks(t.Context(), newcomer)
	require.NoError(t, err, "the tokens were kept for it")
	assert.Len(t, got, 1)

	clk.Add(2 * time.Second)
	_, err = l.Tasks(t.Context(), web)
	require.NoError(t, err, "no one waits any more")

	s.PutService(web.Cluster, "gone", awstest.Service{})
	_, err = l.Tasks(t.Context(), scaler.ServiceID{Cluster: web.Cluster, Name: "gone"}) // spent: it waits, then is no longer watched
	require.ErrorIs(t, err, ecs.ErrCallBudget)
	clk.Add(3 * time.Minute)
	_, err = l.Tasks(t.Context(), web)
	require.NoError(t, err, "a service that stopped asking no longer holds the others back")
}

type nilTaskClient struct{}

func (nilTaskClient) ListTasks(context.Context, *awsecs.ListTasksInput, ...func(*awsecs.Options)) (*awsecs.ListTasksOutput, error) {
	return &awsecs.ListTasksOutput{TaskArns: []string{"arn:aws:ecs:r:1:task/app/t1"}}, nil
}

func (nilTaskClient) DescribeTasks(context.Context, *awsecs.DescribeTasksInput, ...func(*awsecs.Options)) (*awsecs.DescribeTasksOutput, error) {
	return nil, nil
}

func TestTaskListerNilOutput(t *testing.T) {
	_, err := ecs.NewTaskLister(nilTaskClient{}, ecs.TaskListerOptions{}).Tasks(t.Context(), web)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "empty response")
}
