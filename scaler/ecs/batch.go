package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// Batching limits.
const (
	// BatchSize is how many services one DescribeServices call takes (the
	// API's limit).
	BatchSize = 10
	// batchParallel is how many DescribeServices calls States runs at once.
	batchParallel = 4
)

// States reads every service in svcs with one DescribeServices call per 10
// services of a cluster (1,000 services in one cluster cost 100 calls), at
// most 4 calls at a time, and returns the states in the order asked. The
// scalable targets of the services read are filled in as State does, with
// one DescribeScalableTargets call per 50 services whose targets are due. Each
// service is checked as State checks it; a call that fails fails each
// service it asked for.
func (e *Scaler) States(ctx context.Context, svcs []scaler.ServiceID) ([]scaler.State, []error) {
	states, errs := make([]scaler.State, len(svcs)), make([]error, len(svcs))
	sem := make(chan struct{}, batchParallel)
	var wg sync.WaitGroup
	for _, b := range batches(svcs) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			e.describeBatch(ctx, b, svcs, states, errs)
		})
	}
	wg.Wait()
	if e.opts.ScalableTargets != nil {
		var read []scaler.ServiceID
		var at []int
		for i, err := range errs {
			if err == nil {
				read, at = append(read, svcs[i]), append(at, i)
			}
		}
		targets := make([]scaler.State, len(read))
		e.targetsOf(ctx, read, targets)
		for i, t := range targets {
			states[at[i]].Target = t.Target
		}
	}
	return states, errs
}

// batch is one DescribeServices call: a cluster and up to BatchSize names,
// each with the indexes in the caller's slice that asked for it.
type batch struct {
	cluster string
	names   []string
	at      map[string][]int // name -> indexes
}

// batches groups svcs by cluster, in order of first appearance, into calls
// of up to BatchSize distinct names.
func batches(svcs []scaler.ServiceID) []*batch {
	var out []*batch
	open := map[string]*batch{} // cluster -> its batch still filling
	for i, s := range svcs {
		b := open[s.Cluster]
		if b != nil {
			if _, seen := b.at[s.Name]; seen {
				b.at[s.Name] = append(b.at[s.Name], i)
				continue
			}
		}
		if b == nil || len(b.names) == BatchSize {
			b = &batch{cluster: s.Cluster, at: map[string][]int{}}
			open[s.Cluster] = b
			out = append(out, b)
		}
		b.names = append(b.names, s.Name)
		b.at[s.Name] = append(b.at[s.Name], i)
	}
	return out
}

// describeBatch makes b's call and stores each service's result at its
// indexes.
func (e *Scaler) describeBatch(ctx context.Context, b *batch, svcs []scaler.ServiceID, states []scaler.State, errs []error) {
	set := func(name string, st scaler.State, err error) {
		for _, i := range b.at[name] {
			states[i], errs[i] = st, err
		}
	}
	out, err := e.describe(ctx, b.cluster, b.names)
	if err == nil && out == nil {
		err = errors.New("empty response")
	}
	if err != nil {
		for _, n := range b.names {
			set(n, scaler.State{}, e.wrap("DescribeServices", svcs[b.at[n][0]], err))
		}
		return
	}
	answered := map[string]bool{}
	for _, s := range out.Services {
		name := match(b, aws.ToString(s.ServiceName), aws.ToString(s.ServiceArn))
		if name == "" || answered[name] {
			continue // not asked for, or answered twice: ignore the extra
		}
		answered[name] = true
		st, err := e.state(svcs[b.at[name][0]], s)
		set(name, st, err)
	}
	for _, f := range out.Failures {
		arn := aws.ToString(f.Arn)
		name := match(b, arn[strings.LastIndex(arn, "/")+1:], arn)
		if name == "" || answered[name] {
			continue
		}
		answered[name] = true
		set(name, scaler.State{}, e.failure(svcs[b.at[name][0]], f))
	}
	for _, n := range b.names {
		if !answered[n] {
			set(n, scaler.State{}, fmt.Errorf("ecs: describe service %s: the response names neither the service nor a failure for it", svcs[b.at[n][0]]))
		}
	}
}

// match returns the name b asked for that is this service's name or ARN, or
// "".
func match(b *batch, name, arn string) string {
	for _, candidate := range []string{name, arn} {
		if _, ok := b.at[candidate]; ok && candidate != "" {
			return candidate
		}
	}
	return ""
}
