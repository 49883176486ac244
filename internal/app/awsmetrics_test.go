package app

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
	"github.com/fast-autoscaler/fast-autoscaler/internal/promtest"
)

func TestAPIMetrics(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Options{Registerer: reg})
	require.NoError(t, err)
	srv := awstest.New(t)
	srv.PutService("app", "web", awstest.Service{Desired: 3, Running: 3})
	cfg := srv.Config()
	cfg.APIOptions = append(cfg.APIOptions, apiMetrics(m))
	client := ecs.NewFromConfig(cfg)
	describe := func() error {
		_, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("app"), Services: []string{"web"}})
		return err
	}
	const (
		count  = `fast_autoscaler_aws_request_duration_seconds_count{aws_service="ECS",operation="DescribeServices"}`
		denied = `fast_autoscaler_aws_errors_total{aws_service="ECS",code="AccessDeniedException",operation="DescribeServices"}`
		netErr = `fast_autoscaler_aws_errors_total{aws_service="ECS",code="network",operation="DescribeServices"}`
	)

	require.NoError(t, describe())
	srv.Throttle("DescribeServices", 1)
	require.NoError(t, describe(), "retried after the throttle")
	srv.FailNext("DescribeServices", 1, "AccessDeniedException")
	require.Error(t, describe())
	_, err = client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("app"), Service: aws.String("web"), DesiredCount: aws.Int32(10)})
	require.NoError(t, err)

	got := promtest.Snapshot(t, reg)
	assert.Len(t, srv.Calls("DescribeServices"), 4, "the throttled call was tried twice")
	assert.Equal(t, 3.0, got[count], "one observation per operation, retries included")
	assert.Equal(t, 1.0, got[denied])
	assert.Equal(t, 1.0, got[`fast_autoscaler_aws_request_duration_seconds_count{aws_service="ECS",operation="UpdateService"}`])
	for k := range got {
		assert.NotContains(t, k, "ThrottlingException", "a retried throttle is not an error")
		assert.NotContains(t, k, `operation="UpdateService",code`)
	}

	srv.Close()
	require.Error(t, describe())
	got = promtest.Snapshot(t, reg)
	assert.Equal(t, 1.0, got[netErr], "no response: code network")
	assert.Equal(t, 4.0, got[count])
}
