package web

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Redacted replaces secret values in logs.
const Redacted = "REDACTED"

// secretParams are query parameters (compared lower-cased) whose values never reach a log.
var secretParams = map[string]bool{
	"jwt": true, "token": true, "code": true, "state": true, "id_token": true, "id_token_hint": true,
	"access_token": true, "refresh_token": true, "password": true, "client_secret": true,
	"secret": true, "session_state": true, "logout_token": true, "code_verifier": true,
	"client_assertion": true, "api_key": true,
	// A GraphQL GET's variables: members' emails, names and ids a query looks up.
	"variables": true,
}

// RedactQuery returns rawQuery for a log: the values of secret parameters (jwt, token, code,
// state, id_token, id_token_hint, access_token, refresh_token, password, client_secret, secret,
// session_state, a GraphQL GET's variables and a few more; keys compared case-insensitively
// after unescaping) become
// REDACTED, and so does any value that holds what looks like a JWT ("eyJ"), whatever its key.
// Everything else keeps its original encoding. A query url.ParseQuery rejects (a bad escape, a
// semicolon) is redacted whole, since its parts cannot be told apart reliably.
func RedactQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	parts := strings.Split(rawQuery, "&")
	for i, part := range parts {
		// A query url.ParseQuery would refuse (a semicolon, a bad escape) is not logged at all.
		if strings.Contains(part, ";") {
			return Redacted
		}
		k, v, hasValue := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return Redacted
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return Redacted
		}
		if hasValue && (secretParams[strings.ToLower(key)] || strings.Contains(value, "eyJ")) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// recorder keeps the status and size of an answer. Flushing goes through to the wrapped writer,
// and Unwrap lets http.ResponseController reach it (deadlines, hijacking, full duplex).
type recorder struct {
	http.ResponseWriter
	status int // 0 until the header is written
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	// 1xx answers (103 Early Hints) precede the real one; 101 ends the HTTP exchange.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher.
func (w *recorder) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls: it reports http.ErrNotSupported when
// the wrapped writer cannot flush, where Flush has to stay silent.
func (w *recorder) FlushError() error {
	err := http.NewResponseController(w.ResponseWriter).Flush()
	if err == nil && w.status == 0 {
		w.status = http.StatusOK
	}
	return err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// quiet paths (probes and scrapes) are logged at debug level unless they fail.
var quiet = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// Caps on logged strings, so one request cannot write a megabyte of log.
const (
	maxLoggedPath  = 1024
	maxLoggedQuery = 2048
	maxLoggedAgent = 256
)

// Instrument serves mux, giving every request an id (see [RequestID]), counting it in m and
// writing one log line for it.
//
// The metrics are labelled by the pattern mux.Handler reports for the request ("unmatched" when
// there is none, as for a 404 or 405), the method (standard ones, else OTHER) and the status code.
// The log line carries method, path, the redacted query ([RedactQuery]), route, status, bytes,
// duration, client IP ([ClientIP]), user agent and request id; no other header. It is written at
// info level, debug for /healthz, /readyz and /metrics, and warn for any 5xx answer. A request
// whose handler panics is logged and counted with status 500 (unless an answer had already
// started) and the panic goes on to [Recover].
//
// A nil m counts nothing; a nil log means slog.Default().
func Instrument(m *Metrics, log *slog.Logger, mux *http.ServeMux) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		r = r.WithContext(withRequestID(r.Context(), id))

		method := methodLabel(r.Method)
		rec := &recorder{ResponseWriter: w}
		m.begin()
		panicked := true
		defer func() {
			// No recover here: a panic goes on to Recover once it is counted and logged.
			status := rec.status
			if status == 0 {
				status = http.StatusOK // what net/http sends for a handler that wrote nothing
				if panicked {
					status = http.StatusInternalServerError
				}
			}
			d := time.Since(start)
			// The mux sets the pattern it matched on the request before it calls the handler.
			route := "unmatched"
			if r.Pattern != "" {
				route = routeLabel(r.Pattern)
			}
			m.end(route, method, status, d)

			level := slog.LevelInfo
			switch {
			case status >= 500:
				level = slog.LevelWarn
			case quiet[r.URL.Path]:
				level = slog.LevelDebug
			}
			ctx := r.Context()
			if !log.Enabled(ctx, level) {
				return
			}
			attrs := []slog.Attr{
				slog.String("method", truncate(r.Method, 32)),
				slog.String("path", truncate(r.URL.Path, maxLoggedPath)),
				slog.String("query", truncate(RedactQuery(r.URL.RawQuery), maxLoggedQuery)),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", d),
				slog.String("ip", ClientIP(r)),
				slog.String("user_agent", truncate(r.UserAgent(), maxLoggedAgent)),
				slog.String("request_id", id),
			}
			if panicked {
				attrs = append(attrs, slog.Bool("panic", true))
			}
			// The record carries no caller (pc 0): the line names its route, and finding the
			// caller would cost a stack walk on every request.
			line := slog.NewRecord(time.Now(), level, "request", 0)
			line.AddAttrs(attrs...)
			_ = log.Handler().Handle(ctx, line)
		}()
		mux.ServeHTTP(rec, r)
		panicked = false
	})
}

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
