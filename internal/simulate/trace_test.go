package simulate

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadTrace(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		start time.Time
		want  []Point
	}{
		{
			name:  "seconds with fractions, comments and blank lines",
			in:    "# a comment\nseconds,connections\n0,10\n\n0.5, 20.5\n# another\n90,0\n",
			start: time.Unix(0, 0).UTC(),
			want:  []Point{{0, 10}, {500 * time.Millisecond, 20.5}, {90 * time.Second, 0}},
		},
		{
			name:  "seconds not starting at zero, CRLF, no final newline",
			in:    "t,c\r\n30,1\r\n60,2",
			start: time.Unix(0, 0).UTC(),
			want:  []Point{{30 * time.Second, 1}, {60 * time.Second, 2}},
		},
		{
			name:  "RFC 3339 timestamps count from the first row",
			in:    "time,connections\n2024-05-01T12:00:00Z,100\n2024-05-01T12:00:01.5Z,200\n2024-05-01T21:05:00+09:00,300\n",
			start: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			want:  []Point{{0, 100}, {1500 * time.Millisecond, 200}, {5 * time.Minute, 300}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ReadTrace("x.csv", strings.NewReader(tc.in))
			require.NoError(t, err)
			assert.Equal(t, "x.csv", tr.Name)
			assert.True(t, tc.start.Equal(tr.Start), "start %v", tr.Start)
			assert.Equal(t, tc.want, tr.Points)
		})
	}
}

func TestReadTraceErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty file", "", "t.csv:1: empty trace"},
		{"header only", "seconds,connections\n", "t.csv:1: empty trace"},
		{"one row", "seconds,connections\n0,5\n", "t.csv:2: want at least two data rows"},
		{"no header", "0,5\n1,6\n", `t.csv:1: want a header row first`},
		{"malformed line", "s,c\n0,5\n1,6,7\n", "t.csv:3: want 2 fields (time,connections), got 3"},
		{"one field", "s,c\n0,5\n7\n", "t.csv:3: want 2 fields"},
		{"bad quoting", "s,c\n0,5\n1,\"6\n", "t.csv:3:"},
		{"non-numeric count", "s,c\n0,5\n1,lots\n", `t.csv:3: connections "lots": not a number`},
		{"NaN count", "s,c\n0,5\n1,NaN\n", `t.csv:3: connections "NaN": not a number`},
		{"negative count", "s,c\n0,5\n1,-3\n", "t.csv:3: connections -3: must not be negative"},
		{"non-numeric time", "s,c\n0,5\nsoon,6\n", `t.csv:3: time "soon": want seconds from the start or an RFC 3339 timestamp`},
		{"negative time", "s,c\n-1,5\n1,6\n", `t.csv:2: time "-1"`},
		{"time going backwards", "s,c\n0,5\n10,6\n# gap\n9,7\n", `t.csv:5: time "9" is not after the previous row's`},
		{"repeated time", "s,c\n0,5\n0,6\n", `t.csv:3: time "0" is not after`},
		{"mixed time forms", "s,c\n0,5\n2024-05-01T12:00:00Z,6\n", "t.csv:3: time \"2024-05-01T12:00:00Z\": every row must use the same time form"},
		{"stamp going backwards", "s,c\n2024-05-01T12:00:00Z,5\n2024-05-01T11:59:59Z,6\n", "t.csv:3: time \"2024-05-01T11:59:59Z\" is not after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTrace("t.csv", strings.NewReader(tc.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadTrace(t *testing.T) {
	tr, err := LoadTrace(filepath.Join("..", "..", "examples", "traces", "flash-sale.csv"))
	require.NoError(t, err)
	assert.Equal(t, 50*time.Minute, tr.Duration())

	_, err = LoadTrace(filepath.Join(t.TempDir(), "missing.csv"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.csv")
}
