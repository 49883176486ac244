package stubstatus

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler"
)

const (
	testHeader = "Status-Auth-Key"
	testSecret = "hunter2-s3cret"
)

// statusServer serves nginxBody, or the given status with a short body, and
// counts the connections it accepts.
type statusServer struct {
	*httptest.Server
	conns atomic.Int32
}

func newStatusServer(t *testing.T, h http.HandlerFunc) *statusServer {
	t.Helper()
	s := &statusServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func serveBody(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(body))
	}
}

func newSource(t *testing.T, opts Options) *Source {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	src, err := New(opts)
	require.NoError(t, err)
	return src
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"everything wrong at once", Options{AuthValue: testSecret, Metric: "idle", Timeout: -1, MaxBody: -5},
			[]string{"URL: required", "AuthValue: set without AuthHeader", `Metric: must be "active" or "busy", got "idle"`, "Timeout: must be > 0", "MaxBody: must be between 1 and"}},
		{"relative URL", Options{URL: "example.com/nginx-status", Timeout: time.Second}, []string{"URL: must be an absolute http or https URL"}},
		{"ftp URL", Options{URL: "ftp://example.com/status", Timeout: time.Second}, []string{"URL: must be an absolute http or https URL"}},
		{"no host", Options{URL: "http:///nginx-status", Timeout: time.Second}, []string{"URL: must name a host"}},
		{"unparsable URL keeps userinfo out", Options{URL: "http://alice:" + testSecret + "@exa mple.com/%zz", Timeout: time.Second}, []string{"URL: is not a valid URL"}},
		{"zero timeout", Options{URL: "http://example.com/", Timeout: 0}, []string{"Timeout: must be > 0, got 0s"}},
		{"bad header name", Options{URL: "http://example.com/", AuthHeader: "Status Auth", AuthValue: testSecret, Timeout: time.Second}, []string{`AuthHeader: must be a valid HTTP header name, got "Status Auth"`}},
		{"header value with a line break", Options{URL: "http://example.com/", AuthHeader: testHeader, AuthValue: testSecret + "\r\nX: y", Timeout: time.Second}, []string{"AuthValue: must not contain control characters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New(tt.opts)
			require.Error(t, err)
			assert.Nil(t, src)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			var fe *autoscaler.FieldError
			assert.True(t, errors.As(err, &fe))
			assert.NotContains(t, err.Error(), testSecret)
		})
	}
}

func TestNewDefaults(t *testing.T) {
	src := newSource(t, Options{URL: "https://alice:" + testSecret + "@example.com/nginx-status"})
	assert.Equal(t, MetricActive, src.get.metric)
	assert.Equal(t, int64(DefaultMaxBody), src.get.maxBody)
	assert.Equal(t, "stub_status https://example.com/nginx-status", src.String())
	assert.Nil(t, src.get.client, "no http.Client: single round trips")
	tr, ok := src.get.rt.(*Transport)
	require.True(t, ok)
	assert.Same(t, tr, src.get.fast, "its own requests")
	require.NotNil(t, src.ep)
	assert.True(t, tr.HTTP.TLSClientConfig.InsecureSkipVerify, "the seed skips verification by default")
	assert.True(t, src.ep.tls.InsecureSkipVerify)
	assert.Equal(t, "example.com", src.ep.tls.ServerName, "SNI")
	assert.Equal(t, "example.com:443", src.ep.addr)
	assert.Equal(t, "GET /nginx-status HTTP/1.1\r\nHost: example.com\r\n"+
		"Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("alice:"+testSecret))+"\r\n"+
		"User-Agent: fast-autoscaler\r\n\r\n", string(src.ep.wire))
}

func TestReadSendsAuthHeaderOnlyWhenSet(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		serveBody(nginxBody)(w, r)
	})

	withAuth := newSource(t, Options{URL: srv.URL + "/nginx-status", AuthHeader: testHeader, AuthValue: testSecret})
	_, err := withAuth.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, testSecret, (<-got).Get(testHeader))

	without := newSource(t, Options{URL: srv.URL + "/nginx-status"})
	_, err = without.Read(t.Context())
	require.NoError(t, err)
	_, present := (<-got)[testHeader]
	assert.False(t, present)
}

func TestReadMetrics(t *testing.T) {
	srv := newStatusServer(t, serveBody(nginxBody))
	tests := []struct {
		metric Metric
		want   float64
	}{{"", 291}, {MetricActive, 291}, {MetricBusy, 291 - 106}}
	for _, tt := range tests {
		src := newSource(t, Options{URL: srv.URL, Metric: tt.metric})
		r, err := src.Read(t.Context())
		require.NoError(t, err)
		assert.Equal(t, autoscaler.Reading{Value: tt.want}, r, "metric %q", tt.metric)
	}

	st, err := newSource(t, Options{URL: srv.URL}).Status(t.Context())
	require.NoError(t, err)
	assert.Equal(t, nginxStatus, st)
}

func TestReadBusyInconsistent(t *testing.T) {
	srv := newStatusServer(t, serveBody("Active connections: 2\nserver accepts handled requests\n1 1 1\nReading: 0 Writing: 1 Waiting: 5\n"))
	_, err := newSource(t, Options{URL: srv.URL, Metric: MetricBusy}).Read(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "inconsistent")
	assert.Contains(t, err.Error(), srv.URL)
}

func TestReadStatusCodes(t *testing.T) {
	tests := []struct {
		code    int
		wantErr string
	}{
		{http.StatusNotFound, "unexpected HTTP status 404 Not Found"},
		{http.StatusInternalServerError, "unexpected HTTP status 500 Internal Server Error"},
		{http.StatusForbidden, "unexpected HTTP status 403 Forbidden"},
		{http.StatusServiceUnavailable, ""},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			srv := newStatusServer(t, func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "<html>"+http.StatusText(tt.code)+"</html>", tt.code)
			})
			src := newSource(t, Options{URL: srv.URL + "/nginx-status"})
			r, err := src.Read(t.Context())
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, autoscaler.Reading{Overload: true}, r)
				_, err = src.Status(t.Context())
				assert.ErrorIs(t, err, ErrOverloaded)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), srv.URL+"/nginx-status")
			assert.Equal(t, autoscaler.Reading{}, r)
		})
	}
}

func TestReadBadBodies(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		maxBody int64
		wantErr string
	}{
		{"HTML page with 200", "<html><body>Welcome to nginx!</body></html>", 0, "HTML page"},
		{"empty", "", 0, "empty body"},
		{"over MaxBody", nginxBody + strings.Repeat("x", 100), int64(len(nginxBody)), fmt.Sprintf("body larger than %d bytes", len(nginxBody))},
		{"over the default MaxBody", strings.Repeat("x", DefaultMaxBody+1), 0, "body larger than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newStatusServer(t, serveBody(tt.body))
			_, err := newSource(t, Options{URL: srv.URL, MaxBody: tt.maxBody}).Read(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}

	// A body exactly MaxBody long is fine.
	srv := newStatusServer(t, serveBody(nginxBody))
	_, err := newSource(t, Options{URL: srv.URL, MaxBody: int64(len(nginxBody))}).Read(t.Context())
	assert.NoError(t, err)
}

func TestReadTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newStatusServer(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	src := newSource(t, Options{URL: srv.URL, Timeout: 50 * time.Millisecond})
	_, err := src.Read(t.Context())
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "no answer within 50ms")
	assert.Contains(t, err.Error(), srv.URL)
}

func TestReadHonoursCancel(t *testing.T) {
	srv := newStatusServer(t, serveBody(nginxBody))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := newSource(t, Options{URL: srv.URL}).Read(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestReadReusesConnection(t *testing.T) {
	var n atomic.Int32
	srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			http.NotFound(w, r)
		default:
			serveBody(nginxBody)(w, r)
		}
	})
	src := newSource(t, Options{URL: srv.URL})
	for range 9 {
		_, _ = src.Read(t.Context())
	}
	assert.Equal(t, int32(9), n.Load())
	assert.Equal(t, int32(1), srv.conns.Load(), "all reads, 503 and 404 included, use one keep-alive connection")
}

func TestErrorsHideSecrets(t *testing.T) {
	release := make(chan struct{})
	srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			http.NotFound(w, r)
		case "/html":
			serveBody("<html>"+r.Header.Get(testHeader)+"</html>")(w, r)
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	t.Cleanup(func() { close(release) })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	base := strings.Replace(srv.URL, "http://", "http://alice:"+testSecret+"@", 1)
	closedBase := strings.Replace(closed.URL, "http://", "http://alice:"+testSecret+"@", 1)
	for _, u := range []string{base + "/404", base + "/html", base + "/slow", closedBase + "/refused"} {
		src := newSource(t, Options{URL: u, AuthHeader: testHeader, AuthValue: testSecret, Timeout: 100 * time.Millisecond})
		_, err := src.Read(t.Context())
		require.Error(t, err, u)
		assert.NotContains(t, err.Error(), testSecret)
		assert.NotContains(t, err.Error(), "alice")
		assert.NotContains(t, src.String(), testSecret)
		assert.NotContains(t, src.String(), "alice")
	}
}

// TestTransportErrorsHideEchoedSecrets: a server that answers with a
// malformed header echoing the request's auth header makes net/http quote
// that line in its error; the Source's error never shows it. (FuzzSource
// found this one.)
func TestTransportErrorsHideEchoedSecrets(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\n0: \x7f%s\r\n\r\n",
		"HTTP/1.1 2%s OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\n\r\n",
		"%s\r\n\r\n",
	} {
		srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(buf, raw, r.Header.Get(testHeader))
			_ = buf.Flush()
		})
		src := newSource(t, Options{URL: srv.URL, AuthHeader: testHeader, AuthValue: testSecret})
		_, err := src.Read(t.Context())
		require.Error(t, err, raw)
		assert.NotContains(t, err.Error(), testSecret, raw)
		assert.Contains(t, err.Error(), srv.URL, "the error still names the URL")
	}
}

func TestDefaultClientDoesNotFollowRedirects(t *testing.T) {
	var leaked atomic.Bool
	other := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get(testHeader) != "")
		serveBody(nginxBody)(w, r)
	})
	srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusFound)
	})
	_, err := newSource(t, Options{URL: srv.URL, AuthHeader: testHeader, AuthValue: testSecret}).Read(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "302 Found")
	assert.False(t, leaked.Load())
	assert.Zero(t, other.conns.Load())
}

func TestNewTransportTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(serveBody(nginxBody))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	srv.StartTLS()                                   // self-signed certificate
	t.Cleanup(srv.Close)

	skip := newSource(t, Options{URL: srv.URL, Client: NewClient(false)})
	r, err := skip.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 291.0, r.Value)

	verify := newSource(t, Options{URL: srv.URL, Client: NewClient(true)})
	_, err = verify.Read(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	tr := NewTransport(true)
	assert.False(t, tr.HTTP.TLSClientConfig.InsecureSkipVerify)
	assert.False(t, tr.HTTP.ForceAttemptHTTP2)
	assert.Positive(t, tr.HTTP.MaxIdleConnsPerHost)
	assert.Zero(t, tr.HTTP.MaxConnsPerHost, "no per-host cap: hung requests must not hold slots healthy services need")
	assert.Positive(t, tr.HTTP.IdleConnTimeout)
}

// TestHungServicesDoNotStarveHealthyOnes puts 150 services whose status page
// never answers on the same host:port as 50 healthy ones, as when many
// services sit behind one load balancer, all on one shared client. With the
// 150 requests hung, every healthy read still gets an answer: the hung
// requests hold no slot the healthy ones need.
func TestHungServicesDoNotStarveHealthyOnes(t *testing.T) {
	const hung, healthy = 150, 50
	release := make(chan struct{})
	arrived := make(chan struct{}, hung)
	srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/hung/") {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		serveBody(nginxBody)(w, r)
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close: hung handlers return

	client := NewClient(false)
	t.Cleanup(client.CloseIdleConnections)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hungDone := make(chan error, hung)
	for i := range hung {
		src := newSource(t, Options{URL: fmt.Sprintf("%s/hung/%d", srv.URL, i), Client: client, Timeout: time.Minute})
		go func() { _, err := src.Read(ctx); hungDone <- err }()
	}
	// Every hung request reaches the server: none waits for a connection.
	bound := time.NewTimer(10 * time.Second)
	defer bound.Stop()
	for n := range hung {
		select {
		case <-arrived:
		case <-bound.C:
			t.Fatalf("only %d of %d hung requests reached the server: the pool caps connections per host", n, hung)
		}
	}

	errs := make(chan error, healthy)
	for i := range healthy {
		src := newSource(t, Options{URL: fmt.Sprintf("%s/ok/%d", srv.URL, i), Client: client, Timeout: 5 * time.Second})
		go func() { _, err := src.Read(t.Context()); errs <- err }()
	}
	for range healthy {
		assert.NoError(t, <-errs, "a healthy read failed while others hung")
	}
	cancel()
	for range hung {
		assert.ErrorIs(t, <-hungDone, context.Canceled)
	}
}

// BenchmarkRead measures a read of a page served by net/http's server, in
// the same process: the server's cost included.
func BenchmarkRead(b *testing.B) {
	benchRead(b, func() string {
		srv := httptest.NewServer(serveBody(nginxBody))
		b.Cleanup(srv.Close)
		return srv.URL + "/nginx-status"
	})
}

// TestClientAndTransportAgree runs the same reads through a Client and
// through a Transport: the answers and the errors read alike.
func TestClientAndTransportAgree(t *testing.T) {
	gotAuth := make(chan string, 10)
	srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/basic":
			u, p, _ := r.BasicAuth()
			gotAuth <- u + ":" + p
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		serveBody(nginxBody)(w, r)
	})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	withUser := strings.Replace(srv.URL, "http://", "http://alice:"+testSecret+"@", 1)

	for name, opts := range map[string]Options{
		"client":    {Client: NewClient(false)},
		"transport": {Transport: NewTransport(false)},
	} {
		t.Run(name, func(t *testing.T) {
			read := func(u string) (autoscaler.Reading, error) {
				o := opts
				o.URL = u
				return newSource(t, o).Read(t.Context())
			}
			r, err := read(srv.URL + "/nginx-status")
			require.NoError(t, err)
			assert.Equal(t, 291.0, r.Value)

			_, err = read(withUser + "/basic")
			require.NoError(t, err)
			assert.Equal(t, "alice:"+testSecret, <-gotAuth, "userinfo goes as basic auth")

			_, err = read(srv.URL + "/redirect")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "unexpected HTTP status 302 Found", "no redirect followed")

			_, err = read(strings.Replace(closed.URL, "http://", "http://alice:"+testSecret+"@", 1) + "/refused")
			require.Error(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("stub_status %s/refused: ", closed.URL))
			assert.Contains(t, err.Error(), "connection refused")
			assert.NotContains(t, err.Error(), testSecret)
			assert.NotContains(t, err.Error(), "alice")
		})
	}
}

func TestNewClientAndTransportTogether(t *testing.T) {
	_, err := New(Options{URL: "http://example.com/", Timeout: time.Second, Client: NewClient(false), Transport: NewTransport(false)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Transport: set together with Client")
}

// TestReadKeepsItsRequestPerContext: through a net/http transport, reads
// given the same context reuse one request and its context; another
// context, a timeout or Close makes a new one. Through either transport,
// each read behaves as a fresh request would: the caller's context and the
// timeout count, and a read after either works.
func TestReadKeepsItsRequestPerContext(t *testing.T) {
	release := make(chan struct{})
	srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		serveBody(nginxBody)(w, r)
	})
	t.Cleanup(func() { close(release) })

	for name, rt := range map[string]http.RoundTripper{"net/http": NewTransport(false).HTTP, "Transport": NewTransport(false)} {
		t.Run(name, func(t *testing.T) {
			viaHTTP := name == "net/http"
			src := newSource(t, Options{URL: srv.URL + "/nginx-status", Transport: rt})
			ctx := t.Context()
			_, err := src.Read(ctx)
			require.NoError(t, err)
			first := src.live
			_, err = src.Read(ctx)
			require.NoError(t, err)
			if viaHTTP {
				assert.Same(t, first, src.live, "the same context: the same request")
			}

			other, cancel := context.WithCancel(ctx)
			_, err = src.Read(other)
			require.NoError(t, err)
			if viaHTTP {
				assert.NotSame(t, first, src.live, "another context: another request")
			}
			cancel()
			_, err = src.Read(other)
			assert.ErrorIs(t, err, context.Canceled, "the caller's context still counts")
			_, err = src.Read(ctx)
			require.NoError(t, err, "back on a live context")

			require.NoError(t, src.Close())
			assert.Nil(t, src.live)
			_, err = src.Read(ctx)
			require.NoError(t, err, "a read after Close works")

			slow := newSource(t, Options{URL: srv.URL + "/slow", Timeout: 20 * time.Millisecond, Transport: rt})
			for range 2 { // the second read follows a timeout: a fresh context, the same rule
				_, err = slow.Read(ctx)
				require.Error(t, err)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Contains(t, err.Error(), "no answer within 20ms")
			}

			type valueless struct{ context.Context }
			_, err = src.Read(valueless{ctx}) // comparable, but not ctx
			require.NoError(t, err)
			type uncomparable struct {
				context.Context
				_ []int
			}
			_, err = src.Read(uncomparable{Context: ctx})
			require.NoError(t, err, "a context type == would panic on")
			_, err = src.Read(uncomparable{Context: ctx})
			require.NoError(t, err)
		})
	}
}

// fuzzCase is what the fuzz server answers next.
type fuzzCase struct {
	status      int
	body        []byte
	name, value string // one response header
}

// FuzzSource reads a status page over real HTTP with every combination of
// HTTP status, body and one response header. "$AUTH" in the body stands for
// the request's auth header, as a page that echoes headers would send it. A
// read never panics, succeeds only on 200 (or reports overload on 503) with
// a plausible value, and its error never holds the auth value or the URL's
// password.
func FuzzSource(f *testing.F) {
	const secret, password = "fz-Auth-s3cret-value", "fz-url-passw0rd"
	for _, c := range []fuzzCase{
		{200, []byte(nginxBody), "Content-Type", "text/plain"},
		{200, []byte("Active connections: $AUTH \n"), "", ""},
		{200, []byte("Status-Auth-Key: $AUTH\n"), "Content-Length", "3"},
		{200, []byte("<html>$AUTH</html>"), "Content-Type", "text/html"},
		{200, []byte(strings.Replace(nginxBody, "106", "$AUTH", 1)), "", ""},
		{503, []byte("$AUTH"), "Retry-After", "1"},
		{302, nil, "Location", "/elsewhere?k=$AUTH"},
		{404, []byte("not found"), "", ""},
		{500, []byte(nginxBody), "Content-Encoding", "gzip"},
		{200, []byte(""), "Transfer-Encoding", "chunked"},
	} {
		f.Add(c.status, c.body, c.name, c.value)
	}
	var next atomic.Pointer[fuzzCase]
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := next.Load()
		echo := []byte(r.Header.Get(testHeader))
		if c.name != "" {
			w.Header().Set(c.name, strings.ReplaceAll(c.value, "$AUTH", string(echo)))
		}
		w.WriteHeader(c.status)
		_, _ = w.Write(bytes.ReplaceAll(c.body, []byte("$AUTH"), echo))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // malformed answers are the point
	srv.Start()
	f.Cleanup(srv.Close)
	url := strings.Replace(srv.URL, "http://", "http://fz-user:"+password+"@", 1) + "/nginx-status"
	src, err := New(Options{URL: url, AuthHeader: testHeader, AuthValue: secret, Timeout: 500 * time.Millisecond, MaxBody: 4096})
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, status int, body []byte, name, value string) {
		if status < 200 || status > 599 || len(body) > 8192 {
			t.Skip()
		}
		if name != "" && CheckHeaderName(name) != nil {
			t.Skip()
		}
		next.Store(&fuzzCase{status, body, name, value})
		r, err := src.Read(t.Context())
		if err != nil {
			for _, s := range []string{secret, password} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error holds a secret: %v", err)
				}
			}
			if r != (autoscaler.Reading{}) {
				t.Fatalf("failed Read returned %+v", r)
			}
			return
		}
		switch {
		case r.Overload && status != http.StatusServiceUnavailable:
			t.Fatalf("overload on HTTP %d", status)
		case !r.Overload && status != http.StatusOK:
			t.Fatalf("a reading on HTTP %d: %+v", status, r)
		case r.Value < 0 || r.Value > MaxGauge:
			t.Fatalf("implausible reading %v", r.Value)
		}
	})
}

// TestTransportKeepsAConnectionForEachCheckInFlight: checks of many
// services behind one host that run at once each need a connection; the
// transport keeps them all for the next round instead of closing the ones
// over a small idle cap and dialling them again.
func TestTransportKeepsAConnectionForEachCheckInFlight(t *testing.T) {
	const n = 100 // more than the 16 or 64 idle connections a host once kept
	var arrived atomic.Int32
	gate := make(chan struct{})
	srv := newStatusServer(t, func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1)%n == 0 {
			close(gate) // all n are in flight, each on its own connection
		} else {
			<-gate
		}
		serveBody(nginxBody)(w, r)
	})
	tr := NewTransport(false)
	t.Cleanup(tr.CloseIdleConnections)
	srcs := make([]*Source, n)
	for i := range srcs {
		srcs[i] = newSource(t, Options{URL: fmt.Sprintf("%s/s/%d", srv.URL, i), Transport: tr})
	}
	for range 3 {
		gate = make(chan struct{}) // the last round's requests have all been answered
		errs := make(chan error, n)
		for _, src := range srcs {
			go func() { _, err := src.Read(t.Context()); errs <- err }()
		}
		for range n {
			require.NoError(t, <-errs)
		}
	}
	assert.EqualValues(t, n, srv.conns.Load(), "three rounds of %d checks at once on %d connections", n, n)
	assert.Equal(t, MaxIdlePerHost, tr.HTTP.MaxIdleConnsPerHost)
	assert.Zero(t, tr.HTTP.MaxConnsPerHost, "no cap on connections in use")
}
