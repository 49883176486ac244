package scaler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// batcher is a Memory that also reads in batches, counting its calls.
type batcher struct {
	*scaler.Memory
	batches atomic.Int64
	short   bool // break the contract: answer one state too few
}

func (b *batcher) States(ctx context.Context, svcs []scaler.ServiceID) ([]scaler.State, []error) {
	b.batches.Add(1)
	states, errs := make([]scaler.State, len(svcs)), make([]error, len(svcs))
	for i, s := range svcs {
		states[i], errs[i] = b.State(ctx, s)
	}
	if b.short {
		return states[1:], errs[1:]
	}
	return states, errs
}

func TestReadStates(t *testing.T) {
	ctx := context.Background()
	mem := scaler.NewMemory()
	var ids []scaler.ServiceID
	for i := range 40 {
		id := scaler.ServiceID{Cluster: "c", Name: string(rune('a' + i))}
		ids = append(ids, id)
		mem.Put(id, scaler.State{Desired: i})
	}
	missing := scaler.ServiceID{Cluster: "c", Name: "missing"}
	ids = append(ids, missing)

	check := func(states []scaler.State, errs []error) {
		t.Helper()
		require.Len(t, states, len(ids))
		for i, id := range ids {
			if id == missing {
				assert.ErrorIs(t, errs[i], scaler.ErrServiceNotFound)
				continue
			}
			require.NoError(t, errs[i])
			assert.Equal(t, i, states[i].Desired, "in the order asked")
		}
	}
	check(scaler.ReadStates(ctx, mem, ids, 3)) // one by one, 3 at a time

	b := &batcher{Memory: mem}
	check(scaler.ReadStates(ctx, b, ids, 0))
	assert.EqualValues(t, 1, b.batches.Load(), "a BatchStater reads in its own batches")

	b.short = true
	check(scaler.ReadStates(ctx, b, ids, 0)) // a broken batch answer is not trusted

	check(scaler.NewDryRun(b, nil).States(ctx, ids))
}

func TestMemoryRecordsScaleOuts(t *testing.T) {
	ctx := context.Background()
	mem := scaler.NewMemory()
	web := scaler.ServiceID{Cluster: "c", Name: "web"}
	assert.ErrorIs(t, mem.RecordScaleOut(ctx, web, scaler.ScaleOut{Time: time.Unix(5, 0)}), scaler.ErrServiceNotFound)
	mem.Put(web, scaler.State{Desired: 3})
	rec := scaler.ScaleOut{Time: time.Unix(5, 0), Desired: 10, By: "me"}
	require.NoError(t, mem.RecordScaleOut(ctx, web, rec))
	st, err := mem.State(ctx, web)
	require.NoError(t, err)
	assert.Equal(t, rec, st.LastScaleOut)
	assert.Equal(t, 3, st.Desired, "recording changes no count")
	assert.Empty(t, mem.Updates())
	assert.True(t, scaler.ScaleOut{}.IsZero())
	var _ scaler.Recorder = mem
	_, dryIsRecorder := any(scaler.NewDryRun(mem, nil)).(scaler.Recorder)
	assert.False(t, dryIsRecorder, "a dry run records nothing on the service")
}
