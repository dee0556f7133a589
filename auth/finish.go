package auth

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
)

// Login is a login that succeeded: the session it started and where the member goes next.
type Login struct {
	Method  session.Method
	Started Started
	// Return is the path the member asked to come back to (validated here); Created says the
	// login created the member, who then goes to the settings' new users homepage when one is
	// set (LandingPath).
	Return   string
	Created  bool
	Settings *ent.Settings
	// UserID is the member who signed in (FinishTokenLogin's answer names it).
	UserID int
}

// FinishLogin ends every successful login, whichever method made it (direct, JWT SSO, OAuth2):
// it gives the browser the session's cookie, counts the success in metrics (when not nil), and
// sends the browser to its landing page with a 303 that no cache keeps and no Referer follows
// (the address of an SSO login carries a token or a code). FailLogin is its counterpart.
func FinishLogin(w http.ResponseWriter, r *http.Request, sessions *Sessions, metrics LoginMetrics, l Login) {
	sessions.SetCookie(w, r, l.Started)
	succeeded(w, metrics, l)
	http.Redirect(w, r, LandingPath(l.Return, l.Created, l.Settings), http.StatusSeeOther)
}

// TokenLogin is the answer of a login made for an app (FinishTokenLogin): the session's bearer
// token, when it expires unless used (each use slides it, as a cookie session's), and the member.
type TokenLogin struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	User      struct {
		// ID is the member's id as the GraphQL API shows it (User.id: the ent id in decimal, graphql.IntID).
		ID string `json:"id"`
	} `json:"user"`
}

// FinishTokenLogin is FinishLogin for an app (POST /api/auth/sso/token): instead of a cookie
// and a redirect, it answers 200 with the session's bearer token as JSON (TokenLogin), which no
// cache keeps. The session must have been started with SessionOptions.Bearer. FailTokenLogin is
// its counterpart.
func FinishTokenLogin(w http.ResponseWriter, metrics LoginMetrics, l Login) {
	succeeded(w, metrics, l)
	var body TokenLogin
	body.Token, body.ExpiresAt = l.Started.Token, l.Started.ExpiresAt.UTC().Truncate(time.Second)
	body.User.ID = strconv.Itoa(l.UserID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(body)
}

// succeeded counts a successful login in metrics (when not nil) and keeps its answer out of
// caches and Referer headers.
func succeeded(w http.ResponseWriter, metrics LoginMetrics, l Login) {
	if metrics != nil {
		metrics.Login(string(l.Method), "success")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}
