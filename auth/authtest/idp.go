package authtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/community/sso/auth/web/webtest"
)

// IdP is an OpenID Provider the test controls completely: it signs whatever id_token a case
// asks for, so the community's verification can be attacked.
type IdP struct {
	t        testing.TB
	Server   *httptest.Server
	Issuer   string
	ClientID string
	Secret   string

	mu sync.Mutex
	// key signs id_tokens; published are the keys the JWKS endpoint serves.
	key       *rsa.PrivateKey
	kid       string
	published []jose.JSONWebKey
	// IDToken builds the token endpoint's id_token from the nonce the login sent ("" leaves it out).
	IDToken func(nonce string) string
	// Token, when set, answers the token endpoint instead.
	Token http.HandlerFunc
	// UserInfo answers the user info endpoint.
	UserInfo http.HandlerFunc

	nonce      string
	TokenCalls atomic.Int32
	JWKSCalls  atomic.Int32
}

// StartIdP starts the provider on plain HTTP; its id_tokens are valid until a case changes IDToken.
func StartIdP(t testing.TB) *IdP {
	t.Helper()
	idp := &IdP{t: t, ClientID: "community-client", Secret: "idp-secret"}
	idp.Rotate("key-1")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, map[string]any{
			"issuer":                                idp.Issuer,
			"authorization_endpoint":                idp.Issuer + "/authorize",
			"token_endpoint":                        idp.Issuer + "/token",
			"userinfo_endpoint":                     idp.Issuer + "/userinfo",
			"jwks_uri":                              idp.Issuer + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		idp.JWKSCalls.Add(1)
		idp.mu.Lock()
		defer idp.mu.Unlock()
		WriteJSON(w, jose.JSONWebKeySet{Keys: idp.published})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		idp.TokenCalls.Add(1)
		if idp.Token != nil {
			idp.Token(w, r)
			return
		}
		_ = r.ParseForm()
		if r.PostForm.Get("code") != "good-code" || r.PostForm.Get("code_verifier") == "" {
			w.WriteHeader(http.StatusBadRequest)
			WriteJSON(w, map[string]any{"error": "invalid_grant"})
			return
		}
		idp.mu.Lock()
		nonce := idp.nonce
		idp.mu.Unlock()
		resp := map[string]any{"access_token": "at-" + nonce[:8], "token_type": "Bearer", "expires_in": 3600}
		if idp.IDToken != nil {
			if tok := idp.IDToken(nonce); tok != "" {
				resp["id_token"] = tok
			}
		}
		WriteJSON(w, resp)
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if idp.UserInfo != nil {
			idp.UserInfo(w, r)
			return
		}
		WriteJSON(w, map[string]any{"sub": "idp-user-1", "email": "carol@example.com", "name": "Carol Chen"})
	})
	idp.Server = httptest.NewServer(mux)
	t.Cleanup(idp.Server.Close)
	idp.Issuer = idp.Server.URL
	idp.IDToken = func(nonce string) string { return idp.Sign(idp.Claims(nonce, nil)) }
	return idp
}

// WriteJSON answers v as JSON, as a provider's endpoints do.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Rotate makes a new signing key with kid and publishes only it.
func (idp *IdP) Rotate(kid string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		idp.t.Fatal(err)
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.key, idp.kid = key, kid
	idp.published = []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}
}

// Publish adds keys to the key set the provider serves (its signing key stays published).
func (idp *IdP) Publish(keys ...jose.JSONWebKey) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.published = append(idp.published, keys...)
}

// Claims are valid id_token claims for the nonce; over changes them (nil deletes a claim).
func (idp *IdP) Claims(nonce string, over map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": idp.Issuer, "sub": "idp-user-1", "aud": idp.ClientID, "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"email": "carol@example.com", "email_verified": true, "name": "Carol Chen",
	}
	Override(c, over)
	return c
}

// PublicKey is the public half of the current signing key.
func (idp *IdP) PublicKey() *rsa.PublicKey {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	return &idp.key.PublicKey
}

// Sign signs claims with the current key (RS256).
func (idp *IdP) Sign(claims map[string]any) string {
	idp.mu.Lock()
	key, kid := idp.key, idp.kid
	idp.mu.Unlock()
	return SignJWS(idp.t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, claims, nil)
}

// SignJWS signs claims with key as a JWT, with headers added to the token's header.
func SignJWS(t testing.TB, key jose.SigningKey, claims map[string]any, headers map[jose.HeaderKey]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for k, v := range headers {
		opts = opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Settings are the community's OAuth2 settings for this provider (CUSTOM with an issuer), as
// App.EnableOAuth2 takes them.
func (idp *IdP) Settings() map[string]any {
	return map[string]any{
		"enabled": true, "provider": "CUSTOM", "issuer": idp.Issuer,
		"authorizationUrl": idp.Issuer + "/authorize", "tokenUrl": idp.Issuer + "/token",
		"clientId": idp.ClientID, "clientSecret": idp.Secret,
	}
}

// Begin starts a login in c and returns the state the community sent to the provider; the
// provider remembers the nonce, as a real one does.
func (idp *IdP) Begin(t testing.TB, app *App, c *http.Client) string {
	t.Helper()
	r := app.Get(c, "/auth/oauth2/login?redirect_uri=/after")
	loc, err := url.Parse(r.Header.Get("Location"))
	if r.Status != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), idp.Issuer+"/authorize?") {
		t.Fatalf("login start: %d %q %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" ||
		q.Get("client_id") != idp.ClientID || q.Get("redirect_uri") != app.URL+"/auth/oauth2/callback" {
		t.Fatalf("authorization request: %v", q)
	}
	idp.mu.Lock()
	idp.nonce = q.Get("nonce")
	idp.mu.Unlock()
	return q.Get("state")
}

// ErrorCode reads {"error":{"code"}} from an SSO error answer.
func ErrorCode(body string) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error.Code
}

// EnableOAuth2 configures the provider as an admin would through GraphQL, with the admin's API
// token.
func (a *App) EnableOAuth2(adminToken string, input map[string]any) {
	a.T.Helper()
	r := a.GQL(nil, adminToken, `mutation($in: UpdateOAuth2SettingsInput!) { updateOAuth2Settings(input: $in) { oauth2 { enabled } } }`, map[string]any{"in": input})
	if len(r.Errors) > 0 {
		a.T.Fatalf("updateOAuth2Settings: %s", r.Raw)
	}
}

// Callback is the browser c coming back from the provider with query, asking for JSON errors.
func (a *App) Callback(c *http.Client, query url.Values) webtest.Response {
	a.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/auth/oauth2/callback?"+query.Encode(), nil)
	req.Header.Set("Accept", "application/json")
	return a.Do(c, req)
}
