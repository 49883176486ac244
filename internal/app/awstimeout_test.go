package app

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

// TestAWSDeadline: a call that never answers fails after the AWS timeout,
// retries included, saying so; the held request is abandoned.
func TestAWSDeadline(t *testing.T) {
	srv := awstest.New(t)
	srv.PutService("shop", "web", awstest.Service{Desired: 3})
	base := srv.Config()
	cfg, err := (&Options{AWS: &base, AWSTimeout: 100 * time.Millisecond}).awsConfig(t.Context())
	require.NoError(t, err)
	client := awsecs.NewFromConfig(cfg)

	held := srv.Hold("DescribeServices")
	_, err = client.DescribeServices(t.Context(), &awsecs.DescribeServicesInput{Cluster: aws.String("shop"), Services: []string{"web"}})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "no answer within the AWS timeout of 100ms")
	assert.Equal(t, "timeout", errorCode(err))
	assert.Len(t, srv.Calls("DescribeServices"), 1, "a timed-out operation is not retried")

	held.Release()
	out, err := client.DescribeServices(t.Context(), &awsecs.DescribeServicesInput{Cluster: aws.String("shop"), Services: []string{"web"}})
	require.NoError(t, err, "each operation has its own deadline")
	assert.Equal(t, int32(3), out.Services[0].DesiredCount)

	// The caller's own cancellation is reported as it is.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = client.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String("shop"), Services: []string{"web"}})
	require.ErrorIs(t, err, context.Canceled)
	assert.NotContains(t, err.Error(), "AWS timeout")
}
