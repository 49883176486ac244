package simulate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

// TestGoldenDefaultPolicy: the seed's policy (ScaleoutMode double, the
// default) makes exactly the decisions it made before capacity-aware
// scale-outs, escalation and the start-up bound existed, on every bundled
// trace. testdata/golden holds `simulate -json` output recorded then, for
// four services (testdata/golden/config.json), with the model of that time:
// tasks serve as soon as they run (no register delay) and target tracking
// on 1-minute datapoints. Files named *-capacity250 were run with
// -task-capacity 250, so 503s are part of it.
func TestGoldenDefaultPolicy(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	cfg, err := configsrc.Load(t.Context(), configsrc.File{Path: filepath.Join(dir, "config.json")})
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	n := 0
	for _, golden := range files {
		name := strings.TrimSuffix(filepath.Base(golden), ".json")
		if name == "config" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			trace, capacity := name, 0.0
			if base, ok := strings.CutSuffix(name, "-capacity250"); ok {
				trace, capacity = base, 250
			}
			tr, err := LoadTrace(filepath.Join("..", "..", "examples", "traces", trace+".csv"))
			require.NoError(t, err)
			var results []*Result
			for _, s := range cfg.Services {
				res, err := Simulate(t.Context(), tr, Options{Cluster: s.EcsClusterName, Name: s.EcsServiceName,
					Policy: s.Policy, TaskCapacity: capacity})
				require.NoError(t, err)
				results = append(results, res)
			}
			var buf bytes.Buffer
			require.NoError(t, WriteJSON(&buf, results))
			want, err := os.ReadFile(golden)
			require.NoError(t, err)

			var got, was struct {
				Services []map[string]json.RawMessage `json:"services"`
			}
			require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
			require.NoError(t, json.Unmarshal(want, &was))
			require.Len(t, got.Services, len(was.Services))
			for i := range was.Services {
				for key, old := range was.Services[i] {
					if key == "trace" { // the path it was loaded by
						continue
					}
					if key == "settings" { // it may have gained keys; the old ones keep their values
						var o, g map[string]any
						require.NoError(t, json.Unmarshal(old, &o))
						require.NoError(t, json.Unmarshal(got.Services[i][key], &g))
						for k, v := range o {
							assert.Equal(t, v, g[k], "%s: settings.%s", cfg.Services[i].Name(), k)
						}
						continue
					}
					assert.JSONEq(t, string(old), string(got.Services[i][key]), "%s: %s", cfg.Services[i].Name(), key)
				}
			}
		})
	}
	assert.Equal(t, 13, n, "golden files")
}
