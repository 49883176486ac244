package stubstatus

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nginxBody is a stub_status page byte for byte as nginx writes it.
const nginxBody = "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n"

var nginxStatus = Status{Active: 291, Accepts: 16630948, Handled: 16630948, Requests: 31070465, Reading: 6, Writing: 179, Waiting: 106}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Status
	}{
		{"nginx bytes", nginxBody, nginxStatus},
		{"CRLF", strings.ReplaceAll(nginxBody, "\n", "\r\n"), nginxStatus},
		{"no trailing spaces", strings.ReplaceAll(strings.ReplaceAll(nginxBody, " \n", "\n"), "\n ", "\n"), nginxStatus},
		{"no final newline", strings.TrimSuffix(nginxBody, " \n"), nginxStatus},
		{"extra lines after", nginxBody + "\nsomething else: 1\n\n", nginxStatus},
		{"extra spaces and tabs", "Active  connections:\t291\nserver  accepts handled\trequests\n16630948   16630948 31070465\n  Reading:6 Writing:  179\tWaiting: 106", nginxStatus},
		{"idle server", "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n",
			Status{Active: 1, Accepts: 1, Handled: 1, Requests: 1, Writing: 1}},
		{"gauge at the bound", "Active connections: 2147483647\nserver accepts handled requests\n 0 0 0\nReading: 0 Writing: 0 Waiting: 0\n",
			Status{Active: MaxGauge}},
		{"huge counters are fine", "Active connections: 0\nserver accepts handled requests\n 18446744073709551615 18446744073709551615 18446744073709551615\nReading: 0 Writing: 0 Waiting: 0\n",
			Status{Accepts: 1<<64 - 1, Handled: 1<<64 - 1, Requests: 1<<64 - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRejects(t *testing.T) {
	const (
		line2 = "server accepts handled requests\n"
		line3 = " 16630948 16630948 31070465 \n"
		line4 = "Reading: 6 Writing: 179 Waiting: 106 \n"
	)
	tests := []struct {
		name  string
		body  string
		line  int
		field string
		msg   string
	}{
		{"empty body", "", 1, "", "empty body"},
		{"blank body", " \r\n\n", 1, "", "empty body"},
		{"HTML error page", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n", 1, "", "HTML"},
		{"HTML after spaces", "  <!DOCTYPE html><html></html>", 1, "", "HTML"},
		{"plain text", "Service Temporarily Unavailable\n", 1, "Active connections", `want "Active", got 7 bytes of other text`},
		{"truncated in the label", "Active conn", 1, "Active connections", `want "connections:"`},
		{"truncated after the label", "Active connections:", 1, "Active connections", "missing number"},
		{"truncated after line 1", "Active connections: 291 \n", 2, "", "body ends before the server accepts handled requests line"},
		{"truncated in line 2", "Active connections: 291 \nserver accepts hand", 2, "", `want "handled", got 4 bytes of other text`},
		{"truncated after line 2", "Active connections: 291 \n" + line2, 3, "", "body ends before the accepts handled requests numbers line"},
		{"truncated in line 3", "Active connections: 291 \n" + line2 + " 16630948 166", 3, "requests", "missing number"},
		{"truncated after line 3", "Active connections: 291 \n" + line2 + line3, 4, "", "body ends before the Reading Writing Waiting line"},
		{"truncated in line 4", "Active connections: 291 \n" + line2 + line3 + "Reading: 6 Wri", 4, "Writing", `want "Writing:", got 3 bytes of other text`},
		{"missing Waiting field", "Active connections: 291 \n" + line2 + line3 + "Reading: 6 Writing: 179 \n", 4, "Waiting", `missing: want "Waiting:"`},
		{"missing Waiting number", "Active connections: 291 \n" + line2 + line3 + "Reading: 6 Writing: 179 Waiting:\n", 4, "Waiting", "missing number"},
		{"line 2 missing", "Active connections: 291 \n" + line3 + line4, 2, "", `want "server", got a number (8 digits)`},
		{"fields reordered", "Active connections: 291 \n" + line2 + line3 + "Writing: 179 Reading: 6 Waiting: 106\n", 4, "Reading", `want "Reading:", got "Writing:"`},
		{"negative Active", "Active connections: -3 \n" + line2 + line3 + line4, 1, "Active connections", `negative number (the value is unsigned)`},
		{"negative Waiting", "Active connections: 291 \n" + line2 + line3 + "Reading: 6 Writing: 179 Waiting: -1 \n", 4, "Waiting", "negative number"},
		{"non-numeric Active", "Active connections: many \n" + line2 + line3 + line4, 1, "Active connections", `want a number, got 4 bytes of other text`},
		{"number with junk", "Active connections: 12x \n" + line2 + line3 + line4, 1, "Active connections", `want a number, got 3 bytes of other text`},
		{"decimal", "Active connections: 291 \n" + line2 + line3 + "Reading: 6.5 Writing: 179 Waiting: 106 \n", 4, "Reading", `want a number, got 3 bytes of other text`},
		{"non-numeric handled", "Active connections: 291 \n" + line2 + " 16630948 lots 31070465 \n" + line4, 3, "handled", `want a number, got 4 bytes of other text`},
		{"underflowed Active", "Active connections: 18446744073709550135 \n" + line2 + line3 + line4, 1, "Active connections", "probably underflowed"},
		{"underflowed Writing", "Active connections: 291 \n" + line2 + line3 + "Reading: 6 Writing: 18446744073709550135 Waiting: 106 \n", 4, "Writing", "probably underflowed"},
		{"gauge just above the bound (2^31)", "Active connections: 2147483648\n" + line2 + line3 + line4, 1, "Active connections", "implausibly large"},
		{"beyond uint64", "Active connections: 291 \n" + line2 + " 18446744073709551616 1 1\n" + line4, 3, "accepts", "out of range"},
		{"extra number on line 3", "Active connections: 291 \n" + line2 + " 1 2 3 4\n" + line4, 3, "", `unexpected a number (1 digit) after the last field`},
		{"extra field on line 1", "Active connections: 291 idle: 3\n" + line2 + line3 + line4, 1, "", `unexpected 5 bytes of other text after the last field`},
		{"long junk is described, not quoted", "Active connections: " + strings.Repeat("9z", 100) + "\n", 1, "Active connections", `want a number, got 200 bytes of other text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			require.Error(t, err)
			assert.Equal(t, Status{}, got)
			var pe *ParseError
			require.True(t, errors.As(err, &pe), "want a *ParseError, got %T", err)
			assert.Equal(t, tt.line, pe.Line)
			assert.Equal(t, tt.field, pe.Field)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Less(t, len(err.Error()), 200, "error messages stay short")
		})
	}
}

// TestParseErrorsNeverQuoteTheBody puts a secret (as a status page that
// echoes request headers would) in place of each word of the page, and
// after it: the error describes what it found but never repeats it.
func TestParseErrorsNeverQuoteTheBody(t *testing.T) {
	words := strings.Fields(nginxBody)
	for _, secret := range []string{"Status-Auth-Key:hunter2", "hunter2", "86753091122334455", "-86753091", "<secret>"} {
		for i := range words {
			body := strings.Replace(nginxBody, words[i], secret, 1)
			_, err := Parse([]byte(body))
			if err == nil { // digits in a counter's place: a valid page
				require.True(t, isDigits([]byte(secret)), "secret %q in place of %q", secret, words[i])
				continue
			}
			assert.NotContains(t, err.Error(), secret, "in place of %q", words[i])
		}
		_, err := Parse([]byte(strings.Replace(nginxBody, "106", "106 "+secret, 1)))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), secret, "after the last field")
	}
}

// TestParseEveryTruncation cuts the nginx body at every byte: the result is an
// error unless the cut falls within or after the last number, which is
// indistinguishable from a body without a final newline.
func TestParseEveryTruncation(t *testing.T) {
	lastDigits := strings.LastIndex(nginxBody, "106")
	for n := range len(nginxBody) {
		got, err := Parse([]byte(nginxBody[:n]))
		if n <= lastDigits {
			assert.Error(t, err, "cut at %d: %q", n, nginxBody[:n])
			continue
		}
		require.NoError(t, err, "cut at %d", n)
		want := nginxStatus
		want.Waiting, err = strconv.ParseUint(nginxBody[lastDigits:min(n, lastDigits+3)], 10, 64)
		require.NoError(t, err)
		assert.Equal(t, want, got, "cut at %d", n)
	}
}

func TestStatusBusy(t *testing.T) {
	busy, err := Status{Active: 291, Waiting: 106}.Busy()
	require.NoError(t, err)
	assert.Equal(t, uint64(185), busy)

	_, err = Status{Active: 3, Waiting: 4}.Busy()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "inconsistent")
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		nginxBody,
		strings.ReplaceAll(nginxBody, "\n", "\r\n"),
		"Active connections: 18446744073709550135 \n",
		"<html></html>",
		"",
		"Active connections: 1\nserver accepts handled requests\n1 1 1\nReading: 0 Writing: 1 Waiting: 0",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := Parse(body)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error %v is not a *ParseError with a line", err)
			}
			if s != (Status{}) {
				t.Fatalf("failed Parse returned %+v", s)
			}
			return
		}
		for _, g := range []uint64{s.Active, s.Reading, s.Writing, s.Waiting} {
			if g > MaxGauge {
				t.Fatalf("accepted implausible gauge %d in %+v", g, s)
			}
		}
		if !bytes.Contains(body, []byte("Waiting:")) {
			t.Fatalf("accepted a body without Waiting: %q", body)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	body := []byte(nginxBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	body := []byte(nginxBody)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Parse(body); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
