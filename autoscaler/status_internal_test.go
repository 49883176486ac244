package autoscaler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// TestObserveDoesNotAllocate: keeping the status costs a check nothing but
// copying values.
func TestObserveDoesNotAllocate(t *testing.T) {
	src := MetricSourceFunc(func(context.Context) (Reading, error) { return Reading{Value: 1}, nil })
	w, err := NewWatcher(Service{Cluster: "c", Name: "a", Source: src, Policy: DefaultPolicy()}, scaler.NewMemory(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var s ServiceStatus
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	idle := Check{Time: now, Outcome: Idle, Reading: Reading{Value: 12}, Next: now.Add(3 * time.Second)}
	failed := Check{Time: now, Outcome: ReadFailed, Err: errors.New("refused"), Next: now.Add(3 * time.Second)}
	for name, c := range map[string]Check{"idle": idle, "failed read": failed} {
		if n := testing.AllocsPerRun(100, func() { w.observe(&s, c) }); n != 0 {
			t.Errorf("%s: %v allocations a check", name, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { w.Step(context.Background(), now) }); n != 0 {
		t.Errorf("idle Step: %v allocations", n)
	}
}
