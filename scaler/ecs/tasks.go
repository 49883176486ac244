package ecs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/benbjohnson/clock"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// Defaults of TaskListerOptions: the call budget every service's task
// listing shares.
const (
	// DefaultCallsPerSecond is the sustained rate of ListTasks and
	// DescribeTasks calls a TaskLister makes at most: 2 a second, 120 a
	// minute, a small share of the account's ECS API rate.
	DefaultCallsPerSecond = 2
	// DefaultCallBurst is how many calls it may make at once after a quiet
	// spell: enough for 10 services of up to 100 tasks each to be listed
	// together (at start-up, say).
	DefaultCallBurst = 20
)

// maxListed is the most tasks a TaskLister lists for one service: the ECS
// quota of tasks a service is 5,000; more is a runaway listing.
const maxListed = 10_000

// describeBatch is how many tasks one DescribeTasks call describes (the
// API's limit).
const describeBatch = 100

// ErrCallBudget is returned (wrapped) by TaskLister.Tasks when the call
// budget shared by every service is spent: the listing is not made, so
// that task discovery never eats into the account's ECS rate (and so never
// throttles UpdateService). Try again later.
var ErrCallBudget = errors.New("ECS call budget for task discovery spent")

// TaskClient is the part of *awsecs.Client that TaskLister uses, with the
// SDK's own signatures.
type TaskClient interface {
	ListTasks(ctx context.Context, in *awsecs.ListTasksInput, optFns ...func(*awsecs.Options)) (*awsecs.ListTasksOutput, error)
	DescribeTasks(ctx context.Context, in *awsecs.DescribeTasksInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeTasksOutput, error)
}

// TaskListerOptions configure a TaskLister. The zero value uses the
// defaults.
type TaskListerOptions struct {
	// CallsPerSecond is the sustained rate of ECS calls across every
	// service. Default DefaultCallsPerSecond.
	CallsPerSecond float64
	// Burst is how many calls may be made at once. Default DefaultCallBurst.
	Burst int
	// Clock refills the budget. Default clock.New().
	Clock clock.Clock
}

// TaskLister lists an ECS service's tasks and their private addresses:
// ListTasks (desired status RUNNING, paginated) and DescribeTasks (up to 100
// tasks a call). A task's address is the privateIPv4Address of its
// ElasticNetworkInterface attachment, which every task in the awsvpc network
// mode has (every Fargate task); a running task without one is an error
// naming the service and the mode. It implements stubstatus.TaskLister.
//
// Every call takes one token from a budget shared by all services (a token
// bucket on the injected clock, CallsPerSecond refilled, Burst deep); a
// listing that finds it empty fails at once wrapping ErrCallBudget rather
// than waiting. A listing takes the tokens of its ListTasks and its first
// DescribeTasks together, or none, so no call is spent on a listing that
// cannot finish. A service never listed yet goes first: while one waits (it
// asked within the last waitingFor), a service listed before is not listed
// again (it reads the tasks it has), so that with more services than the
// budget can refresh every one is still listed, and read, within a few
// seconds a service. It is safe for concurrent use.
type TaskLister struct {
	client TaskClient
	region string
	clock  clock.Clock
	rate   float64 // tokens a second
	burst  float64

	mu     sync.Mutex
	tokens float64
	at     time.Time // when tokens was last brought up to date
	listed map[scaler.ServiceID]bool
	// waiting holds the services never listed, with when each last asked.
	waiting map[scaler.ServiceID]time.Time
}

// waitingFor is how long a service that asked to be listed for the first
// time, and could not be, keeps priority over the refreshes of others
// without asking again (a TaskSource asks again within its refresh
// interval; a service no longer watched stops asking).
const waitingFor = 2 * time.Minute

// NewTaskLister returns a TaskLister calling client, typically
// ecs.NewFromConfig(cfg). Use one for every service: the budget is its own.
func NewTaskLister(client TaskClient, opts TaskListerOptions) *TaskLister {
	if opts.CallsPerSecond <= 0 {
		opts.CallsPerSecond = DefaultCallsPerSecond
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultCallBurst
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	l := &TaskLister{client: client, clock: opts.Clock, rate: opts.CallsPerSecond,
		burst: float64(opts.Burst), tokens: float64(opts.Burst), at: opts.Clock.Now(),
		listed: map[scaler.ServiceID]bool{}, waiting: map[scaler.ServiceID]time.Time{}}
	if c, ok := client.(interface{ Options() awsecs.Options }); ok {
		l.region = c.Options().Region
	}
	return l
}

// take takes n tokens from the budget for svc, all or none. A service
// listed before takes none while another waits for its first listing
// (waiting > 0 then). Otherwise wait says how long until the tokens are
// there.
func (l *TaskLister) take(svc scaler.ServiceID, n float64) (wait time.Duration, waiting int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if d := now.Sub(l.at); d > 0 {
		l.tokens = min(l.burst, l.tokens+d.Seconds()*l.rate)
	}
	l.at = now
	if !l.listed[svc] {
		l.waiting[svc] = now
	} else {
		for id, asked := range l.waiting {
			if now.Sub(asked) > waitingFor {
				delete(l.waiting, id) // no longer asking: no longer watched, say
			}
		}
		if len(l.waiting) > 0 {
			return 0, len(l.waiting), false
		}
	}
	if l.tokens >= n {
		l.tokens -= n
		return 0, 0, true
	}
	return time.Duration((n - l.tokens) / l.rate * float64(time.Second)), 0, false
}

// refund gives back a token taken and not used.
func (l *TaskLister) refund() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tokens = min(l.burst, l.tokens+1)
}

// done records svc as listed: it no longer waits.
func (l *TaskLister) done(svc scaler.ServiceID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listed[svc] = true
	delete(l.waiting, svc)
}

// Tasks lists the tasks of svc that ECS wants running: running ones with
// their address, and those still starting (PROVISIONING, PENDING,
// ACTIVATING), whose address may not be known yet. Tasks stopping or
// stopped are left out.
func (l *TaskLister) Tasks(ctx context.Context, svc scaler.ServiceID) ([]scaler.Task, error) {
	var arns []string
	pages := awsecs.NewListTasksPaginator(l.client, &awsecs.ListTasksInput{
		Cluster:       aws.String(svc.Cluster),
		ServiceName:   aws.String(svc.Name),
		DesiredStatus: types.DesiredStatusRunning,
		MaxResults:    aws.Int32(100),
	})
	// The first page and the first batch to describe: together or not at
	// all. Further pages and batches (over 100 tasks) take a token each.
	if err := l.budget(svc, "ListTasks", 2); err != nil {
		return nil, err
	}
	reserved := true // the first DescribeTasks's token
	defer func() {
		if reserved {
			l.refund()
		}
	}()
	for first := true; pages.HasMorePages(); first = false {
		if !first {
			if err := l.budget(svc, "ListTasks", 1); err != nil {
				return nil, err
			}
		}
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, l.wrap("ListTasks", svc, err)
		}
		arns = append(arns, page.TaskArns...)
		if len(arns) > maxListed {
			return nil, fmt.Errorf("ecs ListTasks %s: more than %d tasks listed, far beyond ECS's quota of tasks a service", svc, maxListed)
		}
	}
	tasks := make([]scaler.Task, 0, len(arns))
	for start := 0; start < len(arns); start += describeBatch {
		batch := arns[start:min(start+describeBatch, len(arns))]
		if reserved {
			reserved = false
		} else if err := l.budget(svc, "DescribeTasks", 1); err != nil {
			return nil, err
		}
		out, err := l.client.DescribeTasks(ctx, &awsecs.DescribeTasksInput{Cluster: aws.String(svc.Cluster), Tasks: batch})
		if err != nil {
			return nil, l.wrap("DescribeTasks", svc, err)
		}
		if out == nil {
			return nil, fmt.Errorf("ecs DescribeTasks %s: empty response", svc)
		}
		for _, f := range out.Failures {
			// A task that stopped and went between the two calls is MISSING:
			// it is simply not there any more.
			if r := aws.ToString(f.Reason); r != "MISSING" {
				return nil, fmt.Errorf("ecs DescribeTasks %s: failure for %s: %s %s", svc, aws.ToString(f.Arn), r, aws.ToString(f.Detail))
			}
		}
		for i := range out.Tasks {
			t, keep, err := taskOf(svc, &out.Tasks[i])
			if err != nil {
				return nil, err
			}
			if keep {
				tasks = append(tasks, t)
			}
		}
	}
	l.done(svc)
	return tasks, nil
}

// budget takes n tokens for op (and what follows it), or fails wrapping
// ErrCallBudget.
func (l *TaskLister) budget(svc scaler.ServiceID, op string, n float64) error {
	wait, waiting, ok := l.take(svc, n)
	switch {
	case ok:
		return nil
	case waiting > 0:
		return fmt.Errorf("ecs %s %s: not called: %w: %d services never listed go first; the tasks listed last stand",
			op, svc, ErrCallBudget, waiting)
	}
	return fmt.Errorf("ecs %s %s: not called: %w (%g calls a second across all services; the next in %v)",
		op, svc, ErrCallBudget, l.rate, wait.Round(time.Millisecond))
}

// taskOf reads one described task. keep is false for a task ECS no longer
// wants running (it was told to stop after ListTasks).
func taskOf(svc scaler.ServiceID, in *types.Task) (t scaler.Task, keep bool, err error) {
	arn := aws.ToString(in.TaskArn)
	t.ID = arn[strings.LastIndexByte(arn, '/')+1:]
	if t.ID == "" {
		return t, false, fmt.Errorf("ecs DescribeTasks %s: a task without an ARN", svc)
	}
	if aws.ToString(in.DesiredStatus) != "RUNNING" {
		return t, false, nil
	}
	t.Status = aws.ToString(in.LastStatus)
	t.Running = t.Status == "RUNNING"
	var eni *types.Attachment
	for i := range in.Attachments {
		if aws.ToString(in.Attachments[i].Type) == "ElasticNetworkInterface" {
			eni = &in.Attachments[i]
			break
		}
	}
	if eni == nil {
		if !t.Running {
			return t, true, nil // an awsvpc task gets its attachment while it starts
		}
		return t, false, fmt.Errorf("ecs service %s: task %s runs without an ElasticNetworkInterface attachment, so its network mode is not awsvpc (it is bridge or host; launch type %s): per-task reading (TaskStatusUrl) needs awsvpc, as on Fargate; read this service through StatusUrl instead",
			svc, t.ID, orUnknown(string(in.LaunchType)))
	}
	ip, v6 := "", ""
	for _, d := range eni.Details {
		switch aws.ToString(d.Name) {
		case "privateIPv4Address":
			ip = aws.ToString(d.Value)
		case "ipv6Address":
			v6 = aws.ToString(d.Value)
		}
	}
	if ip == "" {
		ip = v6
	}
	if ip == "" {
		if !t.Running {
			return t, true, nil // not attached yet
		}
		return t, false, fmt.Errorf("ecs service %s: running task %s: its network interface has no privateIPv4Address", svc, t.ID)
	}
	if t.Addr, err = netip.ParseAddr(ip); err != nil {
		return t, false, fmt.Errorf("ecs service %s: task %s: network interface address %q is not an IP address", svc, t.ID, ip)
	}
	return t, true, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// wrap turns an SDK error from op into one a caller can act on, keeping the
// SDK error in the chain.
func (l *TaskLister) wrap(op string, svc scaler.ServiceID, err error) error {
	var (
		denied *types.AccessDeniedException
		api    smithy.APIError
	)
	if nf := wrapNotFound(op, svc, l.region, err); nf != nil {
		return nf
	}
	switch {
	case errors.As(err, &denied):
		return fmt.Errorf("ecs %s %s: access denied: grant the IAM action ecs:%s (per-task reading, TaskStatusUrl, needs ecs:ListTasks and ecs:DescribeTasks on cluster %s): %w",
			op, svc, op, svc.Cluster, err)
	case errors.As(err, &api) && api.ErrorCode() == "ThrottlingException":
		return fmt.Errorf("ecs %s %s: throttled by ECS even after the SDK's retries: the account's ECS API rate in this region is spent (by this process or other clients); the listing is tried again later: %w", op, svc, err)
	}
	return fmt.Errorf("ecs %s %s: %w", op, svc, err)
}
