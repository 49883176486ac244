package stubstatus

import (
	"errors"
	"fmt"
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
