// Package stubstatus reads nginx's stub_status page: a parser for its body and
// a Source that polls a status URL over HTTP and implements
// autoscaler.MetricSource.
//
// nginx answers a stub_status location with four lines of text/plain:
//
//	Active connections: 291
//	server accepts handled requests
//	 16630948 16630948 31070465
//	Reading: 6 Writing: 179 Waiting: 106
package stubstatus

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// Status holds the seven numbers of one stub_status page.
type Status struct {
	// Active is the number of open client connections, Waiting included
	// (a gauge; the status request itself counts).
	Active uint64
	// Accepts, Handled and Requests are totals since nginx started (counters):
	// connections accepted, connections handled and client requests.
	Accepts, Handled, Requests uint64
	// Reading, Writing and Waiting are gauges: requests whose header is being
	// read, requests being answered, and idle keep-alive connections. With
	// HTTP/2 they need not add up to Active.
	Reading, Writing, Waiting uint64
}

// MaxGauge is the largest Active, Reading, Writing or Waiting value Parse
// accepts: 2^31 − 1, far beyond any real nginx. A larger gauge almost always
// is a leaked counter that went below zero and wrapped around as an unsigned
// number (18446744073709550135 has been seen); scaling on it would be wrong.
const MaxGauge = 1<<31 - 1

// Busy returns Active − Waiting: the connections doing work rather than idling
// in keep-alive. Less prone than Active to nginx's counter drift on reload.
// Waiting greater than Active is an error: the counters are inconsistent.
func (s Status) Busy() (uint64, error) {
	if s.Waiting > s.Active {
		return 0, fmt.Errorf("stub_status counters are inconsistent: Waiting %d > Active connections %d", s.Waiting, s.Active)
	}
	return s.Active - s.Waiting, nil
}

// ParseError reports a body that is not a stub_status page, naming the line
// and, where one is concerned, the field. It never quotes the body: a page
// that echoes request headers would otherwise carry the auth header's value
// into logs and notifications. Text found where a label was expected is
// described by its kind and length; only the page's own labels ("Active",
// "Waiting:", ...) are quoted.
type ParseError struct {
	// Line is the 1-based line of the body where the problem was found.
	Line int
	// Field is the field concerned, spelt as nginx labels it ("Active
	// connections", "accepts", "handled", "requests", "Reading", "Writing",
	// "Waiting"), or "" for a layout problem.
	Field string
	// Problem says what is wrong.
	Problem string
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("stub_status body line %d: %s", e.Line, e.Problem)
	}
	return fmt.Sprintf("stub_status body line %d, %s: %s", e.Line, e.Field, e.Problem)
}

// Parse reads a stub_status body. It is lenient in layout (CRLF line ends,
// missing or extra spaces and tabs, no final newline, extra lines after the
// fourth) and strict in content: an empty body, an HTML page, a missing line
// or field, text after a line's last field, and a number that is negative,
// not a number, beyond uint64, or (for a gauge) above MaxGauge are each a
// *ParseError, which never quotes the body. Parse does not allocate unless
// it fails.
func Parse(body []byte) (Status, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Status{}, &ParseError{Line: 1, Problem: "empty body"}
	}
	var s Status
	sc := scanner{rest: body}

	sc.next("Active connections")
	sc.notHTML()
	sc.word("Active connections", "Active")
	sc.word("Active connections", "connections:")
	s.Active = sc.number("Active connections", true)
	sc.end()

	sc.next("server accepts handled requests")
	sc.word("", "server")
	sc.word("", "accepts")
	sc.word("", "handled")
	sc.word("", "requests")
	sc.end()

	sc.next("accepts handled requests numbers")
	s.Accepts = sc.number("accepts", false)
	s.Handled = sc.number("handled", false)
	s.Requests = sc.number("requests", false)
	sc.end()

	sc.next("Reading Writing Waiting")
	sc.word("Reading", "Reading:")
	s.Reading = sc.number("Reading", true)
	sc.word("Writing", "Writing:")
	s.Writing = sc.number("Writing", true)
	sc.word("Waiting", "Waiting:")
	s.Waiting = sc.number("Waiting", true)
	sc.end()

	if sc.err != nil {
		return Status{}, sc.err
	}
	return s, nil
}

// scanner walks a body line by line and, within a line, field by field. The
// first problem sticks in err and turns every later call into a no-op.
type scanner struct {
	rest []byte // the body after the current line
	line []byte // what is left of the current line
	n    int    // the current line's number, 1-based
	err  error
}

// next moves to the next line; what names that line for the error when the
// body ends first.
func (sc *scanner) next(what string) {
	if sc.err != nil {
		return
	}
	sc.n++
	if len(sc.rest) == 0 {
		sc.fail("", "body ends before the "+what+" line (truncated?)")
		return
	}
	if i := bytes.IndexByte(sc.rest, '\n'); i >= 0 {
		sc.line, sc.rest = sc.rest[:i], sc.rest[i+1:]
	} else {
		sc.line, sc.rest = sc.rest, nil
	}
}

// notHTML rejects a line that starts like markup: an error page from nginx
// or from a proxy in front of it.
func (sc *scanner) notHTML() {
	if sc.err == nil && bytes.HasPrefix(bytes.TrimLeft(sc.line, space), []byte("<")) {
		sc.fail("", "looks like an HTML page, not stub_status output (does the URL point at a stub_status location?)")
	}
}

// word consumes the literal lit, after any spaces.
func (sc *scanner) word(field, lit string) {
	if sc.err != nil {
		return
	}
	sc.line = bytes.TrimLeft(sc.line, space)
	switch {
	case bytes.HasPrefix(sc.line, []byte(lit)):
		sc.line = sc.line[len(lit):]
	case len(sc.line) == 0:
		sc.fail(field, fmt.Sprintf("missing: want %q, the line ends", lit))
	default:
		sc.fail(field, fmt.Sprintf("want %q, got %s", lit, describe(sc.token())))
	}
}

// number consumes an unsigned decimal number, after any spaces. gauge
// applies MaxGauge.
func (sc *scanner) number(field string, gauge bool) uint64 {
	if sc.err != nil {
		return 0
	}
	sc.line = bytes.TrimLeft(sc.line, space)
	tok := sc.token()
	if len(tok) == 0 {
		sc.fail(field, "missing number, the line ends")
		return 0
	}
	if tok[0] == '-' && isDigits(tok[1:]) {
		sc.fail(field, "negative number (the value is unsigned)")
		return 0
	}
	if !isDigits(tok) {
		sc.fail(field, "want a number, got "+describe(tok))
		return 0
	}
	var n uint64
	for _, c := range tok {
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			sc.fail(field, fmt.Sprintf("a number of %d digits is out of range for an unsigned 64-bit number", len(tok)))
			return 0
		}
		n = n*10 + d
	}
	if gauge && n > MaxGauge {
		sc.fail(field, fmt.Sprintf("a number of %d digits is implausibly large (above %d): the counter probably underflowed in nginx", len(tok), MaxGauge))
		return 0
	}
	sc.line = sc.line[len(tok):]
	return n
}

// end requires that nothing but spaces is left on the line.
func (sc *scanner) end() {
	if sc.err != nil {
		return
	}
	sc.line = bytes.TrimLeft(sc.line, space)
	if len(sc.line) > 0 {
		sc.fail("", "unexpected "+describe(sc.token())+" after the last field")
	}
}

// token returns the run of non-space bytes at the start of the line.
func (sc *scanner) token() []byte {
	if i := bytes.IndexAny(sc.line, space); i >= 0 {
		return sc.line[:i]
	}
	return sc.line
}

func (sc *scanner) fail(field, problem string) {
	sc.err = &ParseError{Line: sc.n, Field: field, Problem: problem}
}

// space is what separates fields; '\r' is here so that CRLF bodies parse.
const space = " \t\r"

// labels are the words of a stub_status page: the only body text an error
// may quote, since they are the page's own and hold no secret.
var labels = []string{"Active", "connections:", "server", "accepts", "handled", "requests", "Reading:", "Writing:", "Waiting:"}

// describe names what tok is without repeating it (it may be a secret the
// page echoes): one of the page's labels, quoted, or its kind and length.
func describe(tok []byte) string {
	for _, l := range labels {
		if string(tok) == l { // no allocation: the compiler compares in place
			return strconv.Quote(l)
		}
	}
	if isDigits(tok) {
		return "a number (" + count(len(tok), "digit") + ")"
	}
	return count(len(tok), "byte") + " of other text"
}

// count returns "1 digit", "2 digits" and so on.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// isDigits reports a non-empty run of ASCII digits.
func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
