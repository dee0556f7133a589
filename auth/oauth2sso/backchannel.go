package oauth2sso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
)

// BackchannelLogoutPath is the back-channel logout URI to register at the provider, under
// PUBLIC_URL (OpenID Connect Back-Channel Logout 1.0).
const BackchannelLogoutPath = "/auth/oauth2/backchannel-logout"

// BackchannelLogoutEvent is the member of a logout token's events claim that makes it one.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// Limits of a logout token.
const (
	// LogoutTokenMaxAge is how long after its iat a logout token is accepted; its jti is
	// remembered as long (plus LogoutTokenLeeway), so it is single-use for all of its life.
	LogoutTokenMaxAge = 10 * time.Minute
	// LogoutTokenLeeway is the clock skew allowed on iat (in the future) and exp.
	LogoutTokenLeeway = time.Minute
	// MaxLogoutBody bounds the body of a back-channel logout request.
	MaxLogoutBody = 64 << 10
)

// backchannelAttempts bounds the retries of a logout that lost a race with a concurrent change.
const backchannelAttempts = 5

// logoutToken is what a verified logout token names.
type logoutToken struct {
	Issuer   string
	JTI      string
	SID, Sub string
	IssuedAt time.Time
}

// logoutRefusal is a logout token or request that is refused: 400 invalid_request with
// Description; Err is logged.
type logoutRefusal struct {
	Description string
	Err         error
}

func (e *logoutRefusal) Error() string {
	if e.Err != nil {
		return "oauth2sso: back-channel logout: " + e.Description + ": " + e.Err.Error()
	}
	return "oauth2sso: back-channel logout: " + e.Description
}

func (e *logoutRefusal) Unwrap() error { return e.Err }

func refuse(description string) error { return &logoutRefusal{Description: description} }

// backchannelLogout serves POST /auth/oauth2/backchannel-logout: the provider's server posts a
// logout_token (OpenID Connect Back-Channel Logout 1.0, section 2.5), verified as section 2.6
// says, and the sessions it names end: with a sid, the OAUTH2 sessions whose id_token had that
// sid; with only a sub, every OAUTH2 session of the member whose externalId is sub. 200 when done
// (also when no session matched), 400 invalid_request for a refused token, 404 when OpenID
// Connect sign-in is not enabled, 503 when the provider's keys or the database cannot be
// reached. Every answer is no-store; the token is never logged.
func (h *Handler) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	ctx := auth.RequestContext(r)
	w.Header().Set("Cache-Control", "no-store")
	st, err := auth.LoadSettings(ctx, h.DB.Client)
	if err != nil {
		h.logoutFailed(ctx, w, err)
		return
	}
	if !st.Oauth2Enabled {
		writeLogoutError(w, http.StatusNotFound, "invalid_request", "OpenID Connect single sign-on is not enabled for this community.")
		return
	}
	p, err := h.Discovery.Resolve(ctx, st, h.Sealer)
	if err != nil {
		if e := auth.AsSSOError(err); e != nil && e.Code != auth.CodeIDPUnavailable {
			h.Log.WarnContext(ctx, "oauth2sso: back-channel logout: provider not configured", "err", err)
			writeLogoutError(w, http.StatusNotFound, "invalid_request", "OpenID Connect single sign-on is not configured for this community.")
			return
		}
		h.logoutFailed(ctx, w, err)
		return
	}
	if !p.OIDC() {
		writeLogoutError(w, http.StatusNotFound, "invalid_request", "The community's sign-in provider is not an OpenID Connect provider (no issuer is configured).")
		return
	}
	raw, err := readLogoutToken(w, r)
	if err == nil {
		var lt *logoutToken
		if lt, err = verifyLogoutToken(h.Discovery.Client.Context(ctx), p, raw, h.now()); err == nil {
			var ended int
			if ended, err = h.endOIDCSessions(ctx, lt); err == nil {
				h.Log.InfoContext(ctx, "oauth2sso: back-channel logout", "sessions", ended, "by_sid", lt.SID != "")
				w.WriteHeader(http.StatusOK)
				return
			}
		}
	}
	var refusal *logoutRefusal
	if errors.As(err, &refusal) {
		h.Log.InfoContext(ctx, "oauth2sso: back-channel logout refused", "reason", refusal.Description, "err", refusal.Err)
		writeLogoutError(w, http.StatusBadRequest, "invalid_request", refusal.Description)
		return
	}
	h.logoutFailed(ctx, w, err)
}

// logoutFailed answers a logout that could not be done for a reason of this side or the
// provider's availability: 503, so the provider may try again.
func (h *Handler) logoutFailed(ctx context.Context, w http.ResponseWriter, err error) {
	h.Log.ErrorContext(ctx, "oauth2sso: back-channel logout failed", "err", err)
	writeLogoutError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The logout could not be done now; try again later.")
}

// writeLogoutError answers the error JSON of the back-channel logout (section 2.8: OAuth 2.0's
// error and error_description).
func writeLogoutError(w http.ResponseWriter, status int, code, description string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// readLogoutToken reads the one logout_token of a form-encoded body of at most MaxLogoutBody.
func readLogoutToken(w http.ResponseWriter, r *http.Request) (string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return "", refuse("The request must be a form (application/x-www-form-urlencoded) with a logout_token.")
	}
	web.MaxBytes(w, r, MaxLogoutBody)
	if err := r.ParseForm(); err != nil {
		return "", &logoutRefusal{Description: "The request body is not a valid form.", Err: err}
	}
	vals := r.PostForm["logout_token"]
	switch {
	case len(vals) == 0 || vals[0] == "":
		return "", refuse("The request has no logout_token.")
	case len(vals) > 1:
		return "", refuse("The request has more than one logout_token.")
	}
	return vals[0], nil
}

// verifyLogoutToken validates a logout token as section 2.6 says: its signature by one of the
// provider's keys with an algorithm the provider signs id_tokens with (go-oidc: never none,
// never HMAC), its iss and aud as an id_token's, iat present and neither older than
// LogoutTokenMaxAge nor ahead by more than LogoutTokenLeeway, exp (when present) not passed, a
// jti, the back-channel logout member of events as a JSON object, a sid or a sub, and no nonce.
// The jti's single use is checked by endOIDCSessions.
func verifyLogoutToken(ctx context.Context, p *Provider, raw string, now time.Time) (*logoutToken, error) {
	// go-oidc checks the signature and the algorithm; the claims are checked here, each with its
	// own answer.
	v := p.oidc.Verifier(&oidc.Config{SkipClientIDCheck: true, SkipIssuerCheck: true, SkipExpiryCheck: true})
	t, err := v.Verify(ctx, raw)
	if err != nil {
		if IsKeyFetchError(err) {
			return nil, providerError("key set", err)
		}
		return nil, &logoutRefusal{Description: "The logout token is not a JWT signed by one of the provider's keys.", Err: err}
	}
	if t.Issuer != p.Issuer {
		return nil, refuse("The logout token's issuer (iss) is not the provider's.")
	}
	if !slices.Contains(t.Audience, p.ClientID) {
		return nil, refuse("The logout token's audience (aud) does not contain the community's client id.")
	}
	var claims map[string]json.RawMessage
	if err := t.Claims(&claims); err != nil {
		return nil, &logoutRefusal{Description: "The logout token's claims are not a JSON object.", Err: err}
	}
	switch {
	case t.IssuedAt.IsZero():
		return nil, refuse("The logout token has no iat.")
	case t.IssuedAt.Before(now.Add(-LogoutTokenMaxAge)):
		return nil, refuse("The logout token is too old (iat).")
	case t.IssuedAt.After(now.Add(LogoutTokenLeeway)):
		return nil, refuse("The logout token was issued in the future (iat); check the server clocks.")
	case !t.Expiry.IsZero() && t.Expiry.Add(LogoutTokenLeeway).Before(now):
		return nil, refuse("The logout token has expired (exp).")
	}
	if _, ok := claims["nonce"]; ok {
		return nil, refuse("A logout token must not have a nonce.")
	}
	var events map[string]json.RawMessage
	if err := json.Unmarshal(claims["events"], &events); err != nil || events == nil {
		return nil, refuse("The logout token has no events object.")
	}
	var event map[string]any
	if err := json.Unmarshal(events[BackchannelLogoutEvent], &event); err != nil || event == nil {
		return nil, refuse("The logout token's events have no " + BackchannelLogoutEvent + " object.")
	}
	jti, ok := stringClaim(claims, "jti")
	if !ok || jti == "" {
		return nil, refuse("The logout token has no jti.")
	}
	sid, ok := stringClaim(claims, "sid")
	if !ok {
		return nil, refuse("The logout token's sid is not a string.")
	}
	if sid == "" && t.Subject == "" {
		return nil, refuse("The logout token has neither a sid nor a sub.")
	}
	return &logoutToken{Issuer: t.Issuer, JTI: jti, SID: sid, Sub: t.Subject, IssuedAt: t.IssuedAt}, nil
}

// stringClaim is the string claim name ("" when absent or null); ok is false for another type.
func stringClaim(claims map[string]json.RawMessage, name string) (string, bool) {
	raw, present := claims[name]
	if !present || string(raw) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// LogoutReplayKey is the replay marker key of a logout token's jti from issuer: apart from the
// JWT SSO tokens' keys, whose jtis are the customer's.
func LogoutReplayKey(issuer, jti string) string {
	h := sha256.Sum256([]byte("oidc-backchannel-logout\x00" + issuer + "\x00" + jti))
	return hex.EncodeToString(h[:])
}

// errLogoutReplayed is the refusal of a logout token whose jti was used.
var errLogoutReplayed = &logoutRefusal{Description: "The logout token was already used (jti)."}

// endOIDCSessions marks the token's jti used and ends the sessions it names, with one
// SESSION_REVOKED security event per member (source backchannel, the number of sessions), or one
// without a member when none matched, all in one transaction; a lost race is tried again. It
// returns how many sessions ended.
func (h *Handler) endOIDCSessions(ctx context.Context, lt *logoutToken) (int, error) {
	var n int
	err := store.Retry(ctx, backchannelAttempts, 10*time.Millisecond, nil, func() (err error) {
		n, err = h.endOIDCSessionsOnce(ctx, lt)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (h *Handler) endOIDCSessionsOnce(ctx context.Context, lt *logoutToken) (int, error) {
	now := h.now()
	tx, err := h.DB.Client.Tx(ctx)
	if err != nil {
		return 0, fmt.Errorf("oauth2sso: back-channel logout: begin: %w", err)
	}
	n, err := endOIDCSessions(ctx, tx.Client(), lt, now)
	if err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("oauth2sso: back-channel logout: commit: %w", err)
	}
	return n, nil
}

func endOIDCSessions(ctx context.Context, client *ent.Client, lt *logoutToken, now time.Time) (int, error) {
	fresh, err := authdb.UseReplayMarker(ctx, client, LogoutReplayKey(lt.Issuer, lt.JTI), now, lt.IssuedAt.Add(LogoutTokenMaxAge+LogoutTokenLeeway))
	if err != nil {
		return 0, err
	}
	if !fresh {
		return 0, errLogoutReplayed
	}
	var sessions []*ent.Session
	if lt.SID != "" {
		// The provider's session id names the sessions, whatever the sub: the member's externalId
		// need not be the sub (provisioning maps an id claim first), so the optional check of
		// section 2.6, step 10 could keep a session the provider ended.
		if sessions, err = authdb.OIDCSessions(ctx, client, lt.SID); err != nil {
			return 0, err
		}
	} else {
		// The member is found as provisioning maps the id_token's sub: externalId.
		member, err := authdb.MemberByExternalID(ctx, client, lt.Sub)
		if err != nil {
			return 0, err
		}
		if member != nil {
			if sessions, err = authdb.MemberOAuth2Sessions(ctx, client, member.ID); err != nil {
				return 0, err
			}
		}
	}
	ids := make([]int, len(sessions))
	perMember := map[int]int{}
	var members []int
	for i, s := range sessions {
		ids[i] = s.ID
		if perMember[s.UserID] == 0 {
			members = append(members, s.UserID)
		}
		perMember[s.UserID]++
	}
	n, err := authdb.EndSessions(ctx, client, ids...)
	if err != nil {
		return 0, err
	}
	info := auth.RequestInfoFrom(ctx)
	base := auth.Event{Type: auth.EventSessionRevoked, Method: string(session.MethodOAUTH2), IP: info.IP, Agent: info.UserAgent}
	var events []auth.Event
	for _, id := range members {
		e := base
		e.UserID = id
		e.Detail = map[string]any{"source": "backchannel", "sessions": perMember[id]}
		events = append(events, e)
	}
	if len(events) == 0 {
		e := base
		e.Subject = lt.Sub
		e.Detail = map[string]any{"source": "backchannel", "sessions": 0}
		events = append(events, e)
	}
	if err := auth.RecordAll(ctx, client, events...); err != nil {
		return 0, err
	}
	return n, nil
}

// sessionID is the sid claim of verified id_token claims, when it is a string that fits the
// session's column; "" otherwise (such a session can still be ended by the member's sub).
func sessionID(claims map[string]any) string {
	sid, _ := claims["sid"].(string)
	if len(sid) > authdb.SIDSize {
		return ""
	}
	return sid
}
