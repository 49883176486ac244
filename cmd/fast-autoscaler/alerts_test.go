package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeAlerts returns the alert rules of the README's example rule file:
// the name and the expression of each.
func readmeAlerts(t *testing.T) map[string]string {
	t.Helper()
	readme := readFile(t, "../../README.md")
	block := regexp.MustCompile("(?s)```yaml\n(groups:\n.*?)```").FindStringSubmatch(readme)
	require.NotNil(t, block, "the README has an example rule file")
	alerts := map[string]string{}
	rule := regexp.MustCompile(`(?m)^ *- alert: (\S+)\n *expr: (.+)$`)
	for _, m := range rule.FindAllStringSubmatch(block[1], -1) {
		alerts[m[1]] = strings.TrimSpace(m[2])
	}
	require.NotEmpty(t, alerts)
	return alerts
}

// checkREADMEAlerts parses each README alert expression with Prometheus's
// PromQL parser and checks it against what the process at base exposes:
// every selector selects at least one series (matched with Prometheus's own
// label matchers), and every label an aggregation or a vector match names
// is on those series. (Evaluating the expressions would need Prometheus's
// query engine, whose module pulls in a few dozen more; the parser alone is
// small. See the report of issue 13.)
func checkREADMEAlerts(t *testing.T, base string) {
	t.Helper()
	code, body := get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	textParser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := textParser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	var exposed []labels.Labels
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			b := labels.NewScratchBuilder(len(m.GetLabel()) + 1)
			b.Add(model.MetricNameLabel, name)
			for _, l := range m.GetLabel() {
				b.Add(l.GetName(), l.GetValue())
			}
			b.Sort()
			exposed = append(exposed, b.Labels())
		}
	}

	p := parser.NewParser(parser.Options{})
	for name, expr := range readmeAlerts(t) {
		e, err := p.ParseExpr(expr)
		require.NoError(t, err, "%s: %s", name, expr)
		assert.Equal(t, parser.ValueTypeVector, e.Type(), "%s: an alert expression is an instant vector", name)
		var selected []labels.Labels
		for _, matchers := range parser.ExtractSelectors(e) {
			var hits []labels.Labels
			for _, ls := range exposed {
				if matchesAll(matchers, ls) {
					hits = append(hits, ls)
				}
			}
			assert.NotEmpty(t, hits, "%s: %v selects nothing the process exposes", name, matchers)
			selected = append(selected, hits...)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			var names []string
			switch n := n.(type) {
			case *parser.AggregateExpr:
				names = n.Grouping
			case *parser.BinaryExpr:
				if n.VectorMatching != nil {
					names = n.VectorMatching.MatchingLabels
				}
			}
			for _, l := range names {
				found := false
				for _, ls := range selected {
					found = found || ls.Has(l)
				}
				assert.True(t, found, "%s: label %q is on no selected series", name, l)
			}
			return nil
		})
	}
}

func matchesAll(ms []*labels.Matcher, ls labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// TestREADMEAlertsParse runs without a process: each expression is valid
// PromQL and names only fast_autoscaler_* metrics.
func TestREADMEAlertsParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for name, expr := range readmeAlerts(t) {
		e, err := p.ParseExpr(expr)
		require.NoError(t, err, "%s: %s", name, expr)
		for _, ms := range parser.ExtractSelectors(e) {
			for _, m := range ms {
				if m.Name == model.MetricNameLabel {
					assert.True(t, strings.HasPrefix(m.Value, "fast_autoscaler_"), "%s: %s", name, m.Value)
				}
			}
		}
	}
}
