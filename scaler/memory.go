package scaler

import (
	"context"
	"fmt"
	"sync"
)

// Update records one SetDesired call on a Memory scaler.
type Update struct {
	Service ServiceID
	From    int // desired count before the call
	To      int // desired count set by the call
}

// Memory is an in-memory Scaler (and Recorder) for tests, simulation and dry runs. It is safe
// for concurrent use. A service must be added with Put before it can be read.
// The zero value is ready to use.
type Memory struct {
	// StartAtOnce makes SetDesired start the tasks at once: Running becomes
	// the new desired count and Pending 0. Otherwise the counts are left as
	// they are and the caller models task start-up. Set it before use.
	StartAtOnce bool

	mu      sync.Mutex
	states  map[ServiceID]State
	updates []Update
}

// NewMemory returns an empty Memory scaler.
func NewMemory() *Memory { return &Memory{} }

// Put sets a service's whole state, adding the service if it is new.
func (m *Memory) Put(svc ServiceID, st State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.states == nil {
		m.states = make(map[ServiceID]State)
	}
	m.states[svc] = st
}

// State returns the service's state, or an error wrapping ErrServiceNotFound.
func (m *Memory) State(_ context.Context, svc ServiceID) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[svc]
	if !ok {
		return State{}, fmt.Errorf("memory scaler: %s: %w", svc, ErrServiceNotFound)
	}
	return st, nil
}

// SetDesired sets the service's desired count and records the update. Running
// and pending counts are left as they are (the caller models task start-up)
// unless StartAtOnce is set.
func (m *Memory) SetDesired(_ context.Context, svc ServiceID, desired int) error {
	if desired < 0 {
		return fmt.Errorf("memory scaler: %s: desired count %d is negative", svc, desired)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[svc]
	if !ok {
		return fmt.Errorf("memory scaler: %s: %w", svc, ErrServiceNotFound)
	}
	m.updates = append(m.updates, Update{Service: svc, From: st.Desired, To: desired})
	st.Desired = desired
	if m.StartAtOnce {
		st.Running, st.Pending = desired, 0
	}
	m.states[svc] = st
	return nil
}

// RecordScaleOut stores rec as the service's State.LastScaleOut, as an
// orchestrator that records scale-outs on the service would; it implements
// Recorder.
func (m *Memory) RecordScaleOut(_ context.Context, svc ServiceID, rec ScaleOut) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[svc]
	if !ok {
		return fmt.Errorf("memory scaler: %s: %w", svc, ErrServiceNotFound)
	}
	st.LastScaleOut = rec
	m.states[svc] = st
	return nil
}

// Updates returns a copy of every SetDesired call made so far, oldest first.
func (m *Memory) Updates() []Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Update(nil), m.updates...)
}
