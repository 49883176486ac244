package autoscaler

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
