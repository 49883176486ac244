package slack

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc…"},
		{"ééé", 3, "é…"}, // never cuts a rune in half
		{"ééé", 1, "…"},
	}
	for _, tt := range tests {
		got := truncate(tt.in, tt.n)
		assert.Equal(t, tt.want, got, "truncate(%q, %d)", tt.in, tt.n)
		assert.True(t, utf8.ValidString(got))
	}
}

func TestJoinSlackBoundsTheSummary(t *testing.T) {
	items := []slackItem{{service: "huge", text: strings.Repeat("x", 10*slackMaxText)}}
	for i := range 500 {
		name := fmt.Sprintf("service-with-a-long-name-%03d", i)
		items = append(items, slackItem{service: name, text: "t"}, slackItem{service: name, text: "t"})
	}
	got := joinSlack(items)
	assert.True(t, strings.HasPrefix(got, strings.Repeat("x", slackMaxText)+"…\n\n... and 1000 more events (services: service-with-a-long-name-000, "), got[:100])
	assert.True(t, strings.HasSuffix(got, ", …)"), got[len(got)-50:])
	assert.Less(t, len(got), slackMaxText+slackMaxServices+100)
	assert.Equal(t, 1, strings.Count(got, "service-with-a-long-name-000"), "each service named once")

	assert.Equal(t, "a\n\n... and 1 more event (services: x)", joinSlack([]slackItem{{"s", "a"}, {"x", strings.Repeat("b", slackMaxText)}}))
}
