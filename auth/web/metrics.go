package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the server's Prometheus collectors. They are registered on a registry the caller
// gives, not the global one, so several servers can run in one process (as in tests). A nil
// *Metrics counts nothing.
type Metrics struct {
	requests *prometheus.CounterVec   // route, method, code
	duration *prometheus.HistogramVec // route, method
	logins   *prometheus.CounterVec   // method, result
	inflight prometheus.Gauge
}

// NewMetrics creates the collectors and registers them on reg. It panics if reg already holds
// collectors of the same names, as prometheus.Registerer.MustRegister does.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logins_total",
			Help: "Login outcomes by method (PASSWORD, OAUTH2, JWT) and result.",
		}, []string{"method", "result"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.logins, m.inflight)
	return m
}

// Login counts one login outcome, e.g. Login("JWT", "success") or
// Login("PASSWORD", "invalid_credentials"). Both values must come from a fixed set of constants,
// never from the request, or the number of series grows without bound.
func (m *Metrics) Login(method, result string) {
	if m == nil {
		return
	}
	m.logins.WithLabelValues(method, result).Inc()
}

// Handler serves the metrics gathered by g (usually the registry given to NewMetrics) in the
// Prometheus exposition format.
func (m *Metrics) Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

func (m *Metrics) begin() {
	if m != nil {
		m.inflight.Inc()
	}
}

func (m *Metrics) end(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.inflight.Dec()
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// methodLabel bounds the method label: a client may send any token as a method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}
