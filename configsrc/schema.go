package configsrc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/notify/slack"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

// field is one entry of the service schema: its name in the document, whether
// it must be given, and how its JSON value is stored into a ServiceConfig.
// decode returns a message saying what is wrong with the value.
type field struct {
	name     string
	required bool
	decode   func(sc *ServiceConfig, raw json.RawMessage) error
}

// serviceDefaults is a service with every default filled in, before the
// document's fields are applied. StatusTimeout, left zero here, defaults to
// the effective CheckInterval.
func serviceDefaults() ServiceConfig {
	return ServiceConfig{StatusMetric: stubstatus.MetricActive, Policy: autoscaler.DefaultPolicy()}
}

// serviceFields is the schema of one service: the only list of its fields.
func serviceFields() []field {
	return []field{
		{"StatusUrl", true, text(func(c *ServiceConfig) *string { return &c.StatusURL }, stubstatus.CheckURL)}, // or TaskStatusUrl
		{"StatusAuthName", false, text(func(c *ServiceConfig) *string { return &c.StatusAuthName }, stubstatus.CheckHeaderName)},
		{"StatusAuthValue", false, text(func(c *ServiceConfig) *Secret { return &c.StatusAuthValue }, stubstatus.CheckHeaderValue)},
		{"StatusTLSVerify", false, boolean(func(c *ServiceConfig) *bool { return &c.StatusTLSVerify })},
		{"StatusTLSServerName", false, text(func(c *ServiceConfig) *string { return &c.StatusTLSServerName }, stubstatus.CheckTLSServerName)},
		{"StatusMetric", false, text(func(c *ServiceConfig) *stubstatus.Metric { return &c.StatusMetric }, checkMetric)},
		{"StatusTimeout", false, duration(func(c *ServiceConfig) *time.Duration { return &c.StatusTimeout }, positive)},
		{"EcsClusterName", true, text(func(c *ServiceConfig) *string { return &c.EcsClusterName }, nil)},
		{"EcsServiceName", true, text(func(c *ServiceConfig) *string { return &c.EcsServiceName }, nil)},
		{"SlackWebhookUrl", false, text(func(c *ServiceConfig) *Secret { return &c.SlackWebhookURL }, slack.CheckWebhookURL)},
		{"ScaleoutThreshold", false, number(func(c *ServiceConfig) *float64 { return &c.Policy.ScaleoutThreshold })},
		{"MinDesiredCount", false, count(func(c *ServiceConfig) *int { return &c.Policy.MinDesiredCount }, nil)},
		{"MaxDesiredCount", false, count(func(c *ServiceConfig) *int { return &c.Policy.MaxDesiredCount }, explicitCap)},
		{"CheckInterval", false, duration(func(c *ServiceConfig) *time.Duration { return &c.Policy.CheckInterval }, nil)},
		{"GracePeriod", false, duration(func(c *ServiceConfig) *time.Duration { return &c.Policy.GracePeriod }, nil)},
		{"AlertAfterFailures", false, count(func(c *ServiceConfig) *int { return &c.Policy.AlertAfterFailures }, nil)},
		{"ScaleoutMode", false, text(func(c *ServiceConfig) *autoscaler.ScaleoutMode { return &c.Policy.ScaleoutMode }, nil)},
		{"TargetPerTask", false, positiveNumber(func(c *ServiceConfig) *float64 { return &c.Policy.TargetPerTask })},
		{autoscaler.StepsField, false, steps},
		{"EscalateWhenReady", false, boolean(func(c *ServiceConfig) *bool { return &c.Policy.EscalateWhenReady })},
		{"ScaleoutAfterChecks", false, count(func(c *ServiceConfig) *int { return &c.Policy.ScaleoutAfterChecks }, atLeastOne)},
		{"StartupTimeout", false, duration(func(c *ServiceConfig) *time.Duration { return &c.Policy.StartupTimeout }, positive)},
		{"Paused", false, boolean(func(c *ServiceConfig) *bool { return &c.Paused })},
		{"TaskStatusUrl", false, text(func(c *ServiceConfig) *string { return &c.TaskStatusURL }, stubstatus.CheckTaskURL)},
		{"TaskAggregate", false, text(func(c *ServiceConfig) *stubstatus.Aggregate { return &c.TaskAggregate }, checkAggregate)},
		{"TaskRefreshInterval", false, duration(func(c *ServiceConfig) *time.Duration { return &c.TaskRefreshInterval }, stubstatus.CheckTaskRefresh)},
	}
}

// fieldNames returns the names of fields, in order.
func fieldNames(fields []field) []string {
	names := make([]string, len(fields))
	for j, f := range fields {
		names[j] = f.name
	}
	return names
}

// requiredUnless names, for a required field, the field that may stand in
// for it: a service read task by task needs no StatusUrl.
var requiredUnless = map[string]string{"StatusUrl": "TaskStatusUrl"}

// perTaskFields are the fields that mean something only with TaskStatusUrl.
var perTaskFields = []string{"TaskAggregate", "TaskRefreshInterval"}

// collector gathers problems: the first MaxProblems, and a count of the
// rest.
type collector struct {
	problems []Problem
	omitted  int
}

func (c *collector) add(index int, field, msg string) {
	if len(c.problems) >= MaxProblems {
		c.omitted++
		return
	}
	c.problems = append(c.problems, Problem{Index: index, Field: field, Message: msg})
}

// ok reports that no problem was found so far.
func (c *collector) ok() bool { return len(c.problems) == 0 && c.omitted == 0 }

// members reports unknown and repeated names among an object's members and
// returns the known ones.
func (c *collector) members(index int, ms []member, known []string) []member {
	var out []member
	seen := map[string]bool{}
	for _, m := range ms {
		switch {
		case !slices.Contains(known, m.name):
			msg := "unknown field"
			if s := suggest(m.name, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			c.add(index, m.name, msg)
		case seen[m.name]:
			c.add(index, m.name, "given more than once")
		default:
			seen[m.name] = true
			out = append(out, m)
		}
	}
	return out
}

// service decodes and checks Services[i].
func (c *collector) service(i int, raw json.RawMessage, fields []field, names []string) ServiceConfig {
	sc := serviceDefaults()
	first := len(c.problems)
	defer func() { // name the service in its problems once its name is known
		for j := first; j < len(c.problems); j++ {
			c.problems[j].Service = sc.EcsServiceName
		}
	}()
	ms, ok := objectMembers(raw)
	if !ok {
		c.add(i, "", "must be a JSON object, got "+kind(raw))
		return sc
	}
	given := map[string]json.RawMessage{}
	for _, m := range c.members(i, ms, names) {
		given[m.name] = m.value
	}
	bad := map[string]bool{}
	problem := func(field, msg string) {
		bad[field] = true
		c.add(i, field, msg)
	}
	for _, f := range fields {
		raw, ok := given[f.name]
		_, standIn := given[requiredUnless[f.name]]
		switch {
		case !ok && f.required && !standIn:
			problem(f.name, "required")
		case !ok && f.required:
		case !ok:
		case kind(raw) == "null" && f.required:
			problem(f.name, "must not be null")
		case kind(raw) == "null":
			problem(f.name, "must not be null; leave the field out to use its default")
		default:
			if err := f.decode(&sc, raw); err != nil {
				bad[f.name] = true
				for _, e := range unjoin(err) {
					if fe, ok := errors.AsType[*autoscaler.FieldError](e); ok { // a nested field
						c.add(i, fe.Field, fe.Problem)
					} else {
						c.add(i, f.name, e.Error())
					}
				}
			}
		}
	}
	if _, ok := given[autoscaler.StepsField]; ok && !bad[autoscaler.StepsField] && sc.Policy.Steps.Cooldown > 0 {
		if _, ok := given["GracePeriod"]; ok {
			problem(autoscaler.StepsField+".Cooldown", "give GracePeriod or "+autoscaler.StepsField+".Cooldown, not both")
		}
	}
	_, hasName := given["StatusAuthName"]
	_, hasValue := given["StatusAuthValue"]
	switch {
	case hasName && !hasValue:
		problem("StatusAuthValue", "required when StatusAuthName is given")
	case hasValue && !hasName:
		problem("StatusAuthName", "required when StatusAuthValue is given")
	}
	if _, ok := given["TaskStatusUrl"]; ok {
		if sc.TaskAggregate == "" {
			sc.TaskAggregate = stubstatus.AggregateAvg
		}
		if sc.TaskRefreshInterval == 0 {
			sc.TaskRefreshInterval = stubstatus.DefaultTaskRefresh
		}
	} else {
		for _, name := range perTaskFields {
			if _, ok := given[name]; ok {
				problem(name, "applies only with TaskStatusUrl (per-task reading); give TaskStatusUrl or leave it out")
			}
		}
	}
	if _, ok := given["StatusTLSServerName"]; ok && !bad["StatusTLSServerName"] {
		if _, ok := given["StatusTLSVerify"]; !ok {
			sc.StatusTLSVerify = true // the name is what the certificate is verified against
		}
		// The name applies to every status request: it must suit one of them.
		var targets []string
		if sc.StatusURL != "" {
			targets = append(targets, sc.StatusURL)
		}
		if sc.TaskStatusURL != "" {
			targets = append(targets, strings.Replace(sc.TaskStatusURL, stubstatus.TaskIPPlaceholder, "192.0.2.1", 1))
		}
		var err error
		for _, t := range targets {
			if err = stubstatus.CheckTLS(t, sc.TLS()); err == nil {
				break
			}
		}
		if err != nil && !bad["StatusUrl"] && !bad["TaskStatusUrl"] && !bad["StatusTLSVerify"] {
			problem("StatusTLSServerName", err.Error())
		}
	}
	if _, ok := given["StatusTimeout"]; !ok {
		sc.StatusTimeout = sc.Policy.CheckInterval
	} else if ci := sc.Policy.CheckInterval; !bad["StatusTimeout"] && !bad["CheckInterval"] && sc.StatusTimeout > ci && ci >= autoscaler.MinCheckInterval {
		problem("StatusTimeout", fmt.Sprintf("must not exceed CheckInterval (%v), got %v", ci, sc.StatusTimeout))
	}
	for _, err := range unjoin(sc.Policy.Validate()) {
		var fe *autoscaler.FieldError
		switch {
		case !errors.As(err, &fe):
			c.add(i, "", err.Error())
		case !bad[fe.Field]: // a value that did not decode was not stored
			c.add(i, fe.Field, fe.Problem)
		}
	}
	return sc
}

// duplicate reports Services[i] when a service before it (recorded in
// firstAt) has the same cluster and name.
func (c *collector) duplicate(i int, s ServiceConfig, firstAt map[scaler.ServiceID]int) {
	if s.EcsClusterName == "" || s.EcsServiceName == "" {
		return
	}
	j, ok := firstAt[s.ID()]
	if !ok {
		firstAt[s.ID()] = i
		return
	}
	before := len(c.problems)
	c.add(i, "EcsServiceName", fmt.Sprintf("%s is also configured at Services[%d]", Printable(s.Name()), j))
	if len(c.problems) > before {
		c.problems[before].Service = s.EcsServiceName
	}
}

// unjoin splits an errors.Join result into its errors.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// typeError says what a value should have been.
func typeError(want string, raw json.RawMessage) error {
	return fmt.Errorf("must be %s, got %s", want, kind(raw))
}

// text decodes a non-empty string and checks it with check (when not nil).
func text[S ~string](dst func(*ServiceConfig) *S, check func(string) error) func(*ServiceConfig, json.RawMessage) error {
	return func(sc *ServiceConfig, raw json.RawMessage) error {
		var s string
		if kind(raw) != "string" || json.Unmarshal(raw, &s) != nil {
			return typeError("a string", raw)
		}
		if s == "" {
			return errors.New("must not be empty; leave the field out if it is not wanted")
		}
		if check != nil {
			if err := check(s); err != nil {
				return err
			}
		}
		*dst(sc) = S(s)
		return nil
	}
}

func boolean(dst func(*ServiceConfig) *bool) func(*ServiceConfig, json.RawMessage) error {
	return func(sc *ServiceConfig, raw json.RawMessage) error {
		if kind(raw) != "boolean" {
			return typeError("true or false", raw)
		}
		*dst(sc) = string(raw) == "true"
		return nil
	}
}

// float reads a JSON number.
func float(raw json.RawMessage) (float64, error) {
	if kind(raw) != "number" {
		return 0, typeError("a number", raw)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, fmt.Errorf("number %s is out of range", raw)
	}
	return f, nil
}

func number(dst func(*ServiceConfig) *float64) func(*ServiceConfig, json.RawMessage) error {
	return func(sc *ServiceConfig, raw json.RawMessage) error {
		f, err := float(raw)
		if err == nil {
			*dst(sc) = f
		}
		return err
	}
}

// positiveNumber decodes a number > 0 (0, which Policy reads as "the
// default", is refused).
func positiveNumber(dst func(*ServiceConfig) *float64) func(*ServiceConfig, json.RawMessage) error {
	return func(sc *ServiceConfig, raw json.RawMessage) error {
		f, err := float(raw)
		switch {
		case err != nil:
			return err
		case !(f > 0):
			return fmt.Errorf("must be a number > 0, got %s", raw)
		}
		*dst(sc) = f
		return nil
	}
}

// count decodes a whole number of tasks (or failures) and checks it with
// check (when not nil). The range is ECS's int32.
func count(dst func(*ServiceConfig) *int, check func(int) error) func(*ServiceConfig, json.RawMessage) error {
	return func(sc *ServiceConfig, raw json.RawMessage) error {
		var n int
		if err := whole(raw, &n); err != nil {
			return err
		}
		if check != nil {
			if err := check(n); err != nil {
				return err
			}
		}
		*dst(sc) = n
		return nil
	}
}

// duration decodes a number of seconds or a Go duration string and checks it
// with check (when not nil). A value beyond time.Duration's range (about 292
// years either way) is an error saying so, never a wrapped-around value.
func duration(dst func(*ServiceConfig) *time.Duration, check func(time.Duration) error) func(*ServiceConfig, json.RawMessage) error {
	const want = `a number of seconds or a duration string such as "500ms" or "3m"`
	return func(sc *ServiceConfig, raw json.RawMessage) error {
		var d time.Duration
		switch kind(raw) {
		case "number":
			secs, err := float(raw)
			if err != nil {
				return fmt.Errorf("%s seconds is out of range", raw)
			}
			// A float64 holds 2^63 exactly; time.Duration(2^63) would wrap
			// around to a negative duration.
			switch ns := math.Round(secs * float64(time.Second)); {
			case ns >= 1<<63:
				return fmt.Errorf("%s seconds is too long: a duration is at most %v", raw, time.Duration(math.MaxInt64))
			case ns < -(1 << 63):
				return fmt.Errorf("must be > 0, got %s seconds", raw)
			default:
				d = time.Duration(ns)
			}
		case "string":
			var s string
			_ = json.Unmarshal(raw, &s) // cannot fail: a valid JSON string
			var err error
			if d, err = time.ParseDuration(s); err != nil {
				switch {
				case !durationShape.MatchString(s):
					return fmt.Errorf("must be %s, got %q", want, cut(s, maxMessage/2))
				case strings.HasPrefix(s, "-"):
					return fmt.Errorf("must be > 0, got %q", s)
				}
				return fmt.Errorf("%q is too long: a duration is at most %v", s, time.Duration(math.MaxInt64))
			}
		default:
			return typeError(want, raw)
		}
		if check != nil {
			if err := check(d); err != nil {
				return err
			}
		}
		*dst(sc) = d
		return nil
	}
}

// durationShape matches what time.ParseDuration reads; a string of this
// shape that does not parse is out of range.
var durationShape = regexp.MustCompile(`^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$`)

func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("must be > 0, got %v", d)
	}
	return nil
}

// atLeastOne rejects 0, which Policy reads as "the default".
func atLeastOne(n int) error {
	if n < 1 {
		return fmt.Errorf("must be >= 1, got %d", n)
	}
	return nil
}

// explicitCap rejects MaxDesiredCount 0, which Policy reads as "no cap".
func explicitCap(n int) error {
	if n == 0 {
		return errors.New("must be >= 1; leave it out for no cap")
	}
	return nil
}

func checkAggregate(s string) error {
	_, err := stubstatus.ParseAggregate(s)
	return err
}

func checkMetric(s string) error {
	_, err := stubstatus.ParseMetric(s)
	return err
}

// suggest returns the known name closest to name: one equal ignoring case if
// any, else the nearest by edit distance (ignoring case) when at most a third
// of the name (and at least 2 edits) differs; "" when none is close.
func suggest(name string, known []string) string {
	if len(name) > maxSuggested {
		return "" // no field name is that long; spare the edit distances
	}
	best, bestDist := "", max(2, len(name)/3)+1
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// maxSuggested is the longest unknown name suggest compares (bytes).
const maxSuggested = 64

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
