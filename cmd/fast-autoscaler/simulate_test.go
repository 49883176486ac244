package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	exampleConfig = "../../examples/config.json"
	flashSale     = "../../examples/traces/flash-sale.csv"
)

func simulateCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cmdSimulate(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSimulateOneService(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := simulateCmd(t, "-config", exampleConfig, "-trace", flashSale,
		"-service", "example-app", "-out", filepath.Join(dir, "plots", "flash-sale"))
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "example-app/example-app on ")
	assert.Contains(t, out, "+10m18s  fast-autoscaler  scale out")
	assert.Contains(t, out, "time to enough ready capacity")
	assert.NotContains(t, out, "example-app-b", "only the service asked for")
	assert.Contains(t, out, "plot: "+filepath.Join(dir, "plots", "flash-sale.png"))

	entries, err := os.ReadDir(filepath.Join(dir, "plots"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"flash-sale.png", "flash-sale.svg"}, names, "no temporary files left")
	png, err := os.ReadFile(filepath.Join(dir, "plots", "flash-sale.png"))
	require.NoError(t, err)
	assert.Equal(t, "\x89PNG", string(png[:4]))
}

func TestSimulateEveryServiceJSON(t *testing.T) {
	dir := t.TempDir()
	run := func(more ...string) string {
		args := append([]string{"-config", exampleConfig, "-trace", flashSale, "-json", "-task-capacity", "300"}, more...)
		code, out, errOut := simulateCmd(t, args...)
		require.Equal(t, exitOK, code, errOut)
		return out
	}
	first := run("-out", filepath.Join(dir, "fs.png"))
	assert.Equal(t, first, run(), "byte-identical summary JSON")

	var doc struct {
		Services []struct {
			Service        string
			FastAutoscaler struct {
				Summary map[string]any
			} `json:"fast_autoscaler"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(first), &doc))
	require.Len(t, doc.Services, 2)
	assert.Equal(t, "example-app", doc.Services[0].Service)
	assert.Equal(t, "example-app-b", doc.Services[1].Service)
	assert.Contains(t, doc.Services[0].FastAutoscaler.Summary, "time_to_capacity_s")

	for _, name := range []string{"fs-example-app.png", "fs-example-app.svg", "fs-example-app-b.png", "fs-example-app-b.svg"} {
		assert.FileExists(t, filepath.Join(dir, name))
	}
}

// TestSimulateHardCase: the README's side-by-side comparison, the default
// policy and ScaleoutMode capacity through a tenfold spike.
func TestSimulateHardCase(t *testing.T) {
	code, out, errOut := simulateCmd(t, "-config", "../../examples/hard-cases.json", "-trace", "../../examples/traces/spike-10x.csv")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "shop/double on ")
	assert.Contains(t, out, "shop/capacity on ")
	assert.Contains(t, out, "capacity mode (target 90/task)")
	assert.Contains(t, out, "a new task running 1m00s after it is requested and serving 20s later")
	assert.Contains(t, out, "1-minute datapoints")

	code, out, errOut = simulateCmd(t, "-config", "../../examples/hard-cases.json", "-trace", "../../examples/traces/spike-10x.csv",
		"-service", "capacity", "-register-delay", "0s", "-tt-resolution", "20s", "-json")
	require.Equal(t, exitOK, code, errOut)
	var doc struct {
		Services []struct {
			Settings map[string]any
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.Len(t, doc.Services, 1)
	set := doc.Services[0].Settings
	assert.Equal(t, "capacity", set["scaleout_mode"])
	assert.Equal(t, 90.0, set["target_per_task"])
	assert.Equal(t, 0.0, set["register_delay_s"])
	assert.Equal(t, 20.0, set["tt_resolution_s"])
	assert.Equal(t, 60.0, set["startup_s"], "the keys of before are kept")
}

func TestSimulateBadInput(t *testing.T) {
	tests := []struct {
		name  string
		trace string // file contents; "" uses the flash-sale trace
		args  []string
		want  string
	}{
		{name: "malformed line", trace: "seconds,connections\n0,5\n1,6,7\n", want: "trace.csv:3: want 2 fields"},
		{name: "non-numeric value", trace: "seconds,connections\n0,5\n1,many\n", want: `trace.csv:3: connections "many": not a number`},
		{name: "negative count", trace: "seconds,connections\n0,5\n1,-1\n", want: "trace.csv:3: connections -1: must not be negative"},
		{name: "time going backwards", trace: "seconds,connections\n0,5\n5,6\n4,7\n", want: `trace.csv:4: time "4" is not after`},
		{name: "empty trace", trace: "\n", want: "trace.csv:1: empty trace"},
		{name: "unknown service", args: []string{"-service", "nope"}, want: `-service "nope": no such service in ` + exampleConfig + " (it has example-app/example-app, example-app-b/example-app-b)"},
		{name: "missing trace file", args: []string{"-trace", "no-such.csv"}, want: "no-such.csv"},
		{name: "missing config", args: []string{"-config", "no-such.json"}, want: "no-such.json"},
		{name: "no trace flag", args: []string{"-trace", ""}, want: "-config and -trace are required"},
		{name: "negative startup", args: []string{"-startup", "-1s"}, want: "-startup must be > 0"},
		{name: "negative capacity", args: []string{"-task-capacity", "-5"}, want: "-task-capacity must be"},
		{name: "negative register delay", args: []string{"-register-delay", "-1s"}, want: "-register-delay must be >= 0"},
		{name: "30 s datapoints", args: []string{"-tt-resolution", "30s"}, want: "-tt-resolution must be 1m or 20s"},
		{name: "unknown flag", args: []string{"-nope"}, want: "flag provided but not defined: -nope"},
		{name: "stray argument", args: []string{"extra"}, want: "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			trace := flashSale
			if tc.trace != "" {
				trace = filepath.Join(dir, "trace.csv")
				require.NoError(t, os.WriteFile(trace, []byte(tc.trace), 0o644))
			}
			outDir := filepath.Join(dir, "out")
			require.NoError(t, os.Mkdir(outDir, 0o755))
			args := append([]string{"-config", exampleConfig, "-trace", trace, "-out", filepath.Join(outDir, "plot")}, tc.args...)
			code, out, errOut := simulateCmd(t, args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, errOut, tc.want)
			assert.Empty(t, out)
			entries, err := os.ReadDir(outDir)
			require.NoError(t, err)
			assert.Empty(t, entries, "no partial plot left behind")
		})
	}
}

func TestSimulateReading(t *testing.T) {
	code, out, errOut := simulateCmd(t, "-config", exampleConfig, "-trace", flashSale, "-service", "example-app", "-reading", "per-task")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "reading: per task")
	assert.Contains(t, out, "112.0/task (560 in all)")

	code, _, errOut = simulateCmd(t, "-config", exampleConfig, "-trace", flashSale, "-reading", "sampled")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `-reading must be per-task or balancer, got "sampled"`)

	// A service with TaskStatusUrl is read per task unless -reading says otherwise.
	cfg := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"Services":[{"TaskStatusUrl":"http://{ip}:8080/nginx-status",
	  "ScaleoutThreshold":100,"EcsClusterName":"app","EcsServiceName":"web"}]}`), 0o600))
	code, out, errOut = simulateCmd(t, "-config", cfg, "-trace", flashSale)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "reading: per task")
	code, out, errOut = simulateCmd(t, "-config", cfg, "-trace", flashSale, "-reading", "balancer")
	require.Equal(t, exitOK, code, errOut)
	assert.NotContains(t, out, "reading: per task")
}
