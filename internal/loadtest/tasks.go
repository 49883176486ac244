package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Per-task mode (-tasks T) gives service i's task k a loopback address of
// its own, 127.<1+i/256>.<i%256>.<k+1>, as on ECS, where every task has its
// own private address: each (service, task) pair is one host to the binary's
// connection pool and to nginx, so the connections counted and the memory
// they hold are what a real deployment pays, and a request sent to another
// service's task shows in the access log ($server_addr) as misrouted.
// Linux routes the whole of 127.0.0.0/8 to the loopback interface, so nginx
// binds each address without any setup.
const (
	// maxTasks is the most tasks a service may have in per-task mode: the
	// last octet is the task's number plus one.
	maxTasks = 254
	// maxTaskServices is the most services in per-task mode: the second
	// octet runs from 1 to 126 (127.127.x.y is left alone).
	maxTaskServices = 126 * 256
)

// taskAddr is the address of service svc's task k in per-task mode.
func taskAddr(svc, k int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(1 + svc/256), byte(svc % 256), byte(k + 1)})
}

// taskOfAddr is the inverse of taskAddr: the service and task an address
// belongs to; ok is false for an address taskAddr never returns.
func taskOfAddr(a netip.Addr) (svc, k int, ok bool) {
	if !a.Is4() {
		return 0, 0, false
	}
	b := a.As4()
	if b[0] != 127 || b[1] < 1 || b[1] > 126 || b[3] < 1 || b[3] > maxTasks {
		return 0, 0, false
	}
	return int(b[1]-1)*256 + int(b[2]), int(b[3]) - 1, true
}

// taskID is the ECS task ID of service svc's task k on the wire server.
func taskID(svc, k int) string { return serviceName(svc) + "-task-" + strconv.Itoa(k) }

// layout is where the requests of a run go: services, each read at one
// address (127.0.0.1) or, with tasks > 0, at each of its tasks' addresses.
type layout struct {
	services, tasks int
}

// pairs is the number of (service, address) pairs read.
func (l layout) pairs() int { return l.services * max(l.tasks, 1) }

// addrs are the addresses nginx listens on: 127.0.0.1, or every task's.
func (l layout) addrs() []netip.Addr {
	if l.tasks == 0 {
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	out := make([]netip.Addr, 0, l.pairs())
	for i := range l.services {
		for k := range l.tasks {
			out = append(out, taskAddr(i, k))
		}
	}
	return out
}

// valid reports whether a request of service svc at addr is one the run
// makes: at 127.0.0.1, or at one of the service's own tasks.
func (l layout) valid(p pair) bool {
	if l.tasks == 0 {
		return p.addr == netip.AddrFrom4([4]byte{127, 0, 0, 1}) && p.service < l.services
	}
	svc, k, ok := taskOfAddr(p.addr)
	return ok && svc == p.service && svc < l.services && k < l.tasks
}

// pairFollower follows a growing access log and collects the distinct pairs
// the binary ('a') has read so far, for the wait before the warm-up.
type pairFollower struct {
	path string
	off  int64
	rest []byte // a line not yet complete
	seen map[pair]bool
}

func newPairFollower(path string) *pairFollower {
	return &pairFollower{path: path, seen: map[pair]bool{}}
}

// poll reads what was added to the log since the last poll. A log not yet
// written is no error.
func (f *pairFollower) poll() error {
	file, err := os.Open(f.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer file.Close()
	if _, err := file.Seek(f.off, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(file)
	if err != nil {
		return err
	}
	f.off += int64(len(b))
	return f.feed(b)
}

// feed takes the next bytes of the log: each complete line is parsed, an
// incomplete last one kept for the next feed.
func (f *pairFollower) feed(b []byte) error {
	f.rest = append(f.rest, b...)
	for {
		i := bytes.IndexByte(f.rest, '\n')
		if i < 0 {
			return nil
		}
		line := f.rest[:i]
		if len(bytes.TrimSpace(line)) > 0 {
			req, err := parseRequest(line)
			if err != nil {
				return err
			}
			if req.client == 'a' {
				f.seen[pair{req.service, req.addr}] = true
			}
		}
		f.rest = f.rest[i+1:]
	}
}

// read counts the pairs seen that l says the run makes.
func (f *pairFollower) read(l layout) int {
	n := 0
	for p := range f.seen {
		if l.valid(p) {
			n++
		}
	}
	return n
}

// checkCounts are the binary's checks so far, from its /metrics.
type checkCounts struct {
	all, failed int64 // every result; result="error"
}

// parseChecks sums fast_autoscaler_checks_total over every service from a
// Prometheus text exposition.
func parseChecks(r io.Reader) (checkCounts, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return checkCounts{}, err
	}
	mf, ok := mfs["fast_autoscaler_checks_total"]
	if !ok {
		return checkCounts{}, errors.New("no fast_autoscaler_checks_total")
	}
	if mf.GetType() != dto.MetricType_COUNTER {
		return checkCounts{}, fmt.Errorf("fast_autoscaler_checks_total is a %v, not a counter", mf.GetType())
	}
	var c checkCounts
	for _, m := range mf.GetMetric() {
		v := int64(m.GetCounter().GetValue())
		c.all += v
		for _, l := range m.GetLabel() {
			if l.GetName() == "result" && l.GetValue() == "error" {
				c.failed += v
			}
		}
	}
	return c, nil
}
