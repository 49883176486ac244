package autoscaler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

func TestHold(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const grace = 180 * time.Second
	rec := func(ago time.Duration, desired int) scaler.ScaleOut {
		return scaler.ScaleOut{Time: now.Add(-ago), Desired: desired, By: "other/1"}
	}
	tests := []struct {
		name  string
		st    scaler.State
		out   Outcome
		until time.Time
	}{
		{"nothing recorded", scaler.State{Desired: 3}, Idle, time.Time{}},
		{"paused", scaler.State{Desired: 3, Paused: true}, Paused, time.Time{}},
		{"paused beats a record", scaler.State{Desired: 10, Paused: true, LastScaleOut: rec(time.Second, 10)}, Paused, time.Time{}},
		{"recorded a minute ago", scaler.State{Desired: 10, LastScaleOut: rec(time.Minute, 10)}, InGrace, now.Add(2 * time.Minute)},
		{"recorded just now", scaler.State{Desired: 10, LastScaleOut: rec(0, 10)}, InGrace, now.Add(grace)},
		{"raised since (managed scaling)", scaler.State{Desired: 14, LastScaleOut: rec(time.Minute, 10)}, InGrace, now.Add(2 * time.Minute)},
		{"grace ends exactly now", scaler.State{Desired: 10, LastScaleOut: rec(grace, 10)}, Idle, time.Time{}},
		{"grace ended", scaler.State{Desired: 10, LastScaleOut: rec(grace+time.Second, 10)}, Idle, time.Time{}},
		{"not in effect: the update failed or has not landed", scaler.State{Desired: 3, LastScaleOut: rec(time.Second, 10)}, Idle, time.Time{}},
		{"no desired recorded", scaler.State{Desired: 3, LastScaleOut: rec(time.Second, 0)}, InGrace, now.Add(grace - time.Second)},
		{"dated ahead: clocks disagree a little", scaler.State{Desired: 10, LastScaleOut: rec(-2*time.Second, 10)}, InGrace, now.Add(grace)},
		{"dated far ahead: at most one grace period", scaler.State{Desired: 10, LastScaleOut: rec(-time.Hour, 10)}, InGrace, now.Add(grace)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, until := hold(now, grace, tt.st)
			assert.Equal(t, tt.out, out)
			assert.True(t, tt.until.Equal(until), "until %v, want %v", until, tt.until)
		})
	}
}
