package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/smithy-go"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// TargetsClient is the part of *applicationautoscaling.Client that Scaler
// uses, with the SDK's own signature.
type TargetsClient interface {
	DescribeScalableTargets(ctx context.Context, in *aas.DescribeScalableTargetsInput, optFns ...func(*aas.Options)) (*aas.DescribeScalableTargetsOutput, error)
}

// DefaultTargetsMaxAge is how long a scalable target read is reused.
const DefaultTargetsMaxAge = time.Minute

// targetsPerCall is how many resource IDs one DescribeScalableTargets call
// takes (the API's limit).
const targetsPerCall = 50

// targetRead is the last scalable target read of one service.
type targetRead struct {
	target scaler.ScalableTarget
	at     time.Time // when it was read; zero to read it again
	warned bool      // a failure was logged
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

// staleTarget makes svc's scalable target be read again at the next State.
func (e *Scaler) staleTarget(svc scaler.ServiceID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.targets[svc]; r != nil {
		r.at = time.Time{}
	}
}

// targetsOf fills in the scalable targets of svcs into states: from the
// reads still fresh, and with DescribeScalableTargets calls (50 services
// each) for the others.
func (e *Scaler) targetsOf(ctx context.Context, svcs []scaler.ServiceID, states []scaler.State) {
	var due []scaler.ServiceID
	var at []int
	for i, svc := range svcs {
		if t := e.cachedTarget(svc); t != nil {
			states[i].Target = *t
			continue
		}
		due, at = append(due, svc), append(at, i)
	}
	for i, t := range e.readTargets(ctx, due) {
		states[at[i]].Target = t
	}
}

// readTargets reads the scalable targets of svcs, in calls of up to 50, and
// keeps them. A failure is logged at its first occurrence for each service
// and kept too, so it is not retried before TargetsMaxAge: scale-outs go on,
// bounded by MaxDesiredCount alone.
func (e *Scaler) readTargets(ctx context.Context, svcs []scaler.ServiceID) []scaler.ScalableTarget {
	out := make([]scaler.ScalableTarget, len(svcs))
	for from := 0; from < len(svcs); from += targetsPerCall {
		part := svcs[from:min(from+targetsPerCall, len(svcs))]
		targets, err := e.describeTargets(ctx, part)
		e.mu.Lock()
		for i, svc := range part {
			r := e.targets[svc]
			if r == nil {
				r = &targetRead{}
				e.targets[svc] = r
			}
			r.at = e.opts.Clock.Now()
			if err == nil {
				out[from+i], r.target = targets[i], targets[i]
				if r.warned {
					e.opts.Logger.Info("scalable target readable again", "cluster", svc.Cluster, "service", svc.Name)
				}
				r.warned = false
				continue
			}
			r.target = scaler.ScalableTarget{}
			if !r.warned && ctx.Err() == nil {
				r.warned = true
				e.opts.Logger.Warn("scalable target not readable: scale-outs are bounded by MaxDesiredCount alone",
					"cluster", svc.Cluster, "service", svc.Name, "error", err.Error())
			}
		}
		e.mu.Unlock()
	}
	return out
}

// resourceID is Application Auto Scaling's ID of an ECS service.
func resourceID(svc scaler.ServiceID) string {
	return "service/" + lastPart(svc.Cluster) + "/" + lastPart(svc.Name)
}

// describeTargets reads the scalable targets of up to 50 services with one
// DescribeScalableTargets call. A service with none is Known and not
// Registered.
func (e *Scaler) describeTargets(ctx context.Context, svcs []scaler.ServiceID) ([]scaler.ScalableTarget, error) {
	ids := make([]string, len(svcs))
	for i, svc := range svcs {
		ids[i] = resourceID(svc)
	}
	what := ids[0]
	if len(ids) > 1 {
		what = fmt.Sprintf("%s and %d more", ids[0], len(ids)-1)
	}
	out, err := e.opts.ScalableTargets.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{
		ServiceNamespace:  aastypes.ServiceNamespaceEcs,
		ResourceIds:       ids,
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		MaxResults:        aws.Int32(targetsPerCall),
	})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException" {
			return nil, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: access denied: grant the IAM action application-autoscaling:DescribeScalableTargets: %w", what, err)
		}
		return nil, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: %w", what, err)
	}
	if out == nil {
		return nil, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: empty response", what)
	}
	found := make(map[string]scaler.ScalableTarget, len(out.ScalableTargets))
	for _, t := range out.ScalableTargets {
		id := aws.ToString(t.ResourceId)
		if t.ScalableDimension != aastypes.ScalableDimensionECSServiceDesiredCount {
			continue
		}
		if t.MinCapacity == nil || t.MaxCapacity == nil {
			return nil, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: response lacks MinCapacity or MaxCapacity", id)
		}
		lo, hi := *t.MinCapacity, *t.MaxCapacity
		if lo < 0 || hi < lo || hi > maxTasks {
			return nil, fmt.Errorf("application-autoscaling DescribeScalableTargets %s: absurd capacity: MinCapacity %d, MaxCapacity %d", id, lo, hi)
		}
		st := scaler.ScalableTarget{Known: true, Registered: true, Min: int(lo), Max: int(hi)}
		if s := t.SuspendedState; s != nil {
			st.ScaleOutSuspended = aws.ToBool(s.DynamicScalingOutSuspended)
		}
		found[id] = st
	}
	targets := make([]scaler.ScalableTarget, len(svcs))
	for i, id := range ids {
		t, ok := found[id]
		if !ok {
			t = scaler.ScalableTarget{Known: true} // the service has none
		}
		targets[i] = t
	}
	return targets, nil
}

// lastPart is a name, or the last part of an ARN ("arn:...:cluster/app" is
// "app").
func lastPart(s string) string {
	if strings.HasPrefix(s, "arn:") {
		return s[strings.LastIndex(s, "/")+1:]
	}
	return s
}
