// Package configsrc reads fast-autoscaler's configuration: the seed-compatible
// JSON document (schema, defaults, strict validation) and the sources it comes
// from (File here; SSM Parameter Store in configsrc/ssm). A configuration may
// also be several documents whose services are merged (MultiSource, LoadAll,
// Merge): an SSM parameter path, for more services than one parameter holds.
//
// The document keeps the seed's shape and field names:
//
//	{"Services": [{"StatusUrl": "https://example-a.com/nginx-status",
//	               "EcsClusterName": "example-app", "EcsServiceName": "example-app",
//	               "ScaleoutThreshold": 100}]}
//
// Parse fills in a default for every field left out and reports every problem
// in the document at once as a *ValidationError.
package configsrc

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

// MaxDocumentSize is the largest document Parse accepts, in bytes: 8 MiB,
// room for a file of 20,000 services at about 400 bytes each (a service
// with an auth header and a Slack webhook; a bare one takes about 160). One
// process watches 10,000 services, and their config may be one file. The
// bound keeps a wrong file (a log, a dump) from costing more than a few
// times its size in memory while it is read and rejected. An SSM parameter
// holds at most 8 KiB, far below it.
const MaxDocumentSize = 8 << 20

// Config is the whole configuration, validated, defaults filled in: one
// document, or the services of several merged (see LoadAll).
type Config struct {
	// Services lists the services to watch, in document order (documents in
	// the order their source gave them); never empty.
	Services []ServiceConfig
	// Documents describes the documents the services came from, in order.
	Documents []DocumentInfo
}

// DocumentInfo describes one document of a Config.
type DocumentInfo struct {
	// Name names the document ("SSM parameter /a/b"); "" for the only
	// document of a single Source, which the source's own name describes.
	Name string
	// Size is the document's length in bytes.
	Size int
	// Services is how many services it configures.
	Services int
}

// ServiceConfig is one service's effective settings, defaults filled in. The
// document's field name is given for each.
type ServiceConfig struct {
	// StatusURL ("StatusUrl", required unless TaskStatusUrl is given) is the
	// nginx stub_status URL: an absolute http or https URL with a host. With
	// TaskStatusUrl it is the fallback read while the service's tasks cannot
	// be listed; empty when not given.
	StatusURL string
	// TaskStatusURL ("TaskStatusUrl", optional) reads every running task of
	// the service instead of one through the load balancer: a URL template
	// whose host is {ip}, such as "http://{ip}:8080/nginx-status" (see
	// stubstatus.CheckTaskURL), filled in with each task's private address.
	// Empty: the seed's single StatusUrl reading.
	TaskStatusURL string
	// TaskAggregate ("TaskAggregate") is how the tasks' figures are compared
	// with ScaleoutThreshold: stubstatus.AggregateAvg ("avg", the default
	// with TaskStatusUrl) or AggregateMax ("max"). Given only with
	// TaskStatusUrl; empty without it.
	TaskAggregate stubstatus.Aggregate
	// TaskRefreshInterval ("TaskRefreshInterval") is how often the task list
	// is refreshed from ECS, give or take a tenth. Default
	// stubstatus.DefaultTaskRefresh (15 s) with TaskStatusUrl; at least 1 s.
	// Given only with TaskStatusUrl; 0 without it.
	TaskRefreshInterval time.Duration
	// StatusAuthName ("StatusAuthName", optional) is an HTTP header name sent
	// with each status request. Given only together with StatusAuthValue.
	StatusAuthName string
	// StatusAuthValue ("StatusAuthValue", optional) is that header's value.
	StatusAuthValue Secret
	// StatusTLSVerify ("StatusTLSVerify") checks the status URL's TLS
	// certificate. Default false: like the seed, verification is skipped so an
	// ALB host name works; true when StatusTLSServerName is given.
	StatusTLSVerify bool
	// StatusTLSServerName ("StatusTLSServerName", optional) is the name the
	// status URL's certificate is verified against (and the SNI sent) while
	// the connection goes to the URL's host: the site's name, with the URL
	// naming its ALB. Needs an https StatusUrl and StatusTLSVerify (its
	// default then). See stubstatus.TLSMode.
	StatusTLSServerName string
	// StatusMetric ("StatusMetric") is stubstatus.MetricActive ("active",
	// the default) or stubstatus.MetricBusy ("busy").
	StatusMetric stubstatus.Metric
	// StatusTimeout ("StatusTimeout") bounds one status request. Default
	// Policy.CheckInterval; must be > 0 and not exceed CheckInterval, so a
	// read always ends before the next check is due.
	StatusTimeout time.Duration
	// EcsClusterName ("EcsClusterName", required) is the ECS cluster.
	EcsClusterName string
	// EcsServiceName ("EcsServiceName", required) is the ECS service.
	EcsServiceName string
	// SlackWebhookURL ("SlackWebhookUrl", optional) is the Slack incoming
	// webhook told about scale-outs; empty means no Slack. Must be https
	// (http only for a loopback host, as in tests).
	SlackWebhookURL Secret
	// Policy holds ScaleoutThreshold, MinDesiredCount, MaxDesiredCount,
	// CheckInterval, GracePeriod, AlertAfterFailures, ScaleoutMode,
	// TargetPerTask, StepScalingPolicyConfiguration (Policy.Steps),
	// EscalateWhenReady, ScaleoutAfterChecks and StartupTimeout (document
	// names); defaults are autoscaler.DefaultPolicy's.
	Policy autoscaler.Policy
	// Paused ("Paused") keeps the service from being scaled out: it is read
	// as usual, and a reading over the threshold is logged and counted but
	// changes nothing. Default false.
	Paused bool
	// Document names the document the service came from (DocumentInfo.Name);
	// "" for a single Source's only document. Not a document field.
	Document string
}

// TLS returns the service's status-request TLS mode.
func (s ServiceConfig) TLS() stubstatus.TLSMode {
	return stubstatus.TLSMode{Verify: s.StatusTLSVerify, ServerName: s.StatusTLSServerName}
}

// Warnings returns what is valid but unsafe in the service's settings, one
// sentence each: Insecure's, and no MaxDesiredCount (only a scalable
// target's MaxCapacity can then bound a scale-out).
func (s ServiceConfig) Warnings() []string {
	out := s.Insecure()
	if s.Policy.MaxDesiredCount == 0 {
		out = append(out, "no MaxDesiredCount: scale-outs are bounded only by the service's Application Auto Scaling "+
			"scalable target (its MaxCapacity), if it has one; without one they have no cap at all")
	}
	return out
}

// Insecure returns what is valid but insecure in the service's settings,
// one sentence each: today, credentials sent over TLS that is not verified.
func (s ServiceConfig) Insecure() []string {
	if !stubstatus.ExposesCredentials(s.StatusURL, s.StatusAuthName != "", s.TLS()) {
		return nil
	}
	return []string{"the status request's credentials (StatusAuthName's header, or the URL's user info) are sent " +
		"over TLS that is not verified (StatusTLSVerify false), so anyone in the network path can read them; " +
		"set StatusTLSServerName to the name the certificate carries (the URL may keep naming the ALB), " +
		"or StatusTLSVerify when the URL's host matches the certificate"}
}

// Equal reports whether s and o hold the same settings (the step scaling
// configuration compared by value).
func (s ServiceConfig) Equal(o ServiceConfig) bool { return reflect.DeepEqual(s, o) }

// ID returns the service's identity as the engine and scalers know it.
func (s ServiceConfig) ID() scaler.ServiceID {
	return scaler.ServiceID{Cluster: s.EcsClusterName, Name: s.EcsServiceName}
}

// Name returns "cluster/service".
func (s ServiceConfig) Name() string { return s.EcsClusterName + "/" + s.EcsServiceName }

// LogValue returns the effective settings as a group keyed by the document's
// field names, with secrets redacted and any user info in StatusUrl and
// TaskStatusUrl replaced by "[redacted]".
func (s ServiceConfig) LogValue() slog.Value {
	p := s.Policy
	attrs := []slog.Attr{
		slog.String("EcsClusterName", s.EcsClusterName),
		slog.String("EcsServiceName", s.EcsServiceName),
		slog.String("StatusUrl", RedactURL(s.StatusURL)),
		slog.String("StatusAuthName", s.StatusAuthName),
		slog.String("StatusAuthValue", s.StatusAuthValue.String()),
		slog.Bool("StatusTLSVerify", s.StatusTLSVerify),
		slog.String("StatusTLSServerName", cmp.Or(s.StatusTLSServerName, "none")),
		slog.String("StatusMetric", string(s.StatusMetric)),
		slog.String("StatusTimeout", s.StatusTimeout.String()),
		slog.String("SlackWebhookUrl", s.SlackWebhookURL.String()),
		slog.Float64("ScaleoutThreshold", p.ScaleoutThreshold),
		slog.Int("MinDesiredCount", p.MinDesiredCount),
		maxDesired(p.MaxDesiredCount),
		slog.String("CheckInterval", p.CheckInterval.String()),
		slog.String("GracePeriod", p.GracePeriod.String()),
		slog.Int("AlertAfterFailures", p.AlertAfterFailures),
		slog.Bool("Paused", s.Paused),
		slog.String("ScaleoutMode", string(p.EffectiveMode())),
	}
	switch p.EffectiveMode() {
	case autoscaler.ModeCapacity:
		attrs = append(attrs, slog.Float64("TargetPerTask", p.EffectiveTargetPerTask()))
	case autoscaler.ModeSteps:
		attrs = append(attrs, slog.String(autoscaler.StepsField, p.Steps.String()))
	}
	if p.EffectiveMode() != autoscaler.ModeCapacity {
		attrs = append(attrs, slog.Bool("EscalateWhenReady", p.EscalateWhenReady))
	}
	attrs = append(attrs,
		slog.Int("ScaleoutAfterChecks", max(p.ScaleoutAfterChecks, 1)),
		slog.String("StartupTimeout", p.EffectiveStartupTimeout().String()),
	)
	if s.TaskStatusURL != "" { // the per-task fields, only where they apply
		attrs = append(attrs,
			slog.String("TaskStatusUrl", redactTemplate(s.TaskStatusURL)),
			slog.String("TaskAggregate", string(s.TaskAggregate)),
			slog.String("TaskRefreshInterval", s.TaskRefreshInterval.String()))
	}
	return slog.GroupValue(attrs...)
}

// Format prints s as fmt prints a struct, for every verb and flag (%v, %+v,
// %#v, %s, ...), except that the user info of StatusURL and TaskStatusURL
// shows as "[redacted]" (and the secrets, as always, as "[redacted]"), so a
// library user who logs a ServiceConfig with fmt leaks nothing.
func (s ServiceConfig) Format(f fmt.State, verb rune) {
	type fields ServiceConfig // the same fields without this method
	shown := fields(s)
	shown.StatusURL, shown.TaskStatusURL = RedactURL(s.StatusURL), redactTemplate(s.TaskStatusURL)
	out := fmt.Sprintf(fmt.FormatString(f, verb), shown)
	if rest, ok := strings.CutPrefix(out, "configsrc.fields{"); ok { // %#v names the type
		out = "configsrc.ServiceConfig{" + rest
	}
	_, _ = io.WriteString(f, out)
}

// String returns s as %+v prints it: no secret, no URL password.
func (s ServiceConfig) String() string { return fmt.Sprintf("%+v", s) }

// GoString returns s as %#v prints it: no secret, no URL password.
func (s ServiceConfig) GoString() string { return fmt.Sprintf("%#v", s) }

// RedactURL returns raw with any user info (a user name, a password)
// replaced by "[redacted]": "https://[redacted]@example.com/status". A URL
// that does not parse is shown as "[unparsable URL]", since where its user
// info ends is unknown.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "[unparsable URL]"
	case u.User == nil:
		return raw
	}
	u.User = nil
	scheme, rest, _ := strings.Cut(u.String(), "//")
	return scheme + "//[redacted]@" + rest
}

// redactTemplate is RedactURL for a per-task URL template, whose host is
// stubstatus.TaskIPPlaceholder: "http://[redacted]@{ip}:8080/nginx-status".
func redactTemplate(t string) string {
	const stand = "192.0.2.1" // an address for documentation (RFC 5737) in place of {ip}
	if !strings.Contains(t, stubstatus.TaskIPPlaceholder) {
		return RedactURL(t)
	}
	r := RedactURL(strings.Replace(t, stubstatus.TaskIPPlaceholder, stand, 1))
	return strings.Replace(r, stand, stubstatus.TaskIPPlaceholder, 1)
}

// maxDesired shows MaxDesiredCount, "none" for no cap (0 is not a value the
// document accepts).
func maxDesired(n int) slog.Attr {
	if n == 0 {
		return slog.String("MaxDesiredCount", "none")
	}
	return slog.Int("MaxDesiredCount", n)
}

// utf8BOM is the byte-order mark some editors put at the start of a UTF-8
// file. Parse ignores it.
var utf8BOM = []byte("\xef\xbb\xbf")

// Parse decodes and validates a configuration document. Every field left out
// gets its default; a field given with an invalid value (0, negative, null,
// empty string, wrong type) is an error, never a default. Durations
// (CheckInterval, GracePeriod, StatusTimeout) are a number of seconds (0.5
// allowed) or a Go duration string ("500ms", "3m").
//
// A UTF-8 byte-order mark at the start of the document is ignored.
//
// On failure the error is a *ValidationError listing every problem found.
// Error messages never contain StatusAuthValue or SlackWebhookUrl.
func Parse(data []byte) (*Config, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(data) > MaxDocumentSize {
		return nil, docError(fmt.Sprintf("document is %d bytes, more than the limit of %d", len(data), MaxDocumentSize))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, docError("the document is empty")
	}
	if !utf8.Valid(data) {
		// encoding/json would silently turn the bytes into U+FFFD.
		line, col := position(data, invalidUTF8(data))
		return nil, docError(fmt.Sprintf("invalid UTF-8 at line %d, column %d: the document must be UTF-8 text", line, col))
	}
	var root json.RawMessage
	if err := json.Unmarshal(data, &root); err != nil { // also rejects trailing data
		return nil, docError(syntaxMessage(data, err))
	}
	var c collector
	members, ok := objectMembers(root)
	if !ok {
		return nil, docError("the document must be a JSON object, got " + kind(root))
	}
	var services json.RawMessage
	for _, m := range c.members(-1, members, []string{"Services"}) {
		services = m.value
	}
	cfg := &Config{}
	switch {
	case services == nil:
		c.add(-1, "Services", "required")
	case kind(services) != "array":
		c.add(-1, "Services", "must be an array of service objects, got "+kind(services))
	default:
		// One service at a time, so that an invalid document costs memory
		// in proportion to the problems reported, not to its size.
		fields := serviceFields()
		names := fieldNames(fields)
		firstAt := map[scaler.ServiceID]int{}
		n := 0
		eachElement(services, func(raw json.RawMessage) {
			sc := c.service(n, raw, fields, names)
			c.duplicate(n, sc, firstAt)
			if c.ok() {
				cfg.Services = append(cfg.Services, sc)
			} else {
				cfg.Services = nil
			}
			n++
		})
		if n == 0 {
			c.add(-1, "Services", "must list at least one service")
		}
	}
	if !c.ok() {
		slices.SortStableFunc(c.problems, func(a, b Problem) int { return cmp.Compare(a.Index, b.Index) })
		return nil, &ValidationError{Problems: c.problems, Omitted: c.omitted}
	}
	cfg.Documents = []DocumentInfo{{Size: len(data), Services: len(cfg.Services)}}
	return cfg, nil
}

// eachElement calls f with each element of a valid JSON array, in order.
func eachElement(array json.RawMessage, f func(json.RawMessage)) {
	dec := json.NewDecoder(bytes.NewReader(array))
	if _, err := dec.Token(); err != nil { // '['
		return // unreachable for a valid array
	}
	for dec.More() {
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			return // unreachable for valid JSON
		}
		f(raw)
	}
}

// invalidUTF8 returns the offset of the first byte of data that is not
// valid UTF-8, or len(data).
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// position returns the 1-based line and column (in bytes) of offset in data.
func position(data []byte, offset int) (line, col int) {
	prefix := data[:min(max(offset, 0), len(data))]
	line = 1 + bytes.Count(prefix, []byte("\n"))
	col = len(prefix) - bytes.LastIndexByte(prefix, '\n')
	return line, col
}

// member is one name/value pair of a JSON object, in document order.
type member struct {
	name  string
	value json.RawMessage
}

// objectMembers splits a valid JSON value into its members, or reports false
// when it is not an object.
func objectMembers(raw json.RawMessage) ([]member, bool) {
	if kind(raw) != "object" {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		name, ok := tok.(string)
		var value json.RawMessage
		if err != nil || !ok || dec.Decode(&value) != nil {
			return nil, false // unreachable for valid JSON
		}
		out = append(out, member{name, value})
	}
	return out, true
}

// kind names a valid JSON value's type as messages use it.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// syntaxMessage describes a JSON decoding error, with the line and column of
// a syntax error (1-based; the column counts bytes).
func syntaxMessage(data []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "invalid JSON: " + err.Error()
	}
	line, col := position(data, int(se.Offset))
	// encoding/json quotes the offending character, which may sit inside a
	// secret: keep the reason, drop the character.
	reason := quotedChar.ReplaceAllString(se.Error(), "invalid character")
	return fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, max(col-1, 1), reason)
}

// quotedChar matches encoding/json's "invalid character 'x'" prefix, including
// quoted quotes ('\”) and escapes ('\x01').
var quotedChar = regexp.MustCompile(`^invalid character '(?:\\'|[^'])*'`)
