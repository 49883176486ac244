package notify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

func TestMultiCallsEveryNotifierAndJoinsErrors(t *testing.T) {
	errA, errC := errors.New("a failed"), errors.New("c failed")
	var calls []string
	record := func(name string, err error) notify.Notifier {
		return notify.NotifierFunc(func(_ context.Context, ev notify.Event) error {
			calls = append(calls, name+":"+ev.Service)
			return err
		})
	}
	m := notify.Multi{record("a", errA), record("b", nil), record("c", errC)}

	err := m.Notify(t.Context(), notify.Event{Kind: notify.ScaledOut, Service: "web"})

	assert.Equal(t, []string{"a:web", "b:web", "c:web"}, calls, "a failure does not stop the others")
	assert.ErrorIs(t, err, errA)
	assert.ErrorIs(t, err, errC)
	assert.NoError(t, notify.Multi{record("b", nil)}.Notify(t.Context(), notify.Event{}))
	assert.NoError(t, notify.Multi(nil).Notify(t.Context(), notify.Event{}))
}
