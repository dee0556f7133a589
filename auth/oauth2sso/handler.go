package oauth2sso

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/auth/redirect"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
)

// Seal purposes of the tokens a session keeps.
const (
	PurposeIDToken      = "session:oauth2-id-token"
	PurposeRefreshToken = "session:oauth2-refresh-token"
)

// CallbackPath is the redirect URI to register at the provider, under PUBLIC_URL.
const CallbackPath = "/auth/oauth2/callback"

// Handler serves GET /auth/oauth2/login and GET /auth/oauth2/callback.
type Handler struct {
	DB          *store.DB
	Sealer      *seal.Sealer
	Sessions    *auth.Sessions
	Provisioner *provision.Provisioner
	Discovery   *Discovery
	// PublicURL is the server's public base URL (the callback is PublicURL + CallbackPath).
	PublicURL string
	Log       *slog.Logger
	Metrics   auth.LoginMetrics
	Now       func() time.Time
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Register mounts the routes; wrap adds the database guard and the viewer. The back-channel
// logout is called by the provider's server, not a browser: it has the database guard only (no
// viewer, no embed origins to read, no form's cross-site check), its signed logout token is its
// credential.
func (h *Handler) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	mux.Handle("GET /auth/oauth2/login", wrap(http.HandlerFunc(h.login)))
	mux.Handle("GET "+CallbackPath, wrap(http.HandlerFunc(h.callback)))
	mux.Handle("POST "+BackchannelLogoutPath, web.RequireDatabase(h.DB, http.HandlerFunc(h.backchannelLogout)))
}

func (h *Handler) callbackURL() string {
	return strings.TrimSuffix(h.PublicURL, "/") + CallbackPath
}

func (h *Handler) secure() bool { return h.Sessions != nil && h.Sessions.Secure }

// login sends the browser to the provider. With test=true (admins only) the flow ends in a
// report instead of a sign-in.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	test := q.Get("test") == "true"
	target := redirect.Or(q.Get("redirect_uri"), "/")
	if test && !isAdmin(ctx) {
		h.fail(w, r, test, forbidden())
		return
	}
	if !test && auth.FromContext(ctx) != nil {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	_, p, err := h.provider(ctx, test)
	if err != nil {
		h.fail(w, r, test, err)
		return
	}
	f := flow{
		State:    randomString(),
		Nonce:    randomString(),
		Verifier: oauth2.GenerateVerifier(),
		Return:   target,
		Test:     test,
		Expires:  h.now().Add(FlowLifetime).Unix(),
	}
	http.SetCookie(w, newFlowCookie(h.secure(), web.IsHTTPS(r), framed(r), sealFlow(h.Sealer, f), int(FlowLifetime/time.Second)))
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier)}
	if p.OIDC() {
		opts = append(opts, oidc.Nonce(f.Nonce))
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, p.Config(h.callbackURL()).AuthCodeURL(f.State, opts...), http.StatusSeeOther)
}

// callback finishes a login. The order of the checks matters, and all come before any request
// to the provider: OAuth2 off is SSO_DISABLED (but for an admin's test flow); a callback that is
// not this browser's flow (cookie, state) is INVALID_STATE, whatever else it says; only then is
// the provider's error believed. The settings are read once, here.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f, ferr := h.readFlow(r)
	// The flow cookie is good for one callback.
	http.SetCookie(w, newFlowCookie(h.secure(), web.IsHTTPS(r), framed(r), "", -1))
	st, err := auth.LoadSettings(ctx, h.DB.Client)
	if err != nil {
		h.fail(w, r, false, err)
		return
	}
	valid := ferr == nil && sameState(q.Get("state"), f.State)
	if !st.Oauth2Enabled && !(valid && f.Test) { // any callback but an admin's test
		h.fail(w, r, false, errDisabled())
		return
	}
	if !valid {
		h.fail(w, r, false, &auth.SSOError{Code: auth.CodeInvalidState, Message: "This sign-in link has expired or was opened in another browser.", Err: ferr})
		return
	}
	if e := q.Get("error"); e != "" {
		err := auth.NewSSOError(auth.CodeIDPError, "The sign-in provider refused the sign-in.")
		err.Detail = map[string]any{"idpError": safeCode(e)}
		h.fail(w, r, f.Test, err)
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		h.fail(w, r, f.Test, auth.NewSSOError(auth.CodeInvalidRequest, "The sign-in provider sent no authorization code."))
		return
	}
	if f.Test && !isAdmin(ctx) {
		h.fail(w, r, true, forbidden())
		return
	}
	p, err := h.Discovery.Resolve(ctx, st, h.Sealer)
	if err != nil {
		h.fail(w, r, f.Test, err)
		return
	}
	id, err := h.authenticate(ctx, p, code, f)
	if err != nil {
		h.fail(w, r, f.Test, err)
		return
	}
	pr, err := provision.Map(id.Payload, "externalId")
	if f.Test {
		h.report(w, r, id, pr, err, roles(st), st.SyncUsername)
		return
	}
	if err != nil {
		h.fail(w, r, false, err)
		return
	}
	opts := auth.SessionOptions{Replaces: h.Sessions.Token(r), SID: sessionID(id.IDClaims)}
	if id.RawIDToken != "" {
		opts.IDToken = h.Sealer.Seal(PurposeIDToken, []byte(id.RawIDToken))
	}
	if id.Token.RefreshToken != "" {
		opts.RefreshToken = h.Sealer.Seal(PurposeRefreshToken, []byte(id.Token.RefreshToken))
		if st.Oauth2RefreshMinutes > 0 {
			at := h.now().Add(time.Duration(st.Oauth2RefreshMinutes) * time.Minute)
			opts.RevalidateAt = &at
		}
	}
	res, err := h.Provisioner.Login(auth.RequestContext(r), provision.Request{
		Method:       session.MethodOAUTH2,
		Profile:      pr,
		Roles:        roles(st),
		SyncUsername: st.SyncUsername,
		Session:      opts,
	})
	if err != nil {
		h.fail(w, r, false, err)
		return
	}
	auth.FinishLogin(w, r, h.Sessions, h.Metrics, auth.Login{
		Method: session.MethodOAUTH2, Started: res.Session, Return: f.Return, Created: res.Created, Settings: st,
	})
}

// provider loads the settings and resolves the provider; OAuth2 must be enabled, except for an
// admin's test.
func (h *Handler) provider(ctx context.Context, test bool) (*ent.Settings, *Provider, error) {
	st, err := auth.LoadSettings(ctx, h.DB.Client)
	if err != nil {
		return nil, nil, err
	}
	if !st.Oauth2Enabled && !test {
		return nil, nil, errDisabled()
	}
	p, err := h.Discovery.Resolve(ctx, st, h.Sealer)
	if err != nil {
		return nil, nil, err
	}
	return st, p, nil
}

// errDisabled is the answer of the OAuth2 routes while OAuth2 is off.
func errDisabled() error {
	return auth.NewSSOError(auth.CodeSSODisabled, "Single sign-on is not enabled for this community.")
}

func (h *Handler) readFlow(r *http.Request) (flow, error) {
	c, err := r.Cookie(flowCookieName(h.secure()))
	if err != nil {
		return flow{}, errFlow
	}
	return openFlow(h.Sealer, c.Value, h.now())
}

// Identity is what the provider said about the member: verified id_token claims and user info.
type Identity struct {
	Token      *oauth2.Token
	RawIDToken string
	// IDClaims are the verified id_token's claims (nil without an id_token), UserInfo the user
	// info answer (nil when not fetched), Payload the two merged for provisioning.
	IDClaims map[string]any
	UserInfo map[string]any
	Payload  map[string]any
}

// authenticate exchanges the code, verifies the id_token and fetches user info when needed.
func (h *Handler) authenticate(ctx context.Context, p *Provider, code string, f flow) (*Identity, error) {
	hc := h.Discovery.Client
	cctx := hc.Context(ctx)
	tok, err := p.Config(h.callbackURL()).Exchange(cctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, providerError("exchange code", err)
	}
	var raw string
	var claims map[string]any
	if p.OIDC() {
		raw, _ = tok.Extra("id_token").(string)
		if raw == "" {
			return nil, auth.NewSSOError(auth.CodeIDPError, "The sign-in provider sent no id_token.")
		}
		if claims, err = verifyIDToken(cctx, p, raw, &f.Nonce, h.now); err != nil {
			return nil, err
		}
	}
	return identify(ctx, hc, p, tok, raw, claims)
}

// identify completes the identity of a token response: the id_token (raw, with its verified
// claims; none for a plain OAuth2 provider) and, when its claims lack the member's id, email or
// name, the user info, which must be about the id_token's subject. The payload is the two
// merged, the id_token's claims winning. Logins and refresh revalidation both use it.
func identify(ctx context.Context, hc *HTTPClient, p *Provider, tok *oauth2.Token, raw string, claims map[string]any) (*Identity, error) {
	id := &Identity{Token: tok, RawIDToken: raw, IDClaims: claims}
	if needsUserInfo(id.IDClaims) {
		if p.UserInfoURL == "" {
			if id.IDClaims == nil {
				return nil, auth.NewSSOError(auth.CodeIDPError, "Single sign-on is not configured correctly.")
			}
		} else {
			info, err := hc.getJSON(ctx, p.UserInfoURL, tok.AccessToken)
			if err != nil {
				return nil, err
			}
			info = provision.Unwrap(info)
			if id.IDClaims != nil {
				// User info must be about the member the id_token names: its sub exactly the
				// id_token's (OpenID Connect Core 5.3.2), not trimmed or read from a number.
				if !sameSubject(info["sub"], id.IDClaims["sub"]) {
					return nil, &auth.SSOError{Code: auth.CodeInvalidToken, Message: "The sign-in provider's profile belongs to another account.", Err: errors.New("oauth2sso: user info sub does not match the id_token")}
				}
			}
			id.UserInfo = info
		}
	}
	id.Payload = map[string]any{}
	for k, v := range id.UserInfo {
		id.Payload[k] = v
	}
	// Claims of the verified id_token win over user info.
	for k, v := range id.IDClaims {
		id.Payload[k] = v
	}
	return id, nil
}

// verifyIDToken checks the id_token's signature (JWKS), issuer, audience and expiry with go-oidc,
// then nonce (when nonce is not nil: a login's; a refreshed id_token is not checked for one),
// sub, iat and azp, and returns its claims.
func verifyIDToken(ctx context.Context, p *Provider, raw string, nonce *string, now func() time.Time) (map[string]any, error) {
	v := p.oidc.Verifier(&oidc.Config{ClientID: p.ClientID, Now: now})
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, &auth.SSOError{Code: auth.CodeTokenExpired, Message: "The sign-in provider's token has expired; check the server clocks.", Err: err}
		}
		if IsKeyFetchError(err) {
			return nil, providerError("key set", err)
		}
		return nil, &auth.SSOError{Code: auth.CodeInvalidToken, Message: "The sign-in provider's token could not be verified.", Err: fmt.Errorf("oauth2sso: verify id_token: %w", err)}
	}
	bad := func(reason string) error {
		return &auth.SSOError{Code: auth.CodeInvalidToken, Message: "The sign-in provider's token could not be verified.", Err: errors.New("oauth2sso: id_token " + reason)}
	}
	if nonce != nil && !sameState(idt.Nonce, *nonce) {
		return nil, bad("nonce does not match")
	}
	if idt.Subject == "" {
		return nil, bad("has no sub")
	}
	if idt.IssuedAt.IsZero() {
		return nil, bad("has no iat")
	}
	// Numbers keep their digits (json.Number), as in user info: an id above 2^53 read as a
	// float64 would lose them.
	var payload json.RawMessage
	var claims map[string]any
	if err := idt.Claims(&payload); err != nil {
		return nil, bad("claims are not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, bad("claims are not an object")
	}
	azp, hasAzp := claims["azp"].(string)
	if (len(idt.Audience) > 1 || hasAzp) && azp != p.ClientID {
		return nil, bad("azp is not this client")
	}
	claims["sub"] = idt.Subject
	return claims, nil
}

// sameSubject reports whether user info's sub is exactly the id_token's (a string): the same
// text, or a JSON number with the same digits.
func sameSubject(info, idToken any) bool {
	want, ok := idToken.(string)
	if !ok {
		return false
	}
	switch got := info.(type) {
	case string:
		return got == want
	case json.Number:
		return got.String() == want
	}
	return false
}

// needsUserInfo tells whether the id_token lacks the member's id, email or name.
func needsUserInfo(claims map[string]any) bool {
	if claims == nil {
		return true
	}
	pr, err := provision.Map(claims)
	return err != nil || pr.ExternalID == "" || pr.Email == "" || pr.Name == ""
}

func roles(st *ent.Settings) *provision.RoleMapping {
	return &provision.RoleMapping{
		AdminClaim: st.Oauth2AdminClaim, AdminValue: st.Oauth2AdminClaimValue,
		ModeratorClaim: st.Oauth2ModeratorClaim, ModeratorValue: st.Oauth2ModeratorClaimValue,
	}
}

func isAdmin(ctx context.Context) bool {
	v := auth.FromContext(ctx)
	return v != nil && v.User.Role == user.RoleADMIN
}

func forbidden() *auth.SSOError {
	return &auth.SSOError{Code: auth.CodeForbidden, Message: "Only a signed-in admin can test the single sign-on configuration."}
}

// fail answers a failed login and records it; test-mode failures are reported, not counted.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, test bool, err error) {
	if test {
		auth.FailTest(w, r, h.DB, h.Log, string(session.MethodOAUTH2), err)
		return
	}
	auth.FailLogin(w, r, h.DB, h.Log, h.Metrics, string(session.MethodOAUTH2), err)
}

// report answers a test-mode callback: what the provider said, what the community would make of
// it, and what a login would do, without writing anything.
func (h *Handler) report(w http.ResponseWriter, r *http.Request, id *Identity, pr *provision.Profile, mapErr error, rm *provision.RoleMapping, syncUsername bool) {
	rep := auth.OAuth2Report{
		IDTokenClaims: pretty(redact(id.IDClaims)),
		UserInfo:      pretty(redact(id.UserInfo)),
		HasRefresh:    id.Token.RefreshToken != "",
	}
	if mapErr != nil {
		rep.Decision = provision.DecisionReject
		if e := auth.AsSSOError(mapErr); e != nil {
			rep.Reason, rep.Message = e.Code, e.Message
		}
	} else {
		rep.Profile = pretty(map[string]any{
			"externalId": pr.ExternalID, "email": pr.Email, "emailVerified": pr.EmailVerified,
			"name": pr.Name, "username": pr.Username, "picture": pr.Picture, "tagline": pr.Tagline,
			"spaces": pr.Spaces, "skipped": pr.Skipped,
		})
		res, err := h.Provisioner.DryRun(r.Context(), provision.Request{Method: session.MethodOAUTH2, Profile: pr, Roles: rm, SyncUsername: syncUsername})
		if err != nil {
			h.fail(w, r, true, err)
			return
		}
		rep.Decision, rep.Reason = res.Decision, res.Reason
		if rm.Configured() {
			rep.Role = string(rm.Role(pr.Payload))
		}
		if res.User != nil && res.Decision != provision.DecisionCreate {
			rep.UserID = res.User.ID
		}
		if res.ConflictUserID != 0 {
			rep.UserID = res.ConflictUserID
		}
		rep.Changed = res.Changed
		rep.Skipped = res.Skipped
	}
	auth.RenderOAuth2Report(w, h.Log, rep)
}

// redact hides values that are credentials or one-time values, keeping the keys visible.
func redact(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		lk := strings.ToLower(k)
		if slices.ContainsFunc([]string{"token", "secret", "password", "nonce", "hash", "code"}, func(s string) bool { return strings.Contains(lk, s) }) {
			out[k] = "[redacted]"
			continue
		}
		out[k] = v
	}
	return out
}

func pretty(v any) string {
	if m, ok := v.(map[string]any); ok && m == nil {
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// LogoutURL is the provider's end_session_endpoint, with id_token_hint and
// post_logout_redirect_uri (the configured logout URL, else the community's home), for an OIDC
// session whose provider has one; "" otherwise, so the configured logout URL applies
// (auth.Handler.LogoutURL).
func (h *Handler) LogoutURL(ctx context.Context, s *ent.Session, st *ent.Settings) string {
	if s.Method != session.MethodOAUTH2 || !st.Oauth2Enabled || len(s.IDToken) == 0 {
		return ""
	}
	p, err := h.Discovery.Resolve(ctx, st, h.Sealer)
	if err != nil || p.EndSessionURL == "" {
		return ""
	}
	raw, err := h.Sealer.Open(PurposeIDToken, s.IDToken)
	if err != nil {
		return ""
	}
	u, err := url.Parse(p.EndSessionURL)
	if err != nil {
		return ""
	}
	back := st.Oauth2LogoutURL
	if back == "" {
		back = strings.TrimSuffix(h.PublicURL, "/") + "/"
	}
	q := u.Query()
	q.Set("id_token_hint", string(raw))
	q.Set("post_logout_redirect_uri", back)
	q.Set("client_id", p.ClientID)
	u.RawQuery = q.Encode()
	return u.String()
}
