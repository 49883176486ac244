package ecs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// The tags fast-autoscaler reads and writes on an ECS service. ECS allows 50
// tags a service; these take at most four.
const (
	// TagLastScaleOut is when the last scale-out was decided, as an RFC 3339
	// time in UTC (fractional seconds allowed).
	TagLastScaleOut = "fast-autoscaler:last-scaleout"
	// TagDesired is the desired count that scale-out set.
	TagDesired = "fast-autoscaler:desired"
	// TagBy names the process that made it.
	TagBy = "fast-autoscaler:by"
	// TagPaused, set to "true" (from the console or the CLI), pauses the
	// service: it is read as usual and never scaled out. "false", or no tag,
	// does not. Letter case is ignored.
	TagPaused = "fast-autoscaler:paused"
)

// maxTagValue is ECS's limit on a tag value, in characters.
const maxTagValue = 256

// readTags reads a recorded scale-out and the paused mark from a service's
// tags. A tag of ours whose value cannot be read is an error naming it:
// the record it holds could be another process's scale-out a moment ago,
// and the paused value could be someone's attempt to pause the service, so
// neither is guessed at.
func readTags(tags []types.Tag) (rec scaler.ScaleOut, paused bool, err error) {
	var at, desired string
	for _, t := range tags {
		v := aws.ToString(t.Value)
		switch aws.ToString(t.Key) {
		case TagLastScaleOut:
			at = v
		case TagDesired:
			desired = v
		case TagBy:
			rec.By = v
		case TagPaused:
			switch {
			case strings.EqualFold(v, "true"):
				paused = true
			case strings.EqualFold(v, "false"), v == "":
			default:
				return scaler.ScaleOut{}, false, fmt.Errorf("tag %s is %q: must be true or false", TagPaused, v)
			}
		}
	}
	if at == "" { // no record (a lone desired or by tag is no record either)
		return scaler.ScaleOut{}, paused, nil
	}
	if rec.Time, err = time.Parse(time.RFC3339Nano, at); err != nil {
		return scaler.ScaleOut{}, false, fmt.Errorf("tag %s is %q: not an RFC 3339 time such as 2026-01-02T15:04:05Z; fix it or delete the tag", TagLastScaleOut, at)
	}
	if desired != "" {
		n, err := strconv.Atoi(desired)
		if err != nil || n < 0 || n > maxTasks {
			return scaler.ScaleOut{}, false, fmt.Errorf("tag %s is %q: not a task count 0..%d; fix it or delete the tag", TagDesired, desired, maxTasks)
		}
		rec.Desired = n
	}
	return rec, paused, nil
}

// recordTags are the tags that record rec.
func recordTags(rec scaler.ScaleOut) []types.Tag {
	return []types.Tag{
		{Key: aws.String(TagLastScaleOut), Value: aws.String(rec.Time.UTC().Format(time.RFC3339Nano))},
		{Key: aws.String(TagDesired), Value: aws.String(strconv.Itoa(rec.Desired))},
		{Key: aws.String(TagBy), Value: aws.String(tagValue(rec.By))},
	}
}

// tagValue makes s a valid ECS tag value: letters, digits, spaces and
// + - = . _ : / @, at most 256 characters; anything else becomes _.
func tagValue(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxTagValue {
			break
		}
		n++
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(" +-=._:/@", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
