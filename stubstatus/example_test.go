package stubstatus_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/scaler"
	"github.com/fast-autoscaler/fast-autoscaler/stubstatus"
)

func ExampleParse() {
	body := []byte("Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n")
	st, err := stubstatus.Parse(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	busy, _ := st.Busy()
	fmt.Println("active:", st.Active, "waiting:", st.Waiting, "busy:", busy)

	_, err = stubstatus.Parse([]byte("Active connections: 18446744073709550135 \n"))
	fmt.Println(err)
	// Output:
	// active: 291 waiting: 106 busy: 185
	// stub_status body line 1, Active connections: a number of 20 digits is implausibly large (above 2147483647): the counter probably underflowed in nginx
}

func ExampleNew() {
	// A stand-in for nginx's stub_status location, which checks the auth header.
	nginx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Status-Auth-Key") != "hogefuga" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n")
	}))
	defer nginx.Close()

	// One transport shared by every source: its kept-alive connections
	// serve them all. NewTransport(true) verifies TLS.
	tr := stubstatus.NewTransport(false)
	src, err := stubstatus.New(stubstatus.Options{
		URL:        nginx.URL + "/nginx-status",
		AuthHeader: "Status-Auth-Key",
		AuthValue:  "hogefuga",
		Metric:     stubstatus.MetricBusy,
		Timeout:    3 * time.Second, // the check interval
		Transport:  tr,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := src.Read(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("busy connections:", r.Value, "overloaded:", r.Overload)
	// Output: busy connections: 185 overloaded: false
}

func ExampleNewTaskSource() {
	// A stand-in for each task's nginx stub_status location.
	nginx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n")
	}))
	defer nginx.Close()
	port := nginx.Listener.Addr().(*net.TCPAddr).Port

	// The service's tasks; in production an ecs.TaskLister (scaler/ecs)
	// shared by every service lists them through ListTasks and DescribeTasks.
	lister := stubstatus.TaskListerFunc(func(context.Context, scaler.ServiceID) ([]scaler.Task, error) {
		return []scaler.Task{
			{ID: "a", Addr: netip.MustParseAddr("127.0.0.1"), Status: "RUNNING", Running: true},
			{ID: "b", Addr: netip.MustParseAddr("127.0.0.1"), Status: "RUNNING", Running: true},
			{ID: "c", Status: "PROVISIONING"},
		}, nil
	})
	src, err := stubstatus.NewTaskSource(stubstatus.TaskOptions{
		Service:   scaler.ServiceID{Cluster: "example-app", Name: "example-app"},
		Lister:    lister,
		URL:       fmt.Sprintf("http://{ip}:%d/nginx-status", port),
		Timeout:   3 * time.Second, // the whole read of every task
		Transport: stubstatus.NewTransport(false),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := src.Read(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("tasks read: %d, total: %v, average compared: %v, starting: %d\n", r.Tasks, r.Total, r.Value, r.Starting)
	// Output: tasks read: 2, total: 582, average compared: 291, starting: 1
}
