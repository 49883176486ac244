package autoscaler

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StepsField is the configuration document's name for Policy.Steps: the
// shape of Application Auto Scaling's StepScalingPolicyConfiguration, so one
// can be pasted from a CloudFormation template.
const StepsField = "StepScalingPolicyConfiguration"

// AdjustmentType says how a step's ScalingAdjustment changes the desired
// count, as in Application Auto Scaling.
type AdjustmentType string

// The adjustment types.
const (
	// ChangeInCapacity adds ScalingAdjustment tasks to the current desired
	// count.
	ChangeInCapacity AdjustmentType = "ChangeInCapacity"
	// PercentChangeInCapacity adds ScalingAdjustment percent of the current
	// desired count: a result above 1 is rounded down, one between 0 and 1
	// becomes 1, and MinAdjustmentMagnitude is the least it adds.
	PercentChangeInCapacity AdjustmentType = "PercentChangeInCapacity"
	// ExactCapacity sets the desired count to ScalingAdjustment.
	ExactCapacity AdjustmentType = "ExactCapacity"
)

// StepScaling is Application Auto Scaling's step scaling configuration,
// applied to the reading instead of a CloudWatch alarm: the alarm threshold
// is ScaleoutThreshold, and each step's bounds are offsets from it.
type StepScaling struct {
	// AdjustmentType says how ScalingAdjustment is read. Required.
	AdjustmentType AdjustmentType
	// StepAdjustments are the steps: contiguous, not overlapping, the first
	// starting at or below 0 (the threshold), the last unbounded above.
	StepAdjustments []StepAdjustment
	// MinAdjustmentMagnitude is the least number of tasks a
	// PercentChangeInCapacity step adds; 0 means none. Tasks; at most
	// MaxTaskCount.
	MinAdjustmentMagnitude int
	// Cooldown, when set, is the grace period after a scale-out in place of
	// Policy.GracePeriod. 0 means GracePeriod; at most MaxGracePeriod.
	Cooldown time.Duration
}

// StepAdjustment is one step: when the reading minus ScaleoutThreshold lies
// in [MetricIntervalLowerBound, MetricIntervalUpperBound), adjust by
// ScalingAdjustment. A nil bound is unbounded on that side.
type StepAdjustment struct {
	MetricIntervalLowerBound *float64
	MetricIntervalUpperBound *float64
	// ScalingAdjustment is tasks (ChangeInCapacity, ExactCapacity) or
	// percent (PercentChangeInCapacity); it must raise the count.
	ScalingAdjustment int
}

// String shows the configuration in the document's shape, on one line:
// {"AdjustmentType":"ChangeInCapacity","StepAdjustments":[{"MetricIntervalLowerBound":0,"ScalingAdjustment":2}]}.
func (s *StepScaling) String() string {
	if s == nil {
		return "none"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `{"AdjustmentType":%q,"StepAdjustments":[`, s.AdjustmentType)
	for i, st := range s.StepAdjustments {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		if st.MetricIntervalLowerBound != nil {
			fmt.Fprintf(&b, `"MetricIntervalLowerBound":%v,`, *st.MetricIntervalLowerBound)
		}
		if st.MetricIntervalUpperBound != nil {
			fmt.Fprintf(&b, `"MetricIntervalUpperBound":%v,`, *st.MetricIntervalUpperBound)
		}
		fmt.Fprintf(&b, `"ScalingAdjustment":%d}`, st.ScalingAdjustment)
	}
	b.WriteByte(']')
	if s.MinAdjustmentMagnitude > 0 {
		fmt.Fprintf(&b, `,"MinAdjustmentMagnitude":%d`, s.MinAdjustmentMagnitude)
	}
	if s.Cooldown > 0 {
		fmt.Fprintf(&b, `,"Cooldown":%q`, s.Cooldown.String())
	}
	b.WriteByte('}')
	return b.String()
}

// validate reports every problem, naming fields under prefix.
func (s *StepScaling) validate(prefix string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: prefix + field, Problem: fmt.Sprintf(format, args...)})
	}
	switch s.AdjustmentType {
	case ChangeInCapacity, PercentChangeInCapacity, ExactCapacity:
	case "":
		bad(".AdjustmentType", "required: %q, %q or %q", ChangeInCapacity, PercentChangeInCapacity, ExactCapacity)
	default:
		bad(".AdjustmentType", "must be %q, %q or %q, got %q", ChangeInCapacity, PercentChangeInCapacity, ExactCapacity, s.AdjustmentType)
	}
	switch {
	case s.MinAdjustmentMagnitude < 0:
		bad(".MinAdjustmentMagnitude", "must be >= 1, got %d", s.MinAdjustmentMagnitude)
	case s.MinAdjustmentMagnitude > 0 && s.AdjustmentType != PercentChangeInCapacity:
		bad(".MinAdjustmentMagnitude", "applies only to AdjustmentType %q", PercentChangeInCapacity)
	case s.MinAdjustmentMagnitude > MaxTaskCount:
		bad(".MinAdjustmentMagnitude", "must be at most %d (ECS's limit of tasks per service), got %d", MaxTaskCount, s.MinAdjustmentMagnitude)
	}
	switch {
	case s.Cooldown < 0:
		bad(".Cooldown", "must be >= 0, got %v", s.Cooldown)
	case s.Cooldown > MaxGracePeriod:
		bad(".Cooldown", "must be at most %v (it is the grace period), got %v", MaxGracePeriod, s.Cooldown)
	}
	if len(s.StepAdjustments) == 0 {
		bad(".StepAdjustments", "must list at least one step")
		return errors.Join(errs...)
	}

	type span struct {
		i      int
		lo, hi float64
	}
	var spans []span
	name := func(i int) string { return ".StepAdjustments[" + strconv.Itoa(i) + "]" }
	for i, st := range s.StepAdjustments {
		lo, hi := math.Inf(-1), math.Inf(1)
		ok := true
		if b := st.MetricIntervalLowerBound; b != nil {
			if !finite(*b) {
				bad(name(i)+".MetricIntervalLowerBound", "must be a finite number, got %v", *b)
				ok = false
			}
			lo = *b
		}
		if b := st.MetricIntervalUpperBound; b != nil {
			if !finite(*b) {
				bad(name(i)+".MetricIntervalUpperBound", "must be a finite number, got %v", *b)
				ok = false
			}
			hi = *b
		}
		switch {
		case !ok:
		case st.MetricIntervalLowerBound == nil && st.MetricIntervalUpperBound == nil:
			bad(name(i), "needs MetricIntervalLowerBound or MetricIntervalUpperBound (or both)")
			ok = false
		case lo >= hi:
			bad(name(i), "MetricIntervalLowerBound (%v) must be below MetricIntervalUpperBound (%v)", lo, hi)
			ok = false
		case hi <= 0:
			bad(name(i), "lies at or below ScaleoutThreshold (upper bound %v): it would scale in, which fast-autoscaler never does; leave scale-in steps to Application Auto Scaling", hi)
			ok = false
		}
		switch {
		case s.AdjustmentType == ExactCapacity && st.ScalingAdjustment < 1:
			bad(name(i)+".ScalingAdjustment", "must be >= 1 task for ExactCapacity, got %d", st.ScalingAdjustment)
		case s.AdjustmentType != ExactCapacity && st.ScalingAdjustment <= 0:
			bad(name(i)+".ScalingAdjustment", "must be > 0: fast-autoscaler only scales out, got %d", st.ScalingAdjustment)
		case s.AdjustmentType == ExactCapacity && st.ScalingAdjustment > MaxTaskCount:
			bad(name(i)+".ScalingAdjustment", "must be at most %d tasks (ECS's limit of tasks per service), got %d", MaxTaskCount, st.ScalingAdjustment)
		case st.ScalingAdjustment > math.MaxInt32:
			bad(name(i)+".ScalingAdjustment", "must be at most %d, got %d", math.MaxInt32, st.ScalingAdjustment)
		}
		if ok {
			spans = append(spans, span{i, lo, hi})
		}
	}
	if len(spans) < len(s.StepAdjustments) {
		return errors.Join(errs...) // the order is only meaningful once every step is sound
	}
	var openLo, openHi []int // steps unbounded below, above
	for _, sp := range spans {
		if math.IsInf(sp.lo, -1) {
			openLo = append(openLo, sp.i)
		}
		if math.IsInf(sp.hi, 1) {
			openHi = append(openHi, sp.i)
		}
	}
	if len(openLo) > 1 {
		bad(name(openLo[1]), "has no MetricIntervalLowerBound, like step %d: only one step may be unbounded below", openLo[0])
	}
	if len(openHi) > 1 {
		bad(name(openHi[1]), "has no MetricIntervalUpperBound, like step %d: only one step may be unbounded above", openHi[0])
	}
	if len(openLo) > 1 || len(openHi) > 1 {
		return errors.Join(errs...)
	}
	slices.SortStableFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	if spans[0].lo > 0 {
		bad(name(spans[0].i)+".MetricIntervalLowerBound", "readings from ScaleoutThreshold to ScaleoutThreshold + %v would match no step: start the lowest step at 0", spans[0].lo)
	}
	for k := 1; k < len(spans); k++ {
		prev, cur := spans[k-1], spans[k]
		switch {
		case cur.lo < prev.hi:
			bad(name(cur.i), "overlaps step %d: [%v, %v) and [%v, %v)", prev.i, prev.lo, prev.hi, cur.lo, cur.hi)
		case cur.lo > prev.hi:
			bad(name(cur.i), "leaves a gap after step %d: nothing covers [%v, %v)", prev.i, prev.hi, cur.lo)
		}
	}
	if last := spans[len(spans)-1]; !math.IsInf(last.hi, 1) {
		bad(name(last.i)+".MetricIntervalUpperBound", "readings above ScaleoutThreshold + %v would match no step: leave it out on the highest step", last.hi)
	}
	return errors.Join(errs...)
}

// apply returns the desired count the step matching excess (the reading
// minus the threshold) sets from current; overload (no number) takes the
// highest step. It returns current when no step matches (Validate rules that
// out for a reading above the threshold).
func (s *StepScaling) apply(current int, excess float64, overload bool) int {
	var match *StepAdjustment
	best := math.Inf(-1)
	for i := range s.StepAdjustments {
		st := &s.StepAdjustments[i]
		lo, hi := math.Inf(-1), math.Inf(1)
		if st.MetricIntervalLowerBound != nil {
			lo = *st.MetricIntervalLowerBound
		}
		if st.MetricIntervalUpperBound != nil {
			hi = *st.MetricIntervalUpperBound
		}
		switch {
		case overload && lo >= best:
			match, best = st, lo
		case !overload && lo <= excess && excess < hi:
			match = st
		}
	}
	if match == nil {
		return current
	}
	adj := match.ScalingAdjustment
	switch s.AdjustmentType {
	case ExactCapacity:
		return adj
	case PercentChangeInCapacity:
		raw := float64(current) * float64(adj) / 100
		n := 0
		switch {
		case raw >= 1:
			n = int(min(math.Floor(raw), math.MaxInt32))
		case raw > 0:
			n = 1
		}
		return addTasks(current, max(n, s.MinAdjustmentMagnitude))
	}
	return addTasks(current, adj)
}

// addTasks returns current + n without overflowing.
func addTasks(current, n int) int {
	if current > math.MaxInt-n {
		return math.MaxInt
	}
	return current + n
}
