package stubstatus

import (
	"errors"
	"fmt"
	"net"
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
	if !isToken(s) {
		return fmt.Errorf("must be a valid HTTP header name, got %q", s)
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2): one or
// more visible ASCII characters other than separators.
func isToken[T string | []byte](s T) bool {
	for i := range len(s) {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return len(s) > 0
}

// CheckHeaderValue rejects control characters other than tab (a line break
// would split the request); it never repeats the value.
func CheckHeaderValue(s string) error {
	if !isFieldValue(s) {
		return errors.New("must not contain control characters such as line breaks")
	}
	return nil
}

// isFieldValue reports whether s holds no control character but tab, as
// an HTTP field value must (RFC 9110 §5.5).
func isFieldValue[T string | []byte](s T) bool {
	for i := range len(s) {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
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

// CheckTLSServerName accepts the name a status URL's certificate is
// verified against (TLSMode.ServerName): a DNS host name of letters,
// digits, hyphens and dots, such as status.example.com, with no scheme,
// port, path or wildcard. It is also the name sent as SNI, so a load
// balancer with several certificates presents the right one.
func CheckTLSServerName(s string) error {
	const want = "must be a DNS name such as status.example.com (no scheme, port or path)"
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return errors.New(want)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%s, got %q", want, s)
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%s, got %q", want, s)
			}
		}
	}
	if net.ParseIP(name) != nil || strings.Trim(name, "0123456789.") == "" {
		return fmt.Errorf("%s, got an IP address", want)
	}
	return nil
}

// CheckTLS checks a TLS mode against the status URL it is used with: a
// ServerName needs an https URL (it is checked by CheckTLSServerName) and
// verification (Verify true), since it names what the certificate is
// verified against. Its error names the problem, not the URL.
func CheckTLS(rawURL string, m TLSMode) error {
	if m.ServerName == "" {
		return nil
	}
	if u, err := url.Parse(rawURL); err == nil && u.Scheme != "https" {
		return errors.New("needs an https status URL: the name is what its certificate is verified against")
	}
	if !m.Verify {
		return errors.New("needs TLS verification: the name is what the certificate is verified against")
	}
	return nil
}

// ExposesCredentials reports whether a status request to rawURL would send
// credentials (an auth header, hasAuthHeader, or user info in the URL) over
// TLS whose certificate is not verified: anyone who can sit in the path can
// then read them. Verify, or a ServerName for a load balancer's DNS name,
// protects them.
func ExposesCredentials(rawURL string, hasAuthHeader bool, m TLSMode) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || m.Verify {
		return false
	}
	return hasAuthHeader || u.User != nil
}
