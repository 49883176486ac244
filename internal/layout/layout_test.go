// Package layout holds tests of the repository's package layout: which
// packages may depend on which (see the README's "Library" section).
package layout

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/fast-autoscaler/fast-autoscaler"

// deps lists every package pkg compiles, itself included.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	return strings.Fields(string(out))
}

// TestRolePackagesCompileNoSDK: an embedder who brings their own scaler,
// notifier and config source compiles no AWS SDK.
func TestRolePackagesCompileNoSDK(t *testing.T) {
	for _, pkg := range []string{"autoscaler", "scaler", "notify", "configsrc", "stubstatus", "autoscaler/metrics", "notify/slack"} {
		for _, d := range deps(t, pkg) {
			assert.False(t, strings.HasPrefix(d, "github.com/aws/"), "%s compiles %s", pkg, d)
		}
	}
}

// TestDependencyDirection: each package imports only what sits below it.
func TestDependencyDirection(t *testing.T) {
	allowed := map[string][]string{ // the project's packages each may compile
		"scaler":             {},
		"notify":             {},
		"autoscaler":         {"scaler", "notify"},
		"stubstatus":         {"autoscaler", "scaler", "notify"},
		"notify/slack":       {"notify"},
		"scaler/ecs":         {"scaler"},
		"autoscaler/metrics": {"autoscaler", "scaler", "notify"},
		"configsrc":          {"autoscaler", "scaler", "notify", "stubstatus", "notify/slack"},
		"configsrc/ssm":      {"configsrc", "autoscaler", "scaler", "notify", "stubstatus", "notify/slack"},
	}
	for pkg, ok := range allowed {
		for _, d := range deps(t, pkg) {
			rest, ours := strings.CutPrefix(d, module+"/")
			if !ours || rest == pkg {
				continue
			}
			assert.Contains(t, ok, rest, "%s must not depend on %s", pkg, rest)
		}
	}
}

// TestBinaryCompilesNoPlotLibrary: the binary draws simulate's charts with
// its own small renderer. gonum.org/v1/plot parsed twelve fonts in its
// package init, which cost every process (simulating or not) 4.6 MB of RSS.
func TestBinaryCompilesNoPlotLibrary(t *testing.T) {
	ds := deps(t, "cmd/fast-autoscaler")
	require.Contains(t, ds, module+"/internal/simulate", "the binary's dependencies were not listed")
	for _, d := range ds {
		assert.False(t, strings.HasPrefix(d, "gonum.org/"), "cmd/fast-autoscaler compiles %s", d)
	}
}
