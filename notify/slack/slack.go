// Package slack is a notify.Notifier that posts events to a Slack incoming
// webhook: queued, paced to Slack's rate per webhook, coalesced, retried on 429
// and 5xx, and never revealing the webhook URL.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/benbjohnson/clock"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

// Defaults for Options.
const (
	DefaultMinInterval   = time.Second      // between two messages to one webhook
	DefaultQueueSize     = 64               // events waiting for delivery
	DefaultTimeout       = 5 * time.Second  // per HTTP request
	DefaultMaxAttempts   = 4                // tries per message
	DefaultMaxRetryAfter = 30 * time.Second // longest wait before a retry
)

const (
	// slackMaxText bounds the event texts joined into one message (bytes);
	// events beyond it are summarised in one line. Slack allows far more
	// (about 40,000 characters), but a longer message helps no one.
	slackMaxText = 3000
	// slackMaxServices bounds the list of services in that summary (bytes).
	slackMaxServices = 1000
	// slackMaxError bounds an error's text inside one event's message (bytes).
	slackMaxError = 1000
	// slackMaxBody bounds how much of Slack's answer is read (bytes).
	slackMaxBody = 1 << 10
)

var _ notify.Notifier = (*Notifier)(nil)

// ErrClosed is returned by Notify on a notifier that has been closed.
var ErrClosed = errors.New("notifier closed")

// Options configure a Slack notifier. The zero value is usable: every
// field left zero (or negative) takes its default.
type Options struct {
	// Clock paces messages and times retry waits. Default clock.New().
	Clock clock.Clock
	// HTTPClient sends the requests. Default: a client with its own
	// transport that does not follow redirects.
	HTTPClient *http.Client
	// Logger receives delivery problems (never the webhook URL). Default:
	// discarded.
	Logger *slog.Logger
	// MinInterval is the least time between two messages to the webhook;
	// events that arrive meanwhile are joined into the next message. It is
	// also the first retry backoff, which doubles on each attempt. Default
	// DefaultMinInterval (1 s), Slack's documented rate.
	MinInterval time.Duration
	// QueueSize is how many events may wait for delivery; when it is full
	// the oldest is dropped. Events; default DefaultQueueSize (64).
	QueueSize int
	// Timeout bounds each HTTP request, in real time. Default
	// DefaultTimeout (5 s).
	Timeout time.Duration
	// MaxAttempts is how many times one message is tried when Slack answers
	// 429 or 5xx or the request fails on the network. Default
	// DefaultMaxAttempts (4).
	MaxAttempts int
	// MaxRetryAfter caps the wait a 429's Retry-After asks for, and the
	// retry backoff. Default DefaultMaxRetryAfter (30 s).
	MaxRetryAfter time.Duration
}

// Stats counts what a Slack notifier did with the events it was given.
type Stats struct {
	Sent     int64 // events Slack accepted, in full or in a "... and K more events" summary
	Messages int64 // messages Slack accepted
	Dropped  int64 // events dropped, oldest first, because the queue was full
	Failed   int64 // events given up on: a permanent error, attempts exhausted, or still queued when Close gave up
}

// Notifier is a notify.Notifier that posts events to a Slack incoming webhook. Notify
// only formats and queues; one goroutine per Slack delivers, at most one
// message per MinInterval, joining the events that piled up meanwhile into
// one message. Share one Slack among all the services that use the same
// webhook, so the pacing holds per webhook. Close it when done.
//
// The webhook URL is a secret: it never appears in logs, errors or String.
type Notifier struct {
	url      string // the secret webhook URL
	redacted string // scheme and host only
	opts     Options
	client   *http.Client
	log      *slog.Logger

	wake    chan struct{} // buffered 1: something was queued
	closing chan struct{} // closed by Close: deliver what is queued, then stop
	done    chan struct{} // closed when the sender has stopped
	ctx     context.Context
	abort   context.CancelFunc // Close's deadline passed: give up at once
	once    sync.Once

	mu       sync.Mutex
	queue    []slackItem
	closed   bool
	unlogged int64 // drops not yet logged
	stats    Stats
	lost     int64 // events given up on at Close
}

type slackItem struct{ service, text string }

// New validates webhookURL and starts the notifier's sender. The URL
// must be absolute and use https (http is accepted only for a loopback host,
// for tests). The error never contains the URL.
func New(webhookURL string, opts Options) (*Notifier, error) {
	u, err := parseWebhook(webhookURL)
	if err != nil {
		return nil, fmt.Errorf("slack: webhook URL %w", err)
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				ForceAttemptHTTP2:   true,
				MaxIdleConnsPerHost: 2,
				IdleConnTimeout:     90 * time.Second,
				TLSHandshakeTimeout: 10 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.MinInterval <= 0 {
		opts.MinInterval = DefaultMinInterval
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	s := &Notifier{
		url:      u.String(),
		redacted: u.Scheme + "://" + u.Host + "/[redacted]",
		opts:     opts,
		client:   opts.HTTPClient,
		log:      opts.Logger,
		wake:     make(chan struct{}, 1),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.ctx, s.abort = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// CheckWebhookURL accepts a Slack incoming webhook URL: absolute, https
// (http only for a loopback host, such as a local test server). New applies
// it, and the configuration's validation calls it. Its error never repeats
// the URL, which is a secret.
func CheckWebhookURL(raw string) error {
	_, err := parseWebhook(raw)
	return err
}

func parseWebhook(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return nil, errors.New("must not be empty")
	case err != nil:
		return nil, errors.New("is not a valid URL")
	case u.Scheme != "https" && u.Scheme != "http" || u.Hostname() == "":
		return nil, errors.New("must be an absolute https URL (https://hooks.slack.com/services/...)")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, errors.New("must be an https URL (http only for a loopback host)")
	}
	return u, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// String describes the notifier without its secret, e.g.
// "slack webhook https://hooks.slack.com/[redacted]".
func (s *Notifier) String() string { return "slack webhook " + s.redacted }

// Stats returns the notifier's counters so far.
func (s *Notifier) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// DeliveryCounts returns the events sent, dropped and failed so far (see
// Stats); it lets metrics.Metrics track the notifier.
func (s *Notifier) DeliveryCounts() (sent, dropped, failed int64) {
	st := s.Stats()
	return st.Sent, st.Dropped, st.Failed
}

// Notify formats ev and queues it for delivery. It never blocks and does no
// I/O. When the queue is full the oldest queued event is dropped (counted in
// Stats and logged by the sender). After Close it returns an error wrapping
// ErrClosed.
func (s *Notifier) Notify(_ context.Context, ev notify.Event) error {
	item := slackItem{service: ev.Service, text: Format(ev)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("slack: %s event for %s/%s: %w", ev.Kind, ev.Cluster, ev.Service, ErrClosed)
	}
	if len(s.queue) >= s.opts.QueueSize {
		s.queue = s.queue[1:]
		s.stats.Dropped++
		s.unlogged++
	}
	s.queue = append(s.queue, item)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close stops accepting events and waits for what is queued to be delivered
// until ctx is done; then it gives up on the rest, logs how many events were
// lost, and returns an error saying so. It always stops the sender before
// returning. Calling it again returns the same result.
func (s *Notifier) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.closing)
	})
	select {
	case <-s.done:
	case <-ctx.Done():
		s.abort()
		<-s.done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost > 0 {
		return fmt.Errorf("slack: closed with %d events not delivered", s.lost)
	}
	return nil
}

// run is the sender: it waits for events, paces, joins what is queued into
// one message and delivers it, until closed.
func (s *Notifier) run() {
	defer close(s.done)
	defer s.abort()
	defer s.client.CloseIdleConnections()
	var next time.Time // earliest time for the next message
	for {
		select {
		case <-s.wake:
		case <-s.closing:
		case <-s.ctx.Done():
			s.giveUp(0)
			return
		}
		s.mu.Lock()
		pending, closed := len(s.queue), s.closed
		s.mu.Unlock()
		if pending == 0 {
			if closed {
				return
			}
			continue
		}
		if wait := next.Sub(s.opts.Clock.Now()); wait > 0 && s.sleep(wait) != nil {
			s.giveUp(0)
			return
		}
		text, n := s.take()
		if !s.deliver(text, n) {
			s.giveUp(n)
			return
		}
		next = s.opts.Clock.Now().Add(s.opts.MinInterval)
	}
}

// take empties the queue into one message text and returns it with the
// number of events it carries.
func (s *Notifier) take() (string, int) {
	s.mu.Lock()
	items := s.queue
	s.queue = nil
	s.mu.Unlock()
	s.logDrops()
	return joinSlack(items), len(items)
}

func (s *Notifier) logDrops() {
	s.mu.Lock()
	n := s.unlogged
	s.unlogged = 0
	s.mu.Unlock()
	if n > 0 {
		s.log.LogAttrs(s.ctx, slog.LevelWarn, "slack: queue full, dropped oldest events",
			slog.Int64("dropped", n), slog.Int("queue_size", s.opts.QueueSize))
	}
}

// giveUp counts inFlight events and whatever is still queued as lost.
func (s *Notifier) giveUp(inFlight int) {
	s.logDrops()
	s.mu.Lock()
	n := int64(inFlight + len(s.queue))
	s.queue = nil
	s.stats.Failed += n
	s.lost += n
	s.mu.Unlock()
	if n > 0 {
		s.log.LogAttrs(context.Background(), slog.LevelError, "slack: closing, events not delivered",
			slog.Int64("events", n))
	}
}

// joinSlack joins event texts with blank lines, up to slackMaxText bytes,
// and summarises the events beyond that in one line naming their services.
func joinSlack(items []slackItem) string {
	var b strings.Builder
	i := 0
	for ; i < len(items); i++ {
		t := truncate(items[i].text, slackMaxText)
		if i > 0 {
			if b.Len()+2+len(t) > slackMaxText {
				break
			}
			b.WriteString("\n\n")
		}
		b.WriteString(t)
	}
	rest := items[i:]
	if len(rest) == 0 {
		return b.String()
	}
	var names []string
	seen := make(map[string]bool)
	size := 0
	for _, it := range rest {
		if seen[it.service] {
			continue
		}
		seen[it.service] = true
		name := slackEscape(it.service)
		if size += len(name) + 2; size > slackMaxServices {
			names = append(names, "…")
			break
		}
		names = append(names, name)
	}
	noun := "events"
	if len(rest) == 1 {
		noun = "event"
	}
	fmt.Fprintf(&b, "\n\n... and %d more %s (services: %s)", len(rest), noun, strings.Join(names, ", "))
	return b.String()
}

// deliver posts one message, retrying as Slack's answer allows. It reports
// false only when Close gave up while it was trying; a message that cannot
// be delivered is counted and logged here.
func (s *Notifier) deliver(text string, n int) bool {
	body, err := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	if err != nil { // cannot happen for a string; kept so nothing panics
		s.failed(n, 0, fmt.Errorf("slack: encode message: %w", err))
		return true
	}
	for attempt := 1; ; attempt++ {
		retry, err := s.post(body)
		if err == nil {
			s.mu.Lock()
			s.stats.Sent += int64(n)
			s.stats.Messages++
			s.mu.Unlock()
			return true
		}
		if s.ctx.Err() != nil {
			return false
		}
		if retry == 0 || attempt >= s.opts.MaxAttempts {
			s.failed(n, attempt, err)
			return true
		}
		if retry < 0 { // no Retry-After to go by: back off exponentially
			retry = min(s.opts.MinInterval<<(attempt-1), s.opts.MaxRetryAfter)
		}
		s.log.LogAttrs(s.ctx, slog.LevelDebug, "slack: retrying",
			slog.Int("attempt", attempt), slog.String("wait", retry.String()), slog.String("error", err.Error()))
		if s.sleep(retry) != nil {
			return false
		}
	}
}

func (s *Notifier) failed(n, attempts int, err error) {
	s.mu.Lock()
	s.stats.Failed += int64(n)
	s.mu.Unlock()
	s.log.LogAttrs(s.ctx, slog.LevelError, "slack: message not delivered",
		slog.Int("events", n), slog.Int("attempts", attempts), slog.String("error", err.Error()))
}

// post makes one request. Slack accepts a message with HTTP 200 and the
// body "ok"; anything else is a failure (a 200 with another body, such as
// "invalid_payload", included). On failure, retry says what may be done: 0
// means the failure is permanent, > 0 is the wait Slack asked for (429), and
// < 0 asks for the exponential backoff (5xx, network errors).
func (s *Notifier) post(body []byte) (retry time.Duration, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("slack: build request for %s: %w", s.redacted, unwrapURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		err = unwrapURLError(err)
		if errors.Is(err, context.DeadlineExceeded) {
			return -1, fmt.Errorf("slack: post to %s: no answer within %v: %w", s.redacted, s.opts.Timeout, err)
		}
		return -1, fmt.Errorf("slack: post to %s: %w", s.redacted, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, slackMaxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4*slackMaxBody)) // so the connection can be reused
	answer := strings.TrimSpace(strings.ToValidUTF8(string(raw), "?"))
	if resp.StatusCode == http.StatusOK && answer == "ok" {
		return 0, nil
	}
	err = fmt.Errorf("slack: post to %s: answered %d %q", s.redacted, resp.StatusCode, answer)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return s.retryAfter(resp.Header.Get("Retry-After")), err
	case resp.StatusCode >= 500:
		return -1, err
	}
	return 0, err
}

// retryAfter reads a Retry-After header in seconds, capped at
// MaxRetryAfter; missing or unreadable, it is MinInterval.
func (s *Notifier) retryAfter(h string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || secs <= 0 {
		return s.opts.MinInterval
	}
	if secs > int(s.opts.MaxRetryAfter/time.Second) {
		return s.opts.MaxRetryAfter
	}
	return time.Duration(secs) * time.Second
}

// unwrapURLError drops net/http's *url.Error, whose text carries the whole
// (secret) URL, keeping the error it wraps.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sleep waits d on the clock, or until Close gives up.
func (s *Notifier) sleep(d time.Duration) error {
	t := s.opts.Clock.Timer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// Format returns the message text for one event. A scale-out keeps the
// seed's text exactly:
//
//	scaleout <service> service
//	```
//	ActiveConnections: 161
//	DesiredCount(cur): 2
//	DesiredCount(new): 10
//	```
//
// Other kinds name the service and its cluster. Slack's control characters
// (&, <, >) in names and errors are escaped, so a name cannot mention
// @channel or forge a link.
func Format(ev notify.Event) string {
	svc, cluster := slackEscape(ev.Service), slackEscape(ev.Cluster)
	var b strings.Builder
	switch ev.Kind {
	case notify.ScaledOut:
		fmt.Fprintf(&b, "scaleout %s service\n```\n", svc)
		writeReading(&b, ev)
		fmt.Fprintf(&b, "DesiredCount(cur): %d\nDesiredCount(new): %d\n", ev.DesiredCur, ev.DesiredNew)
		if ev.MaxDesired > 0 || ev.MaxBy != "" {
			fmt.Fprintf(&b, "capped at %s: %d\n", boundName(ev.MaxBy), ev.MaxDesired)
		}
		if ev.Escalation {
			b.WriteString("raised again: the load needs more than the count asked for while tasks start\n")
		}
		if ev.Landed {
			b.WriteString("the update's call had failed, but the update is in force: not made again\n")
		}
		b.WriteString("```")
	case notify.HeldAtMax:
		fmt.Fprintf(&b, "scaleout %s service (cluster %s) held: DesiredCount already at %s\n```\n", svc, cluster, boundName(ev.MaxBy))
		writeReading(&b, ev)
		label := "MaxDesiredCount"
		if ev.MaxBy == "MaxCapacity" {
			label = "MaxCapacity"
		}
		fmt.Fprintf(&b, "DesiredCount(cur): %d\n%s: %d\n```", ev.DesiredCur, label, ev.MaxDesired)
	case notify.TasksNotStarting:
		fmt.Fprintf(&b, "tasks of %s service (cluster %s) not starting: no further scaleout until they do\n```\n", svc, cluster)
		fmt.Fprintf(&b, "DesiredCount: %d (asked for %d, %s ago)\nRunning: %d\nPending: %d\n",
			ev.DesiredCur, ev.DesiredNew, ev.Waited.Round(time.Second), ev.Running, ev.Pending)
		if ev.Message != "" {
			fmt.Fprintf(&b, "Latest ECS event: %s\n", slackEscape(truncate(ev.Message, slackMaxError)))
		}
		b.WriteString("```")
	case notify.ScaleOutSuspended:
		fmt.Fprintf(&b, "scaleout %s service (cluster %s) held: scale-out is suspended on its scalable target\n```\n", svc, cluster)
		writeReading(&b, ev)
		fmt.Fprintf(&b, "DesiredCount(cur): %d\nDesiredCount(wanted): %d\n```", ev.DesiredCur, ev.DesiredNew)
	case notify.ScaleFailed:
		fmt.Fprintf(&b, "scaleout %s service (cluster %s) FAILED\n```\n", svc, cluster)
		writeReading(&b, ev)
		if ev.DesiredNew > 0 {
			fmt.Fprintf(&b, "DesiredCount(cur): %d\nDesiredCount(new): %d\n", ev.DesiredCur, ev.DesiredNew)
		}
		fmt.Fprintf(&b, "Error: %s\n```", errorText(ev.Err))
	case notify.ScaleUnknown:
		fmt.Fprintf(&b, "scaleout %s service (cluster %s): outcome unknown, ", svc, cluster)
		switch {
		case ev.DesiredAfter < 0:
			b.WriteString("and the service could not be read to tell\n```\n")
		case ev.Landed:
			b.WriteString("but the update landed\n```\n")
		default:
			b.WriteString("and the update did not land (retrying)\n```\n")
		}
		writeReading(&b, ev)
		fmt.Fprintf(&b, "DesiredCount(cur): %d\nDesiredCount(new): %d\n", ev.DesiredCur, ev.DesiredNew)
		if ev.DesiredAfter >= 0 {
			fmt.Fprintf(&b, "DesiredCount(now): %d\n", ev.DesiredAfter)
		}
		fmt.Fprintf(&b, "Error: %s\n```", errorText(ev.Err))
	case notify.MetricFailing:
		fmt.Fprintf(&b, "metric source of %s service (cluster %s) failing for %d checks in a row\n```\nLast error: %s\n```",
			svc, cluster, ev.Failures, errorText(ev.Err))
	case notify.MetricRecovered:
		fmt.Fprintf(&b, "metric source of %s service (cluster %s) recovered after %d failed checks", svc, cluster, ev.Failures)
	case notify.DryRun:
		fmt.Fprintf(&b, "dry run: scaleout %s service (cluster %s) decided, not made\n```\n", svc, cluster)
		writeReading(&b, ev)
		fmt.Fprintf(&b, "DesiredCount(cur): %d\nDesiredCount(would be): %d\n```", ev.DesiredCur, ev.DesiredNew)
	case notify.ConfigRejected:
		fmt.Fprintf(&b, "config reload rejected; the last good config keeps running\n```\n%s\n```", errorText(ev.Err))
	default:
		fmt.Fprintf(&b, "%s event for %s service (cluster %s)", ev.Kind, svc, cluster)
	}
	return b.String()
}

// boundName names the cap an event reports: MaxDesiredCount by default.
func boundName(by string) string {
	if by == "MaxCapacity" {
		return "the scalable target's MaxCapacity"
	}
	return "MaxDesiredCount"
}

func writeReading(b *strings.Builder, ev notify.Event) {
	if ev.Overload {
		b.WriteString("ActiveConnections: overloaded (status URL answered 503)\n")
		return
	}
	b.WriteString("ActiveConnections: " + strconv.FormatFloat(ev.Value, 'f', -1, 64) + "\n")
}

func errorText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return slackEscape(truncate(err.Error(), slackMaxError))
}

// slackEscape escapes the three characters Slack reads as markup.
func slackEscape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
