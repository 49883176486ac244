package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out))

	got := out.String()
	assert.Contains(t, got, `msg=notify event=scaled_out cluster=prod service=web active=420`)
	assert.Contains(t, got, `webhook received: {"kind":"scaled_out",`)
	assert.Contains(t, got, `"cluster":"prod","service":"web","value":420,"overload":false,"desired_cur":3,"desired_new":10}`)
	assert.Contains(t, got, "scaler updates: [{Service:prod/web From:3 To:10}]")
	assert.NotContains(t, got, "T0KEN", "the webhook URL is a secret")
}

func TestWebhookFailureLoggedWithoutURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	var logs bytes.Buffer
	hook, err := NewWebhook(srv.URL+"/hooks/s3cret", WebhookOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)

	require.NoError(t, hook.Notify(t.Context(), notify.Event{Kind: notify.ScaledOut, Cluster: "prod", Service: "web"}))
	require.NoError(t, hook.Close(t.Context()))

	assert.Contains(t, logs.String(), `webhook delivery failed`)
	assert.Contains(t, logs.String(), `HTTP 500 Internal Server Error`)
	assert.NotContains(t, logs.String(), "s3cret")
}

func TestWebhookUnreachableErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hooks/s3cret"
	srv.Close() // nothing listens any more
	var logs bytes.Buffer
	hook, err := NewWebhook(url, WebhookOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)

	require.NoError(t, hook.Notify(t.Context(), notify.Event{Kind: notify.ScaledOut}))
	require.NoError(t, hook.Close(t.Context()))

	assert.Contains(t, logs.String(), "post to 127.0.0.1")
	assert.NotContains(t, logs.String(), "s3cret")
}

func TestWebhookQueueFullAndClosed(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-release
	}))
	defer srv.Close()
	hook, err := NewWebhook(srv.URL, WebhookOptions{QueueSize: 1})
	require.NoError(t, err)

	ev := notify.Event{Kind: notify.ScaledOut, Cluster: "prod", Service: "web"}
	require.NoError(t, hook.Notify(t.Context(), ev))
	<-arrived                                        // the first is in flight, the queue empty
	require.NoError(t, hook.Notify(t.Context(), ev)) // fills the queue
	err = hook.Notify(t.Context(), ev)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "queue full, scaled_out event for prod/web dropped")

	close(release)
	require.NoError(t, hook.Close(t.Context()))
	assert.ErrorContains(t, hook.Notify(t.Context(), ev), "closed")
}

func TestWebhookCloseGivesUpWhenContextEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hangs until the client gives up
	}))
	defer srv.Close()
	hook, err := NewWebhook(srv.URL, WebhookOptions{})
	require.NoError(t, err)
	require.NoError(t, hook.Notify(t.Context(), notify.Event{Kind: notify.ScaledOut}))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = hook.Close(ctx)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestNewWebhookRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "hooks.example.com/x", "ftp://example.com/x", "http://"} {
		_, err := NewWebhook(u, WebhookOptions{})
		assert.Error(t, err, u)
	}
}
