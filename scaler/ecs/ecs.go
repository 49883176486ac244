// Package ecs is a scaler.Scaler for Amazon ECS services on aws-sdk-go-v2:
// DescribeServices to read a service, UpdateService to set its desired count,
// and, when given a client for it, Application Auto Scaling's
// DescribeScalableTargets to read the bounds managed scaling keeps the
// service within.
package ecs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/benbjohnson/clock"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// maxTasks is the largest task count ECS may report or be asked for, far
// above the ECS quota of 5,000 tasks a service: a larger count is garbage,
// never acted on.
const maxTasks = 1_000_000

// Client is the part of *awsecs.Client that Scaler uses, with the SDK's own
// signatures, so tests and wrappers can stand in for it.
type Client interface {
	DescribeServices(ctx context.Context, in *awsecs.DescribeServicesInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeServicesOutput, error)
	UpdateService(ctx context.Context, in *awsecs.UpdateServiceInput, optFns ...func(*awsecs.Options)) (*awsecs.UpdateServiceOutput, error)
}

// TargetsClient is the part of *applicationautoscaling.Client that Scaler
// uses, with the SDK's own signature.
type TargetsClient interface {
	DescribeScalableTargets(ctx context.Context, in *aas.DescribeScalableTargetsInput, optFns ...func(*aas.Options)) (*aas.DescribeScalableTargetsOutput, error)
}

// DefaultTargetsMaxAge is how long a scalable target read is reused.
const DefaultTargetsMaxAge = time.Minute

// maxEventLen bounds the service event message State reports, in bytes.
const maxEventLen = 500

// Options configure a Scaler beyond its ECS client. The zero value reads no
// scalable targets.
type Options struct {
	// ScalableTargets, when set, reads each service's Application Auto
	// Scaling scalable target (its MinCapacity, MaxCapacity and whether
	// dynamic scale-out is suspended) for State, typically
	// applicationautoscaling.NewFromConfig(cfg). A read is reused for
	// TargetsMaxAge and made again after each SetDesired. When it fails
	// (the IAM action application-autoscaling:DescribeScalableTargets is
	// not granted, say) State still succeeds, reporting the target as not
	// known, and a warning is logged once per service.
	ScalableTargets TargetsClient
	// TargetsMaxAge is how long a scalable target read is reused. Default
	// DefaultTargetsMaxAge.
	TargetsMaxAge time.Duration
	// Logger receives those warnings. Default: discarded.
	Logger *slog.Logger
	// Clock times the reuse. Default clock.New().
	Clock clock.Clock
}

// Scaler is a scaler.Scaler for Amazon ECS services. State is one
// DescribeServices call (and, at most once per TargetsMaxAge, one
// DescribeScalableTargets call beside it) and SetDesired one UpdateService
// call; retries are the clients' own (the SDK's standard retryer,
// configured where the clients are built). It is safe for concurrent use.
type Scaler struct {
	client Client
	region string // for messages; empty if the client does not say
	opts   Options

	mu      sync.Mutex
	targets map[scaler.ServiceID]*targetRead
}

// targetRead is the last scalable target read of one service.
type targetRead struct {
	target scaler.ScalableTarget
	at     time.Time // when it was read; zero to read it again
	warned bool      // a failure was logged
}

var _ scaler.Scaler = (*Scaler)(nil)

// New returns an ECS scaler calling client, typically
// ecs.NewFromConfig(cfg), reading no scalable targets.
func New(client Client) *Scaler { return NewWithOptions(client, Options{}) }

// NewWithOptions returns an ECS scaler calling client, configured by opts.
func NewWithOptions(client Client, opts Options) *Scaler {
	if opts.TargetsMaxAge <= 0 {
		opts.TargetsMaxAge = DefaultTargetsMaxAge
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	e := &Scaler{client: client, opts: opts, targets: make(map[scaler.ServiceID]*targetRead)}
	if c, ok := client.(interface{ Options() awsecs.Options }); ok {
		e.region = c.Options().Region
	}
	return e
}

// State describes the service and, when Options.ScalableTargets is set, its
// scalable target. A service ECS reports missing is an error wrapping
// scaler.ErrServiceNotFound; a DRAINING or INACTIVE one wraps
// scaler.ErrServiceNotActive. A scalable target that cannot be read is no
// error: State.Target.Known is false.
func (e *Scaler) State(ctx context.Context, svc scaler.ServiceID) (scaler.State, error) {
	target := make(chan scaler.ScalableTarget, 1)
	if read := e.cachedTarget(svc); read != nil {
		target <- *read
	} else {
		go func() { target <- e.readTarget(ctx, svc) }() // beside DescribeServices, not after it
	}
	st, err := e.describe(ctx, svc)
	st.Target = <-target
	if err != nil {
		return scaler.State{}, err
	}
	return st, nil
}

// describe reads the service with DescribeServices.
func (e *Scaler) describe(ctx context.Context, svc scaler.ServiceID) (scaler.State, error) {
	out, err := e.client.DescribeServices(ctx, &awsecs.DescribeServicesInput{
		Cluster:  aws.String(svc.Cluster),
		Services: []string{svc.Name},
	})
	if err != nil {
		return scaler.State{}, e.wrap("DescribeServices", svc, err)
	}
	if out == nil {
		return scaler.State{}, fmt.Errorf("ecs: describe service %s: empty response", svc)
	}
	if len(out.Failures) > 0 { // one service asked for: one failure at most
		f := out.Failures[0]
		reason := aws.ToString(f.Reason)
		if reason == "MISSING" {
			return scaler.State{}, fmt.Errorf("ecs: service %q not found in cluster %q%s: %w", svc.Name, svc.Cluster, e.inRegion(), scaler.ErrServiceNotFound)
		}
		return scaler.State{}, fmt.Errorf("ecs: describe service %s: failure %s %s", svc, reason, aws.ToString(f.Detail))
	}
	if len(out.Services) != 1 {
		return scaler.State{}, fmt.Errorf("ecs: describe service %s: response holds %d services and no failure, want 1", svc, len(out.Services))
	}
	s := out.Services[0]
	for _, n := range []int32{s.DesiredCount, s.RunningCount, s.PendingCount} {
		if n < 0 || n > maxTasks {
			return scaler.State{}, fmt.Errorf("ecs: describe service %s: absurd task count %d (desired %d, running %d, pending %d)",
				svc, n, s.DesiredCount, s.RunningCount, s.PendingCount)
		}
	}
	status := aws.ToString(s.Status)
	if status == "DRAINING" || status == "INACTIVE" {
		return scaler.State{}, fmt.Errorf("ecs: service %s is %s, so it cannot be scaled: remove it from the config or recreate it: %w", svc, status, scaler.ErrServiceNotActive)
	}
	st := scaler.State{
		Desired:   int(s.DesiredCount),
		Running:   int(s.RunningCount),
		Pending:   int(s.PendingCount),
		Status:    status,
		Deploying: deploying(s.Deployments),
	}
	if len(s.Events) > 0 { // newest first
		st.LastEvent = eventText(aws.ToString(s.Events[0].Message))
	}
	return st, nil
}

// eventText makes an ECS event message fit for a log line and a chat
// message: valid UTF-8, one line, at most maxEventLen bytes.
func eventText(msg string) string {
	msg = strings.Join(strings.Fields(strings.ToValidUTF8(msg, "\uFFFD")), " ")
	if len(msg) <= maxEventLen {
		return msg
	}
	cut := maxEventLen
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// cachedTarget returns the scalable target read for svc while it is fresh,
// or nil when it must be read: none was, it is older than TargetsMaxAge,
// or a SetDesired came after it. With no TargetsClient it is never read.
func (e *Scaler) cachedTarget(svc scaler.ServiceID) *scaler.ScalableTarget {
	if e.opts.ScalableTargets == nil {
		return &scaler.ScalableTarget{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.targets[svc]
	if r == nil || r.at.IsZero() || e.opts.Clock.Since(r.at) >= e.opts.TargetsMaxAge {
		return nil
	}
	t := r.target
	return &t
}

// readTarget reads svc's scalable target and keeps it. A failure is
// logged at its first occurrence for svc and kept too, so it is not retried
// before TargetsMaxAge: scale-outs go on, bounded by MaxDesiredCount alone.
func (e *Scaler) readTarget(ctx context.Context, svc scaler.ServiceID) scaler.ScalableTarget {
	t, err := e.describeTarget(ctx, svc)
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.targets[svc]
	if r == nil {
		r = &targetRead{}
		e.targets[svc] = r
	}
	r.target, r.at = t, e.opts.Clock.Now()
	if err == nil {
		if r.warned {
			e.opts.Logger.Info("scalable target readable again", "cluster", svc.Cluster, "service", svc.Name)
		}
		r.warned = false
		return t
	}
	if !r.warned && ctx.Err() == nil {
		r.warned = true
		e.opts.Logger.Warn("scalable target not readable: scale-outs are bounded by MaxDesiredCount alone",
			"cluster", svc.Cluster, "service", svc.Name, "error", err.Error())
	}
	return t
}

// describeTarget reads svc's scalable target with DescribeScalableTargets.
func (e *Scaler) describeTarget(ctx context.Context, svc scaler.ServiceID) (scaler.ScalableTarget, error) {
	id := "service/" + lastPart(svc.Cluster) + "/" + lastPart(svc.Name)
	out, err := e.opts.ScalableTargets.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{
		ServiceNamespace:  aastypes.ServiceNamespaceEcs,
		ResourceIds:       []string{id},
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
	})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException" {
			return scaler.ScalableTarget{}, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: access denied: grant the IAM action application-autoscaling:DescribeScalableTargets: %w", id, err)
		}
		return scaler.ScalableTarget{}, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: %w", id, err)
	}
	if out == nil {
		return scaler.ScalableTarget{}, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: empty response", id)
	}
	for _, t := range out.ScalableTargets {
		if aws.ToString(t.ResourceId) != id || t.ScalableDimension != aastypes.ScalableDimensionECSServiceDesiredCount {
			continue
		}
		if t.MinCapacity == nil || t.MaxCapacity == nil {
			return scaler.ScalableTarget{}, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: response lacks MinCapacity or MaxCapacity", id)
		}
		lo, hi := *t.MinCapacity, *t.MaxCapacity
		if lo < 0 || hi < lo || hi > maxTasks {
			return scaler.ScalableTarget{}, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: absurd capacity: MinCapacity %d, MaxCapacity %d", id, lo, hi)
		}
		st := scaler.ScalableTarget{Known: true, Registered: true, Min: int(lo), Max: int(hi)}
		if s := t.SuspendedState; s != nil {
			st.ScaleOutSuspended = aws.ToBool(s.DynamicScalingOutSuspended)
		}
		return st, nil
	}
	return scaler.ScalableTarget{Known: true}, nil // the service has none
}

// lastPart is a name, or the last part of an ARN ("arn:...:cluster/app" is
// "app").
func lastPart(s string) string {
	if strings.HasPrefix(s, "arn:") {
		return s[strings.LastIndex(s, "/")+1:]
	}
	return s
}

// deploying reports more than one deployment, or a PRIMARY one whose
// rollout is not COMPLETED (ECS leaves RolloutState empty for services it
// does not track: that is not a deployment in progress).
func deploying(ds []types.Deployment) bool {
	if len(ds) > 1 {
		return true
	}
	for _, d := range ds {
		if aws.ToString(d.Status) == "PRIMARY" && d.RolloutState != "" && d.RolloutState != types.DeploymentRolloutStateCompleted {
			return true
		}
	}
	return false
}

// SetDesired sets the service's desired count (0 to 1,000,000 tasks) with
// UpdateService, which starts no new deployment.
func (e *Scaler) SetDesired(ctx context.Context, svc scaler.ServiceID, desired int) error {
	if desired < 0 || desired > maxTasks {
		return fmt.Errorf("ecs: set desired count of %s to %d: out of range 0..%d", svc, desired, maxTasks)
	}
	_, err := e.client.UpdateService(ctx, &awsecs.UpdateServiceInput{
		Cluster:      aws.String(svc.Cluster),
		Service:      aws.String(svc.Name),
		DesiredCount: aws.Int32(int32(desired)),
	})
	e.mu.Lock() // read the scalable target afresh: a scale-out may meet its bounds
	if r := e.targets[svc]; r != nil {
		r.at = time.Time{}
	}
	e.mu.Unlock()
	if err != nil {
		return e.wrap("UpdateService", svc, err)
	}
	return nil
}

// wrap turns an SDK error from op into one a caller can act on, keeping the
// SDK error in the chain.
func (e *Scaler) wrap(op string, svc scaler.ServiceID, err error) error {
	var (
		noCluster *types.ClusterNotFoundException
		noService *types.ServiceNotFoundException
		notActive *types.ServiceNotActiveException
		denied    *types.AccessDeniedException
	)
	switch {
	case errors.As(err, &noCluster):
		return fmt.Errorf("ecs %s %s: cluster %q does not exist%s: %w: %w", op, svc, svc.Cluster, e.inRegion(), scaler.ErrServiceNotFound, err)
	case errors.As(err, &noService):
		return fmt.Errorf("ecs %s %s: service %q not found in cluster %q%s: %w: %w", op, svc, svc.Name, svc.Cluster, e.inRegion(), scaler.ErrServiceNotFound, err)
	case errors.As(err, &notActive):
		return fmt.Errorf("ecs %s %s: service is draining or inactive, so it cannot be scaled: remove it from the config or recreate it: %w: %w", op, svc, scaler.ErrServiceNotActive, err)
	case errors.As(err, &denied):
		return fmt.Errorf("ecs %s %s: access denied: grant the IAM action ecs:%s on service %s: %w", op, svc, op, svc, err)
	}
	return fmt.Errorf("ecs %s %s: %w", op, svc, err)
}

// inRegion is " in region <r>", or "" when the region is unknown.
func (e *Scaler) inRegion() string {
	if e.region == "" {
		return ""
	}
	return " in region " + e.region
}
