package ecs_test

import (
	"context"
	"net/http"
	"testing"

	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler/ecs"
)

var web = scaler.ServiceID{Cluster: "app", Name: "web"}

// newECS starts a fake AWS with the service web in cluster app and returns
// it with an ECS scaler using the real SDK client.
func newECS(t testing.TB, svc awstest.Service) (*awstest.Server, *ecs.Scaler) {
	s := awstest.New(t)
	s.PutService(web.Cluster, web.Name, svc)
	return s, ecs.New(awsecs.NewFromConfig(s.Config()))
}

func TestECSStateAndSetDesired(t *testing.T) {
	ctx := context.Background()
	s, e := newECS(t, awstest.Service{Desired: 3, Running: 2, Pending: 1})

	st, err := e.State(ctx, web)
	require.NoError(t, err)
	assert.Equal(t, scaler.State{Desired: 3, Running: 2, Pending: 1, Status: "ACTIVE"}, st)
	require.NoError(t, e.SetDesired(ctx, web, 10))

	calls := s.Calls()
	require.Len(t, calls, 2, "one call each, nothing more")
	assert.Equal(t, "AmazonEC2ContainerServiceV20141113.DescribeServices", calls[0].Target)
	assert.JSONEq(t, `{"cluster":"app","services":["web"],"include":["TAGS"]}`, string(calls[0].Body), "tags too: a recorded scale-out, a paused mark")
	assert.Equal(t, "AmazonEC2ContainerServiceV20141113.UpdateService", calls[1].Target)
	assert.JSONEq(t, `{"cluster":"app","service":"web","desiredCount":10}`, string(calls[1].Body))
	got, _ := s.Service(web.Cluster, web.Name)
	assert.Equal(t, int32(10), got.Desired)
}

func TestECSDeploying(t *testing.T) {
	primary := func(rollout string) awstest.Deployment {
		return awstest.Deployment{Status: "PRIMARY", RolloutState: rollout, Desired: 2}
	}
	tests := []struct {
		name string
		deps []awstest.Deployment
		want bool
	}{
		{"primary completed", []awstest.Deployment{primary("COMPLETED")}, false},
		{"primary without rollout state", []awstest.Deployment{primary("")}, false},
		{"primary in progress", []awstest.Deployment{primary("IN_PROGRESS")}, true},
		{"primary failed", []awstest.Deployment{primary("FAILED")}, true},
		{"two deployments", []awstest.Deployment{primary("IN_PROGRESS"), {Status: "ACTIVE", RolloutState: "COMPLETED"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, e := newECS(t, awstest.Service{Desired: 2, Deployments: tt.deps})
			st, err := e.State(context.Background(), web)
			require.NoError(t, err)
			assert.Equal(t, tt.want, st.Deploying)
		})
	}
}

func TestECSServiceErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		setup    func(s *awstest.Server)
		sentinel error
		contains []string
	}{
		{"missing", func(s *awstest.Server) { s.RemoveService("app", "web") },
			scaler.ErrServiceNotFound, []string{`service "web" not found in cluster "app" in region ap-northeast-1`}},
		{"inactive", func(s *awstest.Server) { s.PutService("app", "web", awstest.Service{Status: "INACTIVE"}) },
			scaler.ErrServiceNotActive, []string{"app/web is INACTIVE"}},
		{"draining", func(s *awstest.Server) { s.PutService("app", "web", awstest.Service{Status: "DRAINING"}) },
			scaler.ErrServiceNotActive, []string{"app/web is DRAINING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e := newECS(t, awstest.Service{Desired: 1})
			tt.setup(s)
			_, err := e.State(ctx, web)
			require.ErrorIs(t, err, tt.sentinel)
			for _, c := range tt.contains {
				assert.Contains(t, err.Error(), c)
			}
		})
	}
}

func TestECSClusterNotFound(t *testing.T) {
	ctx := context.Background()
	_, e := newECS(t, awstest.Service{})
	other := scaler.ServiceID{Cluster: "nope", Name: "web"}
	var typed *types.ClusterNotFoundException

	_, err := e.State(ctx, other)
	require.ErrorIs(t, err, scaler.ErrServiceNotFound)
	assert.ErrorAs(t, err, &typed, "SDK error kept in the chain")
	assert.Contains(t, err.Error(), `cluster "nope" does not exist in region ap-northeast-1`)

	err = e.SetDesired(ctx, other, 4)
	require.ErrorIs(t, err, scaler.ErrServiceNotFound)
	assert.ErrorAs(t, err, &typed)
}

func TestECSUpdateServiceErrors(t *testing.T) {
	ctx := context.Background()

	s, e := newECS(t, awstest.Service{Desired: 1})
	s.RemoveService("app", "web")
	err := e.SetDesired(ctx, web, 2)
	require.ErrorIs(t, err, scaler.ErrServiceNotFound)
	var notFound *types.ServiceNotFoundException
	assert.ErrorAs(t, err, &notFound)

	s.PutService("app", "web", awstest.Service{Status: "DRAINING"})
	err = e.SetDesired(ctx, web, 2)
	require.ErrorIs(t, err, scaler.ErrServiceNotActive)
	var notActive *types.ServiceNotActiveException
	assert.ErrorAs(t, err, &notActive)

	s.FailNext("UpdateService", 1, "InvalidParameterException")
	err = e.SetDesired(ctx, web, 2)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ecs UpdateService app/web: ")
	var invalid *types.InvalidParameterException
	assert.ErrorAs(t, err, &invalid)
}

func TestECSAccessDenied(t *testing.T) {
	ctx := context.Background()
	s, e := newECS(t, awstest.Service{Desired: 1})
	var denied *types.AccessDeniedException

	s.Deny("DescribeServices")
	_, err := e.State(ctx, web)
	require.ErrorAs(t, err, &denied)
	assert.Contains(t, err.Error(), "grant the IAM action ecs:DescribeServices on service app/web")

	s.Deny("UpdateService")
	err = e.SetDesired(ctx, web, 2)
	require.ErrorAs(t, err, &denied)
	assert.Contains(t, err.Error(), "grant the IAM action ecs:UpdateService on service app/web")
	assert.Len(t, s.Calls(), 2, "access denied is not retried")
}

func TestECSThrottledThenSucceeds(t *testing.T) {
	s, e := newECS(t, awstest.Service{Desired: 4})
	s.Throttle("DescribeServices", 2)
	st, err := e.State(context.Background(), web)
	require.NoError(t, err)
	assert.Equal(t, 4, st.Desired)
	calls := s.Calls("DescribeServices")
	require.Len(t, calls, 3)
	assert.Equal(t, []int{400, 400, 200}, []int{calls[0].Status, calls[1].Status, calls[2].Status})
}

func TestECSServerErrorUntilRetriesRunOut(t *testing.T) {
	ctx := context.Background()
	s, e := newECS(t, awstest.Service{Desired: 4})
	s.FailNext("", 100, "ServerException")
	var serverErr *types.ServerException

	_, err := e.State(ctx, web)
	require.ErrorAs(t, err, &serverErr)
	assert.Contains(t, err.Error(), "ecs DescribeServices app/web: ")
	assert.Len(t, s.Calls("DescribeServices"), awstest.MaxAttempts)

	err = e.SetDesired(ctx, web, 8)
	require.ErrorAs(t, err, &serverErr)
	assert.Len(t, s.Calls("UpdateService"), awstest.MaxAttempts)
	got, _ := s.Service("app", "web")
	assert.Equal(t, int32(4), got.Desired, "unchanged")
}

func TestECSBadResponses(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"invalid JSON", `{"services":[{"serviceName":`, "DescribeServices app/web"},
		{"wrong type", `{"services":[{"desiredCount":"three"}]}`, "DescribeServices app/web"},
		{"empty object", `{}`, "0 services and no failure"},
		{"empty body", ``, "0 services and no failure"},
		{"two services", `{"services":[{"desiredCount":1},{"desiredCount":2}]}`, "2 services"},
		{"negative count", `{"services":[{"status":"ACTIVE","desiredCount":2,"runningCount":-1}]}`, "absurd task count -1"},
		{"huge desired", `{"services":[{"status":"ACTIVE","desiredCount":2000000}]}`, "absurd task count 2000000"},
		{"other failure", `{"failures":[{"arn":"x","reason":"INTERNAL","detail":"boom"}]}`, "failure INTERNAL boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e := newECS(t, awstest.Service{})
			s.RespondNext("DescribeServices", 1, http.StatusOK, []byte(tt.body))
			var st scaler.State
			var err error
			require.NotPanics(t, func() { st, err = e.State(context.Background(), web) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, st)
		})
	}
}

func TestECSDeserializationErrorKept(t *testing.T) {
	s, e := newECS(t, awstest.Service{})
	s.RespondNext("UpdateService", 1, http.StatusOK, []byte(`{"service":`))
	err := e.SetDesired(context.Background(), web, 3)
	var deser *smithy.DeserializationError
	assert.ErrorAs(t, err, &deser)
}

func TestECSSetDesiredOutOfRange(t *testing.T) {
	s, e := newECS(t, awstest.Service{})
	for _, n := range []int{-1, 1_000_001} {
		assert.Error(t, e.SetDesired(context.Background(), web, n), "desired %d", n)
	}
	assert.Empty(t, s.Calls(), "nothing sent")
}

// nilClient answers every call with neither output nor error.
type nilClient struct{}

func (nilClient) DescribeServices(context.Context, *awsecs.DescribeServicesInput, ...func(*awsecs.Options)) (*awsecs.DescribeServicesOutput, error) {
	return nil, nil
}

func (nilClient) UpdateService(context.Context, *awsecs.UpdateServiceInput, ...func(*awsecs.Options)) (*awsecs.UpdateServiceOutput, error) {
	return nil, nil
}

func (nilClient) TagResource(context.Context, *awsecs.TagResourceInput, ...func(*awsecs.Options)) (*awsecs.TagResourceOutput, error) {
	return nil, nil
}

func TestECSNilOutput(t *testing.T) {
	e := ecs.New(nilClient{})
	_, err := e.State(context.Background(), web)
	assert.ErrorContains(t, err, "empty response")
	assert.NoError(t, e.SetDesired(context.Background(), web, 2))
}

var _ scaler.Scaler = (*ecs.Scaler)(nil)

// BenchmarkECSScaleOut is one State and one SetDesired through the real SDK
// client against the local test server.
func BenchmarkECSScaleOut(b *testing.B) {
	ctx := context.Background()
	s, e := newECS(b, awstest.Service{Desired: 2, Running: 2})
	b.ReportAllocs()
	for b.Loop() {
		s.ResetCalls() // keep the server's record from growing
		st, err := e.State(ctx, web)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.SetDesired(ctx, web, st.Desired%100+1); err != nil {
			b.Fatal(err)
		}
	}
}
