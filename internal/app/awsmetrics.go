package app

import (
	"context"
	"errors"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fast-autoscaler/fast-autoscaler/autoscaler/metrics"
)

// apiMetrics returns an SDK stack option (for aws.Config.APIOptions) that
// reports every AWS operation to m.APICall. It sits at the end of the
// Initialize step, so it times each operation once, retries and their
// backoff included, in wall-clock time. A failed operation is reported with
// its AWS error code (e.g. "AccessDeniedException"), "network" when no
// response arrived, or "unknown".
func apiMetrics(m *metrics.Metrics) func(*middleware.Stack) error {
	mw := middleware.InitializeMiddlewareFunc("FastAutoscalerMetrics", func(
		ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
	) (middleware.InitializeOutput, middleware.Metadata, error) {
		start := time.Now()
		out, md, err := next.HandleInitialize(ctx, in)
		code := ""
		if err != nil {
			code = errorCode(err)
		}
		m.APICall(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), code, time.Since(start))
		return out, md, err
	})
	return func(stack *middleware.Stack) error { return stack.Initialize.Add(mw, middleware.After) }
}

// errorCode is the AWS error code of err, "timeout" when it got no answer
// in time, "network" when the request got no response, else "unknown".
func errorCode(err error) string {
	var api smithy.APIError
	var send *smithyhttp.RequestSendError
	switch {
	case errors.As(err, &api) && api.ErrorCode() != "":
		return api.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &send):
		return "network"
	}
	return "unknown"
}
