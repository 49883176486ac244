package stubstatus

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answerCase is an answer as it comes off the wire, and what readAnswer
// makes of it.
type answerCase struct {
	name   string
	wire   string
	code   int
	body   string
	keep   bool
	errHas string // the error, when there is one
}

var answerCases = []answerCase{
	{name: "nginx", wire: "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello",
		code: 200, body: "hello", keep: true},
	{name: "no reason, bare LF", wire: "HTTP/1.1 200\nContent-Length: 2\n\nhi", code: 200, body: "hi", keep: true},
	{name: "header names in any case", wire: "HTTP/1.1 200 OK\r\ncontent-LENGTH:2\r\n\r\nhi", code: 200, body: "hi", keep: true},
	{name: "Connection: close", wire: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive, close\r\n\r\nhi",
		code: 200, body: "hi"},
	{name: "HTTP/1.0 closes", wire: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", code: 200, body: "hi"},
	{name: "HTTP/1.0 keep-alive", wire: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi",
		code: 200, body: "hi", keep: true},
	{name: "chunked", wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n",
		code: 200, body: "hello", keep: true},
	{name: "chunked wins over a length, and closes", wire: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
		code: 200, body: "hi"},
	{name: "HTTP/1.0 ignores Transfer-Encoding", wire: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi",
		code: 200, body: "2\r\nhi"},
	{name: "until the connection closes", wire: "HTTP/1.1 200 OK\r\n\r\nhello", code: 200, body: "hello"},
	{name: "informational answers skipped", wire: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
		code: 200, body: "hi", keep: true},
	{name: "204 has no body", wire: "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", code: 204, keep: true},
	{name: "503 with a body", wire: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy", code: 503, body: "busy", keep: true},
	{name: "same length twice", wire: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", code: 200, body: "hi", keep: true},
	{name: "more than it framed: not used again", wire: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n", code: 200, body: "hi"},
	{name: "body over the limit: not used again", wire: "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + strings.Repeat("x", 40),
		code: 200, body: strings.Repeat("x", 17)},

	{name: "nothing", wire: "", errHas: "connection closed before an answer"},
	{name: "HTTP/2", wire: "HTTP/2 200\r\n\r\n", errHas: "not an HTTP/1.0 or HTTP/1.1 status line"},
	{name: "HTTP/1.2", wire: "HTTP/1.2 200 OK\r\n\r\n", errHas: "status line"},
	{name: "two-digit code", wire: "HTTP/1.1 20 OK\r\n\r\n", errHas: "status line"},
	{name: "letters in the code", wire: "HTTP/1.1 2x0 OK\r\n\r\n", errHas: "3 digits"},
	{name: "code under 100", wire: "HTTP/1.1 099 OK\r\n\r\n", errHas: "status code 99"},
	{name: "101", wire: "HTTP/1.1 101 Switching Protocols\r\n\r\n", errHas: "101"},
	{name: "line without a colon", wire: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", errHas: "a header line is not"},
	{name: "folded line", wire: "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nhi", code: 200, body: "hi", keep: true},
	{name: "folded length", wire: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n 0\r\n\r\nhi", errHas: "folded header line"},
	{name: "folded first line", wire: "HTTP/1.1 200 OK\r\n X: a\r\n\r\n", errHas: "folded header line"},
	{name: "long line", wire: "HTTP/1.1 200 OK\r\nSet-Cookie: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 2\r\n\r\nhi",
		code: 200, body: "hi", keep: true},
	{name: "space before the colon", wire: "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nhi", errHas: "a header line is not"},
	{name: "conflicting lengths", wire: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", errHas: "Content-Length"},
	{name: "signed length", wire: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nhi", errHas: "Content-Length"},
	{name: "empty length", wire: "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", errHas: "Content-Length"},
	{name: "gzip", wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", errHas: "Transfer-Encoding"},
	{name: "chunked twice", wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", errHas: "Transfer-Encoding"},
	{name: "header cut off", wire: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", errHas: "unexpected EOF"},
	{name: "body cut off", wire: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi", code: 200, body: "hi", errHas: "reading the body: unexpected EOF"},
	{name: "bad chunk", wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n", code: 200, errHas: "reading the body"},
	{name: "too long a line", wire: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 70000) + "\r\n\r\n", errHas: "longer than 65536 bytes"},
	{name: "too many lines", wire: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: 1\r\n", 101) + "\r\n", errHas: "more than 100 header lines"},
}

func TestReadAnswer(t *testing.T) {
	for _, c := range answerCases {
		t.Run(c.name, func(t *testing.T) {
			var sl slot
			unanswered := true
			code, keep, err := readAnswer(bufio.NewReaderSize(strings.NewReader(c.wire), connBuffer), &sl, 16, &unanswered)
			if c.errHas != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.errHas)
				assert.False(t, keep, "a connection that failed is never used again")
			} else {
				require.NoError(t, err)
				assert.Equal(t, c.keep, keep, "keep")
			}
			assert.Equal(t, c.code, code)
			assert.Equal(t, c.body, sl.buf.String())
			assert.Equal(t, c.wire == "", unanswered, "unanswered only when no byte came")
		})
	}
}

// FuzzReadAnswer checks readAnswer against net/http's own reading of the
// same bytes: an answer it accepts, net/http reads with the same status
// and body. It is stricter than net/http in places (an HTTP/1.2 status
// line, folded header lines), never laxer. Errors never quote the answer.
func FuzzReadAnswer(f *testing.F) {
	for _, c := range answerCases {
		f.Add([]byte(c.wire))
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Echo: secret-value\r\n\r\nhello"))
	f.Fuzz(func(t *testing.T, wire []byte) {
		const maxBody = 64
		var sl slot
		unanswered := true
		code, _, err := readAnswer(bufio.NewReaderSize(bytes.NewReader(wire), connBuffer), &sl, maxBody, &unanswered)
		if err != nil {
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("the error quotes the answer: %v", err)
			}
			return
		}
		br := bufio.NewReader(bytes.NewReader(wire))
		var resp *http.Response
		for {
			resp, err = http.ReadResponse(br, &http.Request{Method: http.MethodGet})
			if err != nil {
				t.Fatalf("readAnswer took an answer net/http refuses (%v): %q", err, wire)
			}
			if resp.StatusCode >= 200 {
				break
			}
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		// net/http checks the trailer after the last chunk more closely;
		// readAnswer only skips it (the body is whole either way).
		if err != nil && !strings.Contains(err.Error(), "trailer") {
			t.Fatalf("readAnswer read a body net/http cannot (%v): %q", err, wire)
		}
		if resp.StatusCode != code || !bytes.Equal(body, sl.buf.Bytes()) {
			t.Fatalf("readAnswer: %d %q; net/http: %d %q; answer %q", code, sl.buf.Bytes(), resp.StatusCode, body, wire)
		}
	})
}

// TestTransportRedialsWhatTheServerClosed: a keep-alive connection the
// server closed while it sat idle in the pool costs no failed read: the
// request is made again on a new connection.
func TestTransportRedialsWhatTheServerClosed(t *testing.T) {
	srv := newStatusServer(t, serveBody(nginxBody))
	src := newSource(t, Options{URL: srv.URL})
	for i := range 3 {
		_, err := src.Read(t.Context())
		require.NoError(t, err, "read %d", i)
		srv.CloseClientConnections() // as a server does at its keep-alive timeout
	}
	assert.EqualValues(t, 3, srv.conns.Load())
}

// TestTransportTakesAnIdleTimeoutAnswer: a server that gave up on an idle
// connection with 408 Request Timeout (as some do) has the request made
// again on a new connection.
func TestTransportTakesAnIdleTimeoutAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := accepted.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				readRequest := func() bool { _, err := http.ReadRequest(br); return err == nil }
				if !readRequest() {
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(nginxBody), nginxBody)
				if n == 1 { // then gives up on the idle connection, as the next request arrives
					readRequest()
					io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
				}
			}()
		}
	}()
	src := newSource(t, Options{URL: "http://" + ln.Addr().String() + "/"})
	for range 2 {
		r, err := src.Read(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 291.0, r.Value)
	}
	assert.EqualValues(t, 2, accepted.Load())
}

// TestTransportHonoursConnectionClose: a server that closes after every
// answer is read on a new connection each time.
func TestTransportHonoursConnectionClose(t *testing.T) {
	srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		serveBody(nginxBody)(w, r)
	})
	src := newSource(t, Options{URL: srv.URL})
	for range 3 {
		_, err := src.Read(t.Context())
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, srv.conns.Load())
}

// TestTransportCancelEndsARead: a read hung on a server that does not
// answer ends as soon as its context is cancelled, long before its
// timeout, whether the Source watches its context (a Source's reads) or
// the request does (a TaskSource's).
func TestTransportCancelEndsARead(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := newStatusServer(t, func(_ http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	tr := NewTransport(false)
	src := newSource(t, Options{URL: srv.URL, Timeout: time.Hour, Transport: tr})
	reads := map[string]func(context.Context) error{
		"Source": func(ctx context.Context) error { _, err := src.Read(ctx); return err },
		"request": func(ctx context.Context) error {
			_, err := tr.get(ctx, nil, src.ep, time.Hour, &slot{}, DefaultMaxBody)
			return err
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- read(ctx) }()
			<-arrived
			cancel()
			failsafe := time.NewTimer(10 * time.Second)
			defer failsafe.Stop()
			select {
			case err := <-done:
				assert.ErrorIs(t, err, context.Canceled)
			case <-failsafe.C:
				t.Fatal("the read went on after its context was cancelled")
			}
		})
	}
}

// TestTransportLeavesProxiedRequestsToHTTP: a status URL the proxy
// setting sends through a proxy is read through HTTP, which speaks to the
// proxy.
func TestTransportLeavesProxiedRequestsToHTTP(t *testing.T) {
	var proxied atomic.Int32
	proxy := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.IsAbs() { // a proxy is asked for the whole URL
			proxied.Add(1)
		}
		serveBody(nginxBody)(w, r)
	})
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	tr := NewTransport(false)
	tr.HTTP.Proxy = http.ProxyURL(proxyURL)
	src := newSource(t, Options{URL: "http://status.example.test/nginx-status", Transport: tr})
	assert.Nil(t, src.ep)
	r, err := src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 291.0, r.Value)
	assert.EqualValues(t, 1, proxied.Load())
}

// TestTransportPool: the idle pool keeps at most MaxIdleConnsPerHost a
// host and MaxIdleConns in all, closing the rest, and sweeps out the
// connections idle for longer than IdleConnTimeout.
func TestTransportPool(t *testing.T) {
	tr := NewTransport(false)
	tr.HTTP.MaxIdleConnsPerHost, tr.HTTP.MaxIdleConns = 2, 3
	newConn := func() *conn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return &conn{nc: a}
	}
	isClosed := func(c *conn) bool {
		c.nc.SetDeadline(time.Now())
		_, err := c.nc.Read(make([]byte, 1))
		return errors.Is(err, io.ErrClosedPipe)
	}
	a1, a2, a3, b1, c1 := newConn(), newConn(), newConn(), newConn(), newConn()
	tr.put("a", a1)
	tr.put("a", a2)
	tr.put("a", a3)
	assert.True(t, isClosed(a3), "over the host's cap")
	tr.put("b", b1)
	tr.put("c", c1)
	assert.True(t, isClosed(c1), "over the cap in all")
	assert.Same(t, a2, tr.take("a", time.Now()), "the most recently used first")
	assert.Same(t, a1, tr.take("a", time.Now()))
	assert.Nil(t, tr.take("a", time.Now()))

	tr.put("a", a1)
	a1.idleSince = time.Now().Add(-2 * tr.HTTP.IdleConnTimeout)
	tr.swept = time.Time{}
	tr.put("a", a2) // sweeps
	assert.True(t, isClosed(a1), "idle for too long")
	assert.False(t, isClosed(a2))
	assert.Same(t, a2, tr.take("a", time.Now()))
	assert.Nil(t, tr.take("a", time.Now()))
}

// rawServer answers every request on every connection with answer, as
// fast as it can and allocating nothing per request, so that a benchmark
// or an allocation count measures the client alone.
func rawServer(t testing.TB, answer []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(line) <= 2 { // the blank line that ends a request
						if _, err := c.Write(answer); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/nginx-status"
}

var nginxAnswer = fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n%s",
	len(nginxBody), nginxBody)

// TestReadAllocatesNothing: a Source's read through its Transport, on a
// kept-alive connection and the same context, allocates nothing.
func TestReadAllocatesNothing(t *testing.T) {
	src := newSource(t, Options{URL: rawServer(t, nginxAnswer), AuthHeader: testHeader, AuthValue: testSecret})
	ctx := t.Context()
	var err error
	allocs := testing.AllocsPerRun(100, func() {
		if _, err = src.Read(ctx); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

// BenchmarkReadRaw is BenchmarkRead against a server that costs next to
// nothing: the client's own cost.
func BenchmarkReadRaw(b *testing.B) { benchRead(b, func() string { return rawServer(b, nginxAnswer) }) }

// benchRead measures a Source's reads of the page at the URL serve
// returns, through a Transport and through net/http's transport.
func benchRead(b *testing.B, serve func() string) {
	for name, rt := range map[string]http.RoundTripper{"Transport": NewTransport(false), "net/http": NewTransport(false).HTTP} {
		b.Run(name, func(b *testing.B) {
			src, err := New(Options{URL: serve(), AuthHeader: testHeader, AuthValue: testSecret,
				Timeout: 5 * time.Second, Transport: rt})
			require.NoError(b, err)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := src.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTransportStatusBeforeBodyError: an answer whose body breaks off is
// reported by its status when that is not 200, as the failure that
// matters, and as a body error otherwise.
func TestTransportStatusBeforeBodyError(t *testing.T) {
	for code, want := range map[int]string{500: "unexpected HTTP status 500", 200: "reading the body: unexpected EOF"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = http.ReadRequest(bufio.NewReader(c))
			fmt.Fprintf(c, "HTTP/1.1 %d X\r\nContent-Length: 100\r\n\r\nActive connections: 1", code)
		}()
		_, err = newSource(t, Options{URL: "http://" + ln.Addr().String() + "/"}).Read(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), want)
	}
}

// scriptServer is a bare TCP server: script runs on each connection it
// accepts, reading requests with readRequest and writing whatever it likes.
type scriptServer struct {
	url         string
	conns, reqs atomic.Int32
}

func newScriptServer(t *testing.T, script func(s *scriptServer, c net.Conn, readRequest func() bool)) *scriptServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	s := &scriptServer{url: "http://" + ln.Addr().String() + "/"}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				script(s, c, func() bool {
					_, err := http.ReadRequest(br)
					if err == nil {
						s.reqs.Add(1)
					}
					return err == nil
				})
			}()
		}
	}()
	return s
}

// activeAnswer is a whole answer whose page says n active connections.
func activeAnswer(n int) string {
	body := strings.Replace(nginxBody, "291", fmt.Sprint(n), 1)
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// TestTransportDropsAConnectionWithUnsolicitedBytes: bytes that arrive on
// a connection while it sits idle (a second answer from a confused proxy)
// are never read as the next request's answer: the connection is dropped
// and the request made on a new one, as net/http does.
func TestTransportDropsAConnectionWithUnsolicitedBytes(t *testing.T) {
	more, wrote := make(chan struct{}), make(chan struct{})
	srv := newScriptServer(t, func(s *scriptServer, c net.Conn, readRequest func() bool) {
		first := s.conns.Load() == 1
		for readRequest() {
			if !first || s.reqs.Load() > 1 {
				io.WriteString(c, activeAnswer(3))
				continue
			}
			io.WriteString(c, activeAnswer(1))
			<-more
			io.WriteString(c, activeAnswer(2)) // asked by no request
			close(wrote)
		}
	})
	tr := NewTransport(false)
	src := newSource(t, Options{URL: srv.url, Transport: tr})
	r, err := src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1.0, r.Value)
	close(more)
	<-wrote
	waitFor(t, "the unsolicited answer to reach the idle connection", func() bool {
		c := tr.take(src.ep.key, time.Now())
		require.NotNil(t, c)
		defer tr.put(src.ep.key, c)
		c.nc.SetDeadline(time.Now().Add(time.Second))
		return !c.quiet()
	})
	r, err = src.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 3.0, r.Value, "a fresh answer, not the one nobody asked for")
	assert.EqualValues(t, 2, srv.conns.Load())
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	failsafe := time.NewTimer(10 * time.Second)
	defer failsafe.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-failsafe.C:
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// TestTransportTLSRecordAfterTheAnswer: over TLS, a second answer sent in
// its own record right after the first waits inside the TLS layer, where
// the read buffer does not see it; it is never read as the next answer.
func TestTransportTLSRecordAfterTheAnswer(t *testing.T) {
	hs := httptest.NewTLSServer(http.NotFoundHandler())
	cfg := hs.TLS.Clone()
	hs.Close()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := tls.NewListener(raw, cfg)
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	stray := make(chan struct{}, 1) // the record nobody asked for is sent
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					io.WriteString(c, activeAnswer(n))
					if n == 1 {
						io.WriteString(c, activeAnswer(99)) // a record of its own, asked by no request
						select {
						case stray <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
	}()
	src := newSource(t, Options{URL: "https://" + raw.Addr().String() + "/"})
	for range 2 {
		r, err := src.Read(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 1.0, r.Value, "each connection's first answer; never the 99 nobody asked for")
		// The stray record is on its way (on loopback, in the socket once
		// written) before the next request: whether the TLS layer took it in
		// with the answer or the kernel holds it, the connection is replaced.
		// Bytes that come later still, while a request is in flight, cannot be
		// told from its answer by any client.
		<-stray
	}
	assert.EqualValues(t, 2, conns.Load())
}

// TestTransportTLSToAnIPAddress: an https URL naming an IP address is
// verified against the certificate's IP addresses, or not verified at all.
func TestTransportTLSToAnIPAddress(t *testing.T) {
	srv := httptest.NewTLSServer(serveBody(nginxBody)) // its certificate names 127.0.0.1
	t.Cleanup(srv.Close)
	for _, verify := range []bool{true, false} {
		tr := NewTransport(verify)
		tr.HTTP.TLSClientConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
		src := newSource(t, Options{URL: srv.URL, Transport: tr, TLS: TLSMode{Verify: verify}})
		require.NotNil(t, src.ep)
		r, err := src.Read(t.Context())
		require.NoError(t, err, "verify %v", verify)
		assert.Equal(t, 291.0, r.Value)
	}
	_, err := newSource(t, Options{URL: srv.URL, TLS: TLSMode{Verify: true}}).Read(t.Context())
	assert.ErrorContains(t, err, "certificate", "verified against the system's roots, which lack the test's")
}

// TestTransportHungHandshake: a server that never finishes the TLS
// handshake costs a read its Timeout, reported as no answer in time.
func TestTransportHungHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	release := make(chan struct{})
	t.Cleanup(func() { close(release); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); <-release }()
		}
	}()
	_, err = newSource(t, Options{URL: "https://" + ln.Addr().String() + "/", Timeout: 100 * time.Millisecond}).Read(t.Context())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "no answer within 100ms")
}

// TestTransportWritesNoHeaderOfItsOwnTwice: an auth header named like one
// the request writes itself (Host, Content-Length, Transfer-Encoding) is
// left out, as net/http leaves it out, rather than sent twice or promising
// a body.
func TestTransportWritesNoHeaderOfItsOwnTwice(t *testing.T) {
	srv := newStatusServer(t, serveBody(nginxBody))
	for _, h := range [][2]string{{"Host", "status.example.test"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "10"}} {
		for name, rt := range map[string]http.RoundTripper{"Transport": NewTransport(false), "net/http": NewTransport(false).HTTP} {
			src := newSource(t, Options{URL: srv.URL, AuthHeader: h[0], AuthValue: h[1], Transport: rt, Timeout: time.Second})
			_, err := src.Read(t.Context())
			assert.NoError(t, err, "%s through %s", h[0], name)
		}
	}
}

// TestTransportRetriesAnAnswerCutOffOnAReusedConnection: a reused
// connection whose answer broke off before its status line was whole counts
// as closed by the server, and the GET is made again on a new connection,
// as net/http does.
func TestTransportRetriesAnAnswerCutOffOnAReusedConnection(t *testing.T) {
	srv := newScriptServer(t, func(s *scriptServer, c net.Conn, readRequest func() bool) {
		for readRequest() {
			if s.reqs.Load() == 2 {
				io.WriteString(c, "HTTP/1.1 20")
				return
			}
			io.WriteString(c, activeAnswer(1))
		}
	})
	src := newSource(t, Options{URL: srv.url})
	for range 2 {
		_, err := src.Read(t.Context())
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, srv.reqs.Load(), "the second GET twice")
}

// TestTransportEndedContextsLeaveLaterReadsAlone: the end of a context a
// Source read on before never cuts a later read on another context short:
// reads on fresh contexts, each cancelled as soon as it returns, all
// succeed on one connection, whether the connection is kept or dialled.
func TestTransportEndedContextsLeaveLaterReadsAlone(t *testing.T) {
	srv := newScriptServer(t, func(_ *scriptServer, c net.Conn, readRequest func() bool) {
		for readRequest() {
			io.WriteString(c, activeAnswer(1))
		}
	})
	tr := NewTransport(false)
	src := newSource(t, Options{URL: srv.url, Transport: tr})
	for range 500 {
		ctx, cancel := context.WithCancel(t.Context())
		_, err := src.Read(ctx)
		cancel()
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, srv.conns.Load(), "no read was interrupted, so no connection was dropped")
	for range 100 {
		ctx, cancel := context.WithCancel(t.Context())
		_, err := src.Read(ctx)
		cancel()
		require.NoError(t, err)
		tr.CloseIdleConnections() // the next read dials
	}
	ep := src.ep
	for range 500 { // the same through a request's own registration
		ctx, cancel := context.WithCancel(t.Context())
		_, err := tr.get(ctx, nil, ep, 5*time.Second, &slot{}, DefaultMaxBody)
		cancel()
		require.NoError(t, err)
	}
}

// TestTransportClosesConnectionsIdleTooLong: a connection idle for longer
// than IdleConnTimeout is never used again (a NAT may have dropped it
// silently), even when no sweep has run since.
func TestTransportClosesConnectionsIdleTooLong(t *testing.T) {
	tr := NewTransport(false)
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := &conn{nc: a}
	tr.put("k", c)
	c.idleSince = time.Now().Add(-2 * tr.HTTP.IdleConnTimeout)
	assert.Nil(t, tr.take("k", time.Now()))
	_, err := a.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.ErrClosedPipe, "closed")
}

// TestNewRefusesATransportWithoutHTTPOrAHugeMaxBody: a Transport not made
// by NewTransportTLS, and a MaxBody too large to read into memory.
func TestNewRefusesATransportWithoutHTTPOrAHugeMaxBody(t *testing.T) {
	_, err := New(Options{URL: "http://127.0.0.1:1/", Timeout: time.Second, Transport: &Transport{}})
	assert.ErrorContains(t, err, "Transport: a *stubstatus.Transport without HTTP")
	_, err = New(Options{URL: "http://127.0.0.1:1/", Timeout: time.Second, MaxBody: math.MaxInt64})
	assert.ErrorContains(t, err, "MaxBody: must be between 1 and")
}
