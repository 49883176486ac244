package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// DefaultAWSTimeout is Options.AWSTimeout's default: how long one AWS
// operation, its retries and their backoff included, may take.
const DefaultAWSTimeout = 10 * time.Second

// errAWSTimeout is the cause of a context that awsDeadline ended.
var errAWSTimeout = errors.New("AWS operation timed out")

// awsDeadline returns an SDK stack option (for aws.Config.APIOptions) that
// gives every AWS operation at most d, retries and their backoff included,
// so a call that hangs (a DescribeServices that never answers) cannot leave
// a service unchecked: it fails after d with an error saying so, which wraps
// context.DeadlineExceeded. It sits at the start of the Initialize step,
// before the retry loop.
func awsDeadline(d time.Duration) func(*middleware.Stack) error {
	mw := middleware.InitializeMiddlewareFunc("FastAutoscalerDeadline", func(
		ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
	) (middleware.InitializeOutput, middleware.Metadata, error) {
		ctx, cancel := context.WithTimeoutCause(ctx, d, errAWSTimeout)
		defer cancel()
		out, md, err := next.HandleInitialize(ctx, in)
		if err != nil && errors.Is(context.Cause(ctx), errAWSTimeout) {
			err = fmt.Errorf("no answer within the AWS timeout of %v: %w", d, err)
		}
		return out, md, err
	})
	return func(stack *middleware.Stack) error { return stack.Initialize.Add(mw, middleware.Before) }
}
