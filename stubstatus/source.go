package stubstatus

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

// Metric selects which figure of the page a Source reports as its reading.
type Metric string

const (
	// MetricActive reports "Active connections", idle keep-alive connections
	// included: the seed's metric and the default.
	MetricActive Metric = "active"
	// MetricBusy reports Active − Waiting (see Status.Busy): connections at
	// work. It does not count idle keep-alive connections and is less prone
	// to nginx's counter drift on reload.
	MetricBusy Metric = "busy"
)

// DefaultMaxBody is the largest body a Source reads when Options.MaxBody is 0:
// 64 KiB, hundreds of times a real stub_status page.
const DefaultMaxBody = 64 << 10

// MaxMaxBody is the largest MaxBody accepted: 64 MiB. A body is read into
// memory whole.
const MaxMaxBody = 64 << 20

// ErrOverloaded is returned (wrapped) by Source.Status when the status URL
// answers 503 Service Unavailable, which the seed reads as "overloaded: scale
// out now". Source.Read reports that case as Reading{Overload: true} instead.
var ErrOverloaded = errors.New("status URL answered 503 Service Unavailable: overloaded")

// Options configures a Source. URL and Timeout are required.
type Options struct {
	// URL is the stub_status page, an absolute http or https URL such as
	// https://example.com/nginx-status. Userinfo in it is sent as basic auth
	// but never shown in errors or String.
	URL string
	// AuthHeader and AuthValue, when AuthHeader is set, are sent as a request
	// header (the seed's StatusAuthName and StatusAuthValue), typically for an
	// ALB rule that only lets the autoscaler reach the page. AuthValue is a
	// secret: it never appears in errors or String. AuthValue without
	// AuthHeader is an error.
	AuthHeader string
	AuthValue  string
	// Metric is the figure Read reports. Default MetricActive.
	Metric Metric
	// Timeout bounds one request, connecting included. Required (> 0); pass
	// the service's check interval, as the seed does.
	Timeout time.Duration
	// Client makes the requests. Share one across Sources with the same TLS
	// mode. A client given here is used as it is, its redirect policy and
	// TLS settings included: prefer one from NewClientTLS with the same TLS,
	// or Transport.
	Client *http.Client
	// Transport, when set instead of Client, makes each request with no
	// http.Client: no redirect is followed (a 3xx answer is an error, as
	// with NewClientTLS), no cookie is kept, and userinfo in URL is sent as
	// basic auth all the same. A *Transport (see NewTransportTLS) makes the
	// requests itself, at the least cost a check can have; any other
	// http.RoundTripper makes each as a single RoundTrip. Share one across
	// Sources with the same TLS mode. With neither Client nor Transport,
	// the Source uses a new NewTransportTLS(TLS) of its own.
	Transport http.RoundTripper
	// TLS says how the server's certificate is checked (see TLSMode). The
	// zero value skips verification, as the seed does. New checks it with
	// CheckTLSServerName and CheckTLS.
	TLS TLSMode
	// MaxBody is the largest body read, in bytes; a larger one is an error.
	// Default DefaultMaxBody (64 KiB); more than MaxMaxBody (64 MiB) or
	// negative is an error.
	MaxBody int64
}

// Source polls one nginx stub_status URL. It implements
// autoscaler.MetricSource. It reuses one body buffer, so its calls run one at
// a time: a Read or Status made while another is in flight on the same Source
// waits for it. The engine calls Read from one goroutine, so it never waits.
type Source struct {
	get     getter
	req     *http.Request // built once, when ep is nil; each request is a shallow copy with its own context
	ep      *endpoint     // the request prepared for get.fast, when the Source has one
	safeURL string        // the URL without userinfo, for errors and String

	mu    sync.Mutex
	slot  slot
	watch watch // the context of requests through get.fast
	// The request in use, kept from one read to the next while the caller
	// passes the same context (the engine does: one per service), so that a
	// read allocates no context, timer or request of its own.
	bound  context.Context         // the caller's context live derives from
	live   *http.Request           // req on a context of its own, cancelled by expire or with bound
	cancel context.CancelCauseFunc // cancels live's context
	expire *time.Timer             // armed during a read: cancels it after timeout
}

// getter makes stub_status requests with the settings a source's requests
// share.
type getter struct {
	client  *http.Client      // makes the requests, or
	rt      http.RoundTripper // makes them as single round trips (when client is nil),
	fast    *Transport        // or, when rt is one, makes those it has an endpoint for
	secret  string            // the auth value, kept out of errors
	metric  Metric
	timeout time.Duration
	maxBody int64
}

// slot is the body buffer of one request in flight, reused by the next.
type slot struct {
	buf  bytes.Buffer
	body io.LimitedReader
}

var _ autoscaler.MetricSource = (*Source)(nil)

// New checks opts and returns a Source. Every problem is reported at once, as
// *autoscaler.FieldError values (Field is the Options field name) joined with
// errors.Join.
func New(opts Options) (*Source, error) {
	var errs []error
	bad := func(field, problem string) {
		errs = append(errs, &autoscaler.FieldError{Field: field, Problem: problem})
	}
	u, err := parseURL(opts.URL)
	if err != nil {
		bad("URL", err.Error())
	}
	checkRequest(bad, opts.AuthHeader, opts.AuthValue, &opts.Metric, opts.Timeout, &opts.MaxBody)
	if opts.Client != nil && opts.Transport != nil {
		bad("Transport", "set together with Client: give one or the other")
	}
	checkTransport(bad, opts.Transport)
	if opts.TLS.ServerName != "" {
		if err := CheckTLSServerName(opts.TLS.ServerName); err != nil {
			bad("TLS", "ServerName: "+err.Error())
		} else if err := CheckTLS(opts.URL, opts.TLS); err != nil && u != nil {
			bad("TLS", "ServerName: "+err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	req, err := newRequest(opts.URL, requestHeader(opts.AuthHeader, opts.AuthValue))
	if err != nil {
		return nil, err
	}
	safe := *u
	safe.User = nil
	rt := opts.Transport
	if opts.Client == nil && rt == nil {
		rt = NewTransportTLS(opts.TLS)
	}
	g := getter{client: opts.Client, rt: rt, secret: opts.AuthValue, metric: opts.Metric, timeout: opts.Timeout, maxBody: opts.MaxBody}
	g.fast, _ = rt.(*Transport)
	src := &Source{get: g, ep: g.endpoint(req), safeURL: safe.String()}
	if src.ep == nil {
		src.req = req // kept only where net/http makes the requests: about 1 KB a service
	}
	return src, nil
}

// requestHeader returns the header every status request carries: the
// User-Agent, and authHeader (when set) with authValue.
func requestHeader(authHeader, authValue string) http.Header {
	h := http.Header{"User-Agent": {"fast-autoscaler"}}
	if authHeader != "" {
		h.Set(authHeader, authValue)
	}
	return h
}

// newRequest returns the GET of rawURL with header, and the URL's userinfo,
// if any, as basic auth unless header has an Authorization of its own: what
// http.Client adds, done once here so that every way of making the request
// (a Client, a Transport, any other RoundTripper) sends the same. Its error
// does not quote the URL, which may hold a password.
func newRequest(rawURL string, header http.Header) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("stub_status request: %w", err)
	}
	req.Header = header
	if u := req.URL.User; u != nil && header.Get("Authorization") == "" {
		pw, _ := u.Password()
		req.SetBasicAuth(u.Username(), pw)
	}
	return req, nil
}

// checkRequest checks the settings every status request has (those of
// Options and TaskOptions alike), reporting each problem to bad under the
// options' field name, and fills in the defaults of metric and maxBody.
func checkRequest(bad func(field, problem string), authHeader, authValue string, metric *Metric, timeout time.Duration, maxBody *int64) {
	if authHeader == "" && authValue != "" {
		bad("AuthValue", "set without AuthHeader")
	}
	if authHeader != "" {
		if err := CheckHeaderName(authHeader); err != nil {
			bad("AuthHeader", err.Error())
		}
	}
	if err := CheckHeaderValue(authValue); err != nil {
		bad("AuthValue", err.Error())
	}
	if *metric == "" {
		*metric = MetricActive
	}
	if _, err := ParseMetric(string(*metric)); err != nil {
		bad("Metric", err.Error())
	}
	if timeout <= 0 {
		bad("Timeout", fmt.Sprintf("must be > 0, got %v", timeout))
	}
	if *maxBody == 0 {
		*maxBody = DefaultMaxBody
	}
	if *maxBody < 0 || *maxBody > MaxMaxBody {
		bad("MaxBody", fmt.Sprintf("must be between 1 and %d bytes (or 0 for the default), got %d", int64(MaxMaxBody), *maxBody))
	}
}

// checkTransport checks a Transport option: a *Transport needs its HTTP.
func checkTransport(bad func(field, problem string), rt http.RoundTripper) {
	if tr, ok := rt.(*Transport); ok && tr.HTTP == nil {
		bad("Transport", "a *stubstatus.Transport without HTTP: make it with NewTransportTLS")
	}
}

// String describes the source without secrets: "stub_status <URL>", userinfo
// removed.
func (s *Source) String() string { return "stub_status " + s.safeURL }

// Read fetches the page and returns the chosen metric as Reading.Value. A 503
// answer is Reading{Overload: true} with a nil error; any other status but
// 200, a body that does not parse, a transport error or no answer within
// Options.Timeout is an error.
func (s *Source) Read(ctx context.Context) (autoscaler.Reading, error) {
	st, overload, err := s.fetch(ctx)
	if err != nil || overload {
		return autoscaler.Reading{Overload: overload}, err
	}
	v, err := s.get.value(st, s)
	if err != nil {
		return autoscaler.Reading{}, err
	}
	return autoscaler.Reading{Value: v}, nil
}

// Status fetches the page and returns all seven numbers. A 503 answer is an
// error wrapping ErrOverloaded; other failures are as for Read.
func (s *Source) Status(ctx context.Context) (Status, error) {
	st, overload, err := s.fetch(ctx)
	if err == nil && overload {
		err = fmt.Errorf("%s: %w", s, ErrOverloaded)
	}
	return st, err
}

// fetch makes one request. overload reports a 503 answer.
func (s *Source) fetch(ctx context.Context) (st Status, overload bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.ep != nil {
		s.watch.bind(ctx)
		return s.get.sendFast(ctx, &s.watch, s.ep, s, &s.slot)
	}
	if !sameContext(ctx, s.bound) || s.live.Context().Err() != nil {
		s.bind(ctx)
	}
	s.expire.Reset(s.get.timeout)
	defer s.expire.Stop() // if it fired, the context is done: the next read binds anew
	return s.get.send(s.live, s, &s.slot)
}

// bind makes the request the next reads use, on a context derived from
// ctx. The one it replaces is cancelled, which also releases it from its
// parent. s.mu must be held.
func (s *Source) bind(ctx context.Context) {
	s.release()
	reqCtx, cancel := context.WithCancelCause(ctx)
	s.bound, s.live, s.cancel = ctx, s.req.WithContext(reqCtx), cancel
	// What context.WithTimeout would say: the request's error wraps
	// context.DeadlineExceeded.
	s.expire = time.AfterFunc(time.Hour, func() { cancel(context.DeadlineExceeded) })
	s.expire.Stop()
}

// sameContext reports whether a and b are the same context value. A
// context whose type is not comparable is never the same (== would panic).
func sameContext(a, b context.Context) bool {
	t := reflect.TypeOf(a)
	return t != nil && t == reflect.TypeOf(b) && t.Comparable() && a == b
}

// release cancels the request context in use, if any, and stops watching
// the context of requests through get.fast. s.mu must be held.
func (s *Source) release() {
	s.watch.release()
	if s.cancel != nil {
		s.expire.Stop()
		s.cancel(context.Canceled)
		s.bound, s.live, s.cancel, s.expire = nil, nil, nil, nil
	}
}

// Close releases what the Source keeps between reads: the context of its
// request, which lives under the context its reads were given. Call it when
// the Source is no longer used, before that context ends (the application
// does when a reload removes a service). A later read works, and keeps a new
// one.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release()
	return nil
}

// endpoint prepares req for g.fast, or returns nil when g has no fast
// path for it (no Transport of this package, or a proxy in the way).
func (g *getter) endpoint(req *http.Request) *endpoint {
	if g.fast == nil {
		return nil
	}
	return g.fast.endpoint(req)
}

// fetch makes one request, req with ctx (or ep, when not nil, through
// g.fast), reading the body into sl. overload reports a 503 answer. who
// names the page in errors (the client's own errors, which quote the URL
// with its user name, are shown without it: see transportError).
func (g *getter) fetch(ctx context.Context, req *http.Request, ep *endpoint, who fmt.Stringer, sl *slot) (st Status, overload bool, err error) {
	if ep != nil {
		return g.sendFast(ctx, nil, ep, who, sl)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	return g.send(req.WithContext(ctx), who, sl)
}

// sendFast makes ep's request through g.fast, within g.timeout and ctx
// (watched by w, when not nil: see Transport.get); otherwise as fetch.
func (g *getter) sendFast(ctx context.Context, w *watch, ep *endpoint, who fmt.Stringer, sl *slot) (st Status, overload bool, err error) {
	code, err := g.fast.get(ctx, w, ep, g.timeout, sl, g.maxBody)
	if code == 0 {
		return st, false, g.requestError(who, err)
	}
	return g.answer(code, err, who, sl)
}

// send makes one request, req as it is (its context bounds it), reading the
// body into sl; otherwise as fetch.
func (g *getter) send(req *http.Request, who fmt.Stringer, sl *slot) (st Status, overload bool, err error) {
	resp, err := g.do(req)
	if err != nil {
		return st, false, g.requestError(who, err)
	}
	// Read the body to the end (bounded) before closing it, so that the
	// keep-alive connection goes back to the pool whatever the status.
	sl.buf.Reset()
	sl.body = io.LimitedReader{R: resp.Body, N: g.maxBody + 1}
	_, err = sl.buf.ReadFrom(&sl.body)
	sl.body.R = nil
	resp.Body.Close()
	if err != nil {
		err = fmt.Errorf("reading the body: %w", err)
	}
	return g.answer(resp.StatusCode, err, who, sl)
}

// requestError is the error of a request that got no answer.
func (g *getter) requestError(who fmt.Stringer, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer within %v: %w", who, g.timeout, g.transportError(err))
	}
	return fmt.Errorf("%s: %w", who, g.transportError(err))
}

// answer judges an answer with status code whose body, read into sl,
// ended in bodyErr (nil when read whole).
func (g *getter) answer(code int, bodyErr error, who fmt.Stringer, sl *slot) (st Status, overload bool, err error) {
	switch {
	case code == http.StatusServiceUnavailable:
		return st, true, nil
	case code != http.StatusOK:
		return st, false, fmt.Errorf("%s: unexpected HTTP status %d %s, want 200 (or 503 for overload)",
			who, code, http.StatusText(code))
	case bodyErr != nil:
		return st, false, fmt.Errorf("%s: %w", who, g.transportError(bodyErr))
	case int64(sl.buf.Len()) > g.maxBody:
		return st, false, fmt.Errorf("%s: body larger than %d bytes, not a stub_status page", who, g.maxBody)
	}
	if st, err = Parse(sl.buf.Bytes()); err != nil {
		return Status{}, false, fmt.Errorf("%s: %w", who, err)
	}
	return st, false, nil
}

// do sends req through the Client, or as one round trip through the
// Transport, whose errors it wraps as the Client would.
func (g *getter) do(req *http.Request) (*http.Response, error) {
	if g.client != nil {
		return g.client.Do(req)
	}
	resp, err := g.rt.RoundTrip(req)
	if err != nil {
		return nil, &url.Error{Op: "Get", URL: req.URL.Redacted(), Err: err}
	}
	return resp, nil
}

// value returns the figure of st that g's metric names.
func (g *getter) value(st Status, who fmt.Stringer) (float64, error) {
	if g.metric != MetricBusy {
		return float64(st.Active), nil
	}
	v, err := st.Busy()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", who, err)
	}
	return float64(v), nil
}

// transportError returns err, a failed request's error, as it may be shown:
// without the request's URL (the caller names the page, without user info),
// without the text net/http quotes from a malformed answer (a server that
// echoes request headers would put the auth value there), and without the
// auth value wherever else it may appear. The result unwraps to err, so
// errors.Is still finds context.DeadlineExceeded and the like.
func (g *getter) transportError(err error) error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	msg := quoted.ReplaceAllString(inner.Error(), `"…"`)
	if len(g.secret) >= minRedacted {
		msg = strings.ReplaceAll(msg, g.secret, "[redacted]")
	}
	return &shownError{msg: msg, err: err}
}

// quoted matches a string Go quoted with %q, escapes included.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// minRedacted is the shortest auth value replaced wherever it appears in
// an error; a shorter one would garble the message (quoted text, where an
// echo lands, is removed whatever its length).
const minRedacted = 4

// shownError is an error with a message fit to show, wrapping the original.
type shownError struct {
	msg string
	err error
}

func (e *shownError) Error() string { return e.msg }
func (e *shownError) Unwrap() error { return e.err }

// TLSMode says how a status request checks the server's TLS certificate.
// It is comparable: a program keeps one client per mode in use.
type TLSMode struct {
	// Verify checks the certificate against the system's roots and a name:
	// ServerName when set, else the URL's host. false skips verification,
	// as the seed does.
	Verify bool
	// ServerName, when set, is the name the certificate must carry, and the
	// SNI sent, while the connection still goes to the URL's host. It lets a
	// status URL name a load balancer (xxx.elb.amazonaws.com), whose
	// certificate names the site, and still verify it. It needs Verify.
	ServerName string
}

// NewClient returns NewClientTLS(TLSMode{Verify: verifyTLS}).
func NewClient(verifyTLS bool) *http.Client { return NewClientTLS(TLSMode{Verify: verifyTLS}) }

// NewClientTLS returns an HTTP client for stub_status requests on a new
// NewTransportTLS(m).HTTP, meant to be shared by every Source with that
// mode. It does not follow redirects: Go would forward the auth header to
// wherever a redirect points, so a 3xx answer is reported as an error
// instead.
func NewClientTLS(m TLSMode) *http.Client { return NewClientOn(NewTransportTLS(m).HTTP) }

// NewClientOn returns an HTTP client for stub_status requests on rt, for a
// program that shares one transport between Sources given it as Transport
// and others that take a Client (a TaskSource). Like NewClientTLS's, it
// does not follow redirects.
func NewClientOn(rt http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// NewTransport returns NewTransportTLS(TLSMode{Verify: verifyTLS}).
func NewTransport(verifyTLS bool) *Transport {
	return NewTransportTLS(TLSMode{Verify: verifyTLS})
}

// The idle pool of NewTransportTLS (see there): keep-alive connections kept
// open a host, and in all.
const (
	MaxIdlePerHost = 1024
	MaxIdle        = 4096
)

// NewTransportTLS returns a Transport for stub_status requests, meant to be
// shared by every Source with TLS mode m. Many services often sit
// behind one load balancer, so it keeps a pool of idle keep-alive
// connections per host: at most MaxIdlePerHost a host and MaxIdle in all,
// each closed after 90 s idle. It speaks HTTP/1.1 (HTTP/2 is not forced) and
// asks for no compression, since the page is tiny.
//
// The idle pool is sized for thousands of services behind one host. The
// checks that fall due together (the engine puts them on a grid, see
// autoscaler.Options.Coalesce) each need a connection at once, and every
// connection the pool cannot keep when they end is closed, to be dialled
// again a moment later: with 5,000 services a second on one host and the
// binary's 100 ms steps that is 500 at once, far over the 16 or 64 a host
// once kept, with which the process spent most of its time opening
// connections. A generous cap
// costs nothing where few services share a host: the pool reuses the most
// recently used connection first, so the ones beyond what the checks need
// sit unused and are closed after 90 s.
//
// It does not cap the connections in use per host (MaxConnsPerHost is 0).
// Such a cap would be shared by every service behind the host, so requests
// hung on a few services' broken status pages would hold its slots and the
// healthy services' requests would queue behind them until they too timed
// out: one service's fault would blind the others. No cap is needed either:
// a Source makes one request at a time, each bounded by its Timeout (a hung
// request's connection is closed when it times out), so the connections in
// use never outnumber the services; a TaskSource's requests, a bounded
// number at a time, each go to their own task's address.
//
// With m.Verify false the server's certificate is not verified, as in the
// seed: the status URL is often the load balancer's own DNS name
// (xxx.elb.amazonaws.com), which its certificate does not name. The auth
// header is then sent to whoever answers. m.ServerName keeps the load
// balancer's name in the URL and verifies the certificate against the
// site's name instead; prefer it, or Verify alone when the URL's name
// matches its certificate.
func NewTransportTLS(m TLSMode) *Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tlsConfig := &tls.Config{InsecureSkipVerify: !m.Verify, MinVersion: tls.VersionTLS12}
	if m.Verify && m.ServerName != "" {
		tlsConfig.ServerName = m.ServerName // the transport keeps a name it is given
	}
	return &Transport{HTTP: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConns:        MaxIdle,
		MaxIdleConnsPerHost: MaxIdlePerHost,
		MaxConnsPerHost:     0, // no cap: see above
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}
