package ecs_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler/ecs"
)

func TestECSRecordScaleOutAndReadItBack(t *testing.T) {
	ctx := context.Background()
	s, e := newECS(t, awstest.Service{Desired: 3, Tags: map[string]string{"team": "shop"}})
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("JST", 9*3600))

	_, err := e.State(ctx, web) // as the watcher does: the state first
	require.NoError(t, err)
	require.NoError(t, e.RecordScaleOut(ctx, web, scaler.ScaleOut{Time: at, Desired: 10, By: "ip-10-0-1-2.internal/4242"}))

	tags := s.Calls("TagResource")
	require.Len(t, tags, 1, "the ARN came from DescribeServices: no extra call")
	assert.JSONEq(t, `{"resourceArn":"arn:aws:ecs:ap-northeast-1:123456789012:service/app/web","tags":[
		{"key":"fast-autoscaler:last-scaleout","value":"2026-03-03T20:06:07.89Z"},
		{"key":"fast-autoscaler:desired","value":"10"},
		{"key":"fast-autoscaler:by","value":"ip-10-0-1-2.internal/4242"}]}`, string(tags[0].Body))

	st, err := e.State(ctx, web)
	require.NoError(t, err)
	assert.True(t, st.LastScaleOut.Time.Equal(at))
	assert.Equal(t, 10, st.LastScaleOut.Desired)
	assert.Equal(t, "ip-10-0-1-2.internal/4242", st.LastScaleOut.By)
	assert.False(t, st.Paused)
	got, _ := s.Service("app", "web")
	assert.Equal(t, "shop", got.Tags["team"], "other tags are left alone")
}

func TestECSRecordScaleOutFindsTheARN(t *testing.T) {
	s, e := newECS(t, awstest.Service{Desired: 3})
	require.NoError(t, e.RecordScaleOut(context.Background(), web, scaler.ScaleOut{Time: time.Unix(1, 0), Desired: 6, By: "p"}))
	var ops []string
	for _, c := range s.Calls() {
		ops = append(ops, c.Operation)
	}
	assert.Equal(t, []string{"DescribeServices", "TagResource"}, ops, "no state read before: one describe for the ARN")
}

func TestECSRecordScaleOutDenied(t *testing.T) {
	ctx := context.Background()
	s, e := newECS(t, awstest.Service{Desired: 3})
	s.Deny("TagResource")
	_, err := e.State(ctx, web)
	require.NoError(t, err)
	err = e.RecordScaleOut(ctx, web, scaler.ScaleOut{Time: time.Unix(1, 0), Desired: 6})
	require.ErrorIs(t, err, scaler.ErrAccessDenied)
	var denied *types.AccessDeniedException
	assert.ErrorAs(t, err, &denied)
	assert.Contains(t, err.Error(), "grant the IAM action ecs:TagResource on service app/web")
}

func TestECSRecordScaleOutSanitizesBy(t *testing.T) {
	s, e := newECS(t, awstest.Service{Desired: 3})
	by := "host#1/" + strings.Repeat("x", 300)
	require.NoError(t, e.RecordScaleOut(context.Background(), web, scaler.ScaleOut{Time: time.Unix(1, 0), Desired: 6, By: by}))
	got, _ := s.Service("app", "web")
	assert.Len(t, got.Tags[ecs.TagBy], 256, "ECS's limit on a tag value")
	assert.True(t, strings.HasPrefix(got.Tags[ecs.TagBy], "host_1/xxx"), "a character ECS refuses becomes _")
}

func TestECSTagsRead(t *testing.T) {
	tests := []struct {
		name   string
		tags   map[string]string
		paused bool
		rec    scaler.ScaleOut
		err    string
	}{
		{"none", nil, false, scaler.ScaleOut{}, ""},
		{"paused", map[string]string{ecs.TagPaused: "true"}, true, scaler.ScaleOut{}, ""},
		{"paused, any case", map[string]string{ecs.TagPaused: "TRUE"}, true, scaler.ScaleOut{}, ""},
		{"not paused", map[string]string{ecs.TagPaused: "false"}, false, scaler.ScaleOut{}, ""},
		{"paused, unreadable", map[string]string{ecs.TagPaused: "yes"}, false, scaler.ScaleOut{},
			`ecs: service app/web: tag fast-autoscaler:paused is "yes": must be true or false`},
		{"record", map[string]string{ecs.TagLastScaleOut: "2026-01-02T03:04:05Z", ecs.TagDesired: "8", ecs.TagBy: "h/1"}, false,
			scaler.ScaleOut{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Desired: 8, By: "h/1"}, ""},
		{"record without desired", map[string]string{ecs.TagLastScaleOut: "2026-01-02T03:04:05+09:00"}, false,
			scaler.ScaleOut{Time: time.Date(2026, 1, 1, 18, 4, 5, 0, time.UTC)}, ""},
		{"desired alone is no record", map[string]string{ecs.TagDesired: "8", ecs.TagBy: "h/1"}, false, scaler.ScaleOut{}, ""},
		{"time unreadable", map[string]string{ecs.TagLastScaleOut: "yesterday"}, false, scaler.ScaleOut{},
			`tag fast-autoscaler:last-scaleout is "yesterday": not an RFC 3339 time`},
		{"desired unreadable", map[string]string{ecs.TagLastScaleOut: "2026-01-02T03:04:05Z", ecs.TagDesired: "-2"}, false, scaler.ScaleOut{},
			`tag fast-autoscaler:desired is "-2": not a task count`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, e := newECS(t, awstest.Service{Desired: 2, Tags: tt.tags})
			st, err := e.State(context.Background(), web)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.paused, st.Paused)
			assert.True(t, tt.rec.Time.Equal(st.LastScaleOut.Time), "time %v, want %v", st.LastScaleOut.Time, tt.rec.Time)
			assert.Equal(t, tt.rec.Desired, st.LastScaleOut.Desired)
			assert.Equal(t, tt.rec.By, st.LastScaleOut.By)
		})
	}
}

func TestECSStatesInBatches(t *testing.T) {
	ctx := context.Background()
	s := awstest.New(t)
	var ids []scaler.ServiceID
	for i := range 25 { // 25 in "a", 3 in "b", interleaved
		ids = append(ids, scaler.ServiceID{Cluster: "a", Name: fmt.Sprintf("svc-%02d", i)})
		s.PutService("a", ids[len(ids)-1].Name, awstest.Service{Desired: int32(i)})
		if i%10 == 0 {
			ids = append(ids, scaler.ServiceID{Cluster: "b", Name: fmt.Sprintf("b-%d", i)})
			s.PutService("b", ids[len(ids)-1].Name, awstest.Service{Desired: 100 + int32(i), Tags: map[string]string{ecs.TagPaused: "true"}})
		}
	}
	missing := scaler.ServiceID{Cluster: "a", Name: "gone"}
	noCluster := scaler.ServiceID{Cluster: "nope", Name: "x"}
	ids = append(ids, missing, noCluster, ids[0]) // and one asked for twice
	e := ecs.New(awsecs.NewFromConfig(s.Config()))

	states, errs := e.States(ctx, ids)
	require.Len(t, states, len(ids))
	require.Len(t, errs, len(ids))
	for i, id := range ids {
		switch id {
		case missing:
			assert.ErrorIs(t, errs[i], scaler.ErrServiceNotFound)
			assert.Contains(t, errs[i].Error(), `service "gone" not found in cluster "a"`)
		case noCluster:
			assert.ErrorIs(t, errs[i], scaler.ErrServiceNotFound)
			assert.Contains(t, errs[i].Error(), `cluster "nope" does not exist`)
		default:
			require.NoError(t, errs[i], id)
			want, _ := s.Service(id.Cluster, id.Name)
			assert.EqualValues(t, want.Desired, states[i].Desired, "%s in the order asked", id)
			assert.Equal(t, id.Cluster == "b", states[i].Paused, "%s: tags read", id)
		}
	}
	calls := s.Calls("DescribeServices")
	// a: 26 distinct names (25 + gone) in 3 calls; b: 3 in 1; nope: 1.
	assert.Len(t, calls, 5)
	for _, c := range calls {
		assert.LessOrEqual(t, len(c.Params["services"].([]any)), 10)
		assert.Equal(t, []any{"TAGS"}, c.Params["include"])
	}
	// The ARNs are known: recording needs no more reads.
	s.ResetCalls()
	require.NoError(t, e.RecordScaleOut(ctx, ids[3], scaler.ScaleOut{Time: time.Unix(1, 0), Desired: 1}))
	assert.Len(t, s.Calls(), 1)
}

func TestECSStatesCallFails(t *testing.T) {
	s := awstest.New(t)
	ids := []scaler.ServiceID{{Cluster: "a", Name: "x"}, {Cluster: "a", Name: "y"}}
	for _, id := range ids {
		s.PutService(id.Cluster, id.Name, awstest.Service{Desired: 1})
	}
	s.Deny("DescribeServices")
	_, errs := ecs.New(awsecs.NewFromConfig(s.Config())).States(context.Background(), ids)
	for i, err := range errs {
		require.ErrorIs(t, err, scaler.ErrAccessDenied)
		assert.Contains(t, err.Error(), "grant the IAM action ecs:DescribeServices on service "+ids[i].String())
	}
}

func TestECSStatesBadResponses(t *testing.T) {
	ids := []scaler.ServiceID{{Cluster: "a", Name: "x"}, {Cluster: "a", Name: "y"}}
	tests := []struct {
		name string
		body string
		want [2]string
	}{
		{"nothing about y", `{"services":[{"serviceName":"x","status":"ACTIVE","desiredCount":1}]}`,
			[2]string{"", "names neither the service nor a failure for it"}},
		{"one unasked, one twice", `{"services":[{"serviceName":"z","desiredCount":1},{"serviceName":"x","status":"ACTIVE","desiredCount":1},
			{"serviceName":"x","status":"ACTIVE","desiredCount":2}],"failures":[{"arn":"arn:aws:ecs:r:1:service/a/y","reason":"MISSING"}]}`,
			[2]string{"", "not found"}},
		{"absurd count", `{"services":[{"serviceName":"x","status":"ACTIVE","desiredCount":-5},{"serviceArn":"y","status":"ACTIVE"}]}`,
			[2]string{"absurd task count -5", ""}},
		{"invalid JSON", `{"services":[`, [2]string{"DescribeServices a/x", "DescribeServices a/y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := awstest.New(t)
			s.RespondNext("DescribeServices", 1, http.StatusOK, []byte(tt.body))
			var errs []error
			require.NotPanics(t, func() { _, errs = ecs.New(awsecs.NewFromConfig(s.Config())).States(context.Background(), ids) })
			for i, want := range tt.want {
				if want == "" {
					assert.NoError(t, errs[i], ids[i])
				} else if assert.Error(t, errs[i], ids[i]) {
					assert.Contains(t, errs[i].Error(), want)
				}
			}
		})
	}
}
