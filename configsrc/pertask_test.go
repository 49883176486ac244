package configsrc_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

func TestParsePerTask(t *testing.T) {
	t.Run("TaskStatusUrl alone, defaults filled in", func(t *testing.T) {
		cfg, err := configsrc.Parse([]byte(doc(svc("StatusUrl", omit, "TaskStatusUrl", "http://{ip}:8080/nginx-status"))))
		require.NoError(t, err)
		s := cfg.Services[0]
		assert.Empty(t, s.StatusURL)
		assert.Equal(t, "http://{ip}:8080/nginx-status", s.TaskStatusURL)
		assert.Equal(t, stubstatus.AggregateAvg, s.TaskAggregate)
		assert.Equal(t, 15*time.Second, s.TaskRefreshInterval)
	})
	t.Run("both, with settings", func(t *testing.T) {
		cfg, err := configsrc.Parse([]byte(doc(svc("TaskStatusUrl", "https://{ip}/s", "TaskAggregate", "max", "TaskRefreshInterval", "30s"))))
		require.NoError(t, err)
		s := cfg.Services[0]
		assert.Equal(t, "https://example-a.com/nginx-status", s.StatusURL, "kept as the fallback")
		assert.Equal(t, stubstatus.AggregateMax, s.TaskAggregate)
		assert.Equal(t, 30*time.Second, s.TaskRefreshInterval)
	})
	t.Run("without TaskStatusUrl nothing changes", func(t *testing.T) {
		cfg, err := configsrc.Parse([]byte(doc(svc())))
		require.NoError(t, err)
		s := cfg.Services[0]
		assert.Empty(t, s.TaskStatusURL)
		assert.Empty(t, s.TaskAggregate)
		assert.Zero(t, s.TaskRefreshInterval)
	})
}

func TestParsePerTaskInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []where
		msg  string
	}{
		{"neither URL", doc(svc("StatusUrl", omit)), []where{{0, "web", "StatusUrl"}}, "required"},
		{"template without {ip}", doc(svc("TaskStatusUrl", "http://10.0.0.1/s")), []where{{0, "web", "TaskStatusUrl"}}, "must contain {ip} exactly once, as the host"},
		{"{ip} not the host", doc(svc("TaskStatusUrl", "http://example.com/{ip}")), []where{{0, "web", "TaskStatusUrl"}}, "must have {ip} as its whole host"},
		{"template ftp", doc(svc("TaskStatusUrl", "ftp://{ip}/s")), []where{{0, "web", "TaskStatusUrl"}}, "absolute http or https"},
		{"template empty", doc(svc("TaskStatusUrl", "")), []where{{0, "web", "TaskStatusUrl"}}, "must not be empty"},
		{"aggregate unknown", doc(svc("TaskStatusUrl", "http://{ip}/s", "TaskAggregate", "median")), []where{{0, "web", "TaskAggregate"}}, `must be "avg" or "max", got "median"`},
		{"refresh too short", doc(svc("TaskStatusUrl", "http://{ip}/s", "TaskRefreshInterval", 0.5)), []where{{0, "web", "TaskRefreshInterval"}}, "at least 1s"},
		{"refresh too long", doc(svc("TaskStatusUrl", "http://{ip}/s", "TaskRefreshInterval", "2h")), []where{{0, "web", "TaskRefreshInterval"}}, "at most 1h0m0s"},
		{"aggregate without template", doc(svc("TaskAggregate", "max")), []where{{0, "web", "TaskAggregate"}}, "applies only with TaskStatusUrl"},
		{"refresh without template", doc(svc("TaskRefreshInterval", 30)), []where{{0, "web", "TaskRefreshInterval"}}, "applies only with TaskStatusUrl"},
		{"typo", doc(svc("TaskStatusURL", "http://{ip}/s")), []where{{0, "web", "TaskStatusURL"}}, `did you mean "TaskStatusUrl"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ve := problems(t, tc.doc)
			got := make([]where, len(ve.Problems))
			for i, p := range ve.Problems {
				got[i] = where{p.Index, p.Service, p.Field}
			}
			assert.Equal(t, tc.want, got, ve.Error())
			assert.Contains(t, ve.Problems[0].Message, tc.msg)
		})
	}
}

func TestServiceLogValuePerTask(t *testing.T) {
	cfg, err := configsrc.Parse([]byte(doc(svc("StatusUrl", omit, "TaskStatusUrl", "http://user:pw@{ip}:8080/s", "TaskAggregate", "max"))))
	require.NoError(t, err)
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("watching", "service", cfg.Services[0])
	var got struct{ Service map[string]any }
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	assert.Equal(t, "http://[redacted]@{ip}:8080/s", got.Service["TaskStatusUrl"], "user info redacted as in StatusUrl: no user name either")
	assert.Equal(t, "max", got.Service["TaskAggregate"])
	assert.Equal(t, "15s", got.Service["TaskRefreshInterval"])
	assert.Equal(t, "", got.Service["StatusUrl"])
	assert.NotContains(t, out.String(), "pw@")
	assert.NotContains(t, out.String(), "user")
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg.Services[0], cfg.Services[0], cfg.Services[0]), "user:pw")
}

func TestParsePerTaskTLSServerName(t *testing.T) {
	cfg, err := configsrc.Parse([]byte(doc(svc("StatusUrl", omit, "TaskStatusUrl", "https://{ip}:8443/s", "StatusTLSServerName", "shop.example.com"))))
	require.NoError(t, err, "the name suits the tasks' https URL")
	assert.Equal(t, stubstatus.TLSMode{Verify: true, ServerName: "shop.example.com"}, cfg.Services[0].TLS())

	ve := problems(t, doc(svc("StatusUrl", omit, "TaskStatusUrl", "http://{ip}:8080/s", "StatusTLSServerName", "shop.example.com")))
	require.Len(t, ve.Problems, 1)
	assert.Equal(t, "StatusTLSServerName", ve.Problems[0].Field)
	assert.Contains(t, ve.Problems[0].Message, "needs an https status URL")
}
