package stubstatus

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/tlstest"
)

// TestTLSServerNameVerifiesAnotherName: the URL names 127.0.0.1 (as a
// status URL names a load balancer), the certificate names only
// status.example.test. Verifying against the URL's host fails; verifying
// against the server name succeeds, sends it as SNI and carries the header.
// The same through a Transport and through an http.Client.
func TestTLSServerNameVerifiesAnotherName(t *testing.T) {
	var sni atomic.Value
	var header atomic.Value
	srv := tlstest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni.Store(r.TLS.ServerName)
		header.Store(r.Header.Get(testHeader))
		w.Write([]byte(nginxBody))
	}), "status.example.test")
	url := srv.URL + "/nginx-status" // https://127.0.0.1:port

	for _, viaHTTP := range []bool{false, true} {
		read := func(m TLSMode) error {
			opts := Options{URL: url, AuthHeader: testHeader, AuthValue: testSecret, Timeout: 5 * time.Second, TLS: m}
			if viaHTTP {
				client := NewClientTLS(m)
				client.Transport.(*http.Transport).TLSClientConfig.RootCAs = srv.Roots // the test's CA, as SSL_CERT_FILE would add
				opts.Client = client
			} else {
				tr := NewTransportTLS(m)
				tr.HTTP.TLSClientConfig.RootCAs = srv.Roots
				opts.Transport = tr
			}
			src, err := New(opts)
			require.NoError(t, err)
			_, err = src.Read(t.Context())
			return err
		}

		require.NoError(t, read(TLSMode{}), "unverified, as the seed")
		err := read(TLSMode{Verify: true})
		require.Error(t, err, "the certificate does not name the URL's host")
		assert.Contains(t, err.Error(), "certificate")
		assert.NotContains(t, err.Error(), testSecret)

		header.Store("")
		require.NoError(t, read(TLSMode{Verify: true, ServerName: "status.example.test"}))
		assert.Equal(t, "status.example.test", sni.Load(), "the name is sent as SNI")
		assert.Equal(t, testSecret, header.Load(), "the header went over verified TLS")

		err = read(TLSMode{Verify: true, ServerName: "other.example.test"})
		require.Error(t, err, "a certificate for another name is refused")
		assert.Contains(t, err.Error(), "other.example.test")
	}
}

func TestTLSRules(t *testing.T) {
	for _, name := range []string{"status.example.com", "a", "xn--bcher-kva.example", "example.com.", "a-b.c"} {
		assert.NoError(t, CheckTLSServerName(name), name)
	}
	for _, name := range []string{"", "https://example.com", "example.com:443", "example.com/x", "*.example.com",
		"10.0.0.1", "::1", "-a.example", "a..b", "exa mple.com", strings.Repeat("a", 64) + ".com"} {
		assert.Error(t, CheckTLSServerName(name), name)
	}
	assert.NoError(t, CheckTLS("https://lb.elb.amazonaws.com/s", TLSMode{Verify: true, ServerName: "x.example"}))
	assert.ErrorContains(t, CheckTLS("http://lb/s", TLSMode{Verify: true, ServerName: "x.example"}), "https")
	assert.ErrorContains(t, CheckTLS("https://lb/s", TLSMode{ServerName: "x.example"}), "verification")
	assert.NoError(t, CheckTLS("http://lb/s", TLSMode{}))

	assert.True(t, ExposesCredentials("https://lb/s", true, TLSMode{}))
	assert.True(t, ExposesCredentials("https://u:p@lb/s", false, TLSMode{}), "user info is a credential too")
	assert.False(t, ExposesCredentials("https://lb/s", false, TLSMode{}), "nothing to expose")
	assert.False(t, ExposesCredentials("https://lb/s", true, TLSMode{Verify: true}))
	assert.False(t, ExposesCredentials("https://lb/s", true, TLSMode{Verify: true, ServerName: "x.example"}))
	assert.False(t, ExposesCredentials("http://lb/s", true, TLSMode{}), "not TLS at all: another matter")

	_, err := New(Options{URL: "http://lb/s", Timeout: time.Second, TLS: TLSMode{Verify: true, ServerName: "x.example"}})
	assert.ErrorContains(t, err, "TLS: ServerName: needs an https status URL")
	_, err = New(Options{URL: "https://lb/s", Timeout: time.Second, TLS: TLSMode{Verify: true, ServerName: "x:1"}})
	assert.ErrorContains(t, err, "TLS: ServerName: must be a DNS name")
}
