package graph

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/community/sso/auth"
)

// CORS lets the listed origins (CORS_ORIGINS) and the admin's embed origins (auth.EmbedOrigins,
// under auth.Embedding) call the API from a browser with the member's cookie: it answers
// preflight requests and sets the Access-Control headers for those origins only, never "*".
// Requests from other origins get no CORS headers, so browsers keep their answers from the
// calling page.
func CORS(origins []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			w.Header().Add("Vary", "Origin")
			if origin == "" || !slices.Contains(origins, origin) && !auth.EmbedOrigin(r, origin) {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, Accept")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CrossOriginGuard is the API's check against cross-site requests (CSRF): a browser's request
// from another site that rides on the session cookie is refused with a GraphQL FORBIDDEN error
// unless its origin is one of origins (CORS_ORIGINS) or of the admin's embed origins
// (auth.EmbedOrigin, under auth.Embedding), whose pages call the API with the member's cookie.
// A request with a bearer token and no session cookie passes (auth.Sessions.CrossOrigin).
func CrossOriginGuard(origins []string, sessions *auth.Sessions) (func(http.Handler) http.Handler, error) {
	p := http.NewCrossOriginProtection()
	for _, o := range origins {
		if err := p.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("graph: %w", err)
		}
	}
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusForbidden, CodeForbidden, "cross-origin requests from this origin are not allowed; list it in CORS_ORIGINS or the embed origins")
	}))
	return func(next http.Handler) http.Handler {
		guarded := sessions.CrossOrigin(p, next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if auth.EmbedOrigin(r, r.Header.Get("Origin")) {
				next.ServeHTTP(w, r)
				return
			}
			guarded.ServeHTTP(w, r)
		})
	}, nil
}
