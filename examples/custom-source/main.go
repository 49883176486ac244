// Command custom-source shows how to write your own autoscaler.MetricSource:
// QueueDepth reads a JSON HTTP endpoint answering {"queue_depth": N} and
// hands N to the engine, which scales out when it is over the threshold.
//
// The demo serves such an endpoint on loopback reporting a deep queue, runs
// an engine on the real clock against an in-memory scaler, prints the
// scale-out it caused and exits:
//
//	go run ./examples/custom-source
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/notify"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// maxBody bounds how much of an answer QueueDepth reads (bytes).
const maxBody = 64 << 10

// QueueDepth is an autoscaler.MetricSource reading {"queue_depth": N} from an
// HTTP endpoint with GET. N must be a finite number >= 0. Like the seed's
// nginx rule, an HTTP 503 answer reports overload: scale out now. Errors name
// the URL without its user info or query, where a token may sit.
type QueueDepth struct {
	url    string
	safe   string // the URL as errors show it
	client *http.Client
}

// NewQueueDepth returns a source reading rawURL (http or https) through
// client (http.DefaultClient when nil). Give the client a Timeout no longer
// than the check interval.
func NewQueueDepth(rawURL string, client *http.Client) (*QueueDepth, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("queue depth source: URL must be an absolute http or https URL")
	}
	if client == nil {
		client = http.DefaultClient
	}
	safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return &QueueDepth{url: rawURL, safe: safe.String(), client: client}, nil
}

// Read fetches and checks one reading.
func (q *QueueDepth) Read(ctx context.Context) (autoscaler.Reading, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, q.url, nil)
	if err != nil {
		return autoscaler.Reading{}, fmt.Errorf("queue depth %s: %w", q.safe, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := q.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // its text repeats the full URL
		}
		return autoscaler.Reading{}, fmt.Errorf("queue depth %s: %w", q.safe, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return autoscaler.Reading{Overload: true}, nil
	case resp.StatusCode != http.StatusOK:
		return autoscaler.Reading{}, fmt.Errorf("queue depth %s: HTTP %s", q.safe, resp.Status)
	case err != nil:
		return autoscaler.Reading{}, fmt.Errorf("queue depth %s: read body: %w", q.safe, err)
	case len(body) > maxBody:
		return autoscaler.Reading{}, fmt.Errorf("queue depth %s: body longer than %d bytes", q.safe, maxBody)
	}
	var doc struct {
		QueueDepth *float64 `json:"queue_depth"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return autoscaler.Reading{}, fmt.Errorf("queue depth %s: body is not a JSON object with a numeric queue_depth: %w", q.safe, err)
	}
	switch d := doc.QueueDepth; {
	case d == nil:
		return autoscaler.Reading{}, fmt.Errorf("queue depth %s: body has no queue_depth field", q.safe)
	case *d < 0 || math.IsInf(*d, 0):
		return autoscaler.Reading{}, fmt.Errorf("queue depth %s: queue_depth must be a finite number >= 0, got %v", q.safe, *d)
	default:
		return autoscaler.Reading{Value: *d}, nil
	}
}

// run is the demo: a queue 420 deep behind prod/worker, threshold 100.
func run(ctx context.Context, out io.Writer) error {
	queue := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"queue_depth": 420}`)
	}))
	defer queue.Close()

	src, err := NewQueueDepth(queue.URL+"/stats", &http.Client{Timeout: time.Second})
	if err != nil {
		return err
	}
	r, err := src.Read(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "read queue_depth %v from %s\n", r.Value, src.safe)

	worker := scaler.ServiceID{Cluster: "prod", Name: "worker"}
	mem := scaler.NewMemory()
	mem.Put(worker, scaler.State{Desired: 3, Running: 3})
	policy := autoscaler.DefaultPolicy()
	policy.ScaleoutThreshold = 100 // messages waiting
	policy.CheckInterval = 100 * time.Millisecond
	events := make(chan notify.Event, 1)
	eng, err := autoscaler.New([]autoscaler.Service{{
		Cluster: worker.Cluster, Name: worker.Name, Policy: policy, Source: src,
		Notifier: notify.NotifierFunc(func(_ context.Context, ev notify.Event) error {
			select {
			case events <- ev:
			default: // never block the engine
			}
			return nil
		}),
	}}, autoscaler.Options{Scaler: mem})
	if err != nil {
		return err
	}

	engCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- eng.Run(engCtx) }()
	var ev notify.Event
	select {
	case ev = <-events:
	case <-ctx.Done():
	}
	stop()
	if err := <-done; err != nil {
		return err
	}
	if ev.Kind == 0 {
		return fmt.Errorf("no scale-out happened: %w", ctx.Err())
	}
	fmt.Fprintf(out, "%s %s/%s: queue_depth %v > %v, desired count %d -> %d\n",
		ev.Kind, ev.Cluster, ev.Service, ev.Value, policy.ScaleoutThreshold, ev.DesiredCur, ev.DesiredNew)
	fmt.Fprintf(out, "scaler updates: %+v\n", mem.Updates())
	return nil
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "custom-source:", err)
		os.Exit(1)
	}
}
