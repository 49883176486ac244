package promtest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// EMFUnits are the CloudWatch units this project writes.
var EMFUnits = map[string]bool{"None": true, "Count": true, "Seconds": true}

// CheckEMF decodes one Embedded Metric Format line and checks it against
// the specification: an "_aws" member with a Timestamp in milliseconds
// since the epoch and CloudWatchMetrics directives, each with a Namespace,
// Dimensions (arrays of at most 30 dimension names) and Metrics (at most
// 100, each a Name and a Unit); every dimension named is a top-level string
// member and every metric a top-level number member.
func CheckEMF(t testing.TB, line []byte) map[string]any {
	t.Helper()
	var l map[string]any
	require.NoError(t, json.Unmarshal(line, &l), "each line is one JSON object: %s", line)
	aws, ok := l["_aws"].(map[string]any)
	require.True(t, ok, "_aws is an object: %s", line)
	ts, ok := aws["Timestamp"].(float64)
	require.True(t, ok, "_aws.Timestamp is a number: %s", line)
	assert.Greater(t, ts, 1e12, "Timestamp is in milliseconds since the epoch")
	dirs, ok := aws["CloudWatchMetrics"].([]any)
	require.True(t, ok, "_aws.CloudWatchMetrics is an array: %s", line)
	require.NotEmpty(t, dirs)
	for _, d := range dirs {
		dir, ok := d.(map[string]any)
		require.True(t, ok, "a directive is an object")
		ns, _ := dir["Namespace"].(string)
		assert.NotEmpty(t, ns, "Namespace")
		dims, ok := dir["Dimensions"].([]any)
		require.True(t, ok, "Dimensions is an array")
		for _, set := range dims {
			names, ok := set.([]any)
			require.True(t, ok, "a dimension set is an array")
			assert.LessOrEqual(t, len(names), 30, "at most 30 dimensions a set")
			for _, n := range names {
				_, ok := l[n.(string)].(string)
				assert.True(t, ok, "dimension %v is a top-level string member", n)
			}
		}
		ms, ok := dir["Metrics"].([]any)
		require.True(t, ok, "Metrics is an array")
		assert.LessOrEqual(t, len(ms), 100, "at most 100 metrics a directive")
		for _, m := range ms {
			def, ok := m.(map[string]any)
			require.True(t, ok, "a metric definition is an object")
			name, _ := def["Name"].(string)
			require.NotEmpty(t, name)
			unit, _ := def["Unit"].(string)
			assert.True(t, EMFUnits[unit], "unit %q of %s", unit, name)
			_, ok = l[name].(float64)
			assert.True(t, ok, "metric %s is a top-level number member", name)
		}
	}
	return l
}

// DecodeEMF checks every line of out with CheckEMF and returns them decoded.
func DecodeEMF(t testing.TB, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for raw := range strings.Lines(out) {
		lines = append(lines, CheckEMF(t, []byte(raw)))
	}
	return lines
}
