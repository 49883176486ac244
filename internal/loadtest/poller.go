package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// pollerResult is what the poller prints as its last line.
type pollerResult struct {
	Checks   int64 `json:"checks"`
	Failures int64 `json:"failures"`
	// FirstError is the first failure's message, if any.
	FirstError string `json:"first_error,omitempty"`
	// FirstFailure and LastFailure are when the first and the last failure
	// happened, in Unix ms; 0 without failures.
	FirstFailure int64 `json:"first_failure,omitempty"`
	LastFailure  int64 `json:"last_failure,omitempty"`
}

// runPoller is the plain poller: what a Go programmer writes first to poll N
// stub_status pages (N services, or with -tasks each of their tasks). One
// goroutine and one time.Ticker per page, one
// shared keep-alive http.Client, a context timeout of one interval per
// request, the body read into a buffer kept per goroutine and only the
// Active count picked out of it. It prints "ready" once every goroutine is
// started, and its pollerResult as JSON when ctx is done (SIGTERM).
func runPoller(ctx context.Context, o options, stdout io.Writer) error {
	if o.pollerProfile != "" {
		f, err := os.Create(o.pollerProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Keep-alive for every service: all of them fire together each
	// interval, and a smaller idle pool would close and reopen connections
	// every time. This is the poller at its cheapest: the floor.
	urls := pollerURLs(o)
	tr.MaxIdleConns = len(urls)
	tr.MaxIdleConnsPerHost = o.services
	tr.DisableCompression = true
	client := &http.Client{Transport: tr}

	var (
		checks, failures atomic.Int64
		firstAt, lastAt  atomic.Int64
		firstErr         atomic.Pointer[string]
		wg               sync.WaitGroup
	)
	fail := func(err error) {
		failures.Add(1)
		now := time.Now().UnixMilli()
		firstAt.CompareAndSwap(0, now)
		lastAt.Store(now)
		msg := err.Error()
		firstErr.CompareAndSwap(nil, &msg)
	}
	for _, url := range urls {
		wg.Go(func() {
			buf := make([]byte, 0, 512)
			poll := func() {
				rctx, cancel := context.WithTimeout(ctx, o.interval)
				defer cancel()
				req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
				if err != nil {
					fail(err)
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					return
				}
				buf = buf[:0]
				b := bytes.NewBuffer(buf)
				_, err = b.ReadFrom(resp.Body)
				resp.Body.Close()
				buf = b.Bytes()
				switch {
				case err != nil:
					fail(err)
				case resp.StatusCode != http.StatusOK:
					fail(fmt.Errorf("%s: HTTP %d", url, resp.StatusCode))
				case activeConnections(buf) < 0:
					fail(fmt.Errorf("%s: no Active connections in %q", url, buf))
				default:
					checks.Add(1)
				}
			}
			tick := time.NewTicker(o.interval)
			defer tick.Stop()
			for {
				poll()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	fmt.Fprintln(stdout, "ready")
	wg.Wait()
	res := pollerResult{Checks: checks.Load(), Failures: failures.Load(), FirstFailure: firstAt.Load(), LastFailure: lastAt.Load()}
	if p := firstErr.Load(); p != nil {
		res.FirstError = *p
	}
	return json.NewEncoder(stdout).Encode(res)
}

// pollerURLs are the pages the poller reads: <target><i> for each service
// i, or with -tasks, for each of its tasks k, the same with {ip} replaced by
// taskAddr(i, k).
func pollerURLs(o options) []string {
	var urls []string
	for i := range o.services {
		if o.tasks == 0 {
			urls = append(urls, o.target+strconv.Itoa(i))
			continue
		}
		for k := range o.tasks {
			urls = append(urls, strings.Replace(o.target, "{ip}", taskAddr(i, k).String(), 1)+strconv.Itoa(i))
		}
	}
	return urls
}

// activeConnections returns the number after "Active connections:" at the
// start of a stub_status body, or -1.
func activeConnections(body []byte) int {
	rest, ok := bytes.CutPrefix(body, []byte("Active connections:"))
	if !ok {
		return -1
	}
	rest = bytes.TrimLeft(rest, " ")
	n := 0
	digits := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if digits == 0 {
		return -1
	}
	return n
}
