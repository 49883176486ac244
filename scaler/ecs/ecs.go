// Package ecs is a scaler.Scaler for Amazon ECS services on aws-sdk-go-v2:
// DescribeServices to read a service (10 services a call through States),
// UpdateService to set its desired count, TagResource to record each
// scale-out on the service as tags (see Tag*), and, when given a client for
// it, Application Auto Scaling's DescribeScalableTargets to read the bounds
// managed scaling keeps each service within (see Options).
package ecs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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
	TagResource(ctx context.Context, in *awsecs.TagResourceInput, optFns ...func(*awsecs.Options)) (*awsecs.TagResourceOutput, error)
}

// maxEventLen bounds the service event message State reports, in bytes.
const maxEventLen = 500

// Options configure a Scaler beyond its ECS client. The zero value reads no
// scalable targets.
type Options struct {
	// ScalableTargets, when set, reads each service's Application Auto
	// Scaling scalable target (its MinCapacity, MaxCapacity and whether
	// dynamic scale-out is suspended) for State and States, typically
	// applicationautoscaling.NewFromConfig(cfg). A read is reused for
	// TargetsMaxAge and made again after each SetDesired. When it fails
	// (the IAM action application-autoscaling:DescribeScalableTargets is
	// not granted, say) the state is still read, reporting the target as
	// not known, and a warning is logged once per service.
	ScalableTargets TargetsClient
	// TargetsMaxAge is how long a scalable target read is reused. Default
	// DefaultTargetsMaxAge.
	TargetsMaxAge time.Duration
	// Logger receives those warnings. Default: discarded.
	Logger *slog.Logger
	// Clock times the reuse. Default clock.New().
	Clock clock.Clock
}

// Scaler is a scaler.Scaler, scaler.Recorder and scaler.BatchStater for
// Amazon ECS services. State is one DescribeServices call (with the
// service's tags, and at most once per TargetsMaxAge one
// DescribeScalableTargets call beside it), SetDesired one UpdateService
// call, RecordScaleOut one TagResource call, and States one DescribeServices
// call per 10 services of a cluster (and one DescribeScalableTargets call
// per 50 services whose targets are due); retries are the clients' own (the
// SDK's standard retryer, configured where the clients are built). It is
// safe for concurrent use.
type Scaler struct {
	client Client
	region string   // for messages; empty if the client does not say
	arns   sync.Map // scaler.ServiceID -> service ARN, as DescribeServices reported it
	opts   Options

	mu      sync.Mutex
	targets map[scaler.ServiceID]*targetRead
}

var (
	_ scaler.Scaler      = (*Scaler)(nil)
	_ scaler.Recorder    = (*Scaler)(nil)
	_ scaler.BatchStater = (*Scaler)(nil)
)

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

// describe is one DescribeServices call for services of one cluster, tags
// included.
func (e *Scaler) describe(ctx context.Context, cluster string, names []string) (*awsecs.DescribeServicesOutput, error) {
	return e.client.DescribeServices(ctx, &awsecs.DescribeServicesInput{
		Cluster:  aws.String(cluster),
		Services: names,
		Include:  []types.ServiceField{types.ServiceFieldTags},
	})
}

// State describes the service and, when Options.ScalableTargets is set, its
// scalable target. A service ECS reports missing is an error wrapping
// scaler.ErrServiceNotFound; a DRAINING or INACTIVE one wraps
// scaler.ErrServiceNotActive. Its tags give State.LastScaleOut and
// State.Paused; a tag of ours with a value that cannot be read is an error
// naming it. A scalable target that cannot be read is no error:
// State.Target.Known is false.
func (e *Scaler) State(ctx context.Context, svc scaler.ServiceID) (scaler.State, error) {
	target := make(chan scaler.ScalableTarget, 1)
	if read := e.cachedTarget(svc); read != nil {
		target <- *read
	} else {
		go func() { target <- e.readTargets(ctx, []scaler.ServiceID{svc})[0] }() // beside DescribeServices, not after it
	}
	st, err := e.describeOne(ctx, svc)
	st.Target = <-target
	if err != nil {
		return scaler.State{}, err
	}
	return st, nil
}

// describeOne reads one service with DescribeServices.
func (e *Scaler) describeOne(ctx context.Context, svc scaler.ServiceID) (scaler.State, error) {
	out, err := e.describe(ctx, svc.Cluster, []string{svc.Name})
	if err != nil {
		return scaler.State{}, e.wrap("DescribeServices", svc, err)
	}
	if out == nil {
		return scaler.State{}, fmt.Errorf("ecs: describe service %s: empty response", svc)
	}
	if len(out.Failures) > 0 { // one service asked for: one failure at most
		return scaler.State{}, e.failure(svc, out.Failures[0])
	}
	if len(out.Services) != 1 {
		return scaler.State{}, fmt.Errorf("ecs: describe service %s: response holds %d services and no failure, want 1", svc, len(out.Services))
	}
	return e.state(svc, out.Services[0])
}

// failure turns a DescribeServices failure about svc into an error.
func (e *Scaler) failure(svc scaler.ServiceID, f types.Failure) error {
	reason := aws.ToString(f.Reason)
	if reason == "MISSING" {
		return fmt.Errorf("ecs: service %q not found in cluster %q%s: %w", svc.Name, svc.Cluster, inRegion(e.region), scaler.ErrServiceNotFound)
	}
	return fmt.Errorf("ecs: describe service %s: failure %s %s", svc, reason, aws.ToString(f.Detail))
}

// state checks one described service and turns it into a scaler.State,
// remembering its ARN for RecordScaleOut.
func (e *Scaler) state(svc scaler.ServiceID, s types.Service) (scaler.State, error) {
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
	rec, paused, err := readTags(s.Tags)
	if err != nil {
		return scaler.State{}, fmt.Errorf("ecs: service %s: %w", svc, err)
	}
	if arn := aws.ToString(s.ServiceArn); arn != "" {
		e.arns.Store(svc, arn)
	}
	st := scaler.State{
		Desired:      int(s.DesiredCount),
		Running:      int(s.RunningCount),
		Pending:      int(s.PendingCount),
		Status:       status,
		Deploying:    deploying(s.Deployments),
		LastScaleOut: rec,
		Paused:       paused,
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
// UpdateService, which starts no new deployment. When the call fails in a
// way that leaves open whether ECS applied it (no answer before ctx's
// deadline or cancellation, the connection broke after the request went
// out, or ECS answered with a server error: a 5xx may come after the change
// was committed), the error also wraps scaler.ErrOutcomeUnknown.
func (e *Scaler) SetDesired(ctx context.Context, svc scaler.ServiceID, desired int) error {
	if desired < 0 || desired > maxTasks {
		return fmt.Errorf("ecs: set desired count of %s to %d: out of range 0..%d", svc, desired, maxTasks)
	}
	_, err := e.client.UpdateService(ctx, &awsecs.UpdateServiceInput{
		Cluster:      aws.String(svc.Cluster),
		Service:      aws.String(svc.Name),
		DesiredCount: aws.Int32(int32(desired)),
	})
	e.staleTarget(svc) // read the scalable target afresh: a scale-out may meet its bounds
	if err != nil {
		err = e.wrap("UpdateService", svc, err)
		if outcomeUnknown(err) {
			return fmt.Errorf("%w: %w", scaler.ErrOutcomeUnknown, err)
		}
		return err
	}
	return nil
}

// outcomeUnknown reports whether a call that failed with err may have
// reached ECS and been applied: it got no answer before its context ended,
// its connection failed after it was made, or ECS answered with a server
// error (HTTP 5xx). A request that never connected, and a client error
// (4xx: denied, throttled, invalid, not found), are known outcomes: not
// applied. With the SDK's retries, err is the last attempt's.
func outcomeUnknown(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) { // no answer: unknown unless it never connected
		var op *net.OpError
		return !errors.As(err, &op) || op.Op != "dial"
	}
	var resp interface{ HTTPStatusCode() int }
	return errors.As(err, &resp) && resp.HTTPStatusCode() >= 500
}

// RecordScaleOut tags the service with rec (TagLastScaleOut, TagDesired,
// TagBy) in one TagResource call, which needs the IAM action
// ecs:TagResource on the service. The service's ARN comes from the last
// State or States call that read it, or from one DescribeServices call.
// A refusal wraps scaler.ErrAccessDenied.
func (e *Scaler) RecordScaleOut(ctx context.Context, svc scaler.ServiceID, rec scaler.ScaleOut) error {
	if rec.Time.IsZero() || rec.Desired < 0 || rec.Desired > maxTasks {
		return fmt.Errorf("ecs: record scale-out of %s: no time or desired count %d out of range 0..%d", svc, rec.Desired, maxTasks)
	}
	arn, ok := e.arns.Load(svc)
	if !ok {
		if _, err := e.State(ctx, svc); err != nil {
			return fmt.Errorf("ecs: record scale-out of %s: find its ARN: %w", svc, err)
		}
		if arn, ok = e.arns.Load(svc); !ok {
			return fmt.Errorf("ecs: record scale-out of %s: DescribeServices reported no serviceArn", svc)
		}
	}
	_, err := e.client.TagResource(ctx, &awsecs.TagResourceInput{
		ResourceArn: aws.String(arn.(string)),
		Tags:        recordTags(rec),
	})
	if err != nil {
		return e.wrap("TagResource", svc, err)
	}
	return nil
}

// wrap turns an SDK error from op into one a caller can act on, keeping the
// SDK error in the chain.
func (e *Scaler) wrap(op string, svc scaler.ServiceID, err error) error {
	var (
		notActive *types.ServiceNotActiveException
		denied    *types.AccessDeniedException
	)
	if nf := wrapNotFound(op, svc, e.region, err); nf != nil {
		return nf
	}
	switch {
	case errors.As(err, &notActive):
		return fmt.Errorf("ecs %s %s: service is draining or inactive, so it cannot be scaled: remove it from the config or recreate it: %w: %w", op, svc, scaler.ErrServiceNotActive, err)
	case errors.As(err, &denied):
		return fmt.Errorf("ecs %s %s: %w: grant the IAM action ecs:%s on service %s: %w", op, svc, scaler.ErrAccessDenied, op, svc, err)
	}
	return fmt.Errorf("ecs %s %s: %w", op, svc, err)
}

// wrapNotFound is the error for a cluster or service ECS does not know
// (scaler.ErrServiceNotFound in the chain, with region when known), or nil
// when err is neither.
func wrapNotFound(op string, svc scaler.ServiceID, region string, err error) error {
	var (
		noCluster *types.ClusterNotFoundException
		noService *types.ServiceNotFoundException
	)
	in := inRegion(region)
	switch {
	case errors.As(err, &noCluster):
		return fmt.Errorf("ecs %s %s: cluster %q does not exist%s: %w: %w", op, svc, svc.Cluster, in, scaler.ErrServiceNotFound, err)
	case errors.As(err, &noService):
		return fmt.Errorf("ecs %s %s: service %q not found in cluster %q%s: %w: %w", op, svc, svc.Name, svc.Cluster, in, scaler.ErrServiceNotFound, err)
	}
	return nil
}

// inRegion is " in region <r>", or "" when the region is unknown.
func inRegion(region string) string {
	if region == "" {
		return ""
	}
	return " in region " + region
}
