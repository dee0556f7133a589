package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
)

// RequestIDHeader carries the request id, in and out.
const RequestIDHeader = "X-Request-Id"

// WriteJSONError answers status with {"error":{"code":code,"message":message}}, as
// application/json that no cache keeps.
func WriteJSONError(w http.ResponseWriter, status int, code, message string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error body `json:"error"`
	}{body{code, message}})
}

// WantsJSON reports whether the request's Accept header prefers JSON (application/json or an
// application/*+json type) to HTML: JSON is listed with a higher quality than text/html (or
// application/xhtml+xml), or with the same quality and before it. A missing Accept header and
// */* alone mean a page.
func WantsJSON(r *http.Request) bool {
	qJSON, qHTML := -1.0, -1.0 // -1: not listed
	posJSON, posHTML := 0, 0
	for i, part := range strings.Split(strings.Join(r.Header.Values("Accept"), ","), ",") {
		mediaType, params, _ := strings.Cut(part, ";")
		mediaType = strings.ToLower(strings.TrimSpace(mediaType))
		q := acceptQuality(params)
		switch {
		case mediaType == "application/json" ||
			strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json"):
			if q > qJSON {
				qJSON, posJSON = q, i
			}
		case mediaType == "text/html" || mediaType == "application/xhtml+xml":
			if q > qHTML {
				qHTML, posHTML = q, i
			}
		}
	}
	if qJSON <= 0 {
		return false
	}
	return qJSON > qHTML || qJSON == qHTML && posJSON < posHTML
}

// acceptQuality reads the q parameter of one Accept media range: 1 when absent, 0 when invalid.
func acceptQuality(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(q >= 0 && q <= 1) {
			return 0
		}
		return q
	}
	return 1
}

type requestIDKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id [Instrument] put in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts an incoming X-Request-Id of 1 to 64 characters from [A-Za-z0-9._-].
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}

// keptOnError are the response headers a handler set that survive its panic: security headers,
// CORS headers (so a browser app can read the 500) and the request id. Everything else (cookies,
// Location, Content-*, caching) is dropped with the half-done answer.
func keptOnError(name string) bool {
	switch name {
	case RequestIDHeader, "X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy",
		"X-Frame-Options", "Strict-Transport-Security", "Vary":
		return true
	}
	return strings.HasPrefix(name, "Access-Control-")
}

// Recover turns a panic in next into a 500 with a generic body: JSON
// {"error":{"code":"INTERNAL_SERVER_ERROR","message":"internal server error"}} when the request
// wants JSON ([WantsJSON]) or is to /graphql, else text/plain "internal server error". The panic
// value and stack go to log at error level, with the request id. Headers the handler set before
// panicking are dropped, except security, CORS and request id headers.
//
// A panic with http.ErrAbortHandler is passed on untouched. So is any panic after the answer has
// started (a 500 can no longer be sent): it is logged, then re-raised as http.ErrAbortHandler so
// the server cuts the connection and the client sees a broken answer rather than a complete one.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &recorder{ResponseWriter: w}
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				if p == http.ErrAbortHandler { // compared as net/http does
					panic(p)
				}
				id := RequestID(r.Context())
				if id == "" { // Instrument runs inside: its id is on the answer already.
					id = w.Header().Get(RequestIDHeader)
				}
				log.LogAttrs(r.Context(), slog.LevelError, "web: panic serving request",
					slog.String("panic", fmt.Sprint(p)),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("request_id", id),
					slog.Bool("answer_started", rec.status != 0),
					slog.String("stack", string(debug.Stack())),
				)
				if rec.status != 0 {
					panic(http.ErrAbortHandler)
				}
				h := w.Header()
				for name := range h {
					if !keptOnError(name) {
						delete(h, name)
					}
				}
				h.Set("Cache-Control", "no-store")
				if WantsJSON(r) || r.URL.Path == "/graphql" || strings.HasPrefix(r.URL.Path, "/graphql/") {
					WriteJSONError(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal server error")
					return
				}
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// LimitBody caps request bodies at n bytes with http.MaxBytesReader: a handler reading past the
// limit gets a *http.MaxBytesError (and answers it in its own format, e.g. 413), and the server
// closes the connection after the answer. n <= 0 allows empty bodies only.
func LimitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			MaxBytes(w, r, n)
			next.ServeHTTP(w, r)
		})
	}
}

// MaxBytes limits r's body to n bytes: reading past them fails with *http.MaxBytesError, and
// the server closes the connection after the answer rather than read the rest.
func MaxBytes(w http.ResponseWriter, r *http.Request, n int64) {
	if r.Body != nil && r.Body != http.NoBody {
		// The server's own writer, not a wrapper: MaxBytesReader tells it, and only it, to
		// close the connection rather than drain the rest of the body.
		r.Body = http.MaxBytesReader(innermost(w), r.Body, n)
	}
}

// innermost unwraps w as http.ResponseController does.
func innermost(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// SecurityHeaders sets X-Content-Type-Options: nosniff and Referrer-Policy:
// strict-origin-when-cross-origin on every answer, before next runs, so a handler can replace
// either. It sets no X-Frame-Options and no Content-Security-Policy: pages set their own policy,
// and who may frame an answer is the admin's setting (auth.Embedding).
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		next.ServeHTTP(w, r)
	})
}

// Readiness tells whether the database answered lately.
type Readiness interface {
	Ready() bool
}

// RequireDatabase answers 503 with Retry-After while db is not ready, instead of letting requests
// hang on it: a GraphQL error ({"errors":[...]} with code SERVICE_UNAVAILABLE) on /graphql, JSON
// for clients that want it, a short text otherwise.
func RequireDatabase(db Readiness, next http.Handler) http.Handler {
	const message = "the service is temporarily unavailable, try again shortly"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if db.Ready() {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "5")
		if r.URL.Path == "/graphql" || strings.HasPrefix(r.URL.Path, "/graphql/") {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
				"message":    message,
				"extensions": map[string]string{"code": "SERVICE_UNAVAILABLE"},
			}}})
			return
		}
		if WantsJSON(r) {
			WriteJSONError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", message)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("The community is temporarily unavailable. Please try again in a moment.\n"))
	})
}
