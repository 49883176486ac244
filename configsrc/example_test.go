package configsrc_test

import (
	"errors"
	"fmt"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

func ExampleParse() {
	cfg, err := configsrc.Parse([]byte(`{"Services": [{
		"StatusUrl": "https://example-a.com/nginx-status",
		"StatusAuthName": "Status-Auth-Key", "StatusAuthValue": "hogefuga",
		"ScaleoutThreshold": 100, "GracePeriod": "2m",
		"EcsClusterName": "example-app", "EcsServiceName": "example-app"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	s := cfg.Services[0]
	fmt.Println(s.Name(), s.Policy.ScaleoutThreshold, s.Policy.MinDesiredCount, s.Policy.CheckInterval, s.Policy.GracePeriod)
	fmt.Println(s.StatusAuthName, s.StatusAuthValue)

	_, err = configsrc.Parse([]byte(`{"Services": [{"StatusUrl": "https://example-b.com/nginx-status",
		"EcsClusterName": "example-app-b", "EcsServiceName": "example-app-b", "ScaleOutThreshold": 0}]}`))
	var ve *configsrc.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve)
	}
	// Output:
	// example-app/example-app 100 5 3s 2m0s
	// Status-Auth-Key [redacted]
	// Services[0] (example-app-b): ScaleOutThreshold: unknown field; did you mean "ScaleoutThreshold"?
}
