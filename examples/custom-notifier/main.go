// Command custom-notifier shows how to write your own notify.Notifier: a
// generic JSON webhook that POSTs each event to a URL, off the engine's check
// path (a small bounded queue drained by one goroutine), combined with the
// built-in log notifier through notify.Multi.
//
// The demo starts a local HTTP server standing in for the webhook receiver,
// runs an engine on the real clock against an in-memory scaler with a metric
// source that reports a spike, waits for the webhook to arrive, prints it and
// exits:
//
//	go run ./examples/custom-notifier
//
// Nothing leaves the machine: the webhook server listens on loopback.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// Defaults for WebhookOptions.
const (
	DefaultWebhookTimeout   = 5 * time.Second // per HTTP request
	DefaultWebhookQueueSize = 16              // events waiting for delivery
)

// WebhookOptions configure a Webhook. Every field left zero takes its default.
type WebhookOptions struct {
	// Client sends the requests. Default: a new http.Client.
	Client *http.Client
	// Timeout bounds each request. Default DefaultWebhookTimeout (5 s).
	Timeout time.Duration
	// QueueSize is how many events may wait for delivery; an event that
	// finds the queue full is dropped and Notify says so. Events; default
	// DefaultWebhookQueueSize (16).
	QueueSize int
	// Logger receives delivery failures. Default: discarded.
	Logger *slog.Logger
}

// Webhook is a notify.Notifier that POSTs each event as one JSON object (see
// Payload) to a URL. The engine calls Notify on its check goroutine, which
// must not wait on the network, so Notify only queues the event; one
// goroutine delivers the queue in order. There are no retries: a failed
// delivery is logged and the event is lost (slack.Notifier shows retries,
// pacing and coalescing). The URL is treated as a secret: logs and errors
// name only its host.
type Webhook struct {
	url     string
	host    string // safe to log
	client  *http.Client
	timeout time.Duration
	log     *slog.Logger

	mu     sync.Mutex // guards closed and sending on queue
	closed bool
	queue  chan notify.Event

	ctx   context.Context // cancelled by Close to abandon deliveries
	abort context.CancelFunc
	done  chan struct{} // closed when the delivery goroutine returns
}

// Payload is the JSON body a Webhook sends for one event.
type Payload struct {
	Kind       string    `json:"kind"` // notify.Kind.String(): "scaled_out", ...
	Time       time.Time `json:"time"`
	Cluster    string    `json:"cluster"`
	Service    string    `json:"service"`
	Value      float64   `json:"value"`
	Overload   bool      `json:"overload"`
	DesiredCur int       `json:"desired_cur"`
	DesiredNew int       `json:"desired_new"`
	DesiredMax int       `json:"desired_max,omitempty"`
	Failures   int       `json:"failures,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// NewWebhook returns a Webhook posting to rawURL (http or https) and starts
// its delivery goroutine; Close stops it.
func NewWebhook(rawURL string, opts WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("webhook: URL must be an absolute http or https URL") // rawURL may hold a token
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWebhookTimeout
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultWebhookQueueSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, abort := context.WithCancel(context.Background())
	w := &Webhook{
		url: rawURL, host: u.Host, client: opts.Client, timeout: opts.Timeout,
		log:   opts.Logger.With(slog.String("webhook_host", u.Host)),
		queue: make(chan notify.Event, opts.QueueSize),
		ctx:   ctx, abort: abort, done: make(chan struct{}),
	}
	go w.deliver()
	return w, nil
}

// Notify queues ev for delivery and returns at once. It fails when the queue
// is full (the event is dropped) or the Webhook is closed.
func (w *Webhook) Notify(_ context.Context, ev notify.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("webhook %s: closed, %s event for %s/%s dropped", w.host, ev.Kind, ev.Cluster, ev.Service)
	}
	select {
	case w.queue <- ev:
		return nil
	default:
		return fmt.Errorf("webhook %s: queue full, %s event for %s/%s dropped", w.host, ev.Kind, ev.Cluster, ev.Service)
	}
}

// Close stops accepting events and waits until the queued ones are delivered.
// When ctx ends first, the delivery in flight is cancelled, the rest are
// dropped, and Close returns ctx's error.
func (w *Webhook) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	defer w.abort()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.abort()
		<-w.done
		return fmt.Errorf("webhook %s: close: %w", w.host, ctx.Err())
	}
}

// deliver sends queued events until the queue is closed and empty.
func (w *Webhook) deliver() {
	defer close(w.done)
	for ev := range w.queue {
		if w.ctx.Err() != nil {
			continue // aborted: drop the rest
		}
		if err := w.send(ev); err != nil {
			w.log.Warn("webhook delivery failed", slog.String("event", ev.Kind.String()),
				slog.String("cluster", ev.Cluster), slog.String("service", ev.Service),
				slog.String("error", err.Error()))
		}
	}
}

// send POSTs one event. Its errors name the host only.
func (w *Webhook) send(ev notify.Event) error {
	p := Payload{
		Kind: ev.Kind.String(), Time: ev.Time, Cluster: ev.Cluster, Service: ev.Service,
		Value: ev.Value, Overload: ev.Overload, DesiredCur: ev.DesiredCur, DesiredNew: ev.DesiredNew,
		DesiredMax: ev.MaxDesired, Failures: ev.Failures,
	}
	if ev.Err != nil {
		p.Error = ev.Err.Error()
	}
	body, err := json.Marshal(p)
	if err != nil { // e.g. an infinite Value
		return fmt.Errorf("encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request to %s: %w", w.host, redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", w.host, redact(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10)) // lets the connection be reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post to %s: HTTP %s", w.host, resp.Status)
	}
	return nil
}

// redact drops the URL (which may hold a token) from net/http's errors.
func redact(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// run is the demo: a spike on prod/web, seen through the webhook.
func run(ctx context.Context, out io.Writer) error {
	// The receiving end of the webhook, standing in for a chat bridge or an
	// incident tool.
	received := make(chan Payload, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var p Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case received <- p:
		default:
		}
	}))
	defer receiver.Close()

	// Until the engine and the webhook have stopped, only their goroutines
	// write to out.
	logger := slog.New(slog.NewTextHandler(out, nil))
	hook, err := NewWebhook(receiver.URL+"/hooks/T0KEN", WebhookOptions{Timeout: time.Second, Logger: logger})
	if err != nil {
		return err
	}

	web := scaler.ServiceID{Cluster: "prod", Name: "web"}
	mem := scaler.NewMemory()
	mem.Put(web, scaler.State{Desired: 3, Running: 3})
	policy := autoscaler.DefaultPolicy()
	policy.CheckInterval = 100 * time.Millisecond
	eng, err := autoscaler.New([]autoscaler.Service{{
		Cluster: web.Cluster, Name: web.Name, Policy: policy,
		Source: autoscaler.MetricSourceFunc(func(context.Context) (autoscaler.Reading, error) {
			return autoscaler.Reading{Value: 420}, nil // a spike: over the threshold of 150
		}),
		Notifier: notify.Multi{hook, notify.NewLog(logger)},
	}}, autoscaler.Options{Scaler: mem})
	if err != nil {
		return err
	}

	engCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- eng.Run(engCtx) }()
	var p Payload
	select {
	case p = <-received:
	case <-ctx.Done():
	}
	stop()
	if err := <-done; err != nil {
		return err
	}
	if err := hook.Close(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if p.Kind == "" {
		return fmt.Errorf("no webhook arrived: %w", ctx.Err())
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "webhook received: %s\n", body)
	fmt.Fprintf(out, "scaler updates: %+v\n", mem.Updates())
	return nil
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "custom-notifier:", err)
		os.Exit(1)
	}
}
