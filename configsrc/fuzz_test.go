package configsrc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

// secretMark marks the secrets FuzzParse checks for: a StatusAuthValue or
// SlackWebhookUrl holding it must never be repeated by an error.
const secretMark = "S3CRET"

// FuzzParse parses arbitrary documents. Parse never panics; it fails only
// with a *ValidationError that lists at most MaxProblems problems, one a
// line; no error repeats a secret (a StatusAuthValue or SlackWebhookUrl
// holding "S3CRET" that no other string of the document contains); and a
// valid document's Config, written out as a document again, parses to the
// same Config.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		seedExample,
		doc(svc("StatusAuthName", "X-Key", "StatusAuthValue", "tok-S3CRET-1", "SlackWebhookUrl", "https://hooks.slack.com/services/T/B/S3CRET")),
		doc(svc("StatusAuthName", "X Key", "StatusAuthValue", "tok-S3CRET-1\n", "SlackWebhookUrl", "ftp://S3CRET")),
		doc(svc("CheckInterval", "1.5s", "GracePeriod", 90, "StatusTimeout", 0.25, "MaxDesiredCount", 40, "StatusMetric", "busy", "StatusTLSVerify", true, "Paused", true)),
		doc(svc("CheckInterval", 9223372036.854775807), svc("MinDesiredCount", 2147483647)),
		doc(svc("EcsServiceName", "web\nServices[9] (evil)"), svc("ScaleOutThreshold", 1)),
		`{"Services":[{"StatusAuthValue":tok-S3CRET}]}`,
		`{"Services":[{},{},{},{}]}`,
		"{\"Services\":[{\"EcsClusterName\":\"\xff\"}]}",
		doc(svc("ScaleoutMode", "capacity", "TargetPerTask", 80, "ScaleoutAfterChecks", 2, "StartupTimeout", "3m")),
		doc(svc("ScaleoutMode", "steps", "EscalateWhenReady", true, "StepScalingPolicyConfiguration", map[string]any{
			"AdjustmentType": "PercentChangeInCapacity", "MinAdjustmentMagnitude": 2, "Cooldown": 60,
			"StepAdjustments": []any{map[string]any{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 200}}})),
		doc(svc("StatusUrl", omit, "TaskStatusUrl", "https://user:S3CRET@{ip}:8443/s", "TaskAggregate", "max", "TaskRefreshInterval", 30,
			"StatusTLSServerName", "shop.example.com")),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := configsrc.Parse(data)
		if err == nil {
			roundTrip(t, cfg)
			return
		}
		var ve *configsrc.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %T is not a *ValidationError: %v", err, err)
		}
		if cfg != nil {
			t.Fatal("a Config with an error")
		}
		msg := err.Error()
		if len(ve.Problems) == 0 || len(ve.Problems) > configsrc.MaxProblems {
			t.Fatalf("%d problems listed", len(ve.Problems))
		}
		if lines := strings.Count(msg, "\n") + 1; lines != len(ve.Problems)+min(ve.Omitted, 1) {
			t.Fatalf("%d problems (and %d omitted) printed on %d lines:\n%s", len(ve.Problems), ve.Omitted, lines, msg)
		}
		for _, s := range secrets(data) {
			if strings.Contains(msg, s) {
				t.Fatalf("error repeats the secret %q:\n%s", s, msg)
			}
		}
	})
}

// secrets returns the values of StatusAuthValue and SlackWebhookUrl in data
// that hold secretMark and that no other string in data (name or value)
// contains. For a document that is not valid JSON it returns secretMark
// itself: no part of such a document is ever repeated.
func secrets(data []byte) []string {
	if !json.Valid(data) {
		return []string{secretMark}
	}
	var strs []string
	var candidates []string
	dec := json.NewDecoder(bytes.NewReader(data))
	prevKey := ""
	inObject := []bool{} // per open container: is it an object?
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF: valid JSON was checked above
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				inObject = append(inObject, true)
				expectKey = true
			case '[':
				inObject = append(inObject, false)
				expectKey = false
			default:
				inObject = inObject[:len(inObject)-1]
				expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
			}
			continue
		case string:
			strs = append(strs, v)
			if expectKey {
				prevKey = v
				expectKey = false
				continue
			}
			if (prevKey == "StatusAuthValue" || prevKey == "SlackWebhookUrl") && strings.Contains(v, secretMark) {
				candidates = append(candidates, v)
			}
		}
		if len(inObject) > 0 && inObject[len(inObject)-1] {
			expectKey = true
		}
		prevKey = ""
	}
	var out []string
	for _, c := range candidates {
		n := 0
		for _, s := range strs {
			if strings.Contains(s, c) {
				n++
			}
		}
		if n == 1 {
			out = append(out, c)
		}
	}
	return out
}

// roundTrip writes cfg out as a document and requires that it parses to
// the same Config.
func roundTrip(t *testing.T, cfg *configsrc.Config) {
	t.Helper()
	services := make([]map[string]any, len(cfg.Services))
	for i, s := range cfg.Services {
		p := s.Policy
		m := map[string]any{
			"EcsClusterName": s.EcsClusterName, "EcsServiceName": s.EcsServiceName,
			"StatusTLSVerify": s.StatusTLSVerify, "StatusMetric": string(s.StatusMetric), "StatusTimeout": s.StatusTimeout.String(),
			"ScaleoutThreshold": p.ScaleoutThreshold, "MinDesiredCount": p.MinDesiredCount,
			"CheckInterval": p.CheckInterval.String(), "AlertAfterFailures": p.AlertAfterFailures,
			"ScaleoutMode": string(p.EffectiveMode()), "ScaleoutAfterChecks": max(p.ScaleoutAfterChecks, 1),
			"StartupTimeout": p.EffectiveStartupTimeout().String(),
		}
		if s.StatusURL != "" {
			m["StatusUrl"] = s.StatusURL
		}
		if s.StatusTLSServerName != "" {
			m["StatusTLSServerName"] = s.StatusTLSServerName
		}
		if p.Steps != nil {
			m["StepScalingPolicyConfiguration"] = json.RawMessage(p.Steps.String())
		}
		if p.Steps == nil || p.Steps.Cooldown == 0 { // a Cooldown stands for GracePeriod
			m["GracePeriod"] = p.GracePeriod.String()
		}
		if p.TargetPerTask > 0 {
			m["TargetPerTask"] = p.TargetPerTask
		}
		if p.EscalateWhenReady {
			m["EscalateWhenReady"] = true
		}
		if s.TaskStatusURL != "" {
			m["TaskStatusUrl"], m["TaskAggregate"] = s.TaskStatusURL, string(s.TaskAggregate)
			m["TaskRefreshInterval"] = s.TaskRefreshInterval.String()
		}
		if s.StatusAuthName != "" {
			m["StatusAuthName"], m["StatusAuthValue"] = s.StatusAuthName, s.StatusAuthValue.Reveal()
		}
		if u := s.SlackWebhookURL.Reveal(); u != "" {
			m["SlackWebhookUrl"] = u
		}
		if p.MaxDesiredCount > 0 {
			m["MaxDesiredCount"] = p.MaxDesiredCount
		}
		if s.Paused {
			m["Paused"] = true
		}
		services[i] = m
	}
	out, err := json.Marshal(map[string]any{"Services": services})
	if err != nil {
		t.Fatal(err)
	}
	again, err := configsrc.Parse(out)
	if err != nil {
		t.Fatalf("a valid config written out does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(cfg.Services, again.Services) {
		t.Fatalf("round trip changed the services:\n%+v\n%+v", cfg.Services, again.Services)
	}
}
