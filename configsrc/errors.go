package configsrc

import (
	"fmt"
	"strings"
)

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

// String formats the problem as
// "Services[1] (example-app-b): ScaleoutThreshold: must be > 0", after
// "<document>: " when Document is set.
func (p Problem) String() string {
	var b strings.Builder
	if p.Document != "" {
		b.WriteString(p.Document + ": ")
	}
	if p.Index >= 0 {
		fmt.Fprintf(&b, "Services[%d]", p.Index)
		if p.Service != "" {
			fmt.Fprintf(&b, " (%s)", p.Service)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem Parse found in a document: document-level
// problems first, then service by service. Use errors.As to get it from an error returned by Parse or Load.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// docError is a ValidationError with one document-level problem.
func docError(msg string) *ValidationError {
	return &ValidationError{Problems: []Problem{{Index: -1, Message: msg}}}
}
