package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes the names of the server's own metrics (community_http_requests_total); the
// Go runtime's, the process's and database/sql's collectors keep their standard names (go_*,
// process_*, go_sql_*).
const Namespace = "community"

// Metrics holds the server's Prometheus collectors. They are registered on a registry the caller
// gives, not the global one, so several servers can run in one process (as in tests). A nil
// *Metrics counts nothing.
//
// Labels: route is the pattern the mux matched without its method ("/api/auth/sso",
// "/users/{id}", or "unmatched"), method the request's method (one of the standard ones or
// OTHER); a login's method and result are lower-case ("jwt", "invalid_token").
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
			Namespace: Namespace,
			Name:      "http_requests_total",
			Help:      "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "http_request_duration_seconds",
			Help:      "HTTP request latency by route pattern and method.",
			Buckets:   prometheus.DefBuckets,
		}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "logins_total",
			Help:      "Login outcomes by method (password, oauth2, jwt) and result (success, or the error code).",
		}, []string{"method", "result"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "http_requests_in_flight",
			Help:      "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.logins, m.inflight)
	return m
}

// Login counts one login outcome, e.g. Login("JWT", "success") or
// Login("PASSWORD", "INVALID_CREDENTIALS"); both are counted lower-case. Both values must come
// from a fixed set of constants, never from the request, or the number of series grows without
// bound.
func (m *Metrics) Login(method, result string) {
	if m == nil {
		return
	}
	m.logins.WithLabelValues(lower(method), lower(result)).Inc()
}

// lower is strings.ToLower, without an allocation for the login methods' constants.
func lower(s string) string {
	switch s {
	case "JWT":
		return "jwt"
	case "OAUTH2":
		return "oauth2"
	case "PASSWORD":
		return "password"
	}
	return strings.ToLower(s)
}

// routeLabel is a mux pattern without its method: "GET /users/{id}" → "/users/{id}" (the method
// has a label of its own).
func routeLabel(pattern string) string {
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		return strings.TrimLeft(pattern[i:], " \t")
	}
	return pattern
}

// RegisterBuildInfo registers community_build_info on reg: always 1, with the labels version,
// revision and go_version of BuildInfo.
func RegisterBuildInfo(reg prometheus.Registerer, b BuildInfo) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace:   Namespace,
		Name:        "build_info",
		Help:        "The running binary: its module version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "go_version": b.GoVersion},
	})
	g.Set(1)
	reg.MustRegister(g)
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
