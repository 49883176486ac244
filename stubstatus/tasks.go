package stubstatus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

// Defaults of TaskOptions.
const (
	// DefaultTaskRefresh is how often a TaskSource lists its service's
	// tasks again unless TaskOptions.Refresh says otherwise: 15 s, give or
	// take a tenth (see TaskOptions.Refresh).
	DefaultTaskRefresh = 15 * time.Second
	// MaxTaskRefresh is the longest TaskOptions.Refresh accepted: a task
	// list older than an hour misses the tasks started since, and a longer
	// value is a slip of the unit.
	MaxTaskRefresh = time.Hour
	// DefaultMaxInFlight is how many of one service's tasks a TaskSource
	// reads at once unless TaskOptions.MaxInFlight says otherwise.
	DefaultMaxInFlight = 16
)

// unansweredLogEvery is how often, at most, a TaskSource names the tasks
// that did not answer in its log.
const unansweredLogEvery = time.Minute

// TaskLister lists a service's tasks: those the service wants running,
// running or still starting. The ECS one is scaler/ecs.TaskLister. It is
// called from one check at a time per service, possibly for many services
// at once.
type TaskLister interface {
	Tasks(ctx context.Context, svc scaler.ServiceID) ([]scaler.Task, error)
}

// TaskListerFunc adapts an ordinary function to a TaskLister.
type TaskListerFunc func(ctx context.Context, svc scaler.ServiceID) ([]scaler.Task, error)

// Tasks calls f(ctx, svc).
func (f TaskListerFunc) Tasks(ctx context.Context, svc scaler.ServiceID) ([]scaler.Task, error) {
	return f(ctx, svc)
}

// TaskOptions configures a TaskSource. Service, Lister, URL and Timeout are
// required.
type TaskOptions struct {
	// Service is the service whose tasks are read.
	Service scaler.ServiceID
	// Lister lists the service's tasks.
	Lister TaskLister
	// URL is the per-task stub_status URL: a template whose host is
	// TaskIPPlaceholder, such as "http://{ip}:8080/nginx-status" (see
	// CheckTaskURL). Userinfo in it is sent as basic auth but never shown.
	URL string
	// AuthHeader and AuthValue are sent with each task's request, as for
	// Options.
	AuthHeader string
	AuthValue  string
	// Metric is each task's figure. Default MetricActive.
	Metric Metric
	// Aggregate combines the tasks' figures into Reading.Value. Default
	// AggregateAvg.
	Aggregate Aggregate
	// Timeout bounds one whole read: listing the tasks when due (which may
	// take at most half of it) and every task's request, which run at once.
	// Required (> 0); pass the service's StatusTimeout.
	Timeout time.Duration
	// Client or Transport makes the requests, as for Options. With neither,
	// the TaskSource uses a new NewTransportTLS(TLS) of its own.
	Client    *http.Client
	Transport http.RoundTripper
	// TLS says how each task's certificate is checked, as for Options; a
	// ServerName needs an https URL template and Verify.
	TLS TLSMode
	// MaxBody is the largest body read from one task, in bytes. Default
	// DefaultMaxBody.
	MaxBody int64
	// Refresh is how often the tasks are listed again. Each interval is
	// stretched or shrunk by up to a tenth, by a fixed function of the
	// service and the count of listings (so services drift apart, and a
	// run is repeatable). The list is also refreshed at the first read after
	// a scale-out (ScaledOut) and when a task that answered stops answering.
	// Default DefaultTaskRefresh; at least 1 s, at most MaxTaskRefresh (1 h).
	Refresh time.Duration
	// MaxInFlight is how many of the service's tasks are read at once.
	// Default DefaultMaxInFlight.
	MaxInFlight int
	// Fallback, when set, is read while the tasks cannot be listed (the
	// seed's StatusUrl through the load balancer). Without it such a read
	// fails.
	Fallback autoscaler.MetricSource
	// Clock tells the time for refreshes and log pacing. Default
	// clock.New().
	Clock clock.Clock
	// Logger receives the source's own log lines (discovery failing and
	// recovering, tasks that did not answer); nil discards them.
	Logger *slog.Logger
}

// TaskSource reads a service's load from every one of its running tasks:
// it lists the tasks through a TaskLister, polls each task's nginx
// stub_status at the task's own address, and sums and aggregates what they
// report. It implements autoscaler.MetricSource and
// autoscaler.ScaleOutListener.
//
// A read lists the tasks when the list is due, then reads every running
// task at once (at most MaxInFlight in flight), all within Timeout: a task
// that hangs costs the read at most Timeout and never delays another
// service. The reading (see autoscaler.Reading) carries the tasks that
// answered (Tasks), their exact sum (Total), the tasks that did not answer
// (Unanswered) and those still starting (Starting); Value is their average
// or maximum. Any task answering 503 makes the reading Overload. A read
// fails only when no task answered.
//
// A task that stops answering makes the source list the tasks again at
// once: a task that was stopped is then dropped, never counted as a
// failure. Tasks that did not answer and are still listed are named in
// the log, at most once a minute.
//
// Reads are serialised, as for Source: one buffer per request in flight is
// reused from read to read.
type TaskSource struct {
	get      getter
	svc      scaler.ServiceID
	lister   TaskLister
	url      taskURL
	safeURL  string      // the template without userinfo
	header   http.Header // sent with every task's request
	agg      Aggregate
	refresh  time.Duration
	inFlight int
	fallback autoscaler.MetricSource
	clock    clock.Clock
	log      *slog.Logger

	mu       sync.Mutex
	tasks    []*task          // running tasks, as last listed
	byID     map[string]*task // the same, by ID
	starting int              // tasks last listed as starting
	listed   bool             // a listing has succeeded
	seq      int              // listings that succeeded
	listings uint64           // listings tried, for the jitter
	due      time.Time        // when the next listing is due
	fails    int              // listings failed in a row
	listErr  error            // the last listing's failure, while fails > 0
	fellBack bool             // the last read used the fallback
	reads    uint64           // reads made
	named    time.Time        // when unanswered tasks were last named
	slots    []*slot          // one per request in flight
	scratch  []*task          // tasks to poll in this read
}

// task is one running task and its last answer.
type task struct {
	id   string
	raw  string        // the request's URL as expanded from the template
	req  *http.Request // built once per listing that changed its address; nil when ep is set
	ep   *endpoint     // the request prepared for get.fast, when the source has one
	url  string        // the request's URL without userinfo
	name string        // "task <id> (<url>)", for errors

	read     uint64 // the read that polled it last
	readSeq  int    // the listing in force when it was polled
	value    float64
	overload bool
	err      error
	// failing reports the task did not answer at its last read; failSeq is
	// the listing in force when its run of failures began. A listing after
	// that one that still lists it confirms it did not stop.
	failing bool
	failSeq int
}

func (t *task) String() string { return t.name }

var (
	_ autoscaler.MetricSource     = (*TaskSource)(nil)
	_ autoscaler.ScaleOutListener = (*TaskSource)(nil)
)

// NewTaskSource checks opts and returns a TaskSource. Every problem is
// reported at once, as *autoscaler.FieldError values (Field is the
// TaskOptions field name) joined with errors.Join.
func NewTaskSource(opts TaskOptions) (*TaskSource, error) {
	var errs []error
	bad := func(field, problem string) {
		errs = append(errs, &autoscaler.FieldError{Field: field, Problem: problem})
	}
	if opts.Service.Cluster == "" || opts.Service.Name == "" {
		bad("Service", "cluster and name are required")
	}
	if opts.Lister == nil {
		bad("Lister", "required")
	}
	tmpl, err := parseTaskURL(opts.URL)
	if err != nil {
		bad("URL", err.Error())
	}
	checkRequest(bad, opts.AuthHeader, opts.AuthValue, &opts.Metric, opts.Timeout, &opts.MaxBody)
	if opts.TLS.ServerName != "" {
		if err := CheckTLSServerName(opts.TLS.ServerName); err != nil {
			bad("TLS", "ServerName: "+err.Error())
		} else if err := CheckTLS(tmpl.expand(netip.MustParseAddr("192.0.2.1")), opts.TLS); err != nil && tmpl != (taskURL{}) {
			bad("TLS", "ServerName: "+err.Error())
		}
	}
	if opts.Aggregate == "" {
		opts.Aggregate = AggregateAvg
	}
	if _, err := ParseAggregate(string(opts.Aggregate)); err != nil {
		bad("Aggregate", err.Error())
	}
	if opts.Refresh == 0 {
		opts.Refresh = DefaultTaskRefresh
	}
	if err := CheckTaskRefresh(opts.Refresh); err != nil {
		bad("Refresh", err.Error())
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Client != nil && opts.Transport != nil {
		bad("Transport", "set together with Client: give one or the other")
	}
	checkTransport(bad, opts.Transport)
	if opts.MaxInFlight < 0 {
		bad("MaxInFlight", fmt.Sprintf("must be > 0 (or 0 for the default), got %d", opts.MaxInFlight))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	rt := opts.Transport
	if opts.Client == nil && rt == nil {
		rt = NewTransportTLS(opts.TLS)
	}
	g := getter{client: opts.Client, rt: rt, secret: opts.AuthValue, metric: opts.Metric, timeout: opts.Timeout, maxBody: opts.MaxBody}
	g.fast, _ = rt.(*Transport)
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &TaskSource{
		get:      g,
		svc:      opts.Service,
		lister:   opts.Lister,
		url:      tmpl,
		safeURL:  redact(opts.URL),
		header:   requestHeader(opts.AuthHeader, opts.AuthValue),
		agg:      opts.Aggregate,
		refresh:  opts.Refresh,
		inFlight: opts.MaxInFlight,
		fallback: opts.Fallback,
		clock:    opts.Clock,
		log:      logger,
		byID:     map[string]*task{},
	}, nil
}

// CheckTaskRefresh accepts a task list refresh interval: at least 1 s, at
// most MaxTaskRefresh.
func CheckTaskRefresh(d time.Duration) error {
	switch {
	case d < time.Second:
		return fmt.Errorf("must be at least 1s, got %v", d)
	case d > MaxTaskRefresh:
		return fmt.Errorf("must be at most %v, got %v", MaxTaskRefresh, d)
	}
	return nil
}

// redact removes userinfo from a URL (template) for messages.
func redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}

// String describes the source without secrets: "stub_status of each task
// of <cluster>/<service> at <URL template>".
func (s *TaskSource) String() string {
	return "stub_status of each task of " + s.svc.String() + " at " + s.safeURL
}

// ScaledOut makes the next read list the tasks again, to see the new ones
// (as starting) at once. It implements autoscaler.ScaleOutListener.
func (s *TaskSource) ScaledOut(time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.due = time.Time{}
}

// Read lists the tasks if due, reads every running one and returns their
// aggregate (see TaskSource). It fails when the tasks could never be
// listed and there is no Fallback, when no task runs, and when no task
// answered.
func (s *TaskSource) Read(ctx context.Context) (autoscaler.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.get.timeout)
	defer cancel()

	now := s.clock.Now()
	listed := false
	if !now.Before(s.due) {
		_ = s.list(ctx, now) // a failure is kept in s.listErr
		listed = true
	}
	if !s.listed {
		return s.readFallback(ctx, s.listErr)
	}
	if s.fellBack {
		s.fellBack = false
		s.log.LogAttrs(ctx, slog.LevelInfo, "per-task reading resumed", slog.Int("tasks", len(s.tasks)))
	}
	if len(s.tasks) == 0 {
		return autoscaler.Reading{}, fmt.Errorf("%s: no task running to read (%d starting): no reading until one runs", s, s.starting)
	}

	s.reads++
	s.scratch = append(s.scratch[:0], s.tasks...)
	s.poll(ctx, s.scratch)
	if s.newFailures() {
		// A task that answered before did not: it may have stopped. List
		// again at once, so a stopped task is dropped rather than counted,
		// and read the tasks that appeared meanwhile; or, when this read
		// listed them already or has no time left, at the next read.
		switch {
		case listed || ctx.Err() != nil:
			if s.fails == 0 { // else the listing's backoff stands
				s.due = time.Time{}
			}
		case s.list(ctx, now) == nil:
			s.scratch = s.scratch[:0]
			for _, t := range s.tasks {
				if t.read != s.reads {
					s.scratch = append(s.scratch, t)
				}
			}
			s.poll(ctx, s.scratch)
		}
	}
	return s.reading(ctx, now)
}

// readFallback reads the Fallback while the tasks cannot be listed, saying
// so in the log when it starts doing so.
func (s *TaskSource) readFallback(ctx context.Context, listErr error) (autoscaler.Reading, error) {
	if listErr == nil {
		listErr = errors.New("not listed yet") // not reached: a read lists first
	}
	if s.fallback == nil {
		return autoscaler.Reading{}, fmt.Errorf("%s: tasks not listed, so no reading: %w", s, listErr)
	}
	if !s.fellBack {
		s.fellBack = true
		s.log.LogAttrs(ctx, slog.LevelWarn, "tasks not listed: reading the fallback status URL through the load balancer until they are",
			slog.String("fallback", sourceName(s.fallback)), slog.String("error", listErr.Error()))
	}
	return s.fallback.Read(ctx)
}

// sourceName names a metric source for the log: its String when it has one
// (a Source's hides its secrets), else only its type, which holds none.
func sourceName(src autoscaler.MetricSource) string {
	if s, ok := src.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", src)
}

// list lists the tasks, within half of the read's budget, and takes the
// result in; on failure the last list stays in force and the next listing
// is due after a backoff (1 s, doubling, up to the refresh interval). The
// first failure of a run and the recovery are logged.
func (s *TaskSource) list(ctx context.Context, now time.Time) error {
	lctx, cancel := context.WithTimeout(ctx, s.get.timeout/2)
	got, err := s.lister.Tasks(lctx, s.svc)
	cancel()
	s.listings++
	if err == nil {
		err = s.take(got)
	}
	if err != nil {
		s.fails++
		s.listErr = fmt.Errorf("list the tasks of %s: %w", s.svc, err)
		s.due = now.Add(min(s.refresh, time.Second<<min(s.fails-1, 16)))
		switch {
		case s.fails > 1: // said at the first failure of the run
		case s.listed:
			s.log.LogAttrs(ctx, slog.LevelWarn, "tasks not listed: reading the tasks listed last until they are",
				slog.Int("tasks", len(s.tasks)), slog.String("error", err.Error()))
		case s.fallback == nil: // with a fallback, readFallback says it
			s.log.LogAttrs(ctx, slog.LevelWarn, "tasks not listed: no reading until they are", slog.String("error", err.Error()))
		}
		return s.listErr
	}
	if s.fails > 0 && !s.fellBack { // else Read says the per-task reading resumed
		s.log.LogAttrs(ctx, slog.LevelInfo, "tasks listed again", slog.Int("failures", s.fails), slog.Int("tasks", len(s.tasks)))
	}
	s.fails, s.listErr = 0, nil
	s.due = now.Add(s.jittered())
	if len(s.tasks) == 0 {
		s.due = now.Add(min(s.refresh, 5*time.Second)) // look again soon for a task to start
	}
	return nil
}

// jittered returns the refresh interval stretched or shrunk by up to a
// tenth, by a hash of the service and the count of listings.
func (s *TaskSource) jittered() time.Duration {
	h := fnv.New64a()
	h.Write([]byte(s.svc.String()))
	h.Write([]byte(strconv.FormatUint(s.listings, 10)))
	u := float64(h.Sum64()>>11) / (1 << 53) // [0, 1)
	return time.Duration(float64(s.refresh) * (0.9 + 0.2*u))
}

// take puts a listing in force: tasks no longer listed are dropped, new
// ones get their request, and tasks not running count as starting.
func (s *TaskSource) take(got []scaler.Task) error {
	tasks := make([]*task, 0, len(got))
	byID := make(map[string]*task, len(got))
	starting := 0
	for _, g := range got {
		if !g.Running {
			starting++
			continue
		}
		if g.ID == "" || !g.Addr.IsValid() {
			return fmt.Errorf("running task %q listed without an ID or address", g.ID)
		}
		if byID[g.ID] != nil {
			continue // listed twice
		}
		t := s.byID[g.ID]
		if u := s.url.expand(g.Addr); t == nil || t.raw != u {
			var err error
			if t, err = s.newTask(g.ID, u); err != nil {
				return err
			}
		}
		tasks = append(tasks, t)
		byID[g.ID] = t
	}
	for id, t := range s.byID {
		if byID[id] == nil && (t.failing || t.read == s.reads && t.err != nil) {
			s.log.LogAttrs(context.Background(), slog.LevelDebug, "task no longer listed: it stopped", slog.String("task", id))
		}
	}
	s.seq++
	s.tasks, s.byID, s.starting, s.listed = tasks, byID, starting, true
	return nil
}

// newTask builds a task's request for url.
func (s *TaskSource) newTask(id, url string) (*task, error) {
	req, err := newRequest(url, s.header.Clone())
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", id, err)
	}
	safe := *req.URL
	safe.User = nil
	t := &task{id: id, raw: url, ep: s.get.endpoint(req), url: safe.String(), failSeq: -1}
	if t.ep == nil {
		t.req = req // kept only where net/http makes the requests
	}
	t.name = "task " + id + " (" + t.url + ")"
	return t, nil
}

// poll reads every task of ts at once, at most s.inFlight in flight, each
// in flight reusing a slot.
func (s *TaskSource) poll(ctx context.Context, ts []*task) {
	n := min(len(ts), s.inFlight)
	if n == 0 {
		return
	}
	for len(s.slots) < n {
		s.slots = append(s.slots, &slot{})
	}
	var next atomic.Int64
	work := func(sl *slot) {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(ts) {
				return
			}
			s.pollOne(ctx, ts[i], sl)
		}
	}
	var wg sync.WaitGroup
	for _, sl := range s.slots[1:n] {
		wg.Go(func() { work(sl) })
	}
	work(s.slots[0])
	wg.Wait()
}

func (s *TaskSource) pollOne(ctx context.Context, t *task, sl *slot) {
	t.read, t.readSeq = s.reads, s.seq
	st, overload, err := s.get.fetch(ctx, t.req, t.ep, t, sl)
	t.value, t.overload, t.err = 0, overload, err
	if err == nil && !overload {
		t.value, t.err = s.get.value(st, t)
	}
}

// newFailures reports a task read in this read that did not answer but had
// answered (or was new) before.
func (s *TaskSource) newFailures() bool {
	for _, t := range s.tasks {
		if t.read == s.reads && t.err != nil && !t.failing {
			return true
		}
	}
	return false
}

// reading aggregates this read's answers, updates each task's failure
// state, and names the tasks that did not answer in the log (at most once
// a minute; only those a listing confirmed did not stop).
func (s *TaskSource) reading(ctx context.Context, now time.Time) (autoscaler.Reading, error) {
	r := autoscaler.Reading{Starting: s.starting}
	figures, peak := 0, 0.0
	var firstErr error
	confirmed := 0
	for _, t := range s.tasks {
		if t.read != s.reads {
			continue // listed after the read ran out of time
		}
		switch {
		case t.err != nil:
			r.Unanswered++
			if firstErr == nil {
				firstErr = t.err
			}
			if !t.failing {
				t.failing, t.failSeq = true, t.readSeq
			}
			if t.failSeq < s.seq {
				confirmed++
			}
			continue
		case t.overload:
			r.Overload = true
		default:
			figures++
			r.Total += t.value
			peak = max(peak, t.value)
		}
		r.Tasks++
		t.failing, t.failSeq = false, -1
	}
	if figures > 0 {
		r.Value = r.Total / float64(figures)
		if s.agg == AggregateMax {
			r.Value = peak
		}
	}
	if confirmed > 0 && (s.named.IsZero() || now.Sub(s.named) >= unansweredLogEvery) {
		s.named = now
		s.log.LogAttrs(ctx, slog.LevelWarn, "tasks did not answer",
			slog.Int("unanswered", r.Unanswered), slog.Int("answered", r.Tasks),
			slog.String("tasks", s.failingNames()), slog.String("error", firstErr.Error()))
	}
	if r.Tasks == 0 {
		return autoscaler.Reading{}, fmt.Errorf("%s: none of the %d running tasks answered: %w", s, r.Unanswered, firstErr)
	}
	return r, nil
}

// failingNames lists the IDs of the tasks a listing confirmed are not
// answering (at most 10, then how many more).
func (s *TaskSource) failingNames() string {
	var b strings.Builder
	n := 0
	for _, t := range s.tasks {
		if !t.failing || t.failSeq >= s.seq {
			continue
		}
		if n++; n > 10 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.id)
	}
	if n > 10 {
		fmt.Fprintf(&b, " and %d more", n-10)
	}
	return b.String()
}
