package stubstatus

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// The rules a status request's settings follow. New applies them, and the
// configuration document's validation calls the same functions, so a
// setting the config accepts is never refused when the Source is built.
// Their errors never repeat the value checked: it may hold a secret.

// CheckURL accepts an absolute http or https URL with a host.
func CheckURL(s string) error {
	_, err := parseURL(s)
	return err
}

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return nil, errors.New("required")
	case err != nil:
		// url.Parse errors quote the whole URL, userinfo included.
		return nil, errors.New("is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("must be an absolute http or https URL")
	case u.Hostname() == "":
		return nil, errors.New("must name a host")
	}
	return u, nil
}

// CheckHeaderName accepts an HTTP field name: a token (RFC 9110 §5.6.2).
func CheckHeaderName(s string) error {
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return fmt.Errorf("must be a valid HTTP header name, got %q", s)
		}
	}
	if s == "" {
		return errors.New("must be a valid HTTP header name, got an empty string")
	}
	return nil
}

// CheckHeaderValue rejects control characters other than tab (a line break
// would split the request); it never repeats the value.
func CheckHeaderValue(s string) error {
	for _, c := range []byte(s) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return errors.New("must not contain control characters such as line breaks")
		}
	}
	return nil
}

// ParseMetric returns the Metric named s: "active" or "busy".
func ParseMetric(s string) (Metric, error) {
	switch m := Metric(s); m {
	case MetricActive, MetricBusy:
		return m, nil
	}
	return "", fmt.Errorf("must be %q or %q, got %q", MetricActive, MetricBusy, s)
}

// TaskIPPlaceholder is what a per-task URL template holds in place of each
// task's IP address, as its host: "http://{ip}:8080/nginx-status".
const TaskIPPlaceholder = "{ip}"

// CheckTaskURL accepts a per-task URL template: an absolute http or https
// URL whose host is exactly TaskIPPlaceholder, once.
func CheckTaskURL(s string) error {
	_, err := parseTaskURL(s)
	return err
}

// taskURL is a checked per-task URL template, split around its
// placeholder.
type taskURL struct{ before, after string }

func parseTaskURL(s string) (taskURL, error) {
	switch n := strings.Count(s, TaskIPPlaceholder); {
	case s == "":
		return taskURL{}, errors.New("required")
	case n != 1:
		return taskURL{}, fmt.Errorf("must contain %s exactly once, as the host (e.g. http://%s:8080/nginx-status), found it %d times",
			TaskIPPlaceholder, TaskIPPlaceholder, n)
	}
	before, after, _ := strings.Cut(s, TaskIPPlaceholder)
	t := taskURL{before, after}
	// Two sample addresses: the host must be each of them, so the
	// placeholder is the whole host, neither part of it nor elsewhere.
	for _, ip := range []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")} {
		u, err := parseURL(t.expand(ip))
		if err != nil {
			return taskURL{}, err
		}
		if u.Hostname() != ip.String() {
			return taskURL{}, fmt.Errorf("must have %s as its whole host (e.g. http://%s:8080/nginx-status)",
				TaskIPPlaceholder, TaskIPPlaceholder)
		}
	}
	return t, nil
}

// expand returns the template's URL for a task at ip (an IPv6 address in
// brackets).
func (t taskURL) expand(ip netip.Addr) string {
	host := ip.String()
	if ip.Is6() && !ip.Is4In6() {
		host = "[" + host + "]"
	}
	return t.before + host + t.after
}

// Aggregate names how a TaskSource combines its tasks' figures into the
// reading compared with the threshold.
type Aggregate string

const (
	// AggregateAvg compares the tasks' average: comparable with the seed's
	// one-task reading through a load balancer. The default.
	AggregateAvg Aggregate = "avg"
	// AggregateMax compares the busiest task's figure: one hot task is
	// enough to scale out.
	AggregateMax Aggregate = "max"
)

// ParseAggregate returns the Aggregate named s: "avg" or "max".
func ParseAggregate(s string) (Aggregate, error) {
	switch a := Aggregate(s); a {
	case AggregateAvg, AggregateMax:
		return a, nil
	}
	return "", fmt.Errorf("must be %q or %q, got %q", AggregateAvg, AggregateMax, s)
}
