package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

// boundsConfig is a one-service config for the bound tests: the seed's
// policy (doubling) at threshold 100, checked every 100 ms, 1 s of grace.
func boundsConfig(t *testing.T, statusURL, slackURL, extra string) string {
	return writeFile(t, fmt.Sprintf(`{"Services":[{
	  "StatusUrl": %q, "StatusAuthName": "Status-Auth-Key", "StatusAuthValue": "auth-s3cret",
	  "ScaleoutThreshold": 100, "CheckInterval": 0.1, "GracePeriod": 1, %s
	  "EcsClusterName": "shop", "EcsServiceName": "web", "SlackWebhookUrl": %q}]}`,
		statusURL+"/nginx-status", extra, slackURL+"/services/T000/B000/hooks3cret"))
}

// TestRunScalableTargetCapsTheScaleOut: a scalable target with MaxCapacity 8
// caps a spike's scale-out (5 -> 10 by the seed's rule) at 8, and the next
// spike finds it held at that cap.
func TestRunScalableTargetCapsTheScaleOut(t *testing.T) {
	srv := awstest.New(t)
	srv.PutService("shop", "web", awstest.Service{Desired: 5, Running: 5})
	srv.PutScalableTarget("shop", "web", awstest.ScalableTarget{Min: 2, Max: 8})
	status, slack := newStubStatus(t, "auth-s3cret"), newSlack(t)
	status.active.Store(500)

	p := start(t, srv.Env(), "run", "-config", boundsConfig(t, status.URL, slack.URL, ""), "-listen", "")
	// The start-up state read runs beside the first check: either may log
	// first.
	got := p.waitLogs(t, "service state", "scaled out")
	state, scaled := got["service state"], got["scaled out"]
	assert.EqualValues(t, 8, state["max_capacity"], "the start-up read shows the bounds")
	assert.EqualValues(t, 5, scaled["desired_cur"])
	assert.EqualValues(t, 8, scaled["desired_new"])
	assert.EqualValues(t, 8, scaled["desired_max"])
	assert.Equal(t, "MaxCapacity", scaled["bound"])
	srv.PutService("shop", "web", awstest.Service{Desired: 8, Running: 8}) // started, within the grace period
	held := p.waitLog(t, "scale-out held: desired count at MaxCapacity")
	assert.EqualValues(t, 8, held["desired_cur"])

	code, _ := p.stop(t)
	assert.Equal(t, exitOK, code)
	updates := srv.Calls("UpdateService")
	require.Len(t, updates, 1)
	assert.EqualValues(t, 8, updates[0].Params["desiredCount"])
	assert.NotEmpty(t, srv.Calls("DescribeScalableTargets"))
	slack.mu.Lock()
	defer slack.mu.Unlock()
	require.NotEmpty(t, slack.texts)
	assert.Contains(t, slack.texts[0], "DesiredCount(new): 8\ncapped at the scalable target's MaxCapacity: 8")
}

// TestRunSuspendedScaleOutMakesNoUpdate: with dynamic scale-out suspended on
// the scalable target, a spike makes no update, the log says why, and Slack
// is told once.
func TestRunSuspendedScaleOutMakesNoUpdate(t *testing.T) {
	srv := awstest.New(t)
	srv.PutService("shop", "web", awstest.Service{Desired: 5, Running: 5})
	srv.PutScalableTarget("shop", "web", awstest.ScalableTarget{Min: 2, Max: 50, DynamicScalingOutSuspended: true})
	status, slack := newStubStatus(t, "auth-s3cret"), newSlack(t)
	status.active.Store(500)

	p := start(t, srv.Env(), "run", "-config", boundsConfig(t, status.URL, slack.URL, ""), "-listen", "")
	var held []map[string]any
	for range 3 {
		line := p.waitLog(t, "scale-out held: suspended on the scalable target")
		held = append(held, line)
	}
	assert.Contains(t, held[0]["reason"], "DynamicScalingOutSuspended")
	assert.EqualValues(t, 10, held[0]["desired_new"], "what it would have asked for")
	<-slack.got
	code, _ := p.stop(t)
	assert.Equal(t, exitOK, code)
	assert.Empty(t, srv.Calls("UpdateService"), "no update while suspended")
	slack.mu.Lock()
	defer slack.mu.Unlock()
	require.Len(t, slack.texts, 1, "told once per suspension")
	assert.Contains(t, slack.texts[0], "scale-out is suspended on its scalable target")
}

// TestRunTasksNeverStarting: the tasks asked for never start (no capacity
// on the cluster). The service is not doubled again, and TasksNotStarting
// is sent once, naming the counts and ECS's own words.
func TestRunTasksNeverStarting(t *testing.T) {
	srv := awstest.New(t)
	const noPlace = "(service web) was unable to place a task because no container instance met all of its requirements."
	srv.PutService("shop", "web", awstest.Service{Desired: 2, Running: 2, Events: []string{noPlace}})
	status, slack := newStubStatus(t, "auth-s3cret"), newSlack(t)
	status.active.Store(500)

	p := start(t, srv.Env(), "run", "-config", boundsConfig(t, status.URL, slack.URL, `"StartupTimeout": 2,`), "-listen", "")
	scaled := p.waitLog(t, "scaled out")
	assert.EqualValues(t, 10, scaled["desired_new"])
	p.waitLog(t, "scale-out held: tasks asked for have not started")
	notStarting, before := p.waitLogAfter(t, "tasks not starting: the running count has not reached the desired count asked for")
	assert.EqualValues(t, 10, notStarting["desired_asked"])
	assert.EqualValues(t, 2, notStarting["running"])
	assert.Equal(t, noPlace, notStarting["ecs_event"])
	for _, line := range before {
		assert.NotEqual(t, "scaled out", line["msg"], "not doubled again")
	}
	// Keep it running through several more held checks.
	for range 3 {
		p.waitLog(t, "scale-out held: tasks asked for have not started")
	}
	code, _ := p.stop(t)
	assert.Equal(t, exitOK, code)

	assert.Len(t, srv.Calls("UpdateService"), 1, "one scale-out, never doubled again")
	svc, _ := srv.Service("shop", "web")
	assert.EqualValues(t, 10, svc.Desired)
	assert.Equal(t, 1, strings.Count(p.output(), `"msg":"tasks not starting`), "logged once")
	slack.mu.Lock()
	defer slack.mu.Unlock()
	var told []string
	for _, text := range slack.texts {
		if strings.Contains(text, "not starting") {
			told = append(told, text)
		}
	}
	require.Len(t, told, 1, "sent once: %q", slack.texts)
	assert.Contains(t, told[0], "DesiredCount: 10 (asked for 10,")
	assert.Contains(t, told[0], "Running: 2\nPending: 0")
	assert.Contains(t, told[0], "Latest ECS event: "+noPlace)
}

// TestRunLostUpdateResponseIsNotDoubledAgain: issue 15's runaway. Every
// attempt of the first UpdateService lands but answers 500 (as a 5xx after
// commit would), so its outcome is unknown. The service is read at once,
// the count asked for is found in force, and the scale-out is reported
// done (landed, its grace period runs) rather than doubled again; the
// check after the grace period holds while the tasks start, with no second
// update.
func TestRunLostUpdateResponseIsNotDoubledAgain(t *testing.T) {
	srv := awstest.New(t)
	srv.PutService("shop", "web", awstest.Service{Desired: 3, Running: 3})
	srv.CommitThenFail("UpdateService", 3, "ServerException") // the SDK's three attempts
	status, slack := newStubStatus(t, "auth-s3cret"), newSlack(t)
	status.active.Store(500)

	p := start(t, append(srv.Env(), "AWS_MAX_ATTEMPTS=3"), "run", "-config", boundsConfig(t, status.URL, slack.URL, ""), "-listen", "")
	done := p.waitLog(t, "scale-out outcome unknown")
	assert.EqualValues(t, 3, done["desired_cur"])
	assert.EqualValues(t, 10, done["desired_new"])
	assert.EqualValues(t, 10, done["desired_after"])
	assert.Equal(t, true, done["landed"])
	assert.Contains(t, done["error"], "ServerException")
	held := p.waitLog(t, "scale-out held: tasks asked for have not started")
	assert.EqualValues(t, 10, held["desired_cur"])
	code, _ := p.stop(t)
	assert.Equal(t, exitOK, code)
	assert.NotContains(t, p.output(), "scale-out failed")
	slack.mu.Lock()
	texts := strings.Join(slack.texts, "\n")
	slack.mu.Unlock()
	assert.Contains(t, texts, "outcome unknown, but the update landed")
	assert.NotContains(t, texts, "FAILED")

	svc, _ := srv.Service("shop", "web")
	assert.EqualValues(t, 10, svc.Desired, "10, not 20")
	updates := srv.Calls("UpdateService")
	assert.Len(t, updates, 3, "the SDK's three attempts, no second update")
	for _, c := range updates {
		assert.EqualValues(t, 10, c.Params["desiredCount"], "every attempt asked for the same count")
	}
	assert.NotContains(t, p.output(), `"msg":"scaled out`, "no second scale-out (the held check names the 20 it would ask for)")
}
