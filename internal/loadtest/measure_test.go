package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

func TestParseStat(t *testing.T) {
	// A command name with a space and a parenthesis; utime 1234, stime 66.
	line := "4242 (fast (autoscaler) S 1 4242 4242 0 -1 4194560 1200 0 0 0 1234 66 0 0 20 0 9 0 100 1725968384 6821 18446744073709551615\n"
	d, err := parseStat([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, 13*time.Second, d, "(1234 + 66) ticks at 100 a second")

	_, err = parseStat([]byte("4242 no parenthesis"))
	assert.Error(t, err)
	_, err = parseStat([]byte("4242 (x) S 1 2"))
	assert.Error(t, err)
}

func TestParseStatus(t *testing.T) {
	m, err := parseStatus([]byte("Name:\tfast-autoscaler\nVmHWM:\t   45148 kB\nVmRSS:\t   43008 kB\nThreads:\t9\n"))
	require.NoError(t, err)
	assert.Equal(t, memory{RSS: 43008 << 10, HWM: 45148 << 10}, m)

	_, err = parseStatus([]byte("VmRSS:\t 1 kB\n"))
	assert.Error(t, err, "VmHWM missing")
	_, err = parseStatus([]byte("VmRSS:\t 1 MB\nVmHWM:\t 1 kB\n"))
	assert.Error(t, err, "not kB")
}

func TestParseRequest(t *testing.T) {
	r, err := parseRequest([]byte("1700000000.123 17 127.1.0.3 /a/42 200"))
	require.NoError(t, err)
	assert.Equal(t, request{at: time.Unix(1700000000, 123e6), conn: 17, addr: netip.MustParseAddr("127.1.0.3"), client: 'a', service: 42, status: 200}, r)

	for _, bad := range []string{"", "1700000000.123 17 /a/42 200", "1700000000.123 17 127.0.0.1 /a/42",
		"1700000000 17 127.0.0.1 /a/42 200", "1700000000.12 17 127.0.0.1 /a/42 200", "1700000000.123 x 127.0.0.1 /a/42 200",
		"1700000000.123 17 localhost /a/42 200", "1700000000.123 17 127.0.0.1 /nginx-status 200",
		"1700000000.123 17 127.0.0.1 /a/x 200", "1700000000.123 17 127.0.0.1 /a/1 ok"} {
		_, err := parseRequest([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestReadAccessLog(t *testing.T) {
	log := strings.Join([]string{
		"1000.000 1 127.0.0.1 /a/0 200", // before the window: counts only for first and the connection
		"1001.000 1 127.0.0.1 /a/0 200",
		"1001.100 2 127.0.0.1 /p/0 200",
		"1001.500 3 127.0.0.1 /a/1 200", // connection 3 opened in the window
		"1002.010 1 127.0.0.1 /a/0 200",
		"1002.500 3 127.0.0.1 /a/1 503",
		"1003.000 1 127.0.0.1 /a/0 200",
		"1009.000 1 127.0.0.1 /a/0 200", // after the window
	}, "\n")
	tr, err := readAccessLog(strings.NewReader(log), time.Unix(1001, 0), time.Unix(1003, 0))
	require.NoError(t, err)
	a, p := tr['a'], tr['p']
	lo := netip.MustParseAddr("127.0.0.1")
	assert.Equal(t, 5, a.requests)
	assert.Equal(t, 1, a.errors)
	assert.Equal(t, []float64{1.01, 1.0, 0.99}, roundAll(a.periods))
	assert.Equal(t, map[pair]int64{{0, lo}: 1000000, {1, lo}: 1001500}, a.first)
	assert.Equal(t, int64(1009000), a.last)
	assert.Equal(t, 2, a.conns)
	assert.Equal(t, 1, a.newConns)
	assert.Equal(t, 1, p.requests)
	assert.Empty(t, p.periods)
	assert.Equal(t, int64(1001500), a.silenceAt, "from /a/1 at 1001.500")
	assert.Equal(t, int64(510), a.silence, "1001.500 to 1002.010")
	assert.Zero(t, p.silence, "one request")

	_, err = readAccessLog(strings.NewReader("garbage"), time.Unix(0, 0), time.Unix(1, 0))
	assert.Error(t, err)
}

// In per-task mode a period is between two requests of one (service, task)
// pair, told apart by $server_addr, not between a service's requests to
// different tasks.
func TestReadAccessLogPerTask(t *testing.T) {
	t0, t1 := taskAddr(7, 0).String(), taskAddr(7, 1).String()
	log := strings.Join([]string{
		"2000.000 1 " + t0 + " /a/7 200",
		"2000.002 2 " + t1 + " /a/7 200",
		"2001.000 1 " + t0 + " /a/7 200",
		"2001.010 2 " + t1 + " /a/7 200",
		"2002.001 1 " + t0 + " /a/7 200",
		"2002.030 2 " + t1 + " /a/7 200",
	}, "\n")
	tr, err := readAccessLog(strings.NewReader(log), time.Unix(2000, 0), time.Unix(2003, 0))
	require.NoError(t, err)
	a := tr['a']
	assert.Equal(t, 6, a.requests)
	assert.Equal(t, 2, a.conns)
	assert.ElementsMatch(t, []float64{1.0, 1.008, 1.001, 1.02}, roundAll(a.periods))
	assert.Equal(t, map[pair]int64{{7, taskAddr(7, 0)}: 2000000, {7, taskAddr(7, 1)}: 2000002}, a.first)

	lay := layout{services: 8, tasks: 2}
	read, wrong, _ := pairsRead(a, lay)
	assert.Equal(t, 2, read)
	assert.Zero(t, wrong)
	assert.Equal(t, time.Duration(-1), lastFirst(a, lay, time.Unix(1999, 0)), "services 0-6 were never read")
	a.first = map[pair]int64{}
	for i := range lay.services {
		for k := range lay.tasks {
			a.first[pair{i, taskAddr(i, k)}] = 2000000 + int64(i*10+k)
		}
	}
	assert.Equal(t, time.Second+71*time.Millisecond, lastFirst(a, lay, time.Unix(1999, 0)))

	// Service 3's request at service 2's task is misrouted.
	a.first[pair{3, taskAddr(2, 0)}] = 2000500
	a.first[pair{5, netip.MustParseAddr("127.0.0.1")}] = 2000600
	read, wrong, ex := pairsRead(a, lay)
	assert.Equal(t, 16, read)
	assert.Equal(t, 2, wrong)
	assert.Equal(t, pair{3, taskAddr(2, 0)}, ex)
}

func roundAll(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(int(x*1000+0.5)) / 1000
	}
	return out
}

func TestQuantileAndSummary(t *testing.T) {
	assert.Zero(t, quantile(nil, 0.5))
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.Equal(t, 5.0, quantile(xs, 0.5))
	assert.Equal(t, 10.0, quantile(xs, 0.99))
	assert.Equal(t, 1.0, quantile(xs, 0))

	st := summarise([]float64{1.0, 1.2, 0.9, 1.05}, time.Second)
	assert.Equal(t, periodStats{n: 4, p50: 1.0, p99: 1.2, max: 1.2, late: 1}, st)
}

func TestActiveConnections(t *testing.T) {
	assert.Equal(t, 291, activeConnections([]byte("Active connections: 291 \nserver accepts handled requests\n")))
	assert.Equal(t, -1, activeConnections([]byte("<html>")))
	assert.Equal(t, -1, activeConnections([]byte("Active connections: \n")))
}

func TestPeakPerSecond(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var calls []awstest.Call
	for _, ms := range []int{0, 100, 200, 900, 1500, 1600, 1700, 1800, 1850, 5000} {
		calls = append(calls, awstest.Call{Time: t0.Add(time.Duration(ms) * time.Millisecond)})
	}
	n, at := peakPerSecond(calls)
	assert.Equal(t, 6, n, "from 900 ms to 1.85 s")
	assert.Equal(t, t0.Add(900*time.Millisecond), at)
}

func TestOptionsCheck(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "soak"}, {"-services", "0"}, {"-interval", "10ms"}, {"-duration", "0s"}, {"-warmup", "-1s"},
		{"-as-poller"}, {"stray"},
	} {
		assert.Equal(t, 2, run(t.Context(), args, &strings.Builder{}, &strings.Builder{}), "%q", args)
	}
}
