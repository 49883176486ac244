package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

// StatusPath is where -listen serves the services' status.
const StatusPath = "/v1/services"

// StatusResponse is the body of GET /v1/services: what the running process
// last knew of each service. Times are RFC 3339, in UTC; a null or absent
// time means "never".
type StatusResponse struct {
	// Time is the server's clock when it answered: ages are relative to it.
	Time     time.Time       `json:"time"`
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one service in a StatusResponse, as of its last check.
type ServiceStatus struct {
	Cluster string `json:"cluster"`
	Service string `json:"service"`
	// State is one word: watching, grace, blind, paused, held-at-max,
	// scale-failing, starting or suspended (see autoscaler.State).
	State string `json:"state"`
	// Since is when State began (null before the first check); Until, when
	// State ends by itself (grace, held-at-max: the end of the grace
	// period; scale-failing: the next try).
	Since *time.Time `json:"since"`
	Until *time.Time `json:"until,omitempty"`
	// Reading is the last successful reading (null before the first). It
	// is kept while reads fail: ReadFailures says how many failed since.
	Reading      *StatusReading `json:"reading"`
	ReadFailures int            `json:"read_failures"`
	Threshold    float64        `json:"threshold"`
	// Mode is how a scale-out sets the desired count: "double", "capacity"
	// or "steps" (ScaleoutMode).
	Mode string `json:"mode"`
	// Cap is the most a scale-out may set (null: no cap); CapSource says
	// where it comes from: "MaxDesiredCount", "MaxCapacity" (the scalable
	// target's, as last read) or "none".
	Cap       *int   `json:"cap"`
	CapSource string `json:"cap_source"`
	// Seen is the service's scale as last read from ECS (null: not read
	// yet): at start-up, after each reload, and when a scale-out is called
	// for.
	Seen          *StatusScale `json:"seen"`
	ScaleFailures int          `json:"scale_failures"`
	LastCheck     *time.Time   `json:"last_check"`
	LastOutcome   string       `json:"last_outcome,omitempty"`
	NextCheck     *time.Time   `json:"next_check,omitempty"`
	// LastError is the last check's error (a failed read or scale-out).
	LastError string `json:"last_error,omitempty"`
}

// StatusReading is one reading and when it was taken.
type StatusReading struct {
	Value    float64   `json:"value"`
	Overload bool      `json:"overload"` // the status URL answered 503
	Time     time.Time `json:"time"`
}

// StatusScale is a service's counts as ECS reported them, and when.
type StatusScale struct {
	Desired int       `json:"desired"`
	Running int       `json:"running"`
	Pending int       `json:"pending"`
	Status  string    `json:"status,omitempty"`
	Time    time.Time `json:"time"`
}

// statusOf converts the engine's view of a service.
func statusOf(s autoscaler.ServiceStatus) ServiceStatus {
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	out := ServiceStatus{
		Cluster: s.Service.Cluster, Service: s.Service.Name,
		State: string(s.State), Since: at(s.Since), Until: at(s.Until),
		ReadFailures: s.ReadFailures, Threshold: s.Threshold, Mode: s.Mode, CapSource: s.CapSource,
		ScaleFailures: s.ScaleFailures, LastCheck: at(s.LastCheck), NextCheck: at(s.NextCheck),
	}
	if !s.ReadingTime.IsZero() {
		out.Reading = &StatusReading{Value: s.Reading.Value, Overload: s.Reading.Overload, Time: s.ReadingTime.UTC()}
	}
	if s.Cap > 0 {
		c := s.Cap
		out.Cap = &c
	}
	if !s.ScaleTime.IsZero() {
		out.Seen = &StatusScale{Desired: s.Scale.Desired, Running: s.Scale.Running, Pending: s.Scale.Pending,
			Status: s.Scale.Status, Time: s.ScaleTime.UTC()}
	}
	if !s.LastCheck.IsZero() {
		out.LastOutcome = s.LastOutcome.String()
	}
	if s.Err != nil {
		out.LastError = s.Err.Error()
	}
	return out
}

// services answers GET /v1/services.
func (p *probes) services(w http.ResponseWriter, _ *http.Request) {
	f := p.status.Load()
	if f == nil {
		http.Error(w, "not ready: config not loaded yet", http.StatusServiceUnavailable)
		return
	}
	statuses := (*f)()
	resp := StatusResponse{Time: time.Now().UTC(), Services: make([]ServiceStatus, len(statuses))}
	for i, s := range statuses {
		resp.Services[i] = statusOf(s)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(resp)
}

// blindLines describes the blind services, one line each, and reports
// whether every service is blind.
func blindLines(statuses []autoscaler.ServiceStatus, now time.Time) (lines []string, all bool) {
	for _, s := range statuses {
		if s.ReadFailures == 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("blind: %s since %s (%s, %d failed reads)",
			s.Service, s.Since.UTC().Format(time.RFC3339), now.Sub(s.Since).Round(time.Second), s.ReadFailures))
	}
	return lines, len(statuses) > 0 && len(lines) == len(statuses)
}

// FetchStatus asks a running fast-autoscaler for its services' status at
// url (its /v1/services). It returns the decoded answer and the body as it
// came, or an error saying why there is none.
func FetchStatus(ctx context.Context, target string) (*StatusResponse, []byte, error) {
	resp, url, err := get(ctx, "status", target)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading the answer: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body[:min(len(body), 1024)])))
	}
	var sr StatusResponse
	if err := json.Unmarshal(body, &sr); err != nil {
		return nil, nil, fmt.Errorf("%s: not a fast-autoscaler status answer: %w", url, err)
	}
	return &sr, body, nil
}
