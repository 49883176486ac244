package configsrc_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

// memoSteps is the step scaling configuration of the memo in the seeds, as
// a CloudFormation template's StepScalingPolicyConfiguration holds it.
const memoSteps = `{"AdjustmentType": "PercentChangeInCapacity", "Cooldown": 60, "MetricAggregationType": "Average",
	"StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 200}]}`

func TestParseScaleoutPolicies(t *testing.T) {
	var steps any
	require.NoError(t, json.Unmarshal([]byte(memoSteps), &steps))
	cfg, err := configsrc.Parse([]byte(doc(
		svc("EcsServiceName", "capacity", "ScaleoutMode", "capacity", "ScaleoutThreshold", 100, "TargetPerTask", 80,
			"ScaleoutAfterChecks", 2, "StartupTimeout", "2m", "MaxDesiredCount", 40),
		svc("EcsServiceName", "steps", "ScaleoutMode", "steps", "StepScalingPolicyConfiguration", steps),
		svc("EcsServiceName", "double", "EscalateWhenReady", true),
	)))
	require.NoError(t, err)

	c := cfg.Services[0].Policy
	assert.Equal(t, autoscaler.ModeCapacity, c.ScaleoutMode)
	assert.Equal(t, 80.0, c.TargetPerTask)
	assert.Equal(t, 2, c.ScaleoutAfterChecks)
	assert.Equal(t, 2*time.Minute, c.StartupTimeout)

	s := cfg.Services[1].Policy
	require.NotNil(t, s.Steps)
	assert.Equal(t, autoscaler.PercentChangeInCapacity, s.Steps.AdjustmentType)
	assert.Equal(t, time.Minute, s.Steps.Cooldown)
	require.Len(t, s.Steps.StepAdjustments, 1)
	assert.Equal(t, 0.0, *s.Steps.StepAdjustments[0].MetricIntervalLowerBound)
	assert.Nil(t, s.Steps.StepAdjustments[0].MetricIntervalUpperBound)
	assert.Equal(t, 200, s.Steps.StepAdjustments[0].ScalingAdjustment)

	assert.True(t, cfg.Services[2].Policy.EscalateWhenReady)
	assert.Empty(t, cfg.Services[0].Warnings())
	assert.Len(t, cfg.Services[1].Warnings(), 1, "no MaxDesiredCount")

	same, err := configsrc.Parse([]byte(doc(svc("EcsServiceName", "steps", "ScaleoutMode", "steps", "StepScalingPolicyConfiguration", steps))))
	require.NoError(t, err)
	assert.True(t, cfg.Services[1].Equal(same.Services[0]), "equal settings are equal, steps compared by value")
	assert.False(t, cfg.Services[0].Equal(cfg.Services[1]))
}

func TestParseScaleoutPolicyProblems(t *testing.T) {
	raw := func(s string) any {
		var v any
		require.NoError(t, json.Unmarshal([]byte(s), &v))
		return v
	}
	const f = "StepScalingPolicyConfiguration"
	for _, tc := range []struct {
		name string
		doc  string
		want []where
		msg  string
	}{
		{"unknown mode", doc(svc("ScaleoutMode", "triple")), []where{{0, "web", "ScaleoutMode"}}, `"double", "capacity" or "steps"`},
		{"mode empty", doc(svc("ScaleoutMode", "")), []where{{0, "web", "ScaleoutMode"}}, "must not be empty"},
		{"target without capacity", doc(svc("TargetPerTask", 80)), []where{{0, "web", "TargetPerTask"}}, `only with ScaleoutMode "capacity"`},
		{"target above threshold", doc(svc("ScaleoutMode", "capacity", "TargetPerTask", 200)), []where{{0, "web", "TargetPerTask"}}, "must not exceed ScaleoutThreshold (150)"},
		{"target zero", doc(svc("ScaleoutMode", "capacity", "TargetPerTask", 0)), []where{{0, "web", "TargetPerTask"}}, "> 0"},
		{"after-checks zero", doc(svc("ScaleoutAfterChecks", 0)), []where{{0, "web", "ScaleoutAfterChecks"}}, ">= 1"},
		{"startup timeout zero", doc(svc("StartupTimeout", 0)), []where{{0, "web", "StartupTimeout"}}, "> 0"},
		{"escalate string", doc(svc("EscalateWhenReady", "yes")), []where{{0, "web", "EscalateWhenReady"}}, "true or false"},
		{"steps missing", doc(svc("ScaleoutMode", "steps")), []where{{0, "web", f}}, `required with ScaleoutMode "steps"`},
		{"steps not an object", doc(svc("ScaleoutMode", "steps", f, "x")), []where{{0, "web", f}}, "must be an object"},
		{"steps typo", doc(svc("ScaleoutMode", "steps", f, raw(`{"AdjustmentType":"ChangeInCapacity","StepAdjustment":[]}`))),
			[]where{{0, "web", f + ".StepAdjustment"}, {0, "web", f + ".StepAdjustments"}}, `did you mean "StepAdjustments"?`},
		{"step typo", doc(svc("ScaleoutMode", "steps", f, raw(`{"AdjustmentType":"ChangeInCapacity","StepAdjustments":[{"MetricIntervalLowerbound":0,"ScalingAdjustment":1}]}`))),
			[]where{{0, "web", f + ".StepAdjustments[0].MetricIntervalLowerbound"}}, `did you mean "MetricIntervalLowerBound"?`},
		{"a gap", doc(svc("ScaleoutMode", "steps", f, raw(`{"AdjustmentType":"ChangeInCapacity","StepAdjustments":[
			{"MetricIntervalLowerBound":0,"MetricIntervalUpperBound":10,"ScalingAdjustment":1},{"MetricIntervalLowerBound":20,"ScalingAdjustment":2}]}`))),
			[]where{{0, "web", f + ".StepAdjustments[1]"}}, "gap"},
		{"adjustment fractional", doc(svc("ScaleoutMode", "steps", f, raw(`{"AdjustmentType":"ChangeInCapacity","StepAdjustments":[{"MetricIntervalLowerBound":0,"ScalingAdjustment":1.5}]}`))),
			[]where{{0, "web", f + ".StepAdjustments[0].ScalingAdjustment"}}, "whole number"},
		{"bound null", doc(svc("ScaleoutMode", "steps", f, raw(`{"AdjustmentType":"ChangeInCapacity","StepAdjustments":[{"MetricIntervalLowerBound":0,"MetricIntervalUpperBound":null,"ScalingAdjustment":1}]}`))),
			[]where{{0, "web", f + ".StepAdjustments[0].MetricIntervalUpperBound"}}, "leave the field out"},
		{"aggregation unknown", doc(svc("ScaleoutMode", "steps", f, raw(`{"AdjustmentType":"ChangeInCapacity","MetricAggregationType":"Sum","StepAdjustments":[{"MetricIntervalLowerBound":0,"ScalingAdjustment":1}]}`))),
			[]where{{0, "web", f + ".MetricAggregationType"}}, `"Average", "Minimum" or "Maximum"`},
		{"cooldown and grace", doc(svc("ScaleoutMode", "steps", "GracePeriod", 60, f, raw(memoSteps))),
			[]where{{0, "web", f + ".Cooldown"}}, "not both"},
		{"steps in another mode", doc(svc(f, raw(memoSteps))), []where{{0, "web", f}}, `only with ScaleoutMode "steps"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ve := problems(t, tc.doc)
			got := make([]where, len(ve.Problems))
			for i, p := range ve.Problems {
				got[i] = where{p.Index, p.Service, p.Field}
			}
			assert.Equal(t, tc.want, got, ve.Error())
			assert.Contains(t, ve.Problems[0].Message, tc.msg, ve.Error())
		})
	}
}

func TestServiceLogValueOfEachMode(t *testing.T) {
	var steps any
	require.NoError(t, json.Unmarshal([]byte(memoSteps), &steps))
	cfg, err := configsrc.Parse([]byte(doc(
		svc("EcsServiceName", "capacity", "ScaleoutMode", "capacity", "ScaleoutThreshold", 100),
		svc("EcsServiceName", "steps", "ScaleoutMode", "steps", "StepScalingPolicyConfiguration", steps),
	)))
	require.NoError(t, err)
	logged := func(s configsrc.ServiceConfig) map[string]any {
		var out bytes.Buffer
		slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "s", s)
		var got struct{ S map[string]any }
		require.NoError(t, json.Unmarshal(out.Bytes(), &got))
		return got.S
	}
	c := logged(cfg.Services[0])
	assert.Equal(t, "capacity", c["ScaleoutMode"])
	assert.Equal(t, 90.0, c["TargetPerTask"], "the effective default")
	assert.NotContains(t, c, "EscalateWhenReady", "not a capacity setting")
	s := logged(cfg.Services[1])
	assert.Equal(t, `{"AdjustmentType":"PercentChangeInCapacity","StepAdjustments":[{"MetricIntervalLowerBound":0,"ScalingAdjustment":200}],"Cooldown":"1m0s"}`,
		s["StepScalingPolicyConfiguration"])
	assert.NotContains(t, s, "TargetPerTask")
}
