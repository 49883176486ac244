package configsrc

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// redacted is what a non-empty Secret prints as.
const redacted = "[redacted]"

// Secret is a string that must not be shown: it prints, formats, marshals to
// JSON and logs as "[redacted]" ("" when empty). Reveal returns the value
// for the code that must send it.
type Secret string

// Reveal returns the secret's value. Never log it.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns the same as String, so %#v does not show the value.
func (s Secret) GoString() string { return s.String() }

// Format writes the same as String for every verb (%v, %+v, %#v, %s, %q, %x, ...).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON encodes the same as String, as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue logs the same as String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
