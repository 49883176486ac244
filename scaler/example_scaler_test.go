package scaler_test

import (
	"context"
	"errors"
	"fmt"

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
	dry := scaler.NewDryRun(mem, nil)

	// The update is refused with ErrDryRun, so the engine can count it as a
	// dry run rather than a scale-out.
	err := dry.SetDesired(ctx, web, 10)
	fmt.Println(err)
	fmt.Println("dry run:", errors.Is(err, scaler.ErrDryRun))
	st, _ := dry.State(ctx, web)
	fmt.Println("desired still", st.Desired)
	// Output:
	// prod/web: desired count 10: dry run: desired count not changed
	// dry run: true
	// desired still 3
}
