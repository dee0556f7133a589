package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/auth/redirect"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
)

// LoginMetrics counts login outcomes by method and result.
type LoginMetrics interface {
	Login(method, result string)
}

// Handler serves the login page, direct (email/password) login, logout and the home page.
type Handler struct {
	DB       *store.DB
	Sessions *Sessions
	Log      *slog.Logger
	Metrics  LoginMetrics
	// RateLimit is the direct login throttle's policy; the zero value is DefaultRateLimit.
	RateLimit RateLimit
	// Passwords bounds the password checks running at once (nil: no bound).
	Passwords *password.Limiter
	// CrossOrigin refuses cross-site form posts.
	CrossOrigin *http.CrossOriginProtection
	// LogoutURL, when set, gives the IdP logout URL for a session that ends (OAuth2 sessions use it
	// for RP-initiated logout); the settings' logout URLs are used otherwise.
	LogoutURL func(ctx context.Context, s *ent.Session, st *ent.Settings) string
	Now       func() time.Time
	// PublicURL is the server's public URL: a GET logout whose Origin or Referer is of its origin
	// ends the session without asking (see logoutGet).
	PublicURL string
	// PasswordReset links the direct login page to the forgot-password form (the server sends mail).
	PasswordReset bool
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) client() *ent.Client { return h.DB.Client }

// Register mounts the handler's routes on mux, each wrapped by wrap (which puts the viewer in the
// request context).
func (h *Handler) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	mux.Handle("GET /auth/login", wrap(http.HandlerFunc(h.login)))
	mux.Handle("GET /auth/login/direct", wrap(http.HandlerFunc(h.directForm)))
	mux.Handle("POST /auth/login/direct", wrap(h.CrossOrigin.Handler(http.HandlerFunc(h.directLogin))))
	mux.Handle("POST /auth/logout", wrap(h.Sessions.CrossOrigin(h.CrossOrigin, http.HandlerFunc(h.logout))))
	mux.Handle("GET /auth/logout", wrap(http.HandlerFunc(h.logoutGet)))
	mux.Handle("GET /{$}", wrap(RequireLoginParam(http.HandlerFunc(h.home))))
}

// loginData is the data of the login and direct pages.
type loginData struct {
	Title       string
	Error       string
	RedirectURI string
	Email       string
	OAuth2      bool
	OAuth2URL   string
	OAuth2Text  string
	JWT         bool
	JWTURL      string
	JWTText     string
	SignUpURL   string
	Form        bool
	DirectURL   string
	LoginURL    string
	ForgotURL   string
}

// LandingPath is where a successful SSO login goes: the validated return path, or, for a member
// the login just created, the auth settings' new users homepage when one is set.
func LandingPath(returnPath string, created bool, st *ent.Settings) string {
	target := redirect.Or(returnPath, "/")
	if created && st.NewUsersHomepage != "" {
		target = redirect.Or(st.NewUsersHomepage, target)
	}
	return target
}

// LoginURL is the login page's address for a return path.
func LoginURL(target string) string {
	return "/auth/login?redirect_uri=" + url.QueryEscape(redirect.Or(target, "/"))
}

// JWTLoginURL is the JWT SSO authorization URL with referrer_uri set to the return path.
func JWTLoginURL(authURL, target string) string {
	u, err := url.Parse(authURL)
	if err != nil {
		return authURL
	}
	q := u.Query()
	q.Set("referrer_uri", redirect.Or(target, "/"))
	u.RawQuery = q.Encode()
	return u.String()
}

// login starts a login: straight to the only SSO method, or the page with every enabled method.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	target := redirect.Or(r.URL.Query().Get("redirect_uri"), "/")
	if FromContext(r.Context()) != nil {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	st, err := LoadSettings(r.Context(), h.client())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	oauth2URL := "/auth/oauth2/login?redirect_uri=" + url.QueryEscape(target)
	switch {
	case st.Oauth2Enabled && !st.JwtEnabled && !st.EmailPasswordEnabled:
		http.Redirect(w, r, oauth2URL, http.StatusSeeOther)
		return
	case st.JwtEnabled && st.JwtAuthorizationURL != "" && !st.Oauth2Enabled && !st.EmailPasswordEnabled:
		http.Redirect(w, r, JWTLoginURL(st.JwtAuthorizationURL, target), http.StatusSeeOther)
		return
	}
	d := loginData{
		Title:       "Sign in",
		RedirectURI: target,
		OAuth2:      st.Oauth2Enabled,
		OAuth2URL:   oauth2URL,
		OAuth2Text:  or(st.Oauth2LoginButtonText, "Sign in with single sign-on"),
		JWT:         st.JwtEnabled && st.JwtAuthorizationURL != "",
		JWTURL:      JWTLoginURL(st.JwtAuthorizationURL, target),
		JWTText:     or(st.JwtLoginButtonText, "Sign in"),
		Form:        st.EmailPasswordEnabled,
		DirectURL:   "/auth/login/direct?redirect_uri=" + url.QueryEscape(target),
	}
	if st.JwtEnabled {
		d.SignUpURL = st.JwtSignUpURL
	}
	render(w, h.Log, http.StatusOK, "login", d)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (h *Handler) directForm(w http.ResponseWriter, r *http.Request) {
	target := redirect.Or(r.URL.Query().Get("redirect_uri"), "/")
	render(w, h.Log, http.StatusOK, "direct", loginData{
		Title:       "Sign in with email and password",
		RedirectURI: target,
		LoginURL:    LoginURL(target),
		ForgotURL:   h.forgotURL(),
	})
}

// Direct login failure reasons, in LOGIN_FAILED events and metrics.
const (
	reasonInvalidCredentials = "INVALID_CREDENTIALS"
	reasonSuspended          = "USER_SUSPENDED"
	reasonPasswordDisabled   = "EMAIL_PASSWORD_DISABLED"
	reasonRateLimited        = "RATE_LIMITED"
	reasonBusy               = "SERVER_BUSY"
)

func (h *Handler) directLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		h.directError(w, r, http.StatusBadRequest, "", "/", "The form could not be read. Please try again.")
		return
	}
	target := redirect.Or(r.PostForm.Get("redirect_uri"), "/")
	rawEmail := r.PostForm.Get("email")
	pass := r.PostForm.Get("password")
	email, emailErr := NormalizeEmail(rawEmail)
	ip := ClientIP(r)

	attempt, err := h.throttle().Begin(ctx, ip, email)
	var limited *Limited
	if errors.As(err, &limited) {
		h.recordFailure(ctx, r, 0, email, reasonRateLimited, map[string]any{"scope": limited.Scope, "retryAfter": limited.RetryAfterSeconds()})
		w.Header().Set("Retry-After", strconv.Itoa(limited.RetryAfterSeconds()))
		h.directError(w, r, http.StatusTooManyRequests, rawEmail, target, "Too many failed sign-in attempts. Please wait "+waitText(limited.RetryAfter)+" and try again.")
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}

	var u *ent.User
	if emailErr == nil {
		u, err = h.client().User.Query().Where(user.Email(email)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			h.fail(w, r, err)
			return
		}
	}
	if u == nil || u.PasswordHash == "" {
		err = h.Passwords.VerifyDummy(ctx, pass)
	} else {
		err = h.Passwords.Verify(ctx, u.PasswordHash, pass)
	}
	if errors.Is(err, password.ErrBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// No password was checked: the attempt does not count.
		if cerr := attempt.Cancel(context.WithoutCancel(ctx)); cerr != nil {
			h.Log.WarnContext(ctx, "auth: give back a login attempt", "err", cerr)
		}
		if !errors.Is(err, password.ErrBusy) {
			return // the client left while waiting
		}
		h.recordFailure(ctx, r, 0, email, reasonBusy, nil)
		w.Header().Set("Retry-After", "1")
		h.directError(w, r, http.StatusServiceUnavailable, rawEmail, target, "Too many sign-ins are being checked right now. Please try again in a moment.")
		return
	}
	if u == nil || u.PasswordHash == "" {
		h.recordFailure(ctx, r, 0, email, reasonInvalidCredentials, nil)
		h.directError(w, r, http.StatusUnauthorized, rawEmail, target, "The email or password is incorrect.")
		return
	}
	if err != nil {
		if errors.Is(err, password.ErrMalformed) {
			h.Log.ErrorContext(ctx, "auth: stored password hash is malformed", "user_id", u.ID)
		}
		h.recordFailure(ctx, r, u.ID, email, reasonInvalidCredentials, nil)
		h.directError(w, r, http.StatusUnauthorized, rawEmail, target, "The email or password is incorrect.")
		return
	}
	if u.Status != user.StatusACTIVE {
		h.recordFailure(ctx, r, u.ID, email, reasonSuspended, nil)
		h.directError(w, r, http.StatusForbidden, rawEmail, target, "This account is suspended. Please contact the community's admins.")
		return
	}
	st, err := LoadSettings(ctx, h.client())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !st.EmailPasswordEnabled && u.Role != user.RoleADMIN {
		h.recordFailure(ctx, r, u.ID, email, reasonPasswordDisabled, nil)
		h.directError(w, r, http.StatusForbidden, rawEmail, target, "Email and password sign-in is turned off for members. Please use the community's single sign-on.")
		return
	}
	started, err := h.startDirect(r, u.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := attempt.Succeeded(ctx); err != nil {
		h.Log.WarnContext(ctx, "auth: clear the login throttle", "err", err)
	}
	FinishLogin(w, r, h.Sessions, h.Metrics, Login{Method: session.MethodPASSWORD, Started: started, Return: target, Settings: st})
}

// startDirect starts the session of a direct login and records its LOGIN_SUCCEEDED event in one
// transaction, so the event (and the member.login webhook it makes) commits with the session.
// The login time is written first: it locks the member's row before the session references it,
// the lock order of a provisioning login, so that concurrent logins of one member queue instead of
// deadlocking; a transaction that still loses a race (a deadlock, a certification conflict) is
// tried again.
func (h *Handler) startDirect(r *http.Request, userID int) (Started, error) {
	ctx := RequestContext(r)
	var started Started
	err := store.Retry(ctx, directAttempts, 10*time.Millisecond, nil, func() (err error) {
		started, err = h.startDirectOnce(ctx, r, userID)
		return err
	})
	if err != nil {
		return Started{}, err
	}
	return started, nil
}

// directAttempts bounds the transactions of one direct login (startDirect).
const directAttempts = 4

func (h *Handler) startDirectOnce(ctx context.Context, r *http.Request, userID int) (Started, error) {
	tx, err := h.client().Tx(ctx)
	if err != nil {
		return Started{}, fmt.Errorf("auth: direct login: begin: %w", err)
	}
	client := tx.Client()
	at := h.Sessions.Time()
	err = authdb.RecordLogin(ctx, client, userID, at)
	var started Started
	if err == nil {
		started, err = h.Sessions.Start(ctx, client, userID, session.MethodPASSWORD,
			SessionOptions{Replaces: h.Sessions.Token(r), At: at, LoginRecorded: true})
	}
	if err == nil {
		err = Record(ctx, client, Event{Type: EventLoginSucceeded, UserID: userID, Method: string(session.MethodPASSWORD)}.FromRequest(r))
	}
	if err != nil {
		_ = tx.Rollback()
		return Started{}, err
	}
	if err := tx.Commit(); err != nil {
		return Started{}, fmt.Errorf("auth: direct login: commit: %w", err)
	}
	return started, nil
}

func (h *Handler) metric(method, result string) {
	if h.Metrics != nil {
		h.Metrics.Login(method, result)
	}
}

// recordFailure writes a failed direct login to the security log (LOGIN_FAILED, with the reason
// and any further detail) and counts it in the metrics. The throttle counted the attempt already.
func (h *Handler) recordFailure(ctx context.Context, r *http.Request, userID int, email, reason string, detail map[string]any) {
	h.metric(string(session.MethodPASSWORD), strings.ToLower(reason))
	d := map[string]any{"reason": reason}
	for k, v := range detail {
		d[k] = v
	}
	RecordOrLog(ctx, h.client(), h.Log, Event{
		Type:    EventLoginFailed,
		UserID:  userID,
		Method:  string(session.MethodPASSWORD),
		Subject: email,
		Detail:  d,
	}.FromRequest(r))
}

// throttle is the direct login throttle over the handler's database.
func (h *Handler) throttle() *Throttle {
	return &Throttle{Client: h.client(), Limit: h.RateLimit, Now: h.Now}
}

// waitText says how long a wait of d is, for people: "1 second", "8 seconds", "4 minutes".
func waitText(d time.Duration) string {
	s := max(int(math.Ceil(d.Seconds())), 1)
	switch {
	case s == 1:
		return "1 second"
	case s < 120:
		return strconv.Itoa(s) + " seconds"
	}
	return strconv.Itoa((s+59)/60) + " minutes"
}

func (h *Handler) directError(w http.ResponseWriter, r *http.Request, status int, email, target, msg string) {
	render(w, h.Log, status, "direct", loginData{
		Title:       "Sign in with email and password",
		Error:       msg,
		Email:       email,
		RedirectURI: target,
		LoginURL:    LoginURL(target),
		ForgotURL:   h.forgotURL(),
	})
}

// forgotURL is the forgot-password form's address when the server sends mail, else "".
func (h *Handler) forgotURL() string {
	if !h.PasswordReset {
		return ""
	}
	return "/auth/password/forgot"
}

// fail answers an unexpected error: a generic page, the detail in the log.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.DB.MarkFailure(err)
	h.Log.ErrorContext(r.Context(), "auth: request failed", "path", r.URL.Path, "err", err)
	status := http.StatusInternalServerError
	msg := "Something went wrong on our side. Please try again."
	if store.IsUnavailable(err) {
		status = http.StatusServiceUnavailable
		msg = "The service is temporarily unavailable. Please try again shortly."
	}
	RenderMessage(w, h.Log, status, Message{Heading: "Sorry", Message: msg, Alert: true})
}

// logoutGet ends the session only when the request proves it comes from the server's own pages:
// Sec-Fetch-Site: same-origin, or, from a browser that does not send it, an Origin or Referer of
// exactly PublicURL's origin. Anything else (a foreign or missing proof) gets a page asking the
// member to confirm with a POST: a link elsewhere must not sign members out. A request with an
// Authorization header is an app's, which no link can make: it ends the app's session at once
// (logoutBearer).
func (h *Handler) logoutGet(w http.ResponseWriter, r *http.Request) {
	if !h.sameOrigin(r) && r.Header.Get("Authorization") == "" {
		action := "/auth/logout"
		if t := r.URL.Query().Get("redirect_uri"); t != "" {
			action += "?redirect_uri=" + url.QueryEscape(redirect.Or(t, "/"))
		}
		w.Header().Set("Cache-Control", "no-store")
		RenderMessage(w, h.Log, http.StatusOK, Message{
			Title: "Sign out", Heading: "Sign out?", Message: "Do you want to sign out of the community?",
			ActionURL: action, ActionText: "Sign out", ActionPost: true,
		})
		return
	}
	h.logout(w, r)
}

// sameOrigin tells whether r proves it was sent by the server's own pages (see logoutGet).
func (h *Handler) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	own := origin(h.PublicURL)
	if own == "" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		return origin(o) == own
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return origin(ref) == own
	}
	return false
}

// origin is the scheme://host:port of an absolute http(s) URL, lowercased and with the port
// always written, or "" for anything else (including the opaque origin "null").
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case port != "":
	case scheme == "https":
		port = "443"
	case scheme == "http":
		port = "80"
	default:
		return ""
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Header.Get("Authorization") != "" {
		h.logoutBearer(w, r)
		return
	}
	sess, err := h.Sessions.End(ctx, w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	target := redirect.Or(r.URL.Query().Get("redirect_uri"), "/")
	if sess != nil {
		RecordOrLog(ctx, h.client(), h.Log, Event{Type: EventLogout, UserID: sess.UserID, Method: string(sess.Method)}.FromRequest(r))
		if st, err := LoadSettings(ctx, h.client()); err == nil {
			if u := h.logoutURL(ctx, sess, st); u != "" {
				target = u
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// logoutBearer ends the app session whose bearer token r carries (the session middleware has
// checked it: a token that is not valid got 401) and answers 204, with no redirect and no
// cookie; an app signs out of the customer's own site itself. An API token is not a session:
// it is refused with 400 INVALID_REQUEST (revokeApiToken ends it).
func (h *Handler) logoutBearer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	if v := FromContext(ctx); v == nil || v.Session == nil {
		web.WriteJSONError(w, http.StatusBadRequest, CodeInvalidRequest, "only a session token can be logged out; an API token is revoked with revokeApiToken")
		return
	}
	sess, err := h.Sessions.EndBearer(ctx, r)
	if err != nil {
		h.DB.MarkFailure(err)
		h.Log.ErrorContext(ctx, "auth: request failed", "path", r.URL.Path, "err", err)
		web.WriteJSONError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "the service is temporarily unavailable, try again shortly")
		return
	}
	if sess != nil {
		RecordOrLog(ctx, h.client(), h.Log, Event{Type: EventLogout, UserID: sess.UserID, Method: string(sess.Method)}.FromRequest(r))
	}
	w.WriteHeader(http.StatusNoContent)
}

// logoutURL is where a member goes after its session ends: the logout URL of the method that
// made the session, if one is set.
func (h *Handler) logoutURL(ctx context.Context, s *ent.Session, st *ent.Settings) string {
	if h.LogoutURL != nil {
		if u := h.LogoutURL(ctx, s, st); u != "" {
			return u
		}
	}
	switch s.Method {
	case session.MethodJWT:
		return st.JwtLogoutURL
	case session.MethodOAUTH2:
		return st.Oauth2LogoutURL
	}
	return ""
}

type homeData struct {
	Title string
	User  *ent.User
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	d := homeData{Title: "Community"}
	if v := FromContext(r.Context()); v != nil {
		d.User = v.User
	}
	render(w, h.Log, http.StatusOK, "home", d)
}

// RequireLoginParam implements ?auth=true on a page: a visitor without a session goes into the
// login flow and comes back to the same URL without auth=true; a signed-in visitor passes.
func RequireLoginParam(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("auth") != "true" || FromContext(r.Context()) != nil {
			next.ServeHTTP(w, r)
			return
		}
		q.Del("auth")
		back := r.URL.Path
		if enc := q.Encode(); enc != "" {
			back += "?" + enc
		}
		http.Redirect(w, r, LoginURL(back), http.StatusSeeOther)
	})
}
