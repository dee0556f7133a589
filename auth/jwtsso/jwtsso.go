// Package jwtsso is JWT SSO: the community's own site signs a short-lived token (HS256 with the
// community's secret, or RS256, PS256, ES256 or EdDSA with a private key whose public key the
// settings hold, pasted or in a JWKS) and sends the member to GET /api/auth/sso?jwt=TOKEN&redirect_uri=/path; the
// member is provisioned and signed in. An app posts the token to POST /api/auth/sso/token instead
// and gets a bearer session token, and the community's own server posts it to
// POST /api/auth/sso/sync to create or update the member without a login (Handler.Sync).
//
// The algorithm comes from the key (keys.go, verifySignature): the token's alg only picks which
// keys to try, each key verifies its own type's algorithms, and none never; kid only names a
// key among the settings' ones, and jku and x5u are ignored. After a rotation with a grace
// period the previous secret verifies too, until it ends. Token policy: a token carries exp, or an iat no older than the configured
// age; a jti, when present, is single-use.
//
// The token's sub is the member's externalId (provision.MapJWT); the jwt_*_claim settings map
// roles as OAuth2's do (Roles).
package jwtsso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/oauth2sso"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
)

// PurposeSecret is the seal purpose of the stored secret.
const PurposeSecret = "setting:jwt-sso-secret"

// MaxGrace bounds regenerateJwtSsoSecret's grace period: how long the secret a rotation
// replaced may still sign in.
const MaxGrace = 7 * 24 * time.Hour

// Names of the keys a Token reports as Token.Key.
const (
	KeySecret         = "secret"
	KeyPreviousSecret = "previous secret"
)

// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultLeeway = time.Minute

// MaxLifetime bounds how far in the future a token's exp may lie: far beyond any sensible
// sign-in token, and well inside what the replay marker's time column can hold on every
// database (an exp in the year 33658 is a signer's bug, answered INVALID_CLAIM).
const MaxLifetime = 100 * 366 * 24 * time.Hour

// MaxTokenLength bounds the token a request may carry.
const MaxTokenLength = 8192

// Verifier checks tokens against the community's settings.
type Verifier struct {
	Sealer *seal.Sealer
	Leeway time.Duration
	Now    func() time.Time
	// Client fetches the key set of the setting jwks_url (nil: oauth2sso.NewHTTPClient's
	// defaults): its timeout and size cap.
	Client *oauth2sso.HTTPClient

	memo    keyMemo
	mu      sync.Mutex // guards jwksURL and jwks
	jwksURL string
	jwks    *oidc.RemoteKeySet
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) leeway() time.Duration {
	if v.Leeway == 0 {
		return DefaultLeeway
	}
	return v.Leeway
}

// Token is a verified token.
type Token struct {
	Claims provision.Payload
	// JTI is the token id, "" when the token has none; ReplayUntil is how long its marker is kept.
	JTI         string
	ReplayUntil time.Time
	// Key names the key that verified the token: KeySecret, KeyPreviousSecret (the secret a
	// rotation replaced, inside its grace period).
	Key string
}

// PreviousSecretExpiry is when the secret the last rotation replaced stops signing in, or nil
// when it no longer does at now (none kept, or its grace period over).
func PreviousSecretExpiry(st *ent.Settings, now time.Time) *time.Time {
	if len(st.JwtPreviousSecret) == 0 || st.JwtPreviousSecretExpiresAt == nil || !now.Before(*st.JwtPreviousSecretExpiresAt) {
		return nil
	}
	return st.JwtPreviousSecretExpiresAt
}

// Verify is VerifyContext without a context of its own (a key set fetch is bounded by the
// outbound client's timeout).
func (v *Verifier) Verify(tokenString string, st *ent.Settings) (*Token, *auth.SSOError) {
	return v.VerifyContext(context.Background(), tokenString, st)
}

// VerifyContext checks the token's signature (verifySignature: the algorithm comes from the
// key), its times under the token policy, its iss and aud when the settings bind them, and the
// claims JWT SSO requires (sub, name, email).
func (v *Verifier) VerifyContext(ctx context.Context, tokenString string, st *ent.Settings) (*Token, *auth.SSOError) {
	if !st.JwtEnabled || (len(st.JwtSecret) == 0 && len(st.JwtPublicKeys) == 0 && st.JwtJwksURL == "") {
		return nil, auth.NewSSOError(auth.CodeSSODisabled, "JWT sign-in is not enabled.")
	}
	if tokenString == "" {
		return nil, auth.NewSSOError(auth.CodeInvalidRequest, "The sign-in link has no token.")
	}
	if len(tokenString) > MaxTokenLength {
		return nil, auth.NewSSOError(auth.CodeInvalidToken, "The sign-in token is too long.")
	}
	now := v.now()
	claims, keyName, err := v.verifySignature(ctx, tokenString, st, now)
	if e := auth.AsSSOError(err); e != nil {
		return nil, e
	}
	if err == nil {
		err = jwt.NewValidator(
			jwt.WithLeeway(v.leeway()),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(func() time.Time { return now }),
		).Validate(claims)
	}
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, &auth.SSOError{Code: auth.CodeTokenExpired, Message: "The sign-in token has expired.", Err: err}
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, &auth.SSOError{Code: auth.CodeInvalidToken, Message: "The sign-in token is not valid yet; check the clock of the server that signs it.", Err: err}
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, &auth.SSOError{Code: auth.CodeInvalidToken, Message: "The sign-in token is malformed.", Err: err}
	case errors.Is(err, jwt.ErrInvalidType):
		// A signed token whose exp, nbf or iat is not a number of seconds.
		claim := "exp"
		for _, c := range []string{"exp", "nbf", "iat"} {
			if v, ok := claims[c]; ok {
				if _, isNumber := v.(json.Number); !isNumber {
					claim = c
					break
				}
			}
		}
		e := claimError(auth.CodeInvalidClaim, claim, "The sign-in token's %s must be a number of seconds.", claim)
		e.Err = err
		return nil, e
	default:
		return nil, &auth.SSOError{Code: auth.CodeInvalidToken, Message: "The sign-in token's signature is not valid.", Err: err}
	}

	maxAge := time.Duration(st.JwtMaxTokenAgeSeconds) * time.Second
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	until := time.Time{}
	switch {
	case exp != nil:
		if exp.After(now.Add(MaxLifetime)) {
			return nil, claimError(auth.CodeInvalidClaim, "exp", "The sign-in token's exp is too far in the future.")
		}
		until = exp.Add(v.leeway())
	case iat != nil:
		until = iat.Add(maxAge + v.leeway())
		if now.After(until) {
			return nil, auth.NewSSOError(auth.CodeTokenExpired, "The sign-in token is too old.")
		}
	default:
		return nil, claimError(auth.CodeMissingClaim, "exp", "The sign-in token must carry exp or iat.")
	}
	tok := &Token{Claims: provision.Payload(claims), ReplayUntil: until, Key: keyName}
	if jti, ok := claims["jti"]; ok {
		s, isString := jti.(string)
		if !isString || s == "" || len(s) > 256 {
			return nil, claimError(auth.CodeInvalidClaim, "jti", "The token's jti must be a non-empty string of at most 256 bytes.")
		}
		tok.JTI = s
	} else if st.JwtRequireJti {
		return nil, claimError(auth.CodeMissingClaim, "jti", "The sign-in token must carry a jti.")
	}
	if st.JwtIssuer != "" {
		iss, ok := claims["iss"]
		if !ok {
			return nil, claimError(auth.CodeMissingClaim, "iss", "The sign-in token must carry the configured iss.")
		}
		if s, _ := iss.(string); s != st.JwtIssuer {
			return nil, claimError(auth.CodeInvalidClaim, "iss", "The sign-in token's iss is not the configured issuer.")
		}
	}
	if st.JwtAudience != "" {
		if _, ok := claims["aud"]; !ok {
			return nil, claimError(auth.CodeMissingClaim, "aud", "The sign-in token must carry the configured aud.")
		}
		aud, err := claims.GetAudience()
		if err != nil || !slices.Contains([]string(aud), st.JwtAudience) {
			return nil, claimError(auth.CodeInvalidClaim, "aud", "The sign-in token's aud does not name this community.")
		}
	}
	for _, c := range []string{"sub", "name", "email"} {
		if provision.String(claims[c]) == "" {
			return nil, claimError(auth.CodeMissingClaim, c, "The sign-in token has no %s.", c)
		}
	}
	return tok, nil
}

func claimError(code, claim, format string, args ...any) *auth.SSOError {
	e := auth.NewSSOError(code, format, args...)
	e.Detail = map[string]any{"claim": claim}
	return e
}

// ReplayKey is the stored form of a jti.
func ReplayKey(jti string) string {
	h := sha256.Sum256([]byte(jti))
	return hex.EncodeToString(h[:])
}

// Used reports whether a jti was already used.
func Used(ctx context.Context, client *ent.Client, jti string, now time.Time) (bool, error) {
	return authdb.ReplayMarked(ctx, client, ReplayKey(jti), now)
}

// consume records the token's jti as used, inside the login's transaction: a token used twice,
// even at the same moment, signs in once.
// Expired markers are deleted by auth.Prune, outside any login: a delete over many rows inside
// the login's transaction would wait on the row locks of concurrent logins.
func consume(ctx context.Context, client *ent.Client, tok *Token, now time.Time) error {
	if tok.JTI == "" {
		return nil
	}
	fresh, err := authdb.UseReplayMarker(ctx, client, ReplayKey(tok.JTI), now, tok.ReplayUntil)
	if err == nil && !fresh {
		return auth.NewSSOError(auth.CodeTokenReplayed, "This sign-in link was already used.")
	}
	return err
}

// LoadLoginSettings returns the settings a JWT SSO login uses, and whether any webhook is
// enabled (authdb.JWTLoginSettings); the other fields of the result are zero. A database
// without its settings row yet gets one (auth.LoadSettings), and webhooks is then true: not
// known.
func LoadLoginSettings(ctx context.Context, client *ent.Client) (st *ent.Settings, webhooks bool, err error) {
	st, webhooks, err = authdb.JWTLoginSettings(ctx, client)
	if err != nil || st != nil {
		return st, webhooks, err
	}
	st, err = auth.LoadSettings(ctx, client)
	return st, true, err
}

// Request is what provisioning needs of a JWT SSO payload (a verified token's claims, or a
// payload of syncMembers) under the settings st: its profile (provision.MapJWT), the role
// mapping and the username setting. For a sync (POST /api/auth/sso/sync, syncMembers) it also
// reads the suspended claim (provision.Suspension). A payload it cannot map is its SSO error.
func Request(claims provision.Payload, st *ent.Settings, sync bool) (provision.Request, error) {
	pr, err := provision.MapJWT(claims)
	if err != nil {
		return provision.Request{}, err
	}
	req := provision.Request{Method: session.MethodJWT, Profile: pr, Roles: Roles(st), SyncUsername: st.SyncUsername}
	if sync {
		if req.Suspended, err = provision.Suspension(claims); err != nil {
			return provision.Request{}, err
		}
	}
	return req, nil
}

// Roles is the role mapping of JWT SSO logins (the jwt_*_claim settings); it maps nothing when
// no claim is set.
func Roles(st *ent.Settings) *provision.RoleMapping {
	return &provision.RoleMapping{
		AdminClaim: st.JwtAdminClaim, AdminValue: st.JwtAdminClaimValue,
		ModeratorClaim: st.JwtModeratorClaim, ModeratorValue: st.JwtModeratorClaimValue,
	}
}

// MaxTokenBody bounds the body of POST /api/auth/sso/token: a token of MaxTokenLength with room
// for its field name, its JSON and a few escapes.
const MaxTokenBody = MaxTokenLength + 1024

// Handler serves GET /api/auth/sso (ServeHTTP), which signs a browser in with a cookie, and
// POST /api/auth/sso/token (Token), which signs an app in with a bearer session token. Both
// verify, provision and record alike.
type Handler struct {
	DB          *store.DB
	Verifier    *Verifier
	Provisioner *provision.Provisioner
	Log         *slog.Logger
	Metrics     auth.LoginMetrics
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	q := r.URL.Query()
	token := q.Get("jwt")
	if token == "" {
		token = q.Get("token")
	}
	h.login(w, r, token, q.Get("redirect_uri"), false)
}

// Token serves POST /api/auth/sso/token: the token comes as the form field jwt or as the JSON
// body {"jwt": "..."} (at most MaxTokenBody bytes), and the answer is auth.FinishTokenLogin's
// JSON, or an error as JSON whatever the Accept header says.
func (h *Handler) Token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	token, err := readTokenBody(w, r)
	if err != nil {
		h.fail(w, r, true, err)
		return
	}
	h.login(w, r, token, "", true)
}

// readTokenBody reads the token of a POST /api/auth/sso/token.
func readTokenBody(w http.ResponseWriter, r *http.Request) (string, error) {
	web.MaxBytes(w, r, MaxTokenBody)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var token string
	var err error
	switch mediaType {
	case "application/x-www-form-urlencoded":
		if err = r.ParseForm(); err == nil {
			token = r.PostForm.Get("jwt")
		}
	case "application/json":
		var body struct {
			JWT string `json:"jwt"`
		}
		dec := json.NewDecoder(r.Body)
		if err = dec.Decode(&body); err == nil && dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("jwtsso: data after the JSON body")
		}
		token = body.JWT
	default:
		return "", auth.NewSSOError(auth.CodeInvalidRequest, "Send the token as a form (application/x-www-form-urlencoded) or as JSON (application/json).")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return "", &auth.SSOError{Code: auth.CodeInvalidRequest, Message: "The request body is too large.", Err: err}
	case err != nil:
		return "", &auth.SSOError{Code: auth.CodeInvalidRequest, Message: "The request body could not be read.", Err: err}
	}
	return token, nil
}

// login signs the member of token in: with a cookie and a redirect to returnTo (the query's
// redirect_uri) for a browser, with a bearer session token as JSON for an app.
func (h *Handler) login(w http.ResponseWriter, r *http.Request, token, returnTo string, app bool) {
	st, err := h.settings(r)
	if err != nil {
		h.fail(w, r, app, &auth.SSOError{Code: auth.CodeTryAgain, Message: "The community could not be reached.", Err: err})
		return
	}
	tok, serr := h.Verifier.VerifyContext(r.Context(), strings.TrimSpace(token), st)
	if serr != nil {
		h.fail(w, r, app, serr)
		return
	}
	req, err := Request(tok.Claims, st, false)
	if err != nil {
		h.fail(w, r, app, err)
		return
	}
	opts := auth.SessionOptions{Bearer: true}
	if !app {
		// The browser's session, if it had one, ends: every login gets a new cookie. An app's
		// login leaves any session alone.
		opts = auth.SessionOptions{Replaces: h.Provisioner.Sessions.Token(r)}
	}
	now := h.Verifier.now()
	req.Session = opts
	req.Before = func(ctx context.Context, client *ent.Client) error { return consume(ctx, client, tok, now) }
	res, err := h.Provisioner.Login(auth.RequestContext(r), req)
	if err != nil {
		h.fail(w, r, app, err)
		return
	}
	h.recordKey(r, tok, res.User.ID)
	l := auth.Login{
		Method: session.MethodJWT, Started: res.Session, Created: res.Created, Settings: st, UserID: res.User.ID,
	}
	if app {
		auth.FinishTokenLogin(w, h.Metrics, l)
		return
	}
	l.Return = returnTo
	auth.FinishLogin(w, r, h.Provisioner.Sessions, h.Metrics, l)
}

// recordKey records a security event when the token was verified by the previous secret, so
// that the admin sees who still signs with it before its grace period ends.
func (h *Handler) recordKey(r *http.Request, tok *Token, userID int) {
	if tok.Key != KeyPreviousSecret {
		return
	}
	e := auth.Event{Type: auth.EventJWTPreviousSecretUsed, UserID: userID, Method: string(session.MethodJWT)}.FromRequest(r)
	auth.RecordOrLog(r.Context(), h.DB.Client, h.Log, e)
}

// settings returns the settings row for r's login: as the route's auth.EmbeddingWith read it
// (LoadLoginSettings, embed origins included) or, outside one, read here.
func (h *Handler) settings(r *http.Request) (*ent.Settings, error) {
	if st, ok, err := auth.RouteSettings(r); ok {
		return st, err
	}
	st, _, err := LoadLoginSettings(r.Context(), h.DB.Client)
	return st, err
}

// fail answers a failed login (as JSON for an app) and records it.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, app bool, err error) {
	if app {
		auth.FailTokenLogin(w, r, h.DB, h.Log, h.Metrics, string(session.MethodJWT), err)
		return
	}
	auth.FailLogin(w, r, h.DB, h.Log, h.Metrics, string(session.MethodJWT), err)
}
