package ecs_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
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

// TestECSOutcomeUnknown: an UpdateService whose answer is lost (no answer
// before the deadline, the connection broken after the request went out)
// may have been applied, and SetDesired says so; an answer from ECS, or a
// request that never connected, is a known outcome.
func TestECSOutcomeUnknown(t *testing.T) {
	t.Run("no answer before the deadline", func(t *testing.T) {
		s, e := newECS(t, awstest.Service{Desired: 3})
		held := s.HoldAnswer("UpdateService")
		defer held.Release()
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-held.Arrived(); cancel() }()
		err := e.SetDesired(ctx, web, 10)
		require.ErrorIs(t, err, scaler.ErrOutcomeUnknown)
		assert.ErrorIs(t, err, context.Canceled)
		got, _ := s.Service("app", "web")
		assert.Equal(t, int32(10), got.Desired, "applied all the same")
	})
	t.Run("connection broken after the request", func(t *testing.T) {
		s := awstest.New(t)
		s.PutService("app", "web", awstest.Service{Desired: 3})
		cfg := s.Config()
		cfg.RetryMaxAttempts, cfg.Retryer = 1, nil // no retry: the first broken answer is final
		e := ecs.New(awsecs.NewFromConfig(cfg))
		s.DropAnswer("UpdateService", 1)
		err := e.SetDesired(t.Context(), web, 10)
		require.ErrorIs(t, err, scaler.ErrOutcomeUnknown, "%v", err)
		got, _ := s.Service("app", "web")
		assert.Equal(t, int32(10), got.Desired)
	})
	t.Run("known outcomes", func(t *testing.T) {
		s, e := newECS(t, awstest.Service{Desired: 3})
		s.Deny("UpdateService")
		assert.NotErrorIs(t, e.SetDesired(t.Context(), web, 10), scaler.ErrOutcomeUnknown, "an answer from ECS")
		s.Close()
		err := e.SetDesired(t.Context(), web, 10)
		require.Error(t, err)
		assert.NotErrorIs(t, err, scaler.ErrOutcomeUnknown, "never connected: %v", err)
	})
}

// newWithTargets returns a scaler reading scalable targets too, on a mock
// clock, logging to the returned buffer.
func newWithTargets(t testing.TB, svc awstest.Service) (*awstest.Server, *ecs.Scaler, *clock.Mock, *bytes.Buffer) {
	s := awstest.New(t)
	s.PutService(web.Cluster, web.Name, svc)
	mock := clock.NewMock()
	var logs bytes.Buffer
	e := ecs.NewWithOptions(awsecs.NewFromConfig(s.Config()), ecs.Options{
		ScalableTargets: applicationautoscaling.NewFromConfig(s.Config()),
		Logger:          slog.New(slog.NewJSONHandler(&logs, nil)),
		Clock:           mock,
	})
	return s, e, mock, &logs
}

func TestECSScalableTarget(t *testing.T) {
	ctx := context.Background()
	s, e, mock, _ := newWithTargets(t, awstest.Service{Desired: 5, Running: 5})
	s.PutScalableTarget(web.Cluster, web.Name, awstest.ScalableTarget{Min: 2, Max: 8, DynamicScalingOutSuspended: true})

	st, err := e.State(ctx, web)
	require.NoError(t, err)
	assert.Equal(t, scaler.ScalableTarget{Known: true, Registered: true, Min: 2, Max: 8, ScaleOutSuspended: true}, st.Target)
	calls := s.Calls("DescribeScalableTargets")
	require.Len(t, calls, 1)
	assert.JSONEq(t, `{"ServiceNamespace":"ecs","ResourceIds":["service/app/web"],"ScalableDimension":"ecs:service:DesiredCount","MaxResults":50}`, string(calls[0].Body))

	s.PutScalableTarget(web.Cluster, web.Name, awstest.ScalableTarget{Min: 2, Max: 12})
	st, err = e.State(ctx, web)
	require.NoError(t, err)
	assert.Equal(t, 8, st.Target.Max, "reused within a minute")
	assert.Len(t, s.Calls("DescribeScalableTargets"), 1)

	mock.Add(ecs.DefaultTargetsMaxAge)
	st, err = e.State(ctx, web)
	require.NoError(t, err)
	assert.Equal(t, scaler.ScalableTarget{Known: true, Registered: true, Min: 2, Max: 12}, st.Target, "read again after a minute")

	s.PutScalableTarget(web.Cluster, web.Name, awstest.ScalableTarget{Min: 2, Max: 20})
	require.NoError(t, e.SetDesired(ctx, web, 10))
	st, err = e.State(ctx, web)
	require.NoError(t, err)
	assert.Equal(t, 20, st.Target.Max, "read again after a scale-out")
	assert.Len(t, s.Calls("DescribeScalableTargets"), 3)

	s.RemoveScalableTarget(web.Cluster, web.Name)
	mock.Add(ecs.DefaultTargetsMaxAge)
	st, err = e.State(ctx, web)
	require.NoError(t, err)
	assert.Equal(t, scaler.ScalableTarget{Known: true}, st.Target, "none registered: known to have none")
}

func TestECSScalableTargetDenied(t *testing.T) {
	ctx := context.Background()
	s, e, mock, logs := newWithTargets(t, awstest.Service{Desired: 5, Running: 5})
	s.PutScalableTarget(web.Cluster, web.Name, awstest.ScalableTarget{Min: 2, Max: 8})
	s.Deny("DescribeScalableTargets")

	for range 3 {
		st, err := e.State(ctx, web)
		require.NoError(t, err, "the service is still read")
		assert.Equal(t, 5, st.Desired)
		assert.False(t, st.Target.Known)
		mock.Add(ecs.DefaultTargetsMaxAge)
	}
	assert.Len(t, s.Calls("DescribeScalableTargets"), 3, "tried again each minute")
	assert.Equal(t, 1, strings.Count(logs.String(), "scalable target not readable"), "warned once")
	assert.Contains(t, logs.String(), "grant the IAM action application-autoscaling:DescribeScalableTargets")

	s.Allow("DescribeScalableTargets")
	st, err := e.State(ctx, web)
	require.NoError(t, err)
	assert.Equal(t, 8, st.Target.Max)
	assert.Contains(t, logs.String(), "scalable target readable again")
}

func TestECSScalableTargetBadResponses(t *testing.T) {
	for name, body := range map[string]string{
		"missing MaxCapacity": `{"ScalableTargets":[{"ServiceNamespace":"ecs","ResourceId":"service/app/web","ScalableDimension":"ecs:service:DesiredCount","MinCapacity":1,"CreationTime":1700000000,"RoleARN":"r"}]}`,
		"max below min":       `{"ScalableTargets":[{"ServiceNamespace":"ecs","ResourceId":"service/app/web","ScalableDimension":"ecs:service:DesiredCount","MinCapacity":9,"MaxCapacity":3,"CreationTime":1700000000,"RoleARN":"r"}]}`,
		"not JSON":            `{"ScalableTargets":[`,
	} {
		t.Run(name, func(t *testing.T) {
			s, e, _, logs := newWithTargets(t, awstest.Service{Desired: 5, Running: 5})
			s.RespondNext("DescribeScalableTargets", 1, http.StatusOK, []byte(body))
			st, err := e.State(context.Background(), web)
			require.NoError(t, err)
			assert.False(t, st.Target.Known)
			assert.Contains(t, logs.String(), "scalable target not readable")
		})
	}
}

func TestECSScalableTargetOfAnARN(t *testing.T) {
	s, e, _, _ := newWithTargets(t, awstest.Service{Desired: 5, Running: 5})
	s.PutScalableTarget(web.Cluster, web.Name, awstest.ScalableTarget{Min: 1, Max: 8})
	svc := scaler.ServiceID{Cluster: "arn:aws:ecs:ap-northeast-1:123456789012:cluster/app", Name: "web"}
	st, err := e.State(context.Background(), svc)
	require.NoError(t, err)
	assert.Equal(t, 8, st.Target.Max)
}

func TestECSLastEvent(t *testing.T) {
	long := strings.Repeat("x", 600)
	_, e := newECS(t, awstest.Service{Desired: 10, Running: 5, Pending: 0, Events: []string{
		"(service web) was unable to place a task because no container instance met all of its requirements.\nThe closest matching container-instance has insufficient CPU units available.",
		"(service web) has started 5 tasks.",
	}})
	st, err := e.State(context.Background(), web)
	require.NoError(t, err)
	assert.Equal(t, "(service web) was unable to place a task because no container instance met all of its requirements. The closest matching container-instance has insufficient CPU units available.", st.LastEvent, "the newest, on one line")

	_, e = newECS(t, awstest.Service{Desired: 1, Events: []string{long}})
	st, err = e.State(context.Background(), web)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(st.LastEvent), 503)
	assert.True(t, strings.HasSuffix(st.LastEvent, "…"))
}

// TestWatcherRetryFindsTheLostUpdate drives the real watcher through the
// real SDK client, in every ScaleoutMode, with an UpdateService that lands
// but whose answer is an error. Whatever the error, no second update is
// made:
//   - a 500 on every attempt, or a connection dropped after the call was
//     applied: the outcome is unknown (scale_unknown); the service is read
//     at once, the count asked for is found in force, and the scale-out is
//     done (Landed, its grace period runs);
//   - the same, with the read right after failing too: the retry reads
//     first, finds the count in force, and reports the scale-out done
//     (ScaledOut, Landed);
//   - a client error (which ECS answers when it applied nothing, here after
//     applying it all the same): a failure (scale_failed), remembered, and
//     the retry reads first and finds it in force.
func TestWatcherRetryFindsTheLostUpdate(t *testing.T) {
	steps := &autoscaler.StepScaling{AdjustmentType: autoscaler.ChangeInCapacity,
		StepAdjustments: []autoscaler.StepAdjustment{{MetricIntervalLowerBound: new(0.0), ScalingAdjustment: 4}}}
	faults := []struct {
		name    string
		inject  func(s *awstest.Server)
		first   autoscaler.Outcome
		settled bool // by the read right after the update
		calls   int  // UpdateService calls made, the SDK's retries included
	}{
		{"500 after commit", func(s *awstest.Server) {
			s.CommitThenFail("UpdateService", awstest.MaxAttempts, "ServerException")
		}, autoscaler.ScaleUnknown, true, awstest.MaxAttempts},
		{"answer dropped", func(s *awstest.Server) {
			s.DropAnswer("UpdateService", awstest.MaxAttempts)
		}, autoscaler.ScaleUnknown, true, awstest.MaxAttempts},
		{"500 after commit, the read after fails", func(s *awstest.Server) {
			s.CommitThenFail("UpdateService", awstest.MaxAttempts, "ServerException")
			// Once the check's own read is made and the update applied,
			// fail every attempt of the read right after it.
			held := s.HoldAnswer("UpdateService")
			go func() {
				<-held.Arrived()
				s.FailNext("DescribeServices", awstest.MaxAttempts, "ServerException")
				held.Release()
			}()
		}, autoscaler.ScaleUnknown, false, awstest.MaxAttempts},
		{"client error after commit", func(s *awstest.Server) {
			s.CommitThenFail("UpdateService", 1, "InvalidParameterException")
		}, autoscaler.ScaleFailed, false, 1},
	}
	for _, f := range faults {
		for _, mode := range []autoscaler.ScaleoutMode{autoscaler.ModeDouble, autoscaler.ModeCapacity, autoscaler.ModeSteps} {
			t.Run(f.name+"/"+string(mode), func(t *testing.T) {
				s, e := newECS(t, awstest.Service{Desired: 3, Running: 3})
				p := autoscaler.DefaultPolicy()
				p.ScaleoutThreshold, p.ScaleoutMode = 100, mode
				if mode == autoscaler.ModeSteps {
					p.Steps = steps
				}
				w, err := autoscaler.NewWatcher(autoscaler.Service{Cluster: web.Cluster, Name: web.Name, Policy: p,
					Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
						return autoscaler.Reading{Value: 400}, nil
					})}, e, nil)
				require.NoError(t, err)
				now := time.Unix(1_700_000_000, 0)

				f.inject(s)
				c := w.Step(t.Context(), now)
				require.Equal(t, f.first, c.Outcome, "%v", c.Err)
				asked := c.DesiredNew
				got, _ := s.Service(web.Cluster, web.Name)
				require.EqualValues(t, asked, got.Desired, "the update landed")
				assert.Len(t, s.Calls("UpdateService"), f.calls)
				if f.settled {
					assert.True(t, c.Landed, "found in force by the read right after: done")
					assert.True(t, c.Grace)
					assert.Equal(t, asked, c.DesiredAfter)
					return
				}
				assert.False(t, c.Landed)
				if f.first == autoscaler.ScaleUnknown {
					assert.Equal(t, -1, c.DesiredAfter, "the read after failed")
				}

				c = w.Step(t.Context(), c.Next)
				assert.Equal(t, autoscaler.ScaledOut, c.Outcome)
				assert.True(t, c.Landed, "found in force by the retry's read: done")
				assert.Equal(t, [2]int{3, asked}, [2]int{c.DesiredCur, c.DesiredNew})
				assert.Len(t, s.Calls("UpdateService"), f.calls, "no second update")
				got, _ = s.Service(web.Cluster, web.Name)
				assert.EqualValues(t, asked, got.Desired)
			})
		}
	}
}

// TestECSStatesReadTargetsInOneCall: a batch read fills in every service's
// scalable target with one DescribeScalableTargets call.
func TestECSStatesReadTargetsInOneCall(t *testing.T) {
	s, e, _, _ := newWithTargets(t, awstest.Service{Desired: 5, Running: 5})
	s.PutService("app", "api", awstest.Service{Desired: 2, Running: 2})
	s.PutService("app", "batch", awstest.Service{Desired: 1, Running: 1})
	s.PutScalableTarget("app", "web", awstest.ScalableTarget{Min: 2, Max: 8})
	s.PutScalableTarget("app", "api", awstest.ScalableTarget{Min: 1, Max: 4, DynamicScalingOutSuspended: true})
	ids := []scaler.ServiceID{web, {Cluster: "app", Name: "api"}, {Cluster: "app", Name: "batch"}, {Cluster: "app", Name: "gone"}}
	states, errs := e.States(context.Background(), ids)
	require.Len(t, states, 4)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.NoError(t, errs[2])
	assert.ErrorIs(t, errs[3], scaler.ErrServiceNotFound)
	assert.Equal(t, scaler.ScalableTarget{Known: true, Registered: true, Min: 2, Max: 8}, states[0].Target)
	assert.Equal(t, scaler.ScalableTarget{Known: true, Registered: true, Min: 1, Max: 4, ScaleOutSuspended: true}, states[1].Target)
	assert.Equal(t, scaler.ScalableTarget{Known: true}, states[2].Target)
	calls := s.Calls("DescribeScalableTargets")
	require.Len(t, calls, 1, "one call for the three services read")
	assert.Len(t, calls[0].Params["ResourceIds"], 3)

	st, err := e.State(context.Background(), web)
	require.NoError(t, err)
	assert.Equal(t, 8, st.Target.Max)
	assert.Len(t, s.Calls("DescribeScalableTargets"), 1, "State reuses what States read")
}

// TestWatcherEscalatesPastItsOwnRecord: in ScaleoutMode capacity a watcher
// raises again during its grace period; the scale-out it recorded on the
// service (tags) is its own, known to it, and holds nothing, while one
// recorded by another process still does.
func TestWatcherEscalatesPastItsOwnRecord(t *testing.T) {
	s, e := newECS(t, awstest.Service{Desired: 5, Running: 5})
	load := 150.0
	p := autoscaler.DefaultPolicy()
	p.ScaleoutThreshold, p.ScaleoutMode = 100, autoscaler.ModeCapacity
	newWatcher := func() *autoscaler.Watcher {
		w, err := autoscaler.NewWatcher(autoscaler.Service{Cluster: web.Cluster, Name: web.Name, Policy: p,
			Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
				return autoscaler.Reading{Value: load}, nil
			})}, e, nil)
		require.NoError(t, err)
		return w
	}
	w := newWatcher()
	now := time.Unix(1_700_000_000, 0)
	c := w.Step(t.Context(), now)
	require.Equal(t, autoscaler.ScaledOut, c.Outcome)
	require.Equal(t, 9, c.DesiredNew)
	svc, _ := s.Service(web.Cluster, web.Name)
	require.NotEmpty(t, svc.Tags[ecs.TagLastScaleOut], "recorded on the service")

	load = 300
	c = w.Step(t.Context(), c.Next)
	assert.Equal(t, autoscaler.ScaledOut, c.Outcome, "its own record holds nothing")
	assert.Equal(t, 17, c.DesiredNew)

	// A second process (a fresh watcher: another identity's record, as far
	// as it knows) is held by it.
	other := newWatcher()
	load = 600
	c = other.Step(t.Context(), c.Next)
	assert.Equal(t, autoscaler.InGrace, c.Outcome)
}
