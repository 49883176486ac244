package metrics

import (
	"context"
	"errors"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// awsMiddlewareID names the middleware in the SDK's stack.
const awsMiddlewareID = "FastAutoscalerMetrics"

// AWSMiddleware adds the AWS metrics to an SDK operation's stack; append it
// to aws.Config.APIOptions (or a client's Options.APIOptions). It sits at
// the end of the Initialize step, so it times each operation once, retries
// and their backoff included, in wall-clock seconds, into
// fast_autoscaler_aws_request_duration_seconds{aws_service,operation}. A
// failed operation counts in fast_autoscaler_aws_errors_total with its AWS
// error code (e.g. "AccessDeniedException"), or "network" when no response
// arrived, or "unknown".
func (m *Metrics) AWSMiddleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc(awsMiddlewareID, m.handleAWS), middleware.After)
}

func (m *Metrics) handleAWS(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	middleware.InitializeOutput, middleware.Metadata, error,
) {
	start := time.Now()
	out, md, err := next.HandleInitialize(ctx, in)
	service, op := label(awsmiddleware.GetServiceID(ctx)), label(awsmiddleware.GetOperationName(ctx))
	m.awsDuration.WithLabelValues(service, op).Observe(time.Since(start).Seconds())
	if err != nil {
		m.awsErrors.WithLabelValues(service, op, errorCode(err)).Inc()
	}
	return out, md, err
}

// errorCode is the AWS error code of err, "network" when the request got no
// response, else "unknown".
func errorCode(err error) string {
	var api smithy.APIError
	var send *smithyhttp.RequestSendError
	switch {
	case errors.As(err, &api) && api.ErrorCode() != "":
		return label(api.ErrorCode())
	case errors.As(err, &send):
		return "network"
	}
	return "unknown"
}
