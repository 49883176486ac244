package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime returns the CPU time (user + system, every thread) a process has
// used so far, from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

// parseStat reads utime and stime (fields 14 and 15) from a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may hold spaces
// and parentheses itself, so fields are counted after its last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no ')' after the command name in %q", b)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] { // fields 14 (utime) and 15 (stime)
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: utime/stime %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// memory is a process's resident set, in bytes.
type memory struct {
	RSS, HWM int64 // now (VmRSS) and its peak so far (VmHWM)
}

// memoryOf reads VmRSS and VmHWM from /proc/<pid>/status.
func memoryOf(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	return parseStatus(b)
}

// parseStatus reads VmRSS and VmHWM ("VmRSS:\t  69120 kB") from a
// /proc/<pid>/status file.
func parseStatus(b []byte) (memory, error) {
	var m memory
	found := 0
	for line := range bytes.Lines(b) {
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &m.RSS
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &m.HWM
		default:
			continue
		}
		f := bytes.Fields(line)
		if len(f) != 3 || string(f[2]) != "kB" {
			return memory{}, fmt.Errorf("/proc status: unexpected line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("/proc status: %q: %w", bytes.TrimSpace(line), err)
		}
		*dst = kb << 10
		found++
	}
	if found != 2 {
		return memory{}, fmt.Errorf("/proc status: VmRSS or VmHWM missing")
	}
	return m, nil
}

// request is one line of the nginx access log.
type request struct {
	at      time.Time  // when nginx sent the answer (millisecond resolution)
	conn    int64      // nginx's serial number of the connection
	addr    netip.Addr // the address the request came to ($server_addr)
	client  byte       // 'a' for the binary, 'p' for the poller
	service int        // i of /a/<i> or /p/<i>
	status  int        // HTTP status
}

// pair is what one series of checks reads: a service at one address (its
// task's in per-task mode, else 127.0.0.1).
type pair struct {
	service int
	addr    netip.Addr
}

// parseRequest reads an access log line "<msec> <connection> <server
// address> <uri> <status>", e.g. "1700000000.123 5 127.1.0.1 /a/17 200".
func parseRequest(line []byte) (request, error) {
	f := bytes.Fields(line)
	if len(f) != 5 {
		return request{}, fmt.Errorf("access log: want 5 fields, got %q", line)
	}
	sec, frac, ok := bytes.Cut(f[0], []byte("."))
	s, err1 := strconv.ParseInt(string(sec), 10, 64)
	ms, err2 := strconv.ParseInt(string(frac), 10, 64)
	if !ok || len(frac) != 3 || err1 != nil || err2 != nil {
		return request{}, fmt.Errorf("access log: time %q is not <seconds>.<milliseconds>", f[0])
	}
	conn, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return request{}, fmt.Errorf("access log: connection %q: %w", f[1], err)
	}
	addr, err := netip.ParseAddr(string(f[2]))
	if err != nil {
		return request{}, fmt.Errorf("access log: server address %q: %w", f[2], err)
	}
	uri := f[3]
	if len(uri) < 4 || uri[0] != '/' || (uri[1] != 'a' && uri[1] != 'p') || uri[2] != '/' {
		return request{}, fmt.Errorf("access log: URI %q is not /a/<i> or /p/<i>", uri)
	}
	svc, err := strconv.Atoi(string(uri[3:]))
	if err != nil || svc < 0 {
		return request{}, fmt.Errorf("access log: URI %q is not /a/<i> or /p/<i>", uri)
	}
	status, err := strconv.Atoi(string(f[4]))
	if err != nil {
		return request{}, fmt.Errorf("access log: status %q: %w", f[4], err)
	}
	return request{at: time.Unix(s, ms*int64(time.Millisecond)), conn: conn, addr: addr, client: uri[1], service: svc, status: status}, nil
}

// traffic is what one client did, from the access log.
type traffic struct {
	requests int            // answered in the window
	errors   int            // of which not 200
	periods  []float64      // seconds between consecutive requests of one pair, both in the window
	first    map[pair]int64 // pair -> Unix ms of its first request (at any time)
	last     int64          // Unix ms of the latest request (at any time)
	// conns counts the connections used in the window; newConns those of
	// them first used in the window (opened during it).
	conns, newConns int
	// silence is the longest time in the window between two consecutive
	// requests of this client (any pairs), and silenceAt (Unix ms) when it
	// began: a stall of the client, of nginx or of the machine. A client
	// checking all at once is silent for most of each interval anyway.
	silence, silenceAt int64
}

// readAccessLog sums the access log per client ('a', 'p'); requests and
// periods count only requests answered within [from, to]. A period is the
// time between consecutive requests of one pair (service, address).
func readAccessLog(r io.Reader, from, to time.Time) (map[byte]*traffic, error) {
	out := map[byte]*traffic{'a': {first: map[pair]int64{}}, 'p': {first: map[pair]int64{}}}
	prev := map[byte]map[pair]int64{'a': {}, 'p': {}}
	prevAny := map[byte]int64{}    // the client's latest request in the window
	connFirst := map[int64]int64{} // connection -> Unix ms of its first request
	used := map[byte]map[int64]bool{'a': {}, 'p': {}}
	lo, hi := from.UnixMilli(), to.UnixMilli()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		req, err := parseRequest(sc.Bytes())
		if err != nil {
			return nil, err
		}
		t := out[req.client]
		ms := req.at.UnixMilli()
		key := pair{req.service, req.addr}
		if _, seen := t.first[key]; !seen {
			t.first[key] = ms
		}
		t.last = max(t.last, ms)
		if _, seen := connFirst[req.conn]; !seen {
			connFirst[req.conn] = ms
		}
		if ms < lo || ms > hi {
			continue
		}
		if !used[req.client][req.conn] {
			used[req.client][req.conn] = true
			t.conns++
			if connFirst[req.conn] >= lo {
				t.newConns++
			}
		}
		t.requests++
		if req.status != 200 {
			t.errors++
		}
		if p, ok := prev[req.client][key]; ok {
			t.periods = append(t.periods, float64(ms-p)/1000)
		}
		prev[req.client][key] = ms
		if p, ok := prevAny[req.client]; ok && ms-p > t.silence {
			t.silence, t.silenceAt = ms-p, p
		}
		prevAny[req.client] = max(prevAny[req.client], ms)
	}
	return out, sc.Err()
}

// quantile returns the q-quantile (0..1) of sorted xs by the nearest-rank
// method, or NaN-free 0 when xs is empty.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// periodStats summarises periods (seconds) against the interval.
type periodStats struct {
	n             int
	p50, p99, max float64
	late          int // periods longer than 110% of the interval
}

func summarise(periods []float64, interval time.Duration) periodStats {
	s := slices.Clone(periods)
	slices.Sort(s)
	st := periodStats{n: len(s), p50: quantile(s, 0.5), p99: quantile(s, 0.99)}
	if len(s) > 0 {
		st.max = s[len(s)-1]
	}
	limit := 1.1 * interval.Seconds()
	for _, p := range s {
		if p > limit {
			st.late++
		}
	}
	return st
}
