package ecs_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler/ecs"
)

// gate is an ecs.Client in front of a real SDK client: each call waits until
// the test takes it from pending, so the test decides how two processes'
// calls interleave. A call's context ending also ends the wait.
type gate struct {
	next    ecs.Client
	pending chan string // the operation of a call waiting to go
}

func newGate(next ecs.Client) *gate {
	return &gate{next: next, pending: make(chan string)}
}

func (g *gate) wait(ctx context.Context, op string) error {
	select {
	case g.pending <- op:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) DescribeServices(ctx context.Context, in *awsecs.DescribeServicesInput, o ...func(*awsecs.Options)) (*awsecs.DescribeServicesOutput, error) {
	if err := g.wait(ctx, "DescribeServices"); err != nil {
		return nil, err
	}
	return g.next.DescribeServices(ctx, in, o...)
}

func (g *gate) UpdateService(ctx context.Context, in *awsecs.UpdateServiceInput, o ...func(*awsecs.Options)) (*awsecs.UpdateServiceOutput, error) {
	if err := g.wait(ctx, "UpdateService"); err != nil {
		return nil, err
	}
	return g.next.UpdateService(ctx, in, o...)
}

func (g *gate) TagResource(ctx context.Context, in *awsecs.TagResourceInput, o ...func(*awsecs.Options)) (*awsecs.TagResourceOutput, error) {
	if err := g.wait(ctx, "TagResource"); err != nil {
		return nil, err
	}
	return g.next.TagResource(ctx, in, o...)
}

// take lets g's waiting call go, if one waits (every goroutine of the
// bubble is blocked when it is called), and reports its operation.
func (g *gate) take() (string, bool) {
	select {
	case op := <-g.pending:
		return op, true
	default:
		return "", false
	}
}

// replica is one fast-autoscaler process: an engine with its own ECS client
// and identity, on the shared mock clock.
type replica struct {
	name   string
	gate   *gate // nil when the client is not gated
	eng    *autoscaler.Engine
	reads  atomic.Int64 // metric readings taken
	mu     sync.Mutex
	checks []autoscaler.Check
	stop   func()
}

func (r *replica) outcomes() []autoscaler.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []autoscaler.Outcome
	for _, c := range r.checks {
		out = append(out, c.Outcome)
	}
	return out
}

func (r *replica) last() autoscaler.Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checks[len(r.checks)-1]
}

// replicaOptions vary startReplica.
type replicaOptions struct {
	gated  bool         // calls wait for the test (replica.gate)
	paused bool         // the service's config says Paused
	logs   *slog.Logger // default: discarded
}

// web is the service every replica watches: threshold 100, the default
// 3 s checks and 180 s grace.
func webService(paused bool, read func() autoscaler.Reading) autoscaler.Service {
	p := autoscaler.DefaultPolicy()
	p.ScaleoutThreshold = 100
	return autoscaler.Service{Cluster: web.Cluster, Name: web.Name, Policy: p, Paused: paused,
		Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) { return read(), nil })}
}

// startReplica runs an engine watching app/web, through its own real SDK
// client against srv (in process), with a reading of 500: a spike from its
// first check on.
func startReplica(t *testing.T, srv *awstest.Server, mock *clock.Mock, name string, o replicaOptions) *replica {
	r := &replica{name: name}
	var client ecs.Client = awsecs.NewFromConfig(srv.InProcessConfig())
	if o.gated {
		r.gate = newGate(client)
		client = r.gate
	}
	eng, err := autoscaler.New([]autoscaler.Service{webService(o.paused, func() autoscaler.Reading {
		r.reads.Add(1)
		return autoscaler.Reading{Value: 500}
	})}, autoscaler.Options{
		Scaler: ecs.New(client), Clock: mock, Identity: name, Logger: o.logs,
		Observer: autoscaler.ObserverFunc(func(_ scaler.ServiceID, c autoscaler.Check, _ time.Duration) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.checks = append(r.checks, c)
		}),
	})
	require.NoError(t, err)
	r.eng = eng
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	r.stop = func() { // a call held at the gate ends with the shutdown grace
		cancel()
		synctest.Wait()
		mock.Add(autoscaler.DefaultShutdownGrace)
		require.NoError(t, <-done)
	}
	return r
}

// call is one ECS call as the test let it go.
type call struct{ by, op string }

// TestTwoReplicasOneScaleOut runs two engines with the same config against
// one ECS (the real SDK client of each talking to the wire server) through
// one spike, on every order of their calls: bit i of the schedule picks
// which replica's waiting call goes i-th (the other's, when that one has
// none waiting). Whatever the order, the service is raised once, to 10, and
// neither replica calls ECS again within the grace period.
func TestTwoReplicasOneScaleOut(t *testing.T) {
	const calls = 6 // each replica: DescribeServices, TagResource, UpdateService at most
	orders := map[string]bool{}
	for schedule := range 1 << calls {
		srv := awstest.New(t) // outside the bubble: its listener is real I/O
		srv.PutService("app", "web", awstest.Service{Desired: 3, Running: 3})
		var trace []call
		synctest.Test(t, func(t *testing.T) {
			mock := clock.NewMock()
			a := startReplica(t, srv, mock, "replica-a", replicaOptions{gated: true})
			b := startReplica(t, srv, mock, "replica-b", replicaOptions{gated: true})
			for i := 0; ; i++ {
				synctest.Wait() // each replica waits at its gate or on its clock
				first, second := a, b
				if schedule>>(i%calls)&1 == 1 {
					first, second = b, a
				}
				op, ok := first.gate.take()
				if !ok {
					first = second
					op, ok = second.gate.take()
				}
				if !ok {
					break // both have finished their first check
				}
				trace = append(trace, call{first.name, op})
			}
			t0 := mock.Now()

			got, _ := srv.Service("app", "web")
			assert.EqualValues(t, 10, got.Desired, "%v: raised once, from 3 to 10", trace)
			for _, u := range srv.Calls("UpdateService") {
				assert.EqualValues(t, 10, u.Params["desiredCount"], "%v: every update sets the same count", trace)
			}
			// A replica that described the service after the other's
			// update landed found the record and left the service alone.
			for _, r := range []*replica{a, b} {
				if described, updatedBefore := position(trace, r.name, "DescribeServices"), otherUpdate(trace, r.name); updatedBefore >= 0 && described > updatedBefore {
					assert.Equal(t, []autoscaler.Outcome{autoscaler.InGrace}, r.outcomes(), "%v: %s", trace, r.name)
					assert.Equal(t, -1, position(trace, r.name, "UpdateService"), "%v: %s made no update", trace, r.name)
				} else {
					assert.Equal(t, []autoscaler.Outcome{autoscaler.ScaledOut}, r.outcomes(), "%v: %s", trace, r.name)
				}
			}
			assert.NotEmpty(t, got.Tags[ecs.TagLastScaleOut], "the scale-out is recorded")

			// The load stays high: no call at all until the grace period ends.
		wait:
			for _, step := range append(slices.Repeat([]time.Duration{3 * time.Second}, 59), 2*time.Second) { // to +179 s
				mock.Add(step)
				synctest.Wait()
				for _, r := range []*replica{a, b} {
					select {
					case op := <-r.gate.pending:
						assert.Fail(t, "a call inside the grace period", "%v: %s called %s at +%v", trace, r.name, op, mock.Now().Sub(t0))
						break wait
					default:
					}
				}
			}
			a.stop()
			b.stop()
		})
		orders[fmt.Sprint(trace)] = true
	}
	t.Logf("%d distinct call orders", len(orders))
	assert.GreaterOrEqual(t, len(orders), 10, "the schedules force many orders")
}

// position is the index in trace of by's first call of op, or -1.
func position(trace []call, by, op string) int {
	for i, c := range trace {
		if c.by == by && c.op == op {
			return i
		}
	}
	return -1
}

// otherUpdate is the index of the first UpdateService of a replica other
// than by, or -1.
func otherUpdate(trace []call, by string) int {
	for i, c := range trace {
		if c.by != by && c.op == "UpdateService" {
			return i
		}
	}
	return -1
}

// TestRestartKeepsGracePeriod: a process that scaled out stops; the one
// that replaces it a minute later finds the scale-out recorded on the
// service and leaves the service alone until that grace period ends, then
// scales out once more.
func TestRestartKeepsGracePeriod(t *testing.T) {
	srv := awstest.New(t)
	srv.PutService("app", "web", awstest.Service{Desired: 3, Running: 3})
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		t0 := mock.Now()
		old := startReplica(t, srv, mock, "old-task/1", replicaOptions{})
		synctest.Wait()
		require.Equal(t, []autoscaler.Outcome{autoscaler.ScaledOut}, old.outcomes())
		got, _ := srv.Service("app", "web")
		assert.Equal(t, map[string]string{ecs.TagLastScaleOut: "1970-01-01T00:00:00Z", ecs.TagDesired: "10", ecs.TagBy: "old-task/1"}, got.Tags)
		mock.Add(30 * time.Second)
		old.stop()

		mock.Add(30 * time.Second) // the new task starts at +60 s
		fresh := startReplica(t, srv, mock, "new-task/1", replicaOptions{})
		synctest.Wait()
		require.Equal(t, []autoscaler.Outcome{autoscaler.InGrace}, fresh.outcomes())
		c := fresh.last()
		assert.Equal(t, "old-task/1", c.Recorded.By)
		assert.Equal(t, 10, c.Recorded.Desired)
		assert.True(t, c.Next.Equal(t0.Add(180*time.Second)), "held until the recorded grace period ends, got %v", c.Next)

		for end := t0.Add(179 * time.Second); mock.Now().Before(end); { // to +179 s
			mock.Add(min(2*time.Second, end.Sub(mock.Now())))
			synctest.Wait()
		}
		assert.Len(t, srv.Calls("UpdateService"), 1, "no second scale-out inside the recorded grace period")
		assert.Len(t, fresh.outcomes(), 1, "not even a check")
		assert.EqualValues(t, 1, fresh.reads.Load())

		mock.Add(time.Second) // +180 s: the recorded grace period is over
		synctest.Wait()
		assert.Equal(t, []autoscaler.Outcome{autoscaler.InGrace, autoscaler.ScaledOut}, fresh.outcomes())
		updates := srv.Calls("UpdateService")
		require.Len(t, updates, 2)
		assert.EqualValues(t, 20, updates[1].Params["desiredCount"])
		got, _ = srv.Service("app", "web")
		assert.Equal(t, "new-task/1", got.Tags[ecs.TagBy])
		assert.Equal(t, "20", got.Tags[ecs.TagDesired])
		fresh.stop()
	})
}

// TestPausedByTag: a service tagged fast-autoscaler:paused=true is read as
// usual and never raised; removing the tag resumes scale-outs at the next
// check.
func TestPausedByTag(t *testing.T) {
	srv := awstest.New(t)
	srv.PutService("app", "web", awstest.Service{Desired: 3, Running: 3, Tags: map[string]string{ecs.TagPaused: "true"}})
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		r := startReplica(t, srv, mock, "a", replicaOptions{})
		for range 3 {
			synctest.Wait()
			mock.Add(3 * time.Second)
		}
		synctest.Wait()
		assert.Equal(t, slices.Repeat([]autoscaler.Outcome{autoscaler.Paused}, 4), r.outcomes())
		assert.EqualValues(t, 4, r.reads.Load(), "readings go on")
		assert.True(t, r.last().Paused)
		assert.Equal(t, []scaler.ServiceID{web}, r.eng.Paused())
		assert.Empty(t, srv.Calls("UpdateService", "TagResource"), "never scaled")

		srv.SetTag("app", "web", ecs.TagPaused, "") // aws ecs untag-resource
		mock.Add(3 * time.Second)
		synctest.Wait()
		assert.Equal(t, autoscaler.ScaledOut, r.last().Outcome, "unpausing resumes")
		assert.False(t, r.last().Paused)
		assert.Empty(t, r.eng.Paused())
		got, _ := srv.Service("app", "web")
		assert.EqualValues(t, 10, got.Desired)
		r.stop()
	})
}

// TestPausedByConfig: a service whose config says Paused is read as usual,
// costs no ECS call and is never raised; a config without it resumes.
func TestPausedByConfig(t *testing.T) {
	srv := awstest.New(t)
	srv.PutService("app", "web", awstest.Service{Desired: 3, Running: 3})
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		var logs bytes.Buffer
		r := startReplica(t, srv, mock, "a", replicaOptions{paused: true, logs: slog.New(slog.NewJSONHandler(&logs, nil))})
		for range 3 {
			synctest.Wait()
			mock.Add(3 * time.Second)
		}
		synctest.Wait()
		assert.Equal(t, slices.Repeat([]autoscaler.Outcome{autoscaler.Paused}, 4), r.outcomes())
		assert.EqualValues(t, 4, r.reads.Load(), "readings go on")
		assert.Empty(t, srv.Calls(), "no ECS call for a service paused by its config")
		assert.Equal(t, []scaler.ServiceID{web}, r.eng.Paused())
		assert.Contains(t, logs.String(), `"msg":"service paused: readings go on, scale-outs are skipped","cluster":"app","service":"web","paused_by":"config"`)

		require.NoError(t, r.eng.Update([]autoscaler.Service{webService(false, func() autoscaler.Reading {
			r.reads.Add(1)
			return autoscaler.Reading{Value: 500}
		})}))
		assert.Empty(t, r.eng.Paused(), "unpaused at once")
		mock.Add(3 * time.Second)
		synctest.Wait()
		assert.Equal(t, autoscaler.ScaledOut, r.last().Outcome, "unpausing resumes")
		assert.Contains(t, logs.String(), `"msg":"service resumed: scale-outs allowed again"`)
		got, _ := srv.Service("app", "web")
		assert.EqualValues(t, 10, got.Desired)
		r.stop()
	})
}
