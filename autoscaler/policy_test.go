package autoscaler_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

func TestTriggered(t *testing.T) {
	p := autoscaler.DefaultPolicy() // threshold 150
	tests := []struct {
		name    string
		reading autoscaler.Reading
		want    bool
	}{
		{"well below", autoscaler.Reading{Value: 10}, false},
		{"equal to threshold does not scale", autoscaler.Reading{Value: 150}, false},
		{"just above threshold", autoscaler.Reading{Value: 150.5}, true},
		{"one above threshold", autoscaler.Reading{Value: 151}, true},
		{"overload with no number", autoscaler.Reading{Overload: true}, true},
		{"overload below threshold", autoscaler.Reading{Value: 3, Overload: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, p.Triggered(tt.reading))
		})
	}
}

func TestScaleOutTo(t *testing.T) {
	tests := []struct {
		name        string
		min, max    int
		current     int
		want        int
		wantCapped  bool
		wantNoWrite bool // result not above current: no update
	}{
		{name: "seed README: current 3, floor 5 -> 10", min: 5, current: 3, want: 10},
		{name: "current 8 doubles to 16", min: 5, current: 8, want: 16},
		{name: "current equal to floor", min: 5, current: 5, want: 10},
		{name: "current 0 uses floor", min: 5, current: 0, want: 10},
		{name: "floor 1, current 1", min: 1, current: 1, want: 2},
		{name: "seed README service b: floor 2, current 2", min: 2, current: 2, want: 4},
		{name: "cap below double", min: 5, max: 12, current: 8, want: 12, wantCapped: true},
		{name: "cap exactly double is not capped", min: 5, max: 16, current: 8, want: 16},
		{name: "cap above double", min: 5, max: 100, current: 8, want: 16},
		{name: "at max: capped to current, no update", min: 5, max: 20, current: 20, want: 20, wantCapped: true, wantNoWrite: true},
		{name: "above max (set by hand): never lowers", min: 5, max: 20, current: 30, want: 20, wantCapped: true, wantNoWrite: true},
		{name: "huge current does not overflow", min: 5, current: math.MaxInt - 1, want: math.MaxInt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := autoscaler.DefaultPolicy()
			p.MinDesiredCount, p.MaxDesiredCount = tt.min, tt.max
			got, capped := p.ScaleOutTo(tt.current)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantCapped, capped)
			assert.Equal(t, tt.wantNoWrite, got <= tt.current, "no-update rule")
		})
	}
}

func TestDefaultPolicyIsTheSeeds(t *testing.T) {
	p := autoscaler.DefaultPolicy()
	assert.Equal(t, 150.0, p.ScaleoutThreshold)
	assert.Equal(t, 5, p.MinDesiredCount)
	assert.Equal(t, 0, p.MaxDesiredCount)
	assert.Equal(t, 3*time.Second, p.CheckInterval)
	assert.Equal(t, 180*time.Second, p.GracePeriod)
	assert.Equal(t, 5, p.AlertAfterFailures)
	require.NoError(t, p.Validate())
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*autoscaler.Policy)
		fields []string
	}{
		{"zero threshold", func(p *autoscaler.Policy) { p.ScaleoutThreshold = 0 }, []string{"ScaleoutThreshold"}},
		{"negative threshold", func(p *autoscaler.Policy) { p.ScaleoutThreshold = -1 }, []string{"ScaleoutThreshold"}},
		{"NaN threshold", func(p *autoscaler.Policy) { p.ScaleoutThreshold = math.NaN() }, []string{"ScaleoutThreshold"}},
		{"infinite threshold", func(p *autoscaler.Policy) { p.ScaleoutThreshold = math.Inf(1) }, []string{"ScaleoutThreshold"}},
		{"zero floor", func(p *autoscaler.Policy) { p.MinDesiredCount = 0 }, []string{"MinDesiredCount"}},
		{"negative cap", func(p *autoscaler.Policy) { p.MaxDesiredCount = -3 }, []string{"MaxDesiredCount"}},
		{"cap below floor", func(p *autoscaler.Policy) { p.MaxDesiredCount = 4 }, []string{"MaxDesiredCount"}},
		{"zero interval", func(p *autoscaler.Policy) { p.CheckInterval = 0 }, []string{"CheckInterval"}},
		{"interval too short", func(p *autoscaler.Policy) { p.CheckInterval = time.Millisecond }, []string{"CheckInterval"}},
		{"zero grace", func(p *autoscaler.Policy) { p.GracePeriod = 0 }, []string{"GracePeriod"}},
		{"zero alert", func(p *autoscaler.Policy) { p.AlertAfterFailures = 0 }, []string{"AlertAfterFailures"}},
		{"interval of 292 years", func(p *autoscaler.Policy) { p.CheckInterval = math.MaxInt64 }, []string{"CheckInterval"}},
		{"interval just over an hour", func(p *autoscaler.Policy) { p.CheckInterval = time.Hour + time.Millisecond }, []string{"CheckInterval"}},
		{"grace of 292 years", func(p *autoscaler.Policy) { p.GracePeriod = math.MaxInt64 }, []string{"GracePeriod"}},
		{"floor beyond ECS's tasks per service", func(p *autoscaler.Policy) { p.MinDesiredCount = math.MaxInt32 }, []string{"MinDesiredCount"}},
		{"floor just beyond", func(p *autoscaler.Policy) { p.MinDesiredCount = 5001; p.MaxDesiredCount = 5001 }, []string{"MinDesiredCount", "MaxDesiredCount"}},
		{"everything at once", func(p *autoscaler.Policy) { *p = autoscaler.Policy{} },
			[]string{"ScaleoutThreshold", "MinDesiredCount", "CheckInterval", "GracePeriod", "AlertAfterFailures"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := autoscaler.DefaultPolicy()
			tt.mutate(&p)
			err := p.Validate()
			require.Error(t, err)
			assert.Equal(t, tt.fields, fieldsOf(t, err))
		})
	}
	t.Run("valid edge values", func(t *testing.T) {
		p := autoscaler.DefaultPolicy()
		p.ScaleoutThreshold, p.MinDesiredCount, p.MaxDesiredCount = 0.5, 1, 1
		p.CheckInterval = autoscaler.MinCheckInterval
		assert.NoError(t, p.Validate())
		p.MinDesiredCount, p.MaxDesiredCount = autoscaler.MaxTaskCount, autoscaler.MaxTaskCount
		p.CheckInterval, p.GracePeriod = autoscaler.MaxCheckInterval, autoscaler.MaxGracePeriod
		assert.NoError(t, p.Validate())
	})
}

// fieldsOf returns the Field of every *FieldError joined in err, in order.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "want joined errors, got %T", err)
	var fields []string
	for _, e := range joined.Unwrap() {
		var fe *autoscaler.FieldError
		require.True(t, errors.As(e, &fe), "want *FieldError, got %T", e)
		fields = append(fields, fe.Field)
	}
	return fields
}
