package configsrc

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxProblems is the most problems a ValidationError lists; the rest are
// only counted (ValidationError.Omitted), so a large broken document costs
// little memory and prints a bounded report.
const MaxProblems = 50

// Problem is one thing wrong with a configuration document.
type Problem struct {
	// Document names the document the problem is in when the configuration
	// comes from several (see Merge), e.g. "SSM parameter /a/b"; "" for a
	// single document.
	Document string
	// Index is the position in Services of the service concerned, or -1 for
	// a problem with the document as a whole.
	Index int
	// Service is that service's EcsServiceName, when it has one.
	Service string
	// Field is the document's field name, or "" when the problem is not
	// about one field (a syntax error, a service that is not an object).
	Field string
	// Message says what is wrong. It never contains a secret.
	Message string
}

// maxMessage bounds a problem's message as String prints it (bytes).
const maxMessage = 512

// String formats the problem as
// "Services[1] (example-app-b): ScaleoutThreshold: must be > 0", after
// "<document>: " when Document is set, on one line: the service and field
// names are shown with Printable and the message is cut to 512 bytes, so a
// hostile document can neither forge lines nor make one huge.
func (p Problem) String() string {
	var b strings.Builder
	if p.Document != "" {
		b.WriteString(p.Document + ": ")
	}
	if p.Index >= 0 {
		fmt.Fprintf(&b, "Services[%d]", p.Index)
		if p.Service != "" {
			fmt.Fprintf(&b, " (%s)", Printable(p.Service))
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(Printable(p.Field) + ": ")
	}
	b.WriteString(oneLine(cut(p.Message, maxMessage)))
	return b.String()
}

// ValidationError lists the problems Parse found in a document (at most
// MaxProblems of them): document-level problems first, then service by
// service. Use errors.As to get it from an error returned by Parse or Load.
type ValidationError struct {
	Problems []Problem
	// Omitted counts the problems found beyond MaxProblems and not listed.
	Omitted int
}

// Error lists the problems, one per line, then "... and N more problems"
// when some were omitted.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems), len(e.Problems)+1)
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	switch {
	case e.Omitted == 1:
		lines = append(lines, "... and 1 more problem")
	case e.Omitted > 1:
		lines = append(lines, fmt.Sprintf("... and %d more problems", e.Omitted))
	}
	return strings.Join(lines, "\n")
}

// docError is a ValidationError with one document-level problem.
func docError(msg string) *ValidationError {
	return &ValidationError{Problems: []Problem{{Index: -1, Message: msg}}}
}

// maxPrintable bounds what Printable returns (bytes, before quoting).
const maxPrintable = 256

// Printable returns a name from the document (a service, cluster or field
// name) as it may be shown on a line of text: unchanged when it is at most
// 256 bytes of printable UTF-8, else cut to 256 bytes and quoted with Go's
// escapes. A line break or a terminal control sequence in a name then
// cannot forge lines in validate's output or an error report.
func Printable(s string) string {
	if len(s) <= maxPrintable && strings.IndexFunc(s, func(r rune) bool {
		return r == utf8.RuneError || !unicode.IsPrint(r)
	}) < 0 {
		return s
	}
	return strconv.Quote(cut(s, maxPrintable))
}

// oneLine replaces line breaks (and other control characters) in a message
// by their Go escapes; messages quote values with %q, so this is a safety
// net.
func oneLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut
// with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
