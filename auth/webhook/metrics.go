package webhook

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/community/sso/auth/web"
)

// Outcomes of a delivery attempt, the result label of community_webhook_delivery_attempts_total.
const (
	ResultDelivered = "delivered" // the endpoint answered 2xx
	ResultRetry     = "retry"     // it did not; the delivery is tried again later
	ResultFailed    = "failed"    // it did not, for the last time: the delivery is FAILED
)

// Metrics counts the worker's delivery attempts by outcome, so that an endpoint that keeps
// failing shows on a dashboard before its deliveries are FAILED.
type Metrics struct {
	attempts *prometheus.CounterVec
}

// NewMetrics creates the collector and registers it on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: web.Namespace,
		Name:      "webhook_delivery_attempts_total",
		Help:      "Webhook delivery attempts by result: delivered, retry (tried again later) or failed (the last attempt).",
	}, []string{"result"})}
	for _, r := range []string{ResultDelivered, ResultRetry, ResultFailed} {
		m.attempts.WithLabelValues(r) // every series from the start, at 0
	}
	reg.MustRegister(m.attempts)
	return m
}

// attempt counts one attempt's outcome; a nil m counts nothing.
func (m *Metrics) attempt(result string) {
	if m != nil {
		m.attempts.WithLabelValues(result).Inc()
	}
}

// Attempts is the counter of one result, for tests and dashboards' checks.
func (m *Metrics) Attempts(result string) prometheus.Counter {
	return m.attempts.WithLabelValues(result)
}
