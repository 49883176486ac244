package metrics

import "time"

// APICall records one call to a remote API (an AWS operation, retries
// included) that took took, in fast_autoscaler_aws_request_duration_seconds
// {aws_service,operation}; a failed call (code not empty: the API's error
// code, "network" when no response arrived, "unknown" when neither is known)
// also counts in fast_autoscaler_aws_errors_total. The AWS SDK middleware
// that calls it lives with the application's AWS wiring, so this package
// compiles no SDK.
func (m *Metrics) APICall(service, operation, code string, took time.Duration) {
	service, operation = label(service), label(operation)
	m.awsDuration.WithLabelValues(service, operation).Observe(took.Seconds())
	if code != "" {
		m.awsErrors.WithLabelValues(service, operation, label(code)).Inc()
	}
}
