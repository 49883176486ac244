package autoscaler

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

func TestPhaseSpreadsSimilarNamesEvenly(t *testing.T) {
	const (
		n        = 1000
		bins     = 10
		interval = 3 * time.Second
	)
	var count [bins]int
	for i := range n {
		p := phase(scaler.ServiceID{Cluster: "shop", Name: fmt.Sprintf("svc-%d", i)}, interval)
		if !assert.True(t, p >= 0 && p < interval, "phase %v outside [0, %v)", p, interval) {
			return
		}
		count[p*bins/interval]++
	}
	for b, c := range count {
		// n/bins = 100 expected; a binomial spread stays far inside this.
		assert.InDelta(t, n/bins, c, 50, "tenth %d of the interval holds %d services: %v", b, c, count)
	}
	a := scaler.ServiceID{Cluster: "shop", Name: "web"}
	assert.Equal(t, phase(a, interval), phase(a, interval), "the same service, the same phase")
	assert.NotEqual(t, phase(a, interval), phase(scaler.ServiceID{Cluster: "shoq", Name: "web"}, interval), "the cluster counts")
}

// TestWatcherStaysSmall: a service costs little memory unless its mode
// needs more: the capacity estimate's history (about 16 KB) is made on its
// first use only.
func TestWatcherStaysSmall(t *testing.T) {
	assert.Less(t, unsafe.Sizeof(Watcher{}), uintptr(2048))
	var m memory
	p := DefaultPolicy()
	p.remember(time.Unix(100, 0), Reading{Value: 10}, &m)
	assert.Nil(t, m.hist, "the default mode keeps no history")
	p.ScaleoutMode = ModeCapacity
	p.remember(time.Unix(100, 0), Reading{Value: 10}, &m)
	require.NotNil(t, m.hist)
	assert.Equal(t, 1, m.hist.len())
}
