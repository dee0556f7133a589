package auth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/community/sso/ent/store"
)

// ErrorWriter answers a request with an error in the shape of its route: WriteGraphQLError for
// the GraphQL API, web.WriteJSONError ({"error": {"code", "message"}}) for the others.
type ErrorWriter func(w http.ResponseWriter, status int, code, msg string)

// Middleware puts the request's viewer in its context (FromContext). Anonymous requests pass
// through; a session cookie that is unknown, expired or revoked is cleared and the request goes on
// anonymously; a bearer token (an API token or an app's session token) that is not valid gets
// 401, since a script or an app would rather fail loudly than act as nobody. answer writes its
// errors, in the shape of the routes it guards.
func (s *Sessions) Middleware(db *store.DB, log *slog.Logger, answer ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = r.WithContext(WithRequestInfo(r.Context(), RequestInfo{IP: ClientIP(r), UserAgent: r.UserAgent()}))
			v, err := s.Lookup(r.Context(), r)
			switch {
			case err == nil:
				r = r.WithContext(NewContext(r.Context(), v))
			case errors.Is(err, ErrNoSession):
				if r.Header.Get("Authorization") != "" {
					w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
					answer(w, http.StatusUnauthorized, "UNAUTHENTICATED", "the bearer token is invalid, expired or revoked")
					return
				}
				if _, cerr := r.Cookie(s.CookieName()); cerr == nil {
					s.Clear(w, r)
				}
			default:
				db.MarkFailure(err)
				log.ErrorContext(r.Context(), "auth: look up viewer", "err", err)
				answer(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "the service is temporarily unavailable, try again shortly")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// WriteGraphQLError answers in the shape of a GraphQL response, which every client of the API
// already reads.
func WriteGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}
