package simulate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Point is one row of a trace.
type Point struct {
	// At is the row's time, as an offset from the trace's Start.
	At time.Duration
	// Conns is the total number of concurrent connections arriving at the
	// service's load balancer, from At until the next row.
	Conns float64
}

// Trace is a load-balancer traffic trace: a step function of time.
type Trace struct {
	// Name names the trace in errors, reports and plots (its file path).
	Name string
	// Start is the wall time that offsets count from: the Unix epoch when the
	// time column holds seconds, else the first row's RFC 3339 timestamp.
	Start time.Time
	// Points are the rows, in strictly increasing time; at least two. The
	// simulation runs from the first row's time to the last row's.
	Points []Point
}

// Duration returns how long the trace runs: from its first row to its last.
func (t *Trace) Duration() time.Duration {
	return t.Points[len(t.Points)-1].At - t.Points[0].At
}

// LoadTrace reads the CSV trace file at path (see ReadTrace).
func LoadTrace(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	defer f.Close()
	return ReadTrace(path, f)
}

// ReadTrace parses a CSV trace named name (used in errors as "name:line:").
//
// The first record is a header (any names, e.g. "seconds,connections"); each
// later record is a time and the total concurrent connections from then until
// the next record. The time is seconds from the start (fractions allowed) or
// an RFC 3339 timestamp, the same form in every row. Lines starting with '#'
// and blank lines are ignored. Every error names the file and line: a record
// without exactly two fields, a time or count that is not a number, a negative
// count, a time not after the previous row's, fewer than two rows.
func ReadTrace(name string, r io.Reader) (*Trace, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	tr := &Trace{Name: name, Start: time.Unix(0, 0).UTC()}
	header, stamps, line := false, false, 1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %w", name, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("trace %s: %w", name, err)
		}
		line, _ = cr.FieldPos(0)
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
		}
		if len(rec) != 2 {
			return nil, bad("want 2 fields (time,connections), got %d", len(rec))
		}
		if !header {
			header = true
			if _, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64); err == nil {
				return nil, bad("want a header row first (e.g. \"seconds,connections\"), got %q", strings.Join(rec, ","))
			}
			continue
		}
		first := len(tr.Points) == 0
		at, ts, ok := parseTime(strings.TrimSpace(rec[0]))
		stamp := !ts.IsZero()
		switch {
		case !ok:
			return nil, bad("time %q: want seconds from the start or an RFC 3339 timestamp", rec[0])
		case first:
			stamps = stamp
			if stamp {
				tr.Start = ts
			}
		case stamp != stamps:
			return nil, bad("time %q: every row must use the same time form as the first data row", rec[0])
		}
		if stamp {
			at = ts.Sub(tr.Start)
		}
		conns, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		switch {
		case err != nil || math.IsNaN(conns) || math.IsInf(conns, 0):
			return nil, bad("connections %q: not a number", rec[1])
		case conns < 0:
			return nil, bad("connections %v: must not be negative", conns)
		}
		if !first {
			if prev := tr.Points[len(tr.Points)-1].At; at <= prev {
				return nil, bad("time %q is not after the previous row's: time must increase", rec[0])
			}
		}
		tr.Points = append(tr.Points, Point{At: at, Conns: conns})
	}
	switch {
	case !header || len(tr.Points) == 0:
		return nil, fmt.Errorf("%s:%d: empty trace: want a header row and at least two data rows", name, line)
	case len(tr.Points) < 2:
		return nil, fmt.Errorf("%s:%d: want at least two data rows (the last one marks the end), got 1", name, line)
	}
	return tr, nil
}

// parseTime reads a time column: seconds from the start (returned as at),
// or an RFC 3339 timestamp (returned as ts). ok is false for anything else,
// including negative or absurdly large seconds.
func parseTime(s string) (at time.Duration, ts time.Time, ok bool) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if !(v >= 0 && v <= maxSeconds) { // also rejects NaN
			return 0, time.Time{}, false
		}
		return time.Duration(math.Round(v * 1e9)), time.Time{}, true
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	return 0, ts, err == nil && !ts.IsZero()
}

// maxSeconds bounds the seconds in a trace's time column (about 31 years) so
// offsets fit a time.Duration.
const maxSeconds = 1e9
