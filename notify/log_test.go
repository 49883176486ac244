package notify_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

func TestLogWritesOneLinePerEvent(t *testing.T) {
	tests := []struct {
		name string
		ev   notify.Event
		want string
	}{
		{"scale-out",
			notify.Event{Kind: notify.ScaledOut, Cluster: "prod", Service: "web", Value: 161, DesiredCur: 2, DesiredNew: 10},
			`level=INFO msg=notify event=scaled_out cluster=prod service=web active=161 overload=false desired_cur=2 desired_new=10`},
		{"capped scale-out",
			notify.Event{Kind: notify.ScaledOut, Cluster: "prod", Service: "web", Value: 161, DesiredCur: 8, DesiredNew: 12, MaxDesired: 12},
			`level=INFO msg=notify event=scaled_out cluster=prod service=web active=161 overload=false desired_cur=8 desired_new=12 desired_max=12`},
		{"failed",
			notify.Event{Kind: notify.ScaleFailed, Cluster: "prod", Service: "web", Overload: true, Err: errors.New("denied")},
			`level=WARN msg=notify event=scale_failed cluster=prod service=web active=0 overload=true desired_cur=0 desired_new=0 error=denied`},
		{"outcome unknown",
			notify.Event{Kind: notify.ScaleUnknown, Cluster: "prod", Service: "web", Value: 161, DesiredCur: 2, DesiredNew: 10, DesiredAfter: 10, Landed: true, Err: errors.New("timeout")},
			`level=WARN msg=notify event=scale_unknown cluster=prod service=web active=161 overload=false desired_cur=2 desired_new=10 desired_after=10 landed=true error=timeout`},
		{"metric failing",
			notify.Event{Kind: notify.MetricFailing, Cluster: "prod", Service: "web", Failures: 5, Err: errors.New("timeout")},
			`level=WARN msg=notify event=metric_failing cluster=prod service=web failures=5 error=timeout`},
		{"capped by the scalable target, raised again",
			notify.Event{Kind: notify.ScaledOut, Cluster: "prod", Service: "web", Value: 161, DesiredCur: 5, DesiredNew: 8, MaxDesired: 8, MaxBy: "MaxCapacity", Escalation: true},
			`level=INFO msg=notify event=scaled_out cluster=prod service=web active=161 overload=false desired_cur=5 desired_new=8 desired_max=8 bound=MaxCapacity escalation=true`},
		{"found in force",
			notify.Event{Kind: notify.ScaledOut, Cluster: "prod", Service: "web", Value: 161, DesiredCur: 3, DesiredNew: 10, Landed: true},
			`level=INFO msg=notify event=scaled_out cluster=prod service=web active=161 overload=false desired_cur=3 desired_new=10 landed=true`},
		{"suspended",
			notify.Event{Kind: notify.ScaleOutSuspended, Cluster: "prod", Service: "web", Value: 161, DesiredCur: 5, DesiredNew: 10},
			`level=WARN msg=notify event=held_suspended cluster=prod service=web active=161 overload=false desired_cur=5 desired_new=10`},
		{"tasks not starting",
			notify.Event{Kind: notify.TasksNotStarting, Cluster: "prod", Service: "web", DesiredCur: 10, DesiredNew: 10, Running: 2, Pending: 8,
				Waited: 5 * time.Minute, Message: "unable to place a task"},
			`level=WARN msg=notify event=tasks_not_starting cluster=prod service=web desired_cur=10 desired_new=10 running=2 pending=8 waited=5m0s ecs_event="unable to place a task"`},
		{"metric recovered",
			notify.Event{Kind: notify.MetricRecovered, Cluster: "prod", Service: "web", Failures: 6},
			`level=INFO msg=notify event=metric_recovered cluster=prod service=web failures=6`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf strings.Builder
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))
			require.NoError(t, notify.NewLog(logger).Notify(t.Context(), tt.ev))
			assert.Equal(t, tt.want+"\n", buf.String())
		})
	}
}
