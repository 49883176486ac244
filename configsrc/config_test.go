package configsrc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

// seedExample is the example document from the seed README, verbatim.
const seedExample = `{
  "Services": [
    {
      "StatusUrl":"https://example-a.com/nginx-status",
      "StatusAuthName":"Status-Auth-Key",
      "StatusAuthValue":"hogefuga",
      "ScaleoutThreshold":100,
      "EcsClusterName":"example-app",
      "EcsServiceName":"example-app",
      "SlackWebhookUrl":"https://hooks.slack.com/services/XXXXXXXXX/XXXXXXXXX/xxxxxxxx"
    },
    {
      "StatusUrl":"https://example-b-1234567890.ap-northeast-1.elb.amazonaws.com/nginx-status",
      "ScaleoutThreshold":150,
      "MinDesiredCount":2,
      "CheckInterval":10,
      "EcsClusterName":"example-app-b",
      "EcsServiceName":"example-app-b"
    }
  ]
}`

const (
	authSecret  = "hogefuga-s3cret"
	slackSecret = "https://hooks.slack.com/services/T000/B000/s3cretpath"
)

func TestParseSeedExample(t *testing.T) {
	cfg, err := configsrc.Parse([]byte(seedExample))
	require.NoError(t, err)
	require.Len(t, cfg.Services, 2)

	a := autoscaler.DefaultPolicy()
	a.ScaleoutThreshold = 100
	assert.Equal(t, configsrc.ServiceConfig{
		StatusURL:       "https://example-a.com/nginx-status",
		StatusAuthName:  "Status-Auth-Key",
		StatusAuthValue: "hogefuga",
		StatusMetric:    "active",
		StatusTimeout:   3 * time.Second,
		EcsClusterName:  "example-app",
		EcsServiceName:  "example-app",
		SlackWebhookURL: "https://hooks.slack.com/services/XXXXXXXXX/XXXXXXXXX/xxxxxxxx",
		Policy:          a,
	}, cfg.Services[0])
	assert.Equal(t, autoscaler.Policy{
		ScaleoutThreshold: 100, MinDesiredCount: 5, CheckInterval: 3 * time.Second,
		GracePeriod: 180 * time.Second, AlertAfterFailures: 5,
		ScaleoutMode: autoscaler.ModeDouble, ScaleoutAfterChecks: 1, StartupTimeout: 5 * time.Minute,
	}, cfg.Services[0].Policy, "seed defaults")
	assert.False(t, cfg.Services[0].StatusTLSVerify, "the seed skips TLS verification")

	b := cfg.Services[1]
	assert.Equal(t, 150.0, b.Policy.ScaleoutThreshold)
	assert.Equal(t, 2, b.Policy.MinDesiredCount)
	assert.Equal(t, 10*time.Second, b.Policy.CheckInterval)
	assert.Equal(t, 10*time.Second, b.StatusTimeout, "StatusTimeout defaults to CheckInterval")
	assert.Equal(t, 180*time.Second, b.Policy.GracePeriod)
	assert.Zero(t, b.Policy.MaxDesiredCount, "no cap by default")
	assert.Empty(t, b.StatusAuthName)
	assert.Empty(t, b.SlackWebhookURL.Reveal())
	assert.Equal(t, "example-app-b/example-app-b", b.Name())
}

func TestParseExamplesConfig(t *testing.T) {
	cfg, err := configsrc.Load(context.Background(), configsrc.File{Path: filepath.Join("..", "examples", "config.json")})
	require.NoError(t, err)
	require.Len(t, cfg.Services, 2)
	a := cfg.Services[0]
	assert.Equal(t, stubstatus.MetricBusy, a.StatusMetric)
	assert.True(t, a.StatusTLSVerify)
	assert.Equal(t, 2*time.Second, a.StatusTimeout)
	assert.Equal(t, 40, a.Policy.MaxDesiredCount)
	assert.Equal(t, 3*time.Minute, a.Policy.GracePeriod)
	assert.Equal(t, "example-app-b/example-app-b", cfg.Services[1].Name())
}

func TestParseDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{`0.5`, 500 * time.Millisecond},
		{`"500ms"`, 500 * time.Millisecond},
		{`"3m"`, 3 * time.Minute},
		{`10`, 10 * time.Second},
		{`0.1`, 100 * time.Millisecond},
		{`1.5e1`, 15 * time.Second},
	} {
		t.Run(tc.in, func(t *testing.T) {
			doc := fmt.Sprintf(`{"Services":[{"StatusUrl":"http://127.0.0.1:8080/s","EcsClusterName":"c","EcsServiceName":"s",
				"CheckInterval":%[1]s,"GracePeriod":%[1]s,"StatusTimeout":%[1]s}]}`, tc.in)
			cfg, err := configsrc.Parse([]byte(doc))
			require.NoError(t, err)
			s := cfg.Services[0]
			assert.Equal(t, tc.want, s.Policy.CheckInterval)
			assert.Equal(t, tc.want, s.Policy.GracePeriod)
			assert.Equal(t, tc.want, s.StatusTimeout)
		})
	}
}

// omit, as a value in svc's arguments, removes the field.
type omitted struct{}

var omit omitted

// svc returns a valid service object changed by the name/value pairs kv.
func svc(kv ...any) map[string]any {
	m := map[string]any{
		"StatusUrl":      "https://example-a.com/nginx-status",
		"EcsClusterName": "app",
		"EcsServiceName": "web",
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == omit {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// doc renders a document holding services.
func doc(services ...map[string]any) string {
	b, err := json.Marshal(map[string]any{"Services": services})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// where names a problem's place: index, service and field.
type where struct {
	Index   int
	Service string
	Field   string
}

// problems parses doc, requires a *ValidationError, and returns it.
func problems(t *testing.T, doc string) *configsrc.ValidationError {
	t.Helper()
	cfg, err := configsrc.Parse([]byte(doc))
	require.Error(t, err)
	require.Nil(t, cfg)
	var ve *configsrc.ValidationError
	require.ErrorAs(t, err, &ve)
	return ve
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []where
		msg  string // part of the first problem's message
	}{
		{"empty", "  \n", []where{{-1, "", ""}}, "empty"},
		{"syntax", "{\n  \"Services\": [,]}", []where{{-1, "", ""}}, "line 2, column 16"},
		{"truncated", `{"Services": [`, []where{{-1, "", ""}}, "unexpected end"},
		{"trailing data", doc(svc()) + "\n{}", []where{{-1, "", ""}}, "line 2, column 1: invalid character after top-level value"},
		{"not an object", `[]`, []where{{-1, "", ""}}, "must be a JSON object, got array"},
		{"too big", `{"Services":[]}` + strings.Repeat(" ", configsrc.MaxDocumentSize), []where{{-1, "", ""}}, "limit"},
		{"Services missing", `{}`, []where{{-1, "", "Services"}}, "required"},
		{"Services empty", `{"Services":[]}`, []where{{-1, "", "Services"}}, "at least one"},
		{"Services not an array", `{"Services":{}}`, []where{{-1, "", "Services"}}, "must be an array of service objects, got object"},
		{"Services null", `{"Services":null}`, []where{{-1, "", "Services"}}, "got null"},
		{"top-level typo", `{"services":[]}`, []where{{-1, "", "services"}, {-1, "", "Services"}}, `did you mean "Services"?`},
		{"service not an object", `{"Services":["x"]}`, []where{{0, "", ""}}, "must be a JSON object, got string"},
		{"StatusUrl missing", doc(svc("StatusUrl", omit)), []where{{0, "web", "StatusUrl"}}, "required"},
		{"StatusUrl relative", doc(svc("StatusUrl", "/nginx-status")), []where{{0, "web", "StatusUrl"}}, "absolute http or https"},
		{"StatusUrl ftp", doc(svc("StatusUrl", "ftp://example-a.com/s")), []where{{0, "web", "StatusUrl"}}, "absolute http or https"},
		{"StatusUrl no host", doc(svc("StatusUrl", "http:///nginx-status")), []where{{0, "web", "StatusUrl"}}, "must name a host"},
		{"StatusUrl unparsable", doc(svc("StatusUrl", "http://a b/")), []where{{0, "web", "StatusUrl"}}, "not a valid URL"},
		{"StatusUrl null", doc(svc("StatusUrl", nil)), []where{{0, "web", "StatusUrl"}}, "must not be null"},
		{"StatusUrl number", doc(svc("StatusUrl", 80)), []where{{0, "web", "StatusUrl"}}, "must be a string, got number"},
		{"EcsClusterName empty", doc(svc("EcsClusterName", "")), []where{{0, "web", "EcsClusterName"}}, "must not be empty"},
		{"EcsServiceName missing", doc(svc("EcsServiceName", omit)), []where{{0, "", "EcsServiceName"}}, "required"},
		{"threshold zero", doc(svc("ScaleoutThreshold", 0)), []where{{0, "web", "ScaleoutThreshold"}}, "> 0"},
		{"threshold negative", doc(svc("ScaleoutThreshold", -1)), []where{{0, "web", "ScaleoutThreshold"}}, "> 0"},
		{"threshold string", doc(svc("ScaleoutThreshold", "150")), []where{{0, "web", "ScaleoutThreshold"}}, "must be a number, got string"},
		{"threshold huge", `{"Services":[{"StatusUrl":"http://h/","EcsClusterName":"c","EcsServiceName":"s","ScaleoutThreshold":1e400}]}`,
			[]where{{0, "s", "ScaleoutThreshold"}}, "out of range"},
		{"min fractional", doc(svc("MinDesiredCount", 2.5)), []where{{0, "web", "MinDesiredCount"}}, "whole number, got 2.5"},
		{"min zero", doc(svc("MinDesiredCount", 0)), []where{{0, "web", "MinDesiredCount"}}, ">= 1"},
		{"min huge", doc(svc("MinDesiredCount", 1e12)), []where{{0, "web", "MinDesiredCount"}}, "at most 2147483647"},
		{"min int32", doc(svc("MinDesiredCount", 2147483647)), []where{{0, "web", "MinDesiredCount"}}, "must be at most 5000 (ECS's limit of tasks per service), got 2147483647"},
		{"max beyond ECS", doc(svc("MaxDesiredCount", 10000)), []where{{0, "web", "MaxDesiredCount"}}, "must be at most 5000"},
		{"interval of 292 years", doc(svc("CheckInterval", "2562047h")), []where{{0, "web", "CheckInterval"}}, "must be at most 1h0m0s, got 2562047h0m0s"},
		{"interval of a day", doc(svc("CheckInterval", 86400)), []where{{0, "web", "CheckInterval"}}, "must be at most 1h0m0s, got 24h0m0s"},
		{"interval overflows int64", doc(svc("CheckInterval", 9223372036.854775807)), []where{{0, "web", "CheckInterval"}}, "9223372036.854776 seconds is too long: a duration is at most 2562047h47m16.854775807s"},
		{"interval far beyond", `{"Services":[{"StatusUrl":"http://h/","EcsClusterName":"c","EcsServiceName":"s","CheckInterval":1e300}]}`,
			[]where{{0, "s", "CheckInterval"}}, "1e300 seconds is too long"},
		{"interval far below", `{"Services":[{"StatusUrl":"http://h/","EcsClusterName":"c","EcsServiceName":"s","CheckInterval":-1e300}]}`,
			[]where{{0, "s", "CheckInterval"}}, "must be > 0, got -1e300 seconds"},
		{"interval string overflows", doc(svc("CheckInterval", "3000000h")), []where{{0, "web", "CheckInterval"}}, `"3000000h" is too long: a duration is at most`},
		{"interval negative string overflows", doc(svc("CheckInterval", "-3000000h")), []where{{0, "web", "CheckInterval"}}, `must be > 0, got "-3000000h"`},
		{"grace of two days", doc(svc("GracePeriod", "48h")), []where{{0, "web", "GracePeriod"}}, "must be at most 24h0m0s"},
		{"max zero", doc(svc("MaxDesiredCount", 0)), []where{{0, "web", "MaxDesiredCount"}}, "must be >= 1; leave it out for no cap"},
		{"max below min", doc(svc("MaxDesiredCount", 3)), []where{{0, "web", "MaxDesiredCount"}}, "MinDesiredCount (5)"},
		{"max negative", doc(svc("MaxDesiredCount", -2)), []where{{0, "web", "MaxDesiredCount"}}, ">= 1"},
		{"interval too short", doc(svc("CheckInterval", 0.05)), []where{{0, "web", "CheckInterval"}}, "at least 100ms"},
		{"interval zero", doc(svc("CheckInterval", 0)), []where{{0, "web", "CheckInterval"}}, "at least"},
		{"interval no unit", doc(svc("CheckInterval", "3")), []where{{0, "web", "CheckInterval"}}, `duration string such as "500ms"`},
		{"interval bool", doc(svc("CheckInterval", true)), []where{{0, "web", "CheckInterval"}}, "got boolean"},
		{"grace zero", doc(svc("GracePeriod", 0)), []where{{0, "web", "GracePeriod"}}, "> 0"},
		{"grace null", doc(svc("GracePeriod", nil)), []where{{0, "web", "GracePeriod"}}, "leave the field out to use its default"},
		{"grace negative string", doc(svc("GracePeriod", "-1m")), []where{{0, "web", "GracePeriod"}}, "> 0"},
		{"alert zero", doc(svc("AlertAfterFailures", 0)), []where{{0, "web", "AlertAfterFailures"}}, ">= 1"},
		{"metric unknown", doc(svc("StatusMetric", "idle")), []where{{0, "web", "StatusMetric"}}, `"active" or "busy"`},
		{"timeout zero", doc(svc("StatusTimeout", 0)), []where{{0, "web", "StatusTimeout"}}, "> 0"},
		{"timeout above interval", doc(svc("StatusTimeout", 10)), []where{{0, "web", "StatusTimeout"}}, "must not exceed CheckInterval (3s), got 10s"},
		{"tls verify string", doc(svc("StatusTLSVerify", "yes")), []where{{0, "web", "StatusTLSVerify"}}, "true or false"},
		{"auth name alone", doc(svc("StatusAuthName", "X-Key")), []where{{0, "web", "StatusAuthValue"}}, "required when StatusAuthName"},
		{"auth value alone", doc(svc("StatusAuthValue", authSecret)), []where{{0, "web", "StatusAuthName"}}, "required when StatusAuthValue"},
		{"auth name not a token", doc(svc("StatusAuthName", "X Key", "StatusAuthValue", "v")), []where{{0, "web", "StatusAuthName"}}, "valid HTTP header name"},
		{"auth value control", doc(svc("StatusAuthName", "X-Key", "StatusAuthValue", "a\r\nb")), []where{{0, "web", "StatusAuthValue"}}, "control characters"},
		{"slack http", doc(svc("SlackWebhookUrl", "http://hooks.slack.com/services/x")), []where{{0, "web", "SlackWebhookUrl"}}, "https"},
		{"slack not a url", doc(svc("SlackWebhookUrl", "hooks.slack.com/x")), []where{{0, "web", "SlackWebhookUrl"}}, "absolute"},
		{"slack empty", doc(svc("SlackWebhookUrl", "")), []where{{0, "web", "SlackWebhookUrl"}}, "must not be empty"},
		{"unknown field", doc(svc("ScaleOutThreshold", 100)), []where{{0, "web", "ScaleOutThreshold"}}, `did you mean "ScaleoutThreshold"?`},
		{"unknown field far", doc(svc("Colour", "red")), []where{{0, "web", "Colour"}}, "unknown field"},
		{"repeated field", `{"Services":[{"StatusUrl":"http://h/","EcsClusterName":"c","EcsServiceName":"s","MinDesiredCount":2,"MinDesiredCount":3}]}`,
			[]where{{0, "s", "MinDesiredCount"}}, "more than once"},
		{"duplicate service", doc(svc(), svc("EcsServiceName", "api"), svc()), []where{{2, "web", "EcsServiceName"}}, "app/web is also configured at Services[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ve := problems(t, tc.doc)
			got := make([]where, len(ve.Problems))
			for i, p := range ve.Problems {
				got[i] = where{p.Index, p.Service, p.Field}
			}
			assert.Equal(t, tc.want, got, ve.Error())
			assert.Contains(t, ve.Problems[0].Message, tc.msg)
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	d := `{
  "Services": [
    {"StatusUrl": "https://example-a.com/nginx-status", "EcsClusterName": "example-app", "EcsServiceName": "example-app",
     "ScaleoutThreshold": 0, "CheckIntervall": 5},
    {"StatusUrl": "ftp://example-b.com/", "EcsClusterName": "example-app-b", "EcsServiceName": "example-app-b",
     "ScaleoutThreshold": -3, "MinDesiredCount": 2.5, "MaxDesiredCount": 0, "GracePeriod": "soon"},
    {"EcsServiceName": "example-app"}
  ],
  "Region": "ap-northeast-1"
}`
	ve := problems(t, d)
	assert.Equal(t, strings.Join([]string{
		`Region: unknown field`,
		`Services[0] (example-app): CheckIntervall: unknown field; did you mean "CheckInterval"?`,
		`Services[0] (example-app): ScaleoutThreshold: must be a finite number > 0, got 0`,
		`Services[1] (example-app-b): StatusUrl: must be an absolute http or https URL`,
		`Services[1] (example-app-b): MinDesiredCount: must be a whole number, got 2.5`,
		`Services[1] (example-app-b): MaxDesiredCount: must be >= 1; leave it out for no cap`,
		`Services[1] (example-app-b): GracePeriod: must be a number of seconds or a duration string such as "500ms" or "3m", got "soon"`,
		`Services[1] (example-app-b): ScaleoutThreshold: must be a finite number > 0, got -3`,
		`Services[2] (example-app): StatusUrl: required`,
		`Services[2] (example-app): EcsClusterName: required`,
	}, "\n"), ve.Error())
}

func TestUnknownFieldSuggestions(t *testing.T) {
	for _, tc := range []struct{ given, want string }{
		{"statusurl", "StatusUrl"},
		{"ScaleOutThreshold", "ScaleoutThreshold"},
		{"MinDesireCount", "MinDesiredCount"},
		{"SlackWebhookURL", "SlackWebhookUrl"},
		{"StatusTlsVerify", "StatusTLSVerify"},
		{"Grace", ""},
	} {
		t.Run(tc.given, func(t *testing.T) {
			ve := problems(t, doc(svc(tc.given, 1)))
			require.Len(t, ve.Problems, 1)
			p := ve.Problems[0]
			assert.Equal(t, tc.given, p.Field)
			if tc.want == "" {
				assert.Equal(t, "unknown field", p.Message)
			} else {
				assert.Equal(t, fmt.Sprintf("unknown field; did you mean %q?", tc.want), p.Message)
			}
		})
	}
}

func TestSlackURLOnLoopbackMayBeHTTP(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:34567/hook", "http://[::1]:80/x", "http://localhost/x", "https://hooks.slack.com/x"} {
		_, err := configsrc.Parse([]byte(doc(svc("SlackWebhookUrl", u))))
		assert.NoError(t, err, u)
	}
}

// secretDoc holds both secrets.
func secretDoc() string {
	return doc(svc("StatusAuthName", "X-Key", "StatusAuthValue", authSecret, "SlackWebhookUrl", slackSecret))
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg, err := configsrc.Parse([]byte(secretDoc()))
	require.NoError(t, err)
	s := cfg.Services[0]
	require.Equal(t, authSecret, s.StatusAuthValue.Reveal())
	require.Equal(t, slackSecret, s.SlackWebhookURL.Reveal())

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%10s"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, s.StatusAuthValue))
	}
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	outputs = append(outputs, string(js), fmt.Sprint(s.SlackWebhookURL), s.StatusAuthValue.String(), s.SlackWebhookURL.GoString())

	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("start", "service", s, "config", cfg, "secret", s.StatusAuthValue)
		l.Info("start", slog.Any("any", any(*cfg)))
	}
	outputs = append(outputs, logs.String())

	for _, out := range outputs {
		assert.NotContains(t, out, authSecret)
		assert.NotContains(t, out, "s3cret")
	}
	assert.Contains(t, fmt.Sprintf("%+v", s), "StatusAuthValue:[redacted]")
	assert.Contains(t, string(js), `"SlackWebhookURL":"[redacted]"`)
	assert.Contains(t, logs.String(), `"StatusAuthValue":"[redacted]"`, "LogValue redacts")
	assert.Contains(t, logs.String(), `"ScaleoutThreshold":150`, "LogValue shows effective settings")
	assert.Equal(t, "", fmt.Sprint(configsrc.Secret("")), "an empty secret prints empty")
}

func TestErrorsNeverHoldSecrets(t *testing.T) {
	bad := []string{
		doc(svc("StatusAuthName", "bad name", "StatusAuthValue", authSecret+"\n", "SlackWebhookUrl", "http://hooks.slack.com/s3cret")),
		doc(svc("StatusAuthValue", authSecret, "SlackWebhookUrl", "ftp://s3cret")),
		doc(svc("SlackWebhookUrl", "http://s3cret host/")),
		doc(svc("SlackWebhookUrl", "https://hooks.slack.com/%zzs3cret")),
		doc(svc("SlackWebhookUrl", "https:///s3cret")),
	}
	for _, d := range bad {
		ve := problems(t, d)
		assert.NotContains(t, ve.Error(), "s3cret")
	}
}

func TestServiceLogValue(t *testing.T) {
	cfg, err := configsrc.Parse([]byte(doc(svc("StatusUrl", "https://user:pw@example-a.com/s", "MaxDesiredCount", 20))))
	require.NoError(t, err)
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("watching", "service", cfg.Services[0])
	var got struct{ Service map[string]any }
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	assert.Equal(t, map[string]any{
		"EcsClusterName": "app", "EcsServiceName": "web", "StatusUrl": "https://[redacted]@example-a.com/s",
		"StatusAuthName": "", "StatusAuthValue": "", "StatusTLSVerify": false, "StatusTLSServerName": "none", "StatusMetric": "active",
		"StatusTimeout": "3s", "SlackWebhookUrl": "", "ScaleoutThreshold": 150.0, "Paused": false,
		"MinDesiredCount": 5.0, "MaxDesiredCount": 20.0, "CheckInterval": "3s",
		"GracePeriod": "3m0s", "AlertAfterFailures": 5.0,
		"ScaleoutMode": "double", "EscalateWhenReady": false, "ScaleoutAfterChecks": 1.0, "StartupTimeout": "5m0s",
	}, got.Service)
}

func TestURLPasswordNeverPrinted(t *testing.T) {
	cfg, err := configsrc.Parse([]byte(doc(svc("StatusUrl", "https://alice:url-pa55word@example-a.com/s"))))
	require.NoError(t, err)
	s := cfg.Services[0]
	require.Equal(t, "https://alice:url-pa55word@example-a.com/s", s.StatusURL, "the real URL is kept for requests")
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%20v"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, *cfg), fmt.Sprintf(verb, &s))
	}
	outputs = append(outputs, s.String(), s.GoString(), fmt.Sprint([]configsrc.ServiceConfig{s}))
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "service", s, "config", cfg)
	outputs = append(outputs, logs.String())
	for _, out := range outputs {
		assert.NotContains(t, out, "pa55word")
		assert.NotContains(t, out, "alice")
	}
	assert.Contains(t, fmt.Sprintf("%+v", s), "StatusURL:https://[redacted]@example-a.com/s")
	assert.Contains(t, fmt.Sprintf("%+v", s), "EcsServiceName:web", "the rest prints as a struct does")
	assert.True(t, strings.HasPrefix(fmt.Sprintf("%#v", s), "configsrc.ServiceConfig{"), fmt.Sprintf("%#v", s))

	assert.Equal(t, "https://[redacted]@h/s", configsrc.RedactURL("https://u@h/s"))
	assert.Equal(t, "https://h/s?x=1", configsrc.RedactURL("https://h/s?x=1"))
	assert.Equal(t, "[unparsable URL]", configsrc.RedactURL("http://u:p@a b/%zz"))
}

// TestLargeBadDocumentCostsLittle: a 1 MiB document of empty services has
// about a million problems. The error lists MaxProblems of them and counts
// the rest; printing it is short, and what parsing keeps is in proportion to
// what is reported, not to the document. (Its garbage is collected as it
// goes: the binary's test of a reload of this document checks the process's
// peak memory.)
func TestLargeBadDocumentCostsLittle(t *testing.T) {
	body := strings.Repeat("{},", (configsrc.MaxDocumentSize-20)/3)
	d := []byte(`{"Services":[` + body + `{}]}`)
	require.LessOrEqual(t, len(d), configsrc.MaxDocumentSize)
	services := strings.Count(string(d), "{}")

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := configsrc.Parse(d)
	runtime.GC()
	runtime.ReadMemStats(&after)
	var ve *configsrc.ValidationError
	require.ErrorAs(t, err, &ve)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("parsing %d bytes (%d services) keeps %d KiB", len(d), services, kept>>10)
	assert.Less(t, kept, int64(1<<20), "an invalid document's error keeps little")

	assert.Len(t, ve.Problems, configsrc.MaxProblems)
	assert.Equal(t, 3*services-configsrc.MaxProblems, ve.Omitted, "3 required fields a service")
	msg := ve.Error()
	assert.Less(t, len(msg), 8<<10, "the report stays short")
	assert.True(t, strings.HasSuffix(msg, fmt.Sprintf("\n... and %d more problems", ve.Omitted)), msg[len(msg)-100:])
	assert.Equal(t, configsrc.MaxProblems+1, strings.Count(msg, "\n")+1)
}

func TestNamesCannotForgeLines(t *testing.T) {
	forged := "web\nServices[9] (evil): StatusUrl: forged"
	ve := problems(t, doc(svc("EcsServiceName", forged, "ScaleoutThreshold", -1, "Bad\nField", 1), svc("EcsServiceName", forged)))
	msg := ve.Error()
	for _, line := range strings.Split(msg, "\n") {
		assert.False(t, strings.HasPrefix(line, "Services[9]"), "forged line in:\n%s", msg)
	}
	assert.Equal(t, len(ve.Problems), strings.Count(msg, "\n")+1, msg)
	assert.Contains(t, msg, `Services[0] ("web\nServices[9] (evil): StatusUrl: forged"): ScaleoutThreshold:`)
	assert.Contains(t, msg, `"Bad\nField": unknown field`)
	assert.Contains(t, msg, `is also configured at Services[0]`)

	long := strings.Repeat("x", 100_000)
	ve = problems(t, doc(svc("EcsServiceName", long, long, 1)))
	assert.Less(t, len(ve.Error()), 1000, "names are cut short")

	assert.Equal(t, "example-app", configsrc.Printable("example-app"))
	assert.Equal(t, "日本語", configsrc.Printable("日本語"))
	assert.Equal(t, `"a\x1b[31mb"`, configsrc.Printable("a\x1b[31mb"))
}

func TestInvalidUTF8IsAnError(t *testing.T) {
	d := []byte("{\"Services\":[{\"StatusUrl\":\"http://h/\",\n \"EcsClusterName\":\"c\xffd\",\"EcsServiceName\":\"s\"}]}")
	_, err := configsrc.Parse(d)
	var ve *configsrc.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "invalid UTF-8 at line 2, column 21: the document must be UTF-8 text", ve.Error())

	_, err = configsrc.Parse([]byte(doc(svc("EcsClusterName", "日本語"))))
	assert.NoError(t, err, "valid UTF-8 beyond ASCII is fine")
}

func TestLogValueShowsNoCapAsNone(t *testing.T) {
	cfg, err := configsrc.Parse([]byte(doc(svc())))
	require.NoError(t, err)
	for _, a := range cfg.Services[0].LogValue().Group() {
		if a.Key == "MaxDesiredCount" {
			assert.Equal(t, "none", a.Value.String(), "0 would read as a cap the document rejects")
			return
		}
	}
	t.Fatal("no MaxDesiredCount in LogValue")
}

func TestParseAcceptsAByteOrderMark(t *testing.T) {
	cfg, err := configsrc.Parse(append([]byte("\xef\xbb\xbf"), seedExample...))
	require.NoError(t, err, "a UTF-8 BOM at the start is ignored")
	assert.Len(t, cfg.Services, 2)
	// Only at the start: elsewhere it is not JSON whitespace.
	_, err = configsrc.Parse([]byte("{\"Services\":\xef\xbb\xbf[]}"))
	assert.ErrorContains(t, err, "invalid JSON at line 1, column 13")
}

func TestStatusTLSServerName(t *testing.T) {
	cfg, err := configsrc.Parse([]byte(doc(svc("StatusUrl", "https://lb-1.ap-northeast-1.elb.amazonaws.com/nginx-status",
		"StatusTLSServerName", "shop.example.com", "StatusAuthName", "K", "StatusAuthValue", authSecret))))
	require.NoError(t, err)
	s := cfg.Services[0]
	assert.Equal(t, "shop.example.com", s.StatusTLSServerName)
	assert.True(t, s.StatusTLSVerify, "a server name turns verification on")
	assert.Equal(t, stubstatus.TLSMode{Verify: true, ServerName: "shop.example.com"}, s.TLS())
	assert.Empty(t, s.Insecure(), "the header goes over verified TLS")

	for _, tc := range []struct {
		svc  map[string]any
		want string
	}{
		{svc("StatusTLSServerName", "shop.example.com:443"), "StatusTLSServerName: must be a DNS name"},
		{svc("StatusTLSServerName", "https://shop.example.com"), "StatusTLSServerName: must be a DNS name"},
		{svc("StatusTLSServerName", ""), "StatusTLSServerName: must not be empty"},
		{svc("StatusTLSServerName", 1), "StatusTLSServerName: must be a string"},
		{svc("StatusUrl", "http://lb/s", "StatusTLSServerName", "shop.example.com"), "StatusTLSServerName: needs an https status URL"},
		{svc("StatusTLSVerify", false, "StatusTLSServerName", "shop.example.com"), "StatusTLSServerName: needs TLS verification"},
		{svc("StatusTlsServerName", "shop.example.com"), `did you mean "StatusTLSServerName"?`},
	} {
		ve := problems(t, doc(tc.svc))
		assert.Contains(t, ve.Error(), tc.want)
		assert.Len(t, ve.Problems, 1, "%v", ve.Problems)
	}
}

func TestWarningsOnCredentialsOverUnverifiedTLS(t *testing.T) {
	for _, tc := range []struct {
		svc  map[string]any
		warn bool
	}{
		{svc("StatusAuthName", "K", "StatusAuthValue", authSecret), true},
		{svc("StatusUrl", "https://u:p@example.com/s"), true},
		{svc("StatusAuthName", "K", "StatusAuthValue", authSecret, "StatusTLSVerify", true), false},
		{svc("StatusAuthName", "K", "StatusAuthValue", authSecret, "StatusTLSServerName", "example.com"), false},
		{svc(), false},
		{svc("StatusUrl", "http://10.0.0.1/s", "StatusAuthName", "K", "StatusAuthValue", authSecret), false},
	} {
		cfg, err := configsrc.Parse([]byte(doc(tc.svc)))
		require.NoError(t, err)
		w := cfg.Services[0].Insecure()
		if !tc.warn {
			assert.Empty(t, w, "%v", tc.svc)
			continue
		}
		require.Len(t, w, 1, "%v", tc.svc)
		assert.Contains(t, w[0], "not verified")
		assert.Contains(t, w[0], "StatusTLSServerName")
		assert.NotContains(t, w[0], authSecret)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(good, []byte(seedExample), 0o600))
	cfg, err := configsrc.Load(context.Background(), configsrc.File{Path: good})
	require.NoError(t, err)
	assert.Len(t, cfg.Services, 2)

	missing := filepath.Join(dir, "nope.json")
	_, err = configsrc.Load(context.Background(), configsrc.File{Path: missing})
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)
	assert.ErrorIs(t, err, os.ErrNotExist)

	invalid := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(invalid, []byte(`{"Services":[{}]}`), 0o600))
	_, err = configsrc.Load(context.Background(), configsrc.File{Path: invalid})
	var ve *configsrc.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Len(t, ve.Problems, 3)
	assert.True(t, strings.HasPrefix(err.Error(), "config from file "+invalid+": Services[0]: StatusUrl: required"), err.Error())
}

func TestValidationErrorIsMatchable(t *testing.T) {
	_, err := configsrc.Parse([]byte(`{`))
	wrapped := fmt.Errorf("start: %w", err)
	var ve *configsrc.ValidationError
	require.True(t, errors.As(wrapped, &ve))
	assert.Equal(t, -1, ve.Problems[0].Index)
}

func TestSyntaxErrorDoesNotEchoTheDocument(t *testing.T) {
	for _, doc := range []string{
		`{"Services":[{"StatusAuthValue":tok-s3cret}]}`,
		`{"Services":[{"StatusAuthValue":"a\qb"}]}`,
		"{\"Services\":[{\"StatusAuthValue\":\"a\x01b\"}]}",
		`{"Services":[{"StatusAuthValue":'x'}]}`,
	} {
		_, err := configsrc.Parse([]byte(doc))
		require.Error(t, err, doc)
		msg := err.Error()
		assert.Contains(t, msg, "invalid character", doc)
		assert.Contains(t, msg, "line 1, column", doc)
		for _, leak := range []string{"'t'", "'q'", `'\x01'`, `'\''`} {
			assert.NotContains(t, msg, leak, doc)
		}
	}
}

// tenThousand is a file of 10,000 services, each with an auth header and a
// Slack webhook: the size one process is meant to watch.
func tenThousand() []byte {
	var b bytes.Buffer
	b.WriteString(`{"Services": [`)
	for i := range 10_000 {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"StatusUrl": "https://lb-%d.example.com/nginx-status", "StatusAuthName": "Status-Auth-Key", `+
			`"StatusAuthValue": "s3cret-%d", "ScaleoutThreshold": 100, "CheckInterval": 3, "EcsClusterName": "shop-%d", `+
			`"EcsServiceName": "svc-%d", "SlackWebhookUrl": "https://hooks.slack.com/services/T000/B000/%024d"}`, i%50, i, i%20, i, i)
	}
	b.WriteString("]}")
	return b.Bytes()
}

func TestParseTenThousandServices(t *testing.T) {
	doc := tenThousand()
	require.Greater(t, len(doc), 1<<20, "larger than the old 1 MiB limit")
	require.Less(t, len(doc), configsrc.MaxDocumentSize/2, "with room to spare")
	cfg, err := configsrc.Parse(doc)
	require.NoError(t, err)
	require.Len(t, cfg.Services, 10_000)
	assert.Equal(t, "svc-9999", cfg.Services[9999].EcsServiceName)
}

func BenchmarkParseTenThousandServices(b *testing.B) {
	doc := tenThousand()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := configsrc.Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
