package scaler_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
)

func ExampleMemory() {
	ctx := context.Background()
	web := scaler.ServiceID{Cluster: "prod", Name: "web"}
	mem := scaler.NewMemory()
	mem.Put(web, scaler.State{Desired: 3, Running: 3, Status: "ACTIVE"})

	if err := mem.SetDesired(ctx, web, 10); err != nil {
		fmt.Println(err)
		return
	}
	st, _ := mem.State(ctx, web)
	fmt.Printf("desired %d, running %d\n", st.Desired, st.Running)
	fmt.Printf("updates: %+v\n", mem.Updates())

	_, err := mem.State(ctx, scaler.ServiceID{Cluster: "prod", Name: "api"})
	fmt.Println(err, errors.Is(err, scaler.ErrServiceNotFound))
	// Output:
	// desired 10, running 3
	// updates: [{Service:prod/web From:3 To:10}]
	// memory scaler: prod/api: service not found true
}

func ExampleNewDryRun() {
	ctx := context.Background()
	web := scaler.ServiceID{Cluster: "prod", Name: "web"}
	mem := scaler.NewMemory()
	mem.Put(web, scaler.State{Desired: 3})

	// Log without timestamps so the output is reproducible.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	dry := scaler.NewDryRun(mem, logger)

	if err := dry.SetDesired(ctx, web, 10); err != nil {
		fmt.Println(err)
		return
	}
	st, _ := dry.State(ctx, web)
	fmt.Println("desired still", st.Desired)
	// Output:
	// level=INFO msg="dry-run: desired count not changed" cluster=prod service=web desired_new=10
	// desired still 3
}
