package configsrc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

// The members of a StepScalingPolicyConfiguration, as CloudFormation and the
// Application Auto Scaling API name them.
var (
	stepsMembers = []string{"AdjustmentType", "StepAdjustments", "MinAdjustmentMagnitude", "Cooldown", "MetricAggregationType"}
	stepMembers  = []string{"MetricIntervalLowerBound", "MetricIntervalUpperBound", "ScalingAdjustment"}
)

// steps decodes StepScalingPolicyConfiguration in Application Auto Scaling's
// own shape, so one can be pasted from a CloudFormation template. Cooldown is
// seconds (or a duration string); MetricAggregationType is accepted and has
// no effect, since each check takes one reading. Every problem is reported
// as an *autoscaler.FieldError naming the nested field; the semantic checks
// (gaps, overlaps, bounds) are autoscaler.Policy.Validate's.
func steps(sc *ServiceConfig, raw json.RawMessage) error {
	const prefix = autoscaler.StepsField
	ms, ok := objectMembers(raw)
	if !ok {
		return typeError("an object such as {\"AdjustmentType\": \"ChangeInCapacity\", \"StepAdjustments\": [...]}", raw)
	}
	var errs []error
	bad := func(field, msg string) {
		errs = append(errs, &autoscaler.FieldError{Field: prefix + field, Problem: msg})
	}
	given := known(ms, stepsMembers, "", bad)
	out := &autoscaler.StepScaling{}
	for _, name := range stepsMembers {
		v, ok := given[name]
		if !ok {
			continue
		}
		if kind(v) == "null" {
			bad("."+name, "must not be null; leave the field out instead")
			continue
		}
		var err error
		switch name {
		case "AdjustmentType":
			err = str(v, (*string)(&out.AdjustmentType))
		case "MinAdjustmentMagnitude":
			err = whole(v, &out.MinAdjustmentMagnitude)
		case "Cooldown":
			var d time.Duration
			if err = duration(func(*ServiceConfig) *time.Duration { return &d }, positive)(nil, v); err == nil {
				out.Cooldown = d
			}
		case "MetricAggregationType":
			var agg string
			if err = str(v, &agg); err == nil && !slices.Contains([]string{"Average", "Minimum", "Maximum"}, agg) {
				err = fmt.Errorf(`must be "Average", "Minimum" or "Maximum", got %q`, agg)
			}
		case "StepAdjustments":
			out.StepAdjustments, err = stepList(v, prefix+".StepAdjustments")
		}
		for _, e := range unjoin(err) {
			if fe, ok := errors.AsType[*autoscaler.FieldError](e); ok {
				errs = append(errs, fe)
			} else {
				bad("."+name, e.Error())
			}
		}
	}
	if _, ok := given["AdjustmentType"]; !ok {
		bad(".AdjustmentType", `required: "ChangeInCapacity", "PercentChangeInCapacity" or "ExactCapacity"`)
	}
	if _, ok := given["StepAdjustments"]; !ok {
		bad(".StepAdjustments", "required: a list of steps")
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	sc.Policy.Steps = out
	return nil
}

// stepList decodes StepAdjustments.
func stepList(raw json.RawMessage, path string) ([]autoscaler.StepAdjustment, error) {
	if kind(raw) != "array" {
		return nil, typeError("a list of steps", raw)
	}
	var items []json.RawMessage
	_ = json.Unmarshal(raw, &items) // cannot fail: an array of valid JSON
	var errs []error
	out := make([]autoscaler.StepAdjustment, len(items))
	for i, item := range items {
		at := path + "[" + strconv.Itoa(i) + "]"
		bad := func(field, msg string) { errs = append(errs, &autoscaler.FieldError{Field: at + field, Problem: msg}) }
		ms, ok := objectMembers(item)
		if !ok {
			bad("", "must be an object, got "+kind(item))
			continue
		}
		given := known(ms, stepMembers, "", bad)
		for _, name := range stepMembers {
			v, ok := given[name]
			if !ok {
				continue
			}
			var err error
			switch {
			case kind(v) == "null":
				err = errors.New("must not be null; leave the field out for an unbounded step")
			case name == "ScalingAdjustment":
				err = whole(v, &out[i].ScalingAdjustment)
			default:
				var f float64
				if f, err = float(v); err == nil {
					if name == "MetricIntervalLowerBound" {
						out[i].MetricIntervalLowerBound = &f
					} else {
						out[i].MetricIntervalUpperBound = &f
					}
				}
			}
			if err != nil {
				bad("."+name, err.Error())
			}
		}
		if _, ok := given["ScalingAdjustment"]; !ok {
			bad(".ScalingAdjustment", "required")
		}
	}
	return out, errors.Join(errs...)
}

// known returns an object's members by name, reporting unknown (with the
// closest known name) and repeated ones through bad, under prefix.
func known(ms []member, names []string, prefix string, bad func(field, msg string)) map[string]json.RawMessage {
	given := map[string]json.RawMessage{}
	for _, m := range ms {
		switch _, dup := given[m.name]; {
		case !slices.Contains(names, m.name):
			msg := "unknown field"
			if s := suggest(m.name, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			bad(prefix+"."+m.name, msg)
		case dup:
			bad(prefix+"."+m.name, "given more than once")
		default:
			given[m.name] = m.value
		}
	}
	return given
}

// str decodes a non-empty JSON string.
func str(raw json.RawMessage, dst *string) error {
	if kind(raw) != "string" || json.Unmarshal(raw, dst) != nil {
		return typeError("a string", raw)
	}
	if *dst == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// whole decodes a whole number within int32.
func whole(raw json.RawMessage, dst *int) error {
	f, err := float(raw)
	switch {
	case err != nil:
		return err
	case f != math.Trunc(f):
		return fmt.Errorf("must be a whole number, got %s", raw)
	case math.Abs(f) > math.MaxInt32:
		return fmt.Errorf("must be at most %d, got %s", math.MaxInt32, raw)
	}
	*dst = int(f)
	return nil
}
