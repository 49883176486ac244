package stubstatus

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Transport makes stub_status requests for the Sources and TaskSources it is
// given to (Options.Transport, TaskOptions.Transport). Their requests are
// HTTP/1.1 GETs, written and answered on the calling goroutine over
// keep-alive connections of its own: a Source's check costs one write and
// one read on a connection, no goroutine hand-off and no allocation, where
// net/http's client runs two goroutines per connection and builds a request,
// a response and its headers every time (see the README's performance
// section). Any other request, and any through a proxy, goes to HTTP.
//
// An answer is read strictly: HTTP/1.0 or HTTP/1.1, framed by
// Content-Length, chunked encoding or the end of the connection, no line
// longer than 64 KiB, at most 100 header lines. Its errors never quote it (a
// server may echo the request, auth header included). A kept-alive
// connection on which anything came while it was idle (the server closed
// it, or sent bytes no request asked for, which would be read as the next
// answer) is replaced before use, and one the server closed as the request
// went out is replaced and the GET made again: no failed read either way.
//
// Its settings are HTTP's, read when used: DialContext, TLSClientConfig,
// TLSHandshakeTimeout, Proxy, MaxIdleConns, MaxIdleConnsPerHost and
// IdleConnTimeout mean for its own connections what they mean for HTTP's.
// Set them before the first request. It is safe for concurrent use.
type Transport struct {
	// HTTP is the net/http transport whose settings Transport follows, and
	// which makes every request RoundTrip is given.
	HTTP *http.Transport

	mu sync.Mutex
	// idle holds the connections no request uses, by endpoint key, the most
	// recently used last. A key's slice stays when emptied, to be filled
	// again without allocating, until a sweep finds it empty.
	idle  map[string][]*conn
	nidle int
	swept time.Time // when idle connections were last checked for age
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip makes req through HTTP. A Source makes its own requests without
// it; RoundTrip lets a Transport stand wherever an http.RoundTripper is
// expected.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.HTTP.RoundTrip(req)
}

// CloseIdleConnections closes the connections no request is using, its own
// and HTTP's.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle, t.nidle = nil, 0
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.nc.Close()
		}
	}
	t.HTTP.CloseIdleConnections()
}

// endpoint is where one status page's requests go and what each says,
// prepared once.
type endpoint struct {
	key  string      // the idle pool's: scheme, address and TLS name
	addr string      // host:port to dial
	tls  *tls.Config // for https; nil for http
	wire []byte      // the whole request: request line, headers, blank line
}

// endpoint prepares req's requests, or returns nil when they go through a
// proxy, or the proxy setting is in error: HTTP makes (or refuses) those.
// req is a GET without a body, made by newRequest (which puts the URL's
// userinfo in its Authorization header).
func (t *Transport) endpoint(req *http.Request) *endpoint {
	if t.HTTP.Proxy != nil {
		if proxy, err := t.HTTP.Proxy(req); proxy != nil || err != nil {
			return nil
		}
	}
	u := req.URL
	if !isASCII(u.Host) || strings.Contains(u.Host, "%") {
		return nil // an IDN or an IPv6 zone: net/http rewrites the Host header
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ep := &endpoint{addr: net.JoinHostPort(u.Hostname(), port)}
	ep.key = u.Scheme + "://" + ep.addr
	if u.Scheme == "https" {
		if t.HTTP.TLSClientConfig != nil {
			ep.tls = t.HTTP.TLSClientConfig.Clone()
		} else {
			ep.tls = &tls.Config{}
		}
		if ep.tls.ServerName == "" {
			ep.tls.ServerName = u.Hostname() // the name verified, and SNI (not sent for an IP address)
		}
		ep.tls.NextProtos = []string{"http/1.1"}
		ep.key += " " + ep.tls.ServerName
	}
	header := req.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	for _, own := range []string{"Host", "Content-Length", "Transfer-Encoding", "Trailer"} {
		header.Del(own) // the request's own, as net/http ignores them in a request's Header
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	header.Write(&b) // a bytes.Buffer takes every write
	b.WriteString("\r\n")
	ep.wire = b.Bytes()
	return ep
}

// get makes ep's request and reads the answer's body into sl, within
// timeout (and ctx), and returns the answer's status code. The error of a
// request out of time is context.DeadlineExceeded. A connection idle in the
// pool that turns out closed (the server closed it while idle, or answers
// 408 Request Timeout, as a server that gave up on it does) is replaced by
// a new one and the request made again: it is a GET, and no answer to it
// had begun.
// w, when not nil, is bound to ctx and interrupts the request when ctx
// ends; without it, each request registers with ctx for that.
func (t *Transport) get(ctx context.Context, w *watch, ep *endpoint, timeout time.Duration, sl *slot, maxBody int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err // before a connection is taken, and closed for nothing
	}
	start := time.Now()
	deadline := start.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c := t.take(ep.key, start)
	for {
		reused := c != nil
		if !reused {
			var err error
			if c, err = t.dial(ctx, ep, deadline); err != nil {
				return 0, outOfTime(ctx, err, deadline)
			}
		}
		// A kept connection on which something came while it was idle (the
		// server's end of it, or bytes no request asked for, which would be
		// read as this request's answer) is not used.
		if err := c.nc.SetDeadline(deadline); err != nil || reused && !c.quiet() {
			c.nc.Close()
			if !reused {
				return 0, err
			}
			c = nil
			continue
		}
		code, keep, err := c.exchange(ctx, w, ep.wire, sl, maxBody)
		// The server gave a kept connection up while it was idle: it closed
		// it before any answer, or answered 408.
		stale := reused && (code == http.StatusRequestTimeout ||
			err != nil && c.unanswered && ctx.Err() == nil && time.Now().Before(deadline))
		if err == nil && !stale && keep && c.drained() {
			t.put(ep.key, c)
			return code, nil
		}
		c.nc.Close()
		switch {
		case stale:
			c = nil // dial anew
		case err != nil:
			return code, outOfTime(ctx, err, deadline) // a code: the body failed
		default:
			return code, nil
		}
	}
}

// outOfTime returns err; wrapped so that it is also
// context.DeadlineExceeded when it comes of the request running out of
// time; or ctx's error when ctx ended.
func outOfTime(ctx context.Context, err error, deadline time.Time) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(deadline):
		return fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	return err // a step's own timeout (dialling, the TLS handshake) says so itself
}

// dial opens a connection to ep, by deadline, and makes the TLS handshake
// for https.
func (t *Transport) dial(ctx context.Context, ep *endpoint, deadline time.Time) (*conn, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	dial := t.HTTP.DialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", ep.addr)
	if err != nil {
		return nil, err
	}
	c := &conn{}
	if sc, ok := nc.(syscall.Conn); ok {
		if c.raw, err = sc.SyscallConn(); err != nil {
			c.raw = nil
		}
		c.peekFn = c.peek // made once: quiet passes it at every reuse
	}
	if ep.tls != nil {
		hctx := ctx
		if d := t.HTTP.TLSHandshakeTimeout; d > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		tc := tls.Client(nc, ep.tls)
		if err := tc.HandshakeContext(hctx); err != nil {
			nc.Close()
			if hctx.Err() != nil && ctx.Err() == nil {
				return nil, fmt.Errorf("TLS handshake: no answer within %v: %w", t.HTTP.TLSHandshakeTimeout, err)
			}
			return nil, err
		}
		nc, c.tls = tc, tc
	}
	c.nc, c.br = nc, bufio.NewReaderSize(nc, connBuffer)
	return c, nil
}

// take returns the most recently used idle connection to key, or nil. It
// closes those idle for longer than IdleConnTimeout on its way (a NAT or a
// firewall may have dropped them without a word).
func (t *Transport) take(key string, now time.Time) *conn {
	maxIdle := t.HTTP.IdleConnTimeout
	for {
		t.mu.Lock()
		cs := t.idle[key]
		if len(cs) == 0 {
			t.mu.Unlock()
			return nil
		}
		c := cs[len(cs)-1]
		cs[len(cs)-1] = nil
		t.idle[key] = cs[:len(cs)-1]
		t.nidle--
		t.mu.Unlock()
		if maxIdle <= 0 || now.Sub(c.idleSince) <= maxIdle {
			return c
		}
		c.nc.Close()
	}
}

// put keeps c, idle, for the next request to key; or closes it when the
// pool is full. Now and then it closes the connections idle for longer than
// IdleConnTimeout.
func (t *Transport) put(key string, c *conn) {
	now := time.Now()
	c.idleSince = now
	t.mu.Lock()
	perHost, all := t.HTTP.MaxIdleConnsPerHost, t.HTTP.MaxIdleConns
	if perHost <= 0 {
		perHost = http.DefaultMaxIdleConnsPerHost
	}
	cs := t.idle[key]
	if len(cs) >= perHost || all > 0 && t.nidle >= all {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	if t.idle == nil {
		t.idle = map[string][]*conn{}
	}
	t.idle[key] = append(cs, c)
	t.nidle++
	var stale []*conn
	if max := t.HTTP.IdleConnTimeout; max > 0 && now.Sub(t.swept) >= max/4 {
		t.swept = now
		stale = t.sweep(now.Add(-max))
	}
	t.mu.Unlock()
	for _, c := range stale {
		c.nc.Close()
	}
}

// sweep removes the connections idle since before cutoff from the pool,
// and the keys left with none, and returns them. t.mu must be held.
func (t *Transport) sweep(cutoff time.Time) []*conn {
	var stale []*conn
	for key, cs := range t.idle {
		n := 0 // the oldest come first
		for n < len(cs) && cs[n].idleSince.Before(cutoff) {
			n++
		}
		if len(cs) == 0 {
			delete(t.idle, key)
		}
		if n == 0 {
			continue
		}
		stale = append(stale, cs[:n]...)
		if n == len(cs) {
			delete(t.idle, key)
		} else {
			t.idle[key] = append(cs[:0], cs[n:]...)
		}
		t.nidle -= n
	}
	return stale
}

// connBuffer is the size of a connection's read buffer: 4 KiB, ten times a
// stub_status answer's whole header. A longer line is read past it (see
// readLine).
const connBuffer = 4 << 10

// conn is one keep-alive connection.
type conn struct {
	nc        net.Conn
	br        *bufio.Reader
	tls       *tls.Conn // nc, when it is TLS
	idleSince time.Time // when it last went back to the pool
	// unanswered reports the last exchange failed before any byte of an
	// answer.
	unanswered bool

	// What quiet looks at the socket with (see quiet_unix.go).
	raw     syscall.RawConn // the TCP socket under nc; nil when unknown
	peekFn  func(fd uintptr) bool
	peekBuf [1]byte
	peekErr error
}

// drained reports whether c holds nothing beyond the answer just read. Over
// TLS, a record that came with the answer waits inside the TLS layer, out
// of the read buffer's sight; a read with a deadline in the past returns it
// without touching the socket.
func (c *conn) drained() bool {
	if c.tls == nil {
		return true // readAnswer saw the read buffer empty
	}
	if err := c.tls.SetReadDeadline(aLongTimeAgo); err != nil {
		return false
	}
	n, err := c.tls.Read(c.peekBuf[:])
	return n == 0 && errors.Is(err, os.ErrDeadlineExceeded)
}

// aLongTimeAgo is a deadline in the past, which makes a blocked read or
// write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// exchange writes wire and reads the answer, its body into sl (at most
// maxBody+1 bytes), by c's deadline; it gives up when ctx ends, told by w
// when not nil. keep reports the connection may carry another request.
func (c *conn) exchange(ctx context.Context, w *watch, wire []byte, sl *slot, maxBody int64) (code int, keep bool, err error) {
	c.unanswered = true
	switch {
	case w != nil:
		w.set(c.nc)
		defer w.set(nil)
		if err := ctx.Err(); err != nil { // it may have ended before set
			return 0, false, err
		}
	case ctx.Done() != nil:
		stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
		defer func() {
			if !stop() { // it ran, or runs: the connection's deadline is not its own
				keep = false
			}
		}()
	}
	if _, err := c.nc.Write(wire); err != nil {
		return 0, false, err
	}
	return readAnswer(c.br, sl, maxBody, &c.unanswered)
}

// watch interrupts the request in flight when the context its requests
// are made on ends. It registers with a context once (context.AfterFunc),
// not at every request, for a caller that passes the same context each
// time, as the engine does with a service's checks.
type watch struct {
	done <-chan struct{} // the Done of the context bound to
	stop func() bool     // unregisters from it

	mu sync.Mutex
	nc net.Conn // in use by the request in flight
	// gen counts bindings: the end of a context watched before only
	// interrupts a request made on it, never one made on a later context.
	gen uint64
}

// bind makes w watch ctx, if it does not already: if it does not watch a
// context that ends with ctx (the same Done channel).
func (w *watch) bind(ctx context.Context) {
	done := ctx.Done()
	if done == w.done {
		return
	}
	w.release()
	w.done = done
	if done != nil {
		w.mu.Lock()
		gen := w.gen
		w.mu.Unlock()
		w.stop = context.AfterFunc(ctx, func() { w.interrupt(gen) })
	}
}

// release stops watching.
func (w *watch) release() {
	if w.stop != nil {
		w.stop()
	}
	w.mu.Lock()
	w.gen++ // a callback of the context watched until now may still run
	w.mu.Unlock()
	w.done, w.stop = nil, nil
}

// interrupt makes the request in flight, if any, fail at once, if it was
// made on the context of binding gen.
func (w *watch) interrupt(gen uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.nc != nil && w.gen == gen {
		w.nc.SetDeadline(aLongTimeAgo)
	}
}

// set records the connection of the request in flight (nil: none).
func (w *watch) set(nc net.Conn) {
	w.mu.Lock()
	w.nc = nc
	w.mu.Unlock()
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
