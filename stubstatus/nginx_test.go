package stubstatus

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/nginxtest"
)

func TestRealNginx(t *testing.T) {
	addr := nginxtest.Start(t).Addr
	base := "http://" + addr

	const idle = 20
	nginxtest.OpenIdle(t, addr, idle)

	src := newSource(t, Options{URL: base + "/nginx-status"})
	st, err := src.Status(t.Context())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, st.Active, uint64(idle+1), "the idle connections and the status request itself")
	assert.GreaterOrEqual(t, st.Waiting, uint64(idle))
	assert.GreaterOrEqual(t, st.Writing, uint64(1), "the status request itself")
	assert.GreaterOrEqual(t, st.Requests, uint64(idle+1))
	assert.GreaterOrEqual(t, st.Accepts, st.Active)

	r, err := src.Read(t.Context())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, r.Value, float64(idle+1))
	assert.False(t, r.Overload)

	busy, err := newSource(t, Options{URL: base + "/nginx-status", Metric: MetricBusy}).Read(t.Context())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, busy.Value, 1.0)
	assert.Less(t, busy.Value, float64(idle), "busy leaves out the idle keep-alive connections")

	over, err := newSource(t, Options{URL: base + "/overloaded"}).Read(t.Context())
	require.NoError(t, err)
	assert.True(t, over.Overload)

	t.Run("auth header", func(t *testing.T) {
		_, err := newSource(t, Options{URL: base + "/auth-status", AuthHeader: "Status-Auth-Key", AuthValue: "let-me-in"}).Read(t.Context())
		require.NoError(t, err)

		_, err = newSource(t, Options{URL: base + "/auth-status", AuthHeader: "Status-Auth-Key", AuthValue: "wrong-s3cret"}).Read(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "403")
		assert.NotContains(t, err.Error(), "wrong-s3cret")

		_, err = newSource(t, Options{URL: base + "/auth-status"}).Read(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "403")
	})
}
