// Package autoscaler is the engine of fast-autoscaler: it watches services'
// load through a MetricSource and, when a reading crosses the threshold,
// raises the desired count through a scaler.Scaler at once, tells a
// notify.Notifier, and leaves the service alone for a grace period.
//
// The decision is pure (Policy.Triggered, Policy.ScaleOutTo); a Watcher's Step
// runs one check at an explicit time and returns when the next is due; the
// Engine only waits on an injected clock.Clock and calls Step. After each
// check the engine keeps the service's status (Engine.Status: one State word
// such as watching, grace or blind, the last reading, the counts last seen),
// so an operator can ask what it is doing. Nothing here knows about nginx,
// AWS, Slack or JSON.
package autoscaler
