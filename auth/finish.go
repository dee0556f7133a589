package auth

import (
	"net/http"

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
}

// FinishLogin ends every successful login, whichever method made it (direct, JWT SSO, OAuth2):
// it gives the browser the session's cookie, counts the success in metrics (when not nil), and
// sends the browser to its landing page with a 303 that no cache keeps and no Referer follows
// (the address of an SSO login carries a token or a code). FailLogin is its counterpart.
func FinishLogin(w http.ResponseWriter, r *http.Request, sessions *Sessions, metrics LoginMetrics, l Login) {
	sessions.SetCookie(w, r, l.Started)
	if metrics != nil {
		metrics.Login(string(l.Method), "success")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, LandingPath(l.Return, l.Created, l.Settings), http.StatusSeeOther)
}
