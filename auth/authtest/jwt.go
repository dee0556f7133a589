package authtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth/web/webtest"
)

// Sign makes a token the way a customer's server does: claims signed with method and key, and
// header's entries added to the token's header.
func Sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ClaimsAt is a valid JWT SSO payload issued at now and valid for five minutes (sub cust-1, Pat Doe,
// pat@example.com), with over applied: a nil value deletes the claim.
func ClaimsAt(now time.Time, over map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "cust-1", "email": "pat@example.com", "name": "Pat Doe", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	Override(c, over)
	return c
}

// Override applies over to claims: a nil value deletes the claim, any other value sets it.
func Override(claims, over map[string]any) {
	for k, v := range over {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
}

// Claims is ClaimsAt the time of day.
func Claims(over map[string]any) jwt.MapClaims { return ClaimsAt(time.Now(), over) }

// Segment is v as a token's header or payload: JSON in unpadded base64url.
func Segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Unsigned is a token of header and claims with an empty signature, as alg none makes it.
func Unsigned(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	return Segment(t, header) + "." + Segment(t, claims) + "."
}

// EnableJWT turns JWT SSO on through the API, as an admin signed in with admin would, with a
// logout URL, and returns the secret.
func (a *App) EnableJWT(admin *http.Client) string {
	a.T.Helper()
	r := a.GQL(admin, "", `mutation { regenerateJwtSsoSecret }`, nil)
	secret, _ := r.Data["regenerateJwtSsoSecret"].(string)
	if secret == "" {
		a.T.Fatalf("regenerate: %s", r.Raw)
	}
	r = a.GQL(admin, "", `mutation { updateJwtSsoSettings(input: {enabled: true, logoutUrl: "https://customer.example/logout"}) { jwtSso { enabled } } }`, nil)
	if r.Code() != "" {
		a.T.Fatalf("enable: %s", r.Raw)
	}
	return secret
}

// SSOGet follows the member's browser c to the JWT SSO endpoint with token, redirect_uri target
// (none when empty) and the Accept header accept (none when empty).
func (a *App) SSOGet(c *http.Client, token, target, accept string) webtest.Response {
	a.T.Helper()
	q := url.Values{"jwt": {token}}
	if target != "" {
		q.Set("redirect_uri", target)
	}
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/api/auth/sso?"+q.Encode(), nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return a.Do(c, req)
}

// SSOTokenPost posts body, of type contentType (none when empty), to the app token endpoint
// POST /api/auth/sso/token with the Accept header accept (none when empty), as an app does.
func (a *App) SSOTokenPost(contentType, body, accept string) webtest.Response {
	a.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/auth/sso/token", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return a.Do(nil, req)
}
