package app

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

// TestConfigAndWiringAgree feeds the same values through the document's
// validation and through building the sources and notifiers: a value one
// accepts the other never refuses, because both call one rule.
func TestConfigAndWiringAgree(t *testing.T) {
	values := map[string][]string{
		"StatusUrl": {"http://example.com/status", "https://u:p@example.com:8443/s", "ftp://example.com/s",
			"example.com/status", "http:///nohost", "http://exa mple.com/", "https://[::1]:9/s"},
		"StatusAuthName":  {"Status-Auth-Key", "X_Key.1", "Bad Name", "Bad:Name", "Ünï"},
		"StatusAuthValue": {"tok", "with\ttab", "with\nnewline", "with\x7fdel", "with\x01ctl", "ünïcode"},
		"StatusMetric":    {"active", "busy", "idle", "Active"},
		"SlackWebhookUrl": {"https://hooks.slack.com/services/T/B/X", "http://127.0.0.1:9/hook", "http://localhost/h",
			"http://hooks.slack.com/services/T/B/X", "ftp://hooks.slack.com/x", "hooks.slack.com/x", "https://h/%zz"},
	}
	for field, vs := range values {
		for _, v := range vs {
			svc := map[string]any{"StatusUrl": "http://example.com/status", "EcsClusterName": "c", "EcsServiceName": "s"}
			svc[field] = v
			if field == "StatusAuthValue" {
				svc["StatusAuthName"] = "K"
			}
			if field == "StatusAuthName" {
				svc["StatusAuthValue"] = "v"
			}
			doc, err := json.Marshal(map[string]any{"Services": []any{svc}})
			require.NoError(t, err)
			cfg, parseErr := configsrc.Parse(doc)
			if parseErr != nil {
				continue // refused by the document: the wiring never sees it
			}
			w := newWirer(slog.New(slog.DiscardHandler), nil, false)
			p, err := w.wire(cfg)
			assert.NoError(t, err, "%s %q: valid in the document but refused by the wiring", field, v)
			if err == nil {
				w.apply(t.Context(), p)
				w.close(t.Context())
			}
		}
	}
	// And each rule refuses what it should, in both places' words.
	bad := `{"Services":[{"StatusUrl":"ftp://x","StatusAuthName":"Bad Name","StatusAuthValue":"a\nb",
		"StatusMetric":"idle","SlackWebhookUrl":"http://hooks.slack.com/x","EcsClusterName":"c","EcsServiceName":"s"}]}`
	_, err := configsrc.Parse([]byte(bad))
	require.Error(t, err)
	for _, want := range []string{"StatusUrl: must be an absolute http or https URL", "StatusAuthName: must be a valid HTTP header name",
		"StatusAuthValue: must not contain control characters", `StatusMetric: must be "active" or "busy"`,
		"SlackWebhookUrl: must be an https URL (http only for a loopback host)"} {
		assert.Contains(t, err.Error(), want)
	}
}
