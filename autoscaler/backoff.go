package autoscaler

import (
	"hash/fnv"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// RetryDelay returns how long after the failures-th failed scale-out in a
// row (failures >= 1) of svc the next attempt is due. The first retry comes
// at the next check (CheckInterval). Later ones back off: the interval
// doubles with each failure up to 32 × CheckInterval, less a jitter of up to
// a quarter, and never beyond GracePeriod. The jitter is a pure function of
// the service and the failure count, so services that fail together (an ECS
// outage, a missing permission) retry apart, and a test or a simulation sees
// the same delays every time. The result is always > 0.
func (p Policy) RetryDelay(svc scaler.ServiceID, failures int) time.Duration {
	d := p.CheckInterval
	if failures >= 2 {
		d = p.CheckInterval << min(failures-1, 5)
		d -= time.Duration(float64(d/4) * jitter(svc, failures)).Truncate(time.Millisecond)
	}
	return max(min(d, p.GracePeriod), 1)
}

// jitter returns a number in [0, 1) derived from svc and n.
func jitter(svc scaler.ServiceID, n int) float64 {
	h := fnv.New64a()
	h.Write([]byte(svc.Cluster))
	h.Write([]byte{0})
	h.Write([]byte(svc.Name))
	h.Write([]byte{0, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)})
	return float64(h.Sum64()>>11) / (1 << 53)
}
