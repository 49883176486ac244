package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/fast-autoscaler/fast-autoscaler/notify"
)

func ExampleNotifierFunc() {
	// Any function with Notify's signature is a Notifier. It runs on the
	// engine's goroutine, so it must return quickly.
	var n notify.Notifier = notify.NotifierFunc(func(_ context.Context, ev notify.Event) error {
		if ev.Kind != notify.ScaledOut {
			return nil
		}
		fmt.Printf("%s/%s: desired %d -> %d\n", ev.Cluster, ev.Service, ev.DesiredCur, ev.DesiredNew)
		return nil
	})
	_ = n.Notify(context.Background(), notify.Event{
		Kind: notify.ScaledOut, Cluster: "prod", Service: "web", Value: 420, DesiredCur: 3, DesiredNew: 10,
	})
	// Output: prod/web: desired 3 -> 10
}

func ExampleMulti() {
	// Log without timestamps so the output is reproducible.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	broken := notify.NotifierFunc(func(context.Context, notify.Event) error {
		return errors.New("pager: unreachable")
	})

	// Every notifier is told, in order; a failing one does not stop the rest.
	n := notify.Multi{broken, notify.NewLog(logger)}
	err := n.Notify(context.Background(), notify.Event{
		Kind: notify.ScaledOut, Cluster: "prod", Service: "web", Value: 420, DesiredCur: 3, DesiredNew: 10,
	})
	fmt.Println("error:", err)
	// Output:
	// level=INFO msg=notify event=scaled_out cluster=prod service=web active=420 overload=false desired_cur=3 desired_new=10
	// error: pager: unreachable
}
